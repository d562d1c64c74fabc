//! The objects a remote store keeps, and their encodings.
//!
//! ```text
//! lock                      {"cairn_lock":1,"generation":G,"holder":{LockInfo}|null,
//!                            "tail":[{"at":[G,N],"lineage":…,"serial":S,"crc":"…","lz4":"<base64 of LZ4(batch JSON)>"}…]}
//! state                     {"cairn_remote":1,"generation":G,"seq":N}\n<snapshot>
//! journal/<G:020>.<N:020>   {"cairn_journal":3,"lineage":…,"serial":S,"crc":"…"}\n<batch JSON>
//! history/<S:020>           <snapshot>  (the state as it was at serial S)
//! ```
//!
//! `<snapshot>` is the local snapshot format (`state/snapshot.rs`), checksummed. The
//! snapshot's header says which journal entries it already holds: every entry up to
//! `(G, N)`. Entries after it, of the same generation and numbered on from `N`, extend it;
//! entries of an older generation are left over from a run whose lock was taken over (or
//! from a compaction that stopped before removing them) and are never read. Zero-padded
//! numbers make the names sort as the entries were written.
//!
//! Where entries are kept depends on the backend. One that checks the lock in the same
//! step as a write (PostgreSQL) keeps each as an object of its own under `journal/`. An
//! object store cannot, so there entries ride in the lock object's `tail`: an append is one
//! conditional write of the lock, which both fences it (a run whose lock was taken over
//! fails the condition) and renews the lease, instead of a write and a read of the lock.
//! The tail holds the entries after the snapshot's position (and, until the next write of
//! the lock, some the snapshot already holds, which readers skip); a compaction empties it.

use super::super::snapshot;
use super::super::{LockInfo, Mutation, State, StateError};
use serde::{Deserialize, Serialize};

/// The lock object: who holds the state, and the fencing generation, which outlives every
/// lock (a released slot keeps it, so the next lock's is greater still).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Slot {
    pub cairn_lock: u32,
    pub generation: u64,
    pub holder: Option<LockInfo>,
    /// Journal entries kept in the lock object (object stores), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tail: Vec<TailEntry>,
}

/// A journal entry kept in the lock object. The batch is its JSON text, LZ4-compressed
/// (block format, its size first) and in base64 (`lz4`): every append rewrites the whole
/// tail, so the tail's bytes are most of what an append costs, and a batch's JSON (keys
/// and values repeated resource after resource) packs about seven to one. Entries written
/// before that carry the text itself as a JSON string (`batch`), and are read as ever.
/// Either way the entry is a string, so a tool that rewrites the lock object in another
/// layout (a hand edit of the holder, `jq`) keeps it exactly and its checksum (of the
/// batch's JSON text) holds; the string stays as written (`RawValue`), so a rewrite of the
/// lock object by cairn never encodes it again.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct TailEntry {
    pub at: Position,
    pub lineage: String,
    pub serial: u64,
    pub crc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lz4: Option<Box<serde_json::value::RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<Box<serde_json::value::RawValue>>,
}

/// The most a compressed batch may claim to unpack to, per byte packed: LZ4 cannot do
/// better than about 255 to one, so a larger claim is damage, refused before it is
/// allocated.
const LZ4_MOST_PER_BYTE: usize = 256;

impl TailEntry {
    pub fn new(at: Position, lineage: &str, serial: u64, batch: &[Mutation]) -> Self {
        use base64::Engine as _;
        let text = serde_json::to_string(batch).unwrap_or_else(|_| "[]".into());
        let crc = format!("{:08x}", crc32fast::hash(text.as_bytes()));
        let packed = lz4_flex::block::compress_prepend_size(text.as_bytes());
        // Base64 needs no escaping: the quoted text is a JSON string as it stands.
        let literal = format!(
            "\"{}\"",
            base64::engine::general_purpose::STANDARD.encode(packed)
        );
        let lz4 = serde_json::value::RawValue::from_string(literal)
            .expect("a quoted base64 text is a JSON string");
        TailEntry {
            at,
            lineage: lineage.to_string(),
            serial,
            crc,
            lz4: Some(lz4),
            batch: None,
        }
    }

