//! `gcp_sql_database_instance`: the instance, its settings as the API names them, and
//! adoption of an interrupted create under its token's name.

use super::*;

/// The settings cairn manages, as the API names them.
pub(super) fn settings(stack: &str, address: &str, token: Option<&str>, a: &Attrs) -> Json {
    let labels: serde_json::Map<String, Json> = crate::labels::marked(stack, address, token, a)
        .into_iter()
        .map(|(k, v)| (k, Json::String(v)))
        .collect();
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

pub(crate) fn instance_attrs(ctx: &Ctx, x: &DatabaseInstance) -> Attrs {
    let v = to_json(x);
    let st = &v["settings"];
    let name = v["name"].as_str().unwrap_or_default();
    let labels = crate::labels::user(&x.settings.clone().unwrap_or_default().user_labels);
    let flags: Attrs = st["databaseFlags"]
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
        ("labels".into(), labels),
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

pub(super) async fn get_instance(
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

/// The stack's instances, by label: one list call a page (those being deleted included).
pub(crate) async fn listed(
    ctx: &Ctx,
    stack: &str,
    what: &str,
) -> Result<Vec<DatabaseInstance>, ProviderError> {
    let filter = format!("settings.userLabels.cairn-stack:{}", label_value(stack));
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
            .map_err(|e| convert(what, e))?;
        // A server that hands back the token it was given would page forever.
        let stuck = page.items.is_empty() && page.next_page_token == token;
        listed.extend(page.items);
        if page.next_page_token.is_empty() || stuck {
            break;
        }
        token = page.next_page_token;
    }
    Ok(listed)
}

/// Batched: one list of the stack's instances (by label); an item without an id (a create
/// a crash interrupted) is the instance its token names; imported ones are got by name.
pub(crate) async fn read_instances(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let listed = listed(ctx, &req.stack, &req.type_name).await?;
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
            let labels = x.settings.as_ref().map(|st| st.user_labels.clone());
            let owner = crate::labels::owner(&req.stack, &req.address, &labels.unwrap_or_default());
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

pub(super) async fn wait_runnable(
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
