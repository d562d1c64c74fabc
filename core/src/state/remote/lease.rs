//! The lease of a remote store's lock: its renewal, the lock object's writes (which carry
//! the journal's newest entries on object stores), and the read that tells whether a lock
//! is still a session's.

use super::layout::{self, Position, Slot, SlotRead, TailEntry};
use super::{Condition, Inner};
use crate::state::{now_ms, Lease, LockInfo, StateError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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

    pub(super) fn lost_error(&self, reason: String) -> StateError {
        if let Ok(mut l) = self.lost.lock() {
            l.get_or_insert_with(|| reason.clone());
        }
        StateError::LeaseLost {
            location: self.inner.location(),
            reason,
        }
    }

    /// Refuse at once when the lock is known to be lost.
    pub(super) fn check(&self) -> Result<(), StateError> {
        match self.lost.lock().ok().and_then(|l| l.clone()) {
            Some(reason) => Err(self.lost_error(reason)),
            None => Ok(()),
        }
    }

    /// Whether the lock is still this session's, read from the store.
    pub(super) async fn verify(inner: &Inner, id: &str) -> Result<Result<(), String>, StateError> {
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
    pub(super) fn entries_after(&self, at: Position) -> Vec<TailEntry> {
        let held = self.held.lock().unwrap();
        held.tail.iter().filter(|e| e.at > at).cloned().collect()
    }

    /// About how many bytes of entries the next write of the lock carries.
    pub(super) fn tail_size(&self) -> usize {
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
    pub(super) fn write(
        &self,
        adding: Option<TailEntry>,
        release: bool,
    ) -> Result<bool, StateError> {
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
