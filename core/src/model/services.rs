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

/// A Kafka topic, in the settings every Kafka-compatible service carries per topic (MSK's
/// topic API, Managed Kafka topics, Event Hubs event hubs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
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
    pub fn replication(mut self, copies: u32) -> Self {
        self.replication = copies;
        self
    }
    pub fn retention_hours(mut self, hours: u32) -> Self {
        self.retention_hours = hours;
        self
    }
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
#[derive(Clone, Debug)]
pub struct Broker {
    /// Kafka major version, e.g. `3`; each cloud maps it to what it offers (or refuses it).
    pub version: String,
    /// Peak produce rate over all topics, in MB/s.
    pub throughput_mb_s: u32,
    /// Data kept at once over all topics, one copy, in GB (replication is added by cairn).
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
    pub fn throughput_mb_s(mut self, mb_s: u32) -> Self {
        self.throughput_mb_s = mb_s;
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
    /// A topic with Kafka's defaults ([`Topic::new`]).
    pub fn topic(mut self, name: &str, partitions: u32) -> Self {
        self.topics.push(Topic::new(name, partitions));
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
