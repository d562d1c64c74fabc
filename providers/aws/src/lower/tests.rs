//! Lowering checks that need no cloud: placement, access, produced secrets, names,
//! certificates, windows.

use super::services::rds_window;
use super::*;

#[test]
fn windows_render_as_rds_writes_them() {
    assert_eq!(rds_window(&Window::daily(3)), "03:00-04:00");
    assert_eq!(rds_window(&Window::daily(23).hours(2)), "23:00-01:00");
    assert_eq!(
        rds_window(&Window::weekly(Weekday::Sun, 5)),
        "sun:05:00-sun:06:00"
    );
    assert_eq!(
        rds_window(&Window::weekly(Weekday::Sun, 23).hours(3)),
        "sun:23:00-mon:02:00"
    );
}

fn stack(zones: u8) -> (Stack, Ref<SecurityGroup>, Ref<Database>) {
    let mut s = Stack::new("acc");
    let vpc = s.add("vpc", Network::new("10.0.0.0/16").nat(NatMode::None));
    for z in 0..zones {
        s.add(
            &format!("data-{z}"),
            Subnet::new(&vpc, &format!("10.0.{z}.0/24"))
                .tier(Tier::Isolated)
                .zone(z),
        );
    }
    s.add(
        "web-0",
        Subnet::new(&vpc, "10.0.100.0/24")
            .tier(Tier::Public)
            .zone(0),
    );
    let app = s.add(
        "app",
        SecurityGroup::new(&vpc, "app").egress(Rule::tcp(443).to_cidr("0.0.0.0/0")),
    );
    let pw = s.add("pw", Secret::generated());
    let db = s.add(
        "db",
        Database::postgres("15")
            .admin_password(&pw)
            .in_network(&vpc),
    );
    (s, app, db)
}

#[test]
fn a_service_placed_by_network_and_reached_by_an_edge_gets_subnets_and_a_group() {
    let (mut s, app, db) = stack(2);
    s.allow(app.can_reach(&db));
    let out = crate::lower_stack(&s, "us-east-1").unwrap();
    let get = |a: &str| {
        out.resources
            .iter()
            .find(|c| c.address == a)
            .unwrap_or_else(|| panic!("no {a}"))
    };
    let subnets = &get("aws_db_subnet_group.db").attrs["subnet_ids"];
    assert_eq!(
        subnets,
        &Value::List(vec![
            r("aws_subnet.data-0", "id"),
            r("aws_subnet.data-1", "id")
        ]),
        "the isolated tier of the network, not the public subnet"
    );
    assert_eq!(
        get("aws_db_instance.db").attrs["vpc_security_group_ids"],
        Value::List(vec![r("aws_security_group.db-access", "id")])
    );
    let ingress = &get("aws_security_group_rule.db-from-app-5432").attrs;
    assert_eq!(ingress["type"], Value::str("ingress"));
    assert_eq!(
        ingress["referenced_security_group_id"],
        r("aws_security_group.app", "id")
    );
    let egress = get("aws_security_group_rule.app-to-db-5432");
    assert_eq!(
        egress.origin.as_str(),
        "app",
        "the source group's rule is the source's"
    );
    assert_eq!(egress.attrs["type"], Value::str("egress"));
}

#[test]
fn zone_rules_are_aws_checks_naming_the_field_and_the_cloud() {
    let (s, _, _) = stack(1);
    let err = crate::lower_stack(&s, "us-east-1").unwrap_err();
    assert!(
        err.iter().any(|e| e.resource == "database.db"
            && e.field == "placement"
            && e.message.contains("on aws")
            && e.message.contains("at least 2 zones")),
        "{err:?}"
    );
}

#[test]
fn a_private_subnet_whose_zone_has_no_public_subnet_is_refused_naming_the_network() {
    let mut s = Stack::new("nat");
    let net = s.add("main", Network::new("10.0.0.0/16"));
    s.add(
        "public-a",
        Subnet::new(&net, "10.0.0.0/24").tier(Tier::Public).zone(0),
    );
    s.add(
        "app-b",
        Subnet::new(&net, "10.0.11.0/24")
            .tier(Tier::Private)
            .zone(1),
    );
    let err = crate::lower_stack(&s, "us-east-1").unwrap_err();
    assert!(
        err.iter().any(|e| e.resource == "network.main"
            && e.field == "nat"
            && e.message.contains("us-east-1b")
            && e.message.contains("public subnet")),
        "{err:?}"
    );
    // With one shared NAT, zone a's public subnet holds it for both.
    let mut shared = Stack::new("nat");
    let net = shared.add("main", Network::new("10.0.0.0/16").nat(NatMode::Shared));
    shared.add(
        "public-a",
        Subnet::new(&net, "10.0.0.0/24").tier(Tier::Public).zone(0),
    );
    shared.add(
        "app-b",
        Subnet::new(&net, "10.0.11.0/24")
            .tier(Tier::Private)
            .zone(1),
    );
    crate::lower_stack(&shared, "us-east-1").unwrap();
}

