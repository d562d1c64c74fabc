//! Azure Database for PostgreSQL flexible servers, their databases and their
//! configurations (server parameters).
//!
//! A server carries tags and follows the life in `tagged.rs`, with three differences: its
//! readiness is `properties.state` (`Ready`), not a `provisioningState`; it changes by PATCH
//! (`Servers_Update`; a PUT is the create); and its administrator password is never
//! answered, so the one sent is kept (`WRITE_ONLY`) and sent again only when it changes
//! (core resolves a secret's plaintext only in the run that makes or changes it).
//!
//! Databases and configurations are inside a server and carry no tags. A database found
//! under its name on one of the stack's servers is adopted when its charset and collation
//! are the declared ones. A configuration always exists (every setting of the server has
//! one): "creating" it sets its value, "deleting" it puts the server's default back.

use crate::arm::{self, s};
use crate::client::postgres::{Configuration, Database, Server};
use crate::tagged::{At, Tagged};
use crate::Ctx;
use cairn_core::provider::ProviderError;
use cairn_core::value::{Attrs, Value};
use cairn_provider_kit::adopt::Existing;
use serde_json::json;

/// The server a child's id is inside (`.../flexibleServers/{s}/databases/{d}`).
fn server_of(id: &str) -> &str {
    id.rsplitn(3, '/').nth(2).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// azure_postgresql_flexible_server

impl Tagged for Server {
    const WHAT: &'static str = "PostgreSQL flexible server";
    const WRITE_ONLY: &'static [&'static str] = &["administrator_password"];
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
    /// `Ready` (or stopped by its owner) is a server made; `Dropping` one being deleted.
    fn state(&self) -> Option<String> {
        let state = arm::wire(&self.properties.as_ref()?.state);
        Some(match state.as_str() {
            "Ready" | "Stopped" | "Stopping" | "Starting" | "Updating" => "Succeeded".into(),
            "Dropping" => "Deleting".into(),
            _ => state,
        })
    }

    fn attrs(&self, at: &At) -> Attrs {
        let p = self.properties.clone().unwrap_or_default();
        let storage = p.storage.unwrap_or_default();
        let backup = p.backup.unwrap_or_default();
        let network = p.network.unwrap_or_default();
        let window = p.maintenance_window.unwrap_or_default();
        let custom = window.custom_window.as_deref() == Some("Enabled");
        let (sku_name, sku_tier) = self
            .sku
            .as_ref()
            .map(|k| (k.name.clone(), arm::wire(&Some(k.tier.clone()))))
            .unwrap_or_default();
        let int = |v: Option<i32>| Value::Int(i64::from(v.unwrap_or_default()));
        Attrs::from([
            ("id".into(), Value::str(self.id().unwrap_or_default())),
            ("name".into(), Value::str(self.name().unwrap_or_default())),
            ("resource_group".into(), Value::str(&at.group)),
            (
                "location".into(),
                Value::str(&self.tracked_resource.location),
            ),
            ("tags".into(), arm::user_tags(self.tags())),
            ("version".into(), Value::str(arm::wire(&p.version))),
            ("sku_name".into(), Value::str(sku_name)),
            ("sku_tier".into(), Value::str(sku_tier)),
            ("storage_gb".into(), int(storage.storage_size_gb)),
            ("storage_type".into(), Value::str(arm::wire(&storage.type_))),
            (
                "high_availability".into(),
                Value::str(
                    p.high_availability
                        .map(|h| arm::wire(&h.mode))
                        .unwrap_or_else(|| "Disabled".into()),
                ),
            ),
            (
                "backup_retention_days".into(),
                int(backup.backup_retention_days),
            ),
            (
                "geo_redundant_backup".into(),
                Value::Bool(arm::wire(&backup.geo_redundant_backup) == "Enabled"),
            ),
            (
                "administrator_login".into(),
                Value::str(p.administrator_login.unwrap_or_default()),
            ),
            (
                "delegated_subnet_id".into(),
                Value::str(network.delegated_subnet_resource_id.unwrap_or_default()),
            ),
            (
                "private_dns_zone_id".into(),
                Value::str(network.private_dns_zone_arm_resource_id.unwrap_or_default()),
            ),
            (
                "maintenance_day".into(),
                if custom {
                    int(window.day_of_week)
                } else {
                    Value::Null
                },
            ),
            (
                "maintenance_hour".into(),
                if custom {
                    int(window.start_hour)
                } else {
                    Value::Null
                },
            ),
            (
                "fqdn".into(),
                Value::str(p.fully_qualified_domain_name.unwrap_or_default()),
            ),
        ])
    }

    fn body(address: &str, a: &Attrs, tags: serde_json::Value) -> Result<Self, ProviderError> {
        let mut props = json!({
            "administratorLogin": s(a, "administrator_login"),
            "version": s(a, "version"),
            "storage": {
                "storageSizeGB": a.get("storage_gb").and_then(Value::as_int).unwrap_or(32),
                "type": s(a, "storage_type"),
                "autoGrow": "Disabled",
            },
            "backup": {
                "backupRetentionDays": a.get("backup_retention_days").and_then(Value::as_int).unwrap_or(7),
                "geoRedundantBackup": if a.get("geo_redundant_backup").and_then(Value::as_bool).unwrap_or(false) { "Enabled" } else { "Disabled" },
            },
            "highAvailability": {"mode": s(a, "high_availability")},
            "network": {
                "delegatedSubnetResourceId": s(a, "delegated_subnet_id"),
                "privateDnsZoneArmResourceId": s(a, "private_dns_zone_id"),
                "publicNetworkAccess": "Disabled",
            },
            "maintenanceWindow": maintenance(a),
        });
        if let Some(password) = plaintext(a, "administrator_password") {
            props["administratorLoginPassword"] = json!(password);
        }
        arm::model(
            address,
            json!({
                "location": s(a, "location"),
                "tags": tags,
                "sku": {"name": s(a, "sku_name"), "tier": s(a, "sku_tier")},
                "properties": props,
            }),
        )
    }

    async fn list(ctx: &Ctx, at: &At) -> azure_core::Result<Vec<Self>> {
        let pages = ctx
            .c
            .postgres
            .servers_client()
            .list_by_resource_group(&ctx.subscription, &at.group)
            .into_stream();
        crate::tagged::all(pages, |p| p.value).await
    }

    async fn get(ctx: &Ctx, at: &At, name: &str) -> azure_core::Result<Self> {
        ctx.c
            .postgres
            .servers_client()
            .get(&ctx.subscription, &at.group, name)
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
            .postgres
            .servers_client()
            .create(&ctx.subscription, &at.group, name, body))
    }

    /// `Servers_Update`: what may change in place; the login, version, network and
    /// geo-redundancy are fixed at create (their attributes force a replacement).
    async fn patch(
        ctx: &Ctx,
        at: &At,
        name: &str,
        body: Self,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        let p = body.properties.unwrap_or_default();
        let mut backup = p.backup.unwrap_or_default();
        backup.geo_redundant_backup = None;
        let update = crate::client::postgres::ServerForUpdate {
            sku: body.sku,
            identity: None,
            tags: body.tracked_resource.tags,
            properties: Some(crate::client::postgres::ServerPropertiesForUpdate {
                administrator_login_password: p.administrator_login_password,
                storage: p.storage,
                backup: Some(backup),
                high_availability: p.high_availability,
                maintenance_window: p.maintenance_window,
                ..Default::default()
            }),
        };
        headers!(ctx
            .c
            .postgres
            .servers_client()
            .update(&ctx.subscription, &at.group, name, update))
    }

    async fn delete(
        ctx: &Ctx,
        at: &At,
        name: &str,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx
            .c
            .postgres
            .servers_client()
            .delete(&ctx.subscription, &at.group, name))
    }
}

