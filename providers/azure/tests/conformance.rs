//! The provider conformance suite (cairn-provider-kit) on the Azure provider, against the
//! Azure emulator: lost create answers adopted without a second create, adopt-reads of
//! creates that never happened answering "gone", types named by the stack adopting their
//! own objects on "already exists", the inventory listing what the stack made, and
//! everything reading as gone (the inventory empty) after destroy.

use crate::support::Azure;
use cairn_core::prelude::*;
use cairn_provider_kit::conformance;

#[test]
fn the_azure_provider_passes_the_provider_conformance_suite() {
    let az = Azure::new();
    let mut s = Stack::new("conf-net");
    let vpc = s.add("main", Network::new("10.90.0.0/16").nat(NatMode::Shared));
    s.add("web", Subnet::new(&vpc, "10.90.1.0/24").tier(Tier::Public));
    s.add(
        "data",
        Subnet::new(&vpc, "10.90.2.0/24").tier(Tier::Isolated),
    );
    // The private endpoints' (the first isolated subnet is the database's, delegated).
    s.add(
        "endpoints",
        Subnet::new(&vpc, "10.90.4.0/24").tier(Tier::Isolated),
    );
    s.add(
        "workers",
        Subnet::new(&vpc, "10.90.3.0/24").tier(Tier::Private),
    );
    s.add(
        "app",
        SecurityGroup::new(&vpc, "app").ingress(Rule::tcp(443).from_cidr("10.0.0.0/8")),
    );
    let pw = s.add("db-admin", Secret::generated());
    s.add(
        "db",
        Database::postgres("16")
            .in_network(&vpc)
            .database("app")
            .admin_user("app_admin")
            .admin_password(&pw)
            .parameter("work_mem", "8192"),
    );
    let key = s.add("cache-key", Secret::produced());
    s.add(
        "cache",
        Cache::redis("6")
            .multi_zone(false)
            .auth_token(&key)
            .in_network(&vpc),
    );
    let creds = s.add("broker-clients", Secret::produced());
    s.add(
        "events",
        Broker::kafka("3")
            .topic("orders", 2)
            .credentials(&creds)
            .in_network(&vpc),
    );
    // A gateway in the public subnet, its certificate in a vault of the team's.
    let cert = az.issue_certificate("conf-net-certs", "conf-net-tls", true);
    let app = Ref::<SecurityGroup>::named("app");
    let web = s.add(
        "web-lb",
        LoadBalancer::public()
            .https(&cert)
            .http_redirect()
            .target_group(TargetGroup::new("api", 8080, HealthCheck::http("/health")).blue_green())
            .route_from(10, "/admin/*", "api", &["10.0.0.0/8"])
            .deny(20, "/admin/*")
            .default_target("api")
            .in_network(&vpc)
            .in_tier(Tier::Public),
    );
    s.allow(web.can_reach(&app).port(8080));
    // And a TCP balancer (a Standard Load Balancer).
    let wire = s.add(
        "wire",
        LoadBalancer::public()
            .target_group(TargetGroup::new("amqp", 5671, HealthCheck::http("/health")))
            .tcp(5671, "amqp")
            .in_network(&vpc),
    );
    s.allow(wire.can_reach(&app).port(5671));
    let dir = tempfile::tempdir().unwrap();
    let report = az
        .rt
        .block_on(conformance::run(az.provider(), &s, dir.path()));
    eprintln!("{report:?}");
    assert!(
        report.adopted_after_lost_answer > 0 && report.rounds > 1,
        "{report:?}"
    );
    // Rule 4 adopts all thirty-eight objects under their names: the resource group, the
    // network, its security group, the four subnets, the application security group, the NAT
    // gateway and its public address; the key vault and its three secrets; the private DNS
    // zone and its link, the flexible server, its database and its parameter; the Redis
    // cache; the Event Hubs namespace, its event hub and its rule; for the cache and
    // the namespace each a private endpoint, its DNS zone group, and a privatelink zone
    // linked to the network; the application gateway, its public address, identity,
    // grant on the certificate's vault and WAF policy; and the load balancer and its
    // public address.
    assert_eq!(report.adopted_by_key, 38, "{report:?}");
    // The inventory lists every tagged object, and the grant by its
    // identity's principal; the types without tags live inside a listed parent.
    assert_eq!(
        report.unlisted_types,
        [
            "azure_eventhub",
            "azure_eventhub_authorization_rule",
            "azure_postgresql_configuration",
            "azure_postgresql_database",
            "azure_private_dns_zone_group",
            "azure_subnet"
        ]
        .map(String::from)
        .into(),
        "{report:?}"
    );
    assert_eq!(report.inventoried, 28, "{report:?}");
    assert_eq!(az.group_contents("conf-net"), (false, 0));
    assert_eq!(az.deleted_vaults("conf-net"), 0);
}
