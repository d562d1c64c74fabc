//! What the cloud holds for a stack, compared with what state records.
//!
//! State says what cairn made; only the cloud can say what is really there. A create whose
//! answer a crash lost, a destroy cut short, a hand-made copy of a tagged object: each
//! leaves objects that carry the stack's ownership marks and that no state records
//! (orphans, which cost money and hold names), while an object deleted by hand stays in
//! state until the next refresh. `inventory` lists the first kind through the provider
//! (one listing per service or group, by the marks) and reads the second kind back from
//! state (batched like a refresh), so a program or a CI job can prove that a destroy left
//! nothing and that an apply left nothing behind.
//!
//! Read-only, like a drift check: no lock, no state write, no cloud call but lists and
//! reads. The report is plain data with a `format_version`, rendered as text or JSON; its
//! exit code is the CI contract: 0 clean, 2 orphans or gone objects found, 3 partial (some
//! recorded resources could not be read), 1 errors (the listing itself failed).

use crate::drift::FailedRead;
use crate::engine::{Engine, EngineError};
use crate::model::Stack;
use crate::provider::{InventoryRequest, OwnedObject, ReadItem, ReadOutcome};
use crate::state::{OperationKind, State};
use crate::value::Text;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Version of the JSON report; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// What an inventory found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InventoryReport {
    /// [`FORMAT_VERSION`] of the report.
    pub format_version: u32,
    /// Name of the stack.
    pub stack: String,
    /// Name of the provider that listed the cloud.
    pub provider: String,
    /// Every object carrying the stack's marks, with where it stands against state.
    pub objects: Vec<InventoryEntry>,
    /// Resources state records, all of them read back.
    pub checked: usize,
    /// Recorded in state, not held by the cloud any more (deleted outside cairn).
    pub gone: Vec<GoneResource>,
    /// Recorded resources that could not be read: the inventory is partial.
    pub failed_reads: Vec<FailedRead>,
}

/// One object the cloud holds for the stack.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InventoryEntry {
    /// The object, as the provider listed it.
    #[serde(flatten)]
    pub object: OwnedObject,
    /// Where it stands against state.
    pub standing: Standing,
}

/// Where a listed object stands against state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// State records it (as a resource's object, or a deposed one awaiting delete).
    Managed,
    /// Made by a create that state records as pending (a run died before it heard the
    /// answer): the next plan or apply adopts it.
    Pending,
    /// Kept outside state on purpose, as the stack asked (see [`OwnedObject::kept`]).
    Kept,
    /// Marked as the stack's, recorded nowhere: nothing will manage or delete it.
    Orphan,
}

/// A recorded resource the cloud no longer holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GoneResource {
    /// Concrete address.
    pub address: String,
    /// The cloud id state recorded.
    pub id: String,
}

/// The verdict, and the exit code CI jobs rely on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InventoryStatus {
    /// Every object is managed, pending or kept, and every recorded one is there (exit 0).
    Clean,
    /// Orphans found, or recorded objects gone (exit 2).
    Found,
    /// Some recorded resources could not be read (exit 3).
    Partial,
}

impl InventoryStatus {
    /// The process exit code for CI: 0 clean, 2 orphans or gone objects, 3 partial. (An
    /// inventory that cannot list at all is an error: exit 1.)
    pub fn exit_code(self) -> u8 {
        match self {
            InventoryStatus::Clean => 0,
            InventoryStatus::Found => 2,
            InventoryStatus::Partial => 3,
        }
    }
}

impl InventoryReport {
    /// The objects no state records.
    pub fn orphans(&self) -> impl Iterator<Item = &OwnedObject> {
        self.entries(Standing::Orphan)
    }

    /// The objects of one standing.
    pub fn entries(&self, standing: Standing) -> impl Iterator<Item = &OwnedObject> {
        self.objects
            .iter()
            .filter(move |e| e.standing == standing)
            .map(|e| &e.object)
    }

