//! The stack model: what users write.
//!
//! A [`Stack`] holds named *portable* resources (networks, subnets, databases, ...) that say
//! what is wanted, not which cloud API makes it. Providers lower them to concrete cloud
//! resources. References between resources are typed ([`Ref<Network>`], [`Ref<SecurityGroup>`])
//! so the compiler rejects a subnet pointing at a database; what the compiler cannot see
//! (a name that does not exist, a cycle through `depends_on`) is caught by validation before
//! any provider call.

mod kinds;
mod load_balancer;
mod network;
mod services;

pub use kinds::{Placement, RefField, Resource, Size};
pub use load_balancer::*;
pub use network::*;
pub use services::*;

use crate::value::{Attrs, Text, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// The portable kinds a stack can declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KindName {
    /// A private network ([`Network`]).
    Network,
    /// A subnet of a network ([`Subnet`]).
    Subnet,
    /// A security group ([`SecurityGroup`]).
    SecurityGroup,
    /// A managed database ([`Database`]).
    Database,
    /// A managed message broker ([`Broker`]).
    Broker,
    /// A load balancer ([`LoadBalancer`]).
    LoadBalancer,
    /// A managed cache ([`Cache`]).
    Cache,
    /// A secret in the cloud's secret store ([`Secret`]).
    Secret,
}

impl KindName {
    /// The snake_case name used in portable addresses and in serialised form,
    /// e.g. `security_group`.
    pub fn as_str(self) -> &'static str {
        match self {
            KindName::Network => "network",
            KindName::Subnet => "subnet",
            KindName::SecurityGroup => "security_group",
            KindName::Database => "database",
            KindName::Broker => "broker",
            KindName::LoadBalancer => "load_balancer",
            KindName::Cache => "cache",
            KindName::Secret => "secret",
        }
    }
}

impl fmt::Display for KindName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by every portable kind; ties the Rust type to its [`KindName`] and to the
/// attributes it exports (what outputs and other stacks may read after apply).
pub trait Kind: Clone + Into<Resource> {
    /// The kind name of this type, the first part of its portable address.
    const KIND: KindName;
    /// Attributes known after apply, readable through [`Ref::attr`].
    const EXPORTS: &'static [&'static str];
}

/// A typed reference to a resource of the stack, by name.
///
/// Obtained from [`Stack::add`]; [`Ref::named`] exists for forward references and for
/// referring to a resource declared elsewhere in the same stack by name (validation checks
/// it exists and has the right kind).
pub struct Ref<T> {
    /// Inline when short (most names): a stack of thousands makes and copies them freely.
    name: Text,
    _kind: PhantomData<fn() -> T>,
}

impl<T: Kind> Ref<T> {
    /// A reference to the resource declared as `name`; whether it exists and has
    /// kind `T` is checked by validation.
    pub fn named(name: &str) -> Self {
        Ref {
            name: Text::new(name),
            _kind: PhantomData,
        }
    }

    /// The referenced resource's name within the stack.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kind of the referenced resource (`T`'s).
    pub fn kind(&self) -> KindName {
        T::KIND
    }

    /// Portable address, e.g. `network.main`.
    pub fn address(&self) -> String {
        format!("{}.{}", T::KIND, self.name)
    }

    /// An exported attribute (e.g. a database's `endpoint`) for outputs.
    pub fn attr(&self, attr: &str) -> PortableAttr {
        PortableAttr {
            kind: T::KIND,
            resource: self.name.to_string(),
            attr: attr.to_string(),
        }
    }

    /// The same reference without its static kind.
    pub fn erase(&self) -> AnyRef {
        AnyRef {
            kind: T::KIND,
            name: self.name.to_string(),
        }
    }
}

impl<T> Clone for Ref<T> {
    fn clone(&self) -> Self {
        Ref {
            name: self.name.clone(),
            _kind: PhantomData,
        }
    }
}

impl<T: Kind> fmt::Debug for Ref<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ref({})", self.address())
    }
}

impl<T> PartialEq for Ref<T> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// A reference of any kind; used by `depends_on` and in validation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AnyRef {
    /// Kind of the referenced resource.
    pub kind: KindName,
    /// Its name within the stack.
    pub name: String,
}

impl fmt::Display for AnyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.name)
    }
}

impl<T: Kind> From<&Ref<T>> for AnyRef {
    fn from(r: &Ref<T>) -> Self {
        r.erase()
    }
}

/// An attribute of a portable resource, e.g. `database.main.endpoint`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortableAttr {
    /// Kind of the resource.
    pub kind: KindName,
    /// Name of the resource within the stack.
    pub resource: String,
    /// Name of the attribute, one of the kind's [`Kind::EXPORTS`].
    pub attr: String,
}

impl fmt::Display for PortableAttr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.kind, self.resource, self.attr)
    }
}

