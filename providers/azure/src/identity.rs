//! A gateway's identity, and its right to read the certificate it presents.
//!
//! An application gateway reads a Key Vault certificate as a user-assigned managed
//! identity (`azure_user_assigned_identity`, tagged, in the stack's group). The identity
//! reads through a role assignment (`azure_role_assignment`): "Key Vault Secrets User" on
//! the vault that holds the certificate. That vault is the user's, usually in another
//! resource group: cairn finds it by the certificate's URL (the vault whose `vaultUri`
//! begins it, one list of the subscription's vaults) and never changes it. A vault that
//! grants access by access policies rather than Azure RBAC is refused by name: a role
//! assignment would grant nothing there, and cairn does not edit another owner's vault.
//!
//! A role assignment has no tags. Its name is a GUID cairn derives from the stack, the
//! address and the certificate, so the one an interrupted run made is found again under
//! it, and adopted when it grants the same role to the same principal.

use crate::arm::{self, s};
use crate::client::authorization::{RoleAssignment, RoleAssignmentCreateParameters};
use crate::client::msi::Identity;
use crate::error::{convert, is_not_found};
use crate::tagged::{At, Tagged};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use cairn_provider_kit::adopt::{self, Existing};
use serde_json::json;
use std::collections::BTreeMap;

impl Tagged for Identity {
    const WHAT: &'static str = "user-assigned identity";
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
    /// An identity is made at once (no provisioning state).
    fn state(&self) -> Option<String> {
        Some("Succeeded".into())
    }

    fn attrs(&self, at: &At) -> Attrs {
        let p = self.properties.clone().unwrap_or_default();
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
                "principal_id".into(),
                Value::str(p.principal_id.unwrap_or_default()),
            ),
            (
                "client_id".into(),
                Value::str(p.client_id.unwrap_or_default()),
            ),
        ])
    }

    fn body(address: &str, a: &Attrs, tags: serde_json::Value) -> Result<Self, ProviderError> {
        arm::model(address, json!({"location": s(a, "location"), "tags": tags}))
    }

    async fn list(ctx: &Ctx, at: &At) -> azure_core::Result<Vec<Self>> {
        let pages = ctx
            .c
            .msi
            .user_assigned_identities_client()
            .list_by_resource_group(&ctx.subscription, &at.group)
            .into_stream();
        crate::tagged::all(pages, |p| p.value).await
    }

    async fn get(ctx: &Ctx, at: &At, name: &str) -> azure_core::Result<Self> {
        ctx.c
            .msi
            .user_assigned_identities_client()
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
            .msi
            .user_assigned_identities_client()
            .create_or_update(&ctx.subscription, &at.group, name, body))
    }

    async fn delete(
        ctx: &Ctx,
        at: &At,
        name: &str,
    ) -> azure_core::Result<azure_core::headers::Headers> {
        headers!(ctx.c.msi.user_assigned_identities_client().delete(
            &ctx.subscription,
            &at.group,
            name
        ))
    }
}

// ---------------------------------------------------------------------------------------
// azure_role_assignment

/// The vault whose `vaultUri` begins `secret_url` (one list of the subscription's
/// vaults): its ARM id, and whether it grants access by Azure RBAC.
async fn vault_of(
    ctx: &Ctx,
    address: &str,
    secret_url: &str,
) -> Result<(String, bool), ProviderError> {
    let pages = ctx
        .c
        .keyvault
        .vaults_client()
        .list_by_subscription(&ctx.subscription)
        .into_stream();
    let vaults = crate::tagged::all(pages, |p| p.value)
        .await
        .map_err(|e| convert(address, e))?;
    let wanted = secret_url.to_ascii_lowercase();
    vaults
        .iter()
        .find_map(|v| {
            let uri = v.properties.vault_uri.as_deref()?.to_ascii_lowercase();
            let uri = uri.trim_end_matches('/');
            if !wanted.starts_with(&format!("{uri}/")) {
                return None;
            }
            Some((
                v.id.clone()?,
                v.properties.enable_rbac_authorization == Some(true),
            ))
        })
        .ok_or_else(|| ProviderError::Api {
            address: address.to_string(),
            code: "CertificateVaultNotFound".into(),
            message: format!(
                "no key vault of subscription {} holds the certificate {secret_url}: the gateway reads its certificate from a vault of the same subscription",
                ctx.subscription
            ),
        })
}

