//! Standard Load Balancer: a portable balancer with TCP listeners on Azure (layer 4).
//!
//! One public frontend (a static Standard public IP), a backend pool per target group (two
//! for a blue/green one), a probe per group (HTTP on its path when it has one, else TCP)
//! and a load-balancing rule per listener towards the live pool. Clients' addresses reach
//! the backends as they are (no proxy), so the access edges from the balancer admit the
//! internet; the probes come from `AzureLoadBalancer`, which Azure's default rules admit.
//! Outbound SNAT through the rules is off: egress is the subnets' NAT gateways' job.
//!
//! Like a gateway, the balancer is one resource whose parts refer to each other by id, and
//! is written whole from its flat attributes on every PUT.

use crate::arm::{self, s, str_list, strings};
use crate::client::network::LoadBalancer;
use crate::gateway::{common, field, int, items, map, maps, part_name};
use crate::tagged::{At, Tagged};
use crate::Ctx;
use cairn_core::provider::ProviderError;
use cairn_core::value::{Attrs, Value};
use serde_json::{json, Value as Json};

/// The ARM id of the balancer declared by `a` (its parts refer to each other through it).
fn balancer_id(a: &Attrs) -> String {
    let ip = s(a, "public_ip_id");
    let subscription = ip.split('/').nth(2).unwrap_or_default();
    format!(
        "/subscriptions/{subscription}/resourceGroups/{}/providers/Microsoft.Network/loadBalancers/{}",
        s(a, "resource_group"),
        s(a, "name")
    )
}

impl Tagged for LoadBalancer {
    const WHAT: &'static str = "load balancer";

    microsoft_network!(load_balancers_client);

    fn attrs(&self, at: &At) -> Attrs {
        let v = arm::json_of(self);
        let p = &v["properties"];
        let mut a = common(&v, at);
        a.insert("sku".into(), Value::str(arm::jstr(&v, &["sku", "name"])));
        a.insert(
            "public_ip_id".into(),
            Value::str(
                items(p, "frontendIPConfigurations")
                    .next()
                    .map(|f| arm::jstr(f, &["properties", "publicIPAddress", "id"]))
                    .unwrap_or_default(),
            ),
        );
        let mut pools: Vec<String> = items(p, "backendAddressPools")
            .map(|x| arm::jstr(x, &["name"]).to_string())
            .collect();
        pools.sort();
        a.insert("pools".into(), str_list(pools));
        let n = |v: &Json| v.as_i64().map(Value::Int).unwrap_or(Value::Null);
        let probes = items(p, "probes")
            .map(|x| {
                let q = &x["properties"];
                map([
                    ("name", Value::str(arm::jstr(x, &["name"]))),
                    ("protocol", Value::str(arm::jstr(q, &["protocol"]))),
                    ("port", n(&q["port"])),
                    ("path", Value::str(arm::jstr(q, &["requestPath"]))),
                    ("interval_s", n(&q["intervalInSeconds"])),
                    ("threshold", n(&q["probeThreshold"])),
                ])
            })
            .collect();
        a.insert("probes".into(), Value::List(probes));
        let rules = items(p, "loadBalancingRules")
            .map(|x| {
                let q = &x["properties"];
                map([
                    ("name", Value::str(arm::jstr(x, &["name"]))),
                    ("frontend_port", n(&q["frontendPort"])),
                    ("backend_port", n(&q["backendPort"])),
                    (
                        "pool",
                        Value::str(part_name(q, &["backendAddressPool", "id"])),
                    ),
                    ("probe", Value::str(part_name(q, &["probe", "id"]))),
                ])
            })
            .collect();
        a.insert("rules".into(), Value::List(rules));
        a
    }

    fn body(address: &str, a: &Attrs, tags: serde_json::Value) -> Result<Self, ProviderError> {
        let me = balancer_id(a);
        let part = |kind: &str, name: &str| json!({ "id": format!("{me}/{kind}/{name}") });
        let probes: Vec<Json> = maps(a, "probes")
            .into_iter()
            .map(|m| {
                let mut props = json!({
                    "protocol": field(m, "protocol"),
                    "port": int(m, "port"),
                    "intervalInSeconds": int(m, "interval_s"),
                    "probeThreshold": int(m, "threshold"),
                });
                if field(m, "protocol") == "Http" {
                    props["requestPath"] = json!(field(m, "path"));
                }
                json!({"name": field(m, "name"), "properties": props})
            })
            .collect();
        let rules: Vec<Json> = maps(a, "rules")
            .into_iter()
            .map(|m| {
                json!({
                    "name": field(m, "name"),
                    "properties": {
                        "frontendIPConfiguration": part("frontendIPConfigurations", "public"),
                        "backendAddressPool": part("backendAddressPools", field(m, "pool")),
                        "probe": part("probes", field(m, "probe")),
                        "protocol": "Tcp",
                        "frontendPort": int(m, "frontend_port"),
                        "backendPort": int(m, "backend_port"),
                        "enableFloatingIP": false,
                        "idleTimeoutInMinutes": 4,
                        "disableOutboundSnat": true,
                        "loadDistribution": "Default",
                    },
                })
            })
            .collect();
        let pools: Vec<Json> = strings(a, "pools")
            .into_iter()
            .map(|name| json!({"name": name}))
            .collect();
        arm::model(
            address,
            json!({
                "location": s(a, "location"),
                "tags": tags,
                "sku": {"name": s(a, "sku"), "tier": "Regional"},
                "properties": {
                    "frontendIPConfigurations": [
                        {"name": "public", "properties": {"publicIPAddress": {"id": s(a, "public_ip_id")}}}
                    ],
                    "backendAddressPools": pools,
                    "probes": probes,
                    "loadBalancingRules": rules,
                },
            }),
        )
    }
}
