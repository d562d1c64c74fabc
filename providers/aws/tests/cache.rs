//! Acceptance checks for ElastiCache Redis: subnet group and replication group through
//! their pending states, with an in-place update, a forced replacement, and destroy.

use crate::support::Aws;
use cairn_core::plan::Action;
use cairn_core::prelude::*;

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
    let engine = aws.engine("cache.json");
    let stack = cache_stack(Size::Small, 6379);
    let plan = aws.converge(&engine, &stack);
    assert!(plan
        .changes
        .iter()
        .any(|c| c.type_name == "aws_elasticache_replication_group" && c.action == Action::Create));
    assert_eq!(groups(&aws), 1);
    aws.assert_clean(&engine, &stack);
    aws.assert_import_matches(&engine, &stack, &["auth_token"]);

    let bigger = cache_stack(Size::Medium, 6379);
    let plan = aws.plan(&engine, &bigger);
    let rg = plan
        .changes
        .iter()
        .find(|c| c.address == "aws_elasticache_replication_group.sessions")
        .unwrap();
    assert_eq!(rg.action, Action::Update, "{:?}", rg.changes);
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &bigger);

    // Replica count changes in place (IncreaseReplicaCount / DecreaseReplicaCount).
    for replicas in [2, 1] {
        let resized = cache_stack_with(Size::Medium, 6379, replicas);
        let plan = aws.plan(&engine, &resized);
        let rg = plan
            .changes
            .iter()
            .find(|c| c.address == "aws_elasticache_replication_group.sessions")
            .unwrap();
        assert_eq!(rg.action, Action::Update, "{:?}", rg.changes);
        aws.apply(&engine, &plan);
        aws.assert_clean(&engine, &resized);
    }

    let moved = cache_stack(Size::Medium, 6380);
    let plan = aws.plan(&engine, &moved);
    let rg = plan
        .changes
        .iter()
        .find(|c| c.address == "aws_elasticache_replication_group.sessions")
        .unwrap();
    assert_eq!(
        (rg.action, rg.replace_because.clone()),
        (Action::Replace, vec!["port".to_string()])
    );
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &moved);

    // An engine upgrade made out of band is drift: the plan puts the declared version back.
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
    let plan = aws.plan(&engine, &moved);
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
    aws.assert_clean(&engine, &moved);

    // Deleted out of band -> recreated.
    aws.rt
        .block_on(
            ec.delete_replication_group()
                .replication_group_id(id.as_str())
                .send(),
        )
        .unwrap();
    aws.assert_recreated(
        &engine,
        &moved,
        &["aws_elasticache_replication_group.sessions"],
    );

    aws.destroy(&engine, &moved);
    assert_eq!(
        groups(&aws),
        0,
        "the group is gone (the emulator finishes deletes, like AWS)"
    );
    assert!(aws
        .rt
        .block_on(ec.describe_cache_subnet_groups().send())
        .unwrap()
        .cache_subnet_groups()
        .is_empty());
}
