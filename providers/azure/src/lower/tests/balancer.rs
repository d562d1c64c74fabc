//! Load balancers on Azure: the gateway, its grant, WAF rules and refusals; TCP listeners.

use super::*;

const CERT: &str = "https://certs.vault.azure.net/secrets/shop-tls";

fn balancer_stack(lb: impl FnOnce(LoadBalancer) -> LoadBalancer) -> Stack {
    let mut s = Stack::new("shop");
    let vpc = s.add("main", Network::new("10.1.0.0/16").nat(NatMode::None));
    for z in 0..2u8 {
        s.add(
            &format!("public-{z}"),
            Subnet::new(&vpc, &format!("10.1.{}.0/24", z + 1))
                .tier(Tier::Public)
                .zone(z),
        );
    }
    let app = s.add("app", SecurityGroup::new(&vpc, "app").allow_all_egress());
    let web = s.add(
        "web",
        lb(LoadBalancer::public()
            .http_redirect()
            .https(CERT)
            .target_group(TargetGroup::new("api", 8080, HealthCheck::http("/health")).blue_green())
            .target_group(TargetGroup::new("admin", 9000, HealthCheck::http("/up")))
            .route(10, "/api/*", "api")
            .default_target("api")
            .in_network(&vpc)
            .in_tier(Tier::Public)),
    );
    s.allow(web.can_reach(&app).port(8080));
    s
}

fn list_maps(a: &Attrs, k: &str) -> Vec<Attrs> {
    a[k].as_list()
        .unwrap()
        .iter()
        .map(|v| v.as_map().unwrap().clone())
        .collect()
}

#[test]
fn a_balancer_is_an_application_gateway_in_its_own_subnet_reading_its_certificate_from_key_vault() {
    let l = lowered(&balancer_stack(|lb| lb));
    let gw = attrs(&l, "azure_application_gateway.web");
    assert_eq!(gw["sku"], Value::str("Standard_v2"));
    assert_eq!(
        gw["subnet_id"],
        Value::reference("azure_subnet.public-0", "id")
    );
    assert_eq!(
        gw["zones"],
        Value::List(vec![Value::str("1"), Value::str("2")])
    );
    assert_eq!(gw["certificate_secret_id"], Value::str(CERT));
    assert_eq!(gw["ssl_policy"], Value::str("AppGwSslPolicy20220101"));
    assert_eq!(gw["http_redirect"], Value::Bool(true));
    assert_eq!(
        gw["identity_id"],
        Value::reference("azure_user_assigned_identity.web", "id")
    );
    // Blue/green: two pools, the live one routed to; one probe and settings per group.
    assert_eq!(
        gw["pools"],
        Value::List(vec![
            Value::str("admin"),
            Value::str("api-blue"),
            Value::str("api-green")
        ])
    );
    assert_eq!(gw["default_pool"], Value::str("api-blue"));
    let routes = list_maps(gw, "routes");
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0]["pool"], Value::str("api-blue"));
    assert_eq!(routes[0]["paths"], Value::List(vec![Value::str("/api/*")]));
    let backends = list_maps(gw, "backends");
    assert_eq!(backends.len(), 2);
    assert_eq!(backends[1]["probe_path"], Value::str("/health"));
    // The grant: Key Vault Secrets User for the identity, made before the gateway.
    let grant = attrs(&l, "azure_role_assignment.web");
    assert_eq!(grant["certificate_secret_id"], Value::str(CERT));
    assert_eq!(
        grant["principal_id"],
        Value::reference("azure_user_assigned_identity.web", "principal_id")
    );
    let name = grant["name"].as_str().unwrap();
    assert_eq!(name.len(), 36, "{name}");
    let gateway = l
        .resources
        .iter()
        .find(|c| c.address.as_str() == "azure_application_gateway.web")
        .unwrap();
    assert_eq!(
        gateway.depends_on,
        vec![Text::from("azure_role_assignment.web")]
    );
    // The subnet lets Azure's infrastructure and the clients in; the edge comes from it.
    let rules = rules(&l);
    let find = |name: &str| {
        rules
            .iter()
            .find(|r| r["name"] == Value::str(name))
            .unwrap_or_else(|| panic!("no rule {name} in {rules:?}"))
    };
    assert_eq!(
        find("public-0-gateway-manager")["destination_port_ranges"],
        Value::List(vec![Value::str("65200-65535")])
    );
    assert_eq!(
        find("web-clients")["destination_port_ranges"],
        Value::List(vec![Value::str("443"), Value::str("80")])
    );
    let edge = find("web-to-app-in");
    assert_eq!(
        edge["source_address_prefixes"],
        Value::List(vec![Value::str("10.1.1.0/24")])
    );
    assert!(!rules
        .iter()
        .any(|r| r["name"] == Value::str("web-to-app-out")));
    // The balancer's address is its public IP's.
    assert!(l.exports.iter().any(|e| e.resource == "web"
        && e.attr == "address"
        && e.value == Value::reference("azure_public_ip.web", "ip_address")));
}

