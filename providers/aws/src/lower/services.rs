//! Lowering of the managed services: secrets, PostgreSQL, MSK, load balancers, Redis.

use super::*;

/// ElastiCache's Redis port when the stack chooses none.
const REDIS_PORT: u32 = 6379;

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

    /// Where a service sits on AWS: the subnets named, else every subnet of its network in
    /// the tier (`default_tier` unless told); the groups attached, plus the service's own
    /// access group when the stack lets anything reach it. Checks the zones AWS needs
    /// (`min_zones`). Returns subnet ids, group ids and the number of zones.
    pub(super) fn place(
        &mut self,
        d: &Declared,
        p: &Placement,
        default_tier: Tier,
        min_zones: usize,
        what: &str,
    ) -> (Value, Value, usize) {
        let network = self.stack.network_of(p);
        let tier = p.tier.unwrap_or(default_tier);
        let subnets: Vec<(&Declared, &Subnet)> = if p.subnets.is_empty() {
            network
                .as_deref()
                .map(|n| self.subnets_of(n))
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, sn)| sn.tier == tier)
                .collect()
        } else {
            p.subnets
                .iter()
                .filter_map(|r| {
                    let sd = self.stack.get(r.name())?;
                    match &sd.resource {
                        Resource::Subnet(sn) => Some((sd, sn)),
                        _ => None,
                    }
                })
                .collect()
        };
        let zones: BTreeSet<u8> = subnets.iter().map(|(_, sn)| sn.zone).collect();
        if subnets.is_empty() {
            self.err(
                d,
                "placement",
                format!(
                    "{what} on aws sits in subnets, and network.{} has no {} subnets: add some, or name the subnets",
                    network.as_deref().unwrap_or("?"),
                    tier.as_str()
                ),
            );
        } else if zones.len() < min_zones {
            self.err(
                d,
                "placement",
                format!(
                    "{what} on aws needs subnets in at least {min_zones} zones; these cover {}",
                    zones.len()
                ),
            );
        }
        let subnet_ids = Value::List(
            subnets
                .iter()
                .map(|(sd, _)| r(&addr("aws_subnet", &sd.name), "id"))
                .collect(),
        );
        let mut groups: Vec<Value> = p
            .security_groups
            .iter()
            .map(|g| r(&addr("aws_security_group", g.name()), "id"))
            .collect();
        if let Some(own) = self.access_group(d, network.as_deref()) {
            groups.push(r(&own, "id"));
        }
        (subnet_ids, Value::List(groups), zones.len())
    }

    /// The port others reach a service on, on AWS.
    pub(super) fn service_port(d: &Declared) -> Option<u32> {
        match &d.resource {
            Resource::Database(_) => Some(5432),
            Resource::Cache(c) => Some(c.port.unwrap_or(REDIS_PORT)),
            // MSK's client port: TLS 9094, plaintext 9092.
            Resource::Broker(b) => Some(if b.tls { 9094 } else { 9092 }),
            _ => None,
        }
    }

    /// A service that access edges lead to gets a group of its own: ingress from each group
    /// allowed, on the service's port (or the edge's), and no egress.
    fn access_group(&mut self, d: &Declared, network: Option<&str>) -> Option<String> {
        let stack = self.stack;
        let edges: Vec<&Access> = stack
            .access()
            .iter()
            .filter(|a| a.to.name == d.name)
            .collect();
        if edges.is_empty() {
            return None;
        }
        let network = network?;
        let name = self.aws_name(d, "access", 255);
        let sg = self.push(
            d,
            "aws_security_group",
            &format!("{}-access", d.name),
            Attrs::from([
                ("name".into(), s(name)),
                (
                    "description".into(),
                    s(format!("cairn: who may reach {}", d.address())),
                ),
                ("vpc_id".into(), r(&addr("aws_vpc", network), "id")),
            ]),
            &[],
        );
        for e in edges {
            let Some(port) = e.port.or_else(|| Self::service_port(d)) else {
                continue;
            };
            self.access_rules(e, d, &sg, port);
        }
        Some(sg)
    }

    /// The two rules of one access edge into the group `target` (of the declaration `to`):
    /// ingress there from the source group, and egress from the source group to it unless
    /// the source already lets everything out.
    pub(super) fn access_rules(&mut self, e: &Access, to: &Declared, target: &str, port: u32) {
        let stack = self.stack;
        let Some(from) = stack.get(&e.from.name) else {
            return;
        };
        // The source's group: a group itself; a load balancer's own group (or the first
        // group attached to it).
        let (source_sg, open) = match &from.resource {
            Resource::SecurityGroup(g) => (
                addr("aws_security_group", &from.name),
                g.egress.iter().any(|r| {
                    r.protocol == Protocol::All
                        && r.source == Some(RuleSource::Cidr("0.0.0.0/0".into()))
                }),
            ),
            Resource::LoadBalancer(lb) => match lb.placement.security_groups.first() {
                Some(g) => (addr("aws_security_group", g.name()), false),
                None => (
                    addr("aws_security_group", &format!("{}-listeners", from.name)),
                    false,
                ),
            },
            _ => return,
        };
        let description = if e.description.is_empty() {
            format!("cairn: {} may reach {}", from.address(), to.address())
        } else {
            e.description.clone()
        };
        let rule = |group: &str, dir: &str, other: &str| {
            Attrs::from([
                ("security_group_id".into(), r(group, "id")),
                ("type".into(), s(dir)),
                ("ip_protocol".into(), s("tcp")),
                ("from_port".into(), port.into()),
                ("to_port".into(), port.into()),
                ("referenced_security_group_id".into(), r(other, "id")),
                ("description".into(), s(&description)),
            ])
        };
        self.push(
            to,
            "aws_security_group_rule",
            &format!("{}-from-{}-{port}", to.name, from.name),
            rule(target, "ingress", &source_sg),
            &[],
        );
        if !open {
            self.push(
                from,
                "aws_security_group_rule",
                &format!("{}-to-{}-{port}", from.name, to.name),
                rule(&source_sg, "egress", target),
                &[],
            );
        }
    }

    /// How AWS gets a produced secret: its services take one rather than make one, so cairn
    /// generates it to the using service's rules. ElastiCache AUTH tokens: 16-128
    /// printable characters without `/`, `"`, `@` or spaces (64 here); RDS master
    /// passwords: no `/`, `"`, `@` or spaces either.
    fn produced_spec(&self, secret: &Declared) -> GeneratedSpec {
        let user = self
            .stack
            .resources()
            .iter()
            .find_map(|d| match &d.resource {
                Resource::Cache(c)
                    if c.auth_token
                        .as_ref()
                        .is_some_and(|r| r.name() == secret.name) =>
                {
                    Some(KindName::Cache)
                }
                _ => None,
            });
        match user {
            Some(KindName::Cache) => GeneratedSpec {
                length: 64,
                symbols: "!&#$^<>-".into(),
            },
            _ => GeneratedSpec {
                length: 32,
                symbols: PASSWORD_SYMBOLS.into(),
            },
        }
    }

    /// A load balancer given no group gets its own: its listeners open to the internet
    /// (public) or to the network (internal); what it may reach is added by access edges.
    fn lb_group(&mut self, d: &Declared, lb: &LoadBalancer) -> Option<String> {
        let stack = self.stack;
        let network = stack.network_of(&lb.placement)?;
        let source = if lb.internal {
            match &stack.get(&network)?.resource {
                Resource::Network(n) => n.cidr.clone(),
                _ => return None,
            }
        } else {
            "0.0.0.0/0".to_string()
        };
        let name = self.aws_name(d, "listeners", 255);
        let sg = self.push(
            d,
            "aws_security_group",
            &format!("{}-listeners", d.name),
            Attrs::from([
                ("name".into(), s(name)),
                (
                    "description".into(),
                    s(format!("cairn: listeners of {}", d.address())),
                ),
                ("vpc_id".into(), r(&addr("aws_vpc", &network), "id")),
            ]),
            &[],
        );
        let mut ports: Vec<(u32, &str)> = Vec::new();
        if lb.https.is_some() {
            ports.push((443, "HTTPS"));
        }
        if lb.http_redirect || lb.https.is_none() {
            ports.push((80, "HTTP"));
        }
        for (port, what) in ports {
            self.push(
                d,
                "aws_security_group_rule",
                &format!("{}-listeners-{port}", d.name),
                Attrs::from([
                    ("security_group_id".into(), r(&sg, "id")),
                    ("type".into(), s("ingress")),
                    ("ip_protocol".into(), s("tcp")),
                    ("from_port".into(), port.into()),
                    ("to_port".into(), port.into()),
                    ("cidr_ipv4".into(), s(&source)),
                    ("description".into(), s(format!("{what} from clients"))),
                ]),
                &[],
            );
        }
        Some(sg)
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
        if zones > 0 && !(b.brokers as usize).is_multiple_of(zones) {
            self.err(
                d,
                "brokers",
                format!(
                    "{} brokers cannot be spread evenly over {zones} zones (MSK puts the same number in each)",
                    b.brokers
                ),
            );
        }
        let name = self.aws_name(d, "", 64);
        let attrs = Attrs::from([
            ("cluster_name".into(), s(name)),
            ("kafka_version".into(), s(&b.version)),
            ("number_of_broker_nodes".into(), b.brokers.into()),
            ("instance_type".into(), s(kafka_node(b.size))),
            ("ebs_volume_size".into(), b.storage_gb.into()),
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
fn rds_window(w: &Window) -> String {
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

#[cfg(test)]
mod tests {
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
        let (mut s, _, _) = stack(2);
        let vpc: Ref<Network> = Ref::named("vpc");
        s.add("bus", Broker::kafka("3.6.0").brokers(3).in_network(&vpc));
        let err = crate::lower_stack(&s, "us-east-1").unwrap_err();
        assert!(
            err.iter().any(|e| e.resource == "broker.bus"
                && e.field == "brokers"
                && e.message.contains("evenly")),
            "{err:?}"
        );
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
}
