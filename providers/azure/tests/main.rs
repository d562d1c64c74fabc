//! cairn-azure against the Azure Resource Manager emulator (`tests/emulators/azure/`),
//! through the real `azure_mgmt_*` clients over HTTP: one test binary.

mod conformance;
mod database;
mod gateway;
mod network;
mod streams;
mod support;
mod vault;
