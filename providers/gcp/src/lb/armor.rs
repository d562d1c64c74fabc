//! `gcp_compute_security_policy`: a Cloud Armor policy on the backend service of a route
//! limited to some clients. Its rules match client ranges (`SRC_IPS_V1`, at most ten
//! ranges a rule) and allow or `deny(403)`; the last, at priority 2147483647, matches
//! everyone. Compute changes rules one by one (`addRule`, `patchRule`, `removeRule`:
//! a patch of the policy cannot), so an update sends the difference, by priority.

use super::base;
use crate::compute::s;
use crate::operation::{self, Scope};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use google_cloud_compute_v1::model::{
    security_policy, security_policy_rule_matcher::VersionedExpr, SecurityPolicy,
    SecurityPolicyRule, SecurityPolicyRuleMatcher, SecurityPolicyRuleMatcherConfig,
};
use std::collections::BTreeMap;

global_collection!(
    security_policies,
    set_security_policy,
    SecurityPolicy,
    "security policy",
    attrs
);

/// A rule as cairn records it.
fn rule_value(r: &SecurityPolicyRule) -> Value {
    let ranges = r
        .r#match
        .as_ref()
        .and_then(|m| m.config.as_ref())
        .map(|c| c.src_ip_ranges.clone())
        .unwrap_or_default();
    Value::Map(Attrs::from([
        (
            Text::from("priority"),
            Value::Int(r.priority.unwrap_or_default().into()),
        ),
        (
            Text::from("action"),
            Value::str(r.action.as_deref().unwrap_or_default()),
        ),
        (
            Text::from("src_ip_ranges"),
            Value::List(ranges.iter().map(Value::str).collect()),
        ),
        (
            Text::from("description"),
            Value::str(r.description.as_deref().unwrap_or_default()),
        ),
    ]))
}

fn attrs(project: &str, p: &SecurityPolicy) -> Attrs {
    let mut rules: Vec<&SecurityPolicyRule> = p.rules.iter().collect();
    rules.sort_by_key(|r| r.priority);
    let mut a = base(project, "securityPolicies", &p.name, &p.self_link);
    a.extend([
        (
            "description".into(),
            Value::str(p.description.as_deref().unwrap_or_default()),
        ),
        (
            "rules".into(),
            Value::List(rules.into_iter().map(rule_value).collect()),
        ),
    ]);
    a
}

/// The declared rules, by priority.
fn rules(a: &Attrs) -> BTreeMap<i32, SecurityPolicyRule> {
    a.get("rules")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_map)
        .map(|m| {
            let field = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default();
            let priority = m
                .get("priority")
                .and_then(Value::as_int)
                .unwrap_or_default();
            let priority = i32::try_from(priority).unwrap_or(i32::MAX);
            let ranges: Vec<String> = m
                .get("src_ip_ranges")
                .and_then(Value::as_list)
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            let rule = SecurityPolicyRule::new()
                .set_priority(priority)
                .set_action(field("action"))
                .set_description(field("description"))
                .set_preview(false)
                .set_match(
                    SecurityPolicyRuleMatcher::new()
                        .set_versioned_expr(VersionedExpr::from("SRC_IPS_V1"))
                        .set_config(
                            SecurityPolicyRuleMatcherConfig::new().set_src_ip_ranges(ranges),
                        ),
                );
            (priority, rule)
        })
        .collect()
}

pub(crate) async fn create(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let body = SecurityPolicy::new()
        .set_name(s(a, "name"))
        .set_description(s(a, "description"))
        .set_type(security_policy::Type::from("CLOUD_ARMOR"))
        .set_rules(rules(a).into_values());
    insert(ctx, req, body).await
}

pub(crate) async fn update(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let name = s(&req.attrs, "name");
    let held = fetch(ctx, &req.address, name).await?;
    let (address, progress) = (&req.address, &req.progress);
    let timeout = ctx.options.create_timeout;
    let what = "security policy";
    if held.description.as_deref().unwrap_or_default() != s(&req.attrs, "description") {
        let body = SecurityPolicy::new()
            .set_description(s(&req.attrs, "description"))
            .set_or_clear_fingerprint(held.fingerprint.clone());
        let sent = ctx
            .c
            .security_policies
            .patch()
            .set_project(&ctx.project)
            .set_security_policy(name)
            .set_body(body)
            .send()
            .await;
        operation::patched(ctx, req, what, Scope::Global, sent).await?;
    }
    let had: BTreeMap<i32, &SecurityPolicyRule> = held
        .rules
        .iter()
        .map(|r| (r.priority.unwrap_or_default(), r))
        .collect();
    let want = rules(&req.attrs);
    let policies = &ctx.c.security_policies;
    for (priority, rule) in &want {
        let sent = match had.get(priority) {
            Some(old) if rule_value(old) == rule_value(rule) => continue,
            Some(_) => {
                policies
                    .patch_rule()
                    .set_project(&ctx.project)
                    .set_security_policy(name)
                    .set_priority(*priority)
                    .set_body(rule.clone())
                    .send()
                    .await
            }
            None => {
                policies
                    .add_rule()
                    .set_project(&ctx.project)
                    .set_security_policy(name)
                    .set_body(rule.clone())
                    .send()
                    .await
            }
        };
        let op = sent.map_err(|e| crate::error::convert(address, e))?;
        operation::done(ctx, address, what, Scope::Global, op, progress, timeout).await?;
    }
    for priority in had.keys().filter(|p| !want.contains_key(p)) {
        let op = policies
            .remove_rule()
            .set_project(&ctx.project)
            .set_security_policy(name)
            .set_priority(*priority)
            .send()
            .await
            .map_err(|e| crate::error::convert(address, e))?;
        operation::done(ctx, address, what, Scope::Global, op, progress, timeout).await?;
    }
    Ok(UpdateResponse {
        attrs: get(ctx, &req.address, name).await?,
    })
}
