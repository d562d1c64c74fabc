//! Resource groups: one per stack and environment, holding everything else the stack
//! makes, so a destroy ends with the group and nothing of the stack can be left in it.
//!
//! A group carries tags: ownership is in them, and a refresh is one list of the
//! subscription's groups. A group's name is chosen by cairn (see lowering) and its
//! location is fixed; a PUT under a name that exists updates it, so a create first looks
//! for the name and adopts the group only when its tags say this stack made it for this
//! address.

use crate::arm::{self, s};
use crate::client::resources::ResourceGroup;
use crate::error::{convert, is_not_found};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use cairn_provider_kit::adopt;
use futures::StreamExt;
use std::collections::BTreeMap;

fn attrs(g: &ResourceGroup) -> Attrs {
    Attrs::from([
        ("id".into(), Value::str(g.id.clone().unwrap_or_default())),
        (
            "name".into(),
            Value::str(g.name.clone().unwrap_or_default()),
        ),
        ("location".into(), Value::str(&g.location)),
        ("tags".into(), arm::user_tags(g.tags.as_ref())),
    ])
}

fn state(g: &ResourceGroup) -> Option<String> {
    g.properties
        .as_ref()
        .and_then(|p| p.provisioning_state.clone())
}

async fn list(ctx: &Ctx, address: &str) -> Result<Vec<ResourceGroup>, ProviderError> {
    let mut pages = ctx
        .c
        .resources
        .resource_groups_client()
        .list(&ctx.subscription)
        .into_stream();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        out.extend(page.map_err(|e| convert(address, e))?.value);
    }
    Ok(out)
}

async fn get(ctx: &Ctx, address: &str, name: &str) -> Result<Option<ResourceGroup>, ProviderError> {
    arm::found(
        address,
        ctx.c
            .resources
            .resource_groups_client()
            .get(name, &ctx.subscription)
            .await,
    )
}

/// Batched: one list of the subscription's groups, matched by name.
pub(crate) async fn read(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let groups = list(ctx, &req.type_name).await?;
    Ok(req
        .items
        .iter()
        .map(|item| {
            let name = match &item.id {
                Some(id) => arm::last(id).to_string(),
                None => s(&item.prior, "name").to_string(),
            };
            let outcome = match groups.iter().find(|g| {
                g.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&name))
                    && state(g).as_deref() != Some("Deleting")
            }) {
                Some(g) => ReadOutcome::Found {
                    id: g.id.clone().unwrap_or_default().into(),
                    attrs: attrs(g),
                },
                None => ReadOutcome::Gone,
            };
            (item.address.clone(), outcome)
        })
        .collect())
}

async fn put(
    ctx: &Ctx,
    address: &str,
    name: &str,
    group: ResourceGroup,
) -> Result<ResourceGroup, ProviderError> {
    ctx.c
        .resources
        .resource_groups_client()
        .create_or_update(name, group, &ctx.subscription)
        .await
        .map_err(|e| convert(address, e))
}

pub(crate) async fn create(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let name = s(a, "name");
    if let Some(existing) = get(ctx, &req.address, name).await? {
        let owner = arm::owner(&req.stack, &req.address, existing.tags.as_ref());
        adopt::decide(
            &req.address,
            "resource group",
            name,
            owner.into(),
            &req.progress,
        )?;
        return Ok(CreateResponse {
            id: existing.id.clone().unwrap_or_default().into(),
            attrs: attrs(&existing),
        });
    }
    let mut group = ResourceGroup::new(s(a, "location").to_string());
    group.tags = Some(arm::tags(&req.stack, &req.address, Some(&req.token), a));
    let made = put(ctx, &req.address, name, group).await?;
    Ok(CreateResponse {
        id: made.id.clone().unwrap_or_default().into(),
        attrs: attrs(&made),
    })
}

/// Tags in place (the marks kept): the group is PUT again with its location.
pub(crate) async fn update(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    let mut group = ResourceGroup::new(s(a, "location").to_string());
    group.tags = Some(arm::tags(&req.stack, &req.address, None, a));
    let made = put(ctx, &req.address, arm::last(&req.id), group).await?;
    Ok(UpdateResponse {
        attrs: attrs(&made),
    })
}

/// A group's delete takes everything in it: it is the stack's last step, after each of
/// its resources was deleted on its own (so a failure names the resource, not the group).
pub(crate) async fn delete(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    crate::vault::purge_left_in_group(
        ctx,
        &req.address,
        &req.progress,
        &req.stack,
        arm::last(&req.id),
    )
    .await?;
    let sent = ctx
        .c
        .resources
        .resource_groups_client()
        .delete(arm::last(&req.id), &ctx.subscription)
        .send()
        .await;
    let rsp = match sent {
        Ok(r) => r,
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(convert(&req.address, e)),
    };
    arm::finish(
        ctx,
        &req.address,
        "resource group deletion",
        &req.progress,
        rsp.as_raw_response().headers(),
        ctx.options.delete_timeout,
    )
    .await?;
    // And any vault the group's delete soft-deleted with it.
    crate::vault::purge_left_in_group(
        ctx,
        &req.address,
        &req.progress,
        &req.stack,
        arm::last(&req.id),
    )
    .await
}
