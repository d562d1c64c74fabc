//! The GCP types cairn manages, each declared once (schema + operations).

use crate::lb::{armor, backend, frontend, health_check, url_map};
use crate::{compute, firewall, kafka, psa, redis, router, secret, sql, Ctx};
use cairn_core::model::KindName;
use cairn_core::provider::{AttrSchema, ResourceSchema};
use cairn_provider_kit::ops;
use cairn_provider_kit::registry::Registry;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;
use std::time::Duration;

const F: AttrSchema = AttrSchema::FORCE_NEW;
const U: AttrSchema = AttrSchema::UPDATABLE;
const C: AttrSchema = AttrSchema::COMPUTED;
/// Lists Compute treats as sets (tags, ranges): compared ignoring order.
const US: AttrSchema = U.unordered();
const FS: AttrSchema = F.unordered();
const S: AttrSchema = AttrSchema::SENSITIVE;
/// Made by the cloud and secret (Memorystore's AUTH string).
const CS: AttrSchema = AttrSchema {
    sensitive: true,
    ..AttrSchema::COMPUTED
};

pub(crate) static TYPES: LazyLock<Registry<Ctx>> = LazyLock::new(registry);

/// The GCP types each portable kind lowers to (see `lower.rs`).
const LOWERS_TO: &[(KindName, &[&str])] = &[
    (
        KindName::Network,
        &[
            "gcp_compute_network",
            "gcp_compute_router",
            "gcp_compute_global_address",
            "gcp_service_networking_connection",
        ],
    ),
    (KindName::Subnet, &["gcp_compute_subnetwork"]),
    (
        KindName::LoadBalancer,
        &[
            "gcp_compute_global_address",
            "gcp_compute_health_check",
            "gcp_compute_backend_service",
            "gcp_compute_security_policy",
            "gcp_compute_url_map",
            "gcp_compute_ssl_certificate",
            "gcp_compute_target_https_proxy",
            "gcp_compute_target_http_proxy",
            "gcp_compute_global_forwarding_rule",
        ],
    ),
    (KindName::SecurityGroup, &["gcp_compute_firewall"]),
    (KindName::Secret, &["gcp_secret_manager_secret"]),
    (KindName::Cache, &["gcp_redis_instance"]),
    (
        KindName::Broker,
        &["gcp_managed_kafka_cluster", "gcp_managed_kafka_topic"],
    ),
    (
        KindName::Database,
        &[
            "gcp_sql_database_instance",
            "gcp_sql_database",
            "gcp_sql_user",
        ],
    ),
];

/// Attributes no override may set: names are cairn's ownership marks, labels the stack's
/// tags.
pub(crate) const NOT_OVERRIDABLE: &[&str] = &[
    "name",
    "name_prefix",
    "secret_id",
    "instance_id",
    "cluster_id",
    "topic_id",
    "labels",
];

/// Types that carry no labels but live inside one that does (the kind's tags are there).
pub(crate) const UNDER_LABELLED: &[&str] = &[
    "gcp_sql_database",
    "gcp_sql_user",
    "gcp_managed_kafka_topic",
];

/// Types that carry labels: the user's tags become labels, beside cairn's marks.
pub(crate) const LABELLED: &[&str] = &[
    "gcp_secret_manager_secret",
    "gcp_sql_database_instance",
    "gcp_redis_instance",
    "gcp_managed_kafka_cluster",
];

/// The override keys GCP reads per portable kind: every attribute a user may set on the
/// types the kind lowers to (names are cairn's ownership marks, not the user's to set).
pub(crate) fn override_keys() -> BTreeMap<KindName, BTreeSet<String>> {
    LOWERS_TO
        .iter()
        .map(|(kind, types)| {
            let keys = types
                .iter()
                .filter_map(|t| TYPES.schema_of(t))
                .flat_map(|s| s.attributes.iter())
                .filter(|(k, a)| !a.computed && !NOT_OVERRIDABLE.contains(&k.as_str()))
                .map(|(k, _)| k.clone())
                .collect();
            (*kind, keys)
        })
        .collect()
}

