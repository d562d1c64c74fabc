//! [`Attrs`]: an attribute map kept as its values in name order, with the list of names
//! shared by every map that has the same names.
//!
//! Why not a `BTreeMap`: a resource's attributes, and every map inside them (a rule, tags),
//! hold a handful of entries, while a B-tree leaf reserves room for eleven (about 640 bytes
//! for a map of two). A fan-out of 100,000 resources holds several copies of every map (the
//! declared attributes, state, what the refresh read, the plan), so the slack of its nodes was
//! most of the engine's memory and of the page faults a small run pays for.
//!
//! Why shared names: the maps of one resource type have the same names, resource after
//! resource, copy after copy. Kept beside each value, a name was 24 of an entry's 56 bytes.
//! Here a map holds its values (exactly their number) and an `Arc` to its [`Names`], which
//! parsing, collecting and [`Attrs::shrink_to_fit`] look up in one process-wide set, so a
//! state of 100,000 security groups holds each list of names once. Changing a map's names
//! (an insert of a new name, a removal) copies its list first if another map shares it.
//!
//! A lookup is a binary search over the names; iteration is in name order, as the B-tree's
//! was, so plans and state keep their order and their bytes. The API is the part of
//! `BTreeMap`'s the engine and providers use, under the same names.

use super::names::{intern, intern_keys, intern_slice, Names};
use super::{Text, Value};
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// An attribute map, ordered by name, so plans and state are deterministic.
///
/// Cloning one is cheap: its values are shared too, and copied only when one of the
/// copies changes (a refresh sends what state recorded to the provider without a copy).
#[derive(Clone, Default)]
pub struct Attrs {
    /// `None` exactly when the map is empty.
    names: Option<Arc<Names>>,
    /// `values[i]` is the value of `names[i]`; `None` exactly when the map is empty.
    values: Option<Arc<[Value]>>,
}

/// The values, to change: copied first if another map shares them.
fn unique(values: &mut Option<Arc<[Value]>>) -> &mut [Value] {
    let Some(values) = values else {
        return &mut [];
    };
    if Arc::get_mut(values).is_none() {
        *values = values.iter().cloned().collect();
    }
    Arc::get_mut(values).map_or(&mut [], |v| v)
}

impl Attrs {
    /// An empty map.
    pub fn new() -> Self {
        Attrs::default()
    }

    /// An empty map. (A map holds exactly its entries, so there is no room to reserve; kept
    /// so that code written for `BTreeMap` and `Vec` reads the same.)
    pub fn with_capacity(_n: usize) -> Self {
        Attrs::default()
    }

    /// The names, in order (`vals()[i]` is the value of `names()[i]`).
    pub(crate) fn names(&self) -> &[Text] {
        self.names.as_deref().map_or(&[], |n| &n.0)
    }

    /// The values, in the order of their names.
    pub(crate) fn vals(&self) -> &[Value] {
        self.values.as_deref().unwrap_or_default()
    }

    /// The values taken out, moved when no other map shares them.
    fn take_values(&mut self) -> Vec<Value> {
        match self.values.take() {
            None => Vec::new(),
            Some(mut shared) => match Arc::get_mut(&mut shared) {
                Some(own) => own.iter_mut().map(std::mem::take).collect(),
                None => shared.to_vec(),
            },
        }
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.names().binary_search_by(|k| k.as_str().cmp(key))
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.vals().len()
    }

