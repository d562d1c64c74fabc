//! The shared-state store on its in-memory backend: the conformance suite, and what a
//! remote backend does to a client (frozen endpoints, failing requests, damaged or foreign
//! objects, a run that lost its lock writing late), plus the kept history.

use cairn_core::state::remote::MemoryBlobs;
use cairn_core::state::{
    conformance, Mutation, RemoteStore, ResourceState, StateError, StateStore, KEEP_HISTORY,
};
use cairn_core::value::{Attrs, Value};
use std::time::{Duration, Instant};

fn res(i: usize) -> ResourceState {
    let mut attrs = Attrs::new();
    attrs.insert("n".into(), Value::str(i.to_string()));
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

fn named(name: &str) -> ResourceState {
    ResourceState {
        address: format!("mem_thing.{name}").into(),
        ..res(0)
    }
}

/// A store on `blobs` and a session on it, locked for `operation` and initialised.
fn locked(
    blobs: &MemoryBlobs,
    operation: &str,
) -> (RemoteStore, Box<dyn cairn_core::state::StateSession>) {
    let st = store(blobs);
    let mut s = st.lock(operation).unwrap();
    s.init("st", "memory").unwrap();
    (st, s)
}

fn store(blobs: &MemoryBlobs) -> RemoteStore {
    RemoteStore::new(blobs.clone()).unwrap()
}

/// A store holding `n` resources, written by one session.
fn populated(n: usize) -> (MemoryBlobs, RemoteStore) {
    let blobs = MemoryBlobs::new();
    let st = store(&blobs);
    let mut s = st.lock("test").unwrap();
    s.init("st", "memory").unwrap();
    for i in 0..n {
        s.append(&[Mutation::Put(res(i))]).unwrap();
    }
    s.unlock().unwrap();
    (blobs, st)
}

#[test]
fn the_memory_backend_passes_the_conformance_suite() {
    let factory = |lease| -> Box<dyn StateStore> {
        Box::new(
            RemoteStore::new(MemoryBlobs::new())
                .unwrap()
                .with_lease(lease),
        )
    };
    assert!(conformance::run(&factory).len() >= 16);
}

#[test]
fn a_frozen_endpoint_is_an_error_naming_the_store_not_a_hang() {
    let (blobs, _) = populated(2);
    let st = RemoteStore::new(blobs.clone())
        .unwrap()
        .with_request_timeout(Duration::from_millis(300));
    blobs.freeze(true);
    let started = Instant::now();
    let read = st.read();
    let lock = st.lock("frozen").map(|_| ());
    blobs.freeze(false);
    for r in [read.map(|_| ()), lock] {
        match r {
            Err(StateError::Backend { location, message }) => {
                assert_eq!(location, "memory store");
                assert!(message.contains("no answer within"), "{message}");
            }
            other => panic!("a frozen endpoint must fail with a backend error, got {other:?}"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // Nothing was changed: the state is whole and unlocked.
    assert_eq!(st.read().unwrap().unwrap().resources.len(), 2);
    st.lock("after").unwrap().unlock().unwrap();
}

#[test]
fn a_failed_append_records_nothing_and_the_session_goes_on() {
    let (blobs, st) = populated(1);
    let mut s = st.lock("flaky").unwrap();
    s.init("st", "memory").unwrap();
    blobs.fail_next(1);
    let err = s.append(&[Mutation::Put(res(7))]).unwrap_err();
    assert!(matches!(err, StateError::Backend { .. }), "{err:?}");
    s.append(&[Mutation::Put(res(8))]).unwrap();
    s.unlock().unwrap();
    let state = st.read().unwrap().unwrap();
    assert!(state.resources.contains_key("mem_thing.r8"));
    assert!(!state.resources.contains_key("mem_thing.r7"));
}

#[test]
fn a_damaged_or_foreign_state_is_refused_and_never_overwritten() {
    let (blobs, st) = populated(3);
    let good = blobs.peek("state").unwrap();
    let mut damaged = good.clone();
    let at = damaged.len() - 20;
    damaged[at] ^= 0x01;
    for (bytes, want) in [
        (damaged, "checksum"),
        (
            br#"{"version":4,"terraform_version":"1.9.0"}"#.to_vec(),
            "Terraform",
        ),
    ] {
        blobs.overwrite("state", &bytes);
        let read = st.read().unwrap_err().to_string();
        assert!(read.contains(want), "{read}");
        let lock = st.lock("apply").map(|_| ()).unwrap_err().to_string();
        assert!(lock.contains(want), "{lock}");
        assert_eq!(
            blobs.peek("state").unwrap(),
            bytes,
            "a refused state is never rewritten"
        );
        // The refused run left no lock behind.
        blobs.overwrite("state", &good);
        st.lock("check").unwrap().unlock().unwrap();
    }
}

#[test]
fn a_damaged_journal_entry_is_refused_by_name() {
    // Entries as objects of their own (a backend that fences writes), and in the lock
    // object (an object store).
    for blobs in [MemoryBlobs::new().with_fenced_writes(), MemoryBlobs::new()] {
        let (st, mut s) = locked(&blobs, "crash");
        s.append(&[Mutation::Put(res(1))]).unwrap();
        drop(s); // a crash: the entry stays in the journal
        let (name, mentioned) = match blobs
            .names()
            .into_iter()
            .find(|n| n.starts_with("journal/"))
        {
            Some(name) => (name.clone(), name),
            None => ("lock".to_string(), "lock (entry journal/".to_string()),
        };
        let bytes = String::from_utf8(blobs.peek(&name).unwrap()).unwrap();
        // Still well-formed, and unpacks: only the checksum can tell.
        let changed = if name == "lock" {
            let original = bytes.clone();
            let repacked = repack_first_tail_entry(&bytes, |batch| batch.replace("id-1", "id-9"));
            // And a packed entry damaged in transit: it names the entry too.
            let mut lock: serde_json::Value = serde_json::from_str(&original).unwrap();
            let packed = lock["tail"][0]["lz4"].as_str().unwrap().to_string();
            let flipped = if packed.starts_with('A') { "B" } else { "A" };
            lock["tail"][0]["lz4"] = format!("{flipped}{}", &packed[1..]).into();
            blobs.overwrite(&name, &serde_json::to_vec(&lock).unwrap());
            let err = st.read().unwrap_err().to_string();
            assert!(err.contains(&mentioned) && err.contains("damaged"), "{err}");
            repacked
        } else {
            assert!(bytes.contains("id-1"), "{bytes}");
            bytes.replace("id-1", "id-9")
        };
        blobs.overwrite(&name, changed.as_bytes());
        let err = st.read().unwrap_err().to_string();
        assert!(
            err.contains(&mentioned) && err.contains("checksum"),
            "{err}"
        );
    }
}

#[test]
fn a_lock_objects_entries_written_unpacked_are_read() {
    // Entries written before they were packed carry the batch's JSON text as a string.
    let blobs = MemoryBlobs::new();
    let (st, mut s) = locked(&blobs, "crash");
    s.append(&[Mutation::Put(res(1))]).unwrap();
    s.append(&[Mutation::Put(res(2))]).unwrap();
    let id = s.lock_info().id.clone();
    drop(s); // a crash: the entries are in the lock object
    let mut lock: serde_json::Value = serde_json::from_slice(&blobs.peek("lock").unwrap()).unwrap();
    for entry in lock["tail"].as_array_mut().unwrap() {
        let text = unpack(entry["lz4"].as_str().unwrap());
        let entry = entry.as_object_mut().unwrap();
        entry.remove("lz4");
        entry.insert("batch".into(), text.into());
    }
    blobs.overwrite("lock", &serde_json::to_vec(&lock).unwrap());
    assert_eq!(st.read().unwrap().unwrap().resources.len(), 2);
    // The next run (the dead one's lock released by hand) folds them in; its own entries
    // are packed.
    st.force_unlock(&id).unwrap();
    let mut s = st.lock("next").unwrap();
    assert_eq!(s.state().resources.len(), 2);
    s.append(&[Mutation::Put(res(3))]).unwrap();
    drop(s);
    let lock = String::from_utf8(blobs.peek("lock").unwrap()).unwrap();
    assert!(
        lock.contains("\"lz4\"") && !lock.contains("\"batch\""),
        "{lock}"
    );
    assert_eq!(st.read().unwrap().unwrap().resources.len(), 3);
}

/// The lock object `lock` with its first tail entry's batch text changed by `edit`, and
/// packed again as cairn packs it (LZ4 block, size first, base64), its checksum kept.
fn repack_first_tail_entry(lock: &str, edit: impl Fn(&str) -> String) -> String {
    let mut lock: serde_json::Value = serde_json::from_str(lock).unwrap();
    let text = unpack(lock["tail"][0]["lz4"].as_str().expect("a packed entry"));
    assert!(text.contains("id-1"), "{text}");
    lock["tail"][0]["lz4"] = pack(&edit(&text)).into();
    serde_json::to_string(&lock).unwrap()
}

/// A packed tail entry's batch text (base64 of an LZ4 block, its size first).
fn unpack(packed: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(packed)
        .unwrap();
    String::from_utf8(lz4_flex::block::decompress_size_prepended(&bytes).unwrap()).unwrap()
}

/// `text` packed as cairn packs a tail entry's batch.
fn pack(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .encode(lz4_flex::block::compress_prepend_size(text.as_bytes()))
}

#[test]
fn a_late_write_of_a_run_that_lost_its_lock_is_never_read() {
    // An entry object of an older generation landing late (on an object store a late
    // append fails outright: it is a conditional write of the lock).
    let blobs = MemoryBlobs::new().with_fenced_writes();
    let st = RemoteStore::new(blobs.clone())
        .unwrap()
        .with_lease(Duration::from_millis(200));
    let mut stale = st.lock("apply").unwrap();
    stale.init("st", "memory").unwrap();
    stale.append(&[Mutation::Put(res(1))]).unwrap();
    std::thread::sleep(Duration::from_millis(2600));
    let mut current = st.lock("takeover").unwrap();
    current.append(&[Mutation::Put(res(2))]).unwrap();
    // The old run writes an entry of its own generation behind the store's back, as a
    // write in flight during the takeover would land.
    let entry = blobs
        .names()
        .into_iter()
        .find(|n| n.starts_with("journal/"))
        .unwrap();
    let old_generation = stale.lock_info().generation;
    let late = format!("journal/{old_generation:020}.{:020}", 2);
    blobs.overwrite(&late, &blobs.peek(&entry).unwrap());
    let seen = st.read().unwrap().unwrap();
    assert!(seen.resources.contains_key("mem_thing.r1"));
    assert!(seen.resources.contains_key("mem_thing.r2"));
    assert_eq!(seen.resources.len(), 2);
    // And its own writes are refused.
    assert!(matches!(
        stale.append(&[Mutation::Put(res(3))]),
        Err(StateError::LeaseLost { .. })
    ));
    current.unlock().unwrap();
    assert!(!st
        .read()
        .unwrap()
        .unwrap()
        .resources
        .contains_key("mem_thing.r3"));
}

#[test]
fn history_keeps_the_newest_states_by_serial() {
    let (_, st) = populated(1);
    for i in 0..(KEEP_HISTORY + 5) {
        let mut s = st.lock("apply").unwrap();
        s.init("st", "memory").unwrap();
        s.append(&[Mutation::Put(res(100 + i))]).unwrap();
        s.unlock().unwrap();
    }
    let history = st.history().unwrap();
    let now = st.read().unwrap().unwrap();
    assert_eq!(history.len(), KEEP_HISTORY);
    assert_eq!(history[0].serial, now.serial, "newest first");
    assert_eq!(history[0].resources, now.resources.len());
    let older = st.state_at(history[5].serial).unwrap().unwrap();
    assert_eq!(older.resources.len(), now.resources.len() - 5);
    assert!(
        st.state_at(1).unwrap().is_none(),
        "pruned beyond the newest {KEEP_HISTORY}"
    );
}

#[test]
fn the_memory_backend_with_fenced_writes_passes_the_conformance_suite() {
    let factory = |lease| -> Box<dyn StateStore> {
        let blobs = MemoryBlobs::new().with_fenced_writes();
        Box::new(RemoteStore::new(blobs).unwrap().with_lease(lease))
    };
    assert!(conformance::run(&factory).len() >= 16);
}

#[test]
fn an_append_costs_one_request_on_either_kind_of_backend() {
    // A backend that checks the lock with a write writes the entry so; an object store
    // writes it into the lock object, whose condition is the check.
    for blobs in [MemoryBlobs::new().with_fenced_writes(), MemoryBlobs::new()] {
        let (_st, mut s) = locked(&blobs, "apply");
        let before = blobs.calls();
        for i in 0..10 {
            s.append(&[Mutation::Put(res(i))]).unwrap();
        }
        assert_eq!(blobs.calls() - before, 10, "{blobs:?}");
        s.unlock().unwrap();
    }
}

#[test]
fn a_lock_taken_after_a_read_writes_on_the_lock_it_read_unless_it_changed() {
    // An object store's read reads the lock object (it carries the newest entries); where
    // the backend checks the lock with each write, a read leaves the lock alone and the
    // lock's read stays.
    for (blobs, saved) in [
        (MemoryBlobs::new(), 1),
        (MemoryBlobs::new().with_fenced_writes(), 0),
    ] {
        let (st, s) = locked(&blobs, "apply");
        s.unlock().unwrap();
        // A plan's read, then its apply's lock: no second read of the lock object.
        let locks_with_a_read = {
            let before = blobs.calls();
            st.lock("apply").unwrap().unlock().unwrap();
            blobs.calls() - before
        };
        st.read().unwrap();
        let before = blobs.calls();
        st.lock("apply").unwrap().unlock().unwrap();
        assert_eq!(blobs.calls() - before, locks_with_a_read - saved);
        // Changed since the read (another machine's run): its write's condition fails, the
        // lock is read again, and taken with the generation after the other run's.
        st.read().unwrap();
        let other = RemoteStore::new(blobs.clone()).unwrap();
        let taken = other.lock("elsewhere").unwrap();
        let generation = taken.lock_info().generation;
        taken.unlock().unwrap();
        let s = st.lock("apply").unwrap();
        assert_eq!(s.lock_info().generation, generation + 1);
        // And held: nobody else takes it.
        assert!(matches!(
            other.lock("elsewhere"),
            Err(StateError::Locked { .. })
        ));
        s.unlock().unwrap();
    }
}

#[test]
fn a_runs_last_batch_goes_with_its_final_snapshot_on_an_object_store() {
    // An end with the last batch appended on its own, and one with it left to the seal.
    let end_requests = |last: bool, blobs: &MemoryBlobs| {
        let (st, mut s) = locked(blobs, "apply");
        s.append(&[Mutation::Put(res(1))]).unwrap();
        let before = blobs.calls();
        if last {
            s.append_last(&[Mutation::Put(res(2))]).unwrap();
        } else {
            s.append(&[Mutation::Put(res(2))]).unwrap();
        }
        assert_eq!(s.state().resources.len(), 2);
        s.unlock().unwrap();
        let requests = blobs.calls() - before;
        let read = st.read().unwrap().unwrap();
        assert_eq!(read.resources.len(), 2);
        (requests, read.serial)
    };
    let (alone, serial_alone) = end_requests(false, &MemoryBlobs::new());
    let (together, serial_together) = end_requests(true, &MemoryBlobs::new());
    assert_eq!(together + 1, alone, "one write fewer");
    assert_eq!(
        serial_together, serial_alone,
        "one serial per session either way"
    );
    // Where entries are objects of their own, the last batch is one as ever.
    let (alone, _) = end_requests(false, &MemoryBlobs::new().with_fenced_writes());
    let (together, _) = end_requests(true, &MemoryBlobs::new().with_fenced_writes());
    assert_eq!(together, alone);
}

#[test]
fn a_crash_before_the_final_snapshot_loses_only_the_last_batch_and_an_append_after_it_keeps_it() {
    let blobs = MemoryBlobs::new();
    let (st, mut s) = locked(&blobs, "apply");
    s.append(&[Mutation::Put(res(1))]).unwrap();
    s.append_last(&[Mutation::Put(res(2))]).unwrap();
    let id = s.lock_info().id.clone();
    drop(s); // a crash before unlock: what was appended is durable, the last batch is not
    let read = st.read().unwrap().unwrap();
    assert!(read.resources.contains_key("mem_thing.r1"));
    assert!(!read.resources.contains_key("mem_thing.r2"));
    st.force_unlock(&id).unwrap();
    // An append after the last batch (not what an apply does) writes the snapshot that
    // holds it first, so it is never lost behind an entry.
    let mut s = st.lock("apply").unwrap();
    s.append_last(&[Mutation::Put(res(3))]).unwrap();
    s.append(&[Mutation::Put(res(4))]).unwrap();
    drop(s);
    let read = st.read().unwrap().unwrap();
    for i in [1, 3, 4] {
        assert!(
            read.resources
                .contains_key(format!("mem_thing.r{i}").as_str()),
            "r{i}"
        );
    }
}

#[test]
fn an_append_whose_answer_was_lost_is_kept_once() {
    let (blobs, st) = populated(1);
    // The next append goes after it; a renewal or the release keeps it.
    for then in ["append", "renew", "unlock"] {
        let mut s = st.lock("lossy").unwrap();
        s.init("st", "memory").unwrap();
        blobs.lose_next_answers(1);
        let lost = format!("{then}-lost");
        let err = s.append(&[Mutation::Put(named(&lost))]).unwrap_err();
        assert!(matches!(err, StateError::Backend { .. }), "{err:?}");
        let after = format!("{then}-after");
        match then {
            "append" => s.append(&[Mutation::Put(named(&after))]).unwrap(),
            "renew" => s.lease().renew().unwrap(),
            _ => {}
        }
        s.unlock().unwrap();
        let state = st.read().unwrap().unwrap();
        assert!(
            state
                .resources
                .contains_key(format!("mem_thing.{lost}").as_str()),
            "{then}: an append that landed is kept though its answer was lost"
        );
        assert_eq!(
            state
                .resources
                .contains_key(format!("mem_thing.{after}").as_str()),
            then == "append"
        );
        assert!(
            !blobs.names().iter().any(|n| n.starts_with("journal/")),
            "{:?}",
            blobs.names()
        );
    }
    // A release that found the lost entry kept it in the lock; the next lock folds it
    // into the snapshot, and its unlock leaves the lock without entries.
    st.lock("tidy").unwrap().unlock().unwrap();
    assert_eq!(st.read().unwrap().unwrap().resources.len(), 5);
    let lock = String::from_utf8(blobs.peek("lock").unwrap()).unwrap();
    assert!(!lock.contains("\"tail\""), "{lock}");
}

#[test]
fn a_long_run_folds_the_lock_objects_entries_into_the_snapshot() {
    let blobs = MemoryBlobs::new();
    let (st, mut s) = locked(&blobs, "apply");
    let mut largest = 0;
    for i in 0..2000 {
        s.append(&[Mutation::Put(res(i))]).unwrap();
        largest = largest.max(blobs.peek("lock").unwrap().len());
    }
    // Bounded however long the run: folded into the snapshot past its cap.
    assert!(
        largest < 256 << 10,
        "the lock object reached {largest} bytes"
    );
    assert_eq!(st.read().unwrap().unwrap().resources.len(), 2000);
    drop(s); // a crash: the snapshot and the lock's entries hold everything
    assert_eq!(st.read().unwrap().unwrap().resources.len(), 2000);
}

#[test]
fn a_takeover_that_fails_keeps_the_previous_holders_entries() {
    let blobs = MemoryBlobs::new();
    let st = RemoteStore::new(blobs.clone())
        .unwrap()
        .with_lease(Duration::from_millis(200));
    let mut dead = st.lock("apply").unwrap();
    dead.init("st", "memory").unwrap();
    dead.append(&[Mutation::Put(res(1))]).unwrap();
    dead.append(&[Mutation::Put(res(2))]).unwrap();
    drop(dead); // a crash: its entries are in the lock object only
    std::thread::sleep(Duration::from_millis(2600));
    // Every step of a takeover after the lock's own write fails in turn (the listing, the
    // snapshot's read, its sealed rewrite): the new lock is released, and the entries it
    // carried stay in it. Another store reads between the attempts: one that read the
    // released lock would take the next lock without reading it again.
    let reader = RemoteStore::new(blobs.clone()).unwrap();
    for step in 2..5 {
        blobs.fail_after(step, 1);
        let err = st.lock("takeover").map(|_| ()).unwrap_err();
        assert!(matches!(err, StateError::Backend { .. }), "{step}: {err:?}");
        blobs.fail_next(0);
        let seen = reader.read().unwrap().unwrap();
        assert_eq!(seen.resources.len(), 2, "after failing step {step}");
    }
    let s = st.lock("takeover").unwrap();
    assert_eq!(s.state().resources.len(), 2);
    s.unlock().unwrap();
    assert_eq!(st.read().unwrap().unwrap().resources.len(), 2);
}

#[test]
fn a_lock_object_rewritten_by_a_json_tool_keeps_its_entries() {
    let blobs = MemoryBlobs::new();
    let (st, mut s) = locked(&blobs, "crash");
    s.append(&[Mutation::Put(res(1))]).unwrap();
    s.append(&[Mutation::Put(res(2))]).unwrap();
    drop(s); // a crash: the entries are in the lock object
             // Someone edits the holder with a tool that rewrites the whole object in its own
             // layout (keys reordered, indented): the entries' checksums still hold.
    let mut lock: serde_json::Value = serde_json::from_slice(&blobs.peek("lock").unwrap()).unwrap();
    lock["holder"]["host"] = "elsewhere".into();
    blobs.overwrite("lock", &serde_json::to_vec_pretty(&lock).unwrap());
    assert_eq!(st.read().unwrap().unwrap().resources.len(), 2);
}
