//! The provider conformance suite: crash-safety rules every provider must keep, as
//! runnable checks over a real stack against the provider's cloud (or its emulator).
//!
//! A provider's test calls [`run`] with the provider, a stack that uses its types, and an
//! empty directory for state. Each check panics with a message naming the broken rule and
//! the resource, like the state conformance suite. The stack is applied, checked and
//! destroyed; the cloud is left as it was found.
//!
//! The rules:
//! 1. The provider declares a finite, non-zero in-flight window (its calls cannot hang, and
//!    core knows how long a request of a dead run may still land).
//! 2. A create whose answer is lost (the run died, the connection broke) is found by the next
//!    run and adopted: no second create is ever sent for it. The suite loses the answer of
//!    every create and re-plans until the stack converges.
//! 3. An adopt-read for a create that never happened answers "gone", not a failure (or the
//!    next run could never settle it), and never takes another object for it.
//! 4. A create that meets an object of this stack under the same natural key (types whose
//!    schema says `adopts_existing`) adopts that object instead of failing.
//! 5. After destroy, every object reads as gone.
//! 6. The inventory (every object the cloud holds marked as the stack's) sees what the
//!    stack made, in the form state records it (type and id), and nothing else: clean after
//!    the stack converged, an object state forgot is an orphan, and after destroy it is
//!    empty.

use cairn_core::apply::ApplyOptions;
use cairn_core::plan::planner::PlanOptions;
use cairn_core::plan::{Drift, PlanMode};
use cairn_core::provider::*;
use cairn_core::state::{LocalStore, StateStore};
use cairn_core::validate::Invalid;
use cairn_core::value::{AttrRef, Text, Value};
use cairn_core::{Engine, Stack};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What the suite saw, for the caller to print.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Creates whose answer was lost and which the next plan adopted.
    pub adopted_after_lost_answer: usize,
    /// Plan/apply rounds it took to converge with every answer lost.
    pub rounds: usize,
    /// Objects re-created under their natural key and adopted.
    pub adopted_by_key: usize,
    /// Resource types whose adopt-read of a never-made create answered "gone".
    pub types_checked: usize,
    /// Objects the inventory listed as the stack's once it converged.
    pub inventoried: usize,
    /// Types state records that the inventory listed none of: those that carry no marks
    /// (they live inside a listed parent), for the caller to check against its cloud's.
    pub unlisted_types: std::collections::BTreeSet<String>,
}

/// Run every check. `dir` must be empty; the state file goes there.
pub async fn run(provider: Arc<dyn Provider>, stack: &Stack, dir: &Path) -> Report {
    let mut report = Report::default();
    in_flight_window_is_declared(provider.as_ref());
    let losing = Arc::new(LoseAnswers::new(provider.clone()));
    let store: Arc<dyn StateStore> = Arc::new(LocalStore::new(dir.join("conformance.json")));
    let engine = Engine::new(losing.clone(), store.clone());
    let opts = ApplyOptions {
        secrets: stack.secret_values(),
        ..ApplyOptions::default()
    };
    lost_answers_are_adopted(&engine, &losing, stack, &opts, &mut report).await;
    let plain = Engine::new(provider.clone(), store.clone());
    report.types_checked = never_made_creates_read_as_gone(provider.as_ref(), stack, &store).await;
    report.adopted_by_key =
        natural_keys_are_adopted(&plain, provider.as_ref(), stack, &store).await;
    (report.inventoried, report.unlisted_types) =
        inventory_matches_state(&plain, provider.clone(), stack, dir).await;
    destroyed_objects_read_as_gone(&plain, provider.as_ref(), stack, &store, &opts).await;
    report
}

fn in_flight_window_is_declared(p: &dyn Provider) {
    let w = p.schema().in_flight_window;
    assert!(
        !w.is_zero() && w <= std::time::Duration::from_secs(3600),
        "provider conformance: {} must declare an in-flight window between 0 and 1 h (its call \
         timeouts plus read-after-write delay); it declares {w:?}",
        p.name()
    );
}

