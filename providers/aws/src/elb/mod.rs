//! Application load balancers: the balancer, target groups, listeners and listener rules.
//!
//! A new balancer is `provisioning` until `active`; create waits for it. Listener default
//! actions are either a forward to a target group or a compact action string:
//! `redirect:PROTOCOL:PORT:HTTP_301` or `fixed-response:STATUS`. Reads are one Describe per
//! type (listeners and rules are listed per balancer and listener, which is what the API
//! offers).

use crate::error::{convert, is_not_found};
use crate::util::{int, list, s, tag_pairs};
use crate::wait::{self, Poll};
use crate::Ctx;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, LoadBalancerSchemeEnum,
    LoadBalancerStateEnum, LoadBalancerTypeEnum, Matcher, PathPatternConditionConfig, ProtocolEnum,
    RedirectActionConfig, RedirectActionStatusCodeEnum, RuleCondition, Tag, TargetTypeEnum,
};
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// What DescribeTags says about a set of objects: their user tags, and which of them this
/// stack owns, by address (from the ownership tags).
#[derive(Default)]
struct Tagged {
    user: BTreeMap<String, Attrs>,
    owned: BTreeMap<String, String>,
}

/// Tags of many objects in one call (DescribeTags takes up to 20 ARNs).
async fn tags_of(
    ctx: &Ctx,
    what: &str,
    stack: &str,
    arns: &[String],
) -> Result<Tagged, ProviderError> {
    let mut out = Tagged::default();
    for chunk in arns.chunks(20) {
        let t = ctx
            .c
            .elbv2
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| convert(what, e))?;
        for d in t.tag_descriptions() {
            let arn = d.resource_arn().unwrap_or_default().to_string();
            let pairs = || {
                d.tags()
                    .iter()
                    .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
            };
            let ours = pairs().any(|(k, v)| k == crate::ec2::TAG_STACK && v == stack);
            if let (true, Some(address)) = (ours, crate::util::owner(pairs())) {
                out.owned.insert(address.to_string(), arn.clone());
            }
            let mut m = Attrs::new();
            crate::util::set_user_tags(
                &mut m,
                d.tags()
                    .iter()
                    .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
            );
            let m = match m.remove("tags") {
                Some(Value::Map(m)) => m,
                _ => Attrs::new(),
            };
            out.user.insert(arn, m);
        }
    }
    Ok(out)
}

pub(crate) async fn sync_tags(
    ctx: &Ctx,
    address: &str,
    arn: &str,
    prior: &Attrs,
    attrs: &Attrs,
) -> Result<(), ProviderError> {
    let (removed, set) = crate::util::tag_changes(prior, attrs);
    if !removed.is_empty() {
        ctx.c
            .elbv2
            .remove_tags()
            .resource_arns(arn)
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
            .elbv2
            .add_tags()
            .resource_arns(arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| convert(address, e))?;
    }
    Ok(())
}

/// Found objects (by ARN) matched to the request, with their tags.
pub(crate) async fn finish(
    ctx: &Ctx,
    req: &ReadRequest,
    mut by_arn: BTreeMap<String, Attrs>,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut wanted: Vec<String> = req
        .items
        .iter()
        .filter_map(|i| i.id.as_deref().map(str::to_string))
        .filter(|id| by_arn.contains_key(id))
        .collect();
    // Items without an id are creates a crash interrupted: look for objects tagged with
    // their address among those nobody else claimed.
    if req.items.iter().any(|i| i.id.is_none()) {
        let claimed: std::collections::BTreeSet<String> = wanted.iter().cloned().collect();
        wanted.extend(by_arn.keys().filter(|a| !claimed.contains(*a)).cloned());
    }
    let tags = tags_of(ctx, &req.type_name, &req.stack, &wanted).await?;
    Ok(req
        .items
        .iter()
        .map(|i| {
            let arn = match &i.id {
                Some(id) => Some(id.to_string()),
                None => tags.owned.get(i.address.as_str()).cloned(),
            };
            let outcome = arn.and_then(|arn| {
                let mut attrs = by_arn.remove(&arn)?;
                if let Some(t) = tags.user.get(&arn).filter(|t| !t.is_empty()) {
                    attrs.insert("tags".into(), Value::Map(t.clone()));
                }
                for k in ["subnets", "security_groups", "path_patterns"] {
                    if let (Some(p), true) = (i.prior.get(k), attrs.contains_key(k)) {
                        let actual = list(&attrs, k);
                        attrs.insert(k.into(), crate::ec2::order_like(Some(p), actual));
                    }
                }
                Some(ReadOutcome::Found {
                    id: arn.as_str().into(),
                    attrs,
                })
            });
            (i.address.clone(), outcome.unwrap_or(ReadOutcome::Gone))
        })
        .collect())
}

