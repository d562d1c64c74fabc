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

/// The idempotency token of a create (core's `cairn-…`) as a UUID, for APIs that take only
/// UUIDs (GCP Compute and Managed Kafka `requestId`): the same token always gives the same
/// UUID (a re-sent create is recognised), a different one a different UUID; version 8
/// (custom) with the RFC 4122 variant, never the nil UUID.
pub fn request_id(token: &str) -> String {
    let fnv = |seed: u64| {
        let mut h = seed;
        for b in token.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    let (hi, lo) = (fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4));
    let hi = (hi & !0xf000) | 0x8000; // version 8
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000; // RFC 4122 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// How a cloud carries the marks: as tags (AWS, Azure: the keys above, values as they are),
/// or as labels (GCP: `cairn-stack`, `cairn-resource`, `cairn-token`, values lowercase
/// `[a-z0-9_-]` of at most 63 characters; a value that does not fit is replaced by a
/// stable digest of it, so it still compares equal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Tags: the `cairn:` keys, values unchanged (AWS, Azure).
    Tags,
    /// Labels: `cairn-` keys, values fitted to GCP's label rules by [`label_value`].
    Labels,
}

impl Encoding {
    /// The marks of `o` in this encoding.
    pub fn marks(self, o: &cairn_core::ownership::Ownership<'_>) -> Vec<(String, String)> {
        match self {
            Encoding::Tags => marks(o.stack, o.address, o.token),
            Encoding::Labels => {
                let mut out = vec![
                    ("cairn-stack".to_string(), label_value(o.stack)),
                    ("cairn-resource".to_string(), label_value(o.address)),
                ];
                if let Some(t) = o.token {
                    out.push(("cairn-token".to_string(), label_value(t)));
                }
                out
            }
        }
    }

    /// Whose an object is, by marks in this encoding.
    pub fn owner<'a>(
        self,
        stack: &str,
        address: &str,
        marks: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Owner {
        match self {
            Encoding::Tags => owner(stack, address, marks),
            Encoding::Labels => {
                let (mut s, mut a) = (None, None);
                for (k, v) in marks {
                    match k {
                        "cairn-stack" => s = Some(v),
                        "cairn-resource" => a = Some(v),
                        _ => {}
                    }
                }
                let (want_s, want_a) = (label_value(stack), label_value(address));
                match (s, a) {
                    (Some(s), Some(a)) if s == want_s && a == want_a => Owner::Ours,
                    (Some(s), Some(a)) if s == want_s => Owner::OtherAddress(a.to_string()),
                    (Some(s), _) => Owner::OtherStack(s.to_string()),
                    (None, _) => Owner::Unmarked,
                }
            }
        }
    }
}

/// A value as a GCP label takes it: itself when it fits (`[a-z0-9_-]`, at most 63), else
/// `h-` and 16 hex digits of a stable digest (FNV-1a 64) of it.
pub fn label_value(v: &str) -> String {
    let fits = v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if fits {
        return v.to_string();
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in v.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("h-{h:016x}")
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

    #[test]
    fn labels_carry_the_same_marks_within_gcps_rules() {
        let o = cairn_core::ownership::Ownership {
            stack: "shop-prod",
            address: "google_sql_database_instance.orders",
            token: Some("cairn-0123456789abcdef"),
        };
        let marks = Encoding::Labels.marks(&o);
        for (k, v) in &marks {
            assert!(k.starts_with("cairn-") && v.len() <= 63, "{k}={v}");
            assert!(
                v.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'),
                "{k}={v}"
            );
        }
        assert_eq!(marks[0].1, "shop-prod", "a value that fits is kept");
        assert!(
            marks[1].1.starts_with("h-"),
            "an address with dots is digested"
        );
        let view = marks.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        assert_eq!(
            Encoding::Labels.owner(
                "shop-prod",
                "google_sql_database_instance.orders",
                view.clone()
            ),
            Owner::Ours
        );
        assert!(matches!(
            Encoding::Labels.owner("shop-prod", "google_sql_database_instance.audit", view),
            Owner::OtherAddress(_)
        ));
    }

    #[test]
    fn tokens_become_stable_distinct_version_8_uuids() {
        let a = request_id("cairn-0123456789abcdef");
        assert_eq!(a, request_id("cairn-0123456789abcdef"), "stable");
        assert_ne!(a, request_id("cairn-0123456789abcdee"), "distinct");
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12],
            "{a}"
        );
        assert!(parts[2].starts_with('8'), "version 8: {a}");
        assert!(
            matches!(parts[3].chars().next(), Some('8' | '9' | 'a' | 'b')),
            "variant: {a}"
        );
        assert_ne!(a, "00000000-0000-0000-0000-000000000000");
    }
}
