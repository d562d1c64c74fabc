//! Compute networking: custom-mode VPC networks and regional subnetworks.
//!
//! Neither carries labels, so an object's name is its ownership mark (`{stack}-{resource}`,
//! see the crate docs) and its id is its Compute path (`projects/P/global/networks/N`,
//! `projects/P/regions/R/subnetworks/S`), from which import finds it. A refresh lists each
//! collection once, filtered to the names asked for.

use crate::error::{convert, GaxError};
use crate::operation::{self, Scope};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use cairn_provider_kit::ownership::request_id;
use google_cloud_compute_v1::model::{
    network_routing_config::RoutingMode, Network, NetworkRoutingConfig, Subnetwork,
};
use std::collections::BTreeMap;

/// A string attribute, or empty.
pub(crate) fn s<'a>(a: &'a Attrs, k: &str) -> &'a str {
    a.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// The last segment of a Compute URL or path (a name, a region).
pub(crate) fn last(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Names a refresh asks for, as Compute's list filter (`name eq` takes an RE2 regex).
pub(crate) fn name_filter(names: &[String]) -> String {
    let alternatives: Vec<String> = names.iter().map(|n| regex_escape(n)).collect();
    format!("name eq ({})", alternatives.join("|"))
}

fn regex_escape(name: &str) -> String {
    // Compute names are [a-z0-9-]: nothing to escape but the hyphen, harmless outside
    // brackets. Kept explicit so a looser name can never widen the filter.
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// Which name each item of a batch read stands for: the id's last segment, or (for the
/// create of an interrupted run, which has none yet) the name it was to be created with.
pub(crate) fn wanted(req: &ReadRequest) -> Vec<(Text, String)> {
    req.items
        .iter()
        .map(|i| {
            let name = match &i.id {
                Some(id) => last(id).to_string(),
                None => s(&i.prior, "name").to_string(),
            };
            (i.address.clone(), name)
        })
        .collect()
}

/// Answer every item from the objects listed by name.
pub(crate) fn answer(
    wanted: Vec<(Text, String)>,
    mut found: BTreeMap<String, Attrs>,
) -> BTreeMap<Text, ReadOutcome> {
    wanted
        .into_iter()
        .map(|(address, name)| {
            let outcome = match found.remove(&name) {
                Some(attrs) => ReadOutcome::Found {
                    id: s(&attrs, "id").into(),
                    attrs,
                },
                None => ReadOutcome::Gone,
            };
            (address, outcome)
        })
        .collect()
}

/// Every item of a paged list: `page(token)` sends one request and answers its items and
/// the next page's token (none or empty at the end).
pub(crate) async fn all_pages<T, F, Fut>(
    address: &str,
    mut page: F,
) -> Result<Vec<T>, ProviderError>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), GaxError>>,
{
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let (items, next) = page(token).await.map_err(|e| convert(address, e))?;
        out.extend(items);
        match next {
            Some(t) if !t.is_empty() => token = t,
            _ => return Ok(out),
        }
    }
}

// ---------------------------------------------------------------------------------------
// gcp_compute_network

pub(crate) fn network_attrs(project: &str, n: &Network) -> Attrs {
    let name = n.name.clone().unwrap_or_default();
    Attrs::from([
        (
            "id".into(),
            Value::str(format!("projects/{project}/global/networks/{name}")),
        ),
        ("name".into(), Value::str(&name)),
        (
            "self_link".into(),
            Value::str(n.self_link.clone().unwrap_or_default()),
        ),
        (
            "auto_create_subnetworks".into(),
            Value::Bool(n.auto_create_subnetworks.unwrap_or(false)),
        ),
        (
            "routing_mode".into(),
            Value::str(
                n.routing_config
                    .as_ref()
                    .and_then(|r| r.routing_mode.as_ref())
                    .and_then(|m| m.name())
                    .unwrap_or("REGIONAL"),
            ),
        ),
    ])
}