// ---------------------------------------------------------------------------------------
// Load balancer

fn lb_attrs(lb: &aws_sdk_elasticloadbalancingv2::types::LoadBalancer) -> Attrs {
    let mut a = Attrs::new();
    let arn = lb.load_balancer_arn().unwrap_or_default();
    a.insert("id".into(), Value::str(arn));
    a.insert("arn".into(), Value::str(arn));
    a.insert(
        "name".into(),
        Value::str(lb.load_balancer_name().unwrap_or_default()),
    );
    a.insert(
        "internal".into(),
        Value::Bool(lb.scheme() == Some(&LoadBalancerSchemeEnum::Internal)),
    );
    a.insert(
        "load_balancer_type".into(),
        Value::str(lb.r#type().map(|t| t.as_str()).unwrap_or("application")),
    );
    a.insert(
        "subnets".into(),
        Value::List(
            lb.availability_zones()
                .iter()
                .filter_map(|z| z.subnet_id())
                .map(Value::str)
                .collect(),
        ),
    );
    a.insert(
        "security_groups".into(),
        Value::List(lb.security_groups().iter().map(Value::str).collect()),
    );
    a.insert(
        "dns_name".into(),
        Value::str(lb.dns_name().unwrap_or_default()),
    );
    a
}

pub(crate) async fn create_lb(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let internal = a.get("internal").and_then(Value::as_bool).unwrap_or(false);
    let out = ctx
        .c
        .elbv2
        .create_load_balancer()
        .name(s(a, "name"))
        .r#type(LoadBalancerTypeEnum::Application)
        .scheme(if internal {
            LoadBalancerSchemeEnum::Internal
        } else {
            LoadBalancerSchemeEnum::InternetFacing
        })
        .set_subnets(Some(list(a, "subnets")))
        .set_security_groups(Some(list(a, "security_groups")))
        .set_tags(Some(tags(&req.stack, &req.address, a)))
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    let arn = out
        .load_balancers()
        .first()
        .and_then(|l| l.load_balancer_arn())
        .unwrap_or_default()
        .to_string();
    let mut read = wait::until(
        &req.address,
        "load balancer",
        &req.progress,
        ctx.options.create_timeout,
        Duration::from_millis(200),
        || async {
            let out = ctx
                .c
                .elbv2
                .describe_load_balancers()
                .load_balancer_arns(&arn)
                .send()
                .await
                .map_err(|e| convert(&req.address, e))?;
            let Some(lb) = out.load_balancers().first() else {
                return Ok(Poll::Failed("disappeared".into()));
            };
            Ok(match lb.state().and_then(|s| s.code()) {
                Some(LoadBalancerStateEnum::Active) => Poll::Ready(lb_attrs(lb)),
                Some(LoadBalancerStateEnum::Failed) => Poll::Failed("failed".into()),
                other => Poll::Pending(other.map(|c| c.as_str().to_string()).unwrap_or_default()),
            })
        },
    )
    .await?;
    if let Some(t) = a.get("tags") {
        read.insert("tags".into(), t.clone());
    }
    for k in ["subnets", "security_groups"] {
        let actual = list(&read, k);
        read.insert(k.into(), crate::ec2::order_like(a.get(k), actual));
    }
    Ok(CreateResponse {
        id: arn.into(),
        attrs: read,
    })
}

pub(crate) async fn read_lbs(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut by_arn = BTreeMap::new();
    let mut pages = ctx
        .c
        .elbv2
        .describe_load_balancers()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for lb in page
            .map_err(|e| convert(&req.type_name, e))?
            .load_balancers()
        {
            by_arn.insert(
                lb.load_balancer_arn().unwrap_or_default().to_string(),
                lb_attrs(lb),
            );
        }
    }
    finish(ctx, req, by_arn).await
}

