//! Leases as an apply meets them: a heartbeat keeps the lock of a run that outlives its
//! lease; a run whose lock was taken over stops at its next write, having started only calls
//! it had recorded before, and the run that took over finds them all; a run whose lease ran
//! out without renewal sends nothing more and stops.

use crate::support::*;
use cairn_core::apply::{ApplyError, ApplyOptions};
use cairn_core::plan::Drift;
use cairn_core::prelude::*;
use cairn_core::state::{Lease, LockInfo, State, StateError, StateSession, StateStore};
use cairn_core::testing::MemoryProvider;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn lock_id(dir: &std::path::Path) -> String {
    let body = std::fs::read(dir.join("state.json.lock")).expect("a held lock");
    serde_json::from_slice::<LockInfo>(&body).unwrap().id
}

#[test]
fn an_apply_longer_than_its_lease_keeps_its_lock_by_heartbeat() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let lease = Duration::from_millis(300);
    let store = LocalStore::new(dir.path().join("state.json")).with_lease(lease);
    // Each call takes 100 ms and one runs at a time: the apply lasts many leases.
    let cloud = MemoryProvider::new().latency(Duration::from_millis(100));
    let engine = Engine::builder(cloud.clone(), store.clone()).build();
    let stack = full_stack();
    let plan = rt
        .block_on(engine.plan(&stack, &PlanOptions::default()))
        .unwrap();
    let opts = ApplyOptions {
        parallelism: 1,
        ..ApplyOptions::default()
    };
    let started = Instant::now();
    let report = rt.block_on(engine.apply(&plan, &opts)).unwrap();
    assert!(report.is_success(), "{report}");
    // Without renewals it would have stopped when the lease ran out (see below).
    assert!(
        started.elapsed() > lease * 3,
        "the apply must outlast its lease for this test to mean anything ({:?})",
        started.elapsed()
    );
    assert_converged(&rt, &engine, &stack);
}

#[test]
fn a_run_whose_lock_was_taken_over_stops_at_its_next_write_having_started_only_calls_it_recorded_before(
) {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let cloud = MemoryProvider::new().latency(Duration::from_millis(30));
    let engine = Engine::builder(cloud.clone(), path.clone()).build();
    let stack = full_stack();
    let plan = rt
        .block_on(engine.plan(&stack, &PlanOptions::default()))
        .unwrap();
    let opts = ApplyOptions {
        parallelism: 1,
        ..ApplyOptions::default()
    };
    let (calls_at_takeover, took_over, result) = rt.block_on(async {
        let apply = engine.apply(&plan, &opts);
        tokio::pin!(apply);
        // Let it make a few calls, then take the state over as an operator would after
        // `cairn state unlock`, and write as the new holder.
        let takeover = async {
            while cloud.mutating_calls() < 3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let other = LocalStore::new(&path);
            other.force_unlock(&lock_id(dir.path())).unwrap();
            let mut s = other.lock("takeover").unwrap();
            s.init("shop", "memory").unwrap();
            (cloud.mutating_calls(), Instant::now(), s)
        };
        tokio::select! {
            r = &mut apply => panic!("the apply ended before the takeover: {r:?}"),
            (calls, at, s) = takeover => {
                let result = apply.await;
                s.unlock().unwrap();
                (calls, at, result)
            }
        }
    });
    match result {
        Err(EngineError::Apply(ApplyError::State(StateError::LeaseLost { reason, .. }))) => {
            assert!(reason.contains("takeover"), "{reason}")
        }
        other => panic!("the apply must stop on its lost lock, got {other:?}"),
    }
    // It wrote again (and stopped) within the life of a record written ahead, plus the
    // call that was running then.
    let stopped_after = took_over.elapsed();
    assert!(
        stopped_after < cairn_core::apply::WRITTEN_AHEAD_FOR + Duration::from_millis(300),
        "the run stopped {stopped_after:?} after the takeover"
    );
    // The call in flight at the takeover, and at most the calls recorded before it.
    let ahead = opts.parallelism * cairn_core::apply::AHEAD_WAVES_AT_MOST;
    assert!(
        cloud.mutating_calls() <= calls_at_takeover + 1 + ahead,
        "{} calls after the takeover at {calls_at_takeover}",
        cloud.mutating_calls()
    );
}

