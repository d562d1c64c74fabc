//! The validation-error corpus: each case breaks one thing in an otherwise valid stack and
//! asserts the error names the resource and the field, before any provider call.

use crate::support::*;
use cairn_core::model::Resource;
use cairn_core::prelude::*;
use cairn_core::testing::MemoryProvider;
use cairn_core::validate::validate;
use cairn_core::EngineError;

pub(super) fn with(f: impl FnOnce(&mut Stack)) -> Stack {
    let mut s = full_stack();
    f(&mut s);
    s
}

pub(super) fn edit(name: &str, f: impl FnOnce(&mut Resource)) -> Stack {
    edited(full_stack(), name, f)
}

macro_rules! as_kind {
    ($r:expr, $v:ident) => {
        match $r {
            Resource::$v(x) => x,
            _ => unreachable!(),
        }
    };
}

// After the helpers above: the cases use them, `as_kind!` included.
mod cases;
use cases::cases;

#[test]
fn the_base_stack_is_valid() {
    validate(&full_stack()).expect("the fixture must be valid");
}

#[test]
fn every_invalid_stack_names_resource_and_field() {
    let cases = cases();
    assert!(
        cases.len() >= 30,
        "the corpus must hold at least 30 cases, has {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for (name, stack, resource, field, words) in cases {
        match validate(&stack) {
            Ok(()) => failures.push(format!("{name}: accepted")),
            Err(errs) => {
                let hit = errs.0.iter().any(|e| {
                    e.resource == resource && e.field == field && e.message.contains(words)
                });
                if !hit {
                    failures.push(format!(
                        "{name}: expected {resource} / {field} / {words:?}, got:\n{errs}"
                    ));
                }
                let text = errs.to_string();
                assert!(
                    text.contains(resource) && text.contains(field),
                    "{name}: the message must name resource and field: {text}"
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let s = edit("orders", |r| {
        let d = as_kind!(r, Database);
        d.storage_gb = 1;
        d.backup_retention_days = 99;
        d.admin_user = "9x".into();
    });
    let errs = validate(&s).unwrap_err();
    let fields: Vec<&str> = errs.0.iter().map(|e| e.field.as_str()).collect();
    for f in ["storage_gb", "backup_retention_days", "admin_user"] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
}

#[test]
fn invalid_stacks_never_reach_the_provider() {
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    let bad = edit("db-b", |r| as_kind!(r, Subnet).cidr = "10.0.10.0/24".into());
    match rt.block_on(engine.plan(&bad, &refresh())) {
        Err(EngineError::Invalid(e)) => {
            assert!(e.to_string().contains("subnet.db-b: field `cidr`"), "{e}")
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert_eq!(mem.read_requests() + mem.mutating_calls(), 0);
}

#[test]
fn a_cycle_after_lowering_is_printed() {
    // The memory provider keeps rules inline, so two groups admitting each other are a cycle.
    let (rt, sb, mem) = (rt(), Sandbox::new(), MemoryProvider::new());
    let mut s = Stack::new("loop");
    let net = s.add("main", Network::new("10.0.0.0/16"));
    let a: Ref<SecurityGroup> = Ref::named("a");
    let b = s.add(
        "b",
        SecurityGroup::new(&net, "b").ingress(Rule::tcp(80).from_group(&a)),
    );
    s.add(
        "a",
        SecurityGroup::new(&net, "a").ingress(Rule::tcp(80).from_group(&b)),
    );
    validate(&s).expect("mutual group rules are fine at the portable level");
    let err = rt
        .block_on(sb.engine(&mem).plan(&s, &refresh()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dependency cycle:")
            && err.contains("mem_security_group.a")
            && err.contains("mem_security_group.b"),
        "{err}"
    );
    assert!(err.contains("field `ingress`"), "{err}");
}

#[test]
fn portable_and_concrete_graphs_render_as_dot() {
    let s = full_stack();
    let dot = cairn_core::graph::portable_dot(&s);
    assert!(
        dot.starts_with("digraph") && dot.contains("\"database.orders\" -> \"secret.db-password\""),
        "{dot}"
    );
    let mem = MemoryProvider::new();
    let engine = Sandbox::new().engine(&mem);
    let g = engine.lower(&s).unwrap();
    let dot = g.to_dot();
    assert!(
        dot.contains("subgraph cluster_")
            && dot.contains("\"mem_subnet.db-a\" -> \"mem_network.main\""),
        "{dot}"
    );
}
