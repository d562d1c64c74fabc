//! Cross-crate tests: seed stacks, the `cairn` CLI as a process, and the kill campaign.

mod cli;
mod emulator;
mod inventory;
mod kill_campaign;
mod seed_stacks;
mod stacks;
