//! Property tests, bounded and seeded: mutated state snapshots, journals and saved plans
//! fed to the parsers. Whatever the mutation (bits flipped, digits changed, bytes inserted
//! or deleted, ranges repeated, files cut), the parser must never panic and never accept a
//! change in silence: it refuses, or what it accepts is exactly the original, or (a journal
//! cut short) an earlier state it says it fell back to. The one exception no self-contained
//! format can see: a journal cut exactly at a line boundary is a journal with fewer
//! appends.

use crate::golden::changed;
use crate::support::*;
use cairn_core::state::{LocalStore, Mutation, ResourceState, State, StateStore};
use cairn_core::testing::MemoryProvider;
use cairn_core::value::{Attrs, Value};
use std::panic::AssertUnwindSafe;

/// xorshift64*: small, seeded, replayable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One random mutation of `b` (never the identity).
fn mutate(rng: &mut Rng, b: &[u8]) -> Vec<u8> {
    loop {
        let mut m = b.to_vec();
        let at = rng.below(m.len());
        match rng.below(7) {
            0 => m[at] ^= 1 << rng.below(8),
            1 => {
                // A digit for another digit: still valid JSON, a plausible value.
                let digits: Vec<usize> = (0..m.len()).filter(|i| m[*i].is_ascii_digit()).collect();
                if let Some(&i) = digits.get(rng.below(digits.len())) {
                    m[i] = b'0' + ((m[i] - b'0' + 1 + rng.below(9) as u8) % 10);
                }
            }
            2 => m.insert(at, b" ,:{}[]\"0a\n"[rng.below(11)]),
            3 => {
                let end = (at + 1 + rng.below(40)).min(m.len());
                m.drain(at..end);
            }
            4 => {
                let end = (at + 1 + rng.below(80)).min(m.len());
                let piece = m[at..end].to_vec();
                let to = rng.below(m.len());
                m.splice(to..to, piece);
            }
            5 => m.truncate(at),
            _ => m[at] = 32 + rng.below(95) as u8,
        }
        if m != b {
            return m;
        }
    }
}

fn res(i: usize) -> ResourceState {
    let mut attrs = Attrs::new();
    attrs.insert("cidr".into(), Value::str(format!("10.{i}.0.0/24")));
    attrs.insert("size".into(), Value::Int(i as i64 * 7));
    ResourceState {
        address: format!("mem_thing.r{i}").into(),
        type_name: "mem_thing".into(),
        origin: format!("thing.r{i}").into(),
        id: format!("id-{i:04}").into(),
        attrs,
        deps: vec![],
        protect: i.is_multiple_of(3),
        deposed: vec![],
    }
}

/// Read `store` with panics caught; `Err` holds the refusal.
fn read(store: &LocalStore) -> Result<Option<State>, String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| store.read()))
        .map_err(|_| "PANIC".to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
        .inspect_err(|e| assert_ne!(e, "PANIC", "the state parser panicked"))
}

#[test]
fn mutated_snapshots_are_refused_or_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = LocalStore::new(&path);
    let mut s = store.lock("t").unwrap();
    s.init("st", "memory").unwrap();
    s.append(&(0..12).map(|i| Mutation::Put(res(i))).collect::<Vec<_>>())
        .unwrap();
    s.unlock().unwrap();
    let original = std::fs::read(&path).unwrap();
    let truth = store.read().unwrap().unwrap();
    let mut rng = Rng(0x5eed_0001);
    let (mut refused, mut same) = (0, 0);
    for _ in 0..1500 {
        std::fs::write(&path, mutate(&mut rng, &original)).unwrap();
        match read(&store) {
            Err(_) => refused += 1,
            Ok(Some(st)) => {
                assert_eq!(
                    st, truth,
                    "a mutated snapshot was accepted with other content"
                );
                same += 1;
            }
            Ok(None) => panic!("a mutated snapshot read as no state"),
        }
    }
    assert!(refused > 1400, "refused {refused}, same {same}");
}

#[test]
fn mutated_journals_are_refused_unchanged_or_an_announced_earlier_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = LocalStore::new(&path);
    let mut s = store.lock("t").unwrap();
    s.init("st", "memory").unwrap();
    s.append(&[Mutation::Put(res(0))]).unwrap();
    s.unlock().unwrap();
    let mut s = store.lock("t").unwrap();
    for i in 1..9 {
        s.append(&[
            Mutation::Put(res(i)),
            Mutation::Remove {
                address: format!("mem_thing.r{}", i - 1).into(),
            },
        ])
        .unwrap();
    }
    drop(s); // a crash: the journal stays
    let journal_path = dir.path().join("state.json.journal");
    let journal = journal_lines(&journal_path);
    // The state after each prefix of whole lines: the only earlier states acceptable.
    let mut prefixes: Vec<(usize, State)> = Vec::new();
    let mut ends: Vec<usize> = journal
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    ends.insert(0, 0);
    for &end in &ends {
        std::fs::write(&journal_path, &journal[..end]).unwrap();
        prefixes.push((end, store.read().unwrap().unwrap()));
    }
    let truth = prefixes.last().unwrap().1.clone();
    let _ = store.take_notices();
    let mut rng = Rng(0x5eed_0002);
    let (mut refused, mut earlier) = (0, 0);
    for _ in 0..1500 {
        let m = mutate(&mut rng, &journal);
        std::fs::write(&journal_path, &m).unwrap();
        let noticed = !store.take_notices().is_empty();
        let got = read(&store);
        let noticed = noticed || !store.take_notices().is_empty();
        match got {
            Err(_) => refused += 1,
            Ok(Some(st)) if st == truth => {}
            Ok(Some(st)) => {
                let (end, _) = prefixes
                    .iter()
                    .find(|(_, p)| *p == st)
                    .unwrap_or_else(|| panic!("a mutated journal gave a state no prefix had"));
                let cut_at_boundary = m == journal[..*end];
                assert!(
                    noticed || cut_at_boundary,
                    "a mutated journal fell back to an earlier state without a word:\n{:?}\nwas\n{:?}",
                    String::from_utf8_lossy(&m),
                    String::from_utf8_lossy(&journal)
                );
                earlier += 1;
            }
            Ok(None) => panic!("a mutated journal read as no state"),
        }
    }
    assert!(refused > 1000, "refused {refused}, earlier {earlier}");
}

fn saved_plan() -> (Sandbox, cairn_core::Engine, String, cairn_core::Plan) {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    converge(&rt, &engine, &full_stack());
    let mut plan = rt.block_on(engine.plan(&changed(), &refresh())).unwrap();
    let text = engine.save_plan(&mut plan).unwrap();
    (sb, engine, text, plan)
}

#[test]
fn mutated_saved_plans_are_refused_or_unchanged() {
    let (_sb, engine, text, plan) = saved_plan();
    let stack = changed();
    let original = engine.open_plan(&text, &stack).unwrap();
    assert_eq!(original, plan);
    let mut rng = Rng(0x5eed_0003);
    let (mut refused, mut same) = (0, 0);
    for _ in 0..400 {
        let m = mutate(&mut rng, text.as_bytes());
        let Ok(m) = String::from_utf8(m) else {
            refused += 1;
            continue;
        };
        let got = std::panic::catch_unwind(AssertUnwindSafe(|| engine.open_plan(&m, &stack)))
            .unwrap_or_else(|_| panic!("opening a mutated plan panicked"));
        match got {
            Err(_) => refused += 1,
            Ok(p) => {
                assert_eq!(p, plan, "a mutated plan was accepted with other content");
                same += 1;
            }
        }
    }
    assert!(refused > 300, "refused {refused}, same {same}");
}
