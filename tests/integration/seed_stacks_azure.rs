//! The seed stacks on Azure (the Azure emulator, through the real `azure_mgmt_*` clients),
//! through the `cairn` binary as a user runs it: validate; plan from empty (golden text and
//! JSON, with Azure's notes); apply; plan empty after apply (`--detailed-exitcode` 0); an
//! out-of-band change made through the emulator's ARM API (the database's backup retention
//! lengthened) reported by `drift` (exit 2, naming the field); `apply --refresh-only`
//! accepts it, `apply` repairs it; import by ARM id; no secret value printed or stored;
//! `destroy` leaves no resource group and no soft-deleted vault of the stack.
//!
//! Each story has a subscription of its own, so "nothing left" is "the subscription holds
//! nothing of the stack". A stack with a load balancer presents a certificate the team
//! keeps in a vault of its own (issued into the emulator before the story, given with
//! `--certificate`); the emulator's port in its URL reads `PORT` in the goldens, and the
//! stack's digest, which covers it, is left out of them.

use crate::seed_stacks::{check_golden, Run};
use cairn_tests::{Emulator, EmulatorGuard, AZURE};
use serde_json::Value as Json;

const LOCATION: &str = "eastus";
const TENANT: &str = "00000000-0000-0000-0000-0000000071e7";

/// An ARM call to the emulator with a bearer token (status, body as JSON).
fn arm(emulator: &EmulatorGuard, method: &str, path: &str, api: &str, body: &str) -> (u16, Json) {
    let (status, text) = emulator.emulator().arm(method, path, api, body);
    (status, serde_json::from_str(&text).unwrap_or(Json::Null))
}

/// What the subscription still holds of the stack: its resource group, and vaults kept
/// after deletion (by their tags).
fn leftovers(emulator: &EmulatorGuard, subscription: &str, stack: &str) -> Vec<String> {
    let mut left = Vec::new();
    let (status, group) = arm(
        emulator,
        "GET",
        &format!("/subscriptions/{subscription}/resourceGroups/{stack}"),
        "2021-04-01",
        "",
    );
    if status != 404 {
        left.push(format!("resource group {stack}: {group}"));
    }
    let (status, deleted) = arm(
        emulator,
        "GET",
        &format!("/subscriptions/{subscription}/providers/Microsoft.KeyVault/deletedVaults"),
        "2019-09-01",
        "",
    );
    assert_eq!(status, 200, "{deleted}");
    for v in deleted["value"].as_array().into_iter().flatten() {
        left.push(format!("deleted vault {}", v["name"]));
    }
    left
}