/// An operator unlocks a live run by force and applies at once: the old run's calls
/// started after the takeover (from records it had written ahead) land while the new run
/// reconciles, and are adopted, not made twice.
#[test]
fn a_live_run_unlocked_by_force_leaves_the_run_that_takes_over_nothing_to_make_twice() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    // Calls take 20 ms; the provider says a call may land up to 100 ms after it started.
    let cloud = MemoryProvider::new()
        .latency(Duration::from_millis(20))
        .in_flight_window(Duration::from_millis(100));
    let engine = Engine::builder(cloud.clone(), path.clone()).build();
    // A fan-out of quick calls: the old run records several waves ahead.
    let mut stack = Stack::new("wide");
    let net = stack.add("main", Network::new("10.0.0.0/16"));
    for i in 0..40 {
        stack.add(
            &format!("sub-{i}"),
            Subnet::new(&net, &format!("10.0.{i}.0/24")),
        );
    }
    let plan = rt
        .block_on(engine.plan(&stack, &PlanOptions::default()))
        .unwrap();
    let opts = ApplyOptions {
        parallelism: 2,
        ..ApplyOptions::default()
    };
    let (old, adopted) = rt.block_on(async {
        let apply = engine.apply(&plan, &opts);
        tokio::pin!(apply);
        let unlocked = async {
            while cloud.mutating_calls() < 6 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            LocalStore::new(&path)
                .force_unlock(&lock_id(dir.path()))
                .unwrap();
        };
        tokio::select! {
            r = &mut apply => panic!("the apply ended before the unlock: {r:?}"),
            () = unlocked => {}
        }
        // The new run starts at once, while the old one still runs.
        let new = async {
            let plan = engine.plan(&stack, &refresh()).await.unwrap();
            let adopted = plan
                .drift
                .iter()
                .filter(|d| matches!(d, Drift::Adopted { .. }))
                .count();
            (
                adopted,
                engine.apply(&plan, &ApplyOptions::default()).await.unwrap(),
            )
        };
        let (old, (adopted, new)) = tokio::join!(apply, new);
        assert!(new.is_success(), "{new}");
        (old, adopted)
    });
    assert!(old.is_err(), "the unlocked run must stop: {old:?}");
    assert!(
        adopted > 0,
        "the new run found what the old one made after its last write"
    );
    assert_converged(&rt, &engine, &stack);
    let mut per_address = std::collections::BTreeMap::new();
    for o in cloud.objects().values() {
        *per_address.entry(o.address.clone()).or_insert(0) += 1;
    }
    assert!(
        per_address.values().all(|n| *n == 1),
        "made twice: {per_address:?}"
    );
    let state = LocalStore::new(&path).read().unwrap().unwrap();
    assert!(state.pending.is_empty(), "{:?}", state.pending);
    assert_eq!(state.live().count(), per_address.len());
}

/// A store whose leases can never be renewed: what a run meets when the store cannot be
/// reached while its lease runs out.
#[derive(Debug)]
struct Unrenewable(LocalStore);

#[derive(Debug)]
struct Stuck(Box<dyn StateSession>, Arc<StuckLease>);

#[derive(Debug)]
struct StuckLease(u64);

impl Lease for StuckLease {
    fn renew(&self) -> Result<(), StateError> {
        Err(StateError::Backend {
            location: "test".into(),
            message: "unreachable".into(),
        })
    }
    fn term(&self) -> Duration {
        Duration::from_millis(300)
    }
    fn expires_ms(&self) -> u64 {
        self.0
    }
}

impl StateStore for Unrenewable {
    fn location(&self) -> String {
        self.0.location()
    }
    fn read(&self) -> Result<Option<State>, StateError> {
        self.0.read()
    }
    fn lock(&self, operation: &str) -> Result<Box<dyn StateSession>, StateError> {
        let s = self.0.lock(operation)?;
        let expires = s.lock_info().renewed_ms + 300;
        Ok(Box::new(Stuck(s, Arc::new(StuckLease(expires)))))
    }
    fn force_unlock(&self, lock_id: &str) -> Result<(), StateError> {
        self.0.force_unlock(lock_id)
    }
    fn history(&self) -> Result<Vec<cairn_core::state::HistoryEntry>, StateError> {
        self.0.history()
    }
    fn state_at(&self, serial: u64) -> Result<Option<State>, StateError> {
        self.0.state_at(serial)
    }
}

