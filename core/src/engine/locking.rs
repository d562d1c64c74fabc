//! Taking the state's lock as a run should: waiting for a lease nobody renews, and keeping
//! the run's own lease by a heartbeat while it works.

use super::*;

impl Engine {
    /// Take the state's lock for `operation`. A lock held under a lease that nobody renews
    /// (its run died, on another machine, or is paused) is waited for until the lease
    /// lapses, when the store lets it be taken over; one renewed meanwhile belongs to a
    /// live run and is refused as soon as that is seen. Locks without a lease are refused
    /// at once, as before.
    pub(super) async fn lock_state(
        &self,
        operation: &str,
    ) -> Result<Box<dyn crate::state::StateSession>, StateError> {
        use crate::state::LEASE_GRACE;
        let started = std::time::Instant::now();
        let mut first_seen: Option<(String, u64)> = None;
        loop {
            match self.store.lock(operation) {
                Err(StateError::Locked { location, holder }) if holder.lease_ms > 0 => {
                    let seen = (holder.id.clone(), holder.renewed_ms);
                    let lease = std::time::Duration::from_millis(holder.lease_ms);
                    match &first_seen {
                        None => {
                            let left = (holder.renewed_ms
                                + holder.lease_ms
                                + LEASE_GRACE.as_millis() as u64)
                                .saturating_sub(crate::state::now_ms());
                            self.notify(&format!(
                                "state {location} is locked by {holder}; cairn waits up to \
                                 {:.1}s for its lease to lapse (a live run renews it within \
                                 {:.1}s, and is then left alone)",
                                left as f64 / 1000.0,
                                lease.as_secs_f64() / 3.0
                            ));
                            first_seen = Some(seen);
                        }
                        Some(first) if *first != seen => {
                            return Err(StateError::Locked { location, holder })
                        }
                        Some(_) => {}
                    }
                    if started.elapsed() > lease + LEASE_GRACE + std::time::Duration::from_secs(1) {
                        return Err(StateError::Locked { location, holder });
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                other => return other,
            }
        }
    }

    /// Keep `session`'s lease while the run works (see [`Engine::stop_heartbeat`]).
    pub(super) fn heartbeat(
        &self,
        session: &dyn crate::state::StateSession,
    ) -> crate::state::Heartbeat {
        crate::state::Heartbeat::start(session.lease())
    }

    /// Stop the heartbeat, and say if it found the lease gone (the session's writes were
    /// refused from then on anyway).
    pub(super) fn stop_heartbeat(&self, beat: crate::state::Heartbeat) {
        let lost = beat.lost();
        drop(beat);
        if let Some(why) = lost {
            self.notify(&why);
        }
    }
}
