//! One step of an apply, on its own: what a ready node sends the provider (its request and
//! the pending record written first), and what a successful answer records in state.
//! Kept apart from the walk in `mod.rs`, which only decides when steps start and when
//! their records are appended.

use super::{ApplyOptions, Op, OpInfo, OpKind};
use crate::plan::{Action, Plan, ResourceChange};
use crate::provider::*;
use crate::state::{Mutation, OperationKind, PendingOperation, ResourceState, StateSession};
use crate::value::{AttrRef, Attrs, Text, Value};
use petgraph::graph::NodeIndex;
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;

pub(super) enum Outcome {
    Created(CreateResponse),
    Updated(UpdateResponse),
    Deleted,
}

pub(super) struct Prepared {
    pub node: NodeIndex,
    pub info: OpInfo,
    pub pending: PendingOperation,
    pub call: Call,
}

pub(super) enum Call {
    Create(CreateRequest),
    Update(UpdateRequest),
    Delete(DeleteRequest),
}

/// Secrets live in the cloud's secret store, not in state (state keeps digests). When a
/// resource about to be created references a secret made by an earlier run, read that
/// secret back from the provider, in one batched request per type.
pub(super) async fn reveal_secrets(
    plan: &Plan,
    provider: &dyn Provider,
    session: &dyn StateSession,
) -> HashMap<Text, Attrs> {
    let creating: std::collections::HashSet<&str> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Replace))
        .map(|c| c.address.as_str())
        .collect();
    let mut wanted: BTreeMap<Text, BTreeMap<Text, ReadItem>> = BTreeMap::new();
    let mut refs = Vec::new();
    for c in plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Replace | Action::Update))
    {
        refs.clear();
        c.after
            .iter()
            .flatten()
            .for_each(|(_, v)| v.refs(&mut refs));
        for r in &refs {
            let Some(target) = session.state().resources.get(&r.address) else {
                continue;
            };
            let digest_only = matches!(target.attrs.get(r.attr.as_str()), Some(Value::Sensitive(s)) if s.expose().is_none());
            if digest_only && !creating.contains(r.address.as_str()) && !target.id.is_empty() {
                wanted.entry(target.type_name.clone()).or_default().insert(
                    target.address.clone(),
                    ReadItem {
                        address: target.address.clone(),
                        id: Some(target.id.clone()),
                        token: None,
                        prior: target.attrs.clone(),
                    },
                );
            }
        }
    }
    let mut out = HashMap::default();
    for (type_name, items) in wanted {
        let req = ReadRequest {
            stack: plan.stack.clone(),
            type_name,
            items: items.into_values().collect(),
        };
        if let Ok(resp) = provider.read(req).await {
            for (address, outcome) in resp.results {
                if let ReadOutcome::Found { attrs, .. } = outcome {
                    out.insert(address, attrs);
                }
            }
        }
    }
    out
}

pub(super) fn lookup(
    r: &AttrRef,
    fresh: &HashMap<Text, Attrs>,
    session: &dyn StateSession,
) -> Option<Value> {
    fresh
        .get(&r.address)
        .and_then(|a| a.get(r.attr.as_str()))
        .or_else(|| {
            session
                .state()
                .resources
                .get(&r.address)
                .and_then(|s| s.attrs.get(r.attr.as_str()))
        })
        .cloned()
}

