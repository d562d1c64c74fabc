//! Reading maps and lists straight into their final, exact-size form.
//!
//! Parsing state is most of a no-op plan's work at scale. A format that does not say how
//! many entries follow (JSON does not) would grow each vector to the next power of two; so
//! entries go into buffers kept per nesting depth, then into a slice of exactly their
//! number, and a map's names are looked up among those already held ([`super::names`]).
//! [`super::scan`], the reader of cairn's own layout, keeps its buffers itself and makes
//! its lists here too.

use super::attrs::sorted_unique;
use super::names::intern_strs;
use super::{Attrs, Text, Value};
use serde::de::MapAccess;
use std::cell::RefCell;
use std::thread::LocalKey;

// One buffer per nesting depth, reused from map to map.
thread_local! {
    static NAME_BUFFERS: RefCell<Vec<Vec<Text>>> = const { RefCell::new(Vec::new()) };
    static MAP_BUFFERS: RefCell<Vec<Vec<Value>>> = const { RefCell::new(Vec::new()) };
    static LIST_BUFFERS: RefCell<Vec<Vec<Value>>> = const { RefCell::new(Vec::new()) };
}

/// Read a map's entries (after `first`, already read) into an exact-size [`Attrs`].
pub(super) fn read_map<'de, A: MapAccess<'de>>(
    first: Option<(Text, Value)>,
    mut map: A,
) -> Result<Attrs, A::Error> {
    with_buffer(&NAME_BUFFERS, |names| {
        with_map_values(|values| {
            if let Some((name, value)) = first {
                names.push(name);
                values.push(value);
            }
            while let Some(name) = map.next_key::<Text>()? {
                names.push(name);
                values.push(map.next_value::<Value>()?);
            }
            Ok(finish_map(names, values))
        })
    })
}

/// Read a sequence into an exact-size vector.
pub(super) fn read_list<'de, A: serde::de::SeqAccess<'de>>(
    mut seq: A,
) -> Result<Vec<Value>, A::Error> {
    with_list(|items| {
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(exact(items))
    })
}

/// The map of `names` and `values` (one value per name, moved out of both): one shared
/// slice of exactly their number when the names come sorted, as cairn writes them.
fn finish_map(names: &mut Vec<Text>, values: &mut Vec<Value>) -> Attrs {
    let attrs = if values.is_empty() {
        Attrs::default()
    } else if names.windows(2).all(|w| w[0] < w[1]) {
        Attrs::from_parts(intern_strs(names), values.drain(..).collect())
    } else {
        Attrs::from_sorted(sorted_unique(
            names.drain(..).zip(values.drain(..)).collect(),
        ))
    };
    names.clear();
    attrs
}

/// The items of `buf` (moved out) in a vector of exactly their number.
pub(super) fn exact<T>(buf: &mut Vec<T>) -> Vec<T> {
    let mut items = Vec::with_capacity(buf.len());
    items.append(buf);
    items
}

/// `f` with this depth's (empty) buffer for a map's values.
fn with_map_values<R>(f: impl FnOnce(&mut Vec<Value>) -> R) -> R {
    with_buffer(&MAP_BUFFERS, f)
}

/// `f` with this depth's (empty) buffer for a list's items.
fn with_list<R>(f: impl FnOnce(&mut Vec<Value>) -> R) -> R {
    with_buffer(&LIST_BUFFERS, f)
}

/// `f` with a buffer of `buffers` (a map or list inside the one being read takes the
/// next), emptied and kept with its room for the next read after.
fn with_buffer<T: 'static, R>(
    buffers: &'static LocalKey<RefCell<Vec<Vec<T>>>>,
    f: impl FnOnce(&mut Vec<T>) -> R,
) -> R {
    let mut buf = buffers.with(|b| b.borrow_mut().pop()).unwrap_or_default();
    let result = f(&mut buf);
    buf.clear();
    buffers.with(|b| b.borrow_mut().push(buf));
    result
}
