//! The embedded default backend: a state file on local disk.
//!
//! Files, for a state at `P`:
//! - `P`: the snapshot, JSON with a checksum over its content (`state/snapshot.rs`), replaced
//!   atomically (temp file, fsync, rename, fsync dir) with the mode and owner it had.
//! - `P.journal`: mutations appended since the snapshot. The first line names the snapshot
//!   it extends (lineage, base serial); every further line is one batch:
//!   `<crc32 hex> <json array>\n`, written with one `write` and made durable with
//!   `fdatasync` before `append` returns, into zeroed room written ahead of it (so a sync
//!   flushes data, not the file's growth: see `journal::ROOM_AT_LEAST`; a reader takes the
//!   zeros after the last line as room). Each checksum covers the previous line's checksum
//!   too (a chain from the header), so a line lost, repeated or moved is caught like a
//!   damaged one. A torn last line (no newline: a crash mid-write, never acknowledged) is
//!   dropped with a notice; a complete line that fails its checksum was damaged after it was
//!   written, and refuses the file with its offset.
//! - `P.lock`: the [`LockInfo`] of the run holding it (`lock.rs`: recoverable locks), with
//!   its lease, renewed by the run's heartbeat. Every write of a session is fenced: under a
//!   shared lock of the directory (lock decisions take it exclusively), it first checks
//!   that the lock file is still the session's (its inode, size and time, else its id), so
//!   a run paused past its lease and taken over can never write again.
//!
//! New files are created 0600: state holds resource ids and configuration of a whole stack.
//! Nothing here ever overwrites a file it could not parse, and a state its user made
//! read-only is refused, not replaced.

mod history;
mod journal;
mod lease;
mod lock;

use super::snapshot;
use super::*;
use journal::{
    decode_batch, encode_batch, write_line, write_zeros, written_len, JournalHeader, JournalScan,
    JOURNAL_FORMAT, ROOM_AT_LEAST,
};
use lease::LocalLease;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Local-file state store.
#[derive(Clone, Debug)]
pub struct LocalStore {
    path: PathBuf,
    notices: Arc<Mutex<Vec<String>>>,
    lease: std::time::Duration,
}

