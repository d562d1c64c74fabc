//! Acceptance checks for MSK: create through CREATING, in-place broker count and storage
//! changes (each an MSK operation, through UPDATING), a forced replacement, destroy.

use crate::support::Aws;
use cairn_core::plan::Action;
use cairn_core::prelude::*;

fn broker_stack(brokers: u32, storage: u32, tls: bool) -> Stack {
    let mut s = Stack::new("acc-msk");
    let vpc = s.add("main", Network::new("10.70.0.0/16").nat(NatMode::None));
    let a = s.add(
        "a",
        Subnet::new(&vpc, "10.70.1.0/24")
            .tier(Tier::Isolated)
            .zone(0),
    );
    let b = s.add(
        "b",
        Subnet::new(&vpc, "10.70.2.0/24")
            .tier(Tier::Isolated)
            .zone(1),
    );
    let sg = s.add(
        "kafka",
        SecurityGroup::new(&vpc, "kafka").ingress(Rule::tcp(9094).from_cidr("10.70.0.0/16")),
    );
    s.add(
        "events",
        Broker::kafka("3.6.0")
            .brokers(brokers)
            .storage_gb(storage)
            .tls(tls)
            .topic("orders", 4)
            .subnets([&a, &b])
            .security_group(&sg),
    );
    s
}

fn clusters(aws: &Aws) -> Vec<(String, i32)> {
    let k = aws_sdk_kafka::Client::new(&aws.sdk);
    let out = aws.rt.block_on(k.list_clusters().send()).unwrap();
    out.cluster_info_list()
        .iter()
        .map(|c| {
            (
                c.state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                c.number_of_broker_nodes().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn broker_lifecycle() {
    let aws = Aws::new();
    let engine = aws.engine("msk.json");
    let stack = broker_stack(2, 100, true);
    aws.converge(&engine, &stack);
    assert_eq!(clusters(&aws), [("ACTIVE".to_string(), 2)]);
    aws.assert_clean(&engine, &stack);

    let grown = broker_stack(4, 200, true);
    let plan = aws.plan(&engine, &grown);
    let c = plan
        .changes
        .iter()
        .find(|c| c.address == "aws_msk_cluster.events")
        .unwrap();
    assert_eq!(c.action, Action::Update);
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &grown);
    assert_eq!(clusters(&aws), [("ACTIVE".to_string(), 4)]);

    let plaintext = broker_stack(4, 200, false);
    let plan = aws.plan(&engine, &plaintext);
    let c = plan
        .changes
        .iter()
        .find(|c| c.address == "aws_msk_cluster.events")
        .unwrap();
    assert_eq!(c.action, Action::Replace);
    assert!(
        c.replace_because
            .iter()
            .any(|r| r.starts_with("encryption_in_transit")),
        "{:?}",
        c.replace_because
    );
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &plaintext);

    aws.destroy(&engine, &plaintext);
    assert!(
        clusters(&aws).is_empty(),
        "the emulator finishes deletes like AWS"
    );
}
