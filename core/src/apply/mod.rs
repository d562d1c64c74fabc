//! Apply: walk the plan's graph, calling the provider with bounded concurrency.
//!
//! Durability is a group commit. The scheduler is one task: it collects the results of every
//! provider call that finished and the pending-operation records of every call about to
//! start, appends them to state as one batch (one fsync), and only then starts the calls. So
//! a record is durable before its call begins, and a chain of N resources costs N fsyncs,
//! not 2N. When a call finishes while others run, the scheduler waits for them up to as
//! long as the last append took (20 ms at most) before it appends: where appends are round
//! trips to a shared store, a wide stack then costs one append per wave of calls rather
//! than one per call, and where they are cheap it barely waits. A failure marks the
//! node's dependents skipped; independent branches go on.
//!
//! Where calls finish faster than [`WRITTEN_AHEAD_FOR`], one append also records the next
//! waves' calls (up to [`AHEAD_WAVES_AT_MOST`] times `parallelism`), which then start as
//! slots free up without an append of their own: a wide stack of quick calls costs one
//! round trip to a shared store per several waves instead of one per wave. A record
//! written ahead is used only while it is younger than [`WRITTEN_AHEAD_FOR`] (older ones
//! are stamped again by the next append), and a run reading another's pending creates
//! waits that much longer than the provider's in-flight window before it settles one as
//! never made, so a call started from a record written ahead is always found.
//!
//! `step.rs` holds what one step sends and what its answer records; this file only decides
//! when steps start and when their records are appended.

mod graph;
mod observer;
mod schedule;
mod step;

pub use graph::{ApplyGraph, Op, OpKind};
pub use observer::{JsonEvents, NoopObserver, Observer, OpInfo};

use crate::plan::Plan;
use crate::provider::*;
use crate::state::{Mutation, PendingOperation, StateError, StateSession};
use crate::value::{Attrs, SecretBook, Text, Value};
use petgraph::graph::NodeIndex;
use rustc_hash::FxHashMap as HashMap;
use schedule::Schedule;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use step::{lookup, prepare, prune_fresh, record, reveal_secrets, Call, Outcome, Prepared};
use tokio::task::JoinSet;

/// The longest a finished call's record waits for other calls to finish, to share their
/// append (see [`apply`]): at most as long as the last append took.
const GATHER_AT_MOST: Duration = Duration::from_millis(20);

/// How long a pending record written ahead of its call may wait for it: a call starts at
/// most this long after its record's `started_at_ms`. A run reading pending creates left by
/// another (after a crash, or a lock taken over) adds this to the provider's in-flight
/// window before it settles one as never made.
pub const WRITTEN_AHEAD_FOR: Duration = Duration::from_millis(500);

/// At most this many waves of calls (`parallelism` each) are recorded by one append: what
/// the next run may find pending, and must look up, after a crash. Only calls quicker than
/// 500 ms / 32 (16 ms) get that many; with a shared state store, where each append is a
/// request, it is what keeps a fan-out of 1,000 quick calls to a few appends.
pub const AHEAD_WAVES_AT_MOST: usize = 32;

/// How to apply.
#[derive(Clone)]
pub struct ApplyOptions {
    /// Provider calls in flight at once (default 10).
    pub parallelism: usize,
    /// Told of every step's start, progress and end (default [`NoopObserver`]).
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
    /// The provider call succeeded.
    Succeeded {
        /// From the call's start to its end, parked waits included.
        elapsed: Duration,
    },
    /// The step failed: its provider call failed, or its request could not be made (an
    /// attribute still unknown, a secret not given).
    Failed {
        /// What went wrong.
        error: String,
    },
    /// The step never started: a step it depends on failed, or it was never reached.
    Skipped {
        /// The failed step (`create aws_vpc.main failed`), or `not reached`.
        because: String,
    },
}

/// Everything an apply did.
#[derive(Clone, Debug, Default)]
pub struct ApplyReport {
    /// Every step of the apply graph and how it ended, in graph order.
    pub ops: Vec<(OpInfo, OpStatus)>,
    /// The stack's output values after apply (secrets as digests).
    pub outputs: BTreeMap<String, Value>,
    /// Wall-clock time of the whole apply.
    pub wall: Duration,
}

