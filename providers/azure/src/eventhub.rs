//! Event Hubs: a namespace (the Kafka endpoint, `{name}.servicebus.windows.net:9093`), an
//! event hub per topic, and a namespace authorization rule whose connection string is a
//! broker's produced credentials.
//!
//! The namespace carries tags and follows the life in `tagged.rs`. Event hubs and rules are
//! inside it and carry none: one found under its name in the stack's namespace is adopted
//! when it is what was declared. A rule's keys are not part of it: a read (and a create)
//! asks `listKeys` for its primary connection string.

use crate::arm::{self, s};
use crate::client::eventhub::{AuthorizationRule, EhNamespace, Eventhub};
use crate::tagged::{At, Tagged};
use crate::Ctx;
use cairn_core::provider::ProviderError;
use cairn_core::value::{Attrs, Sensitive, Value};
use serde_json::json;

/// The namespace a child's id is inside (`.../namespaces/{n}/eventhubs/{h}`).
fn namespace_of(id: &str) -> &str {
    id.rsplitn(3, '/').nth(2).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// azure_eventhub_namespace

impl Tagged for EhNamespace {
    const WHAT: &'static str = "Event Hubs namespace";
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
            .and_then(|p| p.provisioning_state.clone())
    }

    fn attrs(&self, at: &At) -> Attrs {
        let v = arm::json_of(self);
        let p = &v["properties"];
        let name = self.name().unwrap_or_default();
        Attrs::from([
            ("id".into(), Value::str(self.id().unwrap_or_default())),
            ("name".into(), Value::str(name)),
            ("resource_group".into(), Value::str(&at.group)),
            (
                "location".into(),
                Value::str(self.tracked_resource.location.clone().unwrap_or_default()),
            ),
            ("tags".into(), arm::user_tags(self.tags())),
            ("sku".into(), Value::str(arm::jstr(&v, &["sku", "name"]))),
            (
                "capacity".into(),
                v["sku"]["capacity"]
                    .as_i64()
                    .map(Value::Int)
                    .unwrap_or(Value::Null),
            ),
            (
                "minimum_tls_version".into(),
                Value::str(arm::jstr(p, &["minimumTlsVersion"])),
            ),
            (
                "public_network_access".into(),
                Value::str(arm::jstr(p, &["publicNetworkAccess"])),
            ),
            (
                "kafka_enabled".into(),
                Value::Bool(p["kafkaEnabled"].as_bool().unwrap_or(false)),
            ),
            // Kafka clients speak to the namespace's host on 9093 (Azure's documentation).
            (
                "bootstrap_brokers".into(),
                Value::str(format!("{name}.servicebus.windows.net:9093")),
            ),
        ])
    }

    fn body(address: &str, a: &Attrs, tags: serde_json::Value) -> Result<Self, ProviderError> {
        arm::model(
            address,
            json!({
                "location": s(a, "location"),
                "tags": tags,
                "sku": {
                    "name": s(a, "sku"),
                    "tier": s(a, "sku"),
                    "capacity": a.get("capacity").and_then(Value::as_int).unwrap_or(1),
                },
                "properties": {
                    "minimumTlsVersion": s(a, "minimum_tls_version"),
                    "publicNetworkAccess": s(a, "public_network_access"),
                    "kafkaEnabled": true,
                    "isAutoInflateEnabled": false,
                },
            }),
        )
    }

    async fn list(ctx: &Ctx, at: &At) -> azure_core::Result<Vec<Self>> {
        let pages = ctx
            .c
            .eventhub
            .namespaces_client()
            .list_by_resource_group(&at.group, &ctx.subscription)
            .into_stream();
        crate::tagged::all(pages, |p| p.value).await
    }

    async fn get(ctx: &Ctx, at: &At, name: &str) -> azure_core::Result<Self> {
        ctx.c
            .eventhub
            .namespaces_client()
            .get(&at.group, name, &ctx.subscription)
            .await
    }

    async fn put(
        ctx: &Ctx,
        at: &At,
        name: &str,
        body: Self,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx.c.eventhub.namespaces_client().create_or_update(
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
            .eventhub
            .namespaces_client()
            .delete(&at.group, name, &ctx.subscription))
    }
}

// ---------------------------------------------------------------------------------------
// azure_eventhub

impl Tagged for Eventhub {
    const WHAT: &'static str = "event hub";
    const PARENT: Option<&'static str> = Some("namespace_id");
    type Body = Self;

    fn id(&self) -> Option<&str> {
        self.proxy_resource.id.as_deref()
    }
    fn name(&self) -> Option<&str> {
        self.proxy_resource.name.as_deref()
    }
    fn tags(&self) -> Option<&serde_json::Value> {
        None
    }
    fn state(&self) -> Option<String> {
        Some("Succeeded".into())
    }

