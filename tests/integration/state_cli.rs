//! `cairn state` across backends, as a team meets it: a stack applied with local state is
//! moved to PostgreSQL, then to S3, Cloud Storage and Azure Blob, each move verified and
//! leaving nothing behind; the nightly drift check of `examples/ci/drift.yml` runs as
//! written against the shared state; the history lists what each run wrote, and a
//! rollback shows its plan before it writes.

use cairn_tests::{cairn_binary, cairn_with_env, AwsEmulator, Emulator, AZURITE, GCP, POSTGRES};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn state_moves_from_a_file_to_postgresql_s3_gcs_and_azure_blob_and_goes_back_in_time() {
    let aws = AwsEmulator::shared();
    let pg = Emulator::shared(POSTGRES);
    let azurite = Emulator::shared(AZURITE);
    let gcp = Emulator::shared(GCP);
    crate::state_backends::gcs_bucket(&gcp);
    let gcp_endpoint = gcp.endpoint();
    let connection_string = azurite.azurite_connection_string();
    let (config, rt) = crate::state_backends::s3_setup(&aws);
    let pg_url = pg.postgres_url();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = aws.endpoint();
    let base = [
        ("CAIRN_GCP_ENDPOINT", gcp_endpoint.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        (
            "AZURE_STORAGE_CONNECTION_STRING",
            connection_string.as_str(),
        ),
    ];
    let run = |state: Option<&str>, args: &[&str]| {
        let mut env = base.to_vec();
        if let Some(s) = state {
            env.push(("CAIRN_STATE", s));
        }
        let mut all = args.to_vec();
        all.extend(["--stack", "ticketing", "--env", "moves"]);
        let out = cairn_with_env(dir.path(), &all, &env);
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let ok = |state: Option<&str>, args: &[&str]| {
        let (code, out, err) = run(state, args);
        assert_eq!(code, Some(0), "{args:?}:\n{out}\n{err}");
        out
    };
    let local_file = dir.path().join(".cairn/ticketing-moves.aws.json");

    ok(None, &["apply", "--auto-approve"]);
    let applied = ok(None, &["state", "list"]);
    assert!(local_file.exists());

    // File -> PostgreSQL: verified, the file gone, the plan still empty.
    let said = ok(None, &["state", "migrate", "--to", &pg_url]);
    assert!(said.contains("read back identical"), "{said}");
    let password = pg_url.split(':').nth(2).unwrap().split('@').next().unwrap();
    assert!(
        !said.contains(password),
        "a migration never prints a password: {said}"
    );
    assert!(
        !local_file.exists(),
        "the source is removed once the copy checks"
    );
    ok(Some(&pg_url), &["plan", "--detailed-exitcode"]);
    assert_eq!(ok(Some(&pg_url), &["state", "list"]), applied);

    // PostgreSQL -> S3.
    ok(
        Some(&pg_url),
        &["state", "migrate", "--to", "s3://cairn-state/teams"],
    );
    let (code, _, err) = run(Some(&pg_url), &["state", "list"]);
    assert_eq!(
        code,
        Some(1),
        "PostgreSQL holds nothing after the move: {err}"
    );
    let s3 = "s3://cairn-state/teams";
    ok(Some(s3), &["plan", "--detailed-exitcode"]);
    // Into a place that holds a state: refused, both kept.
    let (code, _, err) = run(Some(s3), &["state", "migrate", "--to", s3]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(ok(Some(s3), &["state", "list"]), applied);

    // S3 -> Cloud Storage, where the nightly drift check reads it.
    let gs = "gs://cairn-state/teams";
    ok(Some(s3), &["state", "migrate", "--to", gs]);
    let (code, _, _) = run(Some(s3), &["state", "list"]);
    assert_eq!(code, Some(1), "S3 holds nothing after the move");
    ok(Some(gs), &["plan", "--detailed-exitcode"]);
    drift_workflow_as_written(dir.path(), &base, gs, &config, &rt);
    ok(Some(gs), &["plan", "--detailed-exitcode"]);

    // Cloud Storage -> Azure Blob; the rest of the story happens there.
    ok(
        Some(gs),
        &[
            "state",
            "migrate",
            "--to",
            "azblob://devstoreaccount1/cairn-state",
        ],
    );
    let (code, _, _) = run(Some(gs), &["state", "list"]);
    assert_eq!(code, Some(1), "Cloud Storage holds nothing after the move");
    let s3 = "azblob://devstoreaccount1/cairn-state";
    ok(Some(s3), &["plan", "--detailed-exitcode"]);

    // History: the destroy writes a new serial; the applied one is kept.
    let before = ok(Some(s3), &["state", "history"]);
    let applied_serial: u64 = before
        .lines()
        .find(|l| l.contains("(current)"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("history marks the current serial: {before}"));
    ok(Some(s3), &["destroy", "--auto-approve"]);
    let after = ok(Some(s3), &["state", "history"]);
    assert!(after.lines().count() >= 3, "{after}");
    assert!(after.contains(&format!("{applied_serial} ")), "{after}");

    // A rollback shows the plan it causes, and asks first.
    let (code, out, err) = run(
        Some(s3),
        &["state", "rollback", &applied_serial.to_string()],
    );
    assert_eq!(
        code,
        Some(1),
        "no terminal, no --auto-approve: refused\n{out}\n{err}"
    );
    assert!(err.contains("without confirmation"), "{err}");
    let (code, _, err) = run(Some(s3), &["state", "rollback", "999999", "--auto-approve"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no kept state at serial 999999"), "{err}");
    let said = ok(
        Some(s3),
        &[
            "state",
            "rollback",
            &applied_serial.to_string(),
            "--auto-approve",
        ],
    );
    assert!(said.contains("the next apply would do"), "{said}");
    assert!(said.contains("rolled back"), "{said}");
    assert_eq!(
        ok(Some(s3), &["state", "list"]),
        applied,
        "the applied resources are back"
    );
    // They were destroyed in the cloud: the rolled-back state's next plan makes them
    // again, and the apply converges.
    let (code, _, _) = run(Some(s3), &["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(2));
    ok(Some(s3), &["apply", "--auto-approve"]);
    ok(Some(s3), &["plan", "--detailed-exitcode"]);
    ok(Some(s3), &["inventory"]);
    ok(Some(s3), &["destroy", "--auto-approve"]);
}

/// The drift step of `examples/ci/drift.yml`, run by bash as GitHub Actions runs it for the
/// matrix row (aws, ticketing) with `state` as its store: exit code, stdout (where the
/// workflow's annotations go) and the job summary it wrote.
fn drift_step(
    dir: &std::path::Path,
    base: &[(&str, &str)],
    state: &str,
    fail_on_drift: bool,
) -> (Option<i32>, String, String) {
    let workflow = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/ci/drift.yml"),
    )
    .unwrap();
    // The `run: |` block of the step named `cairn drift`, as YAML gives it to bash.
    let step = workflow
        .split("\n      - name: cairn drift\n")
        .nth(1)
        .expect("drift.yml has a step named `cairn drift`");
    let script: Vec<&str> = step
        .lines()
        .skip_while(|l| l.trim() != "run: |")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with("          "))
        .map(|l| l.get(10..).unwrap_or(""))
        .collect();
    assert!(script.len() > 5, "the step's script: {script:?}");
    let script = script
        .join("\n")
        .replace("${{ matrix.stack }}", "ticketing")
        .replace("${{ matrix.cloud }}", "aws")
        .replace(
            "target/release/examples/cairn",
            cairn_binary().to_str().unwrap(),
        );
    assert!(
        !script.contains("${{"),
        "every expression is a matrix value: {script}"
    );
    let summary = dir.join("summary.md");
    std::fs::write(&summary, "").unwrap();
    // A runner's environment: the job's variables only, none of this machine's.
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .env_clear()
        .envs(base.iter().copied())
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", dir)
        .env("CAIRN_ENV", "moves")
        .env("CAIRN_STATE", state)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("FAIL_ON_DRIFT", if fail_on_drift { "true" } else { "" })
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
        std::fs::read_to_string(&summary).unwrap(),
    )
}

/// The workflow's contract: clean passes, drift and partial pass with a warning (or fail
/// when the team asks), an error fails; the summary holds the report each time.
fn drift_workflow_as_written(
    dir: &std::path::Path,
    base: &[(&str, &str)],
    state: &str,
    sdk: &aws_config::SdkConfig,
    rt: &tokio::runtime::Runtime,
) {
    let (code, out, summary) = drift_step(dir, base, state, false);
    assert_eq!(code, Some(0), "clean: {out}");
    assert!(out.contains("no drift"), "{out}");
    assert!(summary.starts_with("## ticketing on aws"), "{summary}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("drift.json")).unwrap()).unwrap();
    assert_eq!(report["drifted"], serde_json::json!([]), "{report}");

    // Out of band: the database's backups shortened by hand.
    let rds = aws_sdk_rds::Client::new(sdk);
    rt.block_on(
        rds.modify_db_instance()
            .db_instance_identifier("ticketing-moves-postgres")
            .backup_retention_period(1)
            .apply_immediately(true)
            .send(),
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400)); // past "modifying"
    let (code, out, summary) = drift_step(dir, base, state, false);
    assert_eq!(code, Some(0), "drift passes, with a warning: {out}");
    assert!(
        out.contains("::warning title=drift::ticketing on aws drifted"),
        "{out}"
    );
    assert!(
        summary.contains("| `aws_db_instance.postgres` | changed |"),
        "the report is the summary: {summary}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("drift.json")).unwrap()).unwrap();
    assert_eq!(
        report["drifted"][0]["changes"][0]["field"],
        "backup_retention_period"
    );
    let (code, out, _) = drift_step(dir, base, state, true);
    assert_eq!(
        code,
        Some(2),
        "CAIRN_FAIL_ON_DRIFT=true fails on drift: {out}"
    );

    // An error (a state store this program has no backend for) fails the job.
    let (code, out, _) = drift_step(dir, base, "gopher://nowhere/state", false);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("::error title=cairn drift failed::"), "{out}");

    // Repaired: the apply puts the backups back, and the check is clean again.
    let (code, out, err) = {
        let mut env = base.to_vec();
        env.push(("CAIRN_STATE", state));
        let o = cairn_with_env(
            dir,
            &[
                "apply",
                "--auto-approve",
                "--stack",
                "ticketing",
                "--env",
                "moves",
            ],
            &env,
        );
        (o.status.code(), text(&o.stdout), text(&o.stderr))
    };
    assert_eq!(code, Some(0), "{out}\n{err}");
    let (code, out, _) = drift_step(dir, base, state, false);
    assert_eq!(code, Some(0), "repaired: {out}");
}
