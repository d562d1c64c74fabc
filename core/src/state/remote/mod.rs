//! Shared state: one store for every backend that keeps named objects with conditional
//! writes (an object store, a database table).
//!
//! A team's backends differ in their SDKs, not in what cairn needs from them: read an
//! object with its version, write one only if it is absent or still at a version, delete,
//! list by prefix ([`Blobs`]). Everything that makes state safe is written once, here, on
//! top of those five calls, and proved once by the conformance suite for each backend:
//!
//! - **The lock is a lease in one object** (`lock`), taken and renewed by conditional
//!   writes, so of any number of racing runs exactly one wins. It carries the fencing
//!   generation, which only grows (a released lock keeps it).
//! - **Appends are one conditional write each.** On an object store an entry rides in the
//!   lock object's tail, written only if the lock is still at the version this run last
//!   wrote: the write that records it is the one that proves the lock still this run's,
//!   and renews the lease too. Where the backend checks the lock in the same step as a
//!   write ([`Blobs::put_fenced`]: PostgreSQL), entries are small objects of their own
//!   (`journal/<generation>.<seq>`). The snapshot (`state`) is rewritten at compaction
//!   and says which entries it holds.
//! - **Fencing.** Taking a lock seals the snapshot at the new generation, so entries of any
//!   older generation are never read again; every write is checked against the lock (in
//!   same write where it is the lock object, in the same statement where the backend can;
//!   by a read of the lock after it otherwise), so a write that returns `Ok` was made while the lock was
//!   the writer's, and is seen by whoever takes the lock next. A writer that finds the lock taken over gets
//!   [`StateError::LeaseLost`], and a compaction of a stale writer fails its condition on
//!   the sealed snapshot.
//! - **History.** Every compaction that moved the serial keeps a copy of the state under
//!   `history/<serial>` (the newest [`KEEP_HISTORY`]), for `cairn state history` and
//!   `rollback`.
//!
//! Requests run on a thread of the store's own (`runner.rs`), each bounded by a timeout, so a
//! frozen endpoint becomes an error naming the store, never a hang.

mod layout;
mod lease;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod requests;
mod runner;
mod session;

pub use memory::MemoryBlobs;
#[cfg(feature = "postgres")]
pub use postgres::PostgresBlobs;

use super::*;
use layout::{Position, Slot, SlotRead, TailEntry};
use lease::RemoteLease;
use runner::Runner;
use session::RemoteSession;
use std::sync::Mutex;
use std::time::Duration;

/// How long one request to a backend may take before the store gives up on it.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An object as read: its bytes and the version a conditional write names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    /// The object's content.
    pub body: Vec<u8>,
    /// Opaque version (an ETag, a generation, a row version).
    pub version: String,
}

/// When a write may happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Only if no object has this name.
    Absent,
    /// Only if the object is still at this version.
    Matches(String),
    /// Whatever is there.
    Always,
}

/// Why a backend call failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The write's [`Condition`] did not hold: another writer was first.
    #[error("the condition of the write did not hold")]
    Conflict,
    /// Anything else: the backend's own words (never credentials).
    #[error("{0}")]
    Failed(String),
}

/// Removals [`Blobs::delete_many`] keeps in flight at once by default.
pub const DELETES_AT_ONCE: usize = 16;

