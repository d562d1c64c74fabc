//! Access edges as rules of the network's security group.
//!
//! A service (a database's delegated subnet; a cache's or broker's subnet, where its
//! private endpoint sits) takes traffic on its port from the groups that may reach it and
//! from nothing else in the network: Azure's default rules allow the whole virtual network
//! in, so each service gets a deny of the network on its port, after every allow. An edge
//! from group `g` is an inbound allow from `g`'s application security group to the
//! service's subnet and an outbound allow from it (its egress is otherwise denied); an
//! edge to a group `h` is the same towards `h`'s application security group.

use super::network::NsgRule;
use super::*;
use cairn_core::model::{Access, Placement, Tier};

/// The client port of a service on Azure: PostgreSQL 5432; Redis 6380 with TLS, 6379
/// without; Event Hubs' Kafka endpoint 9093.
fn service_port(r: &Resource) -> Option<u32> {
    match r {
        Resource::Database(_) => Some(5432),
        Resource::Cache(c) => Some(if c.transit_encryption { 6380 } else { 6379 }),
        Resource::Broker(_) => Some(9093),
        _ => None,
    }
}

fn placement_of(r: &Resource) -> Option<&Placement> {
    match r {
        Resource::Database(x) => Some(&x.placement),
        Resource::Cache(x) => Some(&x.placement),
        Resource::Broker(x) => Some(&x.placement),
        _ => None,
    }
}

