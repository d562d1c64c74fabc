//! State: the conformance suite on the local backend, and what only a file backend has
//! (torn writes, corruption, foreign files, permissions, cheap appends at scale).

use cairn_core::state::{conformance, LocalStore, Mutation, ResourceState, StateError, StateStore};
use cairn_core::value::{Attrs, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn res(i: usize) -> ResourceState {
    let mut attrs = Attrs::new();
    attrs.insert(
        "cidr".into(),
        Value::str(format!("10.{}.{}.0/24", i / 256 % 256, i % 256)),
    );
    ResourceState {
        address: format!("mem_thing.r{i}").into(),
        type_name: "mem_thing".into(),
        origin: format!("thing.r{i}").into(),
        id: format!("id-{i}").into(),
        attrs,
        deps: vec![],
        protect: false,
        deposed: vec![],
    }
}

#[test]
fn local_backend_passes_the_conformance_suite() {
    let root = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let factory = || -> Box<dyn StateStore> {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::new(LocalStore::new(
            root.path().join(format!("s{n}/state.json")),
        ))
    };
    let ran = conformance::run(&factory);
    assert!(ran.len() >= 12);
}

fn populated(dir: &Path, n: usize) -> LocalStore {
    let store = LocalStore::new(dir.join("state.json"));
    let mut s = store.lock("test").unwrap();
    s.init("st", "memory").unwrap();
    s.append(&(0..n).map(|i| Mutation::Put(res(i))).collect::<Vec<_>>())
        .unwrap();
    s.unlock().unwrap();
    store
}

#[test]
fn files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let store = populated(dir.path(), 3);
    let mut s = store.lock("perm").unwrap();
    s.append(&[Mutation::Put(res(9))]).unwrap();
    for f in ["state.json", "state.json.journal", "state.json.lock"] {
        let mode = std::fs::metadata(dir.path().join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f} must be 0600");
    }
    s.unlock().unwrap();
}

#[test]
fn a_second_writer_gets_who_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let store = populated(dir.path(), 1);
    let _held = store.lock("cairn apply").unwrap();
    let err = store.lock("cairn destroy").unwrap_err().to_string();
    assert!(
        err.contains("is locked by")
            && err.contains("`cairn apply`")
            && err.contains("pid")
            && err.contains("cairn state unlock"),
        "{err}"
    );
}

