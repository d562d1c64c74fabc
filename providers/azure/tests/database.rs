//! PostgreSQL flexible servers with private access, through the kit's lifecycle suite: the
//! delegated subnet, the private DNS zone and its link, the stack's key vault and the
//! administrator's secret, the server (SKU, storage and password in place; a new major
//! version as a replacement), its databases and a parameter, a database dropped out of
//! band, destroy with the group gone and the vault purged; and the databases, the
//! parameter and the administrator's password checked on the real PostgreSQL the emulator's
//! servers answer at.

use crate::support::{Azure, SUBSCRIPTION};
use cairn_core::prelude::*;
use cairn_provider_kit::lifecycle::Case;

const PASSWORD: &str = "Orders-Admin-Pass-1";

fn stack(version: &str, size: Size, storage_gb: u32, flag: &str, password: &str) -> Stack {
    named("acc-pg", version, size, storage_gb, flag, password)
}

fn named(
    name: &str,
    version: &str,
    size: Size,
    storage_gb: u32,
    flag: &str,
    password: &str,
) -> Stack {
    let mut s = Stack::new(name);
    let vpc = s.add("main", Network::new("10.90.0.0/16").nat(NatMode::None));
    s.add(
        "data",
        Subnet::new(&vpc, "10.90.1.0/24").tier(Tier::Isolated),
    );
    let pw = s.add(
        "orders-admin",
        Secret::given(password).description("orders administrator"),
    );
    let db = Database::postgres(version)
        .in_network(&vpc)
        .size(size)
        .storage_gb(storage_gb)
        .backup_retention_days(7)
        .maintenance_window(Window::weekly(Weekday::Sun, 4))
        .database("orders")
        .database("audit")
        .admin_user("orders_admin")
        .admin_password(&pw)
        .parameter("max_connections", flag)
        .tag("team", "orders");
    let db = s.add("orders", db);
    // The app may reach the server; the rest of the network may not.
    let app = s.add("app", SecurityGroup::new(&vpc, "app"));
    s.allow(app.can_reach(&db));
    s
}

/// Rows of `sql` on the real PostgreSQL behind server `name`, as `user`.
fn query(az: &Azure, name: &str, user: &str, password: &str, sql: &str) -> Vec<String> {
    let (status, body) = az
        .guard
        .emulator()
        .request("GET", &format!("/_emulator/postgres/servers/{name}"), "")
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let at: serde_json::Value = serde_json::from_str(&body).unwrap();
    az.rt.block_on(async {
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
fn flexible_servers_through_the_lifecycle_suite() {
    let az = Azure::new();
    let report = az.lifecycle(Case {
        name: "azure-postgres",
        stack: stack("15", Size::Small, 20, "100", PASSWORD),
        creates: vec![
            "azure_resource_group",
            "azure_virtual_network",
            "azure_subnet",
            "azure_network_security_group",
            "azure_application_security_group",
            "azure_private_dns_zone",
            "azure_private_dns_zone_link",
            "azure_key_vault",
            "azure_key_vault_secret",
            "azure_postgresql_flexible_server",
            "azure_postgresql_database",
            "azure_postgresql_configuration",
        ],
        write_only: vec![
            "value",
            "administrator_password",
            "on_soft_deleted",
            "purge_on_destroy",
        ],
        updates: vec![
            (
                stack("15", Size::Large, 100, "100", PASSWORD),
                "azure_postgresql_flexible_server.orders",
            ),
            (
                stack("15", Size::Large, 100, "200", PASSWORD),
                "azure_postgresql_configuration.orders-max_connections",
            ),
            (
                stack("15", Size::Large, 100, "200", "Orders-Admin-Pass-2"),
                "azure_key_vault_secret.orders-admin",
            ),
        ],
        replace: Some((
            stack("16", Size::Large, 100, "200", "Orders-Admin-Pass-2"),
            "azure_postgresql_flexible_server.orders",
            vec!["version"],
        )),
        delete_out_of_band: Some((
            vec!["azure_postgresql_database.orders-audit"],
            Box::new(|id| {
                az.delete_out_of_band(&id, "2024-08-01");
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
    assert!(report.updated >= 3, "{report:?}");
}

#[test]
fn the_databases_parameter_and_password_are_real_on_postgresql() {
    let az = Azure::new();
    let engine = cairn_provider_kit::lifecycle::Harness::engine(&az, "pg.json");
    let s = named("acc-pg-real", "16", Size::Small, 20, "150", PASSWORD);
    az.apply(
        &engine,
        &s,
        cairn_core::plan::planner::PlanOptions::default(),
    );
    let group = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/acc-pg-real");
    let (status, body) = az.arm(
        "GET",
        &format!("{group}/providers/Microsoft.DBforPostgreSQL/flexibleServers"),
        "2024-08-01",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let servers: serde_json::Value = serde_json::from_str(&body).unwrap();
    let x = &servers["value"][0];
    let name = x["name"].as_str().unwrap();
    assert_eq!(name, "acc-pg-real-orders");
    assert_eq!(
        x["properties"]["network"]["publicNetworkAccess"],
        "Disabled"
    );
    assert_eq!(
        x["properties"]["storage"]["storageSizeGB"], 32,
        "rounded up"
    );
    assert_eq!(x["sku"]["name"], "Standard_B1ms");
    assert_eq!(x["tags"]["team"], "orders");
    assert_eq!(x["tags"]["cairn:stack"], "acc-pg-real");
    assert_eq!(
        x["properties"]["maintenanceWindow"]["dayOfWeek"], 0,
        "Sunday"
    );
    assert!(
        x["properties"].get("administratorLoginPassword").is_none(),
        "never answered: {x}"
    );
    let databases = query(
        &az,
        name,
        "orders_admin",
        PASSWORD,
        "SELECT datname FROM pg_database ORDER BY datname",
    );
    for db in ["audit", "orders"] {
        assert!(databases.iter().any(|d| d == db), "{db}: {databases:?}");
    }
    let max = query(
        &az,
        name,
        "orders_admin",
        PASSWORD,
        "SELECT setting FROM pg_settings WHERE name = 'max_connections'",
    );
    // max_connections needs a restart: the server holds it pending, the API reports it.
    let (status, body) = az.arm(
        "GET",
        &format!("{group}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{name}/configurations/max_connections"),
        "2024-08-01",
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"value\": \"150\""),
        "{body} (running: {max:?})"
    );
    // The secret's value went to the vault (read back through the vault's data plane).
    let (status, body) = az.arm(
        "GET",
        &format!("{group}/providers/Microsoft.KeyVault/vaults"),
        "2019-09-01",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let vaults: serde_json::Value = serde_json::from_str(&body).unwrap();
    let uri = vaults["value"][0]["properties"]["vaultUri"]
        .as_str()
        .unwrap();
    let path = uri.split_once("//").unwrap().1.split_once('/').unwrap().1;
    let (status, body) = az.arm("GET", &format!("/{path}secrets/orders-admin"), "7.4", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(PASSWORD), "the stored value: {body}");
    az.apply(
        &engine,
        &s,
        cairn_core::plan::planner::PlanOptions {
            mode: cairn_core::plan::PlanMode::Destroy,
            refresh: true,
            ..Default::default()
        },
    );
    assert_eq!(az.group_contents("acc-pg-real"), (false, 0));
    assert_eq!(az.deleted_vaults("acc-pg-real"), 0, "purged on destroy");
}
