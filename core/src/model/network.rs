//! Networking kinds: networks, subnets and security groups (with their rules).

use super::kinds::portable_kind;
use super::{Common, Declare, Kind, KindName, Ref, Resource};
use crate::value::Text;

// ---------------------------------------------------------------------------------------------
// Network

/// How private subnets reach the internet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatMode {
    /// No outbound internet from private subnets.
    None,
    /// One NAT per zone that has private subnets (zone failure does not cut the others off).
    PerZone,
    /// One NAT for the whole network (cheaper, one zone's outage cuts outbound traffic).
    Shared,
}

/// A private network (AWS VPC, GCP VPC network, Azure virtual network).
///
/// ```
/// use cairn_core::prelude::*;
/// let mut stack = Stack::new("shop");
/// // Private subnets of every zone share one NAT (the default is one per zone).
/// stack.add("main", Network::new("10.0.0.0/16").nat(NatMode::Shared));
/// assert!(cairn_core::validate::validate(&stack).is_ok());
///
/// // A range outside the private blocks is refused before any cloud call, by name and field.
/// let mut bad = Stack::new("shop");
/// bad.add("main", Network::new("8.8.0.0/16"));
/// let err = cairn_core::validate::validate(&bad).unwrap_err().to_string();
/// assert!(err.contains("network.main: field `cidr`") && err.contains("not a private range"));
/// ```
#[derive(Clone, Debug)]
pub struct Network {
    /// The network's IPv4 range: /16 to /28, inside 10.0.0.0/8, 172.16.0.0/12 or
    /// 192.168.0.0/16.
    pub cidr: Text,
    /// Name resolution inside the network (default on); GCP and Azure refuse `false`.
    pub dns: bool,
    /// How private subnets reach the internet (default [`NatMode::PerZone`]).
    pub nat: NatMode,
    /// A private endpoint to object storage (AWS S3 gateway endpoint).
    pub storage_endpoint: bool,
    /// What every kind carries: lifecycle, per-cloud overrides, `depends_on`, tags.
    pub common: Common,
}
portable_kind!(Network, Network, KindName::Network, ["id", "cidr"]);

impl Network {
    /// A network of `cidr` (a private IPv4 range, /16 to /28) with DNS on and, when it has
    /// private subnets, one NAT per zone ([`Network::nat`]).
    pub fn new(cidr: &str) -> Self {
        Network {
            cidr: Text::new(cidr),
            dns: true,
            nat: NatMode::PerZone,
            storage_endpoint: false,
            common: Common::default(),
        }
    }
    /// Name resolution inside the network (on by default).
    pub fn dns(mut self, on: bool) -> Self {
        self.dns = on;
        self
    }
    /// How [`Tier::Private`] subnets reach the internet. The default, [`NatMode::PerZone`],
    /// survives a zone's outage and costs the most: on AWS a NAT gateway and an Elastic IP
    /// in each zone with private subnets (each in that zone's public subnet, which AWS then
    /// requires), on Azure a NAT gateway and a public IP; GCP's Cloud NAT is regional
    /// either way. Every plan lists them. [`NatMode::Shared`] keeps one; [`NatMode::None`]
    /// none.
    pub fn nat(mut self, mode: NatMode) -> Self {
        self.nat = mode;
        self
    }
    /// Add a private endpoint to object storage (default off), so traffic to it stays off
    /// NAT and the internet.
    pub fn storage_endpoint(mut self, on: bool) -> Self {
        self.storage_endpoint = on;
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Subnet

/// What a subnet is for; decides its routing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// Routed to the internet gateway.
    Public,
    /// Outbound through NAT only: the network's [`NatMode`] decides how many NATs that
    /// brings (one per zone by default).
    Private,
    /// No route out at all (databases, caches).
    Isolated,
}

impl Tier {
    /// `public`, `private` or `isolated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Public => "public",
            Tier::Private => "private",
            Tier::Isolated => "isolated",
        }
    }
}

