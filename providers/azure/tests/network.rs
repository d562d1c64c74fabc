//! Networks (with a zonal NAT gateway for the private tier), subnets and security groups
//! through the kit's lifecycle suite: create,
//! empty plan, import by ARM id, in-place updates (the network's tags, a rule added to the
//! network's security group, a subnet's range), a subnet deleted out of band, destroy with
//! the resource group gone.

use crate::support::Azure;
use cairn_core::prelude::*;
use cairn_provider_kit::lifecycle::Case;

fn stack(tagged: bool, extra_rule: bool, data_cidr: &str) -> Stack {
    let mut s = Stack::new("acc-net");
    let mut net = Network::new("10.80.0.0/16").nat(NatMode::PerZone);
    if tagged {
        net = net.tag("team", "web");
    }
    let vpc = s.add("main", net);
    s.add("web", Subnet::new(&vpc, "10.80.1.0/24").tier(Tier::Public));
    s.add("data", Subnet::new(&vpc, data_cidr).tier(Tier::Isolated));
    s.add(
        "workers",
        Subnet::new(&vpc, "10.80.4.0/24")
            .tier(Tier::Private)
            .zone(1),
    );
    let lb = s.add(
        "front",
        SecurityGroup::new(&vpc, "front").ingress(Rule::tcp(443).from_cidr("0.0.0.0/0")),
    );
    let mut app = SecurityGroup::new(&vpc, "app")
        .ingress(Rule::tcp(8080).from_group(&lb))
        .allow_all_egress();
    if extra_rule {
        app = app.ingress(
            Rule::tcp(9090)
                .from_cidr("10.80.1.0/24")
                .description("metrics"),
        );
    }
    s.add("app", app);
    s
}

#[test]
fn networks_subnets_and_groups_through_the_lifecycle_suite() {
    let az = Azure::new();
    let report = az.lifecycle(Case {
        name: "azure-network",
        stack: stack(false, false, "10.80.2.0/24"),
        creates: vec![
            "azure_resource_group",
            "azure_virtual_network",
            "azure_subnet",
            "azure_network_security_group",
            "azure_application_security_group",
            "azure_public_ip",
            "azure_nat_gateway",
        ],
        write_only: vec![],
        updates: vec![
            // A network's PUT sets its whole subnet list: its subnets must survive this
            // (the suite's next plan would re-create them).
            (
                stack(true, false, "10.80.2.0/24"),
                "azure_virtual_network.main",
            ),
            (
                stack(true, true, "10.80.2.0/24"),
                "azure_network_security_group.main",
            ),
            (stack(true, true, "10.80.3.0/24"), "azure_subnet.data"),
        ],
        replace: None,
        delete_out_of_band: Some((
            vec!["azure_subnet.web"],
            Box::new(|id| {
                az.delete_out_of_band(&id, "2024-03-01");
                Box::pin(async {})
            }),
        )),
        remaining: Box::new(|stack| {
            let (group, n) = az.group_contents(&stack);
            Box::pin(async move { n + usize::from(group) })
        }),
    });
    assert_eq!((report.updated, report.recreated), (3, 1), "{report:?}");
    // The provider waited on long-running operations by polling them (the emulator answers
    // Succeeded only after two polls), through the operation URLs ARM gave.
    let calls = az.guard.emulator().calls();
    assert!(calls.contains("ArmOperation_Get"), "{calls}");
    assert!(calls.contains("VirtualNetworks_List"), "{calls}");
}

#[test]
fn what_azure_cannot_take_yet_is_refused_naming_field_and_cloud() {
    let az = Azure::new();
    let provider = az.provider();
    let mut s = Stack::new("acc-refused");
    let vpc = s.add("main", Network::new("10.81.0.0/16").dns(false));
    s.add("app", Subnet::new(&vpc, "10.81.1.0/24").tier(Tier::Private));
    s.add("cache", Cache::redis("7").in_network(&vpc));
    let err = cairn_core::provider::Provider::lower(
        &*provider,
        cairn_core::provider::LowerRequest { stack: &s },
    )
    .unwrap_err();
    let said = |resource: &str, field: &str| {
        err.iter()
            .any(|e| e.resource == resource && e.field == field && e.message.contains("azure"))
    };
    assert!(said("network.main", "dns"), "DNS off: {err:?}");
    assert!(
        said("cache.cache", "version"),
        "Redis 7 without an azure pin: {err:?}"
    );
}
