//! What a cloud's error means, in classes every provider maps its own codes to, and the
//! retry of a delete the cloud refuses while something still uses the object.

use cairn_core::provider::Progress;
use std::future::Future;
use std::time::Duration;

/// The meaning of a cloud error for the caller, whatever the SDK's error type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The object does not exist (for a delete: done).
    NotFound,
    /// Refused because something still uses the object (dependents going away).
    InUse,
    /// A create met an object under the same natural key (see [`crate::adopt`]).
    AlreadyExists,
    /// Throttled, or a transient server fault.
    Transient,
    /// Anything else: final.
    Other,
}

/// Run a delete until it succeeds, the object is gone, or the cloud keeps refusing it for
/// being in use past `timeout`. Waiting for dependents to go is not work: the call parks,
/// so its engine slot serves other steps meanwhile. Returns the final error otherwise.
pub async fn delete_when_free<E, F, Fut>(
    progress: &Progress,
    timeout: Duration,
    class: impl Fn(&E) -> ErrorClass,
    call: F,
) -> Result<(), E>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut wait = Duration::from_millis(100);
    loop {
        match call().await {
            Ok(()) => return Ok(()),
            Err(e) => match class(&e) {
                ErrorClass::NotFound => return Ok(()),
                ErrorClass::InUse if tokio::time::Instant::now() < deadline => {
                    let _parked = progress.waiting();
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
                _ => return Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "current_thread")]
    async fn in_use_is_retried_not_found_is_done_others_are_final() {
        let calls = AtomicUsize::new(0);
        let class = |e: &&str| match *e {
            "in use" => ErrorClass::InUse,
            "gone" => ErrorClass::NotFound,
            _ => ErrorClass::Other,
        };
        let p = Progress::default();
        let r = delete_when_free(&p, Duration::from_secs(5), class, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err("in use"),
                _ => Err("gone"),
            }
        })
        .await;
        assert_eq!((r, calls.load(Ordering::SeqCst)), (Ok(()), 3));
        let r = delete_when_free(&p, Duration::from_secs(5), class, || async {
            Err("denied")
        })
        .await;
        assert_eq!(r, Err("denied"));
        let r = delete_when_free(&p, Duration::ZERO, class, || async { Err("in use") }).await;
        assert_eq!(r, Err("in use"), "past the deadline, in-use is final");
    }
}
