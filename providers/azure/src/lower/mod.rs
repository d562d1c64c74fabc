//! Portable kinds -> Azure resources (the Azure column of the portability table in
//! `core/ARCHITECTURE.md`). What Azure cannot do is refused here, naming the resource,
//! the field and the cloud: a stack is never half-deployed by a silent drop.
//!
//! Everything a stack makes lives in one resource group, `azure_resource_group.stack`,
//! named after the stack: every other resource names it, so it is made first and deleted
//! last, and a destroy leaves no group behind.

use cairn_core::invalid::{Invalid, Note};
use cairn_core::model::{Declared, Resource, Stack};
use cairn_core::provider::{Concrete, ExistingRef, Export, LowerResponse};
use cairn_core::value::{Attrs, Text, Value};

mod access;
mod balancer;
mod network;
mod services;
mod streams;
#[cfg(test)]
use services::dns_label;
#[cfg(test)]
mod tests;

/// The address of the stack's resource group.
pub(crate) const GROUP: &str = "azure_resource_group.stack";

/// Lower `stack` for `location`.
pub fn lower_stack(stack: &Stack, location: &str) -> Result<LowerResponse, Vec<Invalid>> {
    let mut l = Lowering {
        stack,
        location,
        out: LowerResponse::default(),
        errors: Vec::new(),
        delegated: Default::default(),
    };
    let delegated = stack
        .resources()
        .iter()
        .filter_map(|d| match &d.resource {
            Resource::Database(db) => l.service_subnet(&db.placement),
            _ => None,
        })
        .collect();
    l.delegated = delegated;
    if let Some(first) = stack.resources().first() {
        l.resource_group(first);
    }
    for d in stack.resources() {
        match &d.resource {
            Resource::Network(n) => l.network(d, n),
            Resource::Subnet(s) => l.subnet(d, s),
            Resource::SecurityGroup(_) => l.security_group(d),
            Resource::Secret(x) => l.secret(d, x),
            Resource::Database(db) => l.database(d, db),
            Resource::Cache(c) => l.cache(d, c),
            Resource::Broker(b) => l.broker(d, b),
            Resource::LoadBalancer(lb) => l.load_balancer(d, lb),
        }
    }
    if l.errors.is_empty() {
        Ok(l.out)
    } else {
        Err(l.errors)
    }
}

/// An ARM name from the stack's and a resource's: letters, digits, `_`, `.` and `-` (what
/// every type here takes), other characters as `-`, starting with a letter or digit and
/// ending with one or `_`, at most `max` characters (fitted with a stable digest).
pub fn azure_name(parts: &[&str], max: usize) -> String {
    let raw: String = parts
        .join("-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let raw = if raw.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        raw
    } else {
        format!("c{raw}")
    };
    let mut name = cairn_provider_kit::names::fit(&raw, max);
    while name.ends_with(['-', '.']) {
        name.pop();
    }
    name
}

struct Lowering<'a> {
    stack: &'a Stack,
    location: &'a str,
    out: LowerResponse,
    errors: Vec<Invalid>,
    /// The subnets delegated to PostgreSQL flexible servers (where databases sit).
    delegated: std::collections::BTreeSet<String>,
}

fn addr(type_name: &str, name: &str) -> String {
    format!("{type_name}.{name}")
}

impl Lowering<'_> {
    fn err(&mut self, d: &Declared, field: &str, message: impl Into<String>) {
        self.errors.push(Invalid::new(d.address(), field, message));
    }

    fn note(&mut self, d: &Declared, field: &str, message: impl Into<String>) {
        self.out.notes.push(Note::new(d.address(), field, message));
    }

    /// The stack's resource group (made with the stack's first resource).
    fn resource_group(&mut self, first: &Declared) {
        let name = azure_name(&[self.stack.name()], 90);
        self.out.resources.push(Concrete {
            address: GROUP.into(),
            type_name: "azure_resource_group".into(),
            origin: first.name.as_str().into(),
            attrs: Attrs::from([
                ("name".into(), Value::str(name)),
                ("location".into(), Value::str(self.location)),
                ("tags".into(), Value::Map(Default::default())),
            ]),
            depends_on: Vec::new(),
        });
    }

    /// What every resource in the group carries: its group and location.
    fn placed(&self, mut attrs: Attrs) -> Attrs {
        attrs.insert("resource_group".into(), Value::reference(GROUP, "name"));
        attrs.insert("location".into(), Value::str(self.location));
        attrs
    }

    fn push(&mut self, d: &Declared, type_name: &str, attrs: Attrs) -> String {
        let name = d.name.clone();
        self.push_as(d, type_name, &name, attrs)
    }

    /// `push` under the address name `name` (a kind lowering to several of one type).
    fn push_as(&mut self, d: &Declared, type_name: &str, name: &str, mut attrs: Attrs) -> String {
        let address = addr(type_name, name);
        if let Some(o) = d.resource.common().overrides_for("azure") {
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
        if crate::schema::TAGGED.contains(&type_name) {
            let tags = tags
                .iter()
                .map(|(k, v)| (Text::from(k.as_str()), Value::str(v)))
                .collect();
            attrs.insert("tags".into(), Value::Map(tags));
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
