//! EC2 networking: VPCs, internet gateways, route tables and routes, subnets and their
//! route-table associations, security groups and their rules.
//!
//! Every taggable object is created with its ownership tags (`cairn:stack`,
//! `cairn:resource`) and the idempotency token of the call (`cairn:token`): after a crash,
//! a read by token finds what a half-finished create left, so it is adopted, not duplicated.
//! Reads are batched: one Describe per type (filters by id, 200 ids a page), whatever the
//! number of resources.

use crate::error::{convert, is_not_found};
use crate::Ctx;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, IpPermission, IpRange, ResourceType, SecurityGroupRuleRequest,
    Tag, TagSpecification, UserIdGroupPair, VpcAttributeName,
};
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use std::collections::BTreeMap;

pub(crate) const TAG_STACK: &str = "cairn:stack";
pub(crate) const TAG_RESOURCE: &str = "cairn:resource";
pub(crate) const TAG_TOKEN: &str = "cairn:token";
const PAGE: usize = 200;

/// Ownership tags plus the user's `tags` attribute, as EC2 tags.
pub(crate) fn tags(stack: &str, address: &str, token: Option<&str>, attrs: &Attrs) -> Vec<Tag> {
    let mut out = vec![
        Tag::builder().key(TAG_STACK).value(stack).build(),
        Tag::builder().key(TAG_RESOURCE).value(address).build(),
    ];
    if let Some(t) = token {
        out.push(Tag::builder().key(TAG_TOKEN).value(t).build());
    }
    if let Some(Value::Map(m)) = attrs.get("tags") {
        for (k, v) in m {
            out.push(
                Tag::builder()
                    .key(k.as_str())
                    .value(v.as_str().unwrap_or_default())
                    .build(),
            );
        }
    }
    out
}

fn tag_spec(
    kind: ResourceType,
    stack: &str,
    address: &str,
    token: &str,
    attrs: &Attrs,
) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(tags(stack, address, Some(token), attrs)))
        .build()
}

/// The user's tags (ownership tags left out), or nothing when there are none, so a stack
/// without tags plans clean.
fn user_tags(attrs: &mut Attrs, tags: &[Tag]) {
    let m: BTreeMap<Text, Value> = tags
        .iter()
        .filter(|t| !t.key().unwrap_or_default().starts_with("cairn:"))
        .map(|t| {
            (
                Text::from(t.key().unwrap_or_default()),
                Value::str(t.value().unwrap_or_default()),
            )
        })
        .collect();
    if !m.is_empty() {
        attrs.insert("tags".into(), Value::Map(m));
    }
}

fn str_attr<'a>(attrs: &'a Attrs, k: &str) -> &'a str {
    attrs.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn bool_attr(attrs: &Attrs, k: &str) -> bool {
    attrs.get(k).and_then(Value::as_bool).unwrap_or(false)
}

fn int_attr(attrs: &Attrs, k: &str) -> Option<i32> {
    attrs.get(k).and_then(Value::as_int).map(|i| i as i32)
}

fn found(id: &str, attrs: Attrs) -> ReadOutcome {
    ReadOutcome::Found {
        id: id.into(),
        attrs,
    }
}

