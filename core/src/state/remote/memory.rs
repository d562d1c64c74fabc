//! [`MemoryBlobs`]: the backend contract kept in this process's memory.
//!
//! It proves the remote store on its own (the conformance suite runs on it with every core
//! test), and lets a test stage what a real service does to a client: a frozen endpoint,
//! failing requests, a write that lands but whose answer is lost.

use super::{Blob, BlobError, Blobs, Condition};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Each object's bytes and version, by name.
type Objects = BTreeMap<String, (Vec<u8>, u64)>;

/// Objects in memory, with versions and conditional writes as a real backend has them.
/// Clones share the objects (two stores on one backend, like two machines).
#[derive(Clone, Debug, Default)]
pub struct MemoryBlobs {
    objects: Arc<Mutex<Objects>>,
    next_version: Arc<AtomicU64>,
    frozen: Arc<AtomicBool>,
    failing: Arc<AtomicUsize>,
    sparing: Arc<AtomicUsize>,
    losing: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
    fenced_writes: bool,
}

impl MemoryBlobs {
    /// No objects.
    pub fn new() -> Self {
        Self::default()
    }

    /// Like a database: writes checked against the lock in the same step
    /// ([`Blobs::put_fenced`]), as the PostgreSQL backend does. Without, like an object
    /// store, the store reads the lock back after each write.
    pub fn with_fenced_writes(mut self) -> Self {
        self.fenced_writes = true;
        self
    }

    /// While `frozen`, every request waits forever (an endpoint that accepts and never
    /// answers).
    pub fn freeze(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::SeqCst);
    }

    /// The next `n` requests fail with a backend error.
    pub fn fail_next(&self, n: usize) {
        self.fail_after(0, n);
    }

    /// After `spared` more requests are answered, the next `n` fail with a backend error
    /// (to fail one step of a longer operation).
    pub fn fail_after(&self, spared: usize, n: usize) {
        self.sparing.store(spared, Ordering::SeqCst);
        self.failing.store(n, Ordering::SeqCst);
    }

    /// The next `n` writes are made, but answer with a backend error (an answer lost on
    /// the way back).
    pub fn lose_next_answers(&self, n: usize) {
        self.losing.store(n, Ordering::SeqCst);
    }

    /// Requests answered so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The names stored now, sorted.
    pub fn names(&self) -> Vec<String> {
        self.objects.lock().unwrap().keys().cloned().collect()
    }

    /// Replace an object's bytes behind the store's back (a hand edit, damage).
    pub fn overwrite(&self, name: &str, body: &[u8]) {
        let version = self.next_version.fetch_add(1, Ordering::SeqCst) + 1;
        self.objects
            .lock()
            .unwrap()
            .insert(name.to_string(), (body.to_vec(), version));
    }

    /// An object's bytes, read behind the store's back.
    pub fn peek(&self, name: &str) -> Option<Vec<u8>> {
        self.objects.lock().unwrap().get(name).map(|o| o.0.clone())
    }

    async fn gate(&self) -> Result<(), BlobError> {
        while self.frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        let spared = self
            .sparing
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if spared.is_ok() {
            return Ok(());
        }
        let failing = self
            .failing
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        match failing {
            Ok(_) => Err(BlobError::Failed("injected failure".into())),
            Err(_) => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl Blobs for MemoryBlobs {
    fn describe(&self) -> String {
        "memory store".into()
    }

    async fn get(&self, name: &str) -> Result<Option<Blob>, BlobError> {
        self.gate().await?;
        Ok(self
            .objects
            .lock()
            .unwrap()
            .get(name)
            .map(|(body, version)| Blob {
                body: body.clone(),
                version: version.to_string(),
            }))
    }

    async fn put(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
    ) -> Result<String, BlobError> {
        self.gate().await?;
        let mut objects = self.objects.lock().unwrap();
        let written = self.write(&mut objects, name, body, condition);
        let lost = self
            .losing
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        match (written, lost) {
            (Ok(_), Ok(_)) => Err(BlobError::Failed("answer lost".into())),
            (written, _) => written,
        }
    }

    async fn put_fenced(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
        holder: &str,
    ) -> Option<Result<Option<String>, BlobError>> {
        if !self.fenced_writes {
            return None;
        }
        if let Err(e) = self.gate().await {
            return Some(Err(e));
        }
        let mut objects = self.objects.lock().unwrap();
        let held = objects
            .get("lock")
            .and_then(|(b, _)| serde_json::from_slice::<serde_json::Value>(b).ok())
            .is_some_and(|l| l["holder"]["id"] == holder);
        if !held {
            return Some(Ok(None));
        }
        Some(match self.write(&mut objects, name, body, condition) {
            Ok(v) => Ok(Some(v)),
            Err(BlobError::Conflict) => Ok(None),
            Err(e) => Err(e),
        })
    }

    fn fences_writes(&self) -> bool {
        self.fenced_writes
    }

    async fn delete(&self, name: &str) -> Result<(), BlobError> {
        self.gate().await?;
        self.objects.lock().unwrap().remove(name);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        self.gate().await?;
        Ok(self
            .objects
            .lock()
            .unwrap()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect())
    }
}

impl MemoryBlobs {
    fn write(
        &self,
        objects: &mut Objects,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
    ) -> Result<String, BlobError> {
        let current = objects.get(name).map(|o| o.1.to_string());
        let holds = match (&condition, &current) {
            (Condition::Always, _) => true,
            (Condition::Absent, None) => true,
            (Condition::Matches(v), Some(c)) => v == c,
            _ => false,
        };
        if !holds {
            return Err(BlobError::Conflict);
        }
        let version = self.next_version.fetch_add(1, Ordering::SeqCst) + 1;
        objects.insert(name.to_string(), (body, version));
        Ok(version.to_string())
    }
}
