//! Cloud SQL for PostgreSQL: instances, their databases and users.
//!
//! Instances carry labels (`settings.userLabels`), so ownership is in them. Their names are
//! not the mark: a deleted instance's name stays taken for up to a week, so every instance
//! is named `{prefix}-{6 hex}` from the create's token. A replacement therefore never waits
//! on its predecessor's name, and a create whose answer was lost is found again under the
//! name its token gives (and adopted when its labels are this stack's).
//!
//! Bodies are written and read in the API's JSON form (the typed models' serde), so the
//! attribute ↔ field mapping reads as the API documents it. Every change is a
//! `sql#operation`, waited on; databases and users live under their instance and are
//! listed per instance. A user's password is never returned: state keeps its digest.

use crate::compute::{last, s};
use crate::error::{convert, is_conflict, is_not_found, reason, GaxError};
use crate::Ctx;
use cairn_core::ownership::Ownership;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use cairn_provider_kit::adopt::{self, keep_write_only, Existing};
use cairn_provider_kit::ownership::{label_value, Encoding};
use cairn_provider_kit::retry::{delete_when_free, ErrorClass};
use cairn_provider_kit::wait::{self, Poll};
use google_cloud_sql_v1::model::{Database, DatabaseInstance, Operation, User};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::time::Duration;

fn bad_body(address: &str, e: serde_json::Error) -> ProviderError {
    ProviderError::Api {
        address: address.to_string(),
        code: "BadRequestBody".into(),
        message: format!("cairn built a Cloud SQL body its client refuses: {e}"),
    }
}

/// The API's JSON form of `x`, for its plain fields. Enums serialise as their protobuf
/// numbers: read those from the typed fields ([`state`] and the like).
fn to_json<T: serde::Serialize>(x: &T) -> Json {
    serde_json::to_value(x).unwrap_or(Json::Null)
}

fn state(x: &DatabaseInstance) -> String {
    x.state.name().unwrap_or_default().to_string()
}

fn int(a: &Attrs, k: &str) -> i64 {
    match a.get(k) {
        Some(Value::Int(n)) => *n,
        _ => 0,
    }
}

fn flag(a: &Attrs, k: &str) -> bool {
    matches!(a.get(k), Some(Value::Bool(true)))
}

/// A JSON int64 (a string on the wire, a number from some encoders).
fn json_int(v: &Json) -> i64 {
    match v {
        Json::String(s) => s.parse().unwrap_or_default(),
        Json::Number(n) => n.as_i64().unwrap_or_default(),
        _ => 0,
    }
}

/// The instance's name for a create's token: `{prefix}-{6 hex digits}`.
pub(crate) fn instance_name(prefix: &str, token: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in token.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{prefix}-{:06x}", h & 0xff_ffff)
}

// ---------------------------------------------------------------------------------------
// Operations

/// Wait until a Cloud SQL operation is DONE; one that ended in error is that error.
async fn done(
    ctx: &Ctx,
    address: &str,
    what: &str,
    progress: &Progress,
    op: Operation,
    timeout: Duration,
) -> Result<(), ProviderError> {
    let name = op.name.clone();
    let finished = wait::until(
        address,
        what,
        progress,
        timeout,
        ctx.options.first_poll,
        || async {
            let op = ctx
                .c
                .sql_operations
                .get()
                .set_project(&ctx.project)
                .set_operation(&name)
                .send()
                .await
                .map_err(|e| convert(address, e))?;
            Ok(match op.status.name() {
                Some("DONE") => Poll::Ready(op),
                Some(s) => Poll::Pending(s.to_string()),
                None => Poll::Pending("PENDING".into()),
            })
        },
    )
    .await?;
    match finished.error.as_ref().and_then(|e| e.errors.first()) {
        None => Ok(()),
        Some(e) => Err(ProviderError::Api {
            address: address.to_string(),
            code: e.code.clone(),
            message: e.message.clone(),
        }),
    }
}

/// An instance busy with another operation refuses a new one (409
/// `operationInProgress`): waited out. Any other 409 (a duplicate) is final.
fn busy(e: &GaxError) -> ErrorClass {
    let in_progress = reason(e).as_deref() == Some("operationInProgress")
        || e.status()
            .is_some_and(|s| s.message.contains("already in progress"));
    if is_not_found(e) {
        ErrorClass::NotFound
    } else if is_conflict(e) && in_progress {
        ErrorClass::InUse
    } else {
        ErrorClass::Other
    }
}

/// A create met a child of this name already there.
fn exists(e: &ProviderError) -> bool {
    match e {
        ProviderError::Api { code, message, .. } => {
            code.contains("lreadyExists") || message.contains("already exists")
        }
        _ => false,
    }
}

