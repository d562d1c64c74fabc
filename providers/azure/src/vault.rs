//! Key Vault: one vault per stack, and its secrets.
//!
//! A vault's name is global and outlives it: a deleted vault is soft-deleted (listed under
//! `deletedVaults`) and holds its name until purged. So a create first looks for a deleted
//! vault of its name: one this stack made for this address is recovered (its secrets come
//! back with it) or purged, as the vault's `on_soft_deleted` says; one of anyone else's is
//! refused, naming it. A destroy purges the vault after deleting it when
//! `purge_on_destroy` (the default, as Terraform's azurerm does) so the name is free again;
//! a purge-protected vault cannot be purged and stays held until its date.
//!
//! A secret is made and changed through the management plane (its value is sent, never
//! answered), but only the vault's data plane reads or deletes one, at the vault's
//! `vaultUri`. A read lists the vault's secrets (one call) and then reads each value: a
//! generated value whose create answer was lost, or one a later run must send again (a
//! replaced server's password), exists nowhere else, and a value changed outside cairn is
//! drift. A delete is a soft delete, then a purge, so a stack may make the name again.
//! The identity cairn runs as needs a data-plane role on the vault for this (Key Vault
//! Secrets Officer); the vault uses Azure RBAC, not access policies.

use crate::arm::{self, s};
use crate::client::keyvault::{Secret, Vault};
use crate::client::keyvault::{SecretCreateOrUpdateParameters, VaultCreateOrUpdateParameters};
use crate::error::{convert, is_not_found};
use crate::tagged::{self, At, Tagged};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Sensitive, Value};
use cairn_provider_kit::adopt::{self, Existing};
use cairn_provider_kit::ownership::Owner;
use serde_json::json;

/// The data plane's API version for deletes and purges.
const DATA_API: &str = "7.4";
/// The scope of a data-plane token.
const DATA_SCOPE: &str = "https://vault.azure.net/.default";

// ---------------------------------------------------------------------------------------
// azure_key_vault

impl Tagged for Vault {
    const WHAT: &'static str = "key vault";
    /// What only cairn reads: how to treat a soft-deleted namesake and a destroy.
    const WRITE_ONLY: &'static [&'static str] = &["on_soft_deleted", "purge_on_destroy"];
    type Body = VaultCreateOrUpdateParameters;

    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn tags(&self) -> Option<&serde_json::Value> {
        self.tags.as_ref()
    }
    fn state(&self) -> Option<String> {
        // 2019-09-01 answers no state while creating: one answered is made.
        match arm::wire(&self.properties.provisioning_state).as_str() {
            "" => Some("Succeeded".into()),
            other => Some(other.into()),
        }
    }

    fn attrs(&self, at: &At) -> Attrs {
        let p = &self.properties;
        Attrs::from([
            ("id".into(), Value::str(self.id().unwrap_or_default())),
            ("name".into(), Value::str(self.name().unwrap_or_default())),
            ("resource_group".into(), Value::str(&at.group)),
            (
                "location".into(),
                Value::str(self.location.clone().unwrap_or_default()),
            ),
            ("tags".into(), arm::user_tags(self.tags())),
            (
                "sku".into(),
                Value::str(arm::wire(&Some(p.sku.name.clone()))),
            ),
            (
                "soft_delete_retention_days".into(),
                Value::Int(i64::from(p.soft_delete_retention_in_days.unwrap_or(90))),
            ),
            (
                "purge_protection".into(),
                Value::Bool(p.enable_purge_protection.unwrap_or(false)),
            ),
            (
                "vault_uri".into(),
                Value::str(p.vault_uri.clone().unwrap_or_default()),
            ),
        ])
    }

    fn body(
        address: &str,
        a: &Attrs,
        tags: serde_json::Value,
    ) -> Result<VaultCreateOrUpdateParameters, ProviderError> {
        let mut props = json!({
            // Filled in from the provider's tenant when sent (`put`).
            "tenantId": "",
            "sku": {"family": "A", "name": s(a, "sku")},
            "accessPolicies": [],
            "enableRbacAuthorization": true,
            "enableSoftDelete": true,
            "softDeleteRetentionInDays": a.get("soft_delete_retention_days").and_then(Value::as_int).unwrap_or(90),
        });
        // Purge protection cannot be turned off once on: sent only to turn it on.
        if a.get("purge_protection").and_then(Value::as_bool) == Some(true) {
            props["enablePurgeProtection"] = json!(true);
        }
        // Marked so that the group's delete, which purges what a destroy interrupted
        // between a vault's delete and its purge, leaves this one held as asked.
        let mut tags = tags;
        if a.get("purge_on_destroy").and_then(Value::as_bool) == Some(false) {
            tags[KEEP_WHEN_DELETED] = json!("true");
        }
        arm::model(
            address,
            json!({"location": s(a, "location"), "tags": tags, "properties": props}),
        )
    }

    async fn list(ctx: &Ctx, at: &At) -> azure_core::Result<Vec<Self>> {
        let pages = ctx
            .c
            .keyvault
            .vaults_client()
            .list_by_resource_group(&at.group, &ctx.subscription)
            .into_stream();
        crate::tagged::all(pages, |p| p.value).await
    }

    async fn get(ctx: &Ctx, at: &At, name: &str) -> azure_core::Result<Self> {
        ctx.c
            .keyvault
            .vaults_client()
            .get(&at.group, name, &ctx.subscription)
            .await
    }

    async fn put(
        ctx: &Ctx,
        at: &At,
        name: &str,
        mut body: VaultCreateOrUpdateParameters,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        body.properties.tenant_id = ctx.tenant()?.to_string();
        headers!(ctx.c.keyvault.vaults_client().create_or_update(
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
            .keyvault
            .vaults_client()
            .delete(&at.group, name, &ctx.subscription))
    }
}

