//! cairn-core: the engine of cairn, an infrastructure provisioner written as a Rust library.
//!
//! Users declare a [`Stack`] of portable resources in Rust. A [`Provider`] lowers it to
//! concrete cloud resources; the engine builds a checked [`ResourceGraph`], refreshes state
//! in batches, computes a [`Plan`] (plain data, rendered elsewhere), and applies exactly that
//! plan with bounded concurrency and a durable record of every provider call.
//!
//! This crate knows no cloud: a provider comes from a cloud's crate (`cairn-aws`,
//! `cairn-gcp`, `cairn-azure`), configured the way that cloud's own tools are, for example
//! `cairn_aws::AwsProvider::from_env().await?`. See `ARCHITECTURE.md` for the map and the
//! invariants.
//!
//! # Declaring and running a stack
//!
//! One import brings what a program needs. Here the provider is the in-memory one this
//! crate's tests use (feature `test-support`); a program passes its cloud's instead.
//!
//! ```
//! use cairn_core::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Declare: typed references make a dangling one impossible.
//! let mut stack = Stack::new("shop");
//! let net = stack.add("main", Network::new("10.0.0.0/16"));
//! let a = stack.add("db-a", Subnet::new(&net, "10.0.1.0/24").tier(Tier::Isolated).zone(0));
//! let b = stack.add("db-b", Subnet::new(&net, "10.0.2.0/24").tier(Tier::Isolated).zone(1));
//! let db_sg = stack.add("db", SecurityGroup::new(&net, "database"));
//! let password = stack.add("db-password", Secret::generated());
//! stack.add(
//!     "orders",
//!     Database::postgres("16")
//!         .subnets([&a, &b])
//!         .security_group(&db_sg)
//!         .admin_password(&password)
//!         .database("orders"),
//! );
//!
//! // Run: an engine is a provider and a place for state.
//! # let provider = cairn_core::testing::MemoryProvider::new();
//! let dir = tempfile::tempdir()?;
//! let engine = Engine::builder(provider, dir.path().join("shop.state.json")).build();
//!
//! let plan = engine.plan(&stack, &PlanOptions::default()).await?; // reads the cloud first
//! println!("{plan}");
//! let report = engine.apply(&plan, &ApplyOptions::default()).await?;
//! assert!(report.is_success(), "{report}");
//!
//! // Applied: the next plan is empty, the cloud matches state, and holds nothing else
//! // marked as the stack's.
//! assert!(!engine.plan(&stack, &PlanOptions::default()).await?.has_changes());
//! assert_eq!(engine.drift(&stack).await?.status(), DriftStatus::Clean);
//! assert_eq!(engine.inventory(&stack).await?.status(), InventoryStatus::Clean);
//!
//! // And gone again, leaving nothing behind.
//! let destroy = engine.plan(&stack, &PlanOptions::destroy()).await?;
//! assert!(engine.apply(&destroy, &ApplyOptions::default()).await?.is_success());
//! assert!(engine.inventory(&stack).await?.is_empty());
//! # Ok(())
//! # }
//! ```

// Every public item is documented: these crates are used by programs, not only by cairn.
#![warn(missing_docs)]

pub mod apply;
mod cycles;
pub mod drift;
pub mod engine;
mod fit;
pub mod graph;
pub mod invalid;
pub mod inventory;
pub mod model;
pub mod ownership;
pub mod plan;
pub mod provider;
pub mod state;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod validate;
pub mod value;

pub use engine::{Engine, EngineBuilder, EngineError};
pub use graph::ResourceGraph;
pub use model::Stack;
pub use plan::Plan;
pub use provider::Provider;

/// Everything a program needs in scope, to declare a stack and to run it:
/// `use cairn_core::prelude::*;`.
pub mod prelude {
    pub use crate::apply::{ApplyOptions, ApplyReport};
    pub use crate::drift::{DriftReport, DriftStatus};
    pub use crate::engine::{Engine, EngineError};
    pub use crate::inventory::{InventoryReport, InventoryStatus, Standing};
    pub use crate::model::{
        Access, Broker, Cache, Certificate, Colour, Database, Declare, HealthCheck, LbCapability,
        LoadBalancer, NatMode, Network, Protocol, Ref, RouteTarget, Rule, Secret, SecurityGroup,
        Size, Stack, StorageType, Subnet, TargetGroup, Tier, Topic, Weekday, Window,
    };
    pub use crate::plan::planner::PlanOptions;
    pub use crate::plan::{Plan, PlanMode};
    pub use crate::provider::Provider;
    pub use crate::state::{LocalStore, StateStore};
}