fn seed_stack_story_on_azure(name: &str, subscription: &str) {
    let emulator = Emulator::shared(AZURE);
    let dir = tempfile::tempdir().unwrap();
    let mut with = vec!["--cloud".to_string(), "azure".to_string()];
    if name != "ticketing" {
        let certificate = emulator.emulator().issue_certificate(
            (subscription, TENANT, LOCATION),
            &format!("{name}-certs"),
            &format!("tls-{name}"),
            true,
        );
        with.extend(["--certificate".to_string(), certificate]);
    }
    let with: Vec<&str> = with.iter().map(String::as_str).collect();
    let local = emulator.emulator().endpoint();
    // The certificate's URL names the emulator's port, and the stack's digest covers it.
    let golden = |text: &str| {
        let mut out = text.replace(&local, "http://127.0.0.1:PORT");
        let key = "\"stack_digest\": \"sha256:";
        if name != "ticketing" {
            if let Some(at) = out.find(key) {
                let start = at + key.len();
                out.replace_range(start..start + 64, "(covers the emulator's port)");
            }
        }
        out
    };
    let run = Run {
        dir: dir.path(),
        env: vec![
            ("CAIRN_AZURE_ENDPOINT", emulator.emulator().endpoint()),
            ("AZURE_SUBSCRIPTION_ID", subscription.into()),
            ("AZURE_TENANT_ID", TENANT.into()),
            ("CAIRN_AZURE_LOCATION", LOCATION.into()),
        ],
        stack: name,
        with: &with,
    };
    run.expect(&["validate"], 0);
    let stack = format!("{name}-demo");

    // Plan from empty: golden text and JSON (no state, so no cloud call and no state file).
    let plan = run.expect(&["plan", "--detailed-exitcode"], 2);
    check_golden(&format!("{name}.azure.plan.txt"), &golden(&plan));
    let json = run.expect(&["plan", "--json"], 0);
    check_golden(&format!("{name}.azure.plan.json"), &golden(&json));
    assert!(!dir.path().join(".cairn").exists(), "plan writes nothing");

    let applied = run.expect(&["apply", "--auto-approve"], 0);
    assert!(applied.contains("Apply complete"), "{applied}");
    run.expect(&["plan", "--detailed-exitcode"], 0);
    // The cloud holds what state records, and nothing else of the stack's.
    let listed = run.expect(&["inventory"], 0);
    assert!(listed.contains("Inventory clean"), "{listed}");
    assert_eq!(run.expect(&["drift"], 0).lines().count(), 1);

    // Out of band: the database's backups kept longer, through ARM.
    let listed = run.expect(&["state", "list"], 0);
    let (address, id) = listed
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .find(|(a, _)| a.starts_with("azure_postgresql_flexible_server."))
        .expect("every seed stack has a database");
    let (status, body) = arm(
        &emulator,
        "PATCH",
        id,
        "2024-08-01",
        r#"{"properties": {"backup": {"backupRetentionDays": 21}}}"#,
    );
    assert!(matches!(status, 200 | 202), "{body}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while arm(&emulator, "GET", id, "2024-08-01", "").1["properties"]["backup"]
        ["backupRetentionDays"]
        != 21
    {
        assert!(std::time::Instant::now() < deadline, "the patch never took");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let drift = run.expect(&["drift"], 2);
    assert!(
        drift.contains(&format!("{address} changed outside cairn"))
            && drift.contains("backup_retention_days: expected"),
        "{drift}"
    );
    let report: Json = serde_json::from_str(&run.expect(&["drift", "--json"], 2)).unwrap();
    assert_eq!(
        report["drifted"][0]["changes"][0]["field"],
        "backup_retention_days"
    );
    assert_eq!(report["drifted"][0]["changes"][0]["actual"], 21);

    // Accepted into state, the stack still differs: red as unapplied; apply repairs.
    run.expect(&["apply", "--refresh-only", "--auto-approve"], 0);
    let accepted = run.expect(&["drift"], 2);
    assert!(
        !accepted.contains("changed outside cairn")
            && accepted.contains(&format!("~ {address} differs from the stack")),
        "{accepted}"
    );
    run.expect(&["apply", "--auto-approve"], 0);
    run.expect(&["drift"], 0);
    run.expect(&["plan", "--detailed-exitcode"], 0);

    // Import by ARM id into another state file: the secret is adopted, its value never
    // shown.
    let (secret, secret_id) = listed
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .find(|(a, _)| a.starts_with("azure_key_vault_secret."))
        .expect("every seed stack has a secret");
    run.expect(
        &["import", secret, secret_id, "--state", "imported.json"],
        0,
    );
    let shown_imported = run.expect(&["state", "show", secret, "--state", "imported.json"], 0);
    assert!(shown_imported.contains(secret_id), "{shown_imported}");

    // Secrets never printed, never in state: every value the vault holds, read through its
    // data plane.
    let mut printed = applied.clone() + &shown_imported;
    for line in listed.lines() {
        let address = line.split('\t').next().unwrap_or_default();
        printed += &run.expect(&["state", "show", address], 0);
    }
    printed += &run.expect(&["output", "--json"], 0);
    assert!(printed.contains("(sensitive)"), "secrets are shown masked");
    let state = std::fs::read_to_string(
        dir.path()
            .join(".cairn")
            .join(format!("{stack}.azure.json")),
    )
    .unwrap();
    let group = format!("/subscriptions/{subscription}/resourceGroups/{stack}");
    let (_, vaults) = arm(
        &emulator,
        "GET",
        &format!("{group}/providers/Microsoft.KeyVault/vaults"),
        "2019-09-01",
        "",
    );
    let uri = vaults["value"][0]["properties"]["vaultUri"]
        .as_str()
        .expect("the stack's vault")
        .to_string();
    let data_plane = uri.split_once("//").unwrap().1.split_once('/').unwrap().1;
    let vault = vaults["value"][0]["id"].as_str().unwrap();
    let (_, secrets) = arm(
        &emulator,
        "GET",
        &format!("{vault}/secrets"),
        "2019-09-01",
        "",
    );
    let secrets = secrets["value"].as_array().cloned().unwrap_or_default();
    assert!(!secrets.is_empty());
    for s in secrets {
        let (status, body) = arm(
            &emulator,
            "GET",
            &format!("/{data_plane}secrets/{}", s["name"].as_str().unwrap()),
            "7.4",
            "",
        );
        assert_eq!(status, 200, "{body}");
        let value = body["value"].as_str().unwrap();
        assert!(value.len() >= 8, "{value:?}");
        assert!(
            !state.contains(value) && !printed.contains(value),
            "a secret leaked"
        );
    }

    run.expect(&["destroy", "--auto-approve"], 0);
    let listed = run.expect(&["inventory", "--json"], 0);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["objects"], serde_json::json!([]), "{listed}");
    let mut left = leftovers(&emulator, subscription, &stack);
    if name != "ticketing" {
        // The team's vault and certificate stay; the stack's grant on it does not.
        let vault = format!(
            "/subscriptions/{subscription}/resourceGroups/{name}-certs/providers/Microsoft.KeyVault/vaults/tls-{name}"
        );
        let (status, grants) = arm(
            &emulator,
            "GET",
            &format!("{vault}/providers/Microsoft.Authorization/roleAssignments"),
            "2022-04-01",
            "",
        );
        assert_eq!(status, 200, "{grants}");
        for g in grants["value"].as_array().into_iter().flatten() {
            left.push(format!("role assignment {}", g["id"]));
        }
        assert_eq!(arm(&emulator, "GET", &vault, "2019-09-01", "").0, 200);
    }
    assert!(left.is_empty(), "destroy left {left:?}");
}

#[test]
fn ticketing_on_azure() {
    seed_stack_story_on_azure("ticketing", "00000000-0000-0000-0000-00000000c001");
}

#[test]
fn event_booking_on_azure() {
    seed_stack_story_on_azure("event-booking", "00000000-0000-0000-0000-00000000c002");
}

#[test]
fn event_broker_on_azure() {
    seed_stack_story_on_azure("event-broker", "00000000-0000-0000-0000-00000000c003");
}

#[test]
fn flight_booking_on_azure() {
    seed_stack_story_on_azure("flight-booking", "00000000-0000-0000-0000-00000000c004");
}

#[test]
fn zerostate_on_azure() {
    seed_stack_story_on_azure("zerostate", "00000000-0000-0000-0000-00000000c005");
}
