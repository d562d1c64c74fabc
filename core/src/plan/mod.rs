//! Plans: plain data saying what apply will do, and why.
//!
//! A plan is computed once ([`planner`]) and rendered elsewhere ([`render`]: human text and
//! versioned JSON). A saved plan is the whole contract of an apply: the apply graph is built
//! from it alone, never from the stack again, and it is refused if the state moved on since
//! (lineage or serial differ).

mod lineup;
pub mod planner;
pub mod render;

use crate::state::Mutation;
use crate::value::{Attrs, Text, Value};
use serde::{Deserialize, Serialize};

/// Version of the plan JSON (and saved plan) format.
pub const PLAN_FORMAT_VERSION: &str = "1.0";

/// What kind of plan it is (see [`planner::PlanOptions::mode`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanMode {
    /// Bring the cloud to the stack.
    #[default]
    Normal,
    /// Delete everything state holds.
    Destroy,
    /// Only accept observed drift into state.
    RefreshOnly,
}

/// What happens to one concrete resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing to do: the object matches the stack, or lies outside the targets.
    NoOp,
    /// Create a new object.
    Create,
    /// Change the existing object in place.
    Update,
    /// Delete the object and create a new one, in the order of [`ResourceChange::steps`]:
    /// an attribute the provider cannot change in place differs.
    Replace,
    /// Delete the object: no longer declared, destroyed, or deposed.
    Delete,
    /// Refresh only: the resource was re-read and state takes what was found.
    Read,
}

impl Action {
    /// The mark shown before an address: `+`, `~`, `-/+`, `-`, `<=`, or a space for `NoOp`.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Read => "<=",
        }
    }
}

/// The ordered halves of a replacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Create the new object.
    CreateReplacement,
    /// Delete the old object.
    DeleteReplaced,
}

/// One attribute's change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttrChange {
    /// Attribute name.
    pub name: String,
    /// The value before: as state recorded it (`Value::Null` when it had none).
    pub before: Value,
    /// `Value::Ref` / `Value::Unknown` when known only after apply.
    pub after: Value,
    /// The provider cannot change this attribute in place (`force_new` in its schema).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forces_replacement: bool,
}

/// The planned change of one concrete resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    /// Concrete address, e.g. `aws_vpc.main`.
    pub address: Text,
    /// Concrete resource type, e.g. `aws_vpc` (`type` in JSON).
    #[serde(rename = "type")]
    pub type_name: Text,
    /// Portable address of the origin, e.g. `database.main`.
    pub origin: Text,
    /// What apply does to it.
    pub action: Action,
    /// For `Replace`: the two steps in the order they run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// Cloud id of the existing object (update, replace, delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Text>,
    /// This change deletes a deposed object (left by an interrupted replacement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposed_id: Option<Text>,
    /// Attributes of the existing object as state recorded them; set for updates,
    /// replacements and deletes, `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Attrs>,
    /// What apply sends: known values, `Ref`s filled in at apply time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Attrs>,
    /// Attribute-level changes of an update or replace (a create's values are in `after`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<AttrChange>,
    /// Attributes that force the replacement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace_because: Vec<String>,
    /// Dependencies after apply (from the stack).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<Text>,
    /// Dependencies recorded in state (destroy order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prior_deps: Vec<Text>,
    /// Whether the resource is protected (`Lifecycle::protect`); apply records it in state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// A replacement creates the new object before deleting the old one, which is deposed
    /// meanwhile (`Lifecycle::create_before_destroy`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_before_destroy: bool,
}

