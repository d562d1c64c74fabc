//! Elastic IPs, NAT gateways and VPC (gateway) endpoints.
//!
//! NAT gateways and endpoints take the call's idempotency token as `ClientToken`, so a
//! create retried after a crash returns the object the first call made. NAT gateways are
//! asynchronous: create waits for `available`, delete for `deleted`.

use super::*;
use crate::error::{convert, is_not_found};
use crate::wait::{self, Poll};
use crate::Ctx;
use aws_sdk_ec2::types::{DomainType, NatGatewayState, ResourceType, VpcEndpointType};
use cairn_core::value::{Attrs, Text, Value};
use std::collections::BTreeMap;
use std::time::Duration;

pub(crate) async fn create_eip(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let out = ctx
        .c
        .ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .tag_specifications(tag_spec(
            ResourceType::ElasticIp,
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
    let id = out.allocation_id().unwrap_or_default().to_string();
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert(
        "public_ip".into(),
        Value::str(out.public_ip().unwrap_or_default()),
    );
    Ok(CreateResponse {
        id: id.into(),
        attrs,
    })
}

pub(crate) async fn read_eips(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    // DescribeAddresses is not paginated: one call per 200 ids.
    let (by_id, by_token) = split(&req.items);
    let mut results = BTreeMap::new();
    for (name, keys) in [
        ("allocation-id", by_id),
        (&*format!("tag:{TAG_TOKEN}"), by_token),
    ] {
        for chunk in keys.chunks(PAGE) {
            let out = ctx
                .c
                .ec2
                .describe_addresses()
                .filters(filter(name, chunk.iter().map(|(k, _)| k.clone())))
                .send()
                .await
                .map_err(|e| convert(&req.type_name, e))?;
            let mut seen: BTreeMap<String, ReadOutcome> = BTreeMap::new();
            for addr in out.addresses() {
                let id = addr.allocation_id().unwrap_or_default().to_string();
                let token = addr
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some(TAG_TOKEN))
                    .and_then(|t| t.value())
                    .unwrap_or_default()
                    .to_string();
                let mut a = Attrs::new();
                a.insert("id".into(), Value::str(&id));
                a.insert("domain".into(), Value::str("vpc"));
                a.insert(
                    "public_ip".into(),
                    Value::str(addr.public_ip().unwrap_or_default()),
                );
                user_tags(&mut a, addr.tags());
                let key = if name == "allocation-id" {
                    id.clone()
                } else {
                    token
                };
                seen.insert(key, found(&id, a));
            }
            for (key, address) in chunk {
                results.insert(
                    address.clone(),
                    seen.remove(key).unwrap_or(ReadOutcome::Gone),
                );
            }
        }
    }
    Ok(results)
}

pub(crate) async fn delete_eip(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    ctx.retry_dependency(&req.address, &req.progress, || async {
        ctx.c
            .ec2
            .release_address()
            .allocation_id(req.id.as_str())
            .send()
            .await
            .map(|_| ())
    })
    .await
}

async fn nat_state(
    ctx: &Ctx,
    address: &str,
    id: &str,
) -> Result<Option<NatGatewayState>, ProviderError> {
    let out = match ctx
        .c
        .ec2
        .describe_nat_gateways()
        .filter(filter("nat-gateway-id", [id.to_string()]))
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(convert(address, e)),
    };
    Ok(out.nat_gateways().first().and_then(|n| n.state().cloned()))
}

pub(crate) async fn create_nat(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    // The address may still belong to a gateway that is being deleted (a replacement, or
    // one deleted by hand): retry while it is released. The ClientToken keeps retries
    // idempotent.
    let deadline = tokio::time::Instant::now() + ctx.options.dependency_timeout;
    let mut wait = Duration::from_millis(100);
    let out = loop {
        let result = ctx
            .c
            .ec2
            .create_nat_gateway()
            .subnet_id(str_attr(a, "subnet_id"))
            .allocation_id(str_attr(a, "allocation_id"))
            .client_token(&*req.token)
            .tag_specifications(tag_spec(
                ResourceType::Natgateway,
                &req.stack,
                &req.address,
                &req.token,
                a,
            ))
            .send()
            .await;
        match result {
            Err(e)
                if crate::error::code(&e).as_deref() == Some("Resource.AlreadyAssociated")
                    && tokio::time::Instant::now() < deadline =>
            {
                req.progress
                    .report("waiting for the Elastic IP to be released");
                let _parked = req.progress.waiting();
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
            other => break other.map_err(|e| convert(&req.address, e))?,
        }
    };
    let id = out
        .nat_gateway()
        .and_then(|n| n.nat_gateway_id())
        .unwrap_or_default()
        .to_string();
    wait::until(
        &req.address,
        "NAT gateway",
        &req.progress,
        ctx.options.create_timeout,
        Duration::from_millis(200),
        || async {
            Ok(match nat_state(ctx, &req.address, &id).await? {
                Some(NatGatewayState::Available) => Poll::Ready(()),
                Some(NatGatewayState::Pending) => Poll::Pending("pending".into()),
                other => Poll::Failed(format!("{other:?}")),
            })
        },
    )
    .await?;
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&id));
    attrs.insert("state".into(), Value::str("available"));
    Ok(CreateResponse {
        id: id.into(),
        attrs,
    })
}

