//! Drift checks: the CI contract (0 clean, 2 drift, 3 partial), `ignore_changes`, and
//! read-only by construction (no lock taken, nothing written, works while locked).

use crate::support::*;
use cairn_core::apply::ApplyOptions;
use cairn_core::drift::{DriftKind, DriftStatus};
use cairn_core::plan::planner::PlanOptions;
use cairn_core::plan::PlanMode;
use cairn_core::provider::ProviderError;
use cairn_core::testing::{CallKind, MemoryProvider};
use cairn_core::value::Value;

#[test]
fn drift_is_reported_without_touching_state() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let stack = full_stack();
    converge(&rt, &engine, &stack);
    let report = rt.block_on(engine.drift(&stack)).unwrap();
    assert_eq!(report.status(), DriftStatus::Clean, "{}", report.text());
    assert_eq!(
        report.checked,
        engine.store().read().unwrap().unwrap().live().count()
    );

    let state = engine.store().read().unwrap().unwrap();
    let db_id = state.resources["mem_database.orders"].id.clone();
    let sg_id = state.resources["mem_security_group.lb"].id.clone();
    mem.edit(&db_id, "backup_retention_days", Value::Int(1));
    mem.remove(&sg_id);
    let before = std::fs::read(sb.state_path()).unwrap();
    // Someone else is applying: the check neither waits for nor takes the lock.
    let session = engine.store().lock("apply").unwrap();
    let report = rt.block_on(engine.drift(&stack)).unwrap();
    session.unlock().unwrap();
    assert_eq!(
        std::fs::read(sb.state_path()).unwrap(),
        before,
        "nothing written"
    );
    assert_eq!(report.status(), DriftStatus::Drift);
    assert_eq!(report.status().exit_code(), 2);
    let db = report
        .drifted
        .iter()
        .find(|d| d.address == "mem_database.orders")
        .unwrap();
    assert_eq!(db.kind, DriftKind::Changed);
    assert_eq!(
        (
            db.changes[0].field.as_str(),
            &db.changes[0].expected,
            &db.changes[0].actual
        ),
        ("backup_retention_days", &Value::Int(30), &Value::Int(1))
    );
    assert!(report
        .drifted
        .iter()
        .any(|d| d.address == "mem_security_group.lb" && d.kind == DriftKind::Deleted));
    let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
    assert_eq!(
        (json["format_version"].as_u64(), json["status"].as_str()),
        (Some(1), Some("drift"))
    );
    assert!(report.markdown().contains("`backup_retention_days`"));

    // Accepting the drift into state leaves the stack's wishes unapplied: still drift.
    let accept = rt
        .block_on(engine.plan(
            &stack,
            &PlanOptions {
                mode: PlanMode::RefreshOnly,
                refresh: true,
                ..Default::default()
            },
        ))
        .unwrap();
    rt.block_on(engine.apply(&accept, &ApplyOptions::default()))
        .unwrap();
    let report = rt.block_on(engine.drift(&stack)).unwrap();
    assert!(report.drifted.is_empty(), "{}", report.text());
    assert!(report
        .unapplied
        .iter()
        .any(|u| u.address == "mem_database.orders"));
    assert_eq!(report.status(), DriftStatus::Drift);
    // A plain apply repairs it.
    converge(&rt, &engine, &stack);
    let report = rt.block_on(engine.drift(&stack)).unwrap();
    assert_eq!(report.status(), DriftStatus::Clean, "{}", report.text());
}

#[test]
fn ignored_fields_are_not_drift_and_failed_reads_make_a_partial_report() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let stack = edited(full_stack(), "orders", |r| {
        if let cairn_core::model::Resource::Database(db) = r {
            db.common
                .lifecycle
                .ignore_changes
                .push("backup_retention_days".into());
        }
    });
    converge(&rt, &engine, &stack);
    let state = engine.store().read().unwrap().unwrap();
    let db_id = state.resources["mem_database.orders"].id.clone();
    mem.edit(&db_id, "backup_retention_days", Value::Int(1));
    let report = rt.block_on(engine.drift(&stack)).unwrap();
    assert_eq!(report.status(), DriftStatus::Clean, "{}", report.text());

    mem.fail(
        "mem_network.main",
        CallKind::Read,
        ProviderError::Transient {
            address: "mem_network.main".into(),
            message: "throttled".into(),
        },
    );
    let report = rt.block_on(engine.drift(&stack)).unwrap();
    assert_eq!(
        (report.status(), report.status().exit_code()),
        (DriftStatus::Partial, 3)
    );
    assert_eq!(report.failed_reads[0].address, "mem_network.main");
    assert!(report.text().contains("mem_network.main could not be read"));
}

/// The benchmark's cloud (`keep_ids_only`) keeps no attributes: what it answers must still
/// be what a full memory cloud answers, or the engine work it measures is not the same.
#[test]
fn a_cloud_keeping_ids_only_answers_like_a_full_one() {
    use cairn_core::prelude::*;
    fn stack(retention: u32) -> Stack {
        let mut s = Stack::new("lean");
        let net = s.add("main", Network::new("10.0.0.0/16"));
        let a = s.add("a", Subnet::new(&net, "10.0.1.0/24").zone(0));
        let b = s.add("b", Subnet::new(&net, "10.0.2.0/24").zone(1));
        let pw = s.add("pw", Secret::generated());
        s.add(
            "db",
            Database::postgres("15")
                .admin_password(&pw)
                .subnets([&a, &b])
                .backup_retention_days(retention),
        );
        s
    }
    let rt = rt();
    let (full_sb, lean_sb) = (Sandbox::new(), Sandbox::new());
    let (full, lean) = (MemoryProvider::new(), MemoryProvider::new().keep_ids_only());
    let (full_engine, lean_engine) = (full_sb.engine(&full), lean_sb.engine(&lean));
    for retention in [7, 14] {
        converge(&rt, &full_engine, &stack(retention));
        let plan = converge(&rt, &lean_engine, &stack(retention));
        if retention == 14 {
            assert_eq!(
                plan.changes
                    .iter()
                    .map(|c| (c.address.as_str(), c.action))
                    .filter(|(_, a)| *a != cairn_core::plan::Action::NoOp)
                    .collect::<Vec<_>>(),
                [("mem_database.db", cairn_core::plan::Action::Update)]
            );
        }
        let (want, got) = (
            full_engine.store().read().unwrap().unwrap(),
            lean_engine.store().read().unwrap().unwrap(),
        );
        assert_eq!(got.resources.len(), want.resources.len());
        for (address, w) in &want.resources {
            let g = &got.resources[address];
            // Ids are handed out in the order creates land, so only their shape is compared.
            assert!(
                g.attrs.keys().eq(w.attrs.keys()),
                "{address}: {:?} vs {:?}",
                g.attrs.keys().collect::<Vec<_>>(),
                w.attrs.keys().collect::<Vec<_>>()
            );
            assert_eq!(
                g.attrs.get("id").and_then(Value::as_str),
                Some(g.id.as_str())
            );
            assert_eq!(
                g.attrs.get("backup_retention_days"),
                w.attrs.get("backup_retention_days")
            );
        }
        assert_converged(&rt, &lean_engine, &stack(retention));
    }
    let objects = lean.objects();
    assert_eq!(objects.len(), 5, "one object per resource");
    assert!(objects.values().all(|o| o.attrs.is_empty()), "ids only");
}