/// How a grant's description begins; the certificate's URL follows.
const READS: &str = "cairn: an application gateway reads its certificate ";

/// The role assignment's ARM scope for the crate (no leading `/`).
fn scope_arg(scope: &str) -> &str {
    scope.trim_start_matches('/')
}

fn role_definition_id(ctx: &Ctx, role: &str) -> String {
    format!(
        "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}",
        ctx.subscription
    )
}

fn assignment_attrs(a: &RoleAssignment, declared: &Attrs) -> Attrs {
    let p = a.properties.as_ref();
    let scope = p.and_then(|p| p.scope.clone()).unwrap_or_default();
    Attrs::from([
        ("id".into(), Value::str(a.id.clone().unwrap_or_default())),
        (
            "name".into(),
            Value::str(a.name.clone().unwrap_or_default()),
        ),
        (
            "certificate_secret_id".into(),
            p.and_then(|p| p.description.as_deref())
                .and_then(|d| d.strip_prefix(READS))
                .map(Value::str)
                .or_else(|| declared.get("certificate_secret_id").cloned())
                .unwrap_or(Value::str("")),
        ),
        (
            "role_definition".into(),
            Value::str(arm::last(
                p.map(|p| p.role_definition_id.as_str()).unwrap_or_default(),
            )),
        ),
        (
            "principal_id".into(),
            Value::str(p.map(|p| p.principal_id.as_str()).unwrap_or_default()),
        ),
        ("scope".into(), Value::str(scope)),
    ])
}

async fn get_assignment(
    ctx: &Ctx,
    address: &str,
    scope: &str,
    name: &str,
) -> Result<Option<RoleAssignment>, ProviderError> {
    arm::found(
        address,
        ctx.c
            .authorization
            .role_assignments_client()
            .get(scope_arg(scope), name)
            .await,
    )
}

