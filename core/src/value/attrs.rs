//! [`Attrs`]: an attribute map kept as one sorted vector.
//!
//! Why not a `BTreeMap`: a resource's attributes, and every map inside them (a rule, tags),
//! hold a handful of entries, while a B-tree leaf reserves room for eleven (about 640 bytes
//! for a map of two). A fan-out of 100,000 resources holds several copies of every map (the
//! declared attributes, state, what the refresh read, the plan), so the slack of its nodes was
//! most of the engine's memory and of the page faults a small run pays for. A sorted vector
//! holds exactly its entries, looks a key up by binary search, and iterates in key order as
//! the B-tree did, so plans and state keep their order and their bytes. The API is the part
//! of `BTreeMap`'s the engine and providers use, under the same names.

use super::{Text, Value};
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// An attribute map, ordered by name, so plans and state are deterministic.
#[derive(Clone, Default, PartialEq)]
pub struct Attrs(Vec<(Text, Value)>);

impl Attrs {
    /// An empty map.
    pub const fn new() -> Self {
        Attrs(Vec::new())
    }

    /// An empty map with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        Attrs(Vec::with_capacity(n))
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value under `key`.
    pub fn get<Q: AsRef<str> + ?Sized>(&self, key: &Q) -> Option<&Value> {
        self.find(key.as_ref()).ok().map(|i| &self.0[i].1)
    }

    /// The value under `key`, to change.
    pub fn get_mut<Q: AsRef<str> + ?Sized>(&mut self, key: &Q) -> Option<&mut Value> {
        match self.find(key.as_ref()) {
            Ok(i) => Some(&mut self.0[i].1),
            Err(_) => None,
        }
    }

    /// The name and value under `key`.
    pub fn get_key_value<Q: AsRef<str> + ?Sized>(&self, key: &Q) -> Option<(&Text, &Value)> {
        self.find(key.as_ref())
            .ok()
            .map(|i| (&self.0[i].0, &self.0[i].1))
    }

    /// True when `key` is there.
    pub fn contains_key<Q: AsRef<str> + ?Sized>(&self, key: &Q) -> bool {
        self.find(key.as_ref()).is_ok()
    }

    /// Put `value` under `key`; the value it replaces, if any.
    pub fn insert(&mut self, key: Text, value: Value) -> Option<Value> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Take out the value under `key`.
    pub fn remove<Q: AsRef<str> + ?Sized>(&mut self, key: &Q) -> Option<Value> {
        match self.find(key.as_ref()) {
            Ok(i) => Some(self.0.remove(i).1),
            Err(_) => None,
        }
    }

    /// Take out the entry under `key`.
    pub fn remove_entry<Q: AsRef<str> + ?Sized>(&mut self, key: &Q) -> Option<(Text, Value)> {
        match self.find(key.as_ref()) {
            Ok(i) => Some(self.0.remove(i)),
            Err(_) => None,
        }
    }

    /// Keep only the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&Text, &mut Value) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v))
    }

    /// Empty it.
    pub fn clear(&mut self) {
        self.0.clear()
    }

    /// The entry under `key`, to fill in or change.
    pub fn entry(&mut self, key: Text) -> Entry<'_> {
        let at = self.find(&key);
        Entry { map: self, key, at }
    }

    /// Move every entry of `other` in (replacing same-named ones), leaving it empty.
    pub fn append(&mut self, other: &mut Attrs) {
        for (k, v) in other.0.drain(..) {
            self.insert(k, v);
        }
    }

    /// The first entry by name.
    pub fn first_key_value(&self) -> Option<(&Text, &Value)> {
        self.0.first().map(|(k, v)| (k, v))
    }

    /// The last entry by name.
    pub fn last_key_value(&self) -> Option<(&Text, &Value)> {
        self.0.last().map(|(k, v)| (k, v))
    }

    /// Entries in name order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.0.iter())
    }

    /// Entries in name order, values to change.
    pub fn iter_mut(&mut self) -> IterMut<'_> {
        IterMut(self.0.iter_mut())
    }

    /// Names in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Text> + ExactSizeIterator + Clone {
        self.0.iter().map(|(k, _)| k)
    }

    /// Values in name order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator + Clone {
        self.0.iter().map(|(_, v)| v)
    }

    /// Values in name order, to change.
    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator {
        self.0.iter_mut().map(|(_, v)| v)
    }

    /// Values in name order, taken.
    pub fn into_values(self) -> impl DoubleEndedIterator<Item = Value> + ExactSizeIterator {
        self.0.into_iter().map(|(_, v)| v)
    }

    /// Names in order, taken.
    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = Text> + ExactSizeIterator {
        self.0.into_iter().map(|(k, _)| k)
    }

    /// Give back spare room (a map built once and then kept).
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit()
    }
}

