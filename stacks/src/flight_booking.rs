//! Flight booking system (`shared/seeds/003_a30cff0a1ed8e6ac.txt`): an ASP.NET API on port
//! 5000 with Hangfire background jobs.
//!
//! From the guide: PostgreSQL 15+ as a managed service (db.t3.medium or larger) holding two
//! databases, `FlightBookingDb_Production` and `FlightBookingHangfire_Production`, reached
//! with `SSL Mode=Require`; Redis 7+ with `maxmemory 2gb` (a 2 GB-class node); a reverse
//! proxy / load balancer that redirects HTTP to HTTPS, terminates TLS, forwards to the API
//! and health-checks `/health`, and restricts `/admin/` (the Hangfire dashboard lives at
//! `/admin/jobs`) to the private ranges 10.0.0.0/8, 172.16.0.0/12 and 192.168.0.0/16 — every
//! other client gets 403.

use crate::Params;
use cairn_core::prelude::*;

/// The private ranges the guide lets reach `/admin/`.
const ADMIN_SOURCES: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

/// The flight booking stack (`flight-booking-ENV`) for `p`.
pub fn stack(p: &Params) -> Stack {
    let mut s = p.stack("flight-booking");
    let vpc = s.add("vpc", Network::new("10.40.0.0/16").nat(NatMode::Shared));
    for (z, zone) in ["a", "b"].iter().enumerate() {
        s.add(
            &format!("public-{zone}"),
            Subnet::new(&vpc, &format!("10.40.{}.0/24", z + 1))
                .tier(Tier::Public)
                .zone(z as u8),
        );
        s.add(
            &format!("api-{zone}"),
            Subnet::new(&vpc, &format!("10.40.{}.0/24", z + 11))
                .tier(Tier::Private)
                .zone(z as u8),
        );
        s.add(
            &format!("data-{zone}"),
            Subnet::new(&vpc, &format!("10.40.{}.0/24", z + 21))
                .tier(Tier::Isolated)
                .zone(z as u8),
        );
    }

    let api_sg = s.add(
        "api",
        SecurityGroup::new(&vpc, "flight booking API").allow_all_egress(),
    );
    let db_password = s.add(
        "db-password",
        Secret::generated().description("flight booking PostgreSQL admin password"),
    );
    let redis_token = s.add(
        "redis-auth",
        // Made for the cache: generated to ElastiCache's rules on AWS, the cache's own
        // AUTH string where the cloud makes one.
        Secret::produced().description("flight booking Redis AUTH token"),
    );
    let db = s.add(
        "postgres",
        Database::postgres("15")
            .size(p.database_size.unwrap_or(Size::Medium))
            .storage_gb(100)
            .encrypted(true)
            .deletion_protection(p.protect_data)
            .high_availability(true)
            .backup_retention_days(7)
            .backup_window(Window::daily(2))
            .maintenance_window(Window::weekly(Weekday::Sun, 4))
            .admin_user("flight_admin")
            .admin_password(&db_password)
            .database("FlightBookingDb_Production")
            .database("FlightBookingHangfire_Production")
            .in_network(&vpc)
            .in_tier(Tier::Isolated),
    );
    let cache = s.add(
        "redis",
        Cache::redis("7")
            // Azure Cache for Redis runs Redis 6 at most (7 is Azure Managed Redis).
            .override_for("azure", "redis_version", "6")
            .size(p.cache_size.unwrap_or(Size::Small))
            .replicas(1)
            .automatic_failover(true)
            .transit_encryption(true)
            .at_rest_encryption(true)
            .auth_token(&redis_token)
            .in_network(&vpc)
            .in_tier(Tier::Isolated),
    );
    s.allow(api_sg.can_reach(&db).description("from the API only"));
    s.allow(api_sg.can_reach(&cache).description("from the API only"));
    let lb = s.add(
        "web",
        LoadBalancer::public()
            .http_redirect()
            .https(p.certificate_for("flight-booking"))
            .target_group(TargetGroup::new("api", 5000, HealthCheck::http("/health")))
            .route_from(10, "/admin/*", "api", &ADMIN_SOURCES)
            .deny(20, "/admin/*")
            .default_target("api")
            .in_network(&vpc)
            .in_tier(Tier::Public),
    );
    s.allow(
        lb.can_reach(&api_sg)
            .port(5000)
            .description("from the load balancer only"),
    );
    s.output("lb_address", lb.attr("address"));
    s.output("db_endpoint", db.attr("endpoint"));
    s.output("redis_endpoint", cache.attr("endpoint"));
    s
}
