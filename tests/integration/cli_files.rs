//! The `cairn` binary and the files it keeps: a foreign state file refused and kept, saved
//! plans private and refused once edited, locks released by hand or taken over from a dead
//! run, and a state another user cannot write refused rather than replaced.

use crate::cli::{save_zerostate_plan, NOWHERE};
use cairn_tests::cairn_with_env;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
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

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn saved_plans_are_private_and_refused_once_edited() {
    let dir = tempfile::tempdir().unwrap();
    let plan_file = dir.path().join("p.json");
    // Even over a file that was world-readable.
    std::fs::write(&plan_file, "old").unwrap();
    std::fs::set_permissions(
        &plan_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let out = save_zerostate_plan(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        mode(&plan_file),
        0o600,
        "a plan names every setting: 0600 like state"
    );
    let state = dir.path().join(".cairn/zerostate-dev.aws.json");
    assert_eq!(mode(&state), 0o600);

    let saved = std::fs::read_to_string(&plan_file).unwrap();
    let edited = saved.replacen("10.0.", "10.9.", 1);
    assert_ne!(edited, saved);
    std::fs::write(&plan_file, &edited).unwrap();
    let apply = ["apply", "p.json", "--stack", "zerostate", "--env", "dev"];
    let out = cairn_with_env(dir.path(), &apply, NOWHERE);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot be trusted"), "{err}");
    assert!(
        !err.contains("could not reach"),
        "refused before any cloud call: {err}"
    );
}

/// A lock file as a run on `host` with `pid` would leave it.
fn lock_file(dir: &std::path::Path, id: &str, host: &str, pid: u32) {
    let body = format!(
        r#"{{"id":"{id}","who":"someone@{host}","pid":{pid},"operation":"apply","created":"2026-12-01T10:00:00Z","version":"0.1.0","host":"{host}"}}"#
    );
    std::fs::write(dir.join(".cairn/zerostate-dev.aws.json.lock"), body).unwrap();
}

#[test]
fn state_unlock_releases_a_lock_and_a_dead_runs_lock_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    fn with<'a>(args: &[&'a str]) -> Vec<&'a str> {
        [args, &["--stack", "zerostate", "--env", "dev"][..]].concat()
    }
    // Nothing answers at NOWHERE: runs that plan trust state instead of reading it.
    fn trusting<'a>(args: &[&'a str]) -> Vec<&'a str> {
        [with(args), vec!["--refresh=false"]].concat()
    }
    // A state to lock (saving a plan creates it, empty).
    let out = cairn_with_env(dir.path(), &trusting(&["plan", "--out", "p.json"]), NOWHERE);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // A run on another machine: nothing here can prove it dead.
    lock_file(dir.path(), "remote-run", "some-other-host", 4242);
    let out = cairn_with_env(dir.path(), &trusting(&["apply", "--auto-approve"]), NOWHERE);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cairn state unlock remote-run"), "{err}");
    let out = cairn_with_env(dir.path(), &with(&["state", "unlock", "wrong-id"]), NOWHERE);
    assert_eq!(out.status.code(), Some(1), "a wrong id is refused");
    let out = cairn_with_env(
        dir.path(),
        &with(&["state", "unlock", "remote-run"]),
        NOWHERE,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!dir
        .path()
        .join(".cairn/zerostate-dev.aws.json.lock")
        .exists());

    // An empty lock file says so, and names the command that removes it.
    std::fs::write(dir.path().join(".cairn/zerostate-dev.aws.json.lock"), "").unwrap();
    let out = cairn_with_env(dir.path(), &trusting(&["apply", "--auto-approve"]), NOWHERE);
    let err = text(&out.stderr);
    assert!(err.contains("lock file that is empty"), "{err}");
    let id = err
        .split("cairn state unlock ")
        .nth(1)
        .and_then(|r| r.split('`').next())
        .expect("the message names the id")
        .to_string();
    let out = cairn_with_env(dir.path(), &with(&["state", "unlock", &id]), NOWHERE);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // A run on this host whose process is gone: taken over, and said so.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    lock_file(dir.path(), "dead-run", &host, dead);
    let out = cairn_with_env(dir.path(), &trusting(&["apply", "--auto-approve"]), NOWHERE);
    let err = text(&out.stderr) + &text(&out.stdout);
    assert!(
        err.contains("took over the lock") && err.contains(&format!("pid {dead}")),
        "{err}"
    );
    // It went on to the cloud, which is not there, and says so like a person would.
    assert!(
        err.contains("could not reach ec2 at http://127.0.0.1:9: connection refused"),
        "{err}"
    );
    assert!(!err.contains("DispatchFailure"), "{err}");
}

#[test]
fn a_state_another_user_cannot_write_is_refused_not_replaced() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = save_zerostate_plan(d);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let state = d.join(".cairn/zerostate-dev.aws.json");
    let root = current_uid() == 0;
    // The owner's file, readable by others, in a directory anyone may write: a rename
    // would replace it behind its owner's back.
    for p in [d, &d.join(".cairn")] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    std::fs::set_permissions(
        &state,
        std::fs::Permissions::from_mode(if root { 0o644 } else { 0o444 }),
    )
    .unwrap();
    let before = std::fs::metadata(&state).unwrap();
    let content = std::fs::read(&state).unwrap();
    let args = [
        "apply",
        "--auto-approve",
        "--stack",
        "zerostate",
        "--env",
        "dev",
        "--refresh=false",
    ];
    let out = if root {
        // Another user: nobody, through a copy of the binary it can run.
        let bin = d.join("cairn");
        std::fs::copy(cairn_tests::cairn_binary(), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(args)
            .env_clear()
            .envs(NOWHERE.iter().copied())
            .env("HOME", d)
            .current_dir(d);
        cmd.output()
            .expect("setpriv (util-linux) runs cairn as nobody")
    } else {
        cairn_with_env(d, &args, NOWHERE)
    };
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("read-only here"), "{err}");
    let after = std::fs::metadata(&state).unwrap();
    assert_eq!(
        (after.ino(), after.uid(), after.mode()),
        (before.ino(), before.uid(), before.mode()),
        "same file, same owner, same mode"
    );
    assert_eq!(std::fs::read(&state).unwrap(), content);
    assert!(!d.join(".cairn/zerostate-dev.aws.json.lock").exists());
}

/// This process's user id, from /proc (no libc call needed).
fn current_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("Uid in /proc/self/status")
}
