//! Caches and brokers: Azure Cache for Redis and Event Hubs, with the keys Azure makes for
//! them kept in the stack's key vault (their produced secrets).

use super::services::dns_label;
use super::*;
use cairn_core::model::{Broker, Cache, Size};

/// Event Hubs' throughput unit: 1 MB/s in and 84 GB kept (Azure's documentation).
const TU_GB: u32 = 84;
/// The most throughput units a Standard namespace takes.
const MAX_TU: u32 = 20;

/// Azure Cache for Redis's sizes: Basic and Standard `C0`–`C6` (0.25, 1, 2.5, 6, 13, 26,
/// 53 GB), Premium `P1`–`P4` (6, 13, 26, 53 GB): the smallest holding `size`.
pub fn redis_capacity(size: Size, premium: bool) -> i64 {
    let gb = f64::from(size.memory_gb());
    let sizes: &[f64] = if premium {
        &[6.0, 13.0, 26.0, 53.0]
    } else {
        &[0.25, 1.0, 2.5, 6.0, 13.0, 26.0, 53.0]
    };
    let i = sizes
        .iter()
        .position(|&s| s >= gb)
        .unwrap_or(sizes.len() - 1);
    i as i64 + i64::from(premium)
}

impl Lowering<'_> {
    /// A private endpoint for `target` (a cache or a namespace, Private Link group
    /// `group`) in the placement's subnet, named in the `privatelink` zone `zone_name`
    /// linked to the network: how the service is reached with its public access off.
    fn private_endpoint(
        &mut self,
        d: &Declared,
        placement: &cairn_core::model::Placement,
        target: &str,
        group: &str,
        zone_name: &str,
    ) {
        let Some(net) = self.stack.network_of(placement) else {
            return;
        };
        let Some(subnet) = self.endpoint_subnet(placement) else {
            return self.err(
                d,
                "placement",
                "on azure a service placed in a network needs a subnet of its tier there for its private endpoint, other than one delegated to a database's flexible servers",
            );
        };
        let key = zone_name.replace('.', "-");
        let zone = self.dns_zone(d, &key, zone_name, &net, &format!("{net}-{key}"));
        let attrs = self.placed(Attrs::from([
            (
                "name".into(),
                Value::str(azure_name(&[self.stack.name(), &d.name], 80)),
            ),
            (
                "subnet_id".into(),
                Value::reference(addr("azure_subnet", &subnet), "id"),
            ),
            ("target_id".into(), Value::reference(target, "id")),
            ("group_ids".into(), Value::List(vec![Value::str(group)])),
            ("tags".into(), Value::Map(Default::default())),
        ]));
        let endpoint = self.push(d, "azure_private_endpoint", attrs);
        self.push(
            d,
            "azure_private_dns_zone_group",
            Attrs::from([
                ("name".into(), Value::str("default")),
                (
                    "private_endpoint_id".into(),
                    Value::reference(&endpoint, "id"),
                ),
                (
                    "private_dns_zone_ids".into(),
                    Value::List(vec![Value::reference(&zone, "id")]),
                ),
            ]),
        );
    }

    /// The cache or broker whose produced secret `name` is, as (address, attribute).
    pub(super) fn producer_of(&self, name: &str) -> Option<(String, &'static str)> {
        self.stack
            .resources()
            .iter()
            .find_map(|x| match &x.resource {
                Resource::Cache(c) if c.auth_token.as_ref().is_some_and(|t| t.name() == name) => {
                    Some((addr("azure_redis_cache", &x.name), "primary_key"))
                }
                Resource::Broker(b) if b.credentials.as_ref().is_some_and(|t| t.name() == name) => {
                    Some((
                        addr(
                            "azure_eventhub_authorization_rule",
                            &format!("{}-clients", x.name),
                        ),
                        "primary_connection_string",
                    ))
                }
                _ => None,
            })
    }

    /// Whether secret `name` is declared as produced (by the service that uses it).
    fn produced(&self, name: &str) -> bool {
        self.stack.resources().iter().any(|x| {
            x.name == name
                && matches!(&x.resource, Resource::Secret(s) if matches!(s.source, cairn_core::model::SecretSource::Produced))
        })
    }

    /// Azure Cache for Redis: Basic without replicas; Standard with one (primary and
    /// replica, failover built in); Premium for more replicas or zones. TLS only unless
    /// transit encryption is off; reached through the network only when placed in one.
    pub(super) fn cache(&mut self, d: &Declared, c: &Cache) {
        let pinned = d
            .resource
            .common()
            .overrides_for("azure")
            .and_then(|o| o.get("redis_version"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let version = pinned.unwrap_or_else(|| c.version.clone());
        if !matches!(version.as_str(), "4" | "6") {
            self.err(
                d,
                "version",
                format!("Azure Cache for Redis offers Redis 4 and 6 on azure, not {version}: pin azure's with override_for(\"azure\", \"redis_version\", \"6\")"),
            );
        }
        if c.port.is_some() {
            self.err(
                d,
                "port",
                "Azure Cache for Redis chooses the port on azure (6380 with TLS, 6379 without): leave it unset",
            );
        }
        if !c.at_rest_encryption {
            self.err(d, "at_rest_encryption", "Azure Cache for Redis always encrypts at rest on azure: at_rest_encryption(false) cannot be honoured");
        }
        let premium = c.replicas > 1 || (c.multi_zone && c.replicas > 0);
        if c.replicas == 0 && (c.automatic_failover || c.multi_zone) {
            self.err(
                d,
                if c.automatic_failover {
                    "automatic_failover"
                } else {
                    "multi_zone"
                },
                "on azure failover and zones come with a replica (the Standard or Premium tier): a cache without replicas is Basic",
            );
        }
        if c.replicas > 0 && !c.automatic_failover {
            self.err(d, "automatic_failover", "Azure Cache for Redis always fails over to its replica on azure: automatic_failover(false) cannot be honoured");
        }
        if c.replicas > 3 {
            self.err(
                d,
                "replicas",
                "Azure Cache for Redis takes at most 3 replicas per primary on azure",
            );
        }
        if let Some(t) = &c.auth_token {
            if !self.produced(t.name()) {
                self.err(
                    d,
                    "auth_token",
                    "Azure makes a cache's access key on azure: give a Secret::produced()",
                );
            }
        }
        let (sku, family) = match (c.replicas, premium) {
            (_, true) => ("Premium", "P"),
            (0, false) => ("Basic", "C"),
            _ => ("Standard", "C"),
        };
        let zones: Vec<Value> = if premium && c.multi_zone {
            (1..=c.replicas.min(2) + 1)
                .map(|z| Value::str(z.to_string()))
                .collect()
        } else {
            vec![]
        };
        let placed_in_network = self.stack.network_of(&c.placement).is_some();
        let attrs = self.placed(Attrs::from([
            (
                "name".into(),
                Value::str(dns_label(&[self.stack.name(), &d.name], 63)),
            ),
            ("sku_name".into(), Value::str(sku)),
            ("sku_family".into(), Value::str(family)),
            (
                "sku_capacity".into(),
                Value::Int(redis_capacity(c.size, premium)),
            ),
            ("redis_version".into(), Value::str(&version)),
            (
                "enable_non_ssl_port".into(),
                Value::Bool(!c.transit_encryption),
            ),
            ("minimum_tls_version".into(), Value::str("1.2")),
            (
                "replicas_per_primary".into(),
                if premium {
                    Value::Int(i64::from(c.replicas))
                } else {
                    Value::Null
                },
            ),
            (
                "public_network_access".into(),
                Value::str(if placed_in_network {
                    "Disabled"
                } else {
                    "Enabled"
                }),
            ),
            ("zones".into(), Value::List(zones)),
            ("tags".into(), Value::Map(Default::default())),
        ]));
        let cache = self.push(d, "azure_redis_cache", attrs);
        self.private_endpoint(
            d,
            &c.placement,
            &cache,
            "redisCache",
            "privatelink.redis.cache.windows.net",
        );
        self.export(d, "id", Value::reference(&cache, "id"));
        self.export(d, "endpoint", Value::reference(&cache, "hostname"));
        self.export(
            d,
            "port",
            if c.transit_encryption {
                Value::reference(&cache, "ssl_port")
            } else {
                Value::Int(6379)
            },
        );
    }

    /// Event Hubs: a Standard namespace (the Kafka endpoint) of enough throughput units for
    /// the throughput and the data kept, an event hub per topic, and for produced
    /// credentials a rule that may send and listen.
    pub(super) fn broker(&mut self, d: &Declared, b: &Broker) {
        if b.version != "3" {
            self.err(d, "version", format!("Event Hubs speaks the Kafka protocol of Kafka 1.0 and later on azure: declare kafka(\"3\"), not {}", b.version));
        }
        if !b.tls {
            self.err(
                d,
                "tls",
                "Event Hubs always uses TLS on azure: tls(false) cannot be honoured",
            );
        }
        let units = b.throughput_mb_s.max(b.storage_gb.div_ceil(TU_GB)).max(1);
        if units > MAX_TU {
            self.err(d, "throughput_mb_s", format!("a Standard Event Hubs namespace takes at most {MAX_TU} throughput units on azure (this broker needs {units}: Premium is not lowered yet)"));
        }
        for (i, t) in b.topics.iter().enumerate() {
            if !(1..=32).contains(&t.partitions) {
                self.err(
                    d,
                    &format!("topics[{i}].partitions"),
                    "a Standard event hub takes 1 to 32 partitions on azure",
                );
            }
            if t.replication != 3 {
                self.err(
                    d,
                    &format!("topics[{i}].replication"),
                    "Event Hubs keeps its own copies on azure: leave replication at 3",
                );
            }
            if t.retention_hours > 168 {
                self.err(
                    d,
                    &format!("topics[{i}].retention_hours"),
                    "a Standard event hub keeps events at most 168 hours on azure",
                );
            }
            if t.compacted {
                self.err(
                    d,
                    &format!("topics[{i}].compacted"),
                    "compacted event hubs need the Premium tier on azure, which is not lowered yet",
                );
            }
        }
        if let Some(c) = &b.credentials {
            if !self.produced(c.name()) {
                self.err(d, "credentials", "on azure a broker's credentials are the connection string Event Hubs makes: give a Secret::produced()");
            }
        }
        let placed_in_network = self.stack.network_of(&b.placement).is_some();
        let attrs = self.placed(Attrs::from([
            (
                "name".into(),
                Value::str(dns_label(&[self.stack.name(), &d.name], 50)),
            ),
            ("sku".into(), Value::str("Standard")),
            ("capacity".into(), Value::Int(i64::from(units))),
            ("minimum_tls_version".into(), Value::str("1.2")),
            (
                "public_network_access".into(),
                Value::str(if placed_in_network {
                    "Disabled"
                } else {
                    "Enabled"
                }),
            ),
            ("tags".into(), Value::Map(Default::default())),
        ]));
        let namespace = self.push(d, "azure_eventhub_namespace", attrs);
        self.private_endpoint(
            d,
            &b.placement,
            &namespace,
            "namespace",
            "privatelink.servicebus.windows.net",
        );
        for t in &b.topics {
            self.push_as(
                d,
                "azure_eventhub",
                &format!("{}-{}", d.name, t.name),
                Attrs::from([
                    ("name".into(), Value::str(&t.name)),
                    ("namespace_id".into(), Value::reference(&namespace, "id")),
                    (
                        "partition_count".into(),
                        Value::Int(i64::from(t.partitions)),
                    ),
                    (
                        "retention_hours".into(),
                        Value::Int(i64::from(t.retention_hours)),
                    ),
                    ("cleanup_policy".into(), Value::str("Delete")),
                ]),
            );
        }
        if b.credentials.is_some() {
            self.push_as(
                d,
                "azure_eventhub_authorization_rule",
                &format!("{}-clients", d.name),
                Attrs::from([
                    ("name".into(), Value::str("clients")),
                    ("namespace_id".into(), Value::reference(&namespace, "id")),
                    (
                        "rights".into(),
                        Value::List(vec![Value::str("Listen"), Value::str("Send")]),
                    ),
                ]),
            );
        }
        self.export(d, "id", Value::reference(&namespace, "id"));
        self.export(
            d,
            "bootstrap_brokers",
            Value::reference(&namespace, "bootstrap_brokers"),
        );
    }
}
