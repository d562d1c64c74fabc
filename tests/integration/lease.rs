//! Leased, fenced locks as `cairn` meets them against the AWS emulator: a run stopped
//! (`SIGSTOP`) past its lease is taken over by the next, and when it resumes (`SIGCONT`)
//! its next write is refused, it sends the cloud nothing more and exits non-zero, leaving
//! the state the second run's; a run killed (`SIGKILL`) on "another machine" is waited
//! for and taken over once its lease lapses, within lease + 5 s. Each with the state in a
//! local file, in PostgreSQL, in S3 and in Cloud Storage; stopped with it in Azure Blob.

use cairn_core::state::remote::{Blobs, Condition};
use cairn_tests::{
    cairn_command, cairn_with_env, AwsEmulator, Emulator, EmulatorGuard, AZURITE, GCP, POSTGRES,
};
use std::process::Child;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn signal(child: &Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill {sig} {}", child.id());
}

/// Where the runs of a test keep their state.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Backend {
    Local,
    Postgres,
    S3,
    Gcs,
    AzureBlob,
}

/// The state store a test's runs share: its `CAIRN_STATE` (none for the default file) and,
/// for a shared store, the backend itself, to play another machine's part.
struct State {
    url: Option<String>,
    /// What the CLI needs besides `CAIRN_STATE` to reach the store.
    settings: Vec<(&'static str, String)>,
    blobs: Option<Box<dyn Blobs>>,
    rt: tokio::runtime::Runtime,
    _server: Option<EmulatorGuard>,
}

/// The key the CLI keeps the test stack's state under in a shared store.
const KEY: &str = "ticketing-lease.aws";

fn state(backend: Backend, aws: &Emulator) -> State {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    match backend {
        Backend::Local => State {
            url: None,
            settings: vec![],
            blobs: None,
            rt,
            _server: None,
        },
        Backend::Postgres => {
            let pg = Emulator::shared(POSTGRES);
            let url = pg.postgres_url();
            let blobs = cairn_core::state::remote::PostgresBlobs::from_url(&url, KEY).unwrap();
            State {
                url: Some(url),
                settings: vec![],
                blobs: Some(Box::new(blobs)),
                rt,
                _server: Some(pg),
            }
        }
        Backend::S3 => {
            let (config, _) = crate::state_backends::s3_setup(aws);
            let blobs = cairn_aws::state::S3Blobs::new(&config, "cairn-state", KEY).unwrap();
            State {
                url: Some("s3://cairn-state".into()),
                settings: vec![],
                blobs: Some(Box::new(blobs)),
                rt,
                _server: None,
            }
        }
        Backend::Gcs => {
            let gcp = Emulator::shared(GCP);
            crate::state_backends::gcs_bucket(&gcp);
            let endpoint = gcp.endpoint();
            let blobs =
                cairn_gcp::state::GcsBlobs::new(Some(&endpoint), "cairn-state", KEY).unwrap();
            State {
                url: Some("gs://cairn-state".into()),
                settings: vec![("CAIRN_GCP_ENDPOINT", endpoint)],
                blobs: Some(Box::new(blobs)),
                rt,
                _server: Some(gcp),
            }
        }
        Backend::AzureBlob => {
            let azurite = Emulator::shared(AZURITE);
            let cs = azurite.azurite_connection_string();
            let blobs = cairn_azure::state::AzureBlobs::from_connection_string(
                &cs,
                "devstoreaccount1",
                "cairn-state",
                KEY,
            )
            .unwrap();
            State {
                url: Some("azblob://devstoreaccount1/cairn-state".into()),
                settings: vec![("AZURE_STORAGE_CONNECTION_STRING", cs)],
                blobs: Some(Box::new(blobs)),
                rt,
                _server: Some(azurite),
            }
        }
    }
}

impl State {
    /// Rewrite the lock's holder as if it ran on another machine: nothing here can tell
    /// it died then, only its lease running out can.
    fn move_holder_elsewhere(&self, dir: &std::path::Path) {
        let edit = |holder: &mut serde_json::Value| {
            holder["host"] = "build-agent-7".into();
            holder["boot_id"] = "another-boot".into();
        };
        let Some(blobs) = &self.blobs else {
            let lock_path = dir.join(".cairn/ticketing-lease.aws.json.lock");
            let mut lock: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&lock_path).expect("the killed run's lock"))
                    .unwrap();
            edit(&mut lock);
            std::fs::write(&lock_path, serde_json::to_vec(&lock).unwrap()).unwrap();
            return;
        };
        self.rt.block_on(async {
            let held = blobs
                .get("lock")
                .await
                .unwrap()
                .expect("the killed run's lock");
            let mut lock: serde_json::Value = serde_json::from_slice(&held.body).unwrap();
            edit(&mut lock["holder"]);
            blobs
                .put(
                    "lock",
                    serde_json::to_vec(&lock).unwrap(),
                    Condition::Matches(held.version),
                )
                .await
                .unwrap();
        });
    }
}

