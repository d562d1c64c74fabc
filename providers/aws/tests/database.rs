//! Acceptance checks for RDS: subnet group, parameter group, instance (through its pending
//! states) and a logical database inside it (over PostgreSQL, against the emulator's real
//! server), with in-place updates, forced replacements, out-of-band deletion and destroy.

use crate::support::Aws;
use cairn_core::plan::Action;
use cairn_core::prelude::*;
use cairn_core::Engine;

/// The instance `acc-db-orders` with the databases `orders` and, when `audit`, `orders_audit`;
/// its admin password comes from the secret named `password`.
#[derive(Clone, Copy)]
struct Db {
    retention: u32,
    encrypted: bool,
    size: Size,
    password: &'static str,
    audit: bool,
}

const FIRST: Db = Db {
    retention: 7,
    encrypted: true,
    size: Size::Medium,
    password: "db-password",
    audit: true,
};

fn db_stack(db: Db) -> Stack {
    let Db {
        retention,
        encrypted,
        size,
        password,
        audit,
    } = db;
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
    let pw = s.add(password, Secret::generated());
    let mut db = Database::postgres("15")
        .size(size)
        .storage_gb(100)
        .encrypted(encrypted)
        .high_availability(true)
        .backup_retention_days(retention)
        .backup_window(Window::daily(3))
        .maintenance_window(Window::weekly(Weekday::Sun, 5).hours(2))
        .database("orders")
        .admin_user("orders_admin")
        .admin_password(&pw)
        .parameter("log_min_duration_statement", "500")
        .subnets([&a, &b])
        .security_group(&sg);
    if audit {
        db = db.database("orders_audit");
    }
    let db = s.add("orders", db);
    s.output("endpoint", db.attr("endpoint"));
    s
}

const AUDIT: &str = "aws_postgres_database.orders-orders-audit";

/// Run `sql` on the instance as its admin, with the password in the stack's `secret`, the
/// way an operator would; the first column of each row returned.
fn admin_sql(aws: &Aws, engine: &Engine, secret: &str, sql: &str) -> Vec<String> {
    let state = engine.store().read().unwrap().unwrap();
    let arn = state.resources[format!("aws_secretsmanager_secret.{secret}").as_str()]
        .id
        .to_string();
    let sm = aws_sdk_secretsmanager::Client::new(&aws.sdk);
    let rds = aws_sdk_rds::Client::new(&aws.sdk);
    aws.rt.block_on(async {
        let password = sm.get_secret_value().secret_id(arn).send().await.unwrap();
        let out = rds
            .describe_db_instances()
            .db_instance_identifier("acc-db-orders")
            .send()
            .await
            .unwrap();
        let endpoint = out.db_instances()[0].endpoint().unwrap();
        let (client, connection) = tokio_postgres::Config::new()
            .host(endpoint.address().unwrap())
            .port(u16::try_from(endpoint.port().unwrap()).unwrap())
            .user("orders_admin")
            .password(password.secret_string().unwrap())
            .dbname("postgres")
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .simple_query(sql)
            .await
            .unwrap()
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            })
            .collect()
    })
}