/// Send `call` (retried while the instance is busy with another operation) and wait on
/// the operation it answers.
async fn run<F, Fut>(
    ctx: &Ctx,
    address: &str,
    what: &str,
    progress: &Progress,
    timeout: Duration,
    call: F,
) -> Result<(), ProviderError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Operation, GaxError>>,
{
    let started = std::sync::Mutex::new(None);
    delete_when_free(progress, timeout, busy, || async {
        let op = call().await?;
        *started.lock().unwrap_or_else(|p| p.into_inner()) = Some(op);
        Ok(())
    })
    .await
    .map_err(|e| convert(address, e))?;
    match started.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(op) => done(ctx, address, what, progress, op, timeout).await,
        None => Err(ProviderError::NotFound {
            address: address.to_string(),
        }),
    }
}

// ---------------------------------------------------------------------------------------
// gcp_sql_database_instance

/// The settings cairn manages, as the API names them.
fn settings(stack: &str, address: &str, token: Option<&str>, a: &Attrs) -> Json {
    let mut labels: serde_json::Map<String, Json> = Encoding::Labels
        .marks(&Ownership {
            stack,
            address,
            token,
        })
        .into_iter()
        .map(|(k, v)| (k, Json::String(v)))
        .collect();
    if let Some(Value::Map(m)) = a.get("labels") {
        for (k, v) in m {
            labels.insert(k.to_string(), json!(v.as_str().unwrap_or_default()));
        }
    }
    let flags: Vec<Json> = match a.get("flags") {
        Some(Value::Map(m)) => m
            .iter()
            .map(|(k, v)| json!({"name": k.as_str(), "value": v.as_str().unwrap_or_default()}))
            .collect(),
        _ => Vec::new(),
    };
    let retained = int(a, "backup_retained");
    let mut backup = json!({
        "enabled": retained > 0,
        "pointInTimeRecoveryEnabled": retained > 0,
        "transactionLogRetentionDays": retained.clamp(1, 7),
        "backupRetentionSettings": {"retentionUnit": "COUNT", "retainedBackups": retained.max(1)},
    });
    if !s(a, "backup_start_time").is_empty() {
        backup["startTime"] = json!(s(a, "backup_start_time"));
    }
    let mut out = json!({
        "tier": s(a, "tier"),
        "edition": s(a, "edition"),
        "availabilityType": s(a, "availability_type"),
        "dataDiskSizeGb": int(a, "disk_size_gb").to_string(),
        "dataDiskType": s(a, "disk_type"),
        "storageAutoResize": false,
        "backupConfiguration": backup,
        "ipConfiguration": {
            "ipv4Enabled": false,
            "privateNetwork": s(a, "private_network"),
            "allocatedIpRange": s(a, "allocated_ip_range"),
        },
        "databaseFlags": flags,
        "deletionProtectionEnabled": flag(a, "deletion_protection"),
        "userLabels": labels,
    });
    if int(a, "maintenance_day") > 0 {
        out["maintenanceWindow"] =
            json!({"day": int(a, "maintenance_day"), "hour": int(a, "maintenance_hour")});
    }
    out
}

