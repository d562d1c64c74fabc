//! Compute operations: every insert, patch and delete answers with one, and the change is
//! made when it is `DONE` (with or without an error).

use crate::error::convert;
use crate::Ctx;
use cairn_core::provider::{Progress, ProviderError};
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
