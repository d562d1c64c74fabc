//! Reading maps and lists straight into their final, exact-size form.
//!
//! Parsing state is most of a no-op plan's work at scale. A format that does not say how
//! many entries follow (JSON does not) would grow each vector to the next power of two; so
//! entries go into buffers kept per nesting depth, then into a slice of exactly their
//! number, and a map's names are looked up among those already held ([`super::names`]).

use super::attrs::sorted_unique;
use super::names::intern_slice;
use super::{Attrs, Text, Value};
use serde::de::MapAccess;

// One buffer per nesting depth, reused from map to map.
thread_local! {
    static NAME_BUFFERS: std::cell::RefCell<Vec<Vec<Text>>> =
        const { std::cell::RefCell::new(Vec::new()) };
    static MAP_BUFFERS: std::cell::RefCell<Vec<Vec<Value>>> =
        const { std::cell::RefCell::new(Vec::new()) };
    static LIST_BUFFERS: std::cell::RefCell<Vec<Vec<Value>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Read a map's entries (after `first`, already read) into an exact-size [`Attrs`].
pub(super) fn read_map<'de, A: MapAccess<'de>>(
    first: Option<(Text, Value)>,
    mut map: A,
) -> Result<Attrs, A::Error> {
    let mut names = NAME_BUFFERS
        .with(|b| b.borrow_mut().pop())
        .unwrap_or_default();
    let mut values = MAP_BUFFERS
        .with(|b| b.borrow_mut().pop())
        .unwrap_or_default();
    if let Some((name, value)) = first {
        names.push(name);
        values.push(value);
    }
    let read = loop {
        match map.next_key::<Text>() {
            Ok(Some(name)) => match map.next_value::<Value>() {
                Ok(value) => {
                    names.push(name);
                    values.push(value);
                }
                Err(e) => break Err(e),
            },
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let attrs = read.map(|()| {
        if values.is_empty() {
            Attrs::default()
        } else if names.windows(2).all(|w| w[0] < w[1]) {
            // Straight from the buffer into the shared slice: one allocation, exact.
            Attrs::from_parts(intern_slice(&names), values.drain(..).collect())
        } else {
            Attrs::from_sorted(sorted_unique(
                names.drain(..).zip(values.drain(..)).collect(),
            ))
        }
    });
    names.clear();
    values.clear();
    NAME_BUFFERS.with(|b| b.borrow_mut().push(names));
    MAP_BUFFERS.with(|b| b.borrow_mut().push(values));
    attrs
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
