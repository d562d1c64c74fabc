//! Apply: end to end over the memory provider, failure isolation, drift, saved plans.

use crate::support::*;
use cairn_core::apply::{ApplyOptions, JsonEvents, OpKind};
use cairn_core::plan::{Action, Drift, Plan, PlanError};
use cairn_core::prelude::*;
use cairn_core::provider::ProviderError;
use cairn_core::testing::{CallKind, MemoryProvider};
use cairn_core::value::Value;
use cairn_core::EngineError;
use std::sync::Arc;

#[test]
fn apply_creates_everything_and_the_next_plan_is_empty() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let stack = full_stack();
    let plan = converge(&rt, &engine, &stack);
    assert_eq!(plan.summary.add, stack.resources().len());
    assert_eq!(mem.objects().len(), stack.resources().len());
    assert_converged(&rt, &engine, &stack);
    let state = engine.store().read().unwrap().unwrap();
    assert!(
        state.pending.is_empty(),
        "no operation may stay pending after a clean apply"
    );
    let endpoint = state
        .outputs
        .get("db_endpoint")
        .and_then(Value::as_str)
        .unwrap();
    assert!(endpoint.starts_with("orders."), "{endpoint}");
}

#[test]
fn refresh_reads_once_per_type() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let stack = full_stack();
    converge(&rt, &engine, &stack);
    let before = mem.read_requests();
    rt.block_on(engine.plan(&stack, &refresh())).unwrap();
    let types = stack
        .resources()
        .iter()
        .map(|d| d.kind())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert_eq!(
        mem.read_requests() - before,
        types + 1,
        "one batched read per resource type, and one for the certificate it names"
    );
}

