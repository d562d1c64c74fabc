//! Saved plans: sealed under the state's key and tied to the declaration they were made
//! from, so an edited, stale or foreign plan is refused before anything is applied.

use crate::golden::changed;
use crate::support::*;
use cairn_core::apply::ApplyOptions;
use cairn_core::plan::PlanError;
use cairn_core::prelude::*;
use cairn_core::state::StateStore;
use cairn_core::testing::MemoryProvider;
use cairn_core::EngineError;

fn refused(engine: &cairn_core::Engine, text: &str, stack: &Stack) -> String {
    match engine.open_plan(text, stack) {
        Ok(_) => panic!("an altered plan was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_saved_plan_made_before_any_state_applies_and_its_seal_holds() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let stack = full_stack();
    let mut plan = rt.block_on(engine.plan(&stack, &refresh())).unwrap();
    assert!(plan.state_lineage.is_none());
    let text = engine.save_plan(&mut plan).unwrap();
    let state = sb
        .store()
        .read()
        .unwrap()
        .expect("saving creates the (empty) state");
    assert!(state.resources.is_empty() && !state.plan_key.is_empty());
    assert!(
        !text.contains(&state.plan_key),
        "the key never leaves the state"
    );
    let opened = engine.open_plan(&text, &stack).unwrap();
    let opts = ApplyOptions {
        secrets: stack.secret_values(),
        ..Default::default()
    };
    let report = rt.block_on(engine.apply(&opened, &opts)).unwrap();
    assert!(report.is_success(), "{report}");
    assert_converged(&rt, &engine, &stack);
}

#[test]
fn an_edited_saved_plan_is_refused() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let stack = full_stack();
    converge(&rt, &engine, &stack);
    let mut plan = rt.block_on(engine.plan(&changed(), &refresh())).unwrap();
    let text = engine.save_plan(&mut plan).unwrap();
    engine
        .open_plan(&text, &changed())
        .expect("the plan as saved opens");

    // The attack that destroyed a database: one action turned into a delete.
    let no_op = "\"action\": \"no_op\"";
    assert!(text.contains(no_op));
    let edits = [
        (
            "an action",
            text.replacen(no_op, "\"action\": \"delete\"", 1),
        ),
        (
            "the state serial (a stale plan made to look fresh)",
            text.replacen(
                &format!("\"state_serial\": {}", plan.state_serial),
                &format!("\"state_serial\": {}", plan.state_serial + 1),
                1,
            ),
        ),
        ("a CIDR", text.replacen("10.0.", "10.9.", 1)),
        ("the seal itself", {
            let seal = plan.seal.clone().unwrap();
            let mut forged = seal.clone();
            forged.replace_range(
                forged.len() - 1..,
                if seal.ends_with('0') { "1" } else { "0" },
            );
            text.replace(&seal, &forged)
        }),
        ("the seal removed", {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let mut v = v.as_object().unwrap().clone();
            v.remove("seal");
            serde_json::to_string_pretty(&v).unwrap()
        }),
    ];
    for (what, edited) in edits {
        assert_ne!(edited, text, "{what}: the edit applies");
        let err = refused(&engine, &edited, &changed());
        assert!(
            err.contains("cannot be trusted") || err.contains("stale"),
            "{what}: {err}"
        );
    }
    // Nothing was applied by any of them: the cloud still matches the first stack.
    assert_converged(&rt, &engine, &stack);
}

#[test]
fn a_saved_plan_is_refused_for_another_declaration_or_another_state() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let stack = full_stack();
    converge(&rt, &engine, &stack);
    let mut plan = rt.block_on(engine.plan(&changed(), &refresh())).unwrap();
    let text = engine.save_plan(&mut plan).unwrap();
    // The code changed again after the plan was made: same stack name, other declaration.
    let err = refused(&engine, &text, &stack);
    assert!(err.contains("another declaration"), "{err}");
    match engine.open_plan(&text, &stack) {
        Err(EngineError::Plan(PlanError::StackChanged { .. })) => {}
        other => panic!("{other:?}"),
    }

    // Another state of the same stack (another lineage): its key does not open the plan.
    let other = Sandbox::new();
    let other_engine = other.engine(&mem);
    let mut p2 = rt
        .block_on(other_engine.plan(&changed(), &refresh()))
        .unwrap();
    other_engine.save_plan(&mut p2).unwrap();
    let err = refused(&other_engine, &text, &changed());
    assert!(err.contains("stale"), "{err}");
    let forged = text.replace(
        plan.state_lineage.as_deref().unwrap(),
        p2.state_lineage.as_deref().unwrap(),
    );
    let err = refused(&other_engine, &forged, &changed());
    assert!(err.contains("cannot be trusted"), "{err}");

    // Once the state moved on, the plan is stale even with a valid seal.
    converge(&rt, &engine, &changed());
    let err = match engine.open_plan(&text, &changed()) {
        Ok(p) => rt
            .block_on(engine.apply(&p, &ApplyOptions::default()))
            .unwrap_err()
            .to_string(),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("stale"), "{err}");
}

