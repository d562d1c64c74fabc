//! Load balancers: Application Gateway v2 for HTTP(S); a Standard Load Balancer for TCP
//! listeners (`tcp_balancer`).
//!
//! A balancer is one gateway in a subnet of its own (the placement's first subnet hint,
//! else the network's first subnet of the tier, public unless told): Azure refuses any
//! other kind of resource in a gateway's subnet, so one a database is delegated or a
//! private endpoint sits in is refused here, by name. Its frontend is a static Standard
//! public IP; its zones are those of the tier's subnets (zone-redundant when they span
//! several).
//!
//! HTTPS presents a Key Vault certificate, read by a user-assigned identity the gateway
//! carries, granted "Key Vault Secrets User" on the certificate's vault (see
//! `identity.rs`); the gateway waits for that grant. An HTTP redirect is a second
//! listener on 80 with a permanent redirect to the HTTPS one. Path routes become the
//! path map's rules in priority order; unmatched requests go to `default_target`. A
//! blue/green target group is two pools (`NAME-blue`, `NAME-green`), the live one routed
//! to; both sides share the group's probe and HTTP settings.
//!
//! Azure's gateway cannot answer 403 itself or route by client address: a deny route is
//! a custom rule of a WAF policy (the gateway becomes WAF_v2), blocking the path unless
//! the client is in the ranges of the routes before it on the same path (`route_from`).
//! A `route_from` with no deny after it would let everyone through on Azure, so it is
//! refused.

use super::*;
use cairn_core::model::{Certificate, LoadBalancer, Placement, RouteTarget, Tier};

/// Application Gateway's predefined TLS policies (Azure's documentation).
pub(super) const SSL_POLICIES: [&str; 5] = [
    "AppGwSslPolicy20150501",
    "AppGwSslPolicy20170401",
    "AppGwSslPolicy20170401S",
    "AppGwSslPolicy20220101",
    "AppGwSslPolicy20220101S",
];
/// TLS 1.2 and up with modern ciphers, when the stack names none.
const DEFAULT_SSL_POLICY: &str = "AppGwSslPolicy20220101";
/// The built-in role that reads secrets (a certificate's PFX) of a vault using Azure RBAC.
pub(crate) const SECRETS_USER_ROLE: &str = "4633458b-17de-408a-b874-0445c86b69e6";
/// Limits of Application Gateway's probes and WAF policies (Azure's documentation).
const PROBE_SECONDS: std::ops::RangeInclusive<u32> = 1..=86400;
const PROBE_THRESHOLD: std::ops::RangeInclusive<u32> = 1..=20;
const WAF_RULES_MAX: usize = 100;

/// A stable GUID for a role assignment's name, from what it grants.
fn guid(parts: &[&str]) -> String {
    let whole = parts.join("\n");
    let d: Vec<String> = (0..4)
        .map(|i| cairn_provider_kit::names::digest(&format!("{i}:{whole}")))
        .collect();
    format!(
        "{}-{}-{}-{}-{}{}",
        d[0],
        &d[1][..4],
        &d[1][4..],
        &d[2][..4],
        &d[2][4..],
        d[3]
    )
}

/// `url` without a port in its authority: what names a grant (a local endpoint's port
/// changes from run to run; Azure's URLs have none).
fn without_port(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    format!("{scheme}://{host}{path}")
}

/// Whether `id` has the shape of a Key Vault secret's URL: `https://VAULT.../secrets/NAME`
/// with an optional version (an `http://` one only on a loopback endpoint, for tests).
fn secret_url_shape(id: &str) -> bool {
    let rest = match (id.strip_prefix("https://"), id.strip_prefix("http://")) {
        (Some(r), _) => r,
        (None, Some(r)) if r.starts_with("127.0.0.1") || r.starts_with("localhost") => r,
        _ => return false,
    };
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    segments
        .iter()
        .position(|s| *s == "secrets")
        .is_some_and(|i| (segments.len() == i + 2 || segments.len() == i + 3) && i >= 1)
}

/// An Application Gateway path: `/`-led, `*` only at the end.
fn gateway_path(p: &str) -> bool {
    p.starts_with('/') && !p.trim_end_matches('*').contains('*') && !p.contains('?')
}

/// A regular expression matching the request URIs a path pattern matches (lower case).
fn uri_regex(p: &str) -> String {
    let escape = |s: &str| {
        s.chars()
            .flat_map(|c| {
                let special = "\\.+*?()|[]{}^$".contains(c);
                special.then_some('\\').into_iter().chain([c])
            })
            .collect::<String>()
    };
    match p.strip_suffix('*') {
        Some(prefix) => format!("^{}", escape(&prefix.to_lowercase())),
        None => format!("^{}(\\?.*)?$", escape(&p.to_lowercase())),
    }
}

