//! Shared fixtures: a valid stack using every kind, and an engine over the memory provider.

use cairn_core::apply::ApplyOptions;
use cairn_core::model::Resource;
use cairn_core::plan::planner::PlanOptions;
use cairn_core::prelude::*;
use cairn_core::state::LocalStore;
use cairn_core::testing::MemoryProvider;
use cairn_core::{Engine, Plan};
use std::path::PathBuf;
use std::sync::Arc;

/// A complete, valid stack: network, subnets in two zones, security groups, secrets,
/// database, broker, load balancer, cache and outputs.
pub fn full_stack() -> Stack {
    let mut s = Stack::new("shop");
    let net = s.add("main", Network::new("10.0.0.0/16").storage_endpoint(true));
    let pub_a = s.add(
        "public-a",
        Subnet::new(&net, "10.0.0.0/24").tier(Tier::Public).zone(0),
    );
    let pub_b = s.add(
        "public-b",
        Subnet::new(&net, "10.0.1.0/24").tier(Tier::Public).zone(1),
    );
    let db_a = s.add(
        "db-a",
        Subnet::new(&net, "10.0.10.0/24")
            .tier(Tier::Isolated)
            .zone(0),
    );
    let db_b = s.add(
        "db-b",
        Subnet::new(&net, "10.0.11.0/24")
            .tier(Tier::Isolated)
            .zone(1),
    );
    let lb_sg = s.add(
        "lb",
        SecurityGroup::new(&net, "load balancer")
            .ingress(Rule::tcp(443).from_cidr("0.0.0.0/0").description("https"))
            .ingress(
                Rule::tcp(80)
                    .from_cidr("0.0.0.0/0")
                    .description("http redirect"),
            )
            .allow_all_egress(),
    );
    let app_sg = s.add(
        "app",
        SecurityGroup::new(&net, "services")
            .ingress(
                Rule::tcp(8080)
                    .from_group(&lb_sg)
                    .description("from the LB"),
            )
            .allow_all_egress(),
    );
    let db_sg = s.add(
        "db",
        SecurityGroup::new(&net, "database").ingress(Rule::tcp(5432).from_group(&app_sg)),
    );
    let pw = s.add(
        "db-password",
        Secret::generated().description("database admin"),
    );
    let token = s.add("cache-token", Secret::given("S3cure-Cache-Token-42!"));
    let db = s.add(
        "orders",
        Database::postgres("15")
            .size(Size::Medium)
            .storage_gb(100)
            .high_availability(true)
            .backup_retention_days(30)
            .backup_window(Window::daily(3))
            .maintenance_window(Window::weekly(Weekday::Sun, 5))
            .database("orders")
            .admin_user("orders_admin")
            .admin_password(&pw)
            .subnets([&db_a, &db_b])
            .security_group(&db_sg)
            .override_for("aws", "instance_class", "db.t3.medium"),
    );
    s.add(
        "events",
        Broker::kafka("3")
            .throughput_mb_s(2)
            .topic("orders", 4)
            .subnets([&db_a, &db_b])
            .security_group(&app_sg),
    );
    s.add(
        "web",
        LoadBalancer::public()
            .http_redirect()
            .https("arn:aws:acm:eu-west-1:123456789012:certificate/abc")
            .target_group(TargetGroup::new("api", 8080, HealthCheck::http("/health")).blue_green())
            .route(10, "/api/*", "api")
            .default_target("api")
            .subnets([&pub_a, &pub_b])
            .security_group(&lb_sg),
    );
    s.add(
        "sessions",
        Cache::redis("7")
            .replicas(1)
            .auth_token(&token)
            .subnets([&db_a, &db_b])
            .security_group(&db_sg),
    );
    s.output("db_endpoint", db.attr("endpoint"));
    s
}

/// Rebuild `base` with one resource changed.
pub fn edited(base: Stack, name: &str, f: impl FnOnce(&mut Resource)) -> Stack {
    let mut s = Stack::new(base.name());
    let mut f = Some(f);
    for d in base.resources() {
        let mut r = d.resource.clone();
        if d.name == name {
            (f.take().unwrap())(&mut r);
        }
        match r {
            Resource::Network(x) => drop(s.add(&d.name, *x)),
            Resource::Subnet(x) => drop(s.add(&d.name, *x)),
            Resource::SecurityGroup(x) => drop(s.add(&d.name, *x)),
            Resource::Database(x) => drop(s.add(&d.name, *x)),
            Resource::Broker(x) => drop(s.add(&d.name, *x)),
            Resource::LoadBalancer(x) => drop(s.add(&d.name, *x)),
            Resource::Cache(x) => drop(s.add(&d.name, *x)),
            Resource::Secret(x) => drop(s.add(&d.name, *x)),
        }
    }
    for o in base.outputs() {
        s.output(&o.name, o.value.clone());
    }
    s
}

/// A throwaway directory with a state file path in it.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }
    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }
    pub fn store(&self) -> Arc<LocalStore> {
        Arc::new(LocalStore::new(self.state_path()))
    }
    pub fn engine(&self, provider: &MemoryProvider) -> Engine {
        Engine::new(Arc::new(provider.clone()), self.store())
    }
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

pub fn refresh() -> PlanOptions {
    PlanOptions {
        refresh: true,
        ..PlanOptions::default()
    }
}

/// Plan and apply, asserting full success; returns the plan applied.
pub fn converge(rt: &tokio::runtime::Runtime, engine: &Engine, stack: &Stack) -> Plan {
    let plan = rt.block_on(engine.plan(stack, &refresh())).expect("plan");
    let report = rt
        .block_on(engine.apply(&plan, &ApplyOptions::default()))
        .expect("apply");
    assert!(report.is_success(), "apply failed:\n{report}");
    plan
}

/// Plan with refresh and assert there is nothing to do.
pub fn assert_converged(rt: &tokio::runtime::Runtime, engine: &Engine, stack: &Stack) {
    let plan = rt.block_on(engine.plan(stack, &refresh())).expect("plan");
    assert!(
        !plan.has_changes(),
        "expected no changes, got:\n{}",
        cairn_core::plan::render::text(&plan, Default::default())
    );
}

/// What a local journal holds: its file without the zeroed room written ahead of its lines
/// (tests cut and damage the lines, not the room).
pub fn journal_lines(path: &std::path::Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    let written = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    assert!(bytes[written..].iter().all(|b| *b == 0), "room is zeros");
    bytes.truncate(written);
    bytes
}
