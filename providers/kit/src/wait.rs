//! Waiters: poll with backoff until an object reaches a state, reporting progress.
//!
//! A waiting call parks (`Progress::waiting`): its engine slot goes to the next ready step,
//! so a long database or gateway create does not hold back independent work.

use cairn_core::provider::{Progress, ProviderError};
use std::future::Future;
use std::time::Duration;

/// What one poll saw.
#[derive(Debug)]
pub enum Poll<T> {
    /// Reached the wanted state.
    Ready(T),
    /// Still in a transitional state (named, for progress).
    Pending(String),
    /// A state it will not leave by waiting (failed, deleted...).
    Failed(String),
}

/// Poll `check` until ready, with exponential backoff from `first` up to 10 s, for at most
/// `timeout`. Each transitional state is reported once through `progress`.
pub async fn until<T, F, Fut>(
    address: &str,
    what: &str,
    progress: &Progress,
    timeout: Duration,
    first: Duration,
    check: F,
) -> Result<T, ProviderError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Poll<T>, ProviderError>>,
{
    // Polling is waiting, not work: the engine may start other calls in this one's slot.
    let _parked = progress.waiting();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut wait = first;
    let mut last = String::new();
    loop {
        // A run whose lease on state ran out sends nothing more (see `Progress::may_call`).
        progress.may_call(address)?;
        match check().await? {
            Poll::Ready(v) => return Ok(v),
            Poll::Failed(state) => {
                return Err(ProviderError::Api {
                    address: address.to_string(),
                    code: "UnexpectedState".into(),
                    message: format!("{what}: {state}"),
                })
            }
            Poll::Pending(state) => {
                if state != last {
                    progress.report(&format!("{what}: {state}"));
                    last = state;
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ProviderError::Indeterminate {
                address: address.to_string(),
                message: format!(
                    "timed out after {}s waiting for {what} (last state: {last})",
                    timeout.as_secs()
                ),
            });
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(10));
    }
}

/// Wait for a deletion to finish: `state` gives the object's current state, or `None`
/// once the cloud no longer knows it.
pub async fn until_gone<F, Fut>(
    address: &str,
    what: &str,
    progress: &Progress,
    timeout: Duration,
    state: F,
) -> Result<(), ProviderError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Option<String>, ProviderError>>,
{
    until(
        address,
        what,
        progress,
        timeout,
        Duration::from_millis(250),
        || async {
            Ok(match state().await? {
                None => Poll::Ready(()),
                Some(state) => Poll::Pending(state),
            })
        },
    )
    .await
}
