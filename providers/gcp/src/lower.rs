//! Portable kinds -> GCP resources (the GCP column of the portability table in
//! `core/ARCHITECTURE.md`). Kinds not lowered yet are refused here, naming the resource,
//! the field and the cloud: a stack is never half-deployed by a silent drop.

use cairn_core::invalid::Invalid;
use cairn_core::model::{
    Access, Broker, Cache, Database, Declared, NatMode, Network, Placement, Protocol, Resource,
    Rule, RuleSource, Secret, SecretSource, SecurityGroup, Size, Stack, StorageType, Subnet, Tier,
};
use cairn_core::provider::{Concrete, Export, LowerResponse};
use cairn_core::value::{Attrs, Text, Value};

/// Lower `stack` for `project` and `region`.
pub fn lower_stack(
    stack: &Stack,
    project: &str,
    region: &str,
) -> Result<LowerResponse, Vec<Invalid>> {
    let _ = project; // names are project-scoped already; kept for the services to come
    let mut l = Lowering {
        stack,
        region,
        out: LowerResponse::default(),
        errors: Vec::new(),
    };
    for d in stack.resources() {
        match &d.resource {
            Resource::Network(n) => l.network(d, n),
            Resource::Subnet(s) => l.subnet(d, s),
            Resource::SecurityGroup(g) => l.security_group(d, g),
            Resource::Secret(x) => l.secret(d, x),
            Resource::Database(db) => l.database(d, db),
            Resource::Cache(c) => l.cache(d, c),
            Resource::Broker(b) => l.broker(d, b),
            other => l.err(
                d,
                "kind",
                format!(
                    "a {} is not lowered on gcp by cairn yet (networks, subnets, security groups, secrets, databases, caches and brokers are)",
                    other.kind().as_str()
                ),
            ),
        }
    }
    for e in stack.access() {
        l.access(e);
    }
    if l.errors.is_empty() {
        Ok(l.out)
    } else {
        Err(l.errors)
    }
}

/// Compute's name rule, `[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters: the stack
/// and resource names lowercased, other characters as `-`, fitted with a stable digest.
pub fn gcp_name(stack: &str, resource: &str) -> String {
    let raw: String = format!("{stack}-{resource}")
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let raw = if raw.starts_with(|c: char| c.is_ascii_lowercase()) {
        raw
    } else {
        format!("c-{raw}")
    };
    let mut name = cairn_provider_kit::names::fit(raw.trim_end_matches('-'), 63);
    while name.ends_with('-') {
        name.pop();
    }
    name
}

struct Lowering<'a> {
    stack: &'a Stack,
    region: &'a str,
    out: LowerResponse,
    errors: Vec<Invalid>,
}

fn addr(type_name: &str, name: &str) -> String {
    format!("{type_name}.{name}")
}