    /// True when the cloud holds nothing for the stack (after a destroy: proof it left
    /// nothing behind) and state records nothing either.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.checked == 0
    }

    /// The verdict: `Partial` when some recorded resource could not be read, `Found` when
    /// an orphan or a gone object is listed, else `Clean`.
    pub fn status(&self) -> InventoryStatus {
        if !self.failed_reads.is_empty() {
            InventoryStatus::Partial
        } else if self.orphans().next().is_some() || !self.gone.is_empty() {
            InventoryStatus::Found
        } else {
            InventoryStatus::Clean
        }
    }

    /// The versioned JSON form (status included).
    pub fn json(&self) -> String {
        #[derive(Serialize)]
        struct WithStatus<'a> {
            status: InventoryStatus,
            #[serde(flatten)]
            report: &'a InventoryReport,
        }
        serde_json::to_string_pretty(&WithStatus {
            status: self.status(),
            report: self,
        })
        .expect("an inventory report serialises")
    }

    /// For a terminal or a log: a summary line, then every object that is not simply
    /// managed, then the gone and the unreadable.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let count = |s| self.entries(s).count();
        let _ = writeln!(
            out,
            "{} stack {:?} ({}): the cloud holds {} object(s) marked as the stack's ({} managed, \
             {} orphaned, {} pending, {} kept); state records {} resource(s), {} gone.",
            match self.status() {
                InventoryStatus::Clean => "Inventory clean for",
                InventoryStatus::Found => "Inventory found strays for",
                InventoryStatus::Partial => "Inventory incomplete for",
            },
            self.stack,
            self.provider,
            self.objects.len(),
            count(Standing::Managed),
            count(Standing::Orphan),
            count(Standing::Pending),
            count(Standing::Kept),
            self.checked,
            self.gone.len(),
        );
        for e in &self.objects {
            let o = &e.object;
            let what = if o.address.is_empty() {
                o.type_name.to_string()
            } else {
                o.address.to_string()
            };
            match e.standing {
                Standing::Managed => {}
                Standing::Orphan => {
                    let _ = writeln!(out, "  ! orphan {what} {} (no state records it)", o.id);
                }
                Standing::Pending => {
                    let _ = writeln!(
                        out,
                        "  ~ pending {what} {} (made by an interrupted create: the next plan \
                         or apply adopts it)",
                        o.id
                    );
                }
                Standing::Kept => {
                    let _ = writeln!(
                        out,
                        "  = kept {what} {} ({})",
                        o.id,
                        o.kept.as_deref().unwrap_or("kept as the stack asks")
                    );
                }
            }
        }
        for g in &self.gone {
            let _ = writeln!(
                out,
                "  - gone {} {} (state records it; the cloud does not hold it)",
                g.address, g.id
            );
        }
        for f in &self.failed_reads {
            let _ = writeln!(out, "  ? {} could not be read: {}", f.address, f.error);
        }
        out
    }
}

/// Place each listed object against state.
fn classify(objects: Vec<OwnedObject>, state: Option<&State>) -> Vec<InventoryEntry> {
    // By type and id: two types may share ids (an RDS instance and its subnet group are
    // both named by the stack).
    let mut known: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut pending_tokens: BTreeSet<&str> = BTreeSet::new();
    let mut pending_addresses: BTreeSet<&str> = BTreeSet::new();
    if let Some(state) = state {
        for r in state.resources.values() {
            if !r.id.is_empty() {
                known.insert((&r.type_name, &r.id));
            }
            known.extend(
                r.deposed
                    .iter()
                    .map(|d| (r.type_name.as_str(), d.id.as_str())),
            );
        }
        for p in state.pending.values() {
            match p.kind {
                OperationKind::Create => {
                    pending_tokens.insert(&p.token);
                    pending_addresses.insert(&p.address);
                }
                // An object whose delete was interrupted is still recorded (or its id is
                // the pending record's): it is managed until the delete is settled.
                _ => known.extend(p.id.as_deref().map(|id| (p.type_name.as_str(), id))),
            }
        }
    }
    let mut entries: Vec<InventoryEntry> = objects
        .into_iter()
        .map(|object| {
            let standing = if known.contains(&(object.type_name.as_str(), object.id.as_str())) {
                Standing::Managed
            } else if object
                .token
                .as_deref()
                .is_some_and(|t| pending_tokens.contains(t))
                || (object.token.is_none() && pending_addresses.contains(object.address.as_str()))
            {
                Standing::Pending
            } else if object.kept.is_some() {
                Standing::Kept
            } else {
                Standing::Orphan
            };
            InventoryEntry { object, standing }
        })
        .collect();
    entries.sort_by(|a, b| {
        (b.standing, &a.object.address, &a.object.id).cmp(&(
            a.standing,
            &b.object.address,
            &b.object.id,
        ))
    });
    entries
}

