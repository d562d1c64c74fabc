//! Security groups as VPC firewall rules through the kit's lifecycle suite: a port changed
//! in place, a group moved to another network (every rule replaced), a rule deleted out of
//! band, destroy counted through Compute; and the tags a rule selects, as Compute holds them.

use crate::support::{Gcp, PROJECT};
use cairn_core::prelude::*;
use cairn_provider_kit::lifecycle::Case;

fn stack(port: u32, on_other: bool) -> Stack {
    let mut s = Stack::new("acc-fw");
    let main = s.add("main", Network::new("10.82.0.0/16").nat(NatMode::None));
    let other = s.add("other", Network::new("10.83.0.0/16").nat(NatMode::None));
    let net = if on_other { &other } else { &main };
    let app = s.add(
        "app",
        SecurityGroup::new(net, "the shop's servers")
            .ingress(Rule::tcp(port).from_cidr("10.0.0.0/8").description("HTTPS"))
            .egress(Rule::tcp(5432).to_cidr("10.82.0.0/16")),
    );
    s.add(
        "db",
        SecurityGroup::new(net, "the database").ingress(Rule::tcp(5432).from_group(&app)),
    );
    s
}

fn firewalls(gcp: &Gcp) -> Vec<serde_json::Value> {
    let (status, body) = gcp.rest(
        "GET",
        &format!("/compute/v1/projects/{PROJECT}/global/firewalls?filter=name%20eq%20acc-fw-.*"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["items"].as_array().cloned().unwrap_or_default()
}

#[test]
fn security_groups_as_firewall_rules_through_the_lifecycle_suite() {
    let gcp = Gcp::new();
    let report = gcp.lifecycle(Case {
        name: "gcp-firewall",
        stack: stack(443, false),
        creates: vec!["gcp_compute_firewall"],
        write_only: vec![],
        updates: vec![(stack(8443, false), "gcp_compute_firewall.app-in-0")],
        replace: Some((
            stack(8443, true),
            "gcp_compute_firewall.app-in-0",
            vec!["network"],
        )),
        delete_out_of_band: Some((
            vec!["gcp_compute_firewall.app-in-0"],
            Box::new(|id| {
                gcp.delete_out_of_band(&id);
                Box::pin(async {})
            }),
        )),
        remaining: Box::new(|_| {
            let n = firewalls(&gcp).len();
            Box::pin(async move { n })
        }),
    });
    assert_eq!(
        (report.updated, report.replaced, report.recreated),
        (1, 1, 1),
        "{report:?}"
    );
}

#[test]
fn a_groups_rules_select_its_tag_and_deny_what_egress_does_not_allow() {
    let gcp = Gcp::new();
    let engine = cairn_provider_kit::lifecycle::Harness::engine(&gcp, "fw.json");
    let s = stack(443, false);
    gcp.apply(
        &engine,
        &s,
        cairn_core::plan::planner::PlanOptions::default(),
    );
    let all = firewalls(&gcp);
    let named = |n: &str| {
        all.iter()
            .find(|f| f["name"] == n)
            .unwrap_or_else(|| panic!("no {n} in {all:?}"))
            .clone()
    };
    let db_in = named("acc-fw-db-in-0");
    assert_eq!(db_in["targetTags"], serde_json::json!(["acc-fw-db"]));
    assert_eq!(db_in["sourceTags"], serde_json::json!(["acc-fw-app"]));
    assert_eq!(
        db_in["allowed"],
        serde_json::json!([{"IPProtocol": "tcp", "ports": ["5432"]}])
    );
    let deny = named("acc-fw-app-deny-egress");
    assert_eq!(
        (deny["direction"].as_str(), deny["priority"].as_i64()),
        (Some("EGRESS"), Some(65534))
    );
    assert_eq!(deny["denied"], serde_json::json!([{"IPProtocol": "all"}]));
    assert_eq!(
        named("acc-fw-app-out-0")["destinationRanges"],
        serde_json::json!(["10.82.0.0/16"])
    );
}

#[test]
fn an_egress_rule_naming_a_group_is_refused_on_gcp() {
    let mut s = Stack::new("acc-fw-bad");
    let net = s.add("main", Network::new("10.84.0.0/16").nat(NatMode::None));
    let db = s.add("db", SecurityGroup::new(&net, "db"));
    s.add(
        "app",
        SecurityGroup::new(&net, "app").egress(Rule::tcp(5432).to_group(&db)),
    );
    let err = cairn_gcp::lower_stack(&s, PROJECT, "us-central1").unwrap_err();
    assert!(
        err.iter().any(|e| e.resource == "security_group.app"
            && e.field == "egress[0].source"
            && e.message.contains("gcp")),
        "{err:?}"
    );
}

#[test]
fn access_edges_become_firewall_rules_towards_where_the_services_live() {
    let gcp = Gcp::new();
    let mut s = Stack::new("acc-fw-edges");
    let vpc = s.add("main", Network::new("10.84.0.0/16").nat(NatMode::None));
    s.add(
        "data",
        Subnet::new(&vpc, "10.84.1.0/24").tier(Tier::Isolated),
    );
    let api = s.add("api", SecurityGroup::new(&vpc, "the API"));
    let jobs = s.add("jobs", SecurityGroup::new(&vpc, "the workers"));
    let pw = s.add("db-admin", Secret::generated());
    let db = s.add(
        "db",
        Database::postgres("16")
            .in_network(&vpc)
            .admin_password(&pw),
    );
    let auth = s.add("cache-auth", Secret::produced());
    let cache = s.add(
        "cache",
        Cache::redis("7").in_network(&vpc).auth_token(&auth),
    );
    let bus = s.add("bus", Broker::kafka("3").in_network(&vpc));
    s.allow(
        api.can_reach(&db)
            .description("PostgreSQL from the API only"),
    );
    s.allow(api.can_reach(&cache));
    s.allow(api.can_reach(&bus));
    s.allow(api.can_reach(&jobs).port(8080));
    let engine = cairn_provider_kit::lifecycle::Harness::engine(&gcp, "edges.json");
    gcp.apply(
        &engine,
        &s,
        cairn_core::plan::planner::PlanOptions::default(),
    );
    let (status, body) = gcp.rest(
        "GET",
        &format!("/compute/v1/projects/{PROJECT}/global/addresses/acc-fw-edges-main-psa"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let range: serde_json::Value = serde_json::from_str(&body).unwrap();
    let range = format!(
        "{}/{}",
        range["address"].as_str().unwrap(),
        range["prefixLength"]
    );
    let all = firewalls(&gcp);
    let rule = |name: &str| {
        all.iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {all:?}"))
            .clone()
    };
    let to_db = rule("acc-fw-edges-api-to-db-out");
    assert_eq!(
        (
            to_db["direction"].as_str(),
            to_db["destinationRanges"][0].as_str(),
            to_db["allowed"][0]["ports"][0].as_str(),
            to_db["targetTags"][0].as_str(),
            to_db["description"].as_str(),
        ),
        (
            Some("EGRESS"),
            Some(range.as_str()),
            Some("5432"),
            Some("acc-fw-edges-api"),
            Some("PostgreSQL from the API only")
        ),
        "{to_db}"
    );
    let to_cache = rule("acc-fw-edges-api-to-cache-out");
    assert_eq!(
        to_cache["allowed"][0]["ports"][0], "6378",
        "TLS port: {to_cache}"
    );
    let to_bus = rule("acc-fw-edges-api-to-bus-out");
    assert_eq!(to_bus["destinationRanges"][0], "10.84.1.0/24", "{to_bus}");
    let into_jobs = rule("acc-fw-edges-api-to-jobs-in");
    assert_eq!(
        (
            into_jobs["sourceTags"][0].as_str(),
            into_jobs["targetTags"][0].as_str(),
            into_jobs["allowed"][0]["ports"][0].as_str()
        ),
        (
            Some("acc-fw-edges-api"),
            Some("acc-fw-edges-jobs"),
            Some("8080")
        ),
        "{into_jobs}"
    );
    gcp.apply(
        &engine,
        &s,
        cairn_core::plan::planner::PlanOptions {
            mode: cairn_core::plan::PlanMode::Destroy,
            refresh: true,
            ..Default::default()
        },
    );
    assert!(firewalls(&gcp).is_empty());
}