/// The AWS settings for the emulator at `endpoint`, with a lease of one second, and the
/// state store.
fn env(endpoint: &str, state: &State) -> Vec<(&'static str, String)> {
    let mut env = vec![("CAIRN_STATE", state.url.clone().unwrap_or_default())];
    if state.url.is_none() {
        env.clear();
    }
    env.extend(state.settings.iter().cloned());
    env.extend([
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("CAIRN_STATE_LEASE", "1s".into()),
        // Short call timeouts keep the wait for an interrupted run's creates (the
        // in-flight window, about 3.5 s here) within the lease's lapse and its 5 s.
        ("CAIRN_AWS_CONNECT_TIMEOUT", "1s".into()),
        ("CAIRN_AWS_ATTEMPT_TIMEOUT", "2s".into()),
        ("CAIRN_AWS_CALL_TIMEOUT", "3s".into()),
        ("CAIRN_AWS_READ_AFTER_WRITE", "500ms".into()),
    ]);
    env
}

const ARGS: [&str; 6] = [
    "apply",
    "--auto-approve",
    "--stack",
    "ticketing",
    "--env",
    "lease",
];

/// Mutating calls the emulator logged that started after `since` (Unix seconds).
fn calls_since(emulator: &cairn_tests::Emulator, since: f64) -> Vec<String> {
    let log: serde_json::Value = serde_json::from_str(&emulator.calls()).unwrap();
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["start"].as_f64().unwrap_or(0.0) > since && c["service"] != "s3")
        .map(|c| format!("{} {}", c["service"], c["operation"]))
        .collect()
}

fn mutating_calls(emulator: &cairn_tests::Emulator) -> usize {
    let log: serde_json::Value = serde_json::from_str(&emulator.calls()).unwrap();
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["service"] != "s3")
        .filter(|c| {
            let op = c["operation"].as_str().unwrap_or_default();
            !["Describe", "List", "Get"]
                .iter()
                .any(|p| op.starts_with(p))
        })
        .count()
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < until,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait for `child` (its output going to `log`) for at most two minutes: a run that hangs
/// is killed and reported, never waited for forever.
fn finish(mut child: Child, log: &std::path::Path, what: &str) -> (Option<i32>, String) {
    let until = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} hung for two minutes:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let said = std::fs::read_to_string(log).unwrap_or_default();
    assert!(status.code().is_some(), "{what} died by a signal:\n{said}");
    (status.code(), said)
}

/// The stack converged (an empty plan), nothing of it orphaned or gone (a clean
/// inventory); then destroyed.
fn converged_then_destroyed(dir: &std::path::Path, env: &[(&str, &str)]) {
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--stack", "ticketing", "--env", "lease"]);
        let out = cairn_with_env(dir, &all, env);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    };
    run(&["plan", "--detailed-exitcode"]);
    run(&["inventory"]);
    run(&["destroy", "--auto-approve"]);
}

fn stopped_run_taken_over(backend: Backend) {
    let guard = AwsEmulator::shared();
    let emulator = guard.emulator();
    let store = state(backend, emulator);
    // Creates land slowly, so the first run is still busy when it is stopped.
    emulator.set_faults(r#"{"delay": {"Create*": 300}}"#);
    let dir = tempfile::tempdir().unwrap();
    let endpoint = emulator.endpoint();
    let env = env(&endpoint, &store);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let log = dir.path().join("first.log");
    let file = std::fs::File::create(&log).unwrap();
    let first = cairn_command(dir.path(), &ARGS, &env)
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    wait_for("the first run's creates", Duration::from_secs(120), || {
        mutating_calls(emulator) >= 6
    });
    signal(&first, "-STOP");
    // Its lease (1 s) and the grace after it (2 s) run out.
    std::thread::sleep(Duration::from_millis(3500));

    let second = cairn_with_env(dir.path(), &ARGS, &env);
    let said = text(&second.stderr);
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}\n{said}",
        text(&second.stdout)
    );
    assert!(said.contains("took over the lock of"), "{said}");
    let resumed_at = now_s();

    signal(&first, "-CONT");
    let (code, said) = finish(first, &log, "the resumed run");
    assert_ne!(code, Some(0), "{said}");
    assert!(
        said.contains("no longer holds the lock") || said.contains("lease on the state ran out"),
        "the resumed run must say it lost its lock: {said}"
    );
    let late = calls_since(emulator, resumed_at);
    assert!(
        late.is_empty(),
        "the resumed run sent the cloud {late:?} after it lost its lock"
    );

    // The state is the second run's, whole: nothing left to do, nothing orphaned.
    converged_then_destroyed(dir.path(), &env);
}

