//! The `cairn` command line, as a library so tests can drive it in-process too.
//!
//! `cargo run --example cairn -- <command> --stack NAME`. A thin shell over cairn-core's
//! engine: parse arguments, pick a seed stack, print, and map outcomes to exit codes
//! (0 success, 1 error; usage errors are errors, so scripts never mistake one for `2`).

use cairn_core::graph::portable_dot;
use cairn_core::validate::validate;
use cairn_stacks::Params;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "cairn",
    version,
    about = "Plan and apply infrastructure stacks written in Rust."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct StackArgs {
    /// Seed stack to use (see `cairn stacks`).
    #[arg(long)]
    stack: String,
    /// Environment name, part of the stack name.
    #[arg(long, default_value = "prod")]
    env: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a stack without contacting any cloud.
    Validate(StackArgs),
    /// Print the stack's resource graph as Graphviz DOT.
    Graph(StackArgs),
    /// List the seed stacks.
    Stacks,
}

fn load(args: &StackArgs) -> Result<cairn_core::Stack, String> {
    cairn_stacks::by_name(&args.stack, &Params::new(&args.env)).ok_or_else(|| {
        format!(
            "unknown stack {:?}; known stacks: {}",
            args.stack,
            cairn_stacks::NAMES.join(", ")
        )
    })
}

/// Run the CLI with `args` (program name first), writing to `out` and `err`.
pub fn run(
    args: impl IntoIterator<Item = String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        // Usage errors go to stderr and fail; --help and --version go to stdout.
        Err(e) if e.use_stderr() => {
            let _ = write!(err, "{}", e.render());
            return ExitCode::from(1);
        }
        Err(e) => {
            let _ = write!(out, "{}", e.render());
            return ExitCode::SUCCESS;
        }
    };
    let result = match cli.command {
        Command::Stacks => {
            for n in cairn_stacks::NAMES {
                let _ = writeln!(out, "{n}");
            }
            Ok(())
        }
        Command::Validate(a) => load(&a).and_then(|stack| match validate(&stack) {
            Ok(()) => {
                let _ = writeln!(
                    out,
                    "stack {} is valid: {} resources, {} outputs",
                    stack.name(),
                    stack.resources().len(),
                    stack.outputs().len()
                );
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }),
        Command::Graph(a) => load(&a).and_then(|stack| {
            validate(&stack).map_err(|e| e.to_string())?;
            let _ = write!(out, "{}", portable_dot(&stack));
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(err, "error: {}", message.trim_end());
            ExitCode::from(1)
        }
    }
}
