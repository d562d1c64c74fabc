//! The Azure Resource Manager clients cairn uses, built once per provider, and the one
//! request the management crates do not make for it: polling a long-running operation.
//!
//! Every client shares one credential, one transport and one retry policy. The transport is
//! azure_core's reqwest client with a per-attempt timeout. Throttling (429, after its
//! `Retry-After`), server faults (408, 5xx) and lost connections are retried with
//! exponential backoff for at most the call timeout: every call cairn makes is safe to send
//! again (ARM's PUT and DELETE are idempotent by name, a re-sent PUT lands on the object
//! the first made, and the POSTs read keys or purge), and a subscription's throttling is
//! routine on Azure, never a reason to fail a run. The in-flight window counts the retries
//! (`AzureOptions::in_flight_window`).

use azure_core::auth::{AccessToken, Secret, TokenCredential};
use azure_core::{
    ClientOptions, ExponentialRetryOptions, Pipeline, RetryOptions, TransportOptions, Url,
};
use std::sync::Arc;
use std::time::Duration;

// Each crate's client for the one API version its feature enables (the root re-exports a
// version only with the crate's default tag, which would enable more).
pub(crate) use azure_mgmt_authorization::package_2022_04_01::{
    models as authorization, Client as AuthorizationClient,
};
pub(crate) use azure_mgmt_eventhub::package_2024_01::{
    models as eventhub, Client as EventHubClient,
};
pub(crate) use azure_mgmt_keyvault::profile_hybrid_2020_09_01::{
    models as keyvault, Client as KeyVaultClient,
};
pub(crate) use azure_mgmt_msi::package_2023_01_31::{models as msi, Client as MsiClient};
pub(crate) use azure_mgmt_network::package_2024_03::{models as network, Client as NetworkClient};
pub(crate) use azure_mgmt_postgresql::package_flexibleserver_2024_08_01::{
    models as postgres, Client as PostgresClient,
};
pub(crate) use azure_mgmt_privatedns::package_2024_06::{models as dns, Client as DnsClient};
pub(crate) use azure_mgmt_redis::package_2024_03::{models as redis, Client as RedisClient};
pub(crate) use azure_mgmt_resources::package_resources_2021_04::{
    models as resources, Client as ResourcesClient,
};

/// One client per management crate (each speaks one API version).
#[derive(Clone)]
pub(crate) struct Clients {
    pub resources: ResourcesClient,
    pub network: NetworkClient,
    pub postgres: PostgresClient,
    pub dns: DnsClient,
    pub keyvault: KeyVaultClient,
    pub redis: RedisClient,
    pub eventhub: EventHubClient,
    pub msi: MsiClient,
    pub authorization: AuthorizationClient,
    /// For the polls of long-running operations (`Azure-AsyncOperation`, `Location`).
    poller: Pipeline,
    credential: Arc<dyn TokenCredential>,
    scope: String,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The longest pause between two attempts of a call (unless ARM's `Retry-After` asks for
/// more).
pub(crate) const RETRY_MAX_DELAY: Duration = Duration::from_secs(2);

/// Retries of throttled and failed calls, for at most `call_timeout` after the first
/// answer (see the module's doc).
fn retries(call_timeout: Duration) -> RetryOptions {
    RetryOptions::exponential(ExponentialRetryOptions {
        initial_delay: Duration::from_millis(200),
        max_retries: 8,
        max_delay: RETRY_MAX_DELAY,
        max_total_elapsed: call_timeout,
    })
}

/// A credential for a local endpoint: a fixed bearer token that never expires (the
/// emulator only checks that one is sent).
#[derive(Debug)]
struct StaticToken;

#[async_trait::async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(&self, _scopes: &[&str]) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            Secret::new("cairn-local-test-token"),
            time::OffsetDateTime::now_utc() + time::Duration::days(1),
        ))
    }

    async fn clear_cache(&self) -> azure_core::Result<()> {
        Ok(())
    }
}

macro_rules! build {
    ($client:ty, $credential:expr, $endpoint:expr, $options:expr) => {
        <$client>::builder($credential.clone())
            .endpoint($endpoint.clone())
            .scopes(&[$options.0.as_str()])
            .retry($options.2.clone())
            .transport($options.1.clone())
            .build()
            .map_err(|e| {
                format!(
                    "cannot set up the Azure {} client: {e}",
                    stringify!($client)
                )
            })?
    };
}

impl Clients {
    /// `endpoint`: a local endpoint, reached with a static token; none is Azure's public
    /// cloud with the credential chain of Azure's tools (environment, workload identity,
    /// managed identity, the Azure CLI; `AZURE_CREDENTIAL_KIND` picks one).
    pub fn new(endpoint: Option<&str>, timeout: Duration) -> Result<Clients, String> {
        let (credential, url): (Arc<dyn TokenCredential>, Url) = match endpoint {
            Some(e) => (
                Arc::new(StaticToken),
                Url::parse(e).map_err(|err| format!("CAIRN_AZURE_ENDPOINT {e:?}: {err}"))?,
            ),
            None => (
                azure_identity::create_credential()
                    .map_err(|e| format!("no Azure credential: {e}"))?,
                Url::parse("https://management.azure.com").expect("a valid URL"),
            ),
        };
        let scope = format!("{}/.default", url.as_str().trim_end_matches('/'));
        let http = reqwest012::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot set up the Azure HTTP client: {e}"))?;
        let transport = TransportOptions::new(Arc::new(http));
        let retry = retries(timeout);
        let options = (scope.clone(), transport.clone(), retry.clone());
        let poller = Pipeline::new(
            Some("cairn-azure"),
            Some(env!("CARGO_PKG_VERSION")),
            ClientOptions::default().retry(retry).transport(transport),
            Vec::new(),
            Vec::new(),
        );
        Ok(Clients {
            resources: build!(ResourcesClient, credential, url, options),
            network: build!(NetworkClient, credential, url, options),
            postgres: build!(PostgresClient, credential, url, options),
            dns: build!(DnsClient, credential, url, options),
            keyvault: build!(KeyVaultClient, credential, url, options),
            redis: build!(RedisClient, credential, url, options),
            eventhub: build!(EventHubClient, credential, url, options),
            msi: build!(MsiClient, credential, url, options),
            authorization: build!(AuthorizationClient, credential, url, options),
            poller,
            credential,
            scope,
        })
    }

    /// GET `url` (an operation's status or result) with the clients' credential.
    pub async fn get_url(&self, url: &str) -> azure_core::Result<azure_core::Response> {
        self.send_url(azure_core::Method::Get, url, &self.scope)
            .await
    }

    /// Send a request without a body to `url` with a token for `scope` (an operation's
    /// status, or a call to a data plane the management crates do not cover). An answer
    /// that is not a success is an error (the pipeline's no-retry policy).
    pub async fn send_url(
        &self,
        method: azure_core::Method,
        url: &str,
        scope: &str,
    ) -> azure_core::Result<azure_core::Response> {
        let url = Url::parse(url).map_err(|e| {
            azure_core::Error::full(
                azure_core::error::ErrorKind::DataConversion,
                e,
                format!("a URL Azure gave is not a URL: {url}"),
            )
        })?;
        let token = self.credential.get_token(&[scope]).await?;
        let mut req = azure_core::Request::new(url, method);
        req.insert_header(
            azure_core::headers::AUTHORIZATION,
            format!("Bearer {}", token.token.secret()),
        );
        self.poller
            .send(&azure_core::Context::default(), &mut req)
            .await
    }
}
