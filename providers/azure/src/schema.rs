//! The Azure types cairn manages, each declared once (schema + operations).

use crate::client::dns::{PrivateZone, VirtualNetworkLink};
use crate::client::eventhub::{AuthorizationRule, EhNamespace, Eventhub};
use crate::client::keyvault::{Secret, Vault};
use crate::client::msi::Identity;
use crate::client::network::{
    ApplicationGateway, ApplicationSecurityGroup, LoadBalancer, NatGateway, NetworkSecurityGroup,
    PrivateDnsZoneGroup, PrivateEndpoint, PublicIpAddress, VirtualNetwork,
    WebApplicationFirewallPolicy,
};
use crate::client::postgres::{Configuration, Database, Server};
use crate::client::redis::RedisResource;
use crate::{group, identity, network, tagged, vault, Ctx};
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
/// Lists ARM treats as sets (prefixes, rules): compared ignoring order.
const US: AttrSchema = U.unordered();

pub(crate) static TYPES: LazyLock<Registry<Ctx>> = LazyLock::new(registry);

/// The Azure types each portable kind lowers to (see `lower/`). The stack's resource group
/// comes with its first network (every stack has one).
const LOWERS_TO: &[(KindName, &[&str])] = &[
    (
        KindName::Network,
        &[
            "azure_resource_group",
            "azure_virtual_network",
            "azure_network_security_group",
            "azure_public_ip",
            "azure_nat_gateway",
        ],
    ),
    (KindName::Subnet, &["azure_subnet"]),
    (
        KindName::SecurityGroup,
        &["azure_application_security_group"],
    ),
    (
        KindName::Database,
        &[
            "azure_postgresql_flexible_server",
            "azure_postgresql_database",
            "azure_postgresql_configuration",
            "azure_private_dns_zone",
            "azure_private_dns_zone_link",
        ],
    ),
    (
        KindName::Secret,
        &["azure_key_vault", "azure_key_vault_secret"],
    ),
    (
        KindName::Cache,
        &[
            "azure_redis_cache",
            "azure_private_endpoint",
            "azure_private_dns_zone_group",
            "azure_private_dns_zone",
            "azure_private_dns_zone_link",
        ],
    ),
    (
        KindName::Broker,
        &[
            "azure_eventhub_namespace",
            "azure_eventhub",
            "azure_eventhub_authorization_rule",
            "azure_private_endpoint",
            "azure_private_dns_zone_group",
            "azure_private_dns_zone",
            "azure_private_dns_zone_link",
        ],
    ),
    (
        KindName::LoadBalancer,
        &[
            "azure_application_gateway",
            "azure_load_balancer",
            "azure_public_ip",
            "azure_user_assigned_identity",
            "azure_role_assignment",
            "azure_waf_policy",
        ],
    ),
];

/// Attributes no override may set: names and groups are cairn's ownership marks and
/// placement, tags the stack's.
pub(crate) const NOT_OVERRIDABLE: &[&str] = &[
    "name",
    "resource_group",
    "location",
    "virtual_network_id",
    "tags",
    "server_id",
    "key_vault_id",
    "namespace_id",
    "private_endpoint_id",
    "subnet_id",
    "target_id",
    "private_dns_zone_id",
    "delegated_subnet_id",
    "administrator_password",
    "value",
    "public_ip_id",
    "identity_id",
    "firewall_policy_id",
    "principal_id",
    "certificate_secret_id",
];

/// Types that carry tags: the user's tags go beside cairn's marks.
pub(crate) const TAGGED: &[&str] = &[
    "azure_resource_group",
    "azure_virtual_network",
    "azure_network_security_group",
    "azure_application_security_group",
    "azure_public_ip",
    "azure_nat_gateway",
    "azure_postgresql_flexible_server",
    "azure_private_dns_zone",
    "azure_private_dns_zone_link",
    "azure_key_vault",
    "azure_key_vault_secret",
    "azure_redis_cache",
    "azure_eventhub_namespace",
    "azure_private_endpoint",
    "azure_application_gateway",
    "azure_load_balancer",
    "azure_user_assigned_identity",
    "azure_waf_policy",
];