/// An entry of [`Attrs`], filled or not (see [`Attrs::entry`]).
#[derive(Debug)]
pub struct Entry<'a> {
    map: &'a mut Attrs,
    key: Text,
    at: Result<usize, usize>,
}

impl<'a> Entry<'a> {
    /// The value, put there first as `value` when there was none.
    pub fn or_insert(self, value: Value) -> &'a mut Value {
        self.or_insert_with(|| value)
    }

    /// The value, put there first by `make` when there was none.
    pub fn or_insert_with(self, make: impl FnOnce() -> Value) -> &'a mut Value {
        let i = match self.at {
            Ok(i) => i,
            Err(i) => {
                self.map.0.insert(i, (self.key, make()));
                i
            }
        };
        &mut self.map.0[i].1
    }

    /// The value, `Value::Null` put there first when there was none.
    pub fn or_default(self) -> &'a mut Value {
        self.or_insert_with(Value::default)
    }

    /// Change the value when there is one.
    pub fn and_modify(self, change: impl FnOnce(&mut Value)) -> Self {
        if let Ok(i) = self.at {
            change(&mut self.map.0[i].1);
        }
        self
    }

    /// The entry's name.
    pub fn key(&self) -> &Text {
        &self.key
    }
}

/// [`Attrs::iter`]'s iterator.
#[derive(Clone, Debug)]
pub struct Iter<'a>(std::slice::Iter<'a, (Text, Value)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Text, &'a Value);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k, v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// [`Attrs::iter_mut`]'s iterator.
#[derive(Debug)]
pub struct IterMut<'a>(std::slice::IterMut<'a, (Text, Value)>);

impl<'a> Iterator for IterMut<'a> {
    type Item = (&'a Text, &'a mut Value);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (&*k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for IterMut<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (&*k, v))
    }
}

impl ExactSizeIterator for IterMut<'_> {}

/// [`Attrs`]' owning iterator, in name order.
#[derive(Debug)]
pub struct IntoIter(std::vec::IntoIter<(Text, Value)>);

impl Iterator for IntoIter {
    type Item = (Text, Value);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for IntoIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back()
    }
}

impl ExactSizeIterator for IntoIter {}

impl IntoIterator for Attrs {
    type Item = (Text, Value);
    type IntoIter = IntoIter;
    fn into_iter(self) -> IntoIter {
        IntoIter(self.0.into_iter())
    }
}

impl<'a> IntoIterator for &'a Attrs {
    type Item = (&'a Text, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Attrs {
    type Item = (&'a Text, &'a mut Value);
    type IntoIter = IterMut<'a>;
    fn into_iter(self) -> IterMut<'a> {
        self.iter_mut()
    }
}

impl FromIterator<(Text, Value)> for Attrs {
    /// In any order; of entries with the same name the last one stays, as with inserts.
    fn from_iter<I: IntoIterator<Item = (Text, Value)>>(entries: I) -> Self {
        let mut v: Vec<(Text, Value)> = entries.into_iter().collect();
        if !v.windows(2).all(|w| w[0].0 < w[1].0) {
            // Stable: among equal names the last given ends last, and is the one kept.
            v.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out: Vec<(Text, Value)> = Vec::with_capacity(v.len());
            for (k, val) in v {
                match out.last_mut() {
                    Some(last) if last.0 == k => last.1 = val,
                    _ => out.push((k, val)),
                }
            }
            v = out;
        }
        Attrs(v)
    }
}

