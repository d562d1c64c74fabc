//! Engine + AWS provider wired to the shared emulator, and raw SDK clients to check results.

use cairn_aws::{AwsOptions, AwsProvider};
use cairn_core::apply::ApplyOptions;
use cairn_core::plan::planner::PlanOptions;
use cairn_core::plan::{Plan, PlanMode};
use cairn_core::state::LocalStore;
use cairn_core::{Engine, Stack};
use cairn_tests::{AwsEmulator, EmulatorGuard};
use std::sync::Arc;
use std::time::Duration;

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
