//! Naming a dependency cycle: the shortest loop through a strongly connected component, so
//! an error can print `a -> b -> a` instead of a set of nodes. A leaf module, used by
//! validation (references between declarations) and the resource graph (lowered edges).

use petgraph::visit::IntoNeighbors;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::VecDeque;
use std::hash::Hash;

/// Shortest cycle through `scc[0]` using only nodes of the strongly connected component.
pub(crate) fn cycle_path<G>(g: G, scc: &[G::NodeId]) -> Vec<G::NodeId>
where
    G: IntoNeighbors,
    G::NodeId: Copy + Eq + Hash,
{
    let members: HashSet<G::NodeId> = scc.iter().copied().collect();
    let start = scc[0];
    let mut pred: HashMap<G::NodeId, G::NodeId> = HashMap::default();
    let mut queue = VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for m in g.neighbors(n) {
            if m == start {
                let mut path = vec![n];
                let mut cur = n;
                while cur != start {
                    cur = pred[&cur];
                    path.push(cur);
                }
                path.reverse();
                return path;
            }
            if members.contains(&m) && !pred.contains_key(&m) {
                pred.insert(m, n);
                queue.push_back(m);
            }
        }
    }
    vec![start]
}
