//! The cases of the validation-error corpus: each breaks one thing in an otherwise valid
//! stack and says which resource and field the error must name, and words it must hold.

use super::{edit, with};
use cairn_core::model::{AnyRef, Declare, KindName, Resource};
use cairn_core::prelude::*;

/// (case, stack, expected resource, expected field, words the message must contain)
pub(super) type Case = (
    &'static str,
    Stack,
    &'static str,
    &'static str,
    &'static str,
);

pub(super) fn cases() -> Vec<Case> {
    vec![
        (
            "stack name",
            {
                let mut s = Stack::new("Shop_1");
                s.add("main", Network::new("10.0.0.0/16"));
                s
            },
            "stack",
            "name",
            "lowercase",
        ),
        (
            "duplicate name",
            with(|s| drop(s.add("main", Network::new("10.1.0.0/16")))),
            "network.main",
            "name",
            "already used",
        ),
        (
            "resource name chars",
            with(|s| drop(s.add("Bad_Name", Network::new("10.2.0.0/16")))),
            "network.Bad_Name",
            "name",
            "lowercase",
        ),
        (
            "override for a provider that does not exist",
            with(|s| {
                drop(s.add(
                    "edge",
                    Network::new("10.2.0.0/16").override_for("asw", "enable_dns_hostnames", true),
                ))
            }),
            "network.edge",
            "overrides.asw",
            "no provider is named \"asw\"",
        ),
        (
            "resource name trailing hyphen",
            with(|s| drop(s.add("edge-", Network::new("10.2.0.0/16")))),
            "network.edge-",
            "name",
            "end with '-'",
        ),
        (
            "resource name too long",
            with(|s| drop(s.add(&"n".repeat(60), Network::new("10.2.0.0/16")))),
            "network.nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
            "name",
            "at most 48",
        ),
        (
            "bad network cidr",
            edit("main", |r| as_kind!(r, Network).cidr = "10.0.0.0/33".into()),
            "network.main",
            "cidr",
            "not an IPv4 CIDR",
        ),
        (
            "network host bits",
            edit("main", |r| as_kind!(r, Network).cidr = "10.0.0.5/16".into()),
            "network.main",
            "cidr",
            "host bits",
        ),
        (
            "network too large",
            edit("main", |r| as_kind!(r, Network).cidr = "10.0.0.0/8".into()),
            "network.main",
            "cidr",
            "between /16 and /28",
        ),
        (
            "network public range",
            with(|s| drop(s.add("pub", Network::new("8.8.0.0/16")))),
            "network.pub",
            "cidr",
            "not a private range",
        ),
        (
            "subnet outside network",
            edit("db-b", |r| as_kind!(r, Subnet).cidr = "10.1.11.0/24".into()),
            "subnet.db-b",
            "cidr",
            "outside network",
        ),
        (
            "overlapping subnets",
            edit("db-b", |r| {
                as_kind!(r, Subnet).cidr = "10.0.10.128/25".into()
            }),
            "subnet.db-b",
            "cidr",
            "overlaps 10.0.10.0/24 of subnet.db-a",
        ),
        (
            "subnet zone",
            edit("db-b", |r| as_kind!(r, Subnet).zone = 9),
            "subnet.db-b",
            "zone",
            "out of range",
        ),
        (
            "dangling network ref",
            with(|s| {
                drop(s.add(
                    "orphan",
                    Subnet::new(&Ref::named("nowhere"), "10.0.50.0/24"),
                ))
            }),
            "subnet.orphan",
            "network",
            "does not declare",
        ),
        (
            "ref of the wrong kind",
            with(|s| drop(s.add("confused", Subnet::new(&Ref::named("db-a"), "10.0.51.0/24")))),
            "subnet.confused",
            "network",
            "is a subnet",
        ),
        (
            "depends_on cycle",
            with(|s| {
                s.add(
                    "sec-a",
                    Secret::generated().depends_on(AnyRef {
                        kind: KindName::Secret,
                        name: "sec-b".into(),
                    }),
                );
                s.add(
                    "sec-b",
                    Secret::generated().depends_on(AnyRef {
                        kind: KindName::Secret,
                        name: "sec-a".into(),
                    }),
                );
            }),
            "secret.sec-a",
            "depends_on[0]",
            "dependency cycle: secret.sec-a -> secret.sec-b -> secret.sec-a",
        ),
        (
            "port out of range",
            edit("lb", |r| {
                as_kind!(r, SecurityGroup).ingress[0].to_port = 70000
            }),
            "security_group.lb",
            "ingress[0].to_port",
            "out of range",
        ),
        (
            "port zero",
            edit("lb", |r| {
                as_kind!(r, SecurityGroup).ingress[1].from_port = 0
            }),
            "security_group.lb",
            "ingress[1].from_port",
            "out of range",
        ),
        (
            "port range reversed",
            edit("lb", |r| {
                let g = as_kind!(r, SecurityGroup);
                g.ingress[0].from_port = 500;
                g.ingress[0].to_port = 400;
            }),
            "security_group.lb",
            "ingress[0].to_port",
            "ends before it starts",
        ),
        (
            "empty security rule",
            edit("app", |r| {
                as_kind!(r, SecurityGroup).ingress.push(Rule::tcp(22))
            }),
            "security_group.app",
            "ingress[1].source",
            "no source",
        ),
        (
            "bad rule cidr",
            edit("app", |r| {
                as_kind!(r, SecurityGroup).egress[0] = Rule::all_traffic().to_cidr("0.0.0.0/99")
            }),
            "security_group.app",
            "egress[0].source",
            "not an IPv4 CIDR",
        ),
        (
            "group description",
            edit("db", |r| {
                as_kind!(r, SecurityGroup).description = " ".into()
            }),
            "security_group.db",
            "description",
            "empty",
        ),
        (
            "weak given password",
            edit("cache-token", |r| {
                *r = Secret::given("passwordpassword1").into()
            }),
            "secret.cache-token",
            "value",
            "at least three",
        ),
        (
            "short given password",
            edit("cache-token", |r| *r = Secret::given("Ab1!").into()),
            "secret.cache-token",
            "value",
            "at least 12",
        ),
        (
            "well-known password",
            edit("cache-token", |r| *r = Secret::given("Password123!").into()),
            "secret.cache-token",
            "value",
            "well-known",
        ),
        (
            "generated too short",
            edit("db-password", |r| *r = Secret::generated().length(8).into()),
            "secret.db-password",
            "length",
            "16..=128",
        ),
        (
            "database version",
            edit("orders", |r| {
                as_kind!(r, Database).version = "fifteen".into()
            }),
            "database.orders",
            "version",
            "not a major version",
        ),
        (
            "database minor version",
            edit("orders", |r| as_kind!(r, Database).version = "15.4".into()),
            "database.orders",
            "version",
            "give the major version (\"15\")",
        ),
        (
            "cache minor version",
            edit("sessions", |r| as_kind!(r, Cache).version = "7.1".into()),
            "cache.sessions",
            "version",
            "override_for(\"aws\", \"engine_version\", \"7.1\")",
        ),
        (
            "database old version",
            edit("orders", |r| as_kind!(r, Database).version = "9".into()),
            "database.orders",
            "version",
            "out of support",
        ),
        (
            "database storage",
            edit("orders", |r| as_kind!(r, Database).storage_gb = 5),
            "database.orders",
            "storage_gb",
            "20..=65536",
        ),
        (
            "backup retention",
            edit("orders", |r| {
                as_kind!(r, Database).backup_retention_days = 40
            }),
            "database.orders",
            "backup_retention_days",
            "more than 35",
        ),
        (
            "backup window",
            edit("orders", |r| {
                as_kind!(r, Database).backup_window = Some(Window::weekly(Weekday::Mon, 3))
            }),
            "database.orders",
            "backup_window",
            "runs every day",
        ),
        (
            "maintenance window",
            edit("orders", |r| {
                as_kind!(r, Database).maintenance_window = Some(Window::weekly(Weekday::Sun, 24))
            }),
            "database.orders",
            "maintenance_window",
            "hours are 0-23",
        ),
        (
            "maintenance window length",
            edit("orders", |r| {
                as_kind!(r, Database).maintenance_window =
                    Some(Window::weekly(Weekday::Sun, 4).hours(0))
            }),
            "database.orders",
            "maintenance_window",
            "give 1-24",
        ),
        (
            "maintenance window without a day",
            edit("orders", |r| {
                as_kind!(r, Database).maintenance_window = Some(Window::daily(4))
            }),
            "database.orders",
            "maintenance_window",
            "needs a day",
        ),
        (
            "reserved admin user",
            edit("orders", |r| {
                as_kind!(r, Database).admin_user = "rdsadmin".into()
            }),
            "database.orders",
            "admin_user",
            "reserved",
        ),
        (
            "no admin password",
            edit("orders", |r| as_kind!(r, Database).admin_password = None),
            "database.orders",
            "admin_password",
            "not set",
        ),
        (
            "maintenance window touching the backup window",
            edit("orders", |r| {
                as_kind!(r, Database).maintenance_window = Some(Window::weekly(Weekday::Mon, 4))
            }),
            "database.orders",
            "maintenance_window",
            "meets the daily backup window",
        ),
        (
            "given and cloud-managed password at once",
            edit("orders", |r| {
                as_kind!(r, Database).cloud_managed_password = true
            }),
            "database.orders",
            "admin_password",
            "choose one",
        ),
        (
            "logical database name",
            edit("orders", |r| {
                as_kind!(r, Database).databases.push("bad-name".into())
            }),
            "database.orders",
            "databases[1]",
            "letters, digits or '_'",
        ),
        (
            "service without a place",
            edit("orders", |r| {
                as_kind!(r, Database).placement = Default::default()
            }),
            "database.orders",
            "network",
            "needs a place",
        ),
        (
            "broker topic partitions",
            edit("events", |r| as_kind!(r, Broker).topics[0].partitions = 0),
            "broker.events",
            "topics[0].partitions",
            "1..=10000",
        ),
        (
            "broker minor version",
            edit("events", |r| as_kind!(r, Broker).version = "3.5.1".into()),
            "broker.events",
            "version",
            "override_for(\"aws\", \"kafka_version\", \"3.5.1\")",
        ),
        (
            "broker old version",
            edit("events", |r| as_kind!(r, Broker).version = "1".into()),
            "broker.events",
            "version",
            "out of support",
        ),
        (
            "broker throughput",
            edit("events", |r| as_kind!(r, Broker).throughput_mb_s = 0),
            "broker.events",
            "throughput_mb_s",
            "1..=10000",
        ),
        (
            "broker storage",
            edit("events", |r| as_kind!(r, Broker).storage_gb = 0),
            "broker.events",
            "storage_gb",
            "1..=1000000",
        ),
        (
            "broker topic copies",
            edit("events", |r| as_kind!(r, Broker).topics[0].replication = 0),
            "broker.events",
            "topics[0].replication",
            "1..=5",
        ),
        (
            "broker topic retention",
            edit("events", |r| {
                as_kind!(r, Broker).topics[0].retention_hours = 100_000
            }),
            "broker.events",
            "topics[0].retention_hours",
            "1..=87600",
        ),
        (
            "broker topic name",
            edit("events", |r| {
                as_kind!(r, Broker).topics[0].name = "bad topic".into()
            }),
            "broker.events",
            "topics[0].name",
            "letters, digits",
        ),
        (
            "subnets of another tier than asked",
            edit("events", |r| {
                as_kind!(r, Broker).placement.tier = Some(Tier::Public)
            }),
            "broker.events",
            "subnets",
            "of the public tier asked for",
        ),
        (
            "produced secret nobody uses",
            with(|s| {
                s.add("orphan", Secret::produced());
            }),
            "secret.orphan",
            "source",
            "none does",
        ),
        (
            "produced secret used by two services",
            with(|s| {
                let shared = s.add("shared", Secret::produced());
                let net: Ref<Network> = Ref::named("main");
                s.add("c1", Cache::redis("7").auth_token(&shared).in_network(&net));
                s.add("c2", Cache::redis("7").auth_token(&shared).in_network(&net));
            }),
            "secret.shared",
            "source",
            "cache.c1 and cache.c2 do",
        ),
        (
            "access to a group without a port",
            with(|s| {
                let app: Ref<SecurityGroup> = Ref::named("app");
                s.allow(app.can_reach(&Ref::<SecurityGroup>::named("db")));
            }),
            "access[0]",
            "port",
            "needs a port",
        ),
        (
            "access to an undeclared service",
            with(|s| {
                let app: Ref<SecurityGroup> = Ref::named("app");
                s.allow(app.can_reach(&Ref::<Database>::named("ghost")));
            }),
            "access[0]",
            "to",
            "not declared",
        ),
        (
            "access across networks",
            with(|s| {
                let other = s.add("other", Network::new("10.9.0.0/16"));
                let far = s.add("far", SecurityGroup::new(&other, "elsewhere"));
                s.allow(far.can_reach(&Ref::<Database>::named("orders")));
            }),
            "access[0]",
            "to",
            "within a network",
        ),
        (
            "route to unknown target",
            edit("web", |r| {
                as_kind!(r, LoadBalancer).routes[0].target = RouteTarget::Forward("nope".into())
            }),
            "load_balancer.web",
            "routes[0].target",
            "not a target group",
        ),
        (
            "route source not a CIDR",
            edit("web", |r| {
                as_kind!(r, LoadBalancer).routes[0].source_cidrs = vec!["10.0.0.0/33".into()]
            }),
            "load_balancer.web",
            "routes[0].source_cidrs",
            "not a CIDR",
        ),
        (
            "route priority",
            edit("web", |r| as_kind!(r, LoadBalancer).routes[0].priority = 0),
            "load_balancer.web",
            "routes[0].priority",
            "1..=50000",
        ),
        (
            "health check path",
            edit("web", |r| {
                as_kind!(r, LoadBalancer).target_groups[0].health_check.path = "health".into()
            }),
            "load_balancer.web",
            "target_groups[0].health_check.path",
            "start with '/'",
        ),
        (
            "target port",
            edit("web", |r| {
                as_kind!(r, LoadBalancer).target_groups[0].port = 0
            }),
            "load_balancer.web",
            "target_groups[0].port",
            "out of range",
        ),
        (
            "redirect without https",
            edit("web", |r| {
                let l = as_kind!(r, LoadBalancer);
                l.https = None;
                l.routes.clear();
            }),
            "load_balancer.web",
            "http_redirect",
            "needs an HTTPS listener",
        ),
        (
            "cache failover without replicas",
            edit("sessions", |r| as_kind!(r, Cache).replicas = 0),
            "cache.sessions",
            "automatic_failover",
            "at least one replica",
        ),
        (
            "cache token without tls",
            edit("sessions", |r| {
                as_kind!(r, Cache).transit_encryption = false
            }),
            "cache.sessions",
            "auth_token",
            "encryption in transit",
        ),
        (
            "cache port",
            edit("sessions", |r| as_kind!(r, Cache).port = Some(99999)),
            "cache.sessions",
            "port",
            "out of range",
        ),
        (
            "reserved tag",
            edit("main", |r| {
                if let Resource::Network(n) = r {
                    **n = n.as_ref().clone().tag("cairn:stack", "x");
                }
            }),
            "network.main",
            "tags.cairn:stack",
            "reserved",
        ),
        (
            "output of unknown attribute",
            with(|s| {
                s.output("bad", Ref::<Database>::named("orders").attr("colour"));
            }),
            "output.bad",
            "value",
            "exports no attribute",
        ),
        (
            "output of missing resource",
            with(|s| {
                s.output("gone", Ref::<Database>::named("ghost").attr("endpoint"));
            }),
            "output.gone",
            "value",
            "does not declare",
        ),
    ]
}
