//! The `cairn` binary as a process: exit codes and messages.

use cairn_tests::{cairn, cairn_with_env};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn validate_a_seed_stack() {
    let dir = tempfile::tempdir().unwrap();
    // No AWS configuration at all: validation lowers offline.
    let out = cairn_with_env(
        dir.path(),
        &["validate", "--stack", "zerostate"],
        &[
            ("AWS_CONFIG_FILE", "/nonexistent"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
            (
                "CAIRN_CERTIFICATE",
                "arn:aws:acm:us-east-1:123456789012:certificate/x",
            ),
        ],
    );
    // Without --cloud, every cloud built in: an ACM certificate is AWS's alone, so GCP
    // refuses it (naming the field and the cloud) and AWS's result is still shown.
    let stdout = text(&out.stdout);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
    assert!(stdout.contains("stack zerostate-prod is valid"), "{stdout}");
    assert!(
        stdout.contains("aws: lowers to ")
            && stdout.contains("gcp: refused")
            && stdout.contains("azure: refused"),
        "without --cloud, every cloud: {stdout}"
    );
    assert!(
        err.contains("on gcp") && err.contains("https.certificate") && err.contains("arn:aws"),
        "{err}"
    );
    assert!(!dir.path().join(".cairn").exists(), "nothing written");

    // On GCP without a certificate: a managed one, lowered offline (no project, no
    // credentials, no call).
    let out = cairn(
        dir.path(),
        &["validate", "--stack", "zerostate", "--cloud", "gcp"],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains("gcp: lowers to "), "{stdout}");
    assert!(!dir.path().join(".cairn").exists(), "nothing written");

    // Without a certificate the stack asks for a managed one, which cairn cannot have an
    // ALB issue: refused before any call, naming the field and the cloud.
    let out = cairn(
        dir.path(),
        &["validate", "--stack", "zerostate", "--cloud", "aws"],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("https.certificate") && err.contains("on aws") && err.contains("managed"),
        "{err}"
    );

    // Azure's Application Gateway issues no certificate: without --certificate the seed's
    // managed one is refused offline (no subscription, no credentials, no call), naming
    // the resource, the field and the cloud; a Key Vault secret's URL is taken.
    let out = cairn_with_env(
        dir.path(),
        &["validate", "--stack", "zerostate", "--cloud", "azure"],
        NOWHERE,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("on azure")
            && err.contains("load_balancer.api-lb")
            && err.contains("https.certificate"),
        "{err}"
    );
    let out = cairn_with_env(
        dir.path(),
        &[
            "validate",
            "--stack",
            "zerostate",
            "--cloud",
            "azure",
            "--certificate",
            "https://team-tls.vault.azure.net/secrets/zerostate",
            // prod asks for deletion protection, which flexible servers lack on azure.
            "--env",
            "demo",
        ],
        NOWHERE,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!dir.path().join(".cairn").exists(), "nothing written");

    // Pinned to a region: lowered there (zone names follow it).
    let args = [
        "validate",
        "--stack",
        "zerostate",
        "--cloud",
        "aws",
        "--region",
        "eu-west-1",
    ];
    let out = cairn_with_env(
        dir.path(),
        &args,
        &[(
            "CAIRN_CERTIFICATE",
            "arn:aws:acm:eu-west-1:123456789012:certificate/x",
        )],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("aws: lowers to "),
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

/// `cairn plan --out p.json` of the zerostate stack in `dir`, offline (no refresh, no
/// cloud): the saved plan the tests of saved plans start from.
pub(crate) fn save_zerostate_plan(dir: &std::path::Path) -> std::process::Output {
    let args = [
        "plan",
        "--stack",
        "zerostate",
        "--env",
        "dev",
        "--out",
        "p.json",
        "--refresh=false",
    ];
    cairn_with_env(dir, &args, NOWHERE)
}

/// AWS settings that point at a loopback port nobody listens on: these tests must not
/// reach any cloud, and would fail loudly if they tried.
pub(crate) const NOWHERE: &[(&str, &str)] = &[
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
        &[
            "apply",
            "--stack",
            "zerostate",
            "--env",
            "dev",
            "--refresh=false",
        ],
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
fn clouds_without_a_provider_or_a_configuration_are_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = cairn_with_env(
        dir.path(),
        &["plan", "--stack", "ticketing", "--cloud", "azure"],
        NOWHERE,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("AZURE_SUBSCRIPTION_ID"), "{err}");
    // GCP with no project configured: said before any call, naming the setting.
    let out = cairn_with_env(
        dir.path(),
        &["plan", "--stack", "ticketing", "--cloud", "gcp"],
        NOWHERE,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("GOOGLE_CLOUD_PROJECT"), "{err}");
    assert!(!dir.path().join(".cairn").exists(), "nothing written");
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
fn a_plan_for_another_stack_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let saved = save_zerostate_plan(dir.path());
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
        err.contains("is for stack zerostate-dev on aws, not stack ticketing-dev on aws"),
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
    // Pinned to the region AWS is configured for, it plans (trusting state: no cloud).
    let args = [
        "plan",
        "--stack",
        "zerostate",
        "--region",
        "us-east-1",
        "--refresh=false",
    ];
    let out = cairn_with_env(dir.path(), &args, NOWHERE);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!dir.path().join(".cairn").exists(), "nothing written");
}

#[test]
fn without_a_configured_region_the_stacks_pin_is_used_and_with_neither_cairn_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-file");
    let missing = missing.to_str().unwrap();
    // No region anywhere: not in the environment, no profile, and the instance metadata
    // service (a non-loopback address) is never consulted.
    let env: Vec<(&str, &str)> = NOWHERE
        .iter()
        .copied()
        .filter(|(k, _)| *k != "AWS_REGION")
        .chain([
            ("AWS_CONFIG_FILE", missing),
            ("AWS_SHARED_CREDENTIALS_FILE", missing),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ])
        .collect();
    let out = cairn_with_env(dir.path(), &["plan", "--stack", "zerostate"], &env);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no AWS region") && err.contains("AWS_REGION") && err.contains("--region"),
        "{err}"
    );
    // The stack's pin is the region: it plans there (zone names follow it).
    let args = [
        "plan",
        "--stack",
        "zerostate",
        "--region",
        "eu-west-1",
        "--refresh=false",
    ];
    let out = cairn_with_env(dir.path(), &args, &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("eu-west-1a"));
    assert!(!dir.path().join(".cairn").exists(), "nothing written");
}