/// Lifecycle options, as in Terraform's `lifecycle` block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// Refuse delete and replace. Recorded in state, so deleting the declaration from code
    /// cannot destroy the resource: it must first be applied with `protect` off.
    pub protect: bool,
    /// Attributes (concrete attribute names as shown in plans, or `*`) whose drift is ignored.
    pub ignore_changes: Vec<String>,
    /// Replace by creating the new object first, then deleting the old.
    pub create_before_destroy: bool,
}

/// What every kind carries besides its own fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Common {
    /// Protection, ignored drift and replacement order.
    pub lifecycle: Lifecycle,
    /// Per-cloud settings only the named provider reads: `overrides["aws"]["instance_class"]`.
    pub overrides: BTreeMap<String, Attrs>,
    /// Extra ordering edges beyond references.
    pub depends_on: Vec<AnyRef>,
    /// User tags added to every taggable concrete resource.
    pub tags: BTreeMap<String, String>,
}

impl Common {
    /// The overrides for one provider (empty when none).
    pub fn overrides_for(&self, provider: &str) -> Option<&Attrs> {
        self.overrides.get(provider)
    }
}

/// Fluent options shared by every kind: lifecycle, per-cloud overrides, tags, depends_on.
pub trait Declare: Sized {
    /// The shared options, for the builders below to change.
    fn common_mut(&mut self) -> &mut Common;
    /// The shared options.
    fn common(&self) -> &Common;

    /// Refuse delete and replace (see [`Lifecycle::protect`]).
    fn protect(mut self) -> Self {
        self.common_mut().lifecycle.protect = true;
        self
    }
    /// Set or clear protection; applying with it cleared is how a protected resource
    /// is released for deletion.
    fn set_protect(mut self, protect: bool) -> Self {
        self.common_mut().lifecycle.protect = protect;
        self
    }
    /// Ignore drift in these attributes (see [`Lifecycle::ignore_changes`]); adds to those
    /// already given.
    fn ignore_changes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, fields: I) -> Self {
        self.common_mut()
            .lifecycle
            .ignore_changes
            .extend(fields.into_iter().map(Into::into));
        self
    }
    /// On replacement, create the new object before deleting the old one.
    fn create_before_destroy(mut self) -> Self {
        self.common_mut().lifecycle.create_before_destroy = true;
        self
    }
    /// A setting only `provider` reads (e.g. `("aws", "instance_class", "db.r6g.large")`).
    fn override_for(mut self, provider: &str, attr: &str, value: impl Into<Value>) -> Self {
        self.common_mut()
            .overrides
            .entry(provider.to_string())
            .or_default()
            .insert(attr.into(), value.into());
        self
    }
    /// Add the user tag `key = value` to every taggable concrete resource. Keys in the
    /// `cairn` namespace are reserved for ownership marks and refused by validation.
    fn tag(mut self, key: &str, value: &str) -> Self {
        self.common_mut()
            .tags
            .insert(key.to_string(), value.to_string());
        self
    }
    /// Order this resource after `other`, beyond what its references already imply.
    fn depends_on(mut self, other: impl Into<AnyRef>) -> Self {
        self.common_mut().depends_on.push(other.into());
        self
    }
}

/// A declared output: a name and the portable attribute it exports.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// The output's name, unique within the stack.
    pub name: String,
    /// The attribute whose value after apply it exports.
    pub value: PortableAttr,
    /// Masked wherever shown (see [`Stack::sensitive_output`]).
    pub sensitive: bool,
}

/// Kinds a member of the stack can be allowed to reach: the data services (their port is
/// their endpoint's on each cloud) and groups (with an explicit port).
pub trait Reachable: Kind {}
impl Reachable for Database {}
impl Reachable for Cache {}
impl Reachable for Broker {}
impl Reachable for SecurityGroup {}

/// An access edge: `from` (a security group: the machines running a service; or a load
/// balancer) may open connections to `to`. Each provider lowers it into its own primitives (AWS:
/// group rules on both ends; GCP: firewall rules; Azure: NSG rules).
#[derive(Clone, Debug, PartialEq)]
pub struct Access {
    /// What opens connections: a security group or a load balancer.
    pub from: AnyRef,
    /// What it may connect to: a data service or a security group.
    pub to: AnyRef,
    /// The port; `None` means the service's own (PostgreSQL's, Redis's, the broker's
    /// client port on that cloud). Required when `to` is a group.
    pub port: Option<u32>,
    /// Description of the rules it lowers to; empty lets the provider write one.
    pub description: String,
}

impl Access {
    /// Allow `port` instead of the service's own; required when `to` is a group.
    pub fn port(mut self, port: u32) -> Self {
        self.port = Some(port);
        self
    }
    /// Set the description of the rules it lowers to.
    pub fn description(mut self, d: &str) -> Self {
        self.description = d.to_string();
        self
    }
}

impl Ref<SecurityGroup> {
    /// Members of this group may connect to `to` (add it with [`Stack::allow`]).
    pub fn can_reach<T: Reachable>(&self, to: &Ref<T>) -> Access {
        Access {
            from: self.erase(),
            to: to.erase(),
            port: None,
            description: String::new(),
        }
    }
}

