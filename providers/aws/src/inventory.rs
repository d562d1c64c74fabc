//! Everything in the account marked as one stack's: the provider's half of
//! `Engine::inventory`.
//!
//! One listing per service, not per type: EC2 answers for all its types at once through
//! DescribeTags filtered on `cairn:stack`, and the other services are listed and their tags
//! read in the batches each API allows (ELB 20 ARNs per DescribeTags; RDS instances, MSK
//! clusters and secrets carry tags in their listing; RDS and ElastiCache groups need one
//! ListTagsForResource each, which is what their APIs offer). The type of an object comes
//! from the address its `cairn:resource` tag names, so a new marked type needs no table
//! here. Objects AWS still lists while deleting them (NAT gateways, endpoints, instances,
//! clusters, secrets scheduled for deletion) are left out: they are going.
//!
//! Routes, route table associations, MSK topics and the databases inside an instance
//! cannot carry tags: they live and die with a marked parent, so an orphaned one always
//! hangs under an orphaned parent that this listing finds.

use crate::error::convert;
use crate::util::{TAG_RESOURCE, TAG_STACK, TAG_TOKEN};
use crate::Ctx;
use aws_sdk_ec2::types::Filter;
use cairn_core::provider::{OwnedObject, ProviderError};
use std::collections::{BTreeMap, BTreeSet};

/// Tags of one object as (key, value) pairs.
type Pairs = Vec<(String, String)>;

