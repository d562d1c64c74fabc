//! Managed-service kinds: secrets, PostgreSQL, Kafka-compatible brokers, load balancers
//! and Redis caches, each placed in subnets behind security groups.

use super::kinds::{placement_builders, portable_kind, Placement, Size};
use super::{Common, Declare, Kind, KindName, Ref, Resource, SecurityGroup, Subnet};
use crate::value::{GeneratedSpec, Sensitive};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// Secret

/// Where a secret's value comes from.
#[derive(Clone, Debug)]
pub enum SecretSource {
    /// Generated at apply time to the spec (length and allowed symbols).
    Generated(GeneratedSpec),
    /// Provided by the user; validation requires a strong password.
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
///
/// ```
/// use cairn_core::prelude::*;
/// let mut stack = Stack::new("shop");
/// stack.add("api-key", Secret::generated().length(32).description("the API's key"));
/// assert!(cairn_core::validate::validate(&stack).is_ok());
///
/// // A given value must be strong enough for the services that use it.
/// stack.add("weak", Secret::given("password"));
/// let err = cairn_core::validate::validate(&stack).unwrap_err().to_string();
/// assert!(err.contains("secret.weak: field `value`"), "{err}");
/// ```
#[derive(Clone, Debug)]
pub struct Secret {
    /// Where the value comes from.
    pub source: SecretSource,
    /// What the secret is for.
    pub description: String,
    /// What every kind carries: lifecycle, per-cloud overrides, `depends_on`, tags.
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
    /// Length of a generated value, 16 to 128 characters (default 32); other sources
    /// ignore it.
    pub fn length(mut self, length: u32) -> Self {
        if let SecretSource::Generated(g) = &mut self.source {
            g.length = length;
        }
        self
    }
    /// Symbols a generated value may hold (default [`PASSWORD_SYMBOLS`]); other
    /// sources ignore it.
    pub fn symbols(mut self, symbols: &str) -> Self {
        if let SecretSource::Generated(g) = &mut self.source {
            g.symbols = symbols.to_string();
        }
        self
    }
    /// Say what the secret is for.
    pub fn description(mut self, d: &str) -> Self {
        self.description = d.to_string();
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Database

/// The kind of disk behind a database.
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
    /// `ssd`, `provisioned_iops` or `standard`.
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
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    /// The seven days in order, Monday first (the order of [`Weekday::index`]).
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
///
/// ```
/// use cairn_core::prelude::*;
/// let mut stack = Stack::new("shop");
/// let net = stack.add("main", Network::new("10.0.0.0/16"));
/// let a = stack.add("db-a", Subnet::new(&net, "10.0.1.0/24").tier(Tier::Isolated).zone(0));
/// let b = stack.add("db-b", Subnet::new(&net, "10.0.2.0/24").tier(Tier::Isolated).zone(1));
/// let password = stack.add("db-password", Secret::generated());
/// stack.add(
///     "orders",
///     Database::postgres("16")
///         .subnets([&a, &b])
///         .high_availability(true)
///         .backup_retention_days(14)
///         .admin_password(&password)
///         .database("orders")
///         .database("billing"),
/// );
/// assert!(cairn_core::validate::validate(&stack).is_ok());
///
/// // A database needs its administrator's password from a secret of the stack.
/// stack.add("reports", Database::postgres("16").subnets([&a, &b]));
/// let err = cairn_core::validate::validate(&stack).unwrap_err().to_string();
/// assert!(err.contains("database.reports: field `admin_password`"), "{err}");
/// ```
#[derive(Clone, Debug)]
pub struct Database {
    /// Major version, e.g. `15`: each cloud picks (and patches) the minor. A minor is pinned
    /// per cloud with an override (`override_for("aws", "engine_version", "15.4")`).
    pub version: String,
    /// Instance size (default [`Size::Small`]); each cloud maps it to its own class.
    pub size: Size,
    /// Allocated storage in GB, 20 to 65536 (default 20).
    pub storage_gb: u32,
    /// The disk type (default [`StorageType::Ssd`]).
    pub storage_type: StorageType,
    /// A standby in another zone that takes over on failure (default off); needs backups
    /// (`backup_retention_days` of at least 1).
    pub high_availability: bool,
    /// Days automated backups are kept, 0 to 35 (default 7); 0 turns automated backups off.
    pub backup_retention_days: u32,
    /// Daily backup window ([`Window::daily`]).
    pub backup_window: Option<Window>,
    /// Weekly maintenance window ([`Window::weekly`]).
    pub maintenance_window: Option<Window>,
    /// Encrypt storage at rest (default on); GCP and Azure always do and refuse `false`.
    pub encrypted: bool,
    /// Ask the cloud to refuse deletion (default off); Azure has no such setting (use
    /// `protect()`, which cairn enforces).
    pub deletion_protection: bool,
    /// Logical databases to create on the server.
    pub databases: Vec<String>,
    /// The admin login: 1 to 16 letters, digits or `_`, starting with a letter (default
    /// `cairn_admin`); names a cloud reserves (`admin`, `root`, ...) are refused.
    pub admin_user: String,
    /// The secret holding the admin password; required unless `cloud_managed_password` is set
    /// (never both).
    pub admin_password: Option<Ref<Secret>>,
    /// The cloud generates, stores and rotates the admin password in its own secret store
    /// (RDS `ManageMasterUserPassword`); instead of `admin_password`.
    pub cloud_managed_password: bool,
    /// Server parameters (a parameter group on AWS).
    pub parameters: BTreeMap<String, String>,
    /// Where the server sits (default tier: isolated).
    pub placement: Placement,
    /// What every kind carries: lifecycle, per-cloud overrides, `depends_on`, tags.
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
    /// A PostgreSQL server of major `version` (11 or newer): small, 20 GB of SSD, encrypted,
    /// backups kept seven days, no standby. Give it an admin password (or
    /// `cloud_managed_password()`) before it validates.
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
    /// Set the instance size (default [`Size::Small`]).
    pub fn size(mut self, s: Size) -> Self {
        self.size = s;
        self
    }
    /// Set the allocated storage in GB, 20 to 65536 (default 20).
    pub fn storage_gb(mut self, gb: u32) -> Self {
        self.storage_gb = gb;
        self
    }
    /// Set the disk type (default [`StorageType::Ssd`]).
    pub fn storage_type(mut self, t: StorageType) -> Self {
        self.storage_type = t;
        self
    }
    /// Keep a standby in another zone (default off).
    pub fn high_availability(mut self, on: bool) -> Self {
        self.high_availability = on;
        self
    }
    /// Keep automated backups `days` days, 0 to 35 (default 7; 0: none).
    pub fn backup_retention_days(mut self, days: u32) -> Self {
        self.backup_retention_days = days;
        self
    }
    /// Take daily backups in `w`, a [`Window::daily`].
    pub fn backup_window(mut self, w: Window) -> Self {
        self.backup_window = Some(w);
        self
    }
    /// Set or clear the daily backup window.
    pub fn set_backup_window(mut self, w: Option<Window>) -> Self {
        self.backup_window = w;
        self
    }
    /// Do the cloud's maintenance in `w`, a [`Window::weekly`].
    pub fn maintenance_window(mut self, w: Window) -> Self {
        self.maintenance_window = Some(w);
        self
    }
    /// Set or clear the weekly maintenance window.
    pub fn set_maintenance_window(mut self, w: Option<Window>) -> Self {
        self.maintenance_window = w;
        self
    }
    /// Encrypt storage at rest (default on).
    pub fn encrypted(mut self, on: bool) -> Self {
        self.encrypted = on;
        self
    }
    /// Ask the cloud to refuse deletion (default off).
    pub fn deletion_protection(mut self, on: bool) -> Self {
        self.deletion_protection = on;
        self
    }
    /// Create the logical database `name` on the server (1 to 63 letters, digits or `_`).
    pub fn database(mut self, name: &str) -> Self {
        self.databases.push(name.to_string());
        self
    }
    /// Set the admin login (default `cairn_admin`).
    pub fn admin_user(mut self, user: &str) -> Self {
        self.admin_user = user.to_string();
        self
    }
    /// Use `secret` as the admin password.
    pub fn admin_password(mut self, secret: &Ref<Secret>) -> Self {
        self.admin_password = Some(secret.clone());
        self
    }
    /// Let the cloud own the admin password (see [`Database::cloud_managed_password`]).
    pub fn cloud_managed_password(mut self) -> Self {
        self.cloud_managed_password = true;
        self
    }
    /// Set the server parameter `key` to `value` (a parameter group on AWS).
    pub fn parameter(mut self, key: &str, value: &str) -> Self {
        self.parameters.insert(key.to_string(), value.to_string());
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Broker

/// A Kafka topic, in the settings every Kafka-compatible service carries per topic (MSK's
/// topic API, Managed Kafka topics, Event Hubs event hubs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    /// The topic name: 1 to 249 letters, digits, `.`, `_` or `-`, unique in the broker.
    pub name: String,
    /// Partitions (only ever grown: Kafka cannot shrink a topic).
    pub partitions: u32,
    /// Copies of each partition. 3 (one per zone) unless said otherwise; a cloud that
    /// replicates by itself (Event Hubs) refuses another value.
    pub replication: u32,
    /// How long records are kept, in hours (Kafka's default: 168, seven days).
    pub retention_hours: u32,
    /// Keep the newest record per key instead of deleting by age (`cleanup.policy=compact`).
    pub compacted: bool,
}

impl Topic {
    /// Kafka's defaults: three copies, kept seven days, deleted by age.
    pub fn new(name: &str, partitions: u32) -> Self {
        Topic {
            name: name.to_string(),
            partitions,
            replication: 3,
            retention_hours: 168,
            compacted: false,
        }
    }
    /// Keep `copies` copies of each partition, 1 to 5 (default 3).
    pub fn replication(mut self, copies: u32) -> Self {
        self.replication = copies;
        self
    }
    /// Keep records `hours` hours, 1 to 87600 (default 168).
    pub fn retention_hours(mut self, hours: u32) -> Self {
        self.retention_hours = hours;
        self
    }
    /// Keep the newest record per key instead of deleting by age (default off).
    pub fn compacted(mut self, on: bool) -> Self {
        self.compacted = on;
        self
    }
}

/// Produce throughput one vCPU of a Kafka broker is taken to carry (MB/s), with its
/// share of replication and of consumers reading at up to three times that rate. A
/// conservative rule of thumb shared by the providers that size compute (MSK, Managed
/// Kafka), so one stack gets comparable clusters on each.
pub const PRODUCE_MB_S_PER_VCPU: u32 = 5;

/// A Kafka-compatible broker cluster (MSK, Managed Kafka, Event Hubs with the Kafka surface).
///
/// Sized by what it must carry, not by a cloud's machines: each cloud provisions its own
/// units for [`Broker::throughput_mb_s`] and [`Broker::storage_gb`] (MSK brokers × instance
/// type × disk, Managed Kafka vCPUs and memory, Event Hubs throughput units), and the plan
/// shows what it chose. `override_for` pins a cloud's own figure.
///
/// ```
/// use cairn_core::prelude::*;
/// let mut stack = Stack::new("shop");
/// let net = stack.add("main", Network::new("10.0.0.0/16"));
/// stack.add(
///     "events",
///     Broker::kafka("3")
///         .in_network(&net)
///         .throughput_mb_s(20)
///         .topic("orders", 6)
///         .topic_with(Topic::new("audit", 3).retention_hours(24 * 30)),
/// );
/// assert!(cairn_core::validate::validate(&stack).is_ok());
///
/// // Settings are checked together at validation, in whatever order they were given.
/// stack.add("spare", Broker::kafka("3").in_network(&net).topic("orders", 0));
/// let err = cairn_core::validate::validate(&stack).unwrap_err().to_string();
/// assert!(err.contains("broker.spare: field `topics[0].partitions`"), "{err}");
/// ```
#[derive(Clone, Debug)]
pub struct Broker {
    /// Kafka major version, e.g. `3`; each cloud maps it to what it offers (or refuses it).
    pub version: String,
    /// Peak produce rate over all topics, in MB/s.
    pub throughput_mb_s: u32,
    /// Data kept at once over all topics, one copy, in GB (replication is added by cairn).
    pub storage_gb: u32,
    /// TLS between clients and brokers (default on); GCP and Azure always use it and refuse
    /// `false`.
    pub tls: bool,
    /// Topics to create on the cluster.
    pub topics: Vec<Topic>,
    /// The secret clients authenticate with, where a cloud keeps one (Azure: a produced
    /// connection string); AWS and GCP refuse it.
    pub credentials: Option<Ref<Secret>>,
    /// Where the cluster sits.
    pub placement: Placement,
    /// What every kind carries: lifecycle, per-cloud overrides, `depends_on`, tags.
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
    /// A cluster for `throughput_mb_s` 1 MB/s and 100 GB, TLS on, no topics.
    pub fn kafka(major: &str) -> Self {
        Broker {
            version: major.to_string(),
            throughput_mb_s: 1,
            storage_gb: 100,
            tls: true,
            topics: Vec::new(),
            credentials: None,
            placement: Placement::default(),
            common: Common::default(),
        }
    }
    /// Set the peak produce rate over all topics, in MB/s (1 to 10000).
    pub fn throughput_mb_s(mut self, mb_s: u32) -> Self {
        self.throughput_mb_s = mb_s;
        self
    }
    /// Set the data kept over all topics, one copy, in GB (1 to 1000000).
    pub fn storage_gb(mut self, gb: u32) -> Self {
        self.storage_gb = gb;
        self
    }
    /// Turn TLS on or off (default on).
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }
    /// A topic with Kafka's defaults ([`Topic::new`]).
    pub fn topic(mut self, name: &str, partitions: u32) -> Self {
        self.topics.push(Topic::new(name, partitions));
        self
    }
    /// A topic with settings of its own.
    pub fn topic_with(mut self, topic: Topic) -> Self {
        self.topics.push(topic);
        self
    }
    /// Use `secret` for client credentials (see the `credentials` field).
    pub fn credentials(mut self, secret: &Ref<Secret>) -> Self {
        self.credentials = Some(secret.clone());
        self
    }
    /// vCPUs the cluster needs for its throughput ([`PRODUCE_MB_S_PER_VCPU`]); at least 3,
    /// one per zone, Managed Kafka's minimum.
    pub fn vcpus(&self) -> u32 {
        self.throughput_mb_s.div_ceil(PRODUCE_MB_S_PER_VCPU).max(3)
    }
    /// The most copies any topic keeps (3 when there are no topics): the broker count and
    /// the disk it needs follow from it.
    pub fn replication(&self) -> u32 {
        self.topics.iter().map(|t| t.replication).max().unwrap_or(3)
    }
}

// ---------------------------------------------------------------------------------------------
// Cache

/// A managed Redis (ElastiCache replication group, Memorystore, Azure Cache for Redis).
///
/// ```
/// use cairn_core::prelude::*;
/// let mut stack = Stack::new("shop");
/// let net = stack.add("main", Network::new("10.0.0.0/16"));
/// let token = stack.add("cache-token", Secret::produced());
/// stack.add(
///     "sessions",
///     Cache::redis("7").in_network(&net).replicas(1).auth_token(&token),
/// );
/// assert!(cairn_core::validate::validate(&stack).is_ok());
///
/// // Failover needs a replica to fail over to.
/// stack.add(
///     "lonely",
///     Cache::redis("7").in_network(&net).replicas(0).automatic_failover(true),
/// );
/// let err = cairn_core::validate::validate(&stack).unwrap_err().to_string();
/// assert!(err.contains("cache.lonely: field `automatic_failover`"), "{err}");
/// ```
#[derive(Clone, Debug)]
pub struct Cache {
    /// Major version, e.g. `7`; each cloud maps it to what it offers (or refuses it).
    pub version: String,
    /// Node size (default [`Size::Small`]); each cloud maps it to its own node type or tier.
    pub size: Size,
    /// Read replicas besides the primary.
    pub replicas: u32,
    /// Promote a replica when the primary fails (default on); needs a replica.
    pub automatic_failover: bool,
    /// Spread the primary and replicas over zones (default on); needs automatic failover.
    pub multi_zone: bool,
    /// TLS between clients and the cache (default on); an auth token needs it.
    pub transit_encryption: bool,
    /// Encrypt stored data (default on); GCP and Azure always do and refuse `false`.
    pub at_rest_encryption: bool,
    /// The secret clients authenticate with (Redis AUTH), usually a [`Secret::produced`].
    pub auth_token: Option<Ref<Secret>>,
    /// The port, where a cloud lets it be chosen (ElastiCache does; Memorystore and Azure
    /// Cache for Redis do not, and refuse a port set here); `None`: the cloud's own.
    pub port: Option<u32>,
    /// Where the cache sits.
    pub placement: Placement,
    /// What every kind carries: lifecycle, per-cloud overrides, `depends_on`, tags.
    pub common: Common,
}
portable_kind!(Cache, Cache, KindName::Cache, ["id", "endpoint", "port"]);
placement_builders!(Cache);

impl Cache {
    /// A Redis cache of major `version`: small, one replica, automatic failover across zones,
    /// encrypted in transit and at rest, on the cloud's own port.
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
    /// Set the node size (default [`Size::Small`]).
    pub fn size(mut self, s: Size) -> Self {
        self.size = s;
        self
    }
    /// Set the number of read replicas besides the primary, 0 to 5 (default 1).
    pub fn replicas(mut self, n: u32) -> Self {
        self.replicas = n;
        self
    }
    /// Promote a replica when the primary fails (default on).
    pub fn automatic_failover(mut self, on: bool) -> Self {
        self.automatic_failover = on;
        self
    }
    /// Spread the primary and replicas over zones (default on).
    pub fn multi_zone(mut self, on: bool) -> Self {
        self.multi_zone = on;
        self
    }
    /// Require TLS between clients and the cache (default on).
    pub fn transit_encryption(mut self, on: bool) -> Self {
        self.transit_encryption = on;
        self
    }
    /// Encrypt stored data (default on).
    pub fn at_rest_encryption(mut self, on: bool) -> Self {
        self.at_rest_encryption = on;
        self
    }
    /// Use `secret` for Redis AUTH (needs transit encryption).
    pub fn auth_token(mut self, secret: &Ref<Secret>) -> Self {
        self.auth_token = Some(secret.clone());
        self
    }
    /// Serve on `port`, where the cloud lets it be chosen (ElastiCache); others refuse it.
    pub fn port(mut self, port: u32) -> Self {
        self.port = Some(port);
        self
    }
}
