//! Service Networking (`servicenetworking.googleapis.com/v1`), which no official Rust crate
//! covers: the few calls private services access needs, over the same HTTP and credentials
//! stack as the Google clients (reqwest, `google-cloud-auth`), with typed requests and
//! answers of ours.
//!
//! Its connections name the network by the project's *number*
//! (`projects/123…/global/networks/N`); the provider learns it once from Compute.

use cairn_core::provider::ProviderError;
use google_cloud_auth::credentials::{CacheableResource, Credentials};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The producer service whose connection Cloud SQL and Memorystore use.
pub(crate) const SERVICE: &str = "servicenetworking.googleapis.com";
/// The VPC peering that service's connections make: the connection's name in the API
/// (`services/{SERVICE}/connections/{PEERING}`), the network saying whose.
const PEERING: &str = "servicenetworking-googleapis-com";

/// A private connection between a consumer network and a producer service.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Connection {
    /// `projects/{project number}/global/networks/{name}`.
    pub network: String,
    /// Names of the consumer's `VPC_PEERING` global addresses.
    #[serde(default)]
    pub reserved_peering_ranges: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peering: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListConnectionsResponse {
    #[serde(default)]
    connections: Vec<Connection>,
}

/// A `google.longrunning.Operation`, as far as cairn reads it.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Operation {
    pub name: String,
    #[serde(default)]
    pub done: bool,
    #[serde(default)]
    pub error: Option<Status>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Status {
    #[serde(default)]
    pub code: i32,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DeleteConnectionRequest<'a> {
    consumer_network: &'a str,
}

/// Google's error body (`{"error": {code, message, status}}`).
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
}

/// The Service Networking REST API.
#[derive(Debug)]
pub(crate) struct ServiceNetworking {
    http: reqwest::Client,
    base: String,
    credentials: Credentials,
}

impl ServiceNetworking {
    /// `endpoint`: a local endpoint (anonymous credentials) or none for Google's, with
    /// Application Default Credentials. `timeout` bounds each call.
    pub fn new(endpoint: Option<&str>, timeout: Duration) -> Result<ServiceNetworking, String> {
        let credentials = match endpoint {
            Some(_) => google_cloud_auth::credentials::anonymous::Builder::new().build(),
            None => google_cloud_auth::credentials::Builder::default()
                .build()
                .map_err(|e| format!("no Google credentials for Service Networking: {e}"))?,
        };
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot set up the Service Networking client: {e}"))?;
        Ok(ServiceNetworking {
            http,
            base: endpoint
                .unwrap_or("https://servicenetworking.googleapis.com")
                .trim_end_matches('/')
                .to_string(),
            credentials,
        })
    }

    async fn send<T: for<'de> Deserialize<'de>>(
        &self,
        address: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ProviderError> {
        let headers = match self
            .credentials
            .headers(http::Extensions::new())
            .await
            .map_err(|e| ProviderError::Api {
                address: address.to_string(),
                code: "Credentials".into(),
                message: e.to_string(),
            })? {
            CacheableResource::New { data, .. } => data,
            CacheableResource::NotModified => http::HeaderMap::new(),
        };
        let answer = request.headers(headers).send().await.map_err(|e| {
            if e.is_connect() {
                ProviderError::Transient {
                    address: address.to_string(),
                    message: format!("cannot reach Service Networking: {e}"),
                }
            } else {
                ProviderError::Indeterminate {
                    address: address.to_string(),
                    message: format!("no answer from Service Networking: {e}"),
                }
            }
        })?;
        let status = answer.status().as_u16();
        let body = answer
            .text()
            .await
            .map_err(|e| ProviderError::Indeterminate {
                address: address.to_string(),
                message: format!("the answer from Service Networking broke off: {e}"),
            })?;
        if (200..300).contains(&status) {
            return serde_json::from_str(&body).map_err(|e| ProviderError::Api {
                address: address.to_string(),
                code: "BadAnswer".into(),
                message: format!("Service Networking answered what cairn cannot read: {e}"),
            });
        }
        let (code, message) = match serde_json::from_str::<ErrorBody>(&body) {
            Ok(b) => (b.error.status, b.error.message),
            Err(_) => (format!("HTTP {status}"), body),
        };
        Err(match status {
            404 => ProviderError::NotFound {
                address: address.to_string(),
            },
            429 | 500 | 502 | 503 | 504 => ProviderError::Transient {
                address: address.to_string(),
                message,
            },
            _ => ProviderError::Api {
                address: address.to_string(),
                code,
                message,
            },
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1/{path}", self.base)
    }

    pub async fn create(
        &self,
        address: &str,
        connection: &Connection,
    ) -> Result<Operation, ProviderError> {
        let url = self.url(&format!("services/{SERVICE}/connections"));
        self.send(address, self.http.post(url).json(connection))
            .await
    }

    /// The connections of `network` (`projects/{number}/global/networks/{name}`).
    pub async fn list(
        &self,
        address: &str,
        network: &str,
    ) -> Result<Vec<Connection>, ProviderError> {
        let url = self.url(&format!("services/{SERVICE}/connections"));
        let r: ListConnectionsResponse = self
            .send(address, self.http.get(url).query(&[("network", network)]))
            .await?;
        Ok(r.connections)
    }

    /// Replace the connection's ranges (`force`: even while a producer uses the old ones).
    pub async fn patch(
        &self,
        address: &str,
        connection: &Connection,
    ) -> Result<Operation, ProviderError> {
        let url = self.url(&format!("services/{SERVICE}/connections/{PEERING}"));
        self.send(
            address,
            self.http
                .patch(url)
                .query(&[("updateMask", "reservedPeeringRanges"), ("force", "true")])
                .json(connection),
        )
        .await
    }

    pub async fn delete(&self, address: &str, network: &str) -> Result<Operation, ProviderError> {
        // `deleteConnection` is the method's name, not a suffix of its path.
        let url = self.url(&format!("services/{SERVICE}/connections/{PEERING}"));
        self.send(
            address,
            self.http.post(url).json(&DeleteConnectionRequest {
                consumer_network: network,
            }),
        )
        .await
    }

    pub async fn operation(&self, address: &str, name: &str) -> Result<Operation, ProviderError> {
        self.send(address, self.http.get(self.url(name))).await
    }
}
