//! How the memory provider lowers portable kinds: one concrete resource per portable
//! resource, attributes mirroring the portable fields, references as `Value::Ref`.

use crate::model::*;
use crate::provider::{AttrSchema, ProviderSchema, ResourceSchema};
use crate::value::{join_text, AttrRef, Attrs, GeneratedSpec, Text, Value};

pub(super) fn computed(type_name: &str, name: &str, id: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), Value::str(id));
    a.insert("arn".into(), Value::str(format!("mem:{type_name}:{id}")));
    match type_name {
        "mem_database" | "mem_cache" => {
            a.insert(
                "endpoint".into(),
                Value::str(format!("{name}.{id}.mem.internal")),
            );
        }
        "mem_load_balancer" => {
            a.insert(
                "address".into(),
                Value::str(format!("{name}-{id}.lb.mem.internal")),
            );
        }
        "mem_broker" => {
            a.insert(
                "bootstrap_brokers".into(),
                Value::str(format!("b-1.{name}.mem.internal:9094")),
            );
        }
        _ => {}
    }
    a
}

/// The memory provider's type for `kind` (`mem_network`): static text, copied for free.
pub(super) fn type_name(kind: KindName) -> Text {
    Text::const_new(match kind {
        KindName::Network => "mem_network",
        KindName::Subnet => "mem_subnet",
        KindName::SecurityGroup => "mem_security_group",
        KindName::Database => "mem_database",
        KindName::Broker => "mem_broker",
        KindName::LoadBalancer => "mem_load_balancer",
        KindName::Cache => "mem_cache",
        KindName::Secret => "mem_secret",
    })
}

fn id_ref(kind: KindName, name: &str) -> Value {
    Value::Ref(Box::new(AttrRef {
        address: join_text(&[&type_name(kind), ".", name]),
        attr: "id".into(),
    }))
}

fn placement(a: &mut Vec<(Text, Value)>, p: &Placement) {
    if let Some(n) = &p.network {
        a.push(("network_id".into(), id_ref(KindName::Network, n.name())));
    }
    if let Some(t) = p.tier {
        a.push(("tier".into(), Value::str(t.as_str())));
    }
    a.push((
        "subnet_ids".into(),
        Value::List(
            p.subnets
                .iter()
                .map(|s| id_ref(KindName::Subnet, s.name()))
                .collect(),
        ),
    ));
    a.push((
        "security_group_ids".into(),
        Value::List(
            p.security_groups
                .iter()
                .map(|g| id_ref(KindName::SecurityGroup, g.name()))
                .collect(),
        ),
    ));
}

fn rules(rules: &[Rule]) -> Value {
    // The names of a rule's map, looked up once per thread rather than once per rule.
    thread_local! {
        static RULE: Attrs = Attrs::from([
            ("description".into(), Value::Null),
            ("from_port".into(), Value::Null),
            ("protocol".into(), Value::Null),
            ("source".into(), Value::Null),
            ("to_port".into(), Value::Null),
        ]);
    }
    Value::List(
        rules
            .iter()
            .map(|r| {
                // In the order of the names above.
                let values = [
                    Value::str(&r.description),
                    Value::Int(i64::from(r.from_port)),
                    Value::str(r.protocol.as_str()),
                    match &r.source {
                        Some(RuleSource::Cidr(c)) => Value::Str(c.clone()),
                        Some(RuleSource::Group(g)) => id_ref(KindName::SecurityGroup, g.name()),
                        None => Value::Null,
                    },
                    Value::Int(i64::from(r.to_port)),
                ];
                Value::Map(RULE.with(|names| names.with_values(values)))
            })
            .collect(),
    )
}

fn secret_ref(s: &Option<Ref<Secret>>) -> Value {
    s.as_ref().map_or(Value::Null, |s| {
        Value::reference(format!("mem_secret.{}", s.name()), "value")
    })
}

