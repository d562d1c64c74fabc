//! The AWS emulator's own promises: what it starts dies with it, and the control contract
//! every emulator of the project serves under `/_emulator/`.

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
    // A free port can be taken by another test's emulator between this test finding it and
    // the emulator binding it: then the emulator exits at once, and another port is tried.
    let (mut emulator, postgres) = 'start: {
        let mut last = String::new();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let log = tempfile::NamedTempFile::new().unwrap();
            // Started as a shell's background job is, with SIGQUIT ignored: an ignored
            // signal is inherited through fork and exec, and an ignored death signal is
            // lost (CI run 10 left a server so).
            let mut emulator = Command::new("bash")
                .arg("-c")
                .arg("trap '' QUIT; exec \"$0\" --port \"$1\"")
                .arg(serve_script())
                .arg(port.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log.reopen().unwrap())
                .spawn()
                .expect("start the emulator");
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                let found = children(emulator.id(), "postgres");
                if !found.is_empty() {
                    break 'start (emulator, found);
                }
                assert!(
                    Instant::now() < deadline,
                    "the emulator started no PostgreSQL (is the postgresql package installed?)"
                );
                if emulator.try_wait().unwrap().is_some() {
                    last = std::fs::read_to_string(log.path()).unwrap_or_default();
                    assert!(
                        last.contains("Address already in use"),
                        "the emulator exited: {last}"
                    );
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("no free port for the emulator after 5 tries: {last}");
    };
    emulator.kill().unwrap(); // SIGKILL: no atexit, no cleanup of its own
    emulator.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while postgres.iter().any(|p| alive(*p)) {
        if Instant::now() > deadline {
            // What the kernel says of each (state, signals pending, blocked, ignored,
            // caught), then leave nothing behind, even when failing.
            let said: Vec<String> = postgres
                .iter()
                .map(|p| {
                    let status =
                        std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
                    let fields: Vec<&str> = status
                        .lines()
                        .filter(|l| {
                            [
                                "State:", "PPid:", "SigPnd:", "ShdPnd:", "SigBlk:", "SigIgn:",
                                "SigCgt:",
                            ]
                            .iter()
                            .any(|k| l.starts_with(k))
                        })
                        .collect();
                    format!("{p}: {}", fields.join(" "))
                })
                .collect();
            for p in &postgres {
                let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
            }
            panic!(
                "PostgreSQL {postgres:?} still ran 30 s after its emulator was killed: {}",
                said.join("; ")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The death signal the emulators arm in their PostgreSQL servers is not lost when the
/// emulator was started with SIGQUIT ignored (as a shell's background job is): a child
/// that has not yet set a handler of its own still dies with its parent. `sleep` stands for
/// a server in the moment before it sets its handlers; the parent is a Python process that
/// starts it the way the emulators do.
#[test]
fn the_death_signal_is_not_lost_when_the_parent_ignores_sigquit() {
    let emulators = serve_script().parent().unwrap().to_path_buf();
    let parent_script = "import subprocess, sys, time\n\
         sys.path.insert(0, sys.argv[1])\n\
         import local_postgres\n\
         import os\n\
         parent = os.getpid()\n\
         child = subprocess.Popen(['sleep', '120'], preexec_fn=lambda: local_postgres.arm_death_signal(parent))\n\
         print(child.pid, flush=True)\n\
         time.sleep(120)\n";
    let mut parent = Command::new("bash")
        .arg("-c")
        .arg("trap '' QUIT; exec python3 -c \"$0\" \"$1\"")
        .arg(parent_script)
        .arg(&emulators)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python3");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(parent.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let child: u32 = line.trim().parse().unwrap_or_else(|_| {
        let _ = parent.kill();
        panic!("the parent printed no pid: {line:?}")
    });
    parent.kill().unwrap();
    parent.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(child) {
        if Instant::now() > deadline {
            let _ = Command::new("kill")
                .args(["-9", &child.to_string()])
                .status();
            panic!("the child {child} outlived its parent by 10 s: its death signal was lost");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The control contract every emulator of the project serves under `/_emulator/`: ready,
/// reset, faults, held answers and the call log, driven here through the real SDK.
#[test]
fn the_emulator_serves_its_control_contract_under_emulator_paths() {
    let emulator = cairn_tests::AwsEmulator::shared();
    let (status, body) = emulator.request("GET", "/_emulator/ready", "").unwrap();
    assert_eq!(
        (status, body.contains("\"ready\": true")),
        (200, true),
        "{body}"
    );
    let (status, _) = emulator.request("GET", "/_emulator/nothing", "").unwrap();
    assert_eq!(status, 404, "an unknown control path is refused");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let config = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(emulator.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "cairn-tests",
            ))
            .load(),
    );
    let ec2 = aws_sdk_ec2::Client::new(&config);
    emulator.set_faults(r#"{"hold": ["CreateVpc"]}"#);
    let create = rt.spawn({
        let ec2 = ec2.clone();
        async move { ec2.create_vpc().cidr_block("10.9.0.0/16").send().await }
    });
    // The VPC exists at once; its answer waits.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !emulator.held().contains("CreateVpc") {
        assert!(Instant::now() < deadline, "the held call is listed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let vpcs = rt
        .block_on(ec2.describe_vpcs().send())
        .unwrap()
        .vpcs()
        .iter()
        .filter(|v| v.cidr_block() == Some("10.9.0.0/16"))
        .count();
    assert_eq!(vpcs, 1, "a held call has taken effect");
    assert!(!create.is_finished(), "its answer is held");
    emulator.release_held();
    let vpc = rt
        .block_on(create)
        .unwrap()
        .expect("the held answer arrives");
    assert!(vpc.vpc().and_then(|v| v.vpc_id()).is_some());
    assert_eq!(emulator.held(), "[]");
    assert!(
        emulator.calls().contains("\"CreateVpc\""),
        "{}",
        emulator.calls()
    );

    emulator.set_faults(r#"{"latency_ms": 5}"#);
    emulator.reset();
    assert_eq!(emulator.calls(), "[]", "reset clears the call log");
    let faults = emulator.request("GET", "/_emulator/faults", "").unwrap().1;
    assert!(
        faults.contains("\"latency_ms\": 0"),
        "reset clears faults: {faults}"
    );
    let vpcs = rt.block_on(ec2.describe_vpcs().send()).unwrap();
    assert!(
        !vpcs
            .vpcs()
            .iter()
            .any(|v| v.cidr_block() == Some("10.9.0.0/16")),
        "reset forgets resources"
    );
}
