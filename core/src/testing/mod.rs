//! An in-memory provider for engine tests and benchmarks (feature `test-support`).
//!
//! It behaves like a small cloud: objects with ids, idempotency tokens, out-of-band edits,
//! configurable latency, injected failures, a rate limit, and a "hang" switch that freezes
//! one call (before or after its effect) so a test can kill the run there, like a crash. It
//! never stands in for a real cloud in provider or stack tests.
//!
//! Lowering is one concrete resource per portable resource (`mem_<kind>.<name>`); security
//! group rules stay inline, so two groups that admit each other form a cycle here.

mod cloud;
mod lowering;

use crate::invalid::Invalid;
use crate::model::{Certificate, LbCapability, Resource};
use crate::provider::*;
use crate::value::{join_text, Attrs, Text, Value};
use async_trait::async_trait;
pub use cloud::MemObject;
use cloud::{materialize, with_computed, Cloud};
use lowering::{lower_entries, schema};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which calls an injected failure hits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallKind {
    /// `Provider::read`: the error is that item's outcome; the rest of the batch is read.
    Read,
    /// `Provider::create`.
    Create,
    /// `Provider::update`.
    Update,
    /// `Provider::delete`.
    Delete,
    /// `Provider::import`.
    Import,
    /// `Provider::inventory`: failed by the stack's name in place of an address.
    Inventory,
}

#[derive(Debug, Default)]
struct Faults {
    /// (address, call) -> error to return.
    fail: HashMap<(Text, CallKind), ProviderError>,
    /// Mutating call number (1-based) that never returns, and whether its effect happens.
    hang_at: Option<(usize, bool)>,
    /// Create number (1-based, counted like `hang_at`) that never returns and whose effect
    /// lands this long after the call started, whatever happens to the caller: a request
    /// still in flight when its client died.
    land_late: Option<(usize, Duration)>,
}

/// The type existing certificates are read as (never created).
const CERTIFICATE: &str = "mem_certificate";

/// The in-memory provider. Cheap to clone; clones share the same cloud.
#[derive(Clone, Debug)]
pub struct MemoryProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    schema: ProviderSchema,
    objects: Mutex<Cloud>,
    next_id: AtomicU64,
    latency: Mutex<Duration>,
    faults: Mutex<Faults>,
    mutating_calls: AtomicUsize,
    read_requests: AtomicUsize,
    /// Calls per second allowed; excess calls wait (and are counted as throttled).
    rate: Mutex<Option<RateLimit>>,
    /// Reads of unknown ids answer with the prior attributes (see `echo_reads`).
    echo: std::sync::atomic::AtomicBool,
    /// Objects keep no attributes (see `keep_ids_only`).
    ids_only: std::sync::atomic::AtomicBool,
    /// Certificates a stack names that this cloud does not hold (see `lacks_certificate`).
    lacking: Mutex<std::collections::BTreeSet<String>>,
    throttled: AtomicUsize,
    hung: tokio::sync::Notify,
    /// How long a created object takes to become ready (waited out parked, see `settle`).
    settle: Mutex<Duration>,
    /// Mutating calls doing work right now (not parked in a waiter), and the most seen.
    busy: AtomicUsize,
    busy_peak: AtomicUsize,
}

#[derive(Debug)]
struct RateLimit {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Default for MemoryProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryProvider {
    /// An empty cloud: no latency, faults or rate limit, no region, every load balancer
    /// capability.
    pub fn new() -> Self {
        MemoryProvider {
            inner: Arc::new(Inner {
                schema: schema(),
                objects: Mutex::new(Cloud::default()),
                next_id: AtomicU64::new(1),
                latency: Mutex::new(Duration::ZERO),
                faults: Mutex::new(Faults::default()),
                mutating_calls: AtomicUsize::new(0),
                read_requests: AtomicUsize::new(0),
                rate: Mutex::new(None),
                echo: std::sync::atomic::AtomicBool::new(false),
                ids_only: std::sync::atomic::AtomicBool::new(false),
                lacking: Mutex::default(),
                throttled: AtomicUsize::new(0),
                hung: tokio::sync::Notify::new(),
                settle: Mutex::new(Duration::ZERO),
                busy: AtomicUsize::new(0),
                busy_peak: AtomicUsize::new(0),
            }),
        }
    }

