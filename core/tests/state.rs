//! State: the conformance suite on the local backend, and what only a file backend has
//! (torn writes, corruption, foreign files, permissions, cheap appends at scale).

use crate::support::journal_lines;
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
    let factory = |lease| -> Box<dyn StateStore> {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::new(LocalStore::new(root.path().join(format!("s{n}/state.json"))).with_lease(lease))
    };
    let ran = conformance::run(&factory);
    assert!(ran.len() >= 16);
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
    let committed = journal_lines(&journal);
    s.append(&[
        Mutation::Put(res(11)),
        Mutation::Remove {
            address: "mem_thing.r0".into(),
        },
    ])
    .unwrap();
    drop(s); // crash
    let full = journal_lines(&journal);
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
fn appends_write_into_zeroed_room_that_readers_take_as_room() {
    let dir = tempfile::tempdir().unwrap();
    let store = populated(dir.path(), 1);
    let journal = dir.path().join("state.json.journal");
    let mut s = store.lock("room").unwrap();
    s.append(&[Mutation::Put(res(40))]).unwrap();
    let size = std::fs::metadata(&journal).unwrap().len();
    let written = journal_lines(&journal).len() as u64;
    assert!(
        size >= written + 32 * 1024,
        "room is written ahead: {size} bytes for {written} of lines"
    );
    // Appends past the room grow it, and every line lands right after the last one.
    for i in 0..400 {
        s.append(&[Mutation::Put(res(1000 + i))]).unwrap();
    }
    drop(s); // a crash: the journal and its room stay
    let lines = journal_lines(&journal);
    assert_eq!(lines.iter().filter(|b| **b == b'\n').count(), 1 + 401);
    assert!(!lines.contains(&0), "no zero between lines");
    let st = store.read().unwrap().unwrap();
    assert!(st.resources.contains_key("mem_thing.r40"));
    assert!(st.resources.contains_key("mem_thing.r1399"));
    assert!(store.take_notices().is_empty(), "room is not a torn record");
    // A later run appends after the last line, not after the room.
    store.force_unlock(&held_lock_id(dir.path())).unwrap();
    let mut s = store.lock("after").unwrap();
    s.append(&[Mutation::Put(res(2000))]).unwrap();
    drop(s);
    let lines = journal_lines(&journal);
    assert_eq!(lines.iter().filter(|b| **b == b'\n').count(), 1 + 402);
    assert!(!lines.contains(&0));
    assert!(store
        .read()
        .unwrap()
        .unwrap()
        .resources
        .contains_key("mem_thing.r2000"));
    // A journal written before room existed (no zeros after its lines) reads the same.
    std::fs::write(&journal, &lines).unwrap();
    let st = store.read().unwrap().unwrap();
    assert!(st.resources.contains_key("mem_thing.r2000"));
    // A last line cut short by a crash, with the room after it, is a torn record.
    let mut torn = lines[..lines.len() - 3].to_vec();
    torn.resize(torn.len() + 4096, 0);
    std::fs::write(&journal, &torn).unwrap();
    let st = store.read().unwrap().unwrap();
    assert!(!st.resources.contains_key("mem_thing.r2000"));
    assert!(st.resources.contains_key("mem_thing.r1399"));
    let notices = store.take_notices();
    assert!(
        notices.len() == 1 && notices[0].contains("incomplete last journal record"),
        "{notices:?}"
    );
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
    let mut bytes = journal_lines(&journal);
    let second_line = bytes.iter().position(|b| *b == b'\n').unwrap() + 20;
    bytes[second_line] ^= 0x20;
    std::fs::write(&journal, &bytes).unwrap();
    let err = store.read().unwrap_err();
    assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("line 2"), "{err}");
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
    let journal = journal_lines(&dir.path().join("state.json.journal")).len();
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
    let saved = journal_lines(&journal);
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

/// The lock id a crashed session left.
fn held_lock_id(dir: &Path) -> String {
    serde_json::from_slice::<serde_json::Value>(
        &std::fs::read(dir.join("state.json.lock")).unwrap(),
    )
    .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_snapshot_edited_by_one_digit_is_refused_by_its_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let store = populated(dir.path(), 3);
    let path = dir.path().join("state.json");
    let good = std::fs::read(&path).unwrap();
    assert!(
        good.starts_with(br#"{"cairn_state":2,"checksum":"crc32:"#),
        "{}",
        String::from_utf8_lossy(&good[..60])
    );
    // Still valid JSON, still a plausible id: only the checksum can tell.
    let text = String::from_utf8(good.clone()).unwrap();
    let edited = text.replacen("\"id\":\"id-1\"", "\"id\":\"id-7\"", 1);
    assert_ne!(edited, text, "the fixture holds id-1");
    serde_json::from_str::<serde_json::Value>(&edited).expect("the edit keeps valid JSON");
    std::fs::write(&path, &edited).unwrap();
    for err in [
        store.read().unwrap_err(),
        store.lock("apply").map(|_| ()).unwrap_err(),
    ] {
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("checksum"), "{err}");
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        edited.as_bytes(),
        "left untouched"
    );
    std::fs::write(&path, &good).unwrap();
    assert_eq!(store.read().unwrap().unwrap().resources.len(), 3);
}