impl ApplyReport {
    /// The steps that succeeded.
    pub fn succeeded(&self) -> impl Iterator<Item = &OpInfo> {
        self.ops
            .iter()
            .filter(|(_, s)| matches!(s, OpStatus::Succeeded { .. }))
            .map(|(o, _)| o)
    }
    /// The steps that failed, each with its error.
    pub fn failed(&self) -> impl Iterator<Item = (&OpInfo, &str)> {
        self.ops.iter().filter_map(|(o, s)| match s {
            OpStatus::Failed { error } => Some((o, error.as_str())),
            _ => None,
        })
    }
    /// The steps skipped, each with the reason.
    pub fn skipped(&self) -> impl Iterator<Item = (&OpInfo, &str)> {
        self.ops.iter().filter_map(|(o, s)| match s {
            OpStatus::Skipped { because } => Some((o, because.as_str())),
            _ => None,
        })
    }
    /// True when every step succeeded (so also when there was nothing to do).
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
    /// The run's lease on state ran out before it could be renewed (the run was paused, or
    /// the store could not be reached): apply stopped at once, its calls in flight dropped
    /// and their pending records kept, since another run may take the state over.
    #[error("this run's lease on the state ran out before it could be renewed (the run was paused, or the store could not be reached); apply stopped before any further cloud call, and its pending operations are left for the next run to reconcile")]
    LeaseExpired,
}

