//! Managed-service kinds: secrets, PostgreSQL, Kafka-compatible brokers, load balancers
//! and Redis caches, each placed in subnets behind security groups.

use super::kinds::{placement_builders, portable_kind, Placement, Size};
use super::{Common, Declare, Kind, KindName, Ref, Resource, SecurityGroup, Subnet};
use crate::value::{GeneratedSpec, Sensitive};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// Secret

#[derive(Clone, Debug)]
pub enum SecretSource {
    Generated(GeneratedSpec),
    Given(Sensitive),
    /// Made for the one service that uses it (a cache's AUTH key, a database's admin
    /// password, a broker's credentials): where that cloud's service makes its own
    /// (Memorystore's AUTH string, an Event Hubs connection string) cairn stores what it
    /// made; where it takes one (ElastiCache, RDS) the provider generates one that service
    /// accepts. Either way the stack says only that the secret exists and who uses it.
    Produced,
}

/// A secret value stored in the cloud's secret store. Its value never appears in plans,
/// JSON, logs, errors or state (state keeps a salted digest).
#[derive(Clone, Debug)]
pub struct Secret {
    pub source: SecretSource,
    pub description: String,
    pub common: Common,
}
portable_kind!(Secret, Secret, KindName::Secret, ["id", "value"]);

/// Symbols a generated password may hold: printable, and none of `/ " @ '` or space,
/// which some database engines refuse in passwords.
pub const PASSWORD_SYMBOLS: &str = "!#$%&*()-_=+[]{}<>:?";

impl Secret {
    /// A password generated at apply time by the OS CSPRNG (32 characters by default).
    pub fn generated() -> Self {
        Secret {
            source: SecretSource::Generated(GeneratedSpec {
                length: 32,
                symbols: PASSWORD_SYMBOLS.into(),
            }),
            description: String::new(),
            common: Common::default(),
        }
    }
    /// A secret made for (or by) the one service that uses it; see
    /// [`SecretSource::Produced`].
    pub fn produced() -> Self {
        Secret {
            source: SecretSource::Produced,
            description: String::new(),
            common: Common::default(),
        }
    }
    /// A value the user provides (read from the environment, a vault, ...).
    pub fn given(value: impl Into<String>) -> Self {
        Secret {
            source: SecretSource::Given(Sensitive::new(value)),
            description: String::new(),
            common: Common::default(),
        }
    }
    pub fn length(mut self, length: u32) -> Self {
        if let SecretSource::Generated(g) = &mut self.source {
            g.length = length;
        }
        self
    }
    pub fn symbols(mut self, symbols: &str) -> Self {
        if let SecretSource::Generated(g) = &mut self.source {
            g.symbols = symbols.to_string();
        }
        self
    }
    pub fn description(mut self, d: &str) -> Self {
        self.description = d.to_string();
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Database

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageType {
    /// General-purpose SSD (AWS gp3, GCP PD-SSD, Azure Premium SSD).
    Ssd,
    /// Provisioned-IOPS SSD (AWS io1/io2).
    ProvisionedIops,
    /// Magnetic / standard (cheapest, not for production).
    Standard,
}

impl StorageType {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageType::Ssd => "ssd",
            StorageType::ProvisionedIops => "provisioned_iops",
            StorageType::Standard => "standard",
        }
    }
}

/// A day of the week (UTC), for weekly windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    /// `mon` … `sun`.
    pub fn as_str(self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }
    /// Monday is 0.
    pub fn index(self) -> u32 {
        self as u32
    }
}

/// A time window in UTC: every day or one day a week, starting on the hour and lasting whole
/// hours (1 by default).
///
/// Whole hours because that is what every cloud can honour: Cloud SQL takes a day and an
/// hour, Azure a day, hour and minute, RDS any `hh:mm` range. Each provider documents how it
/// renders a window (RDS: `03:00-04:00`, `sun:05:00-sun:06:00`; Cloud SQL: the start only;
/// Azure flexible server: day and start, its window length being fixed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    /// `None`: every day.
    pub day: Option<Weekday>,
    /// 0–23.
    pub start_hour: u8,
    /// 1–24.
    pub hours: u8,
}

impl Window {
    /// Every day at `start_hour` UTC, for an hour.
    pub fn daily(start_hour: u8) -> Window {
        Window {
            day: None,
            start_hour,
            hours: 1,
        }
    }
    /// Every week on `day` at `start_hour` UTC, for an hour.
    pub fn weekly(day: Weekday, start_hour: u8) -> Window {
        Window {
            day: Some(day),
            start_hour,
            hours: 1,
        }
    }
    /// Last `hours` hours instead of one.
    pub fn hours(mut self, hours: u8) -> Window {
        self.hours = hours;
        self
    }
    /// Start and end in minutes from Monday 00:00 (daily windows: from midnight); the end
    /// may pass the week's (or day's) end.
    pub fn minutes(&self) -> (u32, u32) {
        let start = self.day.map_or(0, |d| d.index() * 1440) + u32::from(self.start_hour) * 60;
        (start, start + u32::from(self.hours) * 60)
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.day {
            Some(d) => write!(f, "{} ", d.as_str())?,
            None => f.write_str("daily ")?,
        }
        write!(f, "{:02}:00 for {}h", self.start_hour, self.hours)
    }
}

