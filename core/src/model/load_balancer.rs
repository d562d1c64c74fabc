//! The portable load balancer: listeners (HTTPS with a certificate, an HTTP redirect, TCP),
//! target groups with health checks and blue/green sides, path routes, and the capability
//! table each provider's product is checked against.

use super::kinds::{placement_builders, portable_kind, Placement};
use super::{Common, Declare, Kind, KindName, Ref, Resource, SecurityGroup, Subnet};

/// An HTTP health check of a target group's backends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    /// Path requested on each backend; starts with `/`.
    pub path: String,
    /// Seconds between checks, in 5..=300.
    pub interval_s: u32,
    /// Seconds to wait for an answer; at least 1 and shorter than `interval_s`.
    pub timeout_s: u32,
    /// Consecutive passes before a backend counts healthy, in 2..=10.
    pub healthy_threshold: u32,
    /// Consecutive failures before a backend counts unhealthy, in 2..=10.
    pub unhealthy_threshold: u32,
    /// HTTP codes counted healthy, e.g. `200` or `200-299`.
    pub matcher: String,
}

impl HealthCheck {
    /// A check of `path` every 30 s with a 5 s timeout, 3 passes or failures to change
    /// state, and `200` counted healthy.
    pub fn http(path: &str) -> Self {
        HealthCheck {
            path: path.to_string(),
            interval_s: 30,
            timeout_s: 5,
            healthy_threshold: 3,
            unhealthy_threshold: 3,
            matcher: "200".to_string(),
        }
    }
}

/// The two sides of a blue/green target group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Colour {
    /// The blue side; live by default.
    #[default]
    Blue,
    /// The green side.
    Green,
}

impl Colour {
    /// The lowercase name (`blue`, `green`), also the suffix of that side's group name.
    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Blue => "blue",
            Colour::Green => "green",
        }
    }
}

/// A group of backends behind the load balancer. With `blue_green`, providers create two
/// groups (`-blue`, `-green`) and route to the `live` one, which the stack declares (a
/// switch is a one-line change, planned like any other).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetGroup {
    /// Name that routes and listeners use for it; unique within the balancer.
    pub name: String,
    /// Port the backends listen on, in 1..=65535.
    pub port: u32,
    /// How backends are checked; only healthy ones get traffic.
    pub health_check: HealthCheck,
    /// Two sides (`-blue`, `-green`) instead of one group; see `live`.
    pub blue_green: bool,
    /// With `blue_green`: the side that takes traffic.
    pub live: Colour,
}

impl TargetGroup {
    /// A single-sided group named `name`, sending to backends on `port`.
    pub fn new(name: &str, port: u32, health_check: HealthCheck) -> Self {
        TargetGroup {
            name: name.to_string(),
            port,
            health_check,
            blue_green: false,
            live: Colour::Blue,
        }
    }
    /// Two sides, blue live.
    pub fn blue_green(mut self) -> Self {
        self.blue_green = true;
        self
    }
    /// Two sides, `colour` live.
    pub fn live(mut self, colour: Colour) -> Self {
        self.blue_green = true;
        self.live = colour;
        self
    }
}

/// A TCP listener: connections on `port` go to a target group as they are (layer 4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpListener {
    /// Port the balancer listens on, in 1..=65535.
    pub port: u32,
    /// Name of the target group the connections go to.
    pub target: String,
}

/// What a load balancer can be asked for. Providers list those their product has
/// ([`crate::provider::ProviderSchema::lb_capabilities`]); a stack asking a cloud for one
/// it lacks is refused before any call, naming the field and the cloud, never dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LbCapability {
    /// HTTPS listener terminating TLS with a certificate.
    Https,
    /// A chosen TLS policy on the HTTPS listener.
    TlsPolicy,
    /// HTTP on port 80 answered with a 301 to HTTPS.
    HttpRedirect,
    /// Requests routed by path to target groups.
    PathRoutes,
    /// Routes matching only some client CIDRs.
    SourceCidrRoutes,
    /// Routes answered by the balancer itself with 403.
    DenyRoutes,
    /// Target groups with two sides and one live.
    BlueGreen,
    /// Layer-4 TCP listeners.
    TcpListeners,
    /// Certificates the cloud issues and renews ([`Certificate::Managed`]).
    ManagedCertificates,
    /// A balancer reachable inside the network only.
    Internal,
}

