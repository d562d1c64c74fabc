//! Cross-crate tests: seed stacks and the `cairn` CLI as a process.

mod cli;
mod seed_stacks;
mod stacks;
