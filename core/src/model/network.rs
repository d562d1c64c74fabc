//! Networking kinds: networks, subnets and security groups (with their rules).

use super::kinds::portable_kind;
use super::{Common, Declare, Kind, KindName, Ref, Resource};

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
#[derive(Clone, Debug)]
pub struct Network {
    pub cidr: String,
    pub dns: bool,
    pub nat: NatMode,
    /// A private endpoint to object storage (AWS S3 gateway endpoint).
    pub storage_endpoint: bool,
    pub common: Common,
}
portable_kind!(Network, Network, KindName::Network, ["id", "cidr"]);

impl Network {
    /// A network of `cidr` (a private IPv4 range, /16 to /28) with DNS on and, when it has
    /// private subnets, one NAT per zone ([`Network::nat`]).
    pub fn new(cidr: &str) -> Self {
        Network {
            cidr: cidr.to_string(),
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
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Public => "public",
            Tier::Private => "private",
            Tier::Isolated => "isolated",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Subnet {
    pub network: Ref<Network>,
    pub cidr: String,
    pub tier: Tier,
    /// Zone index: 0 = the region's first zone (`a`), 1 = `b`, ...
    pub zone: u8,
    pub common: Common,
}
portable_kind!(Subnet, Subnet, KindName::Subnet, ["id", "cidr", "zone"]);

impl Subnet {
    pub fn new(network: &Ref<Network>, cidr: &str) -> Self {
        Subnet {
            network: network.clone(),
            cidr: cidr.to_string(),
            tier: Tier::Private,
            zone: 0,
            common: Common::default(),
        }
    }
    pub fn tier(mut self, tier: Tier) -> Self {
        self.tier = tier;
        self
    }
    pub fn zone(mut self, zone: u8) -> Self {
        self.zone = zone;
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Security group

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    /// Every protocol and port.
    All,
}

impl Protocol {
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
    Cidr(String),
    Group(Ref<SecurityGroup>),
}

/// One firewall rule. Ports are stored as given (as u32) so validation can report an
/// out-of-range port instead of the type silently truncating it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub protocol: Protocol,
    pub from_port: u32,
    pub to_port: u32,
    pub source: Option<RuleSource>,
    pub description: String,
}

impl Rule {
    pub fn tcp(port: u32) -> Self {
        Rule::tcp_range(port, port)
    }
    pub fn tcp_range(from: u32, to: u32) -> Self {
        Rule {
            protocol: Protocol::Tcp,
            from_port: from,
            to_port: to,
            source: None,
            description: String::new(),
        }
    }
    pub fn udp(port: u32) -> Self {
        Rule {
            protocol: Protocol::Udp,
            ..Rule::tcp(port)
        }
    }
    pub fn all_traffic() -> Self {
        Rule {
            protocol: Protocol::All,
            from_port: 0,
            to_port: 65535,
            source: None,
            description: String::new(),
        }
    }
    pub fn from_cidr(mut self, cidr: &str) -> Self {
        self.source = Some(RuleSource::Cidr(cidr.to_string()));
        self
    }
    pub fn from_group(mut self, group: &Ref<SecurityGroup>) -> Self {
        self.source = Some(RuleSource::Group(group.clone()));
        self
    }
    /// For egress rules: same as `from_cidr`, reads better.
    pub fn to_cidr(self, cidr: &str) -> Self {
        self.from_cidr(cidr)
    }
    pub fn to_group(self, group: &Ref<SecurityGroup>) -> Self {
        self.from_group(group)
    }
    pub fn description(mut self, d: &str) -> Self {
        self.description = d.to_string();
        self
    }
}

/// A stateful firewall attached to services (AWS security group, GCP firewall rules with a
/// target tag, Azure NSG). Egress is explicit: an empty `egress` means no outbound traffic.
#[derive(Clone, Debug)]
pub struct SecurityGroup {
    pub network: Ref<Network>,
    pub description: String,
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
    pub common: Common,
}
portable_kind!(
    SecurityGroup,
    SecurityGroup,
    KindName::SecurityGroup,
    ["id"]
);

impl SecurityGroup {
    pub fn new(network: &Ref<Network>, description: &str) -> Self {
        SecurityGroup {
            network: network.clone(),
            description: description.to_string(),
            ingress: Vec::new(),
            egress: Vec::new(),
            common: Common::default(),
        }
    }
    pub fn ingress(mut self, rule: Rule) -> Self {
        self.ingress.push(rule);
        self
    }
    pub fn egress(mut self, rule: Rule) -> Self {
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