/// Replace the user tags of `id` with those in `attrs` (ownership tags untouched).
pub(crate) async fn sync_tags(
    ctx: &Ctx,
    address: &str,
    id: &str,
    prior: &Attrs,
    attrs: &Attrs,
) -> Result<(), ProviderError> {
    let old: Vec<Text> = match prior.get("tags") {
        Some(Value::Map(m)) => m
            .keys()
            .filter(
                |k| !matches!(attrs.get("tags"), Some(Value::Map(n)) if n.contains_key(k.as_str())),
            )
            .cloned()
            .collect(),
        _ => vec![],
    };
    if !old.is_empty() {
        ctx.c
            .ec2
            .delete_tags()
            .resources(id)
            .set_tags(Some(
                old.iter()
                    .map(|k| Tag::builder().key(k.as_str()).build())
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| convert(address, e))?;
    }
    if let Some(Value::Map(m)) = attrs.get("tags") {
        ctx.c
            .ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(
                m.iter()
                    .map(|(k, v)| {
                        Tag::builder()
                            .key(k.as_str())
                            .value(v.as_str().unwrap_or_default())
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| convert(address, e))?;
    }
    Ok(())
}

/// Items of a read request split into lookups by id and by token (adoption).
/// (lookup key, address) pairs.
type Keys = Vec<(String, Text)>;

fn split(items: &[ReadItem]) -> (Keys, Keys) {
    let mut by_id = Vec::new();
    let mut by_token = Vec::new();
    for i in items {
        match (&i.id, &i.token) {
            (Some(id), _) => by_id.push((id.to_string(), i.address.clone())),
            (None, Some(t)) => by_token.push((t.to_string(), i.address.clone())),
            _ => {}
        }
    }
    (by_id, by_token)
}

fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

/// Describe by id filter (pages of 200) and by token tag; map found ids to addresses.
macro_rules! batched_read {
    ($ctx:expr, $req:expr, $call:ident, $id_filter:expr, $items:ident, $id:ident, $to_attrs:expr) => {{
        let (by_id, by_token) = split(&$req.items);
        let mut results: BTreeMap<Text, ReadOutcome> = BTreeMap::new();
        let mut lookups: Vec<(Filter, Vec<(String, Text)>, bool)> = Vec::new();
        for chunk in by_id.chunks(PAGE) {
            lookups.push((
                filter($id_filter, chunk.iter().map(|(id, _)| id.clone())),
                chunk.to_vec(),
                true,
            ));
        }
        for chunk in by_token.chunks(PAGE) {
            lookups.push((
                filter(
                    &format!("tag:{TAG_TOKEN}"),
                    chunk.iter().map(|(t, _)| t.clone()),
                ),
                chunk.to_vec(),
                false,
            ));
        }
        for (f, keys, is_id) in lookups {
            let mut pages = $ctx.c.ec2.$call().filters(f).into_paginator().send();
            let mut seen: BTreeMap<String, ReadOutcome> = BTreeMap::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| convert(&$req.type_name, e))?;
                for $items in page.$items() {
                    let $id = $items.$id().unwrap_or_default().to_string();
                    let token = $items
                        .tags()
                        .iter()
                        .find(|t| t.key() == Some(TAG_TOKEN))
                        .and_then(|t| t.value())
                        .unwrap_or_default()
                        .to_string();
                    let attrs: Attrs = $to_attrs;
                    let key = if is_id { $id.clone() } else { token };
                    seen.insert(key, found(&$id, attrs));
                }
            }
            for (key, address) in keys {
                results.insert(address, seen.remove(&key).unwrap_or(ReadOutcome::Gone));
            }
        }
        results
    }};
}

// ---------------------------------------------------------------------------------------
// VPC

pub(crate) async fn create_vpc(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let out = ctx
        .c
        .ec2
        .create_vpc()
        .cidr_block(str_attr(a, "cidr_block"))
        .tag_specifications(tag_spec(
            ResourceType::Vpc,
            &req.stack,
            &req.address,
            &req.token,
            a,
        ))
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    let id = out
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap_or_default()
        .to_string();
    set_vpc_dns(ctx, &req.address, &id, a).await?;
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&id));
    Ok(CreateResponse {
        id: id.into(),
        attrs,
    })
}

async fn set_vpc_dns(ctx: &Ctx, address: &str, id: &str, a: &Attrs) -> Result<(), ProviderError> {
    // AWS takes one attribute per call, and hostnames need support on first.
    for (support, value) in [
        (true, bool_attr(a, "enable_dns_support")),
        (false, bool_attr(a, "enable_dns_hostnames")),
    ] {
        let call = ctx.c.ec2.modify_vpc_attribute().vpc_id(id);
        let call = if support {
            call.enable_dns_support(AttributeBooleanValue::builder().value(value).build())
        } else {
            call.enable_dns_hostnames(AttributeBooleanValue::builder().value(value).build())
        };
        call.send().await.map_err(|e| convert(address, e))?;
    }
    Ok(())
}

