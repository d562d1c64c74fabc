//! `Engine::inventory`: what the cloud holds marked as a stack's, placed against state, the
//! way a program meets it after an apply, a crash, a lost state file, a hand-deleted
//! object and a destroy.

use crate::support::*;
use cairn_core::inventory::{InventoryStatus, Standing};
use cairn_core::prelude::*;
use cairn_core::provider::ProviderError;
use cairn_core::testing::{CallKind, MemoryProvider};

fn engine(cloud: &MemoryProvider, dir: &std::path::Path, file: &str) -> Engine {
    Engine::builder(cloud.clone(), dir.join(file)).build()
}

#[test]
fn an_applied_stack_is_all_managed_and_a_destroyed_one_leaves_an_empty_inventory() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let cloud = MemoryProvider::new();
    let engine = engine(&cloud, dir.path(), "shop.json");
    let stack = full_stack();

    let before = rt.block_on(engine.inventory(&stack)).unwrap();
    assert!(before.is_empty(), "nothing applied yet: {}", before.text());
    assert_eq!(before.status(), InventoryStatus::Clean);

    converge(&rt, &engine, &stack);
    // Another stack's objects in the same cloud are not this one's.
    let mut other = Stack::new("elsewhere");
    other.add("main", Network::new("10.9.0.0/16"));
    converge(
        &rt,
        &Engine::builder(cloud.clone(), dir.path().join("other.json")).build(),
        &other,
    );

    let report = rt.block_on(engine.inventory(&stack)).unwrap();
    let state = engine.read_state("shop").unwrap().unwrap();
    assert_eq!(report.status(), InventoryStatus::Clean, "{}", report.text());
    assert_eq!(report.checked, state.live().count());
    assert_eq!(
        report.entries(Standing::Managed).count(),
        state.live().count(),
        "every recorded object is listed, and only those:\n{}",
        report.text()
    );
    assert_eq!(report.objects.len(), state.live().count());
    assert!(report.gone.is_empty() && report.failed_reads.is_empty());

    let destroy = rt
        .block_on(engine.plan(&stack, &PlanOptions::destroy()))
        .unwrap();
    assert!(rt
        .block_on(engine.apply(&destroy, &ApplyOptions::default()))
        .unwrap()
        .is_success());
    let after = rt.block_on(engine.inventory(&stack)).unwrap();
    assert!(after.is_empty(), "{}", after.text());
    assert_eq!(after.status().exit_code(), 0);
    assert!(
        cloud.objects().values().any(|o| o.stack == "elsewhere"),
        "the other stack is untouched"
    );
}

#[test]
fn objects_no_state_records_are_orphans_and_hand_deleted_ones_are_gone() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let cloud = MemoryProvider::new();
    let stack = full_stack();
    // A first state file, then lost: what it made is marked as the stack's, recorded
    // nowhere the second engine can see.
    let lost = engine(&cloud, dir.path(), "lost.json");
    converge(&rt, &lost, &stack);
    let lost_ids: Vec<String> = lost
        .read_state("shop")
        .unwrap()
        .unwrap()
        .live()
        .map(|r| r.id.to_string())
        .collect();
    let engine = engine(&cloud, dir.path(), "shop.json");
    converge(&rt, &engine, &stack);

    let report = rt.block_on(engine.inventory(&stack)).unwrap();
    assert_eq!(report.status(), InventoryStatus::Found);
    assert_eq!(report.status().exit_code(), 2);
    let mut orphans: Vec<String> = report.orphans().map(|o| o.id.to_string()).collect();
    orphans.sort();
    let mut expected = lost_ids.clone();
    expected.sort();
    assert_eq!(orphans, expected, "{}", report.text());
    assert!(report.text().contains("! orphan"), "{}", report.text());

    // Deleted by hand: gone, and named with the id state recorded.
    let state = engine.read_state("shop").unwrap().unwrap();
    let victim = state
        .live()
        .find(|r| r.type_name == "mem_network")
        .unwrap()
        .clone();
    cloud.remove(&victim.id).unwrap();
    let report = rt.block_on(engine.inventory(&stack)).unwrap();
    assert_eq!(report.gone.len(), 1, "{}", report.text());
    assert_eq!(report.gone[0].address, victim.address.as_str());
    assert_eq!(report.gone[0].id, victim.id.as_str());
    let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["status"], "found");
    assert_eq!(json["gone"][0]["address"], victim.address.as_str());
    assert!(json["objects"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["standing"] == "orphan" && o["type"].is_string()));
}

#[test]
fn an_object_of_an_interrupted_create_is_pending_not_an_orphan() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let cloud = MemoryProvider::new();
    let engine = engine(&cloud, dir.path(), "shop.json");
    let stack = full_stack();
    let plan = rt
        .block_on(engine.plan(&stack, &PlanOptions::default()))
        .unwrap();
    // The third create takes effect and never answers; the run is then killed.
    cloud.hang_at(3, true);
    let opts = ApplyOptions::default();
    let run = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    run.block_on(async {
        tokio::select! {
            r = engine.apply(&plan, &opts) => panic!("apply ended although a create hangs: {r:?}"),
            _ = cloud.wait_hung() => {}
        }
    });
    drop(run);

    let report = rt.block_on(engine.inventory(&stack)).unwrap();
    // The hung create, and any other whose answer the kill cut off: each is pending under
    // the token its record names, none an orphan.
    let pending: Vec<_> = report.entries(Standing::Pending).collect();
    assert!(!pending.is_empty(), "{}", report.text());
    let state = engine.read_state("shop").unwrap().unwrap();
    for p in &pending {
        let token = p.token.as_deref().expect("a token");
        assert!(
            state.pending.values().any(|r| r.token == token),
            "{} is pending under a token state records",
            p.id
        );
    }
    assert_eq!(report.orphans().count(), 0, "{}", report.text());
    assert_eq!(report.status(), InventoryStatus::Clean);
    assert!(report.text().contains("~ pending"), "{}", report.text());
}

#[test]
fn unreadable_resources_make_it_partial_and_a_failed_listing_an_error() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let cloud = MemoryProvider::new();
    let engine = engine(&cloud, dir.path(), "shop.json");
    let stack = full_stack();
    converge(&rt, &engine, &stack);
    let address = engine
        .read_state("shop")
        .unwrap()
        .unwrap()
        .live()
        .next()
        .unwrap()
        .address
        .to_string();
    cloud.fail(
        &address,
        CallKind::Read,
        ProviderError::Transient {
            address: address.clone(),
            message: "throttled".into(),
        },
    );
    let report = rt.block_on(engine.inventory(&stack)).unwrap();
    assert_eq!(report.status(), InventoryStatus::Partial);
    assert_eq!(report.status().exit_code(), 3);
    assert_eq!(report.failed_reads.len(), 1);
    assert_eq!(report.failed_reads[0].address, address);

    cloud.clear_failures();
    cloud.fail(
        "shop",
        CallKind::Inventory,
        ProviderError::Api {
            address: "shop".into(),
            code: "AccessDenied".into(),
            message: "no list permission".into(),
        },
    );
    let err = rt.block_on(engine.inventory(&stack)).unwrap_err();
    assert!(err.to_string().contains("AccessDenied"), "{err}");
}
