//! Private DNS zones and their links to virtual networks: how a server reached only through
//! its network (a PostgreSQL flexible server in a delegated subnet) gets a name there.
//!
//! Both carry tags and live in the stack's resource group, at location `global`; a link is
//! inside its zone (`privateDnsZones/{zone}/virtualNetworkLinks/{name}`), so it is listed
//! per zone.

use crate::arm::{self, s};
use crate::client::dns::{PrivateZone, VirtualNetworkLink};
use crate::tagged::{At, Tagged};
use crate::Ctx;
use cairn_core::provider::ProviderError;
use cairn_core::value::{Attrs, Value};
use serde_json::json;

/// What a zone and a link record alike.
fn common(x: &crate::client::dns::TrackedResource, group: &str) -> Attrs {
    Attrs::from([
        (
            "id".into(),
            Value::str(x.resource.id.clone().unwrap_or_default()),
        ),
        (
            "name".into(),
            Value::str(x.resource.name.clone().unwrap_or_default()),
        ),
        ("resource_group".into(), Value::str(group)),
        ("tags".into(), arm::user_tags(x.tags.as_ref())),
    ])
}

impl Tagged for PrivateZone {
    const WHAT: &'static str = "private DNS zone";
    type Body = Self;

    fn id(&self) -> Option<&str> {
        self.tracked_resource.resource.id.as_deref()
    }
    fn name(&self) -> Option<&str> {
        self.tracked_resource.resource.name.as_deref()
    }
    fn tags(&self) -> Option<&serde_json::Value> {
        self.tracked_resource.tags.as_ref()
    }
    fn state(&self) -> Option<String> {
        self.properties
            .as_ref()
            .map(|p| arm::wire(&p.provisioning_state))
    }

    fn attrs(&self, at: &At) -> Attrs {
        common(&self.tracked_resource, &at.group)
    }

    fn body(address: &str, _a: &Attrs, tags: serde_json::Value) -> Result<Self, ProviderError> {
        arm::model(address, json!({"location": "global", "tags": tags}))
    }

    async fn list(ctx: &Ctx, at: &At) -> azure_core::Result<Vec<Self>> {
        let pages = ctx
            .c
            .dns
            .private_zones_client()
            .list_by_resource_group(&at.group, &ctx.subscription)
            .into_stream();
        crate::tagged::all(pages, |p| p.value).await
    }

    async fn get(ctx: &Ctx, at: &At, name: &str) -> azure_core::Result<Self> {
        ctx.c
            .dns
            .private_zones_client()
            .get(&at.group, name, &ctx.subscription)
            .await
    }

    async fn put(
        ctx: &Ctx,
        at: &At,
        name: &str,
        body: Self,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx.c.dns.private_zones_client().create_or_update(
            &at.group,
            name,
            body,
            &ctx.subscription
        ))
    }

    async fn delete(
        ctx: &Ctx,
        at: &At,
        name: &str,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx
            .c
            .dns
            .private_zones_client()
            .delete(&at.group, name, &ctx.subscription))
    }
}

impl Tagged for VirtualNetworkLink {
    const WHAT: &'static str = "private DNS zone link";
    const PARENT: Option<&'static str> = Some("private_dns_zone_id");
    type Body = Self;

    fn id(&self) -> Option<&str> {
        self.tracked_resource.resource.id.as_deref()
    }
    fn name(&self) -> Option<&str> {
        self.tracked_resource.resource.name.as_deref()
    }
    fn tags(&self) -> Option<&serde_json::Value> {
        self.tracked_resource.tags.as_ref()
    }
    fn state(&self) -> Option<String> {
        self.properties
            .as_ref()
            .map(|p| arm::wire(&p.provisioning_state))
    }

    fn attrs(&self, at: &At) -> Attrs {
        let mut a = common(&self.tracked_resource, &at.group);
        a.remove("resource_group");
        let id = self.id().unwrap_or_default();
        let zone = id
            .rsplit_once("/virtualNetworkLinks/")
            .map(|(z, _)| z)
            .unwrap_or_default();
        a.insert("private_dns_zone_id".into(), Value::str(zone));
        let props = self.properties.as_ref();
        a.insert(
            "virtual_network_id".into(),
            Value::str(
                props
                    .and_then(|p| p.virtual_network.as_ref())
                    .and_then(|n| n.id.clone())
                    .unwrap_or_default(),
            ),
        );
        a.insert(
            "registration_enabled".into(),
            Value::Bool(props.and_then(|p| p.registration_enabled).unwrap_or(false)),
        );
        a
    }

    fn body(address: &str, a: &Attrs, tags: serde_json::Value) -> Result<Self, ProviderError> {
        arm::model(
            address,
            json!({
                "location": "global",
                "tags": tags,
                "properties": {
                    "virtualNetwork": {"id": s(a, "virtual_network_id")},
                    "registrationEnabled": a.get("registration_enabled").and_then(Value::as_bool).unwrap_or(false),
                },
            }),
        )
    }

    async fn list(ctx: &Ctx, at: &At) -> azure_core::Result<Vec<Self>> {
        let pages = ctx
            .c
            .dns
            .virtual_network_links_client()
            .list(&at.group, &at.parent, &ctx.subscription)
            .into_stream();
        crate::tagged::all(pages, |p| p.value).await
    }

    async fn get(ctx: &Ctx, at: &At, name: &str) -> azure_core::Result<Self> {
        ctx.c
            .dns
            .virtual_network_links_client()
            .get(&at.group, &at.parent, name, &ctx.subscription)
            .await
    }

    async fn put(
        ctx: &Ctx,
        at: &At,
        name: &str,
        body: Self,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx.c.dns.virtual_network_links_client().create_or_update(
            &at.group,
            &at.parent,
            name,
            body,
            &ctx.subscription
        ))
    }

    async fn delete(
        ctx: &Ctx,
        at: &At,
        name: &str,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx.c.dns.virtual_network_links_client().delete(
            &at.group,
            &at.parent,
            name,
            &ctx.subscription
        ))
    }
}