    /// Delay added to every call.
    pub fn latency(self, d: Duration) -> Self {
        *self.inner.latency.lock().unwrap() = d;
        self
    }

    /// Created objects take `d` to become ready; creates wait for that the way real waiters
    /// do, parked (their engine slot is free meanwhile).
    pub fn settle(self, d: Duration) -> Self {
        *self.inner.settle.lock().unwrap() = d;
        self
    }

    /// The most mutating calls that were busy at once (parked waits excluded).
    pub fn busy_peak(&self) -> usize {
        self.inner.busy_peak.load(Ordering::SeqCst)
    }

    /// At most `per_sec` calls per second after a burst of `burst`; callers beyond it wait.
    pub fn rate_limit(self, per_sec: f64, burst: f64) -> Self {
        *self.inner.rate.lock().unwrap() = Some(RateLimit {
            per_sec,
            burst: burst.max(1.0),
            tokens: burst.max(1.0),
            last: Instant::now(),
        });
        self
    }

    /// Make `call` on `address` fail with `error`.
    pub fn fail(&self, address: &str, call: CallKind, error: ProviderError) {
        self.inner
            .faults
            .lock()
            .unwrap()
            .fail
            .insert((address.into(), call), error);
    }

    /// Forget every failure set with [`MemoryProvider::fail`].
    pub fn clear_failures(&self) {
        self.inner.faults.lock().unwrap().fail.clear();
    }

    /// The `n`-th create/update/delete from now on (1-based) never returns; with
    /// `after_effect` the cloud changes first. [`MemoryProvider::wait_hung`] resolves once it hangs.
    pub fn hang_at(&self, n: usize, after_effect: bool) {
        self.inner.mutating_calls.store(0, Ordering::SeqCst);
        self.inner.faults.lock().unwrap().hang_at = Some((n, after_effect));
    }

    /// The `n`-th mutating call from now on (1-based; it must be a create) never returns,
    /// and its object appears `after` it started, even if the whole run is gone by then:
    /// the request an interrupted run left in flight. [`MemoryProvider::wait_hung`]
    /// resolves when the call starts hanging (before the object exists).
    pub fn land_late(&self, n: usize, after: Duration) {
        self.inner.mutating_calls.store(0, Ordering::SeqCst);
        self.inner.faults.lock().unwrap().land_late = Some((n, after));
    }

    /// Declare how long a call may outlive its caller (see
    /// [`ProviderSchema::in_flight_window`]); zero by default. Set before cloning.
    pub fn in_flight_window(mut self, d: Duration) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("configure the memory provider before cloning it")
            .schema
            .in_flight_window = d;
        self
    }

    /// Configure the provider for `region` (none by default), so stacks pinned elsewhere
    /// are refused. Set before cloning.
    pub fn region(mut self, region: &str) -> Self {
        let schema = &mut Arc::get_mut(&mut self.inner)
            .expect("configure the memory provider before cloning it")
            .schema;
        schema.region = Some(region.to_string());
        schema.region_setting = "MemoryProvider::region".into();
        self
    }

