//! The engine: what a program embedding cairn calls.
//!
//! `plan` = validate -> lower -> build graph -> refresh (batched by type, reconciling any
//! operation a crash left pending) -> diff. `apply` takes a plan and nothing else: it locks
//! state, refuses a stale plan, and walks the plan's own graph.
//!
//! Beside this facade: `refresh.rs` (batched reads and the reconciliation of pending
//! operations), `locking.rs` (taking the lock and keeping its lease) and `existing.rs`
//! (objects a stack names without managing them).

use crate::apply::{self, ApplyError, ApplyOptions, ApplyReport};
use crate::drift::DriftReport;
pub use crate::fit::provider_fit;
use crate::graph::ResourceGraph;
use crate::invalid::{Invalid, ValidationErrors};
use crate::model::Stack;
use crate::plan::planner::{self, PlanInput, PlanOptions};
use crate::plan::{AttrChange, Drift, Plan, PlanError, PlanMode};
use crate::provider::*;
use crate::state::{
    Mutation, OperationKind, PendingOperation, ResourceState, State, StateError, StateStore,
};
use crate::validate::validate;
use crate::value::{AttrRef, Text, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

mod existing;
mod locking;
mod refresh;

/// Errors of engine operations.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The stack (or its lowering) is invalid; nothing was sent to the cloud.
    #[error("{0}")]
    Invalid(ValidationErrors),
    /// The plan cannot be made (a protected resource would go) or used (stale, wrong stack).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The state store refused or failed (locked, corrupt, foreign, I/O).
    #[error(transparent)]
    State(#[from] StateError),
    /// Some resources could not be read; the plan would be built on guesses.
    #[error("refresh failed for {} resource(s):\n{}", failures.len(), failures.iter().map(|(a, e)| format!("  - {a}: {e}")).collect::<Vec<_>>().join("\n"))]
    Refresh {
        /// Each unreadable resource's address and the error its read returned.
        failures: Vec<(String, ProviderError)>,
    },
    /// A provider call outside apply failed (import).
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Apply stopped as a whole (state could not be recorded).
    #[error(transparent)]
    Apply(ApplyError),
    /// The provider could not list what the cloud holds for the stack (`inventory`): the
    /// inventory proves nothing.
    #[error(
        "listing what the cloud holds for stack {stack} failed: {}",
        listing_failure(error)
    )]
    Inventory {
        /// The stack whose objects were being listed.
        stack: String,
        /// What the provider's listing met; a call that "may have happened" changed
        /// nothing here, since a listing only reads.
        error: ProviderError,
    },
    /// `import` was asked for an address the stack does not declare, or one already managed.
    #[error("cannot import {address}: {reason}")]
    Import {
        /// The address asked for.
        address: String,
        /// Why it cannot be imported.
        reason: String,
    },
}

/// A listing's failure as a person should read it: a call cut short "may have happened"
/// only where it could change something, and a listing changes nothing.
fn listing_failure(e: &ProviderError) -> String {
    match e {
        ProviderError::Indeterminate { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

impl From<ApplyError> for EngineError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::Plan(p) => EngineError::Plan(p),
            other => EngineError::Apply(other),
        }
    }
}

/// What a refresh found.
#[derive(Debug, Default)]
pub struct Refreshed {
    /// State with every correction applied.
    pub state: Option<State>,
    /// What the cloud changed behind state's back, and interrupted creates adopted.
    pub drift: Vec<Drift>,
    /// The corrections, to be recorded by apply.
    pub updates: Vec<Mutation>,
    /// Resources that could not be read.
    pub failures: Vec<(String, ProviderError)>,
    /// Provider read requests made (one per type and kind of lookup).
    pub read_requests: usize,
}

/// Plans and applies stacks with one provider and one state store.
#[derive(Debug, Clone)]
pub struct Engine {
    provider: Arc<dyn Provider>,
    store: Arc<dyn StateStore>,
    read_parallelism: usize,
    notices: Option<NoticeSink>,
}

/// Where an engine's notices go (see [`Engine::with_notices`]).
#[derive(Clone)]
struct NoticeSink(Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for NoticeSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoticeSink")
    }
}