    /// The batch's JSON text, as written.
    fn text(&self) -> Result<String, String> {
        use base64::Engine as _;
        match (&self.lz4, &self.batch) {
            (Some(lz4), _) => {
                let encoded: String = serde_json::from_str(lz4.get())
                    .map_err(|e| format!("its batch is not the base64 string cairn writes: {e}"))?;
                let packed = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|e| format!("its batch is not base64 (damaged): {e}"))?;
                let claimed = packed
                    .get(..4)
                    .map(|n| u32::from_le_bytes([n[0], n[1], n[2], n[3]]) as usize)
                    .ok_or("its batch is cut short (damaged)")?;
                if claimed > packed.len() * LZ4_MOST_PER_BYTE {
                    return Err(format!(
                        "its batch claims {claimed} bytes from {} packed: damaged",
                        packed.len()
                    ));
                }
                let bytes = lz4_flex::block::decompress_size_prepended(&packed)
                    .map_err(|e| format!("its batch does not unpack (damaged): {e}"))?;
                String::from_utf8(bytes)
                    .map_err(|_| "its batch unpacks to no text (damaged)".to_string())
            }
            (None, Some(batch)) => serde_json::from_str(batch.get())
                .map_err(|e| format!("its batch is not the JSON string cairn writes: {e}")),
            (None, None) => Err("it has no batch".into()),
        }
    }

    /// Its batch, once its checksum holds; `Err` says what is wrong.
    pub fn decode(&self) -> Result<Vec<Mutation>, String> {
        let text = self.text()?;
        let crc = format!("{:08x}", crc32fast::hash(text.as_bytes()));
        if crc != self.crc {
            return Err(format!(
                "it fails its checksum (crc32 {crc}, recorded {}): changed or damaged after it \
                 was written",
                self.crc
            ));
        }
        serde_json::from_str(&text).map_err(|e| format!("batch unreadable: {e}"))
    }

    /// About how many bytes it adds to the lock object.
    pub fn size(&self) -> usize {
        let stored = self.lz4.as_ref().or(self.batch.as_ref());
        stored.map_or(0, |b| b.get().len()) + self.lineage.len() + 64
    }

    /// The same entry (a write of it that landed though its answer was lost).
    pub fn same_as(&self, other: &TailEntry) -> bool {
        self.at == other.at && self.crc == other.crc && self.serial == other.serial
    }

    /// How it is named in messages, like the entry objects are.
    pub fn name(&self) -> String {
        format!("{LOCK} (entry {})", entry_name(self.at))
    }
}

