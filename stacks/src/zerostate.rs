//! ZeroState platform (`shared/seeds/004_49a31fe78ced7767.txt`).
//!
//! From the guide: VPC 10.0.0.0/16 with 10.0.1.0/24 public, 10.0.2.0/24 db and 10.0.3.0/24
//! cache subnets; an API security group taking 443 from the load balancer and 9090
//! (metrics) from the private network, a database group taking 5432 and a cache group
//! taking 6379 from the API group only; PostgreSQL 15.4 on db.t3.medium with 100 GB gp3,
//! encrypted, 30-day backups in 03:00-04:00, Multi-AZ; Redis 7 with 2 GB and TLS; a load
//! balancer in front of the API (HTTPS, health on /health).
//!
//! Where the guide's single subnets cannot carry what it asks for, a second zone is added
//! with the next free /24: Multi-AZ PostgreSQL, Multi-AZ Redis and a load balancer all need
//! subnets in two zones on every cloud (10.0.4-6.0/24 mirror public, db and cache).

use crate::Params;
use cairn_core::prelude::*;

/// The ZeroState stack (`zerostate-ENV`) for `p`. The guide fixes its database and cache
/// sizes, so `p`'s are not read.
pub fn stack(p: &Params) -> Stack {
    let mut s = p.stack("zerostate");
    let vpc = s.add("vpc", Network::new("10.0.0.0/16").nat(NatMode::None));

    s.add(
        "public-a",
        Subnet::new(&vpc, "10.0.1.0/24").tier(Tier::Public).zone(0),
    );
    s.add(
        "public-b",
        Subnet::new(&vpc, "10.0.4.0/24").tier(Tier::Public).zone(1),
    );
    let db_a = s.add(
        "db-a",
        Subnet::new(&vpc, "10.0.2.0/24")
            .tier(Tier::Isolated)
            .zone(0),
    );
    let db_b = s.add(
        "db-b",
        Subnet::new(&vpc, "10.0.5.0/24")
            .tier(Tier::Isolated)
            .zone(1),
    );
    let cache_a = s.add(
        "cache-a",
        Subnet::new(&vpc, "10.0.3.0/24")
            .tier(Tier::Isolated)
            .zone(0),
    );
    let cache_b = s.add(
        "cache-b",
        Subnet::new(&vpc, "10.0.6.0/24")
            .tier(Tier::Isolated)
            .zone(1),
    );

    let api_sg = s.add(
        "api",
        SecurityGroup::new(&vpc, "ZeroState API")
            .ingress(
                Rule::tcp(9090)
                    .from_cidr("10.0.0.0/16")
                    .description("metrics, private network only"),
            )
            .egress(Rule::tcp(443).to_cidr("0.0.0.0/0").description("HTTPS out")),
    );
    let db_password = s.add(
        "db-password",
        Secret::generated().description("ZeroState PostgreSQL admin password"),
    );
    let redis_token = s.add(
        "redis-auth",
        // Made for the cache: generated to ElastiCache's rules on AWS, the cache's own
        // AUTH string where the cloud makes one.
        Secret::produced().description("ZeroState Redis AUTH token"),
    );

    let db = s.add(
        "postgres",
        Database::postgres("15")
            .size(Size::Large)
            .override_for("aws", "instance_class", "db.t3.medium")
            // The guide pins RDS to 15.4.
            .override_for("aws", "engine_version", "15.4")
            .storage_gb(100)
            .storage_type(StorageType::Ssd)
            .encrypted(true)
            .backup_retention_days(30)
            .backup_window(Window::daily(3))
            .maintenance_window(Window::weekly(Weekday::Sun, 5))
            .high_availability(true)
            .deletion_protection(p.protect_data)
            .admin_user("postgres")
            .admin_password(&db_password)
            .database("zerostate")
            .subnets([&db_a, &db_b]),
    );
    let cache = s.add(
        "redis",
        Cache::redis("7")
            // Azure Cache for Redis runs Redis 6 at most (7 is Azure Managed Redis).
            .override_for("azure", "redis_version", "6")
            .size(Size::Small)
            .replicas(1)
            .automatic_failover(true)
            .multi_zone(true)
            .transit_encryption(true)
            .at_rest_encryption(true)
            .auth_token(&redis_token)
            .subnets([&cache_a, &cache_b]),
    );
    // Least privilege: the database and the cache take traffic from the API alone.
    s.allow(
        api_sg
            .can_reach(&db)
            .description("PostgreSQL from the API only"),
    );
    s.allow(
        api_sg
            .can_reach(&cache)
            .description("Redis from the API only"),
    );
    let lb = s.add(
        "api-lb",
        LoadBalancer::public()
            .http_redirect()
            .https(p.certificate_for("zerostate"))
            .target_group(TargetGroup::new("api", 443, HealthCheck::http("/health")))
            .default_target("api")
            .in_network(&vpc)
            .in_tier(Tier::Public),
    );
    s.allow(
        lb.can_reach(&api_sg)
            .port(443)
            .description("HTTPS from the load balancer"),
    );
    s.output("db_endpoint", db.attr("endpoint"));
    s.output("redis_endpoint", cache.attr("endpoint"));
    s.output("lb_address", lb.attr("address"));
    s
}
