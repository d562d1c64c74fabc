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

fn rules(l: &LowerResponse) -> Vec<Attrs> {
    attrs(l, "azure_network_security_group.main")["security_rules"]
        .as_list()
        .unwrap()
        .iter()
        .map(|v| v.as_map().unwrap().clone())
        .collect()
}

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

fn database_stack(db: impl FnOnce(Database) -> Database) -> Stack {
    let mut s = Stack::new("shop");
    let vpc = s.add("main", Network::new("10.1.0.0/16").nat(NatMode::None));
    s.add("web", Subnet::new(&vpc, "10.1.1.0/24").tier(Tier::Public));
    s.add(
        "data",
        Subnet::new(&vpc, "10.1.2.0/24").tier(Tier::Isolated),
    );
    let pw = s.add("db-admin", Secret::generated());
    s.add(
        "orders",
        db(Database::postgres("15")
            .in_network(&vpc)
            .storage_gb(100)
            .admin_user("orders_admin")
            .admin_password(&pw)
            .database("orders")),
    );
    s
}

#[test]
fn a_database_is_a_private_flexible_server_in_a_delegated_subnet() {
    let l = lowered(&database_stack(|d| {
        d.size(Size::Large)
            .high_availability(true)
            .maintenance_window(Window::weekly(Weekday::Sun, 4))
            .parameter("work_mem", "8192")
    }));
    let server = attrs(&l, "azure_postgresql_flexible_server.orders");
    assert_eq!(server["name"], Value::str("shop-orders"));
    // HA needs General Purpose; storage rounds up to Azure's next size.
    assert_eq!(server["sku_name"], Value::str("Standard_D2ds_v5"));
    assert_eq!(server["sku_tier"], Value::str("GeneralPurpose"));
    assert_eq!(server["high_availability"], Value::str("ZoneRedundant"));
    assert_eq!(server["storage_gb"], Value::Int(128));
    assert_eq!(server["maintenance_day"], Value::Int(0), "Sunday is 0");
    assert_eq!(server["maintenance_hour"], Value::Int(4));
    assert_eq!(
        server["delegated_subnet_id"],
        Value::reference("azure_subnet.data", "id")
    );
    assert_eq!(
        server["administrator_password"],
        Value::reference("azure_key_vault_secret.db-admin", "value")
    );
    // Only the database's subnet is delegated.
    assert_eq!(
        attrs(&l, "azure_subnet.data")["delegations"],
        Value::List(vec![Value::str(
            "Microsoft.DBforPostgreSQL/flexibleServers"
        )])
    );
    assert_eq!(
        attrs(&l, "azure_subnet.web")["delegations"],
        Value::List(vec![])
    );
    let zone = attrs(&l, "azure_private_dns_zone.main-postgres");
    assert_eq!(
        zone["name"],
        Value::str("shop-main.postgres.database.azure.com")
    );
    let link = attrs(&l, "azure_private_dns_zone_link.main-postgres");
    assert_eq!(
        link["virtual_network_id"],
        Value::reference("azure_virtual_network.main", "id")
    );
    assert_eq!(
        attrs(&l, "azure_postgresql_configuration.orders-work_mem")["value"],
        Value::str("8192")
    );
    assert_eq!(
        attrs(&l, "azure_postgresql_database.orders-orders")["name"],
        Value::str("orders")
    );
    // One vault per stack holds the secret.
    let vault = attrs(&l, "azure_key_vault.stack");
    assert_eq!(vault["name"], Value::str("kv-shop"));
    assert_eq!(vault["on_soft_deleted"], Value::str("recover"));
    assert_eq!(
        attrs(&l, "azure_key_vault_secret.db-admin")["key_vault_id"],
        Value::reference("azure_key_vault.stack", "id")
    );
    // Small servers without HA are Burstable.
    let small = lowered(&database_stack(|d| d.size(Size::Small)));
    assert_eq!(
        attrs(&small, "azure_postgresql_flexible_server.orders")["sku_name"],
        Value::str("Standard_B1ms")
    );
}

#[test]
fn what_a_flexible_server_cannot_honour_is_refused_by_field() {
    for (db, field) in [
        (database_stack(|d| d.admin_user("admin")), "admin_user"),
        (
            database_stack(|d| d.storage_type(StorageType::Standard)),
            "storage_type",
        ),
        (
            database_stack(|d| d.backup_retention_days(3)),
            "backup_retention_days",
        ),
        (database_stack(|d| d.storage_gb(40000)), "storage_gb"),
        (
            database_stack(|d| d.maintenance_window(Window::daily(2))),
            "maintenance_window",
        ),
        (database_stack(|d| d.encrypted(false)), "encrypted"),
    ] {
        let errors = refused(&db);
        assert!(
            errors
                .iter()
                .any(|(r, f)| r == "database.orders" && f == field),
            "{field} not in {errors:?}"
        );
    }
    let v17 = database_stack(|mut d| {
        d.version = "17".into();
        d
    });
    assert!(refused(&v17)
        .iter()
        .any(|(r, f)| r == "database.orders" && f == "version"));
}

