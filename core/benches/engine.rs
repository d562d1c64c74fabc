//! Engine benchmark: plan from empty, apply from empty, and a no-op plan with refresh, on
//! synthetic `fanout` and `chain` stacks built through the public API, with the in-memory
//! provider at zero latency and state made durable (fsync) after every operation.
//!
//!     cargo bench -p cairn-core --bench engine -- --vs-terraform [--million] [--quick]
//!
//! Every step runs in a child process of its own; its time is the child's whole wall time
//! measured by the parent (start-up included, as for Terraform), and its memory is the
//! child's peak resident set (`VmHWM`, read by the child as it exits). With
//! `--vs-terraform`, `../shared/bench/terraform-peer/run` runs Terraform core on the same
//! shapes in the same run, and each line carries the ratio. Each line also carries the
//! step's minor page faults (`faults=`). `--million` adds the plan of a fan-out of
//! 1,000,000; `--quick` leaves out the 100,000 and 10,000 rows. `--phases SHAPE N DIR`
//! times one plan phase by phase (with the state in `DIR`, a no-op after an apply).

use cairn_core::apply::ApplyOptions;
use cairn_core::plan::planner::PlanOptions;
use cairn_core::plan::render;
use cairn_core::prelude::*;
use cairn_core::state::LocalStore;
use cairn_core::testing::MemoryProvider;
use cairn_core::Engine;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

/// `fanout`: one network, `n` security groups in it. `chain`: a network then `n - 1`
/// groups, each admitting traffic from the previous one (a dependency chain of length n).
fn stack(shape: &str, n: usize) -> Stack {
    let mut s = Stack::new(format!("bench-{shape}"));
    let net = s.add("root", Network::new("10.0.0.0/16"));
    match shape {
        "fanout" => {
            for i in 0..n {
                s.add(
                    &format!("c{i}"),
                    SecurityGroup::new(&net, "fanout child")
                        .ingress(Rule::tcp(443).from_cidr("10.0.0.0/16")),
                );
            }
        }
        "chain" => {
            let mut prev: Option<Ref<SecurityGroup>> = None;
            for i in 1..n {
                let mut g = SecurityGroup::new(&net, "chain link");
                g = match &prev {
                    Some(p) => g.ingress(Rule::tcp(5432).from_group(p)),
                    None => g.ingress(Rule::tcp(5432).from_cidr("10.0.0.0/16")),
                };
                prev = Some(s.add(&format!("r{i}"), g));
            }
        }
        other => panic!("unknown shape {other}"),
    }
    s
}

/// Minor page faults of this process so far (`/proc/self/stat`, field 10): on a shared VM
/// each costs microseconds, and a small run's fixed cost is mostly them.
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after
        .split_whitespace()
        .nth(7)
        .and_then(|f| f.parse().ok())
        .unwrap_or(0)
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Child mode: run one step and print `rss_kb changes faults`.
fn child(step: &str, shape: &str, n: usize, dir: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = stack(shape, n);
    // The memory cloud keeps ids only, not a copy of every object's attributes: like the
    // Terraform peer's `terraform_data`, whose objects live in state alone, so the memory
    // measured is the engine's and not a simulated cloud's.
    let engine = Engine::new(
        Arc::new(MemoryProvider::new().keep_ids_only()),
        Arc::new(LocalStore::new(dir.join("state.json"))),
    );
    // As `cairn plan` and `cairn apply` make them: the declaration's digest only for a
    // plan saved or printed as JSON.
    let opts = PlanOptions {
        refresh: true,
        digest: false,
        ..Default::default()
    };
    let changes = match step {
        "plan" => {
            let plan = rt.block_on(engine.plan(&s, &opts)).expect("plan");
            // Render as `cairn plan` would, to nowhere.
            std::hint::black_box(render::text(&plan, Default::default()));
            plan.summary.add
        }
        "apply" => {
            let plan = rt.block_on(engine.plan(&s, &opts)).expect("plan");
            let report = rt
                .block_on(engine.apply(&plan, &ApplyOptions::default()))
                .expect("apply");
            assert!(report.is_success(), "{report}");
            plan.summary.add
        }
        "noop" => {
            // The memory cloud of the apply step died with its process. Like the Terraform
            // peer's `terraform_data`, whose read returns the prior state, reads here answer
            // with what state recorded: the refresh still makes its batched provider calls
            // and the engine still diffs every attribute.
            let engine = Engine::new(
                Arc::new(MemoryProvider::new().echo_reads()),
                Arc::new(LocalStore::new(dir.join("state.json"))),
            );
            let plan = rt.block_on(engine.plan(&s, &opts)).expect("plan");
            assert!(!plan.has_changes(), "the no-op plan found changes");
            std::hint::black_box(render::text(&plan, Default::default()));
            0
        }
        other => panic!("unknown step {other}"),
    };
    println!("{} {changes} {}", peak_rss_kb(), minor_faults());
}

