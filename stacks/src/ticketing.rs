//! Ticketing system (`shared/seeds/000_7d8cf588ad672fd7.txt`): event-sourced, sagas over a
//! Kafka-compatible bus.
//!
//! From the guide's AWS section: PostgreSQL 15 on db.t3.medium, 100 GB gp3, encrypted,
//! Multi-AZ, 7-day backups in 03:00-04:00, maintenance on Monday mornings (moved an hour
//! past the backups: cairn refuses windows that meet); a Kafka cluster for 2 MB/s and
//! 100 GB (the guide's 2 Event Hubs throughput units; on AWS its 3 kafka.m5.large brokers
//! with 100 GB each), TLS between clients and brokers and inside the cluster; the saga topics (inventory, reservation and payment events, 4 partitions
//! each, as the guide's Event Hubs section names them); Secrets Manager entries for the
//! database and the broker credentials. Everything sits in private subnets across three
//! zones (three brokers need three zones); the service itself (port 8080) is not part of
//! the infrastructure stack, but its security group is, so the data stores admit it alone.

use crate::Params;
use cairn_core::prelude::*;

/// The ticketing stack (`ticketing-ENV`) for `p`. It has no load balancer and no cache, so
/// `p`'s certificate and cache size are not read.
pub fn stack(p: &Params) -> Stack {
    let mut s = p.stack("ticketing");
    let vpc = s.add("vpc", Network::new("10.10.0.0/16").nat(NatMode::None));
    for z in 0..3u8 {
        s.add(
            &format!("private-{}", ["a", "b", "c"][z as usize]),
            Subnet::new(&vpc, &format!("10.10.{}.0/24", z + 1))
                .tier(Tier::Isolated)
                .zone(z),
        );
    }

    // The service's machines: the data stores admit them alone (access edges below).
    let app_sg = s.add(
        "app",
        SecurityGroup::new(&vpc, "ticketing service").ingress(
            Rule::tcp(8080)
                .from_cidr("10.10.0.0/16")
                .description("HTTP API inside the network"),
        ),
    );

    let db_password = s.add(
        "postgres-password",
        Secret::generated().description("ticketing PostgreSQL admin password"),
    );
    s.add(
        "broker-credentials",
        Secret::generated()
            .length(40)
            .description("ticketing Kafka client credentials"),
    );

    let db = s.add(
        "postgres",
        Database::postgres("15")
            // The guide pins RDS to 15.3 (and Cloud SQL to POSTGRES_15).
            .override_for("aws", "engine_version", "15.3")
            .size(p.database_size.unwrap_or(Size::Medium))
            .storage_gb(100)
            .storage_type(StorageType::Ssd)
            .encrypted(true)
            .deletion_protection(p.protect_data)
            .high_availability(true)
            .backup_retention_days(7)
            .backup_window(Window::daily(3))
            // The guide's mon:04:00-mon:05:00 touches its 03:00-04:00 backups, which cairn
            // refuses (clouds differ on adjacent windows); the next whole hour.
            .maintenance_window(Window::weekly(Weekday::Mon, 5))
            .admin_user("ticketing_admin")
            .admin_password(&db_password)
            .database("ticketing")
            .in_network(&vpc)
            .in_tier(Tier::Isolated),
    );
    // The guide's Event Hubs namespace has 2 throughput units (2 MB/s in) and its MSK
    // cluster 3 × 100 GB for 3 copies: 2 MB/s and 100 GB, which MSK gets as the guide's
    // 3 kafka.m5.large (one per zone) with 100 GiB each.
    let mut broker = Broker::kafka("3")
        // The guide pins MSK to Kafka 3.5.1.
        .override_for("aws", "kafka_version", "3.5.1")
        .throughput_mb_s(2)
        .storage_gb(100)
        .tls(true)
        .in_network(&vpc)
        .in_tier(Tier::Isolated);
    for topic in [
        "ticketing-inventory-events",
        "ticketing-reservation-events",
        "ticketing-payment-events",
    ] {
        broker = broker.topic(topic, 4);
    }
    let broker = s.add("events", broker);
    s.allow(
        app_sg
            .can_reach(&db)
            .description("PostgreSQL: the service only"),
    );
    s.allow(
        app_sg
            .can_reach(&broker)
            .description("Kafka over TLS: the service only"),
    );
    s.output("db_endpoint", db.attr("endpoint"));
    s.output("bootstrap_brokers", broker.attr("bootstrap_brokers"));
    s
}
