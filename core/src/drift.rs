//! Drift checks for CI: where the cloud no longer matches what state recorded, and where
//! it does not match what the stack declares.
//!
//! Read-only by construction: a check takes no lock, writes no state and makes no cloud
//! call but reads (`Engine::refresh` and the pure planner), so a scheduled job can run it
//! against production while someone applies. The report is plain data with a
//! `format_version`, rendered as text, JSON or Markdown (for a job summary or a pull-request
//! comment); its exit code is the CI contract: 0 clean, 2 drift, 3 partial (some reads
//! failed; the report names them), and 1 for errors, a check that could read nothing at
//! all (the cloud unreachable, credentials refused) included: it proves nothing.

use crate::plan::{Action, Drift, Plan};
use crate::value::Value;
use serde::Serialize;
use std::fmt::Write as _;

/// Version of the JSON report; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// What a drift check found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriftReport {
    /// [`FORMAT_VERSION`] of the report.
    pub format_version: u32,
    /// Name of the stack checked.
    pub stack: String,
    /// Name of the provider that read the cloud.
    pub provider: String,
    /// Resources state recorded, all of them read.
    pub checked: usize,
    /// Changed, deleted or recreated out of band (live vs state).
    pub drifted: Vec<DriftedResource>,
    /// Live objects that differ from the stack for other reasons: declarations changed and
    /// not applied yet (live vs stack).
    pub unapplied: Vec<Unapplied>,
    /// Resources that could not be read: the check is partial.
    pub failed_reads: Vec<FailedRead>,
}

/// One resource changed, deleted or recreated out of band.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriftedResource {
    /// Concrete address, e.g. `aws_vpc.main`.
    pub address: String,
    /// The portable resource it belongs to.
    pub origin: String,
    /// Changed, deleted or recreated.
    pub kind: DriftKind,
    /// For `changed`: each field, as state recorded it and as the cloud has it (masked
    /// when sensitive).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldDrift>,
    /// For `deleted` and `recreated`: the cloud id state recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_id: Option<String>,
    /// For `recreated`: the cloud id found now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_id: Option<String>,
}

/// How a resource drifted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// Attributes differ from what state recorded.
    Changed,
    /// The object is gone from the cloud.
    Deleted,
    /// The object was deleted and made again: same resource, another id.
    Recreated,
}

/// One attribute that changed out of band.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldDrift {
    /// Concrete attribute name.
    pub field: String,
    /// The value state recorded (secrets as digests).
    pub expected: Value,
    /// The value the cloud has (secrets as digests).
    pub actual: Value,
}

/// A resource the stack still wants changed: its declaration differs from what was applied.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unapplied {
    /// Concrete address.
    pub address: String,
    /// Portable address of the resource it belongs to.
    pub origin: String,
    /// What an apply would do to it.
    pub action: Action,
}

/// A resource whose read failed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FailedRead {
    /// Concrete address.
    pub address: String,
    /// The provider's error, as text.
    pub error: String,
}

/// The verdict, and the exit code CI jobs rely on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftStatus {
    /// Every read worked; nothing drifted and nothing is unapplied (exit code 0).
    Clean,
    /// Every read worked, and something drifted or is unapplied (exit code 2).
    Drift,
    /// Some reads failed: whatever else was found, the check is incomplete (exit code 3).
    Partial,
    /// Not one recorded resource could be read.
    Failed,
}

impl DriftStatus {
    /// The process exit code for CI: 0 clean, 2 drift, 3 partial, 1 failed.
    pub fn exit_code(self) -> u8 {
        match self {
            DriftStatus::Clean => 0,
            DriftStatus::Drift => 2,
            DriftStatus::Partial => 3,
            DriftStatus::Failed => 1,
        }
    }
}

