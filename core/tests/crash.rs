//! Crash safety: kill an apply at every operation and check what state says.
//!
//! The memory provider freezes its k-th mutating call, before or after the cloud changed;
//! the test then drops the whole runtime (every task dies mid-flight, nothing more is
//! written), like `kill -9`. After each crash the state must (a) parse, (b) hold every
//! object the cloud has or name it as pending, and never claim one the cloud lacks unless
//! a pending delete names it; and (c) the next run must reconcile to exactly the stack, with
//! no duplicate and no orphan.

use crate::support::*;
use cairn_core::apply::ApplyOptions;
use cairn_core::plan::planner::PlanOptions;
use cairn_core::plan::{Drift, PlanMode};
use cairn_core::prelude::*;
use cairn_core::state::{Mutation, OperationKind, State, StateStore};
use cairn_core::testing::MemoryProvider;
use cairn_core::Engine;
use std::collections::BTreeMap;

/// 50 resources with dependencies several levels deep.
fn fifty() -> Stack {
    let mut s = Stack::new("crashy");
    let net = s.add("main", Network::new("10.0.0.0/16"));
    let subnets: Vec<_> = (0..10)
        .map(|i| {
            s.add(
                &format!("sub-{i}"),
                Subnet::new(&net, &format!("10.0.{i}.0/24")).zone((i % 3) as u8),
            )
        })
        .collect();
    let mut groups = Vec::new();
    for i in 0..20 {
        let mut g =
            SecurityGroup::new(&net, "tier").ingress(Rule::tcp(443).from_cidr("10.0.0.0/16"));
        if i > 0 {
            g = g.ingress(Rule::tcp(5432).from_group(&groups[i - 1]));
        }
        groups.push(s.add(&format!("sg-{i}"), g));
    }
    let secrets: Vec<_> = (0..10)
        .map(|i| s.add(&format!("pw-{i}"), Secret::generated()))
        .collect();
    for i in 0..4 {
        s.add(
            &format!("db-{i}"),
            Database::postgres("15")
                .admin_password(&secrets[i])
                .subnets([&subnets[i], &subnets[i + 1]])
                .security_group(&groups[19 - i]),
        );
    }
    for i in 0..5 {
        s.add(
            &format!("cache-{i}"),
            Cache::redis("7")
                .auth_token(&secrets[4 + i])
                .subnets([&subnets[5 + i % 4], &subnets[6 + i % 4]])
                .security_group(&groups[i]),
        );
    }
    assert_eq!(s.resources().len(), 50);
    s
}