#[test]
fn a_type_with_more_than_a_thousand_resources_is_read_in_chunks_and_still_whole() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let mut stack = Stack::new("many");
    let net = stack.add("net", Network::new("10.0.0.0/16"));
    for i in 0..2500 {
        stack.add(
            &format!("g{i}"),
            SecurityGroup::new(&net, "one of many")
                .ingress(Rule::tcp(443).from_cidr("10.0.0.0/16")),
        );
    }
    converge(&rt, &engine, &stack);
    // Drift on the last group of the last chunk and on one of the first.
    let objects = mem.objects();
    for address in ["mem_security_group.g999", "mem_security_group.g2499"] {
        let (id, _) = objects
            .iter()
            .find(|(_, o)| o.address == address)
            .expect("created");
        mem.edit(id, "description", Value::str("changed out of band"));
    }
    let before = mem.read_requests();
    let plan = rt.block_on(engine.plan(&stack, &refresh())).unwrap();
    assert_eq!(
        mem.read_requests() - before,
        1 + 3,
        "one read for the network, three chunks of at most 1,000 for the groups"
    );
    let drifted: Vec<&str> = plan
        .drift
        .iter()
        .filter_map(|d| match d {
            Drift::Changed { address, .. } => Some(address.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(drifted.len(), 2, "{:?}", plan.drift);
    assert_eq!(
        plan.summary.change + plan.summary.replace,
        2,
        "both drifted groups are put back"
    );
    assert_eq!(plan.summary.unchanged, 2499);
}

#[test]
fn a_failure_skips_dependents_and_independent_branches_finish() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let stack = full_stack();
    mem.fail(
        "mem_subnet.db-a",
        CallKind::Create,
        ProviderError::Api {
            address: "mem_subnet.db-a".into(),
            code: "InvalidSubnet.Conflict".into(),
            message: "boom".into(),
        },
    );
    let plan = rt.block_on(engine.plan(&stack, &refresh())).unwrap();
    let report = rt
        .block_on(engine.apply(&plan, &ApplyOptions::default()))
        .unwrap();
    assert!(!report.is_success());
    let failed: Vec<_> = report.failed().map(|(o, _)| o.address.clone()).collect();
    assert_eq!(failed, ["mem_subnet.db-a"]);
    let skipped: std::collections::BTreeSet<_> =
        report.skipped().map(|(o, _)| o.address.as_str()).collect();
    for dependent in [
        "mem_database.orders",
        "mem_broker.events",
        "mem_cache.sessions",
    ] {
        assert!(
            skipped.contains(dependent),
            "{dependent} depends on the failed subnet and must be skipped: {skipped:?}"
        );
    }
    let ok: std::collections::BTreeSet<_> =
        report.succeeded().map(|o| o.address.as_str()).collect();
    for independent in [
        "mem_load_balancer.web",
        "mem_subnet.db-b",
        "mem_secret.db-password",
        "mem_security_group.db",
    ] {
        assert!(
            ok.contains(independent),
            "{independent} does not depend on the failure and must be applied: {ok:?}"
        );
    }
    let text = report.to_string();
    assert!(
        text.contains("failed:  create mem_subnet.db-a")
            && text.contains("skipped: create mem_database.orders"),
        "{text}"
    );
    // State holds what succeeded and nothing pending for a definite failure.
    let state = engine.store().read().unwrap().unwrap();
    assert!(state.pending.is_empty());
    assert_eq!(state.live().count(), ok.len());
    // The next run finishes the job.
    mem.clear_failures();
    converge(&rt, &engine, &stack);
    assert_converged(&rt, &engine, &stack);
    assert_eq!(mem.objects().len(), stack.resources().len());
}

#[test]
fn drift_is_found_and_repaired() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let stack = full_stack();
    converge(&rt, &engine, &stack);
    let state = engine.store().read().unwrap().unwrap();
    let db_id = state.resources["mem_database.orders"].id.clone();
    let sg_id = state.resources["mem_security_group.lb"].id.clone();
    let lb_id = state.resources["mem_load_balancer.web"].id.clone();
    mem.edit(&db_id, "backup_retention_days", Value::Int(1));
    mem.remove(&sg_id);
    // Recreated out of band: same object back under a new id (same token, so plan sees it via id only).
    let lb = mem.remove(&lb_id).unwrap();
    let plan = rt.block_on(engine.plan(&stack, &refresh())).unwrap();
    assert!(plan.drift.iter().any(|d| matches!(d, Drift::Changed { address, changes, .. }
        if address == "mem_database.orders" && changes.iter().any(|c| c.name == "backup_retention_days"))), "{:?}", plan.drift);
    assert!(plan.drift.iter().any(
        |d| matches!(d, Drift::Deleted { address, .. } if address == "mem_security_group.lb")
    ));
    let action = |a: &str| plan.changes.iter().find(|c| c.address == a).unwrap().action;
    assert_eq!(action("mem_database.orders"), Action::Update);
    assert_eq!(action("mem_security_group.lb"), Action::Create);
    // The group's dependents reference its new id, which is unknown: group ids force replacement? no:
    // the app group's rules reference it and are updatable in place.
    assert_eq!(action("mem_security_group.app"), Action::Update);
    assert_eq!(action("mem_load_balancer.web"), Action::Create);
    drop(lb);
    let report = rt
        .block_on(engine.apply(&plan, &ApplyOptions::default()))
        .unwrap();
    assert!(report.is_success(), "{report}");
    assert_converged(&rt, &engine, &stack);
    let db = &mem.objects()[&db_id];
    assert_eq!(db.attrs["backup_retention_days"], Value::Int(30));
}

#[test]
fn saved_plans_apply_exactly_and_stale_plans_are_refused() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let stack = full_stack();
    let plan = rt.block_on(engine.plan(&stack, &refresh())).unwrap();
    let saved = plan.to_json();
    assert!(
        !saved.contains("S3cure-Cache-Token-42!"),
        "a saved plan must not hold a secret"
    );
    let loaded = Plan::from_json(&saved).unwrap();
    assert_eq!(loaded, plan);
    // Without the stack's secrets the given token cannot be sent: a clear error, not a leak.
    let report = rt
        .block_on(engine.apply(&loaded, &ApplyOptions::default()))
        .unwrap();
    let errors: Vec<_> = report.failed().map(|(_, e)| e.to_string()).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("mem_secret.cache-token") && e.contains("needs a secret")),
        "{errors:?}"
    );
    assert!(!errors.iter().any(|e| e.contains("S3cure")));
    // A second plan made before that apply is now stale.
    let sb2 = Sandbox::new();
    let engine2 = sb2.engine(&mem);
    let first = rt.block_on(engine2.plan(&stack, &refresh())).unwrap();
    let opts = ApplyOptions {
        secrets: stack.secret_values(),
        ..ApplyOptions::default()
    };
    let report = rt
        .block_on(engine2.apply(&Plan::from_json(&first.to_json()).unwrap(), &opts))
        .unwrap();
    assert!(report.is_success(), "{report}");
    match rt.block_on(engine2.apply(&first, &opts)) {
        Err(EngineError::Plan(PlanError::Stale { .. })) => {}
        other => panic!("a plan made against an older state must be refused, got {other:?}"),
    }
    assert_converged(&rt, &engine2, &stack);
    // Other format versions are refused.
    let bumped = first
        .to_json()
        .replace("\"format_version\": \"1.0\"", "\"format_version\": \"9.0\"");
    assert!(matches!(
        Plan::from_json(&bumped),
        Err(PlanError::Unreadable(_))
    ));
}

