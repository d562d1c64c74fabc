//! VPC firewall rules: how a portable security group exists on GCP.
//!
//! GCP has no group object: a group is a network tag (`{stack}-{group}`) that its members
//! carry, and each of its rules is one firewall targeting that tag. Firewalls carry no
//! labels either, so, like networks, their deterministic names are the ownership marks.
//! Everything but the name, network and direction is patched in place.

use crate::compute::{all_pages, s};
use crate::error::convert;
use crate::operation::{self, Scope};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use cairn_provider_kit::ownership::request_id;
use google_cloud_compute_v1::model::{firewall, Firewall};
use std::collections::BTreeMap;

fn strings(a: &Attrs, k: &str) -> Vec<String> {
    match a.get(k) {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn list(items: &[String]) -> Value {
    Value::List(items.iter().map(Value::str).collect())
}

/// `[{protocol, ports}]` as cairn records it, from Compute's `allowed` / `denied`.
fn rules(pairs: impl Iterator<Item = (Option<String>, Vec<String>)>) -> Value {
    Value::List(
        pairs
            .map(|(protocol, ports)| {
                Value::Map(Attrs::from([
                    (
                        Text::from("protocol"),
                        Value::str(protocol.unwrap_or_default()),
                    ),
                    (Text::from("ports"), list(&ports)),
                ]))
            })
            .collect(),
    )
}

/// The `(protocol, ports)` pairs of an `allowed` / `denied` attribute.
fn pairs(a: &Attrs, k: &str) -> Vec<(String, Vec<String>)> {
    match a.get(k) {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|v| match v {
                Value::Map(m) => Some((
                    m.get("protocol")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    match m.get("ports") {
                        Some(Value::List(p)) => p
                            .iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect(),
                        _ => Vec::new(),
                    },
                )),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn firewall_attrs(project: &str, f: &Firewall) -> Attrs {
    let name = f.name.clone().unwrap_or_default();
    Attrs::from([
        (
            "id".into(),
            Value::str(format!("projects/{project}/global/firewalls/{name}")),
        ),
        ("name".into(), Value::str(&name)),
        (
            "network".into(),
            Value::str(f.network.clone().unwrap_or_default()),
        ),
        (
            "direction".into(),
            Value::str(
                f.direction
                    .as_ref()
                    .and_then(|d| d.name())
                    .unwrap_or("INGRESS"),
            ),
        ),
        (
            "priority".into(),
            Value::Int(i64::from(f.priority.unwrap_or(1000))),
        ),
        ("target_tags".into(), list(&f.target_tags)),
        ("source_ranges".into(), list(&f.source_ranges)),
        ("source_tags".into(), list(&f.source_tags)),
        ("destination_ranges".into(), list(&f.destination_ranges)),
        (
            "allowed".into(),
            rules(
                f.allowed
                    .iter()
                    .map(|r| (r.ip_protocol.clone(), r.ports.clone())),
            ),
        ),
        (
            "denied".into(),
            rules(
                f.denied
                    .iter()
                    .map(|r| (r.ip_protocol.clone(), r.ports.clone())),
            ),
        ),
        (
            "description".into(),
            Value::str(f.description.clone().unwrap_or_default()),
        ),
        (
            "self_link".into(),
            Value::str(f.self_link.clone().unwrap_or_default()),
        ),
    ])
}

/// The body for an insert (everything) or a patch (everything Compute lets change).
fn body(a: &Attrs, insert: bool) -> Firewall {
    let mut f = Firewall::new()
        .set_priority(a.get("priority").and_then(Value::as_int).unwrap_or(1000) as i32)
        .set_target_tags(strings(a, "target_tags"))
        .set_source_ranges(strings(a, "source_ranges"))
        .set_source_tags(strings(a, "source_tags"))
        .set_destination_ranges(strings(a, "destination_ranges"))
        .set_allowed(
            pairs(a, "allowed")
                .into_iter()
                .map(|(p, ports)| firewall::Allowed::new().set_ip_protocol(p).set_ports(ports)),
        )
        .set_denied(
            pairs(a, "denied")
                .into_iter()
                .map(|(p, ports)| firewall::Denied::new().set_ip_protocol(p).set_ports(ports)),
        )
        .set_description(s(a, "description"))
        // Compute requires the name on a patch too (it must be the rule's own).
        .set_name(s(a, "name"));
    if insert {
        f = f
            .set_network(s(a, "network"))
            .set_direction(firewall::Direction::from(s(a, "direction")));
    }
    f
}

async fn get(ctx: &Ctx, address: &str, name: &str) -> Result<Attrs, ProviderError> {
    let f = ctx
        .c
        .firewalls
        .get()
        .set_project(&ctx.project)
        .set_firewall(name)
        .send()
        .await
        .map_err(|e| convert(address, e))?;
    Ok(firewall_attrs(&ctx.project, &f))
}

pub(crate) async fn read(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let wanted = crate::compute::wanted(req);
    let names: Vec<String> = wanted.iter().map(|(_, n)| n.clone()).collect();
    let mut found = BTreeMap::new();
    let items = all_pages(&req.type_name, |token| {
        let list = ctx
            .c
            .firewalls
            .list()
            .set_project(&ctx.project)
            .set_filter(crate::compute::name_filter(&names))
            .set_page_token(token);
        async move { list.send().await.map(|p| (p.items, p.next_page_token)) }
    })
    .await?;
    for f in &items {
        let a = firewall_attrs(&ctx.project, f);
        found.insert(s(&a, "name").to_string(), a);
    }
    Ok(crate::compute::answer(wanted, found))
}

pub(crate) async fn create(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let name = s(&req.attrs, "name");
    let sent = ctx
        .c
        .firewalls
        .insert()
        .set_project(&ctx.project)
        .set_request_id(request_id(&req.token))
        .set_body(body(&req.attrs, true))
        .send()
        .await;
    operation::inserted(ctx, req, "firewall rule", Scope::Global, sent).await?;
    let attrs = get(ctx, &req.address, name).await?;
    Ok(CreateResponse {
        id: s(&attrs, "id").into(),
        attrs,
    })
}

pub(crate) async fn update(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let name = s(&req.attrs, "name");
    let sent = ctx
        .c
        .firewalls
        .patch()
        .set_project(&ctx.project)
        .set_firewall(name)
        .set_body(body(&req.attrs, false))
        .send()
        .await;
    operation::patched(ctx, req, "firewall rule", Scope::Global, sent).await?;
    Ok(UpdateResponse {
        attrs: get(ctx, &req.address, name).await?,
    })
}

pub(crate) async fn delete(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let name = crate::compute::last(&req.id).to_string();
    let sent = ctx
        .c
        .firewalls
        .delete()
        .set_project(&ctx.project)
        .set_firewall(&name)
        .send()
        .await;
    operation::deleted(ctx, req, "firewall rule", Scope::Global, sent).await
}
