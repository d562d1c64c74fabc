//! The fast reader against serde's: on states as cairn writes them it must read every one
//! and agree; on any edit of one it must agree or decline, never differ.

use super::read;
use crate::state::{Deposed, OperationKind, PendingOperation, ResourceState, State};
use crate::value::{Attrs, GeneratedSpec, Sensitive, Text, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

thread_local! {
    /// Whether strings may need escapes: a state without any is read the quick way.
    static ESCAPES: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

fn text(rng: &mut StdRng) -> Text {
    // Plain names most of the time; escapes, controls, quotes and wide characters too,
    // and lengths on both sides of the eight bytes the reader takes at once. The first
    // fourteen need no escape.
    const PIECES: &[&str] = &[
        "a",
        "id",
        "10.0.0.0/16",
        "sg-0123456789abcdef0",
        "-",
        "_",
        " ",
        "ü",
        "日本",
        "😀",
        "/",
        "$",
        "x.y",
        "0",
        "\"",
        "\\",
        "\n",
        "\t",
        "\u{1}",
        "\u{1f}",
    ];
    let pieces = if ESCAPES.get() { PIECES.len() } else { 14 };
    let n = rng.gen_range(0..12);
    let mut t = Text::default();
    for _ in 0..n {
        let piece = if rng.gen_bool(0.8) {
            PIECES[rng.gen_range(0..4)]
        } else {
            PIECES[rng.gen_range(0..pieces)]
        };
        t.push_str(piece);
    }
    t
}

fn int(rng: &mut StdRng) -> i64 {
    match rng.gen_range(0..6) {
        0 => 0,
        1 => i64::MIN,
        2 => i64::MAX,
        3 => -rng.gen_range(1..1000),
        _ => rng.gen(),
    }
}

fn value(rng: &mut StdRng, depth: u32) -> Value {
    let kinds = if depth >= 3 { 4 } else { 11 };
    match rng.gen_range(0..kinds) {
        0 => Value::Null,
        1 => Value::Bool(rng.gen()),
        2 => Value::Int(int(rng)),
        3 => Value::Str(text(rng)),
        4 | 5 => Value::List(
            (0..rng.gen_range(0..4))
                .map(|_| value(rng, depth + 1))
                .collect(),
        ),
        6 | 7 => Value::Map(attrs(rng, depth + 1)),
        8 => Value::Sensitive(Sensitive::new(text(rng).to_string())),
        9 => Value::reference(format!("a_b.{}", rng.gen_range(0..9)), "id"),
        _ => match rng.gen_range(0..2) {
            0 => Value::Unknown,
            _ => Value::Generated(Box::new(GeneratedSpec {
                length: rng.gen_range(4..40),
                symbols: "!#".into(),
            })),
        },
    }
}

fn attrs(rng: &mut StdRng, depth: u32) -> Attrs {
    (0..rng.gen_range(0..6))
        .map(|_| {
            // Names starting with `$` (escaped by the writer when alone in a map) too.
            let name = if rng.gen_bool(0.1) {
                Text::from(format!("${}", text(rng)))
            } else {
                text(rng)
            };
            (name, value(rng, depth))
        })
        .collect()
}

/// `template`'s names with values of their own: maps of one shape, as a stack of alike
/// resources records them (the reader finds such names without reading them).
fn like(rng: &mut StdRng, template: &Attrs) -> Attrs {
    template
        .keys()
        .map(|k| {
            let v = match template.get(k) {
                Some(Value::Map(inner)) if rng.gen_bool(0.7) => Value::Map(like(rng, inner)),
                _ => value(rng, 2),
            };
            (k.clone(), v)
        })
        .collect()
}

fn state(rng: &mut StdRng) -> State {
    let mut s = State::new(&text(rng), "memory");
    let template = attrs(rng, 0);
    s.serial = rng.gen();
    if rng.gen_bool(0.2) {
        s.plan_key.clear();
    }
    for i in 0..rng.gen_range(0..8) {
        let address = Text::from(format!("mem_thing.{}{i}", text(rng)));
        s.resources.insert(
            address.clone(),
            ResourceState {
                address,
                type_name: "mem_thing".into(),
                origin: text(rng),
                id: text(rng),
                attrs: if rng.gen_bool(0.6) {
                    like(rng, &template)
                } else {
                    attrs(rng, 0)
                },
                deps: (0..rng.gen_range(0..3)).map(|_| text(rng)).collect(),
                protect: rng.gen_bool(0.2),
                deposed: (0..rng.gen_range(0..2) * rng.gen_range(0..2))
                    .map(|_| Deposed {
                        id: text(rng),
                        attrs: attrs(rng, 1),
                    })
                    .collect(),
            },
        );
    }
    for _ in 0..rng.gen_range(0..3) * rng.gen_range(0..2) {
        s.outputs.insert(text(rng).to_string(), value(rng, 1));
    }
    for i in 0..rng.gen_range(0..3) * rng.gen_range(0..2) {
        let op = PendingOperation {
            op_id: Text::from(format!("op{i}")),
            address: "mem_thing.p".into(),
            type_name: "mem_thing".into(),
            origin: "thing.p".into(),
            kind: OperationKind::Update,
            id: rng.gen_bool(0.5).then(|| text(rng)),
            token: text(rng),
            started_at_ms: rng.gen(),
            attrs: attrs(rng, 1),
        };
        s.pending.insert(op.op_id.clone(), op);
    }
    s
}

#[test]
fn reads_every_state_cairn_writes_as_serde_does() {
    let mut rng = StdRng::seed_from_u64(17);
    for round in 0..400 {
        // Half the states need no escape anywhere, half have some.
        ESCAPES.set(round % 2 == 0);
        let body = serde_json::to_string(&state(&mut rng)).unwrap();
        let by_serde: State = serde_json::from_str(&body).unwrap();
        let fast = read(&body)
            .unwrap_or_else(|| panic!("round {round}: declined cairn's own layout:\n{body}"));
        assert_eq!(fast, by_serde, "round {round}:\n{body}");
    }
}

/// One edit at a random place: what a hand, a tool or a damaged disk might do.
fn edit(rng: &mut StdRng, body: &str) -> String {
    let mut b = body.as_bytes().to_vec();
    // ASCII places only, so the text stays UTF-8 and serde judges the JSON, not the bytes.
    let ascii: Vec<usize> = (0..b.len()).filter(|&i| b[i].is_ascii()).collect();
    let at = ascii[rng.gen_range(0..ascii.len())];
    const BYTES: &[u8] = b" \n\"\\{}[],:0123456789-.eEtfnul$x";
    match rng.gen_range(0..5) {
        0 => {
            b.remove(at);
        }
        1 => b.insert(at, BYTES[rng.gen_range(0..BYTES.len())]),
        2 => b[at] = BYTES[rng.gen_range(0..BYTES.len())],
        3 => b.truncate(at),
        _ => {
            // A span moved elsewhere (fields or resources out of order, mostly broken).
            let end = (at + rng.gen_range(1..40)).min(b.len());
            let span: Vec<u8> = b.drain(at..end).collect();
            let to = rng.gen_range(0..=b.len());
            b.splice(to..to, span);
        }
    }
    String::from_utf8(b).unwrap_or_default()
}

#[test]
fn an_edited_state_is_read_as_serde_reads_it_or_left_to_serde() {
    let mut rng = StdRng::seed_from_u64(71);
    let (mut agreed, mut declined) = (0, 0);
    for round in 0..3000 {
        ESCAPES.set(round % 2 == 0);
        let body = serde_json::to_string(&state(&mut rng)).unwrap();
        let edited = edit(&mut rng, &body);
        match (read(&edited), serde_json::from_str::<State>(&edited)) {
            (None, _) => declined += 1,
            (Some(fast), Ok(by_serde)) => {
                assert_eq!(fast, by_serde, "round {round}:\n{edited}");
                agreed += 1;
            }
            (Some(_), Err(e)) => panic!("round {round}: read what serde refuses ({e}):\n{edited}"),
        }
    }
    // Both outcomes happen: edits inside strings read the same, most others decline.
    assert!(
        agreed > 100 && declined > 100,
        "agreed {agreed}, declined {declined}"
    );
}

#[test]
fn whitespace_and_other_orders_are_left_to_serde() {
    let mut rng = StdRng::seed_from_u64(5);
    let s = state(&mut rng);
    let pretty = serde_json::to_string_pretty(&s).unwrap();
    assert!(read(&pretty).is_none());
    let mut value: serde_json::Value = serde_json::from_str(&pretty).unwrap();
    // serde_json's map is sorted by key without `preserve_order`: another field order.
    value["zzz_unknown"] = serde_json::Value::Bool(true);
    assert!(read(&value.to_string()).is_none());
}

#[test]
fn numbers_are_integers_as_serde_reads_them() {
    for (text, want) in [
        ("0", Some(0)),
        ("-1", Some(-1)),
        ("9223372036854775807", Some(i64::MAX)),
        ("-9223372036854775808", Some(i64::MIN)),
        ("9223372036854775808", None),
        ("-9223372036854775809", None),
        ("-0", None),
        ("01", None),
        ("1.0", None),
        ("1e3", None),
        ("-", None),
    ] {
        let mut scan = crate::value::scan::Scan::new(text);
        let read = scan.value().filter(|_| scan.at_end());
        assert_eq!(read, want.map(Value::Int), "{text}");
        // serde agrees wherever the reader reads.
        if let Some(v) = read {
            assert_eq!(serde_json::from_str::<Value>(text).unwrap(), v, "{text}");
        }
    }
}