#[test]
fn dns_labels_are_lower_case_without_doubled_hyphens() {
    assert_eq!(dns_label(&["kv", "My__Stack"], 24), "kv-my-stack");
    assert_eq!(dns_label(&["1st"], 24), "c1st");
    let long = dns_label(&["kv", &"a".repeat(40)], 24);
    assert!(long.len() <= 24, "{long}");
}

fn cache_stack(c: impl FnOnce(Cache) -> Cache) -> Stack {
    let mut s = Stack::new("shop");
    let vpc = s.add("main", Network::new("10.1.0.0/16").nat(NatMode::None));
    s.add(
        "data",
        Subnet::new(&vpc, "10.1.2.0/24").tier(Tier::Isolated),
    );
    let key = s.add("key", Secret::produced());
    s.add(
        "cache",
        c(Cache::redis("7")
            .override_for("azure", "redis_version", "6")
            .auth_token(&key)
            .in_network(&vpc)),
    );
    s
}

#[test]
fn caches_take_the_tier_their_replicas_and_zones_need() {
    let sku = |l: &LowerResponse| {
        let a = attrs(l, "azure_redis_cache.cache");
        (
            a["sku_name"].as_str().unwrap().to_string(),
            a["sku_capacity"].clone(),
            a["zones"].clone(),
        )
    };
    let basic = lowered(&cache_stack(|c| {
        c.replicas(0).automatic_failover(false).multi_zone(false)
    }));
    assert_eq!(
        sku(&basic),
        ("Basic".into(), Value::Int(2), Value::List(vec![]))
    );
    let standard = lowered(&cache_stack(|c| c.multi_zone(false).size(Size::Large)));
    assert_eq!(sku(&standard).0, "Standard");
    assert_eq!(sku(&standard).1, Value::Int(4), "C4 (13 GB) holds 8 GB");
    let premium = lowered(&cache_stack(|c| c));
    assert_eq!(
        sku(&premium),
        (
            "Premium".into(),
            Value::Int(1),
            Value::List(vec![Value::str("1"), Value::str("2")])
        )
    );
    let a = attrs(&premium, "azure_redis_cache.cache");
    assert_eq!(a["redis_version"], Value::str("6"), "the stack's azure pin");
    assert_eq!(a["public_network_access"], Value::str("Disabled"));
    assert_eq!(a["enable_non_ssl_port"], Value::Bool(false));
    // The produced secret is the key Azure made, kept in the vault.
    assert_eq!(
        attrs(&premium, "azure_key_vault_secret.key")["value"],
        Value::reference("azure_redis_cache.cache", "primary_key")
    );
}

#[test]
fn what_a_cache_or_broker_cannot_honour_is_refused_by_field() {
    let mut unpinned = Stack::new("shop");
    let vpc = unpinned.add("main", Network::new("10.1.0.0/16").nat(NatMode::None));
    unpinned.add("cache", Cache::redis("7").in_network(&vpc));
    assert!(refused(&unpinned)
        .iter()
        .any(|(r, f)| r == "cache.cache" && f == "version"));
    for (s, resource, field) in [
        (cache_stack(|c| c.port(6390)), "cache.cache", "port"),
        (
            cache_stack(|c| c.replicas(0).multi_zone(false)),
            "cache.cache",
            "automatic_failover",
        ),
        (
            cache_stack(|c| c.at_rest_encryption(false)),
            "cache.cache",
            "at_rest_encryption",
        ),
    ] {
        assert!(
            refused(&s).iter().any(|(r, f)| r == resource && f == field),
            "{field}"
        );
    }
    let mut b = Stack::new("shop");
    let vpc = b.add("main", Network::new("10.1.0.0/16").nat(NatMode::None));
    let given = b.add("creds", Secret::generated());
    b.add(
        "events",
        Broker::kafka("3")
            .throughput_mb_s(30)
            .topic("a", 40)
            .topic_with(Topic::new("b", 2).compacted(true))
            .topic_with(Topic::new("c", 2).retention_hours(200))
            .credentials(&given)
            .in_network(&vpc),
    );
    let errors = refused(&b);
    for field in [
        "throughput_mb_s",
        "topics[0].partitions",
        "topics[1].compacted",
        "topics[2].retention_hours",
        "credentials",
    ] {
        assert!(
            errors
                .iter()
                .any(|(r, f)| r == "broker.events" && f == field),
            "{field} not in {errors:?}"
        );
    }
}

