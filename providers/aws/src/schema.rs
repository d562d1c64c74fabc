//! The AWS resource types cairn manages, and how each attribute behaves.
//!
//! `F` (force new) marks what the AWS API cannot change in place; everything else listed
//! is updatable through the service's Modify*/Update* calls; `C` is set by AWS; `S` is
//! sensitive; `FS`/`US` are lists compared as sets. `tags` is updatable on every type that has it.

use cairn_core::provider::{AttrSchema, ProviderSchema, ResourceSchema};

const F: AttrSchema = AttrSchema::FORCE_NEW;
const U: AttrSchema = AttrSchema::UPDATABLE;
const C: AttrSchema = AttrSchema::COMPUTED;
const S: AttrSchema = AttrSchema::SENSITIVE;
/// Lists AWS treats as sets (subnets, groups, route tables): compared ignoring order.
const FS: AttrSchema = F.unordered();
const US: AttrSchema = U.unordered();

/// (type, taggable, [(attribute, behaviour)])
type TypeTable = &'static [(&'static str, bool, &'static [(&'static str, AttrSchema)])];

pub(crate) const TYPES: TypeTable = &[
    (
        "aws_vpc",
        true,
        &[
            ("cidr_block", F),
            ("enable_dns_support", U),
            ("enable_dns_hostnames", U),
            ("id", C),
        ],
    ),
    ("aws_internet_gateway", true, &[("vpc_id", U), ("id", C)]),
    ("aws_route_table", true, &[("vpc_id", F), ("id", C)]),
    (
        "aws_route",
        false,
        &[
            ("route_table_id", F),
            ("destination_cidr_block", F),
            ("gateway_id", U),
            ("nat_gateway_id", U),
            ("id", C),
        ],
    ),
    (
        "aws_subnet",
        true,
        &[
            ("vpc_id", F),
            ("cidr_block", F),
            ("availability_zone", F),
            ("map_public_ip_on_launch", U),
            ("id", C),
            ("arn", C),
        ],
    ),
    (
        "aws_route_table_association",
        false,
        &[("subnet_id", F), ("route_table_id", U), ("id", C)],
    ),
    (
        "aws_eip",
        true,
        &[("domain", F), ("id", C), ("public_ip", C)],
    ),
    (
        "aws_nat_gateway",
        true,
        &[
            ("subnet_id", F),
            ("allocation_id", F),
            ("id", C),
            ("state", C),
        ],
    ),
    (
        "aws_vpc_endpoint",
        true,
        &[
            ("vpc_id", F),
            ("service_name", F),
            ("vpc_endpoint_type", F),
            ("route_table_ids", US),
            ("id", C),
        ],
    ),
    (
        "aws_security_group",
        true,
        &[
            ("name", F),
            ("description", F),
            ("vpc_id", F),
            ("id", C),
            ("arn", C),
        ],
    ),
    (
        "aws_security_group_rule",
        true,
        &[
            ("security_group_id", F),
            ("type", F),
            ("ip_protocol", U),
            ("from_port", U),
            ("to_port", U),
            ("cidr_ipv4", U),
            ("referenced_security_group_id", U),
            ("description", U),
            ("id", C),
        ],
    ),
    (
        "aws_secretsmanager_secret",
        true,
        &[
            ("name", F),
            ("description", U),
            ("secret_string", S),
            ("id", C),
            ("arn", C),
        ],
    ),
    (
        "aws_db_subnet_group",
        true,
        &[
            ("name", F),
            ("description", U),
            ("subnet_ids", US),
            ("id", C),
            ("arn", C),
        ],
    ),
    (
        "aws_db_parameter_group",
        true,
        &[
            ("name", F),
            ("family", F),
            ("description", F),
            ("parameters", U),
            ("id", C),
            ("arn", C),
        ],
    ),
    (
        "aws_db_instance",
        true,
        &[
            ("identifier", F),
            ("engine", F),
            ("engine_version", U),
            ("instance_class", U),
            ("allocated_storage", U),
            ("storage_type", U),
            ("storage_encrypted", F),
            ("multi_az", U),
            ("backup_retention_period", U),
            // AWS picks a window when none is asked for: computed when unset.
            ("preferred_backup_window", C),
            ("preferred_maintenance_window", C),
            ("deletion_protection", U),
            ("username", F),
            ("password", S),
            ("manage_master_user_password", U),
            ("master_user_secret_arn", C),
            ("db_name", F),
            ("db_subnet_group_name", F),
            ("vpc_security_group_ids", US),
            ("parameter_group_name", U),
            ("id", C),
            ("arn", C),
            ("endpoint", C),
            ("port", C),
            ("status", C),
        ],
    ),
    (
        "aws_postgres_database",
        false,
        &[
            ("instance_identifier", F),
            ("endpoint", F),
            ("port", F),
            ("name", F),
            ("username", U),
            ("password_secret_arn", U),
            ("id", C),
        ],
    ),
    (
        "aws_msk_cluster",
        true,
        &[
            ("cluster_name", F),
            ("kafka_version", U),
            ("number_of_broker_nodes", U),
            ("instance_type", U),
            ("ebs_volume_size", U),
            ("client_subnets", FS),
            ("security_groups", FS),
            ("encryption_in_transit_client_broker", F),
            ("encryption_in_transit_in_cluster", F),
            ("id", C),
            ("arn", C),
            ("current_version", C),
            ("bootstrap_brokers_tls", C),
            ("state", C),
        ],
    ),
    (
        "aws_msk_topic",
        false,
        &[
            ("cluster_arn", F),
            ("name", F),
            ("partitions", U),
            ("replication", F),
            ("id", C),
            ("arn", C),
        ],
    ),
    (
        "aws_lb",
        true,
        &[
            ("name", F),
            ("internal", F),
            ("load_balancer_type", F),
            ("subnets", US),
            ("security_groups", US),
            ("id", C),
            ("arn", C),
            ("dns_name", C),
        ],
    ),
    (
        "aws_lb_target_group",
        true,
        &[
            ("name", F),
            ("port", F),
            ("protocol", F),
            ("target_type", F),
            ("vpc_id", F),
            ("health_check_path", U),
            ("health_check_interval", U),
            ("health_check_timeout", U),
            ("healthy_threshold", U),
            ("unhealthy_threshold", U),
            ("matcher", U),
            ("id", C),
            ("arn", C),
        ],
    ),
    (
        "aws_lb_listener",
        true,
        &[
            ("load_balancer_arn", F),
            ("port", U),
            ("protocol", U),
            ("certificate_arn", U),
            ("ssl_policy", U),
            ("default_action", U),
            ("default_target_group_arn", U),
            ("id", C),
            ("arn", C),
        ],
    ),
    (
        "aws_lb_listener_rule",
        true,
        &[
            ("listener_arn", F),
            ("priority", U),
            ("path_patterns", U),
            ("source_ips", US),
            ("target_group_arn", U),
            ("action", U),
            ("id", C),
            ("arn", C),
        ],
    ),
    (
        "aws_elasticache_subnet_group",
        true,
        &[
            ("name", F),
            ("description", U),
            ("subnet_ids", US),
            ("id", C),
            ("arn", C),
        ],
    ),
    (
        "aws_elasticache_replication_group",
        true,
        &[
            ("replication_group_id", F),
            ("description", U),
            ("engine", F),
            ("engine_version", U),
            ("node_type", U),
            ("num_cache_clusters", U),
            ("automatic_failover_enabled", U),
            ("multi_az_enabled", U),
            ("transit_encryption_enabled", F),
            ("at_rest_encryption_enabled", F),
            ("auth_token", S),
            ("port", F),
            ("subnet_group_name", F),
            ("security_group_ids", US),
            ("id", C),
            ("arn", C),
            ("primary_endpoint_address", C),
            ("status", C),
        ],
    ),
];