fn instance_attrs(ctx: &Ctx, x: &DatabaseInstance) -> Attrs {
    let v = to_json(x);
    let st = &v["settings"];
    let name = v["name"].as_str().unwrap_or_default();
    let labels: BTreeMap<Text, Value> = st["userLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !cairn_core::ownership::is_reserved_key(k))
        .map(|(k, v)| {
            (
                Text::from(k.as_str()),
                Value::str(v.as_str().unwrap_or_default()),
            )
        })
        .collect();
    let flags: BTreeMap<Text, Value> = st["databaseFlags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                Text::from(f["name"].as_str().unwrap_or_default()),
                Value::str(f["value"].as_str().unwrap_or_default()),
            )
        })
        .collect();
    let backup = &st["backupConfiguration"];
    let retained = if backup["enabled"].as_bool().unwrap_or(false) {
        json_int(&backup["backupRetentionSettings"]["retainedBackups"])
    } else {
        0
    };
    let private_ip = x
        .ip_addresses
        .iter()
        .find(|m| m.r#type.name() == Some("PRIVATE"))
        .map(|m| m.ip_address.as_str())
        .unwrap_or_default();
    let typed = x.settings.clone().unwrap_or_default();
    let prefix = name.rsplit_once('-').map_or(name, |(p, _)| p);
    let mut a = Attrs::from([
        (
            "id".into(),
            Value::str(format!("projects/{}/instances/{name}", ctx.project)),
        ),
        ("name".into(), Value::str(name)),
        ("name_prefix".into(), Value::str(prefix)),
        (
            "region".into(),
            Value::str(v["region"].as_str().unwrap_or_default()),
        ),
        (
            "database_version".into(),
            Value::str(x.database_version.name().unwrap_or_default()),
        ),
        (
            "tier".into(),
            Value::str(st["tier"].as_str().unwrap_or_default()),
        ),
        (
            "edition".into(),
            Value::str(typed.edition.name().unwrap_or_default()),
        ),
        (
            "availability_type".into(),
            Value::str(typed.availability_type.name().unwrap_or_default()),
        ),
        (
            "disk_size_gb".into(),
            Value::Int(json_int(&st["dataDiskSizeGb"])),
        ),
        (
            "disk_type".into(),
            Value::str(typed.data_disk_type.name().unwrap_or_default()),
        ),
        ("backup_retained".into(), Value::Int(retained)),
        (
            "backup_start_time".into(),
            Value::str(backup["startTime"].as_str().unwrap_or_default()),
        ),
        (
            "maintenance_day".into(),
            Value::Int(json_int(&st["maintenanceWindow"]["day"])),
        ),
        (
            "maintenance_hour".into(),
            Value::Int(json_int(&st["maintenanceWindow"]["hour"])),
        ),
        (
            "deletion_protection".into(),
            Value::Bool(st["deletionProtectionEnabled"].as_bool().unwrap_or(false)),
        ),
        (
            "private_network".into(),
            Value::str(
                st["ipConfiguration"]["privateNetwork"]
                    .as_str()
                    .unwrap_or_default(),
            ),
        ),
        (
            "allocated_ip_range".into(),
            Value::str(
                st["ipConfiguration"]["allocatedIpRange"]
                    .as_str()
                    .unwrap_or_default(),
            ),
        ),
        ("flags".into(), Value::Map(flags)),
        ("labels".into(), Value::Map(labels)),
        ("private_ip".into(), Value::str(private_ip)),
        (
            "connection_name".into(),
            Value::str(v["connectionName"].as_str().unwrap_or_default()),
        ),
        ("state".into(), Value::str(state(x))),
    ]);
    if backup["startTime"].is_null() {
        a.insert("backup_start_time".into(), Value::str(""));
    }
    a
}

