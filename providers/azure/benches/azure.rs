//! Azure provider benchmark, against the Azure emulator.
//!
//!     cargo bench -p cairn-azure --bench azure
//!
//! Prints:
//! - `refresh resources=N types=T api_calls=M`: API calls (the emulator's call log) of a plan
//!   with refresh over a stack with every kind Azure lowers (target: M <= 2 * T);
//! - `apply latency_ms=50 wall_s=X critical_path_s=Y ratio=X/Y`: an apply from empty with
//!   50 ms added to every API call; Y is the longest chain through the plan's dependency
//!   graph, each step weighted by the time its own calls took (recorded per operation), so
//!   X/Y is what scheduling costs on top of what the dependencies force (target <= 1.1).

use cairn_azure::{AzureConfig, AzureOptions, AzureProvider};
use cairn_core::apply::ApplyOptions;
use cairn_core::plan::PlanMode;
use cairn_core::prelude::*;
use cairn_core::state::LocalStore;
use cairn_core::Engine;
use cairn_tests::{bench, Emulator, AZURE};
use std::sync::Arc;
use std::time::Duration;

/// A ticketing-and-more shape: three subnets per tier behind a shared NAT, three groups,
/// access edges to every service, a flexible server with two databases and a parameter,
/// Redis, Event Hubs with ten topics and produced credentials, their secrets in the stack's
/// vault, and an application gateway with blue/green pools and a deny route (its
/// certificate, `certificate`, in a vault outside the stack): every kind Azure lowers.
fn stack(certificate: &str) -> Stack {
    let mut s = Stack::new("bench-azure");
    let vpc = s.add("vpc", Network::new("10.0.0.0/16").nat(NatMode::Shared));
    for (i, tier) in [Tier::Public, Tier::Private, Tier::Isolated]
        .into_iter()
        .enumerate()
    {
        for z in 0..3 {
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
            .ingress(Rule::tcp(443).from_cidr("0.0.0.0/0")),
    );
    let api = s.add(
        "api",
        SecurityGroup::new(&vpc, "api")
            .ingress(Rule::tcp(8080).from_group(&web))
            .egress(Rule::tcp(443).to_cidr("0.0.0.0/0")),
    );
    s.add(
        "jobs",
        SecurityGroup::new(&vpc, "jobs").ingress(Rule::tcp(8081).from_group(&api)),
    );
    let pw = s.add("db-password", Secret::generated());
    let token = s.add("cache-key", Secret::produced());
    let creds = s.add("bus-clients", Secret::produced());
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
            .parameter("work_mem", "8192")
            .admin_password(&pw),
    );
    let cache = s.add(
        "cache",
        Cache::redis("6").in_network(&vpc).auth_token(&token),
    );
    let mut broker = Broker::kafka("3")
        .in_network(&vpc)
        .throughput_mb_s(10)
        .credentials(&creds);
    for t in [
        "orders", "payments", "tickets", "refunds", "audit", "notify", "seats", "venues", "users",
        "emails",
    ] {
        broker = broker.topic(t, 6);
    }
    let bus = s.add("bus", broker);
    s.allow(api.can_reach(&db));
    s.allow(api.can_reach(&cache));
    s.allow(api.can_reach(&bus));
    let lb = s.add(
        "lb",
        LoadBalancer::public()
            .http_redirect()
            .https(certificate)
            .target_group(TargetGroup::new("api", 8080, HealthCheck::http("/health")).blue_green())
            .route(10, "/api/*", "api")
            .deny(20, "/internal/*")
            .default_target("api")
            .in_network(&vpc)
            .in_tier(Tier::Public),
    );
    s.allow(lb.can_reach(&api).port(8080));
    s
}

fn main() {
    let guard = Emulator::shared(AZURE);
    let emulator = guard.emulator();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (subscription, tenant, location) = (
        "00000000-0000-0000-0000-00000000be9c",
        "00000000-0000-0000-0000-0000000071e7",
        "eastus",
    );
    let certificate = emulator.issue_certificate(
        (subscription, tenant, location),
        "bench-certs",
        "bench-tls",
        true,
    );
    let provider = Arc::new(
        AzureProvider::new(AzureConfig {
            subscription: subscription.into(),
            tenant: Some(tenant.into()),
            location: location.into(),
            endpoint: Some(emulator.endpoint()),
            options: AzureOptions {
                first_poll: Duration::from_millis(20),
                ..AzureOptions::default()
            },
        })
        .expect("provider"),
    );
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        provider,
        Arc::new(LocalStore::new(dir.path().join("state.json"))),
    );
    let stack = stack(&certificate);
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
