//! The kill campaign: `cairn apply` and `cairn destroy` of a seed stack, killed with SIGKILL
//! at random moments (half of them in the first 300 ms, when creates are in flight), then
//! run again at once or after a pause, the way an unlucky user meets a crash. After each
//! kill it checks, through the cloud's own API and not cairn's state:
//! - duplicates: two live objects tagged for the same address;
//! - orphans: live objects of the stack that state does not record (after an apply), or
//!   anything left at all (after a destroy);
//! - failed: a re-run that did not succeed;
//! - not_converged: a plan after the re-run that still has changes;
//! - stuck: a re-run refused by the dead run's lock;
//! - corrupt: a state that cannot be read after the kill.
//!
//! The emulator delays the effect of creating calls, so a run killed meanwhile leaves a
//! request in flight that lands after the next run started: the case a single empty read
//! used to settle wrongly. Seeded; `tests/kill-campaign --points N [--seed S] [--faults]`
//! runs it with other counts. It prints
//! `crash points=N duplicates=0 orphans=0 failed=0 not_converged=0 stuck=0 corrupt=0`.

use crate::{inventory, inventory_azure};
use cairn_tests::{cairn_command, AwsEmulator, Emulator, AZURE};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A failed run's output with its verdict first: the apply's summary and what failed or
/// went wrong, then everything. A CI log keeps a long message's ends and drops its middle,
/// where the verdict of a run that printed its whole plan would be.
fn verdict_first(b: &[u8]) -> String {
    let all = text(b);
    let verdict: Vec<&str> = all
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with("Apply ")
                || t.starts_with("Destroy ")
                || t.starts_with("failed:")
                || t.starts_with("error")
                || t.starts_with("Error")
        })
        .collect();
    format!("verdict:\n{}\n--- whole output:\n{all}", verdict.join("\n"))
}

/// True when a run failed only on calls whose outcome is unknown or that outlasted their
/// retries (its other operations skipped because of them): on a busy machine an emulator
/// can answer slower than the short timeouts the campaign sets, and such a run leaves
/// pending records exactly as a kill does.
fn cut_short(stderr: &[u8]) -> bool {
    let all = text(stderr);
    let failed: Vec<&str> = all
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("failed:"))
        .collect();
    !failed.is_empty()
        && all.lines().any(|l| l.starts_with("Apply incomplete"))
        && failed.iter().all(|l| {
            l.contains(": outcome unknown: ") || l.contains(": transient failure after retries: ")
        })
}

/// A small, seeded generator (xorshift64*): the campaign must replay exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Debug, Default)]
struct Counts {
    points: usize,
    duplicates: usize,
    orphans: usize,
    failed: usize,
    not_converged: usize,
    stuck: usize,
    corrupt: usize,
    /// Objects the test's own inventory found that `cairn inventory` did not list, or
    /// listed otherwise (orphan vs managed).
    blind: usize,
    /// Runs not killed, and first re-runs, that ended on calls whose outcome is unknown (a
    /// timeout on a busy machine): an interruption like a kill, re-run and checked like one.
    cut_short: usize,
}

impl Counts {
    fn line(&self) -> String {
        format!(
            "crash points={} duplicates={} orphans={} failed={} not_converged={} stuck={} corrupt={} blind={} cut_short={}",
            self.points,
            self.duplicates,
            self.orphans,
            self.failed,
            self.not_converged,
            self.stuck,
            self.corrupt,
            self.blind,
            self.cut_short
        )
    }
    fn clean(&self) -> bool {
        self.duplicates
            + self.orphans
            + self.failed
            + self.not_converged
            + self.stuck
            + self.corrupt
            + self.blind
            == 0
    }
}

/// Where the campaign runs, and how it reads what the stack owns there.
enum Cloud {
    Aws(Box<aws_config::SdkConfig>),
    /// The subscription, and the vaults outside the stack its certificates are in.
    Azure {
        subscription: String,
        vaults: Vec<String>,
    },
}