impl DriftReport {
    /// Build the report from a refresh's findings and, when every read succeeded, the plan
    /// made on the refreshed state (which says what the stack still wants changed).
    /// `ignored(address, field)` answers the stack's `ignore_changes`.
    pub fn new(
        stack: &str,
        provider: &str,
        checked: usize,
        drift: &[Drift],
        plan: Option<&Plan>,
        failures: &[(String, String)],
        ignored: impl Fn(&str, &str) -> bool,
    ) -> DriftReport {
        let mut drifted = Vec::new();
        for d in drift {
            let r = match d {
                Drift::Changed {
                    address,
                    origin,
                    changes,
                } => {
                    let changes: Vec<FieldDrift> = changes
                        .iter()
                        .filter(|c| !ignored(address, &c.name))
                        .map(|c| FieldDrift {
                            field: c.name.clone(),
                            expected: c.before.redacted(),
                            actual: c.after.redacted(),
                        })
                        .collect();
                    if changes.is_empty() {
                        continue;
                    }
                    DriftedResource {
                        address: address.to_string(),
                        origin: origin.to_string(),
                        kind: DriftKind::Changed,
                        changes,
                        old_id: None,
                        new_id: None,
                    }
                }
                Drift::Deleted {
                    address,
                    origin,
                    id,
                } => DriftedResource {
                    address: address.to_string(),
                    origin: origin.to_string(),
                    kind: DriftKind::Deleted,
                    changes: vec![],
                    old_id: Some(id.to_string()),
                    new_id: None,
                },
                Drift::Recreated {
                    address,
                    origin,
                    old_id,
                    new_id,
                } => DriftedResource {
                    address: address.to_string(),
                    origin: origin.to_string(),
                    kind: DriftKind::Recreated,
                    changes: vec![],
                    old_id: Some(old_id.to_string()),
                    new_id: Some(new_id.to_string()),
                },
                // A crash-interrupted create found in the cloud: reconciliation, not drift.
                Drift::Adopted { .. } => continue,
            };
            drifted.push(r);
        }
        let unapplied = plan
            .map(|p| {
                p.changes
                    .iter()
                    .filter(|c| !matches!(c.action, Action::NoOp | Action::Read))
                    .filter(|c| !drifted.iter().any(|d| d.address == c.address.as_str()))
                    .map(|c| Unapplied {
                        address: c.address.to_string(),
                        origin: c.origin.to_string(),
                        action: c.action,
                    })
                    .collect()
            })
            .unwrap_or_default();
        DriftReport {
            format_version: FORMAT_VERSION,
            stack: stack.to_string(),
            provider: provider.to_string(),
            checked,
            drifted,
            unapplied,
            failed_reads: failures
                .iter()
                .map(|(address, error)| FailedRead {
                    address: address.clone(),
                    error: error.clone(),
                })
                .collect(),
        }
    }

    /// The verdict: `Failed` when no recorded resource could be read, `Partial` when some
    /// could not, else `Drift` or `Clean`.
    pub fn status(&self) -> DriftStatus {
        if self.checked > 0 && self.failed_reads.len() >= self.checked {
            DriftStatus::Failed
        } else if !self.failed_reads.is_empty() {
            DriftStatus::Partial
        } else if self.drifted.is_empty() && self.unapplied.is_empty() {
            DriftStatus::Clean
        } else {
            DriftStatus::Drift
        }
    }

