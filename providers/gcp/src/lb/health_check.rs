//! `gcp_compute_health_check`: an HTTP health check of one target group (both sides of a
//! blue/green group share it). Everything but its name and type is changed in place, by an
//! update (a health check has no fingerprint).

use super::{base, int};
use crate::compute::s;
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Value};
use google_cloud_compute_v1::model::{health_check, HTTPHealthCheck, HealthCheck};

global_collection!(
    health_checks,
    set_health_check,
    HealthCheck,
    "health check",
    attrs
);

fn attrs(project: &str, h: &HealthCheck) -> Attrs {
    let http = h.http_health_check.clone().unwrap_or_default();
    let mut a = base(project, "healthChecks", &h.name, &h.self_link);
    a.extend([
        (
            "type".into(),
            Value::str(h.r#type.as_ref().and_then(|t| t.name()).unwrap_or_default()),
        ),
        ("port".into(), Value::Int(http.port.unwrap_or(80).into())),
        (
            "request_path".into(),
            Value::str(http.request_path.as_deref().unwrap_or("/")),
        ),
        (
            "check_interval_sec".into(),
            Value::Int(h.check_interval_sec.unwrap_or(5).into()),
        ),
        (
            "timeout_sec".into(),
            Value::Int(h.timeout_sec.unwrap_or(5).into()),
        ),
        (
            "healthy_threshold".into(),
            Value::Int(h.healthy_threshold.unwrap_or(2).into()),
        ),
        (
            "unhealthy_threshold".into(),
            Value::Int(h.unhealthy_threshold.unwrap_or(2).into()),
        ),
        (
            "description".into(),
            Value::str(h.description.as_deref().unwrap_or_default()),
        ),
    ]);
    a
}

fn body(a: &Attrs) -> HealthCheck {
    HealthCheck::new()
        .set_name(s(a, "name"))
        .set_description(s(a, "description"))
        .set_type(health_check::Type::from(s(a, "type")))
        .set_http_health_check(
            HTTPHealthCheck::new()
                .set_port(int(a, "port", 80))
                .set_request_path(s(a, "request_path")),
        )
        .set_check_interval_sec(int(a, "check_interval_sec", 5))
        .set_timeout_sec(int(a, "timeout_sec", 5))
        .set_healthy_threshold(int(a, "healthy_threshold", 2))
        .set_unhealthy_threshold(int(a, "unhealthy_threshold", 2))
}

pub(crate) async fn create(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    insert(ctx, req, body(&req.attrs)).await
}

pub(crate) async fn update(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let name = s(&req.attrs, "name");
    let sent = ctx
        .c
        .health_checks
        .update()
        .set_project(&ctx.project)
        .set_health_check(name)
        .set_body(body(&req.attrs))
        .send()
        .await;
    crate::operation::patched(
        ctx,
        req,
        "health check",
        crate::operation::Scope::Global,
        sent,
    )
    .await?;
    Ok(UpdateResponse {
        attrs: get(ctx, &req.address, name).await?,
    })
}
