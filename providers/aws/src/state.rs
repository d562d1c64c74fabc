//! Shared state in S3: [`S3Blobs`], the backend of cairn-core's
//! [`RemoteStore`](cairn_core::state::RemoteStore) for `s3://bucket/key`.
//!
//! Every object of one stack's state lives under `key/` in the bucket (`key/lock`, whose
//! tail carries the journal's newest entries, `key/state`, `key/history/…`). Conditional writes are S3's own:
//! `If-None-Match: *` for an object that must not exist yet, `If-Match: <ETag>` for one
//! that must still be the version read, both answered `412 Precondition Failed` (or
//! `409 ConditionalRequestConflict` while another conditional write of the key is in
//! progress) when another writer was first. Every object is written with server-side
//! encryption: SSE-S3 (AES256), or SSE-KMS with `?kms_key=ARN`.
//!
//! Configured like the provider: region, credentials and endpoint from the standard AWS
//! chain (`AWS_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL`, OIDC web identity in CI, …).
//! With a custom endpoint (an emulator, a private S3 endpoint) addressing is path-style.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::ServerSideEncryption;
use cairn_core::state::remote::{Blob, BlobError, Blobs, Condition};
use std::sync::Arc;

/// Opens `s3://` state for [`cairn_core::state::url::open`].
#[derive(Debug)]
pub struct S3Opener;

/// The `s3://` opener, to hand to [`cairn_core::state::url::open`].
pub static S3: S3Opener = S3Opener;

#[async_trait::async_trait]
impl cairn_core::state::url::BackendOpener for S3Opener {
    fn scheme(&self) -> &'static str {
        "s3"
    }

    async fn open(&self, url: &str, default_key: &str) -> Result<Arc<dyn Blobs>, String> {
        Ok(Arc::new(S3Blobs::from_url(url, default_key).await?))
    }
}

/// A key in an S3 bucket.
#[derive(Debug)]
pub struct S3Blobs {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    kms_key: Option<String>,
}

impl S3Blobs {
    /// The store at `s3://bucket/key[?kms_key=ARN]`, with `default_key` when the URL names
    /// no key; configured from the environment like the provider.
    pub async fn from_url(url: &str, default_key: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{url:?} is not an s3:// URL"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
        let key = key.trim_matches('/');
        let key = if key.is_empty() { default_key } else { key };
        let mut kms_key = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("kms_key", v)) if !v.is_empty() => kms_key = Some(v.to_string()),
                _ => {
                    return Err(format!(
                        "s3:// state: unknown parameter {pair:?} (kms_key=ARN)"
                    ))
                }
            }
        }
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Ok(Self::new(&sdk, bucket, key)?.with_kms_key(kms_key))
    }

    /// The store under `key` in `bucket`, with the clients of `sdk`.
    pub fn new(sdk: &aws_config::SdkConfig, bucket: &str, key: &str) -> Result<Self, String> {
        // Bucket names: 3 to 63 lowercase letters, digits, dots and hyphens.
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !bucket_ok {
            return Err(format!(
                "s3:// state: {bucket:?} is not a bucket name (3-63 lowercase letters, digits, . and -)"
            ));
        }
        if key.is_empty() {
            return Err("s3:// state: no key (s3://bucket/key) and no default".into());
        }
        let mut config = aws_sdk_s3::config::Builder::from(sdk);
        if sdk.endpoint_url().is_some() {
            config = config.force_path_style(true);
        }
        Ok(S3Blobs {
            client: aws_sdk_s3::Client::from_conf(config.build()),
            bucket: bucket.to_string(),
            prefix: key.trim_matches('/').to_string(),
            kms_key: None,
        })
    }

    /// Encrypt with this KMS key (SSE-KMS) instead of SSE-S3.
    pub fn with_kms_key(mut self, key: Option<String>) -> Self {
        self.kms_key = key;
        self
    }

    fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }
}

/// S3's error code and message, or the transport's words.
fn failed<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: aws_sdk_s3::error::SdkError<E>,
) -> BlobError {
    match e.as_service_error() {
        Some(s) => BlobError::Failed(format!(
            "S3: {}: {}",
            s.code().unwrap_or("error"),
            s.message().unwrap_or("")
        )),
        None => BlobError::Failed(format!(
            "S3: {}",
            aws_smithy_types::error::display::DisplayErrorContext(&e)
        )),
    }
}

#[async_trait::async_trait]
impl Blobs for S3Blobs {
    fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    async fn get(&self, name: &str) -> Result<Option<Blob>, BlobError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(name))
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(failed(e)),
        };
        let version = out.e_tag().unwrap_or_default().to_string();
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| BlobError::Failed(format!("S3: reading {name}: {e}")))?;
        Ok(Some(Blob {
            body: body.into_bytes().to_vec(),
            version,
        }))
    }

    async fn put(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
    ) -> Result<String, BlobError> {
        let mut put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(name))
            .body(body.into());
        put = match &self.kms_key {
            Some(k) => put
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(k),
            None => put.server_side_encryption(ServerSideEncryption::Aes256),
        };
        put = match condition {
            Condition::Absent => put.if_none_match("*"),
            Condition::Matches(etag) => put.if_match(etag),
            Condition::Always => put,
        };
        match put.send().await {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let code = e
                    .as_service_error()
                    .and_then(|s| s.code().map(str::to_string));
                // 412: the condition failed. 409: another conditional write of this key
                // was in progress; 404 to If-Match: the object is gone. All mean another
                // writer changed it.
                if matches!(status, Some(412 | 409))
                    || matches!(
                        code.as_deref(),
                        Some("PreconditionFailed" | "ConditionalRequestConflict" | "NoSuchKey")
                    )
                {
                    Err(BlobError::Conflict)
                } else {
                    Err(failed(e))
                }
            }
        }
    }

    async fn delete(&self, name: &str) -> Result<(), BlobError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.key(name))
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// DeleteObjects, a thousand keys a request (S3's limit), quietly: only failures are
    /// answered, and any one of them fails the call.
    async fn delete_many(&self, names: &[String]) -> Result<(), BlobError> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        for chunk in names.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|name| ObjectIdentifier::builder().key(self.key(name)).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| BlobError::Failed(format!("S3: {e}")))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| BlobError::Failed(format!("S3: {e}")))?;
            let out = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(failed)?;
            if let Some(e) = out.errors().first() {
                return Err(BlobError::Failed(format!(
                    "S3 DeleteObjects: {} {}: {}",
                    e.key().unwrap_or_default(),
                    e.code().unwrap_or_default(),
                    e.message().unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let root = format!("{}/", self.prefix);
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{root}{prefix}"))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(failed)?;
            for o in page.contents() {
                if let Some(name) = o.key().and_then(|k| k.strip_prefix(&root)) {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }
}
