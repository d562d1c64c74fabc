//! The lock file `P.lock` and the rules that make it recoverable.
//!
//! Every look at the lock happens under an advisory `flock` on the state directory, so two
//! runs can never both decide a lock is free (or both take over the same dead one). The lock
//! file is written to a temporary name and renamed into place: it is never seen empty or
//! half-written by cairn's own doing. A lock whose holder provably died (same host, its
//! process gone, its PID reused, or the host rebooted) is taken over with a notice naming
//! it; a lock whose holder may be alive stands until `cairn state unlock ID`; a lock file
//! that is empty or not a lock is reported as such, never silently removed. A lock whose
//! lease ran out without a renewal is taken over too, wherever its holder ran.

use crate::state::LockInfo;
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// What the lock file holds.
pub(super) enum Holder {
    Free,
    Held(Box<LockInfo>),
    /// Exists but is not a readable lock: how it looks, and the id that releases it.
    Unreadable {
        detail: String,
        id: String,
    },
}

/// Exclusive access to the state directory's lock decisions, released on drop.
pub(super) struct DirGuard(#[allow(dead_code)] File);

pub(super) fn guard(dir: &Path) -> std::io::Result<DirGuard> {
    let f = File::open(dir)?;
    f.lock()?;
    Ok(DirGuard(f))
}

/// Shared access: writes of the lock's holder (many may run at once, none while a lock
/// is decided on), so a check that the lock is still the writer's holds until it wrote.
pub(super) fn guard_shared(dir: &Path) -> std::io::Result<DirGuard> {
    let f = File::open(dir)?;
    f.lock_shared()?;
    Ok(DirGuard(f))
}

/// What identifies the lock file's current content without reading it: a rename puts a
/// new inode in place, and every write of cairn's is a rename.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

/// The lock file's stamp, or None when there is none.
pub(super) fn stamp(path: &Path) -> std::io::Result<Option<Stamp>> {
    use std::os::unix::fs::MetadataExt;
    match fs::metadata(path) {
        Ok(m) => Ok(Some(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        })),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) fn read(path: &Path) -> std::io::Result<Holder> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Holder::Free),
        Err(e) => return Err(e),
    };
    if let Ok(info) = serde_json::from_slice::<LockInfo>(&bytes) {
        if !info.id.is_empty() {
            return Ok(Holder::Held(Box::new(info)));
        }
    }
    let detail = if bytes.iter().all(u8::is_ascii_whitespace) {
        "empty".to_string()
    } else {
        format!("not a cairn lock ({} bytes)", bytes.len())
    };
    Ok(Holder::Unreadable {
        detail,
        id: format!("unreadable-{:08x}", crc32fast::hash(&bytes)),
    })
}

/// Write `info` as the lock, atomically (temporary file, fsync, rename, fsync directory).
pub(super) fn write(path: &Path, dir: &Path, info: &LockInfo) -> std::io::Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp-{}", path.display(), std::process::id()));
    let mut f = super::create_private(&tmp, true, None)?;
    let body = serde_json::to_vec_pretty(info).map_err(std::io::Error::other)?;
    f.write_all(&body)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    super::sync_dir(dir)
}
