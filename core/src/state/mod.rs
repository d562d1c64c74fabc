//! State: what cairn believes exists in the cloud, and the stores that keep it.
//!
//! State changes only through [`Mutation`]s. Apply appends them to a [`StateSession`] one
//! small batch at a time (a pending-operation record before every provider call, the result
//! after), so a crash at any instant leaves a state that parses, holds every completed
//! operation and names every operation that may have half-happened. Backends decide how to
//! make an append durable and cheap; the local file backend uses a checksummed journal next
//! to a snapshot, compacted at the end of a run, so an operation costs one small append and
//! not a rewrite of a 100,000-resource file.

pub mod conformance;
mod heartbeat;
mod local;
mod lock_info;
mod process;
pub mod remote;
mod scan;
mod snapshot;
mod transfer;
pub mod url;

pub use heartbeat::Heartbeat;
pub use local::LocalStore;
pub use lock_info::{LockInfo, DEFAULT_LEASE, LEASE_GRACE};
pub use remote::RemoteStore;
pub use transfer::{checksum, migrate, rollback, Migrated};

use crate::value::{Attrs, Text};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Version of the state format this build writes. Version 1 (no checksum, no plan key) is
/// still read; the next write upgrades it.
pub const STATE_FORMAT_VERSION: u32 = 2;

/// An object that used to be a resource's current object and waits to be deleted
/// (create-before-destroy replacement in progress).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deposed {
    /// Cloud id of the old object.
    pub id: Text,
    /// Its attributes as last recorded.
    pub attrs: Attrs,
}

/// One concrete resource as last seen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceState {
    /// Concrete address, e.g. `aws_vpc.main`.
    pub address: Text,
    /// Concrete resource type, e.g. `aws_vpc` (`type` in JSON).
    #[serde(rename = "type")]
    pub type_name: Text,
    /// Portable address it was lowered from (`database.main`).
    pub origin: Text,
    /// Cloud identifier; empty when only deposed objects remain.
    pub id: Text,
    /// Attributes as last read or applied; secrets as digests.
    pub attrs: Attrs,
    /// Addresses it depended on when last applied: destroy order for resources no longer
    /// declared comes from here, never from config.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "exact_size"
    )]
    pub deps: Vec<Text>,
    /// Recorded protection: survives the declaration being deleted from code.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Old objects of an unfinished create-before-destroy replacement, still to delete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<Deposed>,
}

/// A list read at its exact size (a first push reserves four): one per resource in state.
fn exact_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Text>, D::Error> {
    let mut v = Vec::<Text>::deserialize(d)?;
    v.shrink_to_fit();
    Ok(v)
}

/// What a pending operation was about to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    /// Create a new object (found again by its `token`).
    Create,
    /// Update the object `id` in place.
    Update,
    /// Delete the object `id`.
    Delete,
    /// Delete of a deposed object (second step of create-before-destroy).
    DeleteDeposed,
}

/// Written durably before a provider call; removed with the call's result. Left behind by a
/// crash, it tells the next run exactly what to reconcile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingOperation {
    /// Random id of this operation, which [`Mutation::Settle`] names.
    pub op_id: Text,
    /// Concrete address of the resource.
    pub address: Text,
    /// Concrete resource type (`type` in JSON).
    #[serde(rename = "type")]
    pub type_name: Text,
    /// Portable address the resource was lowered from.
    pub origin: Text,
    /// What the call was about to do.
    pub kind: OperationKind,
    /// Object id the call acts on (update/delete); none for create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Text>,
    /// Idempotency token sent with a create.
    pub token: Text,
    /// Unix milliseconds.
    pub started_at_ms: u64,
    /// For a create: the attributes sent (secrets as digests, like everywhere in state).
    /// An object inside another (a listener rule, a topic, a database) can only be looked
    /// for under its parent, so the next run needs them to find what the crash left.
    #[serde(default, skip_serializing_if = "Attrs::is_empty")]
    pub attrs: Attrs,
}

