//! Ownership metadata: what every object a provider creates carries so that a later run
//! (after a crash, or a refresh) tells this stack's objects from anyone else's.
//!
//! Defined once here; each provider encodes it in the form its cloud takes (AWS and Azure
//! tags `cairn:stack`, GCP labels `cairn-stack` with label-safe values, or a deterministic
//! name where a type carries neither), with the encodings in cairn-provider-kit. User tags
//! may not use the namespace, whatever the cloud.

/// Who made an object: the stack, the concrete address it was made for and, where the
/// cloud keeps one, the idempotency token of the create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ownership<'a> {
    /// Name of the stack that made the object.
    pub stack: &'a str,
    /// Concrete address it was made for, e.g. `aws_vpc.main`.
    pub address: &'a str,
    /// Idempotency token of the create, on clouds that keep one.
    pub token: Option<&'a str>,
}

/// Whether a tag key is in the namespace reserved for ownership marks: `cairn` followed by
/// `:`, `-` or `_` (the separators of the clouds' encodings), in any case.
pub fn is_reserved_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower
        .strip_prefix("cairn")
        .is_some_and(|rest| rest.starts_with([':', '-', '_']))
}

/// What a provider's cloud accepts as user tags (labels), checked by the engine before
/// lowering so a tag the cloud would refuse is an error naming the resource and the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagRules {
    /// Longest key, in characters.
    pub max_key: usize,
    /// Longest value, in characters.
    pub max_value: usize,
    /// User tags per object (the cloud's limit minus the ownership marks).
    pub max_tags: usize,
    /// Lowercase letters, digits, `_` and `-` only, starting with a letter (GCP labels);
    /// otherwise any characters.
    pub label_charset: bool,
}

impl TagRules {
    /// Why `key = value` is refused, if it is.
    pub fn check(&self, key: &str, value: &str) -> Option<String> {
        let label = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        };
        if key.chars().count() > self.max_key {
            return Some(format!(
                "the key is longer than {} characters",
                self.max_key
            ));
        }
        if value.chars().count() > self.max_value {
            return Some(format!(
                "the value is longer than {} characters",
                self.max_value
            ));
        }
        if self.label_charset
            && (!key.starts_with(|c: char| c.is_ascii_lowercase()) || !label(key) || !label(value))
        {
            return Some(
                "labels take lowercase letters, digits, '_' and '-' (keys start with a letter)"
                    .into(),
            );
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_is_reserved_in_every_clouds_spelling() {
        for k in ["cairn:stack", "cairn-stack", "CAIRN_token", "Cairn:x"] {
            assert!(is_reserved_key(k), "{k}");
        }
        for k in ["cairnish", "team", "my-cairn:x", "cairn"] {
            assert!(!is_reserved_key(k), "{k}");
        }
    }

    #[test]
    fn label_rules_refuse_what_gcp_refuses() {
        let labels = TagRules {
            max_key: 63,
            max_value: 63,
            max_tags: 61,
            label_charset: true,
        };
        assert_eq!(labels.check("team", "payments"), None);
        assert!(labels.check("Team", "payments").is_some());
        assert!(labels.check("team", "Payments EU").is_some());
        assert!(labels.check(&"k".repeat(64), "v").is_some());
    }
}
