//! An in-memory provider for engine tests and benchmarks (feature `test-support`).
//!
//! It behaves like a small cloud: objects with ids, idempotency tokens, out-of-band edits,
//! configurable latency, injected failures, a rate limit, and a "hang" switch that freezes
//! one call (before or after its effect) so a test can kill the run there, like a crash. It
//! never stands in for a real cloud in provider or stack tests.
//!
//! Lowering is one concrete resource per portable resource (`mem_<kind>.<name>`); security
//! group rules stay inline, so two groups that admit each other form a cycle here.

use crate::model::*;
use crate::provider::*;
use crate::validate::Invalid;
use crate::value::{Attrs, Text, Value};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One object in the memory cloud.
#[derive(Clone, Debug, PartialEq)]
pub struct MemObject {
    pub type_name: Text,
    pub address: Text,
    pub token: Text,
    pub attrs: Attrs,
}

/// The objects of the memory cloud, with an index by idempotency token (a create checks
/// it every time; a scan would make large applies quadratic).
#[derive(Debug, Default)]
struct Cloud {
    by_id: BTreeMap<Text, MemObject>,
    by_token: HashMap<Text, Text>,
}

impl Cloud {
    fn insert(&mut self, id: Text, o: MemObject) {
        if !o.token.is_empty() {
            self.by_token.insert(o.token.clone(), id.clone());
        }
        self.by_id.insert(id, o);
    }
    fn remove(&mut self, id: &str) -> Option<MemObject> {
        let o = self.by_id.remove(id)?;
        self.by_token.remove(&o.token);
        Some(o)
    }
    fn by_token(&self, token: &str) -> Option<(&Text, &MemObject)> {
        let id = self.by_token.get(token)?;
        self.by_id.get_key_value(id)
    }
}

/// Which calls an injected failure hits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallKind {
    Read,
    Create,
    Update,
    Delete,
    Import,
}

