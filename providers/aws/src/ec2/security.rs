//! Security groups and their rules (one resource per rule, with AWS rule ids).

use super::*;
use crate::error::{convert, is_not_found};
use crate::Ctx;
use aws_sdk_ec2::types::{
    IpPermission, IpRange, ResourceType, SecurityGroupRuleRequest, UserIdGroupPair,
};
use cairn_core::value::{Attrs, Text, Value};
use std::collections::BTreeMap;

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
        .customize()
        .config_override(sent_once())
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
    ctx.retry_dependency(&req.address, &req.progress, || async {
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
    match authorize_rule(ctx, req).await {
        Err(ProviderError::Api { code, .. }) if code == "InvalidPermission.Duplicate" => {
            adopt_rule(ctx, req).await
        }
        other => other,
    }
}

/// The identical rule already exists. This rule's own (an attempt whose answer was lost, an
/// interrupted run) is adopted. If nobody owns it (AWS's default egress rule, left on a
/// group whose create was interrupted before cairn removed it), it becomes this rule:
/// tagged as ours, described as declared. A rule owned by something else is a conflict.
async fn adopt_rule(ctx: &Ctx, req: &CreateRequest) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let group = str_attr(a, "security_group_id");
    let out = ctx
        .c
        .ec2
        .describe_security_group_rules()
        .filters(filter("group-id", [group.to_string()]))
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    let egress = str_attr(a, "type") == "egress";
    let same = out.security_group_rules().iter().find(|r| {
        r.is_egress() == Some(egress)
            && r.ip_protocol() == Some(str_attr(a, "ip_protocol"))
            && (str_attr(a, "ip_protocol") == "-1"
                || (r.from_port() == int_attr(a, "from_port")
                    && r.to_port() == int_attr(a, "to_port")))
            && r.cidr_ipv4() == a.get("cidr_ipv4").and_then(Value::as_str)
            && r.referenced_group_info().and_then(|g| g.group_id())
                == a.get("referenced_security_group_id")
                    .and_then(Value::as_str)
    });
    let Some(rule) = same else {
        return Err(ProviderError::Api {
            address: req.address.to_string(),
            code: "InvalidPermission.Duplicate".into(),
            message: "AWS reports an identical rule in this group but lists none".into(),
        });
    };
    use cairn_provider_kit::ownership::{owner, Owner};
    let marks = rule
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
    match owner(&req.stack, &req.address, marks) {
        // This rule's own: an earlier attempt or an interrupted run made it.
        Owner::Ours => {
            let id = rule.security_group_rule_id().unwrap_or_default();
            cairn_provider_kit::adopt::decide(
                &req.address,
                "security group rule",
                id,
                cairn_provider_kit::adopt::Existing::Ours,
                &req.progress,
            )?;
            let mut attrs = a.clone();
            attrs.insert("id".into(), Value::str(id));
            return Ok(CreateResponse {
                id: id.into(),
                attrs,
            });
        }
        Owner::Unmarked => {}
        other => {
            return Err(ProviderError::Api {
                address: req.address.to_string(),
                code: "InvalidPermission.Duplicate".into(),
                message: format!(
                    "an identical rule owned by something else already exists in this group \
                     ({other:?})"
                ),
            })
        }
    }
    let id = rule
        .security_group_rule_id()
        .unwrap_or_default()
        .to_string();
    ctx.c
        .ec2
        .create_tags()
        .resources(&id)
        .set_tags(Some(tags(&req.stack, &req.address, Some(&req.token), a)))
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&id));
    let update = UpdateRequest {
        stack: req.stack.clone(),
        address: req.address.clone(),
        type_name: req.type_name.clone(),
        id: id.as_str().into(),
        prior: Attrs::new(),
        attrs: attrs.clone(),
        changed: vec!["description".into()],
        progress: req.progress.clone(),
    };
    update_rule(ctx, &update).await?;
    Ok(CreateResponse {
        id: id.into(),
        attrs,
    })
}

async fn authorize_rule(ctx: &Ctx, req: &CreateRequest) -> Result<CreateResponse, ProviderError> {
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
    } else if str_attr(a, "ip_protocol") == "-1" {
        // All traffic: AWS spells the port range -1 to -1.
        rule = rule.from_port(-1).to_port(-1);
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
