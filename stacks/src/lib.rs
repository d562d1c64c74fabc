//! cairn-stacks: the seed systems as portable cairn stacks.
//!
//! Each module turns one deployment guide (`shared/seeds/`) into a function returning a
//! [`Stack`]. Stacks are portable: they name kinds and sizes, never a cloud's resource
//! types; per-cloud choices a guide insists on (an AWS instance class, say) are overrides
//! only that cloud's provider reads.

// Every public item is documented: these crates are used by programs, not only by cairn.
#![warn(missing_docs)]

pub mod event_booking;
pub mod event_broker;
pub mod flight_booking;
pub mod ticketing;
pub mod zerostate;

use cairn_core::model::{Certificate, Size};
use cairn_core::Stack;

/// Settings every seed stack takes.
#[derive(Clone, Debug)]
pub struct Params {
    /// Environment name, part of the stack name (`zerostate-prod`).
    pub env: String,
    /// TLS certificate for HTTPS listeners, in the target cloud's reference (an ACM ARN on
    /// AWS); `None` asks the cloud for a managed one (see [`Params::certificate_for`]).
    pub certificate: Option<Certificate>,
    /// The main database's size where the guide leaves a choice (its minimum otherwise).
    pub database_size: Option<Size>,
    /// The cache's size where the guide leaves a choice.
    pub cache_size: Option<Size>,
    /// Turn on the clouds' deletion protection for databases: on for `prod`, off for other
    /// environments so they can be torn down in one `cairn destroy`.
    pub protect_data: bool,
    /// Region the stack is pinned to, in the target cloud's spelling; `None` leaves it to
    /// the provider's configuration.
    pub region: Option<String>,
}

impl Params {
    /// Defaults for environment `env`: the guides' sizes, a managed certificate, no region
    /// pin, and data protected when `env` is `prod`.
    pub fn new(env: &str) -> Self {
        Params {
            env: env.to_string(),
            certificate: None,
            database_size: None,
            cache_size: None,
            protect_data: env == "prod",
            region: None,
        }
    }

    /// Pin the stack to `region`, in the target cloud's spelling.
    pub fn region(mut self, region: &str) -> Self {
        self.region = Some(region.to_string());
        self
    }

    /// An empty stack for `system` in this environment (`zerostate-prod`), pinned to the
    /// region when one is given.
    pub(crate) fn stack(&self, system: &str) -> Stack {
        let mut s = Stack::new(format!("{system}-{}", self.env));
        s.set_region(self.region.clone());
        s
    }

    /// Turn the databases' deletion protection on or off, whatever the environment.
    pub fn protect_data(mut self, on: bool) -> Self {
        self.protect_data = on;
        self
    }

    /// The main database's size, where the guide leaves a choice.
    pub fn database_size(mut self, size: Size) -> Self {
        self.database_size = Some(size);
        self
    }

    /// The cache's size, where the guide leaves a choice.
    pub fn cache_size(mut self, size: Size) -> Self {
        self.cache_size = Some(size);
        self
    }

    /// An existing certificate, in the cloud's reference (an ACM ARN on AWS).
    pub fn certificate(mut self, certificate: &str) -> Self {
        self.certificate = Some(Certificate::existing(certificate));
        self
    }

    /// The certificate `system`'s balancer presents: the one given, else a managed one for
    /// `SYSTEM.ENV.example.com` (clouds that cannot issue one refuse it before any call,
    /// naming the field: give an existing one then).
    pub fn certificate_for(&self, system: &str) -> Certificate {
        self.certificate
            .clone()
            .unwrap_or_else(|| Certificate::managed([format!("{system}.{}.example.com", self.env)]))
    }
}

/// The seed stacks by name, for the CLI.
pub fn by_name(name: &str, params: &Params) -> Option<Stack> {
    match name {
        "ticketing" => Some(ticketing::stack(params)),
        "event-booking" => Some(event_booking::stack(params)),
        "event-broker" => Some(event_broker::stack(params)),
        "flight-booking" => Some(flight_booking::stack(params)),
        "zerostate" => Some(zerostate::stack(params)),
        _ => None,
    }
}

/// Names `by_name` knows.
pub const NAMES: &[&str] = &[
    "ticketing",
    "event-booking",
    "event-broker",
    "flight-booking",
    "zerostate",
];
