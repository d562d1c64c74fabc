//! Secrets Manager: a secret and its current value.
//!
//! The value is sent once (create, or PutSecretValue on change) and read back so later
//! runs can give it to resources that need it (state keeps only a digest). Creates carry a
//! `ClientRequestToken` (the call's idempotency token), so a retried create after a crash
//! does not make a second version.

use crate::error::convert;
use crate::Ctx;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Sensitive, Text, Value};
use std::collections::BTreeMap;

fn plaintext<'a>(address: &str, a: &'a Attrs) -> Result<&'a str, ProviderError> {
    match a.get("secret_string") {
        Some(Value::Sensitive(s)) => s.expose().ok_or_else(|| ProviderError::Api {
            address: address.to_string(),
            code: "MissingSecret".into(),
            message: "the secret's value is not known to this run".into(),
        }),
        _ => Err(ProviderError::Api {
            address: address.to_string(),
            code: "MissingSecret".into(),
            message: "no secret_string".into(),
        }),
    }
}

/// Secrets Manager wants a 32-64 character token; cairn's are shorter, so pad deterministically.
fn request_token(token: &str) -> String {
    format!("{token:-<32}")
}

pub(crate) async fn create(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let mut tags = vec![
        Tag::builder()
            .key(crate::ec2::TAG_STACK)
            .value(&*req.stack)
            .build(),
        Tag::builder()
            .key(crate::ec2::TAG_RESOURCE)
            .value(req.address.as_str())
            .build(),
    ];
    if let Some(Value::Map(m)) = a.get("tags") {
        tags.extend(m.iter().map(|(k, v)| {
            Tag::builder()
                .key(k.as_str())
                .value(v.as_str().unwrap_or_default())
                .build()
        }));
    }
    let name = a.get("name").and_then(Value::as_str).unwrap_or_default();
    let sent = ctx
        .c
        .secrets
        .create_secret()
        .name(name)
        .description(
            a.get("description")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        )
        .secret_string(plaintext(&req.address, a)?)
        .client_request_token(request_token(&req.token))
        .set_tags(Some(tags))
        .send()
        .await;
    let out = match sent {
        Ok(out) => out,
        Err(e) if crate::error::code(&e).as_deref() == Some("ResourceExistsException") => {
            return adopt(ctx, req, name).await;
        }
        Err(e) => return Err(convert(&req.address, e)),
    };
    let arn = out.arn().unwrap_or_default().to_string();
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&arn));
    attrs.insert("arn".into(), Value::str(&arn));
    Ok(CreateResponse {
        id: arn.into(),
        attrs,
    })
}

/// A secret of this name exists: adopt it if this stack made it for this address (a create
/// whose answer an interrupted run never heard), with the value it holds. No new version:
/// nothing has used the value this run generated yet.
async fn adopt(
    ctx: &Ctx,
    req: &CreateRequest,
    name: &str,
) -> Result<CreateResponse, ProviderError> {
    let d = ctx
        .c
        .secrets
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    let arn = d.arn().unwrap_or_default().to_string();
    crate::util::adopt_named(
        req,
        "secret",
        name,
        d.tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
    )?;
    let found = read(
        ctx,
        &ReadRequest {
            stack: req.stack.clone(),
            type_name: req.type_name.clone(),
            items: vec![ReadItem {
                address: req.address.clone(),
                id: Some(arn.as_str().into()),
                token: None,
                prior: req.attrs.clone(),
            }],
        },
    )
    .await?;
    match found.into_values().next() {
        Some(ReadOutcome::Found { id, attrs }) => Ok(CreateResponse { id, attrs }),
        _ => Err(ProviderError::Indeterminate {
            address: req.address.to_string(),
            message: format!("secret {name} exists but could not be read back"),
        }),
    }
}

fn secret_attrs(s: &aws_sdk_secretsmanager::types::SecretListEntry) -> Attrs {
    let mut a = Attrs::new();
    a.insert("name".into(), Value::str(s.name().unwrap_or_default()));
    a.insert(
        "description".into(),
        Value::str(s.description().unwrap_or_default()),
    );
    crate::util::set_user_tags(
        &mut a,
        s.tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
    );
    let arn = s.arn().unwrap_or_default();
    a.insert("id".into(), Value::str(arn));
    a.insert("arn".into(), Value::str(arn));
    a
}