#[test]
fn parallelism_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = cairn_with_env(
        dir.path(),
        &["plan", "--stack", "zerostate", "--parallelism", "0"],
        NOWHERE,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--parallelism") && err.contains("0"), "{err}");
}

#[test]
fn drift_that_can_read_nothing_is_an_error_not_partial() {
    use cairn_core::state::{LocalStore, Mutation, ResourceState, StateStore};
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("s.json"));
    let mut s = store.lock("test").unwrap();
    s.init("zerostate-prod", "aws").unwrap();
    s.append(&[Mutation::Put(ResourceState {
        address: "aws_vpc.vpc".into(),
        type_name: "aws_vpc".into(),
        origin: "network.vpc".into(),
        id: "vpc-0123456789abcdef0".into(),
        attrs: Default::default(),
        deps: vec![],
        protect: false,
        deposed: vec![],
    })])
    .unwrap();
    s.unlock().unwrap();
    let out = cairn_with_env(
        dir.path(),
        &["drift", "--stack", "zerostate", "--state", "s.json"],
        NOWHERE,
    );
    let (stdout, err) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
    assert!(stdout.contains("Drift check failed"), "{stdout}");
    assert!(stdout.contains("could not reach ec2"), "{stdout}");
}

/// `cairn inventory`'s exit codes as CI meets them: 1 when nothing can be listed (it
/// proves nothing), 2 when state records an object the cloud no longer holds.
#[test]
fn inventory_names_what_is_gone_and_fails_when_it_can_list_nothing() {
    use cairn_core::state::{LocalStore, Mutation, ResourceState, StateStore};
    let emulator = cairn_tests::AwsEmulator::shared();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("s.json"));
    let mut s = store.lock("test").unwrap();
    s.init("zerostate-prod", "aws").unwrap();
    s.append(&[Mutation::Put(ResourceState {
        address: "aws_vpc.vpc".into(),
        type_name: "aws_vpc".into(),
        origin: "network.vpc".into(),
        id: "vpc-0123456789abcdef0".into(),
        attrs: Default::default(),
        deps: vec![],
        protect: false,
        deposed: vec![],
    })])
    .unwrap();
    s.unlock().unwrap();
    let args = ["inventory", "--stack", "zerostate", "--state", "s.json"];

    let out = cairn_with_env(dir.path(), &args, NOWHERE);
    let (stdout, err) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
    assert!(
        err.contains("listing what the cloud holds for stack zerostate-prod failed")
            && err.contains("could not reach"),
        "{err}"
    );

    let endpoint = emulator.endpoint();
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let out = cairn_with_env(dir.path(), &args, &env);
    let (stdout, err) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stdout}{err}");
    assert!(
        stdout.contains("- gone aws_vpc.vpc vpc-0123456789abcdef0"),
        "{stdout}"
    );
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = cairn_with_env(dir.path(), &json_args, &env);
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["status"], "found");
    assert_eq!(report["gone"][0]["id"], "vpc-0123456789abcdef0");
    // Read-only: state is as it was.
    assert_eq!(store.read().unwrap().unwrap().resources.len(), 1);
}

