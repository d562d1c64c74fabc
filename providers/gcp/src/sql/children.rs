//! `gcp_sql_database` and `gcp_sql_user`: children of an instance, listed per instance.

use super::*;

/// `(instance, child name)` of an item: from its id (`projects/P/instances/I/{kind}/N`) or
/// its declared attributes.
pub(super) fn child_of(item_id: Option<&str>, a: &Attrs) -> (String, String) {
    match item_id {
        Some(id) => {
            let parts: Vec<&str> = id.split('/').collect();
            let instance = parts.get(3).copied().unwrap_or_default().to_string();
            (
                instance,
                parts.last().copied().unwrap_or_default().to_string(),
            )
        }
        None => (s(a, "instance").to_string(), s(a, "name").to_string()),
    }
}

pub(super) fn child_id(ctx: &Ctx, instance: &str, kind: &str, name: &str) -> String {
    format!(
        "projects/{}/instances/{instance}/{kind}/{name}",
        ctx.project
    )
}

/// Read children of instances: one list per instance asked about. `list` answers the
/// names present under an instance (none when the instance is gone).
pub(super) async fn read_children<F, Fut>(
    req: &ReadRequest,
    kind: &str,
    ctx: &Ctx,
    list: F,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<Vec<String>>, GaxError>>,
{
    let mut present: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for item in &req.items {
        let (instance, name) = child_of(item.id.as_deref(), &item.prior);
        if !present.contains_key(&instance) {
            let names = list(instance.clone())
                .await
                .map_err(|e| convert(&item.address, e))?
                .unwrap_or_default();
            present.insert(instance.clone(), names);
        }
        let outcome = if present[&instance].contains(&name) {
            let attrs = keep_write_only(
                &item.prior,
                Attrs::from([
                    (
                        "id".into(),
                        Value::str(child_id(ctx, &instance, kind, &name)),
                    ),
                    ("instance".into(), Value::str(&instance)),
                    ("name".into(), Value::str(&name)),
                ]),
            );
            ReadOutcome::Found {
                id: child_id(ctx, &instance, kind, &name).into(),
                attrs,
            }
        } else {
            ReadOutcome::Gone
        };
        out.insert(item.address.clone(), outcome);
    }
    Ok(out)
}

pub(crate) async fn read_databases(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    read_children(req, "databases", ctx, |instance| async move {
        match ctx
            .c
            .sql_databases
            .list()
            .set_project(&ctx.project)
            .set_instance(instance)
            .send()
            .await
        {
            Ok(l) => Ok(Some(l.items.into_iter().map(|d| d.name).collect())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    })
    .await
}

pub(crate) async fn create_database(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let (instance, name) = child_of(None, &req.attrs);
    let body: Database = serde_json::from_value(json!({
        "name": name, "instance": instance, "project": ctx.project,
    }))
    .map_err(|e| bad_body(&req.address, e))?;
    let sent = run(
        ctx,
        &req.address,
        "database",
        &req.progress,
        ctx.options.create_timeout,
        || {
            ctx.c
                .sql_databases
                .insert()
                .set_project(&ctx.project)
                .set_instance(&instance)
                .set_body(body.clone())
                .send()
        },
    )
    .await;
    match sent {
        Ok(()) => {}
        // A database of this name in this stack's instance: an interrupted run's.
        Err(ref e) if exists(e) => adopt::decide(
            &req.address,
            "database",
            &name,
            Existing::Ours,
            &req.progress,
        )?,
        Err(e) => return Err(e),
    }
    let id = child_id(ctx, &instance, "databases", &name);
    let mut attrs = req.attrs.clone();
    attrs.insert("id".into(), Value::str(&id));
    Ok(CreateResponse {
        id: id.into(),
        attrs,
    })
}

pub(crate) async fn delete_database(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let (instance, name) = child_of(Some(&req.id), &Attrs::new());
    match run(
        ctx,
        &req.address,
        "database",
        &req.progress,
        ctx.options.delete_timeout,
        || {
            ctx.c
                .sql_databases
                .delete()
                .set_project(&ctx.project)
                .set_instance(&instance)
                .set_database(&name)
                .send()
        },
    )
    .await
    {
        Ok(()) | Err(ProviderError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

pub(crate) async fn read_users(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    read_children(req, "users", ctx, |instance| async move {
        match ctx
            .c
            .sql_users
            .list()
            .set_project(&ctx.project)
            .set_instance(instance)
            .send()
            .await
        {
            Ok(l) => Ok(Some(l.items.into_iter().map(|u| u.name).collect())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    })
    .await
}

pub(super) fn password<'a>(address: &str, a: &'a Attrs) -> Result<&'a str, ProviderError> {
    match a.get("password") {
        Some(Value::Sensitive(v)) => v.expose().ok_or_else(|| ProviderError::Api {
            address: address.to_string(),
            code: "MissingSecret".into(),
            message: "the user's password is not known to this run".into(),
        }),
        _ => Err(ProviderError::Api {
            address: address.to_string(),
            code: "MissingSecret".into(),
            message: "no password".into(),
        }),
    }
}

pub(super) async fn set_password(
    ctx: &Ctx,
    address: &str,
    progress: &Progress,
    instance: &str,
    name: &str,
    a: &Attrs,
) -> Result<(), ProviderError> {
    let body: User =
        serde_json::from_value(json!({"name": name, "password": password(address, a)?}))
            .map_err(|e| bad_body(address, e))?;
    run(
        ctx,
        address,
        "database user",
        progress,
        ctx.options.create_timeout,
        || {
            ctx.c
                .sql_users
                .update()
                .set_project(&ctx.project)
                .set_instance(instance)
                .set_name(name)
                .set_body(body.clone())
                .send()
        },
    )
    .await
}

pub(crate) async fn create_user(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let (instance, name) = child_of(None, &req.attrs);
    let body: User = serde_json::from_value(json!({
        "name": name, "instance": instance, "project": ctx.project,
        "password": password(&req.address, &req.attrs)?,
    }))
    .map_err(|e| bad_body(&req.address, e))?;
    let sent = run(
        ctx,
        &req.address,
        "database user",
        &req.progress,
        ctx.options.create_timeout,
        || {
            ctx.c
                .sql_users
                .insert()
                .set_project(&ctx.project)
                .set_instance(&instance)
                .set_body(body.clone())
                .send()
        },
    )
    .await;
    match sent {
        Ok(()) => {}
        // This stack's instance already has the user (an interrupted run made it): it
        // gets this run's password, the one state will know.
        Err(ref e) if exists(e) => {
            adopt::decide(
                &req.address,
                "database user",
                &name,
                Existing::Ours,
                &req.progress,
            )?;
            set_password(
                ctx,
                &req.address,
                &req.progress,
                &instance,
                &name,
                &req.attrs,
            )
            .await?;
        }
        Err(e) => return Err(e),
    }
    let id = child_id(ctx, &instance, "users", &name);
    let mut attrs = req.attrs.clone();
    attrs.insert("id".into(), Value::str(&id));
    Ok(CreateResponse {
        id: id.into(),
        attrs,
    })
}

/// Only the password changes in place.
pub(crate) async fn update_user(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let (instance, name) = child_of(Some(&req.id), &req.attrs);
    set_password(
        ctx,
        &req.address,
        &req.progress,
        &instance,
        &name,
        &req.attrs,
    )
    .await?;
    let mut attrs = req.attrs.clone();
    attrs.insert("id".into(), Value::str(&req.id));
    Ok(UpdateResponse { attrs })
}

/// Databases have nothing cairn changes in place.
pub(crate) async fn update_database(
    _ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    Err(ProviderError::Api {
        address: req.address.to_string(),
        code: "NotUpdatable".into(),
        message: "a database changes only by replacement".into(),
    })
}

/// Cloud SQL makes this user with every PostgreSQL instance and it owns the instance's
/// objects: PostgreSQL will not drop it. A stack naming it as its admin sets its password;
/// deleting it releases it to its instance, which it goes with (as Terraform's `ABANDON`).
const BUILT_IN_USER: &str = "postgres";

pub(crate) async fn delete_user(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let (instance, name) = child_of(Some(&req.id), &Attrs::new());
    if name == BUILT_IN_USER {
        return Ok(());
    }
    match run(
        ctx,
        &req.address,
        "database user",
        &req.progress,
        ctx.options.delete_timeout,
        || {
            ctx.c
                .sql_users
                .delete()
                .set_project(&ctx.project)
                .set_instance(&instance)
                .set_name(&name)
                .send()
        },
    )
    .await
    {
        Ok(()) | Err(ProviderError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
