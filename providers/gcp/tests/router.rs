//! Cloud Router + Cloud NAT for a network's private subnets, through the kit's lifecycle
//! suite: a private subnet added (the NAT's list changes in place), the router deleted out
//! of band, destroy counted through Compute; and only the private tier is NATed.

use crate::support::{Gcp, PROJECT, REGION};
use cairn_core::prelude::*;
use cairn_provider_kit::lifecycle::Case;

fn stack(second_private: bool) -> Stack {
    let mut s = Stack::new("acc-nat");
    let vpc = s.add("main", Network::new("10.85.0.0/16").nat(NatMode::Shared));
    s.add("web", Subnet::new(&vpc, "10.85.1.0/24").tier(Tier::Public));
    s.add("app", Subnet::new(&vpc, "10.85.2.0/24").tier(Tier::Private));
    s.add(
        "data",
        Subnet::new(&vpc, "10.85.3.0/24").tier(Tier::Isolated),
    );
    if second_private {
        s.add(
            "jobs",
            Subnet::new(&vpc, "10.85.4.0/24").tier(Tier::Private),
        );
    }
    s
}

fn routers(gcp: &Gcp) -> Vec<serde_json::Value> {
    let (status, body) = gcp.rest(
        "GET",
        &format!(
            "/compute/v1/projects/{PROJECT}/regions/{REGION}/routers?filter=name%20eq%20acc-nat-.*"
        ),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["items"].as_array().cloned().unwrap_or_default()
}

#[test]
fn cloud_nat_through_the_lifecycle_suite() {
    let gcp = Gcp::new();
    let report = gcp.lifecycle(Case {
        name: "gcp-nat",
        stack: stack(false),
        creates: vec!["gcp_compute_router"],
        write_only: vec![],
        updates: vec![(stack(true), "gcp_compute_router.main-nat")],
        replace: None,
        delete_out_of_band: Some((
            vec!["gcp_compute_router.main-nat"],
            Box::new(|id| {
                gcp.delete_out_of_band(&id);
                Box::pin(async {})
            }),
        )),
        remaining: Box::new(|_| {
            let n = routers(&gcp).len();
            Box::pin(async move { n })
        }),
    });
    assert_eq!((report.updated, report.recreated), (1, 1), "{report:?}");
}

#[test]
fn only_the_private_tier_is_natted() {
    let gcp = Gcp::new();
    let engine = cairn_provider_kit::lifecycle::Harness::engine(&gcp, "nat.json");
    let s = stack(false);
    gcp.apply(
        &engine,
        &s,
        cairn_core::plan::planner::PlanOptions::default(),
    );
    let all = routers(&gcp);
    assert_eq!(all.len(), 1, "{all:?}");
    let nat = &all[0]["nats"][0];
    assert_eq!(nat["sourceSubnetworkIpRangesToNat"], "LIST_OF_SUBNETWORKS");
    let listed: Vec<&str> = nat["subnetworks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        listed[0].ends_with("/subnetworks/acc-nat-app"),
        "{listed:?}"
    );
}
