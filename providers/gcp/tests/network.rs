//! Networks and subnets through the kit's lifecycle suite: create, empty plan, import by
//! id, in-place updates (routing mode, private Google access), a forced replacement (a
//! subnet's range), a subnetwork deleted out of band, destroy counted through Compute.

use crate::support::{Gcp, PROJECT, REGION};
use cairn_core::prelude::*;
use cairn_provider_kit::lifecycle::Case;

fn stack(global_routing: bool, data_tier: Tier, data_cidr: &str) -> Stack {
    let mut s = Stack::new("acc-net");
    let mut net = Network::new("10.80.0.0/16").nat(NatMode::None);
    if global_routing {
        net = net.override_for("gcp", "routing_mode", "GLOBAL");
    }
    let vpc = s.add("main", net);
    s.add("web", Subnet::new(&vpc, "10.80.1.0/24").tier(Tier::Public));
    s.add("data", Subnet::new(&vpc, data_cidr).tier(data_tier));
    s
}

/// Names of the stack's networks and subnetworks Compute still lists.
fn remaining(gcp: &Gcp) -> usize {
    let mut n = 0;
    for path in [
        format!("/compute/v1/projects/{PROJECT}/global/networks"),
        format!("/compute/v1/projects/{PROJECT}/regions/{REGION}/subnetworks"),
    ] {
        let (status, body) = gcp.rest("GET", &format!("{path}?filter=name%20eq%20acc-net-.*"), "");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        n += v["items"].as_array().map_or(0, Vec::len);
    }
    n
}

#[test]
fn networks_and_subnets_through_the_lifecycle_suite() {
    let gcp = Gcp::new();
    let report = gcp.lifecycle(Case {
        name: "gcp-network",
        stack: stack(false, Tier::Isolated, "10.80.2.0/24"),
        creates: vec!["gcp_compute_network", "gcp_compute_subnetwork"],
        write_only: vec![],
        updates: vec![
            (
                stack(true, Tier::Isolated, "10.80.2.0/24"),
                "gcp_compute_network.main",
            ),
            (
                stack(true, Tier::Public, "10.80.2.0/24"),
                "gcp_compute_subnetwork.data",
            ),
        ],
        replace: Some((
            stack(true, Tier::Public, "10.80.3.0/24"),
            "gcp_compute_subnetwork.data",
            vec!["ip_cidr_range"],
        )),
        delete_out_of_band: Some((
            vec!["gcp_compute_subnetwork.web"],
            Box::new(|id| {
                gcp.delete_out_of_band(&id);
                Box::pin(async {})
            }),
        )),
        remaining: Box::new(|_| {
            let n = remaining(&gcp);
            Box::pin(async move { n })
        }),
    });
    assert_eq!(
        (report.updated, report.replaced, report.recreated),
        (2, 1, 1),
        "{report:?}"
    );
    // The provider waited on operations by polling them (the emulator answers DONE only
    // after two polls), through the real client.
    let calls = gcp.guard.emulator().calls();
    assert!(calls.contains("compute.globalOperations.get"), "{calls}");
    assert!(calls.contains("compute.regionOperations.get"), "{calls}");
}

#[test]
fn what_gcp_cannot_take_yet_is_refused_naming_field_and_cloud() {
    let gcp = Gcp::new();
    let provider = gcp.provider();
    let mut s = Stack::new("acc-refused");
    let vpc = s.add("main", Network::new("10.81.0.0/16").dns(false));
    s.add("app", Subnet::new(&vpc, "10.81.1.0/24").tier(Tier::Private));
    s.add("lb", LoadBalancer::public().in_network(&vpc));
    let err = cairn_core::provider::Provider::lower(
        &*provider,
        cairn_core::provider::LowerRequest { stack: &s },
    )
    .unwrap_err();
    let said = |resource: &str, field: &str| {
        err.iter()
            .any(|e| e.resource == resource && e.field == field && e.message.contains("gcp"))
    };
    assert!(said("network.main", "dns"), "DNS off: {err:?}");
    assert!(
        said("load_balancer.lb", "https"),
        "a balancer serving plain HTTP only: {err:?}"
    );
    // What the product cannot do is refused by the engine before lowering, from the
    // provider's capability rows.
    let mut s = Stack::new("acc-refused");
    let vpc = s.add("main", Network::new("10.81.0.0/16").nat(NatMode::None));
    s.add(
        "lb",
        LoadBalancer::internal()
            .in_network(&vpc)
            .https(Certificate::managed(["shop.example.com"]))
            .ssl_policy("MODERN")
            .target_group(TargetGroup::new("api", 80, HealthCheck::http("/")))
            .default_target("api"),
    );
    let engine = cairn_provider_kit::lifecycle::Harness::engine(&gcp, "refused.json");
    let err = gcp
        .rt
        .block_on(engine.plan(&s, &Default::default()))
        .unwrap_err()
        .to_string();
    for field in ["`internal`", "`https.ssl_policy`"] {
        assert!(err.contains(field) && err.contains("gcp"), "{field}: {err}");
    }
}