#[test]
fn a_plan_for_a_state_that_has_no_key_yet_is_refused_whatever_its_seal() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    // A state written before plans were sealed (format 1): no plan key.
    std::fs::write(
        sb.state_path(),
        br#"{"cairn_state":1,"lineage":"00112233445566778899aabbccddeeff","serial":3,"stack":"shop","provider":"memory","resources":[]}"#,
    )
    .unwrap();
    let mut plan = rt.block_on(engine.plan(&full_stack(), &refresh())).unwrap();
    // A forger's guess: the key of a state without one.
    plan.seal_with("");
    let err = refused(&engine, &plan.to_json(), &full_stack());
    assert!(err.contains("no plan key"), "{err}");
    // Saving it properly gives the state its key first.
    let text = engine.save_plan(&mut plan).unwrap();
    assert!(!sb.store().read().unwrap().unwrap().plan_key.is_empty());
    engine.open_plan(&text, &full_stack()).unwrap();
}

/// The declaration digest a saved plan records tells declarations apart: equal ones
/// digest alike, and a change to an attribute, the lifecycle or an output changes it.
#[test]
fn the_declaration_digest_changes_with_the_declaration_and_only_then() {
    use crate::support::{edited, full_stack};
    use cairn_core::model::Resource;
    let engine = cairn_core::Engine::new(
        std::sync::Arc::new(cairn_core::testing::MemoryProvider::new()),
        std::sync::Arc::new(cairn_core::state::LocalStore::new(
            tempfile::tempdir().unwrap().path().join("s.json"),
        )),
    );
    let digest = |s: &Stack| engine.lower(s).unwrap().digest(s);
    let base = digest(&full_stack());
    assert!(
        base.starts_with("sha256:") && base.len() == 7 + 64,
        "{base}"
    );
    assert_eq!(digest(&full_stack()), base, "deterministic");
    let storage = edited(full_stack(), "orders", |r| {
        if let Resource::Database(d) = r {
            d.storage_gb += 1;
        }
    });
    let protect = edited(full_stack(), "orders", |r| {
        if let Resource::Database(d) = r {
            d.common.lifecycle.protect ^= true;
        }
    });
    let mut output = full_stack();
    output.output("extra", Ref::<LoadBalancer>::named("web").attr("address"));
    let mut seen = vec![base];
    for (what, s) in [
        ("an attribute", storage),
        ("the lifecycle", protect),
        ("an output", output),
    ] {
        let d = digest(&s);
        assert!(!seen.contains(&d), "{what} changed, the digest did not");
        seen.push(d);
    }
}

#[test]
fn a_providers_notes_are_shown_in_the_plan_and_kept_in_its_json() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let stack = full_stack();
    let mut plan = rt.block_on(engine.plan(&stack, &refresh())).unwrap();
    assert!(plan.notes.is_empty(), "the memory provider notes nothing");
    assert!(
        !cairn_core::plan::render::json(&plan).contains("\"notes\""),
        "no notes, no field: plans without any are unchanged"
    );
    plan.notes.push(cairn_core::invalid::Note::new(
        "database.db",
        "backup_window",
        "kept at a time of the cloud's choosing",
    ));
    let text = cairn_core::plan::render::text(&plan, Default::default());
    assert!(
        text.contains("Notes: what memory does differently from the stack:\n  ! database.db backup_window: kept at a time of the cloud's choosing"),
        "{text}"
    );
    let json = cairn_core::plan::render::json(&plan);
    let back: cairn_core::plan::Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(back.notes, plan.notes);
    // A saved plan carries them under its seal.
    let saved = engine.save_plan(&mut plan).unwrap();
    assert_eq!(engine.open_plan(&saved, &stack).unwrap().notes, plan.notes);
}

