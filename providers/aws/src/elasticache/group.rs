//! Redis replication groups: create and modify wait for `available`, delete for the group
//! to disappear.

use super::*;
use cairn_provider_kit::names;

fn group_attrs(g: &aws_sdk_elasticache::types::ReplicationGroup) -> Attrs {
    let mut a = Attrs::new();
    let id = g.replication_group_id().unwrap_or_default();
    a.insert("id".into(), Value::str(id));
    a.insert("replication_group_id".into(), Value::str(id));
    a.insert(
        "description".into(),
        Value::str(g.description().unwrap_or_default()),
    );
    a.insert("arn".into(), Value::str(g.arn().unwrap_or_default()));
    a.insert("status".into(), Value::str(g.status().unwrap_or_default()));
    if let Some(t) = g.cache_node_type() {
        a.insert("node_type".into(), Value::str(t));
    }
    a.insert(
        "num_cache_clusters".into(),
        Value::Int(g.member_clusters().len().max(1) as i64),
    );
    a.insert(
        "automatic_failover_enabled".into(),
        Value::Bool(matches!(
            g.automatic_failover().map(|f| f.as_str()),
            Some("enabled" | "enabling")
        )),
    );
    a.insert(
        "multi_az_enabled".into(),
        Value::Bool(g.multi_az().map(|m| m.as_str()) == Some("enabled")),
    );
    a.insert(
        "transit_encryption_enabled".into(),
        Value::Bool(g.transit_encryption_enabled().unwrap_or(false)),
    );
    a.insert(
        "at_rest_encryption_enabled".into(),
        Value::Bool(g.at_rest_encryption_enabled().unwrap_or(false)),
    );
    if let Some(ep) = g.node_groups().first().and_then(|n| n.primary_endpoint()) {
        a.insert(
            "primary_endpoint_address".into(),
            Value::str(ep.address().unwrap_or_default()),
        );
        a.insert(
            "port".into(),
            Value::Int(i64::from(ep.port().unwrap_or(6379))),
        );
    }
    a
}

async fn group_status(
    ctx: &Ctx,
    address: &str,
    id: &str,
) -> Result<Option<(String, Attrs)>, ProviderError> {
    match ctx
        .c
        .elasticache
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .replication_groups()
            .first()
            .map(|g| (g.status().unwrap_or_default().to_string(), group_attrs(g)))),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(convert(address, e)),
    }
}

async fn wait_available(
    ctx: &Ctx,
    address: &str,
    id: &str,
    progress: &Progress,
) -> Result<Attrs, ProviderError> {
    wait::until(
        address,
        "replication group",
        progress,
        ctx.options.create_timeout,
        Duration::from_millis(250),
        || async {
            Ok(match group_status(ctx, address, id).await? {
                Some((st, a)) if st == "available" => Poll::Ready(a),
                Some((st, _)) if st == "create-failed" => Poll::Failed(st),
                Some((st, _)) => Poll::Pending(st),
                None => Poll::Failed("the replication group disappeared".into()),
            })
        },
    )
    .await
}

/// What cairn records: what AWS reports, plus what it cannot report (the write-only token;
/// right after a create or modify, the member-level settings as asked). A version AWS
/// reports more precisely than asked ("7.1" -> "7.1.0") is the version asked.
fn recorded(mut read: Attrs, desired: &Attrs) -> Attrs {
    if let (Some(Value::Str(want)), Some(Value::Str(have))) =
        (desired.get("engine_version"), read.get("engine_version"))
    {
        if have.starts_with(&format!("{want}.")) {
            read.insert("engine_version".into(), Value::Str(want.clone()));
        }
    }
    for k in [
        "engine",
        "engine_version",
        "auth_token",
        "subnet_group_name",
        "security_group_ids",
        "port",
    ] {
        if let Some(v) = desired.get(k) {
            read.entry(k.into()).or_insert_with(|| v.clone());
        }
    }
    read
}