impl Lowering<'_> {
    fn err(&mut self, d: &Declared, field: &str, message: impl Into<String>) {
        self.errors.push(Invalid::new(d.address(), field, message));
    }

    fn push(&mut self, d: &Declared, type_name: &str, attrs: Attrs) -> String {
        let name = d.name.clone();
        self.push_as(d, type_name, &name, attrs)
    }

    /// `push` under the address name `name` (a kind lowering to several of one type).
    fn push_as(&mut self, d: &Declared, type_name: &str, name: &str, mut attrs: Attrs) -> String {
        let address = addr(type_name, name);
        if let Some(o) = d.resource.common().overrides_for("gcp") {
            for (k, v) in o {
                if attrs.contains_key(k.as_str())
                    && !crate::schema::NOT_OVERRIDABLE.contains(&k.as_str())
                {
                    attrs.insert(k.clone(), v.clone());
                } else {
                    self.errors.push(Invalid::new(
                        d.address(),
                        format!("override_for(\"gcp\", {k:?})"),
                        format!("{type_name} on gcp has no attribute {k:?}"),
                    ));
                }
            }
        }
        let tags = &d.resource.common().tags;
        if crate::schema::LABELLED.contains(&type_name) {
            let labels = tags
                .iter()
                .map(|(k, v)| (Text::from(k.as_str()), Value::str(v)))
                .collect();
            attrs.insert("labels".into(), Value::Map(labels));
        } else if !tags.is_empty()
            && !crate::schema::UNDER_LABELLED.contains(&type_name)
            && !self
                .errors
                .iter()
                .any(|e| e.resource == d.address() && e.field == "tags")
        {
            self.err(d, "tags", format!("{type_name} carries no labels on gcp"));
        }
        self.out.resources.push(Concrete {
            address: Text::from(address.as_str()),
            type_name: type_name.into(),
            origin: d.name.as_str().into(),
            attrs,
            depends_on: Vec::new(),
        });
        address
    }

    fn export(&mut self, d: &Declared, attr: &str, value: Value) {
        self.out.exports.push(Export {
            resource: d.name.clone(),
            attr: attr.to_string(),
            value,
        });
    }

    fn network(&mut self, d: &Declared, n: &Network) {
        if !n.dns {
            self.err(
                d,
                "dns",
                "VPC networks always resolve names on gcp: dns(false) cannot be honoured",
            );
        }
        let private = self.stack.resources().iter().any(|x| {
            matches!(&x.resource, Resource::Subnet(s) if s.network.name() == d.name && s.tier == Tier::Private)
        });
        if private {
            match n.nat {
                NatMode::None => {}
                NatMode::PerZone => self.err(
                    d,
                    "nat",
                    "Cloud NAT is regional on gcp (one per region, not per zone): use NatMode::Shared",
                ),
                NatMode::Shared => {}
            }
        }
        let name = gcp_name(self.stack.name(), &d.name);
        let net = self.push(
            d,
            "gcp_compute_network",
            Attrs::from([
                ("name".into(), Value::str(name)),
                ("auto_create_subnetworks".into(), Value::Bool(false)),
                ("routing_mode".into(), Value::str("REGIONAL")),
            ]),
        );
        if private && n.nat == NatMode::Shared {
            self.cloud_nat(d, &net);
        }
        if self.uses_private_services(&d.name) {
            self.private_services_access(d, &net);
        }
        self.export(d, "id", Value::reference(&net, "self_link"));
        // Subnet-mode networks have no range of their own: the declared one stays the
        // stack's (subnets were checked against it).
        self.export(d, "cidr", Value::str(&n.cidr));
    }

    /// One Cloud Router with one Cloud NAT over the network's private subnetworks (Cloud
    /// NAT is regional: the shared mode is the only one GCP has).
    fn cloud_nat(&mut self, d: &Declared, network: &str) {
        let private: Vec<Value> = self
            .stack
            .resources()
            .iter()
            .filter(|x| {
                matches!(&x.resource, Resource::Subnet(s) if s.network.name() == d.name && s.tier == Tier::Private)
            })
            .map(|x| Value::reference(addr("gcp_compute_subnetwork", &x.name), "self_link"))
            .collect();
        let suffix = format!("{}-nat", d.name);
        let name = gcp_name(self.stack.name(), &suffix);
        self.push_as(
            d,
            "gcp_compute_router",
            &suffix,
            Attrs::from([
                ("name".into(), Value::str(&name)),
                ("region".into(), Value::str(self.region)),
                ("network".into(), Value::reference(network, "self_link")),
                ("nat_name".into(), Value::str(&name)),
                ("nat_subnetworks".into(), Value::List(private)),
            ]),
        );
    }

    fn subnet(&mut self, d: &Declared, s: &Subnet) {
        let name = gcp_name(self.stack.name(), &d.name);
        let sub = self.push(
            d,
            "gcp_compute_subnetwork",
            Attrs::from([
                ("name".into(), Value::str(name)),
                ("region".into(), Value::str(self.region)),
                (
                    "network".into(),
                    Value::reference(addr("gcp_compute_network", s.network.name()), "self_link"),
                ),
                ("ip_cidr_range".into(), Value::str(&s.cidr)),
                // Private tiers reach Google's APIs without external addresses.
                (
                    "private_ip_google_access".into(),
                    Value::Bool(s.tier != Tier::Public),
                ),
            ]),
        );
        self.export(d, "id", Value::reference(&sub, "self_link"));
        self.export(d, "cidr", Value::str(&s.cidr));
        // `zone`: GCP subnetworks are regional, and zone names differ by region
        // (us-east1 has no -a): nothing to export that would be true.
    }
}

impl Lowering<'_> {
    /// A Secret Manager secret (automatic replication) holding the value as its latest
    /// version; the description as its `description` annotation (secrets have no field). Produced secrets come from the service that makes them (Memorystore's AUTH
    /// string), lowered with that service.
    fn secret(&mut self, d: &Declared, x: &Secret) {
        let value = match &x.source {
            SecretSource::Generated(g) => Value::Generated(Box::new(g.clone())),
            SecretSource::Given(v) => Value::Sensitive(v.clone()),
            // Memorystore makes the AUTH string; cairn keeps it in Secret Manager.
            SecretSource::Produced => match self.cache_using(&d.name) {
                Some(cache) => Value::reference(addr("gcp_redis_instance", &cache), "auth_string"),
                None => {
                    return self.err(
                        d,
                        "source",
                        "on gcp a produced secret is a cache's AUTH string (Memorystore makes it): no cache uses this one",
                    )
                }
            },
        };
        let id = secret_id(self.stack.name(), &d.name);
        let a = self.push(
            d,
            "gcp_secret_manager_secret",
            Attrs::from([
                ("secret_id".into(), Value::str(id)),
                ("description".into(), Value::str(&x.description)),
                ("secret_data".into(), value),
            ]),
        );
        self.export(d, "id", Value::reference(&a, "id"));
        self.export(d, "value", Value::reference(&a, "secret_data"));
    }
}