#[test]
fn destroy_removes_everything_in_reverse_order() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let stack = full_stack();
    converge(&rt, &engine, &stack);
    assert!(!engine.store().read().unwrap().unwrap().outputs.is_empty());
    let opts = cairn_core::plan::planner::PlanOptions {
        mode: cairn_core::plan::PlanMode::Destroy,
        refresh: true,
        ..Default::default()
    };
    let plan = rt.block_on(engine.plan(&stack, &opts)).unwrap();
    assert_eq!(plan.summary.destroy, stack.resources().len());
    assert!(plan.outputs.is_empty(), "a destroyed stack exports nothing");
    let pos = |a: &str| plan.changes.iter().position(|c| c.address == a).unwrap();
    assert!(
        pos("mem_database.orders") < pos("mem_subnet.db-a"),
        "dependents are listed before what they depend on"
    );
    let events = Arc::new(Recorder::default());
    let report = rt
        .block_on(engine.apply(
            &plan,
            &ApplyOptions {
                observer: events.clone(),
                ..Default::default()
            },
        ))
        .unwrap();
    assert!(report.is_success(), "{report}");
    assert!(mem.objects().is_empty());
    let order = events.finished.lock().unwrap().clone();
    let at = |a: &str| order.iter().position(|x| x == a).unwrap();
    assert!(
        at("mem_database.orders") < at("mem_subnet.db-a")
            && at("mem_subnet.db-a") < at("mem_network.main")
    );
    assert!(report.outputs.is_empty(), "{:?}", report.outputs);
    let state = engine.store().read().unwrap().unwrap();
    assert!(state.resources.is_empty() && state.outputs.is_empty());
}

#[test]
fn targets_limit_the_plan_to_a_resource_and_its_dependencies() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let stack = full_stack();
    let opts = cairn_core::plan::planner::PlanOptions {
        targets: vec!["database.orders".into()],
        refresh: true,
        ..Default::default()
    };
    let plan = rt.block_on(engine.plan(&stack, &opts)).unwrap();
    let created: std::collections::BTreeSet<_> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Create)
        .map(|c| c.address.as_str())
        .collect();
    for a in [
        "mem_database.orders",
        "mem_subnet.db-a",
        "mem_security_group.db",
        "mem_security_group.app",
        "mem_secret.db-password",
        "mem_network.main",
    ] {
        assert!(created.contains(a), "{a} missing from {created:?}");
    }
    assert!(!created.contains("mem_load_balancer.web") && !created.contains("mem_cache.sessions"));
    let bad = cairn_core::plan::planner::PlanOptions {
        targets: vec!["nope".into()],
        ..Default::default()
    };
    assert!(matches!(
        rt.block_on(engine.plan(&stack, &bad)),
        Err(EngineError::Plan(PlanError::UnknownTarget(_)))
    ));
}

#[test]
fn import_adopts_an_existing_object() {
    let (rt, mem) = (rt(), MemoryProvider::new());
    let stack = full_stack();
    let first = Sandbox::new();
    converge(&rt, &first.engine(&mem), &stack);
    let net_id = first
        .engine(&mem)
        .store()
        .read()
        .unwrap()
        .unwrap()
        .resources["mem_network.main"]
        .id
        .clone();
    let sb = Sandbox::new();
    let engine = sb.engine(&mem);
    let rs = rt
        .block_on(engine.import(&stack, "mem_network.main", &net_id))
        .unwrap();
    assert_eq!(rs.id, net_id);
    let plan = rt.block_on(engine.plan(&stack, &refresh())).unwrap();
    assert_eq!(
        plan.changes
            .iter()
            .find(|c| c.address == "mem_network.main")
            .unwrap()
            .action,
        Action::NoOp
    );
    assert!(matches!(
        rt.block_on(engine.import(&stack, "mem_network.main", &net_id)),
        Err(EngineError::Import { .. })
    ));
    assert!(matches!(
        rt.block_on(engine.import(&stack, "mem_network.nope", &net_id)),
        Err(EngineError::Import { .. })
    ));
}

