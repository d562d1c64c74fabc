//! Apply: walk the plan's graph, calling the provider with bounded concurrency.
//!
//! Durability is a group commit. The scheduler is one task: it collects the results of every
//! provider call that finished and the pending-operation records of every call about to
//! start, appends them to state as one batch (one fsync), and only then starts the calls. So
//! a record is durable before its call begins, and a chain of N resources costs N fsyncs,
//! not 2N. A failure marks the node's dependents skipped; independent branches go on.

mod graph;
mod observer;

pub use graph::{ApplyGraph, Op, OpKind};
pub use observer::{JsonEvents, NoopObserver, Observer, OpInfo};

use crate::plan::{Action, Plan, ResourceChange};
use crate::provider::*;
use crate::state::{
    Mutation, OperationKind, PendingOperation, ResourceState, StateError, StateSession,
};
use crate::value::{AttrRef, Attrs, SecretBook, Text, Value};
use petgraph::graph::NodeIndex;
use petgraph::Direction;
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// How to apply.
#[derive(Clone)]
pub struct ApplyOptions {
    /// Provider calls in flight at once (default 10).
    pub parallelism: usize,
    pub observer: Arc<dyn Observer>,
    /// Plaintexts for secrets a saved plan holds only as digests.
    pub secrets: SecretBook,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            parallelism: 10,
            observer: Arc::new(NoopObserver),
            secrets: SecretBook::default(),
        }
    }
}

impl fmt::Debug for ApplyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplyOptions")
            .field("parallelism", &self.parallelism)
            .field("secrets", &self.secrets)
            .finish()
    }
}

/// How one step ended.
#[derive(Clone, Debug, PartialEq)]
pub enum OpStatus {
    Succeeded { elapsed: Duration },
    Failed { error: String },
    Skipped { because: String },
}

/// Everything an apply did.
#[derive(Clone, Debug, Default)]
pub struct ApplyReport {
    pub ops: Vec<(OpInfo, OpStatus)>,
    pub outputs: BTreeMap<String, Value>,
    pub wall: Duration,
}

impl ApplyReport {
    pub fn succeeded(&self) -> impl Iterator<Item = &OpInfo> {
        self.ops
            .iter()
            .filter(|(_, s)| matches!(s, OpStatus::Succeeded { .. }))
            .map(|(o, _)| o)
    }
    pub fn failed(&self) -> impl Iterator<Item = (&OpInfo, &str)> {
        self.ops.iter().filter_map(|(o, s)| match s {
            OpStatus::Failed { error } => Some((o, error.as_str())),
            _ => None,
        })
    }
    pub fn skipped(&self) -> impl Iterator<Item = (&OpInfo, &str)> {
        self.ops.iter().filter_map(|(o, s)| match s {
            OpStatus::Skipped { because } => Some((o, because.as_str())),
            _ => None,
        })
    }
    pub fn is_success(&self) -> bool {
        self.ops
            .iter()
            .all(|(_, s)| matches!(s, OpStatus::Succeeded { .. }))
    }
}

impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (ok, failed, skipped) = (
            self.succeeded().count(),
            self.failed().count(),
            self.skipped().count(),
        );
        // What was done, by kind of operation, so a destroy reads as one.
        let done = |kinds: &[OpKind]| self.succeeded().filter(|o| kinds.contains(&o.kind)).count();
        let (created, updated, replaced, deleted) = (
            done(&[OpKind::Create]),
            done(&[OpKind::Update]),
            done(&[OpKind::CreateReplacement]),
            done(&[OpKind::Delete]),
        );
        writeln!(
            f,
            "Apply {}: {ok} succeeded ({created} created, {updated} updated, {replaced} replaced, \
             {deleted} destroyed), {failed} failed, {skipped} skipped ({:.1}s).",
            if failed == 0 && skipped == 0 {
                "complete"
            } else {
                "incomplete"
            },
            self.wall.as_secs_f64()
        )?;
        for (op, e) in self.failed() {
            writeln!(f, "  failed:  {} {}: {e}", op.kind.as_str(), op.address)?;
        }
        for (op, b) in self.skipped() {
            writeln!(f, "  skipped: {} {} ({b})", op.kind.as_str(), op.address)?;
        }
        Ok(())
    }
}

/// Errors that stop an apply as a whole (a single failing resource does not).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// State could not be written: apply stops at once. Every call already started has a
    /// durable pending record, so the next run reconciles it.
    #[error("state could not be recorded; apply stopped: {0}")]
    State(#[from] StateError),
    /// The plan's changes cannot be ordered.
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
}

enum Outcome {
    Created(CreateResponse),
    Updated(UpdateResponse),
    Deleted,
}

