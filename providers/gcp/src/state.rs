//! Shared state in Google Cloud Storage: [`GcsBlobs`], the backend of cairn-core's
//! [`RemoteStore`](cairn_core::state::RemoteStore) for `gs://bucket/key`.
//!
//! Every object of one stack's state is an object under `key/` in the bucket. Conditional
//! writes are Cloud Storage's generation preconditions: `ifGenerationMatch=0` for an object
//! that must not exist yet, `ifGenerationMatch=<generation>` for one that must still be the
//! version read; both answer 412 when another writer was first. The version of an object
//! is its generation, which Cloud Storage gives every write anew. The lock's lease and
//! fencing live in the lock object itself (see `RemoteStore`), as on every backend.
//!
//! The official client splits Cloud Storage in two: [`Storage`] reads and writes object
//! data over the JSON API, [`StorageControl`] lists and deletes over gRPC. Both are built
//! on first use, on the thread the store runs its requests on: the gRPC channel keeps a
//! task on the runtime that made it, and the caller's runtime may be blocked in a
//! synchronous call to the store while a request waits for that task.
//!
//! Credentials, the way Google's tools take them: Application Default Credentials
//! (`GOOGLE_APPLICATION_CREDENTIALS`, workload identity federation in CI, the metadata
//! server, `gcloud auth application-default login`). `CAIRN_GCP_ENDPOINT` points both
//! clients at a local endpoint with anonymous credentials, as it does the provider's.

use cairn_core::state::remote::{Blob, BlobError, Blobs, Condition};
use google_cloud_storage::client::{Storage, StorageControl};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// Opens `gs://` state for [`cairn_core::state::url::open`].
#[derive(Debug)]
pub struct GcsOpener;

/// The `gs://` opener, to hand to [`cairn_core::state::url::open`].
pub static GS: GcsOpener = GcsOpener;

#[async_trait::async_trait]
impl cairn_core::state::url::BackendOpener for GcsOpener {
    fn scheme(&self) -> &'static str {
        "gs"
    }

    async fn open(&self, url: &str, default_key: &str) -> Result<Arc<dyn Blobs>, String> {
        Ok(Arc::new(GcsBlobs::from_url(url, default_key)?))
    }
}

/// A key in a Cloud Storage bucket.
#[derive(Debug)]
pub struct GcsBlobs {
    /// A local endpoint (anonymous credentials), or none for Google's.
    endpoint: Option<String>,
    /// Objects at least this large are written by resumable upload (the client's default,
    /// 16 MiB, when none).
    resumable_threshold: Option<usize>,
    clients: OnceCell<(Storage, StorageControl)>,
    bucket: String,
    prefix: String,
}

