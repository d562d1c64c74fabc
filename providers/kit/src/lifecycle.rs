//! The provider conformance suite, second half: the acceptance steps every resource type
//! of every provider must pass, run from a table of cases against the provider's cloud (or
//! its emulator). The first half ([`crate::conformance`]) checks crash safety.
//!
//! A case is one stack and what to change in it. [`run`] takes it through:
//! 1. create: the plan creates the case's types, and applying it succeeds;
//! 2. empty plan: planning again (with refresh) changes nothing;
//! 3. import: every resource, imported by id alone into a fresh state, comes back with the
//!    same attributes (but the write-only secrets the cloud never returns, which the next
//!    plan sets and nothing else), and the plan is then empty;
//! 4. in-place updates: each declared edit plans as an update of the named resource, applies,
//!    and leaves an empty plan;
//! 5. forced replacement: the declared edit plans as a replacement for the named attributes,
//!    applies, and leaves an empty plan;
//! 6. out-of-band deletion: an object deleted through the cloud's own API is planned for
//!    creation again, and applying converges;
//! 7. destroy: everything goes, and the cloud's own count of the case's objects is zero.
//!
//! Each failed step panics naming the case, the step and the resource.

use cairn_core::apply::ApplyOptions;
use cairn_core::plan::planner::PlanOptions;
use cairn_core::plan::{Action, Plan, PlanMode};
use cairn_core::state::ResourceState;
use cairn_core::{Engine, Stack};
use std::future::Future;
use std::pin::Pin;

/// A boxed future, for the case's cloud-side callbacks.
pub type Callback<'a, T> = Box<dyn Fn(String) -> Pin<Box<dyn Future<Output = T> + 'a>> + 'a>;

/// One resource type's (or one service's) acceptance case.
pub struct Case<'a> {
    /// The case's name, in panic messages and its state file's name (`NAME.json`).
    pub name: &'a str,
    /// The stack to create.
    pub stack: Stack,
    /// Concrete types the first plan must create.
    pub creates: Vec<&'a str>,
    /// Attributes the cloud never returns (a password): an import cannot know them.
    pub write_only: Vec<&'a str>,
    /// In-place edits: the stack, and the address planned as an update.
    pub updates: Vec<(Stack, &'a str)>,
    /// A forced replacement: the stack, the address, and the attributes forcing it.
    pub replace: Option<(Stack, &'a str, Vec<&'a str>)>,
    /// Delete one object through the cloud's own API (called with its id), and the
    /// address planned for re-creation with whatever else its deletion takes along.
    pub delete_out_of_band: Option<(Vec<&'a str>, Callback<'a, ()>)>,
    /// How many of the case's objects the cloud still holds (called after destroy with the
    /// stack's name): must be zero.
    pub remaining: Callback<'a, usize>,
}

impl std::fmt::Debug for Case<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("name", &self.name)
            .field("creates", &self.creates)
            .finish_non_exhaustive()
    }
}

/// What the suite needs from the provider's test: engines over fresh state files.
pub trait Harness {
    /// An engine for the provider under test over the state file `name` (in a directory
    /// of the test's own).
    fn engine(&self, name: &str) -> Engine;
}

/// What a run did, for the caller to print.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Resources the first plan created.
    pub created: usize,
    /// Resources imported by id and found the same.
    pub imported: usize,
    /// In-place update steps passed.
    pub updated: usize,
    /// Forced replacement steps passed (0 or 1).
    pub replaced: usize,
    /// Resources created again after the out-of-band deletion.
    pub recreated: usize,
}