async fn get_instance(
    ctx: &Ctx,
    address: &str,
    name: &str,
) -> Result<Option<DatabaseInstance>, ProviderError> {
    match ctx
        .c
        .sql_instances
        .get()
        .set_project(&ctx.project)
        .set_instance(name)
        .send()
        .await
    {
        Ok(x) => Ok(Some(x)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(convert(address, e)),
    }
}

/// Batched: one list of the stack's instances (by label); an item without an id (a create
/// a crash interrupted) is the instance its token names; imported ones are got by name.
pub(crate) async fn read_instances(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let filter = format!(
        "settings.userLabels.cairn-stack:{}",
        label_value(&req.stack)
    );
    let mut listed: Vec<DatabaseInstance> = Vec::new();
    let mut token = String::new();
    loop {
        let page = ctx
            .c
            .sql_instances
            .list()
            .set_project(&ctx.project)
            .set_filter(&filter)
            .set_page_token(&token)
            .send()
            .await
            .map_err(|e| convert(&req.type_name, e))?;
        // A server that hands back the token it was given would page forever.
        let stuck = page.items.is_empty() && page.next_page_token == token;
        listed.extend(page.items);
        if page.next_page_token.is_empty() || stuck {
            break;
        }
        token = page.next_page_token;
    }
    let mut out = BTreeMap::new();
    for item in &req.items {
        let name = match (&item.id, &item.token) {
            (Some(id), _) => last(id).to_string(),
            (None, Some(t)) => instance_name(s(&item.prior, "name_prefix"), t),
            (None, None) => String::new(),
        };
        let found = match listed.iter().find(|x| x.name == name) {
            Some(x) => Some(x.clone()),
            None if item.id.is_some() => get_instance(ctx, &item.address, &name).await?,
            None => None,
        };
        let outcome = match found {
            // An instance being deleted is gone for cairn's purposes.
            Some(x) if state(&x) != "PENDING_DELETE" => {
                let attrs = instance_attrs(ctx, &x);
                ReadOutcome::Found {
                    id: s(&attrs, "id").into(),
                    attrs,
                }
            }
            _ => ReadOutcome::Gone,
        };
        out.insert(item.address.clone(), outcome);
    }
    Ok(out)
}

pub(crate) async fn create_instance(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let name = instance_name(s(a, "name_prefix"), &req.token);
    let body: DatabaseInstance = serde_json::from_value(json!({
        "name": name,
        "region": s(a, "region"),
        "databaseVersion": s(a, "database_version"),
        "settings": settings(&req.stack, &req.address, Some(&req.token), a),
    }))
    .map_err(|e| bad_body(&req.address, e))?;
    let sent = ctx
        .c
        .sql_instances
        .insert()
        .set_project(&ctx.project)
        .set_body(body)
        .send()
        .await;
    match sent {
        Ok(op) => {
            done(
                ctx,
                &req.address,
                "Cloud SQL instance",
                &req.progress,
                op,
                ctx.options.create_timeout,
            )
            .await?
        }
        // Its token's name is taken: this run's create, sent by a run that died. Adopted
        // when its labels are this stack's, then waited on until it runs.
        Err(e) if is_conflict(&e) => {
            let x = get_instance(ctx, &req.address, &name).await?.ok_or_else(|| {
                ProviderError::Api {
                    address: req.address.to_string(),
                    code: "AlreadyExists".into(),
                    message: format!(
                        "the Cloud SQL name {name} is taken by an instance deleted recently (Cloud SQL keeps names for up to a week)"
                    ),
                }
            })?;
            let owner = Encoding::Labels.owner(
                &req.stack,
                &req.address,
                x.settings
                    .as_ref()
                    .into_iter()
                    .flat_map(|st| st.user_labels.iter())
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            );
            adopt::decide(
                &req.address,
                "Cloud SQL instance",
                &name,
                owner.into(),
                &req.progress,
            )?;
            wait_runnable(ctx, &req.address, &req.progress, &name).await?;
        }
        Err(e) => return Err(convert(&req.address, e)),
    }
    let x = get_instance(ctx, &req.address, &name)
        .await?
        .ok_or_else(|| ProviderError::Indeterminate {
            address: req.address.to_string(),
            message: format!("Cloud SQL instance {name} was created but cannot be read"),
        })?;
    let attrs = instance_attrs(ctx, &x);
    Ok(CreateResponse {
        id: s(&attrs, "id").into(),
        attrs,
    })
}

async fn wait_runnable(
    ctx: &Ctx,
    address: &str,
    progress: &Progress,
    name: &str,
) -> Result<(), ProviderError> {
    wait::until(
        address,
        "Cloud SQL instance",
        progress,
        ctx.options.create_timeout,
        ctx.options.first_poll,
        || async {
            let x = get_instance(ctx, address, name).await?;
            Ok(match x.map(|x| state(&x)) {
                Some(state) if state == "RUNNABLE" => Poll::Ready(()),
                Some(state) if state == "FAILED" || state == "PENDING_DELETE" => {
                    Poll::Failed(state)
                }
                Some(state) => Poll::Pending(state),
                None => Poll::Failed("deleted".into()),
            })
        },
    )
    .await
}

/// Settings change in place (a patch merges them); the labels' marks are kept.
pub(crate) async fn update_instance(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let name = last(&req.id).to_string();
    let body: DatabaseInstance = serde_json::from_value(
        json!({"settings": settings(&req.stack, &req.address, None, &req.attrs)}),
    )
    .map_err(|e| bad_body(&req.address, e))?;
    run(
        ctx,
        &req.address,
        "Cloud SQL instance",
        &req.progress,
        ctx.options.create_timeout,
        || {
            ctx.c
                .sql_instances
                .patch()
                .set_project(&ctx.project)
                .set_instance(&name)
                .set_body(body.clone())
                .send()
        },
    )
    .await?;
    let x = get_instance(ctx, &req.address, &name)
        .await?
        .ok_or_else(|| ProviderError::NotFound {
            address: req.address.to_string(),
        })?;
    Ok(UpdateResponse {
        attrs: instance_attrs(ctx, &x),
    })
}

pub(crate) async fn delete_instance(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let name = last(&req.id).to_string();
    match run(
        ctx,
        &req.address,
        "Cloud SQL instance",
        &req.progress,
        ctx.options.delete_timeout,
        || {
            ctx.c
                .sql_instances
                .delete()
                .set_project(&ctx.project)
                .set_instance(&name)
                .send()
        },
    )
    .await
    {
        Ok(()) | Err(ProviderError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------------------------------
// gcp_sql_database and gcp_sql_user: children of an instance, listed per instance.

/// `(instance, child name)` of an item: from its id (`projects/P/instances/I/{kind}/N`) or
/// its declared attributes.
fn child_of(item_id: Option<&str>, a: &Attrs) -> (String, String) {
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

fn child_id(ctx: &Ctx, instance: &str, kind: &str, name: &str) -> String {
    format!(
        "projects/{}/instances/{instance}/{kind}/{name}",
        ctx.project
    )
}

/// Read children of instances: one list per instance asked about. `list` answers the
/// names present under an instance (none when the instance is gone).
async fn read_children<F, Fut>(
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

fn password<'a>(address: &str, a: &'a Attrs) -> Result<&'a str, ProviderError> {
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

async fn set_password(
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

pub(crate) async fn delete_user(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let (instance, name) = child_of(Some(&req.id), &Attrs::new());
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