#[test]
fn a_deny_route_becomes_a_waf_rule_that_spares_the_sources_routed_before_it() {
    let l = lowered(&balancer_stack(|lb| {
        lb.route_from(20, "/admin/*", "admin", &["10.0.0.0/8", "192.168.0.0/16"])
            .deny(30, "/admin/*")
            .deny(40, "/internal/status")
    }));
    let gw = attrs(&l, "azure_application_gateway.web");
    assert_eq!(gw["sku"], Value::str("WAF_v2"));
    assert_eq!(
        gw["firewall_policy_id"],
        Value::reference("azure_waf_policy.web", "id")
    );
    // The allowed sources' route is an ordinary path rule.
    let routes = list_maps(gw, "routes");
    assert_eq!(
        routes.iter().map(|r| r["pool"].clone()).collect::<Vec<_>>(),
        vec![Value::str("api-blue"), Value::str("admin")]
    );
    let policy = attrs(&l, "azure_waf_policy.web");
    assert_eq!(policy["mode"], Value::str("Prevention"));
    let blocks = list_maps(policy, "custom_rules");
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0]["operator"], Value::str("BeginsWith"));
    assert_eq!(blocks[0]["paths"], Value::List(vec![Value::str("/admin/")]));
    assert_eq!(
        blocks[0]["except_sources"],
        Value::List(vec![Value::str("10.0.0.0/8"), Value::str("192.168.0.0/16")])
    );
    assert_eq!(blocks[1]["operator"], Value::str("Regex"));
    assert_eq!(
        blocks[1]["paths"],
        Value::List(vec![Value::str("^/internal/status(\\?.*)?$")])
    );
    assert_eq!(blocks[1]["except_sources"], Value::List(vec![]));
    assert_eq!(blocks[1]["priority"], Value::Int(2));
    assert!(l.notes.iter().any(|n| n.field == "routes"));
}

#[test]
fn what_a_gateway_cannot_honour_is_refused_by_field() {
    let errors = refused(&balancer_stack(|lb| {
        lb.ssl_policy("ELBSecurityPolicy-TLS13-1-2-2021-06")
            .route_from(20, "/ops/*", "admin", &["10.0.0.0/8"])
            .route(30, "/a/*/b", "admin")
    }));
    for want in [
        ("load_balancer.web", "https.ssl_policy"),
        ("load_balancer.web", "routes[1].source_cidrs"),
        ("load_balancer.web", "routes[2].path_patterns"),
    ] {
        assert!(
            errors.contains(&(want.0.into(), want.1.into())),
            "{want:?} not in {errors:?}"
        );
    }
    // A certificate that is not a Key Vault secret's URL.
    let errors = refused(&balancer_stack(|lb| {
        lb.https("arn:aws:acm:us-east-1:123456789012:certificate/abc")
    }));
    assert!(errors.contains(&("load_balancer.web".into(), "https.certificate".into())));
    // A gateway's subnet holds nothing else: not a delegated database subnet.
    let mut s = balancer_stack(|lb| lb);
    let vpc = Ref::<Network>::named("main");
    let db_password = s.add("pw", Secret::generated());
    s.add(
        "db",
        Database::postgres("16")
            .admin_password(&db_password)
            .in_network(&vpc)
            .in_tier(Tier::Public),
    );
    let errors = refused(&s);
    assert!(
        errors.contains(&("load_balancer.web".into(), "placement".into())),
        "{errors:?}"
    );
}

