//! A locked session on a remote store (its lease is `lease.rs`).
//!
//! Every write is fenced by the lock, one of three ways:
//! - an append on an object store is a conditional write of the lock object itself (the
//!   entry rides in its tail), so it fails outright once another run took the lock;
//! - where the backend checks the lock in the same step as a write (PostgreSQL), entries
//!   are objects of their own written that way;
//! - anything else (the snapshot) is a conditional write followed by a read of the lock:
//!   when that read still finds this session's lock, the write happened before any
//!   takeover, and whoever takes the lock next reads it; when it finds another lock, the
//!   write is refused ([`StateError::LeaseLost`]) and, having landed after the new holder
//!   sealed the snapshot, is never read.

use super::layout::{self, Position, TailEntry};
use super::lease::RemoteLease;
use super::{Condition, Inner, Loaded};
use crate::state::{new_plan_key, Lease, LockInfo, Mutation, State, StateError, StateSession};
use std::sync::Arc;

/// Entries a session writes before it folds them into the snapshot on its own: reads stay
/// a few requests long however long a run is.
const COMPACT_EVERY: usize = 256;

/// What is left to do once a snapshot is written ([`RemoteSession::seal`]).
type Tidy = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), StateError>> + Send>>;

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
    /// Its size, which sets how long the lock object's tail may grow.
    snapshot_size: usize,
    /// The journal position the snapshot holds, and the last entry after it.
    base: Position,
    end: Position,
    /// The backend checks the lock with each write: entries are objects of their own.
    /// Otherwise they ride in the lock object.
    entry_objects: bool,
    /// Entry objects written since the snapshot, removed once it holds them.
    written: Vec<String>,
    /// Entries appended by this session and their bytes, for the tail's size.
    appended: (usize, usize),
    /// The serial was raised by this session already.
    raised: bool,
    /// Rewrite the snapshot at the next compaction even without entries.
    rewrite: bool,
    /// `state` holds a last batch (`append_last`) that no entry does: the next snapshot
    /// written is what records it.
    unsealed: bool,
}

/// The fewest and most bytes of entries the lock object carries before they are folded
/// into the snapshot (see [`RemoteSession::tail_cap`]).
const TAIL_BYTES: (usize, usize) = (64 << 10, 4 << 20);

/// What one more request costs, in bytes moved: a cloud object store's ten milliseconds or
/// so of round trip at a hundred megabytes a second (see [`RemoteSession::tail_cap`]).
const REQUEST_BYTES: f64 = 1_000_000.0;

