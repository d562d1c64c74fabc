//! Golden tests: plan text and JSON for fixed scenarios, compared with files under
//! `tests/golden/`. Regenerate with `CAIRN_BLESS=1 cargo test -p cairn-core --test core golden`
//! and review the diff like any other change.

use crate::support::*;
use cairn_core::model::Resource;
use cairn_core::plan::render::{self, TextOptions};
use cairn_core::plan::Plan;
use cairn_core::prelude::*;
use cairn_core::testing::MemoryProvider;
use std::path::PathBuf;

/// Cloud ids, digests and lineages differ run to run; golden files hold placeholders.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // sha256:<64 hex>
        if text[i..].starts_with("sha256:")
            && bytes.len() >= i + 71
            && bytes[i + 7..i + 71].iter().all(u8::is_ascii_hexdigit)
        {
            out.push_str("sha256:<digest>");
            i += 71;
            continue;
        }
        // <word>-<8 hex> memory ids, not followed by more hex
        if bytes[i] == b'-'
            && i >= 1
            && bytes.len() >= i + 9
            && bytes[i + 1..i + 9]
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            && bytes.get(i + 9).is_none_or(|b| !b.is_ascii_alphanumeric())
            && [
                "network",
                "subnet",
                "securitygroup",
                "secret",
                "database",
                "broker",
                "loadbalancer",
                "cache",
            ]
            .iter()
            .any(|p| out.ends_with(p))
        {
            out.push_str("-<id>");
            i += 9;
            continue;
        }
        out.push(bytes[i] as char);
        i += 1;
    }
    // 32-hex lineage in JSON
    let mut lines = Vec::new();
    for l in out.lines() {
        if l.trim_start().starts_with("\"state_lineage\": \"") {
            lines.push("  \"state_lineage\": \"<lineage>\",".to_string());
        } else {
            lines.push(l.to_string());
        }
    }
    lines.join("\n") + "\n"
}

fn check(name: &str, actual: &str) {
    // Run-time first: a shared target directory may hold a binary built in another clone.
    let path = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("tests/golden")
        .join(name);
    let actual = normalise(actual);
    if std::env::var_os("CAIRN_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with CAIRN_BLESS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\n  expected: {:?}\n  actual:   {:?}\nrun with CAIRN_BLESS=1 to accept",
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

fn scenarios() -> Vec<(&'static str, Stack, Option<Stack>)> {
    vec![
        ("full-create", full_stack(), None),
        ("full-changes", full_stack(), Some(changed())),
    ]
}

/// The full stack with one update, one forced replacement, one delete and one create.
pub(crate) fn changed() -> Stack {
    let base = full_stack();
    let mut s = Stack::new(base.name());
    for d in base.resources() {
        match d.resource.clone() {
            Resource::Cache(_) => {}
            Resource::Database(db) => {
                drop(s.add(&d.name, db.backup_retention_days(14).encrypted(false)))
            }
            Resource::Network(x) => drop(s.add(&d.name, *x)),
            Resource::Subnet(x) => drop(s.add(&d.name, *x)),
            Resource::SecurityGroup(x) if d.name == "lb" => drop(s.add(
                &d.name,
                x.ingress(Rule::tcp(8443).from_cidr("10.0.0.0/8").description("admin")),
            )),
            Resource::SecurityGroup(x) => drop(s.add(&d.name, *x)),
            Resource::Broker(x) => drop(s.add(&d.name, *x)),
            Resource::LoadBalancer(x) => drop(s.add(&d.name, *x)),
            Resource::Secret(x) => drop(s.add(&d.name, *x)),
        }
    }
    let net = Ref::<Network>::named("main");
    s.add(
        "app-c",
        Subnet::new(&net, "10.0.20.0/24")
            .tier(Tier::Private)
            .zone(2),
    );
    s.output(
        "db_endpoint",
        Ref::<Database>::named("orders").attr("endpoint"),
    );
    s
}

#[test]
fn plans_match_their_golden_files() {
    let rt = rt();
    for (name, first, second) in scenarios() {
        let (sb, mem) = (Sandbox::new(), MemoryProvider::new());
        let engine = sb.engine(&mem);
        let plan: Plan = match second {
            None => rt.block_on(engine.plan(&first, &refresh())).unwrap(),
            Some(next) => {
                converge(&rt, &engine, &first);
                rt.block_on(engine.plan(&next, &refresh())).unwrap()
            }
        };
        check(
            &format!("{name}.txt"),
            &render::text(&plan, TextOptions::default()),
        );
        check(&format!("{name}.json"), &render::json(&plan));
        let back = Plan::from_json(&render::json(&plan)).unwrap();
        assert_eq!(back, plan, "{name}: the JSON form must round-trip");
    }
}

#[test]
fn colour_only_on_request() {
    let rt = rt();
    let (sb, mem) = (Sandbox::new(), MemoryProvider::new());
    let plan = rt
        .block_on(sb.engine(&mem).plan(&full_stack(), &refresh()))
        .unwrap();
    assert!(render::text(&plan, TextOptions { color: true })
        .contains("\x1b[32m+\x1b[0m mem_network.main"));
    assert!(!render::text(&plan, TextOptions { color: false }).contains('\x1b'));
}

#[test]
fn no_changes_reads_plainly() {
    let rt = rt();
    let (sb, mem) = (Sandbox::new(), MemoryProvider::new());
    let engine = sb.engine(&mem);
    converge(&rt, &engine, &full_stack());
    let plan = rt.block_on(engine.plan(&full_stack(), &refresh())).unwrap();
    assert_eq!(
        render::text(&plan, TextOptions::default()),
        "No changes. The cloud matches the stack \"shop\".\n"
    );
}
