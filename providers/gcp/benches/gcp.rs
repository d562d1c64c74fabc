//! GCP provider benchmark, against the GCP emulator.
//!
//!     cargo bench -p cairn-gcp --bench gcp
//!
//! Prints:
//! - `refresh resources=N types=T api_calls=M`: API calls (the emulator's call log) of a plan
//!   with refresh over a stack with every kind (target: M <= 2 * T);
//! - `apply latency_ms=50 wall_s=X critical_path_s=Y ratio=X/Y`: an apply from empty with
//!   50 ms added to every API call; Y is the longest chain through the plan's dependency
//!   graph, each step weighted by the time its own calls took (recorded per operation), so
//!   X/Y is what scheduling costs on top of what the dependencies force (target <= 1.1).

use cairn_core::apply::ApplyOptions;
use cairn_core::plan::PlanMode;
use cairn_core::prelude::*;
use cairn_core::state::LocalStore;
use cairn_core::Engine;
use cairn_gcp::{GcpConfig, GcpOptions, GcpProvider};
use cairn_tests::{bench, Emulator, GCP};
use std::sync::Arc;
use std::time::Duration;

/// A ticketing-and-more shape: two subnets per tier behind a shared NAT, four groups,
/// access edges to every service, Cloud SQL with two databases, Memorystore, Managed
/// Kafka with six topics, their secrets, and a load balancer with path routes, a blue/green
/// group, an admin path behind Cloud Armor and the HTTPS redirect: every kind.
fn stack() -> Stack {
    let mut s = Stack::new("bench-gcp");
    let vpc = s.add("vpc", Network::new("10.0.0.0/16").nat(NatMode::Shared));
    for (i, tier) in [Tier::Public, Tier::Private, Tier::Isolated]
        .into_iter()
        .enumerate()
    {
        for z in 0..2 {
            s.add(
                &format!("{}-{z}", ["public", "app", "data"][i]),
                Subnet::new(&vpc, &format!("10.0.{}.0/24", 10 * i + z)).tier(tier),
            );
        }
    }
    let web = s.add(
        "web",
        SecurityGroup::new(&vpc, "web")
            .ingress(Rule::tcp(80).from_cidr("0.0.0.0/0"))
            .ingress(Rule::tcp(443).from_cidr("0.0.0.0/0"))
            .ingress(Rule::tcp(22).from_cidr("10.0.0.0/8")),
    );
    let api = s.add(
        "api",
        SecurityGroup::new(&vpc, "api")
            .ingress(Rule::tcp(8080).from_group(&web))
            .ingress(Rule::tcp(9090).from_cidr("10.0.0.0/16"))
            .egress(Rule::tcp(443).to_cidr("0.0.0.0/0")),
    );
    s.add(
        "jobs",
        SecurityGroup::new(&vpc, "jobs")
            .ingress(Rule::tcp(8081).from_group(&api))
            .ingress(Rule::tcp(8082).from_group(&api))
            .ingress(Rule::tcp(8083).from_cidr("10.0.0.0/16")),
    );
    let pw = s.add("db-password", Secret::generated());
    let token = s.add("cache-token", Secret::produced());
    s.add(
        "api-key",
        Secret::generated().description("partner API key"),
    );
    let db = s.add(
        "db",
        Database::postgres("16")
            .in_network(&vpc)
            .high_availability(true)
            .database("tickets")
            .database("audit")
            .admin_password(&pw),
    );
    let cache = s.add(
        "cache",
        Cache::redis("7").in_network(&vpc).auth_token(&token),
    );
    let mut broker = Broker::kafka("3").in_network(&vpc).throughput_mb_s(10);
    for t in [
        "orders", "payments", "tickets", "refunds", "audit", "notify",
    ] {
        broker = broker.topic(t, 6);
    }
    let bus = s.add("bus", broker);
    let lb = s.add(
        "front",
        LoadBalancer::public()
            .in_network(&vpc)
            .http_redirect()
            .https(Certificate::managed(["bench.example.com"]))
            .target_group(TargetGroup::new("api", 8080, HealthCheck::http("/health")).blue_green())
            .target_group(TargetGroup::new("jobs", 8081, HealthCheck::http("/health")))
            .route(10, "/api/*", "api")
            .route(20, "/jobs/*", "jobs")
            .route_from(30, "/admin/*", "api", &["203.0.113.0/24"])
            .deny(40, "/admin/*")
            .default_target("api"),
    );
    s.allow(lb.can_reach(&web).port(8080));
    s.allow(api.can_reach(&db));
    s.allow(api.can_reach(&cache));
    s.allow(api.can_reach(&bus));
    s
}

fn main() {
    let guard = Emulator::shared(GCP);
    let emulator = guard.emulator();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let provider = Arc::new(
        rt.block_on(GcpProvider::new(GcpConfig {
            project: "cairn-bench".into(),
            region: "us-central1".into(),
            endpoint: Some(emulator.endpoint()),
            options: GcpOptions {
                first_poll: Duration::from_millis(20),
                ..GcpOptions::default()
            },
        }))
        .expect("provider"),
    );
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        provider,
        Arc::new(LocalStore::new(dir.path().join("state.json"))),
    );
    let stack = stack();
    bench::refresh_calls(
        &rt,
        &engine,
        &stack,
        || bench::reset_calls(emulator),
        || bench::logged_calls(emulator),
    );
    bench::timed_apply(
        &rt,
        &engine,
        &stack,
        50,
        |ms| bench::set_latency(emulator, ms),
        ApplyOptions::default(),
    );
    bench::apply(&rt, &engine, &stack, PlanMode::Destroy);
}
