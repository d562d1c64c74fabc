//! The heartbeat that keeps a session's lease while its run works.
//!
//! A thread of its own, not a task: a runtime busy with (or blocked in) the run's work
//! must not starve the renewals, or a healthy run would lose its lock to the next one. It
//! renews a third of the way through each term, so two missed beats still leave the lease
//! standing; a renewal that fails for a passing reason (I/O, a backend's blip) is tried
//! again at the next beat, and one that finds the lock gone ends the heartbeat: every
//! later write of the session is refused anyway (see [`StateSession`](super::StateSession)).
//!
//! The thread never prints nor calls back into the run: it only records why the lease was
//! lost, for the run to say from its own thread ([`Heartbeat::lost`]). A callback could
//! block on what the run's thread holds (its terminal), and the run waits for the thread
//! when it stops the heartbeat.

use super::{Lease, StateError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Renews a lease until dropped.
#[derive(Debug)]
pub struct Heartbeat {
    stop: Arc<(Mutex<bool>, Condvar)>,
    lost: Arc<Mutex<Option<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    /// Start renewing `lease`.
    pub fn start(lease: Arc<dyn Lease>) -> Self {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let lost = Arc::new(Mutex::new(None));
        let beat = (lease.term() / 3).max(Duration::from_millis(1));
        let (flag, record) = (stop.clone(), lost.clone());
        let thread = std::thread::Builder::new()
            .name("cairn-heartbeat".into())
            .spawn(move || loop {
                {
                    let (stopped, wake) = &*flag;
                    let guard = stopped.lock().unwrap_or_else(|p| p.into_inner());
                    let guard = wake
                        .wait_timeout_while(guard, beat, |stopped| !*stopped)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                    if *guard {
                        return;
                    }
                }
                match lease.renew() {
                    Ok(()) => {}
                    Err(e @ StateError::LeaseLost { .. }) => {
                        *record.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                        return;
                    }
                    // Passing trouble: the lease still stands for two more beats.
                    Err(_) => {}
                }
            })
            .ok();
        Heartbeat { stop, lost, thread }
    }

    /// Why the lease could not be kept, once a renewal found the lock gone.
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
