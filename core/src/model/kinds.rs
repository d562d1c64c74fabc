//! The portable resource kinds: the `Resource` sum, what every kind shares (placement,
//! sizes), and the macros that give each kind its `Kind`/`Declare` impls. The kinds
//! themselves live in `network.rs` and `services.rs`.
//!
//! Fields are public (providers read them when lowering); builders follow the AWS SDK
//! convention: `foo(v)` sets a value, `set_foo(Option<v>)` sets or clears it.

use super::{Broker, Cache, Database, LoadBalancer, Network, Ref, Secret, SecurityGroup, Subnet};
use super::{Common, Kind, KindName, RuleSource, Tier};

macro_rules! portable_kind {
    ($ty:ident, $variant:ident, $kind:expr, [$($export:literal),*]) => {
        impl Kind for $ty {
            const KIND: KindName = $kind;
            const EXPORTS: &'static [&'static str] = &[$($export),*];
        }
        impl Declare for $ty {
            fn common_mut(&mut self) -> &mut Common {
                &mut self.common
            }
            fn common(&self) -> &Common {
                &self.common
            }
        }
        impl From<$ty> for Resource {
            fn from(r: $ty) -> Resource {
                Resource::$variant(Box::new(r))
            }
        }
    };
}
pub(super) use portable_kind;

/// Any portable resource. Each kind is boxed: a stack holds one entry per resource,
/// and unboxed every entry would take the size of the largest kind (360 bytes for a
/// group of 192).
#[derive(Clone, Debug)]
pub enum Resource {
    /// A private network ([`Network`]).
    Network(Box<Network>),
    /// A subnet of a network ([`Subnet`]).
    Subnet(Box<Subnet>),
    /// A firewall group and its rules ([`SecurityGroup`]).
    SecurityGroup(Box<SecurityGroup>),
    /// A managed PostgreSQL server ([`Database`]).
    Database(Box<Database>),
    /// A Kafka-compatible broker cluster ([`Broker`]).
    Broker(Box<Broker>),
    /// A load balancer ([`LoadBalancer`]).
    LoadBalancer(Box<LoadBalancer>),
    /// A managed Redis cache ([`Cache`]).
    Cache(Box<Cache>),
    /// A secret in the cloud's secret store ([`Secret`]).
    Secret(Box<Secret>),
}

impl Resource {
    /// The kind of the resource held, e.g. [`KindName::Database`].
    pub fn kind(&self) -> KindName {
        match self {
            Resource::Network(_) => KindName::Network,
            Resource::Subnet(_) => KindName::Subnet,
            Resource::SecurityGroup(_) => KindName::SecurityGroup,
            Resource::Database(_) => KindName::Database,
            Resource::Broker(_) => KindName::Broker,
            Resource::LoadBalancer(_) => KindName::LoadBalancer,
            Resource::Cache(_) => KindName::Cache,
            Resource::Secret(_) => KindName::Secret,
        }
    }

    /// What every kind carries: lifecycle, per-cloud overrides, `depends_on`, tags.
    pub fn common(&self) -> &Common {
        match self {
            Resource::Network(r) => &r.common,
            Resource::Subnet(r) => &r.common,
            Resource::SecurityGroup(r) => &r.common,
            Resource::Database(r) => &r.common,
            Resource::Broker(r) => &r.common,
            Resource::LoadBalancer(r) => &r.common,
            Resource::Cache(r) => &r.common,
            Resource::Secret(r) => &r.common,
        }
    }

    /// The attributes the resource's kind exports after apply ([`Kind::EXPORTS`]).
    pub fn exports(&self) -> &'static [&'static str] {
        match self {
            Resource::Network(_) => Network::EXPORTS,
            Resource::Subnet(_) => Subnet::EXPORTS,
            Resource::SecurityGroup(_) => SecurityGroup::EXPORTS,
            Resource::Database(_) => Database::EXPORTS,
            Resource::Broker(_) => Broker::EXPORTS,
            Resource::LoadBalancer(_) => LoadBalancer::EXPORTS,
            Resource::Cache(_) => Cache::EXPORTS,
            Resource::Secret(_) => Secret::EXPORTS,
        }
    }

    /// Every typed reference this resource holds, with the field it sits in (for errors).
    pub fn references(&self) -> Vec<(String, super::AnyRef)> {
        let mut out = Vec::new();
        self.each_reference(&mut |field, kind, name| {
            out.push((
                field.to_string(),
                super::AnyRef {
                    kind,
                    name: name.to_string(),
                },
            ))
        });
        out
    }

    /// Every typed reference, as [`Resource::references`] lists them, handed to `f` without
    /// building anything: validation walks them for every resource of every plan, and
    /// needs a field's name only to report a problem.
    pub fn each_reference(&self, f: &mut dyn FnMut(RefField, KindName, &str)) {
        let mut push = |field: RefField, r: &dyn ErasedRef| f(field, r.kind(), r.name());
        match self {
            Resource::Network(_) | Resource::Secret(_) => {}
            Resource::Subnet(s) => push(RefField::Named("network"), &s.network),
            Resource::SecurityGroup(g) => {
                push(RefField::Named("network"), &g.network);
                for (dir, rules) in [("ingress", &g.ingress), ("egress", &g.egress)] {
                    for (i, rule) in rules.iter().enumerate() {
                        if let Some(RuleSource::Group(src)) = &rule.source {
                            push(RefField::Indexed(dir, i, ".source"), src);
                        }
                    }
                }
            }
            Resource::Database(d) => {
                placement_refs(&d.placement, &mut push);
                if let Some(p) = &d.admin_password {
                    push(RefField::Named("admin_password"), p);
                }
            }
            Resource::Broker(b) => {
                placement_refs(&b.placement, &mut push);
                if let Some(c) = &b.credentials {
                    push(RefField::Named("credentials"), c);
                }
            }
            Resource::LoadBalancer(l) => placement_refs(&l.placement, &mut push),
            Resource::Cache(c) => {
                placement_refs(&c.placement, &mut push);
                if let Some(t) = &c.auth_token {
                    push(RefField::Named("auth_token"), t);
                }
            }
        }
        for (i, d) in self.common().depends_on.iter().enumerate() {
            f(RefField::Indexed("depends_on", i, ""), d.kind, &d.name);
        }
    }
}