async fn get_network(ctx: &Ctx, address: &str, name: &str) -> Result<Attrs, ProviderError> {
    let n = ctx
        .c
        .networks
        .get()
        .set_project(&ctx.project)
        .set_network(name)
        .send()
        .await
        .map_err(|e| convert(address, e))?;
    Ok(network_attrs(&ctx.project, &n))
}

pub(crate) async fn read_networks(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let wanted = wanted(req);
    let names: Vec<String> = wanted.iter().map(|(_, n)| n.clone()).collect();
    let mut found = BTreeMap::new();
    let items = all_pages(&req.type_name, |token| {
        let list = ctx
            .c
            .networks
            .list()
            .set_project(&ctx.project)
            .set_filter(name_filter(&names))
            .set_page_token(token);
        async move { list.send().await.map(|p| (p.items, p.next_page_token)) }
    })
    .await?;
    for n in &items {
        let a = network_attrs(&ctx.project, n);
        found.insert(s(&a, "name").to_string(), a);
    }
    Ok(answer(wanted, found))
}

pub(crate) async fn create_network(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let name = s(a, "name");
    let body = Network::new()
        .set_name(name)
        .set_auto_create_subnetworks(false)
        .set_routing_config(
            NetworkRoutingConfig::new().set_routing_mode(RoutingMode::from(s(a, "routing_mode"))),
        );
    let sent = ctx
        .c
        .networks
        .insert()
        .set_project(&ctx.project)
        .set_request_id(request_id(&req.token))
        .set_body(body)
        .send()
        .await;
    operation::inserted(ctx, req, "network", Scope::Global, sent).await?;
    let attrs = get_network(ctx, &req.address, name).await?;
    Ok(CreateResponse {
        id: s(&attrs, "id").into(),
        attrs,
    })
}

pub(crate) async fn update_network(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    let name = s(a, "name");
    let body = Network::new().set_routing_config(
        NetworkRoutingConfig::new().set_routing_mode(RoutingMode::from(s(a, "routing_mode"))),
    );
    let sent = ctx
        .c
        .networks
        .patch()
        .set_project(&ctx.project)
        .set_network(name)
        .set_body(body)
        .send()
        .await;
    operation::patched(ctx, req, "network", Scope::Global, sent).await?;
    Ok(UpdateResponse {
        attrs: get_network(ctx, &req.address, name).await?,
    })
}

pub(crate) async fn delete_network(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let name = last(&req.id).to_string();
    // Refused while subnetworks or firewalls still use it (they may be going): retried.
    operation::deleted_when_free(ctx, req, "network", Scope::Global, || {
        ctx.c
            .networks
            .delete()
            .set_project(&ctx.project)
            .set_network(&name)
            .send()
    })
    .await
}

// ---------------------------------------------------------------------------------------
// gcp_compute_subnetwork

pub(crate) fn subnetwork_attrs(project: &str, n: &Subnetwork) -> Attrs {
    let name = n.name.clone().unwrap_or_default();
    let region = last(n.region.as_deref().unwrap_or_default()).to_string();
    Attrs::from([
        (
            "id".into(),
            Value::str(format!(
                "projects/{project}/regions/{region}/subnetworks/{name}"
            )),
        ),
        ("name".into(), Value::str(&name)),
        ("region".into(), Value::str(&region)),
        (
            "network".into(),
            Value::str(n.network.clone().unwrap_or_default()),
        ),
        (
            "ip_cidr_range".into(),
            Value::str(n.ip_cidr_range.clone().unwrap_or_default()),
        ),
        (
            "private_ip_google_access".into(),
            Value::Bool(n.private_ip_google_access.unwrap_or(false)),
        ),
        (
            "gateway_address".into(),
            Value::str(n.gateway_address.clone().unwrap_or_default()),
        ),
        (
            "self_link".into(),
            Value::str(n.self_link.clone().unwrap_or_default()),
        ),
    ])
}