pub(crate) async fn read_vpcs(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut results = batched_read!(ctx, req, describe_vpcs, "vpc-id", vpcs, vpc_id, {
        let mut a = Attrs::new();
        a.insert(
            "cidr_block".into(),
            Value::str(vpcs.cidr_block().unwrap_or_default()),
        );
        a.insert("id".into(), Value::str(&vpc_id));
        user_tags(&mut a, vpcs.tags());
        a
    });
    // DNS settings are not in DescribeVpcs: one attribute call each, found VPCs only.
    for outcome in results.values_mut() {
        if let ReadOutcome::Found { id, attrs } = outcome {
            for (name, key) in [
                (VpcAttributeName::EnableDnsSupport, "enable_dns_support"),
                (VpcAttributeName::EnableDnsHostnames, "enable_dns_hostnames"),
            ] {
                let out = ctx
                    .c
                    .ec2
                    .describe_vpc_attribute()
                    .vpc_id(id.as_str())
                    .attribute(name.clone())
                    .send()
                    .await
                    .map_err(|e| convert(id, e))?;
                let v = match name {
                    VpcAttributeName::EnableDnsSupport => {
                        out.enable_dns_support().and_then(|b| b.value())
                    }
                    _ => out.enable_dns_hostnames().and_then(|b| b.value()),
                };
                attrs.insert(key.into(), Value::Bool(v.unwrap_or(false)));
            }
        }
    }
    Ok(results)
}

