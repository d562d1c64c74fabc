//! A locked session on a remote store, and its lease.
//!
//! Every write is a conditional one followed by a read of the lock: when that read still
//! finds this session's lock, the write happened before any takeover, and whoever takes
//! the lock next reads it; when it finds another lock, the write is refused
//! ([`StateError::LeaseLost`]) and, having landed after the new holder sealed the
//! snapshot, is never read.

use super::layout::{self, Position, Slot, SlotRead};
use super::{Condition, Inner, Loaded};
use crate::state::{
    new_plan_key, now_ms, Lease, LockInfo, Mutation, State, StateError, StateSession,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Entries a session writes before it folds them into the snapshot on its own: reads stay
/// a few requests long however long a run is.
const COMPACT_EVERY: usize = 256;

/// Why the lock is no longer `id`'s; `None` while it is.
async fn lost_because(inner: &Inner, id: &str) -> Result<Option<String>, StateError> {
    Ok(match inner.slot().await? {
        Some((
            SlotRead::Slot(Slot {
                holder: Some(h), ..
            }),
            _,
        )) => (h.id != id).then(|| format!("the lock is now {h}")),
        Some((SlotRead::Slot(Slot { holder: None, .. }), _)) | None => {
            Some("the lock was released by hand (`cairn state unlock`)".into())
        }
        Some((SlotRead::Unreadable { detail, .. }, _)) => {
            Some(format!("the lock object is now {detail}"))
        }
    })
}

/// Write the lock object as `next` (a renewal, or a release when `None`), on top of the
/// version last written. A version lost to a timed-out write that landed anyway is found
/// again when the lock still is this session's. `Err(Ok(reason))` when it is not.
async fn write_slot(
    inner: &Inner,
    id: &str,
    generation: u64,
    next: Option<LockInfo>,
    mut version: String,
) -> Result<Result<String, String>, StateError> {
    let slot = Slot {
        cairn_lock: 1,
        generation,
        holder: next,
    };
    for _ in 0..3 {
        match inner
            .put(
                layout::LOCK,
                slot.encode(),
                Condition::Matches(version.clone()),
            )
            .await?
        {
            Some(v) => return Ok(Ok(v)),
            None => match inner.slot().await? {
                Some((
                    SlotRead::Slot(Slot {
                        holder: Some(h), ..
                    }),
                    v,
                )) if h.id == id => version = v,
                _ => {
                    let reason = lost_because(inner, id).await?;
                    return Ok(Err(reason.unwrap_or_else(|| "the lock changed".into())));
                }
            },
        }
    }
    Ok(Err("the lock kept changing under this run".into()))
}

/// A session's lease on the lock object, shared with its heartbeat.
#[derive(Debug)]
pub(super) struct RemoteLease {
    inner: Arc<Inner>,
    /// The lock as last written and the object's version then. Held while the lock object
    /// is written, so a renewal and the release never race.
    held: Mutex<(LockInfo, String)>,
    expires_ms: AtomicU64,
    /// Why the lock is no longer this session's, once that was found.
    lost: Mutex<Option<String>>,
}

impl RemoteLease {
    pub(super) fn new(inner: Arc<Inner>, info: LockInfo, version: String) -> Self {
        RemoteLease {
            inner,
            expires_ms: AtomicU64::new(info.renewed_ms + info.lease_ms),
            held: Mutex::new((info, version)),
            lost: Mutex::new(None),
        }
    }

    fn lost_error(&self, reason: String) -> StateError {
        if let Ok(mut l) = self.lost.lock() {
            l.get_or_insert_with(|| reason.clone());
        }
        StateError::LeaseLost {
            location: self.inner.location(),
            reason,
        }
    }

    /// Refuse at once when the lock is known to be lost.
    fn check(&self) -> Result<(), StateError> {
        match self.lost.lock().ok().and_then(|l| l.clone()) {
            Some(reason) => Err(self.lost_error(reason)),
            None => Ok(()),
        }
    }

    /// Whether the lock is still this session's, read from the store.
    async fn verify(inner: &Inner, id: &str) -> Result<Result<(), String>, StateError> {
        Ok(match lost_because(inner, id).await? {
            None => Ok(()),
            Some(reason) => Err(reason),
        })
    }

    /// Free the lock, keeping its generation. Refused when it is no longer this session's.
    pub(super) async fn release(&self) -> Result<(), StateError> {
        let (info, version) = self.held.lock().unwrap().clone();
        match write_slot(&self.inner, &info.id, info.generation, None, version).await? {
            Ok(_) => Ok(()),
            Err(reason) => Err(self.lost_error(reason)),
        }
    }

    fn release_blocking(&self) -> Result<(), StateError> {
        self.check()?;
        let held = self.held.lock().unwrap();
        let (info, version) = held.clone();
        let inner = self.inner.clone();
        let outcome = self.inner.block(async move {
            write_slot(&inner, &info.id, info.generation, None, version).await
        })?;
        drop(held);
        outcome
            .map(|_| ())
            .map_err(|reason| self.lost_error(reason))
    }
}

impl Lease for RemoteLease {
    fn renew(&self) -> Result<(), StateError> {
        self.check()?;
        let mut held = self.held.lock().unwrap();
        let mut info = held.0.clone();
        info.renewed_ms = now_ms();
        let (inner, next, version) = (self.inner.clone(), info.clone(), held.1.clone());
        let outcome = self.inner.block(async move {
            let (id, generation) = (next.id.clone(), next.generation);
            write_slot(&inner, &id, generation, Some(next), version).await
        })?;
        match outcome {
            Ok(version) => {
                self.expires_ms
                    .store(info.renewed_ms + info.lease_ms, Ordering::SeqCst);
                *held = (info, version);
                Ok(())
            }
            Err(reason) => Err(self.lost_error(reason)),
        }
    }

    fn term(&self) -> std::time::Duration {
        self.inner.lease
    }

    fn expires_ms(&self) -> u64 {
        self.expires_ms.load(Ordering::SeqCst)
    }
}

/// Exclusive access to a remote store's state.
#[derive(Debug)]
pub(super) struct RemoteSession {
    inner: Arc<Inner>,
    info: LockInfo,
    lease: Arc<RemoteLease>,
    state: State,
    /// A snapshot is stored.
    exists: bool,
    /// The snapshot's version, for its conditional rewrite.
    version: String,
    /// The journal position the snapshot holds, and the last entry after it.
    base: Position,
    end: Position,
    /// Entries written since the snapshot, removed once it holds them.
    written: Vec<String>,
    /// The serial was raised by this session already.
    raised: bool,
    /// Rewrite the snapshot at the next compaction even without entries.
    rewrite: bool,
}

impl RemoteSession {
    pub(super) fn new(
        inner: Arc<Inner>,
        info: LockInfo,
        lease: Arc<RemoteLease>,
        loaded: Option<Loaded>,
    ) -> Self {
        let position = (info.generation, 0);
        let (state, exists, version) = match loaded {
            Some(l) => (l.state, true, l.version),
            None => (
                State {
                    lineage: String::new(),
                    ..State::new("", "")
                },
                false,
                String::new(),
            ),
        };
        RemoteSession {
            inner,
            info,
            lease,
            state,
            exists,
            version,
            base: position,
            end: position,
            written: Vec::new(),
            raised: false,
            rewrite: false,
        }
    }

    /// Write `name` under `condition`, then make sure the lock was still this session's:
    /// the new version, or the error that refuses the write.
    fn fenced_put(
        &self,
        name: String,
        body: Vec<u8>,
        condition: Condition,
    ) -> Result<String, StateError> {
        self.lease.check()?;
        let inner = self.inner.clone();
        let id = self.info.id.clone();
        let (written, verdict) = self.inner.block(async move {
            // Where the backend checks the lock with the write itself, a write that
            // happened was the lock holder's: nothing to read back.
            let fenced = inner
                .put_fenced(&name, body.clone(), condition.clone(), &id)
                .await?;
            if let Some(Some(version)) = fenced {
                return Ok((Ok(version), Ok(())));
            }
            let written = match fenced {
                // Not written: the lock moved, or the condition failed (perhaps on a retry
                // of a write that landed): the read of the lock below tells which.
                Some(None) => inner.put_landed(&name, &body).await?,
                _ => inner.put(&name, body, condition).await?,
            };
            let verdict = RemoteLease::verify(&inner, &id).await?;
            Ok((written.ok_or(name), verdict))
        })?;
        verdict.map_err(|reason| self.lease.lost_error(reason))?;
        written.map_err(|name| StateError::Backend {
            location: self.inner.location(),
            message: format!("{name} was changed by another writer while this run held the lock"),
        })
    }

    fn compact_now(&mut self) -> Result<(), StateError> {
        if !self.exists || (self.written.is_empty() && !self.rewrite) {
            return Ok(());
        }
        let body = layout::encode_state(self.end, &self.state);
        self.version = self.fenced_put(
            layout::STATE.into(),
            body,
            Condition::Matches(self.version.clone()),
        )?;
        self.base = self.end;
        self.rewrite = false;
        let inner = self.inner.clone();
        let written = std::mem::take(&mut self.written);
        let history = (
            layout::history_name(self.state.serial),
            layout::encode_history(&self.state),
        );
        self.inner.block(async move {
            inner.put(&history.0, history.1, Condition::Always).await?;
            // Leftovers are harmless (never read); a failed removal is retried by the next
            // lock's sweep.
            let _ = inner.delete_many(&written).await;
            Ok(())
        })
    }
}

impl StateSession for RemoteSession {
    fn state(&self) -> &State {
        &self.state
    }

    fn lock_info(&self) -> &LockInfo {
        &self.info
    }

    fn init(&mut self, stack: &str, provider: &str) -> Result<(), StateError> {
        self.lease.check()?;
        if self.exists {
            if self.state.stack != stack || self.state.provider != provider {
                return Err(StateError::Foreign {
                    location: self.inner.location(),
                    reason: format!(
                        "it belongs to stack {:?} on {:?}, not {stack:?} on {provider:?}",
                        self.state.stack, self.state.provider
                    ),
                });
            }
            if self.state.plan_key.is_empty() {
                self.state.plan_key = new_plan_key();
                self.rewrite = true;
                self.compact_now()?;
            }
            return Ok(());
        }
        let state = State::new(stack, provider);
        let body = layout::encode_state(self.base, &state);
        self.version = self.fenced_put(layout::STATE.into(), body, Condition::Absent)?;
        self.state = state;
        self.exists = true;
        Ok(())
    }

    fn append(&mut self, batch: &[Mutation]) -> Result<(), StateError> {
        if batch.is_empty() {
            return Ok(());
        }
        if !self.exists {
            return Err(StateError::Backend {
                location: self.inner.location(),
                message: "append before init".into(),
            });
        }
        let serial = self.state.serial + u64::from(!self.raised);
        let at = (self.end.0, self.end.1 + 1);
        let name = layout::entry_name(at);
        let body = layout::encode_entry(&self.state.lineage, serial, batch);
        self.fenced_put(name.clone(), body, Condition::Absent)?;
        for m in batch {
            self.state.apply(m);
        }
        self.state.serial = serial;
        self.raised = true;
        self.end = at;
        self.written.push(name);
        if self.written.len() >= COMPACT_EVERY {
            self.compact_now()?;
        }
        Ok(())
    }

    fn compact(&mut self) -> Result<(), StateError> {
        self.lease.check()?;
        self.compact_now()
    }

    fn unlock(mut self: Box<Self>) -> Result<(), StateError> {
        self.compact()?;
        let inner = self.inner.clone();
        self.inner
            .block(async move { inner.prune_history().await })?;
        self.lease.release_blocking()
    }

    fn lease(&self) -> Arc<dyn Lease> {
        self.lease.clone()
    }

    fn adopt(&mut self, state: &State) -> Result<(), StateError> {
        self.lease.check()?;
        if self.exists {
            return Err(StateError::holds_a_state(
                self.inner.location(),
                &self.state,
            ));
        }
        let body = layout::encode_state(self.base, state);
        self.version = self.fenced_put(layout::STATE.into(), body, Condition::Absent)?;
        self.state = state.clone();
        self.exists = true;
        // The unlock's compaction keeps it in the history too.
        self.rewrite = true;
        Ok(())
    }

    fn erase(self: Box<Self>) -> Result<(), StateError> {
        self.lease.check()?;
        let (inner, id) = (self.inner.clone(), self.info.id.clone());
        let verdict = self.inner.block(async move {
            if let Err(reason) = RemoteLease::verify(&inner, &id).await? {
                return Ok(Err(reason));
            }
            for prefix in [layout::JOURNAL, layout::HISTORY] {
                let names = inner.list(prefix).await?;
                inner.delete_many(&names).await?;
            }
            inner.delete(layout::STATE).await?;
            // The lock goes last, and only while it is still this session's.
            if let Err(reason) = RemoteLease::verify(&inner, &id).await? {
                return Ok(Err(reason));
            }
            inner.delete(layout::LOCK).await?;
            Ok(Ok(()))
        })?;
        verdict.map_err(|reason| self.lease.lost_error(reason))
    }
}
