//! The `cairn` binary as a process: exit codes and messages.

use cairn_tests::{cairn, cairn_with_env};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn validate_a_seed_stack() {
    let dir = tempfile::tempdir().unwrap();
    let out = cairn(dir.path(), &["validate", "--stack", "zerostate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("stack zerostate-prod is valid"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn graph_prints_dot() {
    let dir = tempfile::tempdir().unwrap();
    let out = cairn(
        dir.path(),
        &["graph", "--stack", "zerostate", "--env", "staging"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let dot = text(&out.stdout);
    assert!(
        dot.starts_with("digraph")
            && dot.contains("\"database.postgres\" -> \"secret.db-password\""),
        "{dot}"
    );
}

#[test]
fn an_unknown_stack_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = cairn(dir.path(), &["validate", "--stack", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("unknown stack \"nope\"") && err.contains("zerostate"),
        "{err}"
    );
}

#[test]
fn bad_arguments_are_errors_with_usage() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["validate"][..], &["frobnicate"], &["validate", "--stack"]] {
        let out = cairn(dir.path(), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("error:") && (err.contains("Usage:") || err.contains("--help")),
            "{args:?}: {err}"
        );
    }
    let help = cairn(dir.path(), &["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).contains("validate"));
}

/// AWS settings that point at a loopback port nobody listens on: these tests must not
/// reach any cloud, and would fail loudly if they tried.
const NOWHERE: &[(&str, &str)] = &[
    ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    (
        "CAIRN_CERTIFICATE",
        "arn:aws:acm:us-east-1:123456789012:certificate/x",
    ),
];

#[test]
fn apply_refuses_without_a_terminal_or_auto_approve() {
    let dir = tempfile::tempdir().unwrap();
    let out = cairn_with_env(
        dir.path(),
        &["apply", "--stack", "zerostate", "--env", "dev"],
        NOWHERE,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("refusing to apply without confirmation") && err.contains("--auto-approve"),
        "{err}"
    );
    // The plan was shown (secrets masked), and nothing was recorded.
    let shown = text(&out.stdout);
    assert!(
        shown.contains("+ aws_db_instance.postgres") && shown.contains("(sensitive)"),
        "{shown}"
    );
    assert!(
        !dir.path().join(".cairn").exists(),
        "a refused apply wrote state"
    );
}

#[test]
fn clouds_without_a_provider_yet_are_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    for cloud in ["gcp", "azure"] {
        let out = cairn_with_env(
            dir.path(),
            &["plan", "--stack", "ticketing", "--cloud", cloud],
            NOWHERE,
        );
        assert_eq!(out.status.code(), Some(1), "{cloud}");
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("the {cloud} provider is not part of cairn yet")),
            "{err}"
        );
    }
    let out = cairn(
        dir.path(),
        &["plan", "--stack", "ticketing", "--cloud", "oracle"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("invalid value 'oracle'") && err.contains("aws"),
        "{err}"
    );
}

#[test]
fn a_foreign_state_file_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let foreign = "{\"version\": 4, \"terraform_version\": \"1.9.0\", \"resources\": []}";
    std::fs::write(&state, foreign).unwrap();
    for args in [
        &["plan", "--stack", "zerostate", "--state", "state.json"][..],
        &["drift", "--stack", "zerostate", "--state", "state.json"],
        &[
            "apply",
            "--auto-approve",
            "--stack",
            "zerostate",
            "--state",
            "state.json",
        ],
    ] {
        let out = cairn_with_env(dir.path(), args, NOWHERE);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains("state.json"), "{args:?}: {err}");
        assert_eq!(std::fs::read_to_string(&state).unwrap(), foreign);
    }
}

#[test]
fn a_plan_for_another_stack_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let saved = cairn_with_env(
        dir.path(),
        &[
            "plan",
            "--stack",
            "zerostate",
            "--env",
            "dev",
            "--out",
            "p.json",
        ],
        NOWHERE,
    );
    assert_eq!(saved.status.code(), Some(0), "{}", text(&saved.stderr));
    let saved_plan = std::fs::read_to_string(dir.path().join("p.json")).unwrap();
    assert!(
        !saved_plan.contains("secret_string\": \""),
        "no secret value in a saved plan"
    );
    let out = cairn_with_env(
        dir.path(),
        &["apply", "p.json", "--stack", "ticketing", "--env", "dev"],
        NOWHERE,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("is a plan for stack \"zerostate-dev\", not \"ticketing-dev\""),
        "{err}"
    );
}

#[test]
fn drift_without_state_is_an_error_not_clean() {
    let dir = tempfile::tempdir().unwrap();
    let out = cairn_with_env(dir.path(), &["drift", "--stack", "zerostate"], NOWHERE);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no state"), "{err}");
}

#[test]
fn a_stack_pinned_to_another_region_is_refused_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens at NOWHERE's endpoint: a cloud call would fail differently.
    let args = ["plan", "--stack", "zerostate", "--region", "eu-west-1"];
    let out = cairn_with_env(dir.path(), &args, NOWHERE);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("stack") && err.contains("region") && err.contains("\"eu-west-1\""),
        "{err}"
    );
    assert!(
        err.contains("\"us-east-1\""),
        "names the configured region: {err}"
    );
    // Pinned to the region AWS is configured for, it plans.
    let args = ["plan", "--stack", "zerostate", "--region", "us-east-1"];
    let out = cairn_with_env(dir.path(), &args, NOWHERE);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!dir.path().join(".cairn").exists(), "nothing written");
}
