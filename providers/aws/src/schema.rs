//! The AWS resource types cairn manages: how each attribute behaves, and the functions that
//! read, create, update and delete it (one registry entry per type).
//!
//! `F` (force new) marks what the AWS API cannot change in place; everything else listed
//! is updatable through the service's Modify*/Update* calls; `C` is set by AWS; `S` is
//! sensitive; `FS`/`US` are lists compared as sets. `tags` is updatable on every type that has it.
//!
//! Flags: `adopts_existing` marks types with a natural key AWS keeps unique (a name, a
//! route's table and destination, a subnet's one association, a topic in its cluster, a
//! database in its instance): a create that meets this stack's own object there adopts it
//! (see cairn-provider-kit's `adopt`). `create_follow_ups` marks types whose create sends
//! more requests once the object exists that a re-run could collide with: a group's default
//! egress revoked (it would take the stack's own identical rule), a gateway attached (a
//! second attach fails), a parameter group's parameters set. A VPC's DNS settings and a
//! subnet's public-IP setting are follow-ups too, but they only set what the declaration
//! says, whatever lands last: not worth a wait.

use crate::{ec2, elasticache, elb, msk, rds, secrets, Ctx};
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
const S: AttrSchema = AttrSchema::SENSITIVE;
/// Lists AWS treats as sets (subnets, groups, route tables): compared ignoring order.
const FS: AttrSchema = F.unordered();
const US: AttrSchema = U.unordered();

/// Every AWS type cairn manages, built once.
pub(crate) static TYPES: LazyLock<Registry<Ctx>> = LazyLock::new(registry);

/// The AWS types each portable kind lowers to (see `lower/`).
const LOWERS_TO: &[(KindName, &[&str])] = &[
    (
        KindName::Network,
        &[
            "aws_vpc",
            "aws_internet_gateway",
            "aws_route_table",
            "aws_route",
            "aws_eip",
            "aws_nat_gateway",
            "aws_vpc_endpoint",
        ],
    ),
    (
        KindName::Subnet,
        &["aws_subnet", "aws_route_table_association"],
    ),
    (
        KindName::SecurityGroup,
        &["aws_security_group", "aws_security_group_rule"],
    ),
    (
        KindName::Database,
        &[
            "aws_db_subnet_group",
            "aws_db_parameter_group",
            "aws_db_instance",
            "aws_postgres_database",
        ],
    ),
    (KindName::Broker, &["aws_msk_cluster", "aws_msk_topic"]),
    (
        KindName::LoadBalancer,
        &[
            "aws_lb",
            "aws_lb_target_group",
            "aws_lb_listener",
            "aws_lb_listener_rule",
        ],
    ),
    (
        KindName::Cache,
        &[
            "aws_elasticache_subnet_group",
            "aws_elasticache_replication_group",
        ],
    ),
    (KindName::Secret, &["aws_secretsmanager_secret"]),
];

/// The override keys AWS reads per portable kind: every attribute a user may set on the
/// types the kind lowers to (what AWS computes is not settable; tags have their own field).
/// An override applies to each of the kind's objects whose type has the attribute.
pub(crate) fn override_keys() -> BTreeMap<KindName, BTreeSet<String>> {
    LOWERS_TO
        .iter()
        .map(|(kind, types)| {
            let keys = types
                .iter()
                .filter_map(|t| TYPES.schema_of(t))
                .flat_map(|s| s.attributes.iter())
                .filter(|(k, a)| !a.computed && k.as_str() != "tags")
                .map(|(k, _)| k.clone())
                .collect();
            (*kind, keys)
        })
        .collect()
}

/// Whether the AWS type `type_name` has the attribute `attr`.
pub(crate) fn has_attr(type_name: &str, attr: &str) -> bool {
    TYPES.has_attr(type_name, attr)
}