async fn lost_answers_are_adopted(
    engine: &Engine,
    losing: &LoseAnswers,
    stack: &Stack,
    opts: &ApplyOptions,
    report: &mut Report,
) {
    let options = PlanOptions {
        refresh: true,
        ..PlanOptions::default()
    };
    let expected = engine
        .lower(stack)
        .unwrap_or_else(|e| panic!("provider conformance: the stack does not lower: {e}"))
        .resources
        .len();
    losing.lose.store(true, Ordering::SeqCst);
    loop {
        report.rounds += 1;
        assert!(
            report.rounds <= expected + 2,
            "provider conformance: no convergence after {} rounds with lost answers",
            report.rounds
        );
        let plan = engine
            .plan(stack, &options)
            .await
            .unwrap_or_else(|e| panic!("provider conformance: plan after lost answers: {e}"));
        report.adopted_after_lost_answer += plan
            .drift
            .iter()
            .filter(|d| matches!(d, Drift::Adopted { .. }))
            .count();
        if !plan.has_work() {
            break;
        }
        engine
            .apply(&plan, opts)
            .await
            .unwrap_or_else(|e| panic!("provider conformance: apply: {e}"));
    }
    losing.lose.store(false, Ordering::SeqCst);
    let twice: Vec<String> = losing
        .creates
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(a, n)| format!("{a} ({n} creates)"))
        .collect();
    assert!(
        twice.is_empty(),
        "provider conformance: a create whose answer was lost was not found by the next run \
         and was sent again (a duplicate on a real cloud): {}",
        twice.join(", ")
    );
    assert_eq!(
        losing.creates.lock().unwrap().len(),
        expected,
        "provider conformance: every declared resource is created once"
    );
}

async fn never_made_creates_read_as_gone(
    provider: &dyn Provider,
    stack: &Stack,
    store: &Arc<dyn StateStore>,
) -> usize {
    let state = store.read().ok().flatten().expect("state after apply");
    // Types found by natural key would rightly find the real object here: checked by 4.
    let keyed = |t: &str| {
        provider
            .schema()
            .resources
            .get(t)
            .is_some_and(|s| s.adopts_existing)
    };
    let items: Vec<(Text, ReadItem)> = state
        .live()
        .filter(|r| !keyed(&r.type_name))
        .map(|r| {
            // Aimed at the same place as the real object (same parent), with a token no
            // call ever carried: the object it finds must not be taken for this one.
            let item = ReadItem {
                address: format!("{}-never-made", r.address).into(),
                id: None,
                token: Some(format!("cairn-never-made-{}", r.address).into()),
                prior: r.attrs.clone(),
            };
            (r.type_name.clone(), item)
        })
        .collect();
    let types: std::collections::BTreeSet<&Text> = items.iter().map(|(t, _)| t).collect();
    let types = types.len();
    let asked: Vec<Text> = items.iter().map(|(_, i)| i.address.clone()).collect();
    let found = read_by_type(provider, stack, items, "adopt-read").await;
    for address in asked {
        match found.get(&address) {
            Some(ReadOutcome::Gone) => {}
            other => panic!(
                "provider conformance: an adopt-read for a create that never happened \
                 ({address}) must answer gone, not {other:?}"
            ),
        }
    }
    types
}

async fn natural_keys_are_adopted(
    engine: &Engine,
    provider: &dyn Provider,
    stack: &Stack,
    store: &Arc<dyn StateStore>,
) -> usize {
    let graph = engine.lower(stack).expect("lowered before");
    let state = store.read().ok().flatten().expect("state after apply");
    let secrets = stack.secret_values();
    // State keeps secrets as digests: read their plaintext back, as apply does.
    let items = state
        .live()
        .filter(|r| {
            r.attrs
                .values()
                .any(|v| matches!(v, Value::Sensitive(s) if s.expose().is_none()))
        })
        .map(|r| (r.type_name.clone(), by_id(r)));
    let revealed: BTreeMap<Text, cairn_core::value::Attrs> =
        read_by_type(provider, stack, items, "reading secrets back")
            .await
            .into_iter()
            .filter_map(|(address, outcome)| match outcome {
                ReadOutcome::Found { attrs, .. } => Some((address, attrs)),
                _ => None,
            })
            .collect();
    let lookup = |r: &AttrRef| -> Option<Value> {
        revealed
            .get(r.address.as_str())
            .and_then(|a| a.get(r.attr.as_str()))
            .or_else(|| {
                state
                    .resources
                    .get(r.address.as_str())?
                    .attrs
                    .get(r.attr.as_str())
            })
            .cloned()
    };
    let mut adopted = 0;
    for d in &graph.resources {
        let c = &d.concrete;
        if !provider
            .schema()
            .resources
            .get(c.type_name.as_str())
            .is_some_and(|s| s.adopts_existing)
        {
            continue;
        }
        let Some(current) = state.resources.get(c.address.as_str()) else {
            panic!(
                "provider conformance: {} is not in state after apply",
                c.address
            );
        };
        let mut attrs = cairn_core::value::Attrs::new();
        for (k, v) in &c.attrs {
            let v = secrets.fill(&v.resolve(&lookup));
            let v = match v {
                Value::Generated(spec) => Value::Sensitive(spec.generate()),
                other => other,
            };
            attrs.insert(k.clone(), v);
        }
        let said = Arc::new(Mutex::new(Vec::<String>::new()));
        let s2 = said.clone();
        let resp = provider
            .create(CreateRequest {
                stack: stack.name().to_string(),
                address: c.address.clone(),
                type_name: c.type_name.clone(),
                attrs,
                token: format!("cairn-again-{adopted}"),
                progress: Progress::new(move |m| s2.lock().unwrap().push(m.to_string())),
            })
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "provider conformance: a create of {} meeting this stack's own object under \
                     its natural key must adopt it, not fail: {e}",
                    c.address
                )
            });
        assert_eq!(
            resp.id, current.id,
            "provider conformance: {} adopted another object than its own",
            c.address
        );
        assert!(
            said.lock().unwrap().iter().any(|m| m.contains("adopted")),
            "provider conformance: adopting {} must be said (progress message)",
            c.address
        );
        adopted += 1;
    }
    adopted
}

