//! Private endpoints and their DNS zone groups: how a cache or a broker with public access
//! off is reached from the stack's network (an address in one of its subnets, named in a
//! `privatelink.*` private DNS zone linked to the network).
//!
//! An endpoint carries tags and follows the life in `tagged.rs` (a Microsoft.Network type).
//! Its zone group is inside it and carries none: one found under its name on the stack's
//! endpoint is adopted when it names the declared zone.

use crate::arm::{self, s, str_list};
use crate::client::network::{PrivateDnsZoneGroup, PrivateEndpoint};
use crate::tagged::{At, Tagged};
use crate::Ctx;
use cairn_core::provider::ProviderError;
use cairn_core::value::{Attrs, Value};
use serde_json::json;

impl Tagged for PrivateEndpoint {
    const WHAT: &'static str = "private endpoint";

    microsoft_network!(private_endpoints_client);

    fn attrs(&self, at: &At) -> Attrs {
        let v = arm::json_of(self);
        let p = &v["properties"];
        let connection = &p["privateLinkServiceConnections"][0]["properties"];
        Attrs::from([
            ("id".into(), Value::str(self.id().unwrap_or_default())),
            ("name".into(), Value::str(self.name().unwrap_or_default())),
            ("resource_group".into(), Value::str(&at.group)),
            (
                "location".into(),
                Value::str(self.resource.location.clone().unwrap_or_default()),
            ),
            ("tags".into(), arm::user_tags(self.tags())),
            (
                "subnet_id".into(),
                Value::str(arm::jstr(p, &["subnet", "id"])),
            ),
            (
                "target_id".into(),
                Value::str(arm::jstr(connection, &["privateLinkServiceId"])),
            ),
            (
                "group_ids".into(),
                str_list(
                    connection["groupIds"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|g| g.as_str()),
                ),
            ),
            (
                "private_ip".into(),
                Value::str(arm::jstr(&p["customDnsConfigs"][0], &["ipAddresses", "0"])),
            ),
        ])
    }

    fn body(address: &str, a: &Attrs, tags: serde_json::Value) -> Result<Self, ProviderError> {
        arm::model(
            address,
            json!({
                "location": s(a, "location"),
                "tags": tags,
                "properties": {
                    "subnet": {"id": s(a, "subnet_id")},
                    "privateLinkServiceConnections": [{
                        "name": s(a, "name"),
                        "properties": {
                            "privateLinkServiceId": s(a, "target_id"),
                            "groupIds": arm::strings(a, "group_ids"),
                        },
                    }],
                },
            }),
        )
    }
}

impl Tagged for PrivateDnsZoneGroup {
    const WHAT: &'static str = "private DNS zone group";
    const PARENT: Option<&'static str> = Some("private_endpoint_id");
    type Body = Self;

    fn id(&self) -> Option<&str> {
        self.sub_resource.id.as_deref()
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn tags(&self) -> Option<&serde_json::Value> {
        None
    }
    fn state(&self) -> Option<String> {
        self.properties
            .as_ref()
            .and_then(|p| crate::network::state_name(&p.provisioning_state))
    }

    fn attrs(&self, _at: &At) -> Attrs {
        let id = self.id().unwrap_or_default();
        let zones = self
            .properties
            .as_ref()
            .map(|p| {
                p.private_dns_zone_configs
                    .iter()
                    .filter_map(|c| c.properties.as_ref()?.private_dns_zone_id.clone())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        Attrs::from([
            ("id".into(), Value::str(id)),
            ("name".into(), Value::str(self.name().unwrap_or_default())),
            (
                "private_endpoint_id".into(),
                Value::str(id.rsplitn(3, '/').nth(2).unwrap_or_default()),
            ),
            ("private_dns_zone_ids".into(), str_list(zones)),
        ])
    }

    fn body(address: &str, a: &Attrs, _tags: serde_json::Value) -> Result<Self, ProviderError> {
        let configs: Vec<serde_json::Value> = arm::strings(a, "private_dns_zone_ids")
            .into_iter()
            .map(|z| json!({"name": arm::last(&z).replace('.', "-"), "properties": {"privateDnsZoneId": z}}))
            .collect();
        arm::model(
            address,
            json!({"name": s(a, "name"), "properties": {"privateDnsZoneConfigs": configs}}),
        )
    }

    async fn list(ctx: &Ctx, at: &At) -> azure_core::Result<Vec<Self>> {
        let pages = ctx
            .c
            .network
            .private_dns_zone_groups_client()
            .list(&at.parent, &at.group, &ctx.subscription)
            .into_stream();
        crate::tagged::all(pages, |p| p.value).await
    }

    async fn get(ctx: &Ctx, at: &At, name: &str) -> azure_core::Result<Self> {
        ctx.c
            .network
            .private_dns_zone_groups_client()
            .get(&at.group, &at.parent, name, &ctx.subscription)
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
            .private_dns_zone_groups_client()
            .create_or_update(&at.group, &at.parent, name, body, &ctx.subscription))
    }

    async fn delete(
        ctx: &Ctx,
        at: &At,
        name: &str,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx.c.network.private_dns_zone_groups_client().delete(
            &at.group,
            &at.parent,
            name,
            &ctx.subscription
        ))
    }
}
