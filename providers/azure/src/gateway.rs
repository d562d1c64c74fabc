//! Application Gateway v2 (a portable load balancer on Azure) and the WAF policy that
//! answers its deny routes.
//!
//! A gateway is one ARM resource holding every part of the balancer (frontends, listeners,
//! pools, probes, HTTP settings, path map, redirect, rules), each part referring to the
//! others by ARM id *inside* the gateway. cairn records the parts it declares in a flat,
//! comparable shape (`pools`, `backends`, `routes`, ...) and writes the whole body from it
//! on every PUT: a gateway is updated by a PUT of all of it (ARM's model), so what the
//! stack does not declare is never kept by accident.
//!
//! A WAF policy carries the deny routes as custom rules (Azure's balancer can answer 403
//! only through one); its managed rule set is OWASP 3.2, which a WAF_v2 policy must have.

use crate::arm::{self, s, str_list, strings};
use crate::client::network::{ApplicationGateway, WebApplicationFirewallPolicy};
use crate::tagged::{At, Tagged};
use crate::Ctx;
use cairn_core::provider::ProviderError;
use cairn_core::value::{Attrs, Text, Value};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

/// The frontend ports' names; the listeners and rules are named after them.
const HTTPS: &str = "https";
const HTTP: &str = "http";
const REDIRECT: &str = "http-to-https";
const PATHS: &str = "routes";

/// The attributes every tagged type records, from a resource's JSON.
pub(crate) fn common(v: &Json, at: &At) -> Attrs {
    Attrs::from([
        ("id".into(), Value::str(arm::jstr(v, &["id"]))),
        ("name".into(), Value::str(arm::jstr(v, &["name"]))),
        ("resource_group".into(), Value::str(&at.group)),
        ("location".into(), Value::str(arm::jstr(v, &["location"]))),
        ("tags".into(), arm::user_tags(v.get("tags"))),
    ])
}

pub(crate) fn map(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Text::from(k), v))
            .collect::<Attrs>(),
    )
}

/// The maps of list attribute `k`.
pub(crate) fn maps<'a>(a: &'a Attrs, k: &str) -> Vec<&'a Attrs> {
    match a.get(k) {
        Some(Value::List(items)) => items.iter().filter_map(Value::as_map).collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn field<'a>(m: &'a Attrs, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or_default()
}

pub(crate) fn int(m: &Attrs, k: &str) -> i64 {
    m.get(k).and_then(Value::as_int).unwrap_or_default()
}