/// The override keys Azure reads per portable kind: every attribute a user may set on the
/// types the kind lowers to.
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
    let mut r = Registry::new("azure");
    r.add(
        ResourceSchema::new("azure_resource_group")
            // Typical time to create on Azure (scheduling weight).
            .typical_duration(Duration::from_secs(5))
            .attr("name", F)
            .attr("location", F)
            .attr("tags", U)
            .attr("id", C)
            // Its tags are the stack's marks: one found under its name is adopted only
            // when they name this stack and address.
            .adopts_existing(),
        ops!(group::read, group::create, group::update, group::delete),
    );
    r.add(
        ResourceSchema::new("azure_virtual_network")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("resource_group", F)
            .attr("location", F)
            .attr("address_space", US)
            .attr("tags", U)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            tagged::read::<VirtualNetwork>,
            tagged::create::<VirtualNetwork>,
            tagged::update::<VirtualNetwork>,
            tagged::delete::<VirtualNetwork>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_subnet")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("virtual_network_id", F)
            .attr("address_prefix", U)
            .attr("delegations", US)
            .attr("service_endpoints", US)
            .attr("network_security_group_id", U)
            .attr("nat_gateway_id", U)
            .attr("default_outbound_access", F)
            .attr("id", C)
            // No tags: one found under its name in the stack's network is adopted when it
            // is exactly what was declared.
            .adopts_existing(),
        ops!(
            network::read_subnets,
            network::create_subnet,
            network::update_subnet,
            network::delete_subnet,
        ),
    );
    r.add(
        ResourceSchema::new("azure_network_security_group")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("resource_group", F)
            .attr("location", F)
            .attr("security_rules", US)
            .attr("tags", U)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            tagged::read::<NetworkSecurityGroup>,
            tagged::create::<NetworkSecurityGroup>,
            tagged::update::<NetworkSecurityGroup>,
            tagged::delete::<NetworkSecurityGroup>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_application_security_group")
            .typical_duration(Duration::from_secs(5))
            .attr("name", F)
            .attr("resource_group", F)
            .attr("location", F)
            .attr("tags", U)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            tagged::read::<ApplicationSecurityGroup>,
            tagged::create::<ApplicationSecurityGroup>,
            tagged::update::<ApplicationSecurityGroup>,
            tagged::delete::<ApplicationSecurityGroup>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_public_ip")
            .typical_duration(Duration::from_secs(5))
            .attr("name", F)
            .attr("resource_group", F)
            .attr("location", F)
            .attr("zones", F.unordered())
            .attr("tags", U)
            .attr("id", C)
            .attr("ip_address", C)
            .adopts_existing(),
        ops!(
            tagged::read::<PublicIpAddress>,
            tagged::create::<PublicIpAddress>,
            tagged::update::<PublicIpAddress>,
            tagged::delete::<PublicIpAddress>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_nat_gateway")
            .typical_duration(Duration::from_secs(20))
            .attr("name", F)
            .attr("resource_group", F)
            .attr("location", F)
            .attr("zones", F.unordered())
            .attr("public_ip_address_ids", US)
            .attr("idle_timeout_minutes", U)
            .attr("tags", U)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            tagged::read::<NatGateway>,
            tagged::create::<NatGateway>,
            tagged::update::<NatGateway>,
            tagged::delete::<NatGateway>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_private_dns_zone")
            .typical_duration(Duration::from_secs(30))
            .attr("name", F)
            .attr("resource_group", F)
            .attr("tags", U)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            tagged::read::<PrivateZone>,
            tagged::create::<PrivateZone>,
            tagged::update::<PrivateZone>,
            tagged::delete::<PrivateZone>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_private_dns_zone_link")
            .typical_duration(Duration::from_secs(30))
            .attr("name", F)
            .attr("private_dns_zone_id", F)
            .attr("virtual_network_id", F)
            .attr("registration_enabled", U)
            .attr("tags", U)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            tagged::read::<VirtualNetworkLink>,
            tagged::create::<VirtualNetworkLink>,
            tagged::update::<VirtualNetworkLink>,
            tagged::delete::<VirtualNetworkLink>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_postgresql_flexible_server")
            // Azure's documentation: several minutes; zone-redundant HA longer.
            .typical_duration(Duration::from_secs(600))
            .attr("name", F)
            .attr("resource_group", F)
            .attr("location", F)
            .attr("version", F)
            .attr("sku_name", U)
            .attr("sku_tier", U)
            .attr("storage_gb", U)
            .attr("storage_type", F)
            .attr("high_availability", U)
            .attr("backup_retention_days", U)
            .attr("geo_redundant_backup", F)
            .attr("administrator_login", F)
            .attr("administrator_password", AttrSchema::SENSITIVE)
            .attr("delegated_subnet_id", F)
            .attr("private_dns_zone_id", F)
            .attr("maintenance_day", U)
            .attr("maintenance_hour", U)
            .attr("tags", U)
            .attr("id", C)
            .attr("fqdn", C)
            .adopts_existing(),
        ops!(
            tagged::read::<Server>,
            tagged::create::<Server>,
            tagged::update::<Server>,
            tagged::delete::<Server>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_postgresql_database")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("server_id", F)
            .attr("charset", F)
            .attr("collation", F)
            .attr("id", C)
            // No tags: one on the stack's server is adopted when it is what was declared.
            .adopts_existing(),
        ops!(
            tagged::read::<Database>,
            tagged::create::<Database>,
            tagged::update::<Database>,
            tagged::delete::<Database>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_postgresql_configuration")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("server_id", F)
            .attr("value", U)
            .attr("id", C)
            // Every setting exists with its server: declaring one takes it over.
            .adopts_existing(),
        ops!(
            tagged::read::<Configuration>,
            tagged::create::<Configuration>,
            tagged::update::<Configuration>,
            tagged::delete::<Configuration>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_key_vault")
            .typical_duration(Duration::from_secs(20))
            .attr("name", F)
            .attr("resource_group", F)
            .attr("location", F)
            .attr("sku", U)
            .attr("soft_delete_retention_days", F)
            .attr("purge_protection", F)
            .attr("on_soft_deleted", U)
            .attr("purge_on_destroy", U)
            .attr("tags", U)
            .attr("id", C)
            .attr("vault_uri", C)
            .adopts_existing(),
        ops!(
            tagged::read::<Vault>,
            vault::create,
            tagged::update::<Vault>,
            vault::delete,
        ),
    );
    r.add(
        ResourceSchema::new("azure_key_vault_secret")
            .typical_duration(Duration::from_secs(5))
            .attr("name", F)
            .attr("key_vault_id", F)
            .attr("value", AttrSchema::SENSITIVE)
            .attr("content_type", U)
            .attr("tags", U)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            vault::read_secrets,
            tagged::create::<Secret>,
            tagged::update::<Secret>,
            tagged::delete::<Secret>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_redis_cache")
            // Azure's documentation: about 15 minutes (longer for Premium).
            .typical_duration(Duration::from_secs(900))
            .attr("name", F)
            .attr("resource_group", F)
            .attr("location", F)
            .attr("sku_name", U)
            .attr("sku_family", U)
            .attr("sku_capacity", U)
            .attr("redis_version", F)
            .attr("enable_non_ssl_port", U)
            .attr("minimum_tls_version", U)
            .attr("replicas_per_primary", U)
            .attr("public_network_access", U)
            .attr("zones", F.unordered())
            .attr("tags", U)
            .attr("id", C)
            .attr("hostname", C)
            .attr("ssl_port", C)
            .attr(
                "primary_key",
                AttrSchema {
                    computed: true,
                    ..AttrSchema::SENSITIVE
                },
            )
            .adopts_existing(),
        ops!(
            tagged::read::<RedisResource>,
            tagged::create::<RedisResource>,
            tagged::update::<RedisResource>,
            tagged::delete::<RedisResource>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_eventhub_namespace")
            .typical_duration(Duration::from_secs(120))
            .attr("name", F)
            .attr("resource_group", F)
            .attr("location", F)
            .attr("sku", U)
            .attr("capacity", U)
            .attr("minimum_tls_version", U)
            .attr("public_network_access", U)
            .attr("tags", U)
            .attr("id", C)
            .attr("kafka_enabled", C)
            .attr("bootstrap_brokers", C)
            .adopts_existing(),
        ops!(
            tagged::read::<EhNamespace>,
            tagged::create::<EhNamespace>,
            tagged::update::<EhNamespace>,
            tagged::delete::<EhNamespace>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_eventhub")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("namespace_id", F)
            // Standard namespaces cannot change a hub's partitions.
            .attr("partition_count", F)
            .attr("retention_hours", U)
            .attr("cleanup_policy", U)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            tagged::read::<Eventhub>,
            tagged::create::<Eventhub>,
            tagged::update::<Eventhub>,
            tagged::delete::<Eventhub>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_eventhub_authorization_rule")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("namespace_id", F)
            .attr("rights", US)
            .attr("id", C)
            .attr(
                "primary_connection_string",
                AttrSchema {
                    computed: true,
                    ..AttrSchema::SENSITIVE
                },
            )
            .adopts_existing(),
        ops!(
            tagged::read::<AuthorizationRule>,
            tagged::create::<AuthorizationRule>,
            tagged::update::<AuthorizationRule>,
            tagged::delete::<AuthorizationRule>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_private_endpoint")
            .typical_duration(Duration::from_secs(60))
            .attr("name", F)
            .attr("resource_group", F)
            .attr("location", F)
            .attr("subnet_id", F)
            .attr("target_id", F)
            .attr("group_ids", F.unordered())
            .attr("tags", U)
            .attr("id", C)
            .attr("private_ip", C)
            .adopts_existing(),
        ops!(
            tagged::read::<PrivateEndpoint>,
            tagged::create::<PrivateEndpoint>,
            tagged::update::<PrivateEndpoint>,
            tagged::delete::<PrivateEndpoint>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_private_dns_zone_group")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("private_endpoint_id", F)
            .attr("private_dns_zone_ids", US)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            tagged::read::<PrivateDnsZoneGroup>,
            tagged::create::<PrivateDnsZoneGroup>,
            tagged::update::<PrivateDnsZoneGroup>,
            tagged::delete::<PrivateDnsZoneGroup>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_user_assigned_identity")
            .typical_duration(Duration::from_secs(5))
            .attr("name", F)
            .attr("resource_group", F)
            .attr("location", F)
            .attr("tags", U)
            .attr("id", C)
            .attr("principal_id", C)
            .attr("client_id", C)
            .adopts_existing(),
        ops!(
            tagged::read::<Identity>,
            tagged::create::<Identity>,
            tagged::update::<Identity>,
            tagged::delete::<Identity>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_role_assignment")
            .typical_duration(Duration::from_secs(5))
            .attr("name", F)
            .attr("certificate_secret_id", F)
            .attr("role_definition", F)
            .attr("principal_id", F)
            .attr("id", C)
            .attr("scope", C)
            // No tags: its name is a GUID derived from what it grants; one found under it
            // granting the same role to the same principal is adopted.
            .adopts_existing(),
        ops!(
            identity::read_assignments,
            identity::create_assignment,
            identity::update_assignment,
            identity::delete_assignment,
        ),
    );
    r.add(
        ResourceSchema::new("azure_waf_policy")
            .typical_duration(Duration::from_secs(10))
            .attr("name", F)
            .attr("resource_group", F)
            .attr("location", F)
            .attr("mode", U)
            .attr("custom_rules", U)
            .attr("tags", U)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            tagged::read::<WebApplicationFirewallPolicy>,
            tagged::create::<WebApplicationFirewallPolicy>,
            tagged::update::<WebApplicationFirewallPolicy>,
            tagged::delete::<WebApplicationFirewallPolicy>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_application_gateway")
            // Azure's documentation: several minutes for a v2 gateway.
            .typical_duration(Duration::from_secs(420))
            .attr("name", F)
            .attr("resource_group", F)
            .attr("location", F)
            .attr("zones", F.unordered())
            .attr("sku", U)
            .attr("min_capacity", U)
            .attr("max_capacity", U)
            .attr("subnet_id", F)
            .attr("public_ip_id", F)
            .attr("identity_id", U)
            .attr("certificate_secret_id", U)
            .attr("ssl_policy", U)
            .attr("http_redirect", U)
            .attr("firewall_policy_id", U)
            .attr("pools", US)
            .attr("backends", US)
            .attr("routes", U)
            .attr("default_pool", U)
            .attr("default_backend", U)
            .attr("tags", U)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            tagged::read::<ApplicationGateway>,
            tagged::create::<ApplicationGateway>,
            tagged::update::<ApplicationGateway>,
            tagged::delete::<ApplicationGateway>,
        ),
    );
    r.add(
        ResourceSchema::new("azure_load_balancer")
            .typical_duration(Duration::from_secs(30))
            .attr("name", F)
            .attr("resource_group", F)
            .attr("location", F)
            .attr("sku", F)
            .attr("public_ip_id", F)
            .attr("pools", US)
            .attr("probes", US)
            .attr("rules", US)
            .attr("tags", U)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            tagged::read::<LoadBalancer>,
            tagged::create::<LoadBalancer>,
            tagged::update::<LoadBalancer>,
            tagged::delete::<LoadBalancer>,
        ),
    );
    r
}