impl Extend<(Text, Value)> for Attrs {
    fn extend<I: IntoIterator<Item = (Text, Value)>>(&mut self, entries: I) {
        for (k, v) in entries {
            self.insert(k, v);
        }
    }
}

impl<const N: usize> From<[(Text, Value); N]> for Attrs {
    fn from(entries: [(Text, Value); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl From<BTreeMap<Text, Value>> for Attrs {
    fn from(map: BTreeMap<Text, Value>) -> Self {
        Attrs(map.into_iter().collect())
    }
}

impl From<Attrs> for BTreeMap<Text, Value> {
    fn from(map: Attrs) -> Self {
        map.0.into_iter().collect()
    }
}

impl<Q: AsRef<str> + ?Sized> std::ops::Index<&Q> for Attrs {
    type Output = Value;
    /// Panics when `key` is not there, like `BTreeMap`'s.
    fn index(&self, key: &Q) -> &Value {
        self.get(key)
            .unwrap_or_else(|| panic!("no attribute {:?}", key.as_ref()))
    }
}

impl fmt::Debug for Attrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Attrs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Attrs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Attrs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of attributes")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Attrs, A::Error> {
                read_map(None, map)
            }
        }
        d.deserialize_map(V)
    }
}

// Parsing fills a buffer kept for the purpose, then moves the entries into a vector of
// exactly their number: a format that does not say how many entries follow (JSON does
// not) would otherwise grow each map to the next power of two, and a state of 100,000
// resources holds several maps per resource. One buffer per nesting depth, reused.
thread_local! {
    static MAP_BUFFERS: std::cell::RefCell<Vec<Vec<(Text, Value)>>> =
        const { std::cell::RefCell::new(Vec::new()) };
    static LIST_BUFFERS: std::cell::RefCell<Vec<Vec<Value>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Read a map's entries (after `first`, already read) into an exact-size [`Attrs`].
pub(super) fn read_map<'de, A: MapAccess<'de>>(
    first: Option<(Text, Value)>,
    mut map: A,
) -> Result<Attrs, A::Error> {
    read_exact(&MAP_BUFFERS, first, || map.next_entry::<Text, Value>()).map(Attrs::from_iter)
}

/// Read a sequence into an exact-size vector (see [`read_map`]).
pub(super) fn read_list<'de, A: serde::de::SeqAccess<'de>>(
    mut seq: A,
) -> Result<Vec<Value>, A::Error> {
    read_exact(&LIST_BUFFERS, None, || seq.next_element::<Value>())
}

/// `first` and every item `next` gives, read into a buffer of `buffers` and then moved into
/// a vector of exactly their number (the buffer keeps its room for the next read).
fn read_exact<T, E>(
    buffers: &'static std::thread::LocalKey<std::cell::RefCell<Vec<Vec<T>>>>,
    first: Option<T>,
    mut next: impl FnMut() -> Result<Option<T>, E>,
) -> Result<Vec<T>, E> {
    let mut buf = buffers.with(|b| b.borrow_mut().pop()).unwrap_or_default();
    buf.extend(first);
    let read = loop {
        match next() {
            Ok(Some(item)) => buf.push(item),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let items = read.map(|()| {
        let mut items = Vec::with_capacity(buf.len());
        items.append(&mut buf);
        items
    });
    buf.clear();
    buffers.with(|b| b.borrow_mut().push(buf));
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_maps_and_lists_hold_exactly_their_entries() {
        let json = r#"{"b": 1, "a": [{"z": 1, "y": [1, 2, 3], "x": null}, 2], "c": {"k": "v"}}"#;
        let attrs: Attrs = serde_json::from_str(json).unwrap();
        assert_eq!(attrs.0.capacity(), 3);
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
        assert_eq!(inner.0.capacity(), 3);
        assert_eq!(
            inner.get("y").and_then(Value::as_list).map(<[Value]>::len),
            Some(3)
        );
        let Some(Value::Map(c)) = attrs.get("c") else {
            panic!("a map: {attrs:?}")
        };
        assert_eq!(c.0.capacity(), 1);
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
}
