//! Memorystore for Redis: one instance reached through the network's private services
//! access, with AUTH and in-transit encryption.
//!
//! Instances carry labels, so ownership is in them; their ids are `{stack}-{resource}`
//! fitted to Memorystore's 40 characters (a deleted id is free again at once, unlike Cloud
//! SQL's names). Memorystore has no list filter: a refresh lists the region's instances
//! once and keeps the stack's by label, then reads each AUTH string (Memorystore makes it;
//! cairn stores it in Secret Manager for the stack's clients).
//!
//! Every change is a `google.longrunning.Operation`, waited on by polling it.

use crate::compute::{last, s};
use crate::error::{convert, is_conflict, is_not_found};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Sensitive, Text, Value};
use cairn_provider_kit::adopt;
use cairn_provider_kit::ownership::label_value;
use cairn_provider_kit::wait::{self, Poll};
use google_cloud_longrunning::model::Operation;
use google_cloud_redis_v1::model::{instance, Instance};
use std::collections::BTreeMap;
use std::time::Duration;

fn int(a: &Attrs, k: &str) -> i32 {
    match a.get(k) {
        Some(Value::Int(n)) => i32::try_from(*n).unwrap_or_default(),
        _ => 0,
    }
}

fn parent(ctx: &Ctx, region: &str) -> String {
    format!("projects/{}/locations/{region}", ctx.project)
}

/// The instance as declared (what a create sends; a patch sends the fields it names).
fn body(stack: &str, address: &str, token: Option<&str>, a: &Attrs) -> Instance {
    Instance::new()
        .set_tier(instance::Tier::from(s(a, "tier")))
        .set_memory_size_gb(int(a, "memory_size_gb"))
        .set_redis_version(s(a, "redis_version"))
        .set_connect_mode(instance::ConnectMode::from(s(a, "connect_mode")))
        .set_authorized_network(s(a, "authorized_network"))
        .set_reserved_ip_range(s(a, "reserved_ip_range"))
        .set_auth_enabled(matches!(a.get("auth_enabled"), Some(Value::Bool(true))))
        .set_transit_encryption_mode(instance::TransitEncryptionMode::from(s(
            a,
            "transit_encryption_mode",
        )))
        .set_replica_count(int(a, "replica_count"))
        .set_read_replicas_mode(instance::ReadReplicasMode::from(s(a, "read_replicas_mode")))
        .set_labels(crate::labels::marked(stack, address, token, a))
}

/// `prior`: what state or the declaration holds (the reserved range by name: Memorystore
/// answers with the block it took from it).
fn instance_attrs(x: &Instance, auth: Option<String>, prior: &Attrs) -> Attrs {
    let user = crate::labels::user(&x.labels);
    let parts: Vec<&str> = x.name.split('/').collect();
    let mut a = Attrs::from([
        ("id".into(), Value::str(&x.name)),
        ("instance_id".into(), Value::str(last(&x.name))),
        (
            "region".into(),
            Value::str(parts.get(3).copied().unwrap_or_default()),
        ),
        ("tier".into(), Value::str(x.tier.name().unwrap_or_default())),
        (
            "memory_size_gb".into(),
            Value::Int(i64::from(x.memory_size_gb)),
        ),
        ("redis_version".into(), Value::str(&x.redis_version)),
        (
            "connect_mode".into(),
            Value::str(x.connect_mode.name().unwrap_or_default()),
        ),
        (
            "authorized_network".into(),
            Value::str(&x.authorized_network),
        ),
        (
            "reserved_ip_range".into(),
            Value::str(match s(prior, "reserved_ip_range") {
                named if !named.is_empty() && x.reserved_ip_range.contains('/') => named,
                _ => x.reserved_ip_range.as_str(),
            }),
        ),
        ("reserved_block".into(), Value::str(&x.reserved_ip_range)),
        ("auth_enabled".into(), Value::Bool(x.auth_enabled)),
        (
            "transit_encryption_mode".into(),
            Value::str(x.transit_encryption_mode.name().unwrap_or_default()),
        ),
        (
            // Read replicas: a STANDARD_HA instance without them still reports its standby
            // as one replica, which the declaration does not count.
            "replica_count".into(),
            Value::Int(match x.read_replicas_mode.name() {
                Some("READ_REPLICAS_ENABLED") => i64::from(x.replica_count),
                _ => 0,
            }),
        ),
        (
            "read_replicas_mode".into(),
            Value::str(x.read_replicas_mode.name().unwrap_or_default()),
        ),
        ("labels".into(), user),
        ("host".into(), Value::str(&x.host)),
        ("port".into(), Value::Int(i64::from(x.port))),
        (
            "state".into(),
            Value::str(x.state.name().unwrap_or_default()),
        ),
    ]);
    if let Some(v) = auth {
        a.insert("auth_string".into(), Value::Sensitive(Sensitive::new(v)));
    }
    a
}