#[test]
fn a_format_1_state_is_read_and_upgraded_on_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::write(
        &path,
        br#"{"cairn_state":1,"lineage":"0123456789abcdef","serial":4,"stack":"st","provider":"memory","resources":[{"address":"mem_thing.a","type":"mem_thing","origin":"thing.a","id":"id-a","attrs":{}}]}"#,
    )
    .unwrap();
    let store = LocalStore::new(&path);
    let old = store.read().unwrap().unwrap();
    assert_eq!((old.serial, old.resources.len()), (4, 1));
    assert!(old.plan_key.is_empty(), "format 1 had no plan key");
    let mut s = store.lock("upgrade").unwrap();
    s.init("st", "memory").unwrap();
    assert!(!s.state().plan_key.is_empty(), "init gives it a key");
    s.unlock().unwrap();
    let new = store.read().unwrap().unwrap();
    assert_eq!(new.lineage, old.lineage);
    assert_eq!(new.resources, old.resources);
    assert!(!new.plan_key.is_empty());
    assert!(std::fs::read(&path)
        .unwrap()
        .starts_with(br#"{"cairn_state":2,"#));
}

#[test]
fn a_torn_last_record_is_dropped_with_a_notice_and_a_damaged_complete_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = populated(dir.path(), 1);
    let mut s = store.lock("t").unwrap();
    s.append(&[Mutation::Put(res(30))]).unwrap();
    s.append(&[Mutation::Put(res(31))]).unwrap();
    drop(s);
    store.force_unlock(&held_lock_id(dir.path())).unwrap();
    let journal = dir.path().join("state.json.journal");
    let full = journal_lines(&journal);
    let _ = store.take_notices();

    // Incomplete last line (no newline): a write cut short, dropped, and said so.
    std::fs::write(&journal, &full[..full.len() - 5]).unwrap();
    let st = store.read().unwrap().unwrap();
    assert!(st.resources.contains_key("mem_thing.r30"));
    assert!(!st.resources.contains_key("mem_thing.r31"));
    let notices = store.take_notices();
    assert!(
        notices.len() == 1 && notices[0].contains("incomplete last journal record"),
        "{notices:?}"
    );

    // A complete last line whose checksum fails was damaged after it was acknowledged.
    let mut damaged = full.clone();
    let last_start = full[..full.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .unwrap()
        + 1;
    damaged[last_start + 30] ^= 0x01;
    std::fs::write(&journal, &damaged).unwrap();
    let err = store.read().unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StateError::Corrupt { .. }), "{text}");
    assert!(
        text.contains(&format!("byte offset {last_start}"))
            && text.contains(&format!("truncate -s {last_start}")),
        "the message names the offset and the way forward: {text}"
    );
    assert!(store.lock("x").is_err());
    assert_eq!(std::fs::read(&journal).unwrap(), damaged, "left untouched");
    // The documented way forward works.
    std::fs::write(&journal, &damaged[..last_start]).unwrap();
    let st = store.read().unwrap().unwrap();
    assert!(st.resources.contains_key("mem_thing.r30"));
}

#[test]
fn a_read_only_state_is_refused_not_replaced_and_files_keep_their_mode() {
    let dir = tempfile::tempdir().unwrap();
    let store = populated(dir.path(), 2);
    let path = dir.path().join("state.json");
    let set_mode =
        |m: u32| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m)).unwrap();
    let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());

    set_mode(0o444);
    let before = (std::fs::read(&path).unwrap(), ino(&path));
    let err = store.lock("apply").map(|_| ()).unwrap_err();
    assert!(matches!(err, StateError::ReadOnly { .. }), "{err}");
    // Root is refused by the mode, anyone else already by the failed open.
    assert!(
        err.to_string().contains("0444") || err.to_string().contains("Permission denied"),
        "{err}"
    );
    assert_eq!(
        (std::fs::read(&path).unwrap(), ino(&path)),
        before,
        "same file, same inode"
    );
    assert!(!dir.path().join("state.json.lock").exists());

    // A team's mode (group-readable) survives a rewrite.
    set_mode(0o640);
    let mut s = store.lock("apply").unwrap();
    s.append(&[Mutation::Put(res(7))]).unwrap();
    let journal_mode = std::fs::metadata(dir.path().join("state.json.journal"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    s.unlock().unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode, journal_mode), (0o640, 0o640));
}

