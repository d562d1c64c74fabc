//! The Azure Resource Manager clients cairn uses, built once per provider, and the one
//! request the management crates do not make for it: polling a long-running operation.
//!
//! Every client shares one credential, one transport and one retry policy. The transport is
//! azure_core's reqwest client bounded by the attempt timeout. Throttling (429, after its
//! `Retry-After`), server faults (408, 5xx) and lost connections are retried with
//! exponential backoff for the call timeout after the first answer: every call cairn makes
//! is safe to send again (ARM's PUT and DELETE are idempotent by name, a re-sent PUT lands
//! on the object the first made, and the POSTs read keys or purge), and a subscription's
//! throttling is routine on Azure, never a reason to fail a run. A pause honours ARM's
//! `Retry-After` up to [`RETRY_MAX_WAIT`], so that the last attempt a run may send is
//! bounded and the in-flight window (`AzureOptions::in_flight_window`) can count it.

use azure_core::auth::{AccessToken, Secret, TokenCredential};
use azure_core::{ClientOptions, Pipeline, RetryOptions, RetryPolicy, TransportOptions, Url};
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

/// The longest pause between two attempts of the backoff alone.
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The longest pause between two attempts, even when ARM's `Retry-After` asks for more:
/// a later attempt would be one the in-flight window cannot count.
pub(crate) const RETRY_MAX_WAIT: Duration = Duration::from_secs(5);

/// Retries of throttled and failed calls while less than `budget` has passed since the
/// first answer (see the module's doc). azure_core's exponential policy also stops after
/// a count of retries, which a throttled subscription spends in seconds, and waits for any
/// `Retry-After`, however long.
#[derive(Debug)]
struct Backoff {
    budget: Duration,
}

#[async_trait::async_trait]
impl RetryPolicy for Backoff {
    fn is_expired(&self, since_first_answer: Duration, _retries: u32) -> bool {
        since_first_answer >= self.budget
    }

    fn sleep_duration(&self, retry: u32) -> Duration {
        // 200 ms doubling, plus up to 127 ms of jitter so that parallel calls throttled
        // together do not come back together.
        let jitter = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos() % 128));
        let ms = 200u64.saturating_mul(1 << retry.min(16)) + jitter;
        Duration::from_millis(ms).min(BACKOFF_MAX)
    }

    async fn wait(&self, _error: &azure_core::Error, retry: u32, retry_after: Option<Duration>) {
        tokio::time::sleep(self.pause(retry, retry_after)).await;
    }
}

impl Backoff {
    /// The backoff, or ARM's `Retry-After` when longer, up to [`RETRY_MAX_WAIT`].
    fn pause(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self.sleep_duration(retry);
        retry_after
            .map_or(backoff, |asked| asked.max(backoff))
            .min(RETRY_MAX_WAIT)
    }
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
    /// `attempt`: the longest one request may take; `budget`: how long after its first
    /// answer a call is retried.
    pub fn new(
        endpoint: Option<&str>,
        attempt: Duration,
        budget: Duration,
    ) -> Result<Clients, String> {
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
            .timeout(attempt)
            .build()
            .map_err(|e| format!("cannot set up the Azure HTTP client: {e}"))?;
        let transport = TransportOptions::new(Arc::new(http));
        let retry = RetryOptions::custom(Arc::new(Backoff { budget }));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_stop_on_the_budget_alone_and_never_pause_past_the_cap() {
        let policy = Backoff {
            budget: Duration::from_secs(8),
        };
        // A throttled subscription may answer 429 many times in a row: the count of
        // retries never ends them, the time since the first answer does.
        assert!(!policy.is_expired(Duration::from_secs(7), 1_000));
        assert!(policy.is_expired(Duration::from_secs(8), 1));
        for retry in 1..40 {
            let pause = policy.sleep_duration(retry);
            assert!(
                pause >= Duration::from_millis(200) && pause <= BACKOFF_MAX,
                "{pause:?}"
            );
        }
        assert_eq!(
            policy.pause(1, Some(Duration::from_secs(60))),
            RETRY_MAX_WAIT,
            "ARM's 60s is capped"
        );
        assert_eq!(
            policy.pause(1, Some(Duration::from_secs(1))),
            Duration::from_secs(1),
            "ARM's 1s is kept"
        );
    }

    #[test]
    fn the_in_flight_window_counts_the_last_retry() {
        let options = crate::AzureOptions {
            attempt_timeout: Duration::from_secs(3),
            call_timeout: Duration::from_secs(8),
            read_after_write: Duration::from_millis(500),
            ..crate::AzureOptions::default()
        };
        // First attempt 3s, retries until 8s after its answer, a capped pause, the last
        // attempt's 3s, then the read-after-write delay.
        assert_eq!(options.in_flight_window(), Duration::from_millis(19_500));
    }
}
