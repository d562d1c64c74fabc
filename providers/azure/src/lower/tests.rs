use super::*;
use cairn_core::prelude::*;

fn lowered(s: &Stack) -> LowerResponse {
    lower_stack(s, "westeurope").unwrap_or_else(|e| panic!("{e:?}"))
}

fn refused(s: &Stack) -> Vec<(String, String)> {
    lower_stack(s, "westeurope")
        .map(|_| panic!("lowered what azure cannot honour"))
        .unwrap_err()
        .into_iter()
        .map(|e| (e.resource, e.field))
        .collect()
}

fn attrs<'a>(l: &'a LowerResponse, address: &str) -> &'a Attrs {
    &l.resources
        .iter()
        .find(|c| c.address.as_str() == address)
        .unwrap_or_else(|| panic!("no {address}"))
        .attrs
}

fn rules(l: &LowerResponse) -> Vec<BTreeMap<Text, Value>> {
    attrs(l, "azure_network_security_group.main")["security_rules"]
        .as_list()
        .unwrap()
        .iter()
        .map(|v| v.as_map().unwrap().clone())
        .collect()
}

use std::collections::BTreeMap;

fn web_stack() -> Stack {
    let mut s = Stack::new("shop");
    let vpc = s.add("main", Network::new("10.1.0.0/16").nat(NatMode::None));
    s.add("web", Subnet::new(&vpc, "10.1.1.0/24").tier(Tier::Public));
    s.add(
        "data",
        Subnet::new(&vpc, "10.1.2.0/24").tier(Tier::Isolated),
    );
    let lb = s.add(
        "lb",
        SecurityGroup::new(&vpc, "front").ingress(Rule::tcp(443).from_cidr("0.0.0.0/0")),
    );
    s.add(
        "app",
        SecurityGroup::new(&vpc, "app")
            .ingress(Rule::tcp_range(8080, 8081).from_group(&lb))
            .allow_all_egress(),
    );
    s
}

#[test]
fn one_group_per_stack_made_first_and_named_by_everything() {
    let l = lowered(&web_stack());
    let group = &l.resources[0];
    assert_eq!(group.address.as_str(), GROUP);
    assert_eq!(group.attrs["name"], Value::str("shop"));
    for c in &l.resources[1..] {
        if c.type_name.as_str() == "azure_subnet" {
            continue; // inside its network, which names the group
        }
        assert_eq!(
            c.attrs["resource_group"],
            Value::reference(GROUP, "name"),
            "{}",
            c.address
        );
        assert_eq!(c.attrs["location"], Value::str("westeurope"));
    }
}

#[test]
fn groups_are_identities_and_their_rules_live_in_the_networks_security_group() {
    let l = lowered(&web_stack());
    assert_eq!(
        attrs(&l, "azure_application_security_group.app")["name"],
        Value::str("shop-app")
    );
    let rules = rules(&l);
    let by_name = |n: &str| {
        rules
            .iter()
            .find(|r| r["name"] == Value::str(n))
            .unwrap_or_else(|| panic!("no rule {n}"))
    };
    let from_lb = by_name("app-in-0");
    assert_eq!(from_lb["direction"], Value::str("Inbound"));
    assert_eq!(
        from_lb["destination_port_ranges"],
        Value::List(vec![Value::str("8080-8081")])
    );
    assert_eq!(
        from_lb["source_application_security_groups"],
        Value::List(vec![Value::reference(
            "azure_application_security_group.lb",
            "id"
        )])
    );
    assert_eq!(
        from_lb["destination_application_security_groups"],
        Value::List(vec![Value::reference(
            "azure_application_security_group.app",
            "id"
        )])
    );
    // The isolated subnet's deny comes before any group's egress allow.
    let isolated = by_name("data-isolated");
    let allow_out = by_name("app-out-0");
    assert!(isolated["priority"].as_int() < allow_out["priority"].as_int());
    assert_eq!(
        isolated["destination_address_prefixes"],
        Value::List(vec![Value::str("Internet")])
    );
    // Each group denies the egress it does not allow, at the bottom, one priority each.
    let denies: Vec<i64> = ["lb-deny-egress", "app-deny-egress"]
        .iter()
        .map(|n| by_name(n)["priority"].as_int().unwrap())
        .collect();
    assert_eq!(denies, vec![4096, 4095]);
    // Priorities are unique per direction.
    for direction in ["Inbound", "Outbound"] {
        let mut ps: Vec<i64> = rules
            .iter()
            .filter(|r| r["direction"] == Value::str(direction))
            .map(|r| r["priority"].as_int().unwrap())
            .collect();
        let n = ps.len();
        ps.dedup();
        assert_eq!(ps.len(), n, "{direction}");
    }
}

