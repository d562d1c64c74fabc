//! Private services access: how Cloud SQL and Memorystore get private addresses in a
//! network. A reserved range (a global address of purpose `VPC_PEERING`) and one Service
//! Networking connection per network that peers Google's producer network with it.
//!
//! The address carries no ownership labels cairn sets (its name is the mark, as for the
//! other Compute types). The connection carries nothing of its own either: there is at most
//! one per network and service, so it is the network's, and cairn records it under the id
//! `services/servicenetworking.googleapis.com/connections/{network name}`.

use crate::compute::{all_pages, answer, last, name_filter, s, wanted};
use crate::error::convert;
use crate::operation::{self, Scope};
use crate::servicenetworking::{self as sn, Connection};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use cairn_provider_kit::adopt::{self, Existing};
use cairn_provider_kit::ownership::request_id;
use cairn_provider_kit::retry::{delete_when_free, ErrorClass};
use cairn_provider_kit::wait::{self, Poll};
use google_cloud_compute_v1::model::{address, Address};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------
// gcp_compute_global_address

pub(crate) fn address_attrs(project: &str, a: &Address) -> Attrs {
    let name = a.name.clone().unwrap_or_default();
    Attrs::from([
        (
            "id".into(),
            Value::str(format!("projects/{project}/global/addresses/{name}")),
        ),
        ("name".into(), Value::str(&name)),
        (
            "network".into(),
            Value::str(a.network.clone().unwrap_or_default()),
        ),
        (
            "purpose".into(),
            Value::str(
                a.purpose
                    .as_ref()
                    .and_then(|p| p.name())
                    .unwrap_or_default(),
            ),
        ),
        (
            "address_type".into(),
            Value::str(
                a.address_type
                    .as_ref()
                    .and_then(|p| p.name())
                    .unwrap_or_default(),
            ),
        ),
        (
            "prefix_length".into(),
            Value::Int(i64::from(a.prefix_length.unwrap_or_default())),
        ),
        (
            "address".into(),
            Value::str(a.address.clone().unwrap_or_default()),
        ),
        // The range as a CIDR, for firewall rules towards the services in it (one IP
        // for an external address).
        (
            "cidr".into(),
            Value::str(format!(
                "{}/{}",
                a.address.clone().unwrap_or_default(),
                a.prefix_length.filter(|p| *p > 0).unwrap_or(32)
            )),
        ),
        (
            "self_link".into(),
            Value::str(a.self_link.clone().unwrap_or_default()),
        ),
    ])
}

async fn get_address(ctx: &Ctx, address: &str, name: &str) -> Result<Attrs, ProviderError> {
    let a = ctx
        .c
        .global_addresses
        .get()
        .set_project(&ctx.project)
        .set_address(name)
        .send()
        .await
        .map_err(|e| convert(address, e))?;
    Ok(address_attrs(&ctx.project, &a))
}

pub(crate) async fn read_addresses(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let wanted = wanted(req);
    let names: Vec<String> = wanted.iter().map(|(_, n)| n.clone()).collect();
    let items = all_pages(&req.type_name, |token| {
        let list = ctx
            .c
            .global_addresses
            .list()
            .set_project(&ctx.project)
            .set_filter(name_filter(&names))
            .set_page_token(token);
        async move { list.send().await.map(|p| (p.items, p.next_page_token)) }
    })
    .await?;
    let found = items
        .iter()
        .map(|a| {
            let attrs = address_attrs(&ctx.project, a);
            (s(&attrs, "name").to_string(), attrs)
        })
        .collect();
    Ok(answer(wanted, found))
}

