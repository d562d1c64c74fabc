//! The AWS emulator's own promises: what it starts dies with it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn serve_script() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .join("emulators/aws/serve")
}

/// PIDs of the direct children of `parent` named `name`.
fn children(parent: u32, name: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
        };
        if field("Name:").as_deref() == Some(name)
            && field("PPid:").and_then(|p| p.parse().ok()) == Some(parent)
        {
            out.push(pid);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    // A zombie is dead: it only waits to be reaped.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

#[test]
fn an_emulator_killed_with_sigkill_leaves_no_postgresql_behind() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut emulator = Command::new(serve_script())
        .args(["--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the emulator");
    let deadline = Instant::now() + Duration::from_secs(120);
    let postgres = loop {
        let found = children(emulator.id(), "postgres");
        if !found.is_empty() {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "the emulator started no PostgreSQL (is the postgresql package installed?)"
        );
        assert!(
            emulator.try_wait().unwrap().is_none(),
            "the emulator exited"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    emulator.kill().unwrap(); // SIGKILL: no atexit, no cleanup of its own
    emulator.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while postgres.iter().any(|p| alive(*p)) {
        if Instant::now() > deadline {
            // Leave nothing behind, even when failing.
            for p in &postgres {
                let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
            }
            panic!("PostgreSQL {postgres:?} still ran 30 s after its emulator was killed");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
