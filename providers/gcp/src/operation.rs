//! Compute operations: every insert, patch and delete answers with one, and the change is
//! made when it is `DONE` (with or without an error).

use crate::error::{convert, is_conflict, is_not_found, reason, GaxError};
use crate::Ctx;
use cairn_core::provider::{CreateRequest, DeleteRequest, Progress, ProviderError, UpdateRequest};
use cairn_core::value::Value;
use cairn_provider_kit::adopt::{self, Existing};
use cairn_provider_kit::retry::{delete_when_free, ErrorClass};
use cairn_provider_kit::wait::{self, Poll};
use google_cloud_compute_v1::model::{operation::Status, Operation};
use std::time::Duration;

/// Where an operation lives: global, or in a region.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scope<'a> {
    Global,
    Region(&'a str),
}

/// Wait until `op` is DONE; an operation that ended in error is that error.
pub(crate) async fn done(
    ctx: &Ctx,
    address: &str,
    what: &str,
    scope: Scope<'_>,
    op: Operation,
    progress: &Progress,
    timeout: Duration,
) -> Result<(), ProviderError> {
    let name = op.name.clone().unwrap_or_default();
    let finished = if op.status == Some(Status::Done) {
        op
    } else {
        wait::until(
            address,
            what,
            progress,
            timeout,
            ctx.options.first_poll,
            || async {
                let op = match scope {
                    Scope::Global => {
                        ctx.c
                            .global_ops
                            .get()
                            .set_project(&ctx.project)
                            .set_operation(&name)
                            .send()
                            .await
                    }
                    Scope::Region(region) => {
                        ctx.c
                            .region_ops
                            .get()
                            .set_project(&ctx.project)
                            .set_region(region)
                            .set_operation(&name)
                            .send()
                            .await
                    }
                }
                .map_err(|e| convert(address, e))?;
                Ok(match op.status {
                    Some(Status::Done) => Poll::Ready(op),
                    ref s => Poll::Pending(
                        s.as_ref()
                            .map(|s| s.name().unwrap_or("PENDING").to_string())
                            .unwrap_or_else(|| "PENDING".into()),
                    ),
                })
            },
        )
        .await?
    };
    failure(address, &finished).map_or(Ok(()), Err)
}

/// What an insert answered, waited on. A 409 is an object under this stack's own name
/// (the name is the ownership mark) that an interrupted run made: adopted.
pub(crate) async fn inserted(
    ctx: &Ctx,
    req: &CreateRequest,
    what: &str,
    scope: Scope<'_>,
    sent: Result<Operation, GaxError>,
) -> Result<(), ProviderError> {
    match sent {
        Ok(op) => {
            let timeout = ctx.options.create_timeout;
            done(ctx, &req.address, what, scope, op, &req.progress, timeout).await
        }
        Err(e) if is_conflict(&e) => {
            let name = req
                .attrs
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            adopt::decide(&req.address, what, name, Existing::Ours, &req.progress)
        }
        Err(e) => Err(convert(&req.address, e)),
    }
}

/// What a patch answered, waited on.
pub(crate) async fn patched(
    ctx: &Ctx,
    req: &UpdateRequest,
    what: &str,
    scope: Scope<'_>,
    sent: Result<Operation, GaxError>,
) -> Result<(), ProviderError> {
    let op = sent.map_err(|e| convert(&req.address, e))?;
    let timeout = ctx.options.create_timeout;
    done(ctx, &req.address, what, scope, op, &req.progress, timeout).await
}

/// What a delete answered, waited on; an object already gone is deleted.
pub(crate) async fn deleted(
    ctx: &Ctx,
    req: &DeleteRequest,
    what: &str,
    scope: Scope<'_>,
    sent: Result<Operation, GaxError>,
) -> Result<(), ProviderError> {
    let op = match sent {
        Ok(op) => op,
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(convert(&req.address, e)),
    };
    let timeout = ctx.options.delete_timeout;
    match done(ctx, &req.address, what, scope, op, &req.progress, timeout).await {
        Ok(()) | Err(ProviderError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A delete refused while something still uses the object (`resourceInUseByAnotherResource`:
/// a dependent that may be going) is re-sent with backoff until the delete timeout; its
/// operation is then waited on. An object already gone is deleted.
pub(crate) async fn deleted_when_free<F, Fut>(
    ctx: &Ctx,
    req: &DeleteRequest,
    what: &str,
    scope: Scope<'_>,
    send: F,
) -> Result<(), ProviderError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Operation, GaxError>>,
{
    let started = std::sync::Mutex::new(None);
    delete_when_free(
        &req.progress,
        ctx.options.delete_timeout,
        in_use,
        || async {
            let op = send().await?;
            *started.lock().unwrap_or_else(|p| p.into_inner()) = Some(op);
            Ok(())
        },
    )
    .await
    .map_err(|e| convert(&req.address, e))?;
    match started.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(op) => deleted(ctx, req, what, scope, Ok(op)).await,
        None => Ok(()), // it was gone already
    }
}

fn in_use(e: &GaxError) -> ErrorClass {
    if is_not_found(e) {
        ErrorClass::NotFound
    } else if reason(e).as_deref() == Some("resourceInUseByAnotherResource") {
        ErrorClass::InUse
    } else {
        ErrorClass::Other
    }
}

/// The error a finished operation carries, if any (read from its JSON form, which names
/// the fields as the API documents them).
fn failure(address: &str, op: &Operation) -> Option<ProviderError> {
    let v = serde_json::to_value(op).ok()?;
    let first = v.get("error")?.get("errors")?.get(0)?;
    let code = first
        .get("code")
        .and_then(|c| c.as_str())
        .unwrap_or("Unknown");
    let message = first
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or_default();
    Some(
        match v.get("httpErrorStatusCode").and_then(|c| c.as_i64()) {
            Some(404) => ProviderError::NotFound {
                address: address.to_string(),
            },
            _ => ProviderError::Api {
                address: address.to_string(),
                code: code.to_string(),
                message: message.to_string(),
            },
        },
    )
}
