//! The Azure emulator, an engine over it, and the kit's lifecycle suite.

use cairn_azure::{AzureConfig, AzureOptions, AzureProvider};
use cairn_core::state::LocalStore;
use cairn_core::Engine;
use cairn_tests::{Emulator, EmulatorGuard, AZURE};
use std::sync::Arc;
use std::time::Duration;

pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-00000000ca1e";
pub const LOCATION: &str = "westeurope";
pub const TENANT: &str = "00000000-0000-0000-0000-0000000071e7";

pub struct Azure {
    pub rt: tokio::runtime::Runtime,
    pub guard: EmulatorGuard,
    pub dir: tempfile::TempDir,
    provider: Arc<AzureProvider>,
}

impl Azure {
    pub fn new() -> Azure {
        let guard = Emulator::shared(AZURE);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = AzureConfig {
            subscription: SUBSCRIPTION.into(),
            tenant: Some(TENANT.into()),
            location: LOCATION.into(),
            endpoint: Some(guard.emulator().endpoint()),
            options: AzureOptions {
                first_poll: Duration::from_millis(20),
                // Short, so the conformance suite's never-made creates settle quickly.
                attempt_timeout: Duration::from_secs(5),
                call_timeout: Duration::from_secs(3),
                read_after_write: Duration::from_millis(200),
                ..AzureOptions::default()
            },
        };
        let provider = Arc::new(AzureProvider::new(config).unwrap_or_else(|e| panic!("{e}")));
        Azure {
            rt,
            guard,
            dir: tempfile::tempdir().unwrap(),
            provider,
        }
    }

    pub fn provider(&self) -> Arc<AzureProvider> {
        self.provider.clone()
    }

    pub fn lifecycle(
        &self,
        case: cairn_provider_kit::lifecycle::Case<'_>,
    ) -> cairn_provider_kit::lifecycle::Report {
        self.rt
            .block_on(cairn_provider_kit::lifecycle::run(self, case))
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

    /// An ARM call to the emulator with a bearer token, as a test's out-of-band hand:
    /// `path` is an ARM path and `api` its api-version (status, body).
    pub fn arm(&self, method: &str, path: &str, api: &str, body: &str) -> (u16, String) {
        self.guard.emulator().arm(method, path, api, body)
    }

    /// Delete the resource `id` through ARM, as someone outside cairn would, and wait until
    /// it reads as gone.
    pub fn delete_out_of_band(&self, id: &str, api: &str) {
        let (status, body) = self.arm("DELETE", id, api, "");
        assert!(matches!(status, 200 | 202 | 204), "{status} {body}");
        for _ in 0..200 {
            if self.arm("GET", id, api, "").0 == 404 {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{id} still there after its delete");
    }

    /// How many resources the resource group named after `stack` still holds (0 when the
    /// group itself is gone), and whether the group is there.
    pub fn group_contents(&self, stack: &str) -> (bool, usize) {
        let group = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{stack}");
        let (status, _) = self.arm("GET", &group, "2021-04-01", "");
        if status == 404 {
            return (false, 0);
        }
        let mut n = 0;
        for (path, api) in [
            ("Microsoft.Network/virtualNetworks", "2024-03-01"),
            ("Microsoft.Network/networkSecurityGroups", "2024-03-01"),
            ("Microsoft.Network/applicationSecurityGroups", "2024-03-01"),
            ("Microsoft.Network/natGateways", "2024-03-01"),
            ("Microsoft.Network/publicIPAddresses", "2024-03-01"),
            ("Microsoft.Network/privateDnsZones", "2024-06-01"),
            ("Microsoft.Network/privateEndpoints", "2024-03-01"),
            ("Microsoft.DBforPostgreSQL/flexibleServers", "2024-08-01"),
            ("Microsoft.KeyVault/vaults", "2019-09-01"),
            ("Microsoft.Cache/redis", "2024-03-01"),
            ("Microsoft.EventHub/namespaces", "2024-01-01"),
            ("Microsoft.Network/applicationGateways", "2024-03-01"),
            ("Microsoft.Network/loadBalancers", "2024-03-01"),
            (
                "Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies",
                "2024-03-01",
            ),
            (
                "Microsoft.ManagedIdentity/userAssignedIdentities",
                "2023-01-31",
            ),
        ] {
            let (status, body) = self.arm("GET", &format!("{group}/providers/{path}"), api, "");
            assert_eq!(status, 200, "{body}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            n += v["value"].as_array().map_or(0, Vec::len);
        }
        (true, n)
    }

    /// A certificate issued into vault `vault` of resource group `group`, outside any
    /// stack (see `Emulator::issue_certificate`): its secret's URL.
    pub fn issue_certificate(&self, group: &str, vault: &str, rbac: bool) -> String {
        self.guard.emulator().issue_certificate(
            (SUBSCRIPTION, TENANT, LOCATION),
            group,
            vault,
            rbac,
        )
    }

    /// The soft-deleted vaults still holding a name of the stack `stack` (by their tags).
    pub fn deleted_vaults(&self, stack: &str) -> usize {
        let (status, body) = self.arm(
            "GET",
            &format!("/subscriptions/{SUBSCRIPTION}/providers/Microsoft.KeyVault/deletedVaults"),
            "2019-09-01",
            "",
        );
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["properties"]["tags"]["cairn:stack"] == stack)
            .count()
    }
}

impl cairn_provider_kit::lifecycle::Harness for Azure {
    fn engine(&self, name: &str) -> Engine {
        Engine::new(
            self.provider(),
            Arc::new(LocalStore::new(self.dir.path().join(name))),
        )
    }
}