    /// Give the load balancer only `capabilities` (all by default), to play a cloud whose
    /// product lacks some. Set before cloning.
    pub fn lb_capabilities(mut self, capabilities: &[LbCapability]) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("configure the memory provider before cloning it")
            .schema
            .lb_capabilities = capabilities.iter().copied().collect();
        self
    }

    /// Resolves once a call chosen by [`MemoryProvider::hang_at`] or
    /// [`MemoryProvider::land_late`] hangs.
    pub async fn wait_hung(&self) {
        self.inner.hung.notified().await;
    }

    /// A copy of every object in the cloud, by id.
    pub fn objects(&self) -> BTreeMap<Text, MemObject> {
        self.inner.objects.lock().unwrap().by_id.clone()
    }

    /// Answer reads of ids this process never created with the attributes core sent (the
    /// prior state), like Terraform's `terraform_data`, whose read returns its prior state.
    /// For benchmarks that refresh, in a fresh process, what an earlier process applied.
    pub fn echo_reads(self) -> Self {
        self.inner.echo.store(true, Ordering::SeqCst);
        self
    }

    /// Keep only what makes each object findable (its id, type, address and idempotency
    /// token), not its attributes: reads of it answer with the prior attributes, as
    /// [`MemoryProvider::echo_reads`] does, and creates and updates with the attributes sent
    /// and the computed ones. Like Terraform's `terraform_data`, whose objects live only in
    /// state: for benchmarks whose memory is to be the engine's, not a simulated cloud's
    /// (at 100,000 objects the attributes held here were a quarter of an apply's memory).
    /// Implies `echo_reads`.
    pub fn keep_ids_only(self) -> Self {
        self.inner.ids_only.store(true, Ordering::SeqCst);
        self.echo_reads()
    }

    fn ids_only(&self) -> bool {
        self.inner.ids_only.load(Ordering::Relaxed)
    }

    /// The memory cloud holds every existing certificate a stack names
    /// (`Certificate::existing`), except the ones named here.
    pub fn lacks_certificate(&self, reference: &str) {
        self.inner
            .lacking
            .lock()
            .unwrap()
            .insert(reference.to_string());
    }

    /// Put objects into the cloud directly (a benchmark rebuilding, in a new process, the
    /// cloud an earlier process created): `(id, type, address, attrs)`.
    pub fn seed(&self, objects: impl IntoIterator<Item = (Text, Text, Text, Attrs)>) {
        let mut cloud = self.inner.objects.lock().unwrap();
        for (id, type_name, address, attrs) in objects {
            cloud.insert(
                id,
                MemObject {
                    stack: Text::default(),
                    type_name,
                    address,
                    token: Text::default(),
                    attrs,
                },
            );
        }
    }

    /// Change an object out of band (drift).
    pub fn edit(&self, id: &str, attr: &str, value: Value) {
        if let Some(o) = self.inner.objects.lock().unwrap().by_id.get_mut(id) {
            o.attrs.insert(attr.into(), value);
        }
    }

    /// Delete an object out of band.
    pub fn remove(&self, id: &str) -> Option<MemObject> {
        self.inner.objects.lock().unwrap().remove(id)
    }

    /// Read requests received so far (one per batch), to check that refresh batches.
    pub fn read_requests(&self) -> usize {
        self.inner.read_requests.load(Ordering::SeqCst)
    }

    /// Creates, updates and deletes counted since the provider was made, or since the last
    /// [`MemoryProvider::hang_at`] or [`MemoryProvider::land_late`].
    pub fn mutating_calls(&self) -> usize {
        self.inner.mutating_calls.load(Ordering::SeqCst)
    }

    /// How many times a call had to wait for the rate limit (see
    /// [`MemoryProvider::rate_limit`]).
    pub fn throttled(&self) -> usize {
        self.inner.throttled.load(Ordering::SeqCst)
    }

    async fn enter(&self, address: &str, call: CallKind) -> Result<(), ProviderError> {
        self.wait_for_rate().await;
        let latency = *self.inner.latency.lock().unwrap();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if let Some(e) = self
            .inner
            .faults
            .lock()
            .unwrap()
            .fail
            .get(&(Text::new(address), call))
        {
            return Err(e.clone());
        }
        Ok(())
    }

    async fn wait_for_rate(&self) {
        loop {
            let wait = {
                let mut guard = self.inner.rate.lock().unwrap();
                let Some(r) = guard.as_mut() else { return };
                let now = Instant::now();
                r.tokens =
                    (r.tokens + now.duration_since(r.last).as_secs_f64() * r.per_sec).min(r.burst);
                r.last = now;
                if r.tokens >= 1.0 {
                    r.tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - r.tokens) / r.per_sec)
            };
            self.inner.throttled.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(wait).await;
        }
    }

    /// Number this mutating call (1-based).
    fn count_call(&self) -> usize {
        self.inner.mutating_calls.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Hang call `n` forever if it is the chosen one at this point (before/after its effect).
    async fn hang_if(&self, n: usize, after_effect: bool) {
        let hang = self.inner.faults.lock().unwrap().hang_at;
        if hang == Some((n, after_effect)) {
            self.inner.hung.notify_one();
            std::future::pending::<()>().await;
        }
    }
}

#[async_trait]
impl Provider for MemoryProvider {
    fn name(&self) -> &str {
        "memory"
    }

    fn schema(&self) -> &ProviderSchema {
        &self.inner.schema
    }