/// Turn a ready node into a pending record and a provider request.
pub(super) fn prepare(
    plan: &Plan,
    op: Op,
    node: NodeIndex,
    info: OpInfo,
    session: &dyn StateSession,
    fresh: &HashMap<Text, Attrs>,
    opts: &ApplyOptions,
) -> Result<Prepared, String> {
    let stack = plan.stack.as_str();
    let c = &plan.changes[op.change];
    let op_id = crate::state::new_lineage();
    let token = format!("cairn-{}", &op_id[..16]);
    let current = session.state().resources.get(&c.address);
    let mut pending = PendingOperation {
        op_id: op_id.into(),
        address: c.address.clone(),
        type_name: c.type_name.clone(),
        origin: c.origin.clone(),
        kind: OperationKind::Create,
        id: None,
        token: token.as_str().into(),
        started_at_ms: crate::state::now_ms(),
        attrs: Attrs::new(),
    };
    let resolve = || -> Result<Attrs, String> {
        let after = c
            .after
            .as_ref()
            .ok_or_else(|| format!("{}: the plan has no attributes to apply", c.address))?;
        let mut attrs = Attrs::new();
        for (k, v) in after {
            let v = opts
                .secrets
                .fill(&v.resolve(&|r| lookup(r, fresh, session)));
            let v = match v {
                Value::Generated(spec) => Value::Sensitive(spec.generate()),
                other => other,
            };
            if v.has_unresolved() {
                return Err(format!(
                    "{}: attribute `{k}` is still unknown at apply time",
                    c.address
                ));
            }
            // An update re-sends unchanged secrets only as digests; providers send changed
            // attributes, so a value the cloud already has need not be known here.
            let unchanged = op.kind == OpKind::Update && !c.changes.iter().any(|a| a.name == k);
            if let (Value::Sensitive(s), false) = (&v, unchanged) {
                if s.expose().is_none() {
                    return Err(format!(
                        "{}: attribute `{k}` needs a secret this run was not given (the stack's secret changed since the plan was saved?)",
                        c.address
                    ));
                }
            }
            attrs.insert(k.clone(), v);
        }
        Ok(attrs)
    };
    let delete = |id: Text, kind: OperationKind, pending: &mut PendingOperation| {
        pending.kind = kind;
        pending.id = Some(id.clone());
        Call::Delete(DeleteRequest {
            stack: stack.to_string(),
            address: c.address.clone(),
            type_name: c.type_name.clone(),
            id,
            prior: c.before.clone().unwrap_or_default(),
            progress: Progress::default(),
        })
    };
    let call = match op.kind {
        OpKind::Create | OpKind::CreateReplacement => {
            let attrs = resolve()?;
            pending.attrs = attrs.clone();
            Call::Create(CreateRequest {
                stack: stack.to_string(),
                address: c.address.clone(),
                type_name: c.type_name.clone(),
                attrs,
                token,
                progress: Progress::default(),
            })
        }
        OpKind::Update => {
            let id = current
                .map(|r| r.id.clone())
                .filter(|i| !i.is_empty())
                .or_else(|| c.id.clone())
                .ok_or("no object to update")?;
            pending.kind = OperationKind::Update;
            pending.id = Some(id.clone());
            Call::Update(UpdateRequest {
                stack: stack.to_string(),
                address: c.address.clone(),
                type_name: c.type_name.clone(),
                id,
                prior: current.map(|r| r.attrs.clone()).unwrap_or_default(),
                attrs: resolve()?,
                changed: c.changes.iter().map(|a| a.name.clone()).collect(),
                progress: Progress::default(),
            })
        }
        OpKind::DeleteReplaced => {
            let id =
                c.id.clone()
                    .ok_or("replacement without the old object's id")?;
            let kind = if c.create_before_destroy {
                OperationKind::DeleteDeposed
            } else {
                OperationKind::Delete
            };
            delete(id, kind, &mut pending)
        }
        OpKind::Delete => match &c.deposed_id {
            Some(id) => delete(id.clone(), OperationKind::DeleteDeposed, &mut pending),
            None => delete(
                c.id.clone().ok_or("delete without an id")?,
                OperationKind::Delete,
                &mut pending,
            ),
        },
    };
    Ok(Prepared {
        node,
        info,
        pending,
        call,
    })
}

/// Results stay in `fresh` until their batch is in state; after that, only those whose
/// secrets state cannot give back (it keeps digests) are worth a second copy in memory,
/// which otherwise costs gigabytes at 100,000 resources.
pub(super) fn prune_fresh(fresh: &mut HashMap<Text, Attrs>, recorded: &mut Vec<Text>) {
    for address in recorded.drain(..) {
        if fresh
            .get(&address)
            .is_some_and(|a| !a.values().any(Value::is_sensitive))
        {
            fresh.remove(&address);
        }
    }
}

/// The state mutations that record a successful call.
pub(super) fn record(
    c: &ResourceChange,
    kind: OpKind,
    pending: &PendingOperation,
    outcome: Outcome,
    batch: &mut Vec<Mutation>,
    fresh: &mut HashMap<Text, Attrs>,
) {
    let put = |id: Text, attrs: Attrs| {
        Mutation::Put(ResourceState {
            address: c.address.clone(),
            type_name: c.type_name.clone(),
            origin: c.origin.clone(),
            id,
            attrs,
            deps: c.deps.clone(),
            protect: c.protect,
            deposed: vec![],
        })
    };
    match outcome {
        Outcome::Created(r) => {
            if kind == OpKind::CreateReplacement && c.create_before_destroy {
                batch.push(Mutation::Depose {
                    address: c.address.clone(),
                });
            }
            batch.push(put(r.id, r.attrs.clone()));
            fresh.insert(c.address.clone(), r.attrs);
        }
        Outcome::Updated(r) => {
            let id = pending.id.clone().unwrap_or_default();
            batch.push(put(id, r.attrs.clone()));
            fresh.insert(c.address.clone(), r.attrs);
        }
        Outcome::Deleted => {
            let id = pending.id.clone().unwrap_or_default();
            let deposed = pending.kind == OperationKind::DeleteDeposed;
            batch.push(if deposed {
                Mutation::RemoveDeposed {
                    address: c.address.clone(),
                    id,
                }
            } else {
                Mutation::Remove {
                    address: c.address.clone(),
                }
            });
            if c.action == Action::Delete {
                fresh.remove(&c.address);
            }
        }
    }
}
