//! Listeners (HTTP redirect, HTTPS with certificate) and path-based listener rules.

use super::*;

// ---------------------------------------------------------------------------------------
// Listener

/// Attribute names carrying an action: a forward (`target`) or a compact spec (`spec`).
struct ActionKeys {
    target: &'static str,
    spec: &'static str,
}

const LISTENER_ACTION: ActionKeys = ActionKeys {
    target: "default_target_group_arn",
    spec: "default_action",
};
const RULE_ACTION: ActionKeys = ActionKeys {
    target: "target_group_arn",
    spec: "action",
};

/// An action from its attributes: a forward, `redirect:PROTOCOL:PORT:CODE` or
/// `fixed-response:STATUS`.
fn action(address: &str, a: &Attrs, keys: &ActionKeys) -> Result<Action, ProviderError> {
    if let Some(tg) = a.get(keys.target).and_then(Value::as_str) {
        return Ok(Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(tg)
            .build());
    }
    let spec = s(a, keys.spec);
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        ["redirect", protocol, port, code] => Ok(Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .protocol(*protocol)
                    .port(*port)
                    .status_code(RedirectActionStatusCodeEnum::from(*code))
                    .build(),
            )
            .build()),
        ["fixed-response", status] => Ok(Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code(*status)
                    .build(),
            )
            .build()),
        _ => Err(ProviderError::Api {
            address: address.to_string(),
            code: "InvalidAction".into(),
            message: format!("unknown action {spec:?}"),
        }),
    }
}

/// The attributes of an action as read back, under `keys`.
fn action_attrs(action: &Action, keys: &ActionKeys, a: &mut Attrs) {
    match action.r#type() {
        Some(ActionTypeEnum::Forward) => {
            a.insert(
                keys.target.into(),
                Value::str(action.target_group_arn().unwrap_or_default()),
            );
        }
        Some(ActionTypeEnum::Redirect) => {
            let r = action.redirect_config();
            let spec = format!(
                "redirect:{}:{}:{}",
                r.and_then(|r| r.protocol()).unwrap_or_default(),
                r.and_then(|r| r.port()).unwrap_or_default(),
                r.and_then(|r| r.status_code())
                    .map(|c| c.as_str())
                    .unwrap_or_default()
            );
            a.insert(keys.spec.into(), Value::str(spec));
        }
        Some(ActionTypeEnum::FixedResponse) => {
            let code = action
                .fixed_response_config()
                .and_then(|f| f.status_code())
                .unwrap_or_default();
            a.insert(
                keys.spec.into(),
                Value::str(format!("fixed-response:{code}")),
            );
        }
        _ => {}
    }
}

fn listener_attrs(l: &aws_sdk_elasticloadbalancingv2::types::Listener) -> Attrs {
    let mut a = Attrs::new();
    let arn = l.listener_arn().unwrap_or_default();
    a.insert("id".into(), Value::str(arn));
    a.insert("arn".into(), Value::str(arn));
    a.insert(
        "load_balancer_arn".into(),
        Value::str(l.load_balancer_arn().unwrap_or_default()),
    );
    a.insert("port".into(), Value::Int(i64::from(l.port().unwrap_or(0))));
    a.insert(
        "protocol".into(),
        Value::str(l.protocol().map(|p| p.as_str()).unwrap_or_default()),
    );
    // TLS settings mean something on HTTPS listeners only.
    if l.protocol() == Some(&ProtocolEnum::Https) {
        if let Some(c) = l.certificates().first().and_then(|c| c.certificate_arn()) {
            a.insert("certificate_arn".into(), Value::str(c));
        }
        if let Some(p) = l.ssl_policy() {
            a.insert("ssl_policy".into(), Value::str(p));
        }
    }
    if let Some(act) = l.default_actions().first() {
        action_attrs(act, &LISTENER_ACTION, &mut a);
    }
    a
}

pub(crate) async fn create_listener(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let mut call = ctx
        .c
        .elbv2
        .create_listener()
        .load_balancer_arn(s(a, "load_balancer_arn"))
        .set_port(int(a, "port"))
        .protocol(ProtocolEnum::from(s(a, "protocol")))
        .default_actions(action(&req.address, a, &LISTENER_ACTION)?)
        .set_tags(Some(tags(&req.stack, &req.address, a)));
    if let Some(c) = a.get("certificate_arn").and_then(Value::as_str) {
        call = call.certificates(Certificate::builder().certificate_arn(c).build());
    }
    if let Some(p) = a.get("ssl_policy").and_then(Value::as_str) {
        call = call.ssl_policy(p);
    }
    let out = call.send().await.map_err(|e| convert(&req.address, e))?;
    let arn = out
        .listeners()
        .first()
        .and_then(|l| l.listener_arn())
        .unwrap_or_default()
        .to_string();
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&arn));
    attrs.insert("arn".into(), Value::str(&arn));
    Ok(CreateResponse {
        id: arn.into(),
        attrs,
    })
}

