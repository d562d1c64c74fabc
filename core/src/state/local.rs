//! The embedded default backend: a state file on local disk.
//!
//! Files, for a state at `P`:
//! - `P`: the snapshot, JSON, replaced atomically (temp file, fsync, rename, fsync dir).
//! - `P.journal`: mutations appended since the snapshot. The first line names the snapshot
//!   it extends (lineage, base serial); every further line is one batch:
//!   `<crc32 hex> <json array>\n`, written with one `write` and made durable with
//!   `fdatasync` before `append` returns. A torn last line (crash mid-write) is dropped as
//!   never acknowledged; a bad line followed by good ones is corruption and refuses the file.
//! - `P.lock`: created with `O_EXCL`, holds [`LockInfo`] as JSON.
//!
//! All files are created 0600: state holds resource ids and configuration of a whole stack.
//! Nothing here ever overwrites a file it could not parse.

use super::*;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const JOURNAL_FORMAT: u32 = 1;

/// Local-file state store.
#[derive(Clone, Debug)]
pub struct LocalStore {
    path: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
struct JournalHeader {
    cairn_journal: u32,
    lineage: String,
    base_serial: u64,
    serial: u64,
}

/// What loading found in the journal, so a session can repair it before appending.
#[derive(Debug, Default)]
struct JournalScan {
    /// Journal exists and extends the snapshot.
    live: bool,
    /// Journal exists but an already-compacted snapshot superseded it.
    stale: bool,
    /// Byte length of the well-formed prefix (a torn tail beyond it is cut off).
    good_len: u64,
    len: u64,
}

impl LocalStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalStore { path: path.into() }
    }

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
        // Validate UTF-8 once for the whole file (fast) rather than string by string.
        let text = std::str::from_utf8(bytes)
            .map_err(|e| self.corrupt(format!("not UTF-8 text ({e})")))?;
        match serde_json::from_str::<State>(text) {
            Ok(s) if s.cairn_state > STATE_FORMAT_VERSION => Err(StateError::TooNew {
                location: self.location(),
                found: s.cairn_state,
                supported: STATE_FORMAT_VERSION,
            }),
            Ok(s) => Ok(s),
            Err(e) => Err(self.diagnose(bytes, e)),
        }
    }

    /// Tell a foreign file (another tool's state, a random JSON) from a damaged cairn file.
    fn diagnose(&self, bytes: &[u8], err: serde_json::Error) -> StateError {
        let foreign = |reason: &str| StateError::Foreign {
            location: self.location(),
            reason: reason.to_string(),
        };
        match serde_json::from_slice::<serde_json::Value>(bytes) {
            Err(_) => self.corrupt(format!("not valid JSON ({err})")),
            Ok(serde_json::Value::Object(o)) => match o.get("cairn_state").and_then(|v| v.as_u64())
            {
                Some(v) if v > u64::from(STATE_FORMAT_VERSION) => StateError::TooNew {
                    location: self.location(),
                    found: v as u32,
                    supported: STATE_FORMAT_VERSION,
                },
                Some(_) => self.corrupt(format!("cairn state with invalid content ({err})")),
                None if o.contains_key("terraform_version") => {
                    foreign("it is a Terraform state file")
                }
                None => foreign("it has no `cairn_state` marker"),
            },
            Ok(_) => foreign("it is JSON but not an object"),
        }
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
        let mut buf = Vec::new();
        match File::open(self.journal_path()) {
            Ok(mut f) => f
                .read_to_end(&mut buf)
                .map_err(|e| self.io("reading the journal", e))?,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(JournalScan::default()),
            Err(e) => return Err(self.io("opening the journal", e)),
        };
        let mut scan = JournalScan {
            len: buf.len() as u64,
            ..JournalScan::default()
        };
        let mut lines = Vec::new();
        let mut start = 0usize;
        while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
            lines.push((start, &buf[start..start + nl]));
            start += nl + 1;
        }
        let torn_tail = start < buf.len();
        let Some(&(_, header_line)) = lines.first() else {
            // Crash while writing the header: nothing was acknowledged.
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
        if header.base_serial < state.serial {
            scan.stale = true;
            return Ok(scan);
        }
        if header.base_serial > state.serial {
            return Err(self.corrupt(format!(
                "journal extends serial {} but the snapshot is at serial {}",
                header.base_serial, state.serial
            )));
        }
        let mut good_len = (lines[0].0 + lines[0].1.len() + 1) as u64;
        let mut batches = Vec::with_capacity(lines.len());
        let mut bad_at: Option<usize> = None;
        for (i, &(offset, line)) in lines.iter().enumerate().skip(1) {
            match decode_batch(line) {
                Some(batch) if bad_at.is_none() => {
                    batches.push(batch);
                    good_len = (offset + line.len() + 1) as u64;
                }
                Some(_) => {
                    return Err(self.corrupt(format!(
                        "journal line {} is damaged but later lines are intact",
                        bad_at.unwrap_or(i) + 1
                    )))
                }
                None => bad_at = bad_at.or(Some(i)),
            }
        }
        // A damaged final complete line can only come from a torn write if nothing follows.
        if bad_at.is_some() && torn_tail {
            return Err(self.corrupt("journal has a damaged line followed by more data"));
        }
        for batch in &batches {
            for m in batch {
                state.apply(m);
            }
        }
        state.serial = header.serial;
        scan.live = true;
        scan.good_len = good_len;
        Ok(scan)
    }

    fn write_snapshot(&self, state: &State) -> Result<u64, StateError> {
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = self.sibling(&format!(".tmp-{}", std::process::id()));
        let file =
            create_private(&tmp, true).map_err(|e| self.io("creating a temporary snapshot", e))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        serde_json::to_writer(&mut w, state)
            .map_err(|e| self.io("writing the snapshot", e.into()))?;
        w.write_all(b"\n")
            .map_err(|e| self.io("writing the snapshot", e))?;
        let file = w
            .into_inner()
            .map_err(|e| self.io("writing the snapshot", e.into_error()))?;
        file.sync_all()
            .map_err(|e| self.io("syncing the snapshot", e))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        drop(file);
        fs::rename(&tmp, &self.path).map_err(|e| self.io("replacing the snapshot", e))?;
        sync_dir(dir).map_err(|e| self.io("syncing the state directory", e))?;
        Ok(len)
    }
}

