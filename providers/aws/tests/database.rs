//! Acceptance checks for RDS: subnet group, parameter group, instance (through its pending
//! states), with an in-place update, a forced replacement, out-of-band deletion and destroy.

use crate::support::Aws;
use cairn_core::plan::Action;
use cairn_core::prelude::*;

fn db_stack(retention: u32, encrypted: bool, size: Size) -> Stack {
    let mut s = Stack::new("acc-db");
    let vpc = s.add("main", Network::new("10.40.0.0/16").nat(NatMode::None));
    let a = s.add(
        "db-a",
        Subnet::new(&vpc, "10.40.1.0/24")
            .tier(Tier::Isolated)
            .zone(0),
    );
    let b = s.add(
        "db-b",
        Subnet::new(&vpc, "10.40.2.0/24")
            .tier(Tier::Isolated)
            .zone(1),
    );
    let sg = s.add(
        "db",
        SecurityGroup::new(&vpc, "database").ingress(Rule::tcp(5432).from_cidr("10.40.0.0/16")),
    );
    let pw = s.add("db-password", Secret::generated());
    let db = s.add(
        "orders",
        Database::postgres("15.4")
            .size(size)
            .storage_gb(100)
            .encrypted(encrypted)
            .high_availability(true)
            .backup_retention_days(retention)
            .backup_window("03:00-04:00")
            .maintenance_window("sun:04:30-sun:05:30")
            .database("orders")
            .admin_user("orders_admin")
            .admin_password(&pw)
            .parameter("log_min_duration_statement", "500")
            .subnets([&a, &b])
            .security_group(&sg),
    );
    s.output("endpoint", db.attr("endpoint"));
    s
}

fn instances(aws: &Aws) -> Vec<String> {
    let rds = aws_sdk_rds::Client::new(&aws.sdk);
    let out = aws.rt.block_on(rds.describe_db_instances().send()).unwrap();
    out.db_instances()
        .iter()
        .filter(|d| d.db_instance_status() != Some("deleting"))
        .map(|d| d.db_instance_identifier().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn database_lifecycle() {
    let aws = Aws::new();
    let engine = aws.engine("db.json");
    let stack = db_stack(7, true, Size::Medium);
    let plan = aws.converge(&engine, &stack);
    for t in [
        "aws_db_subnet_group",
        "aws_db_parameter_group",
        "aws_db_instance",
    ] {
        assert!(
            plan.changes
                .iter()
                .any(|c| c.type_name == t && c.action == Action::Create),
            "{t}"
        );
    }
    assert_eq!(instances(&aws), ["acc-db-orders"]);
    let state = engine.store().read().unwrap().unwrap();
    assert!(
        state.outputs["endpoint"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "the endpoint output is known after apply"
    );
    aws.assert_clean(&engine, &stack);
    aws.assert_import_matches(&engine, &stack, &["password"]);

    // In place: backups and instance class.
    let updated = db_stack(14, true, Size::Large);
    let plan = aws.plan(&engine, &updated);
    let inst = plan
        .changes
        .iter()
        .find(|c| c.address == "aws_db_instance.orders")
        .unwrap();
    assert_eq!(inst.action, Action::Update);
    let mut names: Vec<&str> = inst.changes.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["backup_retention_period", "instance_class"]);
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &updated);

    // Forced replacement: encryption at rest cannot change in place.
    let replaced = db_stack(14, false, Size::Large);
    let plan = aws.plan(&engine, &replaced);
    let inst = plan
        .changes
        .iter()
        .find(|c| c.address == "aws_db_instance.orders")
        .unwrap();
    assert_eq!(
        (inst.action, inst.replace_because.clone()),
        (Action::Replace, vec!["storage_encrypted".to_string()])
    );
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &replaced);

    // Deleted out of band -> recreated.
    let rds = aws_sdk_rds::Client::new(&aws.sdk);
    aws.rt
        .block_on(
            rds.delete_db_instance()
                .db_instance_identifier("acc-db-orders")
                .skip_final_snapshot(true)
                .send(),
        )
        .unwrap();
    aws.assert_recreated(&engine, &replaced, &["aws_db_instance.orders"]);

    // The parameter group too, once the instance using it is gone (RDS refuses before).
    aws.rt
        .block_on(
            rds.delete_db_instance()
                .db_instance_identifier("acc-db-orders")
                .skip_final_snapshot(true)
                .send(),
        )
        .unwrap();
    // The error code of deleting the parameter group now (None when it worked).
    let delete_group = || {
        aws.rt
            .block_on(
                rds.delete_db_parameter_group()
                    .db_parameter_group_name("acc-db-orders")
                    .send(),
            )
            .err()
            .map(|e| aws_sdk_rds::error::ProvideErrorMetadata::code(&e).map(str::to_string))
    };
    assert_eq!(
        delete_group(),
        Some(Some("InvalidDBParameterGroupState".to_string()))
    );
    std::thread::sleep(std::time::Duration::from_millis(400)); // past "deleting"
    assert_eq!(delete_group(), None);
    aws.assert_recreated(
        &engine,
        &replaced,
        &["aws_db_parameter_group.orders", "aws_db_instance.orders"],
    );

    aws.destroy(&engine, &replaced);
    assert!(instances(&aws).is_empty());
    let groups = aws
        .rt
        .block_on(rds.describe_db_subnet_groups().send())
        .unwrap();
    assert!(groups.db_subnet_groups().is_empty(), "subnet group deleted");
}
