//! The contract every state backend must meet, as runnable checks.
//!
//! A backend's own test calls [`run`] with a factory that returns a fresh, empty store each
//! time (a new directory, a new database schema, a new bucket prefix). Each check panics with
//! a message naming the broken rule, so a failing backend says what it got wrong.

use super::*;
use crate::value::{Sensitive, Value};

/// Makes a fresh, empty store whose locks are taken with the given lease.
pub type StoreFactory<'a> = &'a dyn Fn(std::time::Duration) -> Box<dyn StateStore>;

/// Every check, in order. Returns the names of the checks that ran.
pub fn run(factory: StoreFactory<'_>) -> Vec<&'static str> {
    type Check = fn(StoreFactory<'_>);
    let checks: &[(&'static str, Check)] = &[
        ("empty store reads as nothing", empty_reads_none),
        ("appended mutations survive reload", appends_survive_reload),
        (
            "a second writer is refused with the holder named",
            second_writer_refused,
        ),
        ("unlock releases the lock", unlock_releases),
        (
            "a session dropped without unlock keeps its writes and its lock",
            crash_keeps_writes_and_lock,
        ),
        (
            "force-unlock needs the right lock id",
            force_unlock_checks_id,
        ),
        (
            "serial grows with each writing session; lineage stays",
            serial_and_lineage,
        ),
        (
            "compaction changes nothing observable",
            compaction_is_invisible,
        ),
        ("pending operations survive reload", pending_survive),
        ("a state of another stack is refused", other_stack_refused),
        ("secrets are stored as digests only", secrets_as_digests),
        ("reads need no lock", reads_without_lock),
        (
            "a lapsed lease is taken over, naming its holder, with a greater generation",
            lapsed_lease_taken_over,
        ),
        (
            "a writer whose lock was taken over is refused every write",
            stale_writer_fenced,
        ),
        (
            "a lease kept by its heartbeat stands",
            heartbeat_keeps_lease,
        ),
        (
            "100 racing lock attempts: exactly one holder each time",
            racing_lockers,
        ),
        (
            "history keeps each written serial, newest first",
            history_keeps_serials,
        ),
        (
            "a state is adopted whole only where none is",
            adopt_only_into_empty,
        ),
        (
            "erase leaves nothing, not even the lock",
            erase_leaves_nothing,
        ),
        (
            "a migration copies exactly and erases the source",
            migration_between_stores,
        ),
    ];
    for (name, check) in checks {
        eprintln!("state conformance: {name}");
        check(factory);
    }
    checks.iter().map(|(n, _)| *n).collect()
}

fn resource(address: &str, id: &str) -> ResourceState {
    let mut attrs = crate::value::Attrs::new();
    attrs.insert("name".into(), Value::str(address));
    ResourceState {
        address: address.into(),
        type_name: "test_thing".into(),
        origin: "thing".into(),
        id: id.into(),
        attrs,
        deps: vec![],
        protect: false,
        deposed: vec![],
    }
}

fn session(store: &dyn StateStore) -> Box<dyn StateSession> {
    let mut s = store.lock("conformance").expect("lock a fresh store");
    s.init("conf", "test").expect("init");
    s
}

fn empty_reads_none(f: StoreFactory<'_>) {
    let store = f(DEFAULT_LEASE);
    assert!(
        store.read().expect("read empty").is_none(),
        "an empty store must read as None"
    );
}

fn appends_survive_reload(f: StoreFactory<'_>) {
    let store = f(DEFAULT_LEASE);
    let mut s = session(&*store);
    s.append(&[
        Mutation::Put(resource("t.a", "id-a")),
        Mutation::Put(resource("t.b", "id-b")),
    ])
    .unwrap();
    s.append(&[Mutation::Remove {
        address: "t.a".into(),
    }])
    .unwrap();
    assert!(s.state().resources.contains_key("t.b") && !s.state().resources.contains_key("t.a"));
    s.unlock().unwrap();
    let st = store.read().unwrap().expect("state after unlock");
    assert_eq!(
        st.resources.keys().collect::<Vec<_>>(),
        ["t.b"],
        "reload must show every appended mutation"
    );
    assert_eq!(st.stack, "conf");
}

fn second_writer_refused(f: StoreFactory<'_>) {
    let store = f(DEFAULT_LEASE);
    let s = session(&*store);
    match store.lock("second") {
        Err(StateError::Locked { holder, .. }) => {
            assert_eq!(
                holder.id,
                s.lock_info().id,
                "the error must name the holder's lock"
            );
            assert_eq!(holder.operation, "conformance");
        }
        other => panic!("a second writer must get StateError::Locked, got {other:?}"),
    }
    s.unlock().unwrap();
}

fn unlock_releases(f: StoreFactory<'_>) {
    let store = f(DEFAULT_LEASE);
    session(&*store).unlock().unwrap();
    store
        .lock("again")
        .expect("lock after unlock")
        .unlock()
        .unwrap();
}

fn crash_keeps_writes_and_lock(f: StoreFactory<'_>) {
    let store = f(DEFAULT_LEASE);
    let mut s = session(&*store);
    let id = s.lock_info().id.clone();
    s.append(&[Mutation::Put(resource("t.a", "id-a"))]).unwrap();
    drop(s); // like a crash: no unlock, no compaction
    let st = store.read().unwrap().expect("state after crash");
    assert!(
        st.resources.contains_key("t.a"),
        "an acknowledged append must survive a crash"
    );
    assert!(
        matches!(store.lock("after-crash"), Err(StateError::Locked { .. })),
        "the lock must survive a crash"
    );
    store.force_unlock(&id).unwrap();
    let st = store.read().unwrap().expect("state after a forced unlock");
    assert!(
        st.resources.contains_key("t.a"),
        "breaking a crashed run's lock must keep its acknowledged appends"
    );
    let s = store.lock("recovered").unwrap();
    assert!(s.state().resources.contains_key("t.a"));
    s.unlock().unwrap();
}

fn force_unlock_checks_id(f: StoreFactory<'_>) {
    let store = f(DEFAULT_LEASE);
    let s = session(&*store);
    assert!(matches!(
        store.force_unlock("not-the-id"),
        Err(StateError::WrongLock { .. })
    ));
    let id = s.lock_info().id.clone();
    drop(s);
    store.force_unlock(&id).unwrap();
}

fn serial_and_lineage(f: StoreFactory<'_>) {
    let store = f(DEFAULT_LEASE);
    let mut s = session(&*store);
    s.append(&[Mutation::Put(resource("t.a", "1"))]).unwrap();
    let (lineage, serial1) = (s.state().lineage.clone(), s.state().serial);
    s.unlock().unwrap();
    let mut s = store.lock("two").unwrap();
    s.init("conf", "test").unwrap();
    assert_eq!(
        s.state().serial,
        serial1,
        "locking must not change the serial"
    );
    s.append(&[Mutation::Put(resource("t.b", "2"))]).unwrap();
    assert!(
        s.state().serial > serial1,
        "a writing session must raise the serial"
    );
    assert_eq!(s.state().lineage, lineage, "lineage never changes");
    let serial2 = s.state().serial;
    s.unlock().unwrap();
    let st = store.read().unwrap().unwrap();
    assert_eq!((st.serial, st.lineage), (serial2, lineage));
    // A session that writes nothing leaves the serial alone.
    store.lock("three").unwrap().unlock().unwrap();
    assert_eq!(store.read().unwrap().unwrap().serial, serial2);
}

fn compaction_is_invisible(f: StoreFactory<'_>) {
    let store = f(DEFAULT_LEASE);
    let mut s = session(&*store);
    for i in 0..50 {
        s.append(&[Mutation::Put(resource(&format!("t.r{i}"), &i.to_string()))])
            .unwrap();
    }
    let before = s.state().clone();
    s.compact().unwrap();
    assert_eq!(s.state(), &before);
    s.append(&[Mutation::Remove {
        address: "t.r3".into(),
    }])
    .unwrap();
    let expected = s.state().clone();
    s.unlock().unwrap();
    assert_eq!(store.read().unwrap().unwrap(), expected);
}

fn pending_survive(f: StoreFactory<'_>) {
    let store = f(DEFAULT_LEASE);
    let mut s = session(&*store);
    let op = PendingOperation {
        op_id: "op1".into(),
        address: "t.a".into(),
        type_name: "test_thing".into(),
        origin: "thing".into(),
        kind: OperationKind::Create,
        id: None,
        token: "tok-1".into(),
        started_at_ms: 1,
        attrs: crate::value::Attrs::from([("parent".into(), crate::value::Value::str("p-1"))]),
    };
    s.append(&[Mutation::Begin(op.clone())]).unwrap();
    drop(s);
    let st = store.read().unwrap().unwrap();
    assert_eq!(
        st.pending.get("op1"),
        Some(&op),
        "a pending operation must be readable after a crash"
    );
}

fn other_stack_refused(f: StoreFactory<'_>) {
    let store = f(DEFAULT_LEASE);
    session(&*store).unlock().unwrap();
    let mut s = store.lock("other").unwrap();
    assert!(matches!(
        s.init("another-stack", "test"),
        Err(StateError::Foreign { .. })
    ));
    s.unlock().unwrap();
}

fn secrets_as_digests(f: StoreFactory<'_>) {
    let store = f(DEFAULT_LEASE);
    let mut s = session(&*store);
    let mut r = resource("t.secret", "sid");
    r.attrs.insert(
        "password".into(),
        Value::Sensitive(Sensitive::new("Pl4in-Text-Secret!")),
    );
    s.append(&[Mutation::Put(r)]).unwrap();
    s.unlock().unwrap();
    let st = store.read().unwrap().unwrap();
    match &st.resources["t.secret"].attrs["password"] {
        Value::Sensitive(x) => {
            assert!(
                x.expose().is_none(),
                "a stored secret must come back as a digest only"
            );
            assert_eq!(x.digest(), Sensitive::new("Pl4in-Text-Secret!").digest());
        }
        other => panic!("expected a sensitive value, got {other:?}"),
    }
}

fn reads_without_lock(f: StoreFactory<'_>) {
    let store = f(DEFAULT_LEASE);
    let mut s = session(&*store);
    s.append(&[Mutation::Put(resource("t.a", "1"))]).unwrap();
    let seen = store.read().expect("read while locked").expect("state");
    assert!(
        seen.resources.contains_key("t.a"),
        "a lock-free read sees acknowledged appends"
    );
    s.unlock().unwrap();
}

/// The lease the lease checks take: short, so a lapse is quick to wait for.
const SHORT_LEASE: std::time::Duration = std::time::Duration::from_millis(300);

/// Wait until a lock taken with [`SHORT_LEASE`] may be taken over.
fn outwait_lease() {
    std::thread::sleep(SHORT_LEASE + LEASE_GRACE + std::time::Duration::from_millis(200));
}

fn lapsed_lease_taken_over(f: StoreFactory<'_>) {
    let store = f(SHORT_LEASE);
    let mut first = session(&*store);
    first
        .append(&[Mutation::Put(resource("t.a", "1"))])
        .unwrap();
    let held = first.lock_info().clone();
    assert!(
        held.lease_ms > 0 && held.generation > 0,
        "a lock must carry its lease and generation: {held:?}"
    );
    assert!(
        matches!(store.lock("early"), Err(StateError::Locked { .. })),
        "a lease that has not lapsed stands"
    );
    outwait_lease();
    let second = store
        .lock("takeover")
        .expect("a lapsed lease must be taken over");
    assert!(
        second.lock_info().generation > held.generation,
        "the generation must grow: {} after {}",
        second.lock_info().generation,
        held.generation
    );
    let notices = store.take_notices().join("\n");
    assert!(
        notices.contains(&held.id) && notices.contains("conformance"),
        "taking over must name the previous holder and what it did: {notices:?}"
    );
    assert!(
        second.state().resources.contains_key("t.a"),
        "the new holder sees every acknowledged write of the old"
    );
    second.unlock().unwrap();
    drop(first);
}

fn stale_writer_fenced(f: StoreFactory<'_>) {
    let store = f(SHORT_LEASE);
    let mut stale = session(&*store);
    stale
        .append(&[Mutation::Put(resource("t.before", "1"))])
        .unwrap();
    outwait_lease();
    let mut current = store.lock("takeover").expect("takeover");
    current.init("conf", "test").unwrap();
    current
        .append(&[Mutation::Put(resource("t.current", "2"))])
        .unwrap();
    let refused = |what: &str, r: Result<(), StateError>| match r {
        Err(StateError::LeaseLost { reason, .. }) => assert!(
            reason.contains(&current.lock_info().id),
            "{what}: the refusal must name the lock that holds the state now: {reason}"
        ),
        other => {
            panic!("{what} by a writer whose lock was taken over must be refused, got {other:?}")
        }
    };
    refused(
        "an append",
        stale.append(&[Mutation::Put(resource("t.stale", "3"))]),
    );
    refused("a renewal", stale.lease().renew());
    refused("a compaction", stale.compact());
    refused("an unlock", stale.unlock());
    current.unlock().unwrap();
    let st = store.read().unwrap().unwrap();
    let mut kept: Vec<&str> = st.resources.keys().map(|k| k.as_str()).collect();
    kept.sort();
    assert_eq!(
        kept,
        ["t.before", "t.current"],
        "the state is the new holder's, with the old holder's acknowledged writes"
    );
    store
        .lock("free again")
        .expect("the new holder's unlock freed it")
        .unlock()
        .unwrap();
}

fn heartbeat_keeps_lease(f: StoreFactory<'_>) {
    let store = f(SHORT_LEASE);
    let mut s = session(&*store);
    let beat = Heartbeat::start(s.lease());
    let until = std::time::Instant::now() + (SHORT_LEASE + LEASE_GRACE) * 2;
    while std::time::Instant::now() < until {
        assert!(
            matches!(store.lock("intruder"), Err(StateError::Locked { .. })),
            "a lease its heartbeat renews must never be taken over"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    s.append(&[Mutation::Put(resource("t.late", "1"))])
        .expect("the holder still writes");
    assert_eq!(beat.lost(), None, "a kept lease is never lost");
    drop(beat);
    s.unlock().unwrap();
}

fn racing_lockers(f: StoreFactory<'_>) {
    let store = f(DEFAULT_LEASE);
    session(&*store).unlock().unwrap();
    for round in 0..5 {
        let barrier = std::sync::Barrier::new(100);
        let won: Vec<Box<dyn StateSession>> = std::thread::scope(|scope| {
            let racers: Vec<_> = (0..100)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        store.lock("race")
                    })
                })
                .collect();
            racers
                .into_iter()
                .filter_map(|r| match r.join().expect("a racer panicked") {
                    Ok(s) => Some(s),
                    Err(StateError::Locked { .. }) => None,
                    Err(e) => panic!("a racing lock attempt failed otherwise: {e}"),
                })
                .collect()
        });
        assert_eq!(
            won.len(),
            1,
            "round {round}: exactly one of 100 racing attempts must hold the lock"
        );
        for s in won {
            s.unlock().unwrap();
        }
    }
}

fn history_keeps_serials(f: StoreFactory<'_>) {
    let store = f(DEFAULT_LEASE);
    let mut seen = Vec::new();
    for i in 0..3 {
        let mut s = session(&*store);
        s.append(&[Mutation::Put(resource(&format!("t.h{i}"), "1"))])
            .unwrap();
        seen.push(s.state().clone());
        s.unlock().unwrap();
    }
    let history = store.history().expect("history");
    let serials: Vec<u64> = history.iter().map(|h| h.serial).collect();
    let wanted: Vec<u64> = seen.iter().rev().map(|s| s.serial).collect();
    assert!(
        serials.starts_with(&wanted),
        "history must list the serials written, newest first: {serials:?}, wanted {wanted:?} first"
    );
    assert_eq!(history[0].resources, 3);
    for st in &seen {
        assert_eq!(
            store.state_at(st.serial).unwrap().as_ref(),
            Some(st),
            "the kept state of serial {} must be the state as written",
            st.serial
        );
    }
    assert!(store.state_at(9_999).unwrap().is_none());
}

fn adopt_only_into_empty(f: StoreFactory<'_>) {
    let from = f(DEFAULT_LEASE);
    let mut s = session(&*from);
    s.append(&[Mutation::Put(resource("t.a", "1"))]).unwrap();
    let state = s.state().clone();
    s.unlock().unwrap();
    let to = f(DEFAULT_LEASE);
    let mut s = to.lock("migrate").unwrap();
    s.adopt(&state).expect("adopt into an empty store");
    s.unlock().unwrap();
    assert_eq!(
        to.read().unwrap().as_ref(),
        Some(&state),
        "an adopted state reads back whole: lineage, serial and all"
    );
    let mut s = to.lock("again").unwrap();
    assert!(
        matches!(s.adopt(&state), Err(StateError::Foreign { .. })),
        "adopting over a state must be refused"
    );
    s.unlock().unwrap();
    assert_eq!(to.read().unwrap().as_ref(), Some(&state));
}

fn erase_leaves_nothing(f: StoreFactory<'_>) {
    let store = f(DEFAULT_LEASE);
    let mut s = session(&*store);
    s.append(&[Mutation::Put(resource("t.a", "1"))]).unwrap();
    s.unlock().unwrap();
    let mut s = session(&*store);
    s.append(&[Mutation::Put(resource("t.b", "2"))]).unwrap();
    s.erase().expect("erase");
    assert!(
        store.read().unwrap().is_none(),
        "an erased store reads as nothing"
    );
    assert!(
        store.history().unwrap().is_empty(),
        "erase removes the history"
    );
    store
        .lock("after")
        .expect("erase frees the lock")
        .unlock()
        .unwrap();
}

fn migration_between_stores(f: StoreFactory<'_>) {
    let from = f(DEFAULT_LEASE);
    let mut s = session(&*from);
    s.append(&[
        Mutation::Put(resource("t.a", "1")),
        Mutation::Put(resource("t.b", "2")),
    ])
    .unwrap();
    let state = s.state().clone();
    s.unlock().unwrap();
    let to = f(DEFAULT_LEASE);
    let moved = migrate(&*from, &*to).expect("migrate");
    assert_eq!(
        (moved.lineage.as_str(), moved.serial, moved.checksum),
        (state.lineage.as_str(), state.serial, checksum(&state))
    );
    assert!(from.read().unwrap().is_none(), "the source is erased");
    assert_eq!(to.read().unwrap().as_ref(), Some(&state));
    // Into a store that holds a state: refused, and both are left as they were.
    let other = f(DEFAULT_LEASE);
    session(&*other).unlock().unwrap();
    let before = other.read().unwrap();
    assert!(migrate(&*to, &*other).is_err());
    assert_eq!(
        to.read().unwrap().as_ref(),
        Some(&state),
        "the source is kept"
    );
    assert_eq!(other.read().unwrap(), before);
    to.lock("free")
        .expect("the source's lock is released")
        .unlock()
        .unwrap();
    other
        .lock("free")
        .expect("the destination's lock is released")
        .unlock()
        .unwrap();
}