/// The calls a shared backend makes available. Names are relative to the store (a key
/// prefix, a row key) and use `/` between parts.
#[async_trait::async_trait]
pub trait Blobs: Send + Sync + std::fmt::Debug + 'static {
    /// Where the objects are, for messages: never a password or token.
    fn describe(&self) -> String;
    /// The object `name` and its version; `None` when there is none.
    async fn get(&self, name: &str) -> Result<Option<Blob>, BlobError>;
    /// Write `body` as `name` if `condition` holds; returns the new version.
    async fn put(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
    ) -> Result<String, BlobError>;
    /// Remove `name`; removing what is not there succeeds.
    async fn delete(&self, name: &str) -> Result<(), BlobError>;
    /// Names that start with `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError>;
    /// Remove every one of `names` (removing what is not there succeeds). Backends with a
    /// batch call (one statement, S3's DeleteObjects) override it; by default up to
    /// [`DELETES_AT_ONCE`] removals are in flight together, since a compaction removes
    /// hundreds of journal entries and one round trip after another is what a shared
    /// store is slow at.
    async fn delete_many(&self, names: &[String]) -> Result<(), BlobError> {
        use futures_util::{StreamExt, TryStreamExt};
        // Made lazily (they run only when polled), collected first so that each is a
        // plain boxed future rather than a closure's.
        let removals: Vec<_> = names.iter().map(|name| self.delete(name)).collect();
        futures_util::stream::iter(removals)
            .buffer_unordered(DELETES_AT_ONCE)
            .try_collect::<()>()
            .await
    }
    /// [`Blobs::put`], made only while the lock object (`lock`) names `holder` (a lock id)
    /// as its holder, checked in the same atomic step as the write: the new version, or
    /// `Ok(None)` when nothing was written (the condition failed, or the lock moved).
    /// Backends that cannot (object stores) answer `None` at once; the store then reads the
    /// lock back after the write instead, one request more.
    async fn put_fenced(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
        holder: &str,
    ) -> Option<Result<Option<String>, BlobError>> {
        let _ = (name, body, condition, holder);
        None
    }
    /// Whether [`Blobs::put_fenced`] checks the lock (then journal entries are objects of
    /// their own, each one write); when not, they ride in the lock object.
    fn fences_writes(&self) -> bool {
        false
    }
}

/// A state store on a [`Blobs`] backend: PostgreSQL, S3, GCS or Azure Blob through their
/// adapters, or [`MemoryBlobs`].
#[derive(Clone, Debug)]
pub struct RemoteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    blobs: Arc<dyn Blobs>,
    runner: Runner,
    lease: Duration,
    timeout: Duration,
    notices: Mutex<Vec<String>>,
    /// The lock object as the last read without the lock found it, released, and its
    /// version: a lock taken right after (a plan, then its apply) is written on it without
    /// reading it again, and the write's condition says whether it is still so.
    released_slot: Mutex<Option<(String, Slot)>>,
}

/// The stored state as a session or a reader loads it.
#[derive(Debug)]
struct Loaded {
    state: State,
    /// The snapshot's version, for a conditional rewrite.
    version: String,
    /// The snapshot's size in bytes.
    size: usize,
    /// The entry objects listed when it was read.
    listed: Vec<String>,
    /// The snapshot's own position.
    base: Position,
    /// The last entry read on top of it (the base when none).
    end: Position,
}

impl RemoteStore {
    /// A store on `blobs`, with locks leased for [`DEFAULT_LEASE`]. Starts the thread its
    /// requests run on.
    pub fn new(blobs: impl Blobs) -> Result<Self, StateError> {
        Self::from_arc(Arc::new(blobs))
    }

    /// [`RemoteStore::new`] for a backend already shared.
    pub fn from_arc(blobs: Arc<dyn Blobs>) -> Result<Self, StateError> {
        let runner = Runner::start("cairn-state").map_err(|source| StateError::Io {
            location: blobs.describe(),
            context: "starting the state store's thread".into(),
            source,
        })?;
        Ok(RemoteStore {
            inner: Arc::new(Inner {
                blobs,
                runner,
                lease: DEFAULT_LEASE,
                timeout: DEFAULT_REQUEST_TIMEOUT,
                notices: Mutex::default(),
                released_slot: Mutex::default(),
            }),
        })
    }

    fn with_inner(self, edit: impl FnOnce(&mut Inner)) -> Self {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                edit(&mut inner);
                RemoteStore {
                    inner: Arc::new(inner),
                }
            }
            Err(shared) => RemoteStore { inner: shared },
        }
    }

    /// Take locks with a lease of `lease` (a lock not renewed for that long, and
    /// [`LEASE_GRACE`], is another run's to take over). Set before the store is shared.
    pub fn with_lease(self, lease: Duration) -> Self {
        self.with_inner(|i| i.lease = lease.max(Duration::from_millis(1)))
    }

    /// Give up on a request after `timeout` ([`DEFAULT_REQUEST_TIMEOUT`] unless told). Set
    /// before the store is shared.
    pub fn with_request_timeout(self, timeout: Duration) -> Self {
        self.with_inner(|i| i.timeout = timeout)
    }

    fn run<T: Send + 'static, F>(&self, work: impl FnOnce(Arc<Inner>) -> F) -> Result<T, StateError>
    where
        F: std::future::Future<Output = Result<T, StateError>> + Send + 'static,
    {
        self.inner.block(work(self.inner.clone()))
    }
}