/// A part of a network's range, with a tier that decides its routing and a zone.
///
/// ```
/// use cairn_core::prelude::*;
/// let mut stack = Stack::new("shop");
/// let net = stack.add("main", Network::new("10.0.0.0/16"));
/// stack.add("web-a", Subnet::new(&net, "10.0.0.0/24").tier(Tier::Public).zone(0));
/// stack.add("db-a", Subnet::new(&net, "10.0.10.0/24").tier(Tier::Isolated).zone(0));
/// assert!(cairn_core::validate::validate(&stack).is_ok());
///
/// // Two subnets of one network may not overlap.
/// stack.add("db-b", Subnet::new(&net, "10.0.10.128/25").tier(Tier::Isolated).zone(1));
/// let err = cairn_core::validate::validate(&stack).unwrap_err().to_string();
/// assert!(err.contains("subnet.db-b: field `cidr`") && err.contains("overlaps"), "{err}");
/// ```
#[derive(Clone, Debug)]
pub struct Subnet {
    /// The network the subnet belongs to.
    pub network: Ref<Network>,
    /// The subnet's IPv4 range, /16 to /28, inside the network's and overlapping no other
    /// subnet of it.
    pub cidr: Text,
    /// What the subnet is for (default [`Tier::Private`]).
    pub tier: Tier,
    /// Zone index: 0 = the region's first zone (`a`), 1 = `b`, ...
    pub zone: u8,
    /// What every kind carries: lifecycle, per-cloud overrides, `depends_on`, tags.
    pub common: Common,
}
portable_kind!(Subnet, Subnet, KindName::Subnet, ["id", "cidr", "zone"]);

impl Subnet {
    /// A private subnet of `network` with range `cidr`, in zone 0.
    pub fn new(network: &Ref<Network>, cidr: &str) -> Self {
        Subnet {
            network: network.clone(),
            cidr: Text::new(cidr),
            tier: Tier::Private,
            zone: 0,
            common: Common::default(),
        }
    }
    /// Set the subnet's tier (default [`Tier::Private`]).
    pub fn tier(mut self, tier: Tier) -> Self {
        self.tier = tier;
        self
    }
    /// Set the zone index, 0 to 5 (default 0, the region's first zone).
    pub fn zone(mut self, zone: u8) -> Self {
        self.zone = zone;
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Security group

/// The IP protocol a firewall rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// TCP, on the rule's ports.
    Tcp,
    /// UDP, on the rule's ports.
    Udp,
    /// ICMP (the rule's ports are not checked).
    Icmp,
    /// Every protocol and port.
    All,
}

impl Protocol {
    /// `tcp`, `udp`, `icmp` or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
            Protocol::All => "all",
        }
    }
}

/// Where traffic of a rule comes from (ingress) or goes to (egress).
#[derive(Clone, Debug, PartialEq)]
pub enum RuleSource {
    /// An IPv4 CIDR block, e.g. `10.0.0.0/16` or `0.0.0.0/0`.
    Cidr(Text),
    /// The members of a security group.
    Group(Ref<SecurityGroup>),
}

/// One firewall rule. Ports are stored as given (as u32) so validation can report an
/// out-of-range port instead of the type silently truncating it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// The protocol the rule matches.
    pub protocol: Protocol,
    /// First port of the range, 1 to 65535 (not checked for ICMP and `All`).
    pub from_port: u32,
    /// Last port of the range, inclusive; not below `from_port`.
    pub to_port: u32,
    /// Where traffic comes from (ingress) or goes to (egress); validation refuses a rule
    /// without one.
    pub source: Option<RuleSource>,
    /// What the rule is for; at most 255 characters (140 on Azure).
    pub description: String,
}