    /// True when it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.values.is_none()
    }

    /// The value under `key`.
    pub fn get<Q: AsRef<str> + ?Sized>(&self, key: &Q) -> Option<&Value> {
        self.find(key.as_ref()).ok().map(|i| &self.vals()[i])
    }

    /// The value under `key`, to change.
    pub fn get_mut<Q: AsRef<str> + ?Sized>(&mut self, key: &Q) -> Option<&mut Value> {
        match self.find(key.as_ref()) {
            Ok(i) => Some(&mut unique(&mut self.values)[i]),
            Err(_) => None,
        }
    }

    /// The name and value under `key`.
    pub fn get_key_value<Q: AsRef<str> + ?Sized>(&self, key: &Q) -> Option<(&Text, &Value)> {
        self.find(key.as_ref())
            .ok()
            .map(|i| (&self.names()[i], &self.vals()[i]))
    }

    /// True when `key` is there.
    pub fn contains_key<Q: AsRef<str> + ?Sized>(&self, key: &Q) -> bool {
        self.find(key.as_ref()).is_ok()
    }

    /// Put `value` under `key`; the value it replaces, if any.
    pub fn insert(&mut self, key: Text, value: Value) -> Option<Value> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut unique(&mut self.values)[i], value)),
            Err(i) => {
                self.insert_at(i, key, value);
                None
            }
        }
    }

    /// A new name at position `i` (where a binary search for it ended).
    fn insert_at(&mut self, i: usize, key: Text, value: Value) {
        Arc::make_mut(self.names.get_or_insert_with(Default::default))
            .0
            .insert(i, key);
        let mut values = self.take_values();
        values.insert(i, value);
        self.values = Some(values.into());
    }

    /// Take out the value under `key`.
    pub fn remove<Q: AsRef<str> + ?Sized>(&mut self, key: &Q) -> Option<Value> {
        self.remove_entry(key).map(|(_, v)| v)
    }

    /// Take out the entry under `key`.
    pub fn remove_entry<Q: AsRef<str> + ?Sized>(&mut self, key: &Q) -> Option<(Text, Value)> {
        let i = self.find(key.as_ref()).ok()?;
        let names = self.names.as_mut()?;
        let name = if names.0.len() == 1 {
            let name = names.0[0].clone();
            self.names = None;
            name
        } else {
            Arc::make_mut(names).0.remove(i)
        };
        let mut values = self.take_values();
        let value = values.remove(i);
        self.values = (!values.is_empty()).then(|| values.into());
        Some((name, value))
    }

    /// Keep only the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&Text, &mut Value) -> bool) {
        let values = self.take_values();
        let names = self.names.take();
        let all = names.as_deref().map_or(&[][..], |n| &n.0[..]);
        let count = values.len();
        let mut kept_names = Vec::new();
        let mut kept_values = Vec::with_capacity(count);
        for (k, mut v) in all.iter().zip(values) {
            if keep(k, &mut v) {
                kept_names.push(k.clone());
                kept_values.push(v);
            }
        }
        if kept_values.is_empty() {
            return;
        }
        self.names = if kept_values.len() == count {
            names
        } else {
            Some(intern(kept_names))
        };
        self.values = Some(kept_values.into());
    }

    /// Empty it.
    pub fn clear(&mut self) {
        *self = Attrs::default();
    }

    /// The entry under `key`, to fill in or change.
    pub fn entry(&mut self, key: Text) -> Entry<'_> {
        let at = self.find(&key);
        Entry { map: self, key, at }
    }

    /// Move every entry of `other` in (replacing same-named ones), leaving it empty.
    pub fn append(&mut self, other: &mut Attrs) {
        let other = std::mem::take(other);
        if self.is_empty() {
            *self = other;
        } else {
            self.extend(other);
        }
    }

    /// The first entry by name.
    pub fn first_key_value(&self) -> Option<(&Text, &Value)> {
        self.names().first().zip(self.vals().first())
    }

    /// The last entry by name.
    pub fn last_key_value(&self) -> Option<(&Text, &Value)> {
        self.names().last().zip(self.vals().last())
    }

    /// Whether `other` is a copy of this map and neither has changed since: then the two
    /// are equal with no entry looked at (a refresh that reads back what state holds).
    pub(crate) fn is_copy_of(&self, other: &Attrs) -> bool {
        self.has_names_of(other)
            && match (&self.values, &other.values) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (a, b) => a.is_none() && b.is_none(),
            }
    }

    /// A map with this one's names and `values` for them, in order: for a caller making
    /// many maps of the same names, which are then looked up once. (Only the memory
    /// provider, behind `test-support`, makes maps that way today.)
    #[cfg(feature = "test-support")]
    pub(crate) fn with_values<const N: usize>(&self, values: [Value; N]) -> Attrs {
        debug_assert_eq!(self.len(), N);
        Attrs::from_parts(self.names.clone().unwrap_or_default(), Arc::from(values))
    }

    /// Whether both maps hold the one shared list of names (see [`super::names`]): then
    /// their names are the same, in the same places, with none compared.
    pub(crate) fn has_names_of(&self, other: &Attrs) -> bool {
        match (&self.names, &other.names) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }

    /// Entries in name order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.names().iter().zip(self.vals().iter()))
    }

    /// Entries in name order, values to change.
    pub fn iter_mut(&mut self) -> IterMut<'_> {
        let names = self.names.as_deref().map_or(&[][..], |n| &n.0[..]);
        IterMut(names.iter().zip(unique(&mut self.values).iter_mut()))
    }

    /// Names in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Text> + ExactSizeIterator + Clone {
        self.names().iter()
    }

    /// Values in name order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator + Clone {
        self.vals().iter()
    }

    /// Values in name order, to change.
    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator {
        unique(&mut self.values).iter_mut()
    }

    /// Values in name order, taken.
    pub fn into_values(mut self) -> impl DoubleEndedIterator<Item = Value> + ExactSizeIterator {
        self.take_values().into_iter()
    }

    /// Names in order, taken.
    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = Text> + ExactSizeIterator {
        self.names().to_vec().into_iter()
    }

    /// The map as it may be stored or shown ([`Value::redacted`] of every value): the same
    /// map, shared, when no secret is in it.
    pub fn redacted(&self) -> Attrs {
        if self.vals().iter().any(Value::is_sensitive) {
            self.iter()
                .map(|(k, v)| (k.clone(), v.redacted()))
                .collect()
        } else {
            self.clone()
        }
    }

    /// Share its list of names with the other maps that have the same names (a map built
    /// once, by inserts, and then kept).
    pub fn shrink_to_fit(&mut self) {
        if let Some(names) = &self.names {
            self.names = Some(intern_slice(&names.0));
        }
    }

    /// The map of these names and values (`names` sorted and unique, one value each).
    pub(super) fn from_parts(names: Arc<Names>, values: Arc<[Value]>) -> Attrs {
        debug_assert_eq!(names.0.len(), values.len());
        if values.is_empty() {
            return Attrs::default();
        }
        Attrs {
            names: Some(names),
            values: Some(values),
        }
    }

    /// The entries of `buffer` in any order (the last of a name stays), taking them and
    /// leaving the buffer's room for the next map: one allocation, the map's own. (The
    /// memory provider's lowering, behind `test-support`, is its user today.)
    #[cfg(feature = "test-support")]
    pub(crate) fn take_from(buffer: &mut Vec<(Text, Value)>) -> Attrs {
        // Names as a map made lately had them are sorted and unique: no sort, no check.
        let names = match super::names::recent_keys(buffer) {
            Some(names) => names,
            None => {
                sort_unique(buffer);
                if buffer.is_empty() {
                    return Attrs::default();
                }
                intern_keys(buffer)
            }
        };
        Attrs::from_parts(names, buffer.drain(..).map(|(_, v)| v).collect())
    }

    /// The map of these entries, sorted by name and unique.
    pub(super) fn from_sorted(entries: Vec<(Text, Value)>) -> Attrs {
        if entries.is_empty() {
            return Attrs::default();
        }
        let names = intern_keys(&entries);
        // Collected straight into their shared slice: one allocation, no copy after.
        let values: Arc<[Value]> = entries.into_iter().map(|(_, v)| v).collect();
        Attrs::from_parts(names, values)
    }
}

