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
use cairn_core::provider::{Progress, ProviderError};

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
}
