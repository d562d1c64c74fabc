//! `google.longrunning.Operation`s (Memorystore, Managed Kafka): polled until `done`; one
//! that ended in error is that error.

use crate::error::{convert, GaxError};
use cairn_core::provider::{Progress, ProviderError};
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