pub(crate) async fn read_listeners(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    // Listeners are listed per balancer: one call per balancer the listeners belong to.
    let balancers: std::collections::BTreeSet<String> = req
        .items
        .iter()
        .filter_map(|i| {
            let known = s(&i.prior, "load_balancer_arn");
            if known.is_empty() {
                i.id.as_deref()
                    .and_then(|id| parent_arn(id, ":listener/", ":loadbalancer/"))
            } else {
                Some(known.to_string())
            }
        })
        .collect();
    let mut by_arn = BTreeMap::new();
    for lb in balancers {
        let mut pages = ctx
            .c
            .elbv2
            .describe_listeners()
            .load_balancer_arn(&lb)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => {
                    for l in page.listeners() {
                        by_arn.insert(
                            l.listener_arn().unwrap_or_default().to_string(),
                            listener_attrs(l),
                        );
                    }
                }
                Err(e) if is_not_found(&e) => break,
                Err(e) => return Err(convert(&req.type_name, e)),
            }
        }
    }
    finish(ctx, req, by_arn).await
}

pub(crate) async fn update_listener(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    if req.changed.iter().any(|c| c != "tags") {
        let mut call = ctx
            .c
            .elbv2
            .modify_listener()
            .listener_arn(req.id.as_str())
            .set_port(int(a, "port"))
            .protocol(ProtocolEnum::from(s(a, "protocol")))
            .default_actions(action(&req.address, a, &LISTENER_ACTION)?);
        if let Some(c) = a.get("certificate_arn").and_then(Value::as_str) {
            call = call.certificates(Certificate::builder().certificate_arn(c).build());
        }
        if let Some(p) = a.get("ssl_policy").and_then(Value::as_str) {
            call = call.ssl_policy(p);
        }
        call.send().await.map_err(|e| convert(&req.address, e))?;
    }
    if req.changed.iter().any(|c| c == "tags") {
        sync_tags(ctx, &req.address, &req.id, &req.prior, a).await?;
    }
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&req.id));
    attrs.insert("arn".into(), Value::str(&req.id));
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete_listener(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    match ctx
        .c
        .elbv2
        .delete_listener()
        .listener_arn(req.id.as_str())
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(convert(&req.address, e)),
    }
}

// ---------------------------------------------------------------------------------------
// Listener rule

fn rule_attrs(r: &aws_sdk_elasticloadbalancingv2::types::Rule, listener: &str) -> Attrs {
    let mut a = Attrs::new();
    let arn = r.rule_arn().unwrap_or_default();
    a.insert("id".into(), Value::str(arn));
    a.insert("arn".into(), Value::str(arn));
    a.insert("listener_arn".into(), Value::str(listener));
    a.insert(
        "priority".into(),
        r.priority()
            .and_then(|p| p.parse::<i64>().ok())
            .map_or(Value::Null, Value::Int),
    );
    let paths: Vec<Value> = r
        .conditions()
        .iter()
        .filter(|c| c.field() == Some("path-pattern"))
        .flat_map(|c| {
            c.path_pattern_config()
                .map(|p| p.values().to_vec())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| c.values().to_vec())
        })
        .map(Value::str)
        .collect();
    a.insert("path_patterns".into(), Value::List(paths));
    let sources: Vec<Value> = r
        .conditions()
        .iter()
        .filter(|c| c.field() == Some("source-ip"))
        .flat_map(|c| {
            c.source_ip_config()
                .map(|s| s.values().to_vec())
                .unwrap_or_default()
        })
        .map(Value::str)
        .collect();
    if !sources.is_empty() {
        a.insert("source_ips".into(), Value::List(sources));
    }
    if let Some(act) = r.actions().first() {
        action_attrs(act, &RULE_ACTION, &mut a);
    }
    a
}