#[test]
fn a_plan_made_without_its_digest_is_the_same_plan_and_cannot_be_saved() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let stack = full_stack();
    let with = rt.block_on(engine.plan(&stack, &refresh())).unwrap();
    let mut without = rt
        .block_on(engine.plan(&stack, &refresh().digest(false)))
        .unwrap();
    assert!(with.stack_digest.starts_with("sha256:"));
    assert!(without.stack_digest.is_empty());
    let mut same = with.clone();
    same.stack_digest.clear();
    assert_eq!(same.to_json(), without.to_json(), "only the digest differs");
    let err = engine.save_plan(&mut without).unwrap_err();
    assert!(
        matches!(err, EngineError::Plan(PlanError::NoDigest)),
        "{err}"
    );
    assert!(
        sb.store().read().unwrap().is_none(),
        "refused before anything is written"
    );
    // Applied at once, it needs none.
    let opts = ApplyOptions {
        secrets: stack.secret_values(),
        ..Default::default()
    };
    let report = rt.block_on(engine.apply(&without, &opts)).unwrap();
    assert!(report.is_success(), "{report}");
}

/// The memory provider, lowering as providers may: with an export for every exported
/// attribute of every resource, whether an output names it or not.
#[derive(Debug)]
struct ExportsEverything(MemoryProvider);

#[async_trait::async_trait]
impl cairn_core::provider::Provider for ExportsEverything {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn schema(&self) -> &cairn_core::provider::ProviderSchema {
        self.0.schema()
    }
    fn lower(
        &self,
        req: cairn_core::provider::LowerRequest<'_>,
    ) -> Result<cairn_core::provider::LowerResponse, Vec<cairn_core::invalid::Invalid>> {
        let stack = req.stack;
        let mut lowered = self.0.lower(req)?;
        for d in stack.resources() {
            for attr in d.resource.exports() {
                if lowered
                    .exports
                    .iter()
                    .any(|e| e.resource == d.name && e.attr == *attr)
                {
                    continue;
                }
                lowered.exports.push(cairn_core::provider::Export {
                    resource: d.name.as_str().into(),
                    attr: (*attr).into(),
                    value: cairn_core::value::Value::reference(
                        format!("mem_{}.{}", d.kind().as_str(), d.name),
                        *attr,
                    ),
                });
            }
        }
        Ok(lowered)
    }
    async fn read(
        &self,
        req: cairn_core::provider::ReadRequest,
    ) -> Result<cairn_core::provider::ReadResponse, cairn_core::provider::ProviderError> {
        self.0.read(req).await
    }
    async fn create(
        &self,
        req: cairn_core::provider::CreateRequest,
    ) -> Result<cairn_core::provider::CreateResponse, cairn_core::provider::ProviderError> {
        self.0.create(req).await
    }
    async fn update(
        &self,
        req: cairn_core::provider::UpdateRequest,
    ) -> Result<cairn_core::provider::UpdateResponse, cairn_core::provider::ProviderError> {
        self.0.update(req).await
    }
    async fn delete(
        &self,
        req: cairn_core::provider::DeleteRequest,
    ) -> Result<cairn_core::provider::DeleteResponse, cairn_core::provider::ProviderError> {
        self.0.delete(req).await
    }
    async fn import(
        &self,
        req: cairn_core::provider::ImportRequest,
    ) -> Result<cairn_core::provider::ImportResponse, cairn_core::provider::ProviderError> {
        self.0.import(req).await
    }
    async fn inventory(
        &self,
        req: cairn_core::provider::InventoryRequest,
    ) -> Result<cairn_core::provider::InventoryResponse, cairn_core::provider::ProviderError> {
        self.0.inventory(req).await
    }
}

/// Only outputs read exports: the graph keeps the ones they name and lets the others go,
/// so a provider that makes every export and one that makes only those lower a stack to
/// the same graph, with the same digest (a saved plan is tied to it).
#[test]
fn the_graph_keeps_only_the_exports_the_outputs_name() {
    let dir = tempfile::tempdir().unwrap();
    let engine = |provider: std::sync::Arc<dyn cairn_core::provider::Provider>| {
        cairn_core::Engine::new(
            provider,
            std::sync::Arc::new(cairn_core::state::LocalStore::new(
                dir.path().join("s.json"),
            )),
        )
    };
    let lean = engine(std::sync::Arc::new(MemoryProvider::new()));
    let full = engine(std::sync::Arc::new(
        ExportsEverything(MemoryProvider::new()),
    ));
    let stack = full_stack();
    let named: Vec<(String, String)> = stack
        .outputs()
        .iter()
        .map(|o| (o.value.resource.clone(), o.value.attr.clone()))
        .collect();
    assert!(!named.is_empty(), "the stack has outputs");
    for engine in [&lean, &full] {
        let graph = engine.lower(&stack).unwrap();
        let kept: Vec<(String, String)> = graph
            .exports
            .iter()
            .map(|e| (e.resource.to_string(), e.attr.to_string()))
            .collect();
        assert_eq!(kept, named);
    }
    assert_eq!(
        lean.lower(&stack).unwrap().digest(&stack),
        full.lower(&stack).unwrap().digest(&stack)
    );
}
