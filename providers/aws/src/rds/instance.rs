//! PostgreSQL instances: create and modify wait for `available`, delete for the instance to
//! go; a create waits out an instance of the same name that is still being deleted.

use super::*;
use cairn_provider_kit::names;

// ---------------------------------------------------------------------------------------
// DB instance

pub(super) async fn instance_status(
    ctx: &Ctx,
    address: &str,
    id: &str,
) -> Result<Option<(String, Attrs)>, ProviderError> {
    match ctx
        .c
        .rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_instances().first().map(|d| {
            (
                d.db_instance_status().unwrap_or_default().to_string(),
                instance_attrs(d),
            )
        })),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(convert(address, e)),
    }
}

async fn wait_available(
    ctx: &Ctx,
    address: &str,
    id: &str,
    progress: &Progress,
) -> Result<Attrs, ProviderError> {
    wait::until(
        address,
        "DB instance",
        progress,
        ctx.options.create_timeout,
        Duration::from_millis(250),
        || async {
            Ok(match instance_status(ctx, address, id).await? {
                Some((status, attrs)) if status == "available" => Poll::Ready(attrs),
                Some((status, _))
                    if matches!(
                        status.as_str(),
                        "failed"
                            | "incompatible-parameters"
                            | "incompatible-network"
                            | "storage-full"
                    ) =>
                {
                    Poll::Failed(status)
                }
                Some((status, _)) => Poll::Pending(status),
                None => Poll::Failed("the instance disappeared".into()),
            })
        },
    )
    .await
}

fn instance_attrs(d: &aws_sdk_rds::types::DbInstance) -> Attrs {
    let mut a = Attrs::new();
    let id = d.db_instance_identifier().unwrap_or_default();
    a.insert("id".into(), Value::str(id));
    a.insert("identifier".into(), Value::str(id));
    a.insert(
        "arn".into(),
        Value::str(d.db_instance_arn().unwrap_or_default()),
    );
    a.insert("engine".into(), Value::str(d.engine().unwrap_or_default()));
    a.insert(
        "engine_version".into(),
        Value::str(d.engine_version().unwrap_or_default()),
    );
    a.insert(
        "instance_class".into(),
        Value::str(d.db_instance_class().unwrap_or_default()),
    );
    a.insert(
        "allocated_storage".into(),
        Value::Int(i64::from(d.allocated_storage().unwrap_or(0))),
    );
    a.insert(
        "storage_type".into(),
        Value::str(d.storage_type().unwrap_or_default()),
    );
    a.insert(
        "storage_encrypted".into(),
        Value::Bool(d.storage_encrypted().unwrap_or(false)),
    );
    a.insert(
        "multi_az".into(),
        Value::Bool(d.multi_az().unwrap_or(false)),
    );
    a.insert(
        "backup_retention_period".into(),
        Value::Int(i64::from(d.backup_retention_period().unwrap_or(0))),
    );
    if let Some(w) = d.preferred_backup_window() {
        a.insert("preferred_backup_window".into(), Value::str(w));
    }
    if let Some(w) = d.preferred_maintenance_window() {
        a.insert(
            "preferred_maintenance_window".into(),
            Value::str(w.to_ascii_lowercase()),
        );
    }
    a.insert(
        "deletion_protection".into(),
        Value::Bool(d.deletion_protection().unwrap_or(false)),
    );
    a.insert(
        "username".into(),
        Value::str(d.master_username().unwrap_or_default()),
    );
    if let Some(n) = d.db_name() {
        a.insert("db_name".into(), Value::str(n));
    }
    a.insert(
        "db_subnet_group_name".into(),
        Value::str(
            d.db_subnet_group()
                .and_then(|g| g.db_subnet_group_name())
                .unwrap_or_default(),
        ),
    );
    let groups: Vec<String> = d
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
        .collect();
    a.insert(
        "vpc_security_group_ids".into(),
        Value::List(groups.iter().map(Value::str).collect()),
    );
    if let Some(pg) = d
        .db_parameter_groups()
        .first()
        .and_then(|p| p.db_parameter_group_name())
        .filter(|n| !n.starts_with("default."))
    {
        a.insert("parameter_group_name".into(), Value::str(pg));
    }
    if let Some(e) = d.endpoint() {
        a.insert(
            "endpoint".into(),
            Value::str(e.address().unwrap_or_default()),
        );
        a.insert(
            "port".into(),
            Value::Int(i64::from(e.port().unwrap_or(5432))),
        );
    }
    a.insert(
        "status".into(),
        Value::str(d.db_instance_status().unwrap_or_default()),
    );
    if let Some(arn) = d.master_user_secret().and_then(|m| m.secret_arn()) {
        a.insert("manage_master_user_password".into(), Value::Bool(true));
        a.insert("master_user_secret_arn".into(), Value::str(arn));
    }
    user_tags(&mut a, d.tag_list());
    a
}

