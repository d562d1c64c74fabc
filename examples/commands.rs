//! One method per command. Each returns an exit code or an error message (exit 1).

use crate::{progress, Cloud, Outcome, RunArgs, StackArgs, Terminal};
use cairn_core::apply::ApplyOptions;
use cairn_core::graph::portable_dot;
use cairn_core::plan::planner::PlanOptions;
use cairn_core::plan::render::{self, TextOptions};
use cairn_core::plan::{Plan, PlanMode};
use cairn_core::state::LocalStore;
use cairn_core::validate::validate;
use cairn_core::{Engine, Provider, Stack};
use cairn_stacks::Params;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

pub struct Ctx<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub term: Terminal,
}

pub struct PlanFlags {
    pub out: Option<PathBuf>,
    pub json: bool,
    pub detailed_exitcode: bool,
    pub destroy: bool,
    pub refresh_only: bool,
}

fn load(args: &StackArgs) -> Result<Stack, String> {
    let mut params = Params::new(&args.env);
    if let Some(c) = &args.certificate {
        params = params.certificate(c);
    }
    if let Some(r) = &args.region {
        params = params.region(r);
    }
    cairn_stacks::by_name(&args.stack, &params).ok_or_else(|| {
        format!(
            "unknown stack {:?}; known stacks: {}",
            args.stack,
            cairn_stacks::NAMES.join(", ")
        )
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Where the stack's state is: `--state` (a path or a URL), else the default file
/// `.cairn/STACK.CLOUD.json` under the working directory.
pub(crate) fn state_location(args: &StackArgs, stack: &Stack) -> String {
    args.state.clone().unwrap_or_else(|| {
        PathBuf::from(".cairn")
            .join(format!("{}.{}.json", stack.name(), args.cloud().name()))
            .display()
            .to_string()
    })
}

/// The store `--state` names, its locks leased for `CAIRN_STATE_LEASE`.
fn state_store(
    rt: &tokio::runtime::Runtime,
    args: &StackArgs,
    stack: &Stack,
) -> Result<Arc<dyn cairn_core::state::StateStore>, String> {
    open_state(rt, &state_location(args, stack), args, stack)
}

/// The store at `url` (a path or a URL), holding `stack`'s state under its default key
/// when the URL names none.
pub(crate) fn open_state(
    rt: &tokio::runtime::Runtime,
    url: &str,
    args: &StackArgs,
    stack: &Stack,
) -> Result<Arc<dyn cairn_core::state::StateStore>, String> {
    let lease = cairn_core::state::lease_from_env()?;
    let key = format!("{}.{}", stack.name(), args.cloud().name());
    rt.block_on(cairn_core::state::url::open(
        url,
        &key,
        lease,
        &[
            &cairn_aws::state::S3,
            &cairn_gcp::state::GS,
            &cairn_azure::state::AZBLOB,
        ],
    ))
    .map_err(|e| e.to_string())
}

/// The provider for `cloud`, configured from the environment (in the stack's pinned
/// region when the environment names none).
fn provider(
    rt: &tokio::runtime::Runtime,
    cloud: Cloud,
    stack: &Stack,
) -> Result<Arc<dyn Provider>, String> {
    match cloud {
        Cloud::Aws => Ok(Arc::new(
            rt.block_on(cairn_aws::AwsProvider::from_env_in(stack.region()))?,
        )),
        Cloud::Gcp => {
            let config = cairn_gcp::GcpConfig::from_env(stack.region())?;
            Ok(Arc::new(rt.block_on(cairn_gcp::GcpProvider::new(config))?))
        }
        Cloud::Azure => {
            let config = cairn_azure::AzureConfig::from_env(stack.region())?;
            Ok(Arc::new(cairn_azure::AzureProvider::new(config)?))
        }
    }
}

/// Every cloud the CLI knows, built in or not.
const CLOUDS: [Cloud; 3] = [Cloud::Aws, Cloud::Gcp, Cloud::Azure];

/// A provider that can lower for `cloud` without any configuration or call (validation):
/// in the stack's pinned region, else the configured one, else a default (lowering uses the
/// region for names and zones only; GCP's project, for existing certificates' paths, is
/// `GOOGLE_CLOUD_PROJECT` or a placeholder, Azure's subscription `AZURE_SUBSCRIPTION_ID` or
/// a placeholder).
fn lowering_provider(cloud: Cloud, stack: &Stack) -> Arc<dyn Provider> {
    match cloud {
        Cloud::Aws => {
            let region = stack
                .region()
                .map(str::to_string)
                .or_else(|| std::env::var("AWS_REGION").ok())
                .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
                .unwrap_or_else(|| "us-east-1".into());
            Arc::new(cairn_aws::AwsProvider::offline(&region))
        }
        Cloud::Gcp => {
            let setting = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let region = stack
                .region()
                .map(str::to_string)
                .or_else(|| setting("CAIRN_GCP_REGION"))
                .unwrap_or_else(|| "us-central1".into());
            let project = setting("GOOGLE_CLOUD_PROJECT").unwrap_or_else(|| "project".into());
            Arc::new(cairn_gcp::GcpProvider::offline(&project, &region))
        }
        Cloud::Azure => {
            let setting = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let location = stack
                .region()
                .map(str::to_string)
                .or_else(|| setting("CAIRN_AZURE_LOCATION"))
                .unwrap_or_else(|| "eastus".into());
            let subscription = setting("AZURE_SUBSCRIPTION_ID")
                .unwrap_or_else(|| "00000000-0000-0000-0000-000000000000".into());
            Arc::new(cairn_azure::AzureProvider::offline(
                &subscription,
                &location,
            ))
        }
    }
}

/// Stack, engine and runtime for a command. `writes`: the command may write state, so the
/// state directory is created; read-only commands never create anything.
/// The stack, validated, and an engine over its state. Nothing is written here: the state
/// store creates its directory when a command first takes the lock, so a refused or failed
/// command leaves no trace.
pub(crate) fn setup(args: &StackArgs) -> Result<(Stack, Engine, tokio::runtime::Runtime), String> {
    let stack = load(args)?;
    validate(&stack).map_err(|e| e.to_string())?;
    let rt = runtime()?;
    let store = state_store(&rt, args, &stack)?;
    let engine = Engine::new(provider(&rt, args.cloud(), &stack)?, store)
        .with_notices(|m| eprintln!("note: {m}"));
    Ok((stack, engine, rt))
}

impl Ctx<'_> {
    pub fn stacks(self) -> Outcome {
        for n in cairn_stacks::NAMES {
            let _ = writeln!(self.out, "{n}");
        }
        Ok(0)
    }

    pub fn validate(self, args: &StackArgs) -> Outcome {
        let stack = load(args)?;
        validate(&stack).map_err(|e| e.to_string())?;
        let _ = writeln!(
            self.out,
            "stack {} is valid: {} resources, {} outputs",
            stack.name(),
            stack.resources().len(),
            stack.outputs().len()
        );
        // Overrides name a cloud: one cairn does not know is a typo, never silently dropped.
        let mut problems = Vec::new();
        for d in stack.resources() {
            for cloud in d.resource.common().overrides.keys() {
                if !CLOUDS.iter().any(|c| c.name() == cloud) {
                    problems.push(format!(
                        "  - {}: field `overrides.{cloud}`: there is no cloud {cloud:?}; overrides are for {}",
                        d.address(),
                        CLOUDS.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(format!(
                "the stack is invalid ({} problem{}):\n{}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                problems.join("\n")
            ));
        }
        let clouds: Vec<Cloud> = match args.cloud {
            Some(c) => vec![c],
            None => CLOUDS.to_vec(),
        };
        // Every cloud is tried, so one refusal does not hide another's.
        let mut refused = Vec::new();
        for cloud in clouds {
            let provider = lowering_provider(cloud, &stack);
            let engine = Engine::new(
                provider,
                Arc::new(LocalStore::new(state_location(args, &stack))),
            );
            match engine.lower(&stack) {
                Ok(graph) => {
                    let _ = writeln!(
                        self.out,
                        "{}: lowers to {} resources",
                        cloud.name(),
                        graph.resources.len()
                    );
                }
                Err(e) => {
                    let _ = writeln!(self.out, "{}: refused (see below)", cloud.name());
                    refused.push(format!("on {}: {e}", cloud.name()));
                }
            }
        }
        if !refused.is_empty() {
            return Err(refused.join("\n"));
        }
        Ok(0)
    }

    pub fn graph(self, args: &StackArgs) -> Outcome {
        let stack = load(args)?;
        validate(&stack).map_err(|e| e.to_string())?;
        let _ = write!(self.out, "{}", portable_dot(&stack));
        Ok(0)
    }

    pub fn plan(self, args: &StackArgs, run: &RunArgs, flags: PlanFlags) -> Outcome {
        let (stack, engine, rt) = setup(args)?;
        let mode = match (flags.destroy, flags.refresh_only) {
            (true, true) => return Err("--destroy and --refresh-only exclude each other".into()),
            (true, false) => PlanMode::Destroy,
            (false, true) => PlanMode::RefreshOnly,
            (false, false) => PlanMode::Normal,
        };
        // The digest only for a plan saved or printed as JSON: text alone does without.
        let options = plan_options(mode, run)?.digest(flags.out.is_some() || flags.json);
        let mut plan = rt
            .block_on(engine.plan(&stack, &options))
            .map_err(|e| e.to_string())?;
        // Sealed before it is shown, so the JSON printed is the plan saved.
        let saved = match &flags.out {
            Some(_) => Some(engine.save_plan(&mut plan).map_err(|e| e.to_string())?),
            None => None,
        };
        if flags.json {
            let _ = writeln!(self.out, "{}", render::json(&plan));
        } else {
            let _ = write!(self.out, "{}", self.text(&plan));
        }
        if let (Some(path), Some(text)) = (&flags.out, saved) {
            write_private(path, text.as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            let _ = writeln!(
                self.err,
                "Saved the plan to {} (it holds no secrets); apply it with `cairn apply {}`.",
                path.display(),
                path.display()
            );
        }
        Ok(if flags.detailed_exitcode && plan.has_changes() {
            2
        } else {
            0
        })
    }

    pub fn apply(
        mut self,
        args: &StackArgs,
        run: &RunArgs,
        saved: Option<PathBuf>,
        auto_approve: bool,
        refresh_only: bool,
    ) -> Outcome {
        let (stack, engine, rt) = setup(args)?;
        let plan = match &saved {
            // A saved plan was reviewed when it was made: apply exactly it.
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                engine
                    .open_plan(&text, &stack)
                    .map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => {
                let mode = if refresh_only {
                    PlanMode::RefreshOnly
                } else {
                    PlanMode::Normal
                };
                // Applied at once: no digest to tie it to a declaration.
                let plan = rt
                    .block_on(engine.plan(&stack, &plan_options(mode, run)?.digest(false)))
                    .map_err(|e| e.to_string())?;
                let _ = write!(self.out, "{}", self.text(&plan));
                // Refreshed values still get recorded when the cloud needs no change
                // (that is all `--refresh-only` does).
                if !plan.has_work() {
                    return Ok(0);
                }
                self.confirm(auto_approve, "apply")?;
                plan
            }
        };
        self.execute(&engine, &rt, &stack, &plan, run)
    }

    pub fn destroy(mut self, args: &StackArgs, run: &RunArgs, auto_approve: bool) -> Outcome {
        let (stack, engine, rt) = setup(args)?;
        let plan = rt
            .block_on(engine.plan(&stack, &plan_options(PlanMode::Destroy, run)?.digest(false)))
            .map_err(|e| e.to_string())?;
        let _ = write!(self.out, "{}", self.text(&plan));
        // What refresh found (objects already gone, pending operations settled) is still
        // recorded when the cloud needs no change: a destroy whose deletes a killed run
        // finished must leave an empty state, not the records of what is gone.
        if !plan.has_work() {
            return Ok(0);
        }
        if plan.has_changes() {
            self.confirm(auto_approve, "destroy")?;
        }
        self.execute(&engine, &rt, &stack, &plan, run)
    }

    pub fn drift(self, args: &StackArgs, json: bool, markdown: bool) -> Outcome {
        let (stack, engine, rt) = setup(args)?;
        // Nothing applied means nothing to compare: a CI check pointed at the wrong state
        // file must fail, not pass as "clean".
        if engine
            .read_state(stack.name())
            .map_err(|e| e.to_string())?
            .is_none()
        {
            return Err(format!(
                "no state for stack {} at {}: drift compares the cloud with what was applied (pass --state, or apply first)",
                stack.name(),
                cairn_core::state::url::redacted(&state_location(args, &stack))
            ));
        }
        let report = rt
            .block_on(engine.drift(&stack))
            .map_err(|e| e.to_string())?;
        let text = if json {
            report.json() + "\n"
        } else if markdown {
            report.markdown()
        } else {
            report.text()
        };
        let _ = write!(self.out, "{text}");
        Ok(report.status().exit_code())
    }

    pub fn inventory(self, args: &StackArgs, json: bool) -> Outcome {
        let (stack, engine, rt) = setup(args)?;
        let report = rt
            .block_on(engine.inventory(&stack))
            .map_err(|e| e.to_string())?;
        let text = if json {
            report.json() + "\n"
        } else {
            report.text()
        };
        let _ = write!(self.out, "{text}");
        Ok(report.status().exit_code())
    }

    pub fn import(self, args: &StackArgs, address: &str, id: &str) -> Outcome {
        let (stack, engine, rt) = setup(args)?;
        let r = rt
            .block_on(engine.import(&stack, address, id))
            .map_err(|e| e.to_string())?;
        let _ = writeln!(
            self.out,
            "Imported {} ({}) as part of {}; `cairn plan` shows what differs from the stack.",
            r.address, r.id, r.origin
        );
        Ok(0)
    }

    pub fn state_list(self, args: &StackArgs) -> Outcome {
        let (stack, engine, _rt) = setup(args)?;
        let Some(state) = engine.read_state(stack.name()).map_err(|e| e.to_string())? else {
            return Err(format!("no state for stack {} yet", stack.name()));
        };
        for r in state.live() {
            let _ = writeln!(self.out, "{}\t{}", r.address, r.id);
        }
        Ok(0)
    }

    pub fn state_show(self, args: &StackArgs, address: &str) -> Outcome {
        let (stack, engine, _rt) = setup(args)?;
        let state = engine
            .read_state(stack.name())
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no state for stack {} yet", stack.name()))?;
        let r = state
            .resources
            .get(address)
            .ok_or_else(|| format!("state holds no {address} (see `cairn state list`)"))?;
        let _ = writeln!(self.out, "# {} ({})", r.address, r.origin);
        let _ = writeln!(self.out, "id = {}", r.id);
        let width = r.attrs.keys().map(|k| k.len()).max().unwrap_or(0);
        for (k, v) in &r.attrs {
            let _ = writeln!(self.out, "{k:width$} = {}", v.redacted());
        }
        Ok(0)
    }

    pub fn state_unlock(self, args: &StackArgs, id: &str) -> Outcome {
        let (stack, engine, _rt) = setup(args)?;
        engine.store().force_unlock(id).map_err(|e| e.to_string())?;
        let _ = writeln!(
            self.out,
            "Released lock {id} of {} (if it was held). Pending operations of the run that held \
             it are reconciled by the next plan.",
            stack.name()
        );
        Ok(0)
    }

    pub fn output(self, args: &StackArgs, name: Option<&str>, json: bool) -> Outcome {
        let (stack, engine, _rt) = setup(args)?;
        let state = engine
            .read_state(stack.name())
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no state for stack {} yet", stack.name()))?;
        let outputs: Vec<_> = state
            .outputs
            .iter()
            .filter(|(k, _)| name.is_none_or(|n| n == k.as_str()))
            .map(|(k, v)| (k.clone(), v.redacted()))
            .collect();
        if let (Some(n), true) = (name, outputs.is_empty()) {
            return Err(format!(
                "no output {n:?} (declared outputs appear after apply)"
            ));
        }
        if json {
            let map: serde_json::Map<String, serde_json::Value> = outputs
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
                .collect();
            let _ = writeln!(
                self.out,
                "{}",
                serde_json::to_string_pretty(&map).unwrap_or_default()
            );
        } else if let (Some(_), [(_, v)]) = (name, outputs.as_slice()) {
            let _ = writeln!(self.out, "{v}");
        } else {
            for (k, v) in outputs {
                let _ = writeln!(self.out, "{k} = {v}");
            }
        }
        Ok(0)
    }

    pub(crate) fn text(&self, plan: &Plan) -> String {
        render::text(
            plan,
            TextOptions {
                color: self.term.color,
            },
        )
    }

    /// Ask before changing the cloud; refuse when nobody can be asked.
    pub(crate) fn confirm(&mut self, auto_approve: bool, what: &str) -> Result<(), String> {
        if auto_approve {
            return Ok(());
        }
        if !self.term.interactive {
            return Err(format!(
                "refusing to {what} without confirmation: there is no terminal to ask on; pass --auto-approve to {what} anyway"
            ));
        }
        let _ = write!(
            self.out,
            "\nDo you want to {what}? Only 'yes' will be accepted: "
        );
        let _ = self.out.flush();
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        if answer.trim() != "yes" {
            return Err(format!("{what} cancelled"));
        }
        Ok(())
    }

    /// Apply `plan` with progress; print the summary and outputs.
    fn execute(
        self,
        engine: &Engine,
        rt: &tokio::runtime::Runtime,
        stack: &Stack,
        plan: &Plan,
        run: &RunArgs,
    ) -> Outcome {
        let (forward, progress) = progress::channel(self.term.live, self.term.color);
        let opts = ApplyOptions {
            parallelism: usize::from(run.parallelism),
            observer: Arc::new(forward),
            secrets: stack.secret_values(),
        };
        let out = self.out;
        let report = rt.block_on(async {
            let apply = async move {
                let r = engine.apply(plan, &opts).await;
                // The last sender goes with the options: the progress writer then stops.
                drop(opts);
                r
            };
            let (report, ()) = tokio::join!(apply, progress.drain(&mut *out));
            report
        });
        let report = report.map_err(|e| e.to_string())?;
        let _ = writeln!(out, "\n{report}");
        if !report.outputs.is_empty() {
            let _ = writeln!(out, "Outputs:");
            for (k, v) in &report.outputs {
                let _ = writeln!(out, "  {k} = {v}");
            }
        }
        Ok(if report.is_success() { 0 } else { 1 })
    }
}

/// Write a file only its owner can read (a plan names every resource and setting of a
/// stack, like its state), replacing what was there.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode on open: make it private too.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn plan_options(mode: PlanMode, run: &RunArgs) -> Result<PlanOptions, String> {
    if mode == PlanMode::RefreshOnly && !run.refresh {
        return Err(
            "--refresh-only with --refresh=false would read nothing and change nothing".into(),
        );
    }
    Ok(PlanOptions {
        mode,
        targets: run.targets.clone(),
        refresh: run.refresh,
        digest: true,
    })
}
