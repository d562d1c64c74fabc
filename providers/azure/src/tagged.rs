//! The life of a tagged resource in a resource group, written once: virtual networks,
//! network security groups, application security groups (and the types that follow them)
//! differ only in their body and attributes.
//!
//! - Read is batched: one list per resource group the batch names, matched by name (a
//!   create an interrupted run made is found under the name it was to have).
//! - Create first looks for the name: ARM's PUT creates or *replaces*, so sending it over
//!   an object someone else made would take that object over. One found is adopted when
//!   its tags say this stack made it for this address (and waited for, if still being
//!   made); anything else is refused, naming the owner.
//! - Create and update are a PUT, then a wait on its long-running operation, then a GET
//!   for what the cloud computed. Delete waits too, and is retried while ARM refuses it
//!   because something still uses the resource.

use crate::arm::{self, s};
use crate::error::{convert, is_in_use, is_not_found, AzError};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text};
use cairn_provider_kit::adopt;
use cairn_provider_kit::retry::{delete_when_free, ErrorClass};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

/// The parts of a [`Tagged`] impl every Microsoft.Network type shares: its accessors
/// (`resource`, `properties.provisioningState`) and its four calls through the network
/// crate's client `$client` (`virtual_networks_client`, ...).
macro_rules! microsoft_network {
    ($client:ident) => {
        fn id(&self) -> Option<&str> {
            self.resource.id.as_deref()
        }
        fn name(&self) -> Option<&str> {
            self.resource.name.as_deref()
        }
        fn tags(&self) -> Option<&serde_json::Value> {
            self.resource.tags.as_ref()
        }
        fn state(&self) -> Option<String> {
            self.properties
                .as_ref()
                .and_then(|p| crate::network::state_name(&p.provisioning_state))
        }

        async fn list(ctx: &Ctx, group: &str) -> azure_core::Result<Vec<Self>> {
            let pages = ctx
                .c
                .network
                .$client()
                .list(group, &ctx.subscription)
                .into_stream();
            crate::tagged::all(pages, |p| p.value).await
        }

        async fn get(ctx: &Ctx, group: &str, name: &str) -> azure_core::Result<Self> {
            ctx.c
                .network
                .$client()
                .get(group, name, &ctx.subscription)
                .await
        }

        async fn put(
            ctx: &Ctx,
            group: &str,
            name: &str,
            body: Self,
        ) -> azure_core::Result<azure_core::headers::Headers> {
            let rsp = ctx
                .c
                .network
                .$client()
                .create_or_update(group, name, body, &ctx.subscription)
                .send()
                .await?;
            Ok(rsp.as_raw_response().headers().clone())
        }

        async fn delete(
            ctx: &Ctx,
            group: &str,
            name: &str,
        ) -> azure_core::Result<azure_core::headers::Headers> {
            let rsp = ctx
                .c
                .network
                .$client()
                .delete(group, name, &ctx.subscription)
                .send()
                .await?;
            Ok(rsp.as_raw_response().headers().clone())
        }
    };
}

/// One tagged ARM type in a resource group, through its management crate.
pub(crate) trait Tagged: Sized + Send + Sync + 'static {
    /// What the type is called in messages ("virtual network").
    const WHAT: &'static str;
    fn id(&self) -> Option<&str>;
    fn name(&self) -> Option<&str>;
    fn tags(&self) -> Option<&serde_json::Value>;
    /// `provisioningState` as ARM spells it.
    fn state(&self) -> Option<String>;
    /// The attributes cairn records (`group` is the resource group it is in).
    fn attrs(&self, group: &str) -> Attrs;
    /// The body of a PUT from the declared attributes, marked with `tags`.
    fn body(address: &str, a: &Attrs, tags: serde_json::Value) -> Result<Self, ProviderError>;
    /// An update's body from the declared one and the resource as it is (for what a PUT
    /// would otherwise drop: a network's subnets).
    fn keep(body: Self, _current: Self) -> Self {
        body
    }
    fn list(ctx: &Ctx, group: &str) -> impl Future<Output = azure_core::Result<Vec<Self>>> + Send;
    fn get(
        ctx: &Ctx,
        group: &str,
        name: &str,
    ) -> impl Future<Output = azure_core::Result<Self>> + Send;
    fn put(
        ctx: &Ctx,
        group: &str,
        name: &str,
        body: Self,
    ) -> impl Future<Output = azure_core::Result<azure_core::headers::Headers>> + Send;
    fn delete(
        ctx: &Ctx,
        group: &str,
        name: &str,
    ) -> impl Future<Output = azure_core::Result<azure_core::headers::Headers>> + Send;
}

