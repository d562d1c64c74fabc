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

use cairn_core::apply::{ApplyOptions, Observer, OpInfo};
use cairn_core::plan::planner::PlanOptions;
use cairn_core::plan::{Action, PlanMode};
use cairn_core::prelude::*;
use cairn_core::state::LocalStore;
use cairn_core::Engine;
use cairn_gcp::{GcpConfig, GcpOptions, GcpProvider};
use cairn_tests::{Emulator, GCP};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Records when each operation started and finished.
#[derive(Default)]
struct Times(Mutex<HashMap<String, (Instant, Option<Instant>)>>);

impl Observer for Times {
    fn op_started(&self, op: &OpInfo) {
        self.0
            .lock()
            .unwrap()
            .insert(op.address.to_string(), (Instant::now(), None));
    }
    fn op_finished(&self, op: &OpInfo, _: Duration) {
        if let Some(t) = self.0.lock().unwrap().get_mut(op.address.as_str()) {
            t.1 = Some(Instant::now());
        }
    }
}

/// Calls in the emulator's log.
fn calls(emulator: &Emulator) -> usize {
    serde_json::from_str::<serde_json::Value>(&emulator.calls())
        .ok()
        .and_then(|v| v.as_array().map(Vec::len))
        .unwrap_or(0)
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
    let refresh = PlanOptions {
        refresh: true,
        ..Default::default()
    };

    // Refresh cost.
    let plan = rt.block_on(engine.plan(&stack, &refresh)).expect("plan");
    let report = rt
        .block_on(engine.apply(&plan, &ApplyOptions::default()))
        .expect("apply");
    assert!(report.is_success(), "{report}");
    let state = engine.store().read().unwrap().unwrap();
    let types: BTreeSet<&str> = state.live().map(|r| r.type_name.as_str()).collect();
    let (status, _) = emulator
        .request("POST", "/_emulator/calls/reset", "")
        .expect("reset the call log");
    assert_eq!(status, 200);
    let again = rt
        .block_on(engine.plan(&stack, &refresh))
        .expect("refresh plan");
    assert!(
        !again.has_changes(),
        "the refresh found changes:\n{}",
        cairn_core::plan::render::text(&again, Default::default())
    );
    println!(
        "refresh resources={} types={} api_calls={}",
        state.live().count(),
        types.len(),
        calls(emulator)
    );

    // Apply with latency vs. the critical path.
    let destroy = rt
        .block_on(engine.plan(
            &stack,
            &PlanOptions {
                mode: PlanMode::Destroy,
                refresh: true,
                ..Default::default()
            },
        ))
        .unwrap();
    assert!(rt
        .block_on(engine.apply(&destroy, &ApplyOptions::default()))
        .unwrap()
        .is_success());
    emulator.set_faults(r#"{"latency_ms": 50}"#);
    let plan = rt.block_on(engine.plan(&stack, &refresh)).expect("plan");
    let times = Arc::new(Times::default());
    let started = Instant::now();
    let report = rt
        .block_on(engine.apply(
            &plan,
            &ApplyOptions {
                observer: times.clone(),
                ..Default::default()
            },
        ))
        .expect("apply");
    let wall = started.elapsed().as_secs_f64();
    assert!(report.is_success(), "{report}");
    // Longest path through the plan's creates (changes are in dependency order).
    let durations = times.0.lock().unwrap();
    let mut finish: HashMap<&str, f64> = HashMap::new();
    for c in plan.changes.iter().filter(|c| c.action == Action::Create) {
        let own = durations
            .get(c.address.as_str())
            .and_then(|(s, e)| e.map(|e| (e - *s).as_secs_f64()))
            .unwrap_or(0.0);
        let ready = c
            .deps
            .iter()
            .filter_map(|d| finish.get(d.as_str()))
            .fold(0.0f64, |a, b| a.max(*b));
        finish.insert(c.address.as_str(), ready + own);
    }
    let critical = finish.values().fold(0.0f64, |a, b| a.max(*b));
    println!(
        "apply latency_ms=50 wall_s={wall:.3} critical_path_s={critical:.3} ratio={:.3}",
        wall / critical
    );
    emulator.set_faults(r#"{"latency_ms": 0}"#);
    let destroy = rt
        .block_on(engine.plan(
            &stack,
            &PlanOptions {
                mode: PlanMode::Destroy,
                refresh: true,
                ..Default::default()
            },
        ))
        .unwrap();
    assert!(rt
        .block_on(engine.apply(&destroy, &ApplyOptions::default()))
        .unwrap()
        .is_success());
}