impl LocalStore {
    /// A store for the state file at `path`, with `<path>.journal` and `<path>.lock`
    /// beside it. Nothing is read or created until the store is used.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalStore {
            path: path.into(),
            notices: Arc::default(),
            lease: DEFAULT_LEASE,
        }
    }

    /// Take locks with a lease of `lease` ([`DEFAULT_LEASE`] unless told): a lock not
    /// renewed for that long (and [`LEASE_GRACE`]) is another run's to take over.
    pub fn with_lease(mut self, lease: std::time::Duration) -> Self {
        self.lease = lease.max(std::time::Duration::from_millis(1));
        self
    }

    /// Path of the snapshot file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(suffix);
        PathBuf::from(p)
    }

    fn journal_path(&self) -> PathBuf {
        self.sibling(".journal")
    }

    fn lock_path(&self) -> PathBuf {
        self.sibling(".lock")
    }

    fn dir(&self) -> &Path {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    fn notice(&self, message: String) {
        if let Ok(mut n) = self.notices.lock() {
            n.push(message);
        }
    }

    fn io(&self, context: &str, source: std::io::Error) -> StateError {
        StateError::Io {
            location: self.location(),
            context: context.to_string(),
            source,
        }
    }

    fn corrupt(&self, reason: impl Into<String>) -> StateError {
        StateError::Corrupt {
            location: self.location(),
            reason: reason.into(),
        }
    }

    fn parse_snapshot(&self, bytes: &[u8]) -> Result<State, StateError> {
        snapshot::parse(bytes).map_err(|e| e.at(self.location()))
    }

    /// Load snapshot + journal. `Ok(None)` when nothing exists.
    fn load(&self) -> Result<Option<(State, JournalScan)>, StateError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                if self.journal_path().exists() {
                    return Err(
                        self.corrupt("a journal exists but the snapshot it extends is missing")
                    );
                }
                return Ok(None);
            }
            Err(e) => return Err(self.io("reading", e)),
        };
        let mut state = self.parse_snapshot(&bytes)?;
        let scan = self.replay_journal(&mut state)?;
        Ok(Some((state, scan)))
    }

    fn replay_journal(&self, state: &mut State) -> Result<JournalScan, StateError> {
        let path = self.journal_path();
        let mut buf = Vec::new();
        match File::open(&path) {
            Ok(mut f) => f
                .read_to_end(&mut buf)
                .map_err(|e| self.io("reading the journal", e))?,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(JournalScan::default()),
            Err(e) => return Err(self.io("opening the journal", e)),
        };
        // The zeroed room after the last line is not part of the journal.
        let room_end = buf.len() as u64;
        buf.truncate(written_len(&buf));
        let mut scan = JournalScan {
            len: buf.len() as u64,
            room_end,
            ..JournalScan::default()
        };
        let mut lines = Vec::new();
        let mut start = 0usize;
        while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
            lines.push((start, &buf[start..start + nl]));
            start += nl + 1;
        }
        let torn = buf.len() - start;
        let Some(&(_, header_line)) = lines.first() else {
            // Crash while writing the header: nothing was acknowledged.
            if torn > 0 {
                self.notice(format!(
                    "{}: dropped a journal whose header was never completed ({torn} bytes): a \
                     run stopped while starting it, before recording anything",
                    self.location()
                ));
            }
            scan.stale = true;
            return Ok(scan);
        };
        let header: JournalHeader = serde_json::from_slice(header_line)
            .map_err(|e| self.corrupt(format!("journal header unreadable: {e}")))?;
        if header.cairn_journal > JOURNAL_FORMAT {
            return Err(StateError::TooNew {
                location: self.location(),
                found: header.cairn_journal,
                supported: JOURNAL_FORMAT,
            });
        }
        if header.lineage != state.lineage {
            return Err(StateError::Foreign {
                location: self.location(),
                reason: format!(
                    "journal lineage {} differs from the snapshot's {}",
                    header.lineage, state.lineage
                ),
            });
        }
        if header.base_serial > state.serial {
            return Err(self.corrupt(format!(
                "journal extends serial {} but the snapshot is at serial {}",
                header.base_serial, state.serial
            )));
        }
        let chained = header.cairn_journal >= 2;
        let mut chain = crc32fast::hash(header_line);
        let mut batches = Vec::with_capacity(lines.len());
        for (i, &(offset, line)) in lines.iter().enumerate().skip(1) {
            // A complete line was acknowledged once: if it no longer checks, it was
            // damaged since, and what it recorded may matter. Refuse, and say how to go on.
            let decoded = decode_batch(line, chained.then_some(chain));
            let (batch, crc) = decoded.ok_or_else(|| {
                self.corrupt(format!(
                    "journal line {} (byte offset {offset}) fails its checksum: it was damaged \
                     after it was written. Everything before that offset is intact. Keep a copy \
                     of {path} and of the snapshot; to go on from the intact part, truncate the \
                     journal there (`truncate -s {offset} {path}`). The records from that line \
                     on are then lost: objects they created are unknown to state (find them by \
                     their cairn:stack tag and `cairn import` them)",
                    i + 1,
                    path = path.display()
                ))
            })?;
            chain = crc;
            batches.push(batch);
        }
        // A journal a compaction already folded into the snapshot (it died before removing
        // it). Decided only now that its lines checked against its header: a damaged header
        // claiming an old serial must be refused, not taken as stale and its records
        // dropped without a word.
        if header.base_serial < state.serial {
            scan.stale = true;
            return Ok(scan);
        }
        if torn > 0 {
            self.notice(format!(
                "{}: dropped an incomplete last journal record ({torn} bytes at offset {start}): \
                 a write cut short by a crash, never acknowledged, so nothing recorded is lost",
                self.location()
            ));
        }
        for batch in &batches {
            for m in batch {
                state.apply(m);
            }
        }
        state.serial = header.serial;
        scan.live = true;
        scan.good_len = start as u64;
        scan.format = header.cairn_journal;
        scan.chain = chain;
        Ok(scan)
    }

    /// The snapshot's current mode and owner, which a rewrite keeps.
    fn current_mode(&self) -> Option<fs::Metadata> {
        fs::metadata(&self.path).ok()
    }

    fn write_snapshot(&self, state: &State) -> Result<u64, StateError> {
        let dir = self.dir();
        let old = self.current_mode();
        let tmp = self.sibling(&format!(".tmp-{}", std::process::id()));
        let file = create_private(&tmp, true, old.as_ref())
            .map_err(|e| self.io("creating a temporary snapshot", e))?;
        let (file, len) =
            snapshot::write(file, state).map_err(|e| self.io("writing the snapshot", e))?;
        file.sync_all()
            .map_err(|e| self.io("syncing the snapshot", e))?;
        drop(file);
        fs::rename(&tmp, &self.path).map_err(|e| self.io("replacing the snapshot", e))?;
        sync_dir(dir).map_err(|e| self.io("syncing the state directory", e))?;
        Ok(len)
    }

    /// Refuse a state this user may not (or was asked not to) change: replacing it by
    /// rename would succeed in a writable directory, behind its owner's back.
    fn check_writable(&self) -> Result<(), StateError> {
        for path in [self.path.clone(), self.journal_path()] {
            let Ok(meta) = fs::metadata(&path) else {
                continue;
            };
            let mode = meta.permissions().mode() & 0o7777;
            let refuse = |reason: String| StateError::ReadOnly {
                location: self.location(),
                reason,
            };
            if let Err(e) = OpenOptions::new().write(true).open(&path) {
                return Err(refuse(format!(
                    "{} cannot be opened for writing: {e}",
                    path.display()
                )));
            }
            // Root may open anything: a mode that lets nobody write is still a request.
            if mode & 0o222 == 0 {
                return Err(refuse(format!(
                    "{} has mode {mode:04o}: nobody may write it",
                    path.display()
                )));
            }
        }
        Ok(())
    }
}