/// The whole state of one stack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Marks the file as cairn's and gives its format version.
    pub cairn_state: u32,
    /// Random id fixed when the state is first written; a state with another lineage is a
    /// different stack's, and a plan made against one is never applied to the other.
    pub lineage: String,
    /// Bumped by every session that writes.
    pub serial: u64,
    /// Name of the stack this state belongs to.
    pub stack: String,
    /// Name of the provider it is applied with.
    pub provider: String,
    /// Every concrete resource, by address (a list in JSON).
    #[serde(with = "resources_as_list")]
    pub resources: BTreeMap<Text, ResourceState>,
    /// The stack's output values after the last apply; secrets as digests.
    #[serde(default)]
    pub outputs: BTreeMap<String, crate::value::Value>,
    /// Operations begun and not settled, by `op_id` (a list in JSON): what a crash may have
    /// left half-done, for the next run to reconcile.
    #[serde(default, with = "pending_as_list")]
    pub pending: BTreeMap<Text, PendingOperation>,
    /// Key of the MAC that seals plans saved against this state (hex). Made with the
    /// lineage and never shown: whoever can read the state can make plans for it anyway,
    /// but an edited or foreign plan file cannot pass for one made here.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub plan_key: String,
}

impl State {
    /// An empty state of `stack` on `provider`: serial 0, a fresh lineage and plan key.
    pub fn new(stack: &str, provider: &str) -> Self {
        State {
            cairn_state: STATE_FORMAT_VERSION,
            lineage: new_lineage(),
            serial: 0,
            stack: stack.to_string(),
            provider: provider.to_string(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            pending: BTreeMap::new(),
            plan_key: new_plan_key(),
        }
    }

    /// Apply one mutation in memory.
    pub fn apply(&mut self, m: &Mutation) {
        match m {
            Mutation::Put(r) => {
                let deposed = self
                    .resources
                    .remove(&r.address)
                    .map(|old| old.deposed)
                    .unwrap_or_default();
                // Redacted: shared with the mutation's, unless it holds a secret.
                let r = ResourceState {
                    address: r.address.clone(),
                    type_name: r.type_name.clone(),
                    origin: r.origin.clone(),
                    id: r.id.clone(),
                    attrs: r.attrs.redacted(),
                    deps: r.deps.clone(),
                    protect: r.protect,
                    deposed: if r.deposed.is_empty() {
                        deposed
                    } else {
                        r.deposed.clone()
                    },
                };
                self.resources.insert(r.address.clone(), r);
            }
            Mutation::Remove { address } => {
                if let Some(r) = self.resources.get_mut(address) {
                    if r.deposed.is_empty() {
                        self.resources.remove(address);
                    } else {
                        r.id.clear();
                        r.attrs.clear();
                    }
                }
            }
            Mutation::Depose { address } => {
                if let Some(r) = self.resources.get_mut(address) {
                    if !r.id.is_empty() {
                        let old = Deposed {
                            id: std::mem::take(&mut r.id),
                            attrs: std::mem::take(&mut r.attrs),
                        };
                        r.deposed.push(old);
                    }
                }
            }
            Mutation::RemoveDeposed { address, id } => {
                if let Some(r) = self.resources.get_mut(address) {
                    r.deposed.retain(|d| d.id != id);
                    if r.deposed.is_empty() && r.id.is_empty() {
                        self.resources.remove(address);
                    }
                }
            }
            Mutation::SetProtect { address, protect } => {
                if let Some(r) = self.resources.get_mut(address) {
                    r.protect = *protect;
                }
            }
            Mutation::Outputs(o) => {
                self.outputs = o.iter().map(|(k, v)| (k.clone(), v.redacted())).collect()
            }
            Mutation::Begin(p) => {
                self.pending.insert(p.op_id.clone(), p.clone());
            }
            Mutation::Settle { op_id } => {
                self.pending.remove(op_id);
            }
        }
    }

    /// Resources that still have a current object (not only deposed ones).
    pub fn live(&self) -> impl Iterator<Item = &ResourceState> {
        self.resources.values().filter(|r| !r.id.is_empty())
    }
}

/// One durable change to state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Mutation {
    /// Insert or overwrite a resource's current object (deposed objects are kept).
    Put(ResourceState),
    /// Forget a resource's current object (and the resource, when nothing is deposed).
    Remove {
        /// Concrete address of the resource.
        address: Text,
    },
    /// Move the current object to the deposed list (create-before-destroy).
    Depose {
        /// Concrete address of the resource.
        address: Text,
    },
    /// Forget one deposed object.
    RemoveDeposed {
        /// Concrete address of the resource.
        address: Text,
        /// Cloud id of the deposed object.
        id: Text,
    },
    /// Record whether a resource is protected.
    SetProtect {
        /// Concrete address of the resource.
        address: Text,
        /// The protection to record.
        protect: bool,
    },
    /// Replace the stack's outputs (secrets kept as digests).
    Outputs(BTreeMap<String, crate::value::Value>),
    /// A provider call is about to start.
    Begin(PendingOperation),
    /// The pending operation ended (its result, if any, is in the same batch).
    Settle {
        /// [`PendingOperation::op_id`] of the operation.
        op_id: Text,
    },
}

