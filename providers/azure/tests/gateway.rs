//! Application Gateway v2 through the kit's lifecycle suite: a gateway in its own subnet
//! presenting a certificate from a vault outside the stack (read as the gateway's
//! identity, granted on that vault), an HTTP redirect, blue/green pools and a deny route
//! answered by a WAF policy; what Azure refuses about certificates, said before the
//! gateway is sent; and TCP listeners as a Standard Load Balancer.

use crate::support::{Azure, SUBSCRIPTION};
use cairn_core::prelude::*;
use cairn_provider_kit::lifecycle::Case;

/// A network `10.{octet}.0.0/16` with two public subnets in two zones (`front-0`,
/// `front-1`).
fn front_network(s: &mut Stack, octet: u8) -> (Ref<Network>, Vec<Ref<Subnet>>) {
    let vpc = s.add(
        "main",
        Network::new(&format!("10.{octet}.0.0/16")).nat(NatMode::None),
    );
    let front = (0..2u8)
        .map(|z| {
            s.add(
                &format!("front-{z}"),
                Subnet::new(&vpc, &format!("10.{octet}.{}.0/24", z + 1))
                    .tier(Tier::Public)
                    .zone(z),
            )
        })
        .collect();
    (vpc, front)
}

fn gateway_stack(certificate: &str, live: Colour, subnet: &str) -> Stack {
    named_gateway_stack("acc-gateway", certificate, live, subnet)
}

fn named_gateway_stack(name: &str, certificate: &str, live: Colour, subnet: &str) -> Stack {
    let mut s = Stack::new(name);
    let (vpc, front) = front_network(&mut s, 93);
    let app = s.add(
        "app",
        SecurityGroup::new(&vpc, "application servers").allow_all_egress(),
    );
    let chosen = front
        .iter()
        .find(|r| r.name() == subnet)
        .expect("a front subnet")
        .clone();
    let web = s.add(
        "web",
        LoadBalancer::public()
            .http_redirect()
            .https(certificate)
            .target_group(TargetGroup::new("api", 8080, HealthCheck::http("/health")).live(live))
            .target_group(TargetGroup::new("admin", 9000, HealthCheck::http("/up")))
            .route(10, "/api/*", "api")
            .route_from(20, "/admin/*", "admin", &["10.0.0.0/8"])
            .deny(30, "/admin/*")
            .default_target("api")
            .subnet(&chosen)
            .tag("team", "web"),
    );
    s.allow(web.can_reach(&app).port(8080));
    s
}

