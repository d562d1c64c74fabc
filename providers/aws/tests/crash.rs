//! Crash safety beyond EC2: a run killed while RDS, ElastiCache, MSK, ALB and Secrets
//! Manager creates — and creates of listeners, rules and topics inside them — are in flight
//! leaves pending records; the next plan finds each half-created object by its ownership
//! tag, token or name and adopts it, and nothing is duplicated.

use crate::support::Aws;
use cairn_core::apply::ApplyOptions;
use cairn_core::plan::Drift;
use cairn_core::prelude::*;
use std::collections::BTreeSet;
use std::time::Duration;

/// `nested` adds objects that live inside others (a listener, a rule, a topic), which the
/// next run can only look for under their parent.
fn stack(cert: &str, secret: bool, services: bool, nested: bool) -> Stack {
    let mut s = Stack::new("acc-crash");
    let vpc = s.add("main", Network::new("10.90.0.0/16").nat(NatMode::None));
    let subnets: Vec<_> = (0..2u8)
        .map(|z| {
            s.add(
                &format!("data-{z}"),
                Subnet::new(&vpc, &format!("10.90.{}.0/24", z + 1))
                    .tier(Tier::Isolated)
                    .zone(z),
            )
        })
        .collect();
    let public: Vec<_> = (0..2u8)
        .map(|z| {
            s.add(
                &format!("public-{z}"),
                Subnet::new(&vpc, &format!("10.90.{}.0/24", z + 11))
                    .tier(Tier::Public)
                    .zone(z),
            )
        })
        .collect();
    let sg = s.add(
        "data",
        SecurityGroup::new(&vpc, "data").ingress(Rule::tcp(5432).from_cidr("10.90.0.0/16")),
    );
    if secret {
        s.add("api-key", Secret::given("Crash-Test-Api-Key-1!"));
    }
    if !services {
        return s;
    }
    s.add(
        "db",
        Database::postgres("15")
            .cloud_managed_password()
            .subnets(&subnets)
            .security_group(&sg),
    );
    s.add(
        "cache",
        Cache::redis("7").subnets(&subnets).security_group(&sg),
    );
    let mut events = Broker::kafka("3").subnets(&subnets).security_group(&sg);
    if nested {
        events = events.topic("orders", 4);
    }
    s.add("events", events);
    let mut web = LoadBalancer::public()
        .https(cert)
        .target_group(TargetGroup::new("app", 8080, HealthCheck::http("/health")))
        .default_target("app")
        .subnets(&public)
        .security_group(&sg);
    if nested {
        web = web
            .http_redirect()
            .target_group(TargetGroup::new(
                "admin",
                8081,
                HealthCheck::http("/health"),
            ))
            .route(10, "/admin/*", "admin");
    }
    s.add("web", web);
    s
}

