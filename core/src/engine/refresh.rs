//! Refresh: re-reading what state holds in batches per type, and reconciling the
//! operations a crash left pending (adopt what an interrupted create made, settle what
//! never happened, only once the provider's in-flight window has passed).

use super::*;
use tokio::task::JoinSet;

/// Resources read in one request at most: a type's resources go in chunks of this size, so
/// a refresh of 100,000 holds copies of a few chunks' attributes, not of all of them.
const READ_CHUNK: usize = 1000;

impl Engine {
    /// How long after its record's `started_at_ms` a pending call may still reach the
    /// cloud: the provider's in-flight window, plus the time a record written ahead of its
    /// call may wait for it ([`crate::apply::WRITTEN_AHEAD_FOR`]).
    fn in_flight_window_ms(&self) -> u64 {
        (self.provider.schema().in_flight_window + crate::apply::WRITTEN_AHEAD_FOR).as_millis()
            as u64
    }

    /// Re-read what `state` holds, in one provider request per resource type (plus one per
    /// type for pending creates to reconcile). With `full` off, only pending operations are
    /// reconciled.
    ///
    /// A pending create is settled as "never happened" only when that is certain: a request
    /// the interrupted run sent may still be on its way (a client's death does not recall
    /// it, and clouds read after write with a delay). So a pending create that cannot be
    /// found while younger than the provider's [`ProviderSchema::in_flight_window`] is read
    /// again once that window has passed, never settled on one empty read. The same wait
    /// applies to a found object whose create sends follow-up requests
    /// ([`ResourceSchema::create_follow_ups`]): it is adopted as it is once they have landed.
    pub async fn refresh(
        &self,
        state: State,
        graph: Option<&ResourceGraph>,
        full: bool,
    ) -> Refreshed {
        // Each type's resources in chunks of at most READ_CHUNK, a chunk's items (each a
        // copy of the resource's recorded attributes) made only when its request is sent
        // and its answers merged as they return: at most `read_parallelism` chunks are held
        // at once, not a second copy of the whole state.
        let mut by_type: BTreeMap<&str, Vec<&ResourceState>> = BTreeMap::new();
        if full {
            for r in state.live() {
                by_type.entry(&r.type_name).or_default().push(r);
            }
        }
        let creates: Vec<&PendingOperation> = state
            .pending
            .values()
            .filter(|p| p.kind == OperationKind::Create)
            .collect();
        let adopt = adopt_requests(creates.iter().copied());
        let mut out = Refreshed {
            read_requests: by_type
                .values()
                .map(|rs| rs.len().div_ceil(READ_CHUNK))
                .sum::<usize>()
                + adopt.len(),
            ..Refreshed::default()
        };
        let requests = by_type
            .iter()
            .flat_map(|(t, rs)| {
                rs.chunks(READ_CHUNK).map(move |chunk| {
                    let items = chunk
                        .iter()
                        .map(|r| ReadItem {
                            address: r.address.clone(),
                            id: Some(r.id.clone()),
                            token: None,
                            prior: r.attrs.clone(),
                        })
                        .collect();
                    (false, t.to_string(), items)
                })
            })
            .chain(adopt);

        let mut updates = Vec::new();
        let mut unsure: Vec<&PendingOperation> = Vec::new();
        self.read_each(&state.stack, requests, |result| {
            self.merge(&state, graph, result, &mut updates, &mut unsure, &mut out)
        })
        .await;
        if !unsure.is_empty() {
            let window = self.in_flight_window_ms();
            let last = unsure.iter().map(|p| p.started_at_ms).max().unwrap_or(0);
            let wait = (last + window)
                .saturating_sub(crate::state::now_ms())
                .min(window);
            self.notify(&format!(
                "{} create(s) of an interrupted run not found yet or not finished ({}); their \
                 requests may still be in flight, so cairn reads again in {:.1}s before going on",
                unsure.len(),
                unsure
                    .iter()
                    .map(|p| p.address.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                wait as f64 / 1000.0
            ));
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            let again = adopt_requests(unsure.iter().copied());
            out.read_requests += again.len();
            let mut still: Vec<&PendingOperation> = Vec::new();
            self.read_each(&state.stack, again.into_iter(), |result| {
                self.merge(&state, graph, result, &mut updates, &mut still, &mut out)
            })
            .await;
            // The window has passed for every one of them: not found now means never made.
            for p in still {
                updates.push(Mutation::Settle {
                    op_id: p.op_id.clone(),
                });
            }
        }
        // Every other pending operation is settled by the refresh itself: its resource was
        // just re-read (or will be re-planned from what state holds).
        for p in state.pending.values() {
            if p.kind != OperationKind::Create {
                updates.push(Mutation::Settle {
                    op_id: p.op_id.clone(),
                });
            }
        }
        let mut refreshed = state;
        for m in &updates {
            refreshed.apply(m);
        }
        out.state = Some(refreshed);
        out.updates = updates;
        out
    }

    /// Run read requests (`(adopt, type, items)`), at most `read_parallelism` at once.
    pub(crate) async fn read_all(
        &self,
        stack: &str,
        requests: Vec<(bool, String, Vec<ReadItem>)>,
    ) -> Vec<ReadResult> {
        let mut results = Vec::new();
        self.read_each(stack, requests.into_iter(), |r| results.push(r))
            .await;
        results
    }

    /// Run read requests, at most `read_parallelism` at once, taking each from `requests`
    /// only when it can be sent and handing each answer to `answered` as it comes.
    async fn read_each(
        &self,
        stack: &str,
        requests: impl Iterator<Item = (bool, String, Vec<ReadItem>)>,
        mut answered: impl FnMut(ReadResult),
    ) {
        let mut tasks: JoinSet<ReadResult> = JoinSet::new();
        let mut queue = requests;
        loop {
            while tasks.len() < self.read_parallelism {
                let Some((adopt, type_name, items)) = queue.next() else {
                    break;
                };
                let provider = self.provider.clone();
                let stack = stack.to_string();
                let addrs: Vec<Text> = items.iter().map(|i| i.address.clone()).collect();
                tasks.spawn(async move {
                    (
                        adopt,
                        addrs,
                        provider
                            .read(ReadRequest {
                                stack,
                                type_name: type_name.into(),
                                items,
                            })
                            .await,
                    )
                });
            }
            match tasks.join_next().await {
                Some(Ok(r)) => answered(r),
                Some(Err(e)) => std::panic::resume_unwind(e.into_panic()),
                None => break,
            }
        }
    }

    /// Fold read results into corrections. Pending creates read as gone while their
    /// requests may still land go to `unsure` instead of being settled.
    fn merge<'s>(
        &self,
        state: &'s State,
        graph: Option<&ResourceGraph>,
        result: ReadResult,
        updates: &mut Vec<Mutation>,
        unsure: &mut Vec<&'s PendingOperation>,
        out: &mut Refreshed,
    ) {
        let window = self.in_flight_window_ms();
        let now = crate::state::now_ms();
        let (adopt, addrs, result) = result;
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                out.failures
                    .extend(addrs.into_iter().map(|a| (a.to_string(), e.clone())));
                return;
            }
        };
        // All three are sorted by address (a type's resources sit together in state, its
        // name their addresses' prefix): walk them together, with no lookups.
        let mut addrs = addrs;
        addrs.sort_unstable();
        let mut results = resp.results.into_iter().peekable();
        let mut in_state = match addrs.first() {
            Some(first) if !adopt => Some(
                state
                    .resources
                    .range::<str, _>((
                        std::ops::Bound::Included(first.as_str()),
                        std::ops::Bound::Unbounded,
                    ))
                    .peekable(),
            ),
            _ => None,
        };
        for address in addrs {
            while results.peek().is_some_and(|(k, _)| *k < address) {
                results.next();
            }
            let outcome = match results.next_if(|(k, _)| *k == address) {
                Some((_, outcome)) => outcome,
                None => ReadOutcome::Failed(ProviderError::Api {
                    address: address.to_string(),
                    code: "NoResult".into(),
                    message: "the provider returned no result for this resource".into(),
                }),
            };
            if let Some(in_state) = &mut in_state {
                while in_state.peek().is_some_and(|(k, _)| **k < address) {
                    in_state.next();
                }
                if let Some((_, r)) = in_state.next_if(|(k, _)| **k == address) {
                    diff_live(r, outcome, updates, out);
                }
                continue;
            }
            let Some(p) = state
                .pending
                .values()
                .find(|p| p.address == address && p.kind == OperationKind::Create)
            else {
                continue;
            };
            let young = now < p.started_at_ms.saturating_add(window);
            // Found while its call may still send follow-ups: look again after them.
            let follows = matches!(outcome, ReadOutcome::Found { .. })
                && self
                    .provider
                    .schema()
                    .resources
                    .get(p.type_name.as_str())
                    .is_some_and(|s| s.create_follow_ups);
            if young && (matches!(outcome, ReadOutcome::Gone) || follows) {
                unsure.push(p);
            } else {
                reconcile_create(state, graph, p, outcome, updates, out);
            }
        }
    }
}