/// Errors from state stores.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Another run holds the lock.
    #[error("state {location} is locked by {holder}. If that run is gone, release it with `cairn state unlock {}`", holder.id)]
    Locked {
        /// The store, as [`StateStore::location`] describes it.
        location: String,
        /// Who holds the lock.
        holder: Box<LockInfo>,
    },
    /// The stored state cannot be read as cairn state; it is left untouched.
    #[error("state {location} is corrupt and was left untouched: {reason}")]
    Corrupt {
        /// The store, as [`StateStore::location`] describes it.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The stored data is not cairn state (or belongs to another stack); left untouched.
    #[error("state {location} is not this stack's cairn state and was left untouched: {reason}")]
    Foreign {
        /// The store, as [`StateStore::location`] describes it.
        location: String,
        /// Why it is not this stack's.
        reason: String,
    },
    /// Written by a newer cairn.
    #[error("state {location} has format version {found}; this cairn reads up to {supported}. It was left untouched; upgrade cairn")]
    TooNew {
        /// The store, as [`StateStore::location`] describes it.
        location: String,
        /// The format version found.
        found: u32,
        /// The newest format version this cairn reads.
        supported: u32,
    },
    /// The lock file exists but says nothing usable (empty, or not a lock). It is left
    /// alone: only `force_unlock` with the `id` given here removes it.
    #[error("state {location} is locked by a lock file that is {detail}; nothing can tell whether a run still holds it. If no cairn run is using this state, release it with `cairn state unlock {id}`")]
    LockUnreadable {
        /// The store, as [`StateStore::location`] describes it.
        location: String,
        /// How the lock file looks: `empty`, or `not a cairn lock (N bytes)`.
        detail: String,
        /// A name for exactly this lock file's content (`unreadable-<crc32>`).
        id: String,
    },
    /// The state cannot be written by this user; it is refused before any cloud call and
    /// never replaced behind its owner's back.
    #[error("state {location} is read-only here ({reason}); it was left untouched. Run as its owner, or make it writable")]
    ReadOnly {
        /// The store, as [`StateStore::location`] describes it.
        location: String,
        /// Which file cannot be written, and why.
        reason: String,
    },
    /// This run's lock is no longer the one the store holds: its lease ran out (the run was
    /// paused, or could not renew) and another run took the state over, or someone
    /// released it by hand. The write was refused; nothing this run recorded before is
    /// lost, and its pending operations are the new holder's to reconcile.
    #[error("state {location}: this run no longer holds the lock ({reason}); it stopped before its next cloud call, and its pending operations are left for the run that holds the state now")]
    LeaseLost {
        /// The store, as [`StateStore::location`] describes it.
        location: String,
        /// What the store holds instead.
        reason: String,
    },
    /// `unlock` was given a lock id that is not the one held.
    #[error("state {location}: lock id {given} does not match the held lock ({held})")]
    WrongLock {
        /// The store, as [`StateStore::location`] describes it.
        location: String,
        /// The lock id given.
        given: String,
        /// The id of the lock held.
        held: String,
    },
    /// Reading or writing the store failed.
    #[error("state {location}: {context}: {source}")]
    Io {
        /// The store, as [`StateStore::location`] describes it.
        location: String,
        /// What the store was doing, e.g. `reading the journal`.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Backend-specific failure (database or object store).
    #[error("state {location}: {message}")]
    Backend {
        /// The store, as [`StateStore::location`] describes it.
        location: String,
        /// The backend's message.
        message: String,
    },
}

impl StateError {
    /// The refusal of a migration's copy into `location`, which holds `state` already.
    pub(crate) fn holds_a_state(location: String, state: &State) -> Self {
        StateError::Foreign {
            location,
            reason: format!(
                "it holds stack {:?}'s state already (lineage {}, serial {}): a migration \
                 only copies into a place that holds none",
                state.stack, state.lineage, state.serial
            ),
        }
    }
}

/// A place where one stack's state lives.
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// Human description for messages (`local file .cairn/web.state.json`).
    fn location(&self) -> String;
    /// Read without locking (plan, drift, output). `None` when nothing was ever written.
    fn read(&self) -> Result<Option<State>, StateError>;
    /// Take the write lock and load the state under it.
    fn lock(&self, operation: &str) -> Result<Box<dyn StateSession>, StateError>;
    /// Remove a lock left by a run that died. Refused unless `lock_id` matches.
    fn force_unlock(&self, lock_id: &str) -> Result<(), StateError>;
    /// Things the store did that a person should hear about although nothing failed (a
    /// torn journal tail dropped, a dead run's lock taken over). Each is returned once.
    fn take_notices(&self) -> Vec<String> {
        Vec::new()
    }
    /// The past states the store keeps (the newest [`KEEP_HISTORY`], the current one
    /// included once a session that wrote it ended), newest first.
    fn history(&self) -> Result<Vec<HistoryEntry>, StateError>;
    /// The kept state of `serial`; `None` when it is not kept.
    fn state_at(&self, serial: u64) -> Result<Option<State>, StateError>;
}