#[test]
fn json_events_describe_every_step() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let stack = full_stack();
    let plan = rt.block_on(engine.plan(&stack, &refresh())).unwrap();
    let events = Arc::new(JsonEvents::new(Vec::<u8>::new()));
    let report = rt
        .block_on(engine.apply(
            &plan,
            &ApplyOptions {
                observer: events.clone(),
                ..Default::default()
            },
        ))
        .unwrap();
    assert!(report.is_success());
    let out = String::from_utf8(Arc::try_unwrap(events).ok().unwrap().into_inner()).unwrap();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |e: &str| lines.iter().filter(|l| l["event"] == e).count();
    assert_eq!(count("op_started"), stack.resources().len());
    assert_eq!(count("op_finished"), stack.resources().len());
    assert_eq!(lines.last().unwrap()["event"], "apply_finished");
    assert!(!out.contains("S3cure"));
}

#[test]
fn latency_and_rate_limits_are_survived_with_bounded_concurrency() {
    let (rt, sb) = (rt(), Sandbox::new());
    let mem = MemoryProvider::new()
        .latency(std::time::Duration::from_millis(5))
        .rate_limit(200.0, 5.0);
    let engine = sb.engine(&mem);
    let mut stack = Stack::new("wide");
    let net = stack.add("main", Network::new("10.0.0.0/16"));
    for i in 0..40 {
        stack.add(
            &format!("sg-{i}"),
            SecurityGroup::new(&net, "fanout").ingress(Rule::tcp(443).from_cidr("10.0.0.0/16")),
        );
    }
    let plan = rt.block_on(engine.plan(&stack, &refresh())).unwrap();
    let events = Arc::new(Recorder::default());
    let opts = ApplyOptions {
        parallelism: 4,
        observer: events.clone(),
        ..Default::default()
    };
    let report = rt.block_on(engine.apply(&plan, &opts)).unwrap();
    assert!(report.is_success(), "{report}");
    assert!(
        events.max_in_flight() <= 4,
        "parallelism 4 was exceeded: {}",
        events.max_in_flight()
    );
    assert!(
        events.max_in_flight() >= 2,
        "independent resources should run concurrently"
    );
    assert!(
        mem.throttled() > 0,
        "a 200/s limit with 41 quick calls must throttle some"
    );
    assert_eq!(mem.objects().len(), 41);
}

#[test]
fn calls_parked_in_waiters_free_their_slots() {
    let (rt, sb) = (rt(), Sandbox::new());
    let mem = MemoryProvider::new()
        .latency(std::time::Duration::from_millis(5))
        .settle(std::time::Duration::from_millis(600));
    let engine = sb.engine(&mem);
    let mut stack = Stack::new("waits");
    let net = stack.add("main", Network::new("10.0.0.0/16"));
    for i in 0..12 {
        stack.add(
            &format!("sg-{i}"),
            SecurityGroup::new(&net, "slow").ingress(Rule::tcp(443).from_cidr("10.0.0.0/16")),
        );
    }
    let plan = rt.block_on(engine.plan(&stack, &refresh())).unwrap();
    let events = Arc::new(Recorder::default());
    let opts = ApplyOptions {
        parallelism: 2,
        observer: events.clone(),
        ..Default::default()
    };
    let report = rt.block_on(engine.apply(&plan, &opts)).unwrap();
    assert!(report.is_success(), "{report}");
    assert!(
        mem.busy_peak() <= 2,
        "parallelism 2 bounds busy calls, saw {}",
        mem.busy_peak()
    );
    assert!(
        events.max_in_flight() >= 8,
        "waiting creates should not hold slots: only {} were in flight at once",
        events.max_in_flight()
    );
    assert_eq!(mem.objects().len(), 13);
}

/// Records the order of finished operations and concurrency.
#[derive(Default)]
pub struct Recorder {
    pub finished: std::sync::Mutex<Vec<String>>,
    pub kinds: std::sync::Mutex<Vec<(String, OpKind)>>,
    in_flight: std::sync::atomic::AtomicUsize,
    max: std::sync::atomic::AtomicUsize,
}