/// Types with a natural key AWS keeps unique (a name, a route's table and destination, a
/// subnet's one association, a topic in its cluster, a database in its instance): a create
/// that meets this stack's own object there adopts it (see cairn-provider-kit's `adopt`).
const ADOPTS_EXISTING: &[&str] = &[
    "aws_route",
    "aws_route_table_association",
    "aws_secretsmanager_secret",
    "aws_db_subnet_group",
    "aws_db_parameter_group",
    "aws_db_instance",
    "aws_postgres_database",
    "aws_elasticache_subnet_group",
    "aws_elasticache_replication_group",
    "aws_lb_target_group",
    "aws_msk_topic",
];

/// Types whose create sends more requests once the object exists that a re-run could
/// collide with: a group's default egress revoked (it would take the stack's own identical
/// rule), a gateway attached (a second attach fails), a parameter group's parameters set.
/// A VPC's DNS settings and a subnet's public-IP setting are follow-ups too, but they only
/// set what the declaration says, whatever lands last: not worth a wait.
const CREATE_FOLLOW_UPS: &[&str] = &[
    "aws_security_group",
    "aws_internet_gateway",
    "aws_db_parameter_group",
];

pub(crate) fn has_attr(type_name: &str, attr: &str) -> bool {
    TYPES
        .iter()
        .any(|(t, _, attrs)| *t == type_name && attrs.iter().any(|(a, _)| *a == attr))
}

pub(crate) fn schema() -> ProviderSchema {
    let mut out = ProviderSchema::default();
    for (t, tag, attrs) in TYPES {
        let mut rs = ResourceSchema::new(t);
        for (a, s) in attrs.iter() {
            rs = rs.attr(a, *s);
        }
        if *tag {
            rs = rs.attr("tags", U);
        }
        // Listeners keep pointing at a target group until the new one exists.
        if *t == "aws_lb_target_group" {
            rs = rs.create_before_destroy();
        }
        if ADOPTS_EXISTING.contains(t) {
            rs = rs.adopts_existing();
        }
        if CREATE_FOLLOW_UPS.contains(t) {
            rs = rs.create_follow_ups();
        }
        out.add(rs);
    }
    out
}
