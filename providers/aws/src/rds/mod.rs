//! RDS for PostgreSQL: DB subnet groups, parameter groups and instances.
//!
//! Instances are asynchronous: create and modify wait for `available`, delete for the
//! instance to disappear, reporting each state through progress. RDS has no client token;
//! identifiers are deterministic and every object carries `cairn:resource`, which is how a
//! create interrupted by a crash is found (a list of the account's instances is one call
//! per page anyway).

use crate::error::{convert, is_not_found};
use crate::util::{created_by_name, flag, int, list, s, tag_pairs};
use crate::wait::{self, Poll};
use crate::Ctx;
use aws_sdk_rds::types::{ApplyMethod, Parameter, Tag};
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use cairn_provider_kit::adopt;
use std::collections::BTreeMap;
use std::time::Duration;

pub(crate) fn resource_tag(tags: &[Tag]) -> Option<&str> {
    crate::util::owner(
        tags.iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
    )
}

pub(crate) fn secret<'a>(address: &str, a: &'a Attrs, k: &str) -> Result<&'a str, ProviderError> {
    match a.get(k) {
        Some(Value::Sensitive(x)) => x.expose().ok_or_else(|| ProviderError::Api {
            address: address.to_string(),
            code: "MissingSecret".into(),
            message: format!("the value of `{k}` is not known to this run"),
        }),
        _ => Err(ProviderError::Api {
            address: address.to_string(),
            code: "MissingSecret".into(),
            message: format!("`{k}` is not set"),
        }),
    }
}

/// Match listed objects to the request: by id, or (adoption) by ownership tag; write-only
/// secrets keep what state recorded.
pub(crate) fn match_items(
    req: &ReadRequest,
    by_id: BTreeMap<String, Attrs>,
    by_address: BTreeMap<String, String>,
) -> BTreeMap<Text, ReadOutcome> {
    adopt::match_listed(&req.items, by_id, &by_address, |i, attrs| {
        adopt::keep_write_only(&i.prior, attrs)
    })
}

// ---------------------------------------------------------------------------------------
// DB subnet group

pub(crate) async fn create_subnet_group(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let sent = ctx
        .c
        .rds
        .create_db_subnet_group()
        .db_subnet_group_name(s(a, "name"))
        .db_subnet_group_description(s(a, "description"))
        .set_subnet_ids(Some(list(a, "subnet_ids")))
        .set_tags(Some(tags(&req.stack, &req.address, a)))
        .send()
        .await;
    let arn = match sent {
        Ok(out) => out
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_arn())
            .map(str::to_string),
        Err(e) if crate::error::code(&e).as_deref() == Some("DBSubnetGroupAlreadyExists") => {
            let found = ctx
                .c
                .rds
                .describe_db_subnet_groups()
                .db_subnet_group_name(s(a, "name"))
                .send()
                .await
                .map_err(|e| convert(&req.address, e))?;
            let arn = found
                .db_subnet_groups()
                .first()
                .and_then(|g| g.db_subnet_group_arn())
                .unwrap_or_default()
                .to_string();
            adopt_tagged(ctx, req, "DB subnet group", &arn).await?;
            // Ours: bring it to what this run asks.
            ctx.c
                .rds
                .modify_db_subnet_group()
                .db_subnet_group_name(s(a, "name"))
                .db_subnet_group_description(s(a, "description"))
                .set_subnet_ids(Some(list(a, "subnet_ids")))
                .send()
                .await
                .map_err(|e| convert(&req.address, e))?;
            Some(arn)
        }
        Err(e) => return Err(convert(&req.address, e)),
    };
    Ok(created_by_name(a, arn.as_deref()))
}