/// A declared sensitive attribute's plaintext, when this run has it (the run that made or
/// changed it); a digest alone is not sent.
fn plaintext<'a>(a: &'a Attrs, k: &str) -> Option<&'a str> {
    match a.get(k) {
        Some(Value::Sensitive(v)) => v.expose(),
        Some(Value::Str(v)) => Some(v.as_str()),
        _ => None,
    }
}

/// The maintenance window: a custom one when a day is declared (Azure's `dayOfWeek`, 0 is
/// Sunday), else the service's own.
fn maintenance(a: &Attrs) -> serde_json::Value {
    match (
        a.get("maintenance_day").and_then(Value::as_int),
        a.get("maintenance_hour").and_then(Value::as_int),
    ) {
        (Some(day), Some(hour)) => json!({
            "customWindow": "Enabled", "dayOfWeek": day, "startHour": hour, "startMinute": 0,
        }),
        _ => json!({"customWindow": "Disabled"}),
    }
}

// ---------------------------------------------------------------------------------------
// azure_postgresql_database

impl Tagged for Database {
    const WHAT: &'static str = "PostgreSQL database";
    const PARENT: Option<&'static str> = Some("server_id");
    type Body = Self;

    fn id(&self) -> Option<&str> {
        self.proxy_resource.resource.id.as_deref()
    }
    fn name(&self) -> Option<&str> {
        self.proxy_resource.resource.name.as_deref()
    }
    fn tags(&self) -> Option<&serde_json::Value> {
        None
    }
    fn state(&self) -> Option<String> {
        Some("Succeeded".into())
    }