impl LbCapability {
    /// Every capability, for providers whose product has them all.
    pub const ALL: [LbCapability; 10] = [
        LbCapability::Https,
        LbCapability::ManagedCertificates,
        LbCapability::TlsPolicy,
        LbCapability::HttpRedirect,
        LbCapability::PathRoutes,
        LbCapability::SourceCidrRoutes,
        LbCapability::DenyRoutes,
        LbCapability::BlueGreen,
        LbCapability::TcpListeners,
        LbCapability::Internal,
    ];
    /// What it is, for "cannot …" messages.
    pub fn describe(self) -> &'static str {
        match self {
            LbCapability::Https => "terminate HTTPS",
            LbCapability::TlsPolicy => "take a TLS policy",
            LbCapability::HttpRedirect => "redirect HTTP to HTTPS",
            LbCapability::PathRoutes => "route by path",
            LbCapability::SourceCidrRoutes => "match routes by client CIDR",
            LbCapability::DenyRoutes => "answer a route with 403 itself",
            LbCapability::BlueGreen => "keep blue/green target groups",
            LbCapability::TcpListeners => "listen on TCP (layer 4)",
            LbCapability::ManagedCertificates => {
                "issue a managed certificate (give an existing one instead)"
            }
            LbCapability::Internal => "be internal to the network",
        }
    }
}

/// A path-based route on the HTTPS listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Evaluation order, lowest first; in 1..=50000 and unique within the balancer.
    pub priority: u32,
    /// Paths it matches, e.g. `/api/*`; each starts with `/` and is at most
    /// 128 characters.
    pub path_patterns: Vec<String>,
    /// Where matching requests go.
    pub target: RouteTarget,
    /// Only clients from these CIDRs match (empty: everyone).
    pub source_cidrs: Vec<String>,
}

/// Where a route sends what it matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteTarget {
    /// To the named target group.
    Forward(String),
    /// Answered by the balancer with 403 Forbidden (an admin path closed to the internet).
    Deny,
}

/// The certificate an HTTPS listener presents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Certificate {
    /// One the cloud already holds, in the cloud's own reference: an ACM certificate ARN on
    /// AWS, a `compute.sslCertificates` name on GCP, a Key Vault certificate id on Azure.
    /// The provider checks its shape before any call.
    Existing(String),
    /// One the cloud issues and renews for these domains (`ManagedCertificates`: not every
    /// provider's balancer can).
    Managed(Vec<String>),
}

impl Certificate {
    /// A certificate the cloud already holds, by the cloud's reference
    /// (see [`Certificate::Existing`]).
    pub fn existing(reference: &str) -> Self {
        Certificate::Existing(reference.to_string())
    }
    /// A certificate the cloud issues and renews for `domains`
    /// (see [`Certificate::Managed`]).
    pub fn managed<S: AsRef<str>>(domains: impl IntoIterator<Item = S>) -> Self {
        Certificate::Managed(
            domains
                .into_iter()
                .map(|d| d.as_ref().to_string())
                .collect(),
        )
    }
}

impl From<&str> for Certificate {
    fn from(reference: &str) -> Self {
        Certificate::existing(reference)
    }
}

impl From<String> for Certificate {
    fn from(reference: String) -> Self {
        Certificate::Existing(reference)
    }
}

impl From<&String> for Certificate {
    fn from(reference: &String) -> Self {
        Certificate::existing(reference)
    }
}

impl From<&Certificate> for Certificate {
    fn from(c: &Certificate) -> Self {
        c.clone()
    }
}

