//! cairn-provider-kit: what every cloud provider of cairn shares and that names no SDK.
//!
//! Crash safety is a contract between core and each provider. Core writes a pending record
//! before every call and, after a crash, asks the provider to find what the call left
//! (by token, ownership marks, or where it was aimed), waiting out the provider's in-flight
//! window before deciding a create never happened. The provider's side is here, so each
//! cloud does it the same way:
//! - [`ownership`]: the marks (tags or labels) that say "this stack made this object at this
//!   address", and reading them back;
//! - [`adopt`]: what a create does when the cloud says "already exists" for a name or other
//!   natural key: adopt the object when it is this stack's or identical to what was asked,
//!   and say so; refuse, naming the owner, otherwise;
//! - [`conformance`]: runnable checks that a provider keeps these rules; and [`lifecycle`],
//!   the acceptance steps (create, empty plan, import, in-place update, forced replacement,
//!   out-of-band deletion, destroy) every type must pass, from a table of cases.
//!
//! And the mechanics every provider needs around a cloud's API, none of which names an SDK:
//! [`wait`] (waiters that park and give their engine slot back), [`budget`] (per-service
//! concurrency that halves on throttling and grows back), [`retry`] (error classes, and the
//! delete retried while the object is still in use), [`names`] (creates under a name a
//! previous holder still being deleted keeps taken), and [`registry`] (each concrete type
//! declared once: its schema and its operations).

// Every public item is documented: these crates are used by programs, not only by cairn.
#![warn(missing_docs)]

pub mod adopt;
pub mod budget;
pub mod conformance;
pub mod lifecycle;
pub mod names;
pub mod ownership;
pub mod registry;
pub mod retry;
pub mod wait;
