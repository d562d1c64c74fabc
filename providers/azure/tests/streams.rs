//! Azure Cache for Redis and Event Hubs through the kit's lifecycle suite, with the keys
//! Azure makes for them (a cache's access key, a rule's connection string) kept in the
//! stack's key vault as produced secrets; and the produced values checked against what
//! the services answer.

use crate::support::{Azure, SUBSCRIPTION};
use cairn_core::prelude::*;
use cairn_provider_kit::lifecycle::Case;

fn cache_stack(size: Size, replicas: u32, version: &str) -> Stack {
    let mut s = Stack::new("acc-redis");
    let vpc = s.add("main", Network::new("10.91.0.0/16").nat(NatMode::None));
    s.add(
        "data",
        Subnet::new(&vpc, "10.91.1.0/24").tier(Tier::Isolated),
    );
    let token = s.add(
        "redis-key",
        Secret::produced().description("Redis access key"),
    );
    s.add(
        "sessions",
        Cache::redis("7")
            .override_for("azure", "redis_version", version)
            .size(size)
            .replicas(replicas)
            .multi_zone(false)
            .auth_token(&token)
            .in_network(&vpc)
            .tag("team", "web"),
    );
    s
}

#[test]
fn redis_caches_through_the_lifecycle_suite() {
    let az = Azure::new();
    let report = az.lifecycle(Case {
        name: "azure-redis",
        stack: cache_stack(Size::Small, 1, "6"),
        creates: vec![
            "azure_resource_group",
            "azure_virtual_network",
            "azure_subnet",
            "azure_redis_cache",
            "azure_private_endpoint",
            "azure_private_dns_zone_group",
            "azure_private_dns_zone",
            "azure_private_dns_zone_link",
            "azure_key_vault",
            "azure_key_vault_secret",
        ],
        write_only: vec!["on_soft_deleted", "purge_on_destroy"],
        updates: vec![(
            cache_stack(Size::Large, 1, "6"),
            "azure_redis_cache.sessions",
        )],
        replace: Some((
            cache_stack(Size::Large, 1, "4"),
            "azure_redis_cache.sessions",
            vec!["redis_version"],
        )),
        delete_out_of_band: Some((
            vec!["azure_redis_cache.sessions"],
            Box::new(|id| {
                az.delete_out_of_band(&id, "2024-03-01");
                Box::pin(async {})
            }),
        )),
        remaining: Box::new(|stack| {
            let (group, n) = az.group_contents(&stack);
            let held = az.deleted_vaults(&stack);
            Box::pin(async move { n + usize::from(group) + held })
        }),
    });
    assert_eq!((report.replaced, report.recreated), (1, 1), "{report:?}");
    assert!(report.updated >= 1, "{report:?}");
}

fn broker_stack(throughput: u32, retention_hours: u32, partitions: u32) -> (Stack, Ref<Network>) {
    let mut s = Stack::new("acc-events");
    let vpc = s.add("main", Network::new("10.92.0.0/16").nat(NatMode::None));
    s.add(
        "data",
        Subnet::new(&vpc, "10.92.1.0/24").tier(Tier::Isolated),
    );
    let creds = s.add("kafka-clients", Secret::produced());
    s.add(
        "events",
        Broker::kafka("3")
            .throughput_mb_s(throughput)
            .storage_gb(100)
            .topic_with(Topic::new("orders", partitions).retention_hours(retention_hours))
            .topic("payments", 2)
            .credentials(&creds)
            .in_network(&vpc),
    );
    (s, vpc)
}

fn broker(throughput: u32, retention_hours: u32, partitions: u32) -> Stack {
    broker_stack(throughput, retention_hours, partitions).0
}

#[test]
fn event_hubs_through_the_lifecycle_suite() {
    let az = Azure::new();
    let report = az.lifecycle(Case {
        name: "azure-eventhubs",
        stack: broker(1, 168, 4),
        creates: vec![
            "azure_resource_group",
            "azure_virtual_network",
            "azure_subnet",
            "azure_eventhub_namespace",
            "azure_eventhub",
            "azure_eventhub_authorization_rule",
            "azure_private_endpoint",
            "azure_private_dns_zone_group",
            "azure_private_dns_zone",
            "azure_private_dns_zone_link",
            "azure_key_vault",
            "azure_key_vault_secret",
        ],
        write_only: vec!["on_soft_deleted", "purge_on_destroy"],
        updates: vec![
            (broker(3, 168, 4), "azure_eventhub_namespace.events"),
            (broker(3, 48, 4), "azure_eventhub.events-orders"),
        ],
        replace: Some((
            broker(3, 48, 8),
            "azure_eventhub.events-orders",
            vec!["partition_count"],
        )),
        delete_out_of_band: Some((
            vec!["azure_eventhub.events-payments"],
            Box::new(|id| {
                az.delete_out_of_band(&id, "2024-01-01");
                Box::pin(async {})
            }),
        )),
        remaining: Box::new(|stack| {
            let (group, n) = az.group_contents(&stack);
            let held = az.deleted_vaults(&stack);
            Box::pin(async move { n + usize::from(group) + held })
        }),
    });
    assert_eq!((report.replaced, report.recreated), (1, 1), "{report:?}");
    assert!(report.updated >= 2, "{report:?}");
}

