//! cairn-core: the engine of cairn, an infrastructure provisioner written as a Rust library.
//!
//! Users declare a [`Stack`] of portable resources in Rust. A [`Provider`] lowers it to
//! concrete cloud resources; the engine builds a checked [`ResourceGraph`], refreshes state
//! in batches, computes a [`Plan`] (plain data, rendered elsewhere), and applies exactly that
//! plan with bounded concurrency and a durable record of every provider call.
//!
//! This crate knows no cloud. See `ARCHITECTURE.md` for the map and the invariants.
//!
//! ```
//! use cairn_core::prelude::*;
//!
//! let mut stack = Stack::new("shop");
//! let net = stack.add("main", Network::new("10.0.0.0/16"));
//! stack.add("app-a", Subnet::new(&net, "10.0.1.0/24").tier(Tier::Private).zone(0));
//! assert!(cairn_core::validate::validate(&stack).is_ok());
//! ```

pub mod apply;
mod cycles;
pub mod drift;
pub mod engine;
mod fit;
pub mod graph;
pub mod invalid;
pub mod model;
pub mod ownership;
pub mod plan;
pub mod provider;
pub mod state;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod validate;
pub mod value;

pub use engine::{Engine, EngineError};
pub use graph::ResourceGraph;
pub use model::Stack;
pub use plan::Plan;
pub use provider::Provider;

/// What a stack author needs in scope.
pub mod prelude {
    pub use crate::model::{
        Access, Broker, Cache, Certificate, Colour, Database, Declare, HealthCheck, LbCapability,
        LoadBalancer, NatMode, Network, Protocol, Ref, RouteTarget, Rule, Secret, SecurityGroup,
        Size, Stack, StorageType, Subnet, TargetGroup, Tier, Topic, Weekday, Window,
    };
}