/// Any service's tags as [`Pairs`] (each SDK has its own tag type, all with optional key
/// and value).
fn pairs<'a>(tags: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>) -> Pairs {
    tags.into_iter()
        .map(|(k, v)| {
            (
                k.unwrap_or_default().to_string(),
                v.unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// An object of `stack` when `pairs` mark it so; its type from the address it names
/// (`fallback` when a tag names none).
fn owned(stack: &str, id: &str, pairs: &Pairs, fallback: &str) -> Option<OwnedObject> {
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    if get(TAG_STACK) != Some(stack) {
        return None;
    }
    let address = get(TAG_RESOURCE).unwrap_or_default();
    let type_name = match address.split_once('.') {
        Some((t, _)) if t.starts_with("aws_") => t,
        _ => fallback,
    };
    Some(OwnedObject {
        type_name: type_name.into(),
        id: id.into(),
        address: address.into(),
        token: get(TAG_TOKEN).map(Into::into),
        kept: None,
    })
}

/// Every live object of `stack` the account holds, sorted.
pub(crate) async fn list(ctx: &Ctx, stack: &str) -> Result<Vec<OwnedObject>, ProviderError> {
    let (ec2, rds, cache, elb, secrets, msk) = tokio::try_join!(
        ec2(ctx, stack),
        rds(ctx, stack),
        elasticache(ctx, stack),
        elb(ctx, stack),
        secrets(ctx, stack),
        msk(ctx, stack),
    )?;
    let mut out: Vec<OwnedObject> = [ec2, rds, cache, elb, secrets, msk]
        .into_iter()
        .flatten()
        .collect();
    out.sort();
    Ok(out)
}

fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

/// EC2: the ids tagged `cairn:stack=<stack>`, then all their tags (for the address and
/// token), then the state of the types AWS keeps listing while they go.
async fn ec2(ctx: &Ctx, stack: &str) -> Result<Vec<OwnedObject>, ProviderError> {
    let ec2 = &ctx.c.ec2;
    let mut ids = BTreeSet::new();
    let mut pages = ec2
        .describe_tags()
        .filters(filter("key", [TAG_STACK.to_string()]))
        .filters(filter("value", [stack.to_string()]))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for t in page.map_err(|e| convert(stack, e))?.tags() {
            ids.extend(t.resource_id().map(str::to_string));
        }
    }
    let ids: Vec<String> = ids.into_iter().collect();
    let mut tags: BTreeMap<String, Pairs> = BTreeMap::new();
    for chunk in ids.chunks(200) {
        let mut pages = ec2
            .describe_tags()
            .filters(filter("resource-id", chunk.iter().cloned()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for t in page.map_err(|e| convert(stack, e))?.tags() {
                tags.entry(t.resource_id().unwrap_or_default().to_string())
                    .or_default()
                    .push((
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    ));
            }
        }
    }
    let going = ec2_going(ctx, stack, &ids).await?;
    Ok(tags
        .iter()
        .filter(|(id, _)| !going.contains(id.as_str()))
        .filter_map(|(id, pairs)| owned(stack, id, pairs, ec2_type(id)))
        .collect())
}

/// The type of an EC2 object by its id's prefix: for an object marked with the stack but no
/// address (tagged by hand), which the listing still reports.
fn ec2_type(id: &str) -> &'static str {
    const BY_PREFIX: &[(&str, &str)] = &[
        ("vpc-", "aws_vpc"),
        ("igw-", "aws_internet_gateway"),
        ("rtb-", "aws_route_table"),
        ("subnet-", "aws_subnet"),
        ("eipalloc-", "aws_eip"),
        ("nat-", "aws_nat_gateway"),
        ("vpce-", "aws_vpc_endpoint"),
        ("sgr-", "aws_security_group_rule"),
        ("sg-", "aws_security_group"),
    ];
    BY_PREFIX
        .iter()
        .find(|(p, _)| id.starts_with(p))
        .map(|(_, t)| *t)
        .unwrap_or("aws_ec2_object")
}

/// The NAT gateways and endpoints among `ids` that AWS lists as deleting or deleted.
async fn ec2_going(
    ctx: &Ctx,
    stack: &str,
    ids: &[String],
) -> Result<BTreeSet<String>, ProviderError> {
    let mut going = BTreeSet::new();
    let nats: Vec<String> = ids
        .iter()
        .filter(|i| i.starts_with("nat-"))
        .cloned()
        .collect();
    for chunk in nats.chunks(100) {
        let mut pages = ctx
            .c
            .ec2
            .describe_nat_gateways()
            .filter(filter("nat-gateway-id", chunk.iter().cloned()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for n in page.map_err(|e| convert(stack, e))?.nat_gateways() {
                if matches!(
                    n.state().map(|s| s.as_str()),
                    Some("deleted" | "deleting" | "failed")
                ) {
                    going.extend(n.nat_gateway_id().map(str::to_string));
                }
            }
        }
    }
    let endpoints: Vec<String> = ids
        .iter()
        .filter(|i| i.starts_with("vpce-"))
        .cloned()
        .collect();
    for chunk in endpoints.chunks(100) {
        let mut pages = ctx
            .c
            .ec2
            .describe_vpc_endpoints()
            .filters(filter("vpc-endpoint-id", chunk.iter().cloned()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for e in page.map_err(|e| convert(stack, e))?.vpc_endpoints() {
                if e.state().is_some_and(|s| {
                    let s = s.as_str();
                    s.eq_ignore_ascii_case("deleted") || s.eq_ignore_ascii_case("deleting")
                }) {
                    going.extend(e.vpc_endpoint_id().map(str::to_string));
                }
            }
        }
    }
    Ok(going)
}

/// RDS: instances carry their tags in the listing; subnet and parameter groups are read
/// one ListTagsForResource each.
async fn rds(ctx: &Ctx, stack: &str) -> Result<Vec<OwnedObject>, ProviderError> {
    let rds = &ctx.c.rds;
    let rds_pairs =
        |tags: &[aws_sdk_rds::types::Tag]| pairs(tags.iter().map(|t| (t.key(), t.value())));
    let tags_of = |arn: String| async move {
        rds.list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .map(|t| rds_pairs(t.tag_list()))
            .map_err(|e| convert(stack, e))
    };
    let mut out = Vec::new();
    let mut pages = rds.describe_db_instances().into_paginator().send();
    while let Some(page) = pages.next().await {
        for d in page.map_err(|e| convert(stack, e))?.db_instances() {
            if d.db_instance_status() == Some("deleting") {
                continue;
            }
            let id = d.db_instance_identifier().unwrap_or_default();
            out.extend(owned(
                stack,
                id,
                &rds_pairs(d.tag_list()),
                "aws_db_instance",
            ));
        }
    }
    let mut pages = rds.describe_db_subnet_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        for g in page.map_err(|e| convert(stack, e))?.db_subnet_groups() {
            let tags = tags_of(g.db_subnet_group_arn().unwrap_or_default().to_string()).await?;
            let id = g.db_subnet_group_name().unwrap_or_default();
            out.extend(owned(stack, id, &tags, "aws_db_subnet_group"));
        }
    }
    let mut pages = rds.describe_db_parameter_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        for g in page.map_err(|e| convert(stack, e))?.db_parameter_groups() {
            // The defaults AWS makes are never a stack's: no tag read for them.
            if g.db_parameter_group_name()
                .is_some_and(|n| n.starts_with("default."))
            {
                continue;
            }
            let tags = tags_of(g.db_parameter_group_arn().unwrap_or_default().to_string()).await?;
            let id = g.db_parameter_group_name().unwrap_or_default();
            out.extend(owned(stack, id, &tags, "aws_db_parameter_group"));
        }
    }
    Ok(out)
}

/// ElastiCache: replication groups and subnet groups, one ListTagsForResource each.
async fn elasticache(ctx: &Ctx, stack: &str) -> Result<Vec<OwnedObject>, ProviderError> {
    let ec = &ctx.c.elasticache;
    let tags_of = |arn: String| async move {
        ec.list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .map(|t| pairs(t.tag_list().iter().map(|t| (t.key(), t.value()))))
            .map_err(|e| convert(stack, e))
    };
    let mut out = Vec::new();
    let mut pages = ec.describe_replication_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        for g in page.map_err(|e| convert(stack, e))?.replication_groups() {
            if g.status() == Some("deleting") {
                continue;
            }
            let tags = tags_of(g.arn().unwrap_or_default().to_string()).await?;
            let id = g.replication_group_id().unwrap_or_default();
            out.extend(owned(stack, id, &tags, "aws_elasticache_replication_group"));
        }
    }
    let mut pages = ec.describe_cache_subnet_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        for g in page.map_err(|e| convert(stack, e))?.cache_subnet_groups() {
            if g.cache_subnet_group_name() == Some("default") {
                continue;
            }
            let tags = tags_of(g.arn().unwrap_or_default().to_string()).await?;
            let id = g.cache_subnet_group_name().unwrap_or_default();
            out.extend(owned(stack, id, &tags, "aws_elasticache_subnet_group"));
        }
    }
    Ok(out)
}

