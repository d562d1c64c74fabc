//! The snapshot file: one JSON document whose content carries its own checksum.
//!
//! ```text
//! {"cairn_state":2,"checksum":"crc32:1a2b3c4d","state":{...the State...}}
//! ```
//!
//! The checksum covers the exact bytes of the `state` value, so an edit that still parses
//! (one digit of an id changed) is caught as surely as a torn sector: a state that does not
//! match its checksum is refused, never guessed at. The writer streams the state and fills
//! the checksum in afterwards, so a 100,000-resource snapshot is never held twice in memory.
//! Format 1 (a bare `State`, no checksum) is still read; the next write upgrades it.

use crate::state::{State, STATE_FORMAT_VERSION};
use serde::Deserialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;

const PREFIX: &[u8] = br#"{"cairn_state":2,"checksum":"crc32:"#;
const AFTER_CRC: &[u8] = br#"","state":"#;
const CRC_LEN: usize = 8;

/// Why a snapshot cannot be used; the caller adds the location.
#[derive(Debug)]
pub(super) enum SnapshotError {
    /// Damaged, or changed by hand.
    Corrupt(String),
    /// Not cairn state at all.
    Foreign(String),
    /// Written by a newer cairn.
    TooNew(u32),
}

impl SnapshotError {
    /// The store's error for this, at `location`.
    pub(super) fn at(self, location: String) -> super::StateError {
        use super::StateError;
        match self {
            SnapshotError::Corrupt(reason) => StateError::Corrupt { location, reason },
            SnapshotError::Foreign(reason) => StateError::Foreign { location, reason },
            SnapshotError::TooNew(found) => StateError::TooNew {
                location,
                found,
                supported: STATE_FORMAT_VERSION,
            },
        }
    }
}

/// `state` in the current format, in memory (for stores that write whole objects).
pub(super) fn to_bytes(state: &State) -> Vec<u8> {
    let body = serde_json::to_vec(state).unwrap_or_else(|_| b"null".to_vec());
    let crc = crc32fast::hash(&body);
    let mut out = Vec::with_capacity(body.len() + PREFIX.len() + AFTER_CRC.len() + CRC_LEN + 2);
    out.extend_from_slice(PREFIX);
    out.extend_from_slice(format!("{crc:08x}").as_bytes());
    out.extend_from_slice(AFTER_CRC);
    out.extend_from_slice(&body);
    out.extend_from_slice(b"}\n");
    out
}

/// Write `state` to `file` in the current format; returns the bytes written.
pub(super) fn write(file: File, state: &State) -> std::io::Result<(File, u64)> {
    struct Crc<W> {
        inner: W,
        hasher: crc32fast::Hasher,
        len: u64,
    }
    impl<W: Write> Write for Crc<W> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = self.inner.write(buf)?;
            self.hasher.update(&buf[..n]);
            self.len += n as u64;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }
    let mut w = BufWriter::with_capacity(1 << 20, file);
    w.write_all(PREFIX)?;
    w.write_all(&[b'0'; CRC_LEN])?;
    w.write_all(AFTER_CRC)?;
    let mut body = Crc {
        inner: w,
        hasher: crc32fast::Hasher::new(),
        len: 0,
    };
    serde_json::to_writer(&mut body, state)?;
    let crc = body.hasher.finalize();
    let body_len = body.len;
    let mut w = body.inner;
    w.write_all(b"}\n")?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.write_all_at(format!("{crc:08x}").as_bytes(), PREFIX.len() as u64)?;
    let total = (PREFIX.len() + CRC_LEN + AFTER_CRC.len()) as u64 + body_len + 2;
    Ok((file, total))
}

#[derive(Deserialize)]
struct Envelope<'a> {
    cairn_state: u32,
    #[serde(default)]
    checksum: Option<String>,
    #[serde(borrow, default)]
    state: Option<&'a serde_json::value::RawValue>,
}

