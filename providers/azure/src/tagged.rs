//! The life of an ARM resource in a resource group (or inside another resource: a DNS
//! zone's links, a server's databases), written once: the types differ only in their body,
//! attributes and client calls.
//!
//! - Read is batched: one list per resource group (or parent) the batch names, matched by
//!   name (a create an interrupted run made is found under the name it was to have).
//! - Create first looks for the name: ARM's PUT creates or *replaces*, so sending it over
//!   an object someone else made would take that object over. One found is adopted when
//!   its tags say this stack made it for this address (and waited for, if still being
//!   made), or, for a type without tags inside one of the stack's resources, when it is
//!   what was declared; anything else is refused, naming the owner.
//! - Create and update are a PUT, then a wait on its long-running operation, then a GET
//!   for what the cloud computed. Delete waits too, and is retried while ARM refuses it
//!   because something still uses the resource.

use crate::arm::{self, s};
use crate::error::{convert, is_in_use, is_not_found, AzError};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text};
use cairn_provider_kit::adopt::{self, Existing};
use cairn_provider_kit::retry::{delete_when_free, ErrorClass};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

/// Send a management crate's request builder and give back its answer's headers (where
/// a long-running operation's URLs are): a `Tagged` PUT or DELETE.
macro_rules! headers {
    ($call:expr) => {{
        let rsp = $call.send().await?;
        Ok(rsp.as_raw_response().headers().clone())
    }};
}

/// The parts of a [`Tagged`] impl every Microsoft.Network type shares: its accessors
/// (`resource`, `properties.provisioningState`) and its four calls through the network
/// crate's client `$client` (`virtual_networks_client`, ...).
macro_rules! microsoft_network {
    ($client:ident) => {
        type Body = Self;

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

        async fn list(ctx: &Ctx, at: &crate::tagged::At) -> azure_core::Result<Vec<Self>> {
            let pages = ctx
                .c
                .network
                .$client()
                .list(&at.group, &ctx.subscription)
                .into_stream();
            crate::tagged::all(pages, |p| p.value).await
        }

        async fn get(ctx: &Ctx, at: &crate::tagged::At, name: &str) -> azure_core::Result<Self> {
            ctx.c
                .network
                .$client()
                .get(&at.group, name, &ctx.subscription)
                .await
        }

        async fn put(
            ctx: &Ctx,
            at: &crate::tagged::At,
            name: &str,
            body: Self,
        ) -> azure_core::Result<azure_core::headers::Headers> {
            let rsp = ctx
                .c
                .network
                .$client()
                .create_or_update(&at.group, name, body, &ctx.subscription)
                .send()
                .await?;
            Ok(rsp.as_raw_response().headers().clone())
        }

        async fn delete(
            ctx: &Ctx,
            at: &crate::tagged::At,
            name: &str,
        ) -> azure_core::Result<azure_core::headers::Headers> {
            let rsp = ctx
                .c
                .network
                .$client()
                .delete(&at.group, name, &ctx.subscription)
                .send()
                .await?;
            Ok(rsp.as_raw_response().headers().clone())
        }
    };
}

/// Where a resource is: its resource group and, for one inside another (a zone's link, a
/// server's database), that parent's name (empty for none).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct At {
    pub group: String,
    pub parent: String,
}

impl At {
    /// Where the resource with ARM id `id` is; `nested`: it is inside a parent resource
    /// (`.../{parentType}/{parent}/{type}/{name}`).
    pub fn of_id(id: &str, nested: bool) -> At {
        let parts: Vec<&str> = id.split('/').collect();
        At {
            group: arm::group_of(id).unwrap_or_default().to_string(),
            parent: match (nested, parts.len()) {
                (true, n) if n >= 3 => parts[n - 3].to_string(),
                _ => String::new(),
            },
        }
    }

    /// Where a resource declared with attributes `a` is.
    pub fn of_attrs<T: Tagged>(a: &Attrs) -> At {
        match T::PARENT {
            Some(parent) => At::of_id(&format!("{}/x/y", s(a, parent)), true),
            None => At {
                group: s(a, "resource_group").to_string(),
                parent: String::new(),
            },
        }
    }
}

