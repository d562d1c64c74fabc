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
//! - [`conformance`]: runnable checks that a provider keeps these rules.

pub mod adopt;
pub mod conformance;
pub mod ownership;