/// The network a service is placed in: the one named, or its subnets'.
fn network_of(stack: &Stack, p: &Placement) -> Option<String> {
    if let Some(n) = &p.network {
        return Some(n.name().to_string());
    }
    let first = p.subnets.first()?;
    stack.resources().iter().find_map(|x| match &x.resource {
        Resource::Subnet(s) if x.name == first.name() => Some(s.network.name().to_string()),
        _ => None,
    })
}

/// The smallest Cloud SQL custom tier with at least `size`'s memory: vCPUs 1 or even, 0.9
/// to 6.5 GiB per vCPU, memory a multiple of 256 MiB and at least 3840 MiB.
pub fn sql_tier(size: Size) -> String {
    let mib = (size.memory_gb() * 1024).max(3840).div_ceil(256) * 256;
    let mut cpus = 1;
    while f64::from(mib) > f64::from(cpus) * 6.5 * 1024.0 {
        cpus = if cpus == 1 { 2 } else { cpus + 2 };
    }
    format!("db-custom-{cpus}-{mib}")
}

impl Lowering<'_> {
    /// Whether a database (or, later, a cache) sits in network `name`: it then needs
    /// private services access.
    fn uses_private_services(&self, name: &str) -> bool {
        self.stack.resources().iter().any(|x| match &x.resource {
            Resource::Database(db) => {
                network_of(self.stack, &db.placement).as_deref() == Some(name)
            }
            Resource::Cache(c) => network_of(self.stack, &c.placement).as_deref() == Some(name),
            _ => false,
        })
    }

    /// A reserved range for Google's producer services (GCP picks a free /20 in it) and
    /// the Service Networking connection that peers it into the network.
    fn private_services_access(&mut self, d: &Declared, network: &str) {
        let suffix = format!("{}-psa", d.name);
        let range = self.push_as(
            d,
            "gcp_compute_global_address",
            &suffix,
            Attrs::from([
                (
                    "name".into(),
                    Value::str(gcp_name(self.stack.name(), &suffix)),
                ),
                ("network".into(), Value::reference(network, "self_link")),
                ("purpose".into(), Value::str("VPC_PEERING")),
                ("address_type".into(), Value::str("INTERNAL")),
                ("prefix_length".into(), Value::Int(20)),
            ]),
        );
        self.push_as(
            d,
            "gcp_service_networking_connection",
            &suffix,
            Attrs::from([
                ("network".into(), Value::reference(network, "self_link")),
                (
                    "service".into(),
                    Value::str("servicenetworking.googleapis.com"),
                ),
                (
                    "reserved_peering_ranges".into(),
                    Value::List(vec![Value::reference(&range, "name")]),
                ),
            ]),
        );
    }

    /// Cloud SQL for PostgreSQL on a private IP in the network's reserved range; its
    /// databases; the admin user with the stack's secret as password.
    fn database(&mut self, d: &Declared, db: &Database) {
        let Some(net) = network_of(self.stack, &db.placement) else {
            return self.err(d, "placement", "a database needs a network on gcp");
        };
        if !db.encrypted {
            self.err(
                d,
                "encrypted",
                "Cloud SQL always encrypts storage on gcp: encrypted(false) cannot be honoured",
            );
        }
        if db.storage_gb < 10 {
            self.err(d, "storage_gb", "Cloud SQL disks are at least 10 GB on gcp");
        }
        if db.cloud_managed_password {
            self.err(d, "cloud_managed_password", "a cloud-managed admin password is not lowered on gcp by cairn yet: give admin_password a secret");
        }
        let Some(secret) = &db.admin_password else {
            if !db.cloud_managed_password {
                self.err(
                    d,
                    "admin_password",
                    "on gcp the admin user's password comes from a secret: set admin_password",
                );
            }
            return;
        };
        if !db.version.chars().all(|c| c.is_ascii_digit()) {
            self.err(d, "version", "Cloud SQL takes a PostgreSQL major version on gcp (POSTGRES_{major}); a minor cannot be pinned");
        }
        let network = addr("gcp_compute_network", &net);
        let psa = format!("{net}-psa");
        let flags = db
            .parameters
            .iter()
            .map(|(k, v)| (Text::from(k.as_str()), Value::str(v)))
            .collect();
        let attrs = Attrs::from([
            (
                "name_prefix".into(),
                Value::str(cairn_provider_kit::names::fit(
                    &gcp_name(self.stack.name(), &d.name),
                    80,
                )),
            ),
            ("region".into(), Value::str(self.region)),
            (
                "database_version".into(),
                Value::str(format!("POSTGRES_{}", db.version)),
            ),
            ("tier".into(), Value::str(sql_tier(db.size))),
            // Custom shapes are Enterprise edition (PostgreSQL 16 on defaults to Enterprise
            // Plus, which takes only its own tiers): said, not left to the default.
            ("edition".into(), Value::str("ENTERPRISE")),
            (
                "availability_type".into(),
                Value::str(if db.high_availability {
                    "REGIONAL"
                } else {
                    "ZONAL"
                }),
            ),
            ("disk_size_gb".into(), Value::Int(i64::from(db.storage_gb))),
            (
                "disk_type".into(),
                Value::str(match db.storage_type {
                    StorageType::Ssd => "PD_SSD",
                    StorageType::Standard => "PD_HDD",
                    StorageType::ProvisionedIops => "HYPERDISK_BALANCED",
                }),
            ),
            (
                "backup_retained".into(),
                Value::Int(i64::from(db.backup_retention_days)),
            ),
            (
                "deletion_protection".into(),
                Value::Bool(db.deletion_protection),
            ),
            (
                "private_network".into(),
                // Cloud SQL names the network by path, as the network's id is.
                Value::reference(&network, "id"),
            ),
            (
                "allocated_ip_range".into(),
                Value::reference(addr("gcp_compute_global_address", &psa), "name"),
            ),
            ("flags".into(), Value::Map(flags)),
        ]);
        if db
            .maintenance_window
            .as_ref()
            .is_some_and(|w| w.day.is_none())
        {
            self.err(
                d,
                "maintenance_window",
                "Cloud SQL maintenance is weekly on gcp: use Window::weekly",
            );
        }
        let mut attrs = attrs;
        // Windows not declared are Cloud SQL's choice (not compared, as on the other clouds).
        if let Some(w) = &db.backup_window {
            attrs.insert(
                "backup_start_time".into(),
                Value::str(format!("{:02}:00", w.start_hour)),
            );
        }
        if let Some((day, hour)) = db
            .maintenance_window
            .as_ref()
            .and_then(|w| w.day.map(|day| (day, w.start_hour)))
        {
            attrs.insert(
                "maintenance_day".into(),
                Value::Int(i64::from(day.index()) + 1),
            );
            attrs.insert("maintenance_hour".into(), Value::Int(i64::from(hour)));
        }
        let instance = self.push(d, "gcp_sql_database_instance", attrs);
        // The instance's private IP comes through the connection: created after it,
        // deleted before it.
        if let Some(last) = self.out.resources.last_mut() {
            last.depends_on.push(Text::from(
                addr("gcp_service_networking_connection", &psa).as_str(),
            ));
        }
        for name in &db.databases {
            let suffix = format!("{}-{name}", d.name);
            self.push_as(
                d,
                "gcp_sql_database",
                &suffix,
                Attrs::from([
                    ("instance".into(), Value::reference(&instance, "name")),
                    ("name".into(), Value::str(name)),
                ]),
            );
        }
        let suffix = format!("{}-admin", d.name);
        self.push_as(
            d,
            "gcp_sql_user",
            &suffix,
            Attrs::from([
                ("instance".into(), Value::reference(&instance, "name")),
                ("name".into(), Value::str(&db.admin_user)),
                (
                    "password".into(),
                    Value::reference(
                        addr("gcp_secret_manager_secret", secret.name()),
                        "secret_data",
                    ),
                ),
            ]),
        );
        self.export(d, "id", Value::reference(&instance, "id"));
        self.export(d, "endpoint", Value::reference(&instance, "private_ip"));
        self.export(d, "port", Value::Int(5432));
    }
}