impl PartialEq for Attrs {
    fn eq(&self, other: &Attrs) -> bool {
        let same_names = match (&self.names, &other.names) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a.0 == b.0,
            (None, None) => true,
            _ => false,
        };
        same_names && self.vals() == other.vals()
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
                self.map.insert_at(i, self.key, make());
                i
            }
        };
        &mut unique(&mut self.map.values)[i]
    }

    /// The value, `Value::Null` put there first when there was none.
    pub fn or_default(self) -> &'a mut Value {
        self.or_insert_with(Value::default)
    }

    /// Change the value when there is one.
    pub fn and_modify(self, change: impl FnOnce(&mut Value)) -> Self {
        if let Ok(i) = self.at {
            change(&mut unique(&mut self.map.values)[i]);
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
pub struct Iter<'a>(std::iter::Zip<std::slice::Iter<'a, Text>, std::slice::Iter<'a, Value>>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Text, &'a Value);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back()
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// [`Attrs::iter_mut`]'s iterator.
#[derive(Debug)]
pub struct IterMut<'a>(std::iter::Zip<std::slice::Iter<'a, Text>, std::slice::IterMut<'a, Value>>);

impl<'a> Iterator for IterMut<'a> {
    type Item = (&'a Text, &'a mut Value);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for IterMut<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back()
    }
}