fn create_private(path: &Path, truncate: bool) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(truncate)
        .mode(0o600)
        .open(path)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

fn encode_batch(batch: &[Mutation]) -> Vec<u8> {
    let json = serde_json::to_vec(batch).unwrap_or_else(|_| b"[]".to_vec());
    let mut line = format!("{:08x} ", crc32fast::hash(&json)).into_bytes();
    line.extend_from_slice(&json);
    line.push(b'\n');
    line
}

fn decode_batch(line: &[u8]) -> Option<Vec<Mutation>> {
    if line.len() < 10 || line[8] != b' ' {
        return None;
    }
    let crc = u32::from_str_radix(std::str::from_utf8(&line[..8]).ok()?, 16).ok()?;
    let json = &line[9..];
    if crc32fast::hash(json) != crc {
        return None;
    }
    serde_json::from_slice(json).ok()
}

impl StateStore for LocalStore {
    fn location(&self) -> String {
        format!("local file {}", self.path.display())
    }

    fn read(&self) -> Result<Option<State>, StateError> {
        Ok(self.load()?.map(|(s, _)| s))
    }

    fn lock(&self, operation: &str) -> Result<Box<dyn StateSession>, StateError> {
        if let Some(dir) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| self.io("creating the state directory", e))?;
        }
        let info = LockInfo::for_operation(operation);
        let lock_path = self.lock_path();
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&lock_path)
        {
            Ok(mut f) => {
                let body = serde_json::to_vec_pretty(&info).unwrap_or_default();
                f.write_all(&body)
                    .and_then(|_| f.sync_all())
                    .map_err(|e| self.io("writing the lock", e))?;
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let holder = fs::read(&lock_path)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<LockInfo>(&b).ok())
                    .unwrap_or_else(|| LockInfo {
                        id: "unknown".into(),
                        who: "an unknown holder".into(),
                        pid: 0,
                        operation: "unknown".into(),
                        created: "unknown".into(),
                        version: "unknown".into(),
                    });
                return Err(StateError::Locked {
                    location: self.location(),
                    holder: Box::new(holder),
                });
            }
            Err(e) => return Err(self.io("creating the lock", e)),
        }
        let loaded = match self.load() {
            Ok(l) => l,
            Err(e) => {
                let _ = fs::remove_file(&lock_path);
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
            state,
            scan,
            exists,
            journal: None,
            snapshot_len: 0,
        }))
    }

    fn force_unlock(&self, lock_id: &str) -> Result<(), StateError> {
        let lock_path = self.lock_path();
        let held = match fs::read(&lock_path) {
            Ok(b) => serde_json::from_slice::<LockInfo>(&b)
                .map(|i| i.id)
                .unwrap_or_else(|_| "unknown".into()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.io("reading the lock", e)),
        };
        if held != lock_id {
            return Err(StateError::WrongLock {
                location: self.location(),
                given: lock_id.to_string(),
                held,
            });
        }
        fs::remove_file(&lock_path).map_err(|e| self.io("removing the lock", e))
    }
}