async fn inventory_matches_state(
    engine: &Engine,
    provider: Arc<dyn Provider>,
    stack: &Stack,
    dir: &Path,
) -> (usize, std::collections::BTreeSet<String>) {
    use cairn_core::inventory::{InventoryStatus, Standing};
    let state = engine
        .read_state(stack.name())
        .ok()
        .flatten()
        .expect("state after apply");
    let report = engine
        .inventory(stack)
        .await
        .unwrap_or_else(|e| panic!("provider conformance: inventory: {e}"));
    assert_eq!(
        report.status(),
        InventoryStatus::Clean,
        "provider conformance: the inventory of a converged stack must be clean:\n{}",
        report.text()
    );
    // An inventory that sees nothing would find no orphan either.
    assert!(
        !report.objects.is_empty(),
        "provider conformance: the inventory lists none of the {} objects state records",
        state.live().count()
    );
    for o in &report.objects {
        assert!(
            state
                .live()
                .any(|r| r.id == o.object.id && r.type_name == o.object.type_name),
            "provider conformance: the inventory lists {} {} ({}), which state does not record \
             as that type (it records that id as {:?})",
            o.object.type_name,
            o.object.id,
            o.object.address,
            state
                .live()
                .filter(|r| r.id == o.object.id)
                .map(|r| (&r.address, &r.type_name))
                .collect::<Vec<_>>()
        );
    }
    // A type is marked or it is not: a marked type's objects are all listed.
    let mut unlisted = std::collections::BTreeSet::new();
    for r in state.live() {
        let of_type = report
            .objects
            .iter()
            .filter(|e| e.object.type_name == r.type_name)
            .count();
        if of_type == 0 {
            unlisted.insert(r.type_name.to_string());
        } else {
            assert!(
                report
                    .objects
                    .iter()
                    .any(|e| e.object.type_name == r.type_name && e.object.id == r.id),
                "provider conformance: the inventory lists {of_type} {} object(s) but not {} \
                 ({})",
                r.type_name,
                r.address,
                r.id
            );
        }
    }
    // State forgets what was listed: every one of them is an orphan now.
    let listed: Vec<(&Text, &Text)> = report
        .objects
        .iter()
        .map(|e| (&e.object.type_name, &e.object.id))
        .collect();
    let kept: Vec<cairn_core::state::Mutation> = state
        .resources
        .values()
        .filter(|r| !listed.contains(&(&r.type_name, &r.id)))
        .map(|r| cairn_core::state::Mutation::Put(r.clone()))
        .collect();
    let copy = dir.join("conformance-forgetful.json");
    let store = LocalStore::new(&copy);
    let copied = (|| {
        let mut session = store.lock("provider conformance")?;
        session.init(&state.stack, &state.provider)?;
        session.append(&kept)?;
        session.unlock()
    })();
    copied.unwrap_or_else(|e| panic!("provider conformance: a state copy: {e}"));
    let orphans = Engine::new(provider, Arc::new(store))
        .inventory(stack)
        .await
        .unwrap_or_else(|e| panic!("provider conformance: inventory: {e}"));
    assert_eq!(
        orphans.entries(Standing::Orphan).count(),
        report.objects.len(),
        "provider conformance: objects state does not record must be orphans:\n{}",
        orphans.text()
    );
    assert_eq!(orphans.status(), InventoryStatus::Found);
    (report.objects.len(), unlisted)
}

