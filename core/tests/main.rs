//! cairn-core's integration tests: one binary, one module per concern.

mod support;

mod apply;
mod crash;
mod drift;
mod front_door;
mod golden;
mod inventory;
mod lease;
mod lifecycle;
mod mutation;
mod noop;
mod plans;
mod remote_state;
mod state;
mod validation;