impl Lowering<'_> {
    /// The cache whose AUTH token is secret `name`, if any.
    fn cache_using(&self, name: &str) -> Option<String> {
        self.stack
            .resources()
            .iter()
            .find_map(|x| match &x.resource {
                Resource::Cache(c) if c.auth_token.as_ref().is_some_and(|t| t.name() == name) => {
                    Some(x.name.to_string())
                }
                _ => None,
            })
    }

    /// Memorystore for Redis on private services access: BASIC without replicas,
    /// STANDARD_HA (a standby in another zone, failover built in) with them; read replicas
    /// beyond the standby.
    fn cache(&mut self, d: &Declared, c: &Cache) {
        let Some(net) = network_of(self.stack, &c.placement) else {
            return self.err(d, "placement", "a cache needs a network on gcp");
        };
        let version = match c.version.as_str() {
            "7" => "REDIS_7_2",
            "6" => "REDIS_6_X",
            other => {
                return self.err(
                    d,
                    "version",
                    format!("Memorystore offers Redis 6 and 7 on gcp, not {other}"),
                )
            }
        };
        if c.port.is_some() {
            self.err(
                d,
                "port",
                "Memorystore chooses the port on gcp (6379, or 6378 with TLS): leave it unset",
            );
        }
        if !c.at_rest_encryption {
            self.err(d, "at_rest_encryption", "Memorystore always encrypts at rest on gcp: at_rest_encryption(false) cannot be honoured");
        }
        let ha = c.replicas > 0;
        if ha != c.automatic_failover {
            self.err(
                d,
                "automatic_failover",
                "on gcp failover is the STANDARD_HA tier, which replicas bring: automatic failover goes with replicas (and none without)",
            );
        }
        if ha && !c.multi_zone {
            self.err(
                d,
                "multi_zone",
                "Memorystore's STANDARD_HA tier always keeps its replica in another zone on gcp",
            );
        }
        if c.replicas > 5 {
            self.err(d, "replicas", "Memorystore takes at most 5 replicas on gcp");
        }
        if let Some(t) = &c.auth_token {
            let produced = self.stack.resources().iter().any(|x| {
                x.name == t.name()
                    && matches!(&x.resource, Resource::Secret(s) if matches!(s.source, SecretSource::Produced))
            });
            if !produced {
                self.err(
                    d,
                    "auth_token",
                    "Memorystore makes the AUTH string on gcp: give a Secret::produced()",
                );
            }
        }
        // Read replicas start at 5 GB: a smaller size gets the smallest that takes them.
        let memory = i64::from(c.size.memory_gb()).max(if c.replicas > 1 { 5 } else { 1 });
        let network = addr("gcp_compute_network", &net);
        let psa = format!("{net}-psa");
        let attrs = Attrs::from([
            (
                "instance_id".into(),
                Value::str(cairn_provider_kit::names::fit(
                    &gcp_name(self.stack.name(), &d.name),
                    40,
                )),
            ),
            ("region".into(), Value::str(self.region)),
            (
                "tier".into(),
                Value::str(if ha { "STANDARD_HA" } else { "BASIC" }),
            ),
            ("memory_size_gb".into(), Value::Int(memory)),
            ("redis_version".into(), Value::str(version)),
            ("connect_mode".into(), Value::str("PRIVATE_SERVICE_ACCESS")),
            (
                "authorized_network".into(),
                Value::reference(&network, "id"),
            ),
            (
                "reserved_ip_range".into(),
                Value::reference(addr("gcp_compute_global_address", &psa), "name"),
            ),
            ("auth_enabled".into(), Value::Bool(c.auth_token.is_some())),
            (
                "transit_encryption_mode".into(),
                Value::str(if c.transit_encryption {
                    "SERVER_AUTHENTICATION"
                } else {
                    "DISABLED"
                }),
            ),
            (
                "replica_count".into(),
                Value::Int(if c.replicas > 1 {
                    i64::from(c.replicas)
                } else {
                    0
                }),
            ),
            (
                "read_replicas_mode".into(),
                Value::str(if c.replicas > 1 {
                    "READ_REPLICAS_ENABLED"
                } else {
                    "READ_REPLICAS_DISABLED"
                }),
            ),
        ]);
        let instance = self.push(d, "gcp_redis_instance", attrs);
        // Its address comes through the connection: created after it, deleted before it.
        if let Some(last) = self.out.resources.last_mut() {
            last.depends_on.push(Text::from(
                addr("gcp_service_networking_connection", &psa).as_str(),
            ));
        }
        self.export(d, "id", Value::reference(&instance, "id"));
        self.export(d, "endpoint", Value::reference(&instance, "host"));
        self.export(d, "port", Value::reference(&instance, "port"));
    }
}