impl Slot {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// What the lock object holds, as read.
pub(super) enum SlotRead {
    /// It parses.
    Slot(Slot),
    /// It does not: never overwritten but by a force-unlock naming `id`.
    Unreadable { detail: String, id: String },
}

pub(super) fn decode_slot(bytes: &[u8]) -> SlotRead {
    match serde_json::from_slice::<Slot>(bytes) {
        Ok(s) if s.cairn_lock == 1 => SlotRead::Slot(s),
        _ => SlotRead::Unreadable {
            detail: if bytes.is_empty() {
                "empty".to_string()
            } else {
                format!("not a cairn lock ({} bytes)", bytes.len())
            },
            id: format!("unreadable-{:08x}", crc32fast::hash(bytes)),
        },
    }
}

/// Where a snapshot stands in the journal: it holds every entry up to here.
pub(super) type Position = (u64, u64);

#[derive(Serialize, Deserialize)]
struct SnapshotHeader {
    cairn_remote: u32,
    generation: u64,
    seq: u64,
}

pub(super) fn encode_state(position: Position, state: &State) -> Vec<u8> {
    let header = SnapshotHeader {
        cairn_remote: 1,
        generation: position.0,
        seq: position.1,
    };
    let mut out = serde_json::to_vec(&header).unwrap_or_default();
    out.push(b'\n');
    out.extend_from_slice(&snapshot::to_bytes(state));
    out
}

/// A stored snapshot and its position. Anything else is corrupt or foreign, said at
/// `location`.
pub(super) fn decode_state(bytes: &[u8], location: &str) -> Result<(Position, State), StateError> {
    let split = bytes.iter().position(|b| *b == b'\n');
    let header = split.and_then(|n| serde_json::from_slice::<SnapshotHeader>(&bytes[..n]).ok());
    match (header, split) {
        (Some(h), Some(n)) if h.cairn_remote == 1 => {
            let state = snapshot::parse(&bytes[n + 1..]).map_err(|e| e.at(location.into()))?;
            Ok(((h.generation, h.seq), state))
        }
        (Some(h), _) => Err(StateError::TooNew {
            location: location.into(),
            found: h.cairn_remote,
            supported: 1,
        }),
        // Not our layout: say what it is (another tool's state, damaged JSON) the way the
        // local store does.
        _ => match snapshot::parse(bytes) {
            Err(e) => Err(e.at(location.into())),
            Ok(_) => Err(StateError::Corrupt {
                location: location.into(),
                reason: "a bare cairn snapshot without the remote store's header: it was put \
                         there by hand. Import it with `cairn state migrate` from a local file"
                    .into(),
            }),
        },
    }
}

/// A history copy: the snapshot alone.
/// The history copy of a snapshot [`encode_state`] wrote: the same snapshot without the
/// position header (a copy is read whole, with no journal after it).
pub(super) fn history_of(encoded_state: &[u8]) -> Vec<u8> {
    let after_header = encoded_state
        .iter()
        .position(|&b| b == b'\n')
        .map_or(0, |at| at + 1);
    encoded_state[after_header..].to_vec()
}

pub(super) fn decode_history(bytes: &[u8], location: &str) -> Result<State, StateError> {
    snapshot::parse(bytes).map_err(|e| e.at(location.into()))
}

#[derive(Serialize, Deserialize)]
struct EntryHeader {
    cairn_journal: u32,
    lineage: String,
    serial: u64,
    crc: String,
}

pub(super) fn encode_entry(lineage: &str, serial: u64, batch: &[Mutation]) -> Vec<u8> {
    let body = serde_json::to_vec(batch).unwrap_or_else(|_| b"[]".to_vec());
    let header = EntryHeader {
        cairn_journal: 3,
        lineage: lineage.to_string(),
        serial,
        crc: format!("{:08x}", crc32fast::hash(&body)),
    };
    let mut out = serde_json::to_vec(&header).unwrap_or_default();
    out.push(b'\n');
    out.extend_from_slice(&body);
    out
}

/// A journal entry: its lineage, the serial it brings the state to, and its batch. `Err`
/// says what is wrong with it.
pub(super) fn decode_entry(bytes: &[u8]) -> Result<(String, u64, Vec<Mutation>), String> {
    let n = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or("no header line")?;
    let header: EntryHeader =
        serde_json::from_slice(&bytes[..n]).map_err(|e| format!("header unreadable: {e}"))?;
    if header.cairn_journal != 3 {
        return Err(format!("unknown journal format {}", header.cairn_journal));
    }
    let body = &bytes[n + 1..];
    let crc = format!("{:08x}", crc32fast::hash(body));
    if crc != header.crc {
        return Err(format!(
            "it fails its checksum (crc32 {crc}, recorded {}): changed or damaged after it \
             was written",
            header.crc
        ));
    }
    let batch = serde_json::from_slice(body).map_err(|e| format!("batch unreadable: {e}"))?;
    Ok((header.lineage, header.serial, batch))
}

pub(super) const JOURNAL: &str = "journal/";
pub(super) const HISTORY: &str = "history/";
pub(super) const LOCK: &str = "lock";
pub(super) const STATE: &str = "state";

pub(super) fn entry_name((generation, seq): Position) -> String {
    format!("{JOURNAL}{generation:020}.{seq:020}")
}

/// The position an entry's name gives; `None` for a name no cairn wrote.
pub(super) fn entry_position(name: &str) -> Option<Position> {
    let (g, s) = name.strip_prefix(JOURNAL)?.split_once('.')?;
    Some((g.parse().ok()?, s.parse().ok()?))
}

pub(super) fn history_name(serial: u64) -> String {
    format!("{HISTORY}{serial:020}")
}

pub(super) fn history_serial(name: &str) -> Option<u64> {
    name.strip_prefix(HISTORY)?.parse().ok()
}
