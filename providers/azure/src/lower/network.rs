//! Networks, subnets and security groups.
//!
//! A security group is an application security group: the identity its members' network
//! interfaces carry (as a group is a network tag on GCP). Its rules go into the network's
//! one network security group, scoped by that identity, and that group is attached to
//! every subnet of the network, so a member is governed wherever it sits. Azure takes one
//! security group per subnet; one per network keeps each rule in one place.
//!
//! Priorities are cairn's (ARM needs a unique 100–4096 per direction): an isolated
//! subnet's deny of the internet comes first (no group's rule can open it), then the
//! groups' rules in declaration order, then, from 4096 down, each group's deny of the
//! egress none of its rules allows (the model's egress is explicit; Azure's default rules
//! allow the network and the internet).

use super::*;
use cairn_core::model::{
    NatMode, Network, Protocol, Rule, RuleSource, SecurityGroup, Subnet, Tier,
};
use std::collections::BTreeMap;

/// ARM's limit on a rule's description.
pub(super) const DESCRIPTION_MAX: usize = 140;
const FIRST_PRIORITY: i64 = 100;
const LAST_PRIORITY: i64 = 4096;

/// One security rule as the `azure_network_security_group` type records it.
pub(super) struct NsgRule<'a> {
    pub name: String,
    pub direction: &'a str,
    pub access: &'a str,
    pub protocol: &'a str,
    pub ports: Vec<Value>,
    pub sources: Vec<Value>,
    pub destinations: Vec<Value>,
    pub source_groups: Vec<Value>,
    pub destination_groups: Vec<Value>,
    pub description: String,
}

impl NsgRule<'_> {
    fn value(self, priority: i64) -> Value {
        Value::Map(Attrs::from([
            (Text::from("name"), Value::str(self.name)),
            (Text::from("priority"), Value::Int(priority)),
            (Text::from("direction"), Value::str(self.direction)),
            (Text::from("access"), Value::str(self.access)),
            (Text::from("protocol"), Value::str(self.protocol)),
            (
                Text::from("source_address_prefixes"),
                Value::List(self.sources),
            ),
            (
                Text::from("destination_address_prefixes"),
                Value::List(self.destinations),
            ),
            (
                Text::from("destination_port_ranges"),
                Value::List(self.ports),
            ),
            (
                Text::from("source_application_security_groups"),
                Value::List(self.source_groups),
            ),
            (
                Text::from("destination_application_security_groups"),
                Value::List(self.destination_groups),
            ),
            (Text::from("description"), Value::str(self.description)),
        ]))
    }
}

/// A rule's protocol as ARM names it, and its ports (`*` for all).
fn protocol_and_ports(r: &Rule) -> (&'static str, Vec<Value>) {
    match r.protocol {
        Protocol::Tcp | Protocol::Udp => {
            let name = if r.protocol == Protocol::Tcp {
                "Tcp"
            } else {
                "Udp"
            };
            let range = if r.from_port == r.to_port {
                r.from_port.to_string()
            } else {
                format!("{}-{}", r.from_port, r.to_port)
            };
            (name, vec![Value::str(range)])
        }
        Protocol::Icmp => ("Icmp", vec![Value::str("*")]),
        Protocol::All => ("*", vec![Value::str("*")]),
    }
}

pub(super) fn group_id(name: &str) -> Value {
    Value::reference(addr("azure_application_security_group", name), "id")
}