/// Create `path` for writing: 0600, or the mode (and, where allowed, owner) of `like`.
fn create_private(
    path: &Path,
    truncate: bool,
    like: Option<&fs::Metadata>,
) -> std::io::Result<File> {
    let mode = like.map_or(0o600, |m| m.permissions().mode() & 0o777);
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(truncate)
        .mode(mode)
        .open(path)?;
    if let Some(m) = like {
        // The umask may have taken bits away; a file keeps the mode it had.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        let mine = f.metadata()?;
        if mine.uid() != m.uid() || mine.gid() != m.gid() {
            // Only possible with the right privileges; otherwise the file is ours now.
            let _ = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()));
        }
    }
    Ok(f)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl StateStore for LocalStore {
    fn location(&self) -> String {
        format!("local file {}", self.path.display())
    }

    fn read(&self) -> Result<Option<State>, StateError> {
        Ok(self.load()?.map(|(s, _)| s))
    }

    fn lock(&self, operation: &str) -> Result<Box<dyn StateSession>, StateError> {
        let dir = self.dir().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| self.io("creating the state directory", e))?;
        let lock_path = self.lock_path();
        let info;
        let lease;
        {
            let _guard =
                lock::guard(&dir).map_err(|e| self.io("locking the state directory", e))?;
            self.check_writable()?;
            let previous =
                match lock::read(&lock_path).map_err(|e| self.io("reading the lock", e))? {
                    lock::Holder::Free => None,
                    lock::Holder::Held(holder) => match holder.may_be_taken_over() {
                        Some(why) => {
                            self.notice(format!(
                            "{}: took over the lock of {holder}: {why}. Its pending operations \
                             are reconciled like after any crash",
                            self.location()
                        ));
                            Some(holder)
                        }
                        None => {
                            return Err(StateError::Locked {
                                location: self.location(),
                                holder,
                            })
                        }
                    },
                    lock::Holder::Unreadable { detail, id } => {
                        return Err(StateError::LockUnreadable {
                            location: self.location(),
                            detail,
                            id,
                        })
                    }
                };
            info = LockInfo::for_operation(operation).leased(self.lease, previous.as_deref());
            lock::write(&lock_path, &dir, &info).map_err(|e| self.io("writing the lock", e))?;
            let stamp = lock::stamp(&lock_path).map_err(|e| self.io("reading the lock back", e))?;
            lease = Arc::new(LocalLease {
                store: self.clone(),
                expires_ms: std::sync::atomic::AtomicU64::new(info.renewed_ms + info.lease_ms),
                info: Mutex::new(info.clone()),
                seen: Mutex::new(stamp),
                lost: Mutex::new(None),
            });
        }
        let loaded = match self.load() {
            Ok(l) => l,
            Err(e) => {
                let _ = self.release(&info.id);
                return Err(e);
            }
        };
        let (state, scan, exists) = match loaded {
            Some((s, scan)) => (s, scan, true),
            None => (
                State {
                    lineage: String::new(),
                    ..State::new("", "")
                },
                JournalScan::default(),
                false,
            ),
        };
        Ok(Box::new(LocalSession {
            store: self.clone(),
            info,
            lease,
            state,
            scan,
            exists,
            journal: None,
            snapshot_len: 0,
            rewrite: false,
        }))
    }

    fn force_unlock(&self, lock_id: &str) -> Result<(), StateError> {
        let _guard =
            lock::guard(self.dir()).map_err(|e| self.io("locking the state directory", e))?;
        let held =
            match lock::read(&self.lock_path()).map_err(|e| self.io("reading the lock", e))? {
                lock::Holder::Free => return Ok(()),
                lock::Holder::Held(h) => h.id,
                lock::Holder::Unreadable { id, .. } => id,
            };
        if held != lock_id {
            return Err(StateError::WrongLock {
                location: self.location(),
                given: lock_id.to_string(),
                held,
            });
        }
        fs::remove_file(self.lock_path()).map_err(|e| self.io("removing the lock", e))
    }

    fn take_notices(&self) -> Vec<String> {
        self.notices
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default()
    }

    fn history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        self.kept_history()
    }

    fn state_at(&self, serial: u64) -> Result<Option<State>, StateError> {
        self.kept_state(serial)
    }
}

