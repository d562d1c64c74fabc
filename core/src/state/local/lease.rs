//! A session's lease on the lock file: renewed by its heartbeat, and checked before every
//! write, so a session whose lock was taken over can never write again.

use super::*;

/// A session's lease on the lock file, shared with its heartbeat.
#[derive(Debug)]
pub(super) struct LocalLease {
    pub(super) store: LocalStore,
    /// The lock as last written (renewals move `renewed_ms`).
    pub(super) info: Mutex<LockInfo>,
    /// When the lease lapses unless renewed (Unix ms).
    pub(super) expires_ms: std::sync::atomic::AtomicU64,
    /// The lock file's stamp when it was last known to be this lease's.
    pub(super) seen: Mutex<Option<lock::Stamp>>,
    /// Why the lock is no longer this session's, once that was found.
    pub(super) lost: Mutex<Option<String>>,
}

impl LocalLease {
    fn lost_error(&self, reason: String) -> StateError {
        if let Ok(mut l) = self.lost.lock() {
            l.get_or_insert_with(|| reason.clone());
        }
        StateError::LeaseLost {
            location: self.store.location(),
            reason,
        }
    }

    /// Whether the lock file is still this lease's: by its stamp when unchanged since it
    /// was last known to be, else by the id it holds. Called with the directory locked.
    fn verify(&self) -> Result<(), StateError> {
        if let Some(reason) = self.lost.lock().ok().and_then(|l| l.clone()) {
            return Err(self.lost_error(reason));
        }
        let path = self.store.lock_path();
        let now = lock::stamp(&path).map_err(|e| self.store.io("checking the lock", e))?;
        if now.is_some() && *self.seen.lock().unwrap() == now {
            return Ok(());
        }
        let id = self.info.lock().unwrap().id.clone();
        match lock::read(&path).map_err(|e| self.store.io("reading the lock", e))? {
            lock::Holder::Held(h) if h.id == id => {
                *self.seen.lock().unwrap() = now;
                Ok(())
            }
            lock::Holder::Held(h) => Err(self.lost_error(format!("the lock is now {h}"))),
            lock::Holder::Free => {
                Err(self
                    .lost_error("the lock was released by hand (`cairn state unlock`)".to_string()))
            }
            lock::Holder::Unreadable { detail, .. } => {
                Err(self.lost_error(format!("the lock file is now {detail}")))
            }
        }
    }

    /// Run `write` as the lock's holder: with the directory locked shared (no lock decision
    /// can happen meanwhile) and the lock checked to be this lease's first.
    pub(super) fn fenced<T>(
        &self,
        write: impl FnOnce() -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let _guard = lock::guard_shared(self.store.dir())
            .map_err(|e| self.store.io("locking the state directory", e))?;
        self.verify()?;
        write()
    }
}

impl Lease for LocalLease {
    fn renew(&self) -> Result<(), StateError> {
        let dir = self.store.dir();
        let _guard =
            lock::guard(dir).map_err(|e| self.store.io("locking the state directory", e))?;
        self.verify()?;
        let mut info = self.info.lock().unwrap();
        info.renewed_ms = now_ms();
        let path = self.store.lock_path();
        lock::write(&path, dir, &info).map_err(|e| self.store.io("renewing the lock", e))?;
        self.expires_ms.store(
            info.renewed_ms + info.lease_ms,
            std::sync::atomic::Ordering::SeqCst,
        );
        *self.seen.lock().unwrap() =
            lock::stamp(&path).map_err(|e| self.store.io("reading the lock back", e))?;
        Ok(())
    }

    fn term(&self) -> std::time::Duration {
        self.store.lease
    }

    fn expires_ms(&self) -> u64 {
        self.expires_ms.load(std::sync::atomic::Ordering::SeqCst)
    }
}