impl GcsBlobs {
    /// The store at `gs://bucket/key`, with `default_key` when the URL names no key; the
    /// endpoint and credentials from the environment (see the module docs).
    pub fn from_url(url: &str, default_key: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("gs://")
            .ok_or_else(|| format!("{url:?} is not a gs:// URL"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let key = key.trim_matches('/');
        let key = if key.is_empty() { default_key } else { key };
        let endpoint = std::env::var("CAIRN_GCP_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty());
        Self::new(endpoint.as_deref(), bucket, key)
    }

    /// The store under `key` in `bucket`, at `endpoint` with anonymous credentials, or at
    /// Google's with Application Default Credentials when `None`.
    pub fn new(endpoint: Option<&str>, bucket: &str, key: &str) -> Result<Self, String> {
        check_bucket_name(bucket)?;
        let prefix = key.trim_matches('/');
        if prefix.is_empty() {
            return Err("gs:// state: no key (gs://bucket/key) and no default".into());
        }
        // Object names are at most 1024 bytes; leave room for `journal/<gen>.<seq>`.
        if prefix.len() > 900 || prefix.contains(['\r', '\n']) {
            return Err(format!(
                "gs:// state: {prefix:?} cannot name objects (at most 900 bytes, no line breaks)"
            ));
        }
        Ok(GcsBlobs {
            endpoint: endpoint.map(str::to_string),
            resumable_threshold: None,
            clients: OnceCell::new(),
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// Objects of `bytes` or more are written by resumable upload (in chunks, each retried
    /// on its own) rather than in one request.
    pub fn with_resumable_threshold(mut self, bytes: usize) -> Self {
        self.resumable_threshold = Some(bytes);
        self
    }

    async fn clients(&self) -> Result<&(Storage, StorageControl), BlobError> {
        self.clients
            .get_or_try_init(|| async {
                build_clients(self.endpoint.as_deref(), self.resumable_threshold)
                    .await
                    .map_err(BlobError::Failed)
            })
            .await
    }

    fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }

    fn bucket_path(&self) -> String {
        format!("projects/_/buckets/{}", self.bucket)
    }
}

/// The two clients, against Google (Application Default Credentials) or `endpoint`
/// (anonymously).
async fn build_clients(
    endpoint: Option<&str>,
    resumable_threshold: Option<usize>,
) -> Result<(Storage, StorageControl), String> {
    let mut storage = Storage::builder();
    if let Some(bytes) = resumable_threshold {
        storage = storage.with_resumable_upload_threshold(bytes);
    }
    let mut control = StorageControl::builder();
    if let Some(url) = endpoint {
        let anonymous = || google_cloud_auth::credentials::anonymous::Builder::new().build();
        storage = storage.with_endpoint(url).with_credentials(anonymous());
        control = control.with_endpoint(url).with_credentials(anonymous());
    }
    let storage = storage
        .build()
        .await
        .map_err(|e| format!("Cloud Storage client: {e}"))?;
    let control = control
        .build()
        .await
        .map_err(|e| format!("Cloud Storage control client: {e}"))?;
    Ok((storage, control))
}

/// Cloud Storage's bucket names: 3-63 characters (222 with dots, 63 between them) of
/// lowercase letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit.
fn check_bucket_name(bucket: &str) -> Result<(), String> {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok = (3..=222).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
        && alnum(bucket.chars().next())
        && alnum(bucket.chars().last())
        && bucket
            .split('.')
            .all(|part| !part.is_empty() && part.len() <= 63)
        && (bucket.contains('.') || bucket.len() <= 63)
        && !bucket.starts_with("goog");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "gs:// state: {bucket:?} is not a bucket name (3-63 lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit)"
        ))
    }
}

fn failed(what: &str, e: google_cloud_storage::Error) -> BlobError {
    BlobError::Failed(format!("Cloud Storage {what}: {e}"))
}

/// Whether `e` says the object (or its bucket) is not there, over either transport.
fn not_found(e: &google_cloud_storage::Error) -> bool {
    e.http_status_code() == Some(404)
        || e.status()
            .is_some_and(|s| s.code == google_cloud_gax::error::rpc::Code::NotFound)
}

#[async_trait::async_trait]
impl Blobs for GcsBlobs {
    fn describe(&self) -> String {
        format!("gs://{}/{}", self.bucket, self.prefix)
    }

    async fn get(&self, name: &str) -> Result<Option<Blob>, BlobError> {
        let (storage, _) = self.clients().await?;
        // One request reads one generation: the body and the version always agree.
        let mut read = match storage
            .read_object(self.bucket_path(), self.key(name))
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(failed("read", e)),
        };
        let generation = read.object().generation;
        let mut body = Vec::new();
        while let Some(chunk) = read.next().await {
            body.extend_from_slice(&chunk.map_err(|e| failed("read", e))?);
        }
        Ok(Some(Blob {
            body,
            version: generation.to_string(),
        }))
    }

    async fn put(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
    ) -> Result<String, BlobError> {
        let (storage, _) = self.clients().await?;
        let write = storage
            .write_object(self.bucket_path(), self.key(name), bytes::Bytes::from(body))
            .set_content_type("application/octet-stream");
        let write = match condition {
            Condition::Absent => write.set_if_generation_match(0_i64),
            Condition::Matches(generation) => {
                let generation: i64 = generation.parse().map_err(|_| {
                    BlobError::Failed(format!("Cloud Storage: {generation:?} is not a generation"))
                })?;
                write.set_if_generation_match(generation)
            }
            Condition::Always => write,
        };
        match write.send_buffered().await {
            Ok(object) => Ok(object.generation.to_string()),
            // 412 conditionNotMet: another writer was first.
            Err(e) if e.http_status_code() == Some(412) => Err(BlobError::Conflict),
            Err(e) => Err(failed("write", e)),
        }
    }

    async fn delete(&self, name: &str) -> Result<(), BlobError> {
        let (_, control) = self.clients().await?;
        match control
            .delete_object()
            .set_bucket(self.bucket_path())
            .set_object(self.key(name))
            .send()
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(failed("delete", e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let (_, control) = self.clients().await?;
        let root = format!("{}/", self.prefix);
        let mut names = Vec::new();
        let mut token = String::new();
        loop {
            let page = control
                .list_objects()
                .set_parent(self.bucket_path())
                .set_prefix(format!("{root}{prefix}"))
                .set_page_size(1000)
                .set_page_token(token)
                .send()
                .await
                .map_err(|e| failed("list", e))?;
            names.extend(
                page.objects
                    .iter()
                    .filter_map(|o| o.name.strip_prefix(&root).map(str::to_string)),
            );
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_are_checked_as_cloud_storage_does() {
        for good in ["cairn-state", "a_b", "my.bucket.example", "abc"] {
            assert!(check_bucket_name(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "Cairn",
            "-cairn",
            "cairn-",
            "goog-state",
            "a..b",
            "a b",
        ] {
            let e = check_bucket_name(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn a_url_names_bucket_and_key() {
        let s = GcsBlobs::from_url("gs://cairn-state/team/ticketing", "x").unwrap();
        assert_eq!(s.describe(), "gs://cairn-state/team/ticketing");
        let s = GcsBlobs::from_url("gs://cairn-state", "ticketing-prod.gcp").unwrap();
        assert_eq!(s.describe(), "gs://cairn-state/ticketing-prod.gcp");
        assert!(GcsBlobs::from_url("s3://cairn-state/k", "x").is_err());
        assert!(GcsBlobs::from_url("gs://Bad/k", "x")
            .unwrap_err()
            .contains("Bad"));
    }
}