/// The value of secret `name` in the vault of stack `stack`, through the vault's data plane.
fn vault_value(az: &Azure, stack: &str, name: &str) -> String {
    let (status, body) = az.arm(
        "GET",
        &format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{stack}/providers/Microsoft.KeyVault/vaults"),
        "2019-09-01",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let vaults: serde_json::Value = serde_json::from_str(&body).unwrap();
    let uri = vaults["value"][0]["properties"]["vaultUri"]
        .as_str()
        .unwrap();
    let path = uri.split_once("//").unwrap().1.split_once('/').unwrap().1;
    let (status, body) = az.arm("GET", &format!("/{path}secrets/{name}"), "7.4", "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["value"].as_str().unwrap().to_string()
}

#[test]
fn produced_secrets_hold_what_the_services_made() {
    let az = Azure::new();
    let engine = cairn_provider_kit::lifecycle::Harness::engine(&az, "streams.json");
    let (mut s, vpc) = broker_stack(2, 168, 4);
    let key = s.add("redis-key", Secret::produced());
    s.add(
        "cache",
        Cache::redis("7")
            .override_for("azure", "redis_version", "6")
            .replicas(0)
            .automatic_failover(false)
            .multi_zone(false)
            .auth_token(&key)
            .in_network(&vpc),
    );
    az.apply(
        &engine,
        &s,
        cairn_core::plan::planner::PlanOptions::default(),
    );
    let group = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/acc-events");
    let (status, body) = az.arm(
        "POST",
        &format!("{group}/providers/Microsoft.Cache/redis/acc-events-cache/listKeys"),
        "2024-03-01",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let keys: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        vault_value(&az, "acc-events", "redis-key"),
        keys["primaryKey"].as_str().unwrap()
    );
    let (status, body) = az.arm(
        "POST",
        &format!("{group}/providers/Microsoft.EventHub/namespaces/acc-events-events/authorizationRules/clients/listKeys"),
        "2024-01-01",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let keys: serde_json::Value = serde_json::from_str(&body).unwrap();
    let conn = vault_value(&az, "acc-events", "kafka-clients");
    assert_eq!(conn, keys["primaryConnectionString"].as_str().unwrap());
    assert!(conn.starts_with("Endpoint=sb://acc-events-events.servicebus.windows.net/"));
    // The cache in a network takes no traffic from the internet; Basic has no replica.
    let (_, body) = az.arm(
        "GET",
        &format!("{group}/providers/Microsoft.Cache/redis/acc-events-cache"),
        "2024-03-01",
        "",
    );
    let cache: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(cache["properties"]["publicNetworkAccess"], "Disabled");
    assert_eq!(cache["properties"]["sku"]["name"], "Basic");
    assert_eq!(cache["properties"]["enableNonSslPort"], false);
    // Reached through a private endpoint in the isolated subnet, named in the privatelink
    // zone linked to the network.
    let (_, body) = az.arm(
        "GET",
        &format!("{group}/providers/Microsoft.Network/privateEndpoints"),
        "2024-03-01",
        "",
    );
    let endpoints: serde_json::Value = serde_json::from_str(&body).unwrap();
    let endpoints = endpoints["value"].as_array().unwrap();
    assert_eq!(
        endpoints.len(),
        2,
        "the cache's and the namespace's: {endpoints:?}"
    );
    for e in endpoints {
        let p = &e["properties"];
        assert!(
            p["subnet"]["id"]
                .as_str()
                .unwrap()
                .ends_with("/subnets/data"),
            "{e}"
        );
        assert!(p["customDnsConfigs"][0]["ipAddresses"][0]
            .as_str()
            .unwrap()
            .starts_with("10.92.1."));
    }
    let (status, _) = az.arm(
        "GET",
        &format!("{group}/providers/Microsoft.Network/privateDnsZones/privatelink.redis.cache.windows.net"),
        "2024-06-01",
        "",
    );
    assert_eq!(status, 200);
    az.apply(
        &engine,
        &s,
        cairn_core::plan::planner::PlanOptions {
            mode: cairn_core::plan::PlanMode::Destroy,
            refresh: true,
            ..Default::default()
        },
    );
    assert_eq!(az.group_contents("acc-events"), (false, 0));
}