/// `--phases`: one no-op plan (or a plan from empty, when `dir` holds no state) timed
/// phase by phase, with each phase's minor page faults; where the fixed cost goes. The
/// engine's own plan lowers and reads state again, so its line less the `lower` and
/// `read_state` lines is the refresh, the diff and the digest.
fn phases(shape: &str, n: usize, dir: &Path) {
    let mut last = (Instant::now(), minor_faults());
    let mut phase = |name: &str| {
        let now = (Instant::now(), minor_faults());
        println!(
            "phase {name:<10} {:>8.3} ms {:>6} faults",
            (now.0 - last.0).as_secs_f64() * 1e3,
            now.1 - last.1
        );
        last = (Instant::now(), minor_faults());
    };
    phase("start");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    phase("runtime");
    let s = stack(shape, n);
    phase("stack");
    let engine = Engine::new(
        Arc::new(MemoryProvider::new().echo_reads()),
        Arc::new(LocalStore::new(dir.join("state.json"))),
    );
    let graph = engine.lower(&s).expect("lower");
    phase("lower");
    std::hint::black_box(graph.digest(&s));
    phase("digest");
    drop(graph);
    phase("drop-graph");
    let state = engine.read_state(s.name()).expect("state");
    phase("read_state");
    drop(state);
    phase("drop-state");
    let plan = rt
        .block_on(engine.plan(&s, &PlanOptions::default().refresh(false)))
        .expect("plan");
    phase("plan-read");
    drop(plan);
    let plan = rt
        .block_on(engine.plan(&s, &PlanOptions::default()))
        .expect("plan");
    phase("plan");
    std::hint::black_box(render::text(&plan, Default::default()));
    phase("render");
    drop(plan);
    drop(s);
    phase("drop");
}

struct Measured {
    wall_s: f64,
    rss_mb: f64,
    faults: u64,
}

fn run_child(step: &str, shape: &str, n: usize, dir: &Path) -> Measured {
    let exe = std::env::current_exe().unwrap();
    let t = Instant::now();
    let out = Command::new(exe)
        .args(["--child", step, shape, &n.to_string()])
        .arg(dir)
        .output()
        .expect("spawn child");
    let wall_s = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "child {step} {shape} {n} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<f64> = text
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    Measured {
        wall_s,
        rss_mb: fields.first().copied().unwrap_or(0.0) / 1024.0,
        faults: fields.get(2).copied().unwrap_or(0.0) as u64,
    }
}

/// Median wall time of `runs` runs (each apply from an empty state), the largest peak RSS
/// and the most page faults.
fn median_of(step: &str, shape: &str, n: usize, dir: &Path, runs: usize) -> Measured {
    let mut walls = Vec::new();
    let mut rss: f64 = 0.0;
    let mut faults = 0;
    for i in 0..runs {
        if step == "apply" && i > 0 {
            // The state file, its journal, lock and kept history.
            for f in std::fs::read_dir(dir).unwrap() {
                let path = f.unwrap().path();
                if path.is_dir() {
                    std::fs::remove_dir_all(path).unwrap();
                } else {
                    std::fs::remove_file(path).unwrap();
                }
            }
        }
        let m = run_child(step, shape, n, dir);
        walls.push(m.wall_s);
        rss = rss.max(m.rss_mb);
        faults = faults.max(m.faults);
    }
    walls.sort_by(|a, b| a.total_cmp(b));
    Measured {
        wall_s: walls[walls.len() / 2],
        rss_mb: rss,
        faults,
    }
}