#[derive(Debug)]
struct LocalSession {
    store: LocalStore,
    info: LockInfo,
    state: State,
    scan: JournalScan,
    /// A snapshot exists on disk.
    exists: bool,
    journal: Option<File>,
    snapshot_len: u64,
}

/// Journals grow until they are this much larger than the snapshot, then get folded in.
const COMPACT_SLACK: u64 = 16 << 20;

impl LocalSession {
    fn open_journal(&mut self) -> Result<&mut File, StateError> {
        if self.journal.is_none() {
            let path = self.store.journal_path();
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf();
            if self.scan.live && !self.scan.stale {
                // Keep the journal, cutting off a torn tail first.
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
                }
                drop(f);
                let f = OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .map_err(|e| self.store.io("opening the journal", e))?;
                self.journal = Some(f);
            } else {
                let mut f = create_private(&path, true)
                    .map_err(|e| self.store.io("creating the journal", e))?;
                let header = JournalHeader {
                    cairn_journal: JOURNAL_FORMAT,
                    lineage: self.state.lineage.clone(),
                    base_serial: self.state.serial,
                    serial: self.state.serial + 1,
                };
                let mut line = serde_json::to_vec(&header).unwrap_or_default();
                line.push(b'\n');
                f.write_all(&line)
                    .and_then(|_| f.sync_data())
                    .map_err(|e| self.store.io("writing the journal", e))?;
                sync_dir(&dir).map_err(|e| self.store.io("syncing the state directory", e))?;
                self.state.serial += 1;
                self.scan = JournalScan {
                    live: true,
                    stale: false,
                    good_len: line.len() as u64,
                    len: line.len() as u64,
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
            return Ok(());
        }
        self.state = State::new(stack, provider);
        self.snapshot_len = self.store.write_snapshot(&self.state)?;
        self.exists = true;
        Ok(())
    }

    fn append(&mut self, batch: &[Mutation]) -> Result<(), StateError> {
        if batch.is_empty() {
            return Ok(());
        }
        if !self.exists {
            return Err(StateError::Backend {
                location: self.store.location(),
                message: "append before init".into(),
            });
        }
        let line = encode_batch(batch);
        let f = self.open_journal()?;
        f.write_all(&line)
            .map_err(|e| self.store.io("appending to the journal", e))?;
        let f = self.journal.as_mut().expect("open");
        f.sync_data()
            .map_err(|e| self.store.io("syncing the journal", e))?;
        self.scan.good_len += line.len() as u64;
        self.scan.len = self.scan.good_len;
        for m in batch {
            self.state.apply(m);
        }
        if self.scan.good_len > self.snapshot_len.max(1 << 20) + COMPACT_SLACK {
            self.compact()?;
        }
        Ok(())
    }

    fn compact(&mut self) -> Result<(), StateError> {
        if !self.exists || (!self.scan.live && !self.scan.stale) {
            return Ok(());
        }
        self.journal = None;
        self.snapshot_len = self.store.write_snapshot(&self.state)?;
        match fs::remove_file(self.store.journal_path()) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(self.store.io("removing the compacted journal", e)),
        }
        self.scan = JournalScan::default();
        Ok(())
    }

    fn unlock(mut self: Box<Self>) -> Result<(), StateError> {
        self.compact()?;
        fs::remove_file(self.store.lock_path()).map_err(|e| self.store.io("removing the lock", e))
    }
}
