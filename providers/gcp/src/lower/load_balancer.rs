//! Load balancers as Google's global external Application Load Balancer (`lb/`): an
//! external address; per target group a health check and a backend service (two with
//! blue/green, the URL map sending to the live one); a URL map of the routes; a certificate
//! and a target HTTPS proxy; forwarding rules on 443 (and on 80 for the redirect, through
//! its own URL map and target HTTP proxy).
//!
//! URL maps cannot see the client's address, so a route limited to some clients sends its
//! paths to a backend service of its own guarded by a Cloud Armor policy: the clients'
//! ranges allowed, everyone else answered 403. That is the portable meaning only when the
//! stack closes those paths to everyone else anyway (a `deny` of the same paths at a later
//! priority, the seeds' admin paths): a route by client range with no such deny is refused
//! on gcp, naming the field, rather than answering the others 403 where AWS would pass
//! them on. A `deny` standing alone sends its paths to a backend service whose policy
//! denies everyone.
//!
//! The balancer is global, outside every network: its placement has nothing to place.
//! Its targets' groups open their ports to Google's proxy ranges (`firewall.rs`).

use super::*;
use cairn_core::model::{Certificate, LoadBalancer, Route, RouteTarget};
use std::collections::BTreeMap;

/// Cloud Armor matches at most this many client ranges in one rule.
const RANGES_PER_RULE: usize = 10;
/// Cloud Armor's default rule, the last, which must match every client.
const DEFAULT_RULE: i64 = 2_147_483_647;
/// Where Google's certificates and other Compute objects are named in references.
const COMPUTE: &str = "https://www.googleapis.com/compute/v1";

fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Text::from(k), v))
            .collect(),
    )
}

fn rule(priority: i64, action: &str, ranges: Vec<Value>) -> Value {
    map([
        ("priority", Value::Int(priority)),
        ("action", Value::str(action)),
        ("src_ip_ranges", Value::List(ranges)),
        ("description", Value::str("")),
    ])
}

/// The same paths, in any order.
fn same_paths(a: &Route, b: &Route) -> bool {
    let mut x = a.path_patterns.clone();
    let mut y = b.path_patterns.clone();
    x.sort();
    y.sort();
    x == y
}

/// A URL map matches a path exactly, or by a prefix ending in `/` (`/a/*`).
fn fits_url_map(pattern: &str) -> bool {
    let body = pattern.strip_suffix("/*").unwrap_or(pattern);
    pattern.starts_with('/') && !body.contains(['*', '?', '#'])
}