    /// The versioned JSON form (status included).
    pub fn json(&self) -> String {
        #[derive(Serialize)]
        struct WithStatus<'a> {
            status: DriftStatus,
            #[serde(flatten)]
            report: &'a DriftReport,
        }
        serde_json::to_string_pretty(&WithStatus {
            status: self.status(),
            report: self,
        })
        .expect("a drift report serialises")
    }

    /// For a terminal or a log.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} on stack {:?} ({}): {} resources checked.",
            match self.status() {
                DriftStatus::Clean => "No drift",
                DriftStatus::Drift => "Drift",
                DriftStatus::Partial => "Drift check incomplete",
                DriftStatus::Failed => "Drift check failed (nothing could be read)",
            },
            self.stack,
            self.provider,
            self.checked
        );
        for d in &self.drifted {
            match d.kind {
                DriftKind::Changed => {
                    let _ = writeln!(out, "  ~ {} changed outside cairn:", d.address);
                    for c in &d.changes {
                        let _ = writeln!(
                            out,
                            "      {}: expected {}, found {}",
                            c.field, c.expected, c.actual
                        );
                    }
                }
                DriftKind::Deleted => {
                    let _ = writeln!(
                        out,
                        "  - {} was deleted outside cairn (was {})",
                        d.address,
                        d.old_id.as_deref().unwrap_or("?")
                    );
                }
                DriftKind::Recreated => {
                    let _ = writeln!(
                        out,
                        "  ± {} was recreated outside cairn ({} -> {})",
                        d.address,
                        d.old_id.as_deref().unwrap_or("?"),
                        d.new_id.as_deref().unwrap_or("?")
                    );
                }
            }
        }
        for u in &self.unapplied {
            let _ = writeln!(
                out,
                "  {} {} differs from the stack (not applied: {:?})",
                u.action.symbol(),
                u.address,
                u.action
            );
        }
        for f in &self.failed_reads {
            let _ = writeln!(out, "  ? {} could not be read: {}", f.address, f.error);
        }
        out
    }

    /// A summary for a CI job summary or a pull-request comment.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let (icon, verdict) = match self.status() {
            DriftStatus::Clean => ("✅", "no drift"),
            DriftStatus::Drift => ("⚠️", "drift found"),
            DriftStatus::Partial => ("❓", "check incomplete"),
            DriftStatus::Failed => ("❌", "check failed: nothing could be read"),
        };
        let _ = writeln!(
            out,
            "## {icon} cairn drift: `{}` on {} — {verdict}\n",
            self.stack, self.provider
        );
        let _ = writeln!(
            out,
            "{} resources checked; {} drifted, {} differ from the stack, {} unreadable.\n",
            self.checked,
            self.drifted.len(),
            self.unapplied.len(),
            self.failed_reads.len()
        );
        if !self.drifted.is_empty() {
            let _ = writeln!(out, "| resource | drift | field | expected | actual |");
            let _ = writeln!(out, "|---|---|---|---|---|");
            for d in &self.drifted {
                let kind = match d.kind {
                    DriftKind::Changed => "changed",
                    DriftKind::Deleted => "deleted",
                    DriftKind::Recreated => "recreated",
                };
                if d.changes.is_empty() {
                    let _ = writeln!(
                        out,
                        "| `{}` | {kind} | | `{}` | `{}` |",
                        d.address,
                        d.old_id.as_deref().unwrap_or(""),
                        d.new_id.as_deref().unwrap_or("(gone)")
                    );
                }
                for c in &d.changes {
                    let _ = writeln!(
                        out,
                        "| `{}` | {kind} | `{}` | `{}` | `{}` |",
                        d.address,
                        c.field,
                        md_cell(&c.expected),
                        md_cell(&c.actual)
                    );
                }
            }
            out.push('\n');
        }
        if !self.unapplied.is_empty() {
            let _ = writeln!(out, "Not applied yet:\n");
            for u in &self.unapplied {
                let _ = writeln!(out, "- `{}` ({:?})", u.address, u.action);
            }
            out.push('\n');
        }
        if !self.failed_reads.is_empty() {
            let _ = writeln!(out, "Could not be read:\n");
            for f in &self.failed_reads {
                let _ = writeln!(out, "- `{}`: {}", f.address, f.error.replace('\n', " "));
            }
            out.push('\n');
        }
        if self.status() == DriftStatus::Drift {
            let _ = writeln!(
                out,
                "Repair with `cairn apply`, or accept what the cloud has with `cairn apply --refresh-only`."
            );
        }
        out
    }
}

fn md_cell(v: &Value) -> String {
    v.to_string().replace('|', "\\|").replace('`', "'")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::AttrChange;

    fn changed(field: &str) -> Drift {
        Drift::Changed {
            address: "aws_vpc.main".into(),
            origin: "network.main".into(),
            changes: vec![AttrChange {
                name: field.into(),
                before: Value::from("a"),
                after: Value::from("b"),
                forces_replacement: false,
            }],
        }
    }

    #[test]
    fn ignored_fields_are_not_drift_and_status_maps_to_exit_codes() {
        let r = DriftReport::new("s", "aws", 3, &[changed("tags")], None, &[], |_, f| {
            f == "tags"
        });
        assert_eq!(
            (r.status(), r.status().exit_code()),
            (DriftStatus::Clean, 0)
        );
        let r = DriftReport::new("s", "aws", 3, &[changed("cidr")], None, &[], |_, _| false);
        assert_eq!(
            (r.status(), r.status().exit_code()),
            (DriftStatus::Drift, 2)
        );
        let json: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(json["format_version"], 1);
        assert_eq!(json["status"], "drift");
        assert_eq!(json["drifted"][0]["changes"][0]["field"], "cidr");
        assert_eq!(json["drifted"][0]["changes"][0]["expected"], "a");
        assert_eq!(json["drifted"][0]["changes"][0]["actual"], "b");
        assert!(r
            .markdown()
            .contains("| `aws_vpc.main` | changed | `cidr` |"));
        let failed = [("aws_vpc.main".to_string(), "throttled".to_string())];
        let r = DriftReport::new("s", "aws", 3, &[], None, &failed, |_, _| false);
        assert_eq!(
            (r.status(), r.status().exit_code()),
            (DriftStatus::Partial, 3)
        );
        // Nothing read at all proves nothing: an error, not a partial result.
        let failed: Vec<(String, String)> = (0..3)
            .map(|i| (format!("aws_vpc.v{i}"), "connection refused".to_string()))
            .collect();
        let r = DriftReport::new("s", "aws", 3, &[], None, &failed, |_, _| false);
        assert_eq!(
            (r.status(), r.status().exit_code()),
            (DriftStatus::Failed, 1)
        );
        assert!(r.text().starts_with("Drift check failed"), "{}", r.text());
    }
}