#[test]
fn tcp_listeners_are_a_standard_load_balancer_admitting_the_clients() {
    let mut s = Stack::new("shop");
    let vpc = s.add("main", Network::new("10.1.0.0/16").nat(NatMode::None));
    s.add(
        "public",
        Subnet::new(&vpc, "10.1.1.0/24").tier(Tier::Public),
    );
    let mq = s.add("mq", SecurityGroup::new(&vpc, "brokers").allow_all_egress());
    let mut check = HealthCheck::http("");
    check.interval_s = 10;
    let lb = s.add(
        "wire",
        LoadBalancer::public()
            .target_group(TargetGroup::new("amqp", 5671, check).live(Colour::Green))
            .tcp(5671, "amqp")
            .in_network(&vpc),
    );
    s.allow(lb.can_reach(&mq).port(5671));
    let l = lowered(&s);
    let b = attrs(&l, "azure_load_balancer.wire");
    assert_eq!(b["sku"], Value::str("Standard"));
    assert_eq!(
        b["public_ip_id"],
        Value::reference("azure_public_ip.wire", "id")
    );
    assert_eq!(
        b["pools"],
        Value::List(vec![Value::str("amqp-blue"), Value::str("amqp-green")])
    );
    let rule = &list_maps(b, "rules")[0];
    assert_eq!(rule["pool"], Value::str("amqp-green"));
    assert_eq!(rule["frontend_port"], Value::Int(5671));
    assert_eq!(list_maps(b, "probes")[0]["protocol"], Value::str("Tcp"));
    // No gateway, so no gateway rules; the clients' own addresses reach the brokers.
    let rules = rules(&l);
    assert!(!rules
        .iter()
        .any(|r| r["name"].as_str().unwrap_or_default().contains("gateway")));
    let edge = rules
        .iter()
        .find(|r| r["name"] == Value::str("wire-to-mq-in"))
        .expect("the edge");
    assert_eq!(
        edge["source_address_prefixes"],
        Value::List(vec![Value::str("Internet")])
    );
    // HTTP(S) and TCP on one balancer are two products on Azure; probes every 5 s at most.
    let mut s2 = Stack::new("shop");
    let vpc = s2.add("main", Network::new("10.1.0.0/16").nat(NatMode::None));
    s2.add(
        "public",
        Subnet::new(&vpc, "10.1.1.0/24").tier(Tier::Public),
    );
    let mut fast = HealthCheck::http("/up");
    fast.interval_s = 2;
    s2.add(
        "wire",
        LoadBalancer::public()
            .https(CERT)
            .target_group(TargetGroup::new("amqp", 5671, fast))
            .tcp(5671, "amqp")
            .default_target("amqp")
            .in_network(&vpc),
    );
    let errors = refused(&s2);
    for want in [
        ("load_balancer.wire", "https"),
        ("load_balancer.wire", "default_target"),
        (
            "load_balancer.wire",
            "target_groups[0].health_check.interval_s",
        ),
    ] {
        assert!(
            errors.contains(&(want.0.into(), want.1.into())),
            "{want:?} not in {errors:?}"
        );
    }
}

#[test]
fn a_grants_name_is_the_same_whatever_port_a_local_vault_answers_on() {
    let name = |cert: &str| {
        let l = lowered(&balancer_stack(|lb| lb.https(cert)));
        attrs(&l, "azure_role_assignment.web")["name"].clone()
    };
    assert_eq!(
        name("http://127.0.0.1:4100/keyvault/tls/secrets/site"),
        name("http://127.0.0.1:4200/keyvault/tls/secrets/site")
    );
    assert_ne!(
        name("https://a.vault.azure.net/secrets/site"),
        name("https://b.vault.azure.net/secrets/site")
    );
}
