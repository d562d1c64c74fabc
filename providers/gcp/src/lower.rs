//! Portable kinds -> GCP resources (the GCP column of the portability table in
//! `core/ARCHITECTURE.md`). Kinds not lowered yet are refused here, naming the resource,
//! the field and the cloud: a stack is never half-deployed by a silent drop.

use cairn_core::invalid::Invalid;
use cairn_core::model::{Declared, NatMode, Network, Resource, Stack, Subnet, Tier};
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
            other => l.err(
                d,
                "kind",
                format!(
                    "a {} is not lowered on gcp by cairn yet (networks and subnets are)",
                    other.kind().as_str()
                ),
            ),
        }
    }
    if !stack.access().is_empty() {
        l.errors.push(Invalid::new(
            "stack",
            "access",
            "access edges are not lowered on gcp by cairn yet (VPC firewall rules are next)",
        ));
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

    fn push(&mut self, d: &Declared, type_name: &str, mut attrs: Attrs) -> String {
        let address = addr(type_name, &d.name);
        if let Some(o) = d.resource.common().overrides_for("gcp") {
            for (k, v) in o {
                if attrs.contains_key(k.as_str()) && k != "name" {
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
        if !d.resource.common().tags.is_empty() {
            self.err(
                d,
                "tags",
                "Compute networks and subnetworks carry no labels on gcp",
            );
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
                NatMode::Shared => self.err(
                    d,
                    "nat",
                    "Cloud Router and Cloud NAT are not lowered on gcp by cairn yet",
                ),
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
        self.export(d, "id", Value::reference(&net, "self_link"));
        // Subnet-mode networks have no range of their own: the declared one stays the
        // stack's (subnets were checked against it).
        self.export(d, "cidr", Value::str(&n.cidr));
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

#[cfg(test)]
mod tests {
    use super::*;

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
            "cache",
            cairn_core::model::Cache::redis("7").in_network(&vpc),
        );
        let err = lower_stack(&s, "p", "europe-west1").unwrap_err();
        assert!(
            err.iter().any(|e| e.resource == "cache.cache"
                && e.field == "kind"
                && e.message.contains("on gcp")),
            "{err:?}"
        );
    }
}