/// One ARM type in a resource group, through its management crate.
pub(crate) trait Tagged: Sized + Send + Sync + 'static {
    /// What the type is called in messages ("virtual network").
    const WHAT: &'static str;
    /// The attribute holding the ARM id of the resource this one is inside, if any.
    const PARENT: Option<&'static str> = None;
    /// Attributes ARM takes but never answers (a password): kept as they were sent.
    const WRITE_ONLY: &'static [&'static str] = &[];
    /// What a PUT sends (the type itself for most; some crates take another model).
    type Body: Send + 'static;
    fn id(&self) -> Option<&str>;
    fn name(&self) -> Option<&str>;
    /// Its tags; none for a type without (adopted only when it is what was declared).
    fn tags(&self) -> Option<&serde_json::Value>;
    /// `provisioningState` as ARM spells it (`Succeeded` once usable).
    fn state(&self) -> Option<String>;
    /// The attributes cairn records.
    fn attrs(&self, at: &At) -> Attrs;
    /// The body of a PUT from the declared attributes, marked with `tags`.
    fn body(address: &str, a: &Attrs, tags: serde_json::Value)
        -> Result<Self::Body, ProviderError>;
    /// An update's body from the declared one and the resource as it is (for what a PUT
    /// would otherwise drop: a network's subnets).
    fn keep(body: Self::Body, _current: Self) -> Self::Body {
        body
    }
    /// Whether one found under the name may be adopted for `address`: by its tags when it
    /// has them, else when it is what was `declared`.
    fn existing(&self, stack: &str, address: &str, declared: &Attrs, at: &At) -> Existing {
        if Self::PARENT.is_none() || self.tags().is_some() {
            return arm::owner(stack, address, self.tags()).into();
        }
        let found = self.attrs(at);
        for (k, want) in declared {
            if let Some(have) = found.get(k.as_str()) {
                if k.as_str() != "tags" && have != want {
                    return Existing::Foreign(format!(
                        "its {k} is {have}, not the {want} this stack declares"
                    ));
                }
            }
        }
        Existing::Identical
    }
    fn list(ctx: &Ctx, at: &At) -> impl Future<Output = azure_core::Result<Vec<Self>>> + Send;
    fn get(ctx: &Ctx, at: &At, name: &str)
        -> impl Future<Output = azure_core::Result<Self>> + Send;
    fn put(
        ctx: &Ctx,
        at: &At,
        name: &str,
        body: Self::Body,
    ) -> impl Future<Output = azure_core::Result<azure_core::headers::Headers>> + Send;
    /// An update's call: the PUT, unless the type changes by PATCH.
    fn patch(
        ctx: &Ctx,
        at: &At,
        name: &str,
        body: Self::Body,
    ) -> impl Future<Output = azure_core::Result<azure_core::headers::Headers>> + Send {
        Self::put(ctx, at, name, body)
    }
    fn delete(
        ctx: &Ctx,
        at: &At,
        name: &str,
    ) -> impl Future<Output = azure_core::Result<azure_core::headers::Headers>> + Send;
    /// What a GET does not answer but a read records, from another call of the resource's
    /// (a cache's access key, a rule's connection string): added to `attrs`.
    fn enrich(
        _ctx: &Ctx,
        _at: &At,
        _attrs: &mut Attrs,
    ) -> impl Future<Output = azure_core::Result<()>> + Send {
        async { Ok(()) }
    }
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

/// Where and under which name an item is: its id's, or the ones it was to be made with.
fn wanted<T: Tagged>(item: &ReadItem) -> (At, String) {
    match &item.id {
        Some(id) => (
            At::of_id(id, T::PARENT.is_some()),
            arm::last(id).to_string(),
        ),
        None => (
            At::of_attrs::<T>(&item.prior),
            s(&item.prior, "name").to_string(),
        ),
    }
}

