//! Ownership marks: every object a provider creates carries the stack and the concrete
//! address it was created for (and, where the cloud allows, the call's idempotency token),
//! so a later run can tell its own objects from anyone else's.

/// The stack that owns an object.
pub const STACK: &str = "cairn:stack";
/// The concrete address (`aws_vpc.main`) the object was created for.
pub const RESOURCE: &str = "cairn:resource";
/// The idempotency token of the create that made it.
pub const TOKEN: &str = "cairn:token";

/// Whose an object is, by its marks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// This stack's object at this address.
    Ours,
    /// This stack's, but made for another address.
    OtherAddress(String),
    /// Another stack's.
    OtherStack(String),
    /// No cairn marks at all.
    Unmarked,
}

/// Judge `marks` (key/value pairs: tags or labels) against `stack` and `address`.
pub fn owner<'a>(
    stack: &str,
    address: &str,
    marks: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Owner {
    let (mut s, mut a) = (None, None);
    for (k, v) in marks {
        match k {
            STACK => s = Some(v),
            RESOURCE => a = Some(v),
            _ => {}
        }
    }
    match (s, a) {
        (Some(s), Some(a)) if s == stack && a == address => Owner::Ours,
        (Some(s), Some(a)) if s == stack => Owner::OtherAddress(a.to_string()),
        (Some(s), _) => Owner::OtherStack(s.to_string()),
        (None, _) => Owner::Unmarked,
    }
}

/// The marks a create puts on an object: stack, address and, when given, the token.
pub fn marks(stack: &str, address: &str, token: Option<&str>) -> Vec<(String, String)> {
    let mut out = vec![
        (STACK.to_string(), stack.to_string()),
        (RESOURCE.to_string(), address.to_string()),
    ];
    if let Some(t) = token {
        out.push((TOKEN.to_string(), t.to_string()));
    }
    out
}

/// Is `key` one of cairn's marks (kept out of the user's tags)?
pub fn is_mark(key: &str) -> bool {
    key.starts_with("cairn:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_tell_ours_from_others() {
        let ours = marks("shop", "aws_vpc.main", Some("t1"));
        let pairs = |v: &[(String, String)]| {
            v.iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Vec<_>>()
        };
        let p = pairs(&ours);
        let view = p.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        assert_eq!(owner("shop", "aws_vpc.main", view.clone()), Owner::Ours);
        assert_eq!(
            owner("shop", "aws_vpc.other", view.clone()),
            Owner::OtherAddress("aws_vpc.main".into())
        );
        assert_eq!(
            owner("web", "aws_vpc.main", view),
            Owner::OtherStack("shop".into())
        );
        assert_eq!(
            owner("shop", "aws_vpc.main", [("Name", "x")]),
            Owner::Unmarked
        );
    }
}
