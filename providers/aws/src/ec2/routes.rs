//! Route tables, routes and route-table associations.

use super::*;
use crate::error::convert;
use crate::Ctx;
use aws_sdk_ec2::types::ResourceType;
use cairn_core::value::{Attrs, Text, Value};
use cairn_provider_kit::adopt::Existing;
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------
// Route tables, routes, associations

pub(crate) async fn create_route_table(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let out = ctx
        .c
        .ec2
        .create_route_table()
        .vpc_id(str_attr(a, "vpc_id"))
        .tag_specifications(tag_spec(
            ResourceType::RouteTable,
            &req.stack,
            &req.address,
            &req.token,
            a,
        ))
        .customize()
        .config_override(sent_once())
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    let id = out
        .route_table()
        .and_then(|t| t.route_table_id())
        .unwrap_or_default()
        .to_string();
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&id));
    Ok(CreateResponse {
        id: id.into(),
        attrs,
    })
}

pub(crate) async fn read_route_tables(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    Ok(batched_read!(
        ctx,
        req,
        describe_route_tables,
        "route-table-id",
        route_tables,
        route_table_id,
        {
            let mut a = Attrs::new();
            a.insert("id".into(), Value::str(&route_table_id));
            a.insert(
                "vpc_id".into(),
                Value::str(route_tables.vpc_id().unwrap_or_default()),
            );
            user_tags(&mut a, route_tables.tags());
            a
        }
    ))
}

pub(crate) async fn update_tags_only(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    sync_tags(ctx, &req.address, &req.id, &req.prior, &req.attrs).await?;
    let mut attrs = req.attrs.clone();
    for (k, v) in &req.prior {
        if !attrs.contains_key(k.as_str()) {
            attrs.insert(k.clone(), v.clone());
        }
    }
    attrs.insert("id".into(), Value::str(&req.id));
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete_route_table(
    ctx: &Ctx,
    req: &DeleteRequest,
) -> Result<(), ProviderError> {
    ctx.retry_dependency(&req.address, &req.progress, || async {
        ctx.c
            .ec2
            .delete_route_table()
            .route_table_id(req.id.as_str())
            .send()
            .await
            .map(|_| ())
    })
    .await
}

/// Routes have no id of their own in EC2: cairn's is `TABLE_DESTINATION`.
fn route_id(table: &str, destination: &str) -> String {
    format!("{table}_{destination}")
}

pub(crate) async fn create_route(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let table = str_attr(a, "route_table_id");
    let dest = str_attr(a, "destination_cidr_block");
    let mut call = ctx
        .c
        .ec2
        .create_route()
        .route_table_id(table)
        .destination_cidr_block(dest);
    if let Some(g) = a.get("gateway_id").and_then(Value::as_str) {
        call = call.gateway_id(g);
    }
    if let Some(n) = a.get("nat_gateway_id").and_then(Value::as_str) {
        call = call.nat_gateway_id(n);
    }
    let id = route_id(table, dest);
    match call.send().await {
        Ok(_) => {}
        // Made by an interrupted run (routes carry no tags: identical is the test).
        Err(e) if crate::error::code(&e).as_deref() == Some("RouteAlreadyExists") => {
            let existing = routes_of(ctx, &req.address, &[table.to_string()])
                .await?
                .remove(&id);
            let same = existing.as_ref().is_some_and(|r| same_target(r, a));
            let found = match (existing, same) {
                (_, true) => Existing::Identical,
                (Some(r), false) => {
                    Existing::Foreign(format!("it sends {dest} to {} instead", target_of(&r)))
                }
                (None, false) => return Err(convert(&req.address, e)),
            };
            cairn_provider_kit::adopt::decide(&req.address, "route", &id, found, &req.progress)?;
        }
        Err(e) => return Err(convert(&req.address, e)),
    }
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&id));
    Ok(CreateResponse {
        id: id.into(),
        attrs,
    })
}

/// Where a route sends its traffic: the gateway or NAT gateway id.
fn target_of(a: &Attrs) -> String {
    ["gateway_id", "nat_gateway_id"]
        .iter()
        .find_map(|k| a.get(*k).and_then(Value::as_str))
        .unwrap_or("nowhere")
        .to_string()
}

fn same_target(live: &Attrs, wanted: &Attrs) -> bool {
    ["gateway_id", "nat_gateway_id"]
        .iter()
        .all(|k| live.get(*k).and_then(Value::as_str) == wanted.get(*k).and_then(Value::as_str))
}

