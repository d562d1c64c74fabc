//! Shared state in Azure Blob Storage: [`AzureBlobs`], the backend of cairn-core's
//! [`RemoteStore`](cairn_core::state::RemoteStore) for `azblob://account/container/key`.
//!
//! Every object of one stack's state is a block blob under `key/` in the container.
//! Conditional writes are Blob Storage's own ETag conditions: `If-None-Match: *` for a
//! blob that must not exist yet (answered `409 BlobAlreadyExists`), `If-Match: <ETag>` for
//! one that must still be the version read (`412 ConditionNotMet`). The lock's lease and
//! fencing live in the lock blob itself (see `RemoteStore`), so a run that lost its lock is
//! refused the same way on every backend; Blob Storage's own 15-60 s blob leases would
//! add a second clock that cannot be renewed from a paused process anyway.
//!
//! Credentials, the way Azure's tools take them: `AZURE_STORAGE_CONNECTION_STRING`
//! (account, key or SAS, and `BlobEndpoint` for Azurite or a private endpoint), else
//! `AZURE_STORAGE_KEY` for the URL's account, else the Azure identity chain (workload
//! identity federation in CI, managed identity, the Azure CLI) as the provider uses it.

use azure_core::error::ErrorKind;
use azure_core::request_options::IfMatchCondition;
use azure_core::TransportOptions;
use azure_storage::{CloudLocation, ConnectionString, StorageCredentials};
use azure_storage_blobs::prelude::{BlobServiceClient, ClientBuilder, ContainerClient};
use cairn_core::state::remote::{Blob, BlobError, Blobs, Condition};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// Opens `azblob://` state for [`cairn_core::state::url::open`].
#[derive(Debug)]
pub struct AzureBlobOpener;

/// The `azblob://` opener, to hand to [`cairn_core::state::url::open`].
pub static AZBLOB: AzureBlobOpener = AzureBlobOpener;

#[async_trait::async_trait]
impl cairn_core::state::url::BackendOpener for AzureBlobOpener {
    fn scheme(&self) -> &'static str {
        "azblob"
    }

    async fn open(&self, url: &str, default_key: &str) -> Result<Arc<dyn Blobs>, String> {
        Ok(Arc::new(AzureBlobs::from_url(url, default_key)?))
    }
}

/// A key in an Azure Blob Storage container.
#[derive(Debug)]
pub struct AzureBlobs {
    container: ContainerClient,
    account: String,
    container_name: String,
    prefix: String,
}

impl AzureBlobs {
    /// The store at `azblob://account/container/key`, with `default_key` when the URL names
    /// no key; credentials from the environment (see the module docs).
    pub fn from_url(url: &str, default_key: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("azblob://")
            .ok_or_else(|| format!("{url:?} is not an azblob:// URL"))?;
        let mut parts = rest.splitn(3, '/');
        let account = parts.next().unwrap_or_default();
        let container = parts.next().unwrap_or_default();
        let key = parts.next().unwrap_or_default().trim_matches('/');
        let key = if key.is_empty() { default_key } else { key };
        let setting = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(cs) = setting("AZURE_STORAGE_CONNECTION_STRING") {
            return Self::from_connection_string(&cs, account, container, key);
        }
        let credentials = match setting("AZURE_STORAGE_KEY") {
            Some(k) => StorageCredentials::access_key(account.to_string(), k),
            None => StorageCredentials::token_credential(
                azure_identity::create_credential()
                    .map_err(|e| format!("Azure credentials: {e}"))?,
            ),
        };
        Self::new(
            ClientBuilder::new(account.to_string(), credentials)
                .transport(pooled_transport()?)
                .blob_service_client(),
            account,
            container,
            key,
        )
    }

    /// The store under `key` in `container` of `account`, with the credentials and blob
    /// endpoint of a storage connection string (as the portal and Azurite give them).
    pub fn from_connection_string(
        connection_string: &str,
        account: &str,
        container: &str,
        key: &str,
    ) -> Result<Self, String> {
        let parsed = ConnectionString::new(connection_string)
            .map_err(|e| format!("storage connection string: {e}"))?;
        if parsed.account_name.is_some_and(|a| a != account) {
            return Err(format!(
                "the storage connection string is for account {:?}, the state names {account:?}",
                parsed.account_name.unwrap_or_default()
            ));
        }
        let credentials = parsed
            .storage_credentials()
            .map_err(|e| format!("storage connection string: {e}"))?;
        let location = match parsed.blob_endpoint {
            Some(uri) => CloudLocation::Custom {
                account: account.to_string(),
                uri: uri.trim_end_matches('/').to_string(),
            },
            None => CloudLocation::Public {
                account: account.to_string(),
            },
        };
        Self::new(
            ClientBuilder::with_location(location, credentials)
                .transport(pooled_transport()?)
                .blob_service_client(),
            account,
            container,
            key,
        )
    }

