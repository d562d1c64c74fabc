//! The Google Cloud clients cairn uses, built once per provider.

use crate::servicenetworking::ServiceNetworking;
use google_cloud_compute_v1::client::{
    BackendServices, Firewalls, GlobalAddresses, GlobalForwardingRules, GlobalOperations,
    HealthChecks, Networks, Projects, RegionOperations, Routers, SecurityPolicies, SslCertificates,
    Subnetworks, TargetHttpProxies, TargetHttpsProxies, UrlMaps,
};
use google_cloud_managedkafka_v1::client::ManagedKafka;
use google_cloud_redis_v1::client::CloudRedis;
use google_cloud_secretmanager_v1::client::SecretManagerService;
use google_cloud_sql_v1::client::{
    SqlDatabasesService, SqlInstancesService, SqlOperationsService, SqlUsersService,
};

/// One client per Compute collection (the Rust clients are per service), one per other API.
#[derive(Debug)]
pub(crate) struct Clients {
    pub networks: Networks,
    pub subnetworks: Subnetworks,
    pub firewalls: Firewalls,
    pub routers: Routers,
    pub global_ops: GlobalOperations,
    pub region_ops: RegionOperations,
    pub global_addresses: GlobalAddresses,
    pub projects: Projects,
    pub health_checks: HealthChecks,
    pub backend_services: BackendServices,
    pub security_policies: SecurityPolicies,
    pub url_maps: UrlMaps,
    pub ssl_certificates: SslCertificates,
    pub target_https_proxies: TargetHttpsProxies,
    pub target_http_proxies: TargetHttpProxies,
    pub global_forwarding_rules: GlobalForwardingRules,
    pub secrets: SecretManagerService,
    pub service_networking: ServiceNetworking,
    pub sql_instances: SqlInstancesService,
    pub sql_databases: SqlDatabasesService,
    pub sql_users: SqlUsersService,
    pub sql_operations: SqlOperationsService,
    pub redis: CloudRedis,
    pub kafka: ManagedKafka,
}

/// The client builders' common settings: a local endpoint with anonymous credentials when
/// one is given, else Google's endpoints with Application Default Credentials. Retries are
/// cairn's (the engine's), not the client's: a create re-sent behind cairn's back could not
/// be told from a second one.
///
/// On a local endpoint each API is reached under `/{its Google host}`: Google tells its
/// APIs apart by host, and some share paths (Memorystore's and Managed Kafka's clusters
/// and operations), so one local port serving them all needs the host in the path.
macro_rules! build {
    ($client:ty, $host:expr, $endpoint:expr, $timeout:expr) => {{
        let mut b = <$client>::builder()
            .with_retry_policy(google_cloud_gax::retry_policy::NeverRetry)
            .with_attempt_timeout($timeout);
        if let Some(url) = $endpoint {
            b = b.with_endpoint(local(url, $host)).with_credentials(
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
            networks: build!(Networks, "compute", endpoint, timeout),
            subnetworks: build!(Subnetworks, "compute", endpoint, timeout),
            firewalls: build!(Firewalls, "compute", endpoint, timeout),
            routers: build!(Routers, "compute", endpoint, timeout),
            global_ops: build!(GlobalOperations, "compute", endpoint, timeout),
            region_ops: build!(RegionOperations, "compute", endpoint, timeout),
            global_addresses: build!(GlobalAddresses, "compute", endpoint, timeout),
            projects: build!(Projects, "compute", endpoint, timeout),
            health_checks: build!(HealthChecks, "compute", endpoint, timeout),
            backend_services: build!(BackendServices, "compute", endpoint, timeout),
            security_policies: build!(SecurityPolicies, "compute", endpoint, timeout),
            url_maps: build!(UrlMaps, "compute", endpoint, timeout),
            ssl_certificates: build!(SslCertificates, "compute", endpoint, timeout),
            target_https_proxies: build!(TargetHttpsProxies, "compute", endpoint, timeout),
            target_http_proxies: build!(TargetHttpProxies, "compute", endpoint, timeout),
            global_forwarding_rules: build!(GlobalForwardingRules, "compute", endpoint, timeout),
            secrets: build!(SecretManagerService, "secretmanager", endpoint, timeout),
            service_networking: ServiceNetworking::new(
                endpoint
                    .map(|url| local(url, "servicenetworking"))
                    .as_deref(),
                timeout,
            )?,
            sql_instances: build!(SqlInstancesService, "sqladmin", endpoint, timeout),
            sql_databases: build!(SqlDatabasesService, "sqladmin", endpoint, timeout),
            sql_users: build!(SqlUsersService, "sqladmin", endpoint, timeout),
            sql_operations: build!(SqlOperationsService, "sqladmin", endpoint, timeout),
            redis: build!(CloudRedis, "redis", endpoint, timeout),
            kafka: build!(ManagedKafka, "managedkafka", endpoint, timeout),
        })
    }
}

/// `endpoint` with the API's Google host as its first path segment.
fn local(endpoint: &str, api: &str) -> String {
    format!("{}/{api}.googleapis.com", endpoint.trim_end_matches('/'))
}
