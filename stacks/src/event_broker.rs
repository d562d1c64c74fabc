//! Event broker service (`shared/seeds/002_d444d646b696b709.txt`): a single-process broker
//! with a write-ahead log, listening on port 3000.
//!
//! From the guide: keep the service off the internet (private network, "don't expose port
//! directly") behind a reverse proxy / load balancer that terminates TLS and forwards to
//! port 3000, health-checked on `GET /api/health`; for production it recommends PostgreSQL
//! instead of the local store and Redis for frequently accessed data. Two zones, so the
//! balancer, the database's standby and the Redis replica each have a second home.

use crate::Params;
use cairn_core::prelude::*;

/// The event broker stack (`event-broker-ENV`) for `p`.
pub fn stack(p: &Params) -> Stack {
    let mut s = p.stack("event-broker");
    let vpc = s.add("vpc", Network::new("10.30.0.0/16").nat(NatMode::Shared));
    for (z, zone) in ["a", "b"].iter().enumerate() {
        s.add(
            &format!("public-{zone}"),
            Subnet::new(&vpc, &format!("10.30.{}.0/24", z + 1))
                .tier(Tier::Public)
                .zone(z as u8),
        );
        s.add(
            &format!("service-{zone}"),
            Subnet::new(&vpc, &format!("10.30.{}.0/24", z + 11))
                .tier(Tier::Private)
                .zone(z as u8),
        );
        s.add(
            &format!("data-{zone}"),
            Subnet::new(&vpc, &format!("10.30.{}.0/24", z + 21))
                .tier(Tier::Isolated)
                .zone(z as u8),
        );
    }

    let service_sg = s.add(
        "service",
        SecurityGroup::new(&vpc, "event broker service").allow_all_egress(),
    );
    let db_password = s.add(
        "db-password",
        Secret::generated().description("event broker PostgreSQL admin password"),
    );
    let redis_token = s.add(
        "redis-auth",
        // Made for the cache: generated to ElastiCache's rules on AWS, the cache's own
        // AUTH string where the cloud makes one.
        Secret::produced().description("event broker Redis AUTH token"),
    );
    let db = s.add(
        "postgres",
        Database::postgres("15")
            .size(p.database_size.unwrap_or(Size::Small))
            .storage_gb(50)
            .encrypted(true)
            .deletion_protection(p.protect_data)
            .high_availability(true)
            .backup_retention_days(7)
            .admin_user("broker_admin")
            .admin_password(&db_password)
            .database("event_broker")
            .in_network(&vpc)
            .in_tier(Tier::Isolated),
    );
    let cache = s.add(
        "redis",
        Cache::redis("7")
            // Azure Cache for Redis runs Redis 6 at most (7 is Azure Managed Redis).
            .override_for("azure", "redis_version", "6")
            .size(p.cache_size.unwrap_or(Size::Micro))
            .replicas(1)
            .automatic_failover(true)
            .transit_encryption(true)
            .at_rest_encryption(true)
            .auth_token(&redis_token)
            .in_network(&vpc)
            .in_tier(Tier::Isolated),
    );
    s.allow(
        service_sg
            .can_reach(&db)
            .description("PostgreSQL from the service"),
    );
    s.allow(
        service_sg
            .can_reach(&cache)
            .description("Redis from the service"),
    );
    let lb = s.add(
        "web",
        LoadBalancer::public()
            .http_redirect()
            .https(p.certificate_for("event-broker"))
            .target_group(TargetGroup::new(
                "broker",
                3000,
                HealthCheck::http("/api/health"),
            ))
            .default_target("broker")
            .in_network(&vpc)
            .in_tier(Tier::Public),
    );
    s.allow(
        lb.can_reach(&service_sg)
            .port(3000)
            .description("from the load balancer only"),
    );
    s.output("lb_address", lb.attr("address"));
    s.output("db_endpoint", db.attr("endpoint"));
    s.output("redis_endpoint", cache.attr("endpoint"));
    s
}
