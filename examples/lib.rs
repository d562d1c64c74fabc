//! The `cairn` command line, as a library so tests can drive it in-process too.
//!
//! `cargo run --example cairn -- <command> --stack NAME --cloud aws`. A thin shell over
//! cairn-core's engine: parse arguments, pick a seed stack and a provider, print, and map
//! outcomes to exit codes. Exit codes are a contract scripts rely on: 0 success, 1 error
//! (usage errors included, so they are never mistaken for 2), 2 "changes" for
//! `plan --detailed-exitcode`, "drift" for `drift` and "orphans or gone objects" for
//! `inventory`, 3 a partial drift check or inventory.

mod commands;
mod progress;
mod state_commands;

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
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

/// Which stack, on which cloud, with which state.
#[derive(Debug, Clone, clap::Args)]
pub struct StackArgs {
    /// Seed stack to use (see `cairn stacks`).
    #[arg(long)]
    pub stack: String,
    /// Environment name, part of the stack name.
    #[arg(long, default_value = "prod")]
    pub env: String,
    /// Cloud to plan for (default aws). AWS reads the standard AWS_* variables (region,
    /// credentials, AWS_ENDPOINT_URL), so the same command works against AWS and the
    /// emulator; GCP reads Application Default Credentials, GOOGLE_CLOUD_PROJECT,
    /// CAIRN_GCP_REGION (unless the stack is pinned) and CAIRN_GCP_ENDPOINT (an emulator,
    /// with anonymous credentials). `validate` without it checks the stack for every cloud
    /// built in.
    #[arg(long, value_enum)]
    pub cloud: Option<Cloud>,
    /// Where the stack's state lives: a file (default: .cairn/STACK-ENV.CLOUD.json in the
    /// working directory) or a shared store, `postgres://user@host/db[?schema=S&key=K]`,
    /// `s3://bucket/key`, `gs://bucket/key`, `azblob://account/container/key`; also
    /// CAIRN_STATE. A URL without a key keeps the stack's state under `STACK-ENV.CLOUD`.
    /// Credentials come the standard way for each (PGPASSWORD, the AWS chain, Application
    /// Default Credentials, AZURE_STORAGE_CONNECTION_STRING or the Azure identity chain).
    #[arg(long, env = "CAIRN_STATE")]
    pub state: Option<String>,
    /// TLS certificate for HTTPS listeners (an ACM ARN on AWS, a Compute SSL certificate's
    /// name on GCP); none asks the cloud for a managed one; also CAIRN_CERTIFICATE.
    #[arg(long, env = "CAIRN_CERTIFICATE")]
    pub certificate: Option<String>,
    /// Pin the stack to a region (the cloud's spelling): refused before any call when the
    /// provider is configured for another.
    #[arg(long)]
    pub region: Option<String>,
}

impl StackArgs {
    /// The cloud a command that talks to one works on.
    pub fn cloud(&self) -> Cloud {
        self.cloud.unwrap_or(Cloud::Aws)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Cloud {
    Aws,
    Gcp,
    Azure,
}

impl Cloud {
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Gcp => "gcp",
            Cloud::Azure => "azure",
        }
    }
}

