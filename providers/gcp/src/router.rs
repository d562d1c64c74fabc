//! Cloud Router with one Cloud NAT: outbound internet for a network's private subnets.
//!
//! Cloud NAT is regional (one per region, not per zone), configured on a Cloud Router; the
//! NAT lists the private tier's subnetworks, so public and isolated ones get none. Routers
//! carry no labels: the name is the ownership mark, as for networks.

use crate::compute::{all_pages, answer, last, name_filter, s, wanted};
use crate::error::convert;
use crate::operation::{self, Scope};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use cairn_provider_kit::ownership::request_id;
use google_cloud_compute_v1::model::{
    router_nat, router_nat_subnetwork_to_nat, Router, RouterNat, RouterNatSubnetworkToNat,
};
use std::collections::BTreeMap;

pub(crate) fn router_attrs(project: &str, r: &Router) -> Attrs {
    let name = r.name.clone().unwrap_or_default();
    let region = last(r.region.as_deref().unwrap_or_default()).to_string();
    let nat = r.nats.first();
    Attrs::from([
        (
            "id".into(),
            Value::str(format!(
                "projects/{project}/regions/{region}/routers/{name}"
            )),
        ),
        ("name".into(), Value::str(&name)),
        ("region".into(), Value::str(&region)),
        (
            "network".into(),
            Value::str(r.network.clone().unwrap_or_default()),
        ),
        (
            "nat_name".into(),
            Value::str(nat.and_then(|n| n.name.clone()).unwrap_or_default()),
        ),
        (
            "nat_subnetworks".into(),
            Value::List(
                nat.map(|n| {
                    n.subnetworks
                        .iter()
                        .map(|s| Value::str(s.name.clone().unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default(),
            ),
        ),
        (
            "self_link".into(),
            Value::str(r.self_link.clone().unwrap_or_default()),
        ),
    ])
}

/// The router as declared: its one NAT over the listed subnetworks' ranges.
fn body(a: &Attrs) -> Router {
    let subnetworks = match a.get("nat_subnetworks") {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(Value::as_str)
            .map(|link| {
                RouterNatSubnetworkToNat::new()
                    .set_name(link)
                    .set_source_ip_ranges_to_nat([
                        router_nat_subnetwork_to_nat::SourceIpRangesToNat::from("ALL_IP_RANGES"),
                    ])
            })
            .collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    Router::new()
        .set_name(s(a, "name"))
        .set_network(s(a, "network"))
        .set_nats([RouterNat::new()
            .set_name(s(a, "nat_name"))
            .set_nat_ip_allocate_option(router_nat::NatIpAllocateOption::from("AUTO_ONLY"))
            .set_source_subnetwork_ip_ranges_to_nat(
                router_nat::SourceSubnetworkIpRangesToNat::from("LIST_OF_SUBNETWORKS"),
            )
            .set_subnetworks(subnetworks)])
}

async fn get(ctx: &Ctx, address: &str, region: &str, name: &str) -> Result<Attrs, ProviderError> {
    let r = ctx
        .c
        .routers
        .get()
        .set_project(&ctx.project)
        .set_region(region)
        .set_router(name)
        .send()
        .await
        .map_err(|e| convert(address, e))?;
    Ok(router_attrs(&ctx.project, &r))
}

pub(crate) async fn read(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let wanted = wanted(req);
    let names: Vec<String> = wanted.iter().map(|(_, n)| n.clone()).collect();
    let mut found = BTreeMap::new();
    let items = all_pages(&req.type_name, |token| {
        let list = ctx
            .c
            .routers
            .list()
            .set_project(&ctx.project)
            .set_region(&ctx.region)
            .set_filter(name_filter(&names))
            .set_page_token(token);
        async move { list.send().await.map(|p| (p.items, p.next_page_token)) }
    })
    .await?;
    for r in &items {
        let a = router_attrs(&ctx.project, r);
        found.insert(s(&a, "name").to_string(), a);
    }
    Ok(answer(wanted, found))
}

pub(crate) async fn create(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let (name, region) = (s(&req.attrs, "name"), s(&req.attrs, "region"));
    let sent = ctx
        .c
        .routers
        .insert()
        .set_project(&ctx.project)
        .set_region(region)
        .set_request_id(request_id(&req.token))
        .set_body(body(&req.attrs))
        .send()
        .await;
    operation::inserted(ctx, req, "Cloud Router", Scope::Region(region), sent).await?;
    let attrs = get(ctx, &req.address, region, name).await?;
    Ok(CreateResponse {
        id: s(&attrs, "id").into(),
        attrs,
    })
}

/// The NAT's subnetworks change in place (a private subnet added or removed).
pub(crate) async fn update(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let (name, region) = (s(&req.attrs, "name"), s(&req.attrs, "region"));
    let sent = ctx
        .c
        .routers
        .patch()
        .set_project(&ctx.project)
        .set_region(region)
        .set_router(name)
        .set_body(body(&req.attrs))
        .send()
        .await;
    operation::patched(ctx, req, "Cloud Router", Scope::Region(region), sent).await?;
    Ok(UpdateResponse {
        attrs: get(ctx, &req.address, region, name).await?,
    })
}

pub(crate) async fn delete(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let name = last(&req.id).to_string();
    let region = req.id.split('/').nth(3).unwrap_or(&ctx.region).to_string();
    let sent = ctx
        .c
        .routers
        .delete()
        .set_project(&ctx.project)
        .set_region(&region)
        .set_router(&name)
        .send()
        .await;
    operation::deleted(ctx, req, "Cloud Router", Scope::Region(&region), sent).await
}