/// Run every step of `case`; the last plan (the stack the case ended on) is destroyed.
pub async fn run(h: &dyn Harness, case: Case<'_>) -> Report {
    let mut report = Report::default();
    let name = case.name;
    let engine = h.engine(&format!("{name}.json"));
    let mut current = case.stack;

    // 1. create
    let plan = plan_for(&engine, &current, name, "create").await;
    for t in &case.creates {
        assert!(
            plan.changes
                .iter()
                .any(|c| c.type_name == *t && c.action == Action::Create),
            "{name}: create: the first plan does not create a {t}"
        );
    }
    report.created = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Create)
        .count();
    apply(&engine, &plan, &current, name, "create").await;
    // 2. empty plan (with refresh)
    clean(&engine, &current, name, "after create").await;
    // 3. import
    report.imported = imports_match(h, &engine, &current, &case.write_only, name).await;
    // 4. in-place updates
    for (next, address) in case.updates {
        let plan = plan_for(&engine, &next, name, "update").await;
        let change = find(&plan, address, name, "update");
        assert_eq!(
            change.action,
            Action::Update,
            "{name}: update: {address} should change in place: {:?}",
            change.changes
        );
        apply(&engine, &plan, &next, name, "update").await;
        clean(&engine, &next, name, "after an update").await;
        report.updated += 1;
        current = next;
    }
    // 5. forced replacement
    if let Some((next, address, because)) = case.replace {
        let plan = plan_for(&engine, &next, name, "replace").await;
        let change = find(&plan, address, name, "replace");
        assert_eq!(
            (change.action, change.replace_because.clone()),
            (
                Action::Replace,
                because.iter().map(|b| b.to_string()).collect::<Vec<_>>()
            ),
            "{name}: replace: {address}"
        );
        apply(&engine, &plan, &next, name, "replace").await;
        clean(&engine, &next, name, "after the replacement").await;
        report.replaced += 1;
        current = next;
    }
    // 6. out-of-band deletion
    if let Some((addresses, delete)) = case.delete_out_of_band {
        let state = engine.store().read().unwrap().unwrap();
        let id = state
            .resources
            .get(addresses[0])
            .unwrap_or_else(|| panic!("{name}: out-of-band: {} is not in state", addresses[0]))
            .id
            .to_string();
        delete(id).await;
        let plan = plan_for(&engine, &current, name, "out-of-band deletion").await;
        for address in &addresses {
            let change = find(&plan, address, name, "out-of-band deletion");
            assert_eq!(
                change.action,
                Action::Create,
                "{name}: out-of-band deletion: {address} is created again"
            );
        }
        apply(&engine, &plan, &current, name, "re-create").await;
        clean(&engine, &current, name, "after re-creation").await;
        report.recreated = addresses.len();
    }
    // 7. destroy
    let plan = engine
        .plan(
            &current,
            &PlanOptions {
                mode: PlanMode::Destroy,
                refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: destroy: plan: {e}"));
    apply(&engine, &plan, &current, name, "destroy").await;
    let state = engine.store().read().unwrap().unwrap();
    assert_eq!(
        state.live().count(),
        0,
        "{name}: destroy: state still holds resources"
    );
    let left = (case.remaining)(current.name().to_string()).await;
    assert_eq!(
        left, 0,
        "{name}: destroy: the cloud still holds {left} object(s)"
    );
    report
}

async fn plan_for(engine: &Engine, stack: &Stack, case: &str, step: &str) -> Plan {
    engine
        .plan(
            stack,
            &PlanOptions {
                refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{case}: {step}: plan: {e}"))
}

async fn apply(engine: &Engine, plan: &Plan, stack: &Stack, case: &str, step: &str) {
    let opts = ApplyOptions {
        secrets: stack.secret_values(),
        ..ApplyOptions::default()
    };
    let report = engine
        .apply(plan, &opts)
        .await
        .unwrap_or_else(|e| panic!("{case}: {step}: apply: {e}"));
    assert!(report.is_success(), "{case}: {step}: {report}");
}

async fn clean(engine: &Engine, stack: &Stack, case: &str, step: &str) {
    let plan = plan_for(engine, stack, case, step).await;
    assert!(
        !plan.has_changes(),
        "{case}: {step}: the plan should be empty:\n{}",
        cairn_core::plan::render::text(&plan, Default::default())
    );
}

fn find<'p>(
    plan: &'p Plan,
    address: &str,
    case: &str,
    step: &str,
) -> &'p cairn_core::plan::ResourceChange {
    plan.changes
        .iter()
        .find(|c| c.address == address)
        .unwrap_or_else(|| panic!("{case}: {step}: {address} is not in the plan"))
}

/// Step 3, on its own for tests with steps of their own: import everything `engine`
/// manages into a fresh state (`case-imported.json`), dependencies first (a database inside
/// an instance is found through the instance already imported); each comes back with the
/// same attributes but `write_only`, which the next plan sets and nothing else, and the plan
/// is then empty. Returns how many were imported.
pub async fn imports_match(
    h: &dyn Harness,
    engine: &Engine,
    stack: &Stack,
    write_only: &[&str],
    case: &str,
) -> usize {
    let state = engine.store().read().unwrap().unwrap();
    let imported = h.engine(&format!("{case}-imported.json"));
    let schema = imported.provider().schema().clone();
    let mut pending: Vec<&ResourceState> = state.live().collect();
    let mut ordered: Vec<&ResourceState> = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let (ready, rest): (Vec<_>, Vec<_>) = pending.into_iter().partition(|r| {
            r.deps.iter().all(|d| {
                ordered.iter().any(|o| o.address == *d) || !state.live().any(|l| l.address == *d)
            })
        });
        assert!(
            !ready.is_empty(),
            "{case}: import: state's dependencies form a cycle"
        );
        ordered.extend(ready);
        pending = rest;
    }
    for r in &ordered {
        let got = imported
            .import(stack, &r.address, &r.id)
            .await
            .unwrap_or_else(|e| panic!("{case}: import {}: {e}", r.address));
        let types = &schema.resources[r.type_name.as_str()];
        for (k, v) in r
            .attrs
            .iter()
            .filter(|(k, _)| !write_only.contains(&k.as_str()))
        {
            let same = |g: &cairn_core::value::Value| {
                if types.get(k).unordered {
                    g.same_set_as(v)
                } else {
                    g.same_as(v)
                }
            };
            assert!(
                got.attrs.get(k.as_str()).is_some_and(same),
                "{case}: import: {} differs on {k}: {v} vs {:?}",
                r.address,
                got.attrs.get(k.as_str())
            );
        }
    }
    let plan = plan_for(&imported, stack, case, "after import").await;
    for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        let names: Vec<&str> = c.changes.iter().map(|a| a.name.as_str()).collect();
        assert!(
            c.action == Action::Update && names.iter().all(|n| write_only.contains(n)),
            "{case}: after import only write-only secrets may change: {} {:?} {names:?}",
            c.address,
            c.action
        );
    }
    apply(&imported, &plan, stack, case, "after import").await;
    clean(&imported, stack, case, "after import").await;
    ordered.len()
}