impl Lowering<'_> {
    /// Managed Kafka: a cluster of `vcpus()` vCPUs with 4 GiB each, reached from one
    /// subnetwork of the network (the placement's tier, isolated unless told), its topics
    /// with their copies, retention and cleanup policy as Kafka topic configs.
    fn broker(&mut self, d: &Declared, b: &Broker) {
        if b.version != "3" {
            self.err(
                d,
                "version",
                format!("Managed Kafka runs Kafka 3 on gcp, not {}", b.version),
            );
        }
        if !b.tls {
            self.err(
                d,
                "tls",
                "Managed Kafka always uses TLS on gcp: tls(false) cannot be honoured",
            );
        }
        if b.credentials.is_some() {
            self.err(d, "credentials", "Managed Kafka clients authenticate as IAM principals on gcp: there is no broker credential to keep");
        }
        let Some(subnet) = self.broker_subnet_name(b) else {
            return self.err(
                d,
                "placement",
                "a broker needs a subnet of its tier in its network on gcp",
            );
        };
        let vcpus = i64::from(b.vcpus());
        let cluster = self.push(
            d,
            "gcp_managed_kafka_cluster",
            Attrs::from([
                (
                    "cluster_id".into(),
                    Value::str(gcp_name(self.stack.name(), &d.name)),
                ),
                ("region".into(), Value::str(self.region)),
                ("vcpu_count".into(), Value::Int(vcpus)),
                (
                    "memory_bytes".into(),
                    Value::Int(vcpus * 4 * 1024 * 1024 * 1024),
                ),
                (
                    "subnets".into(),
                    Value::List(vec![Value::reference(
                        addr("gcp_compute_subnetwork", &subnet),
                        "id",
                    )]),
                ),
            ]),
        );
        for t in &b.topics {
            let suffix = format!("{}-{}", d.name, t.name);
            let configs = [
                (
                    "retention.ms",
                    (u64::from(t.retention_hours) * 3_600_000).to_string(),
                ),
                (
                    "cleanup.policy",
                    if t.compacted { "compact" } else { "delete" }.to_string(),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (Text::from(k), Value::str(v)))
            .collect();
            self.push_as(
                d,
                "gcp_managed_kafka_topic",
                &suffix,
                Attrs::from([
                    ("cluster".into(), Value::reference(&cluster, "id")),
                    ("topic_id".into(), Value::str(&t.name)),
                    (
                        "partition_count".into(),
                        Value::Int(i64::from(t.partitions)),
                    ),
                    (
                        "replication_factor".into(),
                        Value::Int(i64::from(t.replication)),
                    ),
                    ("configs".into(), Value::Map(configs)),
                ]),
            );
        }
        self.export(d, "id", Value::reference(&cluster, "id"));
        self.export(
            d,
            "bootstrap_brokers",
            Value::reference(&cluster, "bootstrap_address"),
        );
    }
}

