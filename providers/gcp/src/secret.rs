//! Secret Manager: a secret and its current value (its latest version).
//!
//! A secret carries labels, so ownership is in them (`cairn-stack`, `cairn-resource`,
//! `cairn-token`, see the kit's label encoding) and a refresh is one list filtered by the
//! stack's label, then one `versions/latest:access` per secret for its value (Secret
//! Manager has no batch access). Secret Manager answers names with the project's number
//! (`projects/123…/secrets/S`), so secrets are matched by their id (the last segment),
//! never by the whole name.
//!
//! A secret and its value are two calls (create, then `addVersion`): a run that dies
//! between them leaves a secret with no version, which the next run adopts (by its
//! labels) and reads as having no value, so the plan adds one. A value change adds a
//! version; earlier versions are kept, as Secrets Manager keeps its previous one, so a
//! client holding the old value keeps working until it re-reads.

use crate::compute::{last, s};
use crate::error::{convert, is_conflict, is_not_found};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Sensitive, Text, Value};
use cairn_provider_kit::adopt;
use cairn_provider_kit::ownership::label_value;
use google_cloud_secretmanager_v1::model::{replication, Replication, Secret, SecretPayload};
use std::collections::BTreeMap;

fn plaintext<'a>(address: &str, a: &'a Attrs) -> Result<&'a str, ProviderError> {
    match a.get("secret_data") {
        Some(Value::Sensitive(v)) => v.expose().ok_or_else(|| ProviderError::Api {
            address: address.to_string(),
            code: "MissingSecret".into(),
            message: "the secret's value is not known to this run".into(),
        }),
        _ => Err(ProviderError::Api {
            address: address.to_string(),
            code: "MissingSecret".into(),
            message: "no secret_data".into(),
        }),
    }
}

/// Secret Manager has no description field: it is kept as this annotation.
const DESCRIPTION: &str = "description";

fn annotations(a: &Attrs) -> Vec<(&'static str, String)> {
    match s(a, "description") {
        "" => Vec::new(),
        d => vec![(DESCRIPTION, d.to_string())],
    }
}

fn secret_attrs(x: &Secret) -> Attrs {
    let user = crate::labels::user(&x.labels);
    Attrs::from([
        ("id".into(), Value::str(&x.name)),
        ("secret_id".into(), Value::str(last(&x.name))),
        ("labels".into(), user),
        (
            "description".into(),
            Value::str(x.annotations.get(DESCRIPTION).cloned().unwrap_or_default()),
        ),
    ])
}

fn parent(ctx: &Ctx) -> String {
    format!("projects/{}", ctx.project)
}

/// The value of the secret's latest version, or none when it has no version yet.
async fn latest_value(
    ctx: &Ctx,
    address: &str,
    name: &str,
) -> Result<Option<String>, ProviderError> {
    match ctx
        .c
        .secrets
        .access_secret_version()
        .set_name(format!("{name}/versions/latest"))
        .send()
        .await
    {
        Ok(v) => {
            let data = v.payload.map(|p| p.data).unwrap_or_default();
            String::from_utf8(data.to_vec())
                .map(Some)
                .map_err(|_| ProviderError::Api {
                    address: address.to_string(),
                    code: "NotText".into(),
                    message: format!("the latest version of {name} is not UTF-8 text"),
                })
        }
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(convert(address, e)),
    }
}

async fn add_version(ctx: &Ctx, address: &str, name: &str, a: &Attrs) -> Result<(), ProviderError> {
    ctx.c
        .secrets
        .add_secret_version()
        .set_parent(name)
        .set_payload(SecretPayload::new().set_data(plaintext(address, a)?.to_string()))
        .send()
        .await
        .map_err(|e| convert(address, e))?;
    Ok(())
}

