//! The GCP lowering, kind by kind.

use super::services::sql_tier;
use super::*;
use cairn_core::model::Declare;

#[test]
fn names_follow_computes_rule_and_stay_stable() {
    let rule = |n: &str| {
        n.len() <= 63
            && n.starts_with(|c: char| c.is_ascii_lowercase())
            && !n.ends_with('-')
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    assert_eq!(gcp_name("shop", "main"), "shop-main");
    for (stack, resource) in [
        ("Shop_Prod", "DB.Main"),
        ("9lives", "x"),
        ("a", &"very-long-name-".repeat(8)),
        ("shop", "ends-"),
    ] {
        let n = gcp_name(stack, resource);
        assert!(rule(&n), "{stack}/{resource} -> {n}");
        assert_eq!(gcp_name(stack, resource), n, "stable");
    }
    assert_ne!(
        gcp_name("a", &"x".repeat(80)),
        gcp_name("a", &format!("{}y", "x".repeat(79))),
        "long names that differ stay apart"
    );
}

#[test]
fn a_network_and_subnets_lower_to_compute() {
    let mut s = Stack::new("shop");
    let vpc = s.add("main", Network::new("10.0.0.0/16").nat(NatMode::None));
    s.add("web", Subnet::new(&vpc, "10.0.1.0/24").tier(Tier::Public));
    s.add(
        "data",
        Subnet::new(&vpc, "10.0.2.0/24").tier(Tier::Isolated),
    );
    let out = lower_stack(&s, "p", "europe-west1").unwrap();
    let get = |a: &str| out.resources.iter().find(|r| r.address == a).unwrap();
    let data = &get("gcp_compute_subnetwork.data").attrs;
    assert_eq!(data["region"], Value::str("europe-west1"));
    assert_eq!(data["private_ip_google_access"], Value::Bool(true));
    assert_eq!(
        data["network"],
        Value::reference("gcp_compute_network.main", "self_link")
    );
    assert_eq!(
        get("gcp_compute_subnetwork.web").attrs["private_ip_google_access"],
        Value::Bool(false)
    );
    assert_eq!(
        get("gcp_compute_network.main").attrs["name"],
        Value::str("shop-main")
    );
}

/// A balancer as the seeds declare theirs, for the tests below to vary.
fn balancer() -> cairn_core::model::LoadBalancer {
    use cairn_core::model::{Certificate, HealthCheck, LoadBalancer, TargetGroup};
    LoadBalancer::public()
        .http_redirect()
        .https(Certificate::managed(["shop.example.com"]))
        .target_group(TargetGroup::new("api", 5000, HealthCheck::http("/health")))
        .route_from(10, "/admin/*", "api", &["203.0.113.0/24"])
        .deny(20, "/admin/*")
        .default_target("api")
}

fn lower_balancer(lb: cairn_core::model::LoadBalancer) -> Result<LowerResponse, Vec<Invalid>> {
    let mut s = Stack::new("shop");
    let vpc = s.add("main", Network::new("10.0.0.0/16").nat(NatMode::None));
    s.add("web", lb.in_network(&vpc));
    lower_stack(&s, "p", "europe-west1")
}

fn refused(lb: cairn_core::model::LoadBalancer, field: &str, says: &str) {
    let err = lower_balancer(lb).unwrap_err();
    assert!(
        err.iter().any(|e| e.resource == "load_balancer.web"
            && e.field == field
            && e.message.contains(says)),
        "{field}: {err:?}"
    );
}

#[test]
fn a_balancer_lowers_to_the_global_external_application_load_balancer() {
    let out = lower_balancer(balancer()).unwrap();
    let get = |a: &str| {
        out.resources
            .iter()
            .find(|r| r.address == a)
            .unwrap_or_else(|| panic!("{a}"))
    };
    let map = &get("gcp_compute_url_map.web").attrs;
    assert_eq!(
        map["default_service"],
        Value::reference("gcp_compute_backend_service.web-api", "self_link")
    );
    // The admin path goes to a guarded service; the deny of the same path is its policy's.
    let routes = map["routes"].as_list().unwrap();
    assert_eq!(routes.len(), 1, "{routes:?}");
    assert_eq!(
        routes[0].as_map().unwrap()["service"],
        Value::reference("gcp_compute_backend_service.web-api-p10", "self_link")
    );
    assert_eq!(
        get("gcp_compute_backend_service.web-api-p10").attrs["security_policy"],
        Value::reference("gcp_compute_security_policy.web-p10", "self_link")
    );
    let rules = get("gcp_compute_security_policy.web-p10").attrs["rules"].clone();
    let actions: Vec<&str> = rules
        .as_list()
        .unwrap()
        .iter()
        .map(|r| r.as_map().unwrap()["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["allow", "deny(403)"]);
    assert_eq!(
        get("gcp_compute_url_map.web-redirect").attrs["https_redirect"],
        Value::Bool(true)
    );
    for listener in ["web-https", "web-http"] {
        assert_eq!(
            get(&format!("gcp_compute_global_forwarding_rule.{listener}")).attrs["ip_address"],
            Value::reference("gcp_compute_global_address.web", "address")
        );
    }
    let exported: Vec<&str> = out
        .exports
        .iter()
        .filter(|e| e.resource == "web")
        .map(|e| e.attr.as_str())
        .collect();
    assert_eq!(exported, ["id", "address"]);
}

#[test]
fn more_than_ten_client_ranges_take_several_armor_rules() {
    use cairn_core::model::RouteTarget;
    let mut lb = balancer();
    let ranges: Vec<String> = (0..23).map(|i| format!("198.51.{i}.0/24")).collect();
    lb.routes[0].source_cidrs = ranges;
    assert!(matches!(lb.routes[0].target, RouteTarget::Forward(_)));
    let out = lower_balancer(lb).unwrap();
    let policy = out
        .resources
        .iter()
        .find(|r| r.address == "gcp_compute_security_policy.web-p10")
        .unwrap();
    let sizes: Vec<usize> = policy.attrs["rules"]
        .as_list()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_map().unwrap()["src_ip_ranges"]
                .as_list()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, [10, 10, 3, 1]);
}

#[test]
fn what_the_gcp_balancer_cannot_mean_is_refused_naming_the_field() {
    use cairn_core::model::{Certificate, HealthCheck, LoadBalancer, TargetGroup};
    // Cloud Armor answers other clients 403: without a deny of the same paths, that is
    // not what the stack says.
    let mut lb = balancer();
    lb.routes.truncate(1);
    refused(lb, "routes[0].source_cidrs", "deny of the same paths");
    refused(
        balancer().route(30, "/a/*/b", "api"),
        "routes[2].path_patterns",
        "prefix",
    );
    refused(
        balancer().route(30, "/a?b", "api"),
        "routes[2].path_patterns",
        "'?'",
    );
    let mut lb = balancer();
    lb.target_groups[0].health_check.matcher = "200-299".into();
    refused(lb, "target_groups[0].health_check.matcher", "200 only");
    refused(
        balancer().https("arn:aws:acm:eu-west-1:123456789012:certificate/abc"),
        "https.certificate",
        "not a Compute SSL certificate",
    );
    let plain = LoadBalancer::public()
        .target_group(TargetGroup::new("api", 80, HealthCheck::http("/")))
        .default_target("api");
    refused(plain, "https", "HTTPS");
    // An existing certificate by name or path is the proxy's, as a Compute URL.
    for given in ["shop-cert", "projects/p/global/sslCertificates/shop-cert"] {
        let out = lower_balancer(balancer().https(Certificate::existing(given))).unwrap();
        let proxy = out
            .resources
            .iter()
            .find(|r| r.address == "gcp_compute_target_https_proxy.web")
            .unwrap();
        assert_eq!(
            proxy.attrs["ssl_certificates"],
            Value::List(vec![Value::str(
                "https://www.googleapis.com/compute/v1/projects/p/global/sslCertificates/shop-cert"
            )]),
            "{given}"
        );
        assert!(!out
            .resources
            .iter()
            .any(|r| r.type_name == "gcp_compute_ssl_certificate"));
    }
}

#[test]
fn a_secret_lowers_to_secret_manager_with_its_tags_as_labels() {
    let mut s = Stack::new("Shop.Prod");
    s.add(
        "db-password",
        Secret::generated().description("admin").tag("team", "data"),
    );
    let out = lower_stack(&s, "p", "europe-west1").unwrap();
    let secret = &out.resources[0];
    assert_eq!(secret.type_name, "gcp_secret_manager_secret");
    assert_eq!(
        secret.attrs["secret_id"],
        Value::str("Shop-Prod-db-password")
    );
    assert_eq!(secret.attrs["description"], Value::str("admin"));
    assert!(matches!(secret.attrs["secret_data"], Value::Generated(_)));
    let labels = secret.attrs["labels"].as_map().unwrap();
    assert_eq!(labels.get("team"), Some(&Value::str("data")));

    s.add("token", Secret::produced());
    let err = lower_stack(&s, "p", "europe-west1").unwrap_err();
    assert!(
        err.iter()
            .any(|e| e.resource == "secret.token" && e.field == "source"),
        "{err:?}"
    );
}

#[test]
fn cloud_sql_tiers_are_the_smallest_custom_shape_holding_the_size() {
    assert_eq!(sql_tier(Size::Micro), "db-custom-1-3840");
    assert_eq!(sql_tier(Size::Medium), "db-custom-1-4096");
    assert_eq!(sql_tier(Size::Large), "db-custom-2-8192");
    assert_eq!(sql_tier(Size::XLarge), "db-custom-4-16384");
    assert_eq!(sql_tier(Size::XXLarge), "db-custom-6-32768");
}

#[test]
fn a_database_lowers_to_cloud_sql_behind_private_services_access() {
    use cairn_core::model::{Weekday, Window};
    let mut s = Stack::new("shop");
    let vpc = s.add("main", Network::new("10.0.0.0/16").nat(NatMode::None));
    s.add(
        "data",
        Subnet::new(&vpc, "10.0.2.0/24").tier(Tier::Isolated),
    );
    let pw = s.add("pw", Secret::generated());
    s.add(
        "orders",
        Database::postgres("16")
            .in_network(&vpc)
            .high_availability(true)
            .backup_window(Window::daily(3))
            .maintenance_window(Window::weekly(Weekday::Sun, 4))
            .database("orders")
            .database("audit")
            .admin_password(&pw)
            .parameter("max_connections", "200")
            .tag("team", "data"),
    );
    let out = lower_stack(&s, "p", "europe-west1").unwrap();
    let get = |a: &str| {
        out.resources
            .iter()
            .find(|r| r.address == a)
            .unwrap_or_else(|| panic!("{a}: {:?}", out.resources))
    };
    let i = &get("gcp_sql_database_instance.orders").attrs;
    assert_eq!(i["database_version"], Value::str("POSTGRES_16"));
    assert_eq!(i["availability_type"], Value::str("REGIONAL"));
    assert_eq!(i["backup_start_time"], Value::str("03:00"));
    assert_eq!(
        (&i["maintenance_day"], &i["maintenance_hour"]),
        (&Value::Int(7), &Value::Int(4))
    );
    assert_eq!(
        i["allocated_ip_range"],
        Value::reference("gcp_compute_global_address.main-psa", "name")
    );
    assert_eq!(
        i["labels"].as_map().unwrap().get("team"),
        Some(&Value::str("data"))
    );
    assert_eq!(
        get("gcp_sql_database_instance.orders").depends_on,
        vec![Text::from("gcp_service_networking_connection.main-psa")]
    );
    get("gcp_sql_database.orders-orders");
    get("gcp_sql_database.orders-audit");
    assert_eq!(
        get("gcp_sql_user.orders-admin").attrs["password"],
        Value::reference("gcp_secret_manager_secret.pw", "secret_data")
    );
    assert_eq!(
        get("gcp_service_networking_connection.main-psa").attrs["reserved_peering_ranges"],
        Value::List(vec![Value::reference(
            "gcp_compute_global_address.main-psa",
            "name"
        )])
    );

    let mut bad = Stack::new("shop");
    let vpc = bad.add("main", Network::new("10.0.0.0/16").nat(NatMode::None));
    bad.add(
        "db",
        Database::postgres("16").in_network(&vpc).encrypted(false),
    );
    let err = lower_stack(&bad, "p", "europe-west1").unwrap_err();
    for field in ["encrypted", "admin_password"] {
        assert!(
            err.iter()
                .any(|e| e.resource == "database.db" && e.field == field),
            "{field}: {err:?}"
        );
    }
}