impl Recorder {
    pub fn max_in_flight(&self) -> usize {
        self.max.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl cairn_core::apply::Observer for Recorder {
    fn op_started(&self, _op: &cairn_core::apply::OpInfo) {
        use std::sync::atomic::Ordering::SeqCst;
        let n = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.max.fetch_max(n, SeqCst);
    }
    fn op_finished(&self, op: &cairn_core::apply::OpInfo, _: std::time::Duration) {
        self.in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.finished.lock().unwrap().push(op.address.to_string());
        self.kinds
            .lock()
            .unwrap()
            .push((op.address.to_string(), op.kind));
    }
}

/// The memory provider, checking at every create, as another process reading the store
/// would, that the call's pending record and its dependency's result are durable already.
#[derive(Debug)]
struct Witness {
    inner: MemoryProvider,
    store: Arc<dyn cairn_core::state::StateStore>,
    checked: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl cairn_core::provider::Provider for Witness {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn schema(&self) -> &cairn_core::provider::ProviderSchema {
        self.inner.schema()
    }
    fn lower(
        &self,
        req: cairn_core::provider::LowerRequest<'_>,
    ) -> Result<cairn_core::provider::LowerResponse, Vec<cairn_core::invalid::Invalid>> {
        self.inner.lower(req)
    }
    async fn read(
        &self,
        req: cairn_core::provider::ReadRequest,
    ) -> Result<cairn_core::provider::ReadResponse, ProviderError> {
        self.inner.read(req).await
    }
    async fn create(
        &self,
        req: cairn_core::provider::CreateRequest,
    ) -> Result<cairn_core::provider::CreateResponse, ProviderError> {
        let state = self.store.read().unwrap().expect("a state exists");
        assert!(
            state.pending.values().any(|p| p.address == req.address),
            "{} is created before its pending record is durable",
            req.address
        );
        if req.type_name.as_str() != "mem_network" {
            assert!(
                state
                    .resources
                    .values()
                    .any(|r| r.type_name.as_str() == "mem_network"),
                "{} is created before the network it names is recorded",
                req.address
            );
        }
        self.checked
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.create(req).await
    }
    async fn update(
        &self,
        req: cairn_core::provider::UpdateRequest,
    ) -> Result<cairn_core::provider::UpdateResponse, ProviderError> {
        self.inner.update(req).await
    }
    async fn delete(
        &self,
        req: cairn_core::provider::DeleteRequest,
    ) -> Result<cairn_core::provider::DeleteResponse, ProviderError> {
        self.inner.delete(req).await
    }
    async fn import(
        &self,
        req: cairn_core::provider::ImportRequest,
    ) -> Result<cairn_core::provider::ImportResponse, ProviderError> {
        self.inner.import(req).await
    }
    async fn inventory(
        &self,
        req: cairn_core::provider::InventoryRequest,
    ) -> Result<cairn_core::provider::InventoryResponse, ProviderError> {
        self.inner.inventory(req).await
    }
}

#[test]
fn every_call_starts_after_its_pending_record_and_its_inputs_are_durable() {
    use cairn_core::state::remote::MemoryBlobs;
    use cairn_core::state::RemoteStore;
    let n = 200;
    let mut stack = Stack::new("wide");
    let net = stack.add("root", Network::new("10.0.0.0/16"));
    for i in 0..n {
        stack.add(
            &format!("c{i}"),
            SecurityGroup::new(&net, "child").ingress(Rule::tcp(443).from_cidr("10.0.0.0/16")),
        );
    }
    let store: Arc<dyn cairn_core::state::StateStore> =
        Arc::new(RemoteStore::new(MemoryBlobs::new()).unwrap());
    let witness = Arc::new(Witness {
        inner: MemoryProvider::new(),
        store: store.clone(),
        checked: Default::default(),
    });
    let engine = cairn_core::Engine::new(witness.clone(), store.clone());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let plan = rt
        .block_on(engine.plan(&stack, &cairn_core::plan::planner::PlanOptions::default()))
        .unwrap();
    let report = rt
        .block_on(engine.apply(&plan, &ApplyOptions::default()))
        .unwrap();
    assert!(report.is_success(), "{report}");
    assert_eq!(
        witness.checked.load(std::sync::atomic::Ordering::SeqCst),
        n + 1,
        "every create was checked"
    );
    let state = store.read().unwrap().unwrap();
    assert!(state.pending.is_empty(), "every record settled");
    assert_eq!(state.resources.len(), n + 1);
}
