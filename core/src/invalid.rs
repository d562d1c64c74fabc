//! The shape of a problem in a declaration, shared by validation, graph building and every
//! provider's lowering.
//!
//! A leaf module (it imports nothing of the crate), so that `graph`, `provider` and `validate`
//! can all report problems without importing one another.

use std::fmt;

/// One problem in a declaration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{resource}: field `{field}`: {message}")]
pub struct Invalid {
    /// Portable address (`subnet.public-a`), `stack` or `output.NAME`.
    pub resource: String,
    /// Field path inside the resource, e.g. `ingress[0].to_port`.
    pub field: String,
    /// What is wrong, in words for the user.
    pub message: String,
}

impl Invalid {
    /// A problem with `field` of `resource`, described by `message`.
    pub fn new(
        resource: impl AsRef<str>,
        field: impl AsRef<str>,
        message: impl Into<String>,
    ) -> Self {
        Invalid {
            resource: resource.as_ref().to_string(),
            field: field.as_ref().to_string(),
            message: message.into(),
        }
    }
}

/// Something a cloud does differently from what a resource declares, said in the plan
/// rather than refused: the declaration's intent is met, one detail of it is not (Azure
/// takes a server's daily backups on its own schedule, so a backup window is not kept).
/// A provider notes only what a user could not change on that cloud; what it could is an
/// [`Invalid`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Note {
    /// Portable address (`database.orders`).
    pub resource: String,
    /// The field not kept as declared.
    pub field: String,
    /// What the cloud does instead.
    pub message: String,
}

impl Note {
    /// A note that `field` of `resource` is not kept as declared, and why.
    pub fn new(
        resource: impl AsRef<str>,
        field: impl AsRef<str>,
        message: impl Into<String>,
    ) -> Self {
        Note {
            resource: resource.as_ref().to_string(),
            field: field.as_ref().to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: field `{}`: {}",
            self.resource, self.field, self.message
        )
    }
}

/// Every problem found in a stack.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<Invalid>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the stack is invalid ({} problem{}):",
            self.0.len(),
            if self.0.len() == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}