impl LocalStore {
    /// Remove the lock if it is still `id`'s (never someone else's).
    fn release(&self, id: &str) -> Result<(), StateError> {
        let _guard =
            lock::guard(self.dir()).map_err(|e| self.io("locking the state directory", e))?;
        match lock::read(&self.lock_path()).map_err(|e| self.io("reading the lock", e))? {
            lock::Holder::Held(h) if h.id == id => {
                fs::remove_file(self.lock_path()).map_err(|e| self.io("removing the lock", e))
            }
            _ => Ok(()),
        }
    }
}

#[derive(Debug)]
struct LocalSession {
    store: LocalStore,
    info: LockInfo,
    lease: Arc<LocalLease>,
    state: State,
    scan: JournalScan,
    /// A snapshot exists on disk.
    exists: bool,
    journal: Option<File>,
    snapshot_len: u64,
    /// The snapshot must be rewritten at the next compaction even without a journal (an
    /// older format upgraded in memory).
    rewrite: bool,
}

/// Journals grow until they are this much larger than the snapshot, then get folded in.
const COMPACT_SLACK: u64 = 16 << 20;

impl LocalSession {
    fn open_journal(&mut self) -> Result<&mut File, StateError> {
        if self.journal.is_none() {
            let path = self.store.journal_path();
            if self.scan.live && !self.scan.stale && self.scan.format < JOURNAL_FORMAT {
                // Written by an older cairn: fold it in, then journal in today's format.
                self.compact_unfenced()?;
            }
            if self.scan.live && !self.scan.stale {
                // Keep the journal, cutting off a torn tail first (its room goes with it,
                // and is written again by the next append).
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(|e| self.store.io("opening the journal", e))?;
                if self.scan.good_len < self.scan.len {
                    f.set_len(self.scan.good_len)
                        .map_err(|e| self.store.io("truncating a torn journal", e))?;
                    f.sync_all()
                        .map_err(|e| self.store.io("syncing the journal", e))?;
                    self.scan.len = self.scan.good_len;
                    self.scan.room_end = self.scan.good_len;
                }
                self.journal = Some(f);
            } else {
                let like = self.store.current_mode();
                let mut f = create_private(&path, true, like.as_ref())
                    .map_err(|e| self.store.io("creating the journal", e))?;
                let header = JournalHeader {
                    cairn_journal: JOURNAL_FORMAT,
                    lineage: self.state.lineage.clone(),
                    base_serial: self.state.serial,
                    serial: self.state.serial + 1,
                };
                let mut line = serde_json::to_vec(&header).unwrap_or_default();
                line.push(b'\n');
                // The header and the first room, made durable together.
                let room_end = line.len() as u64 + ROOM_AT_LEAST;
                f.write_all(&line)
                    .and_then(|_| write_zeros(&f, line.len() as u64, room_end))
                    .and_then(|_| f.sync_data())
                    .map_err(|e| self.store.io("writing the journal", e))?;
                sync_dir(self.store.dir())
                    .map_err(|e| self.store.io("syncing the state directory", e))?;
                self.state.serial += 1;
                self.scan = JournalScan {
                    live: true,
                    stale: false,
                    good_len: line.len() as u64,
                    len: line.len() as u64,
                    room_end,
                    format: JOURNAL_FORMAT,
                    chain: crc32fast::hash(&line[..line.len() - 1]),
                };
                self.journal = Some(f);
            }
        }
        Ok(self.journal.as_mut().expect("journal opened above"))
    }
}

impl StateSession for LocalSession {
    fn state(&self) -> &State {
        &self.state
    }

    fn lock_info(&self) -> &LockInfo {
        &self.info
    }

