//! The Azure emulator's PostgreSQL flexible servers: each one a real PostgreSQL, reached
//! with `psql`, its long-running operations polled to the end.

use super::{arm_call, arm_error, json};

/// Poll a long-running operation's `Azure-AsyncOperation` URL until it ends.
fn settle(e: &cairn_tests::Emulator, headers: &std::collections::HashMap<String, String>) {
    let url = &headers["azure-asyncoperation"];
    let path = &url[url.find("/subscriptions/").unwrap()..];
    for _ in 0..50 {
        let (status, _, body) = arm_call(e, "GET", path, "");
        assert_eq!(status, 200, "{body}");
        if json(&body)["status"] != "InProgress" {
            assert_eq!(json(&body)["status"], "Succeeded", "{body}");
            return;
        }
    }
    panic!("{path} never ended");
}

/// `psql -c query` as `user` with `password` on the server at `port`: its output, or its
/// error.
fn psql(port: u64, user: &str, password: &str, db: &str, query: &str) -> Result<String, String> {
    let out = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            user,
            "-d",
            db,
            "-Atc",
            query,
        ])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

#[test]
fn the_azure_emulator_runs_flexible_servers_on_real_postgresql() {
    let guard = cairn_tests::Emulator::shared(cairn_tests::AZURE);
    let e = guard.emulator();
    let call = |method: &str, path: &str, api: &str, body: &str| {
        arm_call(e, method, &format!("{path}?api-version={api}"), body)
    };
    let group = "/subscriptions/s1/resourceGroups/pgshop";
    let net = "2024-03-01";
    let pg = "2024-08-01";
    let dns = "2024-06-01";
    assert_eq!(
        call("PUT", group, "2021-04-01", r#"{"location": "westeurope"}"#).0,
        201
    );
    let vnet = format!("{group}/providers/Microsoft.Network/virtualNetworks/main");
    let subnet = format!("{vnet}/subnets/db");
    let (status, headers, body) = call(
        "PUT",
        &vnet,
        net,
        r#"{"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "db", "properties": {"addressPrefix": "10.0.1.0/24",
              "delegations": [{"name": "pg", "properties": {"serviceName": "Microsoft.DBforPostgreSQL/flexibleServers"}}]}},
             {"name": "app", "properties": {"addressPrefix": "10.0.2.0/24"}}]}}"#,
    );
    assert_eq!(status, 201, "{body}");
    settle(e, &headers);
    // A network answers with its subnets inside.
    let (_, _, body) = call("GET", &vnet, net, "");
    let names: Vec<String> = json(&body)["properties"]["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["app", "db"], "{body}");
    let zone = format!("{group}/providers/Microsoft.Network/privateDnsZones/pgshop.private.postgres.database.azure.com");
    let (status, _, body) = call("PUT", &zone, dns, r#"{"location": "global"}"#);
    assert!(matches!(status, 200 | 201), "{body}");

    let server = format!("{group}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pgshop-db");
    let body = |login: &str, storage: u32, tier: &str, sku: &str| {
        format!(
            r#"{{"location": "westeurope", "sku": {{"name": "{sku}", "tier": "{tier}"}},
                "properties": {{"administratorLogin": "{login}", "administratorLoginPassword": "Cairn-Test-1234",
                  "version": "16", "storage": {{"storageSizeGB": {storage}}}, "backup": {{"backupRetentionDays": 7}},
                  "highAvailability": {{"mode": "ZoneRedundant"}},
                  "network": {{"delegatedSubnetResourceId": "{subnet}", "privateDnsZoneArmResourceId": "{zone}"}}}}}}"#
        )
    };
    // The service's own rules, before anything is made.
    for (login, storage, tier, sku, code) in [
        (
            "admin",
            128,
            "GeneralPurpose",
            "Standard_D2ds_v5",
            "InvalidAdministratorLogin",
        ),
        (
            "bookadmin",
            100,
            "GeneralPurpose",
            "Standard_D2ds_v5",
            "InvalidStorageSize",
        ),
        (
            "bookadmin",
            128,
            "Burstable",
            "Standard_B1ms",
            "HANotSupportedForBurstableSkus",
        ),
        (
            "bookadmin",
            128,
            "GeneralPurpose",
            "Standard_E2ds_v5",
            "InvalidSkuName",
        ),
        // The zone is not linked to the network yet.
        (
            "bookadmin",
            128,
            "GeneralPurpose",
            "Standard_D2ds_v5",
            "PrivateDnsZoneNotLinked",
        ),
    ] {
        let (status, _, answer) = call("PUT", &server, pg, &body(login, storage, tier, sku));
        assert_eq!(
            (status, arm_error(&answer).0.as_str()),
            (400, code),
            "{answer}"
        );
    }
    let link = format!("{zone}/virtualNetworkLinks/main");
    let (status, _, answer) = call(
        "PUT",
        &link,
        dns,
        &format!(
            r#"{{"location": "global", "properties": {{"virtualNetwork": {{"id": "{vnet}"}}, "registrationEnabled": false}}}}"#
        ),
    );
    assert!(matches!(status, 200 | 201), "{answer}");
    let (status, headers, answer) = call(
        "PUT",
        &server,
        pg,
        &body("bookadmin", 128, "GeneralPurpose", "Standard_D2ds_v5"),
    );
    assert_eq!(status, 201, "{answer}");
    assert!(
        !answer.contains("Cairn-Test-1234"),
        "the password is never answered: {answer}"
    );
    settle(e, &headers);
    let (_, _, answer) = call("GET", &server, pg, "");
    let props = &json(&answer)["properties"];
    assert_eq!(
        props["network"]["publicNetworkAccess"], "Disabled",
        "{answer}"
    );
    assert_eq!(
        props["fullyQualifiedDomainName"],
        "pgshop-db.postgres.database.azure.com"
    );
    assert!(
        props.get("administratorLoginPassword").is_none(),
        "{answer}"
    );

    // A database made through the API exists on the server, owned by the administrator.
    let (status, headers, answer) = call("PUT", &format!("{server}/databases/bookings"), pg, "{}");
    assert_eq!(status, 201, "{answer}");
    settle(e, &headers);
    let (_, _, answer) = call("GET", &format!("{server}/databases"), pg, "");
    let mut dbs: Vec<String> = json(&answer)["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    dbs.sort();
    assert_eq!(
        dbs,
        ["azure_maintenance", "azure_sys", "bookings", "postgres"]
    );
    let (status, _, view) = e
        .request_with("GET", "/_emulator/postgres/servers/pgshop-db", "", &[])
        .unwrap();
    assert_eq!(status, 200, "{view}");
    let port = json(&view)["port"].as_u64().expect("a real server");
    assert_eq!(
        psql(
            port,
            "bookadmin",
            "Cairn-Test-1234",
            "bookings",
            "SELECT current_user || '@' || current_database()"
        ),
        Ok("bookadmin@bookings".to_string())
    );

    // Updates by PATCH: storage never shrinks; a new password takes effect on the server.
    let (status, _, answer) = call(
        "PATCH",
        &server,
        pg,
        r#"{"properties": {"storage": {"storageSizeGB": 64}}}"#,
    );
    assert_eq!(
        (status, arm_error(&answer).0.as_str()),
        (400, "StorageSizeDecreaseNotSupported")
    );
    let (status, headers, answer) = call(
        "PATCH",
        &server,
        pg,
        r#"{"properties": {"administratorLoginPassword": "Cairn-Next-5678", "backup": {"backupRetentionDays": 14}}}"#,
    );
    assert_eq!(status, 202, "{answer}");
    settle(e, &headers);
    assert!(psql(port, "bookadmin", "Cairn-Test-1234", "bookings", "SELECT 1").is_err());
    assert_eq!(
        psql(port, "bookadmin", "Cairn-Next-5678", "bookings", "SELECT 1"),
        Ok("1".into())
    );
    let (_, _, answer) = call("GET", &server, pg, "");
    assert_eq!(
        json(&answer)["properties"]["backup"]["backupRetentionDays"],
        14
    );

    // Configurations are the server's real settings, checked by their type.
    let setting = format!("{server}/configurations/log_min_duration_statement");
    let (status, _, answer) = call(
        "PUT",
        &setting,
        pg,
        r#"{"properties": {"value": "abc", "source": "user-override"}}"#,
    );
    assert_eq!(
        (status, arm_error(&answer).0.as_str()),
        (400, "InvalidParameterValue"),
        "{answer}"
    );
    let (status, headers, answer) = call(
        "PUT",
        &setting,
        pg,
        r#"{"properties": {"value": "250", "source": "user-override"}}"#,
    );
    assert_eq!(status, 200, "{answer}");
    settle(e, &headers);
    assert_eq!(
        psql(
            port,
            "bookadmin",
            "Cairn-Next-5678",
            "bookings",
            "SHOW log_min_duration_statement"
        ),
        Ok("250ms".into())
    );

    // The delegated subnet is in use while the server lives; the server's delete stops its
    // PostgreSQL.
    let (status, _, answer) = call("DELETE", &subnet, net, "");
    assert_eq!(
        (status, arm_error(&answer).0.as_str()),
        (400, "InUseSubnetCannotBeDeleted"),
        "{answer}"
    );
    let (status, headers, _) = call("DELETE", &server, pg, "");
    assert_eq!(status, 202);
    settle(e, &headers);
    assert_eq!(call("GET", &server, pg, "").0, 404);
    let (status, _, _) = e
        .request_with("GET", "/_emulator/postgres/servers/pgshop-db", "", &[])
        .unwrap();
    assert_eq!(status, 404);
    assert!(
        psql(port, "bookadmin", "Cairn-Next-5678", "bookings", "SELECT 1").is_err(),
        "the server is stopped"
    );
}
