//! A locked session on a remote store, and its lease.
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

use super::layout::{self, Position, Slot, SlotRead, TailEntry};
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

/// What is left to do once a snapshot is written ([`RemoteSession::seal`]).
type Tidy = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), StateError>> + Send>>;

/// What the lock object holds after a write of this session's.
#[derive(Debug)]
pub(super) struct SlotWritten {
    version: String,
    tail: Vec<TailEntry>,
    /// The holder it names: the lease runs from its renewal.
    holder: Option<LockInfo>,
}

/// How a write of the lock object ended while the lock is still this session's.
#[derive(Debug)]
pub(super) enum Wrote {
    /// Written, or found written (its answer was lost and a retry failed the condition).
    Done(SlotWritten),
    /// Not written: the lock object holds an entry of this session's that the session
    /// never heard was written (an append whose answer was lost), at the position the new
    /// one wanted. The session folds it in and appends after it.
    Behind(SlotWritten),
}

/// Write the lock object on top of `version`: `holder` (a renewal, or a release when
/// `None`), the entries of `tail` after `folded`, and `adding` after them. A version lost
/// to a write that landed though its answer did not is found again while the lock is still
/// this session's: only this session writes the lock while it holds it, so what is there
/// is a write of its own, and every entry in it is kept. `Err(Ok(reason))` when the lock is
/// no longer this session's.
#[allow(clippy::too_many_arguments)]
async fn write_slot(
    inner: &Inner,
    id: &str,
    generation: u64,
    holder: Option<LockInfo>,
    mut version: String,
    mut tail: Vec<TailEntry>,
    adding: Option<TailEntry>,
    folded: Position,
) -> Result<Result<Wrote, String>, StateError> {
    for _ in 0..3 {
        tail.retain(|e| e.at > folded);
        let mut slot = Slot {
            cairn_lock: 1,
            generation,
            holder: holder.clone(),
            tail,
        };
        slot.tail.extend(adding.clone());
        let written = inner
            .put(
                layout::LOCK,
                slot.encode(),
                Condition::Matches(version.clone()),
            )
            .await?;
        if let Some(version) = written {
            return Ok(Ok(Wrote::Done(SlotWritten {
                version,
                tail: slot.tail,
                holder: slot.holder,
            })));
        }
        match inner.slot().await? {
            Some((SlotRead::Slot(stored), v))
                if stored.holder.as_ref().is_some_and(|h| h.id == id) =>
            {
                version = v;
                tail = stored.tail;
                if let Some(entry) = &adding {
                    if let Some(there) = tail.iter().find(|e| e.at == entry.at) {
                        let same = there.same_as(entry);
                        // Found written by an earlier attempt: the lease runs from that
                        // attempt's renewal, not this one's.
                        let written = SlotWritten {
                            version,
                            tail,
                            holder: stored.holder,
                        };
                        return Ok(Ok(if same {
                            Wrote::Done(written)
                        } else {
                            Wrote::Behind(written)
                        }));
                    }
                }
            }
            _ => {
                let reason = lost_because(inner, id).await?;
                return Ok(Err(reason.unwrap_or_else(|| "the lock changed".into())));
            }
        }
    }
    Ok(Err("the lock kept changing under this run".into()))
}

/// The lock object as this session last wrote it.
#[derive(Debug)]
struct Held {
    info: LockInfo,
    version: String,
    /// The journal entries it holds (object stores), oldest first.
    tail: Vec<TailEntry>,
    /// The snapshot holds every entry up to here: the next write of the lock leaves those
    /// out. Nothing until the lock's first snapshot is written, so a run that fails before
    /// it keeps the entries a previous holder left.
    folded: Position,
}

/// A session's lease on the lock object, shared with its heartbeat.
#[derive(Debug)]
pub(super) struct RemoteLease {
    inner: Arc<Inner>,
    /// Held while the lock object is written, so appends, renewals and the release never
    /// race.
    held: Mutex<Held>,
    expires_ms: AtomicU64,
    /// Why the lock is no longer this session's, once that was found.
    lost: Mutex<Option<String>>,
}

impl RemoteLease {
    /// The lease on a lock just written at `version`, holding `tail` (a previous
    /// holder's entries, kept until the snapshot holds them).
    pub(super) fn new(
        inner: Arc<Inner>,
        info: LockInfo,
        version: String,
        tail: Vec<TailEntry>,
    ) -> Self {
        RemoteLease {
            inner,
            expires_ms: AtomicU64::new(info.renewed_ms + info.lease_ms),
            held: Mutex::new(Held {
                info,
                version,
                tail,
                folded: (0, 0),
            }),
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

    /// The snapshot now holds every entry up to `at`.
    pub(super) fn folded(&self, at: Position) {
        self.held.lock().unwrap().folded = at;
    }

    /// Entries the lock object holds after `at`, oldest first.
    fn entries_after(&self, at: Position) -> Vec<TailEntry> {
        let held = self.held.lock().unwrap();
        held.tail.iter().filter(|e| e.at > at).cloned().collect()
    }

    /// About how many bytes of entries the next write of the lock carries.
    fn tail_size(&self) -> usize {
        let held = self.held.lock().unwrap();
        held.tail
            .iter()
            .filter(|e| e.at > held.folded)
            .map(TailEntry::size)
            .sum()
    }

    /// Write the lock object, renewed (or released) and with `adding` after its entries.
    /// `Ok(false)` when the session must first fold in an entry it did not know was written
    /// ([`Wrote::Behind`]). Every write renews the lease.
    fn write(&self, adding: Option<TailEntry>, release: bool) -> Result<bool, StateError> {
        self.check()?;
        let mut held = self.held.lock().unwrap();
        let mut info = held.info.clone();
        info.renewed_ms = now_ms();
        let (inner, id, generation) = (self.inner.clone(), info.id.clone(), info.generation);
        let holder = (!release).then_some(info);
        let (version, tail, folded) = (held.version.clone(), held.tail.clone(), held.folded);
        let outcome = self.inner.block(async move {
            write_slot(
                &inner, &id, generation, holder, version, tail, adding, folded,
            )
            .await
        })?;
        match outcome {
            Ok(Wrote::Done(w)) => {
                (held.version, held.tail) = (w.version, w.tail);
                if let Some(info) = w.holder {
                    self.expires_ms
                        .store(info.renewed_ms + info.lease_ms, Ordering::SeqCst);
                    held.info = info;
                }
                Ok(true)
            }
            Ok(Wrote::Behind(w)) => {
                (held.version, held.tail) = (w.version, w.tail);
                Ok(false)
            }
            Err(reason) => Err(self.lost_error(reason)),
        }
    }

    /// Free the lock, keeping its generation and every entry the snapshot does not hold,
    /// from the store's own thread (a lock whose sealing failed). Refused when it is no
    /// longer this session's.
    pub(super) async fn release(&self) -> Result<(), StateError> {
        let (info, version, tail, folded) = {
            let held = self.held.lock().unwrap();
            let h = &*held;
            (h.info.clone(), h.version.clone(), h.tail.clone(), h.folded)
        };
        let outcome = write_slot(
            &self.inner,
            &info.id,
            info.generation,
            None,
            version,
            tail,
            None,
            folded,
        )
        .await?;
        outcome
            .map(|_| ())
            .map_err(|reason| self.lost_error(reason))
    }
}

impl Lease for RemoteLease {
    fn renew(&self) -> Result<(), StateError> {
        self.write(None, false).map(|_| ())
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
