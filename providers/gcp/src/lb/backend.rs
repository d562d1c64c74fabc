//! `gcp_compute_backend_service`: one side of a target group behind the global external
//! Application Load Balancer (`EXTERNAL_MANAGED`), checked by the group's health check.
//! The services that run behind it attach their instance groups or NEGs to it; cairn
//! declares the service, not its members. A Cloud Armor policy is attached with
//! `setSecurityPolicy` (the field is output only on insert and update); everything else is
//! changed in place by an update carrying the service's fingerprint.

use super::{base, int};
use crate::compute::s;
use crate::operation::{self, Scope};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Value};
use google_cloud_compute_v1::model::{backend_service, BackendService, SecurityPolicyReference};

global_collection!(
    backend_services,
    set_backend_service,
    BackendService,
    "backend service",
    attrs
);

fn attrs(project: &str, b: &BackendService) -> Attrs {
    let mut a = base(project, "backendServices", &b.name, &b.self_link);
    a.extend([
        (
            "protocol".into(),
            Value::str(b.protocol.as_ref().and_then(|p| p.name()).unwrap_or("HTTP")),
        ),
        (
            "port_name".into(),
            Value::str(b.port_name.as_deref().unwrap_or("http")),
        ),
        (
            "load_balancing_scheme".into(),
            Value::str(
                b.load_balancing_scheme
                    .as_ref()
                    .and_then(|p| p.name())
                    .unwrap_or("EXTERNAL"),
            ),
        ),
        (
            "timeout_sec".into(),
            Value::Int(b.timeout_sec.unwrap_or(30).into()),
        ),
        (
            "health_checks".into(),
            Value::List(b.health_checks.iter().map(Value::str).collect()),
        ),
        (
            "security_policy".into(),
            Value::str(b.security_policy.as_deref().unwrap_or_default()),
        ),
        (
            "description".into(),
            Value::str(b.description.as_deref().unwrap_or_default()),
        ),
    ]);
    a
}

fn body(a: &Attrs) -> BackendService {
    let checks: Vec<String> = a
        .get("health_checks")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    BackendService::new()
        .set_name(s(a, "name"))
        .set_description(s(a, "description"))
        .set_protocol(backend_service::Protocol::from(s(a, "protocol")))
        .set_port_name(s(a, "port_name"))
        .set_load_balancing_scheme(backend_service::LoadBalancingScheme::from(s(
            a,
            "load_balancing_scheme",
        )))
        .set_timeout_sec(int(a, "timeout_sec", 30))
        .set_health_checks(checks)
}

/// Attach `policy` (a security policy's URL; empty: none) unless it is attached already
/// (setting the same policy twice is harmless, so a re-sent call needs no request id).
async fn attach(
    ctx: &Ctx,
    address: &str,
    progress: &Progress,
    name: &str,
    current: &str,
    policy: &str,
) -> Result<(), ProviderError> {
    if current == policy {
        return Ok(());
    }
    let mut reference = SecurityPolicyReference::new();
    if !policy.is_empty() {
        reference = reference.set_security_policy(policy);
    }
    let op = ctx
        .c
        .backend_services
        .set_security_policy()
        .set_project(&ctx.project)
        .set_backend_service(name)
        .set_body(reference)
        .send()
        .await
        .map_err(|e| crate::error::convert(address, e))?;
    let timeout = ctx.options.create_timeout;
    let what = "backend service's security policy";
    operation::done(ctx, address, what, Scope::Global, op, progress, timeout).await
}

pub(crate) async fn create(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let made = insert(ctx, req, body(&req.attrs)).await?;
    let policy = s(&req.attrs, "security_policy");
    if policy.is_empty() {
        return Ok(made);
    }
    let name = s(&req.attrs, "name");
    let current = s(&made.attrs, "security_policy");
    attach(ctx, &req.address, &req.progress, name, current, policy).await?;
    Ok(CreateResponse {
        id: made.id,
        attrs: get(ctx, &req.address, name).await?,
    })
}

pub(crate) async fn update(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let name = s(&req.attrs, "name");
    let held = fetch(ctx, &req.address, name).await?;
    // Only the policy may differ (a run that died between the insert and the attach).
    let had = attrs(&ctx.project, &held);
    let fields = [
        "protocol",
        "port_name",
        "timeout_sec",
        "health_checks",
        "description",
    ];
    if fields.iter().any(|k| had.get(*k) != req.attrs.get(*k)) {
        let mut want = body(&req.attrs);
        want.fingerprint = held.fingerprint.clone();
        let sent = ctx
            .c
            .backend_services
            .update()
            .set_project(&ctx.project)
            .set_backend_service(name)
            .set_body(want)
            .send()
            .await;
        operation::patched(ctx, req, "backend service", Scope::Global, sent).await?;
    }
    let current = held.security_policy.as_deref().unwrap_or_default();
    let policy = s(&req.attrs, "security_policy");
    attach(ctx, &req.address, &req.progress, name, current, policy).await?;
    Ok(UpdateResponse {
        attrs: get(ctx, &req.address, name).await?,
    })
}