/// What refresh found different from state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Drift {
    /// Attributes changed out of band.
    Changed {
        /// Concrete address.
        address: Text,
        /// Portable address of the origin.
        origin: Text,
        /// Each attribute that differs: `before` as state recorded it, `after` as the
        /// cloud has it.
        changes: Vec<AttrChange>,
    },
    /// Deleted out of band.
    Deleted {
        /// Concrete address.
        address: Text,
        /// Portable address of the origin.
        origin: Text,
        /// Cloud id state recorded.
        id: Text,
    },
    /// Deleted and recreated out of band: same resource, another id.
    Recreated {
        /// Concrete address.
        address: Text,
        /// Portable address of the origin.
        origin: Text,
        /// Cloud id state recorded.
        old_id: Text,
        /// Cloud id found now.
        new_id: Text,
    },
    /// A create interrupted by a crash was found in the cloud and adopted.
    Adopted {
        /// Concrete address.
        address: Text,
        /// Portable address of the origin.
        origin: Text,
        /// Cloud id of the adopted object.
        id: Text,
    },
}

impl Drift {
    /// Concrete address of the resource that drifted.
    pub fn address(&self) -> &str {
        match self {
            Drift::Changed { address, .. }
            | Drift::Deleted { address, .. }
            | Drift::Recreated { address, .. }
            | Drift::Adopted { address, .. } => address,
        }
    }
}

/// A planned output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedOutput {
    /// Output name, as declared.
    pub name: String,
    /// Known value, or a `Ref` resolved after apply.
    pub value: Value,
    /// Declared sensitive: its value is shown masked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

/// Counts by action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Resources to create.
    pub add: usize,
    /// Resources to update in place.
    pub change: usize,
    /// Resources to replace.
    pub replace: usize,
    /// Objects to delete, deposed ones included.
    pub destroy: usize,
    /// Resources left as they are (no-ops, and reads of a refresh-only plan).
    pub unchanged: usize,
}

/// A complete plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_FORMAT_VERSION`] of the cairn that made it; another major version is refused.
    pub format_version: String,
    /// Name of the stack planned.
    pub stack: String,
    /// Name of the provider the plan is for ([`Provider::name`]).
    ///
    /// [`Provider::name`]: crate::provider::Provider::name
    pub provider: String,
    /// Normal, destroy or refresh-only.
    pub mode: PlanMode,
    /// State the plan was made against; `None` when there was none.
    pub state_lineage: Option<String>,
    /// Serial of that state (0 when there was none).
    pub state_serial: u64,
    /// Drift found by refresh (for people).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<Drift>,
    /// State corrections apply records before any change: refresh results, adopted
    /// objects, settled pending operations, protect flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub state_updates: Vec<Mutation>,
    /// What the provider does differently from the declaration (see [`Note`]).
    ///
    /// [`Note`]: crate::invalid::Note
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<crate::invalid::Note>,
    /// Every concrete resource, in dependency order; deletes last.
    pub changes: Vec<ResourceChange>,
    /// The stack's outputs as they will be after apply (none when destroying).
    pub outputs: Vec<PlannedOutput>,
    /// Counts of `changes` by action.
    pub summary: Summary,
    /// Digest of the declaration the plan was made from ([`ResourceGraph::digest`]): a
    /// saved plan is only applied to the same declaration.
    ///
    /// [`ResourceGraph::digest`]: crate::graph::ResourceGraph::digest
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stack_digest: String,
    /// The seal of a saved plan: HMAC-SHA256, under the plan key of the state it was made
    /// against, over the plan's JSON with this field absent. `None` for a plan in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
}

/// The plan as `cairn plan` prints it, without colours ([`render::text`]).
impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&render::text(self, render::TextOptions { color: false }))
    }
}

impl Plan {
    /// True when applying the plan would create, update, replace or delete something in
    /// the cloud; false for a plan that only reads (or records what it read).
    pub fn has_changes(&self) -> bool {
        self.changes
            .iter()
            .any(|c| !matches!(c.action, Action::NoOp | Action::Read))
    }

    /// True when apply would change the cloud or record anything new in state.
    pub fn has_work(&self) -> bool {
        self.has_changes() || !self.state_updates.is_empty()
    }