fn registry() -> Registry<Ctx> {
    let mut r = Registry::new("gcp");
    r.add(
        ResourceSchema::new("gcp_compute_network")
            // Typical time to create on GCP (scheduling weight).
            .typical_duration(Duration::from_secs(30))
            .attr("name", F)
            .attr("auto_create_subnetworks", F)
            .attr("routing_mode", U)
            .attr("id", C)
            .attr("self_link", C)
            // The name is the stack's mark: one found under it is this stack's.
            .adopts_existing(),
        ops!(
            compute::read_networks,
            compute::create_network,
            compute::update_network,
            compute::delete_network,
        ),
    );
    r.add(
        ResourceSchema::new("gcp_compute_subnetwork")
            .typical_duration(Duration::from_secs(20))
            .attr("name", F)
            .attr("region", F)
            .attr("network", F)
            .attr("ip_cidr_range", F)
            .attr("private_ip_google_access", U)
            .attr("id", C)
            .attr("gateway_address", C)
            .attr("self_link", C)
            .adopts_existing(),
        ops!(
            compute::read_subnetworks,
            compute::create_subnetwork,
            compute::update_subnetwork,
            compute::delete_subnetwork,
        ),
    );
    r.add(
        ResourceSchema::new("gcp_compute_firewall")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("network", F)
            .attr("direction", F)
            .attr("priority", U)
            .attr("target_tags", US)
            .attr("source_ranges", US)
            .attr("source_tags", US)
            .attr("destination_ranges", US)
            .attr("allowed", U)
            .attr("denied", U)
            .attr("description", U)
            .attr("id", C)
            .attr("self_link", C)
            .adopts_existing(),
        ops!(
            firewall::read,
            firewall::create,
            firewall::update,
            firewall::delete,
        ),
    );
    r.add(
        ResourceSchema::new("gcp_compute_router")
            .typical_duration(Duration::from_secs(20))
            .attr("name", F)
            .attr("region", F)
            .attr("network", F)
            .attr("nat_name", F)
            .attr("nat_subnetworks", US)
            .attr("id", C)
            .attr("self_link", C)
            .adopts_existing(),
        ops!(router::read, router::create, router::update, router::delete,),
    );
    r.add(
        ResourceSchema::new("gcp_compute_global_address")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("network", F)
            .attr("purpose", F)
            .attr("address_type", F)
            .attr("prefix_length", F)
            .attr("address", C)
            .attr("cidr", C)
            .attr("id", C)
            .attr("self_link", C)
            .adopts_existing(),
        ops!(
            psa::read_addresses,
            psa::create_address,
            psa::update_address,
            psa::delete_address,
        ),
    );
    load_balancer(&mut r);
    r.add(
        ResourceSchema::new("gcp_service_networking_connection")
            .typical_duration(Duration::from_secs(60))
            .attr("network", F)
            .attr("service", F)
            .attr("reserved_peering_ranges", US)
            .attr("peering", C)
            .attr("id", C)
            // One per network and service: one found on the stack's network is its own.
            .adopts_existing(),
        ops!(
            psa::read_connections,
            psa::create_connection,
            psa::update_connection,
            psa::delete_connection,
        ),
    );
    r.add(
        ResourceSchema::new("gcp_sql_database_instance")
            .typical_duration(Duration::from_secs(600))
            .attr("name_prefix", F)
            .attr("region", F)
            .attr("database_version", F)
            .attr("tier", U)
            .attr("edition", U)
            .attr("availability_type", U)
            .attr("disk_size_gb", U)
            .attr("disk_type", F)
            .attr("backup_retained", U)
            // Cloud SQL's choice when the stack declares no window: compared when declared.
            .attr("backup_start_time", C)
            .attr("maintenance_day", C)
            .attr("maintenance_hour", C)
            .attr("deletion_protection", U)
            .attr("private_network", F)
            .attr("allocated_ip_range", F)
            .attr("flags", U)
            .attr("labels", U)
            .attr("name", C)
            .attr("private_ip", C)
            .attr("connection_name", C)
            .attr("state", C)
            .attr("id", C),
        ops!(
            sql::read_instances,
            sql::create_instance,
            sql::update_instance,
            sql::delete_instance,
        ),
    );
    r.add(
        ResourceSchema::new("gcp_sql_database")
            .typical_duration(Duration::from_secs(20))
            .attr("instance", F)
            .attr("name", F)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            sql::read_databases,
            sql::create_database,
            sql::update_database,
            sql::delete_database,
        ),
    );
    r.add(
        ResourceSchema::new("gcp_sql_user")
            .typical_duration(Duration::from_secs(10))
            .attr("instance", F)
            .attr("name", F)
            .attr("password", S)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            sql::read_users,
            sql::create_user,
            sql::update_user,
            sql::delete_user,
        ),
    );
    r.add(
        ResourceSchema::new("gcp_redis_instance")
            .typical_duration(Duration::from_secs(300))
            .attr("instance_id", F)
            .attr("region", F)
            .attr("tier", F)
            .attr("memory_size_gb", U)
            .attr("redis_version", F)
            .attr("connect_mode", F)
            .attr("authorized_network", F)
            .attr("reserved_ip_range", F)
            .attr("auth_enabled", U)
            .attr("transit_encryption_mode", F)
            .attr("replica_count", U)
            .attr("read_replicas_mode", U)
            .attr("labels", U)
            .attr("host", C)
            .attr("port", C)
            .attr("reserved_block", C)
            .attr("state", C)
            .attr("auth_string", CS)
            .attr("id", C)
            // Its id is the stack's name for it: one found under it is adopted when its
            // labels are this stack's.
            .adopts_existing(),
        ops!(redis::read, redis::create, redis::update, redis::delete,),
    );
    r.add(
        ResourceSchema::new("gcp_managed_kafka_cluster")
            .typical_duration(Duration::from_secs(1800))
            .attr("cluster_id", F)
            .attr("region", F)
            .attr("vcpu_count", U)
            .attr("memory_bytes", U)
            .attr("subnets", FS)
            .attr("labels", U)
            .attr("state", C)
            .attr("bootstrap_address", C)
            .attr("id", C)
            // Its id is the stack's name for it; its labels say whose it is.
            .adopts_existing(),
        ops!(
            kafka::read_clusters,
            kafka::create_cluster,
            kafka::update_cluster,
            kafka::delete_cluster,
        ),
    );
    r.add(
        ResourceSchema::new("gcp_managed_kafka_topic")
            .typical_duration(Duration::from_secs(5))
            .attr("cluster", F)
            .attr("topic_id", F)
            .attr("partition_count", U)
            .attr("replication_factor", F)
            .attr("configs", U)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            kafka::read_topics,
            kafka::create_topic,
            kafka::update_topic,
            kafka::delete_topic,
        ),
    );
    r.add(
        ResourceSchema::new("gcp_secret_manager_secret")
            .typical_duration(Duration::from_secs(2))
            .attr("secret_id", F)
            .attr("labels", U)
            .attr("description", U)
            .attr("secret_data", S)
            .attr("id", C)
            // Found by its labels after a crash; an existing id is adopted when they are ours.
            .adopts_existing(),
        ops!(secret::read, secret::create, secret::update, secret::delete,),
    );
    r
}

