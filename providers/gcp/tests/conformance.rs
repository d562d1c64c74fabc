//! The provider conformance suite (cairn-provider-kit) on the GCP provider, against the
//! GCP emulator (networking, secrets, Managed Kafka, Cloud SQL and Memorystore behind private
//! services access, the load-balancing chain): lost
//! create answers adopted without a second create, adopt-reads of
//! creates that never happened answering "gone", types named by the stack adopting their
//! own objects on "already exists", the inventory listing what the stack made, and
//! everything reading as gone (the inventory empty) after destroy.

use crate::support::Gcp;
use cairn_core::prelude::*;
use cairn_provider_kit::conformance;

#[test]
fn the_gcp_provider_passes_the_provider_conformance_suite() {
    let gcp = Gcp::new();
    let mut s = Stack::new("conf-net");
    let vpc = s.add("main", Network::new("10.90.0.0/16").nat(NatMode::Shared));
    s.add("web", Subnet::new(&vpc, "10.90.1.0/24").tier(Tier::Public));
    s.add(
        "data",
        Subnet::new(&vpc, "10.90.2.0/24").tier(Tier::Private),
    );
    let app = s.add(
        "app",
        SecurityGroup::new(&vpc, "app").ingress(Rule::tcp(443).from_cidr("10.0.0.0/8")),
    );
    let lb = s.add(
        "front",
        LoadBalancer::public()
            .in_network(&vpc)
            .http_redirect()
            .https(Certificate::managed(["conf.example.com"]))
            .target_group(TargetGroup::new("api", 8080, HealthCheck::http("/health")).blue_green())
            .route_from(10, "/admin/*", "api", &["203.0.113.0/24"])
            .deny(20, "/admin/*")
            .deny(30, "/internal/*")
            .default_target("api"),
    );
    s.allow(lb.can_reach(&app).port(8080));
    s.add("token", Secret::generated().description("conformance"));
    let auth = s.add("cache-auth", Secret::produced());
    s.add(
        "cache",
        Cache::redis("7").in_network(&vpc).auth_token(&auth),
    );
    s.add(
        "bus",
        Broker::kafka("3")
            .in_network(&vpc)
            .in_tier(Tier::Private)
            .topic("orders", 3),
    );
    let pw = s.add("db-admin", Secret::generated());
    s.add(
        "db",
        Database::postgres("16")
            .in_network(&vpc)
            .database("app")
            .admin_password(&pw),
    );
    let dir = tempfile::tempdir().unwrap();
    let report = gcp
        .rt
        .block_on(conformance::run(gcp.provider(), &s, dir.path()));
    eprintln!("{report:?}");
    assert!(
        report.adopted_after_lost_answer > 0 && report.rounds > 1,
        "{report:?}"
    );
    // Rule 4 adopts the thirty-three objects found under their natural keys (network, two
    // subnetworks, the Cloud Router, the group's rule and its egress deny, three secrets,
    // the reserved range, the Service Networking connection, the Memorystore instance, the
    // Kafka cluster and its topic, the database and the user; the balancer's address,
    // health check, five backend services, two Cloud Armor policies, two URL maps,
    // certificate, two proxies and two forwarding rules, and the rule letting it reach the
    // group); rule 3 checks the one type found by its create's token alone: the Cloud SQL
    // instance, named from that token.
    assert_eq!(
        (report.adopted_by_key, report.types_checked),
        (33, 1),
        "{report:?}"
    );
    // The inventory lists every object of a labelled or Compute type; what carries no mark
    // lives inside one that does (an instance's databases and users, a cluster's topics,
    // the network's Service Networking connection).
    assert_eq!(
        report.unlisted_types,
        [
            "gcp_managed_kafka_topic",
            "gcp_service_networking_connection",
            "gcp_sql_database",
            "gcp_sql_user"
        ]
        .map(String::from)
        .into(),
        "{report:?}"
    );
    assert_eq!(report.inventoried, 30, "{report:?}");
}
