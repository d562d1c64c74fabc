//! Who holds a lock, and for how long: the lease and its fencing generation.

use super::{new_lineage, now_ms, process};
use serde::{Deserialize, Serialize};

/// Who holds a lock, so a second writer gets an actionable message, and so a lock left by a
/// process that died can be told from one held by a live run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Random id of this lock: what `cairn state unlock` ([`StateStore::force_unlock`](super::StateStore::force_unlock))
    /// takes.
    pub id: String,
    /// `user@host`.
    pub who: String,
    /// Process id of the holder.
    pub pid: u32,
    /// What the holder is doing (`apply`, `destroy`, `plan`, `import`).
    pub operation: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// Version of the cairn that took it.
    pub version: String,
    /// Host name of the holder (empty in locks written before it was recorded).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// The holder machine's boot id: a lock from before a reboot has no live holder.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub boot_id: String,
    /// The holder process's start time (clock ticks since boot): a PID reused by another
    /// process is not the holder.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub process_start: u64,
    /// How long the lock stands without renewal, in milliseconds: the lease. Zero in locks
    /// written before leases, which stand until their holder provably died.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lease_ms: u64,
    /// When the holder last renewed its lease (Unix milliseconds).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub renewed_ms: u64,
    /// The fencing token: one more than the lock it replaced, so it only grows while a
    /// lock passes from run to run. A write carries it, and a store refuses a write of
    /// any other lock than the one it holds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: u64,
}

/// How long a lease outlives its last renewal before another run may take it over, beyond
/// its term: room for clocks that disagree a little between machines.
pub const LEASE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The lease a lock is taken with unless the store is told otherwise (60 s): renewed a
/// third of the way through, so a run survives two missed beats.
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl LockInfo {
    /// A new lock for `operation`, held by this process: user, host, PID, boot id, process
    /// start time and a fresh id.
    pub fn for_operation(operation: &str) -> Self {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".into());
        let host = process::host_name();
        let pid = std::process::id();
        LockInfo {
            id: new_lineage(),
            who: format!("{user}@{host}"),
            pid,
            operation: operation.to_string(),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            boot_id: process::boot_id().unwrap_or_default(),
            process_start: process::start_ticks(pid).unwrap_or(0),
            host,
            lease_ms: 0,
            renewed_ms: 0,
            generation: 0,
        }
    }

    /// Why the holder is certainly gone, when it provably is: it ran on this host and its
    /// process no longer exists (or the PID now belongs to another process, or the machine
    /// rebooted since). `None` when it may be alive, or runs elsewhere.
    pub fn holder_is_gone(&self) -> Option<String> {
        process::gone(self)
    }

    /// Taken with a lease of `lease` (renewed now) and the fencing token that follows
    /// `previous`'s.
    pub fn leased(mut self, lease: std::time::Duration, previous: Option<&LockInfo>) -> Self {
        self.lease_ms = lease.as_millis().max(1) as u64;
        self.renewed_ms = now_ms();
        self.generation = previous.map_or(0, |p| p.generation) + 1;
        self
    }

    /// Why another run may take this lock over now, when it may: its lease ran out
    /// (beyond [`LEASE_GRACE`]) without a renewal, or its holder provably died.
    pub fn may_be_taken_over(&self) -> Option<String> {
        if let Some(why) = self.holder_is_gone() {
            return Some(why);
        }
        if self.lease_ms == 0 {
            return None;
        }
        let deadline = self.renewed_ms + self.lease_ms + LEASE_GRACE.as_millis() as u64;
        let now = now_ms();
        (now > deadline).then(|| {
            format!(
                "its lease of {:.0}s was last renewed {:.1}s ago",
                self.lease_ms as f64 / 1000.0,
                (now - self.renewed_ms) as f64 / 1000.0
            )
        })
    }
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (pid {}, `{}`) since {}, lock id {}",
            self.who, self.pid, self.operation, self.created, self.id
        )
    }
}
