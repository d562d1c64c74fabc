//! The GCP emulator, an engine over it, and the kit's lifecycle suite.

use cairn_core::state::LocalStore;
use cairn_core::Engine;
use cairn_gcp::{GcpConfig, GcpOptions, GcpProvider};
use cairn_tests::{Emulator, EmulatorGuard, GCP};
use std::sync::Arc;
use std::time::Duration;

pub const PROJECT: &str = "cairn-test";
pub const REGION: &str = "us-central1";

pub struct Gcp {
    pub rt: tokio::runtime::Runtime,
    pub guard: EmulatorGuard,
    pub dir: tempfile::TempDir,
    /// One provider (its clients are built asynchronously) shared by the test's engines.
    provider: Arc<GcpProvider>,
}

impl Gcp {
    pub fn new() -> Gcp {
        let guard = Emulator::shared(GCP);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = GcpConfig {
            project: PROJECT.into(),
            region: REGION.into(),
            endpoint: Some(guard.emulator().endpoint()),
            options: GcpOptions {
                first_poll: Duration::from_millis(20),
                // Short, so the conformance suite's never-made creates settle quickly.
                call_timeout: Duration::from_secs(5),
                read_after_write: Duration::from_millis(200),
                ..GcpOptions::default()
            },
        };
        let provider = Arc::new(
            rt.block_on(GcpProvider::new(config))
                .unwrap_or_else(|e| panic!("{e}")),
        );
        Gcp {
            rt,
            guard,
            dir: tempfile::tempdir().unwrap(),
            provider,
        }
    }

    pub fn provider(&self) -> Arc<GcpProvider> {
        self.provider.clone()
    }

    pub fn lifecycle(
        &self,
        case: cairn_provider_kit::lifecycle::Case<'_>,
    ) -> cairn_provider_kit::lifecycle::Report {
        self.rt
            .block_on(cairn_provider_kit::lifecycle::run(self, case))
    }

    /// Delete the Compute object `id` (a path such as `projects/P/global/networks/N`)
    /// through the API, as someone outside cairn would, and wait for its operation.
    pub fn delete_out_of_band(&self, id: &str) {
        let (status, body) = self.rest("DELETE", &format!("/compute/v1/{id}"), "");
        assert_eq!(status, 200, "{body}");
        let op: serde_json::Value = serde_json::from_str(&body).unwrap();
        let link = op["selfLink"].as_str().unwrap();
        let path = format!(
            "/compute/v1/{}/wait",
            link.split("/compute/v1/").nth(1).unwrap()
        );
        let (status, body) = self.rest("POST", &path, "");
        assert_eq!(status, 200, "{body}");
    }

    /// Plan `stack` with `options` on `engine` and apply the plan, which must succeed.
    pub fn apply(
        &self,
        engine: &Engine,
        stack: &cairn_core::Stack,
        options: cairn_core::plan::planner::PlanOptions,
    ) {
        self.rt.block_on(async {
            let plan = engine.plan(stack, &options).await.unwrap();
            let report = engine
                .apply(&plan, &cairn_core::apply::ApplyOptions::default())
                .await
                .unwrap();
            assert!(report.is_success(), "{report}");
        });
    }

    /// A Compute REST call to the emulator, as a test's out-of-band hand (status, body).
    pub fn rest(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        self.guard
            .emulator()
            .request(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }
}

impl cairn_provider_kit::lifecycle::Harness for Gcp {
    fn engine(&self, name: &str) -> Engine {
        Engine::new(
            self.provider(),
            Arc::new(LocalStore::new(self.dir.path().join(name))),
        )
    }
}
