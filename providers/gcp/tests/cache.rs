//! Memorystore for Redis behind private services access, through the kit's lifecycle
//! suite: memory, labels and read replicas in place, a new major version as a replacement,
//! the instance deleted out of band, destroy counted through the API; and the AUTH string
//! Memorystore makes kept in Secret Manager for the stack's clients.

use crate::support::{Gcp, PROJECT, REGION};
use cairn_core::prelude::*;
use cairn_provider_kit::lifecycle::Case;

fn stack(version: &str, size: Size, replicas: u32, team: &str) -> Stack {
    let mut s = Stack::new("acc-redis");
    let vpc = s.add("main", Network::new("10.60.0.0/16").nat(NatMode::None));
    s.add(
        "data",
        Subnet::new(&vpc, "10.60.1.0/24").tier(Tier::Isolated),
    );
    let auth = s.add("sessions-auth", Secret::produced());
    s.add(
        "sessions",
        Cache::redis(version)
            .in_network(&vpc)
            .size(size)
            .replicas(replicas)
            .auth_token(&auth)
            .tag("team", team),
    );
    s
}

fn path(rest: &str) -> String {
    format!("/v1/projects/{PROJECT}/locations/{REGION}/instances{rest}")
}

/// The stack's Memorystore instances the API still lists.
fn instances(gcp: &Gcp) -> Vec<serde_json::Value> {
    let (status, body) = gcp.rest("GET", &path(""), "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["instances"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|x| x["labels"]["cairn-stack"] == "acc-redis")
        .collect()
}

/// Delete an instance through the API, as someone outside cairn would, and wait.
fn delete_out_of_band(gcp: &Gcp, id: &str) {
    let (status, body) = gcp.rest("DELETE", &format!("/v1/{id}"), "");
    assert_eq!(status, 200, "{body}");
    let op: serde_json::Value = serde_json::from_str(&body).unwrap();
    let name = op["name"].as_str().unwrap().to_string();
    for _ in 0..100 {
        let (_, body) = gcp.rest("GET", &format!("/v1/{name}"), "");
        let op: serde_json::Value = serde_json::from_str(&body).unwrap();
        if op["done"] == true {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the out-of-band delete never finished");
}

#[test]
fn memorystore_through_the_lifecycle_suite() {
    let gcp = Gcp::new();
    let report = gcp.lifecycle(Case {
        name: "gcp-redis",
        stack: stack("7", Size::Medium, 1, "web"),
        creates: vec!["gcp_redis_instance", "gcp_secret_manager_secret"],
        write_only: vec![],
        updates: vec![
            (
                stack("7", Size::Large, 1, "web"),
                "gcp_redis_instance.sessions",
            ),
            (
                stack("7", Size::Large, 1, "sessions"),
                "gcp_redis_instance.sessions",
            ),
            (
                stack("7", Size::Large, 3, "sessions"),
                "gcp_redis_instance.sessions",
            ),
        ],
        replace: Some((
            stack("6", Size::Large, 3, "sessions"),
            "gcp_redis_instance.sessions",
            vec!["redis_version"],
        )),
        delete_out_of_band: Some((
            vec!["gcp_redis_instance.sessions"],
            Box::new(|id| {
                delete_out_of_band(&gcp, &id);
                Box::pin(async {})
            }),
        )),
        remaining: Box::new(|_| {
            let n = instances(&gcp).len();
            Box::pin(async move { n })
        }),
    });
    assert_eq!((report.replaced, report.recreated), (1, 1), "{report:?}");
    assert!(report.updated >= 3, "{report:?}");
}

#[test]
fn the_auth_string_memorystore_makes_is_kept_in_secret_manager() {
    let gcp = Gcp::new();
    let engine = cairn_provider_kit::lifecycle::Harness::engine(&gcp, "redis.json");
    let s = stack("7", Size::Small, 1, "web");
    gcp.apply(
        &engine,
        &s,
        cairn_core::plan::planner::PlanOptions::default(),
    );
    let all = instances(&gcp);
    assert_eq!(all.len(), 1, "{all:?}");
    let x = &all[0];
    assert_eq!(
        (x["tier"].as_str(), x["memorySizeGb"].as_i64()),
        (Some("STANDARD_HA"), Some(2)),
        "the size's memory, with a standby: {x}"
    );
    assert_eq!(x["transitEncryptionMode"], "SERVER_AUTHENTICATION");
    assert_eq!(x["connectMode"], "PRIVATE_SERVICE_ACCESS");
    let name = x["name"].as_str().unwrap();
    let (status, body) = gcp.rest("GET", &format!("/v1/{name}/authString"), "");
    assert_eq!(status, 200, "{body}");
    let auth: serde_json::Value = serde_json::from_str(&body).unwrap();
    let (status, body) = gcp.rest(
        "GET",
        &format!("/v1/projects/{PROJECT}/secrets/acc-redis-sessions-auth/versions/latest:access"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let stored: serde_json::Value = serde_json::from_str(&body).unwrap();
    let encoded = stored["payload"]["data"].as_str().unwrap();
    assert_eq!(
        crate::secret::base64_decode(encoded),
        auth["authString"].as_str().unwrap().as_bytes(),
        "the secret holds the AUTH string Memorystore made"
    );
    let again = gcp.rt.block_on(async {
        engine
            .plan(
                &s,
                &cairn_core::plan::planner::PlanOptions {
                    refresh: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
    });
    assert!(!again.has_changes(), "{again:?}");
    gcp.apply(
        &engine,
        &s,
        cairn_core::plan::planner::PlanOptions {
            mode: cairn_core::plan::PlanMode::Destroy,
            refresh: true,
            ..Default::default()
        },
    );
    assert!(instances(&gcp).is_empty());
}