#[derive(Debug, Default)]
struct Faults {
    /// (address, call) -> error to return.
    fail: HashMap<(Text, CallKind), ProviderError>,
    /// Mutating call number (1-based) that never returns, and whether its effect happens.
    hang_at: Option<(usize, bool)>,
}

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
    throttled: AtomicUsize,
    hung: tokio::sync::Notify,
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
                throttled: AtomicUsize::new(0),
                hung: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Delay added to every call.
    pub fn latency(self, d: Duration) -> Self {
        *self.inner.latency.lock().unwrap() = d;
        self
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

    pub fn clear_failures(&self) {
        self.inner.faults.lock().unwrap().fail.clear();
    }

    /// The `n`-th create/update/delete from now on (1-based) never returns; with
    /// `after_effect` the cloud changes first. [`MemoryProvider::wait_hung`] resolves once it hangs.
    pub fn hang_at(&self, n: usize, after_effect: bool) {
        self.inner.mutating_calls.store(0, Ordering::SeqCst);
        self.inner.faults.lock().unwrap().hang_at = Some((n, after_effect));
    }

    pub async fn wait_hung(&self) {
        self.inner.hung.notified().await;
    }

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

    /// Put objects into the cloud directly (a benchmark rebuilding, in a new process, the
    /// cloud an earlier process created): `(id, type, address, attrs)`.
    pub fn seed(&self, objects: impl IntoIterator<Item = (Text, Text, Text, Attrs)>) {
        let mut cloud = self.inner.objects.lock().unwrap();
        for (id, type_name, address, attrs) in objects {
            cloud.insert(
                id,
                MemObject {
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

    pub fn read_requests(&self) -> usize {
        self.inner.read_requests.load(Ordering::SeqCst)
    }

    pub fn mutating_calls(&self) -> usize {
        self.inner.mutating_calls.load(Ordering::SeqCst)
    }

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

fn computed(type_name: &str, name: &str, id: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("id".into(), Value::str(id));
    a.insert("arn".into(), Value::str(format!("mem:{type_name}:{id}")));
    match type_name {
        "mem_database" | "mem_cache" => {
            a.insert(
                "endpoint".into(),
                Value::str(format!("{name}.{id}.mem.internal")),
            );
        }
        "mem_load_balancer" => {
            a.insert(
                "dns_name".into(),
                Value::str(format!("{name}-{id}.lb.mem.internal")),
            );
        }
        "mem_broker" => {
            a.insert(
                "bootstrap_brokers".into(),
                Value::str(format!("b-1.{name}.mem.internal:9094")),
            );
        }
        _ => {}
    }
    a
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
        for d in req.stack.resources() {
            let type_name = ["mem_", d.kind().as_str()].concat();
            let address = [type_name.as_str(), ".", d.name.as_str()].concat();
            let mut attrs = lower_attrs(&d.resource);
            attrs.insert("name".into(), Value::str(&d.name));
            if let Some(o) = d.resource.common().overrides_for("memory") {
                attrs.extend(o.clone());
            }
            let tags: BTreeMap<crate::value::Text, Value> = d
                .resource
                .common()
                .tags
                .iter()
                .map(|(k, v)| (k.into(), Value::str(v)))
                .collect();
            if !tags.is_empty() {
                attrs.insert("tags".into(), Value::Map(tags));
            }
            for e in d.resource.exports() {
                resp.exports.push(Export {
                    resource: d.name.clone(),
                    attr: e.to_string(),
                    value: Value::reference(&address, *e),
                });
            }
            resp.resources.push(Concrete {
                address: address.into(),
                type_name: type_name.into(),
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
        self.enter(&req.address, CallKind::Create).await?;
        let n = self.count_call();
        self.hang_if(n, false).await;
        let id = {
            let mut objects = self.inner.objects.lock().unwrap();
            // Idempotency: the same token returns the object made the first time.
            if let Some((id, o)) = objects.by_token(&req.token) {
                return Ok(CreateResponse {
                    id: id.clone(),
                    attrs: o.attrs.clone(),
                });
            }
            let prefix = req.type_name.trim_start_matches("mem_").replace('_', "");
            let id = Text::from(format!(
                "{prefix}-{:08x}",
                self.inner.next_id.fetch_add(1, Ordering::SeqCst)
            ));
            let name = req
                .attrs
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("x")
                .to_string();
            let mut attrs = req.attrs.clone();
            attrs.extend(computed(&req.type_name, &name, &id));
            objects.insert(
                id.clone(),
                MemObject {
                    type_name: req.type_name.clone(),
                    address: req.address.clone(),
                    token: req.token.as_str().into(),
                    attrs,
                },
            );
            id
        };
        self.hang_if(n, true).await;
        let attrs = self.inner.objects.lock().unwrap().by_id[&id].attrs.clone();
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
                let kept = computed(
                    &req.type_name,
                    req.attrs.get("name").and_then(Value::as_str).unwrap_or("x"),
                    &req.id,
                );
                o.attrs = req.attrs.clone();
                o.attrs.extend(kept);
                o.attrs.clone()
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
}

fn id_ref(kind: KindName, name: &str) -> Value {
    Value::reference(["mem_", kind.as_str(), ".", name].concat(), "id")
}

fn placement(a: &mut Attrs, p: &Placement) {
    a.insert(
        "subnet_ids".into(),
        Value::List(
            p.subnets
                .iter()
                .map(|s| id_ref(KindName::Subnet, s.name()))
                .collect(),
        ),
    );
    a.insert(
        "security_group_ids".into(),
        Value::List(
            p.security_groups
                .iter()
                .map(|g| id_ref(KindName::SecurityGroup, g.name()))
                .collect(),
        ),
    );
}

fn rules(rules: &[Rule]) -> Value {
    Value::List(
        rules
            .iter()
            .map(|r| {
                let mut m = BTreeMap::new();
                m.insert("protocol".into(), Value::str(r.protocol.as_str()));
                m.insert("from_port".into(), Value::Int(i64::from(r.from_port)));
                m.insert("to_port".into(), Value::Int(i64::from(r.to_port)));
                m.insert(
                    "source".into(),
                    match &r.source {
                        Some(RuleSource::Cidr(c)) => Value::str(c),
                        Some(RuleSource::Group(g)) => id_ref(KindName::SecurityGroup, g.name()),
                        None => Value::Null,
                    },
                );
                m.insert("description".into(), Value::str(&r.description));
                Value::Map(m)
            })
            .collect(),
    )
}

fn secret_ref(s: &Option<Ref<Secret>>) -> Value {
    s.as_ref().map_or(Value::Null, |s| {
        Value::reference(format!("mem_secret.{}", s.name()), "value")
    })
}

fn lower_attrs(r: &Resource) -> Attrs {
    let mut a = Attrs::new();
    let mut set = |k: &str, v: Value| {
        a.insert(k.into(), v);
    };
    match r {
        Resource::Network(n) => {
            set("cidr", Value::str(&n.cidr));
            set("dns", n.dns.into());
            set("nat", Value::str(format!("{:?}", n.nat).to_lowercase()));
            set("storage_endpoint", n.storage_endpoint.into());
        }
        Resource::Subnet(s) => {
            set("network_id", id_ref(KindName::Network, s.network.name()));
            set("cidr", Value::str(&s.cidr));
            set("tier", Value::str(s.tier.as_str()));
            set("zone", Value::Int(i64::from(s.zone)));
        }
        Resource::SecurityGroup(g) => {
            set("network_id", id_ref(KindName::Network, g.network.name()));
            set("description", Value::str(&g.description));
            set("ingress", rules(&g.ingress));
            set("egress", rules(&g.egress));
        }
        Resource::Secret(s) => {
            set(
                "value",
                match &s.source {
                    SecretSource::Generated(g) => Value::Generated(Box::new(g.clone())),
                    SecretSource::Given(v) => Value::Sensitive(v.clone()),
                },
            );
            set("description", Value::str(&s.description));
        }
        Resource::Database(d) => {
            set("engine_version", Value::str(&d.version));
            set("size", Value::str(d.size.as_str()));
            set("storage_gb", d.storage_gb.into());
            set("storage_type", Value::str(d.storage_type.as_str()));
            set("high_availability", d.high_availability.into());
            set("backup_retention_days", d.backup_retention_days.into());
            set("backup_window", d.backup_window.clone().into());
            set("maintenance_window", d.maintenance_window.clone().into());
            set("encrypted", d.encrypted.into());
            set("deletion_protection", d.deletion_protection.into());
            set("databases", d.databases.clone().into());
            set("admin_user", Value::str(&d.admin_user));
            set("admin_password", secret_ref(&d.admin_password));
            set(
                "parameters",
                Value::Map(
                    d.parameters
                        .iter()
                        .map(|(k, v)| (k.into(), Value::str(v)))
                        .collect(),
                ),
            );
            placement(&mut a, &d.placement);
        }
        Resource::Broker(b) => {
            set("version", Value::str(&b.version));
            set("brokers", b.brokers.into());
            set("size", Value::str(b.size.as_str()));
            set("storage_gb", b.storage_gb.into());
            set("tls", b.tls.into());
            set(
                "topics",
                Value::List(
                    b.topics
                        .iter()
                        .map(|t| {
                            Value::str(format!("{}:{}:{}", t.name, t.partitions, t.replication))
                        })
                        .collect(),
                ),
            );
            set("credentials", secret_ref(&b.credentials));
            placement(&mut a, &b.placement);
        }
        Resource::LoadBalancer(l) => {
            set("internal", l.internal.into());
            set("http_redirect", l.http_redirect.into());
            set(
                "certificate",
                l.https.as_ref().map(|h| h.certificate.clone()).into(),
            );
            set(
                "target_groups",
                Value::List(
                    l.target_groups
                        .iter()
                        .map(|t| {
                            Value::str(format!("{}:{}:{}", t.name, t.port, t.health_check.path))
                        })
                        .collect(),
                ),
            );
            set(
                "routes",
                Value::List(
                    l.routes
                        .iter()
                        .map(|r| {
                            Value::str(format!(
                                "{}:{}:{}",
                                r.priority,
                                r.path_patterns.join(","),
                                r.target_group
                            ))
                        })
                        .collect(),
                ),
            );
            placement(&mut a, &l.placement);
        }
        Resource::Cache(c) => {
            set("engine_version", Value::str(&c.version));
            set("size", Value::str(c.size.as_str()));
            set("replicas", c.replicas.into());
            set("automatic_failover", c.automatic_failover.into());
            set("transit_encryption", c.transit_encryption.into());
            set("at_rest_encryption", c.at_rest_encryption.into());
            set("auth_token", secret_ref(&c.auth_token));
            set("port", c.port.into());
            placement(&mut a, &c.placement);
        }
    }
    a
}

fn schema() -> ProviderSchema {
    let mut s = ProviderSchema::default();
    let base = |t: &str| {
        ResourceSchema::new(t)
            .attr("id", AttrSchema::COMPUTED)
            .attr("arn", AttrSchema::COMPUTED)
            .attr("name", AttrSchema::FORCE_NEW)
    };
    s.add(base("mem_network").attr("cidr", AttrSchema::FORCE_NEW));
    s.add(
        base("mem_subnet")
            .attr("network_id", AttrSchema::FORCE_NEW)
            .attr("cidr", AttrSchema::FORCE_NEW)
            .attr("zone", AttrSchema::FORCE_NEW),
    );
    s.add(
        base("mem_security_group")
            .attr("network_id", AttrSchema::FORCE_NEW)
            .attr("description", AttrSchema::FORCE_NEW),
    );
    s.add(base("mem_secret").attr("value", AttrSchema::SENSITIVE));
    s.add(
        base("mem_database")
            .attr("endpoint", AttrSchema::COMPUTED)
            .attr("admin_password", AttrSchema::SENSITIVE)
            .attr("encrypted", AttrSchema::FORCE_NEW)
            .attr("subnet_ids", AttrSchema::FORCE_NEW),
    );
    s.add(
        base("mem_broker")
            .attr("bootstrap_brokers", AttrSchema::COMPUTED)
            .attr("credentials", AttrSchema::SENSITIVE)
            .attr("brokers", AttrSchema::FORCE_NEW),
    );
    s.add(
        base("mem_load_balancer")
            .attr("dns_name", AttrSchema::COMPUTED)
            .attr("internal", AttrSchema::FORCE_NEW),
    );
    s.add(
        base("mem_cache")
            .attr("endpoint", AttrSchema::COMPUTED)
            .attr("auth_token", AttrSchema::SENSITIVE)
            .attr("at_rest_encryption", AttrSchema::FORCE_NEW),
    );
    s
}