    /// The plan as pretty-printed JSON: its saved form (see [`render::json`]).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plans always serialise")
    }

    /// Seal the plan under `key` (a state's plan key, hex) for saving.
    pub fn seal_with(&mut self, key: &str) {
        self.seal = None;
        self.seal = Some(self.mac(key));
    }

    /// Check the seal made by [`Plan::seal_with`] under `key`: any change to the plan after
    /// sealing, or a seal made under another state's key, fails.
    pub fn verify_seal(&self, key: &str) -> Result<(), PlanError> {
        let Some(seal) = &self.seal else {
            return Err(PlanError::Tampered(
                "it carries no seal (it was not saved by `cairn plan --out`)".into(),
            ));
        };
        let mut unsealed = self.clone();
        unsealed.seal = None;
        if !constant_time_eq(unsealed.mac(key).as_bytes(), seal.as_bytes()) {
            return Err(PlanError::Tampered(
                "its seal does not match its content".into(),
            ));
        }
        Ok(())
    }

    fn mac(&self, key: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(&serde_json::to_vec(self).expect("plans always serialise"));
        format!(
            "hmac-sha256:{}",
            crate::value::hex(&mac.finalize().into_bytes())
        )
    }

    /// Parse a saved plan, refusing other formats.
    pub fn from_json(text: &str) -> Result<Plan, PlanError> {
        let raw: serde_json::Value =
            serde_json::from_str(text).map_err(|e| PlanError::Unreadable(e.to_string()))?;
        let version = raw
            .get("format_version")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        if version.split('.').next() != PLAN_FORMAT_VERSION.split('.').next() {
            return Err(PlanError::Unreadable(format!(
                "plan format version {version:?} is not supported (this cairn reads {PLAN_FORMAT_VERSION})"
            )));
        }
        serde_json::from_value(raw).map_err(|e| PlanError::Unreadable(e.to_string()))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a plan cannot be made or used.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// A protected resource would be deleted or replaced.
    #[error("{address}: refusing to {action} a protected resource ({reason}); turn `protect` off and apply that first")]
    Protected {
        /// Concrete address of the protected resource.
        address: String,
        /// `delete` or `replace`.
        action: String,
        /// Why the plan would do it: destroy requested, no longer declared, or the
        /// attributes that force replacement.
        reason: String,
    },
    /// The saved plan was made against another state.
    #[error("the saved plan is stale: it was made against state {planned}, but the state is now {current}; plan again")]
    Stale {
        /// The state the plan was made against (`<lineage> serial <n>`, or `(none)`).
        planned: String,
        /// The state now, in the same form.
        current: String,
    },
    /// The saved plan cannot be read.
    #[error("the saved plan cannot be read: {0}")]
    Unreadable(String),
    /// The saved plan is for another stack or provider.
    #[error("the saved plan is for {planned}, not {current}")]
    WrongStack {
        /// The stack and provider (or the provider) the plan is for.
        planned: String,
        /// Those of the engine given the plan.
        current: String,
    },
    /// The saved plan is not exactly what `cairn plan --out` made against this state.
    #[error("the saved plan cannot be trusted: {0}. It was changed after it was saved, or saved against another state; plan again")]
    Tampered(String),
    /// The saved plan was made from another declaration of the stack than the one loaded.
    #[error("the saved plan was made from another declaration of stack {stack} than the one loaded now (digest {planned}, now {current}); plan again")]
    StackChanged {
        /// Name of the stack.
        stack: String,
        /// Digest of the declaration the plan was made from.
        planned: String,
        /// Digest of the declaration loaded now.
        current: String,
    },
    /// A plan made without its declaration's digest ([`PlanOptions::digest`] off) cannot be
    /// saved: a saved plan is applied only to the declaration it was made from.
    ///
    /// [`PlanOptions::digest`]: crate::plan::planner::PlanOptions::digest
    #[error("this plan was made without its declaration's digest (PlanOptions::digest off), so it cannot be saved; plan again with it on")]
    NoDigest,
    /// A `--target` matches nothing.
    #[error("target {0:?} matches no resource")]
    UnknownTarget(String),
    /// The apply graph built from the plan has a cycle (create-before-destroy mixed with
    /// destroy-before-create across dependencies).
    #[error("the changes cannot be ordered: {0}")]
    Unorderable(String),
}