impl StateStore for RemoteStore {
    fn location(&self) -> String {
        self.inner.blobs.describe()
    }

    fn read(&self) -> Result<Option<State>, StateError> {
        self.run(|inner| async move { Ok(inner.load(None).await?.map(|l| l.state)) })
    }

    fn lock(&self, operation: &str) -> Result<Box<dyn StateSession>, StateError> {
        let operation = operation.to_string();
        let session = self.run(|inner| async move { inner.lock(operation).await })?;
        Ok(Box::new(session))
    }

    fn force_unlock(&self, lock_id: &str) -> Result<(), StateError> {
        let id = lock_id.to_string();
        self.run(|inner| async move { inner.force_unlock(id).await })
    }

    fn take_notices(&self) -> Vec<String> {
        self.inner
            .notices
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default()
    }

    fn history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        self.run(|inner| async move { inner.history().await })
    }

    fn state_at(&self, serial: u64) -> Result<Option<State>, StateError> {
        self.run(|inner| async move { inner.state_at(serial).await })
    }
}

impl Inner {
    /// The entries the lock object carries (object stores), read before anything else: the
    /// snapshot read after them is as new or newer, and every entry after it is among them
    /// (a compaction drops entries from the lock only once the snapshot holds them).
    async fn tail(&self) -> Result<Vec<TailEntry>, StateError> {
        match self.slot().await? {
            None => Ok(Vec::new()),
            Some((SlotRead::Slot(slot), version)) => {
                if slot.holder.is_none() {
                    if let Ok(mut kept) = self.released_slot.lock() {
                        *kept = Some((version, slot.clone()));
                    }
                }
                Ok(slot.tail)
            }
            Some((SlotRead::Unreadable { detail, id }, _)) => Err(self.corrupt(format!(
                "the lock object is {detail}; the newest journal entries are kept in it, so the \
                 state cannot be read whole. If it was written by hand, `cairn state unlock \
                 {id}` replaces it with an empty lock"
            ))),
        }
    }