#[test]
fn a_lock_left_by_a_dead_process_on_this_host_is_taken_over_with_a_notice() {
    let dir = tempfile::tempdir().unwrap();
    let store = populated(dir.path(), 1);
    let s = store.lock("apply").unwrap();
    let mut info = s.lock_info().clone();
    drop(s); // the crash: lock left behind
    assert!(
        matches!(store.lock("again"), Err(StateError::Locked { .. })),
        "a live holder (this very process) keeps its lock"
    );
    assert!(!info.host.is_empty() && !info.boot_id.is_empty() && info.process_start > 0);

    // The holder was a process that has exited since.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    info.pid = dead;
    info.id = "dead-run".into();
    std::fs::write(
        dir.path().join("state.json.lock"),
        serde_json::to_vec(&info).unwrap(),
    )
    .unwrap();
    let _ = store.take_notices();
    let s = store
        .lock("recover")
        .expect("a dead holder's lock is taken over");
    let notices = store.take_notices();
    assert!(
        notices.iter().any(|n| n.contains("took over the lock")
            && n.contains(&format!("pid {dead}"))
            && n.contains("no longer exists")),
        "{notices:?}"
    );
    s.unlock().unwrap();

    // Same PID, another process (started at another time): the PID was reused.
    let mut reused = info.clone();
    reused.pid = std::process::id();
    reused.process_start -= 1;
    std::fs::write(
        dir.path().join("state.json.lock"),
        serde_json::to_vec(&reused).unwrap(),
    )
    .unwrap();
    store
        .lock("reused")
        .expect("a reused PID is not the holder")
        .unlock()
        .unwrap();

    // Before a reboot: nothing of it can be alive.
    let mut rebooted = info.clone();
    rebooted.pid = std::process::id();
    rebooted.boot_id = "00000000-0000-0000-0000-000000000000".into();
    std::fs::write(
        dir.path().join("state.json.lock"),
        serde_json::to_vec(&rebooted).unwrap(),
    )
    .unwrap();
    store
        .lock("rebooted")
        .expect("a lock from before a reboot is taken over")
        .unlock()
        .unwrap();

    // Another host: nothing here can prove it dead.
    let mut remote = info.clone();
    remote.host = "some-other-host".into();
    std::fs::write(
        dir.path().join("state.json.lock"),
        serde_json::to_vec(&remote).unwrap(),
    )
    .unwrap();
    assert!(matches!(
        store.lock("remote"),
        Err(StateError::Locked { .. })
    ));
    store.force_unlock(&remote.id).unwrap();
}

#[test]
fn an_empty_or_unreadable_lock_is_reported_as_such_and_can_be_released_by_its_id() {
    for (name, body) in [("empty", &b""[..]), ("garbage", &b"{not a lock"[..])] {
        let dir = tempfile::tempdir().unwrap();
        let store = populated(dir.path(), 1);
        let lock = dir.path().join("state.json.lock");
        std::fs::write(&lock, body).unwrap();
        let err = store.lock("apply").map(|_| ()).unwrap_err();
        let StateError::LockUnreadable { detail, id, .. } = &err else {
            panic!("{name}: {err}");
        };
        assert!(
            err.to_string()
                .contains(&format!("cairn state unlock {id}")),
            "{name}: {err}"
        );
        if name == "empty" {
            assert_eq!(detail, "empty");
        }
        assert!(
            store.force_unlock("unknown").is_err(),
            "{name}: wrong id refused"
        );
        assert!(lock.exists());
        store.force_unlock(id).unwrap();
        store.lock("apply").unwrap().unlock().unwrap();
    }
}

#[test]
fn two_runs_racing_for_a_dead_lock_never_both_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = populated(dir.path(), 1);
    let mut info = store.lock("apply").unwrap().lock_info().clone();
    info.pid = u32::MAX - 1; // no such process
    std::fs::write(
        dir.path().join("state.json.lock"),
        serde_json::to_vec(&info).unwrap(),
    )
    .unwrap();
    let won = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|sc| {
        for _ in 0..8 {
            sc.spawn(|| {
                if let Ok(s) = store.lock("race") {
                    won.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    std::mem::forget(s); // hold it: nobody else may get it now
                }
            });
        }
    });
    assert_eq!(won.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// A journal whose header was damaged to claim an older base serial is refused: taken as a
/// journal an earlier compaction folded in, its records would be dropped without a word.
/// (Found by the mutation property test.)
#[test]
fn a_journal_header_damaged_to_look_stale_is_refused_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = LocalStore::new(&path);
    let mut s = store.lock("t").unwrap();
    s.init("st", "memory").unwrap();
    s.append(&[Mutation::Put(res(0))]).unwrap();
    s.unlock().unwrap(); // compacted: the snapshot is at serial 1
    let mut s = store.lock("t").unwrap();
    s.append(&[Mutation::Put(res(1))]).unwrap();
    drop(s); // a crash: the journal holds r1
    let journal = dir.path().join("state.json.journal");
    let text = String::from_utf8(journal_lines(&journal)).unwrap();
    assert!(text.contains("\"base_serial\":1"), "{text}");
    std::fs::write(
        &journal,
        text.replacen("\"base_serial\":1", "\"base_serial\":0", 1),
    )
    .unwrap();
    let err = store.read().unwrap_err();
    assert!(
        matches!(err, StateError::Corrupt { .. }) && err.to_string().contains("checksum"),
        "{err}"
    );
    // Undamaged, it reads as before.
    std::fs::write(&journal, &text).unwrap();
    let state = store.read().unwrap().unwrap();
    assert!(state.resources.contains_key("mem_thing.r1"));
}