/// The global external Application Load Balancer's parts (`lb/`). Their names are their
/// ownership marks, as for the other Compute types.
fn load_balancer(r: &mut Registry<Ctx>) {
    r.add(
        ResourceSchema::new("gcp_compute_health_check")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("type", F)
            .attr("port", U)
            .attr("request_path", U)
            .attr("check_interval_sec", U)
            .attr("timeout_sec", U)
            .attr("healthy_threshold", U)
            .attr("unhealthy_threshold", U)
            .attr("description", U)
            .attr("id", C)
            .attr("self_link", C)
            .adopts_existing(),
        ops!(
            health_check::read,
            health_check::create,
            health_check::update,
            health_check::delete,
        ),
    );
    r.add(
        ResourceSchema::new("gcp_compute_security_policy")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("description", U)
            .attr("rules", U)
            .attr("id", C)
            .attr("self_link", C)
            .adopts_existing(),
        ops!(armor::read, armor::create, armor::update, armor::delete,),
    );
    r.add(
        ResourceSchema::new("gcp_compute_backend_service")
            .typical_duration(Duration::from_secs(20))
            .attr("name", F)
            .attr("load_balancing_scheme", F)
            .attr("protocol", U)
            .attr("port_name", U)
            .attr("timeout_sec", U)
            .attr("health_checks", US)
            .attr("security_policy", U)
            .attr("description", U)
            .attr("id", C)
            .attr("self_link", C)
            // The create attaches the Cloud Armor policy after the insert.
            .create_follow_ups()
            .adopts_existing(),
        ops!(
            backend::read,
            backend::create,
            backend::update,
            backend::delete,
        ),
    );
    r.add(
        ResourceSchema::new("gcp_compute_url_map")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("description", U)
            .attr("default_service", U)
            .attr("https_redirect", U)
            .attr("routes", U)
            .attr("id", C)
            .attr("self_link", C)
            .adopts_existing(),
        ops!(
            url_map::read,
            url_map::create,
            url_map::update,
            url_map::delete,
        ),
    );
    r.add(
        ResourceSchema::new("gcp_compute_ssl_certificate")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("type", F)
            .attr("domains", FS)
            .attr("status", C)
            .attr("id", C)
            .attr("self_link", C)
            // Named after its domains; the proxy moves to the new one before the old goes.
            .create_before_destroy()
            .adopts_existing(),
        ops!(
            frontend::certificate::read,
            frontend::certificate::create,
            frontend::certificate::update,
            frontend::certificate::delete,
        ),
    );
    r.add(
        ResourceSchema::new("gcp_compute_target_https_proxy")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("url_map", U)
            .attr("ssl_certificates", U)
            .attr("id", C)
            .attr("self_link", C)
            .adopts_existing(),
        ops!(
            frontend::https_proxy::read,
            frontend::https_proxy::create,
            frontend::https_proxy::update,
            frontend::https_proxy::delete,
        ),
    );
    r.add(
        ResourceSchema::new("gcp_compute_target_http_proxy")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("url_map", U)
            .attr("id", C)
            .attr("self_link", C)
            .adopts_existing(),
        ops!(
            frontend::http_proxy::read,
            frontend::http_proxy::create,
            frontend::http_proxy::update,
            frontend::http_proxy::delete,
        ),
    );
    r.add(
        ResourceSchema::new("gcp_compute_global_forwarding_rule")
            .typical_duration(Duration::from_secs(20))
            .attr("name", F)
            .attr("target", U)
            .attr("ip_address", F)
            .attr("port_range", F)
            .attr("load_balancing_scheme", F)
            .attr("id", C)
            .attr("self_link", C)
            .adopts_existing(),
        ops!(
            frontend::forwarding_rule::read,
            frontend::forwarding_rule::create,
            frontend::forwarding_rule::update,
            frontend::forwarding_rule::delete,
        ),
    );
}
