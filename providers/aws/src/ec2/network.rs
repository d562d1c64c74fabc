//! VPCs, internet gateways, subnets, route tables, routes and associations.

use super::*;
use crate::error::{convert, is_not_found};
use crate::Ctx;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};
use cairn_core::value::{Attrs, Text, Value};
use std::collections::BTreeMap;

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
        .customize()
        .config_override(sent_once())
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
    ctx.retry_dependency(&req.address, &req.progress, || async {
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
        .customize()
        .config_override(sent_once())
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
    ctx.retry_dependency(&req.address, &req.progress, || async {
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
        .customize()
        .config_override(sent_once())
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
    ctx.retry_dependency(&req.address, &req.progress, || async {
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
