//! cairn-stacks: the seed systems as portable cairn stacks.
//!
//! Each module turns one deployment guide (`shared/seeds/`) into a function returning a
//! [`Stack`]. Stacks are portable: they name kinds and sizes, never a cloud's resource
//! types; per-cloud choices a guide insists on (an AWS instance class, say) are overrides
//! only that cloud's provider reads.

pub mod zerostate;

use cairn_core::Stack;

/// Settings every seed stack takes.
#[derive(Clone, Debug)]
pub struct Params {
    /// Environment name, part of the stack name (`zerostate-prod`).
    pub env: String,
    /// TLS certificate for HTTPS listeners (an ACM ARN on AWS).
    pub certificate: String,
}

impl Params {
    pub fn new(env: &str) -> Self {
        Params {
            env: env.to_string(),
            certificate: format!("arn:aws:acm:us-east-1:000000000000:certificate/cairn-{env}"),
        }
    }

    pub fn certificate(mut self, certificate: &str) -> Self {
        self.certificate = certificate.to_string();
        self
    }
}

/// The seed stacks by name, for the CLI.
pub fn by_name(name: &str, params: &Params) -> Option<Stack> {
    match name {
        "zerostate" => Some(zerostate::stack(params)),
        _ => None,
    }
}

/// Names `by_name` knows.
pub const NAMES: &[&str] = &["zerostate"];