/// Every item of a paged list.
pub(crate) async fn all<P, T>(
    mut pages: azure_core::Pageable<P, AzError>,
    items: impl Fn(P) -> Vec<T>,
) -> azure_core::Result<Vec<T>>
where
    P: Send + 'static,
{
    use futures::StreamExt;
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        out.extend(items(page?));
    }
    Ok(out)
}

/// Which group and name an item stands for: its id's, or the ones it was to be made with.
fn wanted(item: &ReadItem) -> (String, String) {
    match &item.id {
        Some(id) => (
            arm::group_of(id).unwrap_or_default().to_string(),
            arm::last(id).to_string(),
        ),
        None => (
            s(&item.prior, "resource_group").to_string(),
            s(&item.prior, "name").to_string(),
        ),
    }
}

/// The resources of each group named, one list per group (a group that is gone holds
/// nothing).
pub(crate) async fn list_groups<T: Tagged>(
    ctx: &Ctx,
    address: &str,
    groups: BTreeSet<String>,
) -> Result<Vec<(String, T)>, ProviderError> {
    let mut out = Vec::new();
    for group in groups {
        match T::list(ctx, &group).await {
            Ok(found) => out.extend(found.into_iter().map(|x| (group.clone(), x))),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(convert(address, e)),
        }
    }
    Ok(out)
}

pub(crate) async fn read<T: Tagged>(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let wanted: Vec<_> = req.items.iter().map(|i| (i, wanted(i))).collect();
    let groups = wanted.iter().map(|(_, (g, _))| g.clone()).collect();
    let listed = list_groups::<T>(ctx, &req.type_name, groups).await?;
    Ok(wanted
        .into_iter()
        .map(|(item, (group, name))| {
            let found = listed.iter().find(|(g, x)| {
                g.eq_ignore_ascii_case(&group)
                    && x.name().is_some_and(|n| n.eq_ignore_ascii_case(&name))
                    && x.state().as_deref() != Some("Deleting")
            });
            let outcome = match found {
                Some((g, x)) => ReadOutcome::Found {
                    id: x.id().unwrap_or_default().into(),
                    attrs: x.attrs(g),
                },
                None => ReadOutcome::Gone,
            };
            (item.address.clone(), outcome)
        })
        .collect())
}

pub(crate) async fn get<T: Tagged>(
    ctx: &Ctx,
    address: &str,
    group: &str,
    name: &str,
) -> Result<Option<T>, ProviderError> {
    arm::found(address, T::get(ctx, group, name).await)
}

async fn put<T: Tagged>(
    ctx: &Ctx,
    address: &str,
    progress: &Progress,
    group: &str,
    name: &str,
    body: T,
) -> Result<Attrs, ProviderError> {
    let headers = T::put(ctx, group, name, body)
        .await
        .map_err(|e| convert(address, e))?;
    arm::finish(
        ctx,
        address,
        T::WHAT,
        progress,
        &headers,
        ctx.options.create_timeout,
    )
    .await?;
    let made =
        get::<T>(ctx, address, group, name)
            .await?
            .ok_or_else(|| ProviderError::NotFound {
                address: address.to_string(),
            })?;
    Ok(made.attrs(group))
}

