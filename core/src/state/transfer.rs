//! Moving a state between stores, and back in time within one.
//!
//! Both work through the same sessions as any run (locks, fencing, durable appends), so
//! they are as safe as an apply: a migration holds both locks and removes the source only
//! once the copy reads back identical; a rollback is an ordinary write that makes a new
//! serial, so it is itself in the history and can be rolled back.

use super::{snapshot, Mutation, State, StateError, StateSession, StateStore};

/// A state's fingerprint: the CRC-32 of its snapshot encoding, which is the same for the
/// same state whichever store holds it.
pub fn checksum(state: &State) -> u32 {
    crc32fast::hash(&snapshot::to_bytes(state))
}

/// What a migration moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migrated {
    /// The stack's lineage, the same in both stores.
    pub lineage: String,
    /// The serial copied.
    pub serial: u64,
    /// Live resources in it.
    pub resources: usize,
    /// [`checksum`] of the state, read back from the destination.
    pub checksum: u32,
}

/// Move the state of `from` to `to`, which must hold none: both locked, the copy read
/// back and compared (lineage, serial, checksum) before the source is erased. On any
/// failure before that, the source is untouched and keeps everything.
pub fn migrate(from: &dyn StateStore, to: &dyn StateStore) -> Result<Migrated, StateError> {
    let source = from.lock("migrate")?;
    match copy_verified(source.state(), from, to) {
        Ok(moved) => {
            source.erase()?;
            Ok(moved)
        }
        Err(e) => {
            // Released, not dropped: a dropped session keeps its lock, as after a crash.
            let _ = source.unlock();
            Err(e)
        }
    }
}

/// Copy `state` into `to` under its lock and read it back.
fn copy_verified(
    state: &State,
    from: &dyn StateStore,
    to: &dyn StateStore,
) -> Result<Migrated, StateError> {
    if state.lineage.is_empty() {
        return Err(StateError::Backend {
            location: from.location(),
            message: "there is no state here to migrate".into(),
        });
    }
    let mut copy = to.lock("migrate")?;
    if let Err(e) = copy.adopt(state) {
        let _ = copy.unlock();
        return Err(e);
    }
    copy.unlock()?;
    let back = to.read()?.ok_or_else(|| StateError::Backend {
        location: to.location(),
        message: "the copy reads back as nothing; the source was kept".into(),
    })?;
    let (want, got) = (checksum(state), checksum(&back));
    if back.lineage != state.lineage || back.serial != state.serial || want != got {
        return Err(StateError::Backend {
            location: to.location(),
            message: format!(
                "the copy reads back different (lineage {}, serial {}, checksum {got:08x}; \
                 expected {}, {}, {want:08x}); the source was kept",
                back.lineage, back.serial, state.lineage, state.serial
            ),
        });
    }
    Ok(Migrated {
        lineage: state.lineage.clone(),
        serial: state.serial,
        resources: state.live().count(),
        checksum: got,
    })
}

/// Make the session's state hold what `target` (a kept past state of the same stack)
/// held: its resources and outputs, as a new serial. Operations pending now stay pending
/// (they name what may exist in the cloud). Returns the new serial.
pub fn rollback(session: &mut dyn StateSession, target: &State) -> Result<u64, StateError> {
    let current = session.state();
    if target.lineage != current.lineage || target.stack != current.stack {
        return Err(StateError::Foreign {
            location: format!("serial {}", target.serial),
            reason: format!(
                "it is stack {:?} (lineage {}), not this state's {:?} (lineage {})",
                target.stack, target.lineage, current.stack, current.lineage
            ),
        });
    }
    let mut batch = Vec::new();
    for r in current.resources.values() {
        for d in &r.deposed {
            batch.push(Mutation::RemoveDeposed {
                address: r.address.clone(),
                id: d.id.clone(),
            });
        }
        batch.push(Mutation::Remove {
            address: r.address.clone(),
        });
    }
    batch.extend(target.resources.values().cloned().map(Mutation::Put));
    batch.push(Mutation::Outputs(target.outputs.clone()));
    session.append(&batch)?;
    let now = session.state();
    if now.resources != target.resources || now.outputs != target.outputs {
        return Err(StateError::Backend {
            location: format!("serial {}", now.serial),
            message: "the rolled-back state does not match the kept one".into(),
        });
    }
    Ok(now.serial)
}
