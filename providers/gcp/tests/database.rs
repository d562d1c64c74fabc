//! Cloud SQL for PostgreSQL behind private services access, through the kit's lifecycle
//! suite: the reserved range and Service Networking connection, the instance (tier, disk
//! and flags in place; a new major version as a replacement under a new name), its
//! databases and admin user, a database dropped out of band, destroy counted through the
//! API; and the databases and the admin's password checked on the real PostgreSQL the
//! emulator's instances answer at.

use crate::support::{Gcp, PROJECT};
use cairn_core::prelude::*;
use cairn_provider_kit::lifecycle::Case;

const PASSWORD: &str = "Orders-Admin-Pass-1";

fn stack(version: &str, size: Size, storage_gb: u32, flag: Option<&str>, password: &str) -> Stack {
    let mut s = Stack::new("acc-sql");
    let vpc = s.add("main", Network::new("10.70.0.0/16").nat(NatMode::None));
    s.add(
        "data",
        Subnet::new(&vpc, "10.70.1.0/24").tier(Tier::Isolated),
    );
    let pw = s.add("orders-admin", Secret::given(password));
    let mut db = Database::postgres(version)
        .in_network(&vpc)
        .size(size)
        .storage_gb(storage_gb)
        .database("orders")
        .database("audit")
        .admin_user("orders_admin")
        .admin_password(&pw)
        .tag("team", "orders");
    if let Some(v) = flag {
        db = db.parameter("max_connections", v);
    }
    s.add("orders", db);
    s
}

/// The stack's Cloud SQL instances the API still lists (by cairn's label).
fn instances(gcp: &Gcp) -> Vec<serde_json::Value> {
    let (status, body) = gcp.rest(
        "GET",
        &format!(
            "/v1/projects/{PROJECT}/instances?filter=settings.userLabels.cairn-stack%3Aacc-sql"
        ),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["items"].as_array().cloned().unwrap_or_default()
}

/// Drop a database through the Cloud SQL API, as someone outside cairn would, and wait.
fn drop_database(gcp: &Gcp, id: &str) {
    let (status, body) = gcp.rest("DELETE", &format!("/v1/{id}"), "");
    assert_eq!(status, 200, "{body}");
    let op: serde_json::Value = serde_json::from_str(&body).unwrap();
    let path = format!(
        "/v1/projects/{PROJECT}/operations/{}",
        op["name"].as_str().unwrap()
    );
    for _ in 0..50 {
        let (_, body) = gcp.rest("GET", &path, "");
        if body.contains("\"DONE\"") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the out-of-band delete never finished");
}

/// Rows of `sql` run on the real PostgreSQL behind instance `name`, as `user`.
fn query(gcp: &Gcp, name: &str, user: &str, password: &str, sql: &str) -> Vec<String> {
    let (status, body) = gcp.rest("GET", &format!("/_emulator/sql/instances/{name}"), "");
    assert_eq!(status, 200, "{body}");
    let at: serde_json::Value = serde_json::from_str(&body).unwrap();
    gcp.rt.block_on(async {
        let (client, connection) = tokio_postgres::Config::new()
            .host(at["host"].as_str().unwrap())
            .port(u16::try_from(at["port"].as_u64().unwrap()).unwrap())
            .user(user)
            .password(password)
            .dbname("postgres")
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("log in as {user}: {e}"));
        tokio::spawn(connection);
        client
            .simple_query(sql)
            .await
            .unwrap()
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            })
            .collect()
    })
}

#[test]
fn cloud_sql_through_the_lifecycle_suite() {
    let gcp = Gcp::new();
    let report = gcp.lifecycle(Case {
        name: "gcp-sql",
        stack: stack("16", Size::Small, 20, None, PASSWORD),
        creates: vec![
            "gcp_compute_global_address",
            "gcp_service_networking_connection",
            "gcp_sql_database_instance",
            "gcp_sql_database",
            "gcp_sql_user",
        ],
        write_only: vec!["password"],
        updates: vec![
            (
                stack("16", Size::Large, 20, None, PASSWORD),
                "gcp_sql_database_instance.orders",
            ),
            (
                stack("16", Size::Large, 40, Some("200"), PASSWORD),
                "gcp_sql_database_instance.orders",
            ),
            (
                stack("16", Size::Large, 40, Some("200"), "Orders-Admin-Pass-2"),
                "gcp_sql_user.orders-admin",
            ),
        ],
        replace: Some((
            stack("17", Size::Large, 40, Some("200"), "Orders-Admin-Pass-2"),
            "gcp_sql_database_instance.orders",
            vec!["database_version"],
        )),
        delete_out_of_band: Some((
            vec!["gcp_sql_database.orders-audit"],
            Box::new(|id| {
                drop_database(&gcp, &id);
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
fn the_databases_and_the_admin_password_are_real_on_postgresql() {
    let gcp = Gcp::new();
    let engine = cairn_provider_kit::lifecycle::Harness::engine(&gcp, "sql.json");
    let s = stack("16", Size::Small, 20, Some("150"), PASSWORD);
    gcp.apply(
        &engine,
        &s,
        cairn_core::plan::planner::PlanOptions::default(),
    );
    let all = instances(&gcp);
    assert_eq!(all.len(), 1, "{all:?}");
    let x = &all[0];
    let name = x["name"].as_str().unwrap();
    assert!(name.starts_with("acc-sql-orders-"), "{name}");
    assert_eq!(x["state"], "RUNNABLE");
    assert_eq!(x["settings"]["ipConfiguration"]["ipv4Enabled"], false);
    assert_eq!(x["settings"]["userLabels"]["team"], "orders");
    assert_eq!(
        x["settings"]["databaseFlags"][0]["name"], "max_connections",
        "{x}"
    );
    let ip = x["ipAddresses"][0]["ipAddress"].as_str().unwrap();
    assert!(
        ip.starts_with("10."),
        "a private address from the reserved range: {ip}"
    );
    let databases = query(
        &gcp,
        name,
        "orders_admin",
        PASSWORD,
        "SELECT datname FROM pg_database ORDER BY datname",
    );
    for db in ["audit", "orders"] {
        assert!(databases.iter().any(|d| d == db), "{db}: {databases:?}");
    }
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
