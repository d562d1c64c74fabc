//! Everything in the subscription marked as one stack's: the provider's half of
//! `Engine::inventory`.
//!
//! A stack lives in resource groups tagged as its own (one per stack and environment), so
//! the listing is: the subscription's groups (one call), then each group's resources
//! through Resources_ListByResourceGroup (one call a page, every type at once, tags
//! included). ARM's generic list holds top-level resources only: the tagged children (a
//! private DNS zone's network links, a vault's secrets) are listed under their parents.
//! Two kinds of object live outside the groups and are found by their relation to them:
//! role assignments on the vaults a gateway reads certificates from (granted to the
//! stack's identities: listed for the subscription by principal), and soft-deleted vaults
//! (listed for the subscription, by the tags they were deleted with; one the stack keeps
//! recoverable on purpose is reported as kept). A group ARM is deleting, and what is in
//! it, is left out: it is going.
//!
//! The type of an object comes from the address its `cairn:resource` tag names; children
//! with no tags (subnets, databases, rules) live and die with a listed parent.

use crate::arm;
use crate::client::dns::VirtualNetworkLink;
use crate::client::keyvault::Secret;
use crate::client::msi::Identity;
use crate::error::convert;
use crate::tagged::{self, At, Tagged};
use crate::Ctx;
use cairn_core::provider::{OwnedObject, ProviderError};
use cairn_provider_kit::ownership::{RESOURCE, STACK, TOKEN};
use futures::StreamExt;

/// An object of `stack` when its `tags` mark it so; its type from the address they name
/// (`fallback` when they name none).
fn owned(
    stack: &str,
    id: &str,
    tags: Option<&serde_json::Value>,
    fallback: &str,
) -> Option<OwnedObject> {
    let pairs = arm::tag_pairs(tags);
    let get = |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    if get(STACK) != Some(stack) {
        return None;
    }
    let address = get(RESOURCE).unwrap_or_default();
    let type_name = match address.split_once('.') {
        Some((t, _)) if t.starts_with("azure_") => t,
        _ => fallback,
    };
    Some(OwnedObject {
        type_name: type_name.into(),
        id: id.into(),
        address: address.into(),
        token: get(TOKEN).map(Into::into),
        kept: None,
    })
}

/// Every live object of `stack` the subscription holds, sorted.
pub(crate) async fn list(ctx: &Ctx, stack: &str) -> Result<Vec<OwnedObject>, ProviderError> {
    let fail = |e| convert(stack, e);
    let mut out = Vec::new();
    let mut principals = Vec::new();
    let groups = tagged::all(
        ctx.c
            .resources
            .resource_groups_client()
            .list(&ctx.subscription)
            .into_stream(),
        |p| p.value,
    )
    .await
    .map_err(fail)?;
    for g in groups {
        let deleting = g
            .properties
            .as_ref()
            .and_then(|p| p.provisioning_state.as_deref())
            == Some("Deleting");
        let (Some(id), Some(name)) = (g.id.as_deref(), g.name.as_deref()) else {
            continue;
        };
        let Some(group) = owned(stack, id, g.tags.as_ref(), "azure_resource_group") else {
            continue;
        };
        if deleting {
            continue;
        }
        out.push(group);
        in_group(ctx, stack, name, &mut out, &mut principals).await?;
    }
    for principal in principals {
        assignments(ctx, stack, &principal, &mut out).await?;
    }
    deleted_vaults(ctx, stack, &mut out).await?;
    out.sort();
    Ok(out)
}