/// The pool target group `name` sends to: its live side's when it has two.
fn live_pool(lb: &LoadBalancer, name: &str) -> String {
    lb.target_groups
        .iter()
        .find(|t| t.name == name)
        .map(|t| {
            if t.blue_green {
                format!("{name}-{}", t.live.as_str())
            } else {
                name.to_string()
            }
        })
        .unwrap_or_else(|| name.to_string())
}

/// A target group's pools: one, or one per side.
fn pools_of(tg: &cairn_core::model::TargetGroup) -> Vec<Value> {
    if tg.blue_green {
        vec![
            Value::str(format!("{}-blue", tg.name)),
            Value::str(format!("{}-green", tg.name)),
        ]
    } else {
        vec![Value::str(&tg.name)]
    }
}

impl Lowering<'_> {
    /// The zones a balancer's frontend spans: those of its tier's subnets, when several.
    fn tier_zones(&self, lb: &LoadBalancer) -> Vec<Value> {
        let tier = lb.placement.tier.unwrap_or(Tier::Public);
        let network = self.stack.network_of(&lb.placement).unwrap_or_default();
        let zones: std::collections::BTreeSet<u8> = self
            .stack
            .resources()
            .iter()
            .filter_map(|x| match &x.resource {
                Resource::Subnet(s) if s.network.name() == network && s.tier == tier => {
                    Some(s.zone)
                }
                _ => None,
            })
            .collect();
        if zones.len() > 1 {
            zones
                .iter()
                .map(|z| Value::str((z + 1).to_string()))
                .collect()
        } else {
            vec![]
        }
    }

    /// The balancer's static public address (its frontend).
    fn frontend_ip(&mut self, d: &Declared, zones: Vec<Value>) -> String {
        let ip = self.placed(Attrs::from([
            (
                "name".into(),
                Value::str(azure_name(&[self.stack.name(), &d.name, "ip"], 80)),
            ),
            ("zones".into(), Value::List(zones)),
        ]));
        self.push_as(d, "azure_public_ip", &d.name, ip)
    }

    /// TCP listeners: a Standard Load Balancer (see `tcp_balancer.rs`).
    fn tcp_balancer(&mut self, d: &Declared, lb: &LoadBalancer) {
        for (field, used) in [
            ("https", lb.https.is_some()),
            ("http_redirect", lb.http_redirect),
            ("routes", !lb.routes.is_empty()),
            ("default_target", lb.default_target.is_some()),
        ] {
            if used {
                self.err(
                    d,
                    field,
                    "on azure TCP listeners are a Standard Load Balancer and HTTP(S) an application gateway: declare them as two balancers",
                );
            }
        }
        let mut pools = Vec::new();
        let mut probes = Vec::new();
        for (i, tg) in lb.target_groups.iter().enumerate() {
            let h = &tg.health_check;
            pools.extend(pools_of(tg));
            if h.interval_s < 5 {
                self.err(
                    d,
                    &format!("target_groups[{i}].health_check.interval_s"),
                    format!(
                        "{} s: azure's load balancer probes at most every 5 s",
                        h.interval_s
                    ),
                );
            }
            let http = !h.path.is_empty();
            if http && h.matcher != "200" {
                self.err(
                    d,
                    &format!("target_groups[{i}].health_check.matcher"),
                    format!(
                        "{:?}: azure's load balancer counts only 200 as healthy",
                        h.matcher
                    ),
                );
            }
            probes.push(Value::Map(
                [
                    ("name", Value::str(&tg.name)),
                    ("protocol", Value::str(if http { "Http" } else { "Tcp" })),
                    ("port", Value::Int(i64::from(tg.port))),
                    ("path", Value::str(if http { h.path.as_str() } else { "" })),
                    ("interval_s", Value::Int(i64::from(h.interval_s))),
                    ("threshold", Value::Int(i64::from(h.unhealthy_threshold))),
                ]
                .into_iter()
                .map(|(k, v)| (Text::from(k), v))
                .collect(),
            ));
        }
        pools.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        let rules = lb
            .tcp_listeners
            .iter()
            .map(|l| {
                let port = lb
                    .target_groups
                    .iter()
                    .find(|t| t.name == l.target)
                    .map_or(l.port, |t| t.port);
                Value::Map(
                    [
                        ("name", Value::str(format!("tcp-{}", l.port))),
                        ("frontend_port", Value::Int(i64::from(l.port))),
                        ("backend_port", Value::Int(i64::from(port))),
                        ("pool", Value::str(live_pool(lb, &l.target))),
                        ("probe", Value::str(&l.target)),
                    ]
                    .into_iter()
                    .map(|(k, v)| (Text::from(k), v))
                    .collect(),
                )
            })
            .collect();
        let zones = self.tier_zones(lb);
        let ip = self.frontend_ip(d, zones);
        let attrs = self.placed(Attrs::from([
            (
                "name".into(),
                Value::str(azure_name(&[self.stack.name(), &d.name], 80)),
            ),
            ("sku".into(), Value::str("Standard")),
            ("public_ip_id".into(), Value::reference(&ip, "id")),
            ("pools".into(), Value::List(pools)),
            ("probes".into(), Value::List(probes)),
            ("rules".into(), Value::List(rules)),
        ]));
        let balancer = self.push(d, "azure_load_balancer", attrs);
        self.export(d, "id", Value::reference(&balancer, "id"));
        self.export(d, "address", Value::reference(&ip, "ip_address"));
    }

    /// The subnet a gateway placed by `p` sits in: the first hint, else the network's
    /// first subnet of the tier (public unless told).
    fn gateway_subnet(&self, p: &Placement) -> Option<String> {
        if let Some(s) = p.subnets.first() {
            return Some(s.name().to_string());
        }
        let net = self.stack.network_of(p)?;
        let tier = p.tier.unwrap_or(Tier::Public);
        self.stack
            .resources()
            .iter()
            .find_map(|x| match &x.resource {
                Resource::Subnet(s) if s.network.name() == net && s.tier == tier => {
                    Some(x.name.to_string())
                }
                _ => None,
            })
    }

    /// The load balancers of network `network` with their gateway subnets.
    pub(super) fn gateways_in(&self, network: &str) -> Vec<(&'_ Declared, String)> {
        self.stack
            .resources()
            .iter()
            .filter_map(|x| match &x.resource {
                Resource::LoadBalancer(lb)
                    if lb.tcp_listeners.is_empty()
                        && self.stack.network_of(&lb.placement).as_deref() == Some(network) =>
                {
                    Some((x, self.gateway_subnet(&lb.placement)?))
                }
                _ => None,
            })
            .collect()
    }

    /// What else sits in subnet `subnet`: a delegated server, a private endpoint.
    fn other_tenant(&self, subnet: &str) -> Option<String> {
        if self.delegated.contains(subnet) {
            return Some("the PostgreSQL flexible server delegated to it".into());
        }
        self.stack.resources().iter().find_map(|x| {
            let p = match &x.resource {
                Resource::Cache(c) => &c.placement,
                Resource::Broker(b) => &b.placement,
                _ => return None,
            };
            (self.endpoint_subnet(p).as_deref() == Some(subnet))
                .then(|| format!("the private endpoint of {}", x.address()))
        })
    }

    pub(super) fn load_balancer(&mut self, d: &Declared, lb: &LoadBalancer) {
        if !lb.tcp_listeners.is_empty() {
            return self.tcp_balancer(d, lb);
        }
        let Some(subnet) = self.gateway_subnet(&lb.placement) else {
            return self.err(
                d,
                "placement",
                "on azure a load balancer is an application gateway in a subnet of its network: place it in a network with a public subnet, or name its subnet",
            );
        };
        if let Some(other) = self.other_tenant(&subnet) {
            return self.err(
                d,
                "placement",
                format!("an application gateway's subnet holds nothing else on azure, and subnet.{subnet} also holds {other}: give the balancer a subnet of its own"),
            );
        }
        let Some(default) = lb.default_target.clone() else {
            return self.err(
                d,
                "default_target",
                "on azure a gateway sends requests no route matches to a target group: set default_target",
            );
        };
        let zones = self.tier_zones(lb);

        // Target groups: one probe and HTTP settings each, one pool per side.
        let mut pools = Vec::new();
        let mut backends = Vec::new();
        let live = |name: &str| live_pool(lb, name);
        for (i, tg) in lb.target_groups.iter().enumerate() {
            let h = &tg.health_check;
            pools.extend(pools_of(tg));
            for (k, v, range) in [
                ("interval_s", h.interval_s, &PROBE_SECONDS),
                ("timeout_s", h.timeout_s, &PROBE_SECONDS),
                (
                    "unhealthy_threshold",
                    h.unhealthy_threshold,
                    &PROBE_THRESHOLD,
                ),
            ] {
                if !range.contains(&v) {
                    self.err(
                        d,
                        &format!("target_groups[{i}].health_check.{k}"),
                        format!("{v} is outside azure's {}..={}", range.start(), range.end()),
                    );
                }
            }
            backends.push(Value::Map(
                [
                    ("name", Value::str(&tg.name)),
                    ("port", Value::Int(i64::from(tg.port))),
                    ("probe_path", Value::str(&h.path)),
                    ("interval_s", Value::Int(i64::from(h.interval_s))),
                    ("timeout_s", Value::Int(i64::from(h.timeout_s))),
                    (
                        "unhealthy_threshold",
                        Value::Int(i64::from(h.unhealthy_threshold)),
                    ),
                    ("status_codes", Value::List(vec![Value::str(&h.matcher)])),
                ]
                .into_iter()
                .map(|(k, v)| (Text::from(k), v))
                .collect(),
            ));
        }
        pools.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        backends.sort_by_key(|b| {
            b.as_map()
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        });

        // Routes in priority order: forwards into the path map, denies into the WAF.
        let mut order: Vec<(usize, &cairn_core::model::Route)> =
            lb.routes.iter().enumerate().collect();
        order.sort_by_key(|(_, r)| r.priority);
        let mut routes = Vec::new();
        let mut blocks = Vec::new();
        for (n, (i, r)) in order.iter().enumerate() {
            for p in &r.path_patterns {
                if !gateway_path(p) {
                    self.err(
                        d,
                        &format!("routes[{i}].path_patterns"),
                        format!("{p:?}: azure's gateway takes paths that start with '/' and have '*' only at the end"),
                    );
                }
            }
            let same_path = |x: &cairn_core::model::Route| x.path_patterns == r.path_patterns;
            match &r.target {
                RouteTarget::Forward(target) => {
                    if !r.source_cidrs.is_empty()
                        && !order[n + 1..]
                            .iter()
                            .any(|(_, x)| x.target == RouteTarget::Deny && same_path(x))
                    {
                        self.err(
                            d,
                            &format!("routes[{i}].source_cidrs"),
                            "azure's gateway routes every client alike: close the path to the others with a deny route on the same path after this one (it becomes a WAF rule)",
                        );
                    }
                    routes.push(Value::Map(
                        [
                            ("name", Value::str(format!("route-{}", r.priority))),
                            (
                                "paths",
                                Value::List(r.path_patterns.iter().map(Value::str).collect()),
                            ),
                            ("pool", Value::str(live(target))),
                            ("backend", Value::str(target)),
                        ]
                        .into_iter()
                        .map(|(k, v)| (Text::from(k), v))
                        .collect(),
                    ));
                }
                RouteTarget::Deny => {
                    let earlier = &order[..n];
                    // A route before it on the same path for everyone takes every request.
                    if earlier
                        .iter()
                        .any(|(_, x)| same_path(x) && x.source_cidrs.is_empty())
                    {
                        continue;
                    }
                    let except: Vec<Value> = earlier
                        .iter()
                        .filter(|(_, x)| same_path(x))
                        .flat_map(|(_, x)| x.source_cidrs.iter().map(Value::str))
                        .collect();
                    let wildcard = r.path_patterns.iter().all(|p| p.ends_with('*'));
                    let (operator, paths): (&str, Vec<Value>) = if wildcard {
                        (
                            "BeginsWith",
                            r.path_patterns
                                .iter()
                                .map(|p| Value::str(p.trim_end_matches('*').to_lowercase()))
                                .collect(),
                        )
                    } else {
                        (
                            "Regex",
                            r.path_patterns
                                .iter()
                                .map(|p| Value::str(uri_regex(p)))
                                .collect(),
                        )
                    };
                    blocks.push(Value::Map(
                        [
                            ("name", Value::str(format!("deny{}", r.priority))),
                            ("priority", Value::Int(blocks.len() as i64 + 1)),
                            ("operator", Value::str(operator)),
                            ("paths", Value::List(paths)),
                            ("except_sources", Value::List(except)),
                        ]
                        .into_iter()
                        .map(|(k, v)| (Text::from(k), v))
                        .collect(),
                    ));
                }
            }
        }
        if blocks.len() > WAF_RULES_MAX {
            self.err(
                d,
                "routes",
                format!("azure's WAF policy holds at most {WAF_RULES_MAX} custom rules; this balancer's deny routes need {}", blocks.len()),
            );
        }

        // The certificate, and the identity that reads it.
        let mut certificate = String::new();
        let mut ssl_policy = String::new();
        if let Some(h) = &lb.https {
            if let Certificate::Existing(c) = &h.certificate {
                if !secret_url_shape(c) {
                    self.err(
                        d,
                        "https.certificate",
                        format!("{c:?}: on azure a certificate is the URL of its Key Vault secret, https://VAULT.vault.azure.net/secrets/NAME (no version: the gateway then follows renewals)"),
                    );
                } else {
                    // Read when the plan reads the cloud: a secret no vault of the
                    // subscription holds is refused there, not by the gateway's PUT.
                    self.out.existing.push(ExistingRef {
                        resource: d.address(),
                        field: "https.certificate".into(),
                        type_name: crate::identity::CERTIFICATE.into(),
                        id: c.as_str().into(),
                        what: "Key Vault certificate".into(),
                    });
                }
                certificate = c.clone();
            }
            ssl_policy = h
                .ssl_policy
                .clone()
                .unwrap_or_else(|| DEFAULT_SSL_POLICY.to_string());
            if !SSL_POLICIES.contains(&ssl_policy.as_str()) {
                self.err(
                    d,
                    "https.ssl_policy",
                    format!(
                        "{ssl_policy:?} is not a predefined Application Gateway TLS policy ({})",
                        SSL_POLICIES.join(", ")
                    ),
                );
            }
        }
        if lb.http_redirect && lb.https.is_none() {
            self.err(
                d,
                "http_redirect",
                "a redirect to HTTPS needs an HTTPS listener",
            );
        }

        let stack = self.stack.name();
        let ip = self.frontend_ip(d, zones.clone());
        let mut depends_on = Vec::new();
        let mut identity_id = Value::str("");
        if !certificate.is_empty() {
            let identity = self.placed(Attrs::from([(
                "name".into(),
                Value::str(azure_name(&[stack, &d.name], 128)),
            )]));
            let identity = self.push_as(d, "azure_user_assigned_identity", &d.name, identity);
            identity_id = Value::reference(&identity, "id");
            let grant = self.push_as(
                d,
                "azure_role_assignment",
                &d.name,
                Attrs::from([
                    (
                        "name".into(),
                        Value::str(guid(&[stack, &d.address(), &without_port(&certificate)])),
                    ),
                    ("certificate_secret_id".into(), Value::str(&certificate)),
                    ("role_definition".into(), Value::str(SECRETS_USER_ROLE)),
                    (
                        "principal_id".into(),
                        Value::reference(&identity, "principal_id"),
                    ),
                ]),
            );
            depends_on.push(Text::from(grant.as_str()));
        }
        let mut firewall = Value::str("");
        if !blocks.is_empty() {
            let policy = self.placed(Attrs::from([
                ("name".into(), Value::str(azure_name(&[stack, &d.name], 80))),
                ("mode".into(), Value::str("Prevention")),
                ("custom_rules".into(), Value::List(blocks)),
            ]));
            let policy = self.push_as(d, "azure_waf_policy", &d.name, policy);
            firewall = Value::reference(&policy, "id");
            self.note(
                d,
                "routes",
                "azure answers a deny route through a WAF_v2 policy, whose OWASP 3.2 managed rules also block requests they judge malicious",
            );
        }
        let sku = if firewall.as_str() == Some("") {
            "Standard_v2"
        } else {
            "WAF_v2"
        };
        let attrs = self.placed(Attrs::from([
            ("name".into(), Value::str(azure_name(&[stack, &d.name], 80))),
            ("zones".into(), Value::List(zones)),
            ("sku".into(), Value::str(sku)),
            // At least two instances: one zone's outage leaves one serving.
            ("min_capacity".into(), Value::Int(2)),
            ("max_capacity".into(), Value::Int(10)),
            (
                "subnet_id".into(),
                Value::reference(addr("azure_subnet", &subnet), "id"),
            ),
            ("public_ip_id".into(), Value::reference(&ip, "id")),
            ("identity_id".into(), identity_id),
            ("certificate_secret_id".into(), Value::str(&certificate)),
            ("ssl_policy".into(), Value::str(ssl_policy)),
            ("http_redirect".into(), Value::Bool(lb.http_redirect)),
            ("firewall_policy_id".into(), firewall),
            ("pools".into(), Value::List(pools)),
            ("backends".into(), Value::List(backends)),
            ("routes".into(), Value::List(routes)),
            ("default_pool".into(), Value::str(live(&default))),
            ("default_backend".into(), Value::str(&default)),
        ]));
        let gateway = self.push(d, "azure_application_gateway", attrs);
        if let Some(c) = self.out.resources.last_mut() {
            c.depends_on = depends_on;
        }
        self.export(d, "id", Value::reference(&gateway, "id"));
        self.export(d, "address", Value::reference(&ip, "ip_address"));
    }
}