pub(crate) async fn create_group(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let id = s(a, "replication_group_id").to_string();
    let mut call = ctx
        .c
        .elasticache
        .create_replication_group()
        .replication_group_id(&id)
        .replication_group_description(s(a, "description"))
        .engine(s(a, "engine"))
        .engine_version(s(a, "engine_version"))
        .cache_node_type(s(a, "node_type"))
        .num_cache_clusters(
            a.get("num_cache_clusters")
                .and_then(Value::as_int)
                .unwrap_or(1) as i32,
        )
        .automatic_failover_enabled(b(a, "automatic_failover_enabled"))
        .multi_az_enabled(b(a, "multi_az_enabled"))
        .transit_encryption_enabled(b(a, "transit_encryption_enabled"))
        .at_rest_encryption_enabled(b(a, "at_rest_encryption_enabled"))
        .port(a.get("port").and_then(Value::as_int).unwrap_or(6379) as i32)
        .cache_subnet_group_name(s(a, "subnet_group_name"))
        .set_security_group_ids(Some(list(a, "security_group_ids")))
        .set_tags(Some(tags(&req.stack, &req.address, a)));
    if let Some(Value::Sensitive(t)) = a.get("auth_token") {
        call = call.auth_token(t.expose().ok_or_else(|| ProviderError::Api {
            address: req.address.to_string(),
            code: "MissingSecret".into(),
            message: "the AUTH token is not known to this run".into(),
        })?);
    }
    let (id_ref, call_ref) = (&id, &call);
    let holder = names::create_under_name(
        move || async move {
            match call_ref.clone().send().await {
                Ok(_) => Ok(()),
                Err(e)
                    if crate::error::code(&e).as_deref()
                        == Some("ReplicationGroupAlreadyExists") =>
                {
                    Err(names::Refusal::NameTaken(convert(&req.address, e)))
                }
                Err(e) => Err(names::Refusal::Failed(convert(&req.address, e))),
            }
        },
        move || async move {
            Ok(match group_status(ctx, &req.address, id_ref).await? {
                Some((st, _)) if st == "deleting" => names::Holder::Deleting,
                Some((_, a)) => names::Holder::Present(a),
                None => names::Holder::Nobody,
            })
        },
        // A replacement, or a group deleted by hand: wait for it to go.
        move || async move {
            req.progress
                .report("waiting for the previous group of this name to be deleted");
            wait_gone(ctx, &req.address, id_ref, &req.progress).await
        },
    )
    .await?;
    // Made by an interrupted earlier run for this very address: adopt it.
    if let Some(a) = holder {
        super::adopt_tagged(ctx, req, "replication group", s(&a, "arn")).await?;
    }
    let mut read = wait_available(ctx, &req.address, &id, &req.progress).await?;
    if let Some(t) = a.get("tags") {
        read.insert("tags".into(), t.clone());
    }
    Ok(CreateResponse {
        id: id.into(),
        attrs: recorded(read, a),
    })
}

/// Member-level settings of every replication group, by group id: engine version, subnet
/// group and security groups live on the member clusters. One paged call for all groups.
async fn member_settings(
    ctx: &Ctx,
    type_name: &str,
) -> Result<BTreeMap<String, Attrs>, ProviderError> {
    let mut out: BTreeMap<String, Attrs> = BTreeMap::new();
    let mut pages = ctx
        .c
        .elasticache
        .describe_cache_clusters()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for c in page.map_err(|e| convert(type_name, e))?.cache_clusters() {
            let Some(group) = c.replication_group_id() else {
                continue;
            };
            // Members agree; the first one seen speaks for the group.
            let a = out.entry(group.to_string()).or_default();
            if !a.is_empty() {
                continue;
            }
            if let Some(e) = c.engine() {
                a.insert("engine".into(), Value::str(e));
            }
            if let Some(v) = c.engine_version() {
                a.insert("engine_version".into(), Value::str(v));
            }
            if let Some(g) = c.cache_subnet_group_name() {
                a.insert("subnet_group_name".into(), Value::str(g));
            }
            a.insert(
                "security_group_ids".into(),
                Value::List(
                    c.security_groups()
                        .iter()
                        .filter_map(|m| m.security_group_id())
                        .map(Value::str)
                        .collect(),
                ),
            );
        }
    }
    Ok(out)
}