/// Every route of `tables`, by cairn's route id, in one DescribeRouteTables per page.
async fn routes_of(
    ctx: &Ctx,
    address: &str,
    tables: &[String],
) -> Result<BTreeMap<String, Attrs>, ProviderError> {
    let mut seen: BTreeMap<String, Attrs> = BTreeMap::new();
    for chunk in tables.chunks(PAGE) {
        let mut pages = ctx
            .c
            .ec2
            .describe_route_tables()
            .filters(filter("route-table-id", chunk.iter().cloned()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| convert(address, e))?;
            for t in page.route_tables() {
                let table = t.route_table_id().unwrap_or_default();
                for r in t.routes() {
                    let Some(dest) = r.destination_cidr_block() else {
                        continue;
                    };
                    let mut a = Attrs::new();
                    a.insert("route_table_id".into(), Value::str(table));
                    a.insert("destination_cidr_block".into(), Value::str(dest));
                    if let Some(g) = r.gateway_id().filter(|g| *g != "local") {
                        a.insert("gateway_id".into(), Value::str(g));
                    }
                    if let Some(n) = r.nat_gateway_id() {
                        a.insert("nat_gateway_id".into(), Value::str(n));
                    }
                    a.insert("id".into(), Value::str(route_id(table, dest)));
                    seen.insert(route_id(table, dest), a);
                }
            }
        }
    }
    Ok(seen)
}

/// Routes have no tags and no id: a route is its table and destination. A pending create
/// (no id yet) is looked for where it was aimed, so an interrupted run's route is adopted.
pub(crate) async fn read_routes(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    // One DescribeRouteTables for every table the routes live in.
    let mut wanted: BTreeMap<String, Vec<(String, Text)>> = BTreeMap::new();
    let mut results = BTreeMap::new();
    for i in &req.items {
        let key = match i.id.as_deref() {
            Some(id) => id
                .rsplit_once('_')
                .map(|(t, d)| (t.to_string(), d.to_string())),
            None => Some((
                str_attr(&i.prior, "route_table_id").to_string(),
                str_attr(&i.prior, "destination_cidr_block").to_string(),
            ))
            .filter(|(t, d)| !t.is_empty() && !d.is_empty()),
        };
        match key {
            Some((table, dest)) => wanted
                .entry(table)
                .or_default()
                .push((dest, i.address.clone())),
            None => {
                results.insert(i.address.clone(), ReadOutcome::Gone);
            }
        }
    }
    let tables: Vec<String> = wanted.keys().cloned().collect();
    let mut seen = routes_of(ctx, &req.type_name, &tables).await?;
    for (table, routes) in wanted {
        for (dest, address) in routes {
            let id = route_id(&table, &dest);
            results.insert(
                address,
                seen.remove(&id)
                    .map_or(ReadOutcome::Gone, |a| found(&id, a)),
            );
        }
    }
    Ok(results)
}

pub(crate) async fn update_route(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    let mut call = ctx
        .c
        .ec2
        .replace_route()
        .route_table_id(str_attr(a, "route_table_id"))
        .destination_cidr_block(str_attr(a, "destination_cidr_block"));
    if let Some(g) = a.get("gateway_id").and_then(Value::as_str) {
        call = call.gateway_id(g);
    }
    if let Some(n) = a.get("nat_gateway_id").and_then(Value::as_str) {
        call = call.nat_gateway_id(n);
    }
    call.send().await.map_err(|e| convert(&req.address, e))?;
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&req.id));
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete_route(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let (table, dest) = req.id.rsplit_once('_').unwrap_or((req.id.as_str(), ""));
    ctx.c
        .ec2
        .delete_route()
        .route_table_id(table)
        .destination_cidr_block(dest)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| convert(&req.address, e))
}

pub(crate) async fn create_association(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let (subnet, table) = (str_attr(a, "subnet_id"), str_attr(a, "route_table_id"));
    let sent = ctx
        .c
        .ec2
        .associate_route_table()
        .subnet_id(subnet)
        .route_table_id(table)
        .send()
        .await;
    let id = match sent {
        Ok(out) => out.association_id().unwrap_or_default().to_string(),
        // The subnet is associated already: by an interrupted run, if with this table.
        Err(e) if crate::error::code(&e).as_deref() == Some("Resource.AlreadyAssociated") => {
            let existing = associations_of_subnets(ctx, &req.address, &[subnet.to_string()])
                .await?
                .remove(subnet);
            let Some(existing) = existing else {
                return Err(convert(&req.address, e));
            };
            let id = str_attr(&existing, "id").to_string();
            let found = if str_attr(&existing, "route_table_id") == table {
                Existing::Identical
            } else {
                Existing::Foreign(format!(
                    "the subnet is associated with {} instead",
                    str_attr(&existing, "route_table_id")
                ))
            };
            cairn_provider_kit::adopt::decide(
                &req.address,
                "route table association",
                &id,
                found,
                &req.progress,
            )?;
            id
        }
        Err(e) => return Err(convert(&req.address, e)),
    };
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&id));
    Ok(CreateResponse {
        id: id.into(),
        attrs,
    })
}

