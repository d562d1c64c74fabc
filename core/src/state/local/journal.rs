//! The journal's lines and header: `<crc32 hex> <json array>\n`, each checksum chained from
//! the previous line's (see the module docs of `local`), and what a scan of the file found.
//! Kept apart from the store so the format is read in one place.

use crate::state::Mutation;
use serde::{Deserialize, Serialize};

/// Journal format written: 2 chains the line checksums; 1 (unchained) is still read.
pub(super) const JOURNAL_FORMAT: u32 = 2;

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct JournalHeader {
    pub cairn_journal: u32,
    pub lineage: String,
    pub base_serial: u64,
    pub serial: u64,
}

/// What loading found in the journal, so a session can repair it before appending.
#[derive(Debug, Default)]
pub(super) struct JournalScan {
    /// Journal exists and extends the snapshot.
    pub live: bool,
    /// Journal exists but an already-compacted snapshot superseded it.
    pub stale: bool,
    /// Byte length of the well-formed prefix (a torn tail beyond it is cut off).
    pub good_len: u64,
    /// Byte length of what was written: the well-formed prefix and any torn tail.
    pub len: u64,
    /// Size of the file: `len` and the zeroed room after it, which appends overwrite.
    pub room_end: u64,
    /// Format of the journal found (appends go only to the current format).
    pub format: u32,
    /// Checksum of the last line: the next line's chains from it.
    pub chain: u32,
}

/// Room written ahead of the journal's lines, as zeros: an append then overwrites bytes
/// the file already has, and `fdatasync` flushes the data alone. Appending past the end of
/// the file grows it, and every sync must then also commit the filesystem's metadata: on
/// the disks measured, twice the time of each of the N syncs a chain of N resources pays.
/// Grows by doubling, from this, to [`ROOM_AT_MOST`] at a time.
pub(super) const ROOM_AT_LEAST: u64 = 64 << 10;
/// The largest step the room grows by.
pub(super) const ROOM_AT_MOST: u64 = 4 << 20;

/// Where a journal's written bytes end in `buf`: after its last non-zero byte. Lines never
/// hold a zero byte (JSON text and a newline), so the zeros after them are room, whatever
/// their length.
pub(super) fn written_len(buf: &[u8]) -> usize {
    buf.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1)
}

/// The room to add when `need` bytes must fit past `room_end` (the file's size).
fn room_step(room_end: u64, need: u64) -> u64 {
    room_end.clamp(ROOM_AT_LEAST, ROOM_AT_MOST).max(need)
}

/// What room is written from (never copied into memory of its own).
static ZEROS: [u8; ROOM_AT_LEAST as usize] = [0; ROOM_AT_LEAST as usize];

/// Write `line` at `at` in a journal whose file ends at `room_end`; past that, grow the
/// file by the next room too, so the sync that follows commits the growth once and the
/// syncs after it flush data alone. Returns where the file ends now. The caller syncs.
pub(super) fn write_line(
    f: &std::fs::File,
    at: u64,
    line: &[u8],
    room_end: u64,
) -> std::io::Result<u64> {
    use std::os::unix::fs::FileExt;
    f.write_all_at(line, at)?;
    let end = at + line.len() as u64;
    if end <= room_end {
        return Ok(room_end);
    }
    let grown = room_end + room_step(room_end, end - room_end);
    write_zeros(f, end, grown)?;
    Ok(grown)
}

/// Zeros from `from` to `to`: the room after a journal's lines.
pub(super) fn write_zeros(f: &std::fs::File, mut from: u64, to: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    while from < to {
        let n = (to - from).min(ZEROS.len() as u64);
        f.write_all_at(&ZEROS[..n as usize], from)?;
        from += n;
    }
    Ok(())
}

/// A line's checksum: over the previous line's checksum and this line's JSON.
pub(super) fn chained_crc(prev: u32, json: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&prev.to_be_bytes());
    h.update(json);
    h.finalize()
}

/// One journal line for `batch`, chained from `prev`; returns it and its checksum.
pub(super) fn encode_batch(prev: u32, batch: &[Mutation]) -> (Vec<u8>, u32) {
    let json = serde_json::to_vec(batch).unwrap_or_else(|_| b"[]".to_vec());
    let crc = chained_crc(prev, &json);
    let mut line = format!("{crc:08x} ").into_bytes();
    line.extend_from_slice(&json);
    line.push(b'\n');
    (line, crc)
}

/// Decode a line, checking its checksum chained from `prev` (format 2) or alone (format 1).
pub(super) fn decode_batch(line: &[u8], prev: Option<u32>) -> Option<(Vec<Mutation>, u32)> {
    if line.len() < 10 || line[8] != b' ' {
        return None;
    }
    let hex = std::str::from_utf8(&line[..8]).ok()?;
    if !hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let crc = u32::from_str_radix(hex, 16).ok()?;
    let json = &line[9..];
    let expected = match prev {
        Some(p) => chained_crc(p, json),
        None => crc32fast::hash(json),
    };
    if expected != crc {
        return None;
    }
    Some((serde_json::from_slice(json).ok()?, crc))
}
