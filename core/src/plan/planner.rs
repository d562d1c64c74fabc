//! Computing a plan: diff the desired graph against (refreshed) state.
//!
//! One pass over the desired resources in dependency order decides each action and resolves
//! references whose values are already known; a second pass finds what state holds and the
//! stack no longer declares. Unknown values propagate: an attribute that references
//! something being created is `(known after apply)`, and if that attribute forces
//! replacement, the dependent is replaced too.

use super::lineup::{Lineup, Place};
use super::*;
use crate::graph::{Desired, ResourceGraph};
use crate::provider::ProviderSchema;
use crate::state::{ResourceState, State};
use crate::value::{AttrRef, Text};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeMap;

/// What to plan. The default is what `cairn plan` does: a normal plan of the whole stack,
/// after reading every resource from the cloud.
///
/// ```
/// use cairn_core::prelude::*;
///
/// assert!(PlanOptions::default().refresh);
/// let destroy = PlanOptions::destroy().target("database.orders");
/// assert_eq!(destroy.mode, PlanMode::Destroy);
/// assert_eq!(destroy.targets, ["database.orders"]);
/// ```
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// A normal plan, a destroy, or a refresh-only plan (state brought up to the cloud).
    pub mode: PlanMode,
    /// Limit the plan to these resources (concrete or portable addresses, or portable names)
    /// and what they depend on (what depends on them, when destroying).
    pub targets: Vec<String>,
    /// Re-read every resource from the cloud first (on by default). Off, the plan trusts
    /// state: it cannot see drift, and is for callers that have just refreshed.
    pub refresh: bool,
    /// Compute the declaration's digest ([`Plan::stack_digest`], on by default): a saved
    /// plan needs it and the JSON form shows it. Off, it is left empty, for a plan shown as
    /// text or applied at once (it is a tenth of a plan's time at 1,000 resources), and
    /// [`Engine::save_plan`](crate::Engine::save_plan) refuses the plan.
    pub digest: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            mode: PlanMode::Normal,
            targets: Vec::new(),
            refresh: true,
            digest: true,
        }
    }
}

impl PlanOptions {
    /// A plan that destroys everything the stack holds (or the targets and what depends
    /// on them).
    pub fn destroy() -> Self {
        PlanOptions {
            mode: PlanMode::Destroy,
            ..PlanOptions::default()
        }
    }

    /// A plan that changes nothing in the cloud and brings state up to it.
    pub fn refresh_only() -> Self {
        PlanOptions {
            mode: PlanMode::RefreshOnly,
            ..PlanOptions::default()
        }
    }

    /// Limit the plan to `address` too (see [`PlanOptions::targets`]).
    pub fn target(mut self, address: impl Into<String>) -> Self {
        self.targets.push(address.into());
        self
    }

    /// Whether to read the cloud first (see [`PlanOptions::refresh`]).
    pub fn refresh(mut self, refresh: bool) -> Self {
        self.refresh = refresh;
        self
    }

    /// Whether to compute the declaration's digest (see [`PlanOptions::digest`]).
    pub fn digest(mut self, digest: bool) -> Self {
        self.digest = digest;
        self
    }
}

/// Inputs the planner needs besides options.
#[derive(Debug)]
pub struct PlanInput<'a> {
    /// Name of the stack.
    pub stack: &'a str,
    /// Name of the provider ([`Provider::name`](crate::provider::Provider::name)).
    pub provider: &'a str,
    /// The desired concrete resources, lowered and checked. The planner moves the
    /// attributes of each resource it creates into its change (`after`), and every planned
    /// resource's dependencies into its change, rather than copy them: afterwards the graph
    /// keeps addresses, lifecycles and the attributes of what it did not create.
    pub graph: &'a mut ResourceGraph,
    /// The provider's schema: which attributes are computed, force replacement, or are
    /// compared as unordered sets.
    pub schema: &'a ProviderSchema,
    /// State after refresh (refresh's `state_updates` already applied).
    pub state: &'a State,
    /// Lineage and serial of the stored state (before refresh), `None` if nothing stored.
    pub base: Option<(&'a str, u64)>,
    /// Drift refresh found, carried into the plan for people.
    pub drift: Vec<Drift>,
    /// Refresh's state corrections (already applied to `state`), which apply records
    /// before any change; the planner adds its own (protect flags, deps, origins).
    pub state_updates: Vec<Mutation>,
    /// Declared outputs: name, export value, sensitive.
    pub outputs: Vec<(String, Value, bool)>,
    /// [`ResourceGraph::digest`] of the declaration planned.
    pub stack_digest: String,
}

