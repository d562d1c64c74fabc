//! `cairn state` across backends, as a team meets it: a stack applied with local state is
//! moved to PostgreSQL, then to S3, then to Azure Blob, each move verified and leaving
//! nothing behind; its history lists what each run wrote, and a rollback shows its plan
//! before it writes.

use cairn_tests::{cairn_with_env, AwsEmulator, Emulator, AZURITE, POSTGRES};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn state_moves_from_a_file_to_postgresql_s3_and_azure_blob_and_goes_back_in_time() {
    let aws = AwsEmulator::shared();
    let pg = Emulator::shared(POSTGRES);
    let azurite = Emulator::shared(AZURITE);
    let connection_string = azurite.azurite_connection_string();
    let (_config, _rt) = crate::state_backends::s3_setup(&aws);
    let pg_url = pg.postgres_url();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = aws.endpoint();
    let base = [
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

    // S3 -> Azure Blob; the rest of the story happens there.
    ok(
        Some(s3),
        &[
            "state",
            "migrate",
            "--to",
            "azblob://devstoreaccount1/cairn-state",
        ],
    );
    let (code, _, _) = run(Some(s3), &["state", "list"]);
    assert_eq!(code, Some(1), "S3 holds nothing after the move");
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