    fn lower(&self, req: LowerRequest<'_>) -> Result<LowerResponse, Vec<Invalid>> {
        let mut resp = LowerResponse::default();
        resp.resources.reserve_exact(req.stack.resources().len());
        // Only the exports the stack's outputs name (all the engine keeps).
        let named: std::collections::HashSet<(&str, &str)> = req
            .stack
            .outputs()
            .iter()
            .map(|o| (o.value.resource.as_str(), o.value.attr.as_str()))
            .collect();
        // Collected, then made into a map once (its names are looked up once); of two
        // same-named entries the later one stays, as inserts in this order would leave.
        // One buffer for all, its room kept from map to map.
        let mut entries = Vec::with_capacity(16);
        for d in req.stack.resources() {
            let type_name = lowering::type_name(d.kind());
            let address = join_text(&[type_name.as_str(), ".", d.name.as_str()]);
            lower_entries(&d.resource, &mut entries);
            // In its place among the kind's own (in name order, mostly): no sort then.
            let at = entries.partition_point(|(k, _): &(Text, Value)| k.as_str() < "name");
            entries.insert(at, ("name".into(), Value::str(&d.name)));
            if let Some(o) = d.resource.common().overrides_for("memory") {
                entries.extend(o.clone());
            }
            let tags: Attrs = d
                .resource
                .common()
                .tags
                .iter()
                .map(|(k, v)| (k.into(), Value::str(v)))
                .collect();
            if !tags.is_empty() {
                entries.push(("tags".into(), Value::Map(tags)));
            }
            let attrs = Attrs::take_from(&mut entries);
            for e in d.resource.exports() {
                if !named.contains(&(d.name.as_str(), *e)) {
                    continue;
                }
                resp.exports.push(Export {
                    resource: d.name.as_str().into(),
                    attr: (*e).into(),
                    value: Value::reference(&address, *e),
                });
            }
            if let Resource::LoadBalancer(l) = &d.resource {
                if let Some(Certificate::Existing(c)) = l.https.as_ref().map(|h| &h.certificate) {
                    resp.existing.push(ExistingRef {
                        resource: d.address(),
                        field: "https.certificate".into(),
                        type_name: CERTIFICATE.into(),
                        id: c.as_str().into(),
                        what: "certificate".into(),
                    });
                }
            }
            resp.resources.push(Concrete {
                address,
                type_name,
                origin: d.name.as_str().into(),
                attrs,
                depends_on: vec![],
            });
        }
        Ok(resp)
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        self.inner.read_requests.fetch_add(1, Ordering::SeqCst);
        self.wait_for_rate().await;
        let latency = *self.inner.latency.lock().unwrap();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if req.type_name == CERTIFICATE {
            let lacking = self.inner.lacking.lock().unwrap();
            let results = req.items.into_iter().map(|item| {
                let id = item.id.unwrap_or_default();
                let outcome = if lacking.contains(id.as_str()) {
                    ReadOutcome::Gone
                } else {
                    ReadOutcome::Found {
                        id,
                        attrs: Attrs::default(),
                    }
                };
                (item.address, outcome)
            });
            return Ok(ReadResponse {
                results: results.collect(),
            });
        }
        let ids_only = self.ids_only();
        let objects = self.inner.objects.lock().unwrap();
        let faults = self.inner.faults.lock().unwrap();
        // Items usually arrive sorted by address: collect, then bulk-build the map.
        let mut results = Vec::with_capacity(req.items.len());
        for item in req.items {
            if let Some(e) = faults.fail.get(&(item.address.clone(), CallKind::Read)) {
                results.push((item.address, ReadOutcome::Failed(e.clone())));
                continue;
            }
            let found = match (&item.id, &item.token) {
                (Some(id), _) => objects.by_id.get(id.as_str()).map(|o| (id.clone(), o)),
                (None, Some(tok)) => objects.by_token(tok).map(|(id, o)| (id.clone(), o)),
                (None, None) => None,
            };
            let outcome = match found {
                Some((id, o)) if ids_only && o.type_name == req.type_name => ReadOutcome::Found {
                    id,
                    attrs: item.prior,
                },
                Some((id, o)) if o.type_name == req.type_name => ReadOutcome::Found {
                    id,
                    attrs: o.attrs.clone(),
                },
                None if self.inner.echo.load(Ordering::Relaxed) && item.id.is_some() => {
                    ReadOutcome::Found {
                        id: item.id.clone().unwrap_or_default(),
                        attrs: item.prior,
                    }
                }
                _ => ReadOutcome::Gone,
            };
            results.push((item.address, outcome));
        }
        Ok(ReadResponse {
            results: results.into_iter().collect(),
        })
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let busy = Busy::enter(&self.inner);
        self.enter(&req.address, CallKind::Create).await?;
        let n = self.count_call();
        let late = self.inner.faults.lock().unwrap().land_late;
        if let Some((_, after)) = late.filter(|(k, _)| *k == n) {
            let inner = self.inner.clone();
            let req = req.clone();
            std::thread::spawn(move || {
                std::thread::sleep(after);
                materialize(&inner, &req);
            });
            self.inner.hung.notify_one();
            std::future::pending::<()>().await;
        }
        self.hang_if(n, false).await;
        let id = materialize(&self.inner, &req);
        self.hang_if(n, true).await;
        drop(busy);
        let settle = *self.inner.settle.lock().unwrap();
        if !settle.is_zero() {
            let _parked = req.progress.waiting();
            tokio::time::sleep(settle).await;
        }
        let attrs = if self.ids_only() {
            with_computed(&req.attrs, &req.type_name, &id)
        } else {
            self.inner.objects.lock().unwrap().by_id[&id].attrs.clone()
        };
        Ok(CreateResponse { id, attrs })
    }