/// The field a reference sits in: `network`, or `ingress[0].source`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefField {
    /// A field of its own.
    Named(&'static str),
    /// A member of a list field, and what follows its index (`.source`, or nothing).
    Indexed(&'static str, usize, &'static str),
}

impl RefField {
    /// The list or field it names: `ingress` for `ingress[0].source`.
    pub fn base(self) -> &'static str {
        match self {
            RefField::Named(f) | RefField::Indexed(f, _, _) => f,
        }
    }
}

impl std::fmt::Display for RefField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefField::Named(n) => f.write_str(n),
            RefField::Indexed(list, i, rest) => write!(f, "{list}[{i}]{rest}"),
        }
    }
}

/// A typed reference seen without its type: kind and name.
trait ErasedRef {
    fn kind(&self) -> KindName;
    fn name(&self) -> &str;
}

impl<T: super::Kind> ErasedRef for super::Ref<T> {
    fn kind(&self) -> KindName {
        T::KIND
    }
    fn name(&self) -> &str {
        super::Ref::name(self)
    }
}

fn placement_refs(p: &Placement, push: &mut impl FnMut(RefField, &dyn ErasedRef)) {
    if let Some(n) = &p.network {
        push(RefField::Named("network"), n);
    }
    for (i, s) in p.subnets.iter().enumerate() {
        push(RefField::Indexed("subnets", i, ""), s);
    }
    for (i, g) in p.security_groups.iter().enumerate() {
        push(RefField::Indexed("security_groups", i, ""), g);
    }
}

/// Where a managed service sits: a network, and which tier of it.
///
/// Said this way because clouds place services differently: AWS puts a database in subnets
/// across zones, GCP reaches Cloud SQL through a peering range of the network, Azure
/// delegates one subnet. Each provider derives its own from the network and tier (or the
/// subnet hints); zone rules are the provider's checks. Who may connect is said with
/// [`Stack::allow`](super::Stack::allow), not with groups on the service.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Placement {
    /// The network; may be left out when subnets are given (it is theirs).
    pub network: Option<Ref<Network>>,
    /// The tier of the network's subnets to use where a cloud places services in subnets
    /// (default: isolated for data services; public or private for load balancers).
    pub tier: Option<Tier>,
    /// Exactly these subnets, where a cloud places services in subnets (a hint: clouds
    /// that place otherwise ignore it).
    pub subnets: Vec<Ref<Subnet>>,
    /// Groups attached to the service itself, on clouds whose services take groups (AWS);
    /// prefer access edges, which every cloud lowers.
    pub security_groups: Vec<Ref<SecurityGroup>>,
}

macro_rules! placement_builders {
    ($ty:ident) => {
        impl $ty {
            /// Place it in `network` (its subnets of the default tier, unless told).
            pub fn in_network(
                mut self,
                network: &$crate::model::Ref<$crate::model::Network>,
            ) -> Self {
                self.placement.network = Some(network.clone());
                self
            }
            /// Use the network's subnets of `tier`.
            pub fn in_tier(mut self, tier: $crate::model::Tier) -> Self {
                self.placement.tier = Some(tier);
                self
            }
            /// Also use subnet `s` (a hint for clouds that place services in subnets).
            pub fn subnet(mut self, s: &Ref<Subnet>) -> Self {
                self.placement.subnets.push(s.clone());
                self
            }
            /// Also use each subnet of `s` (hints, as with `subnet`).
            pub fn subnets<'a>(mut self, s: impl IntoIterator<Item = &'a Ref<Subnet>>) -> Self {
                self.placement.subnets.extend(s.into_iter().cloned());
                self
            }
            /// Attach group `g` to the service itself, on clouds whose services take groups (AWS);
            /// prefer access edges (`Stack::allow`), which every cloud lowers.
            pub fn security_group(mut self, g: &Ref<SecurityGroup>) -> Self {
                self.placement.security_groups.push(g.clone());
                self
            }
        }
    };
}
pub(super) use placement_builders;

/// Portable instance sizes. Providers map them to their classes (AWS `db.t3.medium`, a GCP
/// tier, an Azure SKU); the figure is the memory the size is meant to give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Size {
    /// about 1 GB
    Micro,
    /// about 2 GB
    Small,
    /// about 4 GB
    Medium,
    /// about 8 GB
    Large,
    /// about 16 GB
    XLarge,
    /// about 32 GB
    XXLarge,
}

impl Size {
    /// The size's name: `micro`, `small`, `medium`, `large`, `xlarge` or `2xlarge`.
    pub fn as_str(self) -> &'static str {
        match self {
            Size::Micro => "micro",
            Size::Small => "small",
            Size::Medium => "medium",
            Size::Large => "large",
            Size::XLarge => "xlarge",
            Size::XXLarge => "2xlarge",
        }
    }
    /// The memory the size is meant to give, in GB: 1 (`Micro`) to 32 (`XXLarge`).
    pub fn memory_gb(self) -> u32 {
        match self {
            Size::Micro => 1,
            Size::Small => 2,
            Size::Medium => 4,
            Size::Large => 8,
            Size::XLarge => 16,
            Size::XXLarge => 32,
        }
    }
}
