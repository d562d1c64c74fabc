//! "Already exists" on create, decided once for every provider.
//!
//! Objects with a natural key (a name, a route's table and destination, a subnet's
//! association) can be made by a run that died before it heard the answer; the next run's
//! create then meets them. Failing there would block every later apply until someone cleans
//! up by hand; creating a second object is impossible (the key is taken). So a create that
//! meets such an object adopts it when it is provably this stack's (its ownership marks name
//! this stack and address) or identical to what was asked (objects that carry no marks,
//! like routes), and reports that it did; anything else is refused with the owner named.

use crate::ownership::Owner;
use cairn_core::provider::{Progress, ProviderError, ReadItem, ReadOutcome};
use cairn_core::value::{Attrs, Text, Value};
use std::collections::BTreeMap;

/// What a create found under the natural key it asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Marked as this stack's object at this address.
    Ours,
    /// Carries no marks (the cloud has nowhere to put them) but is exactly what was asked.
    Identical,
    /// Anything else: someone else's object, or one that differs from the request.
    Foreign(String),
}

impl From<Owner> for Existing {
    fn from(o: Owner) -> Existing {
        match o {
            Owner::Ours => Existing::Ours,
            Owner::OtherAddress(a) => Existing::Foreign(format!("it belongs to {a} of this stack")),
            Owner::OtherStack(s) => Existing::Foreign(format!("it belongs to stack {s}")),
            Owner::Unmarked => Existing::Foreign("it was not made by cairn".into()),
        }
    }
}

/// Decide: `Ok(())` to adopt `id` (the decision is reported through `progress`), or the
/// error that refuses it. `what` names the kind of object ("DB instance", "route").
pub fn decide(
    address: &str,
    what: &str,
    id: &str,
    found: Existing,
    progress: &Progress,
) -> Result<(), ProviderError> {
    match found {
        Existing::Ours => {
            progress.report(&format!(
                "adopted the existing {what} {id}: this stack made it in a run that was interrupted"
            ));
            Ok(())
        }
        Existing::Identical => {
            progress.report(&format!(
                "adopted the existing {what} {id}: identical to what this stack declares"
            ));
            Ok(())
        }
        Existing::Foreign(why) => Err(ProviderError::Api {
            address: address.to_string(),
            code: "AlreadyExists".into(),
            message: format!(
                "a {what} {id} already exists and cairn will not take it over: {why}. Delete or \
                 rename it, or `cairn import` it if it should be managed here"
            ),
        }),
    }
}

/// Answer a batch read from one listing of the cloud's objects.
///
/// `by_id` holds every object listed (id → attributes); `by_address` maps addresses to ids
/// found through ownership marks (or another natural key). An item with an id takes the
/// object with that id; an item without one (the create of an interrupted run) takes the
/// object its address is marked on, so it is adopted rather than made twice. Each object
/// answers at most one item; an item nothing answers reads [`ReadOutcome::Gone`].
/// `finish` turns what the cloud listed into the attributes to record, given the item (its
/// `prior`, e.g. for values the cloud never returns: see [`keep_write_only`]).
pub fn match_listed(
    items: &[ReadItem],
    mut by_id: BTreeMap<String, Attrs>,
    by_address: &BTreeMap<String, String>,
    mut finish: impl FnMut(&ReadItem, Attrs) -> Attrs,
) -> BTreeMap<Text, ReadOutcome> {
    items
        .iter()
        .map(|i| {
            let id = match &i.id {
                Some(id) => Some(id.to_string()),
                None => by_address.get(i.address.as_str()).cloned(),
            };
            let outcome = id.and_then(|id| {
                let attrs = by_id.remove(&id)?;
                Some(ReadOutcome::Found {
                    id: id.as_str().into(),
                    attrs: finish(i, attrs),
                })
            });
            (i.address.clone(), outcome.unwrap_or(ReadOutcome::Gone))
        })
        .collect()
}

/// Secrets the cloud accepts but never returns (passwords, AUTH tokens): keep what state
/// recorded (a digest) for every sensitive attribute of `prior` the read did not give back.
pub fn keep_write_only(prior: &Attrs, mut attrs: Attrs) -> Attrs {
    for (k, v) in prior {
        if matches!(v, Value::Sensitive(_)) && !attrs.contains_key(k.as_str()) {
            attrs.insert(k.clone(), v.clone());
        }
    }
    attrs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ours_and_identical_are_adopted_and_said_so_others_refused() {
        let said = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let s2 = said.clone();
        let progress = Progress::new(move |m| s2.lock().unwrap().push(m.to_string()));
        decide("a.b", "route", "r1", Existing::Identical, &progress).unwrap();
        decide("a.b", "DB instance", "db1", Existing::Ours, &progress).unwrap();
        let err = decide(
            "a.b",
            "DB instance",
            "db1",
            Owner::OtherStack("web".into()).into(),
            &progress,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("belongs to stack web") && err.contains("import"),
            "{err}"
        );
        let said = said.lock().unwrap();
        assert_eq!(said.len(), 2);
        assert!(said[1].contains("adopted the existing DB instance db1"));
    }

    fn item(address: &str, id: Option<&str>) -> ReadItem {
        ReadItem {
            address: address.into(),
            id: id.map(Into::into),
            token: if id.is_none() {
                Some("tok".into())
            } else {
                None
            },
            prior: Attrs::new(),
        }
    }

    #[test]
    fn listed_objects_answer_by_id_then_by_marked_address_and_only_once() {
        let mut by_id = BTreeMap::new();
        for id in ["a-1", "b-1", "c-1"] {
            let mut a = Attrs::new();
            a.insert("id".into(), Value::str(id));
            by_id.insert(id.to_string(), a);
        }
        let by_address = BTreeMap::from([
            ("x.b".to_string(), "b-1".to_string()),
            ("x.dup".to_string(), "a-1".to_string()),
        ]);
        let items = [
            item("x.a", Some("a-1")),
            item("x.b", None),
            item("x.dup", None),
            item("x.gone", Some("z-9")),
            item("x.new", None),
        ];
        let out = match_listed(&items, by_id, &by_address, |_, a| a);
        let id = |k: &str| match &out[k] {
            ReadOutcome::Found { id, .. } => Some(id.to_string()),
            _ => None,
        };
        assert_eq!(id("x.a").as_deref(), Some("a-1"));
        assert_eq!(id("x.b").as_deref(), Some("b-1"), "adopted by its marks");
        assert_eq!(id("x.dup"), None, "an object answers one item only");
        assert_eq!(id("x.gone"), None);
        assert_eq!(id("x.new"), None, "never made: gone");
    }

    #[test]
    fn write_only_secrets_keep_the_recorded_digest() {
        let mut prior = Attrs::new();
        prior.insert(
            "password".into(),
            Value::Sensitive(cairn_core::value::Sensitive::new("p4ss-word-long")),
        );
        prior.insert("name".into(), Value::str("old"));
        let mut read = Attrs::new();
        read.insert("name".into(), Value::str("new"));
        let kept = keep_write_only(&prior, read);
        assert!(matches!(kept["password"], Value::Sensitive(_)));
        assert_eq!(
            kept["name"],
            Value::str("new"),
            "what the cloud returns wins"
        );
    }
}
