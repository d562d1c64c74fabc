//! Engine + AWS provider wired to the shared emulator, and raw SDK clients to check results.

use cairn_aws::{AwsOptions, AwsProvider, CallTimeouts};
use cairn_core::apply::ApplyOptions;
use cairn_core::plan::planner::PlanOptions;
use cairn_core::plan::{Action, Plan, PlanMode};
use cairn_core::state::LocalStore;
use cairn_core::{Engine, Stack};
use cairn_tests::{AwsEmulator, EmulatorGuard};
use std::sync::Arc;
use std::time::Duration;

/// Call timeouts for the emulator: generous for a loaded machine, short enough that the
/// in-flight window (call + read-after-write) keeps crash tests quick.
pub fn test_timeouts() -> CallTimeouts {
    CallTimeouts {
        connect: Duration::from_secs(2),
        attempt: Duration::from_secs(10),
        call: Duration::from_secs(20),
        read_after_write: Duration::from_millis(500),
    }
}

/// The kit's lifecycle suite gets its engines here.
impl cairn_provider_kit::lifecycle::Harness for Aws {
    fn engine(&self, name: &str) -> Engine {
        Aws::engine(self, name)
    }
}

pub struct Aws {
    /// Held for the test: the shared emulator is this test's alone.
    pub _emulator: EmulatorGuard,
    pub sdk: aws_config::SdkConfig,
    pub rt: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
}

impl Aws {
    pub fn new() -> Aws {
        let emulator = AwsEmulator::shared();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sdk = rt.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .endpoint_url(emulator.endpoint())
                .region(aws_config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                    "test",
                    "test",
                    None,
                    None,
                    "cairn-tests",
                ))
                .load(),
        );
        Aws {
            _emulator: emulator,
            sdk,
            rt,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn provider(&self) -> Arc<AwsProvider> {
        Arc::new(AwsProvider::new(
            &self.sdk,
            // Short: the emulator's pending states last 300 ms; a hang is a bug to surface.
            AwsOptions {
                dependency_timeout: Duration::from_secs(20),
                create_timeout: Duration::from_secs(60),
                delete_timeout: Duration::from_secs(60),
                timeouts: test_timeouts(),
            },
        ))
    }

    pub fn engine(&self, state: &str) -> Engine {
        self.engine_with(self.provider(), state)
    }

    /// An engine driving `provider`, for tests that inspect the provider afterwards.
    pub fn engine_with(&self, provider: Arc<AwsProvider>, state: &str) -> Engine {
        Engine::new(
            provider,
            Arc::new(LocalStore::new(self.dir.path().join(state))),
        )
    }

    /// Latency and fault injection (see the emulator's docs).
    pub fn set_faults(&self, json: &str) {
        self._emulator.set_faults(json);
    }

    /// The emulator's call log (JSON).
    pub fn calls(&self) -> String {
        self._emulator.calls()
    }

    /// An ACM certificate that exists in the emulator.
    pub fn certificate(&self, domain: &str) -> String {
        self._emulator.certificate(domain)
    }

    /// Run one case of the kit's lifecycle suite (see `cairn_provider_kit::lifecycle`).
    pub fn lifecycle(
        &self,
        case: cairn_provider_kit::lifecycle::Case<'_>,
    ) -> cairn_provider_kit::lifecycle::Report {
        self.rt
            .block_on(cairn_provider_kit::lifecycle::run(self, case))
    }

    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk)
    }

    pub fn plan(&self, engine: &Engine, stack: &Stack) -> Plan {
        self.rt
            .block_on(engine.plan(
                stack,
                &PlanOptions {
                    refresh: true,
                    ..Default::default()
                },
            ))
            .unwrap_or_else(|e| panic!("plan: {e}"))
    }

    pub fn apply(&self, engine: &Engine, plan: &Plan) {
        let report = self
            .rt
            .block_on(engine.apply(plan, &ApplyOptions::default()))
            .unwrap_or_else(|e| panic!("apply: {e}"));
        assert!(report.is_success(), "{report}");
    }

    pub fn converge(&self, engine: &Engine, stack: &Stack) -> Plan {
        let plan = self.plan(engine, stack);
        self.apply(engine, &plan);
        plan
    }

    pub fn destroy(&self, engine: &Engine, stack: &Stack) {
        let plan = self
            .rt
            .block_on(engine.plan(
                stack,
                &PlanOptions {
                    mode: PlanMode::Destroy,
                    refresh: true,
                    ..Default::default()
                },
            ))
            .unwrap();
        self.apply(engine, &plan);
    }

    /// Acceptance step (4), the kit's: import every resource `engine` manages, by id alone,
    /// into a fresh state: each comes back with the same attributes, and the plan is then
    /// empty. `write_only` names secrets AWS never returns (an RDS password, a Redis auth
    /// token): the first plan sets exactly those.
    pub fn assert_import_matches(&self, engine: &Engine, stack: &Stack, write_only: &[&str]) {
        self.rt
            .block_on(cairn_provider_kit::lifecycle::imports_match(
                self,
                engine,
                stack,
                write_only,
                stack.name(),
            ));
    }

    /// Acceptance step (5): after `addresses`' objects were deleted out of band, the next
    /// plan creates them again, and applying converges.
    pub fn assert_recreated(&self, engine: &Engine, stack: &Stack, addresses: &[&str]) {
        let plan = self.plan(engine, stack);
        for address in addresses {
            let change = plan
                .changes
                .iter()
                .find(|c| c.address == *address)
                .unwrap_or_else(|| panic!("{address} is not in the plan"));
            assert_eq!(change.action, Action::Create, "{address}");
        }
        self.apply(engine, &plan);
        self.assert_clean(engine, stack);
    }

    /// Assert the next plan (with refresh) changes nothing.
    pub fn assert_clean(&self, engine: &Engine, stack: &Stack) {
        let plan = self.plan(engine, stack);
        assert!(
            !plan.has_changes(),
            "expected no changes:\n{}",
            cairn_core::plan::render::text(&plan, Default::default())
        );
    }
}