pub(crate) async fn update_lb(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    let changed = |k: &str| req.changed.iter().any(|c| c == k);
    if changed("subnets") {
        ctx.c
            .elbv2
            .set_subnets()
            .load_balancer_arn(req.id.as_str())
            .set_subnets(Some(list(a, "subnets")))
            .send()
            .await
            .map_err(|e| convert(&req.address, e))?;
    }
    if changed("security_groups") {
        ctx.c
            .elbv2
            .set_security_groups()
            .load_balancer_arn(req.id.as_str())
            .set_security_groups(Some(list(a, "security_groups")))
            .send()
            .await
            .map_err(|e| convert(&req.address, e))?;
    }
    if changed("tags") {
        sync_tags(ctx, &req.address, &req.id, &req.prior, a).await?;
    }
    let mut attrs = a.clone();
    for k in ["id", "arn", "dns_name"] {
        if let Some(v) = req.prior.get(k) {
            attrs.insert(k.into(), v.clone());
        }
    }
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete_lb(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    match ctx
        .c
        .elbv2
        .delete_load_balancer()
        .load_balancer_arn(req.id.as_str())
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(convert(&req.address, e)),
    }
}

// ---------------------------------------------------------------------------------------
// Target group

fn tg_attrs(t: &aws_sdk_elasticloadbalancingv2::types::TargetGroup) -> Attrs {
    let mut a = Attrs::new();
    let arn = t.target_group_arn().unwrap_or_default();
    a.insert("id".into(), Value::str(arn));
    a.insert("arn".into(), Value::str(arn));
    a.insert(
        "name".into(),
        Value::str(t.target_group_name().unwrap_or_default()),
    );
    a.insert("port".into(), Value::Int(i64::from(t.port().unwrap_or(0))));
    a.insert(
        "protocol".into(),
        Value::str(t.protocol().map(|p| p.as_str()).unwrap_or_default()),
    );
    a.insert(
        "target_type".into(),
        Value::str(t.target_type().map(|p| p.as_str()).unwrap_or("instance")),
    );
    a.insert("vpc_id".into(), Value::str(t.vpc_id().unwrap_or_default()));
    a.insert(
        "health_check_path".into(),
        Value::str(t.health_check_path().unwrap_or_default()),
    );
    a.insert(
        "health_check_interval".into(),
        Value::Int(i64::from(t.health_check_interval_seconds().unwrap_or(30))),
    );
    a.insert(
        "health_check_timeout".into(),
        Value::Int(i64::from(t.health_check_timeout_seconds().unwrap_or(5))),
    );
    a.insert(
        "healthy_threshold".into(),
        Value::Int(i64::from(t.healthy_threshold_count().unwrap_or(5))),
    );
    a.insert(
        "unhealthy_threshold".into(),
        Value::Int(i64::from(t.unhealthy_threshold_count().unwrap_or(2))),
    );
    a.insert(
        "matcher".into(),
        Value::str(t.matcher().and_then(|m| m.http_code()).unwrap_or("200")),
    );
    a
}