/// Walk the plan. `session` must hold the lock and match the plan's state (the engine checks).
///
/// One scheduler loop: start what is ready (its pending records durable first), wait for a
/// call to finish or to park, record what finished, repeat until nothing is in flight.
pub async fn apply(
    plan: &Plan,
    provider: Arc<dyn Provider>,
    session: &mut dyn StateSession,
    opts: &ApplyOptions,
) -> Result<ApplyReport, ApplyError> {
    let started = Instant::now();
    let ag = ApplyGraph::build(plan)?;
    session.append(&plan.state_updates)?;
    let fresh = reveal_secrets(plan, provider.as_ref(), session).await;
    let schema = provider.schema().clone();
    let mut walk = Walk {
        plan,
        graph: &ag.graph,
        provider,
        session,
        opts,
        schedule: Schedule::new(&ag.graph, |op| {
            let type_name = plan.changes[op.change].type_name.as_str();
            schema
                .resources
                .get(type_name)
                .map_or(1000, |r| r.typical_duration.as_millis() as u64)
        }),
        fresh,
        batch: Vec::new(),
        recorded: Vec::new(),
        last_commit: Duration::ZERO,
        calls: HashMap::default(),
        in_flight: JoinSet::new(),
        slots: Arc::new(Slots::default()),
        ahead: VecDeque::new(),
        call_time: None,
        last_append: Instant::now(),
    };
    let lease = walk.session.lease();
    loop {
        // Nothing more is started, or waited for, once the lease has run out.
        if crate::state::now_ms() >= lease.expires_ms() {
            return Err(ApplyError::LeaseExpired);
        }
        walk.start_ready()?;
        if walk.in_flight.is_empty() {
            break;
        }
        // A lease that runs out (the run was paused, or could not renew) ends the walk at
        // once: its calls in flight are dropped, their pending records stay.
        let left = lease.expires_ms().saturating_sub(crate::state::now_ms());
        // A call parking in a waiter frees its slot: wake up and fill it.
        let first = tokio::select! {
            joined = walk.in_flight.join_next() => joined,
            _ = walk.slots.parked_changed() => continue,
            _ = tokio::time::sleep(std::time::Duration::from_millis(left)) => {
                if crate::state::now_ms() < lease.expires_ms() {
                    continue; // renewed meanwhile
                }
                return Err(ApplyError::LeaseExpired);
            }
        };
        let mut done = vec![first];
        while let Some(r) = walk.in_flight.try_join_next() {
            done.push(Some(r));
        }
        // Group commit: calls still running that finish within about one append's time
        // are recorded by the same append as this one, instead of one append each.
        // (Not below the timer's millisecond: an append that quick is not worth a wait.)
        // (None when the next calls were recorded ahead: they start without an append.)
        let gather = if walk.ahead.is_empty() {
            walk.last_commit.min(GATHER_AT_MOST)
        } else {
            Duration::ZERO
        };
        let until = tokio::time::Instant::now() + gather;
        while gather >= Duration::from_millis(1) && walk.in_flight.len() > walk.slots.parked() {
            match tokio::time::timeout_at(until, walk.in_flight.join_next()).await {
                Ok(Some(r)) => done.push(Some(r)),
                _ => break,
            }
        }
        for joined in done.into_iter().flatten() {
            match joined {
                Ok((n, result)) => walk.finished(n, result),
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
    }
    walk.finish(started)
}

/// One apply in progress.
struct Walk<'a> {
    plan: &'a Plan,
    graph: &'a petgraph::graph::DiGraph<Op, ()>,
    provider: Arc<dyn Provider>,
    session: &'a mut dyn StateSession,
    opts: &'a ApplyOptions,
    schedule: Schedule<'a>,
    /// Attributes of resources this run made or changed, for references not yet in state
    /// (or whose secrets state holds only as digests).
    fresh: HashMap<Text, Attrs>,
    /// State mutations not yet appended: written as one group commit per loop turn.
    batch: Vec<Mutation>,
    /// Addresses recorded by the last commit, to prune from `fresh`.
    recorded: Vec<Text>,
    /// How long the last append took.
    last_commit: Duration,
    /// Calls in flight: their pending record and when they started.
    calls: HashMap<NodeIndex, (PendingOperation, Instant)>,
    in_flight: JoinSet<(NodeIndex, Result<Outcome, ProviderError>)>,
    /// Calls parked in a waiter do not count against `parallelism`.
    slots: Arc<Slots>,
    /// Steps whose pending record is durable and whose call has not started: recorded
    /// ahead by an earlier append, oldest first.
    ahead: VecDeque<Prepared>,
    /// How long calls take (a moving average of the last ones): how far ahead to record.
    call_time: Option<Duration>,
    /// When the last append (with anything in it) was made.
    last_append: Instant,
}

impl Walk<'_> {
    fn info(&self, n: NodeIndex) -> OpInfo {
        op_info(self.plan, self.graph, n)
    }

    /// Start ready steps while slots are free.
    ///
    /// Invariant: a call starts only after its pending record and the results it takes as
    /// inputs are durable in state, and less than [`WRITTEN_AHEAD_FOR`] after that record
    /// was stamped, so a crash at any moment leaves a record of every call that may have
    /// reached the cloud, and whoever reads that record knows how long its call may still
    /// start. Calls recorded ahead start first, before this turn's append, so they run
    /// while it is written.
    fn start_ready(&mut self) -> Result<(), ApplyError> {
        let parallelism = self.opts.parallelism.max(1);
        let busy = |w: &Self| w.in_flight.len().saturating_sub(w.slots.parked());
        let now = crate::state::now_ms();
        let fresh_for = WRITTEN_AHEAD_FOR.as_millis() as u64;
        let mut i = 0;
        while busy(self) < parallelism && i < self.ahead.len() {
            if now < self.ahead[i].pending.started_at_ms + fresh_for {
                let p = self.ahead.remove(i).expect("in range");
                self.spawn(p);
            } else {
                i += 1;
            }
        }
        let free = parallelism.saturating_sub(busy(self));
        let mut recorded = false;
        if free > 0 {
            // With a slot free, whatever is still ahead is too old to start from: this
            // append stamps it again.
            for p in self.ahead.iter_mut() {
                p.pending.started_at_ms = crate::state::now_ms();
                self.batch.push(Mutation::Begin(p.pending.clone()));
                recorded = true;
            }
            let want = free + parallelism * (self.waves_ahead() - 1);
            while self.ahead.len() < want {
                let Some(n) = self.schedule.next_ready() else {
                    break;
                };
                let (plan, graph) = (self.plan, self.graph);
                match prepare(
                    plan,
                    graph[n],
                    n,
                    self.info(n),
                    &*self.session,
                    &self.fresh,
                    self.opts,
                ) {
                    Ok(p) => {
                        self.batch.push(Mutation::Begin(p.pending.clone()));
                        self.ahead.push_back(p);
                        recorded = true;
                    }
                    Err(error) => {
                        let info = |m| op_info(plan, graph, m);
                        self.schedule
                            .failed(n, error, &info, self.opts.observer.as_ref());
                    }
                }
            }
        }
        // Results alone wait for the next records (nothing starts on them: a dependent's
        // record goes with them), but never longer than a record written ahead may wait,
        // so quick calls share appends and slow ones are recorded as they end.
        if recorded || self.last_append.elapsed() >= WRITTEN_AHEAD_FOR {
            self.commit()?;
        }
        while busy(self) < parallelism {
            let Some(p) = self.ahead.pop_front() else {
                break;
            };
            self.spawn(p);
        }
        Ok(())
    }

    /// How many waves of calls one append records: as many as start within
    /// [`WRITTEN_AHEAD_FOR`] at the pace calls finish, one until that pace is known.
    fn waves_ahead(&self) -> usize {
        match self.call_time {
            Some(t) if t < WRITTEN_AHEAD_FOR => {
                let waves = WRITTEN_AHEAD_FOR.as_micros() / t.as_micros().max(1);
                (waves as usize).clamp(1, AHEAD_WAVES_AT_MOST)
            }
            _ => 1,
        }
    }

    /// Append the batch (if any) to state.
    fn commit(&mut self) -> Result<(), ApplyError> {
        if !self.batch.is_empty() {
            let started = Instant::now();
            self.session.append(&self.batch)?;
            self.last_commit = started.elapsed();
            self.last_append = started;
            self.batch.clear();
            prune_fresh(&mut self.fresh, &mut self.recorded);
        }
        Ok(())
    }

    fn spawn(&mut self, p: Prepared) {
        let observer = self.opts.observer.clone();
        observer.op_started(&p.info);
        self.calls.insert(p.node, (p.pending, Instant::now()));
        let provider = self.provider.clone();
        let (node, call, info) = (p.node, p.call, p.info);
        let slots = self.slots.clone();
        let lease = self.session.lease();
        self.in_flight.spawn(async move {
            let address = info.address.clone();
            let progress = Progress::new(move |m| observer.op_progress(&info, m))
                .with_slots(slots)
                .with_lease(lease);
            if let Err(e) = progress.may_call(&address) {
                return (node, Err(e));
            }
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

    /// Record how a call ended (appended with the next commit).
    ///
    /// Invariant: a success is recorded together with the settling of its pending record,
    /// in one batch; a failure whose outcome is unknown (a timeout, a lost answer) keeps its
    /// pending record, so the next run reconciles it with the cloud.
    fn finished(&mut self, n: NodeIndex, result: Result<Outcome, ProviderError>) {
        let op = self.graph[n];
        let change = &self.plan.changes[op.change];
        let (pending, started) = self
            .calls
            .remove(&n)
            .expect("started ops have a pending record");
        let elapsed = started.elapsed();
        self.call_time = Some(match self.call_time {
            Some(t) => (t * 3 + elapsed) / 4,
            None => elapsed,
        });
        let observer = self.opts.observer.clone();
        match result {
            Ok(outcome) => {
                record(
                    change,
                    op.kind,
                    &pending,
                    outcome,
                    &mut self.batch,
                    &mut self.fresh,
                );
                self.recorded.push(change.address.clone());
                self.batch.push(Mutation::Settle {
                    op_id: pending.op_id,
                });
                observer.op_finished(&self.info(n), elapsed);
                self.schedule.succeeded(n, elapsed);
            }
            Err(e) => {
                if !e.is_indeterminate() {
                    self.batch.push(Mutation::Settle {
                        op_id: pending.op_id,
                    });
                }
                let (plan, graph) = (self.plan, self.graph);
                let info = |m| op_info(plan, graph, m);
                self.schedule
                    .failed(n, e.to_string(), &info, observer.as_ref());
            }
        }
    }

    /// Outputs, the last commit, and the report.
    ///
    /// Outputs resolve what is known now and keep earlier values for what is not.
    fn finish(mut self, started: Instant) -> Result<ApplyReport, ApplyError> {
        // Recorded ahead but never started (nothing is left so unless the walk stopped
        // early): their records are settled, not left for the next run to look up.
        for p in std::mem::take(&mut self.ahead) {
            self.batch.push(Mutation::Settle {
                op_id: p.pending.op_id,
            });
        }
        let mut outputs = self.session.state().outputs.clone();
        for o in &self.plan.outputs {
            let v = o.value.resolve(&|r| lookup(r, &self.fresh, &*self.session));
            if !v.has_unresolved() {
                outputs.insert(o.name.clone(), v);
            }
        }
        outputs.retain(|k, _| self.plan.outputs.iter().any(|o| &o.name == k));
        if outputs != self.session.state().outputs {
            self.batch.push(Mutation::Outputs(outputs.clone()));
        }
        // Nothing starts after it: the store may write it with the final snapshot.
        self.session.append_last(&self.batch)?;
        let (plan, graph) = (self.plan, self.graph);
        let report = ApplyReport {
            ops: self
                .schedule
                .into_statuses()
                .into_iter()
                .enumerate()
                .map(|(i, s)| (op_info(plan, graph, NodeIndex::new(i)), s))
                .collect(),
            outputs: outputs
                .into_iter()
                .map(|(k, v)| (k, v.redacted()))
                .collect(),
            wall: started.elapsed(),
        };
        self.opts.observer.apply_finished(&report);
        Ok(report)
    }
}

fn op_info(plan: &Plan, g: &petgraph::graph::DiGraph<Op, ()>, n: NodeIndex) -> OpInfo {
    let op = g[n];
    let c = &plan.changes[op.change];
    OpInfo {
        address: c.address.clone(),
        origin: c.origin.clone(),
        kind: op.kind,
    }
}
