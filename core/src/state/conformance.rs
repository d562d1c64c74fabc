//! The contract every state backend must meet, as runnable checks.
//!
//! A backend's own test calls [`run`] with a factory that returns a fresh, empty store each
//! time (a new directory, a new database schema, a new bucket prefix). Each check panics with
//! a message naming the broken rule, so a failing backend says what it got wrong.

use super::*;
use crate::value::{Sensitive, Value};

/// Makes a fresh, empty store.
pub type StoreFactory<'a> = &'a dyn Fn() -> Box<dyn StateStore>;

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
    let store = f();
    assert!(
        store.read().expect("read empty").is_none(),
        "an empty store must read as None"
    );
}

fn appends_survive_reload(f: StoreFactory<'_>) {
    let store = f();
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
    let store = f();
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
    let store = f();
    session(&*store).unlock().unwrap();
    store
        .lock("again")
        .expect("lock after unlock")
        .unlock()
        .unwrap();
}

fn crash_keeps_writes_and_lock(f: StoreFactory<'_>) {
    let store = f();
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
    let s = store.lock("recovered").unwrap();
    assert!(s.state().resources.contains_key("t.a"));
    s.unlock().unwrap();
}

fn force_unlock_checks_id(f: StoreFactory<'_>) {
    let store = f();
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
    let store = f();
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
    let store = f();
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
    let store = f();
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
    let store = f();
    session(&*store).unlock().unwrap();
    let mut s = store.lock("other").unwrap();
    assert!(matches!(
        s.init("another-stack", "test"),
        Err(StateError::Foreign { .. })
    ));
    s.unlock().unwrap();
}

fn secrets_as_digests(f: StoreFactory<'_>) {
    let store = f();
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
    let store = f();
    let mut s = session(&*store);
    s.append(&[Mutation::Put(resource("t.a", "1"))]).unwrap();
    let seen = store.read().expect("read while locked").expect("state");
    assert!(
        seen.resources.contains_key("t.a"),
        "a lock-free read sees acknowledged appends"
    );
    s.unlock().unwrap();
}
