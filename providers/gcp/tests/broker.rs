//! Managed Service for Apache Kafka through the kit's lifecycle suite: the cluster's
//! vCPUs grown in place with the throughput, a topic's partitions and retention in place,
//! a topic's copies as a replacement, a topic deleted out of band, destroy counted through
//! the API.

use crate::support::{Gcp, PROJECT, REGION};
use cairn_core::prelude::*;
use cairn_provider_kit::lifecycle::Case;

fn stack(throughput: u32, partitions: u32, retention_hours: u32, copies: u32) -> Stack {
    let mut s = Stack::new("acc-kafka");
    let vpc = s.add("main", Network::new("10.50.0.0/16").nat(NatMode::None));
    s.add(
        "data",
        Subnet::new(&vpc, "10.50.1.0/24").tier(Tier::Isolated),
    );
    s.add(
        "events",
        Broker::kafka("3")
            .in_network(&vpc)
            .throughput_mb_s(throughput)
            .storage_gb(100)
            .topic_with(
                Topic::new("orders", partitions)
                    .replication(copies)
                    .retention_hours(retention_hours),
            )
            .tag("team", "events"),
    );
    s
}

fn clusters(gcp: &Gcp) -> Vec<serde_json::Value> {
    let (status, body) = gcp.rest(
        "GET",
        &format!("/managedkafka.googleapis.com/v1/projects/{PROJECT}/locations/{REGION}/clusters"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["clusters"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c["labels"]["cairn-stack"] == "acc-kafka")
        .collect()
}

#[test]
fn managed_kafka_through_the_lifecycle_suite() {
    let gcp = Gcp::new();
    let report = gcp.lifecycle(Case {
        name: "gcp-kafka",
        stack: stack(2, 6, 168, 3),
        creates: vec!["gcp_managed_kafka_cluster", "gcp_managed_kafka_topic"],
        write_only: vec![],
        updates: vec![
            (stack(20, 6, 168, 3), "gcp_managed_kafka_cluster.events"),
            (
                stack(20, 12, 168, 3),
                "gcp_managed_kafka_topic.events-orders",
            ),
            (
                stack(20, 12, 72, 3),
                "gcp_managed_kafka_topic.events-orders",
            ),
        ],
        replace: Some((
            stack(20, 12, 72, 2),
            "gcp_managed_kafka_topic.events-orders",
            vec!["replication_factor"],
        )),
        delete_out_of_band: Some((
            vec!["gcp_managed_kafka_topic.events-orders"],
            Box::new(|id| {
                let (status, body) = gcp.rest(
                    "DELETE",
                    &format!("/managedkafka.googleapis.com/v1/{id}"),
                    "",
                );
                assert_eq!(status, 200, "{body}");
                Box::pin(async {})
            }),
        )),
        remaining: Box::new(|_| {
            let n = clusters(&gcp).len();
            Box::pin(async move { n })
        }),
    });
    assert_eq!((report.replaced, report.recreated), (1, 1), "{report:?}");
    assert!(report.updated >= 3, "{report:?}");
}
