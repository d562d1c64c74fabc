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
    gcp.rt.block_on(async {
        let plan = engine
            .plan(&s, &cairn_core::plan::planner::PlanOptions::default())
            .await
            .unwrap();
        let report = engine
            .apply(&plan, &cairn_core::apply::ApplyOptions::default())
            .await
            .unwrap();
        assert!(report.is_success(), "{report}");
    });
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
