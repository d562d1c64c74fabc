//! Every seed stack on GCP (the GCP emulator, through the real Google Cloud clients),
//! through the `cairn` binary as a user runs it: validate; plan from empty (golden text and
//! JSON); apply; plan empty after apply (`--detailed-exitcode` 0); an out-of-band change made
//! through the emulator's REST API (Cloud SQL's backups shortened) reported by `drift`
//! (exit 2, naming the field); `apply --refresh-only` accepts it, `apply` repairs it;
//! import by id; no secret value printed or stored; `destroy` leaves nothing in the
//! project, checked through each API.
//!
//! Each story has a project of its own (`seed-STACK`), so "nothing left" is "the project
//! is empty". The stacks ask GCP for managed certificates (no `--certificate`).

use crate::seed_stacks::{check_golden, Run};
use cairn_tests::{Emulator, EmulatorGuard, GCP};
use serde_json::Value as Json;
use std::time::{Duration, Instant};

const REGION: &str = "us-central1";

fn get(emulator: &EmulatorGuard, path: &str) -> Json {
    let (status, body) = emulator
        .emulator()
        .request("GET", path, "")
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// What the project still holds, through each API's list.
fn leftovers(emulator: &EmulatorGuard, project: &str) -> Vec<String> {
    let mut left = Vec::new();
    let compute = format!("/compute/v1/projects/{project}");
    let global = [
        "networks",
        "firewalls",
        "addresses",
        "healthChecks",
        "backendServices",
        "securityPolicies",
        "urlMaps",
        "sslCertificates",
        "targetHttpsProxies",
        "targetHttpProxies",
        "forwardingRules",
    ];
    let mut lists: Vec<(String, String, &str)> = global
        .iter()
        .map(|c| (c.to_string(), format!("{compute}/global/{c}"), "items"))
        .collect();
    for c in ["subnetworks", "routers"] {
        lists.push((c.into(), format!("{compute}/regions/{REGION}/{c}"), "items"));
    }
    let located = format!("projects/{project}/locations/{REGION}");
    lists.extend([
        (
            "Cloud SQL".into(),
            format!("/sqladmin.googleapis.com/v1/projects/{project}/instances"),
            "items",
        ),
        (
            "Memorystore".into(),
            format!("/redis.googleapis.com/v1/{located}/instances"),
            "instances",
        ),
        (
            "Managed Kafka".into(),
            format!("/managedkafka.googleapis.com/v1/{located}/clusters"),
            "clusters",
        ),
        (
            "Secret Manager".into(),
            format!("/secretmanager.googleapis.com/v1/projects/{project}/secrets"),
            "secrets",
        ),
    ]);
    for (what, path, field) in lists {
        for item in get(emulator, &path)[field]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            left.push(format!("{what} {}", item["name"].as_str().unwrap_or("?")));
        }
    }
    left
}

/// Standard base64, as Secret Manager carries payloads.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = text.bytes().filter(|c| *c != b'=').map(value).collect();
    digits
        .chunks(4)
        .flat_map(|c| {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, d)| n | u32::from(*d) << (18 - 6 * i));
            let bytes = n.to_be_bytes();
            bytes[1..c.len()].to_vec()
        })
        .collect()
}

