//! cairn-aws acceptance tests, against the wrapped moto emulator through the real SDK.

mod network;
mod support;