/// Settle a pending create with what the adopt-read found: adopt it, or forget it.
fn reconcile_create(
    state: &State,
    graph: Option<&ResourceGraph>,
    p: &PendingOperation,
    outcome: ReadOutcome,
    updates: &mut Vec<Mutation>,
    out: &mut Refreshed,
) {
    let address = p.address.as_str();
    match outcome {
        ReadOutcome::Found { id, attrs } => {
            let current = state.resources.get(address).filter(|r| !r.id.is_empty());
            if current.is_some_and(|r| r.id == id) {
                updates.push(Mutation::Settle {
                    op_id: p.op_id.clone(),
                });
                return;
            }
            if current.is_some() {
                updates.push(Mutation::Depose {
                    address: address.into(),
                });
            }
            let desired = graph.and_then(|g| g.get(address));
            updates.push(Mutation::Put(ResourceState {
                address: address.into(),
                type_name: p.type_name.clone(),
                origin: p.origin.clone(),
                id: id.clone(),
                attrs,
                deps: desired.map(|d| d.deps.clone()).unwrap_or_default(),
                protect: desired.is_some_and(|d| d.lifecycle.protect),
                deposed: vec![],
            }));
            updates.push(Mutation::Settle {
                op_id: p.op_id.clone(),
            });
            out.drift.push(Drift::Adopted {
                address: address.into(),
                origin: p.origin.clone(),
                id,
            });
        }
        ReadOutcome::Gone => updates.push(Mutation::Settle {
            op_id: p.op_id.clone(),
        }),
        ReadOutcome::Failed(e) => out.failures.push((address.to_string(), e)),
    }
}