#[test]
fn a_broker_is_an_event_hubs_namespace_sized_in_throughput_units() {
    let mut s = Stack::new("shop");
    let vpc = s.add("main", Network::new("10.1.0.0/16").nat(NatMode::None));
    s.add(
        "data",
        Subnet::new(&vpc, "10.1.2.0/24").tier(Tier::Isolated),
    );
    let creds = s.add("creds", Secret::produced());
    s.add(
        "events",
        Broker::kafka("3")
            .throughput_mb_s(2)
            .storage_gb(300)
            .topic("orders", 4)
            .credentials(&creds)
            .in_network(&vpc),
    );
    let l = lowered(&s);
    let ns = attrs(&l, "azure_eventhub_namespace.events");
    // 300 GB kept needs 4 units (84 GB each), more than the 2 MB/s does.
    assert_eq!(ns["capacity"], Value::Int(4));
    assert_eq!(ns["sku"], Value::str("Standard"));
    let hub = attrs(&l, "azure_eventhub.events-orders");
    assert_eq!(hub["partition_count"], Value::Int(4));
    assert_eq!(hub["retention_hours"], Value::Int(168));
    assert_eq!(
        attrs(&l, "azure_key_vault_secret.creds")["value"],
        Value::reference(
            "azure_eventhub_authorization_rule.events-clients",
            "primary_connection_string"
        )
    );
    // Reached through a private endpoint in the isolated subnet, public access off.
    assert_eq!(ns["public_network_access"], Value::str("Disabled"));
    let endpoint = attrs(&l, "azure_private_endpoint.events");
    assert_eq!(
        endpoint["subnet_id"],
        Value::reference("azure_subnet.data", "id")
    );
    assert_eq!(
        endpoint["group_ids"],
        Value::List(vec![Value::str("namespace")])
    );
    assert_eq!(
        attrs(
            &l,
            "azure_private_dns_zone.privatelink-servicebus-windows-net"
        )["name"],
        Value::str("privatelink.servicebus.windows.net")
    );
    assert!(l.exports.iter().any(|e| e.attr == "bootstrap_brokers"
        && e.value == Value::reference("azure_eventhub_namespace.events", "bootstrap_brokers")));
}

#[test]
fn access_edges_open_a_services_port_to_its_groups_and_close_it_to_the_rest() {
    let mut s = database_stack(|d| d);
    let vpc = Ref::<Network>::named("main");
    let app = s.add("app", SecurityGroup::new(&vpc, "app"));
    let db = Ref::<Database>::named("orders");
    s.allow(app.can_reach(&db).description("orders from the app"));
    let l = lowered(&s);
    let rules = rules(&l);
    let rule = |name: &str| {
        rules
            .iter()
            .find(|r| r["name"] == Value::str(name))
            .unwrap_or_else(|| panic!("no rule {name} in {rules:?}"))
            .clone()
    };
    let inbound = rule("app-to-orders-in");
    assert_eq!(inbound["access"], Value::str("Allow"));
    assert_eq!(
        inbound["source_application_security_groups"],
        Value::List(vec![Value::reference(
            "azure_application_security_group.app",
            "id"
        )])
    );
    assert_eq!(
        inbound["destination_address_prefixes"],
        Value::List(vec![Value::str("10.1.2.0/24")])
    );
    assert_eq!(
        inbound["destination_port_ranges"],
        Value::List(vec![Value::str("5432")])
    );
    assert_eq!(inbound["description"], Value::str("orders from the app"));
    assert_eq!(
        rule("app-to-orders-out")["direction"],
        Value::str("Outbound")
    );
    // The rest of the network is denied the port, after every allow.
    let deny = rule("orders-deny-network");
    assert_eq!(deny["access"], Value::str("Deny"));
    assert_eq!(
        deny["source_address_prefixes"],
        Value::List(vec![Value::str("VirtualNetwork")])
    );
    assert!(deny["priority"].as_int() > inbound["priority"].as_int());
}

#[test]
fn a_backup_window_azure_cannot_keep_is_noted_not_refused() {
    let l = lowered(&database_stack(|d| d.backup_window(Window::daily(3))));
    assert_eq!(l.notes.len(), 1, "{:?}", l.notes);
    let n = &l.notes[0];
    assert_eq!(
        (n.resource.as_str(), n.field.as_str()),
        ("database.orders", "backup_window")
    );
    assert!(n.message.contains("03:00"), "{}", n.message);
}

#[test]
fn private_endpoints_stay_out_of_a_databases_delegated_subnet() {
    let mut s = database_stack(|d| d);
    let vpc = Ref::<Network>::named("main");
    s.add(
        "data-b",
        Subnet::new(&vpc, "10.1.3.0/24").tier(Tier::Isolated),
    );
    let key = s.add("key", Secret::produced());
    s.add(
        "cache",
        Cache::redis("6")
            .multi_zone(false)
            .auth_token(&key)
            .in_network(&vpc),
    );
    let l = lowered(&s);
    assert_eq!(
        attrs(&l, "azure_private_endpoint.cache")["subnet_id"],
        Value::reference("azure_subnet.data-b", "id"),
        "the first isolated subnet is the database's"
    );
    // With no other subnet of the tier, said before any call.
    let mut crowded = database_stack(|d| d);
    let key = crowded.add("key", Secret::produced());
    crowded.add(
        "cache",
        Cache::redis("6")
            .multi_zone(false)
            .auth_token(&key)
            .in_network(&vpc),
    );
    assert!(refused(&crowded)
        .iter()
        .any(|(r, f)| r == "cache.cache" && f == "placement"));
}

/// Load balancers: Application Gateway v2 and the Standard Load Balancer.
mod balancer;