struct Campaign<'a> {
    emulator: &'a cairn_tests::Emulator,
    /// The fault settings cairn runs under (lifted while the test takes its inventory).
    faults: String,
    /// The same with every fault off.
    quiet: &'static str,
    dir: &'a Path,
    env: Vec<(&'static str, String)>,
    /// Arguments every command takes besides the stack (`--cloud azure`).
    with: Vec<String>,
    stack: String,
    full_name: String,
    cloud: Cloud,
    rt: tokio::runtime::Runtime,
    counts: Counts,
    log: Vec<String>,
    /// What the last killed run and its re-run printed, for the log when a check fails.
    last_runs: String,
}

impl Campaign<'_> {
    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut all = args.to_vec();
        all.extend(["--stack", &self.stack, "--env", "kill"]);
        all.extend(self.with.iter().map(String::as_str));
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        cairn_command(self.dir, &all, &env)
    }

    /// Run to completion, but never wait forever: a hung run is a failure to report.
    fn run(&self, args: &[&str]) -> Output {
        let mut child = self
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn cairn");
        // Drained as the run goes: a pipe's buffer is 64 KB, and a run that printed more
        // into one nobody read would stall, and be taken for hung.
        let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut all = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut all);
                }
                all
            })
        };
        let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
        let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
        let deadline = Instant::now() + Duration::from_secs(300);
        let (status, hung) = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break (status, false);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break (child.wait().expect("reap"), true);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = Output {
            status,
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
        };
        assert!(
            !hung,
            "cairn {args:?} hung for 300 s:\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }

    /// Start `args` and SIGKILL it after `after`; false when it had finished by then.
    fn kill_after(&self, args: &[&str], after: Duration) -> (bool, Option<Output>) {
        // Output to a file: a pipe nobody reads could stall the run and move the kill.
        let log = self.dir.join("killed-run.log");
        let file = std::fs::File::create(&log).expect("run log");
        let mut child = self
            .command(args)
            .stdout(file.try_clone().expect("run log"))
            .stderr(file)
            .spawn()
            .expect("spawn cairn");
        let start = Instant::now();
        let mut finished = false;
        while start.elapsed() < after {
            if child.try_wait().expect("wait").is_some() {
                finished = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if !finished {
            child.kill().expect("SIGKILL");
        }
        let status = child.wait().expect("reap");
        let printed = std::fs::read(&log).unwrap_or_default();
        let out = Output {
            status,
            stdout: Vec::new(),
            stderr: printed,
        };
        (!finished, Some(out))
    }

    /// `address -> id` of what state records, or None when the state cannot be read.
    fn state(&mut self) -> Option<BTreeMap<String, String>> {
        let out = self.run(&["state", "list"]);
        let err = text(&out.stderr);
        if out.status.code() != Some(0) && !err.contains("no state") {
            self.log.push(format!("state unreadable: {err}"));
            return None;
        }
        Some(
            text(&out.stdout)
                .lines()
                .filter_map(|l| l.split_once('\t'))
                .map(|(a, i)| (a.to_string(), i.to_string()))
                .collect(),
        )
    }

    /// What the stack owns, read with the faults lifted: they are for cairn, not the check.
    fn owned(&self) -> Vec<inventory::Owned> {
        self.emulator.set_faults(self.quiet);
        let owned = match &self.cloud {
            Cloud::Aws(sdk) => self.rt.block_on(inventory::owned(sdk, &self.full_name)),
            Cloud::Azure {
                subscription,
                vaults,
            } => inventory_azure::owned(self.emulator, subscription, &self.full_name, vaults),
        };
        self.emulator.set_faults(&self.faults);
        owned
    }

    /// `cairn inventory --json` (faults lifted, like the test's own inventory): the
    /// standings of the objects listed under each id (two types may share one), or None
    /// when it failed.
    fn cairn_inventory(&mut self, ctx: &str) -> Option<BTreeMap<String, Vec<String>>> {
        self.emulator.set_faults(self.quiet);
        let out = self.run(&["inventory", "--json"]);
        self.emulator.set_faults(&self.faults);
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&out.stdout).ok();
        match (out.status.code(), parsed) {
            (Some(0 | 2), Some(report)) => {
                let mut listed: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for o in report["objects"].as_array().into_iter().flatten() {
                    listed
                        .entry(o["id"].as_str().unwrap_or_default().to_string())
                        .or_default()
                        .push(o["standing"].as_str().unwrap_or_default().to_string());
                }
                Some(listed)
            }
            (code, _) => {
                self.counts.blind += 1;
                self.log.push(format!(
                    "{ctx}: cairn inventory failed (exit {code:?}):\n{}{}",
                    text(&out.stdout),
                    text(&out.stderr)
                ));
                None
            }
        }
    }

    /// Compare `cairn inventory` with the test's own: every object the test found must be
    /// listed, as an orphan exactly when state does not record it; an orphan only cairn
    /// sees (a type the test does not list) is an orphan all the same.
    fn cross_check(&mut self, ctx: &str, owned: &[inventory::Owned], ids: &BTreeSet<&str>) {
        let Some(listed) = self.cairn_inventory(ctx) else {
            return;
        };
        for o in owned {
            let want = if ids.contains(o.id.as_str()) {
                "managed"
            } else {
                "orphan"
            };
            let got = listed.get(&o.id);
            match got {
                Some(standings)
                    if standings
                        .iter()
                        .any(|s| s == want || (want == "orphan" && s == "pending")) => {}
                got => {
                    self.counts.blind += 1;
                    self.log.push(format!(
                        "{ctx}: cairn inventory lists {} {} (tagged {}) as {got:?}, the test \
                         sees it {want}",
                        o.kind, o.id, o.address
                    ));
                }
            }
        }
        let seen: BTreeSet<&str> = owned.iter().map(|o| o.id.as_str()).collect();
        for (id, standings) in &listed {
            if standings.iter().any(|s| s == "orphan") && !seen.contains(id.as_str()) {
                self.counts.orphans += 1;
                self.log
                    .push(format!("{ctx}: orphan {id} only cairn inventory sees"));
            }
        }
    }

    /// A re-run after a kill: must succeed, and a dead run's lock must not stop it. A first
    /// re-run may end as an uninterrupted run may (only on calls of unknown outcome, which
    /// leave pending records as a kill does): it counts as cut short, and the second try,
    /// which recovers from it, must succeed.
    fn rerun(&mut self, args: &[&str], ctx: &str, second_try: bool) -> bool {
        let out = self.run(args);
        self.last_runs.push_str(&format!(
            "--- re-run {args:?}:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        ));
        if out.status.code() == Some(0) {
            return true;
        }
        // The apply's summary (what failed, and why) is on stdout, its notes on stderr.
        let printed = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
        let err = text(&out.stderr);
        if !second_try && cut_short(&printed) {
            self.counts.cut_short += 1;
            self.log.push(format!(
                "{ctx}: re-run {args:?} cut short by calls of unknown outcome: {}",
                verdict_first(&printed)
            ));
            return false;
        }
        if err.contains("locked by") || err.contains("lock file") {
            self.counts.stuck += 1;
        } else {
            self.counts.failed += 1;
        }
        self.log.push(format!(
            "{ctx}: re-run {args:?} failed:\n{}",
            verdict_first(&printed)
        ));
        false
    }

    fn check_applied(&mut self, ctx: &str) {
        let plan = self.run(&["plan", "--detailed-exitcode"]);
        if plan.status.code() != Some(0) {
            self.counts.not_converged += 1;
            self.log.push(format!(
                "{ctx}: plan after the re-run: exit {:?}\n{}\n{}",
                plan.status.code(),
                text(&plan.stdout),
                text(&plan.stderr)
            ));
        }
        let Some(state) = self.state() else {
            self.counts.corrupt += 1;
            return;
        };
        let ids: std::collections::BTreeSet<&str> = state.values().map(String::as_str).collect();
        let owned = self.owned();
        // An inventory that sees nothing would find no orphan either: it must see what
        // state records.
        assert!(
            state.is_empty() || owned.iter().any(|o| ids.contains(o.id.as_str())),
            "{ctx}: the inventory sees none of the {} objects state records",
            state.len()
        );
        let mut per_address: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for o in &owned {
            per_address.entry(&o.address).or_default().push(&o.id);
        }
        for (address, objects) in &per_address {
            if objects.len() > 1 {
                self.counts.duplicates += objects.len() - 1;
                let detail: Vec<_> = owned.iter().filter(|o| &o.address == address).collect();
                self.log.push(format!(
                    "{ctx}: duplicates for {address}: {detail:?}\n{}",
                    self.last_runs
                ));
            }
        }
        for o in &owned {
            if !ids.contains(o.id.as_str()) {
                self.counts.orphans += 1;
                self.log.push(format!(
                    "{ctx}: orphan {} {} (tagged {}) not in state",
                    o.kind, o.id, o.address
                ));
            }
        }
        self.cross_check(ctx, &owned, &ids);
    }

    fn check_destroyed(&mut self, ctx: &str) {
        let left = self.owned();
        if !left.is_empty() {
            self.counts.orphans += left.len();
            self.log
                .push(format!("{ctx}: left after destroy: {left:?}"));
        }
        if let Some(listed) = self.cairn_inventory(ctx) {
            if !listed.is_empty() && left.is_empty() {
                self.counts.orphans += listed.len();
                self.log.push(format!(
                    "{ctx}: cairn inventory lists after destroy what the test does not see: \
                     {listed:?}"
                ));
            } else if listed.len() < left.len() {
                self.counts.blind += left.len() - listed.len();
                self.log.push(format!(
                    "{ctx}: cairn inventory lists {listed:?} after destroy; the test sees {left:?}"
                ));
            }
        }
        match self.state() {
            Some(s) if !s.is_empty() => {
                self.counts.not_converged += 1;
                self.log
                    .push(format!("{ctx}: state still records {:?}", s.keys()));
            }
            Some(_) => {}
            None => self.counts.corrupt += 1,
        }
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
        })
        .unwrap_or(default)
}

fn campaign(points: usize, seed: u64, fault_rate: f64) -> Counts {
    let emulator = AwsEmulator::shared();
    let stack = std::env::var("CAIRN_CRASH_STACK").unwrap_or_else(|_| "event-booking".into());
    // The effects of creating calls land a little after they arrive: a run killed in
    // between leaves requests in flight that outlive it.
    let faults = format!(
        r#"{{"latency_ms": 10, "seed": {seed}, "throttle_rate": {t}, "error_rate": {t},
            "delay": {{"Create*": 150, "AllocateAddress": 150, "AssociateRouteTable": 150,
                      "AuthorizeSecurityGroup*": 80, "PutSecretValue": 80}}}}"#,
        t = fault_rate / 2.0
    );
    emulator.set_faults(&faults);
    let cert = emulator.certificate("kill.example.com");
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sdk = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(emulator.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "test", "test", None, None, "kill",
            ))
            .load(),
    );
    let c = Campaign {
        emulator: emulator.emulator(),
        faults,
        quiet: r#"{"throttle_rate": 0, "error_rate": 0, "delay": {}}"#,
        dir: dir.path(),
        env: vec![
            ("AWS_ENDPOINT_URL", emulator.endpoint()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("CAIRN_CERTIFICATE", cert),
            // Short call timeouts keep the in-flight window (and so the waits) short.
            ("CAIRN_AWS_CONNECT_TIMEOUT", "2s".into()),
            ("CAIRN_AWS_ATTEMPT_TIMEOUT", "4s".into()),
            ("CAIRN_AWS_CALL_TIMEOUT", "10s".into()),
            ("CAIRN_AWS_READ_AFTER_WRITE", "500ms".into()),
        ],
        with: Vec::new(),
        full_name: format!("{stack}-kill"),
        stack,
        cloud: Cloud::Aws(Box::new(sdk)),
        rt,
        counts: Counts::default(),
        log: Vec::new(),
        last_runs: String::new(),
    };
    run_campaign(c, points, seed)
}