/// Where Google's global external Application Load Balancer reaches backends from (its
/// proxies and health checks), as Google documents them.
const LOAD_BALANCER_RANGES: [&str; 2] = ["35.191.0.0/16", "130.211.0.0/22"];

impl Lowering<'_> {
    /// An access edge as VPC firewall rules. Firewalls reach VMs (network tags) only, so an
    /// edge to a managed service is an egress rule on the group's tag towards where the
    /// service lives (the network's reserved range for Cloud SQL and Memorystore, the
    /// broker's subnetwork for Managed Kafka); an edge between groups is an ingress rule on
    /// the target's tag from the source's, and an egress rule on the source towards the
    /// network (egress rules cannot name tags); an edge from a load balancer is an ingress
    /// rule from Google's load-balancer ranges.
    fn access(&mut self, e: &Access) {
        let stack = self.stack;
        let (Some(from), Some(to)) = (stack.get(&e.from.name), stack.get(&e.to.name)) else {
            return; // a dangling edge is core's error, said before lowering
        };
        let edge = format!("{}-to-{}", from.name, to.name);
        let port = e.port.or(match &to.resource {
            Resource::Database(_) => Some(5432),
            Resource::Cache(c) => Some(if c.transit_encryption { 6378 } else { 6379 }),
            Resource::Broker(_) => Some(9092),
            _ => None,
        });
        let Some(port) = port else {
            return self.err(
                from,
                "access",
                format!("the edge to {} needs a port on gcp", to.address()),
            );
        };
        let rule = Rule::tcp(port);
        let describe = if e.description.is_empty() {
            format!("cairn: {} may reach {}", from.address(), to.address())
        } else {
            e.description.clone()
        };
        match (&from.resource, &to.resource) {
            (Resource::SecurityGroup(g), target) => {
                let network = g.network.name().to_string();
                let destination = match target {
                    Resource::Database(_) | Resource::Cache(_) => Value::reference(
                        addr("gcp_compute_global_address", &format!("{network}-psa")),
                        "cidr",
                    ),
                    Resource::Broker(b) => match self.broker_subnet(b) {
                        Some(cidr) => Value::str(cidr),
                        None => return,
                    },
                    Resource::SecurityGroup(h) => {
                        let tags = vec![Value::str(gcp_name(stack.name(), &from.name))];
                        self.ingress_from(from, to, h, &edge, vec![], tags, &rule, &describe);
                        match stack.get(h.network.name()).map(|n| &n.resource) {
                            Some(Resource::Network(n)) => Value::str(&n.cidr),
                            _ => return,
                        }
                    }
                    _ => {
                        return self.err(
                            from,
                            "access",
                            format!("on gcp a group reaches databases, caches, brokers and groups, not {}", to.address()),
                        )
                    }
                };
                let link = Value::reference(addr("gcp_compute_network", &network), "self_link");
                let tag = gcp_name(stack.name(), &from.name);
                self.firewall(
                    from,
                    &format!("{edge}-out"),
                    &link,
                    "EGRESS",
                    1000,
                    &tag,
                    [
                        ("source_ranges", Value::List(vec![])),
                        ("source_tags", Value::List(vec![])),
                        ("destination_ranges", Value::List(vec![destination])),
                        ("allowed", Value::List(vec![allowed(&rule)])),
                        ("denied", Value::List(vec![])),
                        ("description", Value::str(&describe)),
                    ],
                );
            }
            (Resource::LoadBalancer(_), Resource::SecurityGroup(h)) => {
                let ranges = LOAD_BALANCER_RANGES.iter().map(|r| Value::str(*r)).collect();
                self.ingress_from(from, to, h, &edge, ranges, vec![], &rule, &describe);
            }
            _ => self.err(
                from,
                "access",
                format!("on gcp access edges start at a group (or a load balancer reaching a group), not {}", from.address()),
            ),
        }
    }

    /// An ingress rule on group `h` (declared `to`) from `ranges` or `tags`.
    #[allow(clippy::too_many_arguments)]
    fn ingress_from(
        &mut self,
        from: &Declared,
        to: &Declared,
        h: &SecurityGroup,
        edge: &str,
        ranges: Vec<Value>,
        tags: Vec<Value>,
        rule: &Rule,
        describe: &str,
    ) {
        let link = Value::reference(addr("gcp_compute_network", h.network.name()), "self_link");
        let tag = gcp_name(self.stack.name(), &to.name);
        self.firewall(
            from,
            &format!("{edge}-in"),
            &link,
            "INGRESS",
            1000,
            &tag,
            [
                ("source_ranges", Value::List(ranges)),
                ("source_tags", Value::List(tags)),
                ("destination_ranges", Value::List(vec![])),
                ("allowed", Value::List(vec![allowed(rule)])),
                ("denied", Value::List(vec![])),
                ("description", Value::str(describe)),
            ],
        );
    }

    /// The declared range of the subnetwork a broker is reached from (see `broker`).
    fn broker_subnet(&self, b: &Broker) -> Option<String> {
        let name = self.broker_subnet_name(b)?;
        match self.stack.get(&name).map(|d| &d.resource) {
            Some(Resource::Subnet(s)) => Some(s.cidr.clone()),
            _ => None,
        }
    }

    /// The subnetwork a broker is reached from: the first hint, else the network's first
    /// subnet of the placement's tier (isolated unless told).
    fn broker_subnet_name(&self, b: &Broker) -> Option<String> {
        if let Some(s) = b.placement.subnets.first() {
            return Some(s.name().to_string());
        }
        let net = network_of(self.stack, &b.placement);
        let tier = b.placement.tier.unwrap_or(Tier::Isolated);
        self.stack
            .resources()
            .iter()
            .find_map(|x| match &x.resource {
                Resource::Subnet(s)
                    if Some(s.network.name()) == net.as_deref() && s.tier == tier =>
                {
                    Some(x.name.to_string())
                }
                _ => None,
            })
    }
}

