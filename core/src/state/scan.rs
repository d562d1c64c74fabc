//! The state as cairn writes it, read without serde's general machinery.
//!
//! Why: every plan reads the whole state, and at a thousand resources reading it through
//! serde was a third of a no-op plan's time. This reader expects the fields in the order
//! `State` and `ResourceState` declare them, as serde_json writes them, and builds the
//! same `State` (see [`crate::value::scan`] for the values). Given anything else it says
//! `None`, and the snapshot is read with serde as before: an older layout, a hand-edited
//! file that still matches its checksum, or a damaged one, whose error serde words.

use super::{pending_as_list, Deposed, PendingOperation, ResourceState, State};
use crate::value::scan::Scan;
use crate::value::Text;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The pending operations, read as `State` reads them (they are rare: serde reads them).
#[derive(Deserialize)]
struct Pending(#[serde(with = "pending_as_list")] BTreeMap<Text, PendingOperation>);

/// `body` (the `state` value of a snapshot) read as serde would read it, or `None`.
pub(super) fn read(body: &str) -> Option<State> {
    let mut s = Scan::new(body);
    s.lit(r#"{"cairn_state":"#)?;
    let cairn_state = u32::try_from(s.uint()?).ok()?;
    s.lit(r#","lineage":"#)?;
    let lineage = s.string()?;
    s.lit(r#","serial":"#)?;
    let serial = s.uint()?;
    s.lit(r#","stack":"#)?;
    let stack = s.string()?;
    s.lit(r#","provider":"#)?;
    let provider = s.string()?;
    s.lit(r#","resources":["#)?;
    let mut resources = Vec::new();
    if !s.eat("]") {
        loop {
            resources.push(resource(&mut s)?);
            if s.eat("]") {
                break;
            }
            s.lit(",")?;
        }
    }
    s.lit(r#","outputs":"#)?;
    let outputs = if s.eat("{}") {
        BTreeMap::new()
    } else {
        s.serde()?
    };
    s.lit(r#","pending":"#)?;
    let pending = if s.eat("[]") {
        BTreeMap::new()
    } else {
        s.serde::<Pending>()?.0
    };
    let plan_key = if s.eat(r#","plan_key":"#) {
        s.string()?
    } else {
        String::new()
    };
    s.lit("}")?;
    if !s.at_end() {
        return None;
    }
    // Written in address order; serde's reader sorts and names a duplicate.
    if !resources.windows(2).all(|w| w[0].0 < w[1].0) {
        return None;
    }
    Some(State {
        cairn_state,
        lineage,
        serial,
        stack,
        provider,
        resources: BTreeMap::from_iter(resources),
        outputs,
        pending,
        plan_key,
    })
}

fn resource(s: &mut Scan<'_>) -> Option<(Text, ResourceState)> {
    s.lit(r#"{"address":"#)?;
    let address = s.text()?;
    s.lit(r#","type":"#)?;
    let type_name = s.text()?;
    s.lit(r#","origin":"#)?;
    let origin = s.text()?;
    s.lit(r#","id":"#)?;
    let id = s.text()?;
    s.lit(r#","attrs":"#)?;
    let attrs = s.attrs()?;
    let deps = if s.eat(r#","deps":"#) {
        s.texts()?
    } else {
        Vec::new()
    };
    let protect = if s.eat(r#","protect":"#) {
        s.bool()?
    } else {
        false
    };
    let deposed: Vec<Deposed> = if s.eat(r#","deposed":"#) {
        s.serde()?
    } else {
        Vec::new()
    };
    s.lit("}")?;
    Some((
        address.clone(),
        ResourceState {
            address,
            type_name,
            origin,
            id,
            attrs,
            deps,
            protect,
            deposed,
        },
    ))
}

#[cfg(test)]
mod tests;
