//! Lowering: portable kinds -> AWS resources.
//!
//! Pure: no SDK call happens here, so every stack can be checked (and golden-tested) without
//! a cloud. Each concrete resource is named `TYPE.PORTABLE-NAME[-PART]` and carries the
//! portable resource it came from. Ownership tags (`cairn:stack`, `cairn:resource`) are added
//! by the provider when it creates things, not here, so plans stay about user intent.
//!
//! Limits only AWS has (name lengths, a NAT gateway needing a public subnet in its zone) are
//! checked here and reported like validation errors: resource and field.

use cairn_core::model::*;
use cairn_core::provider::{Concrete, Export, LowerResponse};
use cairn_core::validate::Invalid;
use cairn_core::value::{Attrs, Text, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Zone letters by index: `us-east-1` + `a`.
const ZONES: &[char] = &['a', 'b', 'c', 'd', 'e', 'f'];

struct Lowering<'a> {
    pub stack: &'a Stack,
    pub region: &'a str,
    out: LowerResponse,
    errors: Vec<Invalid>,
}

fn r(address: &str, attr: &str) -> Value {
    Value::reference(address, attr)
}

fn s(v: impl AsRef<str>) -> Value {
    Value::str(v)
}

fn addr(type_name: &str, name: &str) -> String {
    format!("{type_name}.{name}")
}

/// Instance classes by portable size (burstable for the small end, as AWS recommends for
/// light production loads; general purpose from 8 GB).
fn db_class(size: Size) -> &'static str {
    match size {
        Size::Micro => "db.t3.micro",
        Size::Small => "db.t3.small",
        Size::Medium => "db.t3.medium",
        Size::Large => "db.m6g.large",
        Size::XLarge => "db.m6g.xlarge",
        Size::XXLarge => "db.m6g.2xlarge",
    }
}

fn cache_node(size: Size) -> &'static str {
    match size {
        Size::Micro => "cache.t3.micro",
        Size::Small => "cache.t3.small",
        Size::Medium => "cache.t3.medium",
        Size::Large => "cache.m6g.large",
        Size::XLarge => "cache.m6g.xlarge",
        Size::XXLarge => "cache.m6g.2xlarge",
    }
}

fn kafka_node(size: Size) -> &'static str {
    match size {
        Size::Micro | Size::Small => "kafka.t3.small",
        Size::Medium | Size::Large => "kafka.m5.large",
        Size::XLarge => "kafka.m5.xlarge",
        Size::XXLarge => "kafka.m5.2xlarge",
    }
}

impl<'a> Lowering<'a> {
    pub fn new(stack: &'a Stack, region: &'a str) -> Self {
        Lowering {
            stack,
            region,
            out: LowerResponse::default(),
            errors: Vec::new(),
        }
    }

    pub fn run(mut self) -> Result<LowerResponse, Vec<Invalid>> {
        for d in self.stack.resources() {
            match &d.resource {
                Resource::Network(n) => self.network(d, n),
                Resource::Subnet(sn) => self.subnet(d, sn),
                Resource::SecurityGroup(g) => self.security_group(d, g),
                Resource::Secret(sec) => self.secret(d, sec),
                Resource::Database(db) => self.database(d, db),
                Resource::Broker(b) => self.broker(d, b),
                Resource::LoadBalancer(lb) => self.load_balancer(d, lb),
                Resource::Cache(c) => self.cache(d, c),
            }
        }
        if self.errors.is_empty() {
            Ok(self.out)
        } else {
            Err(self.errors)
        }
    }