/// Create a vault, first clearing a soft-deleted namesake this stack made (recovered or
/// purged, as `on_soft_deleted` says).
pub(crate) async fn create(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let (name, location) = (s(a, "name"), s(a, "location"));
    let deleted = arm::found(
        &req.address,
        ctx.c
            .keyvault
            .vaults_client()
            .get_deleted(name, location, &ctx.subscription)
            .await,
    )?;
    if let Some(deleted) = deleted {
        let props = deleted.properties.unwrap_or_default();
        let what = format!(
            "soft-deleted key vault {name} (its name is held until it is purged{})",
            props
                .scheduled_purge_date
                .map(|d| format!(", at the latest on {}", d.date()))
                .unwrap_or_default()
        );
        match arm::owner(&req.stack, &req.address, props.tags.as_ref()) {
            Owner::Ours => {}
            other => {
                adopt::decide(
                    &req.address,
                    &what,
                    name,
                    Existing::from(other),
                    &req.progress,
                )?;
            }
        }
        if s(a, "on_soft_deleted") == "purge" {
            req.progress.report(&format!("purging the {what}"));
            purge(ctx, &req.address, &req.progress, name, location).await?;
        } else {
            req.progress
                .report(&format!("recovering the {what}, with its secrets"));
            let mut body = <Vault as Tagged>::body(&req.address, a, json!({}))?;
            body.properties.create_mode = Some(arm::model(&req.address, json!("recover"))?);
            let at = At::of_attrs::<Vault>(a);
            let headers = <Vault as Tagged>::put(ctx, &at, name, body)
                .await
                .map_err(|e| convert(&req.address, e))?;
            arm::finish(
                ctx,
                &req.address,
                "key vault recovery",
                &req.progress,
                &headers,
                ctx.options.create_timeout,
            )
            .await?;
        }
    }
    tagged::create::<Vault>(ctx, req).await
}

/// The mark of a vault whose stack keeps it soft-deleted on destroy (`purge_on_destroy`
/// off); a `cairn:` key, so never read as a user's tag.
pub(crate) const KEEP_WHEN_DELETED: &str = "cairn:keep-when-deleted";