/// Make the plan.
pub fn plan(input: PlanInput<'_>, options: &PlanOptions) -> Result<Plan, PlanError> {
    let PlanInput {
        stack,
        provider,
        graph,
        schema,
        state,
        base,
        drift,
        mut state_updates,
        outputs,
        stack_digest,
    } = input;
    let targets = resolve_targets(graph, state, &options.targets, options.mode)?;
    // Creates whose `after` is filled once the walk is done: (change, resource).
    let mut creates: Vec<(usize, usize)> = Vec::new();
    // Every change of a declared resource: (change, resource), to move its deps in.
    let mut placed: Vec<(usize, usize)> = Vec::with_capacity(graph.resources.len());
    let in_target = |a: &str| targets.as_ref().is_none_or(|t| t.contains(a));
    let mut changes = Vec::with_capacity(graph.resources.len());
    // Values of already-planned resources that are known now (for reference resolution),
    // by their place in the graph (the graph's attributes are moved out below).
    let mut known = Known {
        index: &graph.index,
        at: Vec::new(),
    };
    known.at.resize_with(graph.resources.len(), || None);
    // What state records of each declared resource, by its place in the graph: found
    // through the graph's index, with no table of state's own.
    let mut recorded: Vec<Option<&ResourceState>> = vec![None; graph.resources.len()];
    for (address, r) in &state.resources {
        if let Some(&at) = graph.index.get(address.as_str()) {
            recorded[at] = Some(r);
        }
    }
    if options.mode != PlanMode::Destroy {
        let mut lineup = None;
        for (at, d) in graph.resources.iter().enumerate() {
            let address = d.concrete.address.as_str();
            let prior = recorded[at].filter(|r| !r.id.is_empty());
            if !in_target(address) || options.mode == PlanMode::RefreshOnly {
                let action = if options.mode == PlanMode::RefreshOnly && prior.is_some() {
                    Action::Read
                } else {
                    Action::NoOp
                };
                if let Some(p) = prior {
                    known.at[at] = Some(KnownAttrs::Prior(&p.attrs));
                    placed.push((changes.len(), at));
                    changes.push(noop(d, p, action));
                }
                continue;
            }
            let change = plan_one(d, prior, schema, &known, &mut lineup)?;
            match (change.action, prior) {
                (Action::NoOp, Some(p)) => {
                    if p.protect != d.lifecycle.protect
                        || p.deps != d.deps
                        || p.origin != d.origin_address
                    {
                        let mut updated = p.clone();
                        updated.protect = d.lifecycle.protect;
                        updated.deps = d.deps.clone();
                        updated.origin = d.origin_address.clone();
                        state_updates.push(Mutation::Put(updated));
                    }
                    known.at[at] = Some(KnownAttrs::Prior(&p.attrs));
                }
                (Action::Update, Some(p)) => {
                    known.at[at] = Some(KnownAttrs::Updated {
                        prior: &p.attrs,
                        changed: change.after.clone().unwrap_or_default(),
                    });
                }
                (Action::Create, _) => creates.push((changes.len(), at)),
                _ => {}
            }
            placed.push((changes.len(), at));
            changes.push(change);
        }
    }
    // A create's values are the lowered ones with what is known resolved: moved, not
    // copied (a plan from nothing would otherwise hold every attribute twice). Its
    // references point at resources planned before it, so `known` is all it needs.
    for (change, at) in creates {
        let mut after = std::mem::take(&mut graph.resources[at].concrete.attrs);
        for (_, v) in after.iter_mut() {
            if v.has_refs() {
                *v = v.resolve_known(&|r| lookup(&known, r).filter(|v| !v.is_sensitive()));
            }
        }
        changes[change].after = Some(after);
    }
    // Each change's dependencies are the declaration's: moved, like a create's values.
    for (change, at) in placed {
        changes[change].deps = std::mem::take(&mut graph.resources[at].deps);
    }

    // Deletes: what state has and the stack does not declare (everything, when destroying),
    // plus deposed objects, dependents first.
    let mut deletes = Vec::new();
    for r in state.resources.values() {
        let declared = options.mode != PlanMode::Destroy && graph.index.contains_key(&r.address);
        let targeted = in_target(&r.address);
        if !r.id.is_empty() && !declared && targeted && options.mode != PlanMode::RefreshOnly {
            if r.protect {
                return Err(PlanError::Protected {
                    address: r.address.to_string(),
                    action: "delete".into(),
                    reason: if options.mode == PlanMode::Destroy {
                        "destroy was requested".into()
                    } else {
                        "it is no longer declared, but state records it as protected".into()
                    },
                });
            }
            deletes.push(delete_change(r, None));
        }
        if targeted && options.mode != PlanMode::RefreshOnly {
            for dep in &r.deposed {
                let mut c = delete_change(r, Some(dep.id.clone()));
                c.before = Some(dep.attrs.clone());
                deletes.push(c);
            }
        }
    }
    order_deletes(&mut deletes);
    changes.extend(deletes);

    // A destroyed stack exports nothing: its outputs leave state with it.
    let outputs = if options.mode == PlanMode::Destroy {
        Vec::new()
    } else {
        outputs
    };
    let planned_outputs = outputs
        .into_iter()
        .map(|(name, value, sensitive)| {
            let value = value.resolve_known(&|r| lookup(&known, r));
            PlannedOutput {
                name,
                value,
                sensitive,
            }
        })
        .collect();

    let mut summary = Summary::default();
    for c in &changes {
        match c.action {
            Action::Create => summary.add += 1,
            Action::Update => summary.change += 1,
            Action::Replace => summary.replace += 1,
            Action::Delete => summary.destroy += 1,
            Action::NoOp | Action::Read => summary.unchanged += 1,
        }
    }
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION.to_string(),
        stack: stack.to_string(),
        provider: provider.to_string(),
        mode: options.mode,
        state_lineage: base.map(|(l, _)| l.to_string()),
        state_serial: base.map_or(0, |(_, s)| s),
        drift,
        state_updates,
        notes: if options.mode == PlanMode::Destroy {
            Vec::new()
        } else {
            graph.notes.clone()
        },
        changes,
        outputs: planned_outputs,
        summary,
        stack_digest,
        seal: None,
    })
}