/// Apply `stack` while the emulator holds the answers to the `held` create calls, and kill
/// the run once all of them took effect (the cloud made the objects; cairn never heard).
/// Then check the next plan adopts each `watched` type and converges.
pub(crate) fn crash_and_adopt(
    aws: &Aws,
    engine: &cairn_core::Engine,
    state_file: &str,
    stack: &Stack,
    held: &[&str],
    watched: &[&str],
) {
    let hold = serde_json::json!({ "hold": held }).to_string();
    aws.set_faults(&hold);
    let plan = aws.plan(engine, stack);
    let killed = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let emulator = aws._emulator.emulator();
    let want: Vec<String> = held.iter().map(|h| h.to_string()).collect();
    let opts = ApplyOptions::default();
    killed.block_on(async {
        let all_took_effect = tokio::task::spawn_blocking(move || loop {
            let calls: serde_json::Value = serde_json::from_str(&emulator.calls()).unwrap();
            // An entry ending in `*` holds every operation it prefixes, as in the emulator.
            let done = |op: &str| {
                calls.as_array().unwrap().iter().any(|c| {
                    let called = c["operation"].as_str().unwrap_or_default();
                    c["held"] == true
                        && match op.strip_suffix('*') {
                            Some(prefix) => called.starts_with(prefix),
                            None => called == op,
                        }
                })
            };
            if want.iter().all(|op| done(op)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        });
        tokio::select! {
            r = engine.apply(&plan, &opts) => panic!("the apply should still be running: {r:?}"),
            _ = all_took_effect => {}
        }
    });
    drop(killed);
    aws.set_faults(r#"{"hold": []}"#);
    let lock: serde_json::Value = serde_json::from_slice(
        &std::fs::read(aws.dir.path().join(format!("{state_file}.lock"))).unwrap(),
    )
    .unwrap();
    engine
        .store()
        .force_unlock(lock["id"].as_str().unwrap())
        .expect("the dead run's lock is released by hand");
    let state = engine.store().read().unwrap().unwrap();
    let pending: BTreeSet<String> = state
        .pending
        .values()
        .map(|p| p.type_name.to_string())
        .collect();
    for t in watched {
        assert!(
            pending.contains(*t),
            "{t} was in flight at the crash: {pending:?}"
        );
    }
    let plan = aws.plan(engine, stack);
    let adopted: BTreeSet<String> = plan
        .drift
        .iter()
        .filter_map(|d| match d {
            Drift::Adopted { address, .. } => {
                Some(address.split('.').next().unwrap_or_default().to_string())
            }
            _ => None,
        })
        .collect();
    for t in watched {
        assert!(
            adopted.contains(*t),
            "{t}: the half-created object is adopted: {:?}",
            plan.drift
        );
    }
    aws.apply(engine, &plan);
    aws.assert_clean(engine, stack);
}

#[test]
fn a_crash_during_service_creates_is_adopted_not_duplicated() {
    let aws = Aws::new();
    let engine = aws.engine("crash-services.json");
    let cert = aws.certificate("crash.example.com");
    aws.converge(&engine, &stack(&cert, false, false, false));
    crash_and_adopt(
        &aws,
        &engine,
        "crash-services.json",
        &stack(&cert, true, false, false),
        &["CreateSecret"],
        &["aws_secretsmanager_secret"],
    );
    // The service creates start together once their groups exist.
    let full = stack(&cert, true, true, false);
    crash_and_adopt(
        &aws,
        &engine,
        "crash-services.json",
        &full,
        &[
            "CreateDBInstance",
            "CreateReplicationGroup",
            "POST /v1/clusters",
            "CreateLoadBalancer",
        ],
        &[
            "aws_db_instance",
            "aws_elasticache_replication_group",
            "aws_msk_cluster",
            "aws_lb",
        ],
    );

    // Exactly one of each, through the services' own APIs.
    let rds = aws_sdk_rds::Client::new(&aws.sdk);
    let ec = aws_sdk_elasticache::Client::new(&aws.sdk);
    let kafka = aws_sdk_kafka::Client::new(&aws.sdk);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk);
    let sm = aws_sdk_secretsmanager::Client::new(&aws.sdk);
    let counts = aws.rt.block_on(async {
        (
            rds.describe_db_instances()
                .send()
                .await
                .unwrap()
                .db_instances()
                .len(),
            ec.describe_replication_groups()
                .send()
                .await
                .unwrap()
                .replication_groups()
                .len(),
            kafka
                .list_clusters()
                .send()
                .await
                .unwrap()
                .cluster_info_list()
                .len(),
            elb.describe_load_balancers()
                .send()
                .await
                .unwrap()
                .load_balancers()
                .len(),
            // Ours only: RDS keeps the managed admin password in a secret of its own.
            sm.list_secrets()
                .send()
                .await
                .unwrap()
                .secret_list()
                .iter()
                .filter(|s| s.tags().iter().any(|t| t.key() == Some("cairn:stack")))
                .count(),
        )
    });
    assert_eq!(counts, (1, 1, 1, 1, 1), "(rds, redis, msk, alb, secrets)");

    // Objects inside others: a listener on the balancer, a rule on a listener and a topic
    // on the cluster, found under the parent the interrupted create was aimed at. Without
    // that the next run would create them again and AWS would refuse (DuplicateListener,
    // PriorityInUse, ConflictException). MSK's topic calls carry the cluster ARN in the path.
    let nested = stack(&cert, true, true, true);
    crash_and_adopt(
        &aws,
        &engine,
        "crash-services.json",
        &nested,
        &["CreateListener", "CreateRule", "POST /v1/clusters/*"],
        &["aws_lb_listener", "aws_lb_listener_rule", "aws_msk_topic"],
    );
    let rules = aws.rt.block_on(async {
        let lb = elb.describe_load_balancers().send().await.unwrap();
        let arn = lb.load_balancers()[0]
            .load_balancer_arn()
            .unwrap()
            .to_string();
        let listeners = elb
            .describe_listeners()
            .load_balancer_arn(arn)
            .send()
            .await
            .unwrap();
        let mut rules = 0;
        for l in listeners.listeners() {
            let out = elb
                .describe_rules()
                .listener_arn(l.listener_arn().unwrap())
                .send()
                .await
                .unwrap();
            rules += out
                .rules()
                .iter()
                .filter(|r| r.is_default() != Some(true))
                .count();
        }
        (listeners.listeners().len(), rules)
    });
    assert_eq!(
        rules,
        (2, 1),
        "(listeners, rules): one of each, none duplicated"
    );
    let topics = aws.rt.block_on(async {
        let clusters = kafka.list_clusters().send().await.unwrap();
        let arn = clusters.cluster_info_list()[0].cluster_arn().unwrap();
        let out = kafka.list_topics().cluster_arn(arn).send().await.unwrap();
        out.topics()
            .iter()
            .map(|t| t.topic_name().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    });
    assert_eq!(topics, ["orders"], "one topic, not duplicated");
    aws.destroy(&engine, &nested);
}

/// An Elastic IP whose AllocateAddress answer never comes in time: AWS cannot deduplicate it
/// (no token, no name), so the SDK must not send it again; the call ends "outcome unknown",
/// and the next plan waits out the in-flight window and adopts the one address made.
#[test]
fn a_create_aws_cannot_deduplicate_is_never_sent_twice() {
    let aws = Aws::new();
    let mut s = Stack::new("acc-once");
    let vpc = s.add("main", Network::new("10.91.0.0/16"));
    s.add(
        "public-0",
        Subnet::new(&vpc, "10.91.1.0/24").tier(Tier::Public).zone(0),
    );
    s.add(
        "app-0",
        Subnet::new(&vpc, "10.91.2.0/24")
            .tier(Tier::Private)
            .zone(0),
    );
    // Each AllocateAddress lands 2.5 s after it arrives; an attempt gives up after 1 s.
    aws.set_faults(r#"{"delay": {"AllocateAddress": 2500}}"#);
    let provider = std::sync::Arc::new(cairn_aws::AwsProvider::new(
        &aws.sdk,
        cairn_aws::AwsOptions {
            timeouts: cairn_aws::CallTimeouts {
                connect: Duration::from_secs(2),
                attempt: Duration::from_secs(1),
                call: Duration::from_secs(6),
                read_after_write: Duration::from_millis(500),
            },
            ..cairn_aws::AwsOptions::default()
        },
    ));
    let engine = aws.engine_with(provider, "once.json");
    let plan = aws.plan(&engine, &s);
    let report = aws
        .rt
        .block_on(engine.apply(&plan, &ApplyOptions::default()))
        .unwrap();
    let failed: Vec<_> = report
        .failed()
        .map(|(o, e)| (o.address.clone(), e.to_string()))
        .collect();
    assert!(
        failed.len() == 1
            && failed[0].0.as_str() == "aws_eip.main-nat-a"
            && failed[0].1.contains("outcome unknown")
            && failed[0].1.contains("sent no answer within 1s"),
        "{report}"
    );
    std::thread::sleep(Duration::from_secs(4)); // anything still in flight has landed
    let count_eips = || {
        aws.rt
            .block_on(aws.ec2().describe_addresses().send())
            .unwrap()
            .addresses()
            .len()
    };
    assert_eq!(count_eips(), 1, "the allocation was sent more than once");
    aws.set_faults(r#"{"delay": {}}"#);
    let drift = aws.converge(&engine, &s).drift;
    assert!(
        drift.iter().any(
            |d| matches!(d, Drift::Adopted { address, .. } if address == "aws_eip.main-nat-a")
        ),
        "{drift:?}"
    );
    assert_eq!(count_eips(), 1);
    aws.destroy(&engine, &s);
}

/// A request waiting for one of its service's concurrency slots has not left, so the attempt
/// timeout must not run meanwhile. Eighty Elastic IPs at once through a budget of 16 slots,
/// each answer 500 ms, an attempt timeout of 1.5 s: the last waves wait longer than that
/// before they are sent, yet every allocation is made, once, and none ends "outcome
/// unknown" (before, those waves did, never having been sent).
#[test]
fn a_request_waiting_for_a_slot_has_not_used_its_attempt_timeout() {
    use cairn_core::provider::{CreateRequest, Progress, Provider};
    use cairn_core::value::{Attrs, Value};
    let aws = Aws::new();
    aws.set_faults(r#"{"delay": {"AllocateAddress": 500}}"#);
    let provider = std::sync::Arc::new(cairn_aws::AwsProvider::new(
        &aws.sdk,
        cairn_aws::AwsOptions {
            timeouts: cairn_aws::CallTimeouts {
                connect: Duration::from_secs(2),
                attempt: Duration::from_millis(1500),
                call: Duration::from_secs(60),
                read_after_write: Duration::from_millis(500),
            },
            ..cairn_aws::AwsOptions::default()
        },
    ));
    const MANY: usize = 80;
    let results = aws.rt.block_on(async {
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..MANY {
            let provider = provider.clone();
            calls.spawn(async move {
                let mut attrs = Attrs::new();
                attrs.insert("domain".into(), Value::str("vpc"));
                let request = CreateRequest {
                    stack: "acc-queue".into(),
                    address: format!("aws_eip.queued-{i}").into(),
                    type_name: "aws_eip".into(),
                    attrs,
                    token: format!("queued-{i}"),
                    progress: Progress::new(|_| {}),
                };
                provider.create(request).await
            });
        }
        calls.join_all().await
    });
    aws.set_faults(r#"{"delay": {}}"#);
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    assert!(failed.is_empty(), "{} failed: {failed:#?}", failed.len());
    let ec2 = provider
        .budgets()
        .into_iter()
        .find(|b| b.service == "ec2")
        .unwrap();
    assert!(
        ec2.peak_in_use >= 16 && ec2.attempts >= MANY as u64,
        "the calls must have queued for slots: {ec2:?}"
    );
    let addresses = aws
        .rt
        .block_on(aws.ec2().describe_addresses().send())
        .unwrap();
    assert_eq!(
        addresses.addresses().len(),
        MANY,
        "each allocation made once"
    );
    for a in addresses.addresses() {
        aws.rt
            .block_on(
                aws.ec2()
                    .release_address()
                    .set_allocation_id(a.allocation_id().map(str::to_string))
                    .send(),
            )
            .unwrap();
    }
}

/// A security group whose create was interrupted after AWS made it, with the revoke of its
/// default egress rule still on its way: the next run must not take that rule over (or make
/// its own identical one) before the revoke lands, or the revoke would take the stack's own
/// rule with it. The group is adopted once the in-flight window has passed.
#[test]
fn a_group_create_still_revoking_its_default_egress_is_adopted_after_the_revoke_lands() {
    let aws = Aws::new();
    let mut s = Stack::new("acc-egress");
    let vpc = s.add("main", Network::new("10.92.0.0/16").nat(NatMode::None));
    s.add(
        "open",
        SecurityGroup::new(&vpc, "open egress")
            .ingress(Rule::tcp(443).from_cidr("10.92.0.0/16"))
            .allow_all_egress(),
    );
    let provider = || {
        std::sync::Arc::new(cairn_aws::AwsProvider::new(
            &aws.sdk,
            cairn_aws::AwsOptions {
                timeouts: cairn_aws::CallTimeouts {
                    connect: Duration::from_secs(2),
                    attempt: Duration::from_secs(3),
                    call: Duration::from_secs(4),
                    read_after_write: Duration::from_millis(500),
                },
                ..cairn_aws::AwsOptions::default()
            },
        ))
    };
    let engine = aws.engine_with(provider(), "egress.json");
    let plan = aws.plan(&engine, &s);
    // The revoke takes effect 2 s after it arrives; the run dies meanwhile.
    aws.set_faults(r#"{"delay": {"RevokeSecurityGroupEgress": 2000}}"#);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let opts = ApplyOptions::default();
    rt.block_on(async {
        let apply = engine.apply(&plan, &opts);
        tokio::pin!(apply);
        loop {
            tokio::select! {
                r = &mut apply => panic!("the apply ended before its revoke landed: {r:?}"),
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
            if aws.calls().contains("\"RevokeSecurityGroupEgress\"") {
                // The group exists; its revoke arrived and takes effect in 2 s.
                return;
            }
        }
    });
    drop(rt); // kill -9
    let store = engine.store();
    let lock = std::fs::read(aws.dir.path().join("egress.json.lock")).unwrap();
    let id: serde_json::Value = serde_json::from_slice(&lock).unwrap();
    store.force_unlock(id["id"].as_str().unwrap()).unwrap();
    aws.set_faults(r#"{"delay": {}}"#);
    let engine = aws.engine_with(provider(), "egress.json");
    aws.converge(&engine, &s);
    std::thread::sleep(Duration::from_secs(3)); // the revoke has landed by now
    let plan = aws.plan(&engine, &s);
    assert!(
        !plan.has_changes(),
        "the stack's egress rule survived the late revoke:\n{}",
        cairn_core::plan::render::text(&plan, Default::default())
    );
    let group = engine.read_state("acc-egress").unwrap().unwrap().resources
        ["aws_security_group.open"]
        .id
        .clone();
    let rules = aws
        .rt
        .block_on(
            aws.ec2()
                .describe_security_group_rules()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("group-id")
                        .values(group.as_str())
                        .build(),
                )
                .send(),
        )
        .unwrap();
    let egress = rules
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(true))
        .count();
    assert_eq!(egress, 1, "exactly the declared egress rule");
    aws.destroy(&engine, &s);
}
