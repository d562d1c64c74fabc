//! ElastiCache for Redis: cache subnet groups here, replication groups in `group.rs`.
//!
//! Replication groups are asynchronous (create/modify wait for `available`, delete for the
//! group to disappear). The AUTH token is write-only: AWS never returns it, so reads keep
//! the digest state recorded, and a change rotates it with the `ROTATE` strategy.

use crate::error::{convert, is_not_found};
use crate::util::{created_by_name, flag as b, list, s, tag_pairs};
use crate::wait::{self, Poll};
use crate::Ctx;
use aws_sdk_elasticache::types::{AuthTokenUpdateStrategyType, Tag};
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Match listed objects to the request (by id, or an interrupted create's by ownership);
/// the AUTH token keeps what state recorded, and lists keep the declared order.
fn found_or_gone(
    req: &ReadRequest,
    by_id: BTreeMap<String, Attrs>,
    by_address: &BTreeMap<String, String>,
) -> BTreeMap<Text, ReadOutcome> {
    cairn_provider_kit::adopt::match_listed(&req.items, by_id, by_address, |i, mut attrs| {
        for (k, v) in &i.prior {
            if matches!(v, Value::Sensitive(_)) {
                attrs.insert(k.clone(), v.clone());
            }
            if (k == "subnet_ids" || k == "security_group_ids") && attrs.contains_key(k.as_str()) {
                let actual = list(&attrs, k);
                attrs.insert(k.clone(), crate::ec2::order_like(Some(v), actual));
            }
        }
        attrs
    })
}

/// The user's tags of an ElastiCache object (listings do not carry them).
/// The ownership tags of the object `arn`: (`cairn:stack`, `cairn:resource`).
async fn owner_of(
    ctx: &Ctx,
    address: &str,
    arn: &str,
) -> Result<Option<(String, String)>, ProviderError> {
    let t = ctx
        .c
        .elasticache
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| convert(address, e))?;
    let pairs = || {
        t.tag_list()
            .iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
    };
    let stack = pairs()
        .find(|(k, _)| *k == crate::ec2::TAG_STACK)
        .map(|(_, v)| v);
    Ok(stack
        .zip(crate::util::owner(pairs()))
        .map(|(s, a)| (s.to_string(), a.to_string())))
}

/// An ElastiCache object a create found under its name: adopt it when its tags say this
/// stack made it for this address (an interrupted run), refuse otherwise.
pub(super) async fn adopt_tagged(
    ctx: &Ctx,
    req: &CreateRequest,
    what: &str,
    arn: &str,
) -> Result<(), ProviderError> {
    let t = ctx
        .c
        .elasticache
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    crate::util::adopt_named(
        req,
        what,
        arn,
        t.tag_list()
            .iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
    )
}

