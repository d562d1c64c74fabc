//! Route tables, routes and route-table associations.

use super::*;
use crate::error::convert;
use crate::Ctx;
use aws_sdk_ec2::types::ResourceType;
use cairn_core::value::{Attrs, Text, Value};
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
    call.send().await.map_err(|e| convert(&req.address, e))?;
    let id = route_id(table, dest);
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&id));
    Ok(CreateResponse {
        id: id.into(),
        attrs,
    })
}

pub(crate) async fn read_routes(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    // One DescribeRouteTables for every table the routes live in.
    let mut wanted: BTreeMap<String, Vec<(String, Text)>> = BTreeMap::new();
    let mut results = BTreeMap::new();
    for i in &req.items {
        match i.id.as_deref().and_then(|id| id.rsplit_once('_')) {
            Some((table, dest)) => wanted
                .entry(table.to_string())
                .or_default()
                .push((dest.to_string(), i.address.clone())),
            None => {
                results.insert(i.address.clone(), ReadOutcome::Gone);
            }
        }
    }
    let tables: Vec<String> = wanted.keys().cloned().collect();
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
            let page = page.map_err(|e| convert(&req.type_name, e))?;
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
    let out = ctx
        .c
        .ec2
        .associate_route_table()
        .subnet_id(str_attr(a, "subnet_id"))
        .route_table_id(str_attr(a, "route_table_id"))
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    let id = out.association_id().unwrap_or_default().to_string();
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&id));
    Ok(CreateResponse {
        id: id.into(),
        attrs,
    })
}

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
        let mut pages = ctx
            .c
            .ec2
            .describe_route_tables()
            .filters(filter(
                "association.route-table-association-id",
                chunk.iter().map(|(id, _)| id.clone()),
            ))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| convert(&req.type_name, e))?;
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
                    seen.insert(id.to_string(), a);
                }
            }
        }
    }
    let mut results = BTreeMap::new();
    for i in &req.items {
        let outcome =
            i.id.as_deref()
                .and_then(|id| seen.remove(id).map(|a| found(id, a)))
                .unwrap_or(ReadOutcome::Gone);
        results.insert(i.address.clone(), outcome);
    }
    Ok(results)
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
