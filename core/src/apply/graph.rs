//! The apply graph, built from a plan and nothing else.
//!
//! As in Terraform core, construction is a few small transformers, one concern each:
//! nodes for every step, then ordering edges for creates/updates, for destroys, for the two
//! halves of each replacement, and for destroys that must wait until dependents moved away.
//! A final check refuses an unorderable graph (which only mixed create-before-destroy and
//! destroy-before-create replacements across a dependency can produce).

use crate::plan::{Action, Plan, PlanError, Step};
use petgraph::graph::{DiGraph, NodeIndex};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// What one node does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// Create a new object.
    Create,
    /// Update the object in place.
    Update,
    /// First or second half of a replacement, depending on create_before_destroy.
    CreateReplacement,
    /// Delete the replaced object: the other half of a replacement.
    DeleteReplaced,
    /// Delete an object: no longer declared, destroyed, or deposed.
    Delete,
}

impl OpKind {
    /// The step's name in messages and JSON events, e.g. `create replacement`.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Create => "create",
            OpKind::Update => "update",
            OpKind::CreateReplacement => "create replacement",
            OpKind::DeleteReplaced => "delete replaced",
            OpKind::Delete => "delete",
        }
    }
    fn creates(self) -> bool {
        matches!(
            self,
            OpKind::Create | OpKind::Update | OpKind::CreateReplacement
        )
    }
    fn destroys(self) -> bool {
        matches!(self, OpKind::Delete | OpKind::DeleteReplaced)
    }
}

/// A step of the apply: change `change` of the plan, doing `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    /// Index of the change in [`Plan::changes`].
    pub change: usize,
    /// What the step does.
    pub kind: OpKind,
}

/// Steps and "must finish before" edges.
#[derive(Debug)]
pub struct ApplyGraph {
    /// One node per step; an edge `a -> b` means `a` must succeed before `b` starts.
    pub graph: DiGraph<Op, ()>,
}

impl ApplyGraph {
    /// Build the graph from `plan` alone; [`PlanError::Unorderable`] when its steps form a
    /// cycle.
    pub fn build(plan: &Plan) -> Result<ApplyGraph, PlanError> {
        let mut b = Builder {
            plan,
            graph: DiGraph::new(),
            creates: HashMap::default(),
            destroys: HashMap::default(),
            edges: HashSet::default(),
        };
        b.add_nodes();
        b.order_creates();
        b.order_destroys();
        b.order_replacements();
        b.destroys_wait_for_dependents_to_move();
        b.check_acyclic()?;
        Ok(ApplyGraph { graph: b.graph })
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// True when there is no step: the plan changes nothing in the cloud.
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }
}

struct Builder<'p> {
    plan: &'p Plan,
    graph: DiGraph<Op, ()>,
    /// Address -> its create/update/create-replacement node.
    creates: HashMap<&'p str, NodeIndex>,
    /// Address -> its destroy nodes (current object, deposed objects).
    destroys: HashMap<&'p str, Vec<NodeIndex>>,
    edges: HashSet<(NodeIndex, NodeIndex)>,
}

impl<'p> Builder<'p> {
    fn add_nodes(&mut self) {
        for (i, c) in self.plan.changes.iter().enumerate() {
            let kinds: &[OpKind] = match c.action {
                Action::Create => &[OpKind::Create],
                Action::Update => &[OpKind::Update],
                Action::Replace => &[OpKind::CreateReplacement, OpKind::DeleteReplaced],
                Action::Delete => &[OpKind::Delete],
                Action::NoOp | Action::Read => &[],
            };
            for &kind in kinds {
                let n = self.graph.add_node(Op { change: i, kind });
                if kind.creates() {
                    self.creates.insert(&c.address, n);
                } else {
                    self.destroys.entry(&c.address).or_default().push(n);
                }
            }
        }
    }

    /// A resource is created or updated after everything it depends on.
    fn order_creates(&mut self) {
        let mut edges = Vec::new();
        for (&addr, &n) in &self.creates {
            let c = &self.plan.changes[self.graph[n].change];
            debug_assert_eq!(c.address, addr);
            for d in &c.deps {
                if let Some(&dn) = self.creates.get(d.as_str()) {
                    edges.push((dn, n));
                }
            }
        }
        self.add_edges(edges);
    }

    /// A resource is destroyed after everything that depended on it (per state).
    fn order_destroys(&mut self) {
        let mut edges = Vec::new();
        for (&addr, nodes) in &self.destroys {
            for &n in nodes {
                let c = &self.plan.changes[self.graph[n].change];
                debug_assert_eq!(c.address, addr);
                for d in &c.prior_deps {
                    for &dn in self.destroys.get(d.as_str()).into_iter().flatten() {
                        edges.push((n, dn));
                    }
                }
            }
        }
        self.add_edges(edges);
    }

    /// The two halves of a replacement run in the order the plan says.
    fn order_replacements(&mut self) {
        let mut edges = Vec::new();
        for (i, c) in self.plan.changes.iter().enumerate() {
            if c.action != Action::Replace {
                continue;
            }
            let create = self.creates[c.address.as_str()];
            let Some(&delete) = self.destroys[c.address.as_str()]
                .iter()
                .find(|n| self.graph[**n].change == i)
            else {
                continue;
            };
            match c.steps.first() {
                Some(Step::CreateReplacement) => edges.push((create, delete)),
                _ => edges.push((delete, create)),
            }
        }
        self.add_edges(edges);
    }

    /// Deleting an object waits until resources that referenced it were updated or
    /// recreated to stop doing so (a plain delete, or the old half of create-before-destroy).
    /// A destroy-before-create replacement cannot wait: its dependents need the new object.
    fn destroys_wait_for_dependents_to_move(&mut self) {
        let mut edges = Vec::new();
        for c in &self.plan.changes {
            let Some(&cn) = self.creates.get(c.address.as_str()) else {
                continue;
            };
            for d in &c.prior_deps {
                for &dn in self.destroys.get(d.as_str()).into_iter().flatten() {
                    let target = &self.plan.changes[self.graph[dn].change];
                    let dbc = target.action == Action::Replace && !target.create_before_destroy;
                    if !dbc && self.graph[dn].kind.destroys() {
                        edges.push((cn, dn));
                    }
                }
            }
        }
        self.add_edges(edges);
    }

    fn add_edges(&mut self, edges: Vec<(NodeIndex, NodeIndex)>) {
        // A set, not `find_edge`: that scans the source's edges, and a fan-out root has
        // one per child (quadratic at 100,000 resources).
        for (a, b) in edges {
            if a != b && self.edges.insert((a, b)) {
                self.graph.add_edge(a, b, ());
            }
        }
    }

    fn check_acyclic(&self) -> Result<(), PlanError> {
        if petgraph::algo::toposort(&self.graph, None).is_ok() {
            return Ok(());
        }
        for scc in petgraph::algo::tarjan_scc(&self.graph) {
            if scc.len() > 1 {
                let path = crate::cycles::cycle_path(&self.graph, &scc);
                let names: Vec<String> = path
                    .iter()
                    .map(|n| {
                        let op = self.graph[*n];
                        format!(
                            "{} {}",
                            op.kind.as_str(),
                            self.plan.changes[op.change].address
                        )
                    })
                    .collect();
                return Err(PlanError::Unorderable(format!(
                    "{} -> {}",
                    names.join(" -> "),
                    names[0]
                )));
            }
        }
        Err(PlanError::Unorderable("cycle".into()))
    }
}
