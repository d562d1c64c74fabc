//! What every provider's benchmark measures, written once: the API calls of a refresh, and
//! an apply's wall time against the critical path through its plan.
//!
//! - `refresh resources=N types=T api_calls=M`: after an apply from empty, the calls a plan
//!   with refresh makes (the provider's batched reads; target M <= 2 * T).
//! - `apply latency_ms=L wall_s=X critical_path_s=Y ratio=X/Y`: an apply from empty with `L`
//!   ms added to every API call; Y is the longest chain through the plan's creates, each
//!   step weighted by the time its own calls took, so X/Y is what scheduling costs on top of
//!   what the dependencies force (target <= 1.1).

use cairn_core::apply::{ApplyOptions, Observer, OpInfo};
use cairn_core::plan::planner::PlanOptions;
use cairn_core::plan::{Action, Plan, PlanMode};
use cairn_core::{Engine, Stack};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// When each operation of an apply started and finished.
#[derive(Debug, Default)]
pub struct Times(pub Mutex<HashMap<String, (Instant, Option<Instant>)>>);

impl Observer for Times {
    fn op_started(&self, op: &OpInfo) {
        self.0
            .lock()
            .unwrap()
            .insert(op.address.to_string(), (Instant::now(), None));
    }
    fn op_finished(&self, op: &OpInfo, _: Duration) {
        if let Some(t) = self.0.lock().unwrap().get_mut(op.address.as_str()) {
            t.1 = Some(Instant::now());
        }
    }
}

/// One timed apply.
#[derive(Debug)]
pub struct Timed {
    pub plan: Plan,
    pub times: Arc<Times>,
    pub started: Instant,
    pub wall: f64,
    /// The longest chain through the plan's creates (changes are in dependency order).
    pub critical: f64,
}

fn refresh() -> PlanOptions {
    PlanOptions {
        refresh: true,
        ..Default::default()
    }
}

/// The calls in an emulator's log (`/_emulator/calls`).
pub fn logged_calls(emulator: &crate::Emulator) -> usize {
    serde_json::from_str::<serde_json::Value>(&emulator.calls())
        .ok()
        .and_then(|v| v.as_array().map(Vec::len))
        .unwrap_or(0)
}

/// Empty an emulator's call log.
pub fn reset_calls(emulator: &crate::Emulator) {
    let (status, body) = emulator
        .request("POST", "/_emulator/calls/reset", "")
        .expect("reset the call log");
    assert_eq!(status, 200, "{body}");
}

/// Add `ms` to every call an emulator answers.
pub fn set_latency(emulator: &crate::Emulator, ms: u32) {
    emulator.set_faults(&format!(r#"{{"latency_ms": {ms}}}"#));
}

/// Plan `stack` (with refresh) and apply the plan, which must succeed.
pub fn apply(rt: &tokio::runtime::Runtime, engine: &Engine, stack: &Stack, mode: PlanMode) {
    let plan = rt
        .block_on(engine.plan(stack, &PlanOptions { mode, ..refresh() }))
        .expect("plan");
    let report = rt
        .block_on(engine.apply(&plan, &ApplyOptions::default()))
        .expect("apply");
    assert!(report.is_success(), "{report}");
}

/// Apply `stack` from empty, then count the calls of a plan with refresh (`reset` empties
/// the count, `calls` reads it); prints the `refresh` line. The refresh must find nothing
/// to change.
pub fn refresh_calls(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    stack: &Stack,
    reset: impl Fn(),
    calls: impl Fn() -> usize,
) {
    apply(rt, engine, stack, PlanMode::Normal);
    let state = engine.store().read().unwrap().unwrap();
    let types: BTreeSet<&str> = state.live().map(|r| r.type_name.as_str()).collect();
    reset();
    let again = rt
        .block_on(engine.plan(stack, &refresh()))
        .expect("refresh plan");
    assert!(
        !again.has_changes(),
        "the refresh found changes:\n{}",
        cairn_core::plan::render::text(&again, Default::default())
    );
    println!(
        "refresh resources={} types={} api_calls={}",
        state.live().count(),
        types.len(),
        calls()
    );
}

/// Destroy what `stack` made, then apply it from empty with `latency_ms` added to every
/// call (`set_latency`) and `options` (its observer replaced); prints the `apply` line and
/// returns the timings. Latency is back to 0 after.
pub fn timed_apply(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    stack: &Stack,
    latency_ms: u32,
    set_latency: impl Fn(u32),
    options: ApplyOptions,
) -> Timed {
    apply(rt, engine, stack, PlanMode::Destroy);
    set_latency(latency_ms);
    let plan = rt.block_on(engine.plan(stack, &refresh())).expect("plan");
    let times = Arc::new(Times::default());
    let started = Instant::now();
    let report = rt
        .block_on(engine.apply(
            &plan,
            &ApplyOptions {
                observer: times.clone(),
                ..options
            },
        ))
        .expect("apply");
    let wall = started.elapsed().as_secs_f64();
    set_latency(0);
    assert!(report.is_success(), "{report}");
    let critical = {
        let durations = times.0.lock().unwrap();
        let mut finish: HashMap<&str, f64> = HashMap::new();
        for c in plan.changes.iter().filter(|c| c.action == Action::Create) {
            let own = durations
                .get(c.address.as_str())
                .and_then(|(s, e)| e.map(|e| (e - *s).as_secs_f64()))
                .unwrap_or(0.0);
            let ready = c
                .deps
                .iter()
                .filter_map(|d| finish.get(d.as_str()))
                .fold(0.0f64, |a, b| a.max(*b));
            finish.insert(c.address.as_str(), ready + own);
        }
        finish.values().fold(0.0f64, |a, b| a.max(*b))
    };
    println!(
        "apply latency_ms={latency_ms} wall_s={wall:.3} critical_path_s={critical:.3} ratio={:.3}",
        wall / critical
    );
    Timed {
        plan,
        times,
        started,
        wall,
        critical,
    }
}