    /// Snapshot and journal, read without the lock (or with the lock's entries as `tail`
    /// when the caller holds it). The journal is listed before the snapshot is read: a
    /// compaction in between folds into the snapshot what the listing names, so nothing
    /// acknowledged is missed; an entry removed meanwhile starts it over.
    async fn load(&self, tail: Option<Vec<TailEntry>>) -> Result<Option<Loaded>, StateError> {
        let known = tail;
        'again: for _ in 0..8 {
            let tail = match &known {
                Some(t) => t.clone(),
                // Where entries are objects of their own, the lock never holds any.
                None if self.blobs.fences_writes() => Vec::new(),
                None => self.tail().await?,
            };
            let (names, snapshot) = if self.blobs.fences_writes() {
                // Entry objects are listed before the snapshot is read: a compaction
                // removes them only once the snapshot holds them, so every entry after the
                // snapshot read is among those listed.
                let names = self.list(layout::JOURNAL).await?;
                (names, self.get(layout::STATE).await?)
            } else {
                // Object stores keep entries in the lock object (read above) and write no
                // entry objects: the two reads need no order, so they go together.
                let (names, snapshot) =
                    tokio::join!(self.list(layout::JOURNAL), self.get(layout::STATE));
                (names?, snapshot?)
            };
            let Some(snapshot) = snapshot else {
                if names.iter().any(|n| layout::entry_position(n).is_some()) || !tail.is_empty() {
                    return Err(self.corrupt(
                        "journal entries exist but the snapshot they extend is missing".into(),
                    ));
                }
                return Ok(None);
            };
            let (base, mut state) = layout::decode_state(&snapshot.body, &self.location())?;
            let mut end = base;
            let follows = |at: Position, end: Position, what: &str| {
                if at.0 > end.0 || at.1 != end.1 + 1 {
                    Err(self.corrupt(format!(
                        "journal entry {what} does not follow {}: an entry is missing or was \
                         put there by hand",
                        layout::entry_name(end)
                    )))
                } else {
                    Ok(())
                }
            };
            let foreign = |lineage: &str, what: &str, state: &State| StateError::Foreign {
                location: self.location(),
                reason: format!(
                    "journal entry {what} has lineage {lineage}, the snapshot {}",
                    state.lineage
                ),
            };
            for name in &names {
                let Some(at) = layout::entry_position(name) else {
                    continue;
                };
                if at <= base {
                    // Of an older generation, or already in the snapshot: never read.
                    continue;
                }
                follows(at, end, name)?;
                let Some(entry) = self.get(name).await? else {
                    continue 'again;
                };
                let (lineage, serial, batch) = layout::decode_entry(&entry.body)
                    .map_err(|why| self.corrupt(format!("journal entry {name}: {why}")))?;
                if lineage != state.lineage {
                    return Err(foreign(&lineage, name, &state));
                }
                for m in &batch {
                    state.apply(m);
                }
                state.serial = serial;
                end = at;
            }
            let after = end;
            for entry in tail.iter().filter(|e| e.at > after) {
                if known.is_none() && entry.at.0 == end.0 && entry.at.1 > end.1 + 1 {
                    // Read before a takeover's carried tail was written and after its
                    // snapshot moved on: read again.
                    continue 'again;
                }
                follows(entry.at, end, &entry.name())?;
                let batch = entry.decode().map_err(|why| {
                    self.corrupt(format!("journal entry {}: {why}", entry.name()))
                })?;
                if entry.lineage != state.lineage {
                    return Err(foreign(&entry.lineage, &entry.name(), &state));
                }
                for m in &batch {
                    state.apply(m);
                }
                state.serial = entry.serial;
                end = entry.at;
            }
            return Ok(Some(Loaded {
                state,
                version: snapshot.version,
                size: snapshot.body.len(),
                listed: names,
                base,
                end,
            }));
        }
        Err(self.corrupt(
            "the journal kept changing while it was read (a compaction each time); try again"
                .into(),
        ))
    }

    async fn lock(self: Arc<Self>, operation: String) -> Result<RemoteSession, StateError> {
        let mut info = LockInfo::for_operation(&operation);
        // A conditional write lost to another writer means the slot changed: read it again
        // and decide again (usually: it is held now).
        for attempt in 0..16 {
            // A previous holder's entries stay in the lock until the seal's snapshot holds
            // them.
            let mut tail = Vec::new();
            let known = match attempt {
                0 => self.released_slot.lock().ok().and_then(|mut k| k.take()),
                _ => None,
            };
            let read = match known {
                Some((version, slot)) => Some((SlotRead::Slot(slot), version)),
                None => self.slot().await?,
            };
            let (previous, condition, generation) = match read {
                None => (None, Condition::Absent, 0),
                Some((SlotRead::Unreadable { detail, id }, _)) => {
                    return Err(StateError::LockUnreadable {
                        location: self.location(),
                        detail,
                        id,
                    })
                }
                Some((SlotRead::Slot(slot), version)) => match slot.holder {
                    None => {
                        tail = slot.tail;
                        (None, Condition::Matches(version), slot.generation)
                    }
                    Some(holder) => match holder.may_be_taken_over() {
                        Some(why) => {
                            tail = slot.tail;
                            (
                                Some((holder, why)),
                                Condition::Matches(version),
                                slot.generation,
                            )
                        }
                        None => {
                            return Err(StateError::Locked {
                                location: self.location(),
                                holder: Box::new(holder),
                            })
                        }
                    },
                },
            };
            info = info.leased(self.lease, None);
            info.generation = generation + 1;
            let slot = Slot {
                cairn_lock: 1,
                generation: info.generation,
                holder: Some(info.clone()),
                tail,
            };
            let Some(version) = self.put(layout::LOCK, slot.encode(), condition).await? else {
                continue;
            };
            if let Some((holder, why)) = previous {
                if let Ok(mut n) = self.notices.lock() {
                    n.push(format!(
                        "{}: took over the lock of {holder}: {why}. Its pending operations are \
                         reconciled like after any crash",
                        self.location()
                    ));
                }
            }
            let lease = Arc::new(RemoteLease::new(
                self.clone(),
                info.clone(),
                version,
                slot.tail.clone(),
            ));
            return match self.clone().seal(&info, slot.tail).await {
                Ok(loaded) => {
                    // The sealed snapshot holds the previous holder's entries.
                    lease.folded((info.generation, 0));
                    Ok(RemoteSession::new(self.clone(), info, lease, loaded))
                }
                Err(e) => {
                    let _ = lease.release().await;
                    Err(e)
                }
            };
        }
        Err(StateError::Backend {
            location: self.location(),
            message: "the lock kept changing under 16 attempts to take it".into(),
        })
    }

    /// Load the state under a new lock and rewrite the snapshot at the lock's generation:
    /// from then on no entry of an older generation is ever read, so a run that lost the
    /// lock and writes late changes nothing.
    async fn seal(
        self: Arc<Self>,
        info: &LockInfo,
        tail: Vec<TailEntry>,
    ) -> Result<Option<Loaded>, StateError> {
        for _ in 0..8 {
            let Some(mut loaded) = self.load(Some(tail.clone())).await? else {
                return Ok(None);
            };
            let position = (info.generation, 0);
            let body = layout::encode_state(position, &loaded.state);
            let condition = Condition::Matches(loaded.version.clone());
            let Some(version) = self.put(layout::STATE, body, condition).await? else {
                // A writer that lost its lock compacted meanwhile: read what it left.
                continue;
            };
            // Entries folded in just now, and any older leftovers, are never read again.
            // (None of this generation can exist yet: the lock was taken just now.)
            let stale: Vec<String> = std::mem::take(&mut loaded.listed)
                .into_iter()
                .filter(|name| {
                    layout::entry_position(name).is_some_and(|at| at.0 < info.generation)
                })
                .collect();
            self.delete_many(&stale).await?;
            loaded.version = version;
            loaded.base = position;
            loaded.end = position;
            return Ok(Some(loaded));
        }
        Err(StateError::Backend {
            location: self.location(),
            message: "the snapshot kept changing under 8 attempts to seal it".into(),
        })
    }

    async fn force_unlock(&self, id: String) -> Result<(), StateError> {
        let Some((read, version)) = self.slot().await? else {
            return Ok(());
        };
        // The holder's journal entries stay: the next lock's seal folds them in.
        let (generation, tail) = match read {
            SlotRead::Slot(Slot { holder: None, .. }) => return Ok(()),
            SlotRead::Slot(Slot {
                holder: Some(h),
                generation,
                tail,
                ..
            }) => {
                if h.id != id {
                    return Err(StateError::WrongLock {
                        location: self.location(),
                        given: id,
                        held: h.id,
                    });
                }
                (generation, tail)
            }
            SlotRead::Unreadable { id: held, .. } => {
                if held != id {
                    return Err(StateError::WrongLock {
                        location: self.location(),
                        given: id,
                        held,
                    });
                }
                // The generation it held is unknown: continue from the highest one written.
                (self.highest_generation().await?, Vec::new())
            }
        };
        let free = Slot {
            cairn_lock: 1,
            generation,
            holder: None,
            tail,
        };
        match self
            .put(layout::LOCK, free.encode(), Condition::Matches(version))
            .await?
        {
            Some(_) => Ok(()),
            None => Err(StateError::Backend {
                location: self.location(),
                message: "the lock changed while it was being released; look again".into(),
            }),
        }
    }

    async fn highest_generation(&self) -> Result<u64, StateError> {
        let mut highest = 0;
        for name in self.list(layout::JOURNAL).await? {
            if let Some((g, _)) = layout::entry_position(&name) {
                highest = highest.max(g);
            }
        }
        if let Some(b) = self.get(layout::STATE).await? {
            if let Ok(((g, _), _)) = layout::decode_state(&b.body, "") {
                highest = highest.max(g);
            }
        }
        Ok(highest)
    }

    async fn history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        let mut out = Vec::new();
        for name in self.list(layout::HISTORY).await?.into_iter().rev() {
            let Some(serial) = layout::history_serial(&name) else {
                continue;
            };
            if let Some(state) = self.state_at(serial).await? {
                out.push(HistoryEntry::of(&state));
            }
        }
        Ok(out)
    }

    async fn state_at(&self, serial: u64) -> Result<Option<State>, StateError> {
        let name = layout::history_name(serial);
        match self.get(&name).await? {
            None => Ok(None),
            Some(b) => {
                layout::decode_history(&b.body, &format!("{} ({name})", self.location())).map(Some)
            }
        }
    }

    /// Keep the newest [`KEEP_HISTORY`] copies.
    async fn prune_history(&self) -> Result<(), StateError> {
        let names = self.list(layout::HISTORY).await?;
        let kept: Vec<_> = names
            .into_iter()
            .filter(|n| layout::history_serial(n).is_some())
            .collect();
        let old = kept.len().saturating_sub(KEEP_HISTORY);
        self.delete_many(&kept[..old]).await
    }
}