#[test]
fn gateways_through_the_lifecycle_suite() {
    let az = Azure::new();
    let cert = az.issue_certificate("acc-gateway-certs", "acc-gw-certs", true);
    let report = az.lifecycle(Case {
        name: "azure-gateway",
        stack: gateway_stack(&cert, Colour::Blue, "front-0"),
        creates: vec![
            "azure_resource_group",
            "azure_virtual_network",
            "azure_network_security_group",
            "azure_subnet",
            "azure_application_security_group",
            "azure_public_ip",
            "azure_user_assigned_identity",
            "azure_role_assignment",
            "azure_waf_policy",
            "azure_application_gateway",
        ],
        write_only: vec![],
        // A blue/green switch is an update of the gateway's routes.
        updates: vec![(
            gateway_stack(&cert, Colour::Green, "front-0"),
            "azure_application_gateway.web",
        )],
        replace: Some((
            gateway_stack(&cert, Colour::Green, "front-1"),
            "azure_application_gateway.web",
            vec!["subnet_id"],
        )),
        delete_out_of_band: Some((
            vec!["azure_application_gateway.web"],
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
    assert_eq!((report.replaced, report.recreated), (1, 1), "{report:?}");
    assert!(report.updated >= 1, "{report:?}");
    // The grant went with the stack; the vault and its certificate are the team's, kept.
    let vault = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/acc-gateway-certs/providers/Microsoft.KeyVault/vaults/acc-gw-certs");
    let (status, body) = az.arm(
        "GET",
        &format!("{vault}/providers/Microsoft.Authorization/roleAssignments"),
        "2022-04-01",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let grants: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(grants["value"].as_array().map_or(0, Vec::len), 0, "{body}");
    assert_eq!(
        az.arm(
            "GET",
            &format!("{vault}/secrets/site-tls"),
            "2019-09-01",
            ""
        )
        .0,
        200
    );
}

#[test]
fn what_the_gateway_could_not_read_is_refused_naming_the_vault() {
    let az = Azure::new();
    // A vault granting by access policies: a role assignment would give nothing.
    let cert = az.issue_certificate("acc-gateway-policies", "acc-gw-policies", false);
    let engine = cairn_provider_kit::lifecycle::Harness::engine(&az, "policies.json");
    let s = named_gateway_stack("acc-gateway-policies-stack", &cert, Colour::Blue, "front-0");
    let err = az.rt.block_on(async {
        let plan = engine
            .plan(&s, &cairn_core::plan::planner::PlanOptions::default())
            .await
            .unwrap();
        engine
            .apply(&plan, &cairn_core::apply::ApplyOptions::default())
            .await
            .unwrap()
            .to_string()
    });
    assert!(
        err.contains("VaultUsesAccessPolicies") && err.contains("acc-gw-policies"),
        "{err}"
    );
    // Nothing was sent for the gateway.
    let (_, body) = az.arm(
        "GET",
        &format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/acc-gateway-policies-stack/providers/Microsoft.Network/applicationGateways"),
        "2024-03-01",
        "",
    );
    assert!(
        body.contains("\"value\": []") || body.contains("\"value\":[]"),
        "{body}"
    );
    // A certificate no vault of the subscription holds, and one its vault lacks: the
    // plan reads them and refuses, naming the field, before anything is made.
    let secret = cert.rsplit("/secrets/").next().unwrap().to_string();
    for missing in [
        cert.replace("acc-gw-policies", "acc-gw-nowhere"),
        cert.replace(&format!("/secrets/{secret}"), "/secrets/absent"),
    ] {
        let s = gateway_stack(&missing, Colour::Blue, "front-0");
        let engine = cairn_provider_kit::lifecycle::Harness::engine(&az, "missing.json");
        let err = az
            .rt
            .block_on(engine.plan(&s, &cairn_core::plan::planner::PlanOptions::default()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("https.certificate")
                && err.contains(&missing)
                && err.contains("does not exist"),
            "{err}"
        );
    }
    for stack in ["acc-gateway-policies-stack", "acc-gateway"] {
        let _ = az.arm(
            "DELETE",
            &format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{stack}"),
            "2021-04-01",
            "",
        );
    }
}

fn tcp_stack(live: Colour, port: u32) -> Stack {
    let mut s = Stack::new("acc-tcp");
    let (vpc, _) = front_network(&mut s, 94);
    let mq = s.add(
        "mq",
        SecurityGroup::new(&vpc, "message brokers").allow_all_egress(),
    );
    let wire = s.add(
        "wire",
        LoadBalancer::public()
            .target_group(TargetGroup::new("amqp", 5671, HealthCheck::http("/health")).live(live))
            .tcp(port, "amqp")
            .in_network(&vpc)
            .tag("team", "messaging"),
    );
    s.allow(wire.can_reach(&mq).port(5671));
    s
}

#[test]
fn tcp_balancers_through_the_lifecycle_suite() {
    let az = Azure::new();
    let report = az.lifecycle(Case {
        name: "azure-tcp",
        stack: tcp_stack(Colour::Blue, 5671),
        creates: vec![
            "azure_resource_group",
            "azure_virtual_network",
            "azure_network_security_group",
            "azure_subnet",
            "azure_application_security_group",
            "azure_public_ip",
            "azure_load_balancer",
        ],
        write_only: vec![],
        // A blue/green switch, then another listening port: updates of the balancer.
        updates: vec![
            (tcp_stack(Colour::Green, 5671), "azure_load_balancer.wire"),
            (tcp_stack(Colour::Green, 5672), "azure_load_balancer.wire"),
        ],
        replace: None,
        delete_out_of_band: Some((
            vec!["azure_load_balancer.wire"],
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
    assert_eq!(report.recreated, 1, "{report:?}");
    assert!(report.updated >= 2, "{report:?}");
}

/// A destroy killed after a grant's DELETE landed sends it again on the re-run: ARM then
/// answers 204 with no body, which is done, not an error (found by the Azure kill campaign).
#[test]
fn deleting_a_grant_that_is_already_gone_is_done() {
    let az = Azure::new();
    az.issue_certificate("acc-grant-certs", "acc-grant-tls", true);
    let vault = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/acc-grant-certs/providers/Microsoft.KeyVault/vaults/acc-grant-tls");
    let identity = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/acc-grant-certs/providers/Microsoft.ManagedIdentity/userAssignedIdentities/reader");
    let (status, body) = az.arm(
        "PUT",
        &identity,
        "2023-01-31",
        r#"{"location": "westeurope"}"#,
    );
    assert!(matches!(status, 200 | 201), "{body}");
    let principal = serde_json::from_str::<serde_json::Value>(&body).unwrap()["properties"]
        ["principalId"]
        .as_str()
        .unwrap()
        .to_string();
    let grant = format!(
        "{vault}/providers/Microsoft.Authorization/roleAssignments/0b5f3c1e-0000-4000-8000-00000000000a"
    );
    let (status, body) = az.arm(
        "PUT",
        &grant,
        "2022-04-01",
        &serde_json::json!({"properties": {
            "roleDefinitionId": format!("/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6"),
            "principalId": principal,
            "principalType": "ServicePrincipal",
        }})
        .to_string(),
    );
    assert!(matches!(status, 200 | 201), "{body}");
    let provider = az.provider();
    for round in ["there", "already gone"] {
        let done = az.rt.block_on(cairn_core::provider::Provider::delete(
            &*provider,
            cairn_core::provider::DeleteRequest {
                stack: "acc-grant".into(),
                address: "azure_role_assignment.web".into(),
                type_name: "azure_role_assignment".into(),
                id: grant.as_str().into(),
                prior: Default::default(),
                progress: Default::default(),
            },
        ));
        assert!(done.is_ok(), "{round}: {done:?}");
    }
    assert_eq!(az.arm("GET", &grant, "2022-04-01", "").0, 404);
}
