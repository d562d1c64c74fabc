//! Portable kinds -> GCP resources (the GCP column of the portability table in
//! `core/ARCHITECTURE.md`). Kinds not lowered yet are refused here, naming the resource,
//! the field and the cloud: a stack is never half-deployed by a silent drop.

use cairn_core::invalid::Invalid;
use cairn_core::model::{
    Access, Broker, Cache, Database, Declared, NatMode, Network, Protocol, Resource, Rule,
    RuleSource, Secret, SecretSource, SecurityGroup, Size, Stack, StorageType, Subnet, Tier,
};
use cairn_core::provider::{Concrete, ExistingRef, Export, LowerResponse};
use cairn_core::value::{Attrs, Text, Value};

mod firewall;
mod load_balancer;
mod network;
mod services;
#[cfg(test)]
mod tests;

use network::network_of;

/// Lower `stack` for `project` and `region`.
pub fn lower_stack(
    stack: &Stack,
    project: &str,
    region: &str,
) -> Result<LowerResponse, Vec<Invalid>> {
    let mut l = Lowering {
        stack,
        project,
        region,
        out: LowerResponse::default(),
        errors: Vec::new(),
    };
    for d in stack.resources() {
        match &d.resource {
            Resource::Network(n) => l.network(d, n),
            Resource::Subnet(s) => l.subnet(d, s),
            Resource::SecurityGroup(g) => l.security_group(d, g),
            Resource::Secret(x) => l.secret(d, x),
            Resource::Database(db) => l.database(d, db),
            Resource::Cache(c) => l.cache(d, c),
            Resource::Broker(b) => l.broker(d, b),
            Resource::LoadBalancer(lb) => l.load_balancer(d, lb),
        }
    }
    for e in stack.access() {
        l.access(e);
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
    project: &'a str,
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

    fn push(&mut self, d: &Declared, type_name: &str, attrs: Attrs) -> String {
        let name = d.name.clone();
        self.push_as(d, type_name, &name, attrs)
    }

    /// `push` under the address name `name` (a kind lowering to several of one type).
    fn push_as(&mut self, d: &Declared, type_name: &str, name: &str, mut attrs: Attrs) -> String {
        let address = addr(type_name, name);
        if let Some(o) = d.resource.common().overrides_for("gcp") {
            // Only overrides naming an attribute of this concrete type apply to it (a kind
            // lowers to several types); core refused keys none of them has, and the names.
            for (k, v) in o {
                if attrs.contains_key(k.as_str())
                    && !crate::schema::NOT_OVERRIDABLE.contains(&k.as_str())
                {
                    attrs.insert(k.clone(), v.clone());
                }
            }
        }
        let tags = &d.resource.common().tags;
        if crate::schema::LABELLED.contains(&type_name) {
            let labels = tags
                .iter()
                .map(|(k, v)| (Text::from(k.as_str()), Value::str(v)))
                .collect();
            attrs.insert("labels".into(), Value::Map(labels));
        } else if !tags.is_empty()
            && !crate::schema::UNDER_LABELLED.contains(&type_name)
            && !self
                .errors
                .iter()
                .any(|e| e.resource == d.address() && e.field == "tags")
        {
            self.err(d, "tags", format!("{type_name} carries no labels on gcp"));
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
            resource: d.name.as_str().into(),
            attr: attr.into(),
            value,
        });
    }
}