/// Options of commands that change the cloud.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Provider calls busy at once (calls waiting for the cloud do not count); at least 1.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: u16,
    /// Limit to these resources and what they depend on (repeatable).
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// Read the cloud before planning (the default). `--refresh=false` trusts state and
    /// makes no read: drift goes unseen, and objects the stack names without managing them
    /// (a certificate) are not checked.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a stack without contacting any cloud: the portable rules, then lowering for
    /// `--cloud` (or for every cloud built in), with that cloud's own limits.
    Validate(StackArgs),
    /// Print the stack's resource graph as Graphviz DOT.
    Graph(StackArgs),
    /// List the seed stacks.
    Stacks,
    /// Show what apply would change.
    Plan {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        run: RunArgs,
        /// Save the plan (no secrets in it) for `cairn apply FILE`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the plan as versioned JSON.
        #[arg(long)]
        json: bool,
        /// Exit 0 when there is nothing to change, 2 when there is, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Plan the destruction of everything the state holds.
        #[arg(long)]
        destroy: bool,
        /// Only take what the cloud has into state.
        #[arg(long)]
        refresh_only: bool,
    },
    /// Apply a saved plan, or plan and apply after confirmation.
    Apply {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        run: RunArgs,
        /// A plan saved with `cairn plan --out`.
        plan: Option<PathBuf>,
        /// Do not ask (required when there is no terminal to ask on).
        #[arg(long)]
        auto_approve: bool,
        /// Accept what the cloud has into state instead of changing the cloud.
        #[arg(long)]
        refresh_only: bool,
    },
    /// Compare the cloud with state and the stack; changes nothing.
    /// Exit 0 clean, 2 drift, 3 partial (some reads failed), 1 error.
    Drift {
        #[command(flatten)]
        stack: StackArgs,
        /// Print the versioned JSON report.
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print a Markdown summary (for a CI job summary or a pull-request comment).
        #[arg(long)]
        markdown: bool,
    },
    /// List what the cloud holds marked as the stack's and compare it with state: orphans
    /// (recorded nowhere) and recorded objects gone; changes nothing.
    /// Exit 0 clean, 2 orphans or gone objects, 3 partial (some reads failed), 1 error.
    Inventory {
        #[command(flatten)]
        stack: StackArgs,
        /// Print the versioned JSON report.
        #[arg(long)]
        json: bool,
    },
    /// Destroy everything the state holds, after confirmation.
    Destroy {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        run: RunArgs,
        #[arg(long)]
        auto_approve: bool,
    },
    /// Bring an existing cloud object under cairn's management.
    Import {
        #[command(flatten)]
        stack: StackArgs,
        /// Concrete address, as `cairn plan` shows it (e.g. aws_vpc.vpc).
        address: String,
        /// The object's id in the cloud.
        id: String,
    },
    /// Inspect state.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Print the stack's outputs (all, or one by name).
    Output {
        #[command(flatten)]
        stack: StackArgs,
        name: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// List managed resources and their ids.
    List {
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Show one resource's recorded attributes (secrets masked).
    Show {
        #[command(flatten)]
        stack: StackArgs,
        address: String,
    },
    /// Release a lock left by a run that died, by the id its "locked" message names.
    Unlock {
        #[command(flatten)]
        stack: StackArgs,
        /// The lock id (`cairn` names it when it refuses to run).
        id: String,
    },
    /// List the kept past states (the newest 30), newest first.
    History {
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Restore a kept state's resources and outputs as a new serial, after showing the
    /// plan it would cause.
    Rollback {
        #[command(flatten)]
        stack: StackArgs,
        /// The serial to go back to (see `cairn state history`).
        serial: u64,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
    },
    /// Move the stack's state to another backend (a path or a URL) under both locks,
    /// checking the copy before the source is removed.
    Migrate {
        #[command(flatten)]
        stack: StackArgs,
        /// Where the state goes: a path, postgres://…, s3://bucket/key,
        /// azblob://account/container/key.
        #[arg(long)]
        to: String,
    },
}

/// What the terminal can do: ask questions, redraw progress, show colour.
#[derive(Debug, Clone, Copy, Default)]
pub struct Terminal {
    /// Standard input is a terminal: confirmations can be asked.
    pub interactive: bool,
    /// Standard output is a terminal: progress redraws in place, colour unless NO_COLOR.
    pub live: bool,
    pub color: bool,
}

impl Terminal {
    /// Detect from the process's standard streams and `NO_COLOR`.
    pub fn detect() -> Terminal {
        use std::io::IsTerminal;
        let live = std::io::stdout().is_terminal();
        Terminal {
            interactive: std::io::stdin().is_terminal(),
            live,
            color: live && std::env::var_os("NO_COLOR").is_none(),
        }
    }
}

/// A command's outcome: an exit code, or an error to print (exit 1).
pub type Outcome = Result<u8, String>;

/// Run the CLI with `args` (program name first), writing to `out` and `err`.
pub fn run(
    args: impl IntoIterator<Item = String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
    term: Terminal,
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
    let c = commands::Ctx { out, err, term };
    let result = match cli.command {
        Command::Stacks => c.stacks(),
        Command::Validate(a) => c.validate(&a),
        Command::Graph(a) => c.graph(&a),
        Command::Plan {
            stack,
            run,
            out,
            json,
            detailed_exitcode,
            destroy,
            refresh_only,
        } => c.plan(
            &stack,
            &run,
            commands::PlanFlags {
                out,
                json,
                detailed_exitcode,
                destroy,
                refresh_only,
            },
        ),
        Command::Apply {
            stack,
            run,
            plan,
            auto_approve,
            refresh_only,
        } => c.apply(&stack, &run, plan, auto_approve, refresh_only),
        Command::Destroy {
            stack,
            run,
            auto_approve,
        } => c.destroy(&stack, &run, auto_approve),
        Command::Drift {
            stack,
            json,
            markdown,
        } => c.drift(&stack, json, markdown),
        Command::Inventory { stack, json } => c.inventory(&stack, json),
        Command::Import { stack, address, id } => c.import(&stack, &address, &id),
        Command::State {
            command: StateCommand::List { stack },
        } => c.state_list(&stack),
        Command::State {
            command: StateCommand::Show { stack, address },
        } => c.state_show(&stack, &address),
        Command::State {
            command: StateCommand::Unlock { stack, id },
        } => c.state_unlock(&stack, &id),
        Command::State {
            command: StateCommand::History { stack },
        } => c.state_history(&stack),
        Command::State {
            command:
                StateCommand::Rollback {
                    stack,
                    serial,
                    auto_approve,
                },
        } => c.state_rollback(&stack, serial, auto_approve),
        Command::State {
            command: StateCommand::Migrate { stack, to },
        } => c.state_migrate(&stack, &to),
        Command::Output { stack, name, json } => c.output(&stack, name.as_deref(), json),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            let _ = writeln!(err, "error: {}", message.trim_end());
            ExitCode::from(1)
        }
    }
}
