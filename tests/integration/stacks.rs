//! The seed stacks are valid and say what their guides say.

use cairn_core::model::{Resource, RuleSource, Window};
use cairn_core::validate::validate;
use cairn_stacks::{zerostate, Params};

#[test]
fn every_seed_stack_validates() {
    for name in cairn_stacks::NAMES {
        let stack = cairn_stacks::by_name(name, &Params::new("prod")).unwrap();
        validate(&stack).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn zerostate_matches_its_guide() {
    let s = zerostate::stack(&Params::new("prod"));
    assert_eq!(s.name(), "zerostate-prod");
    let get = |n: &str| &s.get(n).unwrap_or_else(|| panic!("no {n}")).resource;
    let Resource::Network(vpc) = get("vpc") else {
        panic!()
    };
    assert_eq!(vpc.cidr, "10.0.0.0/16");
    for (name, cidr) in [
        ("public-a", "10.0.1.0/24"),
        ("db-a", "10.0.2.0/24"),
        ("cache-a", "10.0.3.0/24"),
    ] {
        let Resource::Subnet(sn) = get(name) else {
            panic!()
        };
        assert_eq!(sn.cidr, cidr, "{name}");
    }
    // Least privilege: the database and cache take traffic from the API group only, as
    // access edges each cloud lowers (on AWS: a group per service, rules on both ends).
    let edges: Vec<(String, String)> = s
        .access()
        .iter()
        .map(|a| (a.from.to_string(), a.to.to_string()))
        .collect();
    assert_eq!(
        edges,
        [
            (
                "security_group.api".to_string(),
                "database.postgres".to_string()
            ),
            ("security_group.api".to_string(), "cache.redis".to_string()),
            (
                "load_balancer.api-lb".to_string(),
                "security_group.api".to_string()
            ),
        ]
    );
    assert!(
        s.access()[..2].iter().all(|a| a.port.is_none()),
        "the services' own ports"
    );
    let Resource::SecurityGroup(api) = get("api") else {
        panic!()
    };
    assert!(s
        .access()
        .iter()
        .any(|a| a.from.to_string() == "load_balancer.api-lb"
            && a.to.to_string() == "security_group.api"
            && a.port == Some(443)));
    assert!(api
        .ingress
        .iter()
        .any(|r| r.from_port == 9090 && r.source == Some(RuleSource::Cidr("10.0.0.0/16".into()))));
    let Resource::Database(db) = get("postgres") else {
        panic!()
    };
    assert_eq!(
        (db.version.as_str(), db.storage_gb, db.backup_retention_days),
        ("15", 100, 30)
    );
    assert!(db.encrypted && db.high_availability);
    assert_eq!(db.backup_window, Some(Window::daily(3)));
    assert_eq!(
        db.common
            .overrides_for("aws")
            .and_then(|o| o.get("engine_version"))
            .and_then(|v| v.as_str()),
        Some("15.4"),
        "the guide's RDS minor, pinned for AWS only"
    );
    assert_eq!(
        db.common
            .overrides_for("aws")
            .and_then(|o| o.get("instance_class"))
            .and_then(|v| v.as_str()),
        Some("db.t3.medium")
    );
    let Resource::Cache(redis) = get("redis") else {
        panic!()
    };
    assert!(redis.transit_encryption && redis.at_rest_encryption && redis.auth_token.is_some());
}
