//! The global external Application Load Balancer through the kit's lifecycle suite: a
//! health check changed in place, the blue/green switch (the URL map moves to the other
//! side), a managed certificate's domains replaced (the proxy moved to the new one before
//! the old goes), a forwarding rule deleted out of band, destroy counted through Compute;
//! and the chain as Compute holds it: routes in their priorities, the admin path behind
//! Cloud Armor, the redirect, both listeners on one address.

use crate::support::{Gcp, PROJECT};
use cairn_core::prelude::*;
use cairn_provider_kit::lifecycle::Case;
use serde_json::Value as Json;

struct Variant {
    health_path: &'static str,
    live: Colour,
    domain: &'static str,
}

const FIRST: Variant = Variant {
    health_path: "/health",
    live: Colour::Blue,
    domain: "shop.example.com",
};

fn stack(v: Variant) -> Stack {
    let mut s = Stack::new("acc-lb");
    let vpc = s.add("main", Network::new("10.86.0.0/16").nat(NatMode::None));
    let app = s.add("app", SecurityGroup::new(&vpc, "the shop's servers"));
    let lb = s.add(
        "web",
        LoadBalancer::public()
            .in_network(&vpc)
            .http_redirect()
            .https(Certificate::managed([v.domain]))
            .target_group(
                TargetGroup::new("api", 8080, HealthCheck::http(v.health_path)).live(v.live),
            )
            .target_group(TargetGroup::new(
                "admin",
                8081,
                HealthCheck::http("/health"),
            ))
            .route(10, "/api/*", "api")
            .route_from(20, "/admin/*", "admin", &["203.0.113.0/24"])
            .deny(30, "/admin/*")
            .deny(40, "/internal/*")
            .default_target("api"),
    );
    s.allow(lb.can_reach(&app).port(8080));
    s
}

const COLLECTIONS: [&str; 9] = [
    "addresses",
    "healthChecks",
    "backendServices",
    "securityPolicies",
    "urlMaps",
    "sslCertificates",
    "targetHttpsProxies",
    "targetHttpProxies",
    "forwardingRules",
];