async fn read_tags(
    ctx: &Ctx,
    address: &str,
    arn: &str,
    attrs: &mut Attrs,
) -> Result<(), ProviderError> {
    let t = ctx
        .c
        .elasticache
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| convert(address, e))?;
    crate::util::set_user_tags(
        attrs,
        t.tag_list()
            .iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Cache subnet group

pub(crate) async fn create_subnet_group(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let sent = ctx
        .c
        .elasticache
        .create_cache_subnet_group()
        .cache_subnet_group_name(s(a, "name"))
        .cache_subnet_group_description(s(a, "description"))
        .set_subnet_ids(Some(list(a, "subnet_ids")))
        .set_tags(Some(tags(&req.stack, &req.address, a)))
        .send()
        .await;
    let arn = match sent {
        Ok(out) => out
            .cache_subnet_group()
            .and_then(|g| g.arn())
            .map(str::to_string),
        Err(e) if crate::error::code(&e).as_deref() == Some("CacheSubnetGroupAlreadyExists") => {
            let found = ctx
                .c
                .elasticache
                .describe_cache_subnet_groups()
                .cache_subnet_group_name(s(a, "name"))
                .send()
                .await
                .map_err(|e| convert(&req.address, e))?;
            let arn = found
                .cache_subnet_groups()
                .first()
                .and_then(|g| g.arn())
                .unwrap_or_default()
                .to_string();
            // Made from this declaration by the interrupted run; should the declaration have
            // changed since, the next refresh sees the difference and plans the update.
            adopt_tagged(ctx, req, "cache subnet group", &arn).await?;
            Some(arn)
        }
        Err(e) => return Err(convert(&req.address, e)),
    };
    Ok(created_by_name(a, arn.as_deref()))
}

pub(crate) async fn read_subnet_groups(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut by_id = BTreeMap::new();
    let mut pages = ctx
        .c
        .elasticache
        .describe_cache_subnet_groups()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for g in page
            .map_err(|e| convert(&req.type_name, e))?
            .cache_subnet_groups()
        {
            let name = g.cache_subnet_group_name().unwrap_or_default().to_string();
            let mut a = Attrs::new();
            a.insert("id".into(), Value::str(&name));
            a.insert("name".into(), Value::str(&name));
            a.insert(
                "description".into(),
                Value::str(g.cache_subnet_group_description().unwrap_or_default()),
            );
            a.insert("arn".into(), Value::str(g.arn().unwrap_or_default()));
            a.insert(
                "subnet_ids".into(),
                Value::List(
                    g.subnets()
                        .iter()
                        .filter_map(|x| x.subnet_identifier())
                        .map(Value::str)
                        .collect(),
                ),
            );
            by_id.insert(name, a);
        }
    }
    // Names are deterministic: a half-created group is found by the name it was given.
    let by_address = req
        .items
        .iter()
        .filter_map(|i| {
            Some((
                i.address.to_string(),
                i.prior.get("name")?.as_str()?.to_string(),
            ))
        })
        .collect();
    let mut results = found_or_gone(req, by_id, &by_address);
    for (address, outcome) in results.iter_mut() {
        if let ReadOutcome::Found { attrs, .. } = outcome {
            let arn = s(attrs, "arn").to_string();
            read_tags(ctx, address, &arn, attrs).await?;
        }
    }
    Ok(results)
}

async fn sync_tags(
    ctx: &Ctx,
    address: &str,
    arn: &str,
    prior: &Attrs,
    attrs: &Attrs,
) -> Result<(), ProviderError> {
    let (removed, set) = crate::util::tag_changes(prior, attrs);
    if !removed.is_empty() {
        ctx.c
            .elasticache
            .remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(removed))
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
            .elasticache
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| convert(address, e))?;
    }
    Ok(())
}

pub(crate) async fn update_subnet_group(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    ctx.c
        .elasticache
        .modify_cache_subnet_group()
        .cache_subnet_group_name(s(a, "name"))
        .cache_subnet_group_description(s(a, "description"))
        .set_subnet_ids(Some(list(a, "subnet_ids")))
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    if req.changed.iter().any(|c| c == "tags") {
        sync_tags(ctx, &req.address, s(&req.prior, "arn"), &req.prior, a).await?;
    }
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&req.id));
    attrs.insert(
        "arn".into(),
        req.prior.get("arn").cloned().unwrap_or(Value::Null),
    );
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete_subnet_group(
    ctx: &Ctx,
    req: &DeleteRequest,
) -> Result<(), ProviderError> {
    ctx.retry_dependency(&req.address, &req.progress, || async {
        ctx.c
            .elasticache
            .delete_cache_subnet_group()
            .cache_subnet_group_name(req.id.as_str())
            .send()
            .await
            .map(|_| ())
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Replication group

mod group;
pub(crate) use group::{create_group, delete_group, read_groups, update_group};

fn tags(stack: &str, address: &str, attrs: &Attrs) -> Vec<Tag> {
    tag_pairs(stack, address, None, attrs)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}