/// The rule's conditions: its paths, and the client addresses it is limited to, if any.
fn conditions(a: &Attrs) -> Vec<RuleCondition> {
    let mut out = vec![RuleCondition::builder()
        .field("path-pattern")
        .path_pattern_config(
            PathPatternConditionConfig::builder()
                .set_values(Some(list(a, "path_patterns")))
                .build(),
        )
        .build()];
    let sources = list(a, "source_ips");
    if !sources.is_empty() {
        out.push(
            RuleCondition::builder()
                .field("source-ip")
                .source_ip_config(
                    aws_sdk_elasticloadbalancingv2::types::SourceIpConditionConfig::builder()
                        .set_values(Some(sources))
                        .build(),
                )
                .build(),
        );
    }
    out
}

pub(crate) async fn create_rule(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let out = ctx
        .c
        .elbv2
        .create_rule()
        .listener_arn(s(a, "listener_arn"))
        .set_priority(int(a, "priority"))
        .set_conditions(Some(conditions(a)))
        .actions(action(&req.address, a, &RULE_ACTION)?)
        .set_tags(Some(tags(&req.stack, &req.address, a)))
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    let arn = out
        .rules()
        .first()
        .and_then(|r| r.rule_arn())
        .unwrap_or_default()
        .to_string();
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&arn));
    attrs.insert("arn".into(), Value::str(&arn));
    Ok(CreateResponse {
        id: arn.into(),
        attrs,
    })
}

pub(crate) async fn read_rules(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let listeners: std::collections::BTreeSet<String> = req
        .items
        .iter()
        .filter_map(|i| {
            let known = s(&i.prior, "listener_arn");
            if known.is_empty() {
                i.id.as_deref()
                    .and_then(|id| parent_arn(id, ":listener-rule/", ":listener/"))
            } else {
                Some(known.to_string())
            }
        })
        .collect();
    let mut by_arn = BTreeMap::new();
    for l in listeners {
        match ctx.c.elbv2.describe_rules().listener_arn(&l).send().await {
            Ok(out) => {
                for r in out.rules().iter().filter(|r| r.is_default() != Some(true)) {
                    by_arn.insert(
                        r.rule_arn().unwrap_or_default().to_string(),
                        rule_attrs(r, &l),
                    );
                }
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(convert(&req.type_name, e)),
        }
    }
    finish(ctx, req, by_arn).await
}

pub(crate) async fn update_rule(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    let changed = |k: &str| req.changed.iter().any(|c| c == k);
    if ["path_patterns", "source_ips", "target_group_arn", "action"]
        .iter()
        .any(|k| changed(k))
    {
        ctx.c
            .elbv2
            .modify_rule()
            .rule_arn(req.id.as_str())
            .set_conditions(Some(conditions(a)))
            .actions(action(&req.address, a, &RULE_ACTION)?)
            .send()
            .await
            .map_err(|e| convert(&req.address, e))?;
    }
    if changed("priority") {
        ctx.c
            .elbv2
            .set_rule_priorities()
            .rule_priorities(
                aws_sdk_elasticloadbalancingv2::types::RulePriorityPair::builder()
                    .rule_arn(req.id.as_str())
                    .set_priority(int(a, "priority"))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| convert(&req.address, e))?;
    }
    if changed("tags") {
        sync_tags(ctx, &req.address, &req.id, &req.prior, a).await?;
    }
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&req.id));
    attrs.insert("arn".into(), Value::str(&req.id));
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete_rule(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    match ctx
        .c
        .elbv2
        .delete_rule()
        .rule_arn(req.id.as_str())
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(convert(&req.address, e)),
    }
}

/// The parent's ARN, from a child ARN (an import knows nothing else): AWS documents
/// `...:listener/app/NAME/LB/LISTENER` under `...:loadbalancer/app/NAME/LB`, and
/// `...:listener-rule/app/NAME/LB/LISTENER/RULE` under `...:listener/app/NAME/LB/LISTENER`.
fn parent_arn(child: &str, child_kind: &str, parent_kind: &str) -> Option<String> {
    let (parent, _) = child.rsplit_once('/')?;
    parent
        .contains(child_kind)
        .then(|| parent.replacen(child_kind, parent_kind, 1))
}

#[cfg(test)]
mod tests {
    use super::parent_arn;

    #[test]
    fn parents_come_from_the_documented_arn_layout() {
        let rule = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";
        let listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2";
        let lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188";
        assert_eq!(
            parent_arn(rule, ":listener-rule/", ":listener/").as_deref(),
            Some(listener)
        );
        assert_eq!(
            parent_arn(listener, ":listener/", ":loadbalancer/").as_deref(),
            Some(lb)
        );
        assert_eq!(parent_arn(lb, ":listener/", ":loadbalancer/"), None);
    }
}
