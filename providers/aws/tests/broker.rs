//! Acceptance checks for MSK: clusters (create through CREATING, in-place broker count and
//! storage changes, each an MSK operation through UPDATING, a forced replacement) and topics
//! (MSK's topic API: partitions grown in place), import, out-of-band deletion, destroy.

use crate::support::Aws;
use cairn_core::prelude::*;
use cairn_provider_kit::lifecycle::Case;

/// What the acceptance cases vary: the portable sizing, TLS, the topic settings, and an
/// AWS pin of the broker count.
#[derive(Clone, Copy)]
struct Knobs {
    throughput: u32,
    storage: u32,
    tls: bool,
    partitions: u32,
    retention_hours: u32,
    brokers: Option<u32>,
}

const BASE: Knobs = Knobs {
    throughput: 1,
    storage: 100,
    tls: true,
    partitions: 4,
    retention_hours: 168,
    brokers: None,
};

fn broker_stack(k: Knobs) -> Stack {
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
    let mut broker = Broker::kafka("3")
        .override_for("aws", "kafka_version", "3.6.0")
        .throughput_mb_s(k.throughput)
        .storage_gb(k.storage)
        .tls(k.tls)
        .topic_with(
            Topic::new("orders", k.partitions)
                .replication(2)
                .retention_hours(k.retention_hours),
        )
        .topic_with(
            Topic::new("payments.events", 4)
                .replication(2)
                .compacted(true),
        )
        .subnets([&a, &b])
        .security_group(&sg);
    if let Some(n) = k.brokers {
        broker = broker.override_for("aws", "number_of_broker_nodes", n);
    }
    s.add("events", broker);
    s
}

/// (state, brokers, instance type, EBS GiB) of every MSK cluster.
fn clusters(aws: &Aws) -> Vec<(String, i32, String, i32)> {
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
                c.broker_node_group_info()
                    .and_then(|b| b.instance_type())
                    .unwrap_or_default()
                    .to_string(),
                c.broker_node_group_info()
                    .and_then(|b| b.storage_info())
                    .and_then(|s| s.ebs_storage_info())
                    .and_then(|e| e.volume_size())
                    .unwrap_or(0),
            )
        })
        .collect()
}

/// (name, partitions, replication, retention hours, cleanup policy) of the stack's
/// cluster's topics, through MSK's API (the settings decoded from DescribeTopic's configs).
fn topics(aws: &Aws, engine: &cairn_core::Engine) -> Vec<(String, i32, i32, i64, String)> {
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
            let name = t.topic_name().unwrap_or_default().to_string();
            let d = aws
                .rt
                .block_on(
                    k.describe_topic()
                        .cluster_arn(arn.as_str())
                        .topic_name(&name)
                        .send(),
                )
                .unwrap();
            let text = String::from_utf8(
                aws_smithy_types::base64::decode(d.configs().unwrap_or_default()).unwrap(),
            )
            .unwrap();
            let prop = |k: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(&format!("{k}=")))
                    .unwrap_or_default()
                    .to_string()
            };
            (
                name,
                t.partition_count().unwrap_or(0),
                t.replication_factor().unwrap_or(0),
                prop("retention.ms").parse::<i64>().unwrap() / 3_600_000,
                prop("cleanup.policy"),
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
        stack: broker_stack(BASE),
        creates: vec!["aws_msk_cluster", "aws_msk_topic"],
        write_only: vec![],
        updates: vec![
            // More throughput and data: a larger broker type and more disk, each an MSK
            // operation through UPDATING.
            (
                broker_stack(Knobs {
                    throughput: 30,
                    storage: 200,
                    ..BASE
                }),
                CLUSTER,
            ),
            // The broker count pinned for AWS (UpdateBrokerCount).
            (
                broker_stack(Knobs {
                    throughput: 30,
                    storage: 200,
                    brokers: Some(4),
                    ..BASE
                }),
                CLUSTER,
            ),
            // A topic's partitions grow and its retention changes in place (UpdateTopic).
            (
                broker_stack(Knobs {
                    throughput: 30,
                    storage: 200,
                    brokers: Some(4),
                    partitions: 8,
                    retention_hours: 24,
                    ..BASE
                }),
                "aws_msk_topic.events-orders",
            ),
        ],
        replace: Some((
            broker_stack(Knobs {
                throughput: 30,
                storage: 200,
                brokers: Some(4),
                partitions: 8,
                retention_hours: 24,
                tls: false,
            }),
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
        (3, 1, 1)
    );
}

/// What MSK itself reports along the way, and a topic deleted out of band.
#[test]
fn brokers_and_topics_are_what_msk_reports() {
    let aws = Aws::new();
    let engine = aws.engine("msk-topics.json");
    let stack = broker_stack(BASE);
    aws.converge(&engine, &stack);
    // 1 MB/s over two zones with two copies: one m5.large per zone, each holding one copy
    // of the 100 GB.
    assert_eq!(
        clusters(&aws),
        [("ACTIVE".to_string(), 2, "kafka.m5.large".to_string(), 100)]
    );
    assert_eq!(
        topics(&aws, &engine),
        [
            ("orders".to_string(), 4, 2, 168, "delete".to_string()),
            (
                "payments.events".to_string(),
                4,
                2,
                168,
                "compact".to_string()
            )
        ]
    );
    // 30 MB/s needs 6 vCPUs: two m5.xlarge.
    let more = broker_stack(Knobs {
        throughput: 30,
        partitions: 8,
        retention_hours: 24,
        ..BASE
    });
    aws.converge(&engine, &more);
    assert_eq!(
        clusters(&aws),
        [("ACTIVE".to_string(), 2, "kafka.m5.xlarge".to_string(), 100)]
    );
    assert_eq!(
        topics(&aws, &engine)[0],
        ("orders".to_string(), 8, 2, 24, "delete".to_string())
    );

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