/// Read: each assignment by its id, or (made by a run that died before recording it) by
/// its name at the certificate's vault.
pub(crate) async fn read_assignments(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut out = BTreeMap::new();
    for item in &req.items {
        let (scope, name) = match &item.id {
            Some(id) => match id.rsplit_once("/providers/Microsoft.Authorization/roleAssignments/")
            {
                Some((scope, name)) => (scope.to_string(), name.to_string()),
                None => (String::new(), String::new()),
            },
            None => {
                let url = s(&item.prior, "certificate_secret_id");
                match vault_of(ctx, &item.address, url).await {
                    Ok((scope, _)) => (scope, s(&item.prior, "name").to_string()),
                    Err(ProviderError::Api { code, .. }) if code == "CertificateVaultNotFound" => {
                        out.insert(item.address.clone(), ReadOutcome::Gone);
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let found = if name.is_empty() {
            None
        } else {
            get_assignment(ctx, &item.address, &scope, &name).await?
        };
        let outcome = match found {
            Some(a) => ReadOutcome::Found {
                id: a.id.clone().unwrap_or_default().into(),
                attrs: assignment_attrs(&a, &item.prior),
            },
            None => ReadOutcome::Gone,
        };
        out.insert(item.address.clone(), outcome);
    }
    Ok(out)
}

pub(crate) async fn create_assignment(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let url = s(a, "certificate_secret_id");
    let (scope, rbac) = vault_of(ctx, &req.address, url).await?;
    if !rbac {
        return Err(ProviderError::Api {
            address: req.address.to_string(),
            code: "VaultUsesAccessPolicies".into(),
            message: format!(
                "the certificate's vault {scope} grants access by access policies, not Azure RBAC: a role assignment would not let the gateway read {url}. Switch the vault to Azure RBAC (enableRbacAuthorization), or give the gateway's identity (principal {}) the secret get permission yourself",
                s(a, "principal_id")
            ),
        });
    }
    let name = s(a, "name");
    let role = role_definition_id(ctx, s(a, "role_definition"));
    if let Some(existing) = get_assignment(ctx, &req.address, &scope, name).await? {
        let same = existing.properties.as_ref().is_some_and(|p| {
            p.principal_id == s(a, "principal_id")
                && arm::last(&p.role_definition_id).eq_ignore_ascii_case(s(a, "role_definition"))
        });
        let found = if same {
            Existing::Identical
        } else {
            Existing::Foreign("it grants another role or principal".into())
        };
        let id = existing.id.clone().unwrap_or_default();
        adopt::decide(&req.address, "role assignment", &id, found, &req.progress)?;
        return Ok(CreateResponse {
            id: id.into(),
            attrs: assignment_attrs(&existing, a),
        });
    }
    let body: RoleAssignmentCreateParameters = arm::model(
        &req.address,
        json!({"properties": {
            "roleDefinitionId": role,
            "principalId": s(a, "principal_id"),
            // A new identity may not have reached every replica of the directory yet:
            // with its type given, ARM does not look it up.
            "principalType": "ServicePrincipal",
            // What it is for, and what it is recorded with (an import reads it back).
            "description": format!("{READS}{url}"),
        }}),
    )?;
    let made = ctx
        .c
        .authorization
        .role_assignments_client()
        .create(scope_arg(&scope), name, body)
        .await
        .map_err(|e| convert(&req.address, e))?;
    Ok(CreateResponse {
        id: made.id.clone().unwrap_or_default().into(),
        attrs: assignment_attrs(&made, a),
    })
}

/// Every attribute forces a replacement (a role assignment cannot be changed).
pub(crate) async fn update_assignment(
    _ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    Ok(UpdateResponse {
        attrs: req.attrs.clone(),
    })
}

pub(crate) async fn delete_assignment(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let Some((scope, name)) = req
        .id
        .rsplit_once("/providers/Microsoft.Authorization/roleAssignments/")
    else {
        return Ok(());
    };
    // Sent without reading the answer: ARM says 200 with the assignment that was, or 204
    // with no body when it is already gone (a re-run after a crash), which the crate's
    // `.await` would fail to parse.
    match ctx
        .c
        .authorization
        .role_assignments_client()
        .delete(scope_arg(scope), name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(convert(&req.address, e)),
    }
}

// ---------------------------------------------------------------------------------------
// The certificate a gateway names (read, never managed)

/// The type a gateway's certificate is read as when a plan reads the cloud: a Key Vault
/// secret of a vault in the subscription. One that is not there is refused naming the
/// field before any create; found here, the grant's create finds its vault the same way.
pub(crate) const CERTIFICATE: &str = "azure_key_vault_certificate";

/// For each certificate URL, its vault (one list of the subscription's vaults for all)
/// and then the secret in it, by name, through ARM (no value is read).
pub(crate) async fn read_certificates(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut out = BTreeMap::new();
    for item in &req.items {
        let url = item.id.clone().unwrap_or_default();
        let outcome = match vault_of(ctx, &item.address, &url).await {
            Err(ProviderError::Api { code, .. }) if code == "CertificateVaultNotFound" => {
                ReadOutcome::Gone
            }
            Err(e) => ReadOutcome::Failed(e),
            Ok((vault_id, _)) => {
                // /subscriptions/S/resourceGroups/G/providers/Microsoft.KeyVault/vaults/V
                let parts: Vec<&str> = vault_id.split('/').collect();
                let group = parts.get(4).copied().unwrap_or_default();
                let vault = parts.last().copied().unwrap_or_default();
                let secret = url
                    .split("/secrets/")
                    .nth(1)
                    .and_then(|rest| rest.split('/').next())
                    .unwrap_or_default();
                let got = ctx
                    .c
                    .keyvault
                    .secrets_client()
                    .get(group, vault, secret, &ctx.subscription)
                    .await;
                match got {
                    Ok(_) => ReadOutcome::Found {
                        id: url.clone(),
                        attrs: Attrs::from([("vault".into(), Value::str(&vault_id))]),
                    },
                    Err(e) if is_not_found(&e) => ReadOutcome::Gone,
                    Err(e) => ReadOutcome::Failed(convert(&item.address, e)),
                }
            }
        };
        out.insert(item.address.clone(), outcome);
    }
    Ok(out)
}
