//! Cloud SQL for PostgreSQL: instances, their databases and users.
//!
//! Instances carry labels (`settings.userLabels`), so ownership is in them. Their names are
//! not the mark: a deleted instance's name stays taken for up to a week, so every instance
//! is named `{prefix}-{6 hex}` from the create's token. A replacement therefore never waits
//! on its predecessor's name, and a create whose answer was lost is found again under the
//! name its token gives (and adopted when its labels are this stack's).
//!
//! Bodies are written and read in the API's JSON form (the typed models' serde), so the
//! attribute ↔ field mapping reads as the API documents it. Every change is a
//! `sql#operation`, waited on; databases and users live under their instance and are
//! listed per instance. A user's password is never returned: state keeps its digest.

use crate::compute::{last, s};
use crate::error::{convert, is_conflict, is_not_found, reason, GaxError};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use cairn_provider_kit::adopt::{self, keep_write_only, Existing};
use cairn_provider_kit::ownership::label_value;
use cairn_provider_kit::retry::ErrorClass;
use cairn_provider_kit::wait::{self, Poll};
use google_cloud_sql_v1::model::{Database, DatabaseInstance, Operation, User};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::time::Duration;

mod children;
mod instance;

pub(crate) use children::*;
pub(crate) use instance::*;

pub(super) fn bad_body(address: &str, e: serde_json::Error) -> ProviderError {
    ProviderError::Api {
        address: address.to_string(),
        code: "BadRequestBody".into(),
        message: format!("cairn built a Cloud SQL body its client refuses: {e}"),
    }
}

/// The API's JSON form of `x`, for its plain fields. Enums serialise as their protobuf
/// numbers: read those from the typed fields ([`state`] and the like).
pub(super) fn to_json<T: serde::Serialize>(x: &T) -> Json {
    serde_json::to_value(x).unwrap_or(Json::Null)
}

pub(crate) fn state(x: &DatabaseInstance) -> String {
    x.state.name().unwrap_or_default().to_string()
}

pub(super) fn int(a: &Attrs, k: &str) -> i64 {
    match a.get(k) {
        Some(Value::Int(n)) => *n,
        _ => 0,
    }
}

pub(super) fn flag(a: &Attrs, k: &str) -> bool {
    matches!(a.get(k), Some(Value::Bool(true)))
}

/// A JSON int64 (a string on the wire, a number from some encoders).
pub(super) fn json_int(v: &Json) -> i64 {
    match v {
        Json::String(s) => s.parse().unwrap_or_default(),
        Json::Number(n) => n.as_i64().unwrap_or_default(),
        _ => 0,
    }
}

/// The instance's name for a create's token: `{prefix}-{6 hex digits}`.
pub(crate) fn instance_name(prefix: &str, token: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in token.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{prefix}-{:06x}", h & 0xff_ffff)
}

// ---------------------------------------------------------------------------------------
// Operations

/// Wait until a Cloud SQL operation is DONE; one that ended in error is that error.
pub(super) async fn done(
    ctx: &Ctx,
    address: &str,
    what: &str,
    progress: &Progress,
    op: Operation,
    timeout: Duration,
) -> Result<(), ProviderError> {
    let name = op.name.clone();
    let finished = wait::until(
        address,
        what,
        progress,
        timeout,
        ctx.options.first_poll,
        || async {
            let op = ctx
                .c
                .sql_operations
                .get()
                .set_project(&ctx.project)
                .set_operation(&name)
                .send()
                .await
                .map_err(|e| convert(address, e))?;
            Ok(match op.status.name() {
                Some("DONE") => Poll::Ready(op),
                Some(s) => Poll::Pending(s.to_string()),
                None => Poll::Pending("PENDING".into()),
            })
        },
    )
    .await?;
    match finished.error.as_ref().and_then(|e| e.errors.first()) {
        None => Ok(()),
        Some(e) => Err(ProviderError::Api {
            address: address.to_string(),
            code: e.code.clone(),
            message: e.message.clone(),
        }),
    }
}

/// An instance busy with another operation refuses a new one (409
/// `operationInProgress`): waited out. Any other 409 (a duplicate) is final.
pub(super) fn busy(e: &GaxError) -> ErrorClass {
    let in_progress = reason(e).as_deref() == Some("operationInProgress")
        || e.status()
            .is_some_and(|s| s.message.contains("already in progress"));
    if is_not_found(e) {
        ErrorClass::NotFound
    } else if is_conflict(e) && in_progress {
        ErrorClass::InUse
    } else {
        ErrorClass::Other
    }
}

/// A create met a child of this name already there.
pub(super) fn exists(e: &ProviderError) -> bool {
    match e {
        ProviderError::Api { code, message, .. } => {
            code.contains("lreadyExists") || message.contains("already exists")
        }
        _ => false,
    }
}

/// Send `call` (retried while the instance is busy with another operation) and wait on
/// the operation it answers.
pub(super) async fn run<F, Fut>(
    ctx: &Ctx,
    address: &str,
    what: &str,
    progress: &Progress,
    timeout: Duration,
    call: F,
) -> Result<(), ProviderError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Operation, GaxError>>,
{
    match crate::lro::sent_when_free(address, progress, timeout, busy, call).await? {
        Some(op) => done(ctx, address, what, progress, op, timeout).await,
        None => Err(ProviderError::NotFound {
            address: address.to_string(),
        }),
    }
}