/// A managed PostgreSQL server (RDS, Cloud SQL, Azure Database for PostgreSQL flexible).
#[derive(Clone, Debug)]
pub struct Database {
    /// Major version, e.g. `15`: each cloud picks (and patches) the minor. A minor is pinned
    /// per cloud with an override (`override_for("aws", "engine_version", "15.4")`).
    pub version: String,
    pub size: Size,
    pub storage_gb: u32,
    pub storage_type: StorageType,
    pub high_availability: bool,
    pub backup_retention_days: u32,
    /// Daily backup window ([`Window::daily`]).
    pub backup_window: Option<Window>,
    /// Weekly maintenance window ([`Window::weekly`]).
    pub maintenance_window: Option<Window>,
    pub encrypted: bool,
    pub deletion_protection: bool,
    /// Logical databases to create on the server.
    pub databases: Vec<String>,
    pub admin_user: String,
    pub admin_password: Option<Ref<Secret>>,
    /// The cloud generates, stores and rotates the admin password in its own secret store
    /// (RDS `ManageMasterUserPassword`); instead of `admin_password`.
    pub cloud_managed_password: bool,
    /// Server parameters (a parameter group on AWS).
    pub parameters: BTreeMap<String, String>,
    pub placement: Placement,
    pub common: Common,
}
portable_kind!(
    Database,
    Database,
    KindName::Database,
    ["id", "endpoint", "port"]
);
placement_builders!(Database);

