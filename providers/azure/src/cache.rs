//! Azure Cache for Redis.
//!
//! A cache carries tags and follows the life in `tagged.rs`; it changes by PATCH
//! (`Redis_Update`: a PUT is the create). Its access key is not part of the resource: a
//! read (and a create) asks `listKeys` for it, so a key regenerated outside cairn is drift
//! and the secret that keeps it follows. Azure answers the version it runs (`6.0.14`); the
//! major version is what is recorded, as it is what was asked.

use crate::arm::{self, s};
use crate::client::redis::{RedisCreateParameters, RedisResource, RedisUpdateParameters};
use crate::tagged::{At, Tagged};
use crate::Ctx;
use cairn_core::provider::ProviderError;
use cairn_core::value::{Attrs, Sensitive, Value};
use serde_json::json;

impl Tagged for RedisResource {
    const WHAT: &'static str = "Redis cache";
    type Body = RedisCreateParameters;

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
        Some(arm::wire(&self.properties.provisioning_state))
    }

    fn attrs(&self, at: &At) -> Attrs {
        let v = arm::json_of(self);
        let p = &v["properties"];
        let mut zones: Vec<String> = self.zones.clone();
        zones.sort();
        let int = |x: &serde_json::Value| x.as_i64().map(Value::Int).unwrap_or(Value::Null);
        Attrs::from([
            ("id".into(), Value::str(self.id().unwrap_or_default())),
            ("name".into(), Value::str(self.name().unwrap_or_default())),
            ("resource_group".into(), Value::str(&at.group)),
            (
                "location".into(),
                Value::str(&self.tracked_resource.location),
            ),
            ("tags".into(), arm::user_tags(self.tags())),
            (
                "sku_name".into(),
                Value::str(arm::jstr(p, &["sku", "name"])),
            ),
            (
                "sku_family".into(),
                Value::str(arm::jstr(p, &["sku", "family"])),
            ),
            ("sku_capacity".into(), int(&p["sku"]["capacity"])),
            (
                "redis_version".into(),
                Value::str(
                    arm::jstr(p, &["redisVersion"])
                        .split('.')
                        .next()
                        .unwrap_or_default(),
                ),
            ),
            (
                "enable_non_ssl_port".into(),
                Value::Bool(p["enableNonSslPort"].as_bool().unwrap_or(false)),
            ),
            (
                "minimum_tls_version".into(),
                Value::str(arm::jstr(p, &["minimumTlsVersion"])),
            ),
            ("replicas_per_primary".into(), int(&p["replicasPerPrimary"])),
            (
                "public_network_access".into(),
                Value::str(arm::jstr(p, &["publicNetworkAccess"])),
            ),
            ("zones".into(), arm::str_list(zones)),
            ("hostname".into(), Value::str(arm::jstr(p, &["hostName"]))),
            ("ssl_port".into(), int(&p["sslPort"])),
        ])
    }

    fn body(
        address: &str,
        a: &Attrs,
        tags: serde_json::Value,
    ) -> Result<RedisCreateParameters, ProviderError> {
        let mut props = json!({
            "sku": {
                "name": s(a, "sku_name"),
                "family": s(a, "sku_family"),
                "capacity": a.get("sku_capacity").and_then(Value::as_int).unwrap_or(1),
            },
            "redisVersion": s(a, "redis_version"),
            "enableNonSslPort": a.get("enable_non_ssl_port").and_then(Value::as_bool).unwrap_or(false),
            "minimumTlsVersion": s(a, "minimum_tls_version"),
            "publicNetworkAccess": s(a, "public_network_access"),
        });
        if let Some(n) = a.get("replicas_per_primary").and_then(Value::as_int) {
            props["replicasPerPrimary"] = json!(n);
        }
        arm::model(
            address,
            json!({
                "location": s(a, "location"),
                "tags": tags,
                "zones": arm::strings(a, "zones"),
                "properties": props,
            }),
        )
    }

    async fn list(ctx: &Ctx, at: &At) -> azure_core::Result<Vec<Self>> {
        let pages = ctx
            .c
            .redis
            .redis_client()
            .list_by_resource_group(&at.group, &ctx.subscription)
            .into_stream();
        crate::tagged::all(pages, |p| p.value).await
    }

    async fn get(ctx: &Ctx, at: &At, name: &str) -> azure_core::Result<Self> {
        ctx.c
            .redis
            .redis_client()
            .get(&at.group, name, &ctx.subscription)
            .await
    }

    async fn put(
        ctx: &Ctx,
        at: &At,
        name: &str,
        body: RedisCreateParameters,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx
            .c
            .redis
            .redis_client()
            .create(&at.group, name, body, &ctx.subscription))
    }

    /// `Redis_Update`: the SKU, TLS and access settings and tags change in place; the
    /// version and zones are fixed at create (their attributes force a replacement).
    async fn patch(
        ctx: &Ctx,
        at: &At,
        name: &str,
        body: RedisCreateParameters,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        let mut common = arm::json_of(&body.properties);
        if let Some(m) = common.as_object_mut() {
            m.remove("redisVersion");
            m.remove("subnetId");
            m.remove("staticIP");
        }
        let update: RedisUpdateParameters =
            serde_json::from_value(json!({"tags": body.tags, "properties": common}))?;
        headers!(ctx
            .c
            .redis
            .redis_client()
            .update(&at.group, name, update, &ctx.subscription))
    }

    async fn delete(
        ctx: &Ctx,
        at: &At,
        name: &str,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx
            .c
            .redis
            .redis_client()
            .delete(&at.group, name, &ctx.subscription))
    }

    /// The primary access key (`listKeys`).
    async fn enrich(ctx: &Ctx, at: &At, attrs: &mut Attrs) -> azure_core::Result<()> {
        let keys = ctx
            .c
            .redis
            .redis_client()
            .list_keys(&at.group, s(attrs, "name"), &ctx.subscription)
            .await?;
        if let Some(key) = keys.primary_key {
            attrs.insert("primary_key".into(), Value::Sensitive(Sensitive::new(key)));
        }
        Ok(())
    }
}
