//! Lowering: portable kinds -> AWS resources.
//!
//! Pure: no SDK call happens here, so every stack can be checked (and golden-tested) without
//! a cloud. Each concrete resource is named `TYPE.PORTABLE-NAME[-PART]` and carries the
//! portable resource it came from. Ownership tags (`cairn:stack`, `cairn:resource`) are added
//! by the provider when it creates things, not here, so plans stay about user intent.
//!
//! Limits only AWS has (name lengths, a NAT gateway needing a public subnet in its zone) are
//! checked here and reported like validation errors: resource and field.

mod access;
mod services;
#[cfg(test)]
mod tests;

use cairn_core::model::*;
use cairn_core::provider::{Concrete, ExistingRef, Export, LowerResponse};
use cairn_core::validate::Invalid;
use cairn_core::value::{Attrs, GeneratedSpec, Text, Value};
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

/// MSK broker sizes cairn chooses from, with their vCPUs: kafka.m5, general purpose with
/// steady CPU (the burstable kafka.t3.small runs out of credits under sustained load; pin
/// it with `override_for("aws", "instance_type", …)` for a test cluster).
const MSK_SIZES: [(&str, u32); 8] = [
    ("kafka.m5.large", 2),
    ("kafka.m5.xlarge", 4),
    ("kafka.m5.2xlarge", 8),
    ("kafka.m5.4xlarge", 16),
    ("kafka.m5.8xlarge", 32),
    ("kafka.m5.12xlarge", 48),
    ("kafka.m5.16xlarge", 64),
    ("kafka.m5.24xlarge", 96),
];

/// MSK's shape for a portable broker: `(brokers, instance type, EBS GiB per broker)`.
///
/// MSK puts the same number of brokers in each zone, and a topic needs as many brokers as
/// copies: so `ceil(replication / zones)` brokers per zone at least, then the smallest size
/// whose total vCPUs reach `vcpus`, and more brokers per zone only past the largest size.
/// Each broker's disk holds its share of every copy of `storage_gb`.
fn msk_shape(
    zones: u32,
    vcpus: u32,
    replication: u32,
    storage_gb: u32,
) -> (u32, &'static str, u32) {
    let zones = zones.max(1);
    let mut per_zone = replication.div_ceil(zones).max(1);
    let (ty, _) = MSK_SIZES
        .iter()
        .copied()
        .find(|(_, each)| zones * per_zone * each >= vcpus)
        .unwrap_or_else(|| {
            let (ty, each) = MSK_SIZES[MSK_SIZES.len() - 1];
            per_zone = per_zone.max(vcpus.div_ceil(zones * each));
            (ty, each)
        });
    let brokers = zones * per_zone;
    let disk = (u64::from(storage_gb) * u64::from(replication)).div_ceil(u64::from(brokers));
    (brokers, ty, u32::try_from(disk).unwrap_or(u32::MAX))
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
        // Access between groups: rules on both groups (edges to services are lowered with
        // the service's own group).
        let stack = self.stack;
        for e in stack.access() {
            if e.to.kind != KindName::SecurityGroup {
                continue;
            }
            if let (Some(to), Some(port)) = (stack.get(&e.to.name), e.port) {
                let target = addr("aws_security_group", &to.name);
                self.access_rules(e, to, &target, port);
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
            resource: d.name.as_str().into(),
            attr: attr.into(),
            value,
        });
    }

    fn err(&mut self, d: &Declared, field: &str, message: impl Into<String>) {
        self.errors.push(Invalid::new(d.address(), field, message));
    }

    /// A name AWS will see: `{stack}-{resource}`, fitted to the service's limit.
    fn aws_name(&self, d: &Declared, suffix: &str, max: usize) -> String {
        let name = if suffix.is_empty() {
            format!("{}-{}", self.stack.name(), d.name)
        } else {
            format!("{}-{}-{suffix}", self.stack.name(), d.name)
        };
        // Longer than the service allows: its start and a stable digest (same name every
        // run, so objects are found again by it).
        cairn_provider_kit::names::fit(&name, max)
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
                Resource::Subnet(sn) if sn.network.name() == network => Some((d, &**sn)),
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
        let name = self.aws_name(d, "", 255);
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
}

/// Lower a stack for `region` (pure: no AWS call). The engine has already refused a stack
/// pinned to another region and overrides AWS does not read (see the provider schema).
pub fn lower_stack(stack: &Stack, region: &str) -> Result<LowerResponse, Vec<Invalid>> {
    Lowering::new(stack, region).run()
}