/// The stack's secrets, by label: one list call a page.
pub(crate) async fn listed(
    ctx: &Ctx,
    stack: &str,
    what: &str,
) -> Result<Vec<Secret>, ProviderError> {
    let filter = format!("labels.cairn-stack={}", label_value(stack));
    let mut listed: Vec<Secret> = Vec::new();
    let mut token = String::new();
    loop {
        let page = ctx
            .c
            .secrets
            .list_secrets()
            .set_parent(parent(ctx))
            .set_filter(&filter)
            .set_page_size(250)
            .set_page_token(token)
            .send()
            .await
            .map_err(|e| convert(what, e))?;
        listed.extend(page.secrets);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    Ok(listed)
}

/// Batched: one list of the stack's secrets by label (which also finds a create a crash
/// interrupted), a get for each imported secret the list did not hold, then each value.
pub(crate) async fn read(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let listed = listed(ctx, &req.stack, &req.type_name).await?;
    let mut results = BTreeMap::new();
    for item in &req.items {
        let found = match &item.id {
            Some(id) => listed.iter().find(|x| last(&x.name) == last(id)).cloned(),
            None => {
                let mark = label_value(&item.address);
                listed
                    .iter()
                    .find(|x| x.labels.get("cairn-resource") == Some(&mark))
                    .cloned()
            }
        };
        let found = match (found, &item.id) {
            (Some(x), _) => Some(x),
            // Imported, or carrying no marks: looked up by its id.
            (None, Some(id)) => match ctx
                .c
                .secrets
                .get_secret()
                .set_name(id.as_str())
                .send()
                .await
            {
                Ok(x) => Some(x),
                Err(e) if is_not_found(&e) => None,
                Err(e) => return Err(convert(&item.address, e)),
            },
            (None, None) => None,
        };
        let outcome = match found {
            None => ReadOutcome::Gone,
            Some(x) => {
                let mut attrs = secret_attrs(&x);
                if let Some(v) = latest_value(ctx, &item.address, &x.name).await? {
                    attrs.insert("secret_data".into(), Value::Sensitive(Sensitive::new(v)));
                }
                ReadOutcome::Found {
                    id: x.name.as_str().into(),
                    attrs,
                }
            }
        };
        results.insert(item.address.clone(), outcome);
    }
    Ok(results)
}

pub(crate) async fn create(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let secret_id = s(a, "secret_id");
    let sent = ctx
        .c
        .secrets
        .create_secret()
        .set_parent(parent(ctx))
        .set_secret_id(secret_id)
        .set_secret(
            Secret::new()
                .set_replication(Replication::new().set_automatic(replication::Automatic::new()))
                .set_labels(crate::labels::marked(
                    &req.stack,
                    &req.address,
                    Some(&req.token),
                    a,
                ))
                .set_annotations(annotations(a)),
        )
        .send()
        .await;
    let created = match sent {
        Ok(x) => x,
        Err(e) if is_conflict(&e) => return adopt(ctx, req, secret_id).await,
        Err(e) => return Err(convert(&req.address, e)),
    };
    add_version(ctx, &req.address, &created.name, a).await?;
    let mut attrs = secret_attrs(&created);
    attrs.insert("secret_data".into(), a["secret_data"].clone());
    Ok(CreateResponse {
        id: created.name.as_str().into(),
        attrs,
    })
}

/// A secret of this id exists: adopt it if its labels say this stack made it for this
/// address (a create whose answer a dead run never heard), with the value it holds, or
/// this run's when it has none (the run died before `addVersion`).
async fn adopt(
    ctx: &Ctx,
    req: &CreateRequest,
    secret_id: &str,
) -> Result<CreateResponse, ProviderError> {
    let name = format!("{}/secrets/{secret_id}", parent(ctx));
    let x = ctx
        .c
        .secrets
        .get_secret()
        .set_name(&name)
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    let owner = crate::labels::owner(&req.stack, &req.address, &x.labels);
    adopt::decide(&req.address, "secret", &name, owner.into(), &req.progress)?;
    let mut attrs = secret_attrs(&x);
    let value = match latest_value(ctx, &req.address, &x.name).await? {
        Some(v) => Value::Sensitive(Sensitive::new(v)),
        None => {
            add_version(ctx, &req.address, &x.name, &req.attrs).await?;
            req.attrs["secret_data"].clone()
        }
    };
    attrs.insert("secret_data".into(), value);
    Ok(CreateResponse {
        id: x.name.as_str().into(),
        attrs,
    })
}

/// Labels and description in place (the marks kept); a new value as a new version.
pub(crate) async fn update(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    let mask: Vec<&str> = [("labels", "labels"), ("description", "annotations")]
        .into_iter()
        .filter(|(attr, _)| req.changed.iter().any(|c| c == attr))
        .map(|(_, field)| field)
        .collect();
    if !mask.is_empty() {
        ctx.c
            .secrets
            .update_secret()
            .set_secret(
                Secret::new()
                    .set_name(req.id.as_str())
                    .set_labels(crate::labels::marked(&req.stack, &req.address, None, a))
                    .set_annotations(annotations(a)),
            )
            .set_update_mask(google_cloud_wkt::FieldMask::default().set_paths(mask))
            .send()
            .await
            .map_err(|e| convert(&req.address, e))?;
    }
    if req.changed.iter().any(|c| c == "secret_data") {
        add_version(ctx, &req.address, &req.id, a).await?;
    }
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&req.id));
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    match ctx
        .c
        .secrets
        .delete_secret()
        .set_name(req.id.as_str())
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(convert(&req.address, e)),
    }
}