/// The attributes `r` lowers to, pushed onto `a` (made into a map once, by the caller,
/// with the ones every resource has). In name order where that is easy, which spares the
/// map a sort; any order is right.
pub(super) fn lower_entries(r: &Resource, a: &mut Vec<(Text, Value)>) {
    let mut set = |k: &str, v: Value| {
        a.push((k.into(), v));
    };
    match r {
        Resource::Network(n) => {
            set("cidr", Value::str(&n.cidr));
            set("dns", n.dns.into());
            set("nat", Value::str(format!("{:?}", n.nat).to_lowercase()));
            set("storage_endpoint", n.storage_endpoint.into());
        }
        Resource::Subnet(s) => {
            set("network_id", id_ref(KindName::Network, s.network.name()));
            set("cidr", Value::str(&s.cidr));
            set("tier", Value::str(s.tier.as_str()));
            set("zone", Value::Int(i64::from(s.zone)));
        }
        Resource::SecurityGroup(g) => {
            set("description", Value::str(&g.description));
            set("egress", rules(&g.egress));
            set("ingress", rules(&g.ingress));
            set("network_id", id_ref(KindName::Network, g.network.name()));
        }
        Resource::Secret(s) => {
            set(
                "value",
                match &s.source {
                    SecretSource::Generated(g) => Value::Generated(Box::new(g.clone())),
                    SecretSource::Given(v) => Value::Sensitive(v.clone()),
                    SecretSource::Produced => Value::Generated(Box::new(GeneratedSpec {
                        length: 32,
                        symbols: PASSWORD_SYMBOLS.into(),
                    })),
                },
            );
            set("description", Value::str(&s.description));
        }
        Resource::Database(d) => {
            set("engine_version", Value::str(&d.version));
            set("size", Value::str(d.size.as_str()));
            set("storage_gb", d.storage_gb.into());
            set("storage_type", Value::str(d.storage_type.as_str()));
            set("high_availability", d.high_availability.into());
            set("backup_retention_days", d.backup_retention_days.into());
            set(
                "backup_window",
                d.backup_window.map(|w| w.to_string()).into(),
            );
            set(
                "maintenance_window",
                d.maintenance_window.map(|w| w.to_string()).into(),
            );
            set("encrypted", d.encrypted.into());
            set("deletion_protection", d.deletion_protection.into());
            set("databases", d.databases.clone().into());
            set("admin_user", Value::str(&d.admin_user));
            set("admin_password", secret_ref(&d.admin_password));
            set(
                "parameters",
                Value::Map(
                    d.parameters
                        .iter()
                        .map(|(k, v)| (k.into(), Value::str(v)))
                        .collect(),
                ),
            );
            placement(a, &d.placement);
        }
        Resource::Broker(b) => {
            set("version", Value::str(&b.version));
            set("throughput_mb_s", b.throughput_mb_s.into());
            set("storage_gb", b.storage_gb.into());
            set("tls", b.tls.into());
            set(
                "topics",
                Value::List(
                    b.topics
                        .iter()
                        .map(|t| {
                            Value::str(format!(
                                "{}:{}:{}:{}h{}",
                                t.name,
                                t.partitions,
                                t.replication,
                                t.retention_hours,
                                if t.compacted { ":compact" } else { "" }
                            ))
                        })
                        .collect(),
                ),
            );
            set("credentials", secret_ref(&b.credentials));
            placement(a, &b.placement);
        }
        Resource::LoadBalancer(l) => {
            set("internal", l.internal.into());
            set("http_redirect", l.http_redirect.into());
            set(
                "certificate",
                l.https
                    .as_ref()
                    .map(|h| match &h.certificate {
                        Certificate::Existing(c) => c.clone(),
                        Certificate::Managed(d) => format!("managed:{}", d.join(",")),
                    })
                    .into(),
            );
            set(
                "target_groups",
                Value::List(
                    l.target_groups
                        .iter()
                        .map(|t| {
                            Value::str(format!("{}:{}:{}", t.name, t.port, t.health_check.path))
                        })
                        .collect(),
                ),
            );
            set(
                "routes",
                Value::List(
                    l.routes
                        .iter()
                        .map(|r| {
                            let target = match &r.target {
                                RouteTarget::Forward(tg) => tg.as_str(),
                                RouteTarget::Deny => "deny",
                            };
                            Value::str(format!(
                                "{}:{}:{}:{}",
                                r.priority,
                                r.path_patterns.join(","),
                                target,
                                r.source_cidrs.join(",")
                            ))
                        })
                        .collect(),
                ),
            );
            placement(a, &l.placement);
        }
        Resource::Cache(c) => {
            set("engine_version", Value::str(&c.version));
            set("size", Value::str(c.size.as_str()));
            set("replicas", c.replicas.into());
            set("automatic_failover", c.automatic_failover.into());
            set("transit_encryption", c.transit_encryption.into());
            set("at_rest_encryption", c.at_rest_encryption.into());
            set("auth_token", secret_ref(&c.auth_token));
            set("port", c.port.unwrap_or(6379).into());
            placement(a, &c.placement);
        }
    }
}

pub(super) fn schema() -> ProviderSchema {
    let mut s = ProviderSchema {
        lb_product: "memory balancer".into(),
        lb_capabilities: LbCapability::ALL.into_iter().collect(),
        ..ProviderSchema::default()
    };
    // Every kind reads one override, `flavour`, copied onto its object as is.
    for kind in [
        KindName::Network,
        KindName::Subnet,
        KindName::SecurityGroup,
        KindName::Database,
        KindName::Broker,
        KindName::LoadBalancer,
        KindName::Cache,
        KindName::Secret,
    ] {
        s.override_keys
            .insert(kind, ["flavour".to_string()].into_iter().collect());
    }
    let base = |t: &str| {
        ResourceSchema::new(t)
            .attr("id", AttrSchema::COMPUTED)
            .attr("arn", AttrSchema::COMPUTED)
            .attr("name", AttrSchema::FORCE_NEW)
    };
    s.add(base("mem_network").attr("cidr", AttrSchema::FORCE_NEW));
    s.add(
        base("mem_subnet")
            .attr("network_id", AttrSchema::FORCE_NEW)
            .attr("cidr", AttrSchema::FORCE_NEW)
            .attr("zone", AttrSchema::FORCE_NEW),
    );
    s.add(
        base("mem_security_group")
            .attr("network_id", AttrSchema::FORCE_NEW)
            .attr("description", AttrSchema::FORCE_NEW),
    );
    s.add(base("mem_secret").attr("value", AttrSchema::SENSITIVE));
    s.add(
        base("mem_database")
            .attr("endpoint", AttrSchema::COMPUTED)
            .attr("admin_password", AttrSchema::SENSITIVE)
            .attr("encrypted", AttrSchema::FORCE_NEW)
            .attr("subnet_ids", AttrSchema::FORCE_NEW),
    );
    s.add(
        base("mem_broker")
            .attr("bootstrap_brokers", AttrSchema::COMPUTED)
            .attr("credentials", AttrSchema::SENSITIVE)
            .attr("brokers", AttrSchema::FORCE_NEW),
    );
    s.add(
        base("mem_load_balancer")
            .attr("address", AttrSchema::COMPUTED)
            .attr("internal", AttrSchema::FORCE_NEW),
    );
    s.add(
        base("mem_cache")
            .attr("endpoint", AttrSchema::COMPUTED)
            .attr("auth_token", AttrSchema::SENSITIVE)
            .attr("at_rest_encryption", AttrSchema::FORCE_NEW),
    );
    s
}
