//! The store's requests to its backend: each one bounded by the request timeout, with its
//! failure said in the store's words (the object and what was being done), and conditional
//! writes whose answer was lost told apart from writes another writer beat.

use super::layout::{self, SlotRead};
use super::{Blob, BlobError, Condition, Inner};
use crate::state::StateError;

impl Inner {
    pub(super) fn location(&self) -> String {
        self.blobs.describe()
    }

    /// Run `work` on the store's thread and wait for it.
    pub(super) fn block<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T, StateError>> + Send + 'static,
    ) -> Result<T, StateError> {
        self.finish(self.begin(work))
    }

    /// Start `work` on the store's thread, to wait for later with [`Inner::finish`].
    pub(super) fn begin<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T, StateError>> + Send + 'static,
    ) -> Option<super::runner::Running<Result<T, StateError>>> {
        self.runner.begin(work)
    }

    /// Wait for work started with [`Inner::begin`].
    pub(super) fn finish<T>(
        &self,
        running: Option<super::runner::Running<Result<T, StateError>>>,
    ) -> Result<T, StateError> {
        running.and_then(|r| r.wait()).unwrap_or_else(|| {
            Err(StateError::Backend {
                location: self.location(),
                message: "a request to the state store ended without an answer (its client panicked, or the store's thread is gone)".into(),
            })
        })
    }

    fn failed(&self, doing: &str, e: BlobError) -> StateError {
        StateError::Backend {
            location: self.location(),
            message: format!("{doing}: {e}"),
        }
    }

    pub(super) fn corrupt(&self, reason: String) -> StateError {
        StateError::Corrupt {
            location: self.location(),
            reason,
        }
    }

    /// One backend call, bounded by the request timeout.
    async fn call<T>(
        &self,
        doing: &str,
        call: impl std::future::Future<Output = Result<T, BlobError>>,
    ) -> Result<Result<T, BlobError>, StateError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Err(BlobError::Conflict)) => Ok(Err(BlobError::Conflict)),
            Ok(Err(e)) => Err(self.failed(doing, e)),
            Ok(Ok(v)) => Ok(Ok(v)),
            Err(_) => Err(self.failed(
                doing,
                BlobError::Failed(format!(
                    "no answer within {}s (the endpoint may be down or frozen)",
                    self.timeout.as_secs_f64()
                )),
            )),
        }
    }

    pub(super) async fn get(&self, name: &str) -> Result<Option<Blob>, StateError> {
        let doing = format!("reading {name}");
        self.call(&doing, self.blobs.get(name))
            .await?
            .map_err(|e| self.failed(&doing, e))
    }

    /// A conditional write: `Ok(None)` when its condition did not hold. A write whose
    /// answer was lost lands anyway, and the SDK's retry of it then fails its condition:
    /// when the object holds exactly what was written, the write is taken as done.
    pub(super) async fn put(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
    ) -> Result<Option<String>, StateError> {
        let doing = format!("writing {name}");
        match self
            .call(&doing, self.blobs.put(name, body.clone(), condition))
            .await?
        {
            Ok(v) => Ok(Some(v)),
            Err(_) => self.put_landed(name, &body).await,
        }
    }

    /// After a conditional write failed: its version when the object holds exactly `body`
    /// (the write landed, its answer was lost and the retry failed the condition).
    pub(super) async fn put_landed(
        &self,
        name: &str,
        body: &[u8],
    ) -> Result<Option<String>, StateError> {
        Ok(self
            .get(name)
            .await?
            .filter(|now| now.body == body)
            .map(|now| now.version))
    }

    /// A write checked against the lock in the same step, where the backend can:
    /// `Some(Some(version))` written, `Some(None)` not written (see why with a read),
    /// `None` when the backend cannot check the lock with a write.
    pub(super) async fn put_fenced(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
        holder: &str,
    ) -> Result<Option<Option<String>>, StateError> {
        let doing = format!("writing {name}");
        let Some(call) = self
            .call(&doing, async {
                Ok::<_, BlobError>(self.blobs.put_fenced(name, body, condition, holder).await)
            })
            .await?
            .ok()
        else {
            return Ok(None);
        };
        match call {
            None => Ok(None),
            Some(Ok(written)) => Ok(Some(written)),
            Some(Err(e)) => Err(self.failed(&doing, e)),
        }
    }

    pub(super) async fn delete(&self, name: &str) -> Result<(), StateError> {
        let doing = format!("removing {name}");
        self.call(&doing, self.blobs.delete(name))
            .await?
            .map_err(|e| self.failed(&doing, e))
    }

    pub(super) async fn delete_many(&self, names: &[String]) -> Result<(), StateError> {
        if names.is_empty() {
            return Ok(());
        }
        let doing = format!("removing {} objects ({}, ...)", names.len(), names[0]);
        self.call(&doing, self.blobs.delete_many(names))
            .await?
            .map_err(|e| self.failed(&doing, e))
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let doing = format!("listing {prefix}");
        self.call(&doing, self.blobs.list(prefix))
            .await?
            .map_err(|e| self.failed(&doing, e))
    }

    /// The lock object and its version; `None` when no lock was ever taken.
    pub(super) async fn slot(&self) -> Result<Option<(SlotRead, String)>, StateError> {
        Ok(self
            .get(layout::LOCK)
            .await?
            .map(|b| (layout::decode_slot(&b.body), b.version)))
    }
}
