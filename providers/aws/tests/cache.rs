//! Acceptance checks for ElastiCache Redis: subnet group and replication group through
//! their pending states, with an in-place update, a forced replacement, and destroy.

use crate::support::Aws;
use cairn_core::plan::Action;
use cairn_core::prelude::*;
use cairn_provider_kit::lifecycle::Case;

fn cache_stack(size: Size, port: u32) -> Stack {
    cache_stack_with(size, port, 1)
}

fn cache_stack_with(size: Size, port: u32, replicas: u32) -> Stack {
    let mut s = Stack::new("acc-cache");
    let vpc = s.add("main", Network::new("10.50.0.0/16").nat(NatMode::None));
    let a = s.add(
        "cache-a",
        Subnet::new(&vpc, "10.50.1.0/24")
            .tier(Tier::Isolated)
            .zone(0),
    );
    let b = s.add(
        "cache-b",
        Subnet::new(&vpc, "10.50.2.0/24")
            .tier(Tier::Isolated)
            .zone(1),
    );
    let sg = s.add(
        "cache",
        SecurityGroup::new(&vpc, "cache").ingress(Rule::tcp(6379).from_cidr("10.50.0.0/16")),
    );
    let token = s.add(
        "redis-auth",
        Secret::generated().length(40).symbols("!&#$^<>-"),
    );
    let c = s.add(
        "sessions",
        Cache::redis("7")
            .size(size)
            .replicas(replicas)
            .auth_token(&token)
            .port(port)
            .subnets([&a, &b])
            .security_group(&sg)
            .tag("team", "payments"),
    );
    s.output("endpoint", c.attr("endpoint"));
    s
}

fn groups(aws: &Aws) -> usize {
    let ec = aws_sdk_elasticache::Client::new(&aws.sdk);
    aws.rt
        .block_on(ec.describe_replication_groups().send())
        .unwrap()
        .replication_groups()
        .len()
}

#[test]
fn cache_lifecycle() {
    let aws = Aws::new();
    let ec = aws_sdk_elasticache::Client::new(&aws.sdk);
    const GROUP: &str = "aws_elasticache_replication_group.sessions";
    let report = aws.lifecycle(Case {
        name: "cache",
        stack: cache_stack(Size::Small, 6379),
        creates: vec![
            "aws_elasticache_subnet_group",
            "aws_elasticache_replication_group",
        ],
        write_only: vec!["auth_token"],
        // A bigger node, then replica counts both ways (Increase/DecreaseReplicaCount).
        updates: vec![
            (cache_stack(Size::Medium, 6379), GROUP),
            (cache_stack_with(Size::Medium, 6379, 2), GROUP),
            (cache_stack_with(Size::Medium, 6379, 1), GROUP),
        ],
        replace: Some((cache_stack(Size::Medium, 6380), GROUP, vec!["port"])),
        delete_out_of_band: Some((
            vec![GROUP],
            Box::new(|id| {
                let ec = ec.clone();
                Box::pin(async move {
                    ec.delete_replication_group()
                        .replication_group_id(id)
                        .send()
                        .await
                        .unwrap();
                })
            }),
        )),
        remaining: Box::new(|_| {
            let ec = ec.clone();
            Box::pin(async move {
                let groups = ec.describe_replication_groups().send().await.unwrap();
                let subnet_groups = ec.describe_cache_subnet_groups().send().await.unwrap();
                groups.replication_groups().len() + subnet_groups.cache_subnet_groups().len()
            })
        }),
    });
    assert_eq!(
        (report.updated, report.replaced, report.recreated),
        (3, 1, 1)
    );
}

/// An engine upgrade made out of band is drift: the plan puts the declared version back.
#[test]
fn an_out_of_band_engine_upgrade_is_drift_put_back() {
    let aws = Aws::new();
    let engine = aws.engine("cache-drift.json");
    let stack = cache_stack(Size::Small, 6379);
    aws.converge(&engine, &stack);
    assert_eq!(groups(&aws), 1);
    let ec = aws_sdk_elasticache::Client::new(&aws.sdk);
    let id = engine.store().read().unwrap().unwrap().resources
        ["aws_elasticache_replication_group.sessions"]
        .id
        .clone();
    aws.rt
        .block_on(
            ec.modify_replication_group()
                .replication_group_id(id.as_str())
                .engine_version("7.2")
                .apply_immediately(true)
                .send(),
        )
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400)); // past "modifying"
    let plan = aws.plan(&engine, &stack);
    let rg = plan
        .changes
        .iter()
        .find(|c| c.address == "aws_elasticache_replication_group.sessions")
        .unwrap();
    assert_eq!(rg.action, Action::Update, "{:?}", rg.changes);
    assert_eq!(
        rg.changes
            .iter()
            .map(|c| (c.name.as_str(), c.before.to_string(), c.after.to_string()))
            .collect::<Vec<_>>(),
        [(
            "engine_version",
            "\"7.2\"".to_string(),
            "\"7.1\"".to_string()
        )]
    );
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &stack);
    aws.destroy(&engine, &stack);
    assert_eq!(groups(&aws), 0);
}
