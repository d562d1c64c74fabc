//! EC2 networking: VPCs, internet gateways, route tables and routes, subnets and their
//! route-table associations, security groups and their rules.
//!
//! Every taggable object is created with its ownership tags (`cairn:stack`,
//! `cairn:resource`) and the idempotency token of the call (`cairn:token`): after a crash,
//! a read by token finds what a half-finished create left, so it is adopted, not duplicated.
//! Reads are batched: one Describe per type (filters by id, 200 ids a page), whatever the
//! number of resources.

use crate::error::convert;
use crate::Ctx;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};

pub(crate) use crate::util::{TAG_RESOURCE, TAG_STACK, TAG_TOKEN};
pub(crate) const PAGE: usize = 200;

/// Ownership tags plus the user's `tags` attribute, as EC2 tags.
pub(crate) fn tags(stack: &str, address: &str, token: Option<&str>, attrs: &Attrs) -> Vec<Tag> {
    let mut out = vec![
        Tag::builder().key(TAG_STACK).value(stack).build(),
        Tag::builder().key(TAG_RESOURCE).value(address).build(),
    ];
    if let Some(t) = token {
        out.push(Tag::builder().key(TAG_TOKEN).value(t).build());
    }
    if let Some(Value::Map(m)) = attrs.get("tags") {
        for (k, v) in m {
            out.push(
                Tag::builder()
                    .key(k.as_str())
                    .value(v.as_str().unwrap_or_default())
                    .build(),
            );
        }
    }
    out
}

pub(crate) fn tag_spec(
    kind: ResourceType,
    stack: &str,
    address: &str,
    token: &str,
    attrs: &Attrs,
) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(tags(stack, address, Some(token), attrs)))
        .build()
}

/// The user's tags (ownership tags left out), or nothing when there are none, so a stack
/// without tags plans clean.
pub(crate) fn user_tags(attrs: &mut Attrs, tags: &[Tag]) {
    crate::util::set_user_tags(
        attrs,
        tags.iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
    );
}

pub(crate) fn str_attr<'a>(attrs: &'a Attrs, k: &str) -> &'a str {
    attrs.get(k).and_then(Value::as_str).unwrap_or_default()
}

pub(crate) fn bool_attr(attrs: &Attrs, k: &str) -> bool {
    attrs.get(k).and_then(Value::as_bool).unwrap_or(false)
}

pub(crate) fn int_attr(attrs: &Attrs, k: &str) -> Option<i32> {
    attrs.get(k).and_then(Value::as_int).map(|i| i as i32)
}

/// For a create EC2 cannot deduplicate (no client token, no unique name): sent once, never
/// re-sent by the SDK after it may have reached AWS (see `client::NoBlindResend`).
pub(crate) fn sent_once() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default().retry_classifier(crate::client::NoBlindResend)
}

pub(crate) fn found(id: &str, attrs: Attrs) -> ReadOutcome {
    ReadOutcome::Found {
        id: id.into(),
        attrs,
    }
}

/// Replace the user tags of `id` with those in `attrs` (ownership tags untouched).
pub(crate) async fn sync_tags(
    ctx: &Ctx,
    address: &str,
    id: &str,
    prior: &Attrs,
    attrs: &Attrs,
) -> Result<(), ProviderError> {
    let (removed, set) = crate::util::tag_changes(prior, attrs);
    if !removed.is_empty() {
        let keys = removed
            .into_iter()
            .map(|k| Tag::builder().key(k).build())
            .collect();
        ctx.c
            .ec2
            .delete_tags()
            .resources(id)
            .set_tags(Some(keys))
            .send()
            .await
            .map_err(|e| convert(address, e))?;
    }
    if !set.is_empty() {
        let tags = set
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        ctx.c
            .ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| convert(address, e))?;
    }
    Ok(())
}

/// Items of a read request split into lookups by id and by token (adoption).
/// (lookup key, address) pairs.
pub(crate) type Keys = Vec<(String, Text)>;

pub(crate) fn split(items: &[ReadItem]) -> (Keys, Keys) {
    let mut by_id = Vec::new();
    let mut by_token = Vec::new();
    for i in items {
        match (&i.id, &i.token) {
            (Some(id), _) => by_id.push((id.to_string(), i.address.clone())),
            (None, Some(t)) => by_token.push((t.to_string(), i.address.clone())),
            _ => {}
        }
    }
    (by_id, by_token)
}

/// AWS returns set-like lists (route tables, subnets, security groups) in its own order:
/// report them in the order state recorded (`prior`), members not in it last, so only a
/// change of membership is a difference.
pub(crate) fn order_like(prior: Option<&Value>, mut actual: Vec<String>) -> Value {
    let known: Vec<&str> = prior
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    actual.sort_by_key(|a| {
        (
            known.iter().position(|k| k == a).unwrap_or(usize::MAX),
            a.clone(),
        )
    });
    Value::List(actual.into_iter().map(Value::str).collect())
}

pub(crate) fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

/// Describe by id filter (pages of 200) and by token tag; map found ids to addresses.
macro_rules! batched_read {
    ($ctx:expr, $req:expr, $call:ident, $id_filter:expr, $items:ident, $id:ident, $to_attrs:expr) => {
        batched_read!($ctx, $req, $call, filters, $id_filter, $items, $id, $to_attrs)
    };
    ($ctx:expr, $req:expr, $call:ident, $filters:ident, $id_filter:expr, $items:ident, $id:ident, $to_attrs:expr) => {{
        let (by_id, by_token) = split(&$req.items);
        let mut results: BTreeMap<Text, ReadOutcome> = BTreeMap::new();
        let mut lookups: Vec<(Filter, Vec<(String, Text)>, bool)> = Vec::new();
        for chunk in by_id.chunks(PAGE) {
            lookups.push((
                filter($id_filter, chunk.iter().map(|(id, _)| id.clone())),
                chunk.to_vec(),
                true,
            ));
        }
        for chunk in by_token.chunks(PAGE) {
            lookups.push((
                filter(
                    &format!("tag:{TAG_TOKEN}"),
                    chunk.iter().map(|(t, _)| t.clone()),
                ),
                chunk.to_vec(),
                false,
            ));
        }
        for (f, keys, is_id) in lookups {
            let mut pages = $ctx.c.ec2.$call().$filters(f).into_paginator().send();
            let mut seen: BTreeMap<String, ReadOutcome> = BTreeMap::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| convert(&$req.type_name, e))?;
                for $items in page.$items() {
                    let $id = $items.$id().unwrap_or_default().to_string();
                    let token = $items
                        .tags()
                        .iter()
                        .find(|t| t.key() == Some(TAG_TOKEN))
                        .and_then(|t| t.value())
                        .unwrap_or_default()
                        .to_string();
                    let attrs: Attrs = $to_attrs;
                    let key = if is_id { $id.clone() } else { token };
                    seen.insert(key, found(&$id, attrs));
                }
            }
            for (key, address) in keys {
                results.insert(address, seen.remove(&key).unwrap_or(ReadOutcome::Gone));
            }
        }
        results
    }};
}

mod gateways;
mod network;
mod routes;
mod security;

pub(crate) use gateways::*;
pub(crate) use network::*;
pub(crate) use routes::*;
pub(crate) use security::*;
