//! Cross-crate tests: seed stacks and the `cairn` CLI as a process.

mod cli;
mod stacks;
