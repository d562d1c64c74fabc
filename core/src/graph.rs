//! The resource graph: concrete resources and the edges between them.
//!
//! Edges come from two places: references inside attributes (`Value::Ref`) and explicit
//! ordering (`depends_on`, from lowering or from the portable resource). Building the graph
//! checks what the compiler could not: every reference points at a declared resource, types
//! exist in the provider's schema, and there is no cycle (the error prints one).

use crate::invalid::Invalid;
use crate::model::{Lifecycle, Stack};
use crate::provider::{Concrete, Export, ProviderSchema};
use crate::value::{AttrRef, Text};
use petgraph::graph::{DiGraph, NodeIndex};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::fmt::Write as _;

/// A concrete resource with what core adds to it: lifecycle (from its portable origin) and
/// the full dependency list.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// The resource as the provider lowered it.
    pub concrete: Concrete,
    /// Its portable origin's lifecycle, with `create_before_destroy` also set where the
    /// provider's schema sets it for the type.
    pub lifecycle: Lifecycle,
    /// Addresses this resource depends on (references and explicit), sorted, unique.
    pub deps: Vec<Text>,
    /// Portable address of the origin (`database.main`), for grouping in plans.
    pub origin_address: Text,
}

/// The desired concrete graph of a stack, in a topological order (dependencies first).
#[derive(Debug)]
pub struct ResourceGraph {
    /// In topological order; each one's `deps` name the resources it follows (the edges).
    pub resources: Vec<Desired>,
    /// Position in `resources` of each concrete address.
    pub index: HashMap<Text, usize>,
    /// The exported portable attributes the stack's outputs name, each with the concrete
    /// value that carries it.
    pub exports: Vec<Export>,
    /// The provider's notes on the lowering (carried into every plan).
    pub notes: Vec<crate::invalid::Note>,
    /// Objects the stack names and does not manage (read when a plan reads the cloud).
    pub existing: Vec<crate::provider::ExistingRef>,
}

impl ResourceGraph {
    /// A digest of the declaration as this provider lowered it: every concrete resource
    /// (address, type, origin, attributes, dependencies, lifecycle), sorted by address, the
    /// exports and the stack's outputs. Equal digests plan alike; a saved plan records it, so
    /// applying it to another declaration of the stack is refused. Secrets enter as their
    /// digests, like everywhere outside memory. The bytes hashed are a canonical encoding
    /// (module `canonical`), not JSON: on a large plan, formatting JSON only to hash it was
    /// a sixth of the plan's time.
    pub fn digest(&self, stack: &Stack) -> String {
        let mut out = canonical::Writer::default();
        let mut order: Vec<&Desired> = self.resources.iter().collect();
        order.sort_unstable_by(|a, b| a.concrete.address.cmp(&b.concrete.address));
        out.tag(b'R');
        out.len(order.len());
        for d in order {
            let c = &d.concrete;
            out.str(&c.address);
            out.str(&c.type_name);
            out.str(&d.origin_address);
            out.map(&c.attrs);
            out.len(d.deps.len());
            for dep in &d.deps {
                out.str(dep);
            }
            out.bool(d.lifecycle.protect);
            out.len(d.lifecycle.ignore_changes.len());
            for i in &d.lifecycle.ignore_changes {
                out.str(i);
            }
            out.bool(d.lifecycle.create_before_destroy);
            out.flush();
        }
        out.tag(b'E');
        out.len(self.exports.len());
        for e in &self.exports {
            out.str(&e.resource);
            out.str(&e.attr);
            out.value(&e.value);
        }
        let outputs = stack.outputs();
        out.tag(b'O');
        out.len(outputs.len());
        for o in outputs {
            out.str(&o.name);
            out.str(&o.value.to_string());
            out.bool(o.sensitive);
        }
        format!("sha256:{}", crate::value::hex(&out.finish()))
    }