impl RemoteSession {
    pub(super) fn new(
        inner: Arc<Inner>,
        info: LockInfo,
        lease: Arc<RemoteLease>,
        loaded: Option<Loaded>,
    ) -> Self {
        let position = (info.generation, 0);
        let (state, exists, version, snapshot_size) = match loaded {
            Some(l) => (l.state, true, l.version, l.size),
            None => (
                State {
                    lineage: String::new(),
                    ..State::new("", "")
                },
                false,
                String::new(),
                0,
            ),
        };
        RemoteSession {
            entry_objects: inner.blobs.fences_writes(),
            inner,
            info,
            lease,
            state,
            exists,
            version,
            snapshot_size,
            base: position,
            end: position,
            written: Vec::new(),
            appended: (0, 0),
            raised: false,
            rewrite: false,
            unsealed: false,
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

    /// Write a snapshot that folds in the lock object's entries (and, at a run's end, its
    /// last batch: results of calls this run made), without reading the lock back. A
    /// takeover rewrites the snapshot first, conditionally, so one landing after a takeover
    /// is either read by that rewrite (it holds nothing untrue: the tail it carried, and
    /// results that settle the tail's own pending records) or fails its condition. A lost
    /// lock is found by the next write of the lock (the release, at the end), or here when
    /// the condition fails.
    fn fold_put(&self, body: Vec<u8>, condition: Condition) -> Result<String, StateError> {
        self.lease.check()?;
        let (inner, id) = (self.inner.clone(), self.info.id.clone());
        let (written, verdict) = self.inner.block(async move {
            match inner.put(layout::STATE, body, condition).await? {
                Some(version) => Ok((Some(version), Ok(()))),
                None => Ok((None, RemoteLease::verify(&inner, &id).await?)),
            }
        })?;
        verdict.map_err(|reason| self.lease.lost_error(reason))?;
        written.ok_or_else(|| StateError::Backend {
            location: self.inner.location(),
            message: format!(
                "{} was changed by another writer while this run held the lock",
                layout::STATE
            ),
        })
    }

    /// Take `batch` as written at `at`, bringing the state to `serial`.
    fn applied(&mut self, batch: &[Mutation], serial: u64, at: Position) {
        for m in batch {
            self.state.apply(m);
        }
        self.state.serial = serial;
        self.raised = true;
        self.end = at;
    }

    /// Fold in the entries the lock object holds past this session's end: appends of its
    /// own whose answers were lost, found written by a later write of the lock.
    fn catch_up(&mut self) -> Result<(), StateError> {
        for entry in self.lease.entries_after(self.end) {
            let next = (self.end.0, self.end.1 + 1);
            let batch = match entry.decode() {
                Ok(b) if entry.at == next && entry.lineage == self.state.lineage => b,
                Ok(_) => {
                    return Err(StateError::Corrupt {
                        location: self.inner.location(),
                        reason: format!(
                            "{} does not follow {}: the lock object was changed by hand",
                            entry.name(),
                            layout::entry_name(self.end)
                        ),
                    })
                }
                Err(why) => {
                    return Err(StateError::Corrupt {
                        location: self.inner.location(),
                        reason: format!("{}: {why}", entry.name()),
                    })
                }
            };
            self.applied(&batch, entry.serial, entry.at);
        }
        Ok(())
    }

    /// Bytes of entries past which the lock object's tail is folded into the snapshot.
    /// Each append rewrites the tail, and each fold writes the snapshot (one request more,
    /// `r` in bytes' worth of time): per append that is about
    /// `cap / 2 + (snapshot + r) * entry / cap` bytes' worth, least at
    /// `cap = sqrt(2 * (snapshot + r) * entry)`, kept within [`TAIL_BYTES`].
    fn tail_cap(&self) -> usize {
        let entry = (self.appended.1 / self.appended.0.max(1)) as f64;
        let fold = self.snapshot_size as f64 + REQUEST_BYTES;
        let best = (2.0 * fold * entry).sqrt() as usize;
        best.clamp(TAIL_BYTES.0, TAIL_BYTES.1)
    }

    /// Rewrite the snapshot with everything appended, and keep a copy in the history when
    /// `history` (a run's end: folds during a run would only overwrite it).
    fn compact_now(&mut self, history: bool) -> Result<(), StateError> {
        match self.seal(history)? {
            Some(tidy) => self.inner.block(tidy),
            None => Ok(()),
        }
    }

    /// Rewrite the snapshot with everything appended; what is left to do once it is
    /// written (its copy in the history when `history`, removal of the entry objects it now
    /// holds) is returned, not done, so the caller may do it beside its next request.
    fn seal(&mut self, history: bool) -> Result<Option<Tidy>, StateError> {
        self.catch_up()?;
        if !self.exists || (self.end == self.base && !self.rewrite && !self.unsealed) {
            return Ok(None);
        }
        let body = layout::encode_state(self.end, &self.state);
        self.snapshot_size = body.len();
        let history = history.then(|| {
            (
                layout::history_name(self.state.serial),
                layout::history_of(&body),
            )
        });
        let condition = Condition::Matches(self.version.clone());
        self.version = if self.entry_objects || self.rewrite {
            self.fenced_put(layout::STATE.into(), body, condition)?
        } else {
            self.fold_put(body, condition)?
        };
        self.base = self.end;
        self.rewrite = false;
        self.unsealed = false;
        // The next write of the lock leaves out what the snapshot now holds.
        self.lease.folded(self.base);
        let written = std::mem::take(&mut self.written);
        if history.is_none() && written.is_empty() {
            return Ok(None);
        }
        let inner = self.inner.clone();
        Ok(Some(Box::pin(async move {
            if let Some((name, body)) = history {
                inner.put(&name, body, Condition::Always).await?;
            }
            // Leftovers are harmless (never read); a failed removal is retried by the next
            // lock's sweep.
            let _ = inner.delete_many(&written).await;
            Ok(())
        })))
    }

    /// An append on a backend that checks the lock with each write: the entry as an object
    /// of its own.
    fn append_object(&mut self, batch: &[Mutation], serial: u64) -> Result<(), StateError> {
        let at = (self.end.0, self.end.1 + 1);
        let name = layout::entry_name(at);
        let body = layout::encode_entry(&self.state.lineage, serial, batch);
        self.fenced_put(name.clone(), body, Condition::Absent)?;
        self.applied(batch, serial, at);
        self.written.push(name);
        if self.written.len() >= COMPACT_EVERY {
            self.compact_now(false)?;
        }
        Ok(())
    }

    /// An append on an object store: the entry added to the lock object's tail, by one
    /// conditional write of the lock.
    fn append_to_lock(&mut self, batch: &[Mutation]) -> Result<(), StateError> {
        // Twice at most: an append whose answer was lost is found at the position the next
        // one wants, folded in, and the next one goes after it.
        for _ in 0..3 {
            self.catch_up()?;
            let serial = self.state.serial + u64::from(!self.raised);
            let at = (self.end.0, self.end.1 + 1);
            let entry = TailEntry::new(at, &self.state.lineage, serial, batch);
            let size = entry.size();
            if self.lease.write(Some(entry), false)? {
                self.applied(batch, serial, at);
                self.appended = (self.appended.0 + 1, self.appended.1 + size);
                if self.lease.tail_size() > self.tail_cap() {
                    self.compact_now(false)?;
                }
                return Ok(());
            }
        }
        Err(StateError::Backend {
            location: self.inner.location(),
            message: "the lock object kept holding entries this run did not write".into(),
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
                self.compact_now(false)?;
            }
            return Ok(());
        }
        let state = State::new(stack, provider);
        let body = layout::encode_state(self.base, &state);
        self.snapshot_size = body.len();
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
        if self.unsealed {
            // An entry goes after the last batch only once a snapshot holds that batch.
            self.compact_now(false)?;
        }
        if self.entry_objects {
            let serial = self.state.serial + u64::from(!self.raised);
            self.append_object(batch, serial)
        } else {
            self.append_to_lock(batch)
        }
    }

    /// On an object store the last batch goes with the final snapshot, not into the lock
    /// object first: one request fewer. The snapshot's write is conditional like every
    /// fold, and any takeover seals the snapshot first, so it lands only where the next
    /// holder reads it; the release that follows is a conditional write of the lock, which
    /// says whether the lock was still this session's.
    fn append_last(&mut self, batch: &[Mutation]) -> Result<(), StateError> {
        if batch.is_empty() {
            return Ok(());
        }
        if self.entry_objects || !self.exists {
            return self.append(batch);
        }
        self.lease.check()?;
        // Entries of this session's whose answers were lost go first, in their order.
        self.catch_up()?;
        for m in batch {
            self.state.apply(m);
        }
        self.state.serial += u64::from(!self.raised);
        self.raised = true;
        self.unsealed = true;
        Ok(())
    }

    fn compact(&mut self) -> Result<(), StateError> {
        self.lease.check()?;
        self.compact_now(true)
    }

    fn unlock(mut self: Box<Self>) -> Result<(), StateError> {
        self.lease.check()?;
        let tidy = self.seal(true)?;
        // Once the snapshot holds everything, the lock is released while its history copy
        // is written and old copies removed: neither is read as the state, and a run that
        // takes the lock meanwhile writes only a newer copy.
        let inner = self.inner.clone();
        let tidying = self.inner.begin(async move {
            if let Some(tidy) = tidy {
                tidy.await?;
            }
            inner.prune_history().await
        });
        let released = self.lease.write(None, true).map(|_| ());
        let tidied = self.inner.finish(tidying);
        released.and(tidied)
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
        self.snapshot_size = body.len();
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