pub(crate) async fn create_address(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let name = s(a, "name");
    // A reserved range names its network, purpose and size; a load balancer's external
    // address none of them (Compute gives it one IP).
    let mut body = Address::new()
        .set_name(name)
        .set_address_type(address::AddressType::from(s(a, "address_type")));
    if !s(a, "network").is_empty() {
        body = body.set_network(s(a, "network"));
    }
    if !s(a, "purpose").is_empty() {
        body = body.set_purpose(address::Purpose::from(s(a, "purpose")));
    }
    match a.get("prefix_length").and_then(Value::as_int) {
        Some(n) if n > 0 => body = body.set_prefix_length(i32::try_from(n).unwrap_or(16)),
        _ => {}
    }
    let sent = ctx
        .c
        .global_addresses
        .insert()
        .set_project(&ctx.project)
        .set_request_id(request_id(&req.token))
        .set_body(body)
        .send()
        .await;
    operation::inserted(ctx, req, "reserved range", Scope::Global, sent).await?;
    let attrs = get_address(ctx, &req.address, name).await?;
    Ok(CreateResponse {
        id: s(&attrs, "id").into(),
        attrs,
    })
}

/// Every attribute of a reserved range forces a new one: nothing to update in place.
pub(crate) async fn update_address(
    _ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    Err(ProviderError::Api {
        address: req.address.to_string(),
        code: "NotUpdatable".into(),
        message: "a reserved range changes only by replacement".into(),
    })
}

/// Refused while a connection still peers the range (it may be going): retried.
pub(crate) async fn delete_address(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let name = last(&req.id).to_string();
    operation::deleted_when_free(ctx, req, "reserved range", Scope::Global, || {
        ctx.c
            .global_addresses
            .delete()
            .set_project(&ctx.project)
            .set_address(&name)
            .send()
    })
    .await
}

// ---------------------------------------------------------------------------------------
// gcp_service_networking_connection

fn connection_id(network_name: &str) -> String {
    format!("services/{}/connections/{network_name}", sn::SERVICE)
}

/// The network's name, from the item's id or its declared network.
fn network_name<'a>(id: Option<&'a str>, attrs: &'a Attrs) -> &'a str {
    match id {
        Some(id) => last(id),
        None => last(s(attrs, "network")),
    }
}

fn connection_attrs(ctx: &Ctx, prior: &Attrs, name: &str, c: &Connection) -> Attrs {
    // The declared network is a Compute link; Service Networking names it by number.
    // Kept as declared when it is the same network, else (an import) as Compute links it.
    let network = match s(prior, "network") {
        link if last(link) == name => link.to_string(),
        _ => format!(
            "https://www.googleapis.com/compute/v1/projects/{}/global/networks/{name}",
            ctx.project
        ),
    };
    Attrs::from([
        ("id".into(), Value::str(connection_id(name))),
        ("network".into(), Value::str(network)),
        ("service".into(), Value::str(sn::SERVICE)),
        (
            "reserved_peering_ranges".into(),
            Value::List(c.reserved_peering_ranges.iter().map(Value::str).collect()),
        ),
        (
            "peering".into(),
            Value::str(c.peering.clone().unwrap_or_default()),
        ),
    ])
}

/// The connection as Service Networking takes it.
async fn wanted_connection(
    ctx: &Ctx,
    address: &str,
    a: &Attrs,
) -> Result<Connection, ProviderError> {
    Ok(Connection {
        network: ctx.numbered_network(address, last(s(a, "network"))).await?,
        reserved_peering_ranges: match a.get("reserved_peering_ranges") {
            Some(Value::List(l)) => l
                .iter()
                .filter_map(Value::as_str)
                .map(|r| last(r).to_string())
                .collect(),
            _ => Vec::new(),
        },
        ..Connection::default()
    })
}

