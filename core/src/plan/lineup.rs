//! How a desired map's names line up with a recorded map's.
//!
//! Why: a no-op plan compares every resource's desired attributes with what state holds,
//! name by name. Resources of one type declared alike have maps with the same two lists of
//! names (shared, see `value/names.rs`), so where each name sits in each map, and what the
//! type's schema says of it, is worked out once for a run of them instead of once per
//! resource: a thousand security groups compare their values by position alone.

use crate::graph::Desired;
use crate::provider::ProviderSchema;
use crate::state::ResourceState;
use crate::value::Attrs;

/// How a desired map's names line up with a recorded map's, with what the type's schema
/// says of each name: the same for every resource of a type declared alike, so worked out
/// once for a run of them (a thousand security groups line up one pair of name lists).
pub(super) struct Lineup<'a> {
    /// The maps it was worked out for; it fits any pair holding the same lists of names.
    want: &'a Attrs,
    have: &'a Attrs,
    type_name: &'a str,
    pub(super) steps: Vec<Place>,
}

/// One name of either map, by position, in name order.
#[derive(Clone, Copy, Debug)]
pub(super) enum Place {
    /// In both: the desired value must match the recorded one (as a set when unordered).
    Both {
        want: usize,
        have: usize,
        unordered: bool,
    },
    /// Desired only: its value must match null.
    Want { at: usize, unordered: bool },
    /// Recorded only: fine when null or the cloud's to compute.
    Have { at: usize, computed: bool },
}

impl<'a> Lineup<'a> {
    pub(super) fn new(d: &'a Desired, p: &'a ResourceState, schema: &'a ProviderSchema) -> Self {
        let type_name = d.concrete.type_name.as_str();
        let rs = schema.resources.get(type_name);
        let flags = |k: &str| rs.map(|s| s.get(k)).unwrap_or_default();
        let (want, have) = (d.concrete.attrs.names(), p.attrs.names());
        let mut steps = Vec::with_capacity(want.len() + have.len());
        let (mut i, mut j) = (0, 0);
        while i < want.len() || j < have.len() {
            let order = match (want.get(i), have.get(j)) {
                (Some(w), Some(h)) => w.cmp(h),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            steps.push(match order {
                std::cmp::Ordering::Less => {
                    i += 1;
                    Place::Want {
                        at: i - 1,
                        unordered: flags(&want[i - 1]).unordered,
                    }
                }
                std::cmp::Ordering::Greater => {
                    j += 1;
                    Place::Have {
                        at: j - 1,
                        computed: flags(&have[j - 1]).computed,
                    }
                }
                std::cmp::Ordering::Equal => {
                    i += 1;
                    j += 1;
                    Place::Both {
                        want: i - 1,
                        have: j - 1,
                        unordered: flags(&want[i - 1]).unordered,
                    }
                }
            });
        }
        Lineup {
            want: &d.concrete.attrs,
            have: &p.attrs,
            type_name,
            steps,
        }
    }

    pub(super) fn fits(&self, d: &Desired, p: &ResourceState) -> bool {
        self.want.has_names_of(&d.concrete.attrs)
            && self.have.has_names_of(&p.attrs)
            && self.type_name == d.concrete.type_name
    }
}
