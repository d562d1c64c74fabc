//! The API a program meets first: one import, an engine from a provider and a place for
//! state, defaults that do what the CLI does, builders whose order does not matter.

use crate::support::*;
use cairn_core::prelude::*;
use cairn_core::testing::MemoryProvider;

#[test]
fn an_engine_is_a_provider_and_a_path_and_its_default_plan_reads_the_cloud() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let cloud = MemoryProvider::new();
    let engine = Engine::builder(cloud.clone(), dir.path().join("shop.state.json")).build();
    let stack = full_stack();

    let plan = rt
        .block_on(engine.plan(&stack, &PlanOptions::default()))
        .unwrap();
    assert!(plan.has_changes(), "creates are changes");
    let report = rt
        .block_on(engine.apply(&plan, &ApplyOptions::default()))
        .unwrap();
    assert!(report.is_success(), "{report}");
    assert!(
        dir.path().join("shop.state.json").exists(),
        "state is where it was told"
    );

    // Deleted behind cairn's back: only a plan that reads the cloud sees it, and the
    // default plan is one.
    let before = cloud.read_requests();
    let victim = engine
        .read_state("shop")
        .unwrap()
        .unwrap()
        .resources
        .values()
        .find(|r| r.type_name == "mem_network")
        .map(|r| r.id.to_string())
        .unwrap();
    cloud.remove(&victim).expect("the network is in the cloud");
    let plan = rt
        .block_on(engine.plan(&stack, &PlanOptions::default()))
        .unwrap();
    assert!(cloud.read_requests() > before, "the default plan refreshes");
    assert!(plan.has_changes(), "and sees the network gone:\n{plan}");

    // The same engine over a store given as one.
    let again = Engine::builder(
        cloud.clone(),
        LocalStore::new(dir.path().join("shop.state.json")),
    )
    .read_parallelism(2)
    .build();
    let trusting = rt
        .block_on(again.plan(&stack, &PlanOptions::default().refresh(false)))
        .unwrap();
    assert!(
        !trusting.has_changes(),
        "a plan told not to read trusts state:\n{trusting}"
    );
}

#[test]
fn a_plan_that_only_reads_has_no_changes_and_prints_as_the_cli_does() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::builder(MemoryProvider::new(), dir.path().join("s.json")).build();
    let stack = full_stack();
    let plan = rt
        .block_on(engine.plan(&stack, &PlanOptions::default()))
        .unwrap();
    assert_eq!(
        plan.to_string(),
        cairn_core::plan::render::text(&plan, Default::default())
    );
    rt.block_on(engine.apply(&plan, &ApplyOptions::default()))
        .unwrap();
    let read = rt
        .block_on(engine.plan(&stack, &PlanOptions::refresh_only()))
        .unwrap();
    assert_eq!(read.mode, PlanMode::RefreshOnly);
    assert!(!read.has_changes(), "reads are not changes:\n{read}");
    let destroy = rt
        .block_on(engine.plan(&stack, &PlanOptions::destroy()))
        .unwrap();
    assert!(destroy.has_changes());
}

#[test]
fn a_brokers_settings_may_come_in_any_order() {
    let declare = |broker: Broker| {
        let mut s = Stack::new("events");
        let net = s.add("main", Network::new("10.0.0.0/16"));
        let a = s.add(
            "a",
            Subnet::new(&net, "10.0.1.0/24")
                .tier(Tier::Isolated)
                .zone(0),
        );
        let b = s.add(
            "b",
            Subnet::new(&net, "10.0.2.0/24")
                .tier(Tier::Isolated)
                .zone(1),
        );
        s.add("bus", broker.subnets([&a, &b]));
        s
    };
    let topics_first = declare(
        Broker::kafka("3")
            .topic("orders", 6)
            .topic_with(Topic::new("audit", 1).replication(2))
            .throughput_mb_s(20)
            .storage_gb(500)
            .tls(true),
    );
    let topics_last = declare(
        Broker::kafka("3")
            .tls(true)
            .storage_gb(500)
            .throughput_mb_s(20)
            .topic("orders", 6)
            .topic_with(Topic::new("audit", 1).replication(2)),
    );
    cairn_core::validate::validate(&topics_first).unwrap();
    cairn_core::validate::validate(&topics_last).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::builder(MemoryProvider::new(), dir.path().join("e.json")).build();
    let (first, last) = (
        engine.lower(&topics_first).unwrap(),
        engine.lower(&topics_last).unwrap(),
    );
    assert_eq!(first.digest(&topics_first), last.digest(&topics_last));
}

#[test]
fn a_region_is_pinned_like_any_other_setting() {
    let stack = Stack::new("shop").with_region("eu-west-1");
    assert_eq!(stack.region(), Some("eu-west-1"));
    let mut unpinned = stack.clone();
    unpinned.set_region(None::<String>);
    assert_eq!(unpinned.region(), None);
    unpinned.set_region(Some("eu-central-1"));
    assert_eq!(unpinned.region(), Some("eu-central-1"));
}

#[test]
fn a_certificate_the_cloud_does_not_hold_is_refused_at_plan_naming_the_field() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let cloud = MemoryProvider::new();
    cloud.lacks_certificate("arn:aws:acm:eu-west-1:123456789012:certificate/abc");
    let engine = Engine::builder(cloud.clone(), dir.path().join("s.json")).build();
    let err = rt
        .block_on(engine.plan(&full_stack(), &PlanOptions::default()))
        .unwrap_err();
    let EngineError::Invalid(errors) = err else {
        panic!("{err}")
    };
    assert!(
        errors.0.iter().any(|e| e.resource == "load_balancer.web"
            && e.field == "https.certificate"
            && e.message.contains("certificate/abc")
            && e.message.contains("does not exist")),
        "{errors}"
    );
    assert_eq!(cloud.mutating_calls(), 0, "refused before any create");
    // Held, the plan goes through.
    let other = MemoryProvider::new();
    let engine = Engine::builder(other.clone(), dir.path().join("t.json")).build();
    rt.block_on(engine.plan(&full_stack(), &PlanOptions::default()))
        .unwrap();
}