/// How many past states a store keeps.
pub const KEEP_HISTORY: usize = 30;

/// A past state a store keeps: what `cairn state history` lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The serial of the state kept.
    pub serial: u64,
    /// How many resources it holds.
    pub resources: usize,
    /// How many operations it names as pending (begun, never settled).
    pub pending: usize,
}

impl HistoryEntry {
    /// The entry for `state`.
    pub fn of(state: &State) -> Self {
        HistoryEntry {
            serial: state.serial,
            resources: state.live().count(),
            pending: state.pending.len(),
        }
    }
}

/// A session's lease, shared with the heartbeat that keeps it: renewed from another
/// thread while the session writes.
pub trait Lease: Send + Sync + std::fmt::Debug {
    /// Extend the lease by its term from now. An error when the store no longer holds this
    /// lock ([`StateError::LeaseLost`]): every later write of the session is refused too.
    fn renew(&self) -> Result<(), StateError>;
    /// The lease's term.
    fn term(&self) -> std::time::Duration;
    /// When the lease lapses unless renewed (Unix milliseconds): the holder makes no cloud
    /// call from then on, since another run may take the state over soon after.
    fn expires_ms(&self) -> u64;
}

/// Exclusive, locked access to a store. Dropping it without `unlock` behaves like a crash:
/// everything appended is durable and the lock stays (to be force-unlocked, or taken over
/// once its lease lapses).
///
/// Every write is fenced: a store refuses `init`, `append`, `compact` and `unlock` of a
/// session whose lock it no longer holds ([`StateError::LeaseLost`]), so a run paused past
/// its lease cannot overwrite the state of the run that took over.
pub trait StateSession: Send + std::fmt::Debug {
    /// The state as loaded under the lock, with every append applied.
    fn state(&self) -> &State;
    /// The lock this session holds.
    fn lock_info(&self) -> &LockInfo;
    /// Start from scratch when nothing is stored yet (first apply); refuse a state of
    /// another stack or provider. A state written before plans were sealed gets its plan
    /// key here (durably, before `init` returns).
    fn init(&mut self, stack: &str, provider: &str) -> Result<(), StateError>;
    /// Durably record a batch of mutations, then apply them to `state()`. On error nothing
    /// of the batch may be considered recorded.
    fn append(&mut self, batch: &[Mutation]) -> Result<(), StateError>;
    /// Record a batch after which the session only ends (`unlock`): an apply's last
    /// results. Like `append`, except that a store may write it with the final snapshot
    /// instead of on its own, one write fewer; it is then durable once `unlock` returns,
    /// and a crash before that leaves the operations it settles pending, to be reconciled
    /// by the next run like any other. Nothing may start on it: it holds no pending record
    /// a call waits for.
    fn append_last(&mut self, batch: &[Mutation]) -> Result<(), StateError> {
        self.append(batch)
    }
    /// Fold everything appended into a fresh snapshot (cheap to reload).
    fn compact(&mut self) -> Result<(), StateError>;
    /// Compact and release the lock.
    fn unlock(self: Box<Self>) -> Result<(), StateError>;
    /// The session's lease, for a heartbeat to renew while the session works.
    fn lease(&self) -> Arc<dyn Lease>;
    /// Take `state` whole, lineage and serial included, into a store that holds no state
    /// yet (the copy of a migration). Refused with [`StateError::Foreign`] when it holds
    /// one.
    fn adopt(&mut self, state: &State) -> Result<(), StateError>;
    /// Remove the stored state, its journal and its history, then the lock: the last step
    /// of a migration, once the copy was verified elsewhere.
    fn erase(self: Box<Self>) -> Result<(), StateError>;
}

