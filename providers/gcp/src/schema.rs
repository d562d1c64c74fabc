//! The GCP types cairn manages, each declared once (schema + operations).

use crate::{compute, firewall, router, secret, Ctx};
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
const S: AttrSchema = AttrSchema::SENSITIVE;

pub(crate) static TYPES: LazyLock<Registry<Ctx>> = LazyLock::new(registry);

/// The GCP types each portable kind lowers to (see `lower.rs`).
const LOWERS_TO: &[(KindName, &[&str])] = &[
    (
        KindName::Network,
        &["gcp_compute_network", "gcp_compute_router"],
    ),
    (KindName::Subnet, &["gcp_compute_subnetwork"]),
    (KindName::SecurityGroup, &["gcp_compute_firewall"]),
    (KindName::Secret, &["gcp_secret_manager_secret"]),
];

/// Attributes no override may set: names are cairn's ownership marks, labels the stack's
/// tags.
pub(crate) const NOT_OVERRIDABLE: &[&str] = &["name", "secret_id", "labels"];

/// Types that carry labels: the user's tags become labels, beside cairn's marks.
pub(crate) const LABELLED: &[&str] = &["gcp_secret_manager_secret"];

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