/// Parse a snapshot, checking its checksum.
pub(super) fn parse(bytes: &[u8]) -> Result<State, SnapshotError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| SnapshotError::Corrupt(format!("not UTF-8 text ({e})")))?;
    // The layout cairn writes, found without a second pass over the file.
    if let Some((crc, body)) = locate(text) {
        return checked(crc, body);
    }
    let envelope: Envelope = match serde_json::from_str(text) {
        Ok(e) => e,
        Err(e) => return Err(diagnose(bytes, e)),
    };
    match envelope.cairn_state {
        v if v > STATE_FORMAT_VERSION => Err(SnapshotError::TooNew(v)),
        1 => {
            if envelope.checksum.is_some() || envelope.state.is_some() {
                return Err(SnapshotError::Corrupt(
                    "it says format 1 but has the checksummed layout of format 2".into(),
                ));
            }
            let mut state: State = serde_json::from_str(text).map_err(|e| {
                SnapshotError::Corrupt(format!("cairn state with invalid content ({e})"))
            })?;
            // Upgraded in memory; written in the current format next time.
            state.cairn_state = STATE_FORMAT_VERSION;
            Ok(state)
        }
        2 => {
            let (Some(checksum), Some(body)) = (envelope.checksum, envelope.state) else {
                return Err(SnapshotError::Corrupt(
                    "format 2 needs both `checksum` and `state`".into(),
                ));
            };
            let crc = checksum.strip_prefix("crc32:").ok_or_else(|| {
                SnapshotError::Corrupt(format!("unknown checksum kind {checksum:?}"))
            })?;
            checked(crc, body.get())
        }
        v => Err(SnapshotError::Corrupt(format!(
            "unknown format version {v}"
        ))),
    }
}

fn locate(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix(std::str::from_utf8(PREFIX).ok()?)?;
    let crc = rest.get(..CRC_LEN)?;
    let rest = rest[CRC_LEN..].strip_prefix(std::str::from_utf8(AFTER_CRC).ok()?)?;
    let body = rest
        .strip_suffix("}\n")
        .or_else(|| rest.strip_suffix('}'))?;
    Some((crc, body))
}

fn checked(crc: &str, body: &str) -> Result<State, SnapshotError> {
    let expected = u32::from_str_radix(crc, 16)
        .ok()
        .filter(|_| crc.len() == CRC_LEN)
        .ok_or_else(|| SnapshotError::Corrupt(format!("checksum {crc:?} is not 8 hex digits")))?;
    let actual = crc32fast::hash(body.as_bytes());
    if actual != expected {
        return Err(SnapshotError::Corrupt(format!(
            "its content does not match its checksum (crc32 {actual:08x}, recorded {expected:08x}): \
             it was changed or damaged after cairn wrote it. Restore it from a backup; cairn does \
             not guess which part is wrong"
        )));
    }
    // The layout cairn writes, read directly; anything else (or anything wrong) by serde.
    let state = match super::scan::read(body) {
        Some(state) => state,
        None => serde_json::from_str(body).map_err(|e| {
            SnapshotError::Corrupt(format!("cairn state with invalid content ({e})"))
        })?,
    };
    if state.cairn_state != STATE_FORMAT_VERSION {
        return Err(SnapshotError::Corrupt(format!(
            "the envelope says format {STATE_FORMAT_VERSION} but the state inside says {}",
            state.cairn_state
        )));
    }
    Ok(state)
}

/// Tell a foreign file (another tool's state, a random JSON) from a damaged cairn file.
fn diagnose(bytes: &[u8], err: serde_json::Error) -> SnapshotError {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Err(_) => SnapshotError::Corrupt(format!("not valid JSON ({err})")),
        Ok(serde_json::Value::Object(o)) => match o.get("cairn_state").and_then(|v| v.as_u64()) {
            Some(v) if v > u64::from(STATE_FORMAT_VERSION) => {
                SnapshotError::TooNew(v.min(u64::from(u32::MAX)) as u32)
            }
            Some(_) => SnapshotError::Corrupt(format!("cairn state with invalid content ({err})")),
            None if o.contains_key("terraform_version") => {
                SnapshotError::Foreign("it is a Terraform state file".into())
            }
            None => SnapshotError::Foreign("it has no `cairn_state` marker".into()),
        },
        Ok(_) => SnapshotError::Foreign("it is JSON but not an object".into()),
    }
}
