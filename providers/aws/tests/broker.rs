//! Acceptance checks for MSK: clusters (create through CREATING, in-place broker count and
//! storage changes, each an MSK operation through UPDATING, a forced replacement) and topics
//! (MSK's topic API: partitions grown in place), import, out-of-band deletion, destroy.

use crate::support::Aws;
use cairn_core::plan::Action;
use cairn_core::prelude::*;

fn broker_stack(brokers: u32, storage: u32, tls: bool) -> Stack {
    broker_stack_with(brokers, storage, tls, 4)
}

fn broker_stack_with(brokers: u32, storage: u32, tls: bool, partitions: u32) -> Stack {
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
            .topic_with(Topic {
                name: "orders".into(),
                partitions,
                replication: 2,
            })
            .topic_with(Topic {
                name: "payments.events".into(),
                partitions: 4,
                replication: 2,
            })
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

/// (name, partitions, replication) of the stack's cluster's topics, through MSK's API.
fn topics(aws: &Aws, engine: &cairn_core::Engine) -> Vec<(String, i32, i32)> {
    let arn = engine.store().read().unwrap().unwrap().resources["aws_msk_cluster.events"]
        .id
        .clone();
    let k = aws_sdk_kafka::Client::new(&aws.sdk);
    let out = aws
        .rt
        .block_on(k.list_topics().cluster_arn(arn.as_str()).send())
        .unwrap();
    out.topics()
        .iter()
        .map(|t| {
            (
                t.topic_name().unwrap_or_default().to_string(),
                t.partition_count().unwrap_or(0),
                t.replication_factor().unwrap_or(0),
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
    assert_eq!(
        topics(&aws, &engine),
        [
            ("orders".to_string(), 4, 2),
            ("payments.events".to_string(), 4, 2)
        ]
    );
    aws.assert_clean(&engine, &stack);
    aws.assert_import_matches(&engine, &stack, &[]);

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

    // A topic's partitions grow in place (UpdateTopic), never shrink.
    let more = broker_stack_with(4, 200, true, 8);
    let plan = aws.plan(&engine, &more);
    let t = plan
        .changes
        .iter()
        .find(|c| c.address == "aws_msk_topic.events-orders")
        .unwrap();
    assert_eq!(t.action, Action::Update);
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &more);
    assert_eq!(topics(&aws, &engine)[0], ("orders".to_string(), 8, 2));

    // A topic deleted out of band is recreated.
    let cluster = engine.store().read().unwrap().unwrap().resources["aws_msk_cluster.events"]
        .id
        .clone();
    let k = aws_sdk_kafka::Client::new(&aws.sdk);
    aws.rt
        .block_on(
            k.delete_topic()
                .cluster_arn(cluster.as_str())
                .topic_name("payments.events")
                .send(),
        )
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400)); // past DELETING
    aws.assert_recreated(&engine, &more, &["aws_msk_topic.events-payments.events"]);

    let plaintext = broker_stack_with(4, 200, false, 8);
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

    // Deleted out of band -> recreated.
    let arn = engine.store().read().unwrap().unwrap().resources["aws_msk_cluster.events"]
        .id
        .clone();
    aws.rt
        .block_on(k.delete_cluster().cluster_arn(arn.as_str()).send())
        .unwrap();
    aws.assert_recreated(&engine, &plaintext, &["aws_msk_cluster.events"]);

    aws.destroy(&engine, &plaintext);
    assert!(
        clusters(&aws).is_empty(),
        "the emulator finishes deletes like AWS"
    );
}