/// Purge the soft-deleted vaults that were in the resource group `group` and are the stack
/// `stack`'s, unless marked to be kept: a destroy killed between a vault's delete and its
/// purge left one, and the re-run read it as gone. Called by the group's delete, which
/// every destroy ends with.
pub(crate) async fn purge_left_in_group(
    ctx: &Ctx,
    address: &str,
    progress: &Progress,
    stack: &str,
    group: &str,
) -> Result<(), ProviderError> {
    let pages = ctx
        .c
        .keyvault
        .vaults_client()
        .list_deleted(&ctx.subscription)
        .into_stream();
    let deleted = crate::tagged::all(pages, |p| p.value)
        .await
        .map_err(|e| convert(address, e))?;
    let in_group = format!("/resourcegroups/{}/", group.to_ascii_lowercase());
    for v in deleted {
        let props = v.properties.unwrap_or_default();
        let marks = arm::tag_pairs(props.tags.as_ref());
        let ours = marks
            .iter()
            .any(|(k, val)| *k == cairn_provider_kit::ownership::STACK && *val == stack);
        let kept = marks.iter().any(|(k, _)| *k == KEEP_WHEN_DELETED);
        let was_here = props
            .vault_id
            .as_deref()
            .is_some_and(|id| id.to_ascii_lowercase().contains(&in_group));
        if !ours || kept || !was_here || props.purge_protection_enabled == Some(true) {
            continue;
        }
        let (Some(name), Some(location)) = (v.name.as_deref(), props.location.as_deref()) else {
            continue;
        };
        progress.report(&format!(
            "purging the soft-deleted key vault {name}, which an interrupted destroy left"
        ));
        match purge(ctx, address, progress, name, location).await {
            Err(ProviderError::NotFound { .. }) => {}
            other => other?,
        }
    }
    Ok(())
}

/// Delete a vault, then purge it when `purge_on_destroy` (so its name is free again).
pub(crate) async fn delete(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let location = s(&req.prior, "location").to_string();
    tagged::delete::<Vault>(ctx, req).await?;
    if req.prior.get("purge_on_destroy").and_then(Value::as_bool) != Some(false) {
        let name = arm::last(&req.id);
        match purge(ctx, &req.address, &req.progress, name, &location).await {
            Err(ProviderError::NotFound { .. }) => {}
            other => other?,
        }
    }
    Ok(())
}

async fn purge(
    ctx: &Ctx,
    address: &str,
    progress: &Progress,
    name: &str,
    location: &str,
) -> Result<(), ProviderError> {
    let rsp = ctx
        .c
        .keyvault
        .vaults_client()
        .purge_deleted(name, location, &ctx.subscription)
        .send()
        .await
        .map_err(|e| convert(address, e))?;
    arm::finish(
        ctx,
        address,
        "key vault purge",
        progress,
        rsp.as_raw_response().headers(),
        ctx.options.delete_timeout,
    )
    .await
}

// ---------------------------------------------------------------------------------------
// azure_key_vault_secret