/// Known attribute values of a planned resource.
enum KnownAttrs<'a> {
    /// Unchanged: state's values.
    Prior(&'a Attrs),
    /// Updated in place: configured values override state's; computed ones are kept.
    Updated { prior: &'a Attrs, changed: Attrs },
}

/// What is known of each planned resource, by its place in the graph; found by address
/// through the graph's own index.
struct Known<'a> {
    index: &'a HashMap<Text, usize>,
    at: Vec<Option<KnownAttrs<'a>>>,
}

impl<'a> Known<'a> {
    fn get(&self, address: &str) -> Option<&KnownAttrs<'a>> {
        self.at.get(*self.index.get(address)?)?.as_ref()
    }
}

fn lookup(known: &Known<'_>, r: &AttrRef) -> Option<Value> {
    lookup_ref(known, r).cloned()
}

fn lookup_ref<'k>(known: &'k Known<'_>, r: &AttrRef) -> Option<&'k Value> {
    let v = match known.get(r.address.as_str())? {
        KnownAttrs::Prior(a) => a.get(r.attr.as_str())?,
        KnownAttrs::Updated { prior, changed } => changed
            .get(r.attr.as_str())
            .or_else(|| prior.get(r.attr.as_str()))?,
    };
    (!v.has_unresolved()).then_some(v)
}