/// The HTTPS listener (port 443): its certificate and TLS policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Https {
    /// The certificate it presents.
    pub certificate: Certificate,
    /// TLS policy; `None` lets the provider choose a modern default.
    pub ssl_policy: Option<String>,
}

/// An HTTP(S) load balancer (ALB, GCP external HTTPS LB, Azure Application Gateway/LB).
///
/// ```
/// use cairn_core::prelude::*;
/// let mut stack = Stack::new("shop");
/// let net = stack.add("main", Network::new("10.0.0.0/16"));
/// let app = stack.add("app", SecurityGroup::new(&net, "the servers"));
/// let lb = stack.add(
///     "front",
///     LoadBalancer::public()
///         .in_network(&net)
///         .https(Certificate::managed(["shop.example.com"]))
///         .http_redirect()
///         .target_group(TargetGroup::new("api", 8080, HealthCheck::http("/health")).blue_green())
///         .target_group(TargetGroup::new("web", 3000, HealthCheck::http("/")))
///         .route(10, "/api/*", "api")
///         .deny(20, "/internal/*")
///         .default_target("web"),
/// );
/// // The balancer reaches the servers on their ports: the firewall rules follow.
/// stack.allow(lb.can_reach(&app).port(8080));
/// stack.allow(lb.can_reach(&app).port(3000));
/// assert!(cairn_core::validate::validate(&stack).is_ok());
/// ```
#[derive(Clone, Debug)]
pub struct LoadBalancer {
    /// Reachable inside the network only, rather than from the internet.
    pub internal: bool,
    /// HTTP on port 80 answers with a 301 redirect to HTTPS.
    pub http_redirect: bool,
    /// The HTTPS listener, if any; routes and the HTTP redirect need one.
    pub https: Option<Https>,
    /// The groups of backends; at least one.
    pub target_groups: Vec<TargetGroup>,
    /// Path routes on the HTTPS listener.
    pub routes: Vec<Route>,
    /// Target group for requests no route matches.
    pub default_target: Option<String>,
    /// Layer-4 listeners, each forwarding one port to a target group.
    pub tcp_listeners: Vec<TcpListener>,
    /// Where it sits: network, tier, subnet hints and groups.
    pub placement: Placement,
    /// Lifecycle, per-cloud overrides, tags and `depends_on`.
    pub common: Common,
}
portable_kind!(
    LoadBalancer,
    LoadBalancer,
    KindName::LoadBalancer,
    ["id", "address"]
);
placement_builders!(LoadBalancer);