    fn init(&mut self, stack: &str, provider: &str) -> Result<(), StateError> {
        let lease = self.lease.clone();
        lease.fenced(|| self.init_unfenced(stack, provider))
    }

    fn append(&mut self, batch: &[Mutation]) -> Result<(), StateError> {
        if batch.is_empty() {
            return Ok(());
        }
        let lease = self.lease.clone();
        lease.fenced(|| self.append_unfenced(batch))
    }

    fn compact(&mut self) -> Result<(), StateError> {
        let lease = self.lease.clone();
        lease.fenced(|| self.compact_unfenced())
    }

    fn unlock(mut self: Box<Self>) -> Result<(), StateError> {
        self.compact()?;
        self.store.release(&self.info.id)
    }

    fn lease(&self) -> Arc<dyn Lease> {
        self.lease.clone()
    }

    fn adopt(&mut self, state: &State) -> Result<(), StateError> {
        let lease = self.lease.clone();
        lease.fenced(|| {
            if self.exists {
                return Err(StateError::holds_a_state(
                    self.store.location(),
                    &self.state,
                ));
            }
            self.store.check_writable()?;
            self.state = state.clone();
            self.snapshot_len = self.store.write_snapshot(&self.state)?;
            self.exists = true;
            self.store.keep_history(self.state.serial);
            Ok(())
        })
    }

    fn erase(self: Box<Self>) -> Result<(), StateError> {
        let lease = self.lease.clone();
        lease.fenced(|| {
            let gone = |r: std::io::Result<()>| match r {
                Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
            gone(fs::remove_dir_all(self.store.history_dir()))
                .map_err(|e| self.store.io("removing the history", e))?;
            gone(fs::remove_file(self.store.journal_path()))
                .map_err(|e| self.store.io("removing the journal", e))?;
            gone(fs::remove_file(&self.store.path))
                .map_err(|e| self.store.io("removing the snapshot", e))?;
            sync_dir(self.store.dir()).map_err(|e| self.store.io("syncing the state directory", e))
        })?;
        self.store.release(&self.info.id)
    }
}

impl LocalSession {
    fn init_unfenced(&mut self, stack: &str, provider: &str) -> Result<(), StateError> {
        if self.exists {
            if self.state.stack != stack || self.state.provider != provider {
                return Err(StateError::Foreign {
                    location: self.store.location(),
                    reason: format!(
                        "it belongs to stack {:?} on {:?}, not {stack:?} on {provider:?}",
                        self.state.stack, self.state.provider
                    ),
                });
            }
            if self.state.plan_key.is_empty() {
                // Written before plans were sealed: give it its key now, durably.
                self.state.plan_key = new_plan_key();
                self.rewrite = true;
                self.compact_unfenced()?;
            }
            return Ok(());
        }
        self.state = State::new(stack, provider);
        self.snapshot_len = self.store.write_snapshot(&self.state)?;
        self.exists = true;
        Ok(())
    }

    fn append_unfenced(&mut self, batch: &[Mutation]) -> Result<(), StateError> {
        if !self.exists {
            return Err(StateError::Backend {
                location: self.store.location(),
                message: "append before init".into(),
            });
        }
        self.open_journal()?;
        let (line, crc) = encode_batch(self.scan.chain, batch);
        let at = self.scan.good_len;
        let f = self.journal.as_ref().expect("opened above");
        let room_end = write_line(f, at, &line, self.scan.room_end)
            .map_err(|e| self.store.io("appending to the journal", e))?;
        f.sync_data()
            .map_err(|e| self.store.io("syncing the journal", e))?;
        self.scan.room_end = room_end;
        self.scan.good_len = at + line.len() as u64;
        self.scan.len = self.scan.good_len;
        self.scan.chain = crc;
        for m in batch {
            self.state.apply(m);
        }
        if self.scan.good_len > self.snapshot_len.max(1 << 20) + COMPACT_SLACK {
            self.compact_unfenced()?;
        }
        Ok(())
    }

    fn compact_unfenced(&mut self) -> Result<(), StateError> {
        if !self.exists || (!self.scan.live && !self.scan.stale && !self.rewrite) {
            return Ok(());
        }
        self.journal = None;
        self.snapshot_len = self.store.write_snapshot(&self.state)?;
        self.store.keep_history(self.state.serial);
        self.rewrite = false;
        match fs::remove_file(self.store.journal_path()) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(self.store.io("removing the compacted journal", e)),
        }
        self.scan = JournalScan::default();
        Ok(())
    }
}