    /// Build and check the graph from what a provider lowered.
    pub fn build(
        stack: &Stack,
        schema: &ProviderSchema,
        lowered: Vec<Concrete>,
        exports: Vec<Export>,
    ) -> Result<ResourceGraph, Vec<Invalid>> {
        let mut errors = Vec::new();
        let origins: HashMap<&str, &crate::model::Declared> = stack
            .resources()
            .iter()
            .map(|d| (d.name.as_str(), d))
            .collect();
        // The concrete addresses of each portable resource, for `depends_on` alone: built
        // only when some resource orders itself after another.
        let ordered = stack
            .resources()
            .iter()
            .any(|d| !d.resource.common().depends_on.is_empty());
        let mut by_origin: HashMap<&str, Vec<&str>> = HashMap::default();
        // Each type's schema, looked up once for a run of resources of that type.
        let last_type = std::cell::Cell::new(None);
        let known_type = |type_name: &str| match last_type.get() {
            Some((t, rs)) if t == type_name => Some(rs),
            _ => {
                let (t, rs) = schema.resources.get_key_value(type_name)?;
                last_type.set(Some((t.as_str(), rs)));
                Some(rs)
            }
        };
        let mut index: HashMap<Text, usize> =
            HashMap::with_capacity_and_hasher(lowered.len(), Default::default());
        for (i, c) in lowered.iter().enumerate() {
            if index.insert(c.address.clone(), i).is_some() {
                errors.push(Invalid::new(
                    &c.address,
                    "address",
                    "lowering produced this address twice",
                ));
            }
            if ordered {
                by_origin
                    .entry(c.origin.as_str())
                    .or_default()
                    .push(c.address.as_str());
            }
            if known_type(&c.type_name).is_none() {
                errors.push(Invalid::new(
                    &c.address,
                    "type",
                    format!("the provider has no resource type {:?}", c.type_name),
                ));
            }
        }
        let mut deps_of: Vec<Vec<Text>> = Vec::with_capacity(lowered.len());
        // The declaration of each, by position (found once, used again below).
        let mut declared: Vec<Option<&crate::model::Declared>> = Vec::with_capacity(lowered.len());
        let mut refs = Vec::new();
        let mut deps: Vec<Text> = Vec::new();
        for c in &lowered {
            deps.clear();
            deps.extend(
                c.depends_on
                    .iter()
                    .filter(|d| **d != c.address && index.contains_key(*d))
                    .cloned(),
            );
            for (attr, v) in &c.attrs {
                refs.clear();
                v.refs(&mut refs);
                for r in &refs {
                    if index.contains_key(&r.address) {
                        if r.address != c.address {
                            deps.push(r.address.clone());
                        }
                    } else {
                        errors.push(Invalid::new(
                            &c.address,
                            attr.as_str(),
                            format!("refers to {r}, which is not declared"),
                        ));
                    }
                }
            }
            let origin = origins.get(c.origin.as_str()).copied();
            declared.push(origin);
            if let Some(d) = origin {
                for target in &d.resource.common().depends_on {
                    deps.extend(
                        by_origin
                            .get(target.name.as_str())
                            .into_iter()
                            .flatten()
                            .filter(|a| **a != c.address)
                            .map(|a| Text::new(a)),
                    );
                }
            } else {
                errors.push(Invalid::new(
                    &c.address,
                    "origin",
                    format!("names {:?}, which the stack does not declare", c.origin),
                ));
            }
            deps.sort_unstable();
            deps.dedup();
            // Built in a buffer and kept at its exact size: one list per resource.
            deps_of.push(deps.as_slice().to_vec());
        }
        drop(by_origin);
        if !errors.is_empty() {
            return Err(errors);
        }

        let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(lowered.len(), lowered.len());
        for _ in &lowered {
            graph.add_node(());
        }
        for (i, deps) in deps_of.iter().enumerate() {
            for d in deps {
                graph.add_edge(NodeIndex::new(index[d]), NodeIndex::new(i), ());
            }
        }
        let order = match petgraph::algo::toposort(&graph, None) {
            Ok(order) => order,
            Err(_) => {
                for scc in petgraph::algo::tarjan_scc(&graph) {
                    if scc.len() > 1 {
                        let path = crate::cycles::cycle_path(&graph, &scc);
                        let names: Vec<&str> = path
                            .iter()
                            .map(|n| lowered[n.index()].address.as_str())
                            .collect();
                        let first = &lowered[path[0].index()];
                        let next = &lowered[path[1 % path.len()].index()].address;
                        let field = first
                            .attrs
                            .iter()
                            .find(|(_, v)| {
                                let mut r = Vec::new();
                                v.refs(&mut r);
                                r.iter().any(|r: &AttrRef| r.address == next)
                            })
                            .map_or("depends_on", |(k, _)| k.as_str());
                        errors.push(Invalid::new(
                            &first.address,
                            field,
                            format!("dependency cycle: {} -> {}", names.join(" -> "), names[0]),
                        ));
                    }
                }
                return Err(errors);
            }
        };
        drop(graph);

        // Re-number in topological order so every later walk can go front to back: the
        // index map keeps its entries and takes the new positions.
        let mut position = vec![0usize; order.len()];
        for (new, n) in order.iter().enumerate() {
            position[n.index()] = new;
        }
        for i in index.values_mut() {
            *i = position[*i];
        }
        let mut slots: Vec<Option<Concrete>> = lowered.into_iter().map(Some).collect();
        let mut resources = Vec::with_capacity(slots.len());
        for n in &order {
            let c = slots[n.index()].take().expect("each node once");
            let origin = declared[n.index()].expect("checked above");
            let mut lifecycle = origin.resource.common().lifecycle.clone();
            lifecycle.create_before_destroy |=
                known_type(&c.type_name).is_some_and(|s| s.create_before_destroy);
            resources.push(Desired {
                lifecycle,
                deps: std::mem::take(&mut deps_of[n.index()]),
                origin_address: crate::value::join_text(&[
                    origin.kind().as_str(),
                    ".",
                    &origin.name,
                ]),
                concrete: c,
            });
        }
        drop(slots);
        Ok(ResourceGraph {
            resources,
            index,
            exports,
            notes: Vec::new(),
            existing: Vec::new(),
        })
    }