/// By association id; a pending create (no id yet) by its subnet, which has at most one.
pub(crate) async fn read_associations(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let ids: Vec<(String, Text)> = req
        .items
        .iter()
        .filter_map(|i| Some((i.id.as_ref()?.to_string(), i.address.clone())))
        .collect();
    let mut seen: BTreeMap<String, Attrs> = BTreeMap::new();
    for chunk in ids.chunks(PAGE) {
        let found = associations_where(
            ctx,
            &req.type_name,
            "association.route-table-association-id",
            chunk.iter().map(|(id, _)| id.clone()),
        )
        .await?;
        seen.extend(
            found
                .into_iter()
                .map(|a| (str_attr(&a, "id").to_string(), a)),
        );
    }
    let subnets: Vec<String> = req
        .items
        .iter()
        .filter(|i| i.id.is_none())
        .map(|i| str_attr(&i.prior, "subnet_id").to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let mut by_subnet = associations_of_subnets(ctx, &req.type_name, &subnets).await?;
    let mut results = BTreeMap::new();
    for i in &req.items {
        let outcome = match i.id.as_deref() {
            Some(id) => seen.remove(id).map(|a| found(id, a)),
            None => by_subnet.remove(str_attr(&i.prior, "subnet_id")).map(|a| {
                let id = str_attr(&a, "id").to_string();
                found(&id, a)
            }),
        };
        results.insert(i.address.clone(), outcome.unwrap_or(ReadOutcome::Gone));
    }
    Ok(results)
}

/// The explicit association of each of `subnets` that has one, by subnet id.
async fn associations_of_subnets(
    ctx: &Ctx,
    address: &str,
    subnets: &[String],
) -> Result<BTreeMap<String, Attrs>, ProviderError> {
    let mut out = BTreeMap::new();
    for chunk in subnets.chunks(PAGE) {
        let found =
            associations_where(ctx, address, "association.subnet-id", chunk.iter().cloned())
                .await?;
        for a in found {
            let subnet = str_attr(&a, "subnet_id").to_string();
            if chunk.contains(&subnet) {
                out.insert(subnet, a);
            }
        }
    }
    Ok(out)
}

/// Subnet associations of the route tables matching one filter.
async fn associations_where(
    ctx: &Ctx,
    address: &str,
    filter_name: &str,
    values: impl IntoIterator<Item = String>,
) -> Result<Vec<Attrs>, ProviderError> {
    let mut out = Vec::new();
    let mut pages = ctx
        .c
        .ec2
        .describe_route_tables()
        .filters(filter(filter_name, values))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| convert(address, e))?;
        for t in page.route_tables() {
            for assoc in t.associations() {
                let (Some(id), Some(subnet)) =
                    (assoc.route_table_association_id(), assoc.subnet_id())
                else {
                    continue;
                };
                let mut a = Attrs::new();
                a.insert("id".into(), Value::str(id));
                a.insert("subnet_id".into(), Value::str(subnet));
                a.insert(
                    "route_table_id".into(),
                    Value::str(t.route_table_id().unwrap_or_default()),
                );
                out.push(a);
            }
        }
    }
    Ok(out)
}

pub(crate) async fn update_association(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let out = ctx
        .c
        .ec2
        .replace_route_table_association()
        .association_id(req.id.as_str())
        .route_table_id(str_attr(&req.attrs, "route_table_id"))
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    // AWS gives the association a new id.
    let id = out
        .new_association_id()
        .unwrap_or(req.id.as_str())
        .to_string();
    let mut attrs = req.attrs.clone();
    attrs.insert("id".into(), Value::str(&id));
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete_association(
    ctx: &Ctx,
    req: &DeleteRequest,
) -> Result<(), ProviderError> {
    ctx.c
        .ec2
        .disassociate_route_table()
        .association_id(req.id.as_str())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| convert(&req.address, e))
}