impl Lowering<'_> {
    pub(super) fn network(&mut self, d: &Declared, n: &Network) {
        if !n.dns {
            self.err(
                d,
                "dns",
                "virtual networks always resolve names on azure: dns(false) cannot be honoured",
            );
        }
        let name = azure_name(&[self.stack.name(), &d.name], 64);
        let attrs = self.placed(Attrs::from([
            ("name".into(), Value::str(name)),
            (
                "address_space".into(),
                Value::List(vec![Value::str(&n.cidr)]),
            ),
        ]));
        let vnet = self.push(d, "azure_virtual_network", attrs);
        let rules = self.network_rules(d);
        let nsg_name = azure_name(&[self.stack.name(), &d.name], 80);
        let attrs = self.placed(Attrs::from([
            ("name".into(), Value::str(nsg_name)),
            ("security_rules".into(), Value::List(rules)),
        ]));
        self.push(d, "azure_network_security_group", attrs);
        self.nat(d, n);
        self.export(d, "id", Value::reference(&vnet, "id"));
        self.export(d, "cidr", Value::str(&n.cidr));
    }

    /// NAT for the private tier: one gateway with its static address for the region
    /// (shared), or one per zone the private subnets use, each zonal (per zone: a zone's
    /// outage cuts no other zone's egress). None without private subnets.
    fn nat(&mut self, d: &Declared, n: &Network) {
        let zones: std::collections::BTreeSet<u8> = self
            .subnets_of(&d.name)
            .filter(|(_, s)| s.tier == Tier::Private)
            .map(|(_, s)| s.zone)
            .collect();
        if zones.is_empty() || n.nat == NatMode::None {
            return;
        }
        let gateways: Vec<(String, Vec<Value>)> = match n.nat {
            NatMode::PerZone => zones
                .iter()
                .map(|z| {
                    (
                        format!("{}-nat-{}", d.name, z + 1),
                        vec![Value::str((z + 1).to_string())],
                    )
                })
                .collect(),
            _ => vec![(format!("{}-nat", d.name), vec![])],
        };
        for (suffix, zones) in gateways {
            let name = azure_name(&[self.stack.name(), &suffix], 80);
            let ip = self.placed(Attrs::from([
                ("name".into(), Value::str(&name)),
                ("zones".into(), Value::List(zones.clone())),
            ]));
            let ip = self.push_as(d, "azure_public_ip", &suffix, ip);
            let gateway = self.placed(Attrs::from([
                ("name".into(), Value::str(&name)),
                ("zones".into(), Value::List(zones)),
                (
                    "public_ip_address_ids".into(),
                    Value::List(vec![Value::reference(&ip, "id")]),
                ),
                ("idle_timeout_minutes".into(), Value::Int(4)),
            ]));
            self.push_as(d, "azure_nat_gateway", &suffix, gateway);
        }
    }

    /// The NAT gateway a private subnet in `zone` of network `network` goes out through.
    fn nat_gateway_of(&self, network: &str, zone: u8) -> Value {
        match self.stack.get(network).map(|x| &x.resource) {
            Some(Resource::Network(n)) if n.nat == NatMode::PerZone => Value::reference(
                addr("azure_nat_gateway", &format!("{network}-nat-{}", zone + 1)),
                "id",
            ),
            Some(Resource::Network(n)) if n.nat != NatMode::None => {
                Value::reference(addr("azure_nat_gateway", &format!("{network}-nat")), "id")
            }
            _ => Value::str(""),
        }
    }

    /// The subnets declared in network `name`.
    fn subnets_of<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = (&'s Declared, &'s Subnet)> + 's {
        self.stack
            .resources()
            .iter()
            .filter_map(move |x| match &x.resource {
                Resource::Subnet(s) if s.network.name() == name => Some((x, &**s)),
                _ => None,
            })
    }

    /// Every rule of network `d`'s security group, with its priority.
    fn network_rules(&mut self, d: &Declared) -> Vec<Value> {
        let mut first: Vec<NsgRule> = Vec::new(); // isolated subnets' denies
        let mut allows: Vec<NsgRule> = Vec::new();
        let mut denies: Vec<NsgRule> = Vec::new();
        for (x, s) in self.subnets_of(&d.name) {
            if s.tier == Tier::Isolated {
                first.push(NsgRule {
                    name: azure_name(&[&x.name, "isolated"], 80),
                    direction: "Outbound",
                    access: "Deny",
                    protocol: "*",
                    ports: vec![Value::str("*")],
                    sources: vec![Value::str(&s.cidr)],
                    destinations: vec![Value::str("Internet")],
                    source_groups: vec![],
                    destination_groups: vec![],
                    description: format!("cairn: {} is isolated from the internet", x.address()),
                });
            }
        }
        let groups: Vec<(Declared, SecurityGroup)> = self
            .stack
            .resources()
            .iter()
            .filter_map(|x| match &x.resource {
                Resource::SecurityGroup(g) if g.network.name() == d.name => {
                    Some((x.clone(), (**g).clone()))
                }
                _ => None,
            })
            .collect();
        for (x, g) in &groups {
            self.group_rules(x, g, &mut allows, &mut denies);
        }
        self.access_rules(&d.name, &mut allows, &mut denies);
        let mut out = Vec::new();
        let mut priority =
            BTreeMap::from([("Inbound", FIRST_PRIORITY), ("Outbound", FIRST_PRIORITY)]);
        for r in first.into_iter().chain(allows) {
            let p = priority.get_mut(r.direction).expect("a direction");
            out.push(r.value(*p));
            *p += 1;
        }
        let mut last = LAST_PRIORITY;
        let outbound_used = priority["Outbound"];
        for r in denies {
            out.push(r.value(last));
            last -= 1;
        }
        if priority.values().any(|p| *p > LAST_PRIORITY) || last < outbound_used - 1 {
            self.err(
                d,
                "security_groups",
                format!(
                    "the network's security groups need more rules than one Azure network security group holds ({} priorities, {FIRST_PRIORITY}-{LAST_PRIORITY})",
                    LAST_PRIORITY - FIRST_PRIORITY + 1
                ),
            );
        }
        // Inbound first, then outbound, each by priority: the order a read answers.
        out.sort_by_key(|v| {
            let m = v.as_map().cloned().unwrap_or_default();
            (
                m.get("direction")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                m.get("priority")
                    .and_then(Value::as_int)
                    .unwrap_or_default(),
            )
        });
        out
    }

    /// Group `g`'s rules: ingress towards its members, egress from them, and the deny of
    /// what no egress rule allows.
    fn group_rules<'r>(
        &mut self,
        d: &Declared,
        g: &SecurityGroup,
        allows: &mut Vec<NsgRule<'r>>,
        denies: &mut Vec<NsgRule<'r>>,
    ) {
        let describe = |r: &Rule| match (g.description.is_empty(), r.description.is_empty()) {
            (true, _) => r.description.clone(),
            (false, true) => g.description.to_string(),
            (false, false) => format!("{}: {}", g.description, r.description),
        };
        let me = group_id(&d.name);
        for (i, r) in g.ingress.iter().enumerate() {
            let (sources, source_groups) = match &r.source {
                Some(RuleSource::Cidr(c)) => (vec![Value::str(c)], vec![]),
                Some(RuleSource::Group(h)) => (vec![], vec![group_id(h.name())]),
                None => {
                    self.err(
                        d,
                        &format!("ingress[{i}].source"),
                        "a rule needs a source on azure",
                    );
                    continue;
                }
            };
            let description = describe(r);
            if description.chars().count() > DESCRIPTION_MAX {
                self.err(
                    d,
                    &format!("ingress[{i}].description"),
                    format!("azure takes at most {DESCRIPTION_MAX} characters"),
                );
            }
            let (protocol, ports) = protocol_and_ports(r);
            allows.push(NsgRule {
                name: azure_name(&[&d.name, "in", &i.to_string()], 80),
                direction: "Inbound",
                access: "Allow",
                protocol,
                ports,
                sources,
                destinations: vec![],
                source_groups,
                destination_groups: vec![me.clone()],
                description,
            });
        }
        for (i, r) in g.egress.iter().enumerate() {
            let (destinations, destination_groups) = match &r.source {
                Some(RuleSource::Cidr(c)) => (vec![Value::str(c)], vec![]),
                Some(RuleSource::Group(h)) => (vec![], vec![group_id(h.name())]),
                None => (vec![Value::str("*")], vec![]),
            };
            let description = describe(r);
            if description.chars().count() > DESCRIPTION_MAX {
                self.err(
                    d,
                    &format!("egress[{i}].description"),
                    format!("azure takes at most {DESCRIPTION_MAX} characters"),
                );
            }
            let (protocol, ports) = protocol_and_ports(r);
            allows.push(NsgRule {
                name: azure_name(&[&d.name, "out", &i.to_string()], 80),
                direction: "Outbound",
                access: "Allow",
                protocol,
                ports,
                sources: vec![],
                destinations,
                source_groups: vec![me.clone()],
                destination_groups,
                description,
            });
        }
        denies.push(NsgRule {
            name: azure_name(&[&d.name, "deny-egress"], 80),
            direction: "Outbound",
            access: "Deny",
            protocol: "*",
            ports: vec![Value::str("*")],
            sources: vec![],
            destinations: vec![Value::str("*")],
            source_groups: vec![me],
            destination_groups: vec![],
            description: "cairn: egress no rule of the group allows is denied".into(),
        });
    }

    pub(super) fn subnet(&mut self, d: &Declared, s: &Subnet) {
        let network = s.network.name();
        let storage = matches!(
            self.stack.get(network).map(|n| &n.resource),
            Some(Resource::Network(n)) if n.storage_endpoint
        );
        if !d.resource.common().tags.is_empty() {
            self.err(
                d,
                "tags",
                "subnets carry no tags on azure (tag the network)",
            );
        }
        let endpoints = if storage && s.tier != Tier::Public {
            vec![Value::str("Microsoft.Storage")]
        } else {
            vec![]
        };
        let sub = self.push(
            d,
            "azure_subnet",
            Attrs::from([
                ("name".into(), Value::str(azure_name(&[&d.name], 80))),
                (
                    "virtual_network_id".into(),
                    Value::reference(addr("azure_virtual_network", network), "id"),
                ),
                ("address_prefix".into(), Value::str(&s.cidr)),
                (
                    "delegations".into(),
                    if self.delegated.contains(d.name.as_str()) {
                        Value::List(vec![Value::str(services::POSTGRES_DELEGATION)])
                    } else {
                        Value::List(vec![])
                    },
                ),
                ("service_endpoints".into(), Value::List(endpoints)),
                (
                    "network_security_group_id".into(),
                    Value::reference(addr("azure_network_security_group", network), "id"),
                ),
                (
                    "nat_gateway_id".into(),
                    if s.tier == Tier::Private {
                        self.nat_gateway_of(network, s.zone)
                    } else {
                        Value::str("")
                    },
                ),
                // Only a public subnet may reach the internet without a NAT gateway.
                (
                    "default_outbound_access".into(),
                    Value::Bool(s.tier == Tier::Public),
                ),
            ]),
        );
        self.export(d, "id", Value::reference(&sub, "id"));
        self.export(d, "cidr", Value::str(&s.cidr));
        // `zone`: Azure subnets span the region's zones: nothing to export that is true.
    }

    /// The group's identity; its rules go into its network's security group
    /// (`network_rules`).
    pub(super) fn security_group(&mut self, d: &Declared) {
        let name = azure_name(&[self.stack.name(), &d.name], 80);
        let attrs = self.placed(Attrs::from([("name".into(), Value::str(name))]));
        let asg = self.push(d, "azure_application_security_group", attrs);
        self.export(d, "id", Value::reference(&asg, "id"));
    }
}