impl LoadBalancer {
    /// An internet-facing balancer with no listeners or target groups yet.
    pub fn public() -> Self {
        LoadBalancer {
            internal: false,
            http_redirect: false,
            https: None,
            target_groups: Vec::new(),
            routes: Vec::new(),
            default_target: None,
            tcp_listeners: Vec::new(),
            placement: Placement::default(),
            common: Common::default(),
        }
    }
    /// A balancer reachable inside the network only, with no listeners or target
    /// groups yet.
    pub fn internal() -> Self {
        LoadBalancer {
            internal: true,
            ..LoadBalancer::public()
        }
    }
    /// Answer HTTP on port 80 with a 301 redirect to HTTPS (needs an HTTPS
    /// listener).
    pub fn http_redirect(mut self) -> Self {
        self.http_redirect = true;
        self
    }
    /// An HTTPS listener presenting `certificate` (a cloud reference as a string, or a
    /// [`Certificate`]).
    pub fn https(mut self, certificate: impl Into<Certificate>) -> Self {
        self.https = Some(Https {
            certificate: certificate.into(),
            ssl_policy: None,
        });
        self
    }
    /// Set the HTTPS listener's TLS policy, by the cloud's own name for it. Does
    /// nothing unless [`LoadBalancer::https`] was called first.
    pub fn ssl_policy(mut self, policy: &str) -> Self {
        if let Some(h) = &mut self.https {
            h.ssl_policy = Some(policy.to_string());
        }
        self
    }
    /// Add a target group.
    pub fn target_group(mut self, tg: TargetGroup) -> Self {
        self.target_groups.push(tg);
        self
    }
    /// Forward requests matching `path_pattern` to `target_group`, at `priority`
    /// (lowest is tried first).
    pub fn route(mut self, priority: u32, path_pattern: &str, target_group: &str) -> Self {
        self.routes.push(Route {
            priority,
            path_patterns: vec![path_pattern.to_string()],
            target: RouteTarget::Forward(target_group.to_string()),
            source_cidrs: Vec::new(),
        });
        self
    }
    /// A route only clients from `cidrs` match; pair it with [`LoadBalancer::deny`] on the
    /// same path at a later priority to close the path to everyone else.
    pub fn route_from(
        mut self,
        priority: u32,
        path_pattern: &str,
        target_group: &str,
        cidrs: &[&str],
    ) -> Self {
        self.routes.push(Route {
            priority,
            path_patterns: vec![path_pattern.to_string()],
            target: RouteTarget::Forward(target_group.to_string()),
            source_cidrs: cidrs.iter().map(|c| c.to_string()).collect(),
        });
        self
    }
    /// Answer `path_pattern` with 403 Forbidden.
    pub fn deny(mut self, priority: u32, path_pattern: &str) -> Self {
        self.routes.push(Route {
            priority,
            path_patterns: vec![path_pattern.to_string()],
            target: RouteTarget::Deny,
            source_cidrs: Vec::new(),
        });
        self
    }
    /// Send requests no route matches to `target_group`.
    pub fn default_target(mut self, target_group: &str) -> Self {
        self.default_target = Some(target_group.to_string());
        self
    }
    /// Forward TCP connections on `port` to `target_group` (layer 4).
    pub fn tcp(mut self, port: u32, target_group: &str) -> Self {
        self.tcp_listeners.push(TcpListener {
            port,
            target: target_group.to_string(),
        });
        self
    }

    /// Every capability this balancer asks for, with the field that asks.
    pub fn capabilities_used(&self) -> Vec<(LbCapability, String)> {
        let mut out = Vec::new();
        if self.https.is_some() {
            out.push((LbCapability::Https, "https".to_string()));
        }
        if self
            .https
            .as_ref()
            .is_some_and(|h| matches!(h.certificate, Certificate::Managed(_)))
        {
            out.push((
                LbCapability::ManagedCertificates,
                "https.certificate".to_string(),
            ));
        }
        if self.https.as_ref().is_some_and(|h| h.ssl_policy.is_some()) {
            out.push((LbCapability::TlsPolicy, "https.ssl_policy".to_string()));
        }
        if self.http_redirect {
            out.push((LbCapability::HttpRedirect, "http_redirect".to_string()));
        }
        if self.internal {
            out.push((LbCapability::Internal, "internal".to_string()));
        }
        for (i, r) in self.routes.iter().enumerate() {
            match r.target {
                RouteTarget::Forward(_) => {
                    out.push((LbCapability::PathRoutes, format!("routes[{i}]")));
                }
                RouteTarget::Deny => {
                    out.push((LbCapability::DenyRoutes, format!("routes[{i}].target")));
                }
            }
            if !r.source_cidrs.is_empty() {
                out.push((
                    LbCapability::SourceCidrRoutes,
                    format!("routes[{i}].source_cidrs"),
                ));
            }
        }
        for (i, tg) in self.target_groups.iter().enumerate() {
            if tg.blue_green {
                out.push((
                    LbCapability::BlueGreen,
                    format!("target_groups[{i}].blue_green"),
                ));
            }
        }
        for i in 0..self.tcp_listeners.len() {
            out.push((LbCapability::TcpListeners, format!("tcp_listeners[{i}]")));
        }
        out
    }
}