fn lock_id(sb: &Sandbox) -> String {
    let body = std::fs::read(sb.dir.path().join("state.json.lock"))
        .expect("a crashed run leaves its lock");
    serde_json::from_slice::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Run `plan` with the k-th mutating call frozen, then kill everything.
fn crash_during(
    engine: &Engine,
    mem: &MemoryProvider,
    plan: &cairn_core::Plan,
    k: usize,
    after_effect: bool,
) {
    let rt = rt();
    mem.hang_at(k, after_effect);
    let opts = ApplyOptions::default();
    rt.block_on(async {
        tokio::select! {
            r = engine.apply(plan, &opts) => panic!("apply ended although call {k} hangs: {r:?}"),
            _ = mem.wait_hung() => {}
        }
    });
    drop(rt);
}

/// The durability properties, checked against the memory cloud.
fn check_crashed_state(state: &State, mem: &MemoryProvider, ctx: &str) {
    let cloud = mem.objects();
    let pending_for = |addr: &str, kinds: &[OperationKind]| {
        state
            .pending
            .values()
            .any(|p| p.address == addr && kinds.contains(&p.kind))
    };
    for (id, o) in &cloud {
        let recorded = state
            .resources
            .get(&o.address)
            .is_some_and(|r| r.id == id || r.deposed.iter().any(|d| d.id == id));
        assert!(
            recorded || pending_for(&o.address, &[OperationKind::Create]),
            "{ctx}: cloud object {id} ({}) is neither in state nor named by a pending create",
            o.address
        );
    }
    for r in state.resources.values().filter(|r| !r.id.is_empty()) {
        assert!(
            cloud.contains_key(&r.id) || pending_for(&r.address, &[OperationKind::Delete]),
            "{ctx}: state claims {} ({}) which the cloud lacks, with no pending delete",
            r.address,
            r.id
        );
    }
    // Calls in flight, and the waves recorded ahead of theirs (quick calls).
    let at_most = ApplyOptions::default().parallelism * cairn_core::apply::AHEAD_WAVES_AT_MOST;
    assert!(
        state.pending.len() <= at_most,
        "{ctx}: {} pending operations: more than calls in flight and recorded ahead",
        state.pending.len()
    );
}

fn recover(sb: &Sandbox, engine: &Engine, stack: &Stack, mode: PlanMode, ctx: &str) -> Vec<Drift> {
    sb.store().force_unlock(&lock_id(sb)).unwrap();
    let rt = rt();
    let opts = PlanOptions {
        mode,
        refresh: true,
        ..Default::default()
    };
    let plan = rt
        .block_on(engine.plan(stack, &opts))
        .unwrap_or_else(|e| panic!("{ctx}: plan after crash: {e}"));
    let report = rt
        .block_on(engine.apply(&plan, &ApplyOptions::default()))
        .unwrap();
    assert!(
        report.is_success(),
        "{ctx}: recovery apply failed:\n{report}"
    );
    if mode == PlanMode::Normal {
        assert_converged(&rt, engine, stack);
    }
    plan.drift
}

#[test]
fn an_apply_killed_at_any_operation_recovers_without_duplicates() {
    let stack = fifty();
    let mut adopted = 0;
    for after_effect in [false, true] {
        for k in 1..=50 {
            let ctx = format!(
                "crash at create #{k} ({} its effect)",
                if after_effect { "after" } else { "before" }
            );
            let (sb, mem) = (Sandbox::new(), MemoryProvider::new());
            let engine = sb.engine(&mem);
            let plan = rt().block_on(engine.plan(&stack, &refresh())).unwrap();
            crash_during(&engine, &mem, &plan, k, after_effect);
            let state = sb
                .store()
                .read()
                .unwrap_or_else(|e| panic!("{ctx}: state must parse: {e}"))
                .expect("state exists");
            check_crashed_state(&state, &mem, &ctx);
            if after_effect {
                assert!(
                    !state.pending.is_empty(),
                    "{ctx}: the frozen call must be named as pending"
                );
            }
            let drift = recover(&sb, &engine, &stack, PlanMode::Normal, &ctx);
            adopted += drift
                .iter()
                .filter(|d| matches!(d, Drift::Adopted { .. }))
                .count();
            let cloud = mem.objects();
            assert_eq!(cloud.len(), 50, "{ctx}: duplicates or orphans in the cloud");
            let mut per_address: BTreeMap<&str, usize> = BTreeMap::new();
            for o in cloud.values() {
                *per_address.entry(o.address.as_str()).or_default() += 1;
            }
            assert!(
                per_address.values().all(|n| *n == 1),
                "{ctx}: {per_address:?}"
            );
            let state = sb.store().read().unwrap().unwrap();
            assert!(
                state.pending.is_empty(),
                "{ctx}: pending operations left after recovery"
            );
            assert_eq!(state.live().count(), 50);
        }
    }
    assert!(
        adopted >= 50,
        "every crash after an effect leaves an object to adopt (adopted {adopted})"
    );
}

#[test]
fn a_destroy_killed_at_any_operation_recovers() {
    let stack = fifty();
    for after_effect in [false, true] {
        for k in (1..=50).step_by(7) {
            let ctx = format!(
                "crash at delete #{k} ({} its effect)",
                if after_effect { "after" } else { "before" }
            );
            let (sb, mem) = (Sandbox::new(), MemoryProvider::new());
            let engine = sb.engine(&mem);
            let rt0 = rt();
            converge(&rt0, &engine, &stack);
            let opts = PlanOptions {
                mode: PlanMode::Destroy,
                refresh: true,
                ..Default::default()
            };
            let plan = rt0.block_on(engine.plan(&stack, &opts)).unwrap();
            drop(rt0);
            crash_during(&engine, &mem, &plan, k, after_effect);
            let state = sb.store().read().unwrap().unwrap();
            check_crashed_state(&state, &mem, &ctx);
            recover(&sb, &engine, &stack, PlanMode::Destroy, &ctx);
            assert!(
                mem.objects().is_empty(),
                "{ctx}: objects left after destroy"
            );
            let state = sb.store().read().unwrap().unwrap();
            assert!(
                state.resources.is_empty() && state.pending.is_empty(),
                "{ctx}"
            );
        }
    }
}

#[test]
fn an_indeterminate_failure_keeps_its_pending_record_for_the_next_run() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let mut s = Stack::new("timeout");
    s.add("main", Network::new("10.0.0.0/16"));
    mem.fail(
        "mem_network.main",
        cairn_core::testing::CallKind::Create,
        cairn_core::provider::ProviderError::Indeterminate {
            address: "mem_network.main".into(),
            message: "connection reset".into(),
        },
    );
    let plan = rt.block_on(engine.plan(&s, &refresh())).unwrap();
    let report = rt
        .block_on(engine.apply(&plan, &ApplyOptions::default()))
        .unwrap();
    assert!(!report.is_success());
    let state = sb.store().read().unwrap().unwrap();
    assert_eq!(
        state.pending.len(),
        1,
        "an outcome-unknown call stays named for reconciliation"
    );
    mem.clear_failures();
    converge(&rt, &engine, &s);
    assert!(sb.store().read().unwrap().unwrap().pending.is_empty());
    assert_eq!(mem.objects().len(), 1);
}