/// Does the desired value, once resolved, equal what state has? Compares in place, without
/// building the resolved value: most resources of a big stack are unchanged.
fn matches_resolved(want: &Value, have: &Value, known: &Known<'_>) -> bool {
    match (want, have) {
        (Value::Ref(r), _) => lookup_ref(known, r).is_some_and(|v| v.same_as(have)),
        (Value::List(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| matches_resolved(x, y, known))
        }
        // Names shared by both (both made in this process) need no comparing.
        (Value::Map(a), Value::Map(b)) if a.has_names_of(b) => a
            .values()
            .zip(b.values())
            .all(|(x, y)| matches_resolved(x, y, known)),
        (Value::Map(a), Value::Map(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((ka, x), (kb, y))| ka == kb && matches_resolved(x, y, known))
        }
        (Value::Generated(_), have) => *have != Value::Null,
        (Value::Unknown, _) => false,
        (want, have) => want.same_as(have),
    }
}

/// True when planning `d` against `p` would find nothing to change. `lineup` is the last
/// pair of name lists lined up, kept for the next resource.
fn unchanged<'a>(
    d: &'a Desired,
    p: &'a ResourceState,
    schema: &'a ProviderSchema,
    known: &Known<'_>,
    lineup: &mut Option<Lineup<'a>>,
) -> bool {
    let ignore = &d.lifecycle.ignore_changes;
    let ignored = |k: &str| !ignore.is_empty() && ignore.iter().any(|f| f == "*" || f == k);
    const NULL: Value = Value::Null;
    let matches = |k: &str, v: &Value, have: &Value, unordered: bool| {
        ignored(k)
            || match (v, have) {
                (Value::List(a), Value::List(b)) if unordered => {
                    crate::value::same_members(a, b, |x, y| matches_resolved(x, y, known))
                }
                _ => matches_resolved(v, have, known),
            }
    };
    if !lineup.as_ref().is_some_and(|l| l.fits(d, p)) {
        *lineup = Some(Lineup::new(d, p, schema));
    }
    let Some(lineup) = lineup else {
        return false;
    };
    let (want_names, want) = (d.concrete.attrs.names(), d.concrete.attrs.vals());
    let (have_names, have) = (p.attrs.names(), p.attrs.vals());
    lineup.steps.iter().all(|step| match *step {
        Place::Both {
            want: i,
            have: j,
            unordered,
        } => matches(&want_names[i], &want[i], &have[j], unordered),
        Place::Want { at, unordered } => matches(&want_names[at], &want[at], &NULL, unordered),
        Place::Have { at, computed } => have[at] == NULL || computed || ignored(&have_names[at]),
    })
}

/// A change of a declared resource, before the diff fills in what differs.
fn change_for(d: &Desired, prior: Option<&ResourceState>, action: Action) -> ResourceChange {
    ResourceChange {
        address: d.concrete.address.clone(),
        type_name: d.concrete.type_name.clone(),
        origin: d.origin_address.clone(),
        action,
        steps: vec![],
        id: prior.map(|p| p.id.clone()),
        deposed_id: None,
        before: None,
        after: None,
        changes: vec![],
        replace_because: vec![],
        // Moved in from the graph once every change is planned.
        deps: Vec::new(),
        prior_deps: prior.map(|p| p.deps.clone()).unwrap_or_default(),
        protect: d.lifecycle.protect,
        create_before_destroy: d.lifecycle.create_before_destroy,
    }
}

fn noop(d: &Desired, p: &ResourceState, action: Action) -> ResourceChange {
    change_for(d, Some(p), action)
}

