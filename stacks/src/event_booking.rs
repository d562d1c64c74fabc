//! Event booking platform (`shared/seeds/001_a1ac4fa4d00096d1.txt`): five Spring services
//! behind one load balancer.
//!
//! From the guide: a VPC with DNS support across three zones, public subnets for the load
//! balancer, private app subnets for the services and private db subnets for the data
//! stores; an internet gateway, a NAT gateway per zone, route tables per tier and an S3
//! gateway endpoint. Security groups: the balancer takes 80 and 443 from anywhere, the
//! services take their port (8080) from the balancer only, PostgreSQL 5432 and Redis 6379
//! from the services only. The balancer redirects HTTP to HTTPS, terminates TLS with the
//! ACM certificate and routes `/api/{auth,events,tickets,payments,notifications}/*` to the
//! five services, each with blue and green target groups health-checked on
//! `/actuator/health` (blue live; a deployment flips to green). PostgreSQL (Multi-AZ,
//! encrypted, automated backups) and Redis (replica, failover, TLS, AUTH token).

use crate::Params;
use cairn_core::prelude::*;

/// The services, their path prefix, and the routing priority of each.
const SERVICES: [(&str, &str); 5] = [
    ("auth", "/api/auth/*"),
    ("events", "/api/events/*"),
    ("tickets", "/api/tickets/*"),
    ("payments", "/api/payments/*"),
    ("notifications", "/api/notifications/*"),
];

/// The event booking stack (`event-booking-ENV`) for `p`.
pub fn stack(p: &Params) -> Stack {
    let mut s = p.stack("event-booking");
    let vpc = s.add(
        "vpc",
        Network::new("10.0.0.0/16")
            .nat(NatMode::PerZone)
            .storage_endpoint(true),
    );
    let zones = ["a", "b", "c"];
    for (z, zone) in zones.iter().enumerate() {
        s.add(
            &format!("public-{zone}"),
            Subnet::new(&vpc, &format!("10.0.{}.0/24", z + 1))
                .tier(Tier::Public)
                .zone(z as u8),
        );
        s.add(
            &format!("app-{zone}"),
            Subnet::new(&vpc, &format!("10.0.{}.0/24", z + 11))
                .tier(Tier::Private)
                .zone(z as u8),
        );
        s.add(
            &format!("db-{zone}"),
            Subnet::new(&vpc, &format!("10.0.{}.0/24", z + 21))
                .tier(Tier::Isolated)
                .zone(z as u8),
        );
    }

    let services_sg = s.add(
        "services",
        SecurityGroup::new(&vpc, "event booking services").allow_all_egress(),
    );
    let db_password = s.add(
        "db-password",
        Secret::generated().description("event booking PostgreSQL admin password"),
    );
    let redis_token = s.add(
        "redis-auth",
        // Made for the cache: generated to ElastiCache's rules on AWS, the cache's own
        // AUTH string where the cloud makes one.
        Secret::produced().description("event booking Redis AUTH token"),
    );
    let database = s.add(
        "postgres",
        Database::postgres("15")
            .size(p.database_size.unwrap_or(Size::Medium))
            .storage_gb(100)
            .encrypted(true)
            .deletion_protection(p.protect_data)
            .high_availability(true)
            .backup_retention_days(7)
            .backup_window(Window::daily(3))
            .maintenance_window(Window::weekly(Weekday::Sun, 5))
            .admin_user("booking_admin")
            .admin_password(&db_password)
            .database("eventbooking")
            .in_network(&vpc)
            .in_tier(Tier::Isolated),
    );
    let cache = s.add(
        "cache",
        Cache::redis("7")
            // Azure Cache for Redis runs Redis 6 at most (7 is Azure Managed Redis).
            .override_for("azure", "redis_version", "6")
            .size(p.cache_size.unwrap_or(Size::Small))
            .replicas(1)
            .automatic_failover(true)
            .multi_zone(true)
            .transit_encryption(true)
            .at_rest_encryption(true)
            .auth_token(&redis_token)
            .in_network(&vpc)
            .in_tier(Tier::Isolated),
    );
    s.allow(
        services_sg
            .can_reach(&database)
            .description("from the services only"),
    );
    s.allow(
        services_sg
            .can_reach(&cache)
            .description("from the services only"),
    );

    let mut lb = LoadBalancer::public()
        .http_redirect()
        .https(p.certificate_for("event-booking"))
        .in_network(&vpc)
        .in_tier(Tier::Public);
    for (i, (name, path)) in SERVICES.iter().enumerate() {
        lb = lb
            .target_group(
                TargetGroup::new(name, 8080, HealthCheck::http("/actuator/health")).blue_green(),
            )
            .route(10 * (i as u32 + 1), path, name);
    }
    let lb = s.add("web", lb.default_target("events"));
    s.allow(
        lb.can_reach(&services_sg)
            .port(8080)
            .description("from the load balancer only"),
    );
    s.output("lb_address", lb.attr("address"));
    s.output("db_endpoint", database.attr("endpoint"));
    s.output("redis_endpoint", cache.attr("endpoint"));
    s
}