impl std::ops::Deref for NoticeSink {
    type Target = dyn Fn(&str) + Send + Sync;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

/// Builds an [`Engine`]: see [`Engine::builder`].
#[derive(Debug)]
pub struct EngineBuilder {
    engine: Engine,
}

impl EngineBuilder {
    /// Where notices go (see [`Engine::with_notices`]); dropped without one.
    pub fn notices(mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.engine = self.engine.with_notices(sink);
        self
    }

    /// Read requests in flight at once during refresh (10 by default).
    pub fn read_parallelism(mut self, requests: usize) -> Self {
        self.engine.read_parallelism = requests.max(1);
        self
    }

    /// The engine.
    pub fn build(self) -> Engine {
        self.engine
    }
}

impl Engine {
    /// The way in: an engine for `provider` (a cloud's provider crate, such as
    /// `cairn_aws::AwsProvider::from_env()`) keeping state at `state`: a path (a local
    /// file, as `cairn` keeps at `.cairn/<stack>.<cloud>.state.json`) or any
    /// [`StateStore`].
    ///
    /// ```
    /// use cairn_core::prelude::*;
    /// # let provider = cairn_core::testing::MemoryProvider::new();
    /// let dir = tempfile::tempdir()?;
    /// let engine = Engine::builder(provider, dir.path().join("shop.state.json"))
    ///     .notices(|note| eprintln!("note: {note}"))
    ///     .build();
    /// # let _ = engine;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(
        provider: impl Provider + 'static,
        state: impl crate::state::IntoStateStore,
    ) -> EngineBuilder {
        EngineBuilder {
            engine: Engine::new(Arc::new(provider), state.into_state_store()),
        }
    }

    /// An engine for a shared provider and store (see [`Engine::builder`]).
    pub fn new(provider: Arc<dyn Provider>, store: Arc<dyn StateStore>) -> Self {
        Engine {
            provider,
            store,
            read_parallelism: 10,
            notices: None,
        }
    }

    /// Where to send notices: things a person should know although nothing failed (a dead
    /// run's lock taken over, a torn journal record dropped, a wait for creates an
    /// interrupted run may still have in flight). Without a sink they are dropped.
    pub fn with_notices(mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.notices = Some(NoticeSink(Arc::new(sink)));
        self
    }

    /// The provider this engine lowers with and calls.
    pub fn provider(&self) -> &Arc<dyn Provider> {
        &self.provider
    }

    /// Where this engine keeps state.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// Validate the stack, lower it with the provider and build the checked graph. No
    /// cloud call is made.
    pub fn lower(&self, stack: &Stack) -> Result<ResourceGraph, EngineError> {
        self.check(stack)?;
        self.lower_checked(stack)
    }

    /// Validation and the provider's fit: every finding about the declaration that needs
    /// no lowering.
    fn check(&self, stack: &Stack) -> Result<(), EngineError> {
        validate(stack).map_err(EngineError::Invalid)?;
        let misfits = provider_fit(stack, self.provider.name(), self.provider.schema());
        if !misfits.is_empty() {
            return Err(EngineError::Invalid(ValidationErrors(misfits)));
        }
        Ok(())
    }