/// One adopt-read request per type for these pending creates, looked up by token and by
/// where they were aimed (the attributes sent: an object inside another is found there).
fn adopt_requests<'a>(
    creates: impl Iterator<Item = &'a PendingOperation>,
) -> Vec<(bool, String, Vec<ReadItem>)> {
    let mut by_type: BTreeMap<&str, Vec<ReadItem>> = BTreeMap::new();
    for p in creates {
        by_type.entry(&p.type_name).or_default().push(ReadItem {
            address: p.address.clone(),
            id: None,
            token: Some(p.token.clone()),
            prior: p.attrs.clone(),
        });
    }
    by_type
        .into_iter()
        .map(|(t, items)| (true, t.to_string(), items))
        .collect()
}

pub(crate) type ReadResult = (bool, Vec<Text>, Result<ReadResponse, ProviderError>);

/// Compare a live read with state; record drift and the correction.
fn diff_live(
    r: &ResourceState,
    outcome: ReadOutcome,
    updates: &mut Vec<Mutation>,
    out: &mut Refreshed,
) {
    match outcome {
        ReadOutcome::Found { id, attrs } => {
            if id != r.id {
                out.drift.push(Drift::Recreated {
                    address: r.address.clone(),
                    origin: r.origin.clone(),
                    old_id: r.id.clone(),
                    new_id: id.clone(),
                });
            } else {
                const NULL: Value = Value::Null;
                // What state recorded, read back unchanged (shared, not copied), is the
                // same with no entry compared.
                let same = r.attrs.is_copy_of(&attrs)
                    || r.attrs.len() == attrs.len()
                        && r.attrs
                            .iter()
                            .zip(&attrs)
                            .all(|((ka, va), (kb, vb))| ka == kb && va.same_as(vb));
                if same {
                    return;
                }
                let keys: BTreeSet<&crate::value::Text> =
                    r.attrs.keys().chain(attrs.keys()).collect();
                let changes: Vec<AttrChange> = keys
                    .into_iter()
                    .filter_map(|k| {
                        let before = r.attrs.get(k).unwrap_or(&NULL);
                        let after = attrs.get(k).unwrap_or(&NULL);
                        (!before.same_as(after)).then(|| AttrChange {
                            name: k.to_string(),
                            before: before.clone(),
                            after: after.clone(),
                            forces_replacement: false,
                        })
                    })
                    .collect();
                out.drift.push(Drift::Changed {
                    address: r.address.clone(),
                    origin: r.origin.clone(),
                    changes,
                });
            }
            let mut updated = r.clone();
            updated.id = id;
            updated.attrs = attrs;
            updates.push(Mutation::Put(updated));
        }
        ReadOutcome::Gone => {
            out.drift.push(Drift::Deleted {
                address: r.address.clone(),
                origin: r.origin.clone(),
                id: r.id.clone(),
            });
            updates.push(Mutation::Remove {
                address: r.address.clone(),
            });
        }
        ReadOutcome::Failed(e) => out.failures.push((r.address.to_string(), e)),
    }
}