#[test]
fn a_frozen_endpoint_fails_the_run_instead_of_hanging_it() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let h2 = held.clone();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            h2.lock().unwrap().push(s);
        }
    });
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        (
            "CAIRN_CERTIFICATE",
            "arn:aws:acm:us-east-1:123456789012:certificate/x",
        ),
        ("CAIRN_AWS_ATTEMPT_TIMEOUT", "1s"),
        ("CAIRN_AWS_CALL_TIMEOUT", "3s"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut child = cairn_tests::cairn_command(
        dir.path(),
        &["apply", "--auto-approve", "--stack", "zerostate"],
        &env,
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // Generous: what matters is that it ends at all (before, it waited forever).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("apply against a frozen endpoint still runs after 120 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr) + &text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no answer in time"), "{err}");
    assert!(
        !err.contains("TimeoutError {"),
        "said like a person would: {err}"
    );
}

#[test]
fn bad_timeout_settings_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = NOWHERE.to_vec();
    env.push(("CAIRN_AWS_CALL_TIMEOUT", "soon"));
    let out = cairn_with_env(dir.path(), &["plan", "--stack", "zerostate"], &env);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("CAIRN_AWS_CALL_TIMEOUT"), "{err}");

    // Azure's the same way, before any call (there is no subscription to call).
    let env = [
        (
            "AZURE_SUBSCRIPTION_ID",
            "00000000-0000-0000-0000-000000000000",
        ),
        ("CAIRN_AZURE_LOCATION", "eastus"),
        ("CAIRN_AZURE_ENDPOINT", "http://127.0.0.1:9"),
        ("CAIRN_AZURE_READ_AFTER_WRITE", "0s"),
    ];
    let out = cairn_with_env(
        dir.path(),
        &["plan", "--stack", "ticketing", "--cloud", "azure"],
        &env,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("CAIRN_AZURE_READ_AFTER_WRITE"), "{err}");
}

#[test]
fn a_destroy_whose_objects_are_already_gone_still_empties_the_state() {
    use cairn_core::state::{LocalStore, Mutation, ResourceState, StateStore};
    let emulator = cairn_tests::AwsEmulator::shared();
    let dir = tempfile::tempdir().unwrap();
    // What a destroy killed after its last delete landed leaves: state still records a VPC
    // the cloud no longer has.
    let store = LocalStore::new(dir.path().join("s.json"));
    let mut s = store.lock("test").unwrap();
    s.init("zerostate-prod", "aws").unwrap();
    s.append(&[Mutation::Put(ResourceState {
        address: "aws_vpc.vpc".into(),
        type_name: "aws_vpc".into(),
        origin: "network.vpc".into(),
        id: "vpc-0123456789abcdef0".into(),
        attrs: Default::default(),
        deps: vec![],
        protect: false,
        deposed: vec![],
    })])
    .unwrap();
    s.unlock().unwrap();
    let endpoint = emulator.endpoint();
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        (
            "CAIRN_CERTIFICATE",
            "arn:aws:acm:us-east-1:123456789012:certificate/x",
        ),
    ];
    let args = ["destroy", "--stack", "zerostate", "--state", "s.json"];
    // Nothing to delete, so nothing to confirm: what refresh found is recorded.
    let out = cairn_with_env(dir.path(), &args, &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let state = store.read().unwrap().unwrap();
    assert!(
        state.resources.is_empty() && state.pending.is_empty(),
        "{:?}",
        state.resources.keys()
    );
}

/// The README's library story as a program (`examples/embed.rs`): declared, planned,
/// applied, planned again empty, drift-checked, destroyed and its inventory found empty
/// through the engine against the emulator; then the cloud, read through its own API,
/// holds nothing of it either.
#[test]
fn the_embedding_example_runs_its_stack_from_plan_to_destroy() {
    let emulator = cairn_tests::AwsEmulator::shared();
    let endpoint = emulator.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(cairn_tests::example_binary("embed"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("CAIRN_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .arg("embed.state.json")
        .envs([
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert_eq!(
        stdout.matches("Apply complete").count(),
        2,
        "the apply and the destroy: {stdout}"
    );
    assert!(stdout.contains("drift: Clean"), "{stdout}");
    assert!(stdout.contains("Inventory clean"), "{stdout}");
    assert!(dir.path().join("embed.state.json").exists());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sdk = crate::seed_stacks::sdk(&endpoint, &rt);
    let left = rt.block_on(crate::inventory::owned(&sdk, "embed"));
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_refresh_only_plan_that_may_not_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = cairn_with_env(
        dir.path(),
        &[
            "plan",
            "--stack",
            "zerostate",
            "--refresh-only",
            "--refresh=false",
        ],
        NOWHERE,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--refresh-only") && err.contains("--refresh=false"),
        "{err}"
    );
    assert!(!err.contains("could not reach"), "no cloud call: {err}");
}
