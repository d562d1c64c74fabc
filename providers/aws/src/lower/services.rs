//! Lowering of the managed services: secrets, PostgreSQL, MSK, load balancers, Redis.

use super::*;

use super::access::REDIS_PORT;

impl Lowering<'_> {
    pub(super) fn secret(&mut self, d: &Declared, sec: &Secret) {
        let name = format!("{}/{}", self.stack.name(), d.name);
        let value = match &sec.source {
            SecretSource::Generated(g) => Value::Generated(Box::new(g.clone())),
            SecretSource::Given(v) => Value::Sensitive(v.clone()),
            SecretSource::Produced => Value::Generated(Box::new(self.produced_spec(d))),
        };
        let a = self.push(
            d,
            "aws_secretsmanager_secret",
            &d.name,
            Attrs::from([
                ("name".into(), s(name)),
                ("description".into(), s(&sec.description)),
                ("secret_string".into(), value),
            ]),
            &[],
        );
        self.export(d, "id", r(&a, "id"));
        self.export(d, "value", r(&a, "secret_string"));
    }

    pub(super) fn secret_value(&self, secret: &Option<Ref<Secret>>) -> Value {
        secret.as_ref().map_or(Value::Null, |sec| {
            r(
                &addr("aws_secretsmanager_secret", sec.name()),
                "secret_string",
            )
        })
    }

    pub(super) fn database(&mut self, d: &Declared, db: &Database) {
        // An RDS subnet group spans at least two zones, even for a single-zone instance.
        let (subnets, groups, _) = self.place(d, &db.placement, Tier::Isolated, 2, "a database");
        let identifier = self.aws_name(d, "", 63);
        let group = self.push(
            d,
            "aws_db_subnet_group",
            &d.name,
            Attrs::from([
                ("name".into(), s(&identifier)),
                (
                    "description".into(),
                    s(format!("cairn: subnets of {}", d.address())),
                ),
                ("subnet_ids".into(), subnets),
            ]),
            &[],
        );
        let major = db.version.clone();
        let mut attrs = Attrs::from([
            ("identifier".into(), s(&identifier)),
            ("engine".into(), s("postgres")),
            ("engine_version".into(), s(&db.version)),
            ("instance_class".into(), s(db_class(db.size))),
            ("allocated_storage".into(), db.storage_gb.into()),
            (
                "storage_type".into(),
                s(match db.storage_type {
                    StorageType::Ssd => "gp3",
                    StorageType::ProvisionedIops => "io1",
                    StorageType::Standard => "standard",
                }),
            ),
            ("storage_encrypted".into(), db.encrypted.into()),
            ("multi_az".into(), db.high_availability.into()),
            (
                "backup_retention_period".into(),
                db.backup_retention_days.into(),
            ),
            ("deletion_protection".into(), db.deletion_protection.into()),
            ("username".into(), s(&db.admin_user)),
            ("db_subnet_group_name".into(), r(&group, "name")),
            ("vpc_security_group_ids".into(), groups),
        ]);
        if db.cloud_managed_password {
            attrs.insert("manage_master_user_password".into(), true.into());
        } else {
            attrs.insert("password".into(), self.secret_value(&db.admin_password));
        }
        if let Some(w) = &db.backup_window {
            attrs.insert("preferred_backup_window".into(), s(rds_window(w)));
        }
        if let Some(w) = &db.maintenance_window {
            attrs.insert("preferred_maintenance_window".into(), s(rds_window(w)));
        }
        if let Some(first) = db.databases.first() {
            attrs.insert("db_name".into(), s(first));
        }
        if !db.parameters.is_empty() {
            let pg = self.push(
                d,
                "aws_db_parameter_group",
                &d.name,
                Attrs::from([
                    ("name".into(), s(&identifier)),
                    ("family".into(), s(format!("postgres{major}"))),
                    (
                        "description".into(),
                        s(format!("cairn: parameters of {}", d.address())),
                    ),
                    (
                        "parameters".into(),
                        Value::Map(
                            db.parameters
                                .iter()
                                .map(|(k, v)| (Text::from(k.as_str()), s(v)))
                                .collect(),
                        ),
                    ),
                ]),
                &[],
            );
            attrs.insert("parameter_group_name".into(), r(&pg, "name"));
        }
        let inst = self.push(d, "aws_db_instance", &d.name, attrs, &[]);
        for extra in db.databases.iter().skip(1) {
            self.push(
                d,
                "aws_postgres_database",
                &format!(
                    "{}-{}",
                    d.name,
                    extra.to_ascii_lowercase().replace('_', "-")
                ),
                Attrs::from([
                    ("instance_identifier".into(), r(&inst, "identifier")),
                    ("endpoint".into(), r(&inst, "endpoint")),
                    ("port".into(), r(&inst, "port")),
                    ("name".into(), s(extra)),
                    ("username".into(), s(&db.admin_user)),
                    // The password is read from its secret when needed, never kept.
                    (
                        "password_secret_arn".into(),
                        match &db.admin_password {
                            Some(p) => r(&addr("aws_secretsmanager_secret", p.name()), "arn"),
                            None => r(&inst, "master_user_secret_arn"),
                        },
                    ),
                ]),
                &[],
            );
        }
        self.export(d, "id", r(&inst, "identifier"));
        self.export(d, "endpoint", r(&inst, "endpoint"));
        self.export(d, "port", r(&inst, "port"));
    }

    pub(super) fn broker(&mut self, d: &Declared, b: &Broker) {
        let (subnets, groups, zones) = self.place(d, &b.placement, Tier::Isolated, 2, "a broker");
        let (brokers, instance_type, disk) =
            msk_shape(zones as u32, b.vcpus(), b.replication(), b.storage_gb);
        // MSK's ceiling per broker (16 TiB); past it, more storage means more brokers,
        // which is a choice to make explicitly (an override of the broker count).
        if disk > 16_384 {
            self.err(
                d,
                "storage_gb",
                format!(
                    "{} GB with {} copies needs {disk} GiB on each of {brokers} MSK brokers, above MSK's 16384 on aws; raise the broker count with override_for(\"aws\", \"number_of_broker_nodes\", …)",
                    b.storage_gb,
                    b.replication()
                ),
            );
        }
        let version = self.kafka_version(d, b);
        let name = self.aws_name(d, "", 64);
        let attrs = Attrs::from([
            ("cluster_name".into(), s(name)),
            ("kafka_version".into(), s(version)),
            ("number_of_broker_nodes".into(), brokers.into()),
            ("instance_type".into(), s(instance_type)),
            ("ebs_volume_size".into(), disk.min(16_384).into()),
            ("client_subnets".into(), subnets),
            ("security_groups".into(), groups),
            (
                "encryption_in_transit_client_broker".into(),
                s(if b.tls { "TLS" } else { "TLS_PLAINTEXT" }),
            ),
            ("encryption_in_transit_in_cluster".into(), b.tls.into()),
        ]);
        if b.credentials.is_some() {
            // MSK SCRAM wants an `AmazonMSK_` secret under a customer KMS key, associated
            // after creation; until cairn manages those, say so rather than drop it.
            self.err(
                d,
                "credentials",
                "SASL/SCRAM client credentials are not supported on MSK by cairn yet; clients authenticate with TLS (keep the credentials as a plain Secret)",
            );
        }
        let msk = self.push(d, "aws_msk_cluster", &d.name, attrs, &[]);
        for t in &b.topics {
            self.push(
                d,
                "aws_msk_topic",
                &format!("{}-{}", d.name, t.name),
                Attrs::from([
                    ("cluster_arn".into(), r(&msk, "arn")),
                    ("name".into(), s(&t.name)),
                    ("partitions".into(), t.partitions.into()),
                    ("replication".into(), t.replication.into()),
                    ("retention_hours".into(), t.retention_hours.into()),
                    (
                        "cleanup_policy".into(),
                        s(if t.compacted { "compact" } else { "delete" }),
                    ),
                ]),
                &[],
            );
        }
        self.export(d, "id", r(&msk, "arn"));
        self.export(d, "bootstrap_brokers", r(&msk, "bootstrap_brokers_tls"));
    }

    pub(super) fn load_balancer(&mut self, d: &Declared, lb: &LoadBalancer) {
        let tier = if lb.internal {
            Tier::Private
        } else {
            Tier::Public
        };
        let (subnets, mut groups, _) = self.place(d, &lb.placement, tier, 2, "a load balancer");
        if lb.placement.security_groups.is_empty() {
            if let (Some(own), Value::List(list)) = (self.lb_group(d, lb), &mut groups) {
                list.push(r(&own, "id"));
            }
        }
        let name = self.aws_name(d, "", 32);
        let alb = self.push(
            d,
            "aws_lb",
            &d.name,
            Attrs::from([
                ("name".into(), s(name)),
                ("internal".into(), lb.internal.into()),
                ("load_balancer_type".into(), s("application")),
                ("subnets".into(), subnets),
                ("security_groups".into(), groups),
            ]),
            &[],
        );
        self.export(d, "id", r(&alb, "arn"));
        self.export(d, "address", r(&alb, "dns_name"));
        let vpc = self
            .stack
            .network_of(&lb.placement)
            .map(|n| addr("aws_vpc", &n))
            .unwrap_or_default();
        // Target groups; with blue/green, two per group and traffic on the live one.
        let mut active: BTreeMap<&str, String> = BTreeMap::new();
        for tg in &lb.target_groups {
            let colours: &[&str] = if tg.blue_green {
                &["blue", "green"]
            } else {
                &[""]
            };
            for colour in colours {
                let part = if colour.is_empty() {
                    tg.name.clone()
                } else {
                    format!("{}-{colour}", tg.name)
                };
                let tg_name = target_group_name(self.stack.name(), &d.name, &part, tg.port);
                let hc = &tg.health_check;
                let a = self.push(
                    d,
                    "aws_lb_target_group",
                    &format!("{}-{part}", d.name),
                    Attrs::from([
                        ("name".into(), s(tg_name)),
                        ("port".into(), tg.port.into()),
                        ("protocol".into(), s("HTTP")),
                        ("target_type".into(), s("ip")),
                        ("vpc_id".into(), r(&vpc, "id")),
                        ("health_check_path".into(), s(&hc.path)),
                        ("health_check_interval".into(), hc.interval_s.into()),
                        ("health_check_timeout".into(), hc.timeout_s.into()),
                        ("healthy_threshold".into(), hc.healthy_threshold.into()),
                        ("unhealthy_threshold".into(), hc.unhealthy_threshold.into()),
                        ("matcher".into(), s(&hc.matcher)),
                    ]),
                    &[],
                );
                if colour.is_empty() || *colour == tg.live.as_str() {
                    active.insert(tg.name.as_str(), a);
                }
            }
        }
        if lb.http_redirect {
            self.push(
                d,
                "aws_lb_listener",
                &format!("{}-http", d.name),
                Attrs::from([
                    ("load_balancer_arn".into(), r(&alb, "arn")),
                    ("port".into(), 80u32.into()),
                    ("protocol".into(), s("HTTP")),
                    ("default_action".into(), s("redirect:HTTPS:443:HTTP_301")),
                ]),
                &[],
            );
        }
        if let Some(h) = &lb.https {
            // Managed certificates are refused before lowering (not an ALB capability cairn
            // lowers: ACM's DNS validation needs a zone the stack does not manage).
            let certificate = match &h.certificate {
                Certificate::Existing(c) => c.clone(),
                Certificate::Managed(_) => String::new(),
            };
            if !certificate.starts_with("arn:aws") || !certificate.contains(":acm:") {
                self.err(
                    d,
                    "https.certificate",
                    format!(
                        "{certificate:?} is not an ACM certificate ARN; on aws an existing \
                         certificate is given as its ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)"
                    ),
                );
            } else {
                // Read when the plan reads the cloud: one ACM does not hold is refused there,
                // not by the listener's create after everything before it was made.
                self.out.existing.push(ExistingRef {
                    resource: d.address(),
                    field: "https.certificate".into(),
                    type_name: crate::acm::CERTIFICATE.into(),
                    id: certificate.as_str().into(),
                    what: "ACM certificate".into(),
                });
            }
            let default = lb
                .default_target
                .as_deref()
                .or(lb.target_groups.first().map(|t| t.name.as_str()));
            let mut a = Attrs::from([
                ("load_balancer_arn".into(), r(&alb, "arn")),
                ("port".into(), 443u32.into()),
                ("protocol".into(), s("HTTPS")),
                ("certificate_arn".into(), s(&certificate)),
                (
                    "ssl_policy".into(),
                    s(h.ssl_policy
                        .as_deref()
                        .unwrap_or("ELBSecurityPolicy-TLS13-1-2-2021-06")),
                ),
            ]);
            match default.and_then(|t| active.get(t)) {
                Some(tg) => a.insert("default_target_group_arn".into(), r(tg, "arn")),
                None => a.insert("default_action".into(), s("fixed-response:404")),
            };
            let listener = self.push(d, "aws_lb_listener", &format!("{}-https", d.name), a, &[]);
            for route in &lb.routes {
                let mut a = Attrs::from([
                    ("listener_arn".into(), r(&listener, "arn")),
                    ("priority".into(), route.priority.into()),
                    (
                        "path_patterns".into(),
                        Value::List(route.path_patterns.iter().map(s).collect()),
                    ),
                ]);
                match &route.target {
                    RouteTarget::Forward(name) => {
                        let Some(tg) = active.get(name.as_str()) else {
                            continue;
                        };
                        a.insert("target_group_arn".into(), r(tg, "arn"));
                    }
                    RouteTarget::Deny => {
                        a.insert("action".into(), s("fixed-response:403"));
                    }
                }
                if !route.source_cidrs.is_empty() {
                    a.insert(
                        "source_ips".into(),
                        Value::List(route.source_cidrs.iter().map(s).collect()),
                    );
                }
                self.push(
                    d,
                    "aws_lb_listener_rule",
                    &format!("{}-{}", d.name, route.priority),
                    a,
                    &[],
                );
            }
        }
    }

    pub(super) fn cache(&mut self, d: &Declared, c: &Cache) {
        let zones = if c.multi_zone { 2 } else { 1 };
        let (subnets, groups, _) = self.place(d, &c.placement, Tier::Isolated, zones, "a cache");
        let id = self.aws_name(d, "", 40);
        let group = self.push(
            d,
            "aws_elasticache_subnet_group",
            &d.name,
            Attrs::from([
                ("name".into(), s(&id)),
                (
                    "description".into(),
                    s(format!("cairn: subnets of {}", d.address())),
                ),
                ("subnet_ids".into(), subnets),
            ]),
            &[],
        );
        let version = self.redis_version(d, c);
        let rg = self.push(
            d,
            "aws_elasticache_replication_group",
            &d.name,
            Attrs::from([
                ("replication_group_id".into(), s(&id)),
                ("description".into(), s(format!("cairn: {}", d.address()))),
                ("engine".into(), s("redis")),
                ("engine_version".into(), s(version)),
                ("node_type".into(), s(cache_node(c.size))),
                ("num_cache_clusters".into(), (c.replicas + 1).into()),
                (
                    "automatic_failover_enabled".into(),
                    c.automatic_failover.into(),
                ),
                ("multi_az_enabled".into(), c.multi_zone.into()),
                (
                    "transit_encryption_enabled".into(),
                    c.transit_encryption.into(),
                ),
                (
                    "at_rest_encryption_enabled".into(),
                    c.at_rest_encryption.into(),
                ),
                ("auth_token".into(), self.secret_value(&c.auth_token)),
                ("port".into(), c.port.unwrap_or(REDIS_PORT).into()),
                ("subnet_group_name".into(), r(&group, "name")),
                ("security_group_ids".into(), groups),
            ]),
            &[],
        );
        self.export(d, "id", r(&rg, "replication_group_id"));
        self.export(d, "endpoint", r(&rg, "primary_endpoint_address"));
        self.export(d, "port", r(&rg, "port"));
    }

    /// MSK's Kafka version for a portable major: the 3.7 line with MSK's patch updates
    /// (`3.7.x`). An override (`kafka_version`) pins another, e.g. `3.5.1`.
    fn kafka_version(&mut self, d: &Declared, b: &Broker) -> &'static str {
        match b.version.as_str() {
            "3" => "3.7.x",
            other => {
                self.err(
                    d,
                    "version",
                    format!("Kafka {other} is not offered by MSK on aws (3 is)"),
                );
                "3.7.x"
            }
        }
    }

    /// ElastiCache's Redis version for a portable major: the newest minor AWS offers.
    /// An override (`engine_version`) pins another.
    fn redis_version(&mut self, d: &Declared, c: &Cache) -> &'static str {
        match c.version.as_str() {
            "7" => "7.1",
            "6" => "6.2",
            other => {
                self.err(
                    d,
                    "version",
                    format!("Redis {other} is not offered by ElastiCache on aws (6 and 7 are)"),
                );
                "7.1"
            }
        }
    }
}