#[test]
fn every_subnet_takes_the_networks_security_group_and_only_public_ones_reach_out() {
    let l = lowered(&web_stack());
    for (name, public) in [("web", true), ("data", false)] {
        let a = attrs(&l, &format!("azure_subnet.{name}"));
        assert_eq!(
            a["network_security_group_id"],
            Value::reference("azure_network_security_group.main", "id")
        );
        assert_eq!(a["default_outbound_access"], Value::Bool(public), "{name}");
    }
}

#[test]
fn what_azure_cannot_honour_is_refused_by_field() {
    let mut s = Stack::new("shop");
    let vpc = s.add("main", Network::new("10.1.0.0/16").dns(false));
    s.add("app", Subnet::new(&vpc, "10.1.1.0/24").tier(Tier::Private));
    s.add(
        "g",
        SecurityGroup::new(&vpc, "g").ingress(
            Rule::tcp(22)
                .description(&"x".repeat(141))
                .from_cidr("10.0.0.0/8"),
        ),
    );
    let errors = refused(&s);
    for want in [
        ("network.main", "dns"),
        ("security_group.g", "ingress[0].description"),
    ] {
        assert!(
            errors.iter().any(|(r, f)| r == want.0 && f == want.1),
            "{want:?} not in {errors:?}"
        );
    }
}

#[test]
fn names_fit_arm_rules() {
    assert_eq!(
        azure_name(&["my stack", "db/primary"], 80),
        "my-stack-db-primary"
    );
    assert_eq!(azure_name(&["_x"], 80), "c_x");
    let long = azure_name(&[&"a".repeat(100)], 64);
    assert!(long.len() <= 64 && long.chars().last().unwrap().is_ascii_alphanumeric());
}

fn private_stack(nat: NatMode) -> Stack {
    let mut s = Stack::new("shop");
    let vpc = s.add("main", Network::new("10.1.0.0/16").nat(nat));
    s.add("web", Subnet::new(&vpc, "10.1.1.0/24").tier(Tier::Public));
    s.add(
        "app-a",
        Subnet::new(&vpc, "10.1.2.0/24").tier(Tier::Private).zone(0),
    );
    s.add(
        "app-b",
        Subnet::new(&vpc, "10.1.3.0/24").tier(Tier::Private).zone(1),
    );
    s
}

#[test]
fn nat_per_zone_is_a_zonal_gateway_per_zone_and_shared_is_one() {
    let l = lowered(&private_stack(NatMode::PerZone));
    for (subnet, zone) in [("app-a", "1"), ("app-b", "2")] {
        let gateway = format!("azure_nat_gateway.main-nat-{zone}");
        assert_eq!(
            attrs(&l, &format!("azure_subnet.{subnet}"))["nat_gateway_id"],
            Value::reference(&gateway, "id")
        );
        assert_eq!(
            attrs(&l, &gateway)["zones"],
            Value::List(vec![Value::str(zone)])
        );
        assert_eq!(
            attrs(&l, &gateway)["public_ip_address_ids"],
            Value::List(vec![Value::reference(
                format!("azure_public_ip.main-nat-{zone}"),
                "id"
            )])
        );
    }
    assert_eq!(
        attrs(&l, "azure_subnet.web")["nat_gateway_id"],
        Value::str("")
    );
    let l = lowered(&private_stack(NatMode::Shared));
    let gateways: Vec<_> = l
        .resources
        .iter()
        .filter(|c| c.type_name.as_str() == "azure_nat_gateway")
        .collect();
    assert_eq!(gateways.len(), 1);
    assert_eq!(gateways[0].attrs["zones"], Value::List(vec![]));
    let l = lowered(&private_stack(NatMode::None));
    assert!(l
        .resources
        .iter()
        .all(|c| c.type_name.as_str() != "azure_nat_gateway"));
}
