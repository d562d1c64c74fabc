//! The `cairn` binary as a process: exit codes and messages.

use cairn_tests::cairn;

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