impl Lowering<'_> {
    pub(super) fn load_balancer(&mut self, d: &Declared, lb: &LoadBalancer) {
        // Core refuses what the product lacks before lowering; kept for callers of
        // `lower_stack` alone.
        if lb.internal {
            return self.err(
                d,
                "internal",
                "an internal load balancer is not lowered on gcp yet",
            );
        }
        if !lb.tcp_listeners.is_empty() {
            return self.err(
                d,
                "tcp_listeners[0]",
                "TCP listeners are not lowered on gcp yet",
            );
        }
        let Some(https) = &lb.https else {
            return self.err(
                d,
                "https",
                "on gcp cairn lowers balancers that serve HTTPS: give it a certificate",
            );
        };
        let part = |p: &str| {
            if p.is_empty() {
                d.name.to_string()
            } else {
                format!("{}-{p}", d.name)
            }
        };
        let stack = self.stack.name().to_string();
        let name = |p: &str| Value::str(gcp_name(&stack, &part(p)));
        let describe = Value::str(format!("cairn: {}", d.address()));
        let address = self.push_as(
            d,
            "gcp_compute_global_address",
            &d.name,
            Attrs::from([
                ("name".into(), name("")),
                ("network".into(), Value::str("")),
                ("purpose".into(), Value::str("")),
                ("address_type".into(), Value::str("EXTERNAL")),
                ("prefix_length".into(), Value::Int(0)),
            ]),
        );

        // Per target group a health check, and one backend service per side.
        let mut live: BTreeMap<&str, Vec<(String, bool)>> = BTreeMap::new();
        for (i, tg) in lb.target_groups.iter().enumerate() {
            let hc = &tg.health_check;
            if hc.matcher != "200" {
                self.err(
                    d,
                    &format!("target_groups[{i}].health_check.matcher"),
                    format!(
                        "GCP health checks count HTTP 200 only, not {:?}",
                        hc.matcher
                    ),
                );
            }
            let check = self.push_as(
                d,
                "gcp_compute_health_check",
                &part(&tg.name),
                Attrs::from([
                    ("name".into(), name(&tg.name)),
                    ("type".into(), Value::str("HTTP")),
                    ("port".into(), Value::Int(tg.port.into())),
                    ("request_path".into(), Value::str(&hc.path)),
                    (
                        "check_interval_sec".into(),
                        Value::Int(hc.interval_s.into()),
                    ),
                    ("timeout_sec".into(), Value::Int(hc.timeout_s.into())),
                    (
                        "healthy_threshold".into(),
                        Value::Int(hc.healthy_threshold.into()),
                    ),
                    (
                        "unhealthy_threshold".into(),
                        Value::Int(hc.unhealthy_threshold.into()),
                    ),
                    ("description".into(), describe.clone()),
                ]),
            );
            let sides: Vec<(String, bool)> = if tg.blue_green {
                ["blue", "green"]
                    .iter()
                    .map(|c| (format!("{}-{c}", tg.name), *c == tg.live.as_str()))
                    .collect()
            } else {
                vec![(tg.name.clone(), true)]
            };
            for (side, _) in &sides {
                self.backend(d, &part(side), name(side), Some(&check), Value::str(""));
            }
            live.insert(tg.name.as_str(), sides);
        }
        let live_backend = |tg: &str, suffix: &str| {
            live.get(tg)
                .and_then(|sides| sides.iter().find(|(_, on)| *on))
                .map(|(side, _)| {
                    let p = if suffix.is_empty() {
                        part(side)
                    } else {
                        part(&format!("{side}-{suffix}"))
                    };
                    Value::reference(addr("gcp_compute_backend_service", &p), "self_link")
                })
        };

        // Routes, in their priorities.
        let mut order: Vec<(usize, &Route)> = lb.routes.iter().enumerate().collect();
        order.sort_by_key(|(_, r)| r.priority);
        let mut routes = Vec::new();
        let mut deny_backend: Option<Value> = None;
        for &(i, route) in &order {
            for p in &route.path_patterns {
                if !fits_url_map(p) {
                    self.err(
                        d,
                        &format!("routes[{i}].path_patterns"),
                        format!("{p:?}: a GCP URL map matches a whole path or a prefix ending in \"/*\" (no other wildcard, '?' or '#')"),
                    );
                }
            }
            let service = match &route.target {
                RouteTarget::Forward(tg) if route.source_cidrs.is_empty() => live_backend(tg, ""),
                RouteTarget::Forward(tg) => {
                    let closed = lb.routes.iter().any(|r| {
                        r.priority > route.priority
                            && r.target == RouteTarget::Deny
                            && same_paths(r, route)
                    });
                    if !closed {
                        self.err(
                            d,
                            &format!("routes[{i}].source_cidrs"),
                            "on gcp a route limited to some clients answers the others 403 \
                             (Cloud Armor cannot pass them on to a later route): follow it \
                             with a deny of the same paths",
                        );
                        continue;
                    }
                    let suffix = format!("p{}", route.priority);
                    let ranges: Vec<Value> = route.source_cidrs.iter().map(Value::str).collect();
                    let mut rules: Vec<Value> = ranges
                        .chunks(RANGES_PER_RULE)
                        .enumerate()
                        .map(|(k, chunk)| rule(1000 + k as i64, "allow", chunk.to_vec()))
                        .collect();
                    rules.push(rule(DEFAULT_RULE, "deny(403)", vec![Value::str("*")]));
                    let policy = self.policy(d, &part(&suffix), name(&suffix), rules);
                    // A guarded service per side of the group, the route on the live one's.
                    for (side, _) in live.get(tg.as_str()).cloned().unwrap_or_default() {
                        let guarded = format!("{side}-{suffix}");
                        let check = addr("gcp_compute_health_check", &part(tg));
                        self.backend(
                            d,
                            &part(&guarded),
                            name(&guarded),
                            Some(&check),
                            policy.clone(),
                        );
                    }
                    live_backend(tg, &suffix)
                }
                RouteTarget::Deny => {
                    let covered = lb.routes.iter().any(|r| {
                        r.priority < route.priority
                            && !r.source_cidrs.is_empty()
                            && matches!(r.target, RouteTarget::Forward(_))
                            && same_paths(r, route)
                    });
                    if covered {
                        continue; // the guarded route's policy answers the others 403
                    }
                    if deny_backend.is_none() {
                        let rules = vec![rule(DEFAULT_RULE, "deny(403)", vec![Value::str("*")])];
                        let policy = self.policy(d, &part("deny"), name("deny"), rules);
                        let b = self.backend(d, &part("deny"), name("deny"), None, policy);
                        deny_backend = Some(Value::reference(b, "self_link"));
                    }
                    deny_backend.clone()
                }
            };
            let Some(service) = service else {
                continue; // a target that is no group of the balancer: core's error
            };
            routes.push(map([
                ("priority", Value::Int(route.priority.into())),
                (
                    "paths",
                    Value::List(route.path_patterns.iter().map(Value::str).collect()),
                ),
                ("service", service),
            ]));
        }
        let default = lb
            .default_target
            .as_deref()
            .or(lb.target_groups.first().map(|t| t.name.as_str()))
            .and_then(|t| live_backend(t, ""));
        let Some(default) = default else {
            return self.err(
                d,
                "target_groups",
                "on gcp a load balancer needs a target group: its URL map's default service",
            );
        };
        let url_map = self.push_as(
            d,
            "gcp_compute_url_map",
            &d.name,
            Attrs::from([
                ("name".into(), name("")),
                ("description".into(), describe.clone()),
                ("default_service".into(), default),
                ("https_redirect".into(), Value::Bool(false)),
                ("routes".into(), Value::List(routes)),
            ]),
        );
        self.export(d, "id", Value::reference(&url_map, "id"));
        self.export(d, "address", Value::reference(&address, "address"));

        let certificate = match &https.certificate {
            Certificate::Managed(domains) => {
                // Compute changes no certificate: new domains are a new one, made before
                // the proxy moves to it and the old goes, so its name follows its domains.
                let mut sorted = domains.clone();
                sorted.sort();
                let digest = cairn_provider_kit::names::digest(&sorted.join(","));
                let c = self.push_as(
                    d,
                    "gcp_compute_ssl_certificate",
                    &d.name,
                    Attrs::from([
                        ("name".into(), name(&digest[..6])),
                        ("type".into(), Value::str("MANAGED")),
                        (
                            "domains".into(),
                            Value::List(domains.iter().map(Value::str).collect()),
                        ),
                    ]),
                );
                Value::reference(c, "self_link")
            }
            Certificate::Existing(r) => match self.certificate_link(r) {
                Some(link) => {
                    // Read when the plan reads the cloud: a certificate Compute does not
                    // hold is refused there, not by the proxy's insert.
                    self.out.existing.push(ExistingRef {
                        resource: d.address(),
                        field: "https.certificate".into(),
                        type_name: crate::lb::frontend::existing::CERTIFICATE.into(),
                        id: link.as_str().into(),
                        what: "Compute SSL certificate".into(),
                    });
                    Value::str(link)
                }
                None => {
                    return self.err(
                        d,
                        "https.certificate",
                        format!(
                            "{r:?} is not a Compute SSL certificate; on gcp an existing \
                             certificate is given by its name or as \
                             projects/PROJECT/global/sslCertificates/NAME"
                        ),
                    )
                }
            },
        };
        let proxy = self.push_as(
            d,
            "gcp_compute_target_https_proxy",
            &d.name,
            Attrs::from([
                ("name".into(), name("")),
                ("url_map".into(), Value::reference(&url_map, "self_link")),
                ("ssl_certificates".into(), Value::List(vec![certificate])),
            ]),
        );
        self.listener(d, &part("https"), name("https"), &proxy, &address, 443);
        if lb.http_redirect {
            let redirect = self.push_as(
                d,
                "gcp_compute_url_map",
                &part("redirect"),
                Attrs::from([
                    ("name".into(), name("redirect")),
                    ("description".into(), describe),
                    ("default_service".into(), Value::str("")),
                    ("https_redirect".into(), Value::Bool(true)),
                    ("routes".into(), Value::List(Vec::new())),
                ]),
            );
            let proxy = self.push_as(
                d,
                "gcp_compute_target_http_proxy",
                &d.name,
                Attrs::from([
                    ("name".into(), name("")),
                    ("url_map".into(), Value::reference(&redirect, "self_link")),
                ]),
            );
            self.listener(d, &part("http"), name("http"), &proxy, &address, 80);
        }
    }

    /// A backend service of the balancer (`EXTERNAL_MANAGED`), checked by `check` (a health
    /// check's address) and guarded by `policy` (a security policy's link, or empty).
    fn backend(
        &mut self,
        d: &Declared,
        part: &str,
        name: Value,
        check: Option<&String>,
        policy: Value,
    ) -> String {
        let checks = check
            .map(|c| vec![Value::reference(c, "self_link")])
            .unwrap_or_default();
        self.push_as(
            d,
            "gcp_compute_backend_service",
            part,
            Attrs::from([
                ("name".into(), name),
                (
                    "load_balancing_scheme".into(),
                    Value::str("EXTERNAL_MANAGED"),
                ),
                ("protocol".into(), Value::str("HTTP")),
                ("port_name".into(), Value::str("http")),
                ("timeout_sec".into(), Value::Int(30)),
                ("health_checks".into(), Value::List(checks)),
                ("security_policy".into(), policy),
                (
                    "description".into(),
                    Value::str(format!("cairn: {}", d.address())),
                ),
            ]),
        )
    }

    /// A Cloud Armor policy; its link.
    fn policy(&mut self, d: &Declared, part: &str, name: Value, rules: Vec<Value>) -> Value {
        let p = self.push_as(
            d,
            "gcp_compute_security_policy",
            part,
            Attrs::from([
                ("name".into(), name),
                (
                    "description".into(),
                    Value::str(format!("cairn: clients of {}", d.address())),
                ),
                ("rules".into(), Value::List(rules)),
            ]),
        );
        Value::reference(p, "self_link")
    }

    /// A forwarding rule: the balancer's address on `port`, to `proxy`.
    fn listener(
        &mut self,
        d: &Declared,
        part: &str,
        name: Value,
        proxy: &str,
        address: &str,
        port: u32,
    ) {
        self.push_as(
            d,
            "gcp_compute_global_forwarding_rule",
            part,
            Attrs::from([
                ("name".into(), name),
                ("target".into(), Value::reference(proxy, "self_link")),
                ("ip_address".into(), Value::reference(address, "address")),
                ("port_range".into(), Value::str(format!("{port}-{port}"))),
                (
                    "load_balancing_scheme".into(),
                    Value::str("EXTERNAL_MANAGED"),
                ),
            ]),
        );
    }

    /// An existing certificate's URL, from its name or its project path.
    fn certificate_link(&self, reference: &str) -> Option<String> {
        let (project, name) = match reference.strip_prefix("projects/") {
            Some(rest) => match rest.split('/').collect::<Vec<_>>()[..] {
                [p, "global", "sslCertificates", n] => (p.to_string(), n),
                _ => return None,
            },
            None => (self.project.to_string(), reference),
        };
        let valid = name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && !name.ends_with('-')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        valid.then(|| format!("{COMPUTE}/projects/{project}/global/sslCertificates/{name}"))
    }
}