impl Rule {
    /// TCP on one `port`; give it a source with `from_cidr` or `from_group`.
    pub fn tcp(port: u32) -> Self {
        Rule::tcp_range(port, port)
    }
    /// TCP on ports `from` to `to`, inclusive.
    pub fn tcp_range(from: u32, to: u32) -> Self {
        Rule {
            protocol: Protocol::Tcp,
            from_port: from,
            to_port: to,
            source: None,
            description: String::new(),
        }
    }
    /// UDP on one `port`.
    pub fn udp(port: u32) -> Self {
        Rule {
            protocol: Protocol::Udp,
            ..Rule::tcp(port)
        }
    }
    /// Every protocol and port (0 to 65535).
    pub fn all_traffic() -> Self {
        Rule {
            protocol: Protocol::All,
            from_port: 0,
            to_port: 65535,
            source: None,
            description: String::new(),
        }
    }
    /// Traffic from (for egress: to) the CIDR block `cidr`.
    pub fn from_cidr(mut self, cidr: &str) -> Self {
        self.source = Some(RuleSource::Cidr(Text::new(cidr)));
        self
    }
    /// Traffic from (for egress: to) the members of `group`.
    pub fn from_group(mut self, group: &Ref<SecurityGroup>) -> Self {
        self.source = Some(RuleSource::Group(group.clone()));
        self
    }
    /// For egress rules: same as `from_cidr`, reads better.
    pub fn to_cidr(self, cidr: &str) -> Self {
        self.from_cidr(cidr)
    }
    /// For egress rules: same as `from_group`, reads better.
    pub fn to_group(self, group: &Ref<SecurityGroup>) -> Self {
        self.from_group(group)
    }
    /// Say what the rule is for.
    pub fn description(mut self, d: &str) -> Self {
        self.description = d.to_string();
        self
    }
}

/// A stateful firewall attached to services (AWS security group, GCP firewall rules with a
/// target tag, Azure NSG). Egress is explicit: an empty `egress` means no outbound traffic.
///
/// ```
/// use cairn_core::prelude::*;
/// let mut stack = Stack::new("shop");
/// let net = stack.add("main", Network::new("10.0.0.0/16"));
/// let web = stack.add(
///     "web",
///     SecurityGroup::new(&net, "the web tier")
///         .ingress(Rule::tcp(443).from_cidr("0.0.0.0/0").description("https"))
///         .allow_all_egress(),
/// );
/// stack.add(
///     "app",
///     SecurityGroup::new(&net, "the servers")
///         .ingress(Rule::tcp(8080).from_group(&web).description("from the web tier")),
/// );
/// assert!(cairn_core::validate::validate(&stack).is_ok());
///
/// // A port out of range is named, not truncated.
/// stack.add("bad", SecurityGroup::new(&net, "typo").ingress(Rule::tcp(80800)));
/// let err = cairn_core::validate::validate(&stack).unwrap_err().to_string();
/// assert!(err.contains("security_group.bad: field `ingress[0]"), "{err}");
/// ```
#[derive(Clone, Debug)]
pub struct SecurityGroup {
    /// The network the group belongs to.
    pub network: Ref<Network>,
    /// What the group is for; required by clouds, at most 255 characters.
    pub description: Text,
    /// Rules for incoming traffic.
    pub ingress: Vec<Rule>,
    /// Rules for outgoing traffic; empty means none is allowed.
    pub egress: Vec<Rule>,
    /// What every kind carries: lifecycle, per-cloud overrides, `depends_on`, tags.
    pub common: Common,
}
portable_kind!(
    SecurityGroup,
    SecurityGroup,
    KindName::SecurityGroup,
    ["id"]
);

impl SecurityGroup {
    /// A group in `network` with no rules, so no traffic in or out (see
    /// [`SecurityGroup::allow_all_egress`]).
    pub fn new(network: &Ref<Network>, description: &str) -> Self {
        SecurityGroup {
            network: network.clone(),
            description: Text::new(description),
            ingress: Vec::new(),
            egress: Vec::new(),
            common: Common::default(),
        }
    }
    /// Add a rule for incoming traffic.
    pub fn ingress(mut self, rule: Rule) -> Self {
        // Room for this rule alone: most groups hold one or two, and a first push would
        // reserve four.
        self.ingress.reserve_exact(1);
        self.ingress.push(rule);
        self
    }
    /// Add a rule for outgoing traffic.
    pub fn egress(mut self, rule: Rule) -> Self {
        self.egress.reserve_exact(1);
        self.egress.push(rule);
        self
    }
    /// The common default: all outbound traffic allowed.
    pub fn allow_all_egress(self) -> Self {
        self.egress(
            Rule::all_traffic()
                .to_cidr("0.0.0.0/0")
                .description("all outbound"),
        )
    }
}