#[test]
fn corrupt_and_foreign_files_are_refused_and_left_untouched() {
    let cases: &[(&str, &[u8], &str)] = &[
        ("garbage", b"\x00\x01not json at all", "corrupt"),
        ("truncated", b"{\"cairn_state\":1,\"lineage\":\"x\",\"ser", "corrupt"),
        ("terraform", br#"{"version":4,"terraform_version":"1.9.0","serial":3,"lineage":"abc","resources":[]}"#, "Terraform state"),
        ("other json", br#"{"hello":"world"}"#, "no `cairn_state` marker"),
        ("too new", br#"{"cairn_state":99,"lineage":"x","serial":1,"stack":"s","provider":"p","resources":[]}"#, "format version 99"),
        ("bad content", br#"{"cairn_state":1,"lineage":"x","serial":"one","stack":"s","provider":"p","resources":[]}"#, "corrupt"),
    ];
    for (name, body, words) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, body).unwrap();
        let store = LocalStore::new(&path);
        let read_err = store.read().unwrap_err().to_string();
        assert!(read_err.contains(words), "{name}: {read_err}");
        let lock_err = store.lock("apply").unwrap_err().to_string();
        assert!(
            lock_err.contains(words) && lock_err.contains("untouched"),
            "{name}: {lock_err}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            *body,
            "{name}: the file must not be overwritten"
        );
        assert!(
            !dir.path().join("state.json.lock").exists(),
            "{name}: a refused load releases the lock"
        );
    }
}

#[test]
fn a_torn_journal_tail_is_dropped_at_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    let store = populated(dir.path(), 2);
    let mut s = store.lock("torn").unwrap();
    s.append(&[Mutation::Put(res(10))]).unwrap();
    let journal = dir.path().join("state.json.journal");
    let committed = std::fs::read(&journal).unwrap();
    s.append(&[
        Mutation::Put(res(11)),
        Mutation::Remove {
            address: "mem_thing.r0".into(),
        },
    ])
    .unwrap();
    drop(s); // crash
    let full = std::fs::read(&journal).unwrap();
    let lock_id = serde_json::from_slice::<serde_json::Value>(
        &std::fs::read(dir.path().join("state.json.lock")).unwrap(),
    )
    .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    store.force_unlock(&lock_id).unwrap();
    for cut in committed.len()..full.len() {
        std::fs::write(&journal, &full[..cut]).unwrap();
        let st = store
            .read()
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"))
            .unwrap();
        assert!(
            st.resources.contains_key("mem_thing.r10"),
            "cut at {cut}: an acknowledged batch was lost"
        );
        assert!(
            !st.resources.contains_key("mem_thing.r11")
                && st.resources.contains_key("mem_thing.r0"),
            "cut at {cut}: a torn batch must vanish whole"
        );
    }
    // Writing after a torn tail cuts it off first, and keeps the history.
    std::fs::write(&journal, &full[..full.len() - 3]).unwrap();
    let mut s = store.lock("after-tear").unwrap();
    s.append(&[Mutation::Put(res(12))]).unwrap();
    s.unlock().unwrap();
    let st = store.read().unwrap().unwrap();
    assert!(
        st.resources.contains_key("mem_thing.r10") && st.resources.contains_key("mem_thing.r12")
    );
    assert!(!st.resources.contains_key("mem_thing.r11"));
}

#[test]
fn damage_in_the_middle_of_the_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = populated(dir.path(), 1);
    let mut s = store.lock("mid").unwrap();
    for i in 0..3 {
        s.append(&[Mutation::Put(res(20 + i))]).unwrap();
    }
    drop(s);
    let journal = dir.path().join("state.json.journal");
    let mut bytes = std::fs::read(&journal).unwrap();
    let second_line = bytes.iter().position(|b| *b == b'\n').unwrap() + 20;
    bytes[second_line] ^= 0x20;
    std::fs::write(&journal, &bytes).unwrap();
    let err = store.read().unwrap_err();
    assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("later lines are intact"), "{err}");
    assert_eq!(std::fs::read(&journal).unwrap(), bytes, "left untouched");
}

#[test]
fn an_append_at_100k_resources_does_not_rewrite_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = populated(dir.path(), 100_000);
    let snap = dir.path().join("state.json");
    let before = std::fs::metadata(&snap).unwrap();
    assert!(
        before.len() > 5_000_000,
        "a realistic snapshot: {} bytes",
        before.len()
    );
    let mut s = store.lock("one-op").unwrap();
    assert_eq!(s.state().resources.len(), 100_000);
    for i in 0..200 {
        s.append(&[
            Mutation::Put(res(200_000 + i)),
            Mutation::Remove {
                address: format!("mem_thing.r{i}").into(),
            },
        ])
        .unwrap();
    }
    let after = std::fs::metadata(&snap).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (before.ino(), before.len(), before.mtime_nsec()),
        (after.ino(), after.len(), after.mtime_nsec()),
        "per-operation writes must not touch the snapshot"
    );
    let journal = std::fs::metadata(dir.path().join("state.json.journal"))
        .unwrap()
        .len();
    assert!(
        journal < 200 * 1024,
        "200 operations cost {journal} journal bytes"
    );
    drop(s);
    let st = store.read().unwrap().unwrap();
    assert_eq!(st.resources.len(), 100_000);
    assert!(
        st.resources.contains_key("mem_thing.r200199")
            && !st.resources.contains_key("mem_thing.r199")
    );
}

#[test]
fn a_compaction_interrupted_after_the_rename_leaves_a_stale_journal_that_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let store = populated(dir.path(), 1);
    let mut s = store.lock("stale").unwrap();
    s.append(&[Mutation::Put(res(5))]).unwrap();
    let journal = dir.path().join("state.json.journal");
    let saved = std::fs::read(&journal).unwrap();
    s.unlock().unwrap(); // compacts and removes the journal
    std::fs::write(&journal, &saved).unwrap(); // as if the removal never happened
    let st = store.read().unwrap().unwrap();
    assert!(st.resources.contains_key("mem_thing.r5"));
    let mut s = store.lock("after").unwrap();
    s.append(&[Mutation::Remove {
        address: "mem_thing.r5".into(),
    }])
    .unwrap();
    s.unlock().unwrap();
    assert!(!store
        .read()
        .unwrap()
        .unwrap()
        .resources
        .contains_key("mem_thing.r5"));
}