/// The resources of one group, the tagged children of its zones and vaults, and the
/// principal ids of its identities (whose grants live outside the group).
async fn in_group(
    ctx: &Ctx,
    stack: &str,
    group: &str,
    out: &mut Vec<OwnedObject>,
    principals: &mut Vec<String>,
) -> Result<(), ProviderError> {
    let fail = |e| convert(stack, e);
    let mut pages = ctx
        .c
        .resources
        .resources_client()
        .list_by_resource_group(group, &ctx.subscription)
        .into_stream();
    let mut zones = Vec::new();
    let mut vaults = Vec::new();
    while let Some(page) = pages.next().await {
        for r in page.map_err(fail)?.value {
            let r = r.generic_resource.resource;
            let (Some(id), Some(name)) = (r.id.as_deref(), r.name.as_deref()) else {
                continue;
            };
            let Some(object) = owned(stack, id, r.tags.as_ref(), "azure_resource") else {
                continue;
            };
            match r.type_.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("microsoft.network/privatednszones") => zones.push(name.to_string()),
                Some("microsoft.keyvault/vaults") => vaults.push(name.to_string()),
                _ => {}
            }
            out.push(object);
        }
    }
    let at = |parent: &str| At {
        group: group.to_string(),
        parent: parent.to_string(),
    };
    for zone in zones {
        for link in tagged::list_groups::<VirtualNetworkLink>(ctx, stack, [at(&zone)].into())
            .await?
            .into_iter()
            .map(|(_, l)| l)
        {
            out.extend(
                link.id()
                    .and_then(|id| owned(stack, id, link.tags(), "azure_private_dns_zone_link")),
            );
        }
    }
    for vault in vaults {
        for secret in tagged::list_groups::<Secret>(ctx, stack, [at(&vault)].into())
            .await?
            .into_iter()
            .map(|(_, s)| s)
        {
            out.extend(
                secret
                    .id()
                    .and_then(|id| owned(stack, id, secret.tags(), "azure_key_vault_secret")),
            );
        }
    }
    for identity in tagged::list_groups::<Identity>(ctx, stack, [at("")].into()).await? {
        let identity = identity.1;
        if owned(stack, "", identity.tags(), "").is_some() {
            principals.extend(
                identity
                    .properties
                    .as_ref()
                    .and_then(|p| p.principal_id.clone()),
            );
        }
    }
    Ok(())
}

/// The role assignments granted to one of the stack's identities, at any scope of the
/// subscription (they carry no tags: the principal makes them the stack's).
async fn assignments(
    ctx: &Ctx,
    stack: &str,
    principal: &str,
    out: &mut Vec<OwnedObject>,
) -> Result<(), ProviderError> {
    let found = tagged::all(
        ctx.c
            .authorization
            .role_assignments_client()
            .list_for_subscription(&ctx.subscription)
            .filter(format!("principalId eq '{principal}'"))
            .into_stream(),
        |p| p.value,
    )
    .await
    .map_err(|e| convert(stack, e))?;
    out.extend(found.into_iter().filter_map(|a| {
        Some(OwnedObject {
            type_name: "azure_role_assignment".into(),
            id: a.id?.into(),
            address: Default::default(),
            token: None,
            kept: None,
        })
    }));
    Ok(())
}

/// Soft-deleted vaults deleted with the stack's marks: their names stay reserved until
/// purged. One marked to be kept (`purge_on_destroy` off) is kept on purpose.
async fn deleted_vaults(
    ctx: &Ctx,
    stack: &str,
    out: &mut Vec<OwnedObject>,
) -> Result<(), ProviderError> {
    let deleted = tagged::all(
        ctx.c
            .keyvault
            .vaults_client()
            .list_deleted(&ctx.subscription)
            .into_stream(),
        |p| p.value,
    )
    .await
    .map_err(|e| convert(stack, e))?;
    for v in deleted {
        let props = v.properties.unwrap_or_default();
        let Some(id) = v.id.as_deref() else { continue };
        let Some(mut object) = owned(stack, id, props.tags.as_ref(), "azure_key_vault") else {
            continue;
        };
        let keep = arm::tag_pairs(props.tags.as_ref())
            .iter()
            .any(|(k, _)| *k == crate::vault::KEEP_WHEN_DELETED);
        object.kept = keep.then(|| {
            "soft-deleted and kept recoverable, as the stack asks (purge_on_destroy off)".into()
        });
        out.push(object);
    }
    Ok(())
}