/// The campaign on the Azure emulator (one of its own, so the other Azure tests run
/// beside it): long-running operations take a while to finish, so a run killed meanwhile
/// leaves resources still being made, which the next run must find, adopt and wait for.
fn campaign_on_azure(points: usize, seed: u64, fault_rate: f64) -> Counts {
    let emulator = Emulator::start(AZURE);
    let stack =
        std::env::var("CAIRN_CRASH_AZURE_STACK").unwrap_or_else(|_| "flight-booking".into());
    let faults = format!(
        r#"{{"latency_ms": 10, "seed": {seed}, "throttle_rate": {t}, "error_rate": {t},
            "op_ms": 200, "op_polls": 1000}}"#,
        t = fault_rate / 2.0
    );
    let (subscription, tenant, location) = (
        "00000000-0000-0000-0000-00000000c111",
        "00000000-0000-0000-0000-0000000071e7",
        "eastus",
    );
    let cert = emulator.issue_certificate(
        (subscription, tenant, location),
        "kill-certs",
        "kill-tls",
        true,
    );
    emulator.set_faults(&faults);
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let c = Campaign {
        emulator: &emulator,
        faults,
        quiet: r#"{"throttle_rate": 0, "error_rate": 0}"#,
        dir: dir.path(),
        env: vec![
            ("CAIRN_AZURE_ENDPOINT", emulator.endpoint()),
            ("AZURE_SUBSCRIPTION_ID", subscription.into()),
            ("AZURE_TENANT_ID", tenant.into()),
            ("CAIRN_AZURE_LOCATION", location.into()),
            // Short call timeouts keep the in-flight window (and so the waits) short.
            // A flexible server's database is made inside its PUT: an attempt gets 3s. The
            // retries get 8s, so a run of 10% faults with ARM's 1s `Retry-After` spends
            // them only one call in ten million.
            ("CAIRN_AZURE_ATTEMPT_TIMEOUT", "3s".into()),
            ("CAIRN_AZURE_CALL_TIMEOUT", "8s".into()),
            ("CAIRN_AZURE_READ_AFTER_WRITE", "500ms".into()),
        ],
        with: vec![
            "--cloud".into(),
            "azure".into(),
            "--certificate".into(),
            cert,
        ],
        full_name: format!("{stack}-kill"),
        stack,
        cloud: Cloud::Azure {
            subscription: subscription.into(),
            vaults: vec![format!(
                "/subscriptions/{subscription}/resourceGroups/kill-certs/providers/Microsoft.KeyVault/vaults/kill-tls"
            )],
        },
        rt,
        counts: Counts::default(),
        log: Vec::new(),
        last_runs: String::new(),
    };
    run_campaign(c, points, seed)
}