/// What cairn recorded for an instance: the read attributes plus the write-only password.
fn recorded(mut read: Attrs, desired: &Attrs) -> Attrs {
    // A version asked for as a major (`15`) is met by any of its minors: RDS picks the
    // minor and patches it, which is no change of the declaration.
    if let (Some(want), Some(have)) = (
        desired.get("engine_version").and_then(Value::as_str),
        read.get("engine_version").and_then(Value::as_str),
    ) {
        if !want.contains('.') && have.strip_prefix(want).is_some_and(|m| m.starts_with('.')) {
            read.insert("engine_version".into(), Value::str(want));
        }
    }
    if let Some(p) = desired.get("password") {
        read.insert("password".into(), p.clone());
    }
    if let Some(v) = desired.get("vpc_security_group_ids") {
        let actual = read
            .get("vpc_security_group_ids")
            .and_then(Value::as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect();
        read.insert(
            "vpc_security_group_ids".into(),
            crate::ec2::order_like(Some(v), actual),
        );
    }
    read
}

pub(crate) async fn create_instance(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let id = s(a, "identifier").to_string();
    let mut call = ctx
        .c
        .rds
        .create_db_instance()
        .db_instance_identifier(&id)
        .engine(s(a, "engine"))
        .engine_version(s(a, "engine_version"))
        .db_instance_class(s(a, "instance_class"))
        .set_allocated_storage(int(a, "allocated_storage"))
        .storage_type(s(a, "storage_type"))
        .storage_encrypted(
            a.get("storage_encrypted")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        )
        .multi_az(a.get("multi_az").and_then(Value::as_bool).unwrap_or(false))
        .set_backup_retention_period(int(a, "backup_retention_period"))
        .deletion_protection(
            a.get("deletion_protection")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        )
        .master_username(s(a, "username"))
        .db_subnet_group_name(s(a, "db_subnet_group_name"))
        .set_vpc_security_group_ids(Some(list(a, "vpc_security_group_ids")))
        .publicly_accessible(false)
        .set_tags(Some(tags(&req.stack, &req.address, a)));
    call = if flag(a, "manage_master_user_password") {
        call.manage_master_user_password(true)
    } else {
        call.master_user_password(secret(&req.address, a, "password")?)
    };
    if let Some(w) = a.get("preferred_backup_window").and_then(Value::as_str) {
        call = call.preferred_backup_window(w);
    }
    if let Some(w) = a
        .get("preferred_maintenance_window")
        .and_then(Value::as_str)
    {
        call = call.preferred_maintenance_window(w);
    }
    if let Some(n) = a.get("db_name").and_then(Value::as_str) {
        call = call.db_name(n);
    }
    if let Some(pg) = a.get("parameter_group_name").and_then(Value::as_str) {
        call = call.db_parameter_group_name(pg);
    }
    let (id_ref, call_ref) = (&id, &call);
    let holder = names::create_under_name(
        move || async move {
            match call_ref.clone().send().await {
                Ok(_) => Ok(()),
                Err(e) if crate::error::code(&e).as_deref() == Some("DBInstanceAlreadyExists") => {
                    Err(names::Refusal::NameTaken(convert(&req.address, e)))
                }
                Err(e) => Err(names::Refusal::Failed(convert(&req.address, e))),
            }
        },
        move || async move {
            Ok(match instance_status(ctx, &req.address, id_ref).await? {
                Some((status, _)) if status == "deleting" => names::Holder::Deleting,
                Some((_, attrs)) => names::Holder::Present(attrs),
                None => names::Holder::Nobody,
            })
        },
        // A replacement, or an instance deleted by hand: its identifier frees when it is gone.
        move || async move {
            req.progress
                .report("waiting for the previous instance of this name to be deleted");
            wait_gone(ctx, &req.address, id_ref, &req.progress).await
        },
    )
    .await?;
    // Made by an interrupted run of this stack: adopt it, once available.
    if let Some(attrs) = holder {
        super::adopt_tagged(ctx, req, "DB instance", s(&attrs, "arn")).await?;
    }
    let read = wait_available(ctx, &req.address, &id, &req.progress).await?;
    Ok(CreateResponse {
        id: id.into(),
        attrs: recorded(read, a),
    })
}

pub(crate) async fn read_instances(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut by_id = BTreeMap::new();
    let mut by_address = BTreeMap::new();
    let mut pages = ctx.c.rds.describe_db_instances().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| convert(&req.type_name, e))?;
        for d in page.db_instances() {
            if d.db_instance_status() == Some("deleting") {
                continue;
            }
            let id = d.db_instance_identifier().unwrap_or_default().to_string();
            if let Some(addr) = resource_tag(d.tag_list()) {
                by_address.insert(addr.to_string(), id.clone());
            }
            by_id.insert(id, instance_attrs(d));
        }
    }
    let mut results = match_items(req, by_id, by_address);
    for i in &req.items {
        if let Some(ReadOutcome::Found { attrs, .. }) = results.get_mut(&i.address) {
            let read = std::mem::take(attrs);
            *attrs = recorded(read, &i.prior);
        }
    }
    Ok(results)
}