/// Where an engine keeps a stack's state, as [`Engine::builder`](crate::Engine::builder)
/// takes it: a path is a local file ([`LocalStore`]); a store is used as it is.
pub trait IntoStateStore {
    /// The store this names.
    fn into_state_store(self) -> std::sync::Arc<dyn StateStore>;
}

impl<S: StateStore + 'static> IntoStateStore for S {
    fn into_state_store(self) -> std::sync::Arc<dyn StateStore> {
        std::sync::Arc::new(self)
    }
}

impl IntoStateStore for std::sync::Arc<dyn StateStore> {
    fn into_state_store(self) -> std::sync::Arc<dyn StateStore> {
        self
    }
}

impl IntoStateStore for &str {
    fn into_state_store(self) -> std::sync::Arc<dyn StateStore> {
        LocalStore::new(self).into_state_store()
    }
}

impl IntoStateStore for String {
    fn into_state_store(self) -> std::sync::Arc<dyn StateStore> {
        LocalStore::new(self).into_state_store()
    }
}

impl IntoStateStore for PathBuf {
    fn into_state_store(self) -> std::sync::Arc<dyn StateStore> {
        LocalStore::new(self).into_state_store()
    }
}

impl IntoStateStore for &std::path::Path {
    fn into_state_store(self) -> std::sync::Arc<dyn StateStore> {
        LocalStore::new(self).into_state_store()
    }
}

/// The lease locks are taken with, as the environment sets it: `CAIRN_STATE_LEASE` (a
/// duration such as `60s` or `2m`, at least 100 ms), else [`DEFAULT_LEASE`].
pub fn lease_from_env() -> Result<std::time::Duration, String> {
    match std::env::var("CAIRN_STATE_LEASE") {
        Err(_) => Ok(DEFAULT_LEASE),
        Ok(v) => match humantime::parse_duration(v.trim()) {
            Ok(d) if d >= std::time::Duration::from_millis(100) => Ok(d),
            Ok(_) => Err(format!(
                "CAIRN_STATE_LEASE={v:?} is too short: a lease of at least 100ms, such as 60s"
            )),
            Err(e) => Err(format!(
                "CAIRN_STATE_LEASE={v:?} is not a duration ({e}); give one such as 60s or 2m"
            )),
        },
    }
}

/// Where `cairn` keeps a stack's state by default: `.cairn/<stack>.<provider>.state.json`.
pub fn default_state_path(stack: &str, provider: &str) -> PathBuf {
    PathBuf::from(".cairn").join(format!("{stack}.{provider}.state.json"))
}

pub(crate) fn new_lineage() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    crate::value::hex(&b)
}

/// 32 random bytes, hex: the key that seals saved plans.
pub(crate) fn new_plan_key() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    crate::value::hex(&b)
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

mod resources_as_list {
    use super::ResourceState;
    use crate::value::Text;
    use serde::{Deserializer, Serializer};
    use std::collections::BTreeMap;

    /// Write the resources as a list, in address order.
    pub fn serialize<S: Serializer>(
        m: &BTreeMap<Text, ResourceState>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.values())
    }
    /// Read a list of resources, refusing an address that appears twice.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<Text, ResourceState>, D::Error> {
        // Read straight into the (address, resource) pairs the tree is built from: a list
        // of resources turned into pairs afterwards held both at once, at 100,000
        // resources tens of megabytes while the file's bytes are still in memory.
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = Vec<(Text, ResourceState)>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of resources")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(r) = seq.next_element::<ResourceState>()? {
                    out.push((r.address.clone(), r));
                }
                Ok(out)
            }
        }
        let mut list = d.deserialize_seq(Pairs)?;
        // Snapshots are written sorted; sorting an already sorted list is linear, and
        // `from_iter` bulk-builds the tree from sorted input, in the list's own buffer.
        list.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = list.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(serde::de::Error::custom(format!(
                "resource {} appears twice",
                w[0].0
            )));
        }
        Ok(BTreeMap::from_iter(list))
    }
}

mod pending_as_list {
    use super::PendingOperation;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::collections::BTreeMap;

    /// Write the pending operations as a list, in `op_id` order.
    pub fn serialize<S: Serializer>(
        m: &BTreeMap<crate::value::Text, PendingOperation>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.values())
    }
    /// Read a list of pending operations, keyed by `op_id`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<crate::value::Text, PendingOperation>, D::Error> {
        Ok(Vec::<PendingOperation>::deserialize(d)?
            .into_iter()
            .map(|p| (p.op_id.clone(), p))
            .collect())
    }
}
