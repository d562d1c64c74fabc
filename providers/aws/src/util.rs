//! Small helpers every service module shares: reading typed values out of attribute maps,
//! and ownership/user tags as plain pairs (each SDK has its own `Tag` type).

use cairn_core::provider::CreateResponse;
use cairn_core::value::{Attrs, Text, Value};

pub(crate) use cairn_provider_kit::ownership::{
    RESOURCE as TAG_RESOURCE, STACK as TAG_STACK, TOKEN as TAG_TOKEN,
};

/// A string attribute, empty when unset.
pub(crate) fn s<'a>(a: &'a Attrs, k: &str) -> &'a str {
    a.get(k).and_then(Value::as_str).unwrap_or_default()
}

pub(crate) fn flag(a: &Attrs, k: &str) -> bool {
    a.get(k).and_then(Value::as_bool).unwrap_or(false)
}

pub(crate) fn int(a: &Attrs, k: &str) -> Option<i32> {
    a.get(k).and_then(Value::as_int).map(|i| i as i32)
}

/// A list of strings (ids, ARNs, patterns).
pub(crate) fn list(a: &Attrs, k: &str) -> Vec<String> {
    a.get(k)
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// Ownership tags, the call's token when given, then the user's `tags` attribute.
pub(crate) fn tag_pairs(
    stack: &str,
    address: &str,
    token: Option<&str>,
    attrs: &Attrs,
) -> Vec<(String, String)> {
    let mut out = vec![
        (TAG_STACK.to_string(), stack.to_string()),
        (TAG_RESOURCE.to_string(), address.to_string()),
    ];
    if let Some(t) = token {
        out.push((TAG_TOKEN.to_string(), t.to_string()));
    }
    if let Some(Value::Map(m)) = attrs.get("tags") {
        out.extend(
            m.iter()
                .map(|(k, v)| (k.to_string(), v.as_str().unwrap_or_default().to_string())),
        );
    }
    out
}

/// Record the user's tags (ownership tags left out) under `tags`, or nothing when there are
/// none, so a stack without tags plans clean.
pub(crate) fn set_user_tags<'a>(
    attrs: &mut Attrs,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    let m: Attrs = pairs
        .into_iter()
        .filter(|(k, _)| !k.starts_with("cairn:"))
        .map(|(k, v)| (Text::from(k), Value::str(v)))
        .collect();
    if !m.is_empty() {
        attrs.insert("tags".into(), Value::Map(m));
    }
}

/// What a change of the user's `tags` needs: the keys to remove (gone from the new map)
/// and the pairs to set (the whole new map; setting an unchanged tag is harmless, removing
/// and re-adding one would leave the object untagged in between).
pub(crate) fn tag_changes(prior: &Attrs, attrs: &Attrs) -> (Vec<String>, Vec<(String, String)>) {
    let new = attrs.get("tags").and_then(Value::as_map);
    let removed = prior
        .get("tags")
        .and_then(Value::as_map)
        .into_iter()
        .flatten()
        .filter(|(k, _)| !new.is_some_and(|n| n.contains_key(k.as_str())))
        .map(|(k, _)| k.to_string())
        .collect();
    let set = new
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.to_string(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    (removed, set)
}

/// The `cairn:resource` tag among `pairs`.
pub(crate) fn owner<'a>(mut pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Option<&'a str> {
    pairs.find(|(k, _)| *k == TAG_RESOURCE).map(|(_, v)| v)
}

/// The response for objects AWS names by the `name` we chose (subnet and parameter groups):
/// the name is the id, and the ARN AWS returned is recorded beside it.
pub(crate) fn created_by_name(a: &Attrs, arn: Option<&str>) -> CreateResponse {
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(s(a, "name")));
    attrs.insert("arn".into(), Value::str(arn.unwrap_or_default()));
    CreateResponse {
        id: s(a, "name").into(),
        attrs,
    }
}

/// A create met an object under its natural key (a name AWS made unique): adopt it when its
/// ownership tags say this stack made it for this address, refuse otherwise (kit rules).
pub(crate) fn adopt_named<'a>(
    req: &cairn_core::provider::CreateRequest,
    what: &str,
    id: &str,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), cairn_core::provider::ProviderError> {
    use cairn_provider_kit::{adopt, ownership};
    let found = ownership::owner(&req.stack, &req.address, tags).into();
    adopt::decide(&req.address, what, id, found, &req.progress)
}
