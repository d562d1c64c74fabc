//! cairn-aws acceptance tests, against the wrapped moto emulator through the real SDK.

mod broker;
mod cache;
mod conformance;
mod crash;
mod database;
mod load_balancer;
mod network;
mod support;