/// An RDS object a create found under its name: adopt it when its tags say this stack made
/// it for this address (an interrupted run), refuse otherwise.
pub(super) async fn adopt_tagged(
    ctx: &Ctx,
    req: &CreateRequest,
    what: &str,
    arn: &str,
) -> Result<(), ProviderError> {
    let t = ctx
        .c
        .rds
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

pub(crate) async fn read_subnet_groups(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut by_id = BTreeMap::new();
    let mut by_address = BTreeMap::new();
    let mut pages = ctx
        .c
        .rds
        .describe_db_subnet_groups()
        .into_paginator()
        .send();
    let priors: BTreeMap<&str, &Attrs> = req
        .items
        .iter()
        .filter_map(|i| Some((i.id.as_deref()?, &i.prior)))
        .collect();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| convert(&req.type_name, e))?;
        for g in page.db_subnet_groups() {
            let name = g.db_subnet_group_name().unwrap_or_default().to_string();
            let mut a = Attrs::new();
            a.insert("id".into(), Value::str(&name));
            a.insert("name".into(), Value::str(&name));
            a.insert(
                "description".into(),
                Value::str(g.db_subnet_group_description().unwrap_or_default()),
            );
            a.insert(
                "arn".into(),
                Value::str(g.db_subnet_group_arn().unwrap_or_default()),
            );
            let subnets = g
                .subnets()
                .iter()
                .filter_map(|x| x.subnet_identifier().map(str::to_string))
                .collect();
            a.insert(
                "subnet_ids".into(),
                crate::ec2::order_like(
                    priors.get(name.as_str()).and_then(|p| p.get("subnet_ids")),
                    subnets,
                ),
            );
            by_id.insert(name, a);
        }
    }
    // Tags are not in the listing: read them for the groups asked about.
    for i in &req.items {
        let Some(id) = i.id.as_deref() else { continue };
        if let Some(a) = by_id.get_mut(id) {
            let arn = s(a, "arn").to_string();
            let t = ctx
                .c
                .rds
                .list_tags_for_resource()
                .resource_name(&arn)
                .send()
                .await
                .map_err(|e| convert(&i.address, e))?;
            user_tags(a, t.tag_list());
            if let Some(addr) = resource_tag(t.tag_list()) {
                by_address.insert(addr.to_string(), id.to_string());
            }
        }
    }
    for i in req.items.iter().filter(|i| i.id.is_none()) {
        // Adoption: the name is deterministic; look for one tagged with this address.
        for (name, a) in &by_id {
            let t = ctx
                .c
                .rds
                .list_tags_for_resource()
                .resource_name(s(a, "arn"))
                .send()
                .await
                .map_err(|e| convert(&i.address, e))?;
            if resource_tag(t.tag_list()) == Some(i.address.as_str()) {
                by_address.insert(i.address.to_string(), name.clone());
            }
        }
    }
    Ok(match_items(req, by_id, by_address))
}

pub(crate) async fn update_subnet_group(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    if req
        .changed
        .iter()
        .any(|c| c == "description" || c == "subnet_ids")
    {
        ctx.c
            .rds
            .modify_db_subnet_group()
            .db_subnet_group_name(s(a, "name"))
            .db_subnet_group_description(s(a, "description"))
            .set_subnet_ids(Some(list(a, "subnet_ids")))
            .send()
            .await
            .map_err(|e| convert(&req.address, e))?;
    }
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
            .rds
            .delete_db_subnet_group()
            .db_subnet_group_name(req.id.as_str())
            .send()
            .await
            .map(|_| ())
    })
    .await
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
            .rds
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
            .rds
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| convert(address, e))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// DB parameter group

fn parameters(a: &Attrs) -> Vec<Parameter> {
    a.get("parameters")
        .and_then(Value::as_map)
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_name(k.as_str())
                .parameter_value(v.as_str().unwrap_or_default())
                .apply_method(ApplyMethod::PendingReboot)
                .build()
        })
        .collect()
}