fn killed_run_taken_over(backend: Backend) {
    let guard = AwsEmulator::shared();
    let emulator = guard.emulator();
    let store = state(backend, emulator);
    emulator.set_faults(r#"{"delay": {"Create*": 300}}"#);
    let dir = tempfile::tempdir().unwrap();
    let endpoint = emulator.endpoint();
    let env = env(&endpoint, &store);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let mut first = cairn_command(dir.path(), &ARGS, &env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first run's creates", Duration::from_secs(120), || {
        mutating_calls(emulator) >= 6
    });
    first.kill().unwrap();
    first.wait().unwrap();
    let killed_at = Instant::now();
    store.move_holder_elsewhere(dir.path());

    // Started at once: it waits for the lease to lapse, and takes over no later than
    // lease + 5 s after the kill (the apply itself comes on top). Its notes are read as
    // they come, to time the takeover.
    let killed = killed_at;
    let mut second = cairn_command(dir.path(), &ARGS, &env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = second.stderr.take().unwrap();
    let lines = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .map(|l| (killed.elapsed(), l))
            .collect::<Vec<_>>()
    });
    let status = second.wait().unwrap();
    let lines = lines.join().unwrap();
    let said: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    assert_eq!(status.code(), Some(0), "{said}");
    // (Whether it had to wait depends on how long its plan took: an interrupted run's
    // creates are waited for first. Waiting itself is tested in cairn-core.)
    let took = lines
        .iter()
        .find(|(_, l)| l.contains("took over the lock of"))
        .map(|(at, _)| *at)
        .unwrap_or_else(|| panic!("no takeover said: {said}"));
    assert!(
        took >= Duration::from_secs(1) && took <= Duration::from_secs(6),
        "took over {took:?} after the kill, with a lease of 1 s: {said}"
    );

    // Nothing duplicated or orphaned, nothing left to do.
    converged_then_destroyed(dir.path(), &env);
}

#[test]
fn a_run_stopped_past_its_lease_is_taken_over_and_refused_when_it_resumes() {
    stopped_run_taken_over(Backend::Local);
}

#[test]
fn a_run_stopped_past_its_postgresql_lease_is_taken_over_and_refused_when_it_resumes() {
    stopped_run_taken_over(Backend::Postgres);
}

#[test]
fn a_run_stopped_past_its_s3_lease_is_taken_over_and_refused_when_it_resumes() {
    stopped_run_taken_over(Backend::S3);
}

#[test]
fn a_run_killed_on_another_machine_is_taken_over_within_its_lease_and_five_seconds() {
    killed_run_taken_over(Backend::Local);
}

#[test]
fn a_run_killed_holding_a_postgresql_lease_is_taken_over_within_its_lease_and_five_seconds() {
    killed_run_taken_over(Backend::Postgres);
}

#[test]
fn a_run_killed_holding_an_s3_lease_is_taken_over_within_its_lease_and_five_seconds() {
    killed_run_taken_over(Backend::S3);
}

#[test]
fn a_run_stopped_past_its_gcs_lease_is_taken_over_and_refused_when_it_resumes() {
    stopped_run_taken_over(Backend::Gcs);
}

#[test]
fn a_run_killed_holding_a_gcs_lease_is_taken_over_within_its_lease_and_five_seconds() {
    killed_run_taken_over(Backend::Gcs);
}

#[test]
fn a_run_stopped_past_its_azure_blob_lease_is_taken_over_and_refused_when_it_resumes() {
    stopped_run_taken_over(Backend::AzureBlob);
}

#[test]
fn a_run_killed_holding_an_azure_blob_lease_is_taken_over_within_its_lease_and_five_seconds() {
    killed_run_taken_over(Backend::AzureBlob);
}