fn terraform(shape: &str, n: usize) -> HashMap<String, (f64, f64)> {
    let peer = std::env::var_os("CAIRN_TERRAFORM_PEER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_MANIFEST_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
                .join("../../shared/bench/terraform-peer/run")
        });
    let out = Command::new(&peer)
        .args([shape, &n.to_string(), "plan", "apply", "noop"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run the Terraform peer {}: {e}", peer.display()));
    assert!(
        out.status.success(),
        "terraform peer failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut steps = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("peer prints JSON lines");
        // `noop` runs with -detailed-exitcode: 0 is "no changes", as it must be.
        assert_eq!(v["rc"].as_i64(), Some(0), "terraform step failed: {line}");
        steps.insert(
            v["step"].as_str().unwrap().to_string(),
            (
                v["wall_s"].as_f64().unwrap(),
                v["max_rss_mb"].as_f64().unwrap(),
            ),
        );
    }
    steps
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--phases") {
        let n: usize = args[i + 2].parse().unwrap();
        phases(&args[i + 1], n, Path::new(&args[i + 3]));
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let n: usize = args[i + 3].parse().unwrap();
        child(&args[i + 1], &args[i + 2], n, Path::new(&args[i + 4]));
        return;
    }
    let vs = args.iter().any(|a| a == "--vs-terraform");
    let quick = args.iter().any(|a| a == "--quick");
    println!("# time: child process wall time, start-up included (median of 5 runs for n<=1000, else 1); memory: largest peak RSS (VmHWM) of those processes.");
    println!("# state: local file backend, fsync before every provider call (group commit); provider: memory, zero latency, its cloud keeping ids only (like the peer's terraform_data, whose objects live in state alone).");
    let all: &[&str] = &["plan", "apply", "noop"];
    let mut runs: Vec<(&str, usize, bool, &[&str])> =
        vec![("fanout", 1000, vs, all), ("chain", 500, vs, all)];
    if !quick {
        runs.push(("fanout", 100_000, false, all));
        runs.push(("chain", 10_000, false, all));
    }
    if args.iter().any(|a| a == "--million") {
        runs.push(("fanout", 1_000_000, false, &["plan"]));
    }
    let mut worst_speedup = f64::INFINITY;
    let mut worst_mem_ratio: f64 = 0.0;
    // Absolute targets, (shape, n, step) -> (seconds, MB, faults) at most.
    let targets: &[(&str, usize, &str, f64, f64, u64)] = &[
        ("fanout", 1000, "noop", f64::INFINITY, f64::INFINITY, 1000),
        ("fanout", 100_000, "plan", 1.0, 250.0, u64::MAX),
        ("fanout", 100_000, "apply", f64::INFINITY, 300.0, u64::MAX),
        ("fanout", 100_000, "noop", f64::INFINITY, 300.0, u64::MAX),
        ("fanout", 1_000_000, "plan", 15.0, 2560.0, u64::MAX),
    ];
    let mut missed: Vec<String> = Vec::new();
    for (shape, n, compare, steps) in runs {
        let dir = tempfile::tempdir().unwrap();
        let tf = if compare {
            Some(terraform(shape, n))
        } else {
            None
        };
        for &step in steps {
            let m = median_of(step, shape, n, dir.path(), if n <= 1000 { 5 } else { 1 });
            for &(_, _, _, secs, mb, faults) in targets
                .iter()
                .filter(|t| (t.0, t.1, t.2) == (shape, n, step))
            {
                if m.wall_s > secs || m.rss_mb > mb || m.faults > faults {
                    missed.push(format!("{shape}-{n}-{step}"));
                }
            }
            match tf.as_ref().and_then(|t| t.get(step)) {
                Some(&(tf_s, tf_mb)) => {
                    let speedup = tf_s / m.wall_s;
                    worst_speedup = worst_speedup.min(speedup);
                    worst_mem_ratio = worst_mem_ratio.max(m.rss_mb / tf_mb);
                    println!(
                        "engine shape={shape} n={n} step={step} cairn_s={:.4} cairn_rss_mb={:.0} faults={} terraform_s={tf_s} terraform_rss_mb={tf_mb:.0} speedup={speedup:.0}",
                        m.wall_s, m.rss_mb, m.faults
                    );
                }
                None => println!(
                    "engine shape={shape} n={n} step={step} cairn_s={:.4} cairn_rss_mb={:.0} faults={} terraform_s=- speedup=-",
                    m.wall_s, m.rss_mb, m.faults
                ),
            }
        }
    }
    if vs {
        println!("summary min_speedup={worst_speedup:.0} max_memory_ratio={worst_mem_ratio:.3} (targets: >=150, <=0.2)");
    }
    println!(
        "summary absolute_targets_missed={} (fanout 1000 noop faults<1000; fanout 100k plan <1s/250MB, apply and noop <=300MB; fanout 1M plan <15s/2.5GB with --million)",
        if missed.is_empty() { "none".to_string() } else { missed.join(",") }
    );
}