    /// The desired resource at a concrete address, if the stack lowers to one.
    pub fn get(&self, address: &str) -> Option<&Desired> {
        self.index.get(address).map(|i| &self.resources[*i])
    }

    /// Graphviz DOT: one cluster per portable resource, an edge from each resource to what
    /// it depends on (the direction Terraform draws).
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph cairn {\n  rankdir = \"RL\";\n  node [shape = box];\n");
        let mut clusters: Vec<(&str, Vec<&str>)> = Vec::new();
        let mut slot: HashMap<&str, usize> = HashMap::default();
        for r in &self.resources {
            let i = *slot.entry(&r.origin_address).or_insert_with(|| {
                clusters.push((&r.origin_address, Vec::new()));
                clusters.len() - 1
            });
            clusters[i].1.push(&r.concrete.address);
        }
        for (i, (origin, members)) in clusters.iter().enumerate() {
            let _ = writeln!(out, "  subgraph cluster_{i} {{\n    label = {origin:?};");
            for m in members {
                let _ = writeln!(out, "    {m:?};");
            }
            out.push_str("  }\n");
        }
        for r in &self.resources {
            for d in &r.deps {
                let _ = writeln!(out, "  {:?} -> {d:?};", r.concrete.address);
            }
        }
        out.push_str("}\n");
        out
    }
}

/// DOT of the portable stack alone (no provider needed): resources and their references.
pub fn portable_dot(stack: &Stack) -> String {
    let mut out = String::from("digraph stack {\n  rankdir = \"RL\";\n  node [shape = box];\n");
    for d in stack.resources() {
        let _ = writeln!(out, "  {:?};", d.address());
    }
    for d in stack.resources() {
        let mut seen = HashSet::default();
        for (field, r) in d.resource.references() {
            if seen.insert(r.to_string()) {
                let _ = writeln!(
                    out,
                    "  {:?} -> {:?} [label = {:?}];",
                    d.address(),
                    r.to_string(),
                    field
                );
            }
        }
    }
    out.push_str("}\n");
    out
}

/// The byte form a declaration digest hashes: every value tagged with its kind and every
/// string and sequence prefixed by its length, so no two declarations write the same bytes
/// (no escaping needed, and maps in their sorted order).
mod canonical {
    use crate::value::{Attrs, Value};
    use sha2::{Digest, Sha256};

    /// Writes into a buffer that is hashed and emptied at each [`Writer::flush`], so a
    /// large declaration is never held twice.
    #[derive(Default)]
    pub struct Writer(Vec<u8>, Sha256);

    impl Writer {
        /// Hash what the buffer holds and empty it.
        pub fn flush(&mut self) {
            self.1.update(&self.0);
            self.0.clear();
        }
        /// The SHA-256 of everything written.
        pub fn finish(mut self) -> Vec<u8> {
            self.flush();
            self.1.finalize().to_vec()
        }
        /// A one-byte kind marker.
        pub fn tag(&mut self, t: u8) {
            self.0.push(t);
        }
        /// A length or count, as 8 little-endian bytes.
        pub fn len(&mut self, n: usize) {
            self.0.extend_from_slice(&(n as u64).to_le_bytes());
        }
        /// A string, prefixed by its length in bytes.
        pub fn str(&mut self, s: &str) {
            self.len(s.len());
            self.0.extend_from_slice(s.as_bytes());
        }
        /// A boolean, as one byte.
        pub fn bool(&mut self, b: bool) {
            self.0.push(u8::from(b));
        }
        /// An attribute map, in its sorted order.
        pub fn map(&mut self, m: &Attrs) {
            self.tag(b'm');
            self.len(m.len());
            for (k, v) in m {
                self.str(k);
                self.value(v);
            }
        }
        /// A value, tagged with its kind; a secret as its digest.
        pub fn value(&mut self, v: &Value) {
            match v {
                Value::Null => self.tag(b'n'),
                Value::Bool(b) => {
                    self.tag(b'b');
                    self.bool(*b);
                }
                Value::Int(i) => {
                    self.tag(b'i');
                    self.0.extend_from_slice(&i.to_le_bytes());
                }
                Value::Str(s) => {
                    self.tag(b's');
                    self.str(s);
                }
                Value::List(l) => {
                    self.tag(b'l');
                    self.len(l.len());
                    for x in l {
                        self.value(x);
                    }
                }
                Value::Map(m) => self.map(m),
                Value::Sensitive(x) => {
                    self.tag(b'x');
                    self.str(x.digest());
                }
                Value::Generated(g) => {
                    self.tag(b'g');
                    self.0.extend_from_slice(&g.length.to_le_bytes());
                    self.str(&g.symbols);
                }
                Value::Ref(r) => {
                    self.tag(b'r');
                    self.str(&r.address);
                    self.str(&r.attr);
                }
                Value::Unknown => self.tag(b'u'),
            }
        }
    }
}