impl StateSession for Stuck {
    fn state(&self) -> &State {
        self.0.state()
    }
    fn lock_info(&self) -> &LockInfo {
        self.0.lock_info()
    }
    fn init(&mut self, stack: &str, provider: &str) -> Result<(), StateError> {
        self.0.init(stack, provider)
    }
    fn append(&mut self, batch: &[cairn_core::state::Mutation]) -> Result<(), StateError> {
        self.0.append(batch)
    }
    fn compact(&mut self) -> Result<(), StateError> {
        self.0.compact()
    }
    fn unlock(self: Box<Self>) -> Result<(), StateError> {
        self.0.unlock()
    }
    fn lease(&self) -> Arc<dyn Lease> {
        self.1.clone()
    }
    fn adopt(&mut self, state: &State) -> Result<(), StateError> {
        self.0.adopt(state)
    }
    fn erase(self: Box<Self>) -> Result<(), StateError> {
        self.0.erase()
    }
}

#[test]
fn a_run_whose_lease_ran_out_unrenewed_sends_nothing_more_and_stops() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let store = Unrenewable(LocalStore::new(dir.path().join("state.json")));
    let cloud = MemoryProvider::new().latency(Duration::from_millis(40));
    let engine = Engine::builder(cloud.clone(), store).build();
    let stack = full_stack();
    let plan = rt
        .block_on(engine.plan(&stack, &PlanOptions::default()))
        .unwrap();
    let opts = ApplyOptions {
        parallelism: 1,
        ..ApplyOptions::default()
    };
    let started = Instant::now();
    let result = rt.block_on(engine.apply(&plan, &opts));
    assert!(
        matches!(result, Err(EngineError::Apply(ApplyError::LeaseExpired))),
        "{result:?}"
    );
    // It stopped when the lease ran out, not when the plan was done.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let made = cloud.mutating_calls();
    assert!(made > 0 && made < plan.changes.len(), "{made} calls");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        cloud.mutating_calls(),
        made,
        "nothing is sent after it stopped"
    );
    // What it did is recorded; the next run (once the lock is free) finishes the job.
    let state = LocalStore::new(dir.path().join("state.json"))
        .read()
        .unwrap()
        .unwrap();
    assert!(!state.resources.is_empty());
}

#[test]
fn a_lock_nobody_renews_is_waited_for_and_taken_over_and_a_renewed_one_is_refused() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let lease = Duration::from_millis(300);
    let store = LocalStore::new(dir.path().join("state.json")).with_lease(lease);
    let notes = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let heard = notes.clone();
    let engine = Engine::builder(MemoryProvider::new(), store.clone())
        .notices(move |n| heard.lock().unwrap().push(n.to_string()))
        .build();
    let stack = full_stack();
    let plan = rt
        .block_on(engine.plan(&stack, &PlanOptions::default()))
        .unwrap();

    // Held by a run that renews its lease: refused once a renewal is seen, well before
    // the lease could lapse.
    let live = store.lock("apply").unwrap();
    let beat = cairn_core::state::Heartbeat::start(live.lease());
    let started = Instant::now();
    let refused = rt.block_on(engine.apply(&plan, &ApplyOptions::default()));
    assert!(
        matches!(refused, Err(EngineError::State(StateError::Locked { .. }))),
        "{refused:?}"
    );
    assert!(
        started.elapsed() < lease + cairn_core::state::LEASE_GRACE,
        "{:?}",
        started.elapsed()
    );
    drop(beat);
    live.unlock().unwrap();

    // Held by a run that died elsewhere (nobody renews): waited for, then taken over.
    let dead = store.lock("apply").unwrap();
    let held = dead.lock_info().clone();
    std::mem::forget(dead);
    let started = Instant::now();
    let report = rt
        .block_on(engine.apply(&plan, &ApplyOptions::default()))
        .expect("the lapsed lock is taken over");
    assert!(report.is_success(), "{report}");
    let waited = started.elapsed();
    assert!(
        waited >= lease && waited < lease + cairn_core::state::LEASE_GRACE + Duration::from_secs(2),
        "{waited:?}"
    );
    let notes = notes.lock().unwrap().join("\n");
    assert!(
        notes.contains("waits up to")
            && notes.contains("took over the lock of")
            && notes.contains(&held.id),
        "{notes}"
    );
}