pub(crate) async fn create_tg(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let out = ctx
        .c
        .elbv2
        .create_target_group()
        .name(s(a, "name"))
        .set_port(int(a, "port"))
        .protocol(ProtocolEnum::from(s(a, "protocol")))
        .target_type(TargetTypeEnum::from(s(a, "target_type")))
        .vpc_id(s(a, "vpc_id"))
        .health_check_path(s(a, "health_check_path"))
        .set_health_check_interval_seconds(int(a, "health_check_interval"))
        .set_health_check_timeout_seconds(int(a, "health_check_timeout"))
        .set_healthy_threshold_count(int(a, "healthy_threshold"))
        .set_unhealthy_threshold_count(int(a, "unhealthy_threshold"))
        .matcher(Matcher::builder().http_code(s(a, "matcher")).build())
        .set_tags(Some(tags(&req.stack, &req.address, a)))
        .send()
        .await;
    let arn = match out {
        Ok(out) => out
            .target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .unwrap_or_default()
            .to_string(),
        // Target group names are unique per region: an interrupted run of this stack may
        // have made it (names derive from the declaration, see lowering).
        Err(e) if crate::error::code(&e).as_deref() == Some("DuplicateTargetGroupName") => {
            let found = ctx
                .c
                .elbv2
                .describe_target_groups()
                .names(s(a, "name"))
                .send()
                .await
                .map_err(|e| convert(&req.address, e))?;
            let arn = found
                .target_groups()
                .first()
                .and_then(|t| t.target_group_arn())
                .unwrap_or_default()
                .to_string();
            let t = ctx
                .c
                .elbv2
                .describe_tags()
                .resource_arns(&arn)
                .send()
                .await
                .map_err(|e| convert(&req.address, e))?;
            crate::util::adopt_named(
                req,
                "target group",
                s(a, "name"),
                t.tag_descriptions()
                    .iter()
                    .flat_map(|d| d.tags())
                    .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
            )?;
            arn
        }
        Err(e) => return Err(convert(&req.address, e)),
    };
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&arn));
    attrs.insert("arn".into(), Value::str(&arn));
    Ok(CreateResponse {
        id: arn.into(),
        attrs,
    })
}

pub(crate) async fn read_tgs(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut by_arn = BTreeMap::new();
    let mut pages = ctx.c.elbv2.describe_target_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        for t in page
            .map_err(|e| convert(&req.type_name, e))?
            .target_groups()
        {
            by_arn.insert(
                t.target_group_arn().unwrap_or_default().to_string(),
                tg_attrs(t),
            );
        }
    }
    finish(ctx, req, by_arn).await
}

pub(crate) async fn update_tg(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    if req
        .changed
        .iter()
        .any(|c| c.starts_with("health_check") || c.ends_with("threshold") || c == "matcher")
    {
        ctx.c
            .elbv2
            .modify_target_group()
            .target_group_arn(req.id.as_str())
            .health_check_path(s(a, "health_check_path"))
            .set_health_check_interval_seconds(int(a, "health_check_interval"))
            .set_health_check_timeout_seconds(int(a, "health_check_timeout"))
            .set_healthy_threshold_count(int(a, "healthy_threshold"))
            .set_unhealthy_threshold_count(int(a, "unhealthy_threshold"))
            .matcher(Matcher::builder().http_code(s(a, "matcher")).build())
            .send()
            .await
            .map_err(|e| convert(&req.address, e))?;
    }
    if req.changed.iter().any(|c| c == "tags") {
        sync_tags(ctx, &req.address, &req.id, &req.prior, a).await?;
    }
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&req.id));
    attrs.insert("arn".into(), Value::str(&req.id));
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete_tg(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    ctx.retry_dependency(&req.address, &req.progress, || async {
        ctx.c
            .elbv2
            .delete_target_group()
            .target_group_arn(req.id.as_str())
            .send()
            .await
            .map(|_| ())
    })
    .await
}

pub(crate) fn tags(stack: &str, address: &str, attrs: &Attrs) -> Vec<Tag> {
    tag_pairs(stack, address, None, attrs)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

mod listener;

pub(crate) use listener::*;