impl Ref<LoadBalancer> {
    /// The balancer may connect to the members of `targets` on `port` (its target groups'
    /// port, health checks included).
    pub fn can_reach(&self, targets: &Ref<SecurityGroup>) -> Access {
        Access {
            from: self.erase(),
            to: targets.erase(),
            port: None,
            description: String::new(),
        }
    }
}

/// One declared resource of a stack.
#[derive(Clone, Debug)]
pub struct Declared {
    /// The resource's name within the stack (inline when short, as most are).
    pub name: Text,
    /// What is declared.
    pub resource: Resource,
}

impl Declared {
    /// The kind of the declared resource.
    pub fn kind(&self) -> KindName {
        self.resource.kind()
    }
    /// Portable address, e.g. `subnet.public-a`.
    pub fn address(&self) -> String {
        let kind = self.kind().as_str();
        let mut a = String::with_capacity(kind.len() + 1 + self.name.len());
        a.push_str(kind);
        a.push('.');
        a.push_str(&self.name);
        a
    }
}

/// A stack: named portable resources and outputs, built in Rust.
#[derive(Clone, Debug)]
pub struct Stack {
    name: String,
    region: Option<String>,
    resources: Vec<Declared>,
    outputs: Vec<Output>,
    access: Vec<Access>,
}

impl Stack {
    /// An empty stack. Its name prefixes what it creates and keys its state.
    pub fn new(name: impl Into<String>) -> Self {
        Stack {
            name: name.into(),
            region: None,
            resources: Vec::new(),
            outputs: Vec::new(),
            access: Vec::new(),
        }
    }

    /// The stack's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Pin the stack to a region, in the cloud's own spelling (`eu-west-1`,
    /// `europe-west1`, `westeurope`). A provider configured for another region refuses the
    /// stack before any call, so an apply never lands in the wrong place; without one the
    /// provider's configured region is used.
    ///
    /// ```
    /// use cairn_core::prelude::*;
    ///
    /// let stack = Stack::new("shop").with_region("eu-west-1");
    /// assert_eq!(stack.region(), Some("eu-west-1"));
    /// ```
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Pin the stack to a region, or unpin it with `None` (see [`Stack::with_region`]).
    pub fn set_region(&mut self, region: Option<impl Into<String>>) -> &mut Self {
        self.region = region.map(Into::into);
        self
    }

    /// The region the stack is pinned to, if any (see [`Stack::with_region`]).
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// Declare a resource and get a typed reference to it. Duplicate names are kept and
    /// reported by validation, so every mistake in a stack is listed at once.
    pub fn add<T: Kind>(&mut self, name: &str, resource: T) -> Ref<T> {
        self.resources.push(Declared {
            name: Text::new(name),
            resource: resource.into(),
        });
        Ref::named(name)
    }

    /// Export a portable attribute under `name`.
    pub fn output(&mut self, name: &str, value: PortableAttr) -> &mut Self {
        self.outputs.push(Output {
            name: name.to_string(),
            value,
            sensitive: false,
        });
        self
    }

    /// Export a sensitive attribute; it is masked wherever it is shown.
    pub fn sensitive_output(&mut self, name: &str, value: PortableAttr) -> &mut Self {
        self.outputs.push(Output {
            name: name.to_string(),
            value,
            sensitive: true,
        });
        self
    }

    /// The declared resources, in declaration order (duplicate names included).
    pub fn resources(&self) -> &[Declared] {
        &self.resources
    }

    /// Let members of one group connect to a service or another group:
    /// `s.allow(app.can_reach(&db))`.
    pub fn allow(&mut self, access: Access) -> &mut Self {
        self.access.push(access);
        self
    }

    /// The access edges, in declaration order.
    pub fn access(&self) -> &[Access] {
        &self.access
    }

    /// The network a placement is in: its own, or its subnets'.
    pub fn network_of(&self, p: &Placement) -> Option<String> {
        if let Some(n) = &p.network {
            return Some(n.name().to_string());
        }
        p.subnets
            .iter()
            .find_map(|s| match &self.get(s.name())?.resource {
                Resource::Subnet(sn) => Some(sn.network.name().to_string()),
                _ => None,
            })
    }

    /// The declared outputs, in declaration order.
    pub fn outputs(&self) -> &[Output] {
        &self.outputs
    }

    /// The first resource declared as `name`, of any kind.
    pub fn get(&self, name: &str) -> Option<&Declared> {
        self.resources.iter().find(|d| d.name == name)
    }

    /// Plaintext of every secret the stack gives, keyed by digest: lets a saved plan (which
    /// holds only digests) be applied without the plan file ever containing a secret.
    pub fn secret_values(&self) -> crate::value::SecretBook {
        let mut book = crate::value::SecretBook::default();
        for d in &self.resources {
            if let Resource::Secret(s) = &d.resource {
                if let SecretSource::Given(v) = &s.source {
                    book.insert(v.clone());
                }
            }
        }
        book
    }
}