    fn push(
        &mut self,
        d: &Declared,
        type_name: &str,
        name: &str,
        mut attrs: Attrs,
        depends_on: &[String],
    ) -> String {
        let address = addr(type_name, name);
        if let Some(o) = d.resource.common().overrides_for("aws") {
            // Only overrides naming an attribute of this concrete type apply to it.
            for (k, v) in o {
                if attrs.contains_key(k.as_str()) || crate::schema::has_attr(type_name, k) {
                    attrs.insert(k.clone(), v.clone());
                }
            }
        }
        if !d.resource.common().tags.is_empty() {
            attrs.insert(
                "tags".into(),
                Value::Map(
                    d.resource
                        .common()
                        .tags
                        .iter()
                        .map(|(k, v)| (Text::from(k.as_str()), s(v)))
                        .collect(),
                ),
            );
        }
        self.out.resources.push(Concrete {
            address: Text::from(address.as_str()),
            type_name: type_name.into(),
            origin: d.name.as_str().into(),
            attrs,
            depends_on: depends_on.iter().map(|a| Text::from(a.as_str())).collect(),
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

    fn err(&mut self, d: &Declared, field: &str, message: impl Into<String>) {
        self.errors.push(Invalid::new(d.address(), field, message));
    }

    /// A name AWS will see: `{stack}-{resource}`, checked against the service's limit.
    fn aws_name(&mut self, d: &Declared, field: &str, suffix: &str, max: usize) -> String {
        let name = if suffix.is_empty() {
            format!("{}-{}", self.stack.name(), d.name)
        } else {
            format!("{}-{}-{suffix}", self.stack.name(), d.name)
        };
        if name.len() > max {
            self.err(d, field, format!("the AWS name {name:?} is {} characters; AWS allows {max} (shorten the stack or resource name)", name.len()));
        }
        name
    }

    fn zone(&self, index: u8) -> String {
        format!(
            "{}{}",
            self.region,
            ZONES[(index as usize).min(ZONES.len() - 1)]
        )
    }

    fn subnets_of(&self, network: &str) -> Vec<(&'a Declared, &'a Subnet)> {
        self.stack
            .resources()
            .iter()
            .filter_map(|d| match &d.resource {
                Resource::Subnet(sn) if sn.network.name() == network => Some((d, sn)),
                _ => None,
            })
            .collect()
    }

    fn network(&mut self, d: &Declared, n: &Network) {
        let vpc = self.push(
            d,
            "aws_vpc",
            &d.name,
            Attrs::from([
                ("cidr_block".into(), s(&n.cidr)),
                ("enable_dns_support".into(), n.dns.into()),
                ("enable_dns_hostnames".into(), n.dns.into()),
            ]),
            &[],
        );
        self.export(d, "id", r(&vpc, "id"));
        self.export(d, "cidr", r(&vpc, "cidr_block"));
        let subnets = self.subnets_of(&d.name);
        let has_public = subnets.iter().any(|(_, sn)| sn.tier == Tier::Public);
        let private_zones: BTreeSet<u8> = subnets
            .iter()
            .filter(|(_, sn)| sn.tier == Tier::Private)
            .map(|(_, sn)| sn.zone)
            .collect();
        let mut tables = Vec::new();
        if has_public {
            let igw = self.push(
                d,
                "aws_internet_gateway",
                &d.name,
                Attrs::from([("vpc_id".into(), r(&vpc, "id"))]),
                &[],
            );
            let rt = self.push(
                d,
                "aws_route_table",
                &format!("{}-public", d.name),
                Attrs::from([("vpc_id".into(), r(&vpc, "id"))]),
                &[],
            );
            self.push(
                d,
                "aws_route",
                &format!("{}-public-default", d.name),
                Attrs::from([
                    ("route_table_id".into(), r(&rt, "id")),
                    ("destination_cidr_block".into(), s("0.0.0.0/0")),
                    ("gateway_id".into(), r(&igw, "id")),
                ]),
                &[],
            );
            tables.push(rt);
        }
        // NAT: one per zone with private subnets, or one shared; each in a public subnet.
        let public_in_zone = |z: u8| {
            subnets
                .iter()
                .find(|(_, sn)| sn.tier == Tier::Public && sn.zone == z)
                .map(|(sd, _)| sd.name.clone())
        };
        let nat_zones: Vec<u8> = match n.nat {
            NatMode::None => vec![],
            NatMode::PerZone => private_zones.iter().copied().collect(),
            NatMode::Shared => private_zones
                .iter()
                .next()
                .map(|_| {
                    subnets
                        .iter()
                        .filter(|(_, sn)| sn.tier == Tier::Public)
                        .map(|(_, sn)| sn.zone)
                        .min()
                        .unwrap_or(0)
                })
                .into_iter()
                .collect(),
        };
        let mut nat_by_zone: BTreeMap<u8, String> = BTreeMap::new();
        for z in nat_zones {
            let Some(public) = public_in_zone(z) else {
                self.err(
                    d,
                    "nat",
                    format!(
                        "a NAT gateway in zone {} needs a public subnet in that zone",
                        self.zone(z)
                    ),
                );
                continue;
            };
            let letter = ZONES[(z as usize).min(ZONES.len() - 1)];
            let eip = self.push(
                d,
                "aws_eip",
                &format!("{}-nat-{letter}", d.name),
                Attrs::from([("domain".into(), s("vpc"))]),
                &[],
            );
            let nat = self.push(
                d,
                "aws_nat_gateway",
                &format!("{}-{letter}", d.name),
                Attrs::from([
                    ("subnet_id".into(), r(&addr("aws_subnet", &public), "id")),
                    ("allocation_id".into(), r(&eip, "id")),
                ]),
                &[],
            );
            nat_by_zone.insert(z, nat);
        }
        for z in &private_zones {
            let letter = ZONES[(*z as usize).min(ZONES.len() - 1)];
            let rt = self.push(
                d,
                "aws_route_table",
                &format!("{}-private-{letter}", d.name),
                Attrs::from([("vpc_id".into(), r(&vpc, "id"))]),
                &[],
            );
            let nat = nat_by_zone
                .get(z)
                .or_else(|| nat_by_zone.values().next())
                .cloned();
            if let Some(nat) = nat {
                self.push(
                    d,
                    "aws_route",
                    &format!("{}-private-{letter}-default", d.name),
                    Attrs::from([
                        ("route_table_id".into(), r(&rt, "id")),
                        ("destination_cidr_block".into(), s("0.0.0.0/0")),
                        ("nat_gateway_id".into(), r(&nat, "id")),
                    ]),
                    &[],
                );
            }
            tables.push(rt);
        }
        if subnets.iter().any(|(_, sn)| sn.tier == Tier::Isolated) {
            tables.push(self.push(
                d,
                "aws_route_table",
                &format!("{}-isolated", d.name),
                Attrs::from([("vpc_id".into(), r(&vpc, "id"))]),
                &[],
            ));
        }
        if n.storage_endpoint {
            self.push(
                d,
                "aws_vpc_endpoint",
                &format!("{}-s3", d.name),
                Attrs::from([
                    ("vpc_id".into(), r(&vpc, "id")),
                    (
                        "service_name".into(),
                        s(format!("com.amazonaws.{}.s3", self.region)),
                    ),
                    ("vpc_endpoint_type".into(), s("Gateway")),
                    (
                        "route_table_ids".into(),
                        Value::List(tables.iter().map(|t| r(t, "id")).collect()),
                    ),
                ]),
                &[],
            );
        }
    }

    fn subnet(&mut self, d: &Declared, sn: &Subnet) {
        let net = sn.network.name();
        let vpc = addr("aws_vpc", net);
        let subnet = self.push(
            d,
            "aws_subnet",
            &d.name,
            Attrs::from([
                ("vpc_id".into(), r(&vpc, "id")),
                ("cidr_block".into(), s(&sn.cidr)),
                ("availability_zone".into(), s(self.zone(sn.zone))),
                (
                    "map_public_ip_on_launch".into(),
                    (sn.tier == Tier::Public).into(),
                ),
            ]),
            &[],
        );
        let letter = ZONES[(sn.zone as usize).min(ZONES.len() - 1)];
        let table = match sn.tier {
            Tier::Public => addr("aws_route_table", &format!("{net}-public")),
            Tier::Private => addr("aws_route_table", &format!("{net}-private-{letter}")),
            Tier::Isolated => addr("aws_route_table", &format!("{net}-isolated")),
        };
        self.push(
            d,
            "aws_route_table_association",
            &d.name,
            Attrs::from([
                ("subnet_id".into(), r(&subnet, "id")),
                ("route_table_id".into(), r(&table, "id")),
            ]),
            &[],
        );
        self.export(d, "id", r(&subnet, "id"));
        self.export(d, "cidr", r(&subnet, "cidr_block"));
        self.export(d, "zone", r(&subnet, "availability_zone"));
    }

    fn security_group(&mut self, d: &Declared, g: &SecurityGroup) {
        let name = self.aws_name(d, "name", "", 255);
        let sg = self.push(
            d,
            "aws_security_group",
            &d.name,
            Attrs::from([
                ("name".into(), s(name)),
                ("description".into(), s(&g.description)),
                ("vpc_id".into(), r(&addr("aws_vpc", g.network.name()), "id")),
            ]),
            &[],
        );
        self.export(d, "id", r(&sg, "id"));
        for (dir, rules) in [("ingress", &g.ingress), ("egress", &g.egress)] {
            for (i, rule) in rules.iter().enumerate() {
                let mut a = Attrs::from([
                    ("security_group_id".into(), r(&sg, "id")),
                    ("type".into(), s(dir)),
                    (
                        "ip_protocol".into(),
                        s(if rule.protocol == Protocol::All {
                            "-1"
                        } else {
                            rule.protocol.as_str()
                        }),
                    ),
                    ("description".into(), s(&rule.description)),
                ]);
                if rule.protocol != Protocol::All {
                    a.insert("from_port".into(), rule.from_port.into());
                    a.insert("to_port".into(), rule.to_port.into());
                }
                match &rule.source {
                    Some(RuleSource::Cidr(c)) => a.insert("cidr_ipv4".into(), s(c)),
                    Some(RuleSource::Group(src)) => a.insert(
                        "referenced_security_group_id".into(),
                        r(&addr("aws_security_group", src.name()), "id"),
                    ),
                    None => None,
                };
                self.push(
                    d,
                    "aws_security_group_rule",
                    &format!("{}-{dir}-{i}", d.name),
                    a,
                    &[],
                );
            }
        }
    }

    fn secret(&mut self, d: &Declared, sec: &Secret) {
        let name = format!("{}/{}", self.stack.name(), d.name);
        let value = match &sec.source {
            SecretSource::Generated(g) => Value::Generated(Box::new(g.clone())),
            SecretSource::Given(v) => Value::Sensitive(v.clone()),
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
        self.export(d, "arn", r(&a, "arn"));
        self.export(d, "value", r(&a, "secret_string"));
    }

    fn placement_refs(&self, p: &Placement) -> (Value, Value) {
        (
            Value::List(
                p.subnets
                    .iter()
                    .map(|sn| r(&addr("aws_subnet", sn.name()), "id"))
                    .collect(),
            ),
            Value::List(
                p.security_groups
                    .iter()
                    .map(|g| r(&addr("aws_security_group", g.name()), "id"))
                    .collect(),
            ),
        )
    }

    fn secret_value(&self, secret: &Option<Ref<Secret>>) -> Value {
        secret.as_ref().map_or(Value::Null, |sec| {
            r(
                &addr("aws_secretsmanager_secret", sec.name()),
                "secret_string",
            )
        })
    }

    fn database(&mut self, d: &Declared, db: &Database) {
        let (subnets, groups) = self.placement_refs(&db.placement);
        let identifier = self.aws_name(d, "name", "", 63);
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
        let major = db.version.split('.').next().unwrap_or("15").to_string();
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
            ("password".into(), self.secret_value(&db.admin_password)),
            ("db_subnet_group_name".into(), r(&group, "name")),
            ("vpc_security_group_ids".into(), groups),
        ]);
        if let Some(w) = &db.backup_window {
            attrs.insert("preferred_backup_window".into(), s(w));
        }
        if let Some(w) = &db.maintenance_window {
            attrs.insert(
                "preferred_maintenance_window".into(),
                s(w.to_ascii_lowercase()),
            );
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
                    ("name".into(), s(extra)),
                    ("username".into(), s(&db.admin_user)),
                    ("password".into(), self.secret_value(&db.admin_password)),
                ]),
                &[],
            );
        }
        self.export(d, "id", r(&inst, "identifier"));
        self.export(d, "endpoint", r(&inst, "endpoint"));
        self.export(d, "port", r(&inst, "port"));
        self.export(d, "arn", r(&inst, "arn"));
    }

    fn broker(&mut self, d: &Declared, b: &Broker) {
        let (subnets, groups) = self.placement_refs(&b.placement);
        let name = self.aws_name(d, "name", "", 64);
        let mut attrs = Attrs::from([
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
            (
                "topics".into(),
                Value::List(
                    b.topics
                        .iter()
                        .map(|t| {
                            Value::Map(BTreeMap::from([
                                (Text::from("name"), s(&t.name)),
                                (Text::from("partitions"), t.partitions.into()),
                                (Text::from("replication"), t.replication.into()),
                            ]))
                        })
                        .collect(),
                ),
            ),
        ]);
        if b.credentials.is_some() {
            attrs.insert("client_authentication".into(), s("SASL_SCRAM"));
            attrs.insert(
                "scram_secret_arn".into(),
                b.credentials.as_ref().map_or(Value::Null, |c| {
                    r(&addr("aws_secretsmanager_secret", c.name()), "arn")
                }),
            );
        }
        let msk = self.push(d, "aws_msk_cluster", &d.name, attrs, &[]);
        self.export(d, "id", r(&msk, "arn"));
        self.export(d, "arn", r(&msk, "arn"));
        self.export(d, "bootstrap_brokers", r(&msk, "bootstrap_brokers_tls"));
    }

    fn load_balancer(&mut self, d: &Declared, lb: &LoadBalancer) {
        let (subnets, groups) = self.placement_refs(&lb.placement);
        let name = self.aws_name(d, "name", "", 32);
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
        self.export(d, "arn", r(&alb, "arn"));
        self.export(d, "dns_name", r(&alb, "dns_name"));
        let vpc = lb
            .placement
            .subnets
            .first()
            .and_then(|sn| match &self.stack.get(sn.name())?.resource {
                Resource::Subnet(x) => Some(addr("aws_vpc", x.network.name())),
                _ => None,
            })
            .unwrap_or_default();
        // Target groups; with blue/green, two per group and traffic on blue.
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
                if colour.is_empty() || *colour == "blue" {
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
            let default = lb
                .default_target
                .as_deref()
                .or(lb.target_groups.first().map(|t| t.name.as_str()));
            let mut a = Attrs::from([
                ("load_balancer_arn".into(), r(&alb, "arn")),
                ("port".into(), 443u32.into()),
                ("protocol".into(), s("HTTPS")),
                ("certificate_arn".into(), s(&h.certificate)),
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
                let Some(tg) = active.get(route.target_group.as_str()).cloned() else {
                    continue;
                };
                self.push(
                    d,
                    "aws_lb_listener_rule",
                    &format!("{}-{}", d.name, route.priority),
                    Attrs::from([
                        ("listener_arn".into(), r(&listener, "arn")),
                        ("priority".into(), route.priority.into()),
                        (
                            "path_patterns".into(),
                            Value::List(route.path_patterns.iter().map(s).collect()),
                        ),
                        ("target_group_arn".into(), r(&tg, "arn")),
                    ]),
                    &[],
                );
            }
        }
    }

    fn cache(&mut self, d: &Declared, c: &Cache) {
        let (subnets, groups) = self.placement_refs(&c.placement);
        let id = self.aws_name(d, "name", "", 40);
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
        let rg = self.push(
            d,
            "aws_elasticache_replication_group",
            &d.name,
            Attrs::from([
                ("replication_group_id".into(), s(&id)),
                ("description".into(), s(format!("cairn: {}", d.address()))),
                ("engine".into(), s("redis")),
                ("engine_version".into(), s(&c.version)),
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
                ("port".into(), c.port.into()),
                ("subnet_group_name".into(), r(&group, "name")),
                ("security_group_ids".into(), groups),
            ]),
            &[],
        );
        self.export(d, "id", r(&rg, "replication_group_id"));
        self.export(d, "endpoint", r(&rg, "primary_endpoint_address"));
        self.export(d, "port", r(&rg, "port"));
        self.export(d, "arn", r(&rg, "arn"));
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

/// Lower a stack for `region` (pure: no AWS call).
pub fn lower_stack(stack: &Stack, region: &str) -> Result<LowerResponse, Vec<Invalid>> {
    Lowering::new(stack, region).run()
}