pub(crate) fn texts(m: &Attrs, k: &str) -> Vec<String> {
    match m.get(k) {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The last segment of the id at `v[path]` (a part's name).
pub(crate) fn part_name(v: &Json, path: &[&str]) -> String {
    arm::last(arm::jstr(v, path)).to_string()
}

pub(crate) fn items<'a>(v: &'a Json, k: &str) -> impl Iterator<Item = &'a Json> {
    v[k].as_array().into_iter().flatten()
}

/// The ARM id of the gateway declared by `a` (its parts refer to each other through it).
fn gateway_id(a: &Attrs) -> String {
    let subnet = s(a, "subnet_id");
    let subscription = subnet.split('/').nth(2).unwrap_or_default();
    format!(
        "/subscriptions/{subscription}/resourceGroups/{}/providers/Microsoft.Network/applicationGateways/{}",
        s(a, "resource_group"),
        s(a, "name")
    )
}

impl Tagged for ApplicationGateway {
    const WHAT: &'static str = "application gateway";

    microsoft_network!(application_gateways_client);

    fn attrs(&self, at: &At) -> Attrs {
        let v = arm::json_of(self);
        let p = &v["properties"];
        let mut a = common(&v, at);
        let mut zones = self.zones.clone();
        zones.sort();
        a.insert("zones".into(), str_list(zones));
        a.insert("sku".into(), Value::str(arm::jstr(p, &["sku", "name"])));
        for (k, wire) in [
            ("min_capacity", "minCapacity"),
            ("max_capacity", "maxCapacity"),
        ] {
            a.insert(
                k.into(),
                p["autoscaleConfiguration"][wire]
                    .as_i64()
                    .map(Value::Int)
                    .unwrap_or(Value::Null),
            );
        }
        let first = |k: &str, path: &[&str]| {
            items(p, k)
                .next()
                .map(|x| arm::jstr(x, path).to_string())
                .unwrap_or_default()
        };
        a.insert(
            "subnet_id".into(),
            Value::str(first(
                "gatewayIPConfigurations",
                &["properties", "subnet", "id"],
            )),
        );
        a.insert(
            "public_ip_id".into(),
            Value::str(first(
                "frontendIPConfigurations",
                &["properties", "publicIPAddress", "id"],
            )),
        );
        a.insert(
            "certificate_secret_id".into(),
            Value::str(first(
                "sslCertificates",
                &["properties", "keyVaultSecretId"],
            )),
        );
        let identity = v["identity"]["userAssignedIdentities"]
            .as_object()
            .and_then(|m| m.keys().next().cloned())
            .unwrap_or_default();
        a.insert("identity_id".into(), Value::str(identity));
        a.insert(
            "ssl_policy".into(),
            Value::str(arm::jstr(p, &["sslPolicy", "policyName"])),
        );
        a.insert(
            "http_redirect".into(),
            Value::Bool(items(p, "redirectConfigurations").next().is_some()),
        );
        a.insert(
            "firewall_policy_id".into(),
            Value::str(arm::jstr(p, &["firewallPolicy", "id"])),
        );
        let mut pools: Vec<String> = items(p, "backendAddressPools")
            .map(|x| arm::jstr(x, &["name"]).to_string())
            .collect();
        pools.sort();
        a.insert("pools".into(), str_list(pools));
        let probes: BTreeMap<String, &Json> = items(p, "probes")
            .map(|x| (arm::jstr(x, &["name"]).to_string(), x))
            .collect();
        let mut backends: Vec<(String, Value)> = items(p, "backendHttpSettingsCollection")
            .map(|x| {
                let name = arm::jstr(x, &["name"]).to_string();
                let probe = probes
                    .get(&part_name(x, &["properties", "probe", "id"]))
                    .map(|p| &p["properties"])
                    .unwrap_or(&Json::Null);
                let n = |v: &Json| v.as_i64().map(Value::Int).unwrap_or(Value::Null);
                let codes: Vec<String> = items(&probe["match"], "statusCodes")
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect();
                let value = map([
                    ("name", Value::str(&name)),
                    ("port", n(&x["properties"]["port"])),
                    ("probe_path", Value::str(arm::jstr(probe, &["path"]))),
                    ("interval_s", n(&probe["interval"])),
                    ("timeout_s", n(&probe["timeout"])),
                    ("unhealthy_threshold", n(&probe["unhealthyThreshold"])),
                    ("status_codes", str_list(codes)),
                ]);
                (name, value)
            })
            .collect();
        backends.sort_by(|x, y| x.0.cmp(&y.0));
        a.insert(
            "backends".into(),
            Value::List(backends.into_iter().map(|(_, v)| v).collect()),
        );
        // The default and the routes: the path map's, or a basic rule's (no routes).
        let (mut default_pool, mut default_backend, mut routes) =
            (String::new(), String::new(), Vec::new());
        if let Some(paths) = items(p, "urlPathMaps").next() {
            let q = &paths["properties"];
            default_pool = part_name(q, &["defaultBackendAddressPool", "id"]);
            default_backend = part_name(q, &["defaultBackendHttpSettings", "id"]);
            for rule in items(q, "pathRules") {
                let r = &rule["properties"];
                let paths: Vec<String> = items(r, "paths")
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect();
                routes.push(map([
                    ("name", Value::str(arm::jstr(rule, &["name"]))),
                    ("paths", str_list(paths)),
                    (
                        "pool",
                        Value::str(part_name(r, &["backendAddressPool", "id"])),
                    ),
                    (
                        "backend",
                        Value::str(part_name(r, &["backendHttpSettings", "id"])),
                    ),
                ]));
            }
        } else if let Some(rule) = items(p, "requestRoutingRules")
            .find(|r| !r["properties"]["backendAddressPool"].is_null())
        {
            default_pool = part_name(&rule["properties"], &["backendAddressPool", "id"]);
            default_backend = part_name(&rule["properties"], &["backendHttpSettings", "id"]);
        }
        a.insert("default_pool".into(), Value::str(default_pool));
        a.insert("default_backend".into(), Value::str(default_backend));
        a.insert("routes".into(), Value::List(routes));
        a
    }

    fn body(
        address: &str,
        a: &Attrs,
        tags: serde_json::Value,
    ) -> Result<ApplicationGateway, ProviderError> {
        let me = gateway_id(a);
        let part = |kind: &str, name: &str| json!({ "id": format!("{me}/{kind}/{name}") });
        let https = !s(a, "certificate_secret_id").is_empty();
        let redirect = a
            .get("http_redirect")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut ports = Vec::new();
        let mut listeners = Vec::new();
        let mut rules = Vec::new();
        let mut redirects = Vec::new();
        let listener = |name: &str, protocol: &str| {
            let mut props = json!({
                "frontendIPConfiguration": part("frontendIPConfigurations", "public"),
                "frontendPort": part("frontendPorts", name),
                "protocol": protocol,
            });
            if protocol == "Https" {
                props["sslCertificate"] = part("sslCertificates", "listener");
            }
            json!({"name": name, "properties": props})
        };
        // Where the serving listener sends requests: the path map, else the default pool.
        let routes = maps(a, "routes");
        let serve = |priority: i64, name: &str| {
            let mut props = json!({
                "priority": priority,
                "httpListener": part("httpListeners", name),
            });
            if routes.is_empty() {
                props["ruleType"] = json!("Basic");
                props["backendAddressPool"] = part("backendAddressPools", s(a, "default_pool"));
                props["backendHttpSettings"] =
                    part("backendHttpSettingsCollection", s(a, "default_backend"));
            } else {
                props["ruleType"] = json!("PathBasedRouting");
                props["urlPathMap"] = part("urlPathMaps", PATHS);
            }
            json!({"name": name, "properties": props})
        };
        if https {
            ports.push(json!({"name": HTTPS, "properties": {"port": 443}}));
            listeners.push(listener(HTTPS, "Https"));
            rules.push(serve(100, HTTPS));
        }
        if redirect || !https {
            ports.push(json!({"name": HTTP, "properties": {"port": 80}}));
            listeners.push(listener(HTTP, "Http"));
        }
        if redirect && https {
            redirects.push(json!({
                "name": REDIRECT,
                "properties": {
                    "redirectType": "Permanent",
                    "targetListener": part("httpListeners", HTTPS),
                    "includePath": true,
                    "includeQueryString": true,
                },
            }));
            rules.push(json!({
                "name": HTTP,
                "properties": {
                    "ruleType": "Basic",
                    "priority": 200,
                    "httpListener": part("httpListeners", HTTP),
                    "redirectConfiguration": part("redirectConfigurations", REDIRECT),
                },
            }));
        } else if !https {
            rules.push(serve(200, HTTP));
        }
        let mut probes = Vec::new();
        let mut settings = Vec::new();
        for b in maps(a, "backends") {
            let name = field(b, "name");
            probes.push(json!({
                "name": name,
                "properties": {
                    "protocol": "Http",
                    "path": field(b, "probe_path"),
                    "interval": int(b, "interval_s"),
                    "timeout": int(b, "timeout_s"),
                    "unhealthyThreshold": int(b, "unhealthy_threshold"),
                    "pickHostNameFromBackendHttpSettings": true,
                    "match": {"statusCodes": texts(b, "status_codes")},
                },
            }));
            settings.push(json!({
                "name": name,
                "properties": {
                    "port": int(b, "port"),
                    "protocol": "Http",
                    "cookieBasedAffinity": "Disabled",
                    "requestTimeout": 30,
                    "pickHostNameFromBackendAddress": true,
                    "probe": part("probes", name),
                },
            }));
        }
        let path_maps = if routes.is_empty() {
            vec![]
        } else {
            let rules: Vec<Json> = routes
                .iter()
                .map(|r| {
                    json!({
                        "name": field(r, "name"),
                        "properties": {
                            "paths": texts(r, "paths"),
                            "backendAddressPool": part("backendAddressPools", field(r, "pool")),
                            "backendHttpSettings": part("backendHttpSettingsCollection", field(r, "backend")),
                        },
                    })
                })
                .collect();
            vec![json!({
                "name": PATHS,
                "properties": {
                    "defaultBackendAddressPool": part("backendAddressPools", s(a, "default_pool")),
                    "defaultBackendHttpSettings": part("backendHttpSettingsCollection", s(a, "default_backend")),
                    "pathRules": rules,
                },
            })]
        };
        let pools: Vec<Json> = strings(a, "pools")
            .into_iter()
            .map(|name| json!({"name": name}))
            .collect();
        let mut props = json!({
            "sku": {"name": s(a, "sku"), "tier": s(a, "sku")},
            "autoscaleConfiguration": {
                "minCapacity": a.get("min_capacity").and_then(Value::as_int).unwrap_or(0),
                "maxCapacity": a.get("max_capacity").and_then(Value::as_int).unwrap_or(10),
            },
            "gatewayIPConfigurations": [
                {"name": "gateway", "properties": {"subnet": {"id": s(a, "subnet_id")}}}
            ],
            "frontendIPConfigurations": [
                {"name": "public", "properties": {"publicIPAddress": {"id": s(a, "public_ip_id")}}}
            ],
            "frontendPorts": ports,
            "backendAddressPools": pools,
            "probes": probes,
            "backendHttpSettingsCollection": settings,
            "httpListeners": listeners,
            "redirectConfigurations": redirects,
            "urlPathMaps": path_maps,
            "requestRoutingRules": rules,
        });
        if https {
            props["sslCertificates"] = json!([{
                "name": "listener",
                "properties": {"keyVaultSecretId": s(a, "certificate_secret_id")},
            }]);
        }
        if !s(a, "ssl_policy").is_empty() {
            props["sslPolicy"] =
                json!({"policyType": "Predefined", "policyName": s(a, "ssl_policy")});
        }
        if !s(a, "firewall_policy_id").is_empty() {
            props["firewallPolicy"] = json!({"id": s(a, "firewall_policy_id")});
        }
        let mut body = json!({
            "location": s(a, "location"),
            "tags": tags,
            "zones": strings(a, "zones"),
            "properties": props,
        });
        if !s(a, "identity_id").is_empty() {
            body["identity"] = json!({
                "type": "UserAssigned",
                "userAssignedIdentities": {s(a, "identity_id"): {}},
            });
        }
        arm::model(address, body)
    }
}

// ---------------------------------------------------------------------------------------
// azure_waf_policy

impl Tagged for WebApplicationFirewallPolicy {
    const WHAT: &'static str = "web application firewall policy";
    type Body = Self;

    fn id(&self) -> Option<&str> {
        self.resource.id.as_deref()
    }
    fn name(&self) -> Option<&str> {
        self.resource.name.as_deref()
    }
    fn tags(&self) -> Option<&serde_json::Value> {
        self.resource.tags.as_ref()
    }
    fn state(&self) -> Option<String> {
        self.properties
            .as_ref()
            .and_then(|p| crate::network::state_name(&p.provisioning_state))
    }

    fn attrs(&self, at: &At) -> Attrs {
        let v = arm::json_of(self);
        let p = &v["properties"];
        let mut a = common(&v, at);
        a.insert(
            "mode".into(),
            Value::str(arm::jstr(p, &["policySettings", "mode"])),
        );
        let rules = items(p, "customRules")
            .map(|r| {
                let conditions: Vec<&Json> = items(r, "matchConditions").collect();
                let on = |variable: &str| {
                    conditions.iter().find(|c| {
                        items(c, "matchVariables")
                            .any(|m| arm::jstr(m, &["variableName"]) == variable)
                    })
                };
                let (path, source) = (on("RequestUri"), on("RemoteAddr"));
                let values = |c: Option<&&Json>| -> Vec<String> {
                    c.map(|c| {
                        items(c, "matchValues")
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
                };
                map([
                    ("name", Value::str(arm::jstr(r, &["name"]))),
                    (
                        "priority",
                        r["priority"]
                            .as_i64()
                            .map(Value::Int)
                            .unwrap_or(Value::Null),
                    ),
                    (
                        "operator",
                        Value::str(
                            path.map(|c| arm::jstr(c, &["operator"]))
                                .unwrap_or_default(),
                        ),
                    ),
                    ("paths", str_list(values(path))),
                    ("except_sources", str_list(values(source))),
                ])
            })
            .collect();
        a.insert("custom_rules".into(), Value::List(rules));
        a
    }

    fn body(
        address: &str,
        a: &Attrs,
        tags: serde_json::Value,
    ) -> Result<WebApplicationFirewallPolicy, ProviderError> {
        let rules: Vec<Json> = maps(a, "custom_rules")
            .into_iter()
            .map(|r| {
                // Paths are matched lower-cased: Application Gateway routes paths ignoring
                // case, so a deny must too.
                let mut conditions = vec![json!({
                    "matchVariables": [{"variableName": "RequestUri"}],
                    "operator": field(r, "operator"),
                    "matchValues": texts(r, "paths"),
                    "transforms": ["Lowercase"],
                })];
                let except = texts(r, "except_sources");
                if !except.is_empty() {
                    conditions.push(json!({
                        "matchVariables": [{"variableName": "RemoteAddr"}],
                        "operator": "IPMatch",
                        "negationConditon": true,
                        "matchValues": except,
                    }));
                }
                json!({
                    "name": field(r, "name"),
                    "priority": int(r, "priority"),
                    "ruleType": "MatchRule",
                    "action": "Block",
                    "state": "Enabled",
                    "matchConditions": conditions,
                })
            })
            .collect();
        arm::model(
            address,
            json!({
                "location": s(a, "location"),
                "tags": tags,
                "properties": {
                    "policySettings": {"state": "Enabled", "mode": s(a, "mode")},
                    "customRules": rules,
                    "managedRules": {
                        "managedRuleSets": [{"ruleSetType": "OWASP", "ruleSetVersion": "3.2"}]
                    },
                },
            }),
        )
    }

    async fn list(ctx: &Ctx, at: &At) -> azure_core::Result<Vec<Self>> {
        let pages = ctx
            .c
            .network
            .web_application_firewall_policies_client()
            .list(&at.group, &ctx.subscription)
            .into_stream();
        crate::tagged::all(pages, |p| p.value).await
    }

    async fn get(ctx: &Ctx, at: &At, name: &str) -> azure_core::Result<Self> {
        ctx.c
            .network
            .web_application_firewall_policies_client()
            .get(&at.group, name, &ctx.subscription)
            .await
    }

    async fn put(
        ctx: &Ctx,
        at: &At,
        name: &str,
        body: Self,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx
            .c
            .network
            .web_application_firewall_policies_client()
            .create_or_update(&at.group, name, &ctx.subscription, body))
    }

    async fn delete(
        ctx: &Ctx,
        at: &At,
        name: &str,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx
            .c
            .network
            .web_application_firewall_policies_client()
            .delete(&at.group, name, &ctx.subscription))
    }
}
