//! `gcp_compute_url_map`: where a balancer sends a request. The main map sends it to a
//! default backend service, or by path to a route's (`routeRules` in one path matcher for
//! every host, in the routes' priorities: the first that matches wins, as on AWS); the
//! redirect map answers everything with a 301 to HTTPS. A path pattern `/a/*` is a
//! `prefixMatch` of `/a/`, one without a wildcard a `fullPathMatch`. Changed in place by an
//! update carrying the map's fingerprint.

use super::base;
use crate::compute::s;
use crate::operation::{self, Scope};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use google_cloud_compute_v1::model::{
    http_redirect_action::RedirectResponseCode, HostRule, HttpRedirectAction, HttpRouteRule,
    HttpRouteRuleMatch, PathMatcher, UrlMap,
};

global_collection!(url_maps, set_url_map, UrlMap, "URL map", attrs);

/// The one path matcher cairn writes, for every host.
const MATCHER: &str = "routes";

fn pattern(m: &HttpRouteRuleMatch) -> String {
    match (&m.prefix_match, &m.full_path_match) {
        (Some(prefix), _) => format!("{prefix}*"),
        (None, Some(full)) => full.clone(),
        (None, None) => String::new(),
    }
}

fn attrs(project: &str, m: &UrlMap) -> Attrs {
    let routes = m
        .path_matchers
        .iter()
        .filter(|p| p.name.as_deref() == Some(MATCHER))
        .flat_map(|p| p.route_rules.iter())
        .map(|r| {
            Value::Map(Attrs::from([
                (
                    Text::from("priority"),
                    Value::Int(r.priority.unwrap_or_default().into()),
                ),
                (
                    Text::from("paths"),
                    Value::List(
                        r.match_rules
                            .iter()
                            .map(|m| Value::str(pattern(m)))
                            .collect(),
                    ),
                ),
                (
                    Text::from("service"),
                    Value::str(r.service.as_deref().unwrap_or_default()),
                ),
            ]))
        })
        .collect();
    let mut a = base(project, "urlMaps", &m.name, &m.self_link);
    a.extend([
        (
            "description".into(),
            Value::str(m.description.as_deref().unwrap_or_default()),
        ),
        (
            "default_service".into(),
            Value::str(m.default_service.as_deref().unwrap_or_default()),
        ),
        (
            "https_redirect".into(),
            Value::Bool(
                m.default_url_redirect
                    .as_ref()
                    .and_then(|r| r.https_redirect)
                    .unwrap_or(false),
            ),
        ),
        ("routes".into(), Value::List(routes)),
    ]);
    a
}

fn route_rule(route: &Attrs) -> HttpRouteRule {
    let priority = route.get("priority").and_then(Value::as_int).unwrap_or(1);
    let matches = route
        .get("paths")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .map(|p| match p.strip_suffix('*') {
            Some(prefix) => HttpRouteRuleMatch::new().set_prefix_match(prefix),
            None => HttpRouteRuleMatch::new().set_full_path_match(p),
        });
    HttpRouteRule::new()
        .set_priority(i32::try_from(priority).unwrap_or(i32::MAX))
        .set_match_rules(matches)
        .set_service(
            route
                .get("service")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        )
}

fn body(a: &Attrs) -> UrlMap {
    let m = UrlMap::new()
        .set_name(s(a, "name"))
        .set_description(s(a, "description"));
    if a.get("https_redirect").and_then(Value::as_bool) == Some(true) {
        return m.set_default_url_redirect(
            HttpRedirectAction::new()
                .set_https_redirect(true)
                .set_redirect_response_code(RedirectResponseCode::from("MOVED_PERMANENTLY_DEFAULT"))
                .set_strip_query(false),
        );
    }
    let default = s(a, "default_service");
    let routes: Vec<HttpRouteRule> = a
        .get("routes")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_map)
        .map(route_rule)
        .collect();
    let m = m.set_default_service(default);
    if routes.is_empty() {
        return m;
    }
    m.set_host_rules([HostRule::new().set_hosts(["*"]).set_path_matcher(MATCHER)])
        .set_path_matchers([PathMatcher::new()
            .set_name(MATCHER)
            .set_default_service(default)
            .set_route_rules(routes)])
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
    let held = fetch(ctx, &req.address, name).await?;
    let sent = ctx
        .c
        .url_maps
        .update()
        .set_project(&ctx.project)
        .set_url_map(name)
        .set_body(body(&req.attrs).set_or_clear_fingerprint(held.fingerprint))
        .send()
        .await;
    operation::patched(ctx, req, "URL map", Scope::Global, sent).await?;
    Ok(UpdateResponse {
        attrs: get(ctx, &req.address, name).await?,
    })
}