#[test]
fn a_broker_is_sized_from_its_throughput_storage_and_copies() {
    use super::msk_shape;
    // The ticketing guide's cluster: 3 zones, 3 copies, 2 MB/s, 100 GB.
    assert_eq!(msk_shape(3, 3, 3, 100), (3, "kafka.m5.large", 100));
    // Two zones cannot hold three copies with one broker each: two per zone.
    assert_eq!(msk_shape(2, 3, 3, 100), (4, "kafka.m5.large", 75));
    // 30 MB/s = 6 vCPUs: the next size up, not more brokers.
    assert_eq!(msk_shape(2, 6, 2, 100), (2, "kafka.m5.xlarge", 100));
    // Past the largest size, brokers are added a zone's worth at a time.
    assert_eq!(msk_shape(3, 400, 3, 300), (6, "kafka.m5.24xlarge", 150));

    let (mut s, _, _) = stack(2);
    let vpc: Ref<Network> = Ref::named("vpc");
    s.add(
        "bus",
        Broker::kafka("3")
            .throughput_mb_s(30)
            .topic("orders", 6)
            .in_network(&vpc),
    );
    let out = crate::lower_stack(&s, "us-east-1").unwrap();
    let msk = out
        .resources
        .iter()
        .find(|r| r.address == "aws_msk_cluster.bus")
        .unwrap();
    assert_eq!(msk.attrs["number_of_broker_nodes"], Value::Int(4));
    assert_eq!(msk.attrs["instance_type"], Value::str("kafka.m5.large"));
    assert_eq!(msk.attrs["ebs_volume_size"], Value::Int(75));
    assert_eq!(msk.attrs["kafka_version"], Value::str("3.7.x"));
    let topic = out
        .resources
        .iter()
        .find(|r| r.address == "aws_msk_topic.bus-orders")
        .unwrap();
    assert_eq!(topic.attrs["retention_hours"], Value::Int(168));
    assert_eq!(topic.attrs["cleanup_policy"], Value::str("delete"));
}

#[test]
fn a_broker_msk_cannot_hold_or_version_it_does_not_offer_is_refused_on_aws() {
    let (mut s, _, _) = stack(2);
    let vpc: Ref<Network> = Ref::named("vpc");
    s.add(
        "bus",
        Broker::kafka("4").storage_gb(30_000).in_network(&vpc),
    );
    let err = crate::lower_stack(&s, "us-east-1").unwrap_err();
    for field in ["version", "storage_gb"] {
        assert!(
            err.iter().any(|e| e.resource == "broker.bus"
                && e.field == field
                && e.message.contains("on aws")),
            "{field}: {err:?}"
        );
    }
}

#[test]
fn a_produced_secret_is_generated_to_the_using_services_rules() {
    let (mut s, _, _) = stack(2);
    let vpc: Ref<Network> = Ref::named("vpc");
    let token = s.add("auth", Secret::produced());
    s.add(
        "cache",
        Cache::redis("7").auth_token(&token).in_network(&vpc),
    );
    let out = crate::lower_stack(&s, "us-east-1").unwrap();
    let secret = out
        .resources
        .iter()
        .find(|c| c.address == "aws_secretsmanager_secret.auth")
        .unwrap();
    match &secret.attrs["secret_string"] {
        Value::Generated(spec) => {
            assert_eq!(spec.length, 64);
            assert!(!spec.symbols.contains(['/', '"', '@', ' ']), "{spec:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_existing_certificate_on_aws_is_an_acm_arn() {
    let (mut s, _, _) = stack(2);
    let vpc: Ref<Network> = Ref::named("vpc");
    s.add(
        "web-1",
        Subnet::new(&vpc, "10.0.101.0/24")
            .tier(Tier::Public)
            .zone(1),
    );
    let lb = |cert: &str| {
        LoadBalancer::public()
            .https(cert)
            .target_group(TargetGroup::new("api", 8080, HealthCheck::http("/")))
            .default_target("api")
            .in_network(&vpc)
    };
    s.add("web", lb("my-cert"));
    let err = crate::lower_stack(&s, "us-east-1").unwrap_err();
    assert!(
        err.iter().any(|e| e.resource == "load_balancer.web"
            && e.field == "https.certificate"
            && e.message.contains("ACM certificate ARN")),
        "{err:?}"
    );
}

#[test]
fn names_over_a_services_limit_are_fitted_not_refused() {
    let mut s = Stack::new("a-rather-long-stack-name-for-a-test");
    let vpc = s.add("vpc", Network::new("10.0.0.0/16").nat(NatMode::None));
    for z in 0..2u8 {
        s.add(
            &format!("data-{z}"),
            Subnet::new(&vpc, &format!("10.0.{z}.0/24"))
                .tier(Tier::Isolated)
                .zone(z),
        );
    }
    let pw = s.add("pw", Secret::generated());
    let name = "orders-database-with-a-long-name";
    s.add(
        name,
        Database::postgres("15")
            .admin_password(&pw)
            .in_network(&vpc),
    );
    let out = crate::lower_stack(&s, "us-east-1").unwrap();
    let id = out
        .resources
        .iter()
        .find(|c| c.address == format!("aws_db_instance.{name}").as_str())
        .unwrap()
        .attrs["identifier"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        id.len() <= 63 && id.starts_with("a-rather-long-stack"),
        "{id}"
    );
}