/// Secret Manager's id rule, `[a-zA-Z0-9_-]{1,255}`: `{stack}-{resource}`, other characters
/// as `-`, fitted with a stable digest.
fn secret_id(stack: &str, resource: &str) -> String {
    let raw: String = format!("{stack}-{resource}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    cairn_provider_kit::names::fit(&raw, 255)
}

/// A rule's protocol and ports as a firewall's `allowed` entry.
fn allowed(r: &Rule) -> Value {
    let ports = match r.protocol {
        Protocol::Tcp | Protocol::Udp if r.from_port == r.to_port => {
            vec![Value::str(r.from_port.to_string())]
        }
        Protocol::Tcp | Protocol::Udp => {
            vec![Value::str(format!("{}-{}", r.from_port, r.to_port))]
        }
        Protocol::Icmp | Protocol::All => Vec::new(),
    };
    Value::Map(std::collections::BTreeMap::from([
        (Text::from("protocol"), Value::str(r.protocol.as_str())),
        (Text::from("ports"), Value::List(ports)),
    ]))
}

impl Lowering<'_> {
    /// A group is a network tag; each rule one firewall targeting it, and what no egress
    /// rule allows is denied (the model's egress is explicit; GCP's implied rule allows all).
    fn security_group(&mut self, d: &Declared, g: &SecurityGroup) {
        let stack = self.stack.name();
        let tag = gcp_name(stack, &d.name);
        let network = Value::reference(addr("gcp_compute_network", g.network.name()), "self_link");
        let describe = |r: &Rule| match (g.description.is_empty(), r.description.is_empty()) {
            (true, _) => r.description.clone(),
            (false, true) => g.description.clone(),
            (false, false) => format!("{}: {}", g.description, r.description),
        };
        for (i, r) in g.ingress.iter().enumerate() {
            let (ranges, tags) = match &r.source {
                Some(RuleSource::Cidr(c)) => (vec![Value::str(c)], vec![]),
                Some(RuleSource::Group(h)) => (vec![], vec![Value::str(gcp_name(stack, h.name()))]),
                None => {
                    self.err(
                        d,
                        &format!("ingress[{i}].source"),
                        "a rule needs a source on gcp",
                    );
                    continue;
                }
            };
            let suffix = format!("{}-in-{i}", d.name);
            self.firewall(
                d,
                &suffix,
                &network,
                "INGRESS",
                1000,
                &tag,
                [
                    ("source_ranges", Value::List(ranges)),
                    ("source_tags", Value::List(tags)),
                    ("destination_ranges", Value::List(vec![])),
                    ("allowed", Value::List(vec![allowed(r)])),
                    ("denied", Value::List(vec![])),
                    ("description", Value::str(describe(r))),
                ],
            );
        }
        for (i, r) in g.egress.iter().enumerate() {
            let range = match &r.source {
                Some(RuleSource::Cidr(c)) => Value::str(c),
                Some(RuleSource::Group(_)) => {
                    self.err(
                        d,
                        &format!("egress[{i}].source"),
                        "on gcp an egress firewall cannot name a group (tags select the rule's targets, never its destinations): give the destination as a CIDR",
                    );
                    continue;
                }
                None => Value::str("0.0.0.0/0"),
            };
            let suffix = format!("{}-out-{i}", d.name);
            self.firewall(
                d,
                &suffix,
                &network,
                "EGRESS",
                1000,
                &tag,
                [
                    ("source_ranges", Value::List(vec![])),
                    ("source_tags", Value::List(vec![])),
                    ("destination_ranges", Value::List(vec![range])),
                    ("allowed", Value::List(vec![allowed(r)])),
                    ("denied", Value::List(vec![])),
                    ("description", Value::str(describe(r))),
                ],
            );
        }
        let suffix = format!("{}-deny-egress", d.name);
        self.firewall(
            d,
            &suffix,
            &network,
            "EGRESS",
            65534,
            &tag,
            [
                ("source_ranges", Value::List(vec![])),
                ("source_tags", Value::List(vec![])),
                (
                    "destination_ranges",
                    Value::List(vec![Value::str("0.0.0.0/0")]),
                ),
                ("allowed", Value::List(vec![])),
                ("denied", Value::List(vec![allowed(&Rule::all_traffic())])),
                (
                    "description",
                    Value::str("cairn: egress no rule of the group allows is denied"),
                ),
            ],
        );
        self.export(d, "id", Value::str(tag));
    }

    #[allow(clippy::too_many_arguments)]
    fn firewall<const N: usize>(
        &mut self,
        d: &Declared,
        suffix: &str,
        network: &Value,
        direction: &str,
        priority: i64,
        tag: &str,
        rest: [(&str, Value); N],
    ) {
        let mut attrs = Attrs::from([
            (
                "name".into(),
                Value::str(gcp_name(self.stack.name(), suffix)),
            ),
            ("network".into(), network.clone()),
            ("direction".into(), Value::str(direction)),
            ("priority".into(), Value::Int(priority)),
            ("target_tags".into(), Value::List(vec![Value::str(tag)])),
        ]);
        for (k, v) in rest {
            attrs.insert(k.into(), v);
        }
        self.push_as(d, "gcp_compute_firewall", suffix, attrs);
    }
}

#[cfg(test)]
mod tests {
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
    fn a_network_and_subnets_lower_to_compute_and_the_rest_is_refused_on_gcp() {
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

        s.add(
            "lb",
            cairn_core::model::LoadBalancer::public().in_network(&vpc),
        );
        let err = lower_stack(&s, "p", "europe-west1").unwrap_err();
        assert!(
            err.iter().any(|e| e.resource == "load_balancer.lb"
                && e.field == "kind"
                && e.message.contains("on gcp")),
            "{err:?}"
        );
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
}