    async fn update(&self, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        self.enter(&req.address, CallKind::Update).await?;
        let n = self.count_call();
        self.hang_if(n, false).await;
        let attrs =
            {
                let mut objects = self.inner.objects.lock().unwrap();
                let o = objects.by_id.get_mut(req.id.as_str()).ok_or_else(|| {
                    ProviderError::NotFound {
                        address: req.address.to_string(),
                    }
                })?;
                let attrs = with_computed(&req.attrs, &req.type_name, &req.id);
                if !self.ids_only() {
                    o.attrs = attrs.clone();
                }
                attrs
            };
        self.hang_if(n, true).await;
        Ok(UpdateResponse { attrs })
    }

    async fn delete(&self, req: DeleteRequest) -> Result<DeleteResponse, ProviderError> {
        self.enter(&req.address, CallKind::Delete).await?;
        let n = self.count_call();
        self.hang_if(n, false).await;
        let existed = self
            .inner
            .objects
            .lock()
            .unwrap()
            .remove(req.id.as_str())
            .is_some();
        self.hang_if(n, true).await;
        if existed {
            Ok(DeleteResponse {})
        } else {
            Err(ProviderError::NotFound {
                address: req.address.to_string(),
            })
        }
    }

    async fn import(&self, req: ImportRequest) -> Result<ImportResponse, ProviderError> {
        self.enter(&req.address, CallKind::Import).await?;
        let objects = self.inner.objects.lock().unwrap();
        match objects.by_id.get(req.id.as_str()) {
            Some(o) if o.type_name == req.type_name => Ok(ImportResponse {
                attrs: o.attrs.clone(),
            }),
            Some(o) => Err(ProviderError::Api {
                address: req.address.to_string(),
                code: "WrongType".into(),
                message: format!("{} is a {}, not a {}", req.id, o.type_name, req.type_name),
            }),
            None => Err(ProviderError::NotFound {
                address: req.address.to_string(),
            }),
        }
    }

    async fn inventory(&self, req: InventoryRequest) -> Result<InventoryResponse, ProviderError> {
        self.enter(&req.stack, CallKind::Inventory).await?;
        self.inner.read_requests.fetch_add(1, Ordering::SeqCst);
        let objects = self.inner.objects.lock().unwrap();
        Ok(InventoryResponse {
            objects: objects
                .by_id
                .iter()
                .filter(|(_, o)| o.stack == req.stack.as_str())
                .map(|(id, o)| OwnedObject {
                    type_name: o.type_name.clone(),
                    id: id.clone(),
                    address: o.address.clone(),
                    token: (!o.token.is_empty()).then(|| o.token.clone()),
                    kept: None,
                })
                .collect(),
        })
    }
}

/// Counts a mutating call as busy while it lives.
struct Busy<'a>(&'a Inner);

impl<'a> Busy<'a> {
    fn enter(inner: &'a Inner) -> Self {
        let now = inner.busy.fetch_add(1, Ordering::SeqCst) + 1;
        inner.busy_peak.fetch_max(now, Ordering::SeqCst);
        Busy(inner)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}