async fn get_subnetwork(
    ctx: &Ctx,
    address: &str,
    region: &str,
    name: &str,
) -> Result<Subnetwork, ProviderError> {
    ctx.c
        .subnetworks
        .get()
        .set_project(&ctx.project)
        .set_region(region)
        .set_subnetwork(name)
        .send()
        .await
        .map_err(|e| convert(address, e))
}

/// One list per region asked about (a stack's subnetworks share the provider's region).
pub(crate) async fn read_subnetworks(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let wanted = wanted(req);
    let mut regions: Vec<String> = req
        .items
        .iter()
        .map(|i| match &i.id {
            Some(id) => id.split('/').nth(3).unwrap_or(&ctx.region).to_string(),
            None => match s(&i.prior, "region") {
                "" => ctx.region.clone(),
                r => r.to_string(),
            },
        })
        .collect();
    regions.sort();
    regions.dedup();
    let names: Vec<String> = wanted.iter().map(|(_, n)| n.clone()).collect();
    let mut found = BTreeMap::new();
    for region in regions {
        let items = all_pages(&req.type_name, |token| {
            let list = ctx
                .c
                .subnetworks
                .list()
                .set_project(&ctx.project)
                .set_region(&region)
                .set_filter(name_filter(&names))
                .set_page_token(token);
            async move { list.send().await.map(|p| (p.items, p.next_page_token)) }
        })
        .await?;
        for n in &items {
            let a = subnetwork_attrs(&ctx.project, n);
            found.insert(s(&a, "name").to_string(), a);
        }
    }
    Ok(answer(wanted, found))
}

pub(crate) async fn create_subnetwork(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let (name, region) = (s(a, "name"), s(a, "region"));
    let private_access = a
        .get("private_ip_google_access")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let body = Subnetwork::new()
        .set_name(name)
        .set_network(s(a, "network"))
        .set_ip_cidr_range(s(a, "ip_cidr_range"))
        .set_private_ip_google_access(private_access);
    let sent = ctx
        .c
        .subnetworks
        .insert()
        .set_project(&ctx.project)
        .set_region(region)
        .set_request_id(request_id(&req.token))
        .set_body(body)
        .send()
        .await;
    operation::inserted(ctx, req, "subnetwork", Scope::Region(region), sent).await?;
    let attrs = subnetwork_attrs(
        &ctx.project,
        &get_subnetwork(ctx, &req.address, region, name).await?,
    );
    Ok(CreateResponse {
        id: s(&attrs, "id").into(),
        attrs,
    })
}

/// Private Google access is patched with the subnetwork's current fingerprint (Compute
/// refuses a patch made against a version it no longer has).
pub(crate) async fn update_subnetwork(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    let (name, region) = (s(a, "name"), s(a, "region"));
    let current = get_subnetwork(ctx, &req.address, region, name).await?;
    let mut body = Subnetwork::new().set_private_ip_google_access(
        a.get("private_ip_google_access")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    );
    body.fingerprint = current.fingerprint.clone();
    let sent = ctx
        .c
        .subnetworks
        .patch()
        .set_project(&ctx.project)
        .set_region(region)
        .set_subnetwork(name)
        .set_body(body)
        .send()
        .await;
    operation::patched(ctx, req, "subnetwork", Scope::Region(region), sent).await?;
    let attrs = subnetwork_attrs(
        &ctx.project,
        &get_subnetwork(ctx, &req.address, region, name).await?,
    );
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete_subnetwork(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let name = last(&req.id).to_string();
    let region = req.id.split('/').nth(3).unwrap_or(&ctx.region).to_string();
    operation::deleted_when_free(ctx, req, "subnetwork", Scope::Region(&region), || {
        ctx.c
            .subnetworks
            .delete()
            .set_project(&ctx.project)
            .set_region(&region)
            .set_subnetwork(&name)
            .send()
    })
    .await
}