impl Engine {
    /// What the cloud holds for `stack`, compared with state: orphans (marked as the
    /// stack's, recorded nowhere), objects of interrupted creates the next run adopts,
    /// and recorded objects the cloud no longer holds. Takes no lock and writes nothing;
    /// see [`crate::inventory`].
    ///
    /// After a destroy, [`InventoryReport::is_empty`] is the proof that nothing is left.
    pub async fn inventory(&self, stack: &Stack) -> Result<InventoryReport, EngineError> {
        let state = self.read_state(stack.name())?;
        let addresses = state
            .iter()
            .flat_map(|s| {
                s.resources
                    .keys()
                    .chain(s.pending.values().map(|p| &p.address))
            })
            .cloned()
            .collect();
        let listing = self.provider().inventory(InventoryRequest {
            stack: stack.name().to_string(),
            addresses,
        });
        let mut by_type: BTreeMap<&str, Vec<ReadItem>> = BTreeMap::new();
        for r in state.iter().flat_map(State::live) {
            by_type.entry(&r.type_name).or_default().push(ReadItem {
                address: r.address.clone(),
                id: Some(r.id.clone()),
                token: None,
                prior: r.attrs.clone(),
            });
        }
        let checked = by_type.values().map(Vec::len).sum();
        let requests = by_type
            .into_iter()
            .map(|(t, items)| (false, t.to_string(), items))
            .collect();
        let (listing, reads) = tokio::join!(listing, self.read_all(stack.name(), requests));
        let listing = listing.map_err(|error| EngineError::Inventory {
            stack: stack.name().to_string(),
            error,
        })?;

        let recorded: BTreeMap<&Text, &Text> = state
            .iter()
            .flat_map(State::live)
            .map(|r| (&r.address, &r.id))
            .collect();
        let mut gone = Vec::new();
        let mut failed_reads = Vec::new();
        for (_, addresses, result) in reads {
            match result {
                Err(e) => failed_reads.extend(addresses.iter().map(|a| FailedRead {
                    address: a.to_string(),
                    error: e.to_string(),
                })),
                Ok(resp) => {
                    for address in addresses {
                        match resp.results.get(&address) {
                            Some(ReadOutcome::Found { .. }) => {}
                            Some(ReadOutcome::Gone) => gone.push(GoneResource {
                                id: recorded
                                    .get(&address)
                                    .map(|i| i.to_string())
                                    .unwrap_or_default(),
                                address: address.to_string(),
                            }),
                            Some(ReadOutcome::Failed(e)) => failed_reads.push(FailedRead {
                                address: address.to_string(),
                                error: e.to_string(),
                            }),
                            None => failed_reads.push(FailedRead {
                                address: address.to_string(),
                                error: "the provider's read did not answer for it".into(),
                            }),
                        }
                    }
                }
            }
        }
        gone.sort_by(|a, b| a.address.cmp(&b.address));
        failed_reads.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(InventoryReport {
            format_version: FORMAT_VERSION,
            stack: stack.name().to_string(),
            provider: self.provider().name().to_string(),
            objects: classify(listing.objects, state.as_ref()),
            checked,
            gone,
            failed_reads,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{PendingOperation, ResourceState};

    fn object(address: &str, id: &str, token: Option<&str>) -> OwnedObject {
        OwnedObject {
            type_name: address.split('.').next().unwrap().into(),
            id: id.into(),
            address: address.into(),
            token: token.map(Into::into),
            kept: None,
        }
    }

    #[test]
    fn each_listed_object_is_placed_against_state() {
        let mut state = State::new("shop", "memory");
        state.resources.insert(
            "mem_network.main".into(),
            ResourceState {
                address: "mem_network.main".into(),
                type_name: "mem_network".into(),
                origin: "network.main".into(),
                id: "net-1".into(),
                attrs: Default::default(),
                deps: vec![],
                protect: false,
                deposed: vec![],
            },
        );
        state.pending.insert(
            "op-1".into(),
            PendingOperation {
                op_id: "op-1".into(),
                address: "mem_subnet.a".into(),
                type_name: "mem_subnet".into(),
                origin: "subnet.a".into(),
                kind: OperationKind::Create,
                id: None,
                token: "tok-a".into(),
                started_at_ms: 0,
                attrs: Default::default(),
            },
        );
        let mut kept = object("mem_vault.v", "vault-1", None);
        kept.kept = Some("deleted, kept recoverable".into());
        let entries = classify(
            vec![
                object("mem_network.main", "net-1", Some("tok-n")),
                object("mem_subnet.a", "sub-1", Some("tok-a")),
                object("mem_subnet.a", "sub-2", Some("tok-old")),
                kept,
            ],
            Some(&state),
        );
        let standing: Vec<(&str, Standing)> = entries
            .iter()
            .map(|e| (e.object.id.as_str(), e.standing))
            .collect();
        assert_eq!(
            standing,
            [
                ("sub-2", Standing::Orphan),
                ("vault-1", Standing::Kept),
                ("sub-1", Standing::Pending),
                ("net-1", Standing::Managed),
            ]
        );
    }
}
