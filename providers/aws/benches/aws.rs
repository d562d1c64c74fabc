//! AWS provider benchmark, against the wrapped emulator.
//!
//!     cargo bench -p cairn-aws --bench aws
//!
//! Prints:
//! - `refresh resources=N types=T api_calls=M`: API calls of a plan with refresh over a stack
//!   the size of the event-booking platform (target: M <= 2 * T);
//! - `apply latency_ms=50 wall_s=X critical_path_s=Y ratio=X/Y`: an apply from empty with
//!   50 ms added to every API call; Y is the longest chain through the plan's dependency
//!   graph, each step weighted by the time its own API calls took (recorded per operation),
//!   so X/Y is what scheduling costs on top of what the dependencies force (target <= 1.1);
//! - `apply overhead lead_s= tail_s= last_chain_waits_s=`: time before the first call, after
//!   the last, and spent ready-but-not-started along the chain that ended last;
//! - `apply parallelism=P work_s=W lower_bound_s=B ratio_to_bound=X/B`: with P calls busy at
//!   most, no schedule beats max(Y, W/P) either.

use cairn_aws::{AwsOptions, AwsProvider};
use cairn_core::apply::ApplyOptions;
use cairn_core::plan::Action;
use cairn_core::prelude::*;
use cairn_core::state::LocalStore;
use cairn_core::Engine;
use cairn_tests::{bench, AwsEmulator};
use std::sync::Arc;

/// The event-booking shape: 3 zones x (public, app, db) subnets, NAT per zone, S3 endpoint,
/// four security groups, an ALB with five blue/green services, PostgreSQL and Redis.
fn event_booking(cert: &str) -> Stack {
    let mut s = Stack::new("bench-events");
    let vpc = s.add(
        "vpc",
        Network::new("10.0.0.0/16")
            .nat(NatMode::PerZone)
            .storage_endpoint(true),
    );
    let mut public = Vec::new();
    let mut data = Vec::new();
    for z in 0..3u8 {
        public.push(
            s.add(
                &format!("public-{z}"),
                Subnet::new(&vpc, &format!("10.0.{}.0/24", z))
                    .tier(Tier::Public)
                    .zone(z),
            ),
        );
        s.add(
            &format!("app-{z}"),
            Subnet::new(&vpc, &format!("10.0.{}.0/24", 10 + z))
                .tier(Tier::Private)
                .zone(z),
        );
        data.push(
            s.add(
                &format!("db-{z}"),
                Subnet::new(&vpc, &format!("10.0.{}.0/24", 20 + z))
                    .tier(Tier::Isolated)
                    .zone(z),
            ),
        );
    }
    let alb = s.add(
        "alb",
        SecurityGroup::new(&vpc, "ALB")
            .ingress(Rule::tcp(80).from_cidr("0.0.0.0/0"))
            .ingress(Rule::tcp(443).from_cidr("0.0.0.0/0"))
            .egress(Rule::tcp(8080).to_cidr("10.0.0.0/16")),
    );
    let svc = s.add(
        "services",
        SecurityGroup::new(&vpc, "services")
            .ingress(Rule::tcp(8080).from_group(&alb))
            .allow_all_egress(),
    );
    let rds = s.add(
        "rds",
        SecurityGroup::new(&vpc, "RDS").ingress(Rule::tcp(5432).from_group(&svc)),
    );
    let redis = s.add(
        "redis",
        SecurityGroup::new(&vpc, "Redis").ingress(Rule::tcp(6379).from_group(&svc)),
    );
    let pw = s.add("db-password", Secret::generated());
    let token = s.add("redis-token", Secret::generated().symbols("!&#$^<>-"));
    s.add(
        "db",
        Database::postgres("15")
            .admin_password(&pw)
            .subnets(&data)
            .security_group(&rds),
    );
    s.add(
        "cache",
        Cache::redis("7")
            .auth_token(&token)
            .subnets(&data)
            .security_group(&redis),
    );
    let mut lb = LoadBalancer::public()
        .http_redirect()
        .https(cert)
        .subnets(&public)
        .security_group(&alb);
    for (i, name) in ["auth", "events", "tickets", "payments", "notify"]
        .iter()
        .enumerate()
    {
        lb = lb
            .target_group(
                TargetGroup::new(name, 8080, HealthCheck::http("/actuator/health")).blue_green(),
            )
            .route(10 * (i as u32 + 1), &format!("/api/{name}/*"), name);
    }
    s.add("web", lb.default_target("auth"));
    s
}

fn main() {
    let emulator = AwsEmulator::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sdk = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(emulator.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "bench",
                "bench",
                None,
                None,
                "cairn-bench",
            ))
            .load(),
    );
    let dir = tempfile::tempdir().unwrap();
    let provider = Arc::new(AwsProvider::new(&sdk, AwsOptions::default()));
    let engine = Engine::new(
        provider.clone(),
        Arc::new(LocalStore::new(dir.path().join("state.json"))),
    );
    let cert = emulator.certificate("events.example.com");
    let stack = event_booking(&cert);
    bench::refresh_calls(
        &rt,
        &engine,
        &stack,
        || provider.calls().reset(),
        || usize::try_from(provider.calls().total()).unwrap_or(usize::MAX),
    );
    let timed = bench::timed_apply(
        &rt,
        &engine,
        &stack,
        50,
        |ms| emulator.set_faults(&format!(r#"{{"latency_ms": {ms}}}"#)),
        ApplyOptions {
            parallelism: parallelism(),
            ..Default::default()
        },
    );
    let bench::Timed {
        plan,
        times,
        started,
        wall,
        critical,
    } = timed;
    let durations = times.0.lock().unwrap();
    // Where the rest goes: before the first call, after the last, and between a step's
    // dependencies finishing and the step starting, along the chain that ended last.
    let first_start = durations.values().map(|(s, _)| *s).min().unwrap();
    let last_end = durations.values().filter_map(|(_, e)| *e).max().unwrap();
    let lead = (first_start - started).as_secs_f64();
    let tail = wall - (last_end - started).as_secs_f64();
    let mut chain_gaps = 0.0;
    let mut at = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Create)
        .max_by_key(|c| durations.get(c.address.as_str()).and_then(|(_, e)| *e));
    while let Some(c) = at {
        let start = durations[c.address.as_str()].0;
        let last_dep = c
            .deps
            .iter()
            .filter_map(|d| plan.changes.iter().find(|x| x.address == *d))
            .filter(|x| durations.contains_key(x.address.as_str()))
            .max_by_key(|x| durations[x.address.as_str()].1);
        let ready = last_dep
            .and_then(|x| durations[x.address.as_str()].1)
            .unwrap_or(first_start);
        chain_gaps += start.saturating_duration_since(ready).as_secs_f64();
        at = last_dep;
    }
    println!("apply overhead lead_s={lead:.3} tail_s={tail:.3} last_chain_waits_s={chain_gaps:.3}");
    // With at most `parallelism` calls busy, no schedule beats the total work spread over
    // the slots either: the lower bound is the larger of the two.
    let work: f64 = durations
        .values()
        .filter_map(|(s, e)| e.map(|e| (e - *s).as_secs_f64()))
        .sum();
    let bound = critical.max(work / parallelism() as f64);
    println!(
        "apply parallelism={} work_s={work:.3} lower_bound_s={bound:.3} ratio_to_bound={:.3}",
        parallelism(),
        wall / bound
    );
}

/// Provider calls in flight (`CAIRN_BENCH_PARALLELISM`, default the engine's 10).
fn parallelism() -> usize {
    std::env::var("CAIRN_BENCH_PARALLELISM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}