    fn attrs(&self, _at: &At) -> Attrs {
        let v = arm::json_of(self);
        let p = &v["properties"];
        let id = self.id().unwrap_or_default();
        Attrs::from([
            ("id".into(), Value::str(id)),
            ("name".into(), Value::str(self.name().unwrap_or_default())),
            ("namespace_id".into(), Value::str(namespace_of(id))),
            (
                "partition_count".into(),
                Value::Int(p["partitionCount"].as_i64().unwrap_or_default()),
            ),
            (
                "retention_hours".into(),
                Value::Int(
                    p["retentionDescription"]["retentionTimeInHours"]
                        .as_i64()
                        .unwrap_or_default(),
                ),
            ),
            (
                "cleanup_policy".into(),
                Value::str(arm::jstr(p, &["retentionDescription", "cleanupPolicy"])),
            ),
        ])
    }

    fn body(address: &str, a: &Attrs, _tags: serde_json::Value) -> Result<Self, ProviderError> {
        arm::model(
            address,
            json!({"properties": {
                "partitionCount": a.get("partition_count").and_then(Value::as_int).unwrap_or(1),
                "retentionDescription": {
                    "cleanupPolicy": s(a, "cleanup_policy"),
                    "retentionTimeInHours": a.get("retention_hours").and_then(Value::as_int).unwrap_or(168),
                },
            }}),
        )
    }

    async fn list(ctx: &Ctx, at: &At) -> azure_core::Result<Vec<Self>> {
        let pages = ctx
            .c
            .eventhub
            .event_hubs_client()
            .list_by_namespace(&at.group, &at.parent, &ctx.subscription)
            .into_stream();
        crate::tagged::all(pages, |p| p.value).await
    }

    async fn get(ctx: &Ctx, at: &At, name: &str) -> azure_core::Result<Self> {
        ctx.c
            .eventhub
            .event_hubs_client()
            .get(&at.group, &at.parent, name, &ctx.subscription)
            .await
    }

    async fn put(
        ctx: &Ctx,
        at: &At,
        name: &str,
        body: Self,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx.c.eventhub.event_hubs_client().create_or_update(
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
        headers!(ctx.c.eventhub.event_hubs_client().delete(
            &at.group,
            &at.parent,
            name,
            &ctx.subscription
        ))
    }
}

// ---------------------------------------------------------------------------------------
// azure_eventhub_authorization_rule

impl Tagged for AuthorizationRule {
    const WHAT: &'static str = "Event Hubs authorization rule";
    const PARENT: Option<&'static str> = Some("namespace_id");
    type Body = Self;

    fn id(&self) -> Option<&str> {
        self.proxy_resource.id.as_deref()
    }
    fn name(&self) -> Option<&str> {
        self.proxy_resource.name.as_deref()
    }
    fn tags(&self) -> Option<&serde_json::Value> {
        None
    }
    fn state(&self) -> Option<String> {
        Some("Succeeded".into())
    }

    fn attrs(&self, _at: &At) -> Attrs {
        let id = self.id().unwrap_or_default();
        let mut rights = self
            .properties
            .as_ref()
            .map(|p| p.rights.clone())
            .unwrap_or_default();
        rights.sort();
        Attrs::from([
            ("id".into(), Value::str(id)),
            ("name".into(), Value::str(self.name().unwrap_or_default())),
            ("namespace_id".into(), Value::str(namespace_of(id))),
            ("rights".into(), arm::str_list(rights)),
        ])
    }

    fn body(address: &str, a: &Attrs, _tags: serde_json::Value) -> Result<Self, ProviderError> {
        arm::model(
            address,
            json!({"properties": {"rights": arm::strings(a, "rights")}}),
        )
    }

    async fn list(ctx: &Ctx, at: &At) -> azure_core::Result<Vec<Self>> {
        let pages = ctx
            .c
            .eventhub
            .namespaces_client()
            .list_authorization_rules(&at.group, &at.parent, &ctx.subscription)
            .into_stream();
        crate::tagged::all(pages, |p| p.value).await
    }

    async fn get(ctx: &Ctx, at: &At, name: &str) -> azure_core::Result<Self> {
        ctx.c
            .eventhub
            .namespaces_client()
            .get_authorization_rule(&at.group, &at.parent, name, &ctx.subscription)
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
            .eventhub
            .namespaces_client()
            .create_or_update_authorization_rule(
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
        headers!(ctx
            .c
            .eventhub
            .namespaces_client()
            .delete_authorization_rule(&at.group, &at.parent, name, &ctx.subscription))
    }

    /// The primary connection string (`listKeys`).
    async fn enrich(ctx: &Ctx, at: &At, attrs: &mut Attrs) -> azure_core::Result<()> {
        let keys = ctx
            .c
            .eventhub
            .namespaces_client()
            .list_keys(&at.group, &at.parent, s(attrs, "name"), &ctx.subscription)
            .await?;
        if let Some(conn) = keys.primary_connection_string {
            attrs.insert(
                "primary_connection_string".into(),
                Value::Sensitive(Sensitive::new(conn)),
            );
        }
        Ok(())
    }
}