async fn find(ctx: &Ctx, address: &str, name: &str) -> Result<Option<Connection>, ProviderError> {
    let network = ctx.numbered_network(address, name).await?;
    match ctx.c.service_networking.list(address, &network).await {
        Ok(all) => Ok(all.into_iter().find(|c| {
            c.service
                .as_deref()
                .is_none_or(|s| s.ends_with(sn::SERVICE))
        })),
        // The network itself is gone: so is its connection.
        Err(ProviderError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One list per network (a stack has one or two).
pub(crate) async fn read_connections(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut out = BTreeMap::new();
    for item in &req.items {
        let name = network_name(item.id.as_deref(), &item.prior);
        let outcome = match find(ctx, &item.address, name).await? {
            Some(c) => ReadOutcome::Found {
                id: connection_id(name).into(),
                attrs: connection_attrs(ctx, &item.prior, name, &c),
            },
            None => ReadOutcome::Gone,
        };
        out.insert(item.address.clone(), outcome);
    }
    Ok(out)
}

/// Wait on a Service Networking operation; one that ended in error is that error.
async fn settled(
    ctx: &Ctx,
    address: &str,
    progress: &Progress,
    op: sn::Operation,
    timeout: std::time::Duration,
) -> Result<(), ProviderError> {
    let finished = if op.done {
        op
    } else {
        let name = op.name.clone();
        wait::until(
            address,
            "private services connection",
            progress,
            timeout,
            ctx.options.first_poll,
            || async {
                let op = ctx.c.service_networking.operation(address, &name).await?;
                Ok(if op.done {
                    Poll::Ready(op)
                } else {
                    Poll::Pending("RUNNING".into())
                })
            },
        )
        .await?
    };
    match finished.error {
        None => Ok(()),
        Some(e) if e.code == 5 => Err(ProviderError::NotFound {
            address: address.to_string(),
        }),
        Some(e) => Err(ProviderError::Api {
            address: address.to_string(),
            code: format!("code {}", e.code),
            message: e.message,
        }),
    }
}

pub(crate) async fn create_connection(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let name = network_name(None, &req.attrs).to_string();
    let body = wanted_connection(ctx, &req.address, &req.attrs).await?;
    // A network has one connection per service: one already there was made for this
    // stack's network by an interrupted run (the network is the stack's), and is brought
    // to the ranges declared.
    let existing = find(ctx, &req.address, &name).await?;
    match existing {
        None => {
            let op = ctx.c.service_networking.create(&req.address, &body).await?;
            settled(
                ctx,
                &req.address,
                &req.progress,
                op,
                ctx.options.create_timeout,
            )
            .await?;
        }
        Some(c) => {
            let id = connection_id(&name);
            adopt::decide(
                &req.address,
                "private services connection",
                &id,
                Existing::Ours,
                &req.progress,
            )?;
            if c.reserved_peering_ranges != body.reserved_peering_ranges {
                let op = ctx.c.service_networking.patch(&req.address, &body).await?;
                settled(
                    ctx,
                    &req.address,
                    &req.progress,
                    op,
                    ctx.options.create_timeout,
                )
                .await?;
            }
        }
    }
    let c = find(ctx, &req.address, &name)
        .await?
        .ok_or_else(|| ProviderError::Indeterminate {
            address: req.address.to_string(),
            message: "the private services connection was made but is not listed".into(),
        })?;
    Ok(CreateResponse {
        id: connection_id(&name).into(),
        attrs: connection_attrs(ctx, &req.attrs, &name, &c),
    })
}

/// The reserved ranges change in place (forced: producers keep their addresses).
pub(crate) async fn update_connection(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let name = network_name(Some(&req.id), &req.attrs).to_string();
    let body = wanted_connection(ctx, &req.address, &req.attrs).await?;
    let op = ctx.c.service_networking.patch(&req.address, &body).await?;
    settled(
        ctx,
        &req.address,
        &req.progress,
        op,
        ctx.options.create_timeout,
    )
    .await?;
    let c = find(ctx, &req.address, &name).await?.unwrap_or(body);
    Ok(UpdateResponse {
        attrs: connection_attrs(ctx, &req.attrs, &name, &c),
    })
}

/// Refused while a producer (a Cloud SQL instance, a Redis instance) still uses the
/// connection; those may be going in the same apply, so it is retried until they are.
pub(crate) async fn delete_connection(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let name = network_name(Some(&req.id), &Attrs::new()).to_string();
    let network = ctx.numbered_network(&req.address, &name).await?;
    let class = |e: &ProviderError| match e {
        ProviderError::NotFound { .. } => ErrorClass::NotFound,
        ProviderError::Api { message, .. } if message.contains("still using") => ErrorClass::InUse,
        _ => ErrorClass::Other,
    };
    delete_when_free(&req.progress, ctx.options.delete_timeout, class, || async {
        let op = ctx
            .c
            .service_networking
            .delete(&req.address, &network)
            .await?;
        settled(
            ctx,
            &req.address,
            &req.progress,
            op,
            ctx.options.delete_timeout,
        )
        .await
    })
    .await
}
