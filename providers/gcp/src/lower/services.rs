//! Services: Secret Manager secrets, Cloud SQL, Memorystore and Managed Kafka.

use super::*;

impl Lowering<'_> {
    /// A Secret Manager secret (automatic replication) holding the value as its latest
    /// version; the description as its `description` annotation (secrets have no such
    /// field). A produced secret holds what its service made (Memorystore's AUTH string).
    pub(super) fn secret(&mut self, d: &Declared, x: &Secret) {
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
    /// Cloud SQL for PostgreSQL on a private IP in the network's reserved range; its
    /// databases; the admin user with the stack's secret as password.
    pub(super) fn database(&mut self, d: &Declared, db: &Database) {
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
    pub(super) fn cache_using(&self, name: &str) -> Option<String> {
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
    pub(super) fn cache(&mut self, d: &Declared, c: &Cache) {
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
    pub(super) fn broker(&mut self, d: &Declared, b: &Broker) {
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

    /// The declared range of the subnetwork a broker is reached from (see `broker`).
    pub(super) fn broker_subnet(&self, b: &Broker) -> Option<String> {
        let name = self.broker_subnet_name(b)?;
        match self.stack.get(&name).map(|d| &d.resource) {
            Some(Resource::Subnet(s)) => Some(s.cidr.to_string()),
            _ => None,
        }
    }

    /// The subnetwork a broker is reached from: the first hint, else the network's first
    /// subnet of the placement's tier (isolated unless told).
    pub(super) fn broker_subnet_name(&self, b: &Broker) -> Option<String> {
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
pub(super) fn secret_id(stack: &str, resource: &str) -> String {
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