pub(crate) async fn read_groups(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut by_id = BTreeMap::new();
    let mut pages = ctx
        .c
        .elasticache
        .describe_replication_groups()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for g in page
            .map_err(|e| convert(&req.type_name, e))?
            .replication_groups()
        {
            if g.status() == Some("deleting") {
                continue;
            }
            by_id.insert(
                g.replication_group_id().unwrap_or_default().to_string(),
                group_attrs(g),
            );
        }
    }
    let mut by_address: BTreeMap<String, String> = req
        .items
        .iter()
        .filter_map(|i| {
            Some((
                i.address.to_string(),
                i.prior.get("replication_group_id")?.as_str()?.to_string(),
            ))
        })
        .collect();
    // Creates a crash interrupted (no id, no prior): find their groups by ownership tags
    // among the groups nobody else claims (listings carry no tags: one call per group).
    if req
        .items
        .iter()
        .any(|i| i.id.is_none() && !by_address.contains_key(i.address.as_str()))
    {
        let claimed: std::collections::BTreeSet<String> = req
            .items
            .iter()
            .filter_map(|i| i.id.as_deref().map(str::to_string))
            .chain(by_address.values().cloned())
            .collect();
        for (id, a) in by_id.iter().filter(|(id, _)| !claimed.contains(*id)) {
            if let Some((stack, address)) = owner_of(ctx, &req.type_name, s(a, "arn")).await? {
                if stack == req.stack {
                    by_address.insert(address, id.clone());
                }
            }
        }
    }
    let mut results = found_or_gone(req, by_id, &by_address);
    let members = member_settings(ctx, &req.type_name).await?;
    for i in &req.items {
        if let Some(ReadOutcome::Found { attrs, .. }) = results.get_mut(&i.address) {
            if let Some(m) = members.get(s(attrs, "replication_group_id")) {
                for (k, v) in m {
                    if k == "security_group_ids" {
                        let actual = crate::util::list(m, k);
                        attrs.insert(
                            k.clone(),
                            crate::ec2::order_like(i.prior.get(k.as_str()), actual),
                        );
                    } else {
                        attrs.insert(k.clone(), v.clone());
                    }
                }
            }
            // Tags are not in the listing: one call per group asked about.
            let arn = s(attrs, "arn").to_string();
            read_tags(ctx, &i.address, &arn, attrs).await?;
            let read = std::mem::take(attrs);
            *attrs = recorded(read, &i.prior);
        }
    }
    Ok(results)
}

pub(crate) async fn update_group(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    let changed = |k: &str| req.changed.iter().any(|c| c == k);
    let mut call = ctx
        .c
        .elasticache
        .modify_replication_group()
        .replication_group_id(req.id.as_str())
        .apply_immediately(true);
    if changed("description") {
        call = call.replication_group_description(s(a, "description"));
    }
    if changed("engine_version") {
        call = call.engine_version(s(a, "engine_version"));
    }
    if changed("node_type") {
        call = call.cache_node_type(s(a, "node_type"));
    }
    if changed("automatic_failover_enabled") {
        call = call.automatic_failover_enabled(b(a, "automatic_failover_enabled"));
    }
    if changed("multi_az_enabled") {
        call = call.multi_az_enabled(b(a, "multi_az_enabled"));
    }
    if changed("security_group_ids") {
        call = call.set_security_group_ids(Some(list(a, "security_group_ids")));
    }
    if changed("auth_token") {
        if let Some(Value::Sensitive(t)) = a.get("auth_token") {
            if let Some(plain) = t.expose() {
                call = call
                    .auth_token(plain)
                    .auth_token_update_strategy(AuthTokenUpdateStrategyType::Rotate);
            }
        }
    }
    call.send().await.map_err(|e| convert(&req.address, e))?;
    if changed("num_cache_clusters") {
        let want = a
            .get("num_cache_clusters")
            .and_then(Value::as_int)
            .unwrap_or(1) as i32
            - 1;
        let had = req
            .prior
            .get("num_cache_clusters")
            .and_then(Value::as_int)
            .unwrap_or(1) as i32
            - 1;
        wait_available(ctx, &req.address, &req.id, &req.progress).await?;
        if want > had {
            ctx.c
                .elasticache
                .increase_replica_count()
                .replication_group_id(req.id.as_str())
                .new_replica_count(want)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| convert(&req.address, e))?;
        } else if want < had {
            ctx.c
                .elasticache
                .decrease_replica_count()
                .replication_group_id(req.id.as_str())
                .new_replica_count(want)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| convert(&req.address, e))?;
        }
    }
    if changed("tags") {
        sync_tags(ctx, &req.address, s(&req.prior, "arn"), &req.prior, a).await?;
    }
    let mut read = wait_available(ctx, &req.address, &req.id, &req.progress).await?;
    if let Some(t) = a.get("tags") {
        read.insert("tags".into(), t.clone());
    }
    Ok(UpdateResponse {
        attrs: recorded(read, a),
    })
}

pub(crate) async fn delete_group(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    match ctx
        .c
        .elasticache
        .delete_replication_group()
        .replication_group_id(req.id.as_str())
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(convert(&req.address, e)),
    }
    wait_gone(ctx, &req.address, &req.id, &req.progress).await
}

async fn wait_gone(
    ctx: &Ctx,
    address: &str,
    id: &str,
    progress: &Progress,
) -> Result<(), ProviderError> {
    wait::until_gone(
        address,
        "replication group deletion",
        progress,
        ctx.options.delete_timeout,
        || async { Ok(group_status(ctx, address, id).await?.map(|(st, _)| st)) },
    )
    .await
}