    fn attrs(&self, _at: &At) -> Attrs {
        let p = self.properties.clone().unwrap_or_default();
        Attrs::from([
            ("id".into(), Value::str(self.id().unwrap_or_default())),
            ("name".into(), Value::str(self.name().unwrap_or_default())),
            (
                "server_id".into(),
                Value::str(server_of(self.id().unwrap_or_default())),
            ),
            ("charset".into(), Value::str(p.charset.unwrap_or_default())),
            (
                "collation".into(),
                Value::str(p.collation.unwrap_or_default()),
            ),
        ])
    }

    fn body(address: &str, a: &Attrs, _tags: serde_json::Value) -> Result<Self, ProviderError> {
        arm::model(
            address,
            json!({"properties": {"charset": s(a, "charset"), "collation": s(a, "collation")}}),
        )
    }

    async fn list(ctx: &Ctx, at: &At) -> azure_core::Result<Vec<Self>> {
        let pages = ctx
            .c
            .postgres
            .databases_client()
            .list_by_server(&ctx.subscription, &at.group, &at.parent)
            .into_stream();
        crate::tagged::all(pages, |p| p.value).await
    }

    async fn get(ctx: &Ctx, at: &At, name: &str) -> azure_core::Result<Self> {
        ctx.c
            .postgres
            .databases_client()
            .get(&ctx.subscription, &at.group, &at.parent, name)
            .await
    }

    async fn put(
        ctx: &Ctx,
        at: &At,
        name: &str,
        body: Self,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx.c.postgres.databases_client().create(
            &ctx.subscription,
            &at.group,
            &at.parent,
            name,
            body
        ))
    }

    async fn delete(
        ctx: &Ctx,
        at: &At,
        name: &str,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx.c.postgres.databases_client().delete(
            &ctx.subscription,
            &at.group,
            &at.parent,
            name
        ))
    }
}

// ---------------------------------------------------------------------------------------
// azure_postgresql_configuration

impl Tagged for Configuration {
    const WHAT: &'static str = "PostgreSQL server parameter";
    const PARENT: Option<&'static str> = Some("server_id");
    type Body = Self;

    fn id(&self) -> Option<&str> {
        self.proxy_resource.resource.id.as_deref()
    }
    fn name(&self) -> Option<&str> {
        self.proxy_resource.resource.name.as_deref()
    }
    fn tags(&self) -> Option<&serde_json::Value> {
        None
    }
    fn state(&self) -> Option<String> {
        Some("Succeeded".into())
    }

    fn attrs(&self, _at: &At) -> Attrs {
        let p = self.properties.clone().unwrap_or_default();
        Attrs::from([
            ("id".into(), Value::str(self.id().unwrap_or_default())),
            ("name".into(), Value::str(self.name().unwrap_or_default())),
            (
                "server_id".into(),
                Value::str(server_of(self.id().unwrap_or_default())),
            ),
            ("value".into(), Value::str(p.value.unwrap_or_default())),
        ])
    }

    /// Every setting exists with its server: the stack takes it over on create.
    fn existing(&self, _stack: &str, _address: &str, _declared: &Attrs, _at: &At) -> Existing {
        Existing::Ours
    }

    fn body(address: &str, a: &Attrs, _tags: serde_json::Value) -> Result<Self, ProviderError> {
        arm::model(
            address,
            json!({"properties": {"value": s(a, "value"), "source": "user-override"}}),
        )
    }

    async fn list(ctx: &Ctx, at: &At) -> azure_core::Result<Vec<Self>> {
        let pages = ctx
            .c
            .postgres
            .configurations_client()
            .list_by_server(&ctx.subscription, &at.group, &at.parent)
            .into_stream();
        crate::tagged::all(pages, |p| p.value).await
    }

    async fn get(ctx: &Ctx, at: &At, name: &str) -> azure_core::Result<Self> {
        ctx.c
            .postgres
            .configurations_client()
            .get(&ctx.subscription, &at.group, &at.parent, name)
            .await
    }

    async fn put(
        ctx: &Ctx,
        at: &At,
        name: &str,
        body: Self,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx.c.postgres.configurations_client().put(
            &ctx.subscription,
            &at.group,
            &at.parent,
            name,
            body
        ))
    }

    /// A setting cannot be removed: its default goes back (a server being deleted takes
    /// its settings with it, so a missing server is nothing to do).
    async fn delete(
        ctx: &Ctx,
        at: &At,
        name: &str,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        let current = Self::get(ctx, at, name).await?;
        let default = current
            .properties
            .and_then(|p| p.default_value)
            .unwrap_or_default();
        let body = Configuration {
            properties: Some(crate::client::postgres::ConfigurationProperties {
                value: Some(default),
                source: Some("system-default".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        Self::put(ctx, at, name, body).await
    }
}
