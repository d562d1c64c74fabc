//! The Azure Resource Manager emulator's own promises: ARM's contract (routing,
//! api-version, body checks, error shapes, long-running operations), its services'
//! behaviour (soft-deleted vaults, keys, embedded children, PostgreSQL flexible servers on
//! real PostgreSQL), through raw HTTP as any client would meet them.

mod postgres;

use std::time::{Duration, Instant};

/// `text` as a query parameter's value.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A bearer token, as the Azure SDK sends one (the emulator wants one, whatever it is).
const ARM_TOKEN: [(&str, &str); 1] = [("Authorization", "Bearer test")];

/// An ARM call with a token: status, headers, body.
fn arm_call(
    e: &cairn_tests::Emulator,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, std::collections::HashMap<String, String>, String) {
    e.request_with(method, path, body, &ARM_TOKEN)
        .unwrap_or_else(|err| panic!("{method} {path}: {err}"))
}

/// ARM's error body: `(code, message)`.
fn arm_error(body: &str) -> (String, String) {
    let v = json(body);
    (
        v["error"]["code"].as_str().unwrap_or_default().to_string(),
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[test]
fn the_azure_emulator_holds_requests_to_arms_contract() {
    let guard = cairn_tests::Emulator::shared(cairn_tests::AZURE);
    let e = guard.emulator();
    let call = |method: &str, path: &str, body: &str| arm_call(e, method, path, body);
    let group = "/subscriptions/s1/resourcegroups/shop?api-version=2024-03-01";
    let vnet =
        "/subscriptions/s1/resourceGroups/shop/providers/Microsoft.Network/virtualNetworks/main";
    let v = |path: &str| format!("{path}?api-version=2024-03-01");

    // ARM's refusals before anything happens: no token, no or an unknown api-version, a
    // body that is not what the swagger says, a group that does not exist.
    let (status, _, body) = e
        .request_with("PUT", group, r#"{"location": "westeurope"}"#, &[])
        .unwrap();
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (401, "AuthenticationFailed")
    );
    let (status, _, body) = call("PUT", vnet, "{}");
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (400, "MissingApiVersionParameter")
    );
    let (status, _, body) = call("PUT", &format!("{vnet}?api-version=2019-01-01"), "{}");
    let (code, message) = arm_error(&body);
    assert_eq!((status, code.as_str()), (400, "InvalidApiVersionParameter"));
    assert!(message.contains("2024-03-01"), "{message}");
    let wrong = r#"{"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": "10.0.0.0/16"}}}"#;
    let (status, _, body) = call("PUT", &v(vnet), wrong);
    let (code, message) = arm_error(&body);
    assert_eq!((status, code.as_str()), (400, "InvalidRequestContent"));
    assert!(
        message.contains("properties.addressSpace.addressPrefixes"),
        "{message}"
    );
    let good = r#"{"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "provisioningState": "Succeeded"}}"#;
    let (status, _, body) = call("PUT", &v(vnet), good);
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (404, "ResourceGroupNotFound")
    );

    // A resource group: 201, then 200 when put again.
    let (status, _, _) = call(
        "PUT",
        group,
        r#"{"location": "westeurope", "tags": {"cairn-stack": "shop"}}"#,
    );
    assert_eq!(status, 201);
    let (status, _, body) = call(
        "PUT",
        group,
        r#"{"location": "westeurope", "tags": {"cairn-stack": "shop"}}"#,
    );
    assert_eq!(status, 200, "{body}");

    // A long-running PUT: 201 with the state "Creating" (the read-only state sent is
    // ignored), an Azure-AsyncOperation to poll and a Retry-After; the operation is
    // InProgress until polled twice, then Succeeded, and the network with it.
    let (status, headers, body) = call("PUT", &v(vnet), good);
    assert_eq!(status, 201, "{body}");
    assert_eq!(json(&body)["properties"]["provisioningState"], "Creating");
    assert_eq!(headers.get("retry-after").map(String::as_str), Some("0"));
    let poll = headers["azure-asyncoperation"].clone();
    let poll = poll.trim_start_matches(&e.endpoint()).to_string();
    let (_, _, body) = call("GET", &poll, "");
    assert_eq!(json(&body)["status"], "InProgress");
    let (_, _, body) = call("GET", &poll, "");
    assert_eq!(json(&body)["status"], "Succeeded");
    let (status, _, body) = call("GET", &v(vnet), "");
    assert_eq!(status, 200);
    assert_eq!(json(&body)["properties"]["provisioningState"], "Succeeded");
    assert_eq!(json(&body)["type"], "Microsoft.Network/virtualNetworks");

    // A child needs its parent; a child is listed under it.
    let orphan = format!("{}/subnets/a", vnet.replace("/main", "/none"));
    let (status, _, body) = call(
        "PUT",
        &v(&orphan),
        r#"{"properties": {"addressPrefix": "10.0.1.0/24"}}"#,
    );
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (404, "ParentResourceNotFound")
    );
    let subnet = format!("{vnet}/subnets/a");
    let (status, _, _) = call(
        "PUT",
        &v(&subnet),
        r#"{"properties": {"addressPrefix": "10.0.1.0/24"}}"#,
    );
    assert_eq!(status, 201);
    let (_, _, body) = call("GET", &v(&format!("{vnet}/subnets")), "");
    assert_eq!(json(&body)["value"].as_array().unwrap().len(), 1, "{body}");

    // An NSG a subnet names cannot be deleted (the provider's code), and once the subnet
    // lets go of it, it can.
    let nsg = "/subscriptions/s1/resourceGroups/shop/providers/Microsoft.Network/networkSecurityGroups/web";
    let (status, _, _) = call("PUT", &v(nsg), r#"{"location": "westeurope"}"#);
    assert_eq!(status, 201);
    let attached = format!(
        r#"{{"properties": {{"addressPrefix": "10.0.1.0/24", "networkSecurityGroup": {{"id": "{nsg}"}}}}}}"#
    );
    let (status, _, body) = call("PUT", &v(&subnet), &attached);
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = call("DELETE", &v(nsg), "");
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (400, "InUseNetworkSecurityGroupCannotBeDeleted")
    );
    let (status, _, _) = call(
        "PUT",
        &v(&subnet),
        r#"{"properties": {"addressPrefix": "10.0.1.0/24"}}"#,
    );
    assert_eq!(status, 200);
    let (status, _, _) = call("DELETE", &v(nsg), "");
    assert_eq!(status, 202);

    // Names that are global: another group's cache cannot take a name already held.
    let other = "/subscriptions/s1/resourcegroups/other?api-version=2024-03-01";
    call("PUT", other, r#"{"location": "westeurope"}"#);
    let cache = |group: &str| {
        format!("/subscriptions/s1/resourceGroups/{group}/providers/Microsoft.Cache/redis/shop-cache?api-version=2024-03-01")
    };
    let redis = r#"{"location": "westeurope", "properties": {"sku": {"name": "Basic", "family": "C", "capacity": 0}}}"#;
    let (status, _, body) = call("PUT", &cache("shop"), redis);
    assert_eq!(status, 201, "{body}");
    let (status, _, body) = call("PUT", &cache("other"), redis);
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (409, "NameNotAvailable")
    );

    // Throttling on request: a 429 with Retry-After, in ARM's shape.
    e.set_faults(r#"{"throttle_rate": 1.0}"#);
    let (status, headers, body) = call("GET", &v(vnet), "");
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (429, "TooManyRequests")
    );
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    e.set_faults(r#"{"throttle_rate": 0.0}"#);

    // Deleting the group: 202 with a Location answering 202 until done, then everything
    // in the group is gone.
    let (status, headers, _) = call("DELETE", group, "");
    assert_eq!(status, 202);
    let location = headers["location"]
        .trim_start_matches(&e.endpoint())
        .to_string();
    let (status, _, _) = call("GET", &location, "");
    assert_eq!(status, 202);
    let (status, _, _) = call("GET", &location, "");
    assert_eq!(status, 200);
    let (status, _, body) = call("GET", &v(vnet), "");
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (404, "ResourceGroupNotFound")
    );

    // The call log names each operation as the specs do.
    let calls = e.calls();
    for op in [
        "ResourceGroups_CreateOrUpdate",
        "VirtualNetworks_CreateOrUpdate",
        "Subnets_List",
        "ResourceGroups_Delete",
    ] {
        assert!(calls.contains(op), "{op}: {calls}");
    }

    // A held answer: the group exists at once, its answer waits for the release.
    e.set_faults(r#"{"hold": ["ResourceGroups_CreateOrUpdate"]}"#);
    let held =
        std::thread::spawn(move || arm_call(e, "PUT", group, r#"{"location": "westeurope"}"#).0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !e.held().contains("ResourceGroups_CreateOrUpdate") {
        assert!(Instant::now() < deadline, "the held call is listed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        call("GET", group, "").0,
        200,
        "a held call has taken effect"
    );
    assert!(!held.is_finished(), "its answer is held");
    e.release_held();
    assert_eq!(held.join().unwrap(), 201);
    e.reset();
    assert_eq!(e.calls(), "[]", "reset clears the call log");
    let (status, _, body) = call("GET", group, "");
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (404, "ResourceGroupNotFound")
    );
}

#[test]
fn the_azure_emulator_keeps_soft_deleted_vaults_secret_values_and_service_keys() {
    let guard = cairn_tests::Emulator::shared(cairn_tests::AZURE);
    let e = guard.emulator();
    let call = |method: &str, path: &str, body: &str| arm_call(e, method, path, body);
    let group = "/subscriptions/s1/resourceGroups/shop";
    call(
        "PUT",
        &format!("{group}?api-version=2024-03-01"),
        r#"{"location": "westeurope"}"#,
    );
    let vault = format!("{group}/providers/Microsoft.KeyVault/vaults/shop-kv");
    let kv = |path: &str| format!("{path}?api-version=2024-11-01");
    let body = |mode: &str| {
        format!(
            r#"{{"location": "westeurope", "properties": {{"tenantId": "00000000-0000-0000-0000-000000000001", "sku": {{"family": "A", "name": "standard"}}, "createMode": "{mode}"}}}}"#
        )
    };
    let (status, _, text) = call("PUT", &kv(&vault), &body("default"));
    assert_eq!(status, 201, "{text}");

    // A secret's value is taken and never answered.
    let secret = format!("{vault}/secrets/db-password");
    let (status, _, text) = call(
        "PUT",
        &kv(&secret),
        r#"{"properties": {"value": "s3cr3t-value"}}"#,
    );
    assert_eq!(status, 201);
    assert!(!text.contains("s3cr3t-value"), "{text}");
    let (_, _, text) = call("GET", &kv(&secret), "");
    assert!(!text.contains("s3cr3t-value"), "{text}");

    // Deleted, the vault is soft-deleted: listed, its name held, recovered with its secret.
    let (status, _, _) = call("DELETE", &kv(&vault), "");
    assert_eq!(status, 200);
    let deleted =
        "/subscriptions/s1/providers/Microsoft.KeyVault/deletedVaults?api-version=2024-11-01";
    let (_, _, text) = call("GET", deleted, "");
    assert_eq!(json(&text)["value"][0]["name"], "shop-kv", "{text}");
    let (status, _, text) = call("PUT", &kv(&vault), &body("default"));
    assert_eq!(
        (status, arm_error(&text).0.as_str()),
        (409, "ConflictError")
    );
    let (status, _, text) = call("PUT", &kv(&vault), &body("recover"));
    assert_eq!(status, 200, "{text}");
    assert_eq!(call("GET", &kv(&secret), "").0, 200, "the secret came back");
    let (_, _, text) = call("GET", deleted, "");
    assert_eq!(json(&text)["value"], serde_json::json!([]));

    // Purged, the name is free again.
    call("DELETE", &kv(&vault), "");
    let purge = "/subscriptions/s1/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/shop-kv/purge?api-version=2024-11-01";
    let (status, headers, _) = call("POST", purge, "");
    assert_eq!(status, 202);
    let location = headers["location"]
        .trim_start_matches(&e.endpoint())
        .to_string();
    while call("GET", &location, "").0 == 202 {}
    let (status, _, text) = call("PUT", &kv(&vault), &body("default"));
    assert_eq!(status, 201, "{text}");

    // Keys: a cache's are made once and kept; an event hub's rule gets connection strings
    // naming the namespace's host and the hub.
    let cache = format!("{group}/providers/Microsoft.Cache/redis/shop-cache");
    let v = |path: &str, api: &str| format!("{path}?api-version={api}");
    call(
        "PUT",
        &v(&cache, "2024-03-01"),
        r#"{"location": "westeurope", "properties": {"sku": {"name": "Basic", "family": "C", "capacity": 0}}}"#,
    );
    let keys =
        |path: &str, api: &str| json(&call("POST", &v(&format!("{path}/listKeys"), api), "").2);
    let first = keys(&cache, "2024-03-01");
    assert!(first["primaryKey"].as_str().unwrap().len() >= 40, "{first}");
    assert_eq!(keys(&cache, "2024-03-01"), first, "the same keys again");
    let ns = format!("{group}/providers/Microsoft.EventHub/namespaces/shop-bus");
    let eh = "2024-01-01";
    call(
        "PUT",
        &v(&ns, eh),
        r#"{"location": "westeurope", "sku": {"name": "Standard"}}"#,
    );
    call(
        "PUT",
        &v(&format!("{ns}/eventhubs/orders"), eh),
        r#"{"properties": {"partitionCount": 3}}"#,
    );
    let rule = format!("{ns}/eventhubs/orders/authorizationRules/app");
    let (status, _, text) = call("PUT", &v(&rule, eh), r#"{"properties": {}}"#);
    assert_eq!(
        (status, arm_error(&text).0.as_str()),
        (400, "InvalidRequestContent")
    );
    call(
        "PUT",
        &v(&rule, eh),
        r#"{"properties": {"rights": ["Send", "Listen"]}}"#,
    );
    let conn = keys(&rule, eh)["primaryConnectionString"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        conn.starts_with("Endpoint=sb://shop-bus.servicebus.windows.net/;SharedAccessKeyName=app;")
            && conn.ends_with(";EntityPath=orders"),
        "{conn}"
    );
}

/// Application Gateway v2 as the service refuses it: a subnet whose security group keeps
/// Azure's infrastructure out, a reference to a part the gateway does not declare, a Key
/// Vault certificate its identity may not read; and role assignments, one per principal,
/// role and scope, at a scope that spans segments.
#[test]
fn the_azure_emulator_refuses_gateways_the_service_would() {
    let guard = cairn_tests::Emulator::shared(cairn_tests::AZURE);
    let e = guard.emulator();
    let sub = "/subscriptions/s-gw";
    let group = format!("{sub}/resourceGroups/edge");
    let put = |path: &str, api: &str, body: serde_json::Value| {
        let (status, _, text) = arm_call(
            e,
            "PUT",
            &format!("{path}?api-version={api}"),
            &body.to_string(),
        );
        (status, text)
    };
    let ok = |(status, text): (u16, String)| {
        assert!(matches!(status, 200 | 201), "{status} {text}");
        json(&text)
    };
    let wait = |path: &str, api: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, _, text) = arm_call(e, "GET", &format!("{path}?api-version={api}"), "");
            if json(&text)["properties"]["provisioningState"] == "Succeeded" {
                return json(&text);
            }
            assert!(Instant::now() < deadline, "{path} never settled: {text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    ok(put(
        &group,
        "2021-04-01",
        serde_json::json!({"location": "westeurope"}),
    ));
    let net = "2024-03-01";
    let nsg = format!("{group}/providers/Microsoft.Network/networkSecurityGroups/edge");
    ok(put(
        &nsg,
        net,
        serde_json::json!({"location": "westeurope", "properties": {"securityRules": []}}),
    ));
    wait(&nsg, net);
    let vnet = format!("{group}/providers/Microsoft.Network/virtualNetworks/edge");
    ok(put(
        &vnet,
        net,
        serde_json::json!({
            "location": "westeurope",
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.7.0.0/16"]},
                "subnets": [{"name": "gw", "properties": {
                    "addressPrefix": "10.7.1.0/24",
                    "networkSecurityGroup": {"id": nsg},
                }}],
            },
        }),
    ));
    wait(&vnet, net);
    let ip = format!("{group}/providers/Microsoft.Network/publicIPAddresses/gw");
    ok(put(
        &ip,
        net,
        serde_json::json!({
            "location": "westeurope",
            "sku": {"name": "Standard"},
            "properties": {"publicIPAllocationMethod": "Static"},
        }),
    ));
    wait(&ip, net);
    let identity = format!("{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/gw");
    let principal = ok(put(
        &identity,
        "2023-01-31",
        serde_json::json!({"location": "westeurope"}),
    ))["properties"]["principalId"]
        .as_str()
        .expect("a principal")
        .to_string();
    let secret = e.issue_certificate(
        ("s-gw", "00000000-0000-0000-0000-0000000071e7", "westeurope"),
        "tls",
        "edge-tls",
        true,
    );
    let gw = format!("{group}/providers/Microsoft.Network/applicationGateways/gw");
    let part = |kind: &str, name: &str| serde_json::json!({"id": format!("{gw}/{kind}/{name}")});
    let gateway = |pool: &str| {
        serde_json::json!({
            "location": "westeurope",
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity.clone(): {}}},
            "properties": {
                "sku": {"name": "Standard_v2", "tier": "Standard_v2"},
                "autoscaleConfiguration": {"minCapacity": 1, "maxCapacity": 2},
                "gatewayIPConfigurations": [{"name": "gw", "properties": {"subnet": {"id": format!("{vnet}/subnets/gw")}}}],
                "frontendIPConfigurations": [{"name": "public", "properties": {"publicIPAddress": {"id": ip}}}],
                "frontendPorts": [{"name": "https", "properties": {"port": 443}}],
                "sslCertificates": [{"name": "tls", "properties": {"keyVaultSecretId": secret}}],
                "backendAddressPools": [{"name": "api"}],
                "probes": [{"name": "api", "properties": {"protocol": "Http", "path": "/health", "interval": 30, "timeout": 5, "unhealthyThreshold": 3, "pickHostNameFromBackendHttpSettings": true}}],
                "backendHttpSettingsCollection": [{"name": "api", "properties": {"port": 8080, "protocol": "Http", "pickHostNameFromBackendAddress": true, "probe": part("probes", "api")}}],
                "httpListeners": [{"name": "https", "properties": {"frontendIPConfiguration": part("frontendIPConfigurations", "public"), "frontendPort": part("frontendPorts", "https"), "protocol": "Https", "sslCertificate": part("sslCertificates", "tls")}}],
                "requestRoutingRules": [{"name": "https", "properties": {"ruleType": "Basic", "priority": 100, "httpListener": part("httpListeners", "https"), "backendAddressPool": part("backendAddressPools", pool), "backendHttpSettings": part("backendHttpSettingsCollection", "api")}}],
            },
        })
    };
    let refused = |body: serde_json::Value| {
        let (status, text) = put(&gw, net, body);
        assert_eq!(status, 400, "{text}");
        arm_error(&text).0
    };
    // The subnet's security group keeps GatewayManager out (its default DenyAllInBound).
    assert_eq!(
        refused(gateway("api")),
        "ApplicationGatewaySubnetInboundTrafficBlockedByNetworkSecurityGroup"
    );
    ok(put(
        &format!("{nsg}/securityRules/gateway-manager"),
        net,
        serde_json::json!({"properties": {
            "priority": 100, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
            "sourceAddressPrefix": "GatewayManager", "sourcePortRange": "*",
            "destinationAddressPrefix": "*", "destinationPortRange": "65200-65535",
        }}),
    ));
    // A rule naming a pool the gateway does not have.
    assert_eq!(refused(gateway("nowhere")), "InvalidResourceReference");
    // The identity may not read the certificate yet.
    assert_eq!(
        refused(gateway("api")),
        "UserAssignedIdentityDoesNotHaveGetPermissionOnKeyVault"
    );
    let vault = format!("{sub}/resourceGroups/tls/providers/Microsoft.KeyVault/vaults/edge-tls");
    let grant = |name: &str| {
        put(
            &format!("{vault}/providers/Microsoft.Authorization/roleAssignments/{name}"),
            "2022-04-01",
            serde_json::json!({"properties": {
                "roleDefinitionId": format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6"),
                "principalId": principal,
                "principalType": "ServicePrincipal",
            }}),
        )
    };
    let made = ok(grant("6f1f1d2e-0000-4000-8000-000000000001"));
    assert_eq!(made["properties"]["scope"], vault, "{made}");
    // Listed for the subscription, all of them or one principal's, as ARM filters them.
    let listed = |filter: &str| {
        let (status, _, text) = arm_call(
            e,
            "GET",
            &format!(
                "{sub}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01\
                 &$filter={}",
                urlencode(filter)
            ),
            "",
        );
        (status, text)
    };
    let (status, text) = listed(&format!("principalId eq '{principal}'"));
    assert_eq!(status, 200, "{text}");
    assert_eq!(json(&text)["value"][0]["id"], made["id"], "{text}");
    let (_, text) = listed(&format!("assignedTo('{principal}')"));
    assert_eq!(json(&text)["value"].as_array().map(Vec::len), Some(1));
    let (_, text) = listed("principalId eq '00000000-0000-4000-8000-00000000dead'");
    assert_eq!(json(&text)["value"], serde_json::json!([]), "{text}");
    let (status, text) = listed("roleDefinitionId eq 'x'");
    assert_eq!(
        (status, arm_error(&text).0.as_str()),
        (400, "InvalidFilter"),
        "{text}"
    );
    // One assignment per principal, role and scope; a name must be a GUID.
    let (status, text) = grant("6f1f1d2e-0000-4000-8000-000000000002");
    assert_eq!(
        (status, arm_error(&text).0.as_str()),
        (409, "RoleAssignmentExists"),
        "{text}"
    );
    let (status, text) = grant("not-a-guid");
    assert_eq!(
        (status, arm_error(&text).0.as_str()),
        (400, "InvalidRoleAssignmentId"),
        "{text}"
    );
    // Granted: the gateway is made, running, its parts answered with their ids.
    ok(put(&gw, net, gateway("api")));
    let made = wait(&gw, net);
    assert_eq!(made["properties"]["operationalState"], "Running");
    assert_eq!(
        made["properties"]["backendAddressPools"][0]["id"],
        format!("{gw}/backendAddressPools/api")
    );
    // What it uses cannot go while it stands.
    let (status, _, text) = arm_call(e, "DELETE", &format!("{ip}?api-version={net}"), "");
    assert_eq!(
        (status, arm_error(&text).0.as_str()),
        (400, "PublicIPAddressInUseByAnotherResource"),
        "{text}"
    );
    let (status, _, _) = arm_call(e, "DELETE", &format!("{group}?api-version=2021-04-01"), "");
    assert_eq!(status, 202);
}