fn run_campaign(mut c: Campaign<'_>, points: usize, seed: u64) -> Counts {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut applied = false;
    // How long a whole run takes, measured on the first one that is not killed.
    let mut longest = Duration::from_secs(4);
    let mut attempts = 0;
    while c.counts.points < points {
        attempts += 1;
        assert!(
            attempts < points * 4 + 10,
            "too many runs finished before their kill; {:?}",
            c.counts
        );
        let args: &[&str] = if applied {
            &["destroy", "--auto-approve"]
        } else {
            &["apply", "--auto-approve"]
        };
        let ms = if rng.below(2) == 0 {
            rng.below(300)
        } else {
            300 + rng.below(longest.as_millis() as u64)
        };
        let started = Instant::now();
        let (killed, finished) = c.kill_after(args, Duration::from_millis(ms));
        c.last_runs = format!(
            "--- killed run {args:?} at {ms} ms:\n{}",
            finished
                .as_ref()
                .map(|o| text(&o.stderr))
                .unwrap_or_default()
        );
        let ctx = if killed {
            c.counts.points += 1;
            format!("point {} ({} killed at {ms} ms)", c.counts.points, args[0])
        } else {
            let out = finished.expect("finished run");
            if out.status.code() == Some(0) {
                longest = longest.max(started.elapsed());
                applied = !applied;
                continue;
            }
            // Only an ending the re-run exists for may stand in for a kill; any other
            // failure of a run nobody interrupted is a defect.
            assert!(
                cut_short(&out.stderr),
                "{args:?} not killed: exit {:?}: {}",
                out.status.code(),
                verdict_first(&out.stderr)
            );
            c.counts.cut_short += 1;
            c.log.push(format!(
                "{} cut short by calls of unknown outcome: {}",
                args[0],
                verdict_first(&out.stderr)
            ));
            format!("{} cut short ({})", args[0], c.counts.cut_short)
        };
        if c.state().is_none() {
            c.counts.corrupt += 1;
        }
        // Half the re-runs come at once, the others after a pause.
        if c.counts.points.is_multiple_of(2) {
            std::thread::sleep(Duration::from_millis(500 + rng.below(2000)));
        }
        if !c.rerun(args, &ctx, false) && !c.rerun(args, &format!("{ctx}, second try"), true) {
            break;
        }
        if applied {
            c.check_destroyed(&ctx);
        } else {
            c.check_applied(&ctx);
        }
        applied = !applied;
        eprintln!("{ctx}: {}", c.counts.line());
    }
    if applied {
        let destroy = ["destroy", "--auto-approve"];
        assert!(
            c.rerun(&destroy, "final destroy", false)
                || c.rerun(&destroy, "final destroy, second try", true)
        );
        c.check_destroyed("final destroy");
    }
    for l in &c.log {
        eprintln!("{l}");
    }
    c.counts
}

