//! Which steps of the apply graph may start, and in which order.
//!
//! Kept apart from the calls and the state writes so its rules can be read in one place:
//!
//! - a step becomes ready only when every step it depends on has succeeded;
//! - a failed step's dependents, transitively, are skipped and never start (independent
//!   branches go on);
//! - a step is started at most once, and ends with exactly one status;
//! - among ready steps, the one with the longest chain of dependents starts first (list
//!   scheduling), the chain measured in the typical durations of its steps' types (a
//!   database outweighs a route), so the critical path never waits behind side branches
//!   when more steps are ready than may run.

use super::{Op, OpInfo, OpStatus};
use crate::apply::observer::Observer;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

pub(super) struct Schedule<'g> {
    graph: &'g DiGraph<Op, ()>,
    /// Dependencies of each step not yet succeeded.
    waiting: Vec<usize>,
    /// Typical duration (ms) of the longest chain from each step to the end (itself
    /// included).
    height: Vec<u64>,
    /// Ready steps, longest chain first, then in graph order (deterministic).
    ready: BinaryHeap<(u64, Reverse<usize>)>,
    status: Vec<Option<OpStatus>>,
}

impl<'g> Schedule<'g> {
    /// `weight(step)`: the step's typical duration in ms (at least 1).
    pub fn new(graph: &'g DiGraph<Op, ()>, weight: impl Fn(&Op) -> u64) -> Self {
        let waiting: Vec<usize> = graph
            .node_indices()
            .map(|n| graph.neighbors_directed(n, Direction::Incoming).count())
            .collect();
        let height = chain_heights(graph, weight);
        let ready = graph
            .node_indices()
            .filter(|n| waiting[n.index()] == 0)
            .map(|n| (height[n.index()], Reverse(n.index())))
            .collect();
        Schedule {
            graph,
            waiting,
            height,
            ready,
            status: vec![None; graph.node_count()],
        }
    }

    /// The next step to start, if one is ready. The caller must end it with
    /// [`Schedule::succeeded`] or [`Schedule::failed`].
    pub fn next_ready(&mut self) -> Option<NodeIndex> {
        while let Some((_, Reverse(i))) = self.ready.pop() {
            if self.status[i].is_none() {
                return Some(NodeIndex::new(i));
            }
        }
        None
    }

    /// `n` succeeded: its dependents whose every dependency has now succeeded become ready.
    pub fn succeeded(&mut self, n: NodeIndex, elapsed: Duration) {
        self.status[n.index()] = Some(OpStatus::Succeeded { elapsed });
        for m in self.graph.neighbors_directed(n, Direction::Outgoing) {
            self.waiting[m.index()] -= 1;
            if self.waiting[m.index()] == 0 {
                self.ready
                    .push((self.height[m.index()], Reverse(m.index())));
            }
        }
    }

    /// `n` failed: it and everything that depends on it end here.
    pub fn failed(
        &mut self,
        n: NodeIndex,
        error: String,
        info: &dyn Fn(NodeIndex) -> OpInfo,
        observer: &dyn Observer,
    ) {
        observer.op_failed(&info(n), &error);
        self.status[n.index()] = Some(OpStatus::Failed { error });
        let because = format!("{} {} failed", self.graph[n].kind.as_str(), info(n).address);
        let mut stack: Vec<NodeIndex> = self
            .graph
            .neighbors_directed(n, Direction::Outgoing)
            .collect();
        while let Some(m) = stack.pop() {
            if self.status[m.index()].is_some() {
                continue;
            }
            observer.op_skipped(&info(m), &because);
            self.status[m.index()] = Some(OpStatus::Skipped {
                because: because.clone(),
            });
            stack.extend(self.graph.neighbors_directed(m, Direction::Outgoing));
        }
    }

    /// How every step ended; a step never reached (the walk stopped) is skipped.
    pub fn into_statuses(self) -> Vec<OpStatus> {
        self.status
            .into_iter()
            .map(|s| {
                s.unwrap_or(OpStatus::Skipped {
                    because: "not reached".into(),
                })
            })
            .collect()
    }
}

/// For each step, the weight of the longest chain from it to the end (itself included).
fn chain_heights(g: &DiGraph<Op, ()>, weight: impl Fn(&Op) -> u64) -> Vec<u64> {
    let order = petgraph::algo::toposort(g, None).unwrap_or_default();
    let mut height = vec![1u64; g.node_count()];
    for n in order.iter().rev() {
        let below = g
            .neighbors_directed(*n, Direction::Outgoing)
            .map(|m| height[m.index()])
            .max()
            .unwrap_or(0);
        height[n.index()] = below + weight(&g[*n]).max(1);
    }
    height
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::OpKind;

    /// A quick three-step chain and one slow step: by step count the chain goes first; by
    /// typical duration the slow step does, and the apply ends sooner when slots are few.
    #[test]
    fn the_longest_chain_is_measured_in_typical_durations() {
        let mut g: DiGraph<Op, ()> = DiGraph::new();
        let op = |change| Op {
            change,
            kind: OpKind::Create,
        };
        let (a, b, c) = (g.add_node(op(0)), g.add_node(op(1)), g.add_node(op(2)));
        let slow = g.add_node(op(3));
        g.add_edge(a, b, ());
        g.add_edge(b, c, ());
        let by_count = Schedule::new(&g, |_| 1).next_ready();
        assert_eq!(by_count, Some(a));
        let weight = |o: &Op| if o.change == 3 { 600_000 } else { 1_000 };
        let mut s = Schedule::new(&g, weight);
        assert_eq!(s.next_ready(), Some(slow), "the slow step starts first");
        assert_eq!(s.next_ready(), Some(a));
        assert_eq!(s.next_ready(), None, "b waits for a");
        s.succeeded(a, Duration::ZERO);
        assert_eq!(s.next_ready(), Some(b));
    }
}