impl Database {
    pub fn postgres(version: &str) -> Self {
        Database {
            version: version.to_string(),
            size: Size::Small,
            storage_gb: 20,
            storage_type: StorageType::Ssd,
            high_availability: false,
            backup_retention_days: 7,
            backup_window: None,
            maintenance_window: None,
            encrypted: true,
            deletion_protection: false,
            databases: Vec::new(),
            admin_user: "cairn_admin".to_string(),
            admin_password: None,
            cloud_managed_password: false,
            parameters: BTreeMap::new(),
            placement: Placement::default(),
            common: Common::default(),
        }
    }
    pub fn size(mut self, s: Size) -> Self {
        self.size = s;
        self
    }
    pub fn storage_gb(mut self, gb: u32) -> Self {
        self.storage_gb = gb;
        self
    }
    pub fn storage_type(mut self, t: StorageType) -> Self {
        self.storage_type = t;
        self
    }
    pub fn high_availability(mut self, on: bool) -> Self {
        self.high_availability = on;
        self
    }
    pub fn backup_retention_days(mut self, days: u32) -> Self {
        self.backup_retention_days = days;
        self
    }
    pub fn backup_window(mut self, w: Window) -> Self {
        self.backup_window = Some(w);
        self
    }
    pub fn set_backup_window(mut self, w: Option<Window>) -> Self {
        self.backup_window = w;
        self
    }
    pub fn maintenance_window(mut self, w: Window) -> Self {
        self.maintenance_window = Some(w);
        self
    }
    pub fn set_maintenance_window(mut self, w: Option<Window>) -> Self {
        self.maintenance_window = w;
        self
    }
    pub fn encrypted(mut self, on: bool) -> Self {
        self.encrypted = on;
        self
    }
    pub fn deletion_protection(mut self, on: bool) -> Self {
        self.deletion_protection = on;
        self
    }
    pub fn database(mut self, name: &str) -> Self {
        self.databases.push(name.to_string());
        self
    }
    pub fn admin_user(mut self, user: &str) -> Self {
        self.admin_user = user.to_string();
        self
    }
    pub fn admin_password(mut self, secret: &Ref<Secret>) -> Self {
        self.admin_password = Some(secret.clone());
        self
    }
    /// Let the cloud own the admin password (see [`Database::cloud_managed_password`]).
    pub fn cloud_managed_password(mut self) -> Self {
        self.cloud_managed_password = true;
        self
    }
    pub fn parameter(mut self, key: &str, value: &str) -> Self {
        self.parameters.insert(key.to_string(), value.to_string());
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Broker

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    pub name: String,
    pub partitions: u32,
    pub replication: u32,
}

/// A Kafka-compatible broker cluster (MSK, Managed Kafka, Event Hubs with the Kafka surface).
#[derive(Clone, Debug)]
pub struct Broker {
    pub version: String,
    pub brokers: u32,
    pub size: Size,
    pub storage_gb: u32,
    pub tls: bool,
    pub topics: Vec<Topic>,
    pub credentials: Option<Ref<Secret>>,
    pub placement: Placement,
    pub common: Common,
}
portable_kind!(
    Broker,
    Broker,
    KindName::Broker,
    ["id", "bootstrap_brokers"]
);
placement_builders!(Broker);

impl Broker {
    pub fn kafka(version: &str) -> Self {
        Broker {
            version: version.to_string(),
            brokers: 3,
            size: Size::Large,
            storage_gb: 100,
            tls: true,
            topics: Vec::new(),
            credentials: None,
            placement: Placement::default(),
            common: Common::default(),
        }
    }
    pub fn brokers(mut self, n: u32) -> Self {
        self.brokers = n;
        self
    }
    pub fn size(mut self, s: Size) -> Self {
        self.size = s;
        self
    }
    pub fn storage_gb(mut self, gb: u32) -> Self {
        self.storage_gb = gb;
        self
    }
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }
    /// A topic replicated to min(3, brokers) brokers.
    pub fn topic(mut self, name: &str, partitions: u32) -> Self {
        let replication = self.brokers.clamp(1, 3);
        self.topics.push(Topic {
            name: name.to_string(),
            partitions,
            replication,
        });
        self
    }
    pub fn topic_with(mut self, topic: Topic) -> Self {
        self.topics.push(topic);
        self
    }
    pub fn credentials(mut self, secret: &Ref<Secret>) -> Self {
        self.credentials = Some(secret.clone());
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Load balancer

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    pub path: String,
    pub interval_s: u32,
    pub timeout_s: u32,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    /// HTTP codes counted healthy, e.g. `200` or `200-299`.
    pub matcher: String,
}

impl HealthCheck {
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
    #[default]
    Blue,
    Green,
}

impl Colour {
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
    pub name: String,
    pub port: u32,
    pub health_check: HealthCheck,
    pub blue_green: bool,
    /// With `blue_green`: the side that takes traffic.
    pub live: Colour,
}

impl TargetGroup {
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
    pub port: u32,
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
    pub priority: u32,
    pub path_patterns: Vec<String>,
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
    pub fn existing(reference: &str) -> Self {
        Certificate::Existing(reference.to_string())
    }
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Https {
    pub certificate: Certificate,
    /// TLS policy; `None` lets the provider choose a modern default.
    pub ssl_policy: Option<String>,
}

/// An HTTP(S) load balancer (ALB, GCP external HTTPS LB, Azure Application Gateway/LB).
#[derive(Clone, Debug)]
pub struct LoadBalancer {
    pub internal: bool,
    /// HTTP on port 80 answers with a 301 redirect to HTTPS.
    pub http_redirect: bool,
    pub https: Option<Https>,
    pub target_groups: Vec<TargetGroup>,
    pub routes: Vec<Route>,
    /// Target group for requests no route matches.
    pub default_target: Option<String>,
    pub tcp_listeners: Vec<TcpListener>,
    pub placement: Placement,
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
    pub fn internal() -> Self {
        LoadBalancer {
            internal: true,
            ..LoadBalancer::public()
        }
    }
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
    pub fn ssl_policy(mut self, policy: &str) -> Self {
        if let Some(h) = &mut self.https {
            h.ssl_policy = Some(policy.to_string());
        }
        self
    }
    pub fn target_group(mut self, tg: TargetGroup) -> Self {
        self.target_groups.push(tg);
        self
    }
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

// ---------------------------------------------------------------------------------------------
// Cache

/// A managed Redis (ElastiCache replication group, Memorystore, Azure Cache for Redis).
#[derive(Clone, Debug)]
pub struct Cache {
    /// Major version, e.g. `7`; each cloud maps it to what it offers (or refuses it).
    pub version: String,
    pub size: Size,
    /// Read replicas besides the primary.
    pub replicas: u32,
    pub automatic_failover: bool,
    pub multi_zone: bool,
    pub transit_encryption: bool,
    pub at_rest_encryption: bool,
    pub auth_token: Option<Ref<Secret>>,
    /// The port, where a cloud lets it be chosen (ElastiCache does; Memorystore and Azure
    /// Cache for Redis do not, and refuse a port set here); `None`: the cloud's own.
    pub port: Option<u32>,
    pub placement: Placement,
    pub common: Common,
}
portable_kind!(Cache, Cache, KindName::Cache, ["id", "endpoint", "port"]);
placement_builders!(Cache);

impl Cache {
    pub fn redis(version: &str) -> Self {
        Cache {
            version: version.to_string(),
            size: Size::Small,
            replicas: 1,
            automatic_failover: true,
            multi_zone: true,
            transit_encryption: true,
            at_rest_encryption: true,
            auth_token: None,
            port: None,
            placement: Placement::default(),
            common: Common::default(),
        }
    }
    pub fn size(mut self, s: Size) -> Self {
        self.size = s;
        self
    }
    pub fn replicas(mut self, n: u32) -> Self {
        self.replicas = n;
        self
    }
    pub fn automatic_failover(mut self, on: bool) -> Self {
        self.automatic_failover = on;
        self
    }
    pub fn multi_zone(mut self, on: bool) -> Self {
        self.multi_zone = on;
        self
    }
    pub fn transit_encryption(mut self, on: bool) -> Self {
        self.transit_encryption = on;
        self
    }
    pub fn at_rest_encryption(mut self, on: bool) -> Self {
        self.at_rest_encryption = on;
        self
    }
    pub fn auth_token(mut self, secret: &Ref<Secret>) -> Self {
        self.auth_token = Some(secret.clone());
        self
    }
    pub fn port(mut self, port: u32) -> Self {
        self.port = Some(port);
        self
    }
}