fn plan_one<'a>(
    d: &'a Desired,
    prior: Option<&'a ResourceState>,
    schema: &'a ProviderSchema,
    known: &Known<'_>,
    lineup: &mut Option<Lineup<'a>>,
) -> Result<ResourceChange, PlanError> {
    let c = &d.concrete;
    // `after` keeps references to secrets (apply fetches the value from the cloud's secret
    // store); `compare` resolves them to digests so the diff still sees a changed secret.
    let resolve_after = || -> Attrs {
        c.attrs
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.resolve_known(&|r| lookup(known, r).filter(|v| !v.is_sensitive())),
                )
            })
            .collect()
    };
    let mut change = change_for(d, None, Action::Create);
    // A create's attributes are all in `after` (filled by the caller, which moves them);
    // listing them again as changes would double the plan's size for nothing.
    let Some(p) = prior else {
        return Ok(change);
    };
    change.id = Some(p.id.clone());
    change.prior_deps = p.deps.clone();
    if unchanged(d, p, schema, known, lineup) {
        change.action = Action::NoOp;
        return Ok(change);
    }
    let rs = schema.resources.get(c.type_name.as_str());
    let attr_schema = |k: &str| rs.map(|s| s.get(k)).unwrap_or_default();
    let mut after = resolve_after();
    let compare: Attrs = c
        .attrs
        .iter()
        .map(|(k, v)| (k.clone(), v.resolve_known(&|r| lookup(known, r))))
        .collect();
    let ignore_all = d.lifecycle.ignore_changes.iter().any(|f| f == "*");
    let ignored = |k: &str| ignore_all || d.lifecycle.ignore_changes.iter().any(|f| f == k);
    let mut keys: Vec<&crate::value::Text> = after.keys().collect();
    keys.extend(p.attrs.keys().filter(|k| !after.contains_key(*k)));
    keys.sort();
    keys.dedup();
    let mut diffs = Vec::new();
    let mut keep_prior = Vec::new();
    const NULL: Value = Value::Null;
    for k in keys {
        let s = attr_schema(k);
        let before = p.attrs.get(k).unwrap_or(&NULL);
        let Some(wanted) = compare.get(k) else {
            // Not configured: computed attributes are the cloud's business.
            if !s.computed && *before != Value::Null {
                diffs.push(AttrChange {
                    name: k.to_string(),
                    before: before.clone(),
                    after: Value::Null,
                    forces_replacement: s.force_new,
                });
            }
            continue;
        };
        if ignored(k) || matches!(wanted, Value::Generated(_)) && *before != Value::Null {
            keep_prior.push((k.clone(), before.clone()));
            continue;
        }
        let same = if s.unordered {
            wanted.same_set_as(before)
        } else {
            wanted.same_as(before)
        };
        if wanted.has_unresolved() || !same {
            diffs.push(AttrChange {
                name: k.to_string(),
                before: before.clone(),
                after: wanted.clone(),
                forces_replacement: s.force_new,
            });
        }
    }
    for (k, v) in keep_prior {
        after.insert(k, v);
    }
    if diffs.is_empty() {
        change.action = Action::NoOp;
        return Ok(change);
    }
    change.before = Some(p.attrs.clone());
    change.replace_because = diffs
        .iter()
        .filter(|d| d.forces_replacement)
        .map(|d| d.name.clone())
        .collect();
    if change.replace_because.is_empty() {
        change.action = Action::Update;
    } else {
        if p.protect || d.lifecycle.protect {
            return Err(PlanError::Protected {
                address: c.address.to_string(),
                action: "replace".into(),
                reason: format!("{} forces replacement", change.replace_because.join(", ")),
            });
        }
        change.action = Action::Replace;
        change.steps = if d.lifecycle.create_before_destroy {
            vec![Step::CreateReplacement, Step::DeleteReplaced]
        } else {
            vec![Step::DeleteReplaced, Step::CreateReplacement]
        };
    }
    change.changes = diffs;
    change.after = Some(after);
    Ok(change)
}

fn delete_change(r: &ResourceState, deposed: Option<Text>) -> ResourceChange {
    ResourceChange {
        address: r.address.clone(),
        type_name: r.type_name.clone(),
        origin: r.origin.clone(),
        action: Action::Delete,
        steps: vec![],
        id: if deposed.is_some() {
            None
        } else {
            Some(r.id.clone())
        },
        deposed_id: deposed,
        before: Some(r.attrs.clone()),
        after: None,
        changes: vec![],
        replace_because: vec![],
        deps: vec![],
        prior_deps: r.deps.clone(),
        protect: r.protect,
        create_before_destroy: false,
    }
}