pub(crate) async fn read_nats(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut results = batched_read!(
        ctx,
        req,
        describe_nat_gateways,
        filter,
        "nat-gateway-id",
        nat_gateways,
        nat_gateway_id,
        {
            let n = nat_gateways;
            let mut a = Attrs::new();
            a.insert("id".into(), Value::str(&nat_gateway_id));
            a.insert(
                "subnet_id".into(),
                Value::str(n.subnet_id().unwrap_or_default()),
            );
            a.insert(
                "allocation_id".into(),
                Value::str(
                    n.nat_gateway_addresses()
                        .first()
                        .and_then(|x| x.allocation_id())
                        .unwrap_or_default(),
                ),
            );
            a.insert(
                "state".into(),
                Value::str(n.state().map(|s| s.as_str()).unwrap_or_default()),
            );
            user_tags(&mut a, n.tags());
            a
        }
    );
    // A deleted NAT gateway stays visible for a while as "deleted": it is gone.
    for outcome in results.values_mut() {
        if let ReadOutcome::Found { attrs, .. } = outcome {
            if matches!(
                attrs.get("state").and_then(Value::as_str),
                Some("deleted" | "deleting" | "failed")
            ) {
                *outcome = ReadOutcome::Gone;
            }
        }
    }
    Ok(results)
}

pub(crate) async fn delete_nat(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    match ctx
        .c
        .ec2
        .delete_nat_gateway()
        .nat_gateway_id(req.id.as_str())
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(convert(&req.address, e)),
    }
    wait::until(
        &req.address,
        "NAT gateway deletion",
        &req.progress,
        ctx.options.delete_timeout,
        Duration::from_millis(200),
        || async {
            Ok(match nat_state(ctx, &req.address, &req.id).await? {
                None | Some(NatGatewayState::Deleted) => Poll::Ready(()),
                Some(s) => Poll::Pending(s.as_str().to_string()),
            })
        },
    )
    .await
}

pub(crate) async fn create_endpoint(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let tables: Vec<String> = a
        .get("route_table_ids")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let out = ctx
        .c
        .ec2
        .create_vpc_endpoint()
        .vpc_id(str_attr(a, "vpc_id"))
        .service_name(str_attr(a, "service_name"))
        .vpc_endpoint_type(VpcEndpointType::from(str_attr(a, "vpc_endpoint_type")))
        .set_route_table_ids(Some(tables))
        .client_token(&*req.token)
        .tag_specifications(tag_spec(
            ResourceType::VpcEndpoint,
            &req.stack,
            &req.address,
            &req.token,
            a,
        ))
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    let id = out
        .vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .unwrap_or_default()
        .to_string();
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&id));
    Ok(CreateResponse {
        id: id.into(),
        attrs,
    })
}

pub(crate) async fn read_endpoints(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut results = batched_read!(
        ctx,
        req,
        describe_vpc_endpoints,
        "vpc-endpoint-id",
        vpc_endpoints,
        vpc_endpoint_id,
        {
            let e = vpc_endpoints;
            let mut a = Attrs::new();
            a.insert("id".into(), Value::str(&vpc_endpoint_id));
            a.insert("vpc_id".into(), Value::str(e.vpc_id().unwrap_or_default()));
            a.insert(
                "service_name".into(),
                Value::str(e.service_name().unwrap_or_default()),
            );
            a.insert(
                "vpc_endpoint_type".into(),
                Value::str(
                    e.vpc_endpoint_type()
                        .map(|t| t.as_str())
                        .unwrap_or_default(),
                ),
            );
            a.insert(
                "route_table_ids".into(),
                Value::List(e.route_table_ids().iter().map(Value::str).collect()),
            );
            a.insert(
                "state".into(),
                Value::str(e.state().map(|s| s.as_str()).unwrap_or_default()),
            );
            user_tags(&mut a, e.tags());
            a
        }
    );
    // A deleted endpoint stays visible for a while as "deleted": it is gone. The state is
    // only read for this; it is not an attribute of the resource.
    for outcome in results.values_mut() {
        if let ReadOutcome::Found { attrs, .. } = outcome {
            let state = attrs.remove("state");
            if matches!(
                state
                    .as_ref()
                    .and_then(Value::as_str)
                    .map(str::to_ascii_lowercase)
                    .as_deref(),
                Some("deleted" | "deleting" | "failed" | "rejected" | "expired")
            ) {
                *outcome = ReadOutcome::Gone;
            }
        }
    }
    for item in &req.items {
        if let Some(ReadOutcome::Found { attrs, .. }) = results.get_mut(&item.address) {
            let actual = attrs
                .get("route_table_ids")
                .and_then(Value::as_list)
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            attrs.insert(
                "route_table_ids".into(),
                order_like(item.prior.get("route_table_ids"), actual),
            );
        }
    }
    Ok(results)
}

pub(crate) async fn update_endpoint(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let list = |a: &Attrs| -> Vec<String> {
        a.get("route_table_ids")
            .and_then(Value::as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let (old, new) = (list(&req.prior), list(&req.attrs));
    let add: Vec<String> = new.iter().filter(|t| !old.contains(t)).cloned().collect();
    let remove: Vec<String> = old.iter().filter(|t| !new.contains(t)).cloned().collect();
    if !add.is_empty() || !remove.is_empty() {
        ctx.c
            .ec2
            .modify_vpc_endpoint()
            .vpc_endpoint_id(req.id.as_str())
            .set_add_route_table_ids((!add.is_empty()).then_some(add))
            .set_remove_route_table_ids((!remove.is_empty()).then_some(remove))
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

pub(crate) async fn delete_endpoint(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    match ctx
        .c
        .ec2
        .delete_vpc_endpoints()
        .vpc_endpoint_ids(req.id.as_str())
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(convert(&req.address, e)),
    }
}
