//! cairn-gcp against the GCP emulator (`tests/emulators/gcp/`), through the real Google
//! Cloud Rust clients over HTTP: one test binary.

mod broker;
mod cache;
mod conformance;
mod database;
mod firewall;
mod load_balancer;
mod network;
mod router;
mod secret;
mod support;