pub(crate) async fn update_vpc(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    if req.changed.iter().any(|c| c.starts_with("enable_dns")) {
        set_vpc_dns(ctx, &req.address, &req.id, &req.attrs).await?;
    }
    if req.changed.iter().any(|c| c == "tags") {
        sync_tags(ctx, &req.address, &req.id, &req.prior, &req.attrs).await?;
    }
    let mut attrs = req.attrs.clone();
    attrs.insert("id".into(), Value::str(&req.id));
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete_vpc(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    ctx.retry_dependency(&req.address, || async {
        ctx.c
            .ec2
            .delete_vpc()
            .vpc_id(req.id.as_str())
            .send()
            .await
            .map(|_| ())
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Internet gateway (created attached to its VPC)

pub(crate) async fn create_igw(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let out = ctx
        .c
        .ec2
        .create_internet_gateway()
        .tag_specifications(tag_spec(
            ResourceType::InternetGateway,
            &req.stack,
            &req.address,
            &req.token,
            a,
        ))
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    let id = out
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .unwrap_or_default()
        .to_string();
    ctx.c
        .ec2
        .attach_internet_gateway()
        .internet_gateway_id(&id)
        .vpc_id(str_attr(a, "vpc_id"))
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&id));
    Ok(CreateResponse {
        id: id.into(),
        attrs,
    })
}

pub(crate) async fn read_igws(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    Ok(batched_read!(
        ctx,
        req,
        describe_internet_gateways,
        "internet-gateway-id",
        internet_gateways,
        internet_gateway_id,
        {
            let mut a = Attrs::new();
            a.insert("id".into(), Value::str(&internet_gateway_id));
            let vpc = internet_gateways
                .attachments()
                .first()
                .and_then(|x| x.vpc_id())
                .map(Value::str)
                .unwrap_or(Value::Null);
            a.insert("vpc_id".into(), vpc);
            user_tags(&mut a, internet_gateways.tags());
            a
        }
    ))
}

pub(crate) async fn update_igw(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    if req.changed.iter().any(|c| c == "vpc_id") {
        if let Some(old) = req
            .prior
            .get("vpc_id")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
        {
            ctx.c
                .ec2
                .detach_internet_gateway()
                .internet_gateway_id(req.id.as_str())
                .vpc_id(old)
                .send()
                .await
                .map_err(|e| convert(&req.address, e))?;
        }
        ctx.c
            .ec2
            .attach_internet_gateway()
            .internet_gateway_id(req.id.as_str())
            .vpc_id(str_attr(&req.attrs, "vpc_id"))
            .send()
            .await
            .map_err(|e| convert(&req.address, e))?;
    }
    if req.changed.iter().any(|c| c == "tags") {
        sync_tags(ctx, &req.address, &req.id, &req.prior, &req.attrs).await?;
    }
    let mut attrs = req.attrs.clone();
    attrs.insert("id".into(), Value::str(&req.id));
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete_igw(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    if let Some(vpc) = req
        .prior
        .get("vpc_id")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
    {
        match ctx
            .c
            .ec2
            .detach_internet_gateway()
            .internet_gateway_id(req.id.as_str())
            .vpc_id(vpc)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if is_not_found(&e)
                    || crate::error::code(&e).as_deref() == Some("Gateway.NotAttached") => {}
            Err(e) => return Err(convert(&req.address, e)),
        }
    }
    ctx.retry_dependency(&req.address, || async {
        ctx.c
            .ec2
            .delete_internet_gateway()
            .internet_gateway_id(req.id.as_str())
            .send()
            .await
            .map(|_| ())
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Subnet

pub(crate) async fn create_subnet(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let out = ctx
        .c
        .ec2
        .create_subnet()
        .vpc_id(str_attr(a, "vpc_id"))
        .cidr_block(str_attr(a, "cidr_block"))
        .availability_zone(str_attr(a, "availability_zone"))
        .tag_specifications(tag_spec(
            ResourceType::Subnet,
            &req.stack,
            &req.address,
            &req.token,
            a,
        ))
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    let subnet = out.subnet();
    let id = subnet
        .and_then(|s| s.subnet_id())
        .unwrap_or_default()
        .to_string();
    if bool_attr(a, "map_public_ip_on_launch") {
        set_public_ip(ctx, &req.address, &id, true).await?;
    }
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert(
        "arn".into(),
        Value::str(subnet.and_then(|s| s.subnet_arn()).unwrap_or_default()),
    );
    Ok(CreateResponse {
        id: id.into(),
        attrs,
    })
}

async fn set_public_ip(ctx: &Ctx, address: &str, id: &str, on: bool) -> Result<(), ProviderError> {
    ctx.c
        .ec2
        .modify_subnet_attribute()
        .subnet_id(id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(on).build())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| convert(address, e))
}

pub(crate) async fn read_subnets(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    Ok(batched_read!(
        ctx,
        req,
        describe_subnets,
        "subnet-id",
        subnets,
        subnet_id,
        {
            let mut a = Attrs::new();
            a.insert("id".into(), Value::str(&subnet_id));
            a.insert(
                "arn".into(),
                Value::str(subnets.subnet_arn().unwrap_or_default()),
            );
            a.insert(
                "vpc_id".into(),
                Value::str(subnets.vpc_id().unwrap_or_default()),
            );
            a.insert(
                "cidr_block".into(),
                Value::str(subnets.cidr_block().unwrap_or_default()),
            );
            a.insert(
                "availability_zone".into(),
                Value::str(subnets.availability_zone().unwrap_or_default()),
            );
            a.insert(
                "map_public_ip_on_launch".into(),
                Value::Bool(subnets.map_public_ip_on_launch().unwrap_or(false)),
            );
            user_tags(&mut a, subnets.tags());
            a
        }
    ))
}

pub(crate) async fn update_subnet(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    if req.changed.iter().any(|c| c == "map_public_ip_on_launch") {
        set_public_ip(
            ctx,
            &req.address,
            &req.id,
            bool_attr(&req.attrs, "map_public_ip_on_launch"),
        )
        .await?;
    }
    if req.changed.iter().any(|c| c == "tags") {
        sync_tags(ctx, &req.address, &req.id, &req.prior, &req.attrs).await?;
    }
    let mut attrs = req.attrs.clone();
    attrs.insert("id".into(), Value::str(&req.id));
    if let Some(arn) = req.prior.get("arn") {
        attrs.insert("arn".into(), arn.clone());
    }
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete_subnet(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    ctx.retry_dependency(&req.address, || async {
        ctx.c
            .ec2
            .delete_subnet()
            .subnet_id(req.id.as_str())
            .send()
            .await
            .map(|_| ())
    })
    .await
}

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
    ctx.retry_dependency(&req.address, || async {
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

// ---------------------------------------------------------------------------------------
// Security groups and rules

pub(crate) async fn create_security_group(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let out = ctx
        .c
        .ec2
        .create_security_group()
        .group_name(str_attr(a, "name"))
        .description(str_attr(a, "description"))
        .vpc_id(str_attr(a, "vpc_id"))
        .tag_specifications(tag_spec(
            ResourceType::SecurityGroup,
            &req.stack,
            &req.address,
            &req.token,
            a,
        ))
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    let id = out.group_id().unwrap_or_default().to_string();
    // Egress is explicit in cairn: drop the allow-all rule AWS adds to every new group, so
    // only the declared rules (their own resources) exist.
    let default_egress = IpPermission::builder()
        .ip_protocol("-1")
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    match ctx
        .c
        .ec2
        .revoke_security_group_egress()
        .group_id(&id)
        .ip_permissions(default_egress)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if crate::error::code(&e).as_deref() == Some("InvalidPermission.NotFound") => {}
        Err(e) => return Err(convert(&req.address, e)),
    }
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert(
        "arn".into(),
        Value::str(out.security_group_arn().unwrap_or_default()),
    );
    Ok(CreateResponse {
        id: id.into(),
        attrs,
    })
}

pub(crate) async fn read_security_groups(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    Ok(batched_read!(
        ctx,
        req,
        describe_security_groups,
        "group-id",
        security_groups,
        group_id,
        {
            let mut a = Attrs::new();
            a.insert("id".into(), Value::str(&group_id));
            a.insert(
                "name".into(),
                Value::str(security_groups.group_name().unwrap_or_default()),
            );
            a.insert(
                "description".into(),
                Value::str(security_groups.description().unwrap_or_default()),
            );
            a.insert(
                "vpc_id".into(),
                Value::str(security_groups.vpc_id().unwrap_or_default()),
            );
            a.insert(
                "arn".into(),
                Value::str(format!(
                    "arn:aws:ec2:{}:{}:security-group/{group_id}",
                    ctx.c.region,
                    security_groups.owner_id().unwrap_or_default()
                )),
            );
            user_tags(&mut a, security_groups.tags());
            a
        }
    ))
}

pub(crate) async fn delete_security_group(
    ctx: &Ctx,
    req: &DeleteRequest,
) -> Result<(), ProviderError> {
    ctx.retry_dependency(&req.address, || async {
        ctx.c
            .ec2
            .delete_security_group()
            .group_id(req.id.as_str())
            .send()
            .await
            .map(|_| ())
    })
    .await
}

fn rule_permission(a: &Attrs) -> IpPermission {
    let mut p = IpPermission::builder().ip_protocol(str_attr(a, "ip_protocol"));
    if let (Some(f), Some(t)) = (int_attr(a, "from_port"), int_attr(a, "to_port")) {
        p = p.from_port(f).to_port(t);
    }
    let description = a
        .get("description")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty());
    if let Some(c) = a.get("cidr_ipv4").and_then(Value::as_str) {
        p = p.ip_ranges(
            IpRange::builder()
                .cidr_ip(c)
                .set_description(description.map(str::to_string))
                .build(),
        );
    }
    if let Some(g) = a
        .get("referenced_security_group_id")
        .and_then(Value::as_str)
    {
        p = p.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(g)
                .set_description(description.map(str::to_string))
                .build(),
        );
    }
    p.build()
}

pub(crate) async fn create_rule(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let group = str_attr(a, "security_group_id");
    let spec = tag_spec(
        ResourceType::SecurityGroupRule,
        &req.stack,
        &req.address,
        &req.token,
        a,
    );
    let rule_id = if str_attr(a, "type") == "egress" {
        let out = ctx
            .c
            .ec2
            .authorize_security_group_egress()
            .group_id(group)
            .ip_permissions(rule_permission(a))
            .tag_specifications(spec)
            .send()
            .await
            .map_err(|e| convert(&req.address, e))?;
        out.security_group_rules()
            .first()
            .and_then(|r| r.security_group_rule_id())
            .unwrap_or_default()
            .to_string()
    } else {
        let out = ctx
            .c
            .ec2
            .authorize_security_group_ingress()
            .group_id(group)
            .ip_permissions(rule_permission(a))
            .tag_specifications(spec)
            .send()
            .await
            .map_err(|e| convert(&req.address, e))?;
        out.security_group_rules()
            .first()
            .and_then(|r| r.security_group_rule_id())
            .unwrap_or_default()
            .to_string()
    };
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&rule_id));
    Ok(CreateResponse {
        id: rule_id.into(),
        attrs,
    })
}

pub(crate) async fn read_rules(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    Ok(batched_read!(
        ctx,
        req,
        describe_security_group_rules,
        "security-group-rule-id",
        security_group_rules,
        security_group_rule_id,
        {
            let r = security_group_rules;
            let mut a = Attrs::new();
            a.insert("id".into(), Value::str(&security_group_rule_id));
            a.insert(
                "security_group_id".into(),
                Value::str(r.group_id().unwrap_or_default()),
            );
            a.insert(
                "type".into(),
                Value::str(if r.is_egress() == Some(true) {
                    "egress"
                } else {
                    "ingress"
                }),
            );
            let protocol = r.ip_protocol().unwrap_or("-1");
            a.insert("ip_protocol".into(), Value::str(protocol));
            if protocol != "-1" {
                a.insert(
                    "from_port".into(),
                    Value::Int(i64::from(r.from_port().unwrap_or(0))),
                );
                a.insert(
                    "to_port".into(),
                    Value::Int(i64::from(r.to_port().unwrap_or(0))),
                );
            }
            if let Some(c) = r.cidr_ipv4() {
                a.insert("cidr_ipv4".into(), Value::str(c));
            }
            if let Some(g) = r.referenced_group_info().and_then(|g| g.group_id()) {
                a.insert("referenced_security_group_id".into(), Value::str(g));
            }
            a.insert(
                "description".into(),
                Value::str(r.description().unwrap_or_default()),
            );
            user_tags(&mut a, r.tags());
            a
        }
    ))
}

pub(crate) async fn update_rule(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    let mut rule = SecurityGroupRuleRequest::builder()
        .ip_protocol(str_attr(a, "ip_protocol"))
        .description(str_attr(a, "description"));
    if let (Some(f), Some(t)) = (int_attr(a, "from_port"), int_attr(a, "to_port")) {
        rule = rule.from_port(f).to_port(t);
    }
    if let Some(c) = a.get("cidr_ipv4").and_then(Value::as_str) {
        rule = rule.cidr_ipv4(c);
    }
    if let Some(g) = a
        .get("referenced_security_group_id")
        .and_then(Value::as_str)
    {
        rule = rule.referenced_group_id(g);
    }
    if req.changed.iter().any(|c| c != "tags") {
        ctx.c
            .ec2
            .modify_security_group_rules()
            .group_id(str_attr(a, "security_group_id"))
            .security_group_rules(
                aws_sdk_ec2::types::SecurityGroupRuleUpdate::builder()
                    .security_group_rule_id(req.id.as_str())
                    .security_group_rule(rule.build())
                    .build(),
            )
            .send()
            .await
            .map_err(|e| convert(&req.address, e))?;
    }
    if req.changed.iter().any(|c| c == "tags") {
        sync_tags(ctx, &req.address, &req.id, &req.prior, a).await?;
    }
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&req.id));
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete_rule(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let group = str_attr(&req.prior, "security_group_id");
    if str_attr(&req.prior, "type") == "egress" {
        match ctx
            .c
            .ec2
            .revoke_security_group_egress()
            .group_id(group)
            .security_group_rule_ids(req.id.as_str())
            .send()
            .await
        {
            Err(e) if !is_not_found(&e) => return Err(convert(&req.address, e)),
            _ => {}
        }
    } else {
        match ctx
            .c
            .ec2
            .revoke_security_group_ingress()
            .group_id(group)
            .security_group_rule_ids(req.id.as_str())
            .send()
            .await
        {
            Err(e) if !is_not_found(&e) => return Err(convert(&req.address, e)),
            _ => {}
        }
    }
    Ok(())
}