/// A create whose request was still in flight when the run died lands after the next run
/// started reading: that run must not settle it on one empty read and create it again.
#[test]
fn a_create_still_in_flight_when_the_run_died_is_adopted_not_duplicated() {
    let stack = fifty();
    for k in [1, 7, 23] {
        let ctx = format!("create #{k} landing late");
        let sb = Sandbox::new();
        let mem = MemoryProvider::new().in_flight_window(std::time::Duration::from_millis(1500));
        let engine = sb.engine(&mem);
        let plan = rt().block_on(engine.plan(&stack, &refresh())).unwrap();
        let rt1 = rt();
        mem.land_late(k, std::time::Duration::from_millis(400));
        let opts = ApplyOptions::default();
        rt1.block_on(async {
            tokio::select! {
                r = engine.apply(&plan, &opts) => panic!("{ctx}: apply ended: {r:?}"),
                _ = mem.wait_hung() => {}
            }
        });
        drop(rt1); // kill -9: the request is still on its way
        let started = std::time::Instant::now();
        let drift = recover(&sb, &engine, &stack, PlanMode::Normal, &ctx);
        assert!(
            drift.iter().any(|d| matches!(d, Drift::Adopted { .. })),
            "{ctx}: the late object is adopted: {drift:?}"
        );
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(400),
            "{ctx}: the re-run waited for the in-flight window"
        );
        let cloud = mem.objects();
        assert_eq!(cloud.len(), 50, "{ctx}: a duplicate was created");
    }
}

/// Where nothing can be in flight any more, a missing pending create is settled at once.
#[test]
fn a_pending_create_older_than_the_window_is_settled_without_waiting() {
    let stack = fifty();
    let sb = Sandbox::new();
    let mem = MemoryProvider::new().in_flight_window(std::time::Duration::from_secs(30));
    let engine = sb.engine(&mem);
    let plan = rt().block_on(engine.plan(&stack, &refresh())).unwrap();
    crash_during(&engine, &mem, &plan, 3, false);
    // Age the pending record past the window, as if the re-run came much later.
    let store = sb.store();
    store.force_unlock(&lock_id(&sb)).unwrap();
    let mut session = store.lock("age").unwrap();
    let mut pending: Vec<_> = session.state().pending.values().cloned().collect();
    assert!(!pending.is_empty());
    let batch: Vec<_> = pending
        .iter_mut()
        .flat_map(|p| {
            let old = Mutation::Settle {
                op_id: p.op_id.clone(),
            };
            p.started_at_ms -= 60_000;
            [old, Mutation::Begin(p.clone())]
        })
        .collect();
    session.append(&batch).unwrap();
    drop(session);
    let started = std::time::Instant::now();
    recover(&sb, &engine, &stack, PlanMode::Normal, "aged");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(mem.objects().len(), 50);
}