/// ELB: balancers and target groups, the listeners of each balancer and the rules of each
/// listener (the API lists them per parent), their tags 20 ARNs per DescribeTags.
async fn elb(ctx: &Ctx, stack: &str) -> Result<Vec<OwnedObject>, ProviderError> {
    let elb = &ctx.c.elbv2;
    let mut arns: Vec<(String, &'static str)> = Vec::new();
    let mut balancers = Vec::new();
    let mut pages = elb.describe_load_balancers().into_paginator().send();
    while let Some(page) = pages.next().await {
        for lb in page.map_err(|e| convert(stack, e))?.load_balancers() {
            balancers.extend(lb.load_balancer_arn().map(str::to_string));
        }
    }
    let mut pages = elb.describe_target_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        for tg in page.map_err(|e| convert(stack, e))?.target_groups() {
            arns.extend(
                tg.target_group_arn()
                    .map(|a| (a.to_string(), "aws_lb_target_group")),
            );
        }
    }
    for lb in &balancers {
        let mut pages = elb
            .describe_listeners()
            .load_balancer_arn(lb)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for l in page.map_err(|e| convert(stack, e))?.listeners() {
                let Some(listener) = l.listener_arn() else {
                    continue;
                };
                arns.push((listener.to_string(), "aws_lb_listener"));
                // DescribeRules has a marker but no paginator in the SDK.
                let mut marker = None;
                loop {
                    let page = elb
                        .describe_rules()
                        .listener_arn(listener)
                        .set_marker(marker.take())
                        .send()
                        .await
                        .map_err(|e| convert(stack, e))?;
                    for r in page.rules() {
                        if r.is_default() != Some(true) {
                            arns.extend(
                                r.rule_arn()
                                    .map(|a| (a.to_string(), "aws_lb_listener_rule")),
                            );
                        }
                    }
                    match page.next_marker() {
                        Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                        _ => break,
                    }
                }
            }
        }
        arns.push((lb.clone(), "aws_lb"));
    }
    let fallback: BTreeMap<&str, &str> = arns.iter().map(|(a, t)| (a.as_str(), *t)).collect();
    let mut out = Vec::new();
    let all: Vec<String> = arns.iter().map(|(a, _)| a.clone()).collect();
    for chunk in all.chunks(20) {
        let t = elb
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| convert(stack, e))?;
        for d in t.tag_descriptions() {
            let arn = d.resource_arn().unwrap_or_default();
            let tags = pairs(d.tags().iter().map(|t| (t.key(), t.value())));
            let kind = fallback.get(arn).copied().unwrap_or("aws_lb");
            out.extend(owned(stack, arn, &tags, kind));
        }
    }
    Ok(out)
}

/// Secrets Manager: listed by the stack tag (one call a page), scheduled deletions left out.
async fn secrets(ctx: &Ctx, stack: &str) -> Result<Vec<OwnedObject>, ProviderError> {
    use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
    let by =
        |name: FilterNameStringType, value: &str| Filter::builder().key(name).values(value).build();
    let mut out = Vec::new();
    let mut pages = ctx
        .c
        .secrets
        .list_secrets()
        .filters(by(FilterNameStringType::TagKey, TAG_STACK))
        .filters(by(FilterNameStringType::TagValue, stack))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for s in page.map_err(|e| convert(stack, e))?.secret_list() {
            if s.deleted_date().is_some() {
                continue;
            }
            let tags = pairs(s.tags().iter().map(|t| (t.key(), t.value())));
            let arn = s.arn().unwrap_or_default();
            out.extend(owned(stack, arn, &tags, "aws_secretsmanager_secret"));
        }
    }
    Ok(out)
}

/// MSK: clusters carry their tags in the listing.
async fn msk(ctx: &Ctx, stack: &str) -> Result<Vec<OwnedObject>, ProviderError> {
    let mut out = Vec::new();
    let mut pages = ctx.c.kafka.list_clusters().into_paginator().send();
    while let Some(page) = pages.next().await {
        for c in page.map_err(|e| convert(stack, e))?.cluster_info_list() {
            if c.state().map(|s| s.as_str()) == Some("DELETING") {
                continue;
            }
            let tags: Pairs = c
                .tags()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            let arn = c.cluster_arn().unwrap_or_default();
            out.extend(owned(stack, arn, &tags, "aws_msk_cluster"));
        }
    }
    Ok(out)
}