impl ExactSizeIterator for IterMut<'_> {}

/// [`Attrs`]' owning iterator, in name order.
#[derive(Debug)]
pub struct IntoIter {
    names: Option<Arc<Names>>,
    /// Position in `names` of the next entry from the front, and one past the next from
    /// the back.
    front: usize,
    back: usize,
    values: std::vec::IntoIter<Value>,
}

impl Iterator for IntoIter {
    type Item = (Text, Value);
    fn next(&mut self) -> Option<Self::Item> {
        let value = self.values.next()?;
        let name = self.names.as_ref()?.0[self.front].clone();
        self.front += 1;
        Some((name, value))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.values.size_hint()
    }
}

impl DoubleEndedIterator for IntoIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        let value = self.values.next_back()?;
        self.back -= 1;
        let name = self.names.as_ref()?.0[self.back].clone();
        Some((name, value))
    }
}

impl ExactSizeIterator for IntoIter {}

impl IntoIterator for Attrs {
    type Item = (Text, Value);
    type IntoIter = IntoIter;
    fn into_iter(mut self) -> IntoIter {
        let values = self.take_values();
        IntoIter {
            back: values.len(),
            front: 0,
            names: self.names,
            values: values.into_iter(),
        }
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
        Attrs::from_sorted(sorted_unique(entries.into_iter().collect()))
    }
}

/// `entries` sorted by name; of entries with the same name the last one given stays.
pub(super) fn sorted_unique(mut v: Vec<(Text, Value)>) -> Vec<(Text, Value)> {
    sort_unique(&mut v);
    v
}

/// [`sorted_unique`] in place.
fn sort_unique(v: &mut Vec<(Text, Value)>) {
    if v.windows(2).all(|w| w[0].0 < w[1].0) {
        return;
    }
    // Stable: among equal names the last given ends last, and is the one kept (its value
    // moved into the first's place, in the same vector).
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            std::mem::swap(&mut later.1, &mut kept.1);
        }
        same
    });
}

impl Extend<(Text, Value)> for Attrs {
    /// Same-named entries replace what is there, later ones the earlier: as inserts one by
    /// one would, with the names looked up once.
    fn extend<I: IntoIterator<Item = (Text, Value)>>(&mut self, entries: I) {
        let mut all: Vec<(Text, Value)> = std::mem::take(self).into_iter().collect();
        all.extend(entries);
        *self = Attrs::from_sorted(sorted_unique(all));
    }
}

impl<const N: usize> From<[(Text, Value); N]> for Attrs {
    fn from(entries: [(Text, Value); N]) -> Self {
        if N == 0 || !entries.windows(2).all(|w| w[0].0 < w[1].0) {
            return entries.into_iter().collect();
        }
        // Written in name order (as a lowering usually writes a small map): no list in
        // between, the values straight into their shared slice.
        let names = intern_keys(&entries);
        Attrs::from_parts(names, entries.into_iter().map(|(_, v)| v).collect())
    }
}

impl From<BTreeMap<Text, Value>> for Attrs {
    fn from(map: BTreeMap<Text, Value>) -> Self {
        Attrs::from_sorted(map.into_iter().collect())
    }
}

impl From<Attrs> for BTreeMap<Text, Value> {
    fn from(map: Attrs) -> Self {
        map.into_iter().collect()
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
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, v) in self {
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
                super::read::read_map(None, map)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests;
