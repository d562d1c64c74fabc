//! Rendering plans for people (text, optionally coloured) and machines (versioned JSON).
//!
//! Rendering never sees a secret: sensitive values hold only digests by the time a plan is
//! rendered from a file, and `Value`'s `Display` masks them anyway.

use super::*;
use std::fmt::Write as _;

/// Text rendering options.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextOptions {
    /// ANSI colours (for a TTY).
    pub color: bool,
}

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn action(&self, a: Action, text: &str) -> String {
        let code = match a {
            Action::Create => "32",
            Action::Update | Action::Read => "33",
            Action::Replace => "35",
            Action::Delete => "31",
            Action::NoOp => "0",
        };
        self.wrap(code, text)
    }
    fn bold(&self, text: &str) -> String {
        self.wrap("1", text)
    }
}

fn shown(v: &Value, sensitive: bool) -> String {
    let mut out = String::new();
    write_shown(&mut out, v, sensitive);
    out
}

fn write_shown(out: &mut String, v: &Value, sensitive: bool) {
    if sensitive && !matches!(v, Value::Null | Value::Unknown | Value::Ref(_)) {
        out.push_str("(sensitive)");
    } else {
        write_value(out, v);
    }
}

/// Like `Value`'s `Display`, but a reference anywhere inside reads `(known after apply)`.
fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Ref(_) | Value::Unknown => out.push_str("(known after apply)"),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push_str(" = ");
                write_value(out, item);
            }
            out.push('}');
        }
        Value::Str(text) => {
            out.push('"');
            // Most values need no escaping: copied whole.
            if !text
                .bytes()
                .any(|b| b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b))
            {
                out.push_str(text);
                out.push('"');
                return;
            }
            for ch in text.chars() {
                match ch {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if c.is_control() => {
                        let _ = write!(out, "{}", c.escape_default());
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Value::Int(i) => push_int(out, *i),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("null"),
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// An integer in decimal, without the formatting machinery (a plan shows thousands).
fn push_int(out: &mut String, i: i64) {
    let mut digits = [0u8; 20];
    let mut n = i.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// Human text for a plan, grouped under the portable resource each change came from.
pub fn text(plan: &Plan, opts: TextOptions) -> String {
    let p = Paint { on: opts.color };
    // About what a change takes; a large plan then grows its text a few times, not 20.
    let counts = &plan.summary;
    let visible = counts.add + counts.change + counts.replace + counts.destroy;
    let mut out = String::with_capacity(1024 + 256 * visible.min(1 << 20));
    if !plan.drift.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            p.bold("Changes outside cairn since the last apply:")
        );
        for d in &plan.drift {
            match d {
                Drift::Changed {
                    address, changes, ..
                } => {
                    let _ = writeln!(out, "  ~ {address} changed:");
                    for c in changes {
                        let _ = writeln!(
                            out,
                            "      {}: {} -> {}",
                            c.name,
                            shown(&c.before, c.before.is_sensitive()),
                            shown(&c.after, c.after.is_sensitive())
                        );
                    }
                }
                Drift::Deleted { address, id, .. } => {
                    let _ = writeln!(out, "  - {address} ({id}) was deleted");
                }
                Drift::Recreated {
                    address,
                    old_id,
                    new_id,
                    ..
                } => {
                    let _ = writeln!(out, "  ! {address} was recreated: {old_id} is now {new_id}");
                }
                Drift::Adopted { address, id, .. } => {
                    let _ = writeln!(
                        out,
                        "  + {address} ({id}) was created by an interrupted run and is adopted"
                    );
                }
            }
        }
        out.push('\n');
    }
    if !plan.notes.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            p.bold(&format!(
                "Notes: what {} does differently from the stack:",
                plan.provider
            ))
        );
        for n in &plan.notes {
            let _ = writeln!(out, "  ! {} {}: {}", n.resource, n.field, n.message);
        }
        out.push('\n');
    }
    let visible: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .collect();
    if visible.is_empty() && plan.mode != PlanMode::RefreshOnly {
        let _ = writeln!(
            out,
            "No changes. The cloud matches the stack {:?}.",
            plan.stack
        );
        return out;
    }
    if plan.mode == PlanMode::RefreshOnly {
        let _ = writeln!(
            out,
            "Refresh only: state will take what the cloud holds; nothing in the cloud changes."
        );
        let _ = writeln!(
            out,
            "\nRefresh: {} drifted resource(s) to record.",
            plan.drift.len()
        );
        return out;
    }
    let _ = writeln!(
        out,
        "cairn will perform these actions on stack {:?} ({}):",
        plan.stack, plan.provider
    );
    // Group under the portable resource, in order of first appearance.
    let mut groups: Vec<(&str, Vec<&ResourceChange>)> = Vec::new();
    let mut slot: rustc_hash::FxHashMap<&str, usize> = rustc_hash::FxHashMap::default();
    for c in visible {
        let i = *slot.entry(&c.origin).or_insert_with(|| {
            groups.push((&c.origin, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(c);
    }
    for (origin, changes) in groups {
        if p.on {
            let _ = writeln!(out, "\n{}", p.bold(&format!("# {origin}")));
        } else {
            let _ = writeln!(out, "\n# {origin}");
        }
        for c in changes {
            render_change(&mut out, &p, c);
        }
    }
    let s = &plan.summary;
    let _ = writeln!(
        out,
        "\n{} {} to add, {} to change, {} to replace, {} to destroy.",
        p.bold("Plan:"),
        s.add,
        s.change,
        s.replace,
        s.destroy
    );
    if !plan.outputs.is_empty() {
        let _ = writeln!(out, "\nOutputs:");
        for o in &plan.outputs {
            let _ = writeln!(
                out,
                "  {} = {}",
                o.name,
                shown(&o.value, o.sensitive || o.value.is_sensitive())
            );
        }
    }
    out
}

fn render_change(out: &mut String, p: &Paint, c: &ResourceChange) {
    let head = match (c.action, &c.deposed_id) {
        // The common line of a large plan, written in place.
        (Action::Create, _) if !p.on => {
            out.push_str("  + ");
            out.push_str(&c.address);
            out.push('\n');
            String::new()
        }
        (Action::Delete, Some(id)) => format!(
            "{} {} (deposed object {id})",
            p.action(c.action, "-"),
            c.address
        ),
        (Action::Create, _) => format!("{} {}", p.action(c.action, "+"), c.address),
        (Action::Update, _) => format!(
            "{} {} (update in place)",
            p.action(c.action, "~"),
            c.address
        ),
        (Action::Replace, _) => {
            let order = if c.create_before_destroy {
                "create new, then delete old"
            } else {
                "delete old, then create new"
            };
            format!(
                "{} {} (replace: {} forces it; {order})",
                p.action(c.action, "-/+"),
                c.address,
                c.replace_because.join(", ")
            )
        }
        (Action::Delete, None) => format!("{} {}", p.action(c.action, "-"), c.address),
        (Action::Read, _) => format!("{} {} (refresh)", p.action(c.action, "<="), c.address),
        (Action::NoOp, _) => return,
    };
    if !head.is_empty() {
        let _ = writeln!(out, "  {head}");
    }
    match c.action {
        Action::Create => {
            let attrs = c.after.iter().flatten();
            let width = attrs.clone().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (k, v) in attrs {
                out.push_str("      ");
                out.push_str(k);
                out.extend(std::iter::repeat_n(' ', width - k.len()));
                out.push_str(" = ");
                write_shown(out, v, v.is_sensitive());
                out.push('\n');
            }
        }
        Action::Update | Action::Replace => {
            for a in &c.changes {
                let sens = a.before.is_sensitive() || a.after.is_sensitive();
                let mark = if a.forces_replacement {
                    "  # forces replacement"
                } else {
                    ""
                };
                match (&a.before, &a.after, sens) {
                    // Lists (rules, subnets) change an element at a time: show just those.
                    (Value::List(before), Value::List(after), false) => {
                        let _ = writeln!(out, "      {}:{mark}", a.name);
                        for b in before
                            .iter()
                            .filter(|b| !after.iter().any(|x| x.same_as(b)))
                        {
                            let _ = writeln!(
                                out,
                                "        {} {}",
                                p.action(Action::Delete, "-"),
                                shown(b, false)
                            );
                        }
                        for x in after
                            .iter()
                            .filter(|x| !before.iter().any(|b| b.same_as(x)))
                        {
                            let _ = writeln!(
                                out,
                                "        {} {}",
                                p.action(Action::Create, "+"),
                                shown(x, false)
                            );
                        }
                    }
                    _ => {
                        let _ = writeln!(
                            out,
                            "      {}: {} -> {}{mark}",
                            a.name,
                            shown(&a.before, sens),
                            shown(&a.after, sens)
                        );
                    }
                }
            }
        }
        _ => {}
    }
}

/// The machine form: the plan itself, with `format_version`.
pub fn json(plan: &Plan) -> String {
    plan.to_json()
}