/// Wait until a Memorystore operation is done.
async fn done(
    ctx: &Ctx,
    address: &str,
    progress: &Progress,
    op: Operation,
    timeout: Duration,
) -> Result<(), ProviderError> {
    crate::lro::done(
        address,
        "Memorystore instance",
        progress,
        op,
        timeout,
        ctx.options.first_poll,
        |name| ctx.c.redis.get_operation().set_name(name).send(),
    )
    .await
}

async fn get(ctx: &Ctx, address: &str, name: &str) -> Result<Option<Instance>, ProviderError> {
    match ctx.c.redis.get_instance().set_name(name).send().await {
        Ok(x) => Ok(Some(x)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(convert(address, e)),
    }
}

/// The AUTH string Memorystore made, when AUTH is on.
async fn auth_string(
    ctx: &Ctx,
    address: &str,
    x: &Instance,
) -> Result<Option<String>, ProviderError> {
    if !x.auth_enabled {
        return Ok(None);
    }
    let a = ctx
        .c
        .redis
        .get_instance_auth_string()
        .set_name(&x.name)
        .send()
        .await
        .map_err(|e| convert(address, e))?;
    Ok(Some(a.auth_string))
}

async fn attrs_of(
    ctx: &Ctx,
    address: &str,
    x: &Instance,
    prior: &Attrs,
) -> Result<Attrs, ProviderError> {
    let auth = auth_string(ctx, address, x).await?;
    if s(prior, "reserved_ip_range").is_empty() && x.reserved_ip_range.contains('/') {
        // An import: the range is found by the block Memorystore took from it.
        let mut named = prior.clone();
        if let Some(range) = range_holding(ctx, address, &x.reserved_ip_range).await? {
            named.insert("reserved_ip_range".into(), Value::str(range));
        }
        return Ok(instance_attrs(x, auth, &named));
    }
    Ok(instance_attrs(x, auth, prior))
}

/// The name of the project's reserved range (a `VPC_PEERING` global address) holding
/// `block`.
async fn range_holding(
    ctx: &Ctx,
    address: &str,
    block: &str,
) -> Result<Option<String>, ProviderError> {
    let Ok(block) = block.parse::<ipnet::Ipv4Net>() else {
        return Ok(None);
    };
    let ranges = crate::compute::all_pages(address, |token| {
        let list = ctx
            .c
            .global_addresses
            .list()
            .set_project(&ctx.project)
            .set_page_token(token);
        async move { list.send().await.map(|p| (p.items, p.next_page_token)) }
    })
    .await?;
    Ok(ranges.into_iter().find_map(|r| {
        let net = format!("{}/{}", r.address.as_deref()?, r.prefix_length?);
        let net: ipnet::Ipv4Net = net.parse().ok()?;
        net.contains(&block).then(|| r.name.clone()).flatten()
    }))
}

/// The stack's instances in the provider's region, by label: one list call a page (the
/// API filters on nothing, so the labels are checked here; those being deleted included).
pub(crate) async fn listed(
    ctx: &Ctx,
    stack: &str,
    what: &str,
) -> Result<Vec<Instance>, ProviderError> {
    let mut listed: Vec<Instance> = Vec::new();
    let mut token = String::new();
    let stack = label_value(stack);
    loop {
        let page = ctx
            .c
            .redis
            .list_instances()
            .set_parent(parent(ctx, &ctx.region))
            .set_page_token(&token)
            .send()
            .await
            .map_err(|e| convert(what, e))?;
        let stuck = page.instances.is_empty() && page.next_page_token == token;
        listed.extend(
            page.instances
                .into_iter()
                .filter(|x| x.labels.get("cairn-stack") == Some(&stack)),
        );
        if page.next_page_token.is_empty() || stuck {
            break;
        }
        token = page.next_page_token;
    }
    Ok(listed)
}

/// One list of the region's instances, kept by the stack's label; imported ones not
/// listed are got by id.
pub(crate) async fn read(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let listed = listed(ctx, &req.stack, &req.type_name).await?;
    let mut out = BTreeMap::new();
    for item in &req.items {
        let found = match &item.id {
            Some(id) => match listed.iter().find(|x| last(&x.name) == last(id)) {
                Some(x) => Some(x.clone()),
                None => get(ctx, &item.address, id).await?,
            },
            None => {
                let mark = label_value(&item.address);
                listed
                    .iter()
                    .find(|x| x.labels.get("cairn-resource") == Some(&mark))
                    .cloned()
            }
        };
        let outcome = match found {
            Some(x) if x.state.name() != Some("DELETING") => ReadOutcome::Found {
                id: x.name.as_str().into(),
                attrs: attrs_of(ctx, &item.address, &x, &item.prior).await?,
            },
            _ => ReadOutcome::Gone,
        };
        out.insert(item.address.clone(), outcome);
    }
    Ok(out)
}

pub(crate) async fn create(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let region = s(a, "region");
    let id = s(a, "instance_id");
    let name = format!("{}/instances/{id}", parent(ctx, region));
    let sent = ctx
        .c
        .redis
        .create_instance()
        .set_parent(parent(ctx, region))
        .set_instance_id(id)
        .set_instance(body(&req.stack, &req.address, Some(&req.token), a))
        .send()
        .await;
    match sent {
        Ok(op) => {
            done(
                ctx,
                &req.address,
                &req.progress,
                op,
                ctx.options.create_timeout,
            )
            .await?
        }
        // Its id is taken: adopted when its labels say an interrupted run of this stack
        // made it for this address, then waited on until it is ready.
        Err(e) if is_conflict(&e) => {
            let x = get(ctx, &req.address, &name)
                .await?
                .ok_or_else(|| ProviderError::Api {
                    address: req.address.to_string(),
                    code: "AlreadyExists".into(),
                    message: format!("Memorystore instance {name} exists but cannot be read"),
                })?;
            let owner = crate::labels::owner(&req.stack, &req.address, &x.labels);
            adopt::decide(
                &req.address,
                "Memorystore instance",
                &name,
                owner.into(),
                &req.progress,
            )?;
            wait_ready(ctx, &req.address, &req.progress, &name).await?;
        }
        Err(e) => return Err(convert(&req.address, e)),
    }
    let x = get(ctx, &req.address, &name)
        .await?
        .ok_or_else(|| ProviderError::Indeterminate {
            address: req.address.to_string(),
            message: format!("Memorystore instance {name} was created but cannot be read"),
        })?;
    Ok(CreateResponse {
        id: x.name.as_str().into(),
        attrs: attrs_of(ctx, &req.address, &x, &req.attrs).await?,
    })
}

async fn wait_ready(
    ctx: &Ctx,
    address: &str,
    progress: &Progress,
    name: &str,
) -> Result<(), ProviderError> {
    wait::until(
        address,
        "Memorystore instance",
        progress,
        ctx.options.create_timeout,
        ctx.options.first_poll,
        || async {
            Ok(match get(ctx, address, name).await? {
                Some(x) => match x.state.name() {
                    Some("READY") => Poll::Ready(()),
                    Some(s @ ("DELETING" | "REPAIRING")) => Poll::Failed(s.to_string()),
                    s => Poll::Pending(s.unwrap_or("CREATING").to_string()),
                },
                None => Poll::Failed("deleted".into()),
            })
        },
    )
    .await
}

/// Memory, labels, AUTH and replicas change in place: the fields changed, by update mask.
pub(crate) async fn update(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let fields: Vec<&str> = [
        ("memory_size_gb", "memory_size_gb"),
        ("labels", "labels"),
        ("auth_enabled", "auth_enabled"),
        ("replica_count", "replica_count"),
        ("read_replicas_mode", "read_replicas_mode"),
    ]
    .into_iter()
    .filter(|(attr, _)| req.changed.iter().any(|c| c == attr))
    .map(|(_, field)| field)
    .collect();
    let mut fields = fields;
    let mut instance = body(&req.stack, &req.address, None, &req.attrs).set_name(req.id.as_str());
    // Read replicas turned on later take their addresses from a second block: from the
    // same reserved range.
    if s(&req.attrs, "read_replicas_mode") == "READ_REPLICAS_ENABLED"
        && req.changed.iter().any(|c| c == "read_replicas_mode")
    {
        instance = instance.set_secondary_ip_range(s(&req.attrs, "reserved_ip_range"));
        fields.push("secondary_ip_range");
    }
    let sent = crate::lro::sent_when_free(
        &req.address,
        &req.progress,
        ctx.options.create_timeout,
        crate::lro::busy,
        || {
            ctx.c
                .redis
                .update_instance()
                .set_instance(instance.clone())
                .set_update_mask(google_cloud_wkt::FieldMask::default().set_paths(fields.clone()))
                .send()
        },
    )
    .await?;
    if let Some(op) = sent {
        done(
            ctx,
            &req.address,
            &req.progress,
            op,
            ctx.options.create_timeout,
        )
        .await?;
    }
    let x = get(ctx, &req.address, &req.id)
        .await?
        .ok_or_else(|| ProviderError::NotFound {
            address: req.address.to_string(),
        })?;
    Ok(UpdateResponse {
        attrs: attrs_of(ctx, &req.address, &x, &req.attrs).await?,
    })
}

pub(crate) async fn delete(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let sent = crate::lro::sent_when_free(
        &req.address,
        &req.progress,
        ctx.options.delete_timeout,
        crate::lro::busy,
        || {
            ctx.c
                .redis
                .delete_instance()
                .set_name(req.id.as_str())
                .send()
        },
    )
    .await?;
    match sent {
        Some(op) => match done(
            ctx,
            &req.address,
            &req.progress,
            op,
            ctx.options.delete_timeout,
        )
        .await
        {
            Ok(()) | Err(ProviderError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        },
        None => Ok(()),
    }
}
