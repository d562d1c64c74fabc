//! Where services sit and who may reach them, on AWS: subnets from the placement's network
//! and tier (or its hints) with the zone counts each service needs; the groups access edges
//! become (a service's own `{name}-access`, a balancer's `{name}-listeners`, rules on both
//! ends); and how AWS fills a produced secret.

use super::*;

/// ElastiCache's Redis port when the stack chooses none.
pub(super) const REDIS_PORT: u32 = 6379;

impl Lowering<'_> {
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
                        Resource::Subnet(sn) => Some((sd, &**sn)),
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
    pub(super) fn access_group(&mut self, d: &Declared, network: Option<&str>) -> Option<String> {
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
    pub(super) fn produced_spec(&self, secret: &Declared) -> GeneratedSpec {
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
    pub(super) fn lb_group(&mut self, d: &Declared, lb: &LoadBalancer) -> Option<String> {
        let stack = self.stack;
        let network = stack.network_of(&lb.placement)?;
        let source = if lb.internal {
            match &stack.get(&network)?.resource {
                Resource::Network(n) => n.cidr.clone(),
                _ => return None,
            }
        } else {
            "0.0.0.0/0".into()
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
}