    /// The store under `key` in `container`, through `service`.
    pub fn new(
        service: BlobServiceClient,
        account: &str,
        container: &str,
        key: &str,
    ) -> Result<Self, String> {
        // Account names: 3-24 lowercase letters and digits. Containers: 3-63 lowercase
        // letters, digits and single hyphens, starting with a letter or digit.
        let account_ok = (3..=24).contains(&account.len())
            && account
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !account_ok {
            return Err(format!(
                "azblob:// state: {account:?} is not a storage account name (3-24 lowercase letters and digits)"
            ));
        }
        let container_ok = (3..=63).contains(&container.len())
            && container
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !container.starts_with('-')
            && !container.contains("--");
        if !container_ok {
            return Err(format!(
                "azblob:// state: {container:?} is not a container name (3-63 lowercase letters, digits and single hyphens)"
            ));
        }
        if key.is_empty() {
            return Err(
                "azblob:// state: no key (azblob://account/container/key) and no default".into(),
            );
        }
        Ok(AzureBlobs {
            container: service.container_client(container),
            account: account.to_string(),
            container_name: container.to_string(),
            prefix: key.trim_matches('/').to_string(),
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }
}

/// An HTTP client that keeps its connections. azure_core's own turns pooling off (a
/// workaround for hyper#2312, a pooled connection the server had closed), so every request
/// would open a connection: a third of an append's time against Azurite. Idle connections
/// are dropped well before a server's keep-alive ends (Node's, Azurite's, is 5 s), which
/// is what that workaround guards against.
fn pooled_transport() -> Result<TransportOptions, String> {
    let http = reqwest012::Client::builder()
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| format!("cannot set up the Azure Blob Storage HTTP client: {e}"))?;
    Ok(TransportOptions::new(Arc::new(http)))
}

fn status(e: &azure_core::Error) -> Option<u16> {
    match e.kind() {
        ErrorKind::HttpResponse { status, .. } => Some(u16::from(*status)),
        _ => None,
    }
}

fn failed(e: azure_core::Error) -> BlobError {
    BlobError::Failed(format!("Azure Blob Storage: {e}"))
}

#[async_trait::async_trait]
impl Blobs for AzureBlobs {
    fn describe(&self) -> String {
        format!(
            "azblob://{}/{}/{}",
            self.account, self.container_name, self.prefix
        )
    }

    async fn get(&self, name: &str) -> Result<Option<Blob>, BlobError> {
        let client = self.container.blob_client(self.key(name));
        let mut chunks = client.get().into_stream();
        let mut body = Vec::new();
        let mut version: Option<String> = None;
        while let Some(chunk) = chunks.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) if status(&e) == Some(404) => return Ok(None),
                Err(e) => return Err(failed(e)),
            };
            let etag = chunk.blob.properties.etag.to_string();
            // A blob read in chunks must be one version throughout.
            if version.get_or_insert_with(|| etag.clone()) != &etag {
                return Err(BlobError::Failed(format!(
                    "Azure Blob Storage: {name} changed while it was read"
                )));
            }
            body.extend(chunk.data.collect().await.map_err(failed)?);
        }
        Ok(version.map(|version| Blob { body, version }))
    }

    async fn put(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
    ) -> Result<String, BlobError> {
        let client = self.container.blob_client(self.key(name));
        let mut put = client.put_block_blob(body);
        put = match condition {
            Condition::Absent => put.if_match(IfMatchCondition::NotMatch("*".into())),
            Condition::Matches(etag) => put.if_match(IfMatchCondition::Match(etag)),
            Condition::Always => put,
        };
        match put.await {
            Ok(out) => Ok(out.etag),
            // 409 BlobAlreadyExists (If-None-Match: *), 412 ConditionNotMet (If-Match), 404
            // to If-Match: the blob is gone. Each means another writer was first.
            Err(e) if matches!(status(&e), Some(409 | 412 | 404)) => Err(BlobError::Conflict),
            Err(e) => Err(failed(e)),
        }
    }

    async fn delete(&self, name: &str) -> Result<(), BlobError> {
        match self.container.blob_client(self.key(name)).delete().await {
            Ok(_) => Ok(()),
            Err(e) if status(&e) == Some(404) => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let root = format!("{}/", self.prefix);
        let mut pages = self
            .container
            .list_blobs()
            .prefix(format!("{root}{prefix}"))
            .into_stream();
        let mut names = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(failed)?;
            for b in page.blobs.blobs() {
                if let Some(name) = b.name.strip_prefix(&root) {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }
}