/// Batched: one ListSecrets for the stack's secrets (by ownership tag, which also finds a
/// create a crash interrupted), then their values, 20 per BatchGetSecretValue.
pub(crate) async fn read(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut by_arn: BTreeMap<String, Attrs> = BTreeMap::new();
    let mut arn_of_address: BTreeMap<String, String> = BTreeMap::new();
    let mut pages = ctx
        .c
        .secrets
        .list_secrets()
        .filters(
            Filter::builder()
                .key(FilterNameStringType::TagKey)
                .values(crate::ec2::TAG_STACK)
                .build(),
        )
        .filters(
            Filter::builder()
                .key(FilterNameStringType::TagValue)
                .values(&*req.stack)
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| convert(&req.type_name, e))?;
        for s in page.secret_list() {
            let owned = s
                .tags()
                .iter()
                .any(|t| t.key() == Some(crate::ec2::TAG_STACK) && t.value() == Some(&*req.stack));
            if s.deleted_date().is_some() || !owned {
                continue;
            }
            if let Some(address) = s
                .tags()
                .iter()
                .find(|t| t.key() == Some(crate::ec2::TAG_RESOURCE))
                .and_then(|t| t.value())
            {
                arn_of_address.insert(address.to_string(), s.arn().unwrap_or_default().to_string());
            }
            by_arn.insert(s.arn().unwrap_or_default().to_string(), secret_attrs(s));
        }
    }
    // Imported secrets may carry no ownership tags: describe those one by one.
    for item in &req.items {
        if let Some(id) = item.id.as_deref().filter(|id| !by_arn.contains_key(*id)) {
            match ctx.c.secrets.describe_secret().secret_id(id).send().await {
                Ok(d) if d.deleted_date().is_none() => {
                    let entry = aws_sdk_secretsmanager::types::SecretListEntry::builder()
                        .set_arn(d.arn().map(str::to_string))
                        .set_name(d.name().map(str::to_string))
                        .set_description(d.description().map(str::to_string))
                        .set_tags(Some(d.tags().to_vec()))
                        .build();
                    by_arn.insert(id.to_string(), secret_attrs(&entry));
                }
                Ok(_) => {}
                Err(e) if crate::error::is_not_found(&e) => {}
                Err(e) => return Err(convert(&item.address, e)),
            }
        }
    }
    let wanted: Vec<(Text, String)> = req
        .items
        .iter()
        .filter_map(|i| {
            let arn = match (&i.id, &i.token) {
                (Some(id), _) => Some(id.to_string()),
                (None, Some(_)) => arn_of_address.get(i.address.as_str()).cloned(),
                _ => None,
            }?;
            by_arn
                .contains_key(&arn)
                .then_some((i.address.clone(), arn))
        })
        .collect();
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for chunk in wanted.chunks(20) {
        let out = ctx
            .c
            .secrets
            .batch_get_secret_value()
            .set_secret_id_list(Some(chunk.iter().map(|(_, arn)| arn.clone()).collect()))
            .send()
            .await
            .map_err(|e| convert(&req.type_name, e))?;
        for v in out.secret_values() {
            values.insert(
                v.arn().unwrap_or_default().to_string(),
                v.secret_string().unwrap_or_default().to_string(),
            );
        }
    }
    let mut results: BTreeMap<Text, ReadOutcome> = req
        .items
        .iter()
        .map(|i| (i.address.clone(), ReadOutcome::Gone))
        .collect();
    for (address, arn) in wanted {
        let mut attrs = by_arn[&arn].clone();
        if let Some(v) = values.get(&arn) {
            attrs.insert(
                "secret_string".into(),
                Value::Sensitive(Sensitive::new(v.as_str())),
            );
        }
        results.insert(
            address,
            ReadOutcome::Found {
                id: arn.as_str().into(),
                attrs,
            },
        );
    }
    Ok(results)
}

pub(crate) async fn update(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    if req.changed.iter().any(|c| c == "description") {
        ctx.c
            .secrets
            .update_secret()
            .secret_id(req.id.as_str())
            .description(
                a.get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            )
            .send()
            .await
            .map_err(|e| convert(&req.address, e))?;
    }
    if req.changed.iter().any(|c| c == "secret_string") {
        ctx.c
            .secrets
            .put_secret_value()
            .secret_id(req.id.as_str())
            .secret_string(plaintext(&req.address, a)?)
            .send()
            .await
            .map_err(|e| convert(&req.address, e))?;
    }
    if req.changed.iter().any(|c| c == "tags") {
        let (removed, set) = crate::util::tag_changes(&req.prior, a);
        if !removed.is_empty() {
            ctx.c
                .secrets
                .untag_resource()
                .secret_id(req.id.as_str())
                .set_tag_keys(Some(removed))
                .send()
                .await
                .map_err(|e| convert(&req.address, e))?;
        }
        if !set.is_empty() {
            let tags = set
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            ctx.c
                .secrets
                .tag_resource()
                .secret_id(req.id.as_str())
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| convert(&req.address, e))?;
        }
    }
    let mut attrs = a.clone();
    attrs.insert("id".into(), Value::str(&req.id));
    attrs.insert("arn".into(), Value::str(&req.id));
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    // Immediate deletion: cairn's destroy means gone, and a recovery window would block
    // recreating a secret of the same name.
    match ctx
        .c
        .secrets
        .delete_secret()
        .secret_id(req.id.as_str())
        .force_delete_without_recovery(true)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if crate::error::is_not_found(&e) => Ok(()),
        Err(e) => Err(convert(&req.address, e)),
    }
}
