//! Acceptance checks for MSK: clusters (create through CREATING, in-place broker count and
//! storage changes, each an MSK operation through UPDATING, a forced replacement) and topics
//! (MSK's topic API: partitions grown in place), import, out-of-band deletion, destroy.

use crate::support::Aws;
use cairn_core::prelude::*;
use cairn_provider_kit::lifecycle::Case;

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
    let k = aws_sdk_kafka::Client::new(&aws.sdk);
    const CLUSTER: &str = "aws_msk_cluster.events";
    let report = aws.lifecycle(Case {
        name: "msk",
        stack: broker_stack(2, 100, true),
        creates: vec!["aws_msk_cluster", "aws_msk_topic"],
        write_only: vec![],
        updates: vec![
            // Broker count and storage, each an MSK operation through UPDATING.
            (broker_stack(4, 200, true), CLUSTER),
            // A topic's partitions grow in place (UpdateTopic).
            (
                broker_stack_with(4, 200, true, 8),
                "aws_msk_topic.events-orders",
            ),
        ],
        replace: Some((
            broker_stack_with(4, 200, false, 8),
            CLUSTER,
            vec![
                "encryption_in_transit_client_broker",
                "encryption_in_transit_in_cluster",
            ],
        )),
        delete_out_of_band: Some((
            // Its topics follow it, replaced into the new cluster.
            vec![CLUSTER],
            Box::new(|arn| {
                let k = k.clone();
                Box::pin(async move {
                    k.delete_cluster().cluster_arn(arn).send().await.unwrap();
                })
            }),
        )),
        remaining: Box::new(|_| {
            let k = k.clone();
            Box::pin(async move {
                k.list_clusters()
                    .send()
                    .await
                    .unwrap()
                    .cluster_info_list()
                    .len()
            })
        }),
    });
    assert_eq!(
        (report.updated, report.replaced, report.recreated),
        (2, 1, 1)
    );
}

/// What MSK itself reports along the way, and a topic deleted out of band.
#[test]
fn brokers_and_topics_are_what_msk_reports() {
    let aws = Aws::new();
    let engine = aws.engine("msk-topics.json");
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
    let more = broker_stack_with(4, 100, true, 8);
    aws.converge(&engine, &more);
    assert_eq!(clusters(&aws), [("ACTIVE".to_string(), 4)]);
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
    aws.destroy(&engine, &more);
    assert!(
        clusters(&aws).is_empty(),
        "the emulator finishes deletes like AWS"
    );
}
