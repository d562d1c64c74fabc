//! Cross-crate tests: seed stacks (on AWS, GCP and Azure), the `cairn` CLI as a process, and the kill campaign.

mod cli;
mod cli_files;
mod emulator;
mod emulator_azure;
mod emulator_gcp;
mod inventory;
mod inventory_azure;
mod kill_campaign;
mod lease;
mod seed_stacks;
mod seed_stacks_azure;
mod seed_stacks_gcp;
mod stacks;
mod state_backends;
mod state_cli;
