//! Lifecycle options and secrets.

use crate::apply::Recorder;
use crate::support::*;
use cairn_core::apply::{ApplyOptions, OpKind};
use cairn_core::plan::{Action, PlanError, Step};
use cairn_core::prelude::*;
use cairn_core::testing::MemoryProvider;
use cairn_core::value::Value;
use cairn_core::EngineError;
use std::sync::Arc;

fn small(db_protect: bool, storage_encrypted: bool, cbd: bool, retention: u32) -> Stack {
    let mut s = Stack::new("life");
    let net = s.add("main", Network::new("10.0.0.0/16"));
    let a = s.add("a", Subnet::new(&net, "10.0.1.0/24").zone(0));
    let b = s.add("b", Subnet::new(&net, "10.0.2.0/24").zone(1));
    let pw = s.add("pw", Secret::generated());
    let mut db = Database::postgres("15")
        .admin_password(&pw)
        .subnets([&a, &b])
        .encrypted(storage_encrypted)
        .backup_retention_days(retention);
    db = db.set_protect(db_protect);
    if cbd {
        db = db.create_before_destroy();
    }
    s.add("db", db);
    s
}

#[test]
fn protect_refuses_replace_and_survives_removal_from_code() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    converge(&rt, &engine, &small(true, true, false, 7));
    assert!(
        engine.store().read().unwrap().unwrap().resources["mem_database.db"].protect,
        "protect is recorded in state"
    );
    // A change that forces replacement is refused.
    match rt.block_on(engine.plan(&small(true, false, false, 7), &refresh())) {
        Err(EngineError::Plan(PlanError::Protected {
            address, action, ..
        })) => {
            assert_eq!(
                (address.as_str(), action.as_str()),
                ("mem_database.db", "replace")
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Deleting the declaration from code does not make it deletable.
    let mut without = Stack::new("life");
    let net = without.add("main", Network::new("10.0.0.0/16"));
    without.add("a", Subnet::new(&net, "10.0.1.0/24").zone(0));
    match rt.block_on(engine.plan(&without, &refresh())) {
        Err(EngineError::Plan(PlanError::Protected {
            address,
            action,
            reason,
        })) => {
            assert_eq!(
                (address.as_str(), action.as_str()),
                ("mem_database.db", "delete")
            );
            assert!(reason.contains("protected"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The way out: apply with protect off (a state-only change), then remove it.
    let plan = converge(&rt, &engine, &small(false, true, false, 7));
    assert!(
        !plan.has_changes() && plan.has_work(),
        "turning protect off changes state only"
    );
    assert!(!engine.store().read().unwrap().unwrap().resources["mem_database.db"].protect);
    converge(&rt, &engine, &without);
    assert!(mem
        .objects()
        .values()
        .all(|o| o.type_name != "mem_database"));
}

#[test]
fn ignore_changes_hides_drift_on_named_attributes() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let mut s = Stack::new("ign");
    s.add("main", Network::new("10.0.0.0/16").ignore_changes(["dns"]));
    converge(&rt, &engine, &s);
    let id = engine.store().read().unwrap().unwrap().resources["mem_network.main"]
        .id
        .clone();
    mem.edit(&id, "dns", Value::Bool(false));
    let plan = rt.block_on(engine.plan(&s, &refresh())).unwrap();
    assert_eq!(plan.drift.len(), 1, "the drift is still reported");
    assert!(
        !plan.has_changes(),
        "but no change is planned for an ignored attribute"
    );
    mem.edit(&id, "nat", Value::str("none"));
    let plan = rt.block_on(engine.plan(&s, &refresh())).unwrap();
    assert_eq!(plan.changes[0].action, Action::Update);
    assert_eq!(
        plan.changes[0]
            .changes
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["nat"]
    );
}

fn replace_order(cbd: bool) -> Vec<(String, OpKind)> {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    converge(&rt, &engine, &small(false, true, cbd, 7));
    let old = engine.store().read().unwrap().unwrap().resources["mem_database.db"]
        .id
        .clone();
    let plan = rt
        .block_on(engine.plan(&small(false, false, cbd, 7), &refresh()))
        .unwrap();
    let c = plan
        .changes
        .iter()
        .find(|c| c.address == "mem_database.db")
        .unwrap();
    assert_eq!(c.action, Action::Replace);
    assert_eq!(c.replace_because, ["encrypted"]);
    let expected = if cbd {
        [Step::CreateReplacement, Step::DeleteReplaced]
    } else {
        [Step::DeleteReplaced, Step::CreateReplacement]
    };
    assert_eq!(c.steps, expected);
    let rec = Arc::new(Recorder::default());
    let report = rt
        .block_on(engine.apply(
            &plan,
            &ApplyOptions {
                observer: rec.clone(),
                ..Default::default()
            },
        ))
        .unwrap();
    assert!(report.is_success(), "{report}");
    let state = engine.store().read().unwrap().unwrap();
    let db = &state.resources["mem_database.db"];
    assert_ne!(db.id, old);
    assert!(
        db.deposed.is_empty(),
        "the replaced object is gone from state"
    );
    assert!(!mem.objects().contains_key(&old), "and from the cloud");
    assert_converged(&rt, &engine, &small(false, false, cbd, 7));
    let kinds = rec.kinds.lock().unwrap().clone();
    kinds
}

#[test]
fn create_before_destroy_creates_the_replacement_first() {
    let kinds = replace_order(true);
    let at = |k: OpKind| kinds.iter().position(|(_, x)| *x == k).unwrap();
    assert!(
        at(OpKind::CreateReplacement) < at(OpKind::DeleteReplaced),
        "{kinds:?}"
    );
}

#[test]
fn destroy_before_create_is_the_default() {
    let kinds = replace_order(false);
    let at = |k: OpKind| kinds.iter().position(|(_, x)| *x == k).unwrap();
    assert!(
        at(OpKind::DeleteReplaced) < at(OpKind::CreateReplacement),
        "{kinds:?}"
    );
}

#[test]
fn secrets_never_reach_plan_text_json_state_or_errors() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let stack = full_stack();
    let plan = converge(&rt, &engine, &stack);
    // The generated password exists in the cloud only.
    let secret = mem
        .objects()
        .values()
        .find(|o| o.address == "mem_secret.db-password")
        .unwrap()
        .attrs["value"]
        .clone();
    let Value::Sensitive(s) = &secret else {
        panic!("the cloud holds a sensitive value")
    };
    let plain = s
        .expose()
        .expect("the cloud knows the plaintext")
        .to_string();
    let db = mem
        .objects()
        .values()
        .find(|o| o.address == "mem_database.orders")
        .unwrap()
        .attrs["admin_password"]
        .clone();
    assert!(
        db.same_as(&secret),
        "the database got the generated password"
    );
    let text = cairn_core::plan::render::text(&plan, Default::default());
    let json = plan.to_json();
    let state = std::fs::read_to_string(sb.state_path()).unwrap();
    for (what, body) in [
        ("plan text", &text),
        ("plan json", &json),
        ("state", &state),
    ] {
        for secret in [plain.as_str(), "S3cure-Cache-Token-42!"] {
            assert!(!body.contains(secret), "{what} leaks a secret");
        }
    }
    assert!(text.contains("(sensitive"), "{text}");
    // A changed given secret shows as a masked update.
    let mut changed = Stack::new("shop");
    for d in stack.resources() {
        let r = if d.name == "cache-token" {
            cairn_core::model::Resource::Secret(Box::new(Secret::given("An0ther-Strong-Token!")))
        } else {
            d.resource.clone()
        };
        match r {
            cairn_core::model::Resource::Secret(x) => drop(changed.add(&d.name, *x)),
            cairn_core::model::Resource::Network(x) => drop(changed.add(&d.name, *x)),
            cairn_core::model::Resource::Subnet(x) => drop(changed.add(&d.name, *x)),
            cairn_core::model::Resource::SecurityGroup(x) => drop(changed.add(&d.name, *x)),
            cairn_core::model::Resource::Database(x) => drop(changed.add(&d.name, *x)),
            cairn_core::model::Resource::Broker(x) => drop(changed.add(&d.name, *x)),
            cairn_core::model::Resource::LoadBalancer(x) => drop(changed.add(&d.name, *x)),
            cairn_core::model::Resource::Cache(x) => drop(changed.add(&d.name, *x)),
        }
    }
    changed.output(
        "db_endpoint",
        cairn_core::model::Ref::<Database>::named("orders").attr("endpoint"),
    );
    let plan = rt.block_on(engine.plan(&changed, &refresh())).unwrap();
    let text = cairn_core::plan::render::text(&plan, Default::default());
    assert!(text.contains("value: (sensitive) -> (sensitive)"), "{text}");
    assert!(
        text.contains("auth_token: (sensitive) -> (sensitive)"),
        "{text}"
    );
    assert!(!text.contains("An0ther") && !plan.to_json().contains("An0ther"));
    converge(&rt, &engine, &changed);
    assert_converged(&rt, &engine, &changed);
}

#[test]
fn refresh_only_accepts_drift_into_state_without_touching_the_cloud() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let mut s = Stack::new("drifty");
    s.add("main", Network::new("10.0.0.0/16"));
    converge(&rt, &engine, &s);
    let id = engine.store().read().unwrap().unwrap().resources["mem_network.main"]
        .id
        .clone();
    mem.edit(&id, "dns", Value::Bool(false));
    let opts = cairn_core::plan::planner::PlanOptions {
        mode: cairn_core::plan::PlanMode::RefreshOnly,
        refresh: true,
        ..Default::default()
    };
    let plan = rt.block_on(engine.plan(&s, &opts)).unwrap();
    assert_eq!(plan.changes[0].action, Action::Read);
    assert!(!plan.has_changes() && plan.has_work());
    let calls = mem.mutating_calls();
    let report = rt
        .block_on(engine.apply(&plan, &ApplyOptions::default()))
        .unwrap();
    assert!(report.is_success() && report.ops.is_empty());
    assert_eq!(
        mem.mutating_calls(),
        calls,
        "refresh-only changes nothing in the cloud"
    );
    let state = engine.store().read().unwrap().unwrap();
    assert_eq!(
        state.resources["mem_network.main"].attrs["dns"],
        Value::Bool(false),
        "state took the drift"
    );
    // A plain apply repairs it.
    let plan = converge(&rt, &engine, &s);
    assert_eq!(plan.changes[0].action, Action::Update);
    assert_eq!(mem.objects()[&id].attrs["dns"], Value::Bool(true));
}

#[test]
fn overrides_reach_only_their_own_provider() {
    let mem = MemoryProvider::new();
    let engine = Sandbox::new().engine(&mem);
    let mut s = Stack::new("over");
    s.add(
        "main",
        Network::new("10.0.0.0/16")
            .override_for("aws", "instance_tenancy", "dedicated")
            .override_for("memory", "flavour", "vanilla"),
    );
    let g = engine.lower(&s).unwrap();
    let attrs = &g.get("mem_network.main").unwrap().concrete.attrs;
    assert_eq!(attrs.get("flavour"), Some(&Value::str("vanilla")));
    assert!(
        !attrs.contains_key("instance_tenancy"),
        "another cloud's override must not leak in"
    );
}

#[test]
fn an_override_the_provider_does_not_read_is_refused_naming_the_field() {
    let mem = MemoryProvider::new();
    let engine = Sandbox::new().engine(&mem);
    let mut s = Stack::new("over");
    s.add(
        "main",
        Network::new("10.0.0.0/16")
            .override_for("memory", "flavor", "vanilla")
            .override_for("aws", "whatever", "is aws's to check"),
    );
    let err = engine.lower(&s).unwrap_err().to_string();
    assert!(
        err.contains("network.main: field `overrides.memory.flavor`")
            && err.contains("it reads: flavour"),
        "{err}"
    );
    assert!(
        !err.contains("whatever"),
        "another provider's keys are its own: {err}"
    );
}

#[test]
fn a_stack_pinned_to_another_region_is_refused_by_the_engine_for_any_provider() {
    let mem = MemoryProvider::new().region("north-1");
    let engine = Sandbox::new().engine(&mem);
    let mut s = Stack::new("pinned");
    s.add("main", Network::new("10.0.0.0/16"));
    s.set_region(Some("south-2"));
    let err = engine.lower(&s).unwrap_err().to_string();
    assert!(
        err.contains("stack: field `region`")
            && err.contains("\"south-2\"")
            && err.contains("\"north-1\"")
            && err.contains("MemoryProvider::region"),
        "{err}"
    );
    s.set_region(Some("north-1"));
    engine.lower(&s).expect("pinned where the provider is");
}

/// Every capability row: a balancer asking a provider for what its product lacks is refused
/// before lowering, naming the field and the provider; with the capability it lowers.
#[test]
fn a_load_balancer_capability_the_provider_lacks_is_refused_naming_field_and_cloud() {
    let full = || {
        LoadBalancer::internal()
            .http_redirect()
            .https(Certificate::managed(["shop.example.com"]))
            .ssl_policy("modern")
            .target_group(TargetGroup::new("api", 8080, HealthCheck::http("/")).live(Colour::Green))
            .route(10, "/api/*", "api")
            .route_from(20, "/admin/*", "api", &["10.0.0.0/8"])
            .deny(30, "/admin/*")
            .tcp(5432, "api")
            .default_target("api")
    };
    let rows = [
        (LbCapability::Https, "https"),
        (LbCapability::ManagedCertificates, "https.certificate"),
        (LbCapability::TlsPolicy, "https.ssl_policy"),
        (LbCapability::HttpRedirect, "http_redirect"),
        (LbCapability::PathRoutes, "routes[0]"),
        (LbCapability::SourceCidrRoutes, "routes[1].source_cidrs"),
        (LbCapability::DenyRoutes, "routes[2].target"),
        (LbCapability::BlueGreen, "target_groups[0].blue_green"),
        (LbCapability::TcpListeners, "tcp_listeners[0]"),
        (LbCapability::Internal, "internal"),
    ];
    assert_eq!(
        rows.len(),
        LbCapability::ALL.len(),
        "a test row per capability"
    );
    for (lacking, field) in rows {
        let others: Vec<LbCapability> = LbCapability::ALL
            .into_iter()
            .filter(|c| *c != lacking)
            .collect();
        let mem = MemoryProvider::new().lb_capabilities(&others);
        let engine = Sandbox::new().engine(&mem);
        let mut s = Stack::new("lb");
        let net = s.add("main", Network::new("10.0.0.0/16"));
        s.add("web", full().in_network(&net));
        let err = engine.lower(&s).unwrap_err().to_string();
        assert!(
            err.contains(&format!("load_balancer.web: field `{field}`"))
                && err.contains("on memory (memory balancer) cannot")
                && err.contains(lacking.describe()),
            "{lacking:?}: {err}"
        );
        assert!(
            err.lines()
                .filter(|l| l.contains("cannot"))
                .all(|l| l.contains(lacking.describe())),
            "only the lacking row: {err}"
        );
    }
    let mem = MemoryProvider::new();
    let engine = Sandbox::new().engine(&mem);
    let mut s = Stack::new("lb");
    let net = s.add("main", Network::new("10.0.0.0/16"));
    s.add("web", full().in_network(&net));
    engine.lower(&s).expect("every capability: lowered");
}
