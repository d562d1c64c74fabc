//! What one campaign run is made of: running cairn (to the end, or killed after a while),
//! reading what it left, the stack's own inventory of the cloud, and the checks after each
//! re-run, with the counts they keep.

use crate::{inventory, inventory_azure};
use cairn_tests::cairn_command;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

pub(super) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A failed run's output with its verdict first: the apply's summary and what failed or
/// went wrong, then everything. A CI log keeps a long message's ends and drops its middle,
/// where the verdict of a run that printed its whole plan would be.
pub(super) fn verdict_first(b: &[u8]) -> String {
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
pub(super) fn cut_short(stderr: &[u8]) -> bool {
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
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Debug, Default)]
pub(super) struct Counts {
    pub(super) points: usize,
    pub(super) duplicates: usize,
    pub(super) orphans: usize,
    pub(super) failed: usize,
    pub(super) not_converged: usize,
    pub(super) stuck: usize,
    pub(super) corrupt: usize,
    /// Objects the test's own inventory found that `cairn inventory` did not list, or
    /// listed otherwise (orphan vs managed).
    pub(super) blind: usize,
    /// Runs not killed, and first re-runs, that ended on calls whose outcome is unknown (a
    /// timeout on a busy machine): an interruption like a kill, re-run and checked like one.
    pub(super) cut_short: usize,
}

impl Counts {
    pub(super) fn line(&self) -> String {
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
    pub(super) fn clean(&self) -> bool {
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
pub(super) enum Cloud {
    Aws(Box<aws_config::SdkConfig>),
    /// The subscription, and the vaults outside the stack its certificates are in.
    Azure {
        subscription: String,
        vaults: Vec<String>,
    },
}

pub(super) struct Campaign<'a> {
    pub(super) emulator: &'a cairn_tests::Emulator,
    /// The fault settings cairn runs under (lifted while the test takes its inventory).
    pub(super) faults: String,
    /// The same with every fault off.
    pub(super) quiet: &'static str,
    pub(super) dir: &'a Path,
    pub(super) env: Vec<(&'static str, String)>,
    /// Arguments every command takes besides the stack (`--cloud azure`).
    pub(super) with: Vec<String>,
    pub(super) stack: String,
    pub(super) full_name: String,
    pub(super) cloud: Cloud,
    pub(super) rt: tokio::runtime::Runtime,
    pub(super) counts: Counts,
    pub(super) log: Vec<String>,
    /// What the last killed run and its re-run printed, for the log when a check fails.
    pub(super) last_runs: String,
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
    pub(super) fn run(&self, args: &[&str]) -> Output {
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
    pub(super) fn kill_after(&self, args: &[&str], after: Duration) -> (bool, Option<Output>) {
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
    pub(super) fn state(&mut self) -> Option<BTreeMap<String, String>> {
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
    pub(super) fn rerun(&mut self, args: &[&str], ctx: &str, second_try: bool) -> bool {
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

    pub(super) fn check_applied(&mut self, ctx: &str) {
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

    pub(super) fn check_destroyed(&mut self, ctx: &str) {
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