/// The `orders*` databases on the instance, as PostgreSQL itself lists them (RDS has no API
/// for them).
fn databases(aws: &Aws, engine: &Engine, secret: &str) -> Vec<String> {
    admin_sql(
        aws,
        engine,
        secret,
        "SELECT datname FROM pg_database WHERE datname LIKE 'orders%' ORDER BY 1",
    )
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
    let stack = db_stack(FIRST);
    let plan = aws.converge(&engine, &stack);
    for t in [
        "aws_db_subnet_group",
        "aws_db_parameter_group",
        "aws_db_instance",
        "aws_postgres_database",
    ] {
        assert!(
            plan.changes
                .iter()
                .any(|c| c.type_name == t && c.action == Action::Create),
            "{t}"
        );
    }
    assert_eq!(instances(&aws), ["acc-db-orders"]);
    let windows = aws.rt.block_on(async {
        let out = aws_sdk_rds::Client::new(&aws.sdk)
            .describe_db_instances()
            .db_instance_identifier("acc-db-orders")
            .send()
            .await
            .unwrap();
        let d = &out.db_instances()[0];
        (
            d.preferred_backup_window().unwrap_or_default().to_string(),
            d.preferred_maintenance_window()
                .unwrap_or_default()
                .to_string(),
            d.engine_version().unwrap_or_default().to_string(),
        )
    });
    assert_eq!(
        (windows.0.as_str(), windows.1.as_str()),
        ("03:00-04:00", "sun:05:00-sun:07:00"),
        "portable windows as RDS writes them"
    );
    // Asked for as `15`, RDS answers with the minor it picked; `assert_clean` below holds
    // the plan empty all the same.
    assert!(windows.2.starts_with("15."), "{}", windows.2);
    assert_eq!(
        databases(&aws, &engine, "db-password"),
        ["orders", "orders_audit"]
    );
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
    let updated = db_stack(Db {
        retention: 14,
        size: Size::Large,
        ..FIRST
    });
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

    // In place: the admin password moves to a new secret; the instance takes the new
    // password and the database connects with it from then on.
    let rotated = db_stack(Db {
        retention: 14,
        size: Size::Large,
        password: "db-password-2",
        ..FIRST
    });
    let plan = aws.plan(&engine, &rotated);
    let action = |address: &str| plan.changes.iter().find(|c| c.address == address).unwrap();
    assert_eq!(action("aws_db_instance.orders").action, Action::Update);
    let audit = action(AUDIT);
    assert_eq!(
        (audit.action, audit.changes[0].name.as_str()),
        (Action::Update, "password_secret_arn")
    );
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &rotated);
    assert_eq!(
        databases(&aws, &engine, "db-password-2"),
        ["orders", "orders_audit"]
    );

    // Forced replacement: encryption at rest cannot change in place, and a new instance
    // starts without the old one's databases, so the database is replaced with it.
    let replaced = db_stack(replaced_params());
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
    let audit = plan.changes.iter().find(|c| c.address == AUDIT).unwrap();
    assert_eq!(audit.action, Action::Replace);
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &replaced);
    assert_eq!(
        databases(&aws, &engine, "db-password-2"),
        ["orders", "orders_audit"]
    );

    // Deleted out of band -> recreated: the instance, and with it its databases.
    let rds = aws_sdk_rds::Client::new(&aws.sdk);
    aws.rt
        .block_on(
            rds.delete_db_instance()
                .db_instance_identifier("acc-db-orders")
                .skip_final_snapshot(true)
                .send(),
        )
        .unwrap();
    aws.assert_recreated(&engine, &replaced, &["aws_db_instance.orders", AUDIT]);

    // A database dropped by hand is created again.
    admin_sql(&aws, &engine, "db-password-2", "DROP DATABASE orders_audit");
    assert_eq!(databases(&aws, &engine, "db-password-2"), ["orders"]);
    aws.assert_recreated(&engine, &replaced, &[AUDIT]);
    assert_eq!(
        databases(&aws, &engine, "db-password-2"),
        ["orders", "orders_audit"]
    );

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
        &[
            "aws_db_parameter_group.orders",
            "aws_db_instance.orders",
            AUDIT,
        ],
    );

    // No longer declared: the database is dropped, the instance and its first database stay.
    let without = db_stack(Db {
        audit: false,
        ..replaced_params()
    });
    let plan = aws.plan(&engine, &without);
    let audit = plan.changes.iter().find(|c| c.address == AUDIT).unwrap();
    assert_eq!(audit.action, Action::Delete);
    assert_eq!(plan.summary.destroy, 1, "only the database goes");
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &without);
    assert_eq!(databases(&aws, &engine, "db-password-2"), ["orders"]);

    aws.destroy(&engine, &without);
    assert!(instances(&aws).is_empty());
    let groups = aws
        .rt
        .block_on(rds.describe_db_subnet_groups().send())
        .unwrap();
    assert!(groups.db_subnet_groups().is_empty(), "subnet group deleted");
}

fn replaced_params() -> Db {
    Db {
        retention: 14,
        encrypted: false,
        size: Size::Large,
        password: "db-password-2",
        audit: true,
    }
}

/// RDS through the kit's lifecycle suite: in place (backups, class; a new admin password),
/// forced replacement (encryption at rest), the instance deleted out of band (and with it
/// its databases), destroy. The SQL-level checks stay in `database_lifecycle`.
#[test]
fn database_through_the_lifecycle_suite() {
    let aws = Aws::new();
    let rds = aws_sdk_rds::Client::new(&aws.sdk);
    const INSTANCE: &str = "aws_db_instance.orders";
    let in_place = Db {
        retention: 14,
        size: Size::Large,
        ..FIRST
    };
    let rotated = Db {
        password: "db-password-2",
        ..in_place
    };
    let report = aws.lifecycle(cairn_provider_kit::lifecycle::Case {
        name: "rds",
        stack: db_stack(FIRST),
        creates: vec![
            "aws_db_subnet_group",
            "aws_db_parameter_group",
            "aws_db_instance",
            "aws_postgres_database",
        ],
        write_only: vec!["password"],
        updates: vec![
            (db_stack(in_place), INSTANCE),
            (db_stack(rotated), INSTANCE),
        ],
        replace: Some((
            db_stack(replaced_params()),
            INSTANCE,
            vec!["storage_encrypted"],
        )),
        delete_out_of_band: Some((
            vec![INSTANCE, AUDIT],
            Box::new(|id| {
                let rds = rds.clone();
                Box::pin(async move {
                    rds.delete_db_instance()
                        .db_instance_identifier(id)
                        .skip_final_snapshot(true)
                        .send()
                        .await
                        .unwrap();
                })
            }),
        )),
        remaining: Box::new(|_| {
            let rds = rds.clone();
            Box::pin(async move {
                let instances = rds.describe_db_instances().send().await.unwrap();
                let subnet_groups = rds.describe_db_subnet_groups().send().await.unwrap();
                instances.db_instances().len() + subnet_groups.db_subnet_groups().len()
            })
        }),
    });
    assert_eq!(
        (report.updated, report.replaced, report.recreated),
        (2, 1, 2)
    );
}