impl Lowering<'_> {
    /// The subnet a service placed by `p` sits in (a database's is delegated to it; a
    /// cache's or broker's holds its private endpoint): the first hint, else the network's
    /// first subnet of the tier (isolated unless told).
    pub(super) fn service_subnet(&self, p: &Placement) -> Option<String> {
        if let Some(s) = p.subnets.first() {
            return Some(s.name().to_string());
        }
        let net = self.stack.network_of(p)?;
        let tier = p.tier.unwrap_or(Tier::Isolated);
        self.stack
            .resources()
            .iter()
            .find_map(|x| match &x.resource {
                Resource::Subnet(s) if s.network.name() == net && s.tier == tier => {
                    Some(x.name.to_string())
                }
                _ => None,
            })
    }

    /// The subnet a cache's or broker's private endpoint sits in: as `service_subnet`, but
    /// never one delegated to flexible servers (a delegated subnet holds nothing else).
    pub(super) fn endpoint_subnet(&self, p: &Placement) -> Option<String> {
        let free = |name: &str| !self.delegated.contains(name);
        if !p.subnets.is_empty() {
            return p
                .subnets
                .iter()
                .map(|s| s.name().to_string())
                .find(|s| free(s));
        }
        let net = self.stack.network_of(p)?;
        let tier = p.tier.unwrap_or(Tier::Isolated);
        self.stack
            .resources()
            .iter()
            .find_map(|x| match &x.resource {
                Resource::Subnet(s)
                    if s.network.name() == net && s.tier == tier && free(&x.name) =>
                {
                    Some(x.name.to_string())
                }
                _ => None,
            })
    }

    /// The subnet service `r` sits in: a database's delegated one, a cache's or broker's
    /// endpoint subnet.
    fn placed_subnet(&self, r: &Resource) -> Option<String> {
        match r {
            Resource::Database(x) => self.service_subnet(&x.placement),
            Resource::Cache(x) => self.endpoint_subnet(&x.placement),
            Resource::Broker(x) => self.endpoint_subnet(&x.placement),
            _ => None,
        }
    }

    /// The declared range of subnet `name`.
    fn cidr_of(&self, name: &str) -> Option<String> {
        match self.stack.get(name).map(|d| &d.resource) {
            Some(Resource::Subnet(s)) => Some(s.cidr.to_string()),
            _ => None,
        }
    }

    /// The services of network `network` and the edges from its groups, as rules.
    pub(super) fn access_rules(
        &mut self,
        network: &str,
        allows: &mut Vec<NsgRule<'static>>,
        denies: &mut Vec<NsgRule<'static>>,
    ) {
        let stack = self.stack;
        for x in stack.resources() {
            let (Some(port), Some(p)) = (service_port(&x.resource), placement_of(&x.resource))
            else {
                continue;
            };
            if stack.network_of(p).as_deref() != Some(network) {
                continue;
            }
            let Some(cidr) = self
                .placed_subnet(&x.resource)
                .and_then(|s| self.cidr_of(&s))
            else {
                continue;
            };
            denies.push(NsgRule {
                name: azure_name(&[&x.name, "deny-network"], 80),
                direction: "Inbound",
                access: "Deny",
                protocol: "Tcp",
                ports: vec![Value::str(port.to_string())],
                sources: vec![Value::str("VirtualNetwork")],
                destinations: vec![Value::str(cidr)],
                source_groups: vec![],
                destination_groups: vec![],
                description: format!(
                    "cairn: only the groups allowed reach {} in the network",
                    x.address()
                ),
            });
        }
        self.gateway_rules(network, allows);
        for e in stack.access() {
            self.edge(network, e, allows);
        }
    }

    fn edge(&mut self, network: &str, e: &Access, allows: &mut Vec<NsgRule<'static>>) {
        let stack = self.stack;
        let (Some(from), Some(to)) = (stack.get(&e.from.name), stack.get(&e.to.name)) else {
            return; // a dangling edge is core's error, said before lowering
        };
        // Who the traffic comes from: a group's members, or a gateway's subnet.
        let (sources, source_groups) = match &from.resource {
            Resource::SecurityGroup(g) if g.network.name() == network => {
                (vec![], vec![super::network::group_id(&from.name)])
            }
            Resource::SecurityGroup(_) => return,
            Resource::LoadBalancer(lb) => {
                if stack.network_of(&lb.placement).as_deref() != Some(network) {
                    return;
                }
                if !lb.tcp_listeners.is_empty() {
                    // Layer 4: the clients' own addresses reach the targets.
                    (vec![Value::str("Internet")], vec![])
                } else {
                    match self
                        .gateways_in(network)
                        .into_iter()
                        .find(|(x, _)| x.name == from.name)
                        .and_then(|(_, s)| self.cidr_of(&s))
                    {
                        Some(cidr) => (vec![Value::str(cidr)], vec![]),
                        None => return, // the balancer's own error says why
                    }
                }
            }
            _ => {
                return self.err(
                    from,
                    "access",
                    format!(
                        "on azure access edges start at a group or a load balancer, not {}",
                        from.address()
                    ),
                )
            }
        };
        let from_gateway = matches!(from.resource, Resource::LoadBalancer(_));
        let port = e.port.or_else(|| service_port(&to.resource));
        let Some(port) = port else {
            return self.err(
                from,
                "access",
                format!("the edge to {} needs a port on azure", to.address()),
            );
        };
        let (destinations, destination_groups) = match &to.resource {
            Resource::SecurityGroup(_) => (vec![], vec![super::network::group_id(&to.name)]),
            r => match self.placed_subnet(r).and_then(|s| self.cidr_of(&s)) {
                Some(cidr) => (vec![Value::str(cidr)], vec![]),
                None => {
                    return self.err(
                        from,
                        "access",
                        format!("on azure a group reaches databases, caches and brokers placed in its network's subnets, and groups; not {}", to.address()),
                    )
                }
            },
        };
        let description = if e.description.is_empty() {
            format!("cairn: {} may reach {}", from.address(), to.address())
        } else {
            e.description.clone()
        };
        if description.chars().count() > super::network::DESCRIPTION_MAX {
            self.err(
                from,
                "access",
                format!(
                    "the edge to {}: azure takes descriptions of at most {} characters",
                    to.address(),
                    super::network::DESCRIPTION_MAX
                ),
            );
        }
        let edge = format!("{}-to-{}", from.name, to.name);
        // A gateway's egress is not restricted (its subnet is no group's): inbound only.
        let directions: &[(&'static str, &str)] = if from_gateway {
            &[("Inbound", "in")]
        } else {
            &[("Inbound", "in"), ("Outbound", "out")]
        };
        for (direction, suffix) in directions {
            allows.push(NsgRule {
                name: azure_name(&[&edge, suffix], 80),
                direction,
                access: "Allow",
                protocol: "Tcp",
                ports: vec![Value::str(port.to_string())],
                sources: sources.clone(),
                destinations: destinations.clone(),
                source_groups: source_groups.clone(),
                destination_groups: destination_groups.clone(),
                description: description.clone(),
            });
        }
    }

    /// What an application gateway's subnet must let in: Azure's infrastructure on
    /// 65200-65535 (the gateway is refused without it) and clients on its listeners.
    fn gateway_rules(&mut self, network: &str, allows: &mut Vec<NsgRule<'static>>) {
        let mut seen = std::collections::BTreeSet::new();
        for (d, subnet) in self.gateways_in(network) {
            let Resource::LoadBalancer(lb) = &d.resource else {
                continue;
            };
            let Some(cidr) = self.cidr_of(&subnet) else {
                continue;
            };
            if seen.insert(subnet.clone()) {
                allows.push(NsgRule {
                    name: azure_name(&[&subnet, "gateway-manager"], 80),
                    direction: "Inbound",
                    access: "Allow",
                    protocol: "Tcp",
                    ports: vec![Value::str("65200-65535")],
                    sources: vec![Value::str("GatewayManager")],
                    destinations: vec![Value::str("*")],
                    source_groups: vec![],
                    destination_groups: vec![],
                    description: "cairn: Azure's infrastructure reaches the application gateway"
                        .into(),
                });
            }
            let mut ports = Vec::new();
            if lb.https.is_some() {
                ports.push(Value::str("443"));
            }
            if lb.http_redirect || lb.https.is_none() {
                ports.push(Value::str("80"));
            }
            allows.push(NsgRule {
                name: azure_name(&[&d.name, "clients"], 80),
                direction: "Inbound",
                access: "Allow",
                protocol: "Tcp",
                ports,
                sources: vec![Value::str(if lb.internal {
                    "VirtualNetwork"
                } else {
                    "Internet"
                })],
                destinations: vec![Value::str(cidr)],
                source_groups: vec![],
                destination_groups: vec![],
                description: format!("cairn: clients reach {}", d.address()),
            });
        }
    }
}
