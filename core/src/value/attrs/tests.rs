//! `Attrs` against what it replaced: parsing, sharing, and `BTreeMap`'s behaviour.

use super::*;

#[test]
fn parsed_maps_and_lists_hold_exactly_their_entries() {
    let json = r#"{"b": 1, "a": [{"z": 1, "y": [1, 2, 3], "x": null}, 2], "c": {"k": "v"}}"#;
    let attrs: Attrs = serde_json::from_str(json).unwrap();
    assert_eq!(attrs.len(), 3);
    assert_eq!(
        attrs.keys().map(Text::as_str).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    let Some(Value::List(list)) = attrs.get("a") else {
        panic!("a list: {attrs:?}")
    };
    assert_eq!(list.capacity(), 2);
    let Value::Map(inner) = &list[0] else {
        panic!("a map: {list:?}")
    };
    assert_eq!(
        inner.keys().map(Text::as_str).collect::<Vec<_>>(),
        ["x", "y", "z"]
    );
    assert_eq!(
        inner.get("y").and_then(Value::as_list).map(<[Value]>::len),
        Some(3)
    );
    let Some(Value::Map(c)) = attrs.get("c") else {
        panic!("a map: {attrs:?}")
    };
    assert_eq!(c.len(), 1);
}

#[test]
fn a_parse_that_fails_midway_leaves_the_next_one_whole() {
    let bad = r#"{"a": [1, 2, {"b": [3, 4, oops]}], "c": 1}"#;
    assert!(serde_json::from_str::<Attrs>(bad).is_err());
    let good: Attrs = serde_json::from_str(r#"{"d": [5], "e": {"f": 6}}"#).unwrap();
    assert_eq!(good.len(), 2);
    assert_eq!(good.get("d"), Some(&Value::List(vec![Value::Int(5)])));
    let Some(Value::Map(e)) = good.get("e") else {
        panic!("a map: {good:?}")
    };
    assert_eq!(e.len(), 1);
}

fn names_of(a: &Attrs) -> &Arc<Names> {
    a.names.as_ref().expect("not empty")
}

#[test]
fn maps_with_the_same_names_share_them_and_a_change_copies_them_first() {
    let a: Attrs = serde_json::from_str(r#"{"id": "a", "port": 1}"#).unwrap();
    let mut b: Attrs = serde_json::from_str(r#"{"port": 2, "id": "b"}"#).unwrap();
    let c: Attrs = [
        ("id".into(), Value::str("c")),
        ("port".into(), Value::Int(3)),
    ]
    .into();
    assert!(Arc::ptr_eq(names_of(&a), names_of(&b)), "parsed alike");

    // A copy shares the values too, until one of the two changes them.
    let mut copy = a.clone();
    assert!(Arc::ptr_eq(
        a.values.as_ref().unwrap(),
        copy.values.as_ref().unwrap()
    ));
    *copy.get_mut("port").unwrap() = Value::Int(9);
    assert_eq!(a.get("port"), Some(&Value::Int(1)), "a is as it was");
    assert_eq!(copy.get("port"), Some(&Value::Int(9)));
    for (_, v) in copy.iter_mut() {
        *v = Value::Null;
    }
    assert_eq!(a.get("id"), Some(&Value::str("a")));
    assert!(Arc::ptr_eq(names_of(&a), names_of(&c)), "collected alike");

    b.insert("zone".into(), Value::Int(1));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        ["id", "port"],
        "a is as it was"
    );
    assert_eq!(b.keys().collect::<Vec<_>>(), ["id", "port", "zone"]);
    assert_eq!(b.remove("id"), Some(Value::str("b")));
    b.retain(|k, _| k != "zone");
    assert_eq!(b, [("port".into(), Value::Int(2))].into());
    assert!(
        Arc::ptr_eq(names_of(&a), names_of(&c)),
        "c still shares a's"
    );

    let mut d = Attrs::new();
    d.insert("port".into(), Value::Int(4));
    d.insert("id".into(), Value::str("d"));
    assert!(!Arc::ptr_eq(names_of(&a), names_of(&d)), "built by inserts");
    d.shrink_to_fit();
    assert!(Arc::ptr_eq(names_of(&a), names_of(&d)), "then kept");
    assert_eq!(
        d.into_iter().collect::<Vec<_>>(),
        [
            ("id".into(), Value::str("d")),
            ("port".into(), Value::Int(4))
        ]
    );
}

#[test]
fn a_map_from_entries_keeps_the_last_of_a_name_in_any_order() {
    let entry = |k: &str, v: i64| (Text::from(k), Value::Int(v));
    let want: Attrs = BTreeMap::from([entry("a", 2), entry("b", 3)]).into();
    assert_eq!(
        Attrs::from([entry("b", 1), entry("a", 2), entry("b", 3)]),
        want
    );
    assert_eq!(
        Attrs::from([entry("a", 2), entry("b", 1), entry("b", 3)]),
        want
    );
    assert_eq!(Attrs::from([entry("a", 2), entry("b", 3)]), want);
    assert_eq!(
        Attrs::from_iter([entry("b", 3), entry("a", 9), entry("a", 2)]),
        want
    );
    assert_eq!(Attrs::from([] as [(Text, Value); 0]), Attrs::new());
}

#[test]
fn maps_behave_as_the_btree_they_replace_whatever_their_names_history() {
    let mut m = Attrs::new();
    let mut b: BTreeMap<Text, Value> = BTreeMap::new();
    // Inserts, replacements, removals and extends in a fixed pseudo-random order.
    let mut x: u64 = 7;
    for step in 0..400 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let key: Text = format!("k{}", (x >> 33) % 9).into();
        match step % 5 {
            0 | 1 => {
                assert_eq!(
                    m.insert(key.clone(), Value::Int(step)),
                    b.insert(key, Value::Int(step))
                );
            }
            2 => assert_eq!(m.remove(&key), b.remove(&key)),
            3 => {
                let more = [(key.clone(), Value::Int(-step)), ("k0".into(), Value::Null)];
                m.extend(more.clone());
                b.extend(more);
            }
            _ => {
                let copy = m.clone();
                m.retain(|k, _| *k != key);
                b.retain(|k, _| *k != key);
                assert_eq!(copy.len(), copy.iter().count(), "the copy is whole");
            }
        }
        assert_eq!(m.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>());
        assert_eq!(
            m.is_empty(),
            m.names.is_none(),
            "names exactly when not empty"
        );
    }
    let back: BTreeMap<Text, Value> = m.clone().into();
    assert_eq!(back, b);
    assert_eq!(
        m.clone().into_iter().rev().collect::<Vec<_>>(),
        b.clone().into_iter().rev().collect::<Vec<_>>()
    );
}

#[test]
fn only_an_unchanged_copy_is_a_copy() {
    let a: Attrs = [("id".into(), Value::str("x")), ("n".into(), Value::Int(1))].into();
    let copy = a.clone();
    assert!(copy.is_copy_of(&a) && a.is_copy_of(&copy));
    // Equal, but made apart: compared entry by entry, never taken for a copy.
    let apart: Attrs = [("id".into(), Value::str("x")), ("n".into(), Value::Int(1))].into();
    assert!(!apart.is_copy_of(&a));
    assert!(Value::Map(apart).same_as(&Value::Map(a.clone())));
    let mut changed = a.clone();
    changed.insert("n".into(), Value::Int(1));
    assert!(!changed.is_copy_of(&a), "a changed copy has its own values");
    assert!(Attrs::new().is_copy_of(&Attrs::default()));
    assert!(!Attrs::new().is_copy_of(&a));
}

#[test]
fn maps_made_apart_with_the_same_names_compare_by_values_alone() {
    let a: Attrs = [("id".into(), Value::str("x")), ("n".into(), Value::Int(1))].into();
    let same: Attrs = [("id".into(), Value::str("x")), ("n".into(), Value::Int(1))].into();
    let other: Attrs = [("id".into(), Value::str("x")), ("n".into(), Value::Int(2))].into();
    let renamed: Attrs = [("id".into(), Value::str("x")), ("m".into(), Value::Int(1))].into();
    assert!(a.has_names_of(&same) && a.has_names_of(&other));
    assert!(!a.has_names_of(&renamed));
    let map = |m: &Attrs| Value::Map(m.clone());
    assert!(map(&a).same_as(&map(&same)));
    assert!(!map(&a).same_as(&map(&other)), "same names, another value");
    assert!(
        !map(&a).same_as(&map(&renamed)),
        "same values, another name"
    );
    assert!(Attrs::new().has_names_of(&Attrs::default()));
}