pub(crate) async fn create<T: Tagged>(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let (group, name) = (s(a, "resource_group"), s(a, "name"));
    if let Some(existing) = get::<T>(ctx, &req.address, group, name).await? {
        let owner = arm::owner(&req.stack, &req.address, existing.tags());
        let id = existing.id().unwrap_or_default().to_string();
        adopt::decide(&req.address, T::WHAT, &id, owner.into(), &req.progress)?;
        if existing.state().as_deref() != Some("Succeeded") {
            arm::settled(ctx, &req.address, T::WHAT, &req.progress, || async {
                Ok(get::<T>(ctx, &req.address, group, name)
                    .await?
                    .and_then(|x| x.state()))
            })
            .await?;
        }
        // The adopted resource gets what this run declares (the dead run may have died
        // before an update it meant to make).
        let body = T::keep(
            T::body(
                &req.address,
                a,
                arm::tags(&req.stack, &req.address, None, a),
            )?,
            existing,
        );
        let attrs = put(ctx, &req.address, &req.progress, group, name, body).await?;
        return Ok(CreateResponse {
            id: id.into(),
            attrs,
        });
    }
    let tags = arm::tags(&req.stack, &req.address, Some(&req.token), a);
    let attrs = put(
        ctx,
        &req.address,
        &req.progress,
        group,
        name,
        T::body(&req.address, a, tags)?,
    )
    .await?;
    Ok(CreateResponse {
        id: s(&attrs, "id").into(),
        attrs,
    })
}

pub(crate) async fn update<T: Tagged>(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    let (group, name) = (s(a, "resource_group"), s(a, "name"));
    let current = get::<T>(ctx, &req.address, group, name)
        .await?
        .ok_or_else(|| ProviderError::NotFound {
            address: req.address.to_string(),
        })?;
    let body = T::keep(
        T::body(
            &req.address,
            a,
            arm::tags(&req.stack, &req.address, None, a),
        )?,
        current,
    );
    let attrs = put(ctx, &req.address, &req.progress, group, name, body).await?;
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete<T: Tagged>(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let (group, name) = (
        arm::group_of(&req.id).unwrap_or_default(),
        arm::last(&req.id),
    );
    delete_with(ctx, req, T::WHAT, || T::delete(ctx, group, name)).await
}

/// How a delete's error reads to the retry of a delete refused while in use.
fn delete_class(e: &ProviderError) -> ErrorClass {
    match e {
        ProviderError::NotFound { .. } => ErrorClass::NotFound,
        ProviderError::Api { code, .. } if code == IN_USE => ErrorClass::InUse,
        _ => ErrorClass::Other,
    }
}

const IN_USE: &str = "InUse";

/// Send a delete and wait for it; refused while in use, it is retried until the users
/// are gone (they are being deleted in the same run) or the delete timeout passes, and
/// then fails with ARM's own code and message.
pub(crate) async fn delete_with<F, Fut>(
    ctx: &Ctx,
    req: &DeleteRequest,
    what: &str,
    send: F,
) -> Result<(), ProviderError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = azure_core::Result<azure_core::headers::Headers>>,
{
    let last_refusal = std::sync::Mutex::new(None);
    let done = delete_when_free(
        &req.progress,
        ctx.options.delete_timeout,
        delete_class,
        || async {
            let headers = match send().await {
                Ok(h) => h,
                Err(e) if is_not_found(&e) => return Ok(()),
                Err(e) if is_in_use(&e) => {
                    *last_refusal.lock().expect("not poisoned") = Some(convert(&req.address, e));
                    return Err(ProviderError::Api {
                        address: req.address.to_string(),
                        code: IN_USE.into(),
                        message: String::new(),
                    });
                }
                Err(e) => return Err(convert(&req.address, e)),
            };
            arm::finish(
                ctx,
                &req.address,
                &format!("{what} deletion"),
                &req.progress,
                &headers,
                ctx.options.delete_timeout,
            )
            .await
        },
    )
    .await;
    match done {
        Err(ProviderError::Api { code, .. }) if code == IN_USE => Err(last_refusal
            .into_inner()
            .expect("not poisoned")
            .expect("an in-use refusal was recorded")),
        other => other,
    }
}