/// The data plane's address of the vault `vault_id` (its `vaultUri`, without the final
/// `/`); none when the vault is gone.
async fn data_plane(ctx: &Ctx, vault_id: &str) -> azure_core::Result<Option<String>> {
    let at = At::of_id(vault_id, false);
    match <Vault as Tagged>::get(ctx, &at, arm::last(vault_id)).await {
        Ok(v) => Ok(Some(
            v.properties
                .vault_uri
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_string(),
        )),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Batched: one list per vault, then each found secret's value from the data plane.
pub(crate) async fn read_secrets(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<std::collections::BTreeMap<cairn_core::value::Text, ReadOutcome>, ProviderError> {
    let mut out = tagged::read::<Secret>(ctx, req).await?;
    let mut uris = std::collections::BTreeMap::new();
    for (address, outcome) in out.iter_mut() {
        let ReadOutcome::Found { attrs, .. } = outcome else {
            continue;
        };
        let vault_id = s(attrs, "key_vault_id").to_string();
        if !uris.contains_key(&vault_id) {
            let uri = data_plane(ctx, &vault_id)
                .await
                .map_err(|e| convert(address, e))?;
            uris.insert(vault_id.clone(), uri);
        }
        let Some(Some(uri)) = uris.get(&vault_id) else {
            continue;
        };
        let url = format!("{uri}/secrets/{}?api-version={DATA_API}", s(attrs, "name"));
        let rsp = ctx
            .c
            .send_url(azure_core::Method::Get, &url, DATA_SCOPE)
            .await
            .map_err(|e| convert(address, e))?;
        let body: serde_json::Value = rsp.json().await.map_err(|e| convert(address, e))?;
        if let Some(v) = body["value"].as_str() {
            attrs.insert("value".into(), Value::Sensitive(Sensitive::new(v)));
        }
    }
    Ok(out)
}

impl Tagged for Secret {
    const WHAT: &'static str = "key vault secret";
    const PARENT: Option<&'static str> = Some("key_vault_id");
    const WRITE_ONLY: &'static [&'static str] = &["value"];
    type Body = SecretCreateOrUpdateParameters;

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
        Some("Succeeded".into())
    }

    fn attrs(&self, _at: &At) -> Attrs {
        let id = self.id().unwrap_or_default();
        Attrs::from([
            ("id".into(), Value::str(id)),
            ("name".into(), Value::str(self.name().unwrap_or_default())),
            (
                "key_vault_id".into(),
                Value::str(
                    id.rsplit_once("/secrets/")
                        .map(|(v, _)| v)
                        .unwrap_or_default(),
                ),
            ),
            (
                "content_type".into(),
                Value::str(self.properties.content_type.clone().unwrap_or_default()),
            ),
            ("tags".into(), arm::user_tags(self.tags())),
        ])
    }

    fn body(
        address: &str,
        a: &Attrs,
        tags: serde_json::Value,
    ) -> Result<SecretCreateOrUpdateParameters, ProviderError> {
        let mut props = json!({"contentType": s(a, "content_type")});
        // The value only in the run that has its plaintext (the one making or changing it);
        // a PUT without one keeps the secret's value.
        if let Some(Value::Sensitive(v)) = a.get("value") {
            if let Some(plain) = v.expose() {
                props["value"] = json!(plain);
            }
        }
        arm::model(address, json!({"tags": tags, "properties": props}))
    }

    async fn list(ctx: &Ctx, at: &At) -> azure_core::Result<Vec<Self>> {
        let pages = ctx
            .c
            .keyvault
            .secrets_client()
            .list(&at.group, &at.parent, &ctx.subscription)
            .into_stream();
        crate::tagged::all(pages, |p| p.value).await
    }

    async fn get(ctx: &Ctx, at: &At, name: &str) -> azure_core::Result<Self> {
        ctx.c
            .keyvault
            .secrets_client()
            .get(&at.group, &at.parent, name, &ctx.subscription)
            .await
    }

    async fn put(
        ctx: &Ctx,
        at: &At,
        name: &str,
        body: SecretCreateOrUpdateParameters,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx.c.keyvault.secrets_client().create_or_update(
            &at.group,
            &at.parent,
            name,
            body,
            &ctx.subscription
        ))
    }

    /// Through the vault's data plane: a soft delete, then a purge so the name is free.
    async fn delete(
        ctx: &Ctx,
        at: &At,
        name: &str,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        let vault_id = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.KeyVault/vaults/{}",
            ctx.subscription, at.group, at.parent
        );
        // A vault that is gone took its secrets with it.
        let Some(uri) = data_plane(ctx, &vault_id).await? else {
            return Ok(Default::default());
        };
        for path in ["secrets", "deletedsecrets"] {
            let url = format!("{uri}/{path}/{name}?api-version={DATA_API}");
            match ctx
                .c
                .send_url(azure_core::Method::Delete, &url, DATA_SCOPE)
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Default::default())
    }
}
