//! cairn-tests: cross-crate integration tests and, as providers arrive, the emulator
//! harnesses they run against (kept here, never in the providers).

pub mod bench;
mod emulator;

pub use emulator::{
    AwsEmulator, Emulator, EmulatorGuard, EmulatorKind, AWS, AZURE, AZURITE, GCP, POSTGRES,
};

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `cairn` example binary, built (once per test run, a no-op when fresh) by the cargo
/// running these tests, so `cargo test -p cairn-tests` never runs a stale one.
pub fn cairn_binary() -> PathBuf {
    example_binary("cairn")
}

/// An example of the `examples/` crate (`cairn`, `embed`), built as [`cairn_binary`] is.
pub fn example_binary(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        // What cargo sets for this test process describes this package, not the build:
        // build scripts that watch such variables (ring's) would see them change and
        // rebuild half the dependency tree, the AWS SDK included.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("CARGO_PKG_")
                || k.starts_with("CARGO_BIN_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_MANIFEST_LINKS",
                    "CARGO_CRATE_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_RUSTC_CURRENT_DIR",
                    "OUT_DIR",
                ]
                .contains(&k.as_ref())
            {
                cmd.env_remove(k.as_ref());
            }
        }
        let status = cmd
            // `--workspace` keeps feature unification identical to `cargo test --workspace`,
            // so this is a no-op there instead of a rebuild of the dependencies.
            .args([
                "build",
                "--quiet",
                "--workspace",
                "--example",
                "cairn",
                "--example",
                "embed",
            ])
            .status()
            .expect("run cargo to build the cairn example");
        assert!(status.success(), "building the examples failed");
    });
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> -> target/<profile>/examples/cairn
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let bin = profile_dir.join("examples").join(name);
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build --example {name}` (cargo test --workspace does)",
        bin.display()
    );
    bin
}

/// Run `cairn` with `args`, no stdin, in `dir`.
pub fn cairn(dir: &std::path::Path, args: &[&str]) -> Output {
    cairn_with_env(dir, args, &[])
}

/// Run `cairn` with `args` and extra environment variables, no stdin, in `dir`. Any AWS
/// settings of the machine running the tests are removed: only the given ones count.
pub fn cairn_with_env(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    cairn_command(dir, args, env).output().expect("run cairn")
}

/// The `cairn` command of [`cairn_with_env`], to spawn (and kill) as a process.
pub fn cairn_command(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(cairn_binary());
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_")
            || k.starts_with("CAIRN_")
            || k.starts_with("GOOGLE_")
            || k.starts_with("AZURE_")
        {
            cmd.env_remove(k);
        }
    }
    cmd.args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    cmd
}
