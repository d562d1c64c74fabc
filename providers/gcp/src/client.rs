//! The Google Cloud clients cairn uses, built once per provider.

use google_cloud_compute_v1::client::{
    Firewalls, GlobalOperations, Networks, RegionOperations, Routers, Subnetworks,
};
use google_cloud_secretmanager_v1::client::SecretManagerService;

/// One client per Compute collection (the Rust clients are per service), one per other API.
#[derive(Debug)]
pub(crate) struct Clients {
    pub networks: Networks,
    pub subnetworks: Subnetworks,
    pub firewalls: Firewalls,
    pub routers: Routers,
    pub global_ops: GlobalOperations,
    pub region_ops: RegionOperations,
    pub secrets: SecretManagerService,
}

/// The client builders' common settings: a local endpoint with anonymous credentials when
/// one is given, else Google's endpoints with Application Default Credentials. Retries are
/// cairn's (the engine's), not the client's: a create re-sent behind cairn's back could not
/// be told from a second one.
macro_rules! build {
    ($client:ty, $endpoint:expr, $timeout:expr) => {{
        let mut b = <$client>::builder()
            .with_retry_policy(google_cloud_gax::retry_policy::NeverRetry)
            .with_attempt_timeout($timeout);
        if let Some(url) = $endpoint {
            b = b.with_endpoint(url).with_credentials(
                google_cloud_auth::credentials::anonymous::Builder::new().build(),
            );
        }
        b.build()
            .await
            .map_err(|e| format!("cannot set up the GCP {} client: {e}", stringify!($client)))?
    }};
}

impl Clients {
    /// `timeout`: the longest one call may take (the provider's in-flight window
    /// counts on it).
    pub async fn new(
        endpoint: Option<&str>,
        timeout: std::time::Duration,
    ) -> Result<Clients, String> {
        Ok(Clients {
            networks: build!(Networks, endpoint, timeout),
            subnetworks: build!(Subnetworks, endpoint, timeout),
            firewalls: build!(Firewalls, endpoint, timeout),
            routers: build!(Routers, endpoint, timeout),
            global_ops: build!(GlobalOperations, endpoint, timeout),
            region_ops: build!(RegionOperations, endpoint, timeout),
            secrets: build!(SecretManagerService, endpoint, timeout),
        })
    }
}