fn registry() -> Registry<Ctx> {
    let mut r = Registry::new("aws");
    r.add(
        ResourceSchema::new("aws_vpc")
            .attr("cidr_block", F)
            .attr("enable_dns_support", U)
            .attr("enable_dns_hostnames", U)
            .attr("id", C)
            .attr("tags", U),
        ops!(
            ec2::read_vpcs,
            ec2::create_vpc,
            ec2::update_vpc,
            ec2::delete_vpc,
        ),
    );
    r.add(
        ResourceSchema::new("aws_internet_gateway")
            .attr("vpc_id", U)
            .attr("id", C)
            .attr("tags", U)
            .create_follow_ups(),
        ops!(
            ec2::read_igws,
            ec2::create_igw,
            ec2::update_igw,
            ec2::delete_igw,
        ),
    );
    r.add(
        ResourceSchema::new("aws_route_table")
            .attr("vpc_id", F)
            .attr("id", C)
            .attr("tags", U),
        ops!(
            ec2::read_route_tables,
            ec2::create_route_table,
            ec2::update_tags_only,
            ec2::delete_route_table,
        ),
    );
    r.add(
        ResourceSchema::new("aws_route")
            .attr("route_table_id", F)
            .attr("destination_cidr_block", F)
            .attr("gateway_id", U)
            .attr("nat_gateway_id", U)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            ec2::read_routes,
            ec2::create_route,
            ec2::update_route,
            ec2::delete_route,
        ),
    );
    r.add(
        ResourceSchema::new("aws_subnet")
            .attr("vpc_id", F)
            .attr("cidr_block", F)
            .attr("availability_zone", F)
            .attr("map_public_ip_on_launch", U)
            .attr("id", C)
            .attr("arn", C)
            .attr("tags", U),
        ops!(
            ec2::read_subnets,
            ec2::create_subnet,
            ec2::update_subnet,
            ec2::delete_subnet,
        ),
    );
    r.add(
        ResourceSchema::new("aws_route_table_association")
            .attr("subnet_id", F)
            .attr("route_table_id", U)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            ec2::read_associations,
            ec2::create_association,
            ec2::update_association,
            ec2::delete_association,
        ),
    );
    r.add(
        ResourceSchema::new("aws_eip")
            .attr("domain", F)
            .attr("id", C)
            .attr("public_ip", C)
            .attr("tags", U),
        ops!(
            ec2::read_eips,
            ec2::create_eip,
            ec2::update_tags_only,
            ec2::delete_eip,
        ),
    );
    r.add(
        ResourceSchema::new("aws_nat_gateway")
            // Typical time to create on AWS (scheduling weight).
            .typical_duration(Duration::from_secs(90))
            .attr("subnet_id", F)
            .attr("allocation_id", F)
            .attr("id", C)
            .attr("state", C)
            .attr("tags", U),
        ops!(
            ec2::read_nats,
            ec2::create_nat,
            ec2::update_tags_only,
            ec2::delete_nat,
        ),
    );
    r.add(
        ResourceSchema::new("aws_vpc_endpoint")
            // Typical time to create on AWS (scheduling weight).
            .typical_duration(Duration::from_secs(30))
            .attr("vpc_id", F)
            .attr("service_name", F)
            .attr("vpc_endpoint_type", F)
            .attr("route_table_ids", US)
            .attr("id", C)
            .attr("tags", U),
        ops!(
            ec2::read_endpoints,
            ec2::create_endpoint,
            ec2::update_endpoint,
            ec2::delete_endpoint,
        ),
    );
    r.add(
        ResourceSchema::new("aws_security_group")
            .attr("name", F)
            .attr("description", F)
            .attr("vpc_id", F)
            .attr("id", C)
            .attr("arn", C)
            .attr("tags", U)
            .create_follow_ups(),
        ops!(
            ec2::read_security_groups,
            ec2::create_security_group,
            ec2::update_tags_only,
            ec2::delete_security_group,
        ),
    );
    r.add(
        ResourceSchema::new("aws_security_group_rule")
            .attr("security_group_id", F)
            .attr("type", F)
            .attr("ip_protocol", U)
            .attr("from_port", U)
            .attr("to_port", U)
            .attr("cidr_ipv4", U)
            .attr("referenced_security_group_id", U)
            .attr("description", U)
            .attr("id", C)
            .attr("tags", U),
        ops!(
            ec2::read_rules,
            ec2::create_rule,
            ec2::update_rule,
            ec2::delete_rule,
        ),
    );
    r.add(
        ResourceSchema::new("aws_secretsmanager_secret")
            .attr("name", F)
            .attr("description", U)
            .attr("secret_string", S)
            .attr("id", C)
            .attr("arn", C)
            .attr("tags", U)
            .adopts_existing(),
        ops!(
            secrets::read,
            secrets::create,
            secrets::update,
            secrets::delete,
        ),
    );
    r.add(
        ResourceSchema::new("aws_db_subnet_group")
            .attr("name", F)
            .attr("description", U)
            .attr("subnet_ids", US)
            .attr("id", C)
            .attr("arn", C)
            .attr("tags", U)
            .adopts_existing(),
        ops!(
            rds::read_subnet_groups,
            rds::create_subnet_group,
            rds::update_subnet_group,
            rds::delete_subnet_group,
        ),
    );
    r.add(
        ResourceSchema::new("aws_db_parameter_group")
            .attr("name", F)
            .attr("family", F)
            .attr("description", F)
            .attr("parameters", U)
            .attr("id", C)
            .attr("arn", C)
            .attr("tags", U)
            .adopts_existing()
            .create_follow_ups(),
        ops!(
            rds::read_parameter_groups,
            rds::create_parameter_group,
            rds::update_parameter_group,
            rds::delete_parameter_group,
        ),
    );
    r.add(
        ResourceSchema::new("aws_db_instance")
            // Typical time to create on AWS (scheduling weight).
            .typical_duration(Duration::from_secs(600))
            .attr("identifier", F)
            .attr("engine", F)
            .attr("engine_version", U)
            .attr("instance_class", U)
            .attr("allocated_storage", U)
            .attr("storage_type", U)
            .attr("storage_encrypted", F)
            .attr("multi_az", U)
            .attr("backup_retention_period", U)
            // AWS picks a window when none is asked for: computed when unset.
            .attr("preferred_backup_window", C)
            .attr("preferred_maintenance_window", C)
            .attr("deletion_protection", U)
            .attr("username", F)
            .attr("password", S)
            .attr("manage_master_user_password", U)
            .attr("master_user_secret_arn", C)
            .attr("db_name", F)
            .attr("db_subnet_group_name", F)
            .attr("vpc_security_group_ids", US)
            .attr("parameter_group_name", U)
            .attr("id", C)
            .attr("arn", C)
            .attr("endpoint", C)
            .attr("port", C)
            .attr("status", C)
            .attr("tags", U)
            .adopts_existing(),
        ops!(
            rds::read_instances,
            rds::create_instance,
            rds::update_instance,
            rds::delete_instance,
        ),
    );
    r.add(
        ResourceSchema::new("aws_postgres_database")
            .attr("instance_identifier", F)
            .attr("endpoint", F)
            .attr("port", F)
            .attr("name", F)
            .attr("username", U)
            .attr("password_secret_arn", U)
            .attr("id", C)
            .adopts_existing(),
        ops!(
            rds::database::read,
            rds::database::create,
            rds::database::update,
            rds::database::delete,
        ),
    );
    r.add(
        ResourceSchema::new("aws_msk_cluster")
            // Typical time to create on AWS (scheduling weight).
            .typical_duration(Duration::from_secs(1500))
            .attr("cluster_name", F)
            .attr("kafka_version", U)
            .attr("number_of_broker_nodes", U)
            .attr("instance_type", U)
            .attr("ebs_volume_size", U)
            .attr("client_subnets", FS)
            .attr("security_groups", FS)
            .attr("encryption_in_transit_client_broker", F)
            .attr("encryption_in_transit_in_cluster", F)
            .attr("id", C)
            .attr("arn", C)
            .attr("current_version", C)
            .attr("bootstrap_brokers_tls", C)
            .attr("state", C)
            .attr("tags", U),
        ops!(msk::read, msk::create, msk::update, msk::delete,),
    );
    r.add(
        ResourceSchema::new("aws_msk_topic")
            .attr("cluster_arn", F)
            .attr("name", F)
            .attr("partitions", U)
            .attr("replication", F)
            .attr("retention_hours", U)
            .attr("cleanup_policy", U)
            .attr("id", C)
            .attr("arn", C)
            .adopts_existing(),
        ops!(
            msk::topic::read,
            msk::topic::create,
            msk::topic::update,
            msk::topic::delete,
        ),
    );
    r.add(
        ResourceSchema::new("aws_lb")
            // Typical time to create on AWS (scheduling weight).
            .typical_duration(Duration::from_secs(120))
            .attr("name", F)
            .attr("internal", F)
            .attr("load_balancer_type", F)
            .attr("subnets", US)
            .attr("security_groups", US)
            .attr("id", C)
            .attr("arn", C)
            .attr("dns_name", C)
            .attr("tags", U),
        ops!(
            elb::read_lbs,
            elb::create_lb,
            elb::update_lb,
            elb::delete_lb,
        ),
    );
    r.add(
        ResourceSchema::new("aws_lb_target_group")
            .attr("name", F)
            .attr("port", F)
            .attr("protocol", F)
            .attr("target_type", F)
            .attr("vpc_id", F)
            .attr("health_check_path", U)
            .attr("health_check_interval", U)
            .attr("health_check_timeout", U)
            .attr("healthy_threshold", U)
            .attr("unhealthy_threshold", U)
            .attr("matcher", U)
            .attr("id", C)
            .attr("arn", C)
            .attr("tags", U)
            .adopts_existing()
            // Listeners keep pointing at a target group until the new one exists.
            .create_before_destroy(),
        ops!(
            elb::read_tgs,
            elb::create_tg,
            elb::update_tg,
            elb::delete_tg,
        ),
    );
    r.add(
        ResourceSchema::new("aws_lb_listener")
            .attr("load_balancer_arn", F)
            .attr("port", U)
            .attr("protocol", U)
            .attr("certificate_arn", U)
            .attr("ssl_policy", U)
            .attr("default_action", U)
            .attr("default_target_group_arn", U)
            .attr("id", C)
            .attr("arn", C)
            .attr("tags", U),
        ops!(
            elb::read_listeners,
            elb::create_listener,
            elb::update_listener,
            elb::delete_listener,
        ),
    );
    r.add(
        ResourceSchema::new("aws_lb_listener_rule")
            .attr("listener_arn", F)
            .attr("priority", U)
            .attr("path_patterns", U)
            .attr("source_ips", US)
            .attr("target_group_arn", U)
            .attr("action", U)
            .attr("id", C)
            .attr("arn", C)
            .attr("tags", U),
        ops!(
            elb::read_rules,
            elb::create_rule,
            elb::update_rule,
            elb::delete_rule,
        ),
    );
    r.add(
        ResourceSchema::new("aws_elasticache_subnet_group")
            .attr("name", F)
            .attr("description", U)
            .attr("subnet_ids", US)
            .attr("id", C)
            .attr("arn", C)
            .attr("tags", U)
            .adopts_existing(),
        ops!(
            elasticache::read_subnet_groups,
            elasticache::create_subnet_group,
            elasticache::update_subnet_group,
            elasticache::delete_subnet_group,
        ),
    );
    r.add(
        ResourceSchema::new("aws_elasticache_replication_group")
            // Typical time to create on AWS (scheduling weight).
            .typical_duration(Duration::from_secs(600))
            .attr("replication_group_id", F)
            .attr("description", U)
            .attr("engine", F)
            .attr("engine_version", U)
            .attr("node_type", U)
            .attr("num_cache_clusters", U)
            .attr("automatic_failover_enabled", U)
            .attr("multi_az_enabled", U)
            .attr("transit_encryption_enabled", F)
            .attr("at_rest_encryption_enabled", F)
            .attr("auth_token", S)
            .attr("port", F)
            .attr("subnet_group_name", F)
            .attr("security_group_ids", US)
            .attr("id", C)
            .attr("arn", C)
            .attr("primary_endpoint_address", C)
            .attr("status", C)
            .attr("tags", U)
            .adopts_existing(),
        ops!(
            elasticache::read_groups,
            elasticache::create_group,
            elasticache::update_group,
            elasticache::delete_group,
        ),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::model::*;

    #[test]
    fn every_lowered_type_is_registered_and_overrides_are_checked_per_kind() {
        for (_, types) in LOWERS_TO {
            for t in *types {
                assert!(TYPES.schema_of(t).is_some(), "{t} is not in the registry");
            }
        }
        let keys = override_keys();
        assert!(keys[&KindName::Database].contains("instance_class"));
        assert!(
            !keys[&KindName::Database].contains("arn"),
            "computed: not settable"
        );
        assert!(!keys[&KindName::Network].contains("instance_class"));

        let mut s = Stack::new("over");
        let net = s.add("main", Network::new("10.0.0.0/16"));
        s.add(
            "a",
            Subnet::new(&net, "10.0.1.0/24").override_for("aws", "map_public_ip", true),
        );
        let schema = cairn_core::provider::ProviderSchema {
            override_keys: keys,
            ..Default::default()
        };
        let misfits = cairn_core::engine::provider_fit(&s, "aws", &schema);
        assert_eq!(misfits.len(), 1, "{misfits:?}");
        assert_eq!(misfits[0].field, "overrides.aws.map_public_ip");
        assert!(
            misfits[0].message.contains("map_public_ip_on_launch"),
            "lists what it reads: {}",
            misfits[0].message
        );
    }

    #[test]
    fn an_alb_refuses_tcp_listeners_and_takes_the_rest() {
        use cairn_core::provider::Provider;
        let aws = crate::AwsProvider::offline("us-east-1");
        let mut s = Stack::new("lb");
        let net = s.add("main", Network::new("10.0.0.0/16"));
        s.add(
            "web",
            LoadBalancer::public()
                .https("arn:aws:acm:us-east-1:123456789012:certificate/x")
                .http_redirect()
                .target_group(TargetGroup::new("api", 8080, HealthCheck::http("/")).blue_green())
                .route_from(10, "/admin/*", "api", &["10.0.0.0/8"])
                .deny(20, "/admin/*")
                .tcp(5432, "api")
                .default_target("api")
                .in_network(&net),
        );
        let misfits = cairn_core::engine::provider_fit(&s, "aws", aws.schema());
        let fields: Vec<&str> = misfits.iter().map(|m| m.field.as_str()).collect();
        assert_eq!(fields, ["tcp_listeners[0]"], "{misfits:?}");
        assert!(
            misfits[0]
                .message
                .contains("on aws (an Application Load Balancer) cannot listen on TCP"),
            "{}",
            misfits[0].message
        );
    }

    #[test]
    fn tags_aws_would_refuse_are_refused_before_any_call() {
        use cairn_core::provider::Provider;
        let aws = crate::AwsProvider::offline("us-east-1");
        let mut net = Network::new("10.0.0.0/16");
        for i in 0..48 {
            net = net.tag(&format!("k{i}"), "v");
        }
        let mut s = Stack::new("tags");
        s.add("main", net.tag("long", &"x".repeat(257)));
        let misfits = cairn_core::engine::provider_fit(&s, "aws", aws.schema());
        let fields: Vec<&str> = misfits.iter().map(|m| m.field.as_str()).collect();
        assert_eq!(fields, ["tags", "tags.long"], "{misfits:?}");
        assert!(
            misfits[0].message.contains("at most 47"),
            "{}",
            misfits[0].message
        );
        assert!(
            misfits[1].message.contains("longer than 256"),
            "{}",
            misfits[1].message
        );
    }
}