struct Prepared {
    node: NodeIndex,
    info: OpInfo,
    pending: PendingOperation,
    call: Call,
}

enum Call {
    Create(CreateRequest),
    Update(UpdateRequest),
    Delete(DeleteRequest),
}

/// Walk the plan. `session` must hold the lock and match the plan's state (the engine checks).
pub async fn apply(
    plan: &Plan,
    provider: Arc<dyn Provider>,
    session: &mut dyn StateSession,
    opts: &ApplyOptions,
) -> Result<ApplyReport, ApplyError> {
    let started = Instant::now();
    let ag = ApplyGraph::build(plan)?;
    let g = &ag.graph;
    session.append(&plan.state_updates)?;
    let mut fresh: HashMap<Text, Attrs> = reveal_secrets(plan, provider.as_ref(), session).await;

    let mut waiting: Vec<usize> = g
        .node_indices()
        .map(|n| g.neighbors_directed(n, Direction::Incoming).count())
        .collect();
    // List scheduling: when more steps are ready than may run, start those with the longest
    // chain of dependents first, so the critical path never waits behind side branches.
    let height = chain_heights(g);
    let mut ready: std::collections::BinaryHeap<(usize, std::cmp::Reverse<usize>)> = g
        .node_indices()
        .filter(|n| waiting[n.index()] == 0)
        .map(|n| (height[n.index()], std::cmp::Reverse(n.index())))
        .collect();
    let mut status: Vec<Option<OpStatus>> = vec![None; g.node_count()];
    let mut started_at: HashMap<NodeIndex, Instant> = HashMap::default();
    let mut in_flight: JoinSet<(NodeIndex, Result<Outcome, ProviderError>)> = JoinSet::new();
    let mut batch: Vec<Mutation> = Vec::new();
    let mut pending_of: HashMap<NodeIndex, PendingOperation> = HashMap::default();
    let mut recorded: Vec<Text> = Vec::new();
    let parallelism = opts.parallelism.max(1);
    let slots = Arc::new(Slots::default());
    let observer = &opts.observer;
    let info = |n: NodeIndex| -> OpInfo {
        let op = g[n];
        let c = &plan.changes[op.change];
        OpInfo {
            address: c.address.clone(),
            origin: c.origin.clone(),
            kind: op.kind,
        }
    };

    loop {
        let mut to_start = Vec::new();
        while in_flight.len().saturating_sub(slots.parked()) + to_start.len() < parallelism {
            let Some((_, std::cmp::Reverse(i))) = ready.pop() else {
                break;
            };
            let n = NodeIndex::new(i);
            if status[n.index()].is_some() {
                continue;
            }
            match prepare(plan, g[n], n, info(n), session, &fresh, opts, &plan.stack) {
                Ok(p) => {
                    batch.push(Mutation::Begin(p.pending.clone()));
                    to_start.push(p);
                }
                Err(error) => {
                    observer.op_failed(&info(n), &error);
                    status[n.index()] = Some(OpStatus::Failed { error });
                    skip_dependents(g, n, &info, &mut status, observer.as_ref());
                }
            }
        }
        if !batch.is_empty() {
            session.append(&batch)?;
            batch.clear();
            prune_fresh(&mut fresh, &mut recorded);
        }
        for p in to_start {
            observer.op_started(&p.info);
            started_at.insert(p.node, Instant::now());
            pending_of.insert(p.node, p.pending);
            let provider = provider.clone();
            let (node, call) = (p.node, p.call);
            let observer2 = observer.clone();
            let info2 = p.info.clone();
            let slots2 = slots.clone();
            in_flight.spawn(async move {
                let progress =
                    Progress::new(move |m| observer2.op_progress(&info2, m)).with_slots(slots2);
                let result = match call {
                    Call::Create(mut r) => {
                        r.progress = progress;
                        provider.create(r).await.map(Outcome::Created)
                    }
                    Call::Update(mut r) => {
                        r.progress = progress;
                        provider.update(r).await.map(Outcome::Updated)
                    }
                    Call::Delete(mut r) => {
                        r.progress = progress;
                        match provider.delete(r).await {
                            Ok(_) | Err(ProviderError::NotFound { .. }) => Ok(Outcome::Deleted),
                            Err(e) => Err(e),
                        }
                    }
                };
                (node, result)
            });
        }
        if in_flight.is_empty() {
            break;
        }
        // A call parking in a waiter frees its slot: wake up and fill it.
        let first = tokio::select! {
            joined = in_flight.join_next() => joined,
            _ = slots.parked_changed() => continue,
        };
        let mut done = vec![first];
        while let Some(r) = in_flight.try_join_next() {
            done.push(Some(r));
        }
        for joined in done.into_iter().flatten() {
            let (n, result) = match joined {
                Ok(x) => x,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            let op = g[n];
            let change = &plan.changes[op.change];
            let pending = pending_of
                .remove(&n)
                .expect("started ops have a pending record");
            let elapsed = started_at.get(&n).map(|t| t.elapsed()).unwrap_or_default();
            match result {
                Ok(outcome) => {
                    record(change, op.kind, &pending, outcome, &mut batch, &mut fresh);
                    recorded.push(change.address.clone());
                    batch.push(Mutation::Settle {
                        op_id: pending.op_id,
                    });
                    observer.op_finished(&info(n), elapsed);
                    status[n.index()] = Some(OpStatus::Succeeded { elapsed });
                    for m in g.neighbors_directed(n, Direction::Outgoing) {
                        waiting[m.index()] -= 1;
                        if waiting[m.index()] == 0 {
                            ready.push((height[m.index()], std::cmp::Reverse(m.index())));
                        }
                    }
                }
                Err(e) => {
                    if !e.is_indeterminate() {
                        batch.push(Mutation::Settle {
                            op_id: pending.op_id,
                        });
                    }
                    let error = e.to_string();
                    observer.op_failed(&info(n), &error);
                    status[n.index()] = Some(OpStatus::Failed { error });
                    skip_dependents(g, n, &info, &mut status, observer.as_ref());
                }
            }
        }
    }

    // Outputs: resolve what is known now, keep earlier values for what is not.
    let mut outputs = session.state().outputs.clone();
    for o in &plan.outputs {
        let v = o.value.resolve(&|r| lookup(r, &fresh, session));
        if !v.has_unresolved() {
            outputs.insert(o.name.clone(), v);
        }
    }
    outputs.retain(|k, _| plan.outputs.iter().any(|o| &o.name == k));
    if outputs != session.state().outputs {
        batch.push(Mutation::Outputs(outputs.clone()));
    }
    session.append(&batch)?;

    let report = ApplyReport {
        ops: g
            .node_indices()
            .map(|n| {
                (
                    info(n),
                    status[n.index()].clone().unwrap_or(OpStatus::Skipped {
                        because: "not reached".into(),
                    }),
                )
            })
            .collect(),
        outputs: outputs
            .into_iter()
            .map(|(k, v)| (k, v.redacted()))
            .collect(),
        wall: started.elapsed(),
    };
    observer.apply_finished(&report);
    Ok(report)
}

/// For each step, the number of steps on the longest chain from it to the end.
fn chain_heights(g: &petgraph::graph::DiGraph<Op, ()>) -> Vec<usize> {
    let order = petgraph::algo::toposort(g, None).unwrap_or_default();
    let mut height = vec![1usize; g.node_count()];
    for n in order.iter().rev() {
        let below = g
            .neighbors_directed(*n, Direction::Outgoing)
            .map(|m| height[m.index()])
            .max()
            .unwrap_or(0);
        height[n.index()] = below + 1;
    }
    height
}

/// Secrets live in the cloud's secret store, not in state (state keeps digests). When a
/// resource about to be created references a secret made by an earlier run, read that
/// secret back from the provider, in one batched request per type.
async fn reveal_secrets(
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

fn skip_dependents(
    g: &petgraph::graph::DiGraph<Op, ()>,
    failed: NodeIndex,
    info: &dyn Fn(NodeIndex) -> OpInfo,
    status: &mut [Option<OpStatus>],
    observer: &dyn Observer,
) {
    let because = format!(
        "{} {} failed",
        g[failed].kind.as_str(),
        info(failed).address
    );
    let mut stack: Vec<NodeIndex> = g.neighbors_directed(failed, Direction::Outgoing).collect();
    while let Some(n) = stack.pop() {
        if status[n.index()].is_some() {
            continue;
        }
        observer.op_skipped(&info(n), &because);
        status[n.index()] = Some(OpStatus::Skipped {
            because: because.clone(),
        });
        stack.extend(g.neighbors_directed(n, Direction::Outgoing));
    }
}

fn lookup(r: &AttrRef, fresh: &HashMap<Text, Attrs>, session: &dyn StateSession) -> Option<Value> {
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
#[allow(clippy::too_many_arguments)]
fn prepare(
    plan: &Plan,
    op: Op,
    node: NodeIndex,
    info: OpInfo,
    session: &dyn StateSession,
    fresh: &HashMap<Text, Attrs>,
    opts: &ApplyOptions,
    stack: &str,
) -> Result<Prepared, String> {
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
fn prune_fresh(fresh: &mut HashMap<Text, Attrs>, recorded: &mut Vec<Text>) {
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
fn record(
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
