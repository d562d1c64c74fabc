//! Plans against converged state: every resource unchanged, or exactly the one that was
//! edited. The planner lines up a desired map's names with the recorded map's once for a
//! run of alike resources; these edit each resource of a stack of every shape in turn, so
//! a line-up carried over to a resource it does not fit would show as a change missed or
//! one found where there is none.

use crate::support::*;
use cairn_core::model::Resource;
use cairn_core::plan::{Action, Plan};
use cairn_core::prelude::*;
use cairn_core::testing::MemoryProvider;
use std::collections::BTreeMap;

fn tags(r: &mut Resource) -> &mut BTreeMap<String, String> {
    match r {
        Resource::Network(x) => &mut x.common.tags,
        Resource::Subnet(x) => &mut x.common.tags,
        Resource::SecurityGroup(x) => &mut x.common.tags,
        Resource::Database(x) => &mut x.common.tags,
        Resource::Broker(x) => &mut x.common.tags,
        Resource::LoadBalancer(x) => &mut x.common.tags,
        Resource::Cache(x) => &mut x.common.tags,
        Resource::Secret(x) => &mut x.common.tags,
    }
}

/// The portable addresses of what `plan` would change.
fn changed(plan: &Plan) -> Vec<&str> {
    plan.changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| c.origin.as_str())
        .collect()
}

/// `base` with `f` applied to every resource's tags.
fn tagged(base: Stack, f: impl Fn(&str, &mut BTreeMap<String, String>)) -> Stack {
    let names: Vec<String> = base
        .resources()
        .iter()
        .map(|d| d.name.to_string())
        .collect();
    names
        .iter()
        .fold(base, |s, name| edited(s, name, |r| f(name, tags(r))))
}

#[test]
fn a_tag_added_to_any_one_resource_is_the_one_change_found() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    converge(&rt, &engine, &full_stack());
    assert_converged(&rt, &engine, &full_stack());
    // One resource's map gains a name its neighbours of the same type do not have.
    for d in full_stack().resources() {
        let stack = edited(full_stack(), &d.name, |r| {
            tags(r).insert("touched".into(), "yes".into());
        });
        let plan = rt.block_on(engine.plan(&stack, &refresh())).unwrap();
        assert_eq!(changed(&plan), [d.address()], "tag added to {}", d.name);
    }
}

#[test]
fn a_value_changed_in_any_one_resource_among_alike_ones_is_the_one_change_found() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    // Every resource tagged alike: the same names everywhere, values compared by place.
    let base = || {
        tagged(full_stack(), |_, t| {
            drop(t.insert("team".into(), "core".into()))
        })
    };
    converge(&rt, &engine, &base());
    assert_converged(&rt, &engine, &base());
    for d in full_stack().resources() {
        let stack = tagged(full_stack(), |name, t| {
            let team = if name == d.name.as_str() {
                "other"
            } else {
                "core"
            };
            t.insert("team".into(), team.into());
        });
        let plan = rt.block_on(engine.plan(&stack, &refresh())).unwrap();
        assert_eq!(changed(&plan), [d.address()], "tag changed on {}", d.name);
    }
}