/// Dependents before dependencies (reverse topological order by recorded deps), ties by
/// address. Iterative: a 10,000-link chain must not recurse 10,000 deep.
fn order_deletes(deletes: &mut Vec<ResourceChange>) {
    let index: HashMap<Text, usize> = deletes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.address.clone(), i))
        .collect();
    // Edge j -> i when i depends on j: i (the dependent) is deleted first.
    let n = deletes.len();
    let mut remaining_dependents = vec![0usize; n];
    for (i, c) in deletes.iter().enumerate() {
        for d in &c.prior_deps {
            if let Some(&j) = index.get(d.as_str()) {
                if j != i {
                    remaining_dependents[j] += 1;
                }
            }
        }
    }
    // Kahn's algorithm from the resources nothing depends on; a cycle in recorded deps
    // (corrupt input) falls back to address order for what is left.
    let mut ready: std::collections::BTreeSet<(Text, usize)> = (0..n)
        .filter(|i| remaining_dependents[*i] == 0)
        .map(|i| (deletes[i].address.clone(), i))
        .collect();
    let mut order = Vec::with_capacity(n);
    let mut placed = vec![false; n];
    while let Some((_, i)) = ready.pop_first() {
        order.push(i);
        placed[i] = true;
        for d in &deletes[i].prior_deps {
            if let Some(&j) = index.get(d.as_str()) {
                if j != i && !placed[j] {
                    remaining_dependents[j] -= 1;
                    if remaining_dependents[j] == 0 {
                        ready.insert((deletes[j].address.clone(), j));
                    }
                }
            }
        }
    }
    let mut rest: Vec<usize> = (0..n).filter(|i| !placed[*i]).collect();
    rest.sort_by(|a, b| deletes[*a].address.cmp(&deletes[*b].address));
    order.extend(rest);
    let mut slots: Vec<Option<ResourceChange>> = deletes.drain(..).map(Some).collect();
    deletes.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

/// Expand targets to concrete addresses: the named resources plus their dependencies
/// (normal mode) or their dependents (destroy mode).
fn resolve_targets(
    graph: &ResourceGraph,
    state: &State,
    targets: &[String],
    mode: PlanMode,
) -> Result<Option<HashSet<String>>, PlanError> {
    if targets.is_empty() {
        return Ok(None);
    }
    let mut set: HashSet<String> = HashSet::default();
    let mut all: BTreeMap<&str, (&str, &str, &[Text])> = BTreeMap::new(); // address -> (origin name, origin address, deps)
    for d in &graph.resources {
        all.insert(
            &d.concrete.address,
            (&d.concrete.origin, &d.origin_address, &d.deps),
        );
    }
    for r in state.resources.values() {
        all.entry(&r.address)
            .or_insert((&r.origin, &r.origin, &r.deps));
    }
    for t in targets {
        let before = set.len();
        for (addr, (origin, origin_addr, _)) in &all {
            if *addr == t || origin == t || origin_addr == t {
                set.insert(addr.to_string());
            }
        }
        if set.len() == before {
            return Err(PlanError::UnknownTarget(t.clone()));
        }
    }
    // Close over dependencies (or dependents, when destroying) with one graph walk.
    let mut edges: HashMap<&str, Vec<&str>> = HashMap::default();
    for (addr, (_, _, deps)) in &all {
        for d in deps.iter() {
            if mode == PlanMode::Destroy {
                edges.entry(d.as_str()).or_default().push(addr);
            } else {
                edges.entry(addr).or_default().push(d.as_str());
            }
        }
    }
    let mut stack: Vec<String> = set.iter().cloned().collect();
    while let Some(a) = stack.pop() {
        for next in edges.get(a.as_str()).into_iter().flatten() {
            if set.insert(next.to_string()) {
                stack.push(next.to_string());
            }
        }
    }
    Ok(Some(set))
}