fn listed(gcp: &Gcp, collection: &str) -> Vec<Json> {
    let (status, body) = gcp.rest(
        "GET",
        &format!("/compute/v1/projects/{PROJECT}/global/{collection}?filter=name%20eq%20acc-lb-.*"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let v: Json = serde_json::from_str(&body).unwrap();
    v["items"].as_array().cloned().unwrap_or_default()
}

fn object(gcp: &Gcp, collection: &str, name: &str) -> Json {
    let path = format!("/compute/v1/projects/{PROJECT}/global/{collection}/{name}");
    let (status, body) = gcp.rest("GET", &path, "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn the_load_balancer_through_the_lifecycle_suite() {
    let gcp = Gcp::new();
    let report = gcp.lifecycle(Case {
        name: "gcp-lb",
        stack: stack(FIRST),
        creates: vec![
            "gcp_compute_global_address",
            "gcp_compute_health_check",
            "gcp_compute_backend_service",
            "gcp_compute_security_policy",
            "gcp_compute_url_map",
            "gcp_compute_ssl_certificate",
            "gcp_compute_target_https_proxy",
            "gcp_compute_target_http_proxy",
            "gcp_compute_global_forwarding_rule",
        ],
        write_only: vec![],
        updates: vec![
            (
                stack(Variant {
                    health_path: "/ready",
                    ..FIRST
                }),
                "gcp_compute_health_check.web-api",
            ),
            (
                stack(Variant {
                    health_path: "/ready",
                    live: Colour::Green,
                    ..FIRST
                }),
                "gcp_compute_url_map.web",
            ),
        ],
        replace: Some((
            stack(Variant {
                health_path: "/ready",
                live: Colour::Green,
                domain: "www.shop.example.com",
            }),
            "gcp_compute_ssl_certificate.web",
            vec!["domains", "name"],
        )),
        delete_out_of_band: Some((
            vec!["gcp_compute_global_forwarding_rule.web-http"],
            Box::new(|id| {
                gcp.delete_out_of_band(&id);
                Box::pin(async {})
            }),
        )),
        remaining: Box::new(|_| {
            let n = COLLECTIONS.iter().map(|c| listed(&gcp, c).len()).sum();
            Box::pin(async move { n })
        }),
    });
    assert_eq!(
        (report.updated, report.replaced, report.recreated),
        (2, 1, 1),
        "{report:?}"
    );
}

#[test]
fn the_chain_is_what_compute_holds() {
    let gcp = Gcp::new();
    let engine = cairn_provider_kit::lifecycle::Harness::engine(&gcp, "lb.json");
    let s = stack(FIRST);
    gcp.apply(
        &engine,
        &s,
        cairn_core::plan::planner::PlanOptions::default(),
    );
    let link = |collection: &str, name: &str| {
        format!(
            "https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/{collection}/{name}"
        )
    };
    // Routes in their priorities; the admin path on its guarded service; /internal denied.
    let map = object(&gcp, "urlMaps", "acc-lb-web");
    assert_eq!(
        map["defaultService"],
        link("backendServices", "acc-lb-web-api-blue")
    );
    let rules = map["pathMatchers"][0]["routeRules"].as_array().unwrap();
    let seen: Vec<(i64, &str, &str)> = rules
        .iter()
        .map(|r| {
            (
                r["priority"].as_i64().unwrap(),
                r["matchRules"][0]["prefixMatch"].as_str().unwrap(),
                r["service"].as_str().unwrap().rsplit('/').next().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (10, "/api/", "acc-lb-web-api-blue"),
            (20, "/admin/", "acc-lb-web-admin-p20"),
            (40, "/internal/", "acc-lb-web-deny"),
        ]
    );
    // Cloud Armor: the admin range allowed, everyone else 403; /internal 403 for all.
    let guarded = object(&gcp, "backendServices", "acc-lb-web-admin-p20");
    assert_eq!(
        guarded["securityPolicy"],
        link("securityPolicies", "acc-lb-web-p20")
    );
    assert_eq!(
        guarded["healthChecks"][0],
        link("healthChecks", "acc-lb-web-admin")
    );
    let policy = object(&gcp, "securityPolicies", "acc-lb-web-p20");
    let actions: Vec<(&str, &Json)> = policy["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                &r["match"]["config"]["srcIpRanges"],
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("allow", &serde_json::json!(["203.0.113.0/24"])),
            ("deny(403)", &serde_json::json!(["*"])),
        ]
    );
    let deny = object(&gcp, "securityPolicies", "acc-lb-web-deny");
    assert_eq!(deny["rules"].as_array().unwrap().len(), 1, "{deny}");
    // The health check of the api group, on its port.
    let check = object(&gcp, "healthChecks", "acc-lb-web-api");
    assert_eq!(check["httpHealthCheck"]["port"], 8080);
    assert_eq!(check["httpHealthCheck"]["requestPath"], "/health");
    // HTTPS on 443 and the redirect on 80, one address.
    let address = object(&gcp, "addresses", "acc-lb-web");
    let https = object(&gcp, "forwardingRules", "acc-lb-web-https");
    let http = object(&gcp, "forwardingRules", "acc-lb-web-http");
    assert_eq!(https["IPAddress"], address["address"]);
    assert_eq!(http["IPAddress"], address["address"]);
    assert_eq!(https["portRange"], "443-443");
    assert_eq!(https["loadBalancingScheme"], "EXTERNAL_MANAGED");
    assert_eq!(https["target"], link("targetHttpsProxies", "acc-lb-web"));
    let proxy = object(&gcp, "targetHttpsProxies", "acc-lb-web");
    let certificate = proxy["sslCertificates"][0].as_str().unwrap();
    assert!(
        certificate.starts_with(&link("sslCertificates", "acc-lb-web-")),
        "{certificate}"
    );
    let name = certificate.rsplit('/').next().unwrap();
    assert_eq!(
        object(&gcp, "sslCertificates", name)["managed"]["domains"],
        serde_json::json!(["shop.example.com"])
    );
    let redirect = object(&gcp, "urlMaps", "acc-lb-web-redirect");
    assert_eq!(redirect["defaultUrlRedirect"]["httpsRedirect"], true);
    assert_eq!(
        object(&gcp, "targetHttpProxies", "acc-lb-web")["urlMap"],
        link("urlMaps", "acc-lb-web-redirect")
    );
    // Destroyed, nothing of it is left.
    let destroy = cairn_core::plan::planner::PlanOptions {
        mode: cairn_core::plan::PlanMode::Destroy,
        ..Default::default()
    };
    gcp.apply(&engine, &s, destroy);
    for c in COLLECTIONS {
        assert_eq!(listed(&gcp, c), Vec::<Json>::new(), "{c}");
    }
}

/// A certificate named as existing is read when the plan reads the cloud: one Compute does
/// not hold is refused naming the field before any insert; once it is there, the plan goes.
#[test]
fn an_existing_certificate_compute_does_not_hold_is_refused_at_plan() {
    let gcp = Gcp::new();
    let mut s = Stack::new("acc-lbx");
    let vpc = s.add("main", Network::new("10.87.0.0/16").nat(NatMode::None));
    s.add(
        "web",
        LoadBalancer::public()
            .in_network(&vpc)
            .https(Certificate::existing("team-cert"))
            .target_group(TargetGroup::new("api", 8080, HealthCheck::http("/health"))),
    );
    let engine = cairn_provider_kit::lifecycle::Harness::engine(&gcp, "x.json");
    let err = gcp
        .rt
        .block_on(engine.plan(&s, &PlanOptions::default()))
        .unwrap_err();
    let EngineError::Invalid(errors) = &err else {
        panic!("{err}")
    };
    assert!(
        errors.0.iter().any(|e| e.resource == "load_balancer.web"
            && e.field == "https.certificate"
            && e.message.contains("sslCertificates/team-cert")
            && e.message.contains("does not exist")),
        "{err}"
    );
    assert!(listed(&gcp, "addresses").is_empty(), "nothing made");

    let (status, body) = gcp.rest(
        "POST",
        &format!("/compute/v1/projects/{PROJECT}/global/sslCertificates"),
        r#"{"name": "team-cert", "type": "MANAGED", "managed": {"domains": ["team.example.com"]}}"#,
    );
    assert_eq!(status, 200, "{body}");
    let op: Json = serde_json::from_str(&body).unwrap();
    let link = op["selfLink"].as_str().unwrap();
    let wait = format!(
        "/compute/v1/{}/wait",
        link.split("/compute/v1/").nth(1).unwrap()
    );
    let (status, body) = gcp.rest("POST", &wait, "");
    assert_eq!(status, 200, "{body}");
    let plan = gcp
        .rt
        .block_on(engine.plan(&s, &PlanOptions::default()))
        .unwrap();
    assert!(plan.has_changes());
}