/// The resources of each group (or parent) named, one list each (one that is gone holds
/// nothing).
pub(crate) async fn list_groups<T: Tagged>(
    ctx: &Ctx,
    address: &str,
    places: BTreeSet<At>,
) -> Result<Vec<(At, T)>, ProviderError> {
    let mut out = Vec::new();
    for at in places {
        match T::list(ctx, &at).await {
            Ok(found) => out.extend(found.into_iter().map(|x| (at.clone(), x))),
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
    let wanted: Vec<_> = req.items.iter().map(|i| (i, wanted::<T>(i))).collect();
    let places = wanted.iter().map(|(_, (at, _))| at.clone()).collect();
    let listed = list_groups::<T>(ctx, &req.type_name, places).await?;
    let mut out: BTreeMap<Text, ReadOutcome> = wanted
        .into_iter()
        .map(|(item, (at, name))| {
            let found = listed.iter().find(|(g, x)| {
                g.group.eq_ignore_ascii_case(&at.group)
                    && g.parent.eq_ignore_ascii_case(&at.parent)
                    && x.name().is_some_and(|n| n.eq_ignore_ascii_case(&name))
                    && x.state().as_deref() != Some("Deleting")
            });
            let outcome = match found {
                Some((g, x)) => ReadOutcome::Found {
                    id: x.id().unwrap_or_default().into(),
                    attrs: kept::<T>(x.attrs(g), &item.prior),
                },
                None => ReadOutcome::Gone,
            };
            (item.address.clone(), outcome)
        })
        .collect();
    for (address, outcome) in out.iter_mut() {
        if let ReadOutcome::Found { id, attrs } = outcome {
            let at = At::of_id(id, T::PARENT.is_some());
            T::enrich(ctx, &at, attrs)
                .await
                .map_err(|e| convert(address, e))?;
        }
    }
    Ok(out)
}

pub(crate) async fn get<T: Tagged>(
    ctx: &Ctx,
    address: &str,
    at: &At,
    name: &str,
) -> Result<Option<T>, ProviderError> {
    arm::found(address, T::get(ctx, at, name).await)
}

/// `attrs` with the write-only attributes of `sent` (what was sent or recorded).
fn kept<T: Tagged>(mut attrs: Attrs, sent: &Attrs) -> Attrs {
    for k in T::WRITE_ONLY {
        if let Some(v) = sent.get(*k) {
            attrs.insert((*k).into(), v.clone());
        }
    }
    attrs
}

/// Send a PUT (or an update's PATCH) of what `declared` says and wait for it; what the
/// resource is then.
async fn put<T: Tagged>(
    ctx: &Ctx,
    address: &str,
    progress: &Progress,
    (at, name): (&At, &str),
    (body, declared): (T::Body, &Attrs),
    patch: bool,
) -> Result<Attrs, ProviderError> {
    let sent = if patch {
        T::patch(ctx, at, name, body).await
    } else {
        T::put(ctx, at, name, body).await
    };
    let headers = sent.map_err(|e| convert(address, e))?;
    arm::finish(
        ctx,
        address,
        T::WHAT,
        progress,
        &headers,
        ctx.options.create_timeout,
    )
    .await?;
    let made = get::<T>(ctx, address, at, name)
        .await?
        .ok_or_else(|| ProviderError::NotFound {
            address: address.to_string(),
        })?;
    let mut attrs = kept::<T>(made.attrs(at), declared);
    T::enrich(ctx, at, &mut attrs)
        .await
        .map_err(|e| convert(address, e))?;
    Ok(attrs)
}

pub(crate) async fn create<T: Tagged>(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let (at, name) = (At::of_attrs::<T>(a), s(a, "name"));
    if let Some(existing) = get::<T>(ctx, &req.address, &at, name).await? {
        let found = existing.existing(&req.stack, &req.address, a, &at);
        let id = existing.id().unwrap_or_default().to_string();
        adopt::decide(&req.address, T::WHAT, &id, found, &req.progress)?;
        if existing.state().as_deref() != Some("Succeeded") {
            arm::settled(ctx, &req.address, T::WHAT, &req.progress, || async {
                Ok(get::<T>(ctx, &req.address, &at, name)
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
        let attrs = put::<T>(
            ctx,
            &req.address,
            &req.progress,
            (&at, name),
            (body, a),
            true,
        )
        .await?;
        return Ok(CreateResponse {
            id: id.into(),
            attrs,
        });
    }
    let tags = arm::tags(&req.stack, &req.address, Some(&req.token), a);
    let attrs = put::<T>(
        ctx,
        &req.address,
        &req.progress,
        (&at, name),
        (T::body(&req.address, a, tags)?, a),
        false,
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
    let (at, name) = (At::of_attrs::<T>(a), s(a, "name"));
    let current = get::<T>(ctx, &req.address, &at, name)
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
    let attrs = put::<T>(
        ctx,
        &req.address,
        &req.progress,
        (&at, name),
        (body, a),
        true,
    )
    .await?;
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete<T: Tagged>(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let (at, name) = (At::of_id(&req.id, T::PARENT.is_some()), arm::last(&req.id));
    delete_with(ctx, req, T::WHAT, || T::delete(ctx, &at, name)).await
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