pub(crate) async fn update_instance(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    let changed = |k: &str| req.changed.iter().any(|c| c == k);
    let mut call = ctx
        .c
        .rds
        .modify_db_instance()
        .db_instance_identifier(req.id.as_str())
        .apply_immediately(true);
    let mut any = false;
    if changed("engine_version") {
        call = call
            .engine_version(s(a, "engine_version"))
            .allow_major_version_upgrade(true);
        any = true;
    }
    if changed("instance_class") {
        call = call.db_instance_class(s(a, "instance_class"));
        any = true;
    }
    if changed("allocated_storage") {
        call = call.set_allocated_storage(int(a, "allocated_storage"));
        any = true;
    }
    if changed("storage_type") {
        call = call.storage_type(s(a, "storage_type"));
        any = true;
    }
    if changed("multi_az") {
        call = call.multi_az(a.get("multi_az").and_then(Value::as_bool).unwrap_or(false));
        any = true;
    }
    if changed("backup_retention_period") {
        call = call.set_backup_retention_period(int(a, "backup_retention_period"));
        any = true;
    }
    if changed("preferred_backup_window") {
        call = call.preferred_backup_window(s(a, "preferred_backup_window"));
        any = true;
    }
    if changed("preferred_maintenance_window") {
        call = call.preferred_maintenance_window(s(a, "preferred_maintenance_window"));
        any = true;
    }
    if changed("deletion_protection") {
        call = call.deletion_protection(
            a.get("deletion_protection")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        );
        any = true;
    }
    if changed("manage_master_user_password") {
        let managed = flag(a, "manage_master_user_password");
        call = call.manage_master_user_password(managed);
        // Taking the password back from RDS needs the new password in the same call.
        if !managed {
            call = call.master_user_password(secret(&req.address, a, "password")?);
        }
        any = true;
    }
    if changed("password") && !flag(a, "manage_master_user_password") {
        call = call.master_user_password(secret(&req.address, a, "password")?);
        any = true;
    }
    if changed("vpc_security_group_ids") {
        call = call.set_vpc_security_group_ids(Some(list(a, "vpc_security_group_ids")));
        any = true;
    }
    if changed("parameter_group_name") {
        call = call.db_parameter_group_name(s(a, "parameter_group_name"));
        any = true;
    }
    if any {
        call.send().await.map_err(|e| convert(&req.address, e))?;
    }
    if changed("tags") {
        sync_tags(ctx, &req.address, s(&req.prior, "arn"), &req.prior, a).await?;
    }
    let read = wait_available(ctx, &req.address, &req.id, &req.progress).await?;
    let mut attrs = recorded(read, a);
    if !changed("password") {
        if let Some(p) = req.prior.get("password") {
            attrs.insert("password".into(), p.clone());
        }
    }
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete_instance(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    match ctx
        .c
        .rds
        .delete_db_instance()
        .db_instance_identifier(req.id.as_str())
        .skip_final_snapshot(true)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(convert(&req.address, e)),
    }
    wait_gone(ctx, &req.address, &req.id, &req.progress).await
}

async fn wait_gone(
    ctx: &Ctx,
    address: &str,
    id: &str,
    progress: &Progress,
) -> Result<(), ProviderError> {
    wait::until_gone(
        address,
        "DB instance deletion",
        progress,
        ctx.options.delete_timeout,
        || async { Ok(instance_status(ctx, address, id).await?.map(|(st, _)| st)) },
    )
    .await
}
