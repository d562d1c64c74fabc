//! Security groups and access edges as VPC firewall rules.

use super::*;

/// Where Google's global external Application Load Balancer reaches backends from (its
/// proxies and health checks), as Google documents them.
pub(super) const LOAD_BALANCER_RANGES: [&str; 2] = ["35.191.0.0/16", "130.211.0.0/22"];

impl Lowering<'_> {
    /// An access edge as VPC firewall rules. Firewalls reach VMs (network tags) only, so an
    /// edge to a managed service is an egress rule on the group's tag towards where the
    /// service lives (the network's reserved range for Cloud SQL and Memorystore, the
    /// broker's subnetwork for Managed Kafka); an edge between groups is an ingress rule on
    /// the target's tag from the source's, and an egress rule on the source towards the
    /// network (egress rules cannot name tags); an edge from a load balancer is an ingress
    /// rule from Google's load-balancer ranges.
    pub(super) fn access(&mut self, e: &Access) {
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
    pub(super) fn ingress_from(
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
}

/// A rule's protocol and ports as a firewall's `allowed` entry.
pub(super) fn allowed(r: &Rule) -> Value {
    let ports = match r.protocol {
        Protocol::Tcp | Protocol::Udp if r.from_port == r.to_port => {
            vec![Value::str(r.from_port.to_string())]
        }
        Protocol::Tcp | Protocol::Udp => {
            vec![Value::str(format!("{}-{}", r.from_port, r.to_port))]
        }
        Protocol::Icmp | Protocol::All => Vec::new(),
    };
    Value::Map(Attrs::from([
        (Text::from("protocol"), Value::str(r.protocol.as_str())),
        (Text::from("ports"), Value::List(ports)),
    ]))
}

impl Lowering<'_> {
    /// A group is a network tag; each rule one firewall targeting it, and what no egress
    /// rule allows is denied (the model's egress is explicit; GCP's implied rule allows all).
    pub(super) fn security_group(&mut self, d: &Declared, g: &SecurityGroup) {
        let stack = self.stack.name();
        let tag = gcp_name(stack, &d.name);
        let network = Value::reference(addr("gcp_compute_network", g.network.name()), "self_link");
        let describe = |r: &Rule| match (g.description.is_empty(), r.description.is_empty()) {
            (true, _) => r.description.clone(),
            (false, true) => g.description.to_string(),
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
    pub(super) fn firewall<const N: usize>(
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
