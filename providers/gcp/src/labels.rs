//! Labels on the GCP types that carry them: cairn's ownership marks beside the user's
//! tags, and the user's tags read back without the marks. One place, so every labelled
//! type marks and judges ownership alike.

use cairn_core::ownership::{is_reserved_key, Ownership};
use cairn_core::value::{Attrs, Text, Value};
use cairn_provider_kit::ownership::{Encoding, Owner};
use std::collections::HashMap;

/// The marks of `stack`/`address` (and the create's `token`, when given) and the user's
/// `labels` attribute, as the object carries them.
pub(crate) fn marked(
    stack: &str,
    address: &str,
    token: Option<&str>,
    a: &Attrs,
) -> Vec<(String, String)> {
    let mut out = Encoding::Labels.marks(&Ownership {
        stack,
        address,
        token,
    });
    if let Some(Value::Map(m)) = a.get("labels") {
        out.extend(
            m.iter()
                .map(|(k, v)| (k.to_string(), v.as_str().unwrap_or_default().to_string())),
        );
    }
    out
}

/// The user's labels of an object (its marks left out), as the `labels` attribute.
pub(crate) fn user(labels: &HashMap<String, String>) -> Value {
    Value::Map(
        labels
            .iter()
            .filter(|(k, _)| !is_reserved_key(k))
            .map(|(k, v)| (Text::from(k.as_str()), Value::str(v)))
            .collect::<Attrs>(),
    )
}

/// Whose an object is, by its labels.
pub(crate) fn owner(stack: &str, address: &str, labels: &HashMap<String, String>) -> Owner {
    Encoding::Labels.owner(
        stack,
        address,
        labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
}