/// A window as RDS writes it, in UTC: `03:00-04:00` every day, `sun:05:00-sun:06:00`
/// weekly (whole hours, so nothing is rounded; a window past midnight ends the next day).
pub(super) fn rds_window(w: &Window) -> String {
    let end_hour = u32::from(w.start_hour) + u32::from(w.hours);
    match w.day {
        None => format!("{:02}:00-{:02}:00", w.start_hour, end_hour % 24),
        Some(day) => {
            let end_day = Weekday::ALL[((day.index() + end_hour / 24) % 7) as usize];
            format!(
                "{}:{:02}:00-{}:{:02}:00",
                day.as_str(),
                w.start_hour,
                end_day.as_str(),
                end_hour % 24
            )
        }
    }
}

/// A target group's AWS name: readable, at most 32 characters, and different whenever a
/// setting that forces replacement (the port) differs, so the replacement can be created
/// before the old group is deleted (names are unique per account and region).
fn target_group_name(stack: &str, lb: &str, part: &str, port: u32) -> String {
    let fnv = |text: &str| {
        text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    };
    let base = format!("{stack}-{lb}-{part}");
    let suffix = format!("{:04x}", fnv(&format!("{base}:{port}")) & 0xffff);
    if base.len() + 5 <= 32 {
        format!("{base}-{suffix}")
    } else {
        // Keep the front readable, and the whole distinct through a hash of what was cut.
        let cut = base.char_indices().nth(20).map_or(base.len(), |(i, _)| i);
        format!(
            "{}-{:05x}-{suffix}",
            base[..cut].trim_end_matches('-'),
            fnv(&base) & 0xfffff
        )
    }
}