pub(crate) async fn create_parameter_group(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let sent = ctx
        .c
        .rds
        .create_db_parameter_group()
        .db_parameter_group_name(s(a, "name"))
        .db_parameter_group_family(s(a, "family"))
        .description(s(a, "description"))
        .set_tags(Some(tags(&req.stack, &req.address, a)))
        .send()
        .await;
    let arn = match sent {
        Ok(out) => out
            .db_parameter_group()
            .and_then(|g| g.db_parameter_group_arn())
            .map(str::to_string),
        Err(e) if crate::error::code(&e).as_deref() == Some("DBParameterGroupAlreadyExists") => {
            let found = ctx
                .c
                .rds
                .describe_db_parameter_groups()
                .db_parameter_group_name(s(a, "name"))
                .send()
                .await
                .map_err(|e| convert(&req.address, e))?;
            let arn = found
                .db_parameter_groups()
                .first()
                .and_then(|g| g.db_parameter_group_arn())
                .unwrap_or_default()
                .to_string();
            adopt_tagged(ctx, req, "DB parameter group", &arn).await?;
            Some(arn)
        }
        Err(e) => return Err(convert(&req.address, e)),
    };
    let params = parameters(a);
    if !params.is_empty() {
        ctx.c
            .rds
            .modify_db_parameter_group()
            .db_parameter_group_name(s(a, "name"))
            .set_parameters(Some(params))
            .send()
            .await
            .map_err(|e| convert(&req.address, e))?;
    }
    Ok(created_by_name(a, arn.as_deref()))
}

pub(crate) async fn read_parameter_groups(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut by_id = BTreeMap::new();
    let mut pages = ctx
        .c
        .rds
        .describe_db_parameter_groups()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| convert(&req.type_name, e))?;
        for g in page.db_parameter_groups() {
            let name = g.db_parameter_group_name().unwrap_or_default().to_string();
            let mut a = Attrs::new();
            a.insert("id".into(), Value::str(&name));
            a.insert("name".into(), Value::str(&name));
            a.insert(
                "family".into(),
                Value::str(g.db_parameter_group_family().unwrap_or_default()),
            );
            a.insert(
                "description".into(),
                Value::str(g.description().unwrap_or_default()),
            );
            a.insert(
                "arn".into(),
                Value::str(g.db_parameter_group_arn().unwrap_or_default()),
            );
            by_id.insert(name, a);
        }
    }
    // The values set by the user: one call per group asked about.
    for i in &req.items {
        let Some(a) = i.id.as_deref().and_then(|id| by_id.get_mut(id)) else {
            continue;
        };
        let mut params = Attrs::new();
        let mut pages = ctx
            .c
            .rds
            .describe_db_parameters()
            .db_parameter_group_name(s(a, "name"))
            .source("user")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for p in page.map_err(|e| convert(&i.address, e))?.parameters() {
                if let (Some(k), Some(v)) = (p.parameter_name(), p.parameter_value()) {
                    params.insert(Text::from(k), Value::str(v));
                }
            }
        }
        a.insert("parameters".into(), Value::Map(params));
    }
    Ok(match_items(req, by_id, BTreeMap::new()))
}

pub(crate) async fn update_parameter_group(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    let params = parameters(a);
    if !params.is_empty() {
        ctx.c
            .rds
            .modify_db_parameter_group()
            .db_parameter_group_name(s(a, "name"))
            .set_parameters(Some(params))
            .send()
            .await
            .map_err(|e| convert(&req.address, e))?;
    }
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&req.id));
    attrs.insert(
        "arn".into(),
        req.prior.get("arn").cloned().unwrap_or(Value::Null),
    );
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete_parameter_group(
    ctx: &Ctx,
    req: &DeleteRequest,
) -> Result<(), ProviderError> {
    ctx.retry_dependency(&req.address, &req.progress, || async {
        ctx.c
            .rds
            .delete_db_parameter_group()
            .db_parameter_group_name(req.id.as_str())
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

pub(crate) fn user_tags(attrs: &mut Attrs, tags: &[Tag]) {
    crate::util::set_user_tags(
        attrs,
        tags.iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
    );
}

pub(crate) mod database;
mod instance;

pub(crate) use instance::*;