fn seed_stack_story_on_gcp(name: &str) {
    let emulator = Emulator::shared(GCP);
    let project = format!("seed-{name}");
    let dir = tempfile::tempdir().unwrap();
    let run = Run {
        dir: dir.path(),
        env: vec![
            ("CAIRN_GCP_ENDPOINT", emulator.emulator().endpoint()),
            ("GOOGLE_CLOUD_PROJECT", project.clone()),
            ("CAIRN_GCP_REGION", REGION.into()),
        ],
        stack: name,
        with: &["--cloud", "gcp"],
    };
    run.expect(&["validate"], 0);

    // Plan from empty: golden text and JSON (no state, so no cloud call and no state file).
    let plan = run.expect(&["plan", "--detailed-exitcode"], 2);
    check_golden(&format!("{name}.gcp.plan.txt"), &plan);
    let json = run.expect(&["plan", "--json"], 0);
    check_golden(&format!("{name}.gcp.plan.json"), &json);
    assert!(!dir.path().join(".cairn").exists(), "plan writes nothing");

    let applied = run.expect(&["apply", "--auto-approve"], 0);
    assert!(applied.contains("Apply complete"), "{applied}");
    run.expect(&["plan", "--detailed-exitcode"], 0);
    // The cloud holds what state records, and nothing else of the stack's.
    let listed = run.expect(&["inventory"], 0);
    assert!(listed.contains("Inventory clean"), "{listed}");
    assert_eq!(run.expect(&["drift"], 0).lines().count(), 1);

    // Out of band: the database's backups shortened through Cloud SQL's REST API.
    let listed = run.expect(&["state", "list"], 0);
    let (address, id) = listed
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .find(|(a, _)| a.starts_with("gcp_sql_database_instance."))
        .expect("every seed stack has a database");
    let instance = format!(
        "/sqladmin.googleapis.com/v1/projects/{project}/instances/{}",
        id.rsplit('/').next().unwrap()
    );
    let patch = r#"{"settings": {"backupConfiguration": {"backupRetentionSettings": {"retentionUnit": "COUNT", "retainedBackups": 1}}}}"#;
    let (status, body) = emulator
        .emulator()
        .request("PATCH", &instance, patch)
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&emulator, &instance)["settings"]["backupConfiguration"]["backupRetentionSettings"]
        ["retainedBackups"]
        != 1
    {
        assert!(Instant::now() < deadline, "the patch never took");
        std::thread::sleep(Duration::from_millis(100));
    }
    let drift = run.expect(&["drift"], 2);
    assert!(
        drift.contains(&format!("{address} changed outside cairn"))
            && drift.contains("backup_retained: expected"),
        "{drift}"
    );
    let report: Json = serde_json::from_str(&run.expect(&["drift", "--json"], 2)).unwrap();
    assert_eq!(
        report["drifted"][0]["changes"][0]["field"],
        "backup_retained"
    );
    assert_eq!(report["drifted"][0]["changes"][0]["actual"], 1);

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

    // Import by id into another state file: the secret is adopted, its value never shown.
    let (secret, secret_id) = listed
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .find(|(a, _)| a.starts_with("gcp_secret_manager_secret."))
        .expect("every seed stack has a secret");
    run.expect(
        &["import", secret, secret_id, "--state", "imported.json"],
        0,
    );
    let shown_imported = run.expect(&["state", "show", secret, "--state", "imported.json"], 0);
    assert!(shown_imported.contains(secret_id), "{shown_imported}");

    // Secrets never printed, never in state.
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
            .join(format!("{name}-demo.gcp.json")),
    )
    .unwrap();
    let secrets = get(
        &emulator,
        &format!("/secretmanager.googleapis.com/v1/projects/{project}/secrets"),
    );
    let secrets = secrets["secrets"].as_array().cloned().unwrap_or_default();
    assert!(!secrets.is_empty());
    for s in secrets {
        let path = format!(
            "/secretmanager.googleapis.com/v1/{}/versions/latest:access",
            s["name"].as_str().unwrap()
        );
        let data = get(&emulator, &path)["payload"]["data"]
            .as_str()
            .unwrap()
            .to_string();
        let value = String::from_utf8(base64_decode(&data)).unwrap();
        assert!(value.len() >= 8, "{value:?}");
        assert!(
            !state.contains(&value) && !printed.contains(&value),
            "a secret leaked"
        );
    }

    run.expect(&["destroy", "--auto-approve"], 0);
    let listed = run.expect(&["inventory", "--json"], 0);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["objects"], serde_json::json!([]), "{listed}");
    let left = leftovers(&emulator, &project);
    assert!(left.is_empty(), "destroy left {left:?}");
}

#[test]
fn ticketing_on_gcp() {
    seed_stack_story_on_gcp("ticketing");
}

#[test]
fn event_booking_on_gcp() {
    seed_stack_story_on_gcp("event-booking");
}

#[test]
fn event_broker_on_gcp() {
    seed_stack_story_on_gcp("event-broker");
}

#[test]
fn flight_booking_on_gcp() {
    seed_stack_story_on_gcp("flight-booking");
}

#[test]
fn zerostate_on_gcp() {
    seed_stack_story_on_gcp("zerostate");
}