fn report(
    name: &str,
    points_var: &str,
    default_points: u64,
    fault_rate: f64,
    run: fn(usize, u64, f64) -> Counts,
) {
    let points = env_number(points_var, default_points) as usize;
    let seed = env_number("CAIRN_CRASH_SEED", 20261202);
    let counts = run(points, seed, fault_rate);
    // Straight to the process's stderr, past the test harness's capture: CI logs show it.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{name} (seed {seed}): {}", counts.line());
    assert!(
        counts.points == points && counts.clean(),
        "{name}: {}",
        counts.line()
    );
}

#[test]
fn kill_campaign() {
    report("kill campaign", "CAIRN_CRASH_POINTS", 20, 0.0, campaign);
}

#[test]
fn kill_campaign_under_throttling_and_5xx() {
    report(
        "kill campaign with 20% throttling and 5xx",
        "CAIRN_CRASH_FAULT_POINTS",
        20,
        0.2,
        campaign,
    );
}

#[test]
fn kill_campaign_on_azure() {
    report(
        "kill campaign on azure with 10% throttling and 5xx",
        "CAIRN_CRASH_AZURE_POINTS",
        20,
        0.1,
        campaign_on_azure,
    );
}

#[test]
fn only_calls_of_unknown_outcome_stand_in_for_a_kill() {
    let report = |failed: &str| {
        format!(
            "Apply incomplete: 3 succeeded (3 created, 0 updated, 0 replaced, 0 destroyed), \
             1 failed, 2 skipped (4.1s).\n  failed:  create {failed}\n  skipped: create \
             aws_route.a (a dependency failed)\n"
        )
    };
    let timed_out = report("aws_vpc.vpc: aws_vpc.vpc: outcome unknown: no answer within 4s");
    let retried = report("aws_eip.a: aws_eip.a: transient failure after retries: Throttling");
    let refused = report("aws_vpc.vpc: aws_vpc.vpc: InvalidParameterValue: bad CIDR");
    assert!(cut_short(timed_out.as_bytes()));
    assert!(cut_short(retried.as_bytes()));
    assert!(!cut_short(refused.as_bytes()));
    assert!(!cut_short(format!("{timed_out}{refused}").as_bytes()));
    assert!(!cut_short(b"Error: the state is locked by another run"));
}
