//! One way to name where state lives, for every backend: `--state URL`.
//!
//! | URL                                   | Store                                   |
//! |---------------------------------------|-----------------------------------------|
//! | a path (`.cairn/web.aws.json`)        | [`LocalStore`], the default             |
//! | `postgres://user@host/db?schema=&key=`| PostgreSQL (feature `postgres`)         |
//! | `s3://bucket/key`                     | S3 (cairn-aws, `cairn_aws::state::S3`)  |
//! | `gs://bucket/key`                     | GCS (cairn-gcp)                         |
//! | `azblob://account/container/blob`     | Azure Blob (cairn-azure)                |
//!
//! The cloud object stores need their SDKs, which cairn-core never links: their crates
//! hand [`open`] a [`BackendOpener`] each. A key the URL leaves out is the stack's own
//! (`<stack>.<provider>`), so one URL serves every stack of a team.

use super::remote::{Blobs, RemoteStore};
use super::{LocalStore, StateError, StateStore};
use std::sync::Arc;
use std::time::Duration;

/// Opens the backend of the URL schemes a cloud crate provides.
#[async_trait::async_trait]
pub trait BackendOpener: Send + Sync {
    /// The schemes it opens, without `://` (`s3`).
    fn scheme(&self) -> &'static str;
    /// The backend at `url`, under `default_key` when the URL names no key. Configured
    /// from the environment the way the cloud's own tools are.
    async fn open(&self, url: &str, default_key: &str) -> Result<Arc<dyn Blobs>, String>;
}

/// The scheme of a state URL, or `None` for a local path.
pub fn scheme(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once("://")?;
    (!scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'+'))
    .then_some(scheme)
}

/// `url` with any password replaced by `***`, for messages.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let shown = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{scheme}://{shown}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// The store `url` names, with locks leased for `lease`: a local path, `postgres://`, or a
/// scheme one of `openers` opens. `default_key` names the stack's state when the URL
/// does not (`<stack>.<provider>`).
pub async fn open(
    url: &str,
    default_key: &str,
    lease: Duration,
    openers: &[&dyn BackendOpener],
) -> Result<Arc<dyn StateStore>, StateError> {
    let refused = |message: String| StateError::Backend {
        location: redacted(url),
        message,
    };
    let Some(scheme) = scheme(url) else {
        return Ok(Arc::new(LocalStore::new(url).with_lease(lease)));
    };
    let blobs: Arc<dyn Blobs> = match scheme {
        "file" => {
            let path = url.trim_start_matches("file://");
            return Ok(Arc::new(LocalStore::new(path).with_lease(lease)));
        }
        "postgres" | "postgresql" => postgres(url, default_key).map_err(refused)?,
        other => {
            let opener = openers
                .iter()
                .find(|o| o.scheme() == other)
                .ok_or_else(|| {
                    let known: Vec<_> = ["postgres"]
                        .into_iter()
                        .chain(openers.iter().map(|o| o.scheme()))
                        .collect();
                    refused(format!(
                        "no state backend for {other}:// here (this program has a path, {})",
                        known
                            .iter()
                            .map(|s| format!("{s}://"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
            opener.open(url, default_key).await.map_err(refused)?
        }
    };
    Ok(Arc::new(RemoteStore::from_arc(blobs)?.with_lease(lease)))
}

#[cfg(feature = "postgres")]
fn postgres(url: &str, default_key: &str) -> Result<Arc<dyn Blobs>, String> {
    Ok(Arc::new(super::remote::PostgresBlobs::from_url(
        url,
        default_key,
    )?))
}

#[cfg(not(feature = "postgres"))]
fn postgres(_url: &str, _default_key: &str) -> Result<Arc<dyn Blobs>, String> {
    Err("this program was built without PostgreSQL state (cairn-core feature `postgres`)".into())
}