async fn destroyed_objects_read_as_gone(
    engine: &Engine,
    provider: &dyn Provider,
    stack: &Stack,
    store: &Arc<dyn StateStore>,
    opts: &ApplyOptions,
) {
    let state = store.read().ok().flatten().expect("state after apply");
    let plan = engine
        .plan(
            stack,
            &PlanOptions {
                mode: PlanMode::Destroy,
                refresh: true,
                ..PlanOptions::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("provider conformance: destroy plan: {e}"));
    let report = engine
        .apply(&plan, opts)
        .await
        .unwrap_or_else(|e| panic!("provider conformance: destroy: {e}"));
    assert!(
        report.is_success(),
        "provider conformance: destroy:\n{report}"
    );
    let items = state.live().map(|r| (r.type_name.clone(), by_id(r)));
    for (address, outcome) in read_by_type(provider, stack, items, "read after destroy").await {
        assert!(
            matches!(outcome, ReadOutcome::Gone),
            "provider conformance: {address} must read as gone after destroy, got {outcome:?}"
        );
    }
    let left = engine
        .inventory(stack)
        .await
        .unwrap_or_else(|e| panic!("provider conformance: inventory after destroy: {e}"));
    assert!(
        left.is_empty(),
        "provider conformance: the cloud holds objects of the stack after destroy:\n{}",
        left.text()
    );
}

/// A read of `r` by its recorded id.
fn by_id(r: &cairn_core::state::ResourceState) -> ReadItem {
    ReadItem {
        address: r.address.clone(),
        id: Some(r.id.clone()),
        token: None,
        prior: r.attrs.clone(),
    }
}

/// Read `items` (each with its type), one request per type; every outcome by address.
async fn read_by_type(
    provider: &dyn Provider,
    stack: &Stack,
    items: impl IntoIterator<Item = (Text, ReadItem)>,
    what: &str,
) -> BTreeMap<Text, ReadOutcome> {
    let mut by_type: BTreeMap<Text, Vec<ReadItem>> = BTreeMap::new();
    for (type_name, item) in items {
        by_type.entry(type_name).or_default().push(item);
    }
    let mut out = BTreeMap::new();
    for (type_name, items) in by_type {
        let resp = provider
            .read(ReadRequest {
                stack: stack.name().to_string(),
                type_name: type_name.clone(),
                items,
            })
            .await
            .unwrap_or_else(|e| panic!("provider conformance: {what} ({type_name}): {e}"));
        out.extend(resp.results);
    }
    out
}

/// Forwards to a provider, and while `lose` is on, answers every successful create with
/// "outcome unknown": the object exists, the run never heard.
#[derive(Debug)]
struct LoseAnswers {
    inner: Arc<dyn Provider>,
    lose: AtomicBool,
    creates: Mutex<BTreeMap<Text, usize>>,
}

impl LoseAnswers {
    fn new(inner: Arc<dyn Provider>) -> Self {
        LoseAnswers {
            inner,
            lose: AtomicBool::new(false),
            creates: Mutex::default(),
        }
    }
}

#[async_trait::async_trait]
impl Provider for LoseAnswers {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn schema(&self) -> &ProviderSchema {
        self.inner.schema()
    }
    fn lower(&self, req: LowerRequest<'_>) -> Result<LowerResponse, Vec<Invalid>> {
        self.inner.lower(req)
    }
    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        self.inner.read(req).await
    }
    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        *self
            .creates
            .lock()
            .unwrap()
            .entry(req.address.clone())
            .or_default() += 1;
        let address = req.address.to_string();
        let resp = self.inner.create(req).await?;
        if self.lose.load(Ordering::SeqCst) {
            return Err(ProviderError::Indeterminate {
                address,
                message: "the answer was lost (provider conformance)".into(),
            });
        }
        Ok(resp)
    }
    async fn update(&self, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        self.inner.update(req).await
    }
    async fn delete(&self, req: DeleteRequest) -> Result<DeleteResponse, ProviderError> {
        self.inner.delete(req).await
    }
    async fn import(&self, req: ImportRequest) -> Result<ImportResponse, ProviderError> {
        self.inner.import(req).await
    }
    async fn inventory(&self, req: InventoryRequest) -> Result<InventoryResponse, ProviderError> {
        self.inner.inventory(req).await
    }
}