    /// [`Engine::lower`] after [`Engine::check`].
    fn lower_checked(&self, stack: &Stack) -> Result<ResourceGraph, EngineError> {
        let mut lowered = self
            .provider
            .lower(LowerRequest { stack })
            .map_err(|e| EngineError::Invalid(ValidationErrors(e)))?;
        // Only outputs read exports: the others are let go before the graph is built.
        let named: rustc_hash::FxHashSet<(&str, &str)> = stack
            .outputs()
            .iter()
            .map(|o| (o.value.resource.as_str(), o.value.attr.as_str()))
            .collect();
        lowered
            .exports
            .retain(|e| named.contains(&(e.resource.as_str(), e.attr.as_str())));
        let mut graph = ResourceGraph::build(
            stack,
            self.provider.schema(),
            lowered.resources,
            lowered.exports,
        )
        .map_err(|e| EngineError::Invalid(ValidationErrors(e)))?;
        graph.notes = lowered.notes;
        graph.existing = lowered.existing;
        let mut errors = Vec::new();
        for o in stack.outputs() {
            if !graph
                .exports
                .iter()
                .any(|e| e.resource == o.value.resource && e.attr == o.value.attr)
            {
                errors.push(Invalid::new(
                    format!("output.{}", o.name),
                    "value",
                    format!(
                        "provider {} does not export {}",
                        self.provider.name(),
                        o.value
                    ),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(EngineError::Invalid(ValidationErrors(errors)));
        }
        Ok(graph)
    }

    /// Read the stored state, refusing one that belongs to another stack or provider.
    pub fn read_state(&self, stack: &str) -> Result<Option<State>, EngineError> {
        let state = self.store.read();
        self.relay_store_notices();
        let state = state?;
        if let Some(s) = &state {
            if s.stack != stack || s.provider != self.provider.name() {
                return Err(StateError::Foreign {
                    location: self.store.location(),
                    reason: format!(
                        "it belongs to stack {:?} on {:?}, not {stack:?} on {:?}",
                        s.stack,
                        s.provider,
                        self.provider.name()
                    ),
                }
                .into());
            }
        }
        Ok(state)
    }

    /// Compute a plan. Reads state without locking; nothing is written.
    pub async fn plan(&self, stack: &Stack, options: &PlanOptions) -> Result<Plan, EngineError> {
        // State is read (and its file's bytes let go) before the lowered graph exists: a
        // large plan then never holds both at once. The declaration's own findings still
        // come first.
        self.check(stack)?;
        let stored = self.read_state(stack.name())?;
        let mut graph = self.lower_checked(stack)?;
        if options.refresh && options.mode != PlanMode::Destroy {
            self.check_existing(stack.name(), &graph.existing).await?;
        }
        let base = stored.as_ref().map(|s| (s.lineage.clone(), s.serial));
        let mut refreshed = Refreshed::default();
        let state = match stored {
            Some(s) if options.refresh || !s.pending.is_empty() => {
                refreshed = self.refresh(s, Some(&graph), options.refresh).await;
                if !refreshed.failures.is_empty() {
                    return Err(EngineError::Refresh {
                        failures: refreshed.failures,
                    });
                }
                refreshed.state.take().expect("refresh returns the state")
            }
            Some(s) => s,
            None => State::new(stack.name(), self.provider.name()),
        };
        let outputs = stack
            .outputs()
            .iter()
            .map(|o| {
                let v = graph
                    .exports
                    .iter()
                    .find(|e| e.resource == o.value.resource && e.attr == o.value.attr)
                    .map(|e| e.value.clone());
                (o.name.clone(), v.unwrap_or(Value::Unknown), o.sensitive)
            })
            .collect();
        let stack_digest = if options.digest {
            graph.digest(stack)
        } else {
            String::new()
        };
        let plan = planner::plan(
            PlanInput {
                stack: stack.name(),
                provider: self.provider.name(),
                graph: &mut graph,
                schema: self.provider.schema(),
                state: &state,
                base: base.as_ref().map(|(l, s)| (l.as_str(), *s)),
                drift: refreshed.drift,
                state_updates: refreshed.updates,
                outputs,
                stack_digest,
            },
            options,
        )?;
        Ok(plan)
    }

    /// Seal a plan for saving, under the plan key of the state it was made against, and
    /// return the text to save. A plan made before any state existed gets one: the state
    /// is created empty (that is all `cairn plan --out` ever writes) and the plan rebased
    /// on it, which changes nothing it says.
    pub fn save_plan(&self, plan: &mut Plan) -> Result<String, EngineError> {
        if plan.stack_digest.is_empty() {
            return Err(PlanError::NoDigest.into());
        }
        let mut state = self.read_state(&plan.stack)?;
        if state.as_ref().is_none_or(|s| s.plan_key.is_empty()) {
            let mut session = self.store.lock("plan")?;
            self.relay_store_notices();
            let init = session.init(&plan.stack, &plan.provider);
            session.unlock()?;
            init?;
            state = self.read_state(&plan.stack)?;
        }
        let state = state.ok_or_else(|| StateError::Backend {
            location: self.store.location(),
            message: "the state created to seal the plan cannot be read back".into(),
        })?;
        if plan.state_lineage.is_none() {
            if !state.resources.is_empty() || !state.pending.is_empty() {
                return Err(PlanError::Stale {
                    planned: "(none)".into(),
                    current: format!("{} serial {}", state.lineage, state.serial),
                }
                .into());
            }
            plan.state_lineage = Some(state.lineage.clone());
            plan.state_serial = state.serial;
        }
        plan.seal_with(&state.plan_key);
        Ok(plan.to_json())
    }

    /// Read a saved plan and check that it may be applied to `stack`: it carries a valid
    /// seal of the state it was made against (nothing in it was changed since), and it was
    /// made from this declaration of the stack. Whether the state moved on since is checked
    /// again under the lock by [`Engine::apply`].
    pub fn open_plan(&self, text: &str, stack: &Stack) -> Result<Plan, EngineError> {
        let plan = Plan::from_json(text)?;
        if plan.stack != stack.name() || plan.provider != self.provider.name() {
            return Err(PlanError::WrongStack {
                planned: format!("stack {} on {}", plan.stack, plan.provider),
                current: format!("stack {} on {}", stack.name(), self.provider.name()),
            }
            .into());
        }
        let state = self.read_state(stack.name())?;
        let current = state.as_ref().map(|s| (s.lineage.clone(), s.serial));
        match &state {
            Some(s) if plan.state_lineage.as_deref() == Some(s.lineage.as_str()) => {
                if s.plan_key.is_empty() {
                    // Written before plans were sealed: no plan can have been sealed for it.
                    return Err(PlanError::Tampered(
                        "its state has no plan key yet, so nothing sealed it".into(),
                    )
                    .into());
                }
                plan.verify_seal(&s.plan_key)?
            }
            _ => {
                let show = |s: Option<(String, u64)>| {
                    s.map_or("(none)".to_string(), |(l, n)| format!("{l} serial {n}"))
                };
                return Err(PlanError::Stale {
                    planned: show(plan.state_lineage.clone().map(|l| (l, plan.state_serial))),
                    current: show(current),
                }
                .into());
            }
        }
        let digest = self.lower(stack)?.digest(stack);
        if plan.stack_digest != digest {
            return Err(PlanError::StackChanged {
                stack: stack.name().to_string(),
                planned: plan.stack_digest.clone(),
                current: digest,
            }
            .into());
        }
        Ok(plan)
    }

    /// Check for drift without changing anything: no lock, no state write, reads only.
    /// See [`crate::drift`]. A stack never applied reports every resource as unapplied.
    pub async fn drift(&self, stack: &Stack) -> Result<DriftReport, EngineError> {
        // In a plan's order (see `plan`).
        self.check(stack)?;
        let stored = self.read_state(stack.name())?;
        let mut graph = self.lower_checked(stack)?;
        let base = stored.as_ref().map(|s| (s.lineage.clone(), s.serial));
        let state = stored.unwrap_or_else(|| State::new(stack.name(), self.provider.name()));
        let checked = state.live().count();
        let refreshed = self.refresh(state, Some(&graph), true).await;
        let failures: Vec<(String, String)> = refreshed
            .failures
            .iter()
            .map(|(a, e)| (a.clone(), e.to_string()))
            .collect();
        // What the stack still wants changed, on the refreshed state (only when every read
        // worked: a plan on guesses would report phantom differences).
        let plan = match &refreshed.state {
            Some(state) if failures.is_empty() => Some(planner::plan(
                PlanInput {
                    stack: stack.name(),
                    provider: self.provider.name(),
                    graph: &mut graph,
                    schema: self.provider.schema(),
                    state,
                    base: base.as_ref().map(|(l, s)| (l.as_str(), *s)),
                    drift: vec![],
                    state_updates: vec![],
                    outputs: vec![],
                    stack_digest: String::new(),
                },
                &PlanOptions::default(),
            )?),
            _ => None,
        };
        let ignored = |address: &str, field: &str| {
            graph.get(address).is_some_and(|d| {
                d.lifecycle
                    .ignore_changes
                    .iter()
                    .any(|f| f == "*" || f == field)
            })
        };
        Ok(DriftReport::new(
            stack.name(),
            self.provider.name(),
            checked,
            &refreshed.drift,
            plan.as_ref(),
            &failures,
            ignored,
        ))
    }

    /// Report something a person should know although nothing failed.
    fn notify(&self, message: &str) {
        if let Some(f) = &self.notices {
            f(message);
        }
    }

    /// Pass on what the state store had to say.
    fn relay_store_notices(&self) {
        for n in self.store.take_notices() {
            self.notify(&n);
        }
    }

    /// Apply a plan. Locks state for the duration; refuses a plan made against another state.
    pub async fn apply(
        &self,
        plan: &Plan,
        options: &ApplyOptions,
    ) -> Result<ApplyReport, EngineError> {
        if plan.provider != self.provider.name() {
            return Err(PlanError::WrongStack {
                planned: format!("provider {}", plan.provider),
                current: format!("provider {}", self.provider.name()),
            }
            .into());
        }
        let session = self
            .lock_state(if plan.mode == PlanMode::Destroy {
                "destroy"
            } else {
                "apply"
            })
            .await;
        self.relay_store_notices();
        let mut session = session?;
        let stored = (!session.state().lineage.is_empty())
            .then(|| (session.state().lineage.clone(), session.state().serial));
        let planned = plan.state_lineage.clone().map(|l| (l, plan.state_serial));
        if stored != planned {
            let show = |s: &Option<(String, u64)>| {
                s.as_ref()
                    .map_or("(none)".to_string(), |(l, n)| format!("{l} serial {n}"))
            };
            let err = PlanError::Stale {
                planned: show(&planned),
                current: show(&stored),
            };
            session.unlock()?;
            return Err(err.into());
        }
        if let Err(e) = session.init(&plan.stack, &plan.provider) {
            let _ = session.unlock();
            return Err(e.into());
        }
        let beat = self.heartbeat(session.as_ref());
        let result = apply::apply(plan, self.provider.clone(), session.as_mut(), options).await;
        self.stop_heartbeat(beat);
        match result {
            Ok(report) => {
                session.unlock()?;
                Ok(report)
            }
            // State could not be written, or may be another run's by now: leave the lock
            // (the store needs attention, or it is no longer this run's to release).
            Err(e @ (ApplyError::State(_) | ApplyError::LeaseExpired)) => {
                Err(EngineError::Apply(e))
            }
            Err(e) => {
                let _ = session.unlock();
                Err(e.into())
            }
        }
    }

    /// Bring an existing cloud object under management at `address`.
    pub async fn import(
        &self,
        stack: &Stack,
        address: &str,
        id: &str,
    ) -> Result<ResourceState, EngineError> {
        let graph = self.lower(stack)?;
        let desired = graph.get(address).ok_or_else(|| EngineError::Import {
            address: address.to_string(),
            reason: "the stack declares no such resource (see `cairn plan` for addresses)".into(),
        })?;
        // What the declaration already pins down, resolved against state (read, not locked:
        // the lock is taken for the write below).
        let recorded = self.read_state(stack.name())?;
        let lookup = |r: &AttrRef| {
            let v = recorded
                .as_ref()?
                .resources
                .get(r.address.as_str())?
                .attrs
                .get(r.attr.as_str())?;
            (!v.has_unresolved()).then(|| v.clone())
        };
        let known = desired
            .concrete
            .attrs
            .iter()
            .map(|(k, v)| (k.clone(), v.resolve_known(&lookup)))
            .filter(|(_, v)| !v.has_unresolved())
            .collect();
        let resp = self
            .provider
            .import(ImportRequest {
                stack: stack.name().to_string(),
                address: address.into(),
                type_name: desired.concrete.type_name.clone(),
                id: id.into(),
                known,
            })
            .await?;
        let session = self.lock_state("import").await;
        self.relay_store_notices();
        let mut session = session?;
        if let Err(e) = session.init(stack.name(), self.provider.name()) {
            let _ = session.unlock();
            return Err(e.into());
        }
        if session
            .state()
            .resources
            .get(address)
            .is_some_and(|r| !r.id.is_empty())
        {
            session.unlock()?;
            return Err(EngineError::Import {
                address: address.to_string(),
                reason: "state already manages it".into(),
            });
        }
        let rs = ResourceState {
            address: address.into(),
            type_name: desired.concrete.type_name.clone(),
            origin: desired.origin_address.clone(),
            id: id.into(),
            attrs: resp.attrs,
            deps: desired.deps.clone(),
            protect: desired.lifecycle.protect,
            deposed: vec![],
        };
        session.append(&[Mutation::Put(rs.clone())])?;
        session.unlock()?;
        Ok(rs)
    }
}
