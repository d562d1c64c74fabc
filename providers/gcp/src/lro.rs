//! `google.longrunning.Operation`s (Memorystore, Managed Kafka): polled until `done`; one
//! that ended in error is that error.

use crate::error::{convert, GaxError};
use cairn_core::provider::{Progress, ProviderError};
use cairn_provider_kit::retry::{delete_when_free, ErrorClass};
use cairn_provider_kit::wait::{self, Poll};
use google_cloud_longrunning::model::{operation, Operation};
use std::future::Future;
use std::time::Duration;

/// Wait for `op` by polling it with `get` (the API's own `operations.get`).
pub(crate) async fn done<F, Fut>(
    address: &str,
    what: &str,
    progress: &Progress,
    op: Operation,
    timeout: Duration,
    first_poll: Duration,
    get: F,
) -> Result<(), ProviderError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Operation, GaxError>>,
{
    let finished = if op.done {
        op
    } else {
        let name = op.name.clone();
        wait::until(address, what, progress, timeout, first_poll, || async {
            let op = get(name.clone()).await.map_err(|e| convert(address, e))?;
            Ok(if op.done {
                Poll::Ready(op)
            } else {
                Poll::Pending("RUNNING".into())
            })
        })
        .await?
    };
    match finished.result {
        Some(operation::Result::Error(e)) if e.code == 5 => Err(ProviderError::NotFound {
            address: address.to_string(),
        }),
        Some(operation::Result::Error(e)) => Err(ProviderError::Api {
            address: address.to_string(),
            code: format!("code {}", e.code),
            message: e.message,
        }),
        _ => Ok(()),
    }
}

/// Send `call` until the cloud takes it, retrying (parked) while `class` says the object
/// is busy with another operation, for at most `timeout`: the operation it answered, or
/// none when the object was already gone.
pub(crate) async fn sent_when_free<T, F, Fut>(
    address: &str,
    progress: &Progress,
    timeout: Duration,
    class: impl Fn(&GaxError) -> ErrorClass,
    call: F,
) -> Result<Option<T>, ProviderError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, GaxError>>,
{
    let started = std::sync::Mutex::new(None);
    delete_when_free(progress, timeout, class, || async {
        let op = call().await?;
        *started.lock().unwrap_or_else(|p| p.into_inner()) = Some(op);
        Ok(())
    })
    .await
    .map_err(|e| convert(address, e))?;
    Ok(started.into_inner().unwrap_or_else(|p| p.into_inner()))
}

/// Memorystore and Managed Kafka refuse a change while another runs on the object: that
/// refusal is waited out; any other is final.
pub(crate) fn busy(e: &GaxError) -> ErrorClass {
    let message = e
        .status()
        .map(|s| s.message.to_ascii_lowercase())
        .unwrap_or_default();
    if e.http_status_code() == Some(404) {
        ErrorClass::NotFound
    } else if message.contains("in progress") || message.contains("another operation") {
        ErrorClass::InUse
    } else {
        ErrorClass::Other
    }
}
