//! The provider contract: the only way core reaches a cloud.
//!
//! Deliberately small (schema, lower, read, create, update, delete, import) with a request
//! and a response struct per call, so providers can grow fields without breaking the trait.
//! Core never names a cloud: a provider turns portable resources into its own concrete
//! resources (`lower`), and from then on core only diffs and orders attribute maps.

use crate::invalid::{Invalid, Note};
use crate::model::{KindName, Stack};
use crate::value::{Attrs, Text};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// How one attribute of a concrete resource type behaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttrSchema {
    /// Changing it cannot be done in place: the resource is replaced.
    pub force_new: bool,
    /// Set by the cloud; known after apply.
    pub computed: bool,
    /// Masked in every output; stored as a digest.
    pub sensitive: bool,
    /// A list whose order means nothing (subnets, security groups): compared as a set, so
    /// the cloud answering in its own order is not a change.
    pub unordered: bool,
}

impl AttrSchema {
    /// The same behaviour, for a list compared as a set.
    pub const fn unordered(self) -> AttrSchema {
        AttrSchema {
            unordered: true,
            ..self
        }
    }
    /// Changed in place, given by the user, not secret: how an undeclared attribute behaves.
    pub const UPDATABLE: AttrSchema = AttrSchema {
        force_new: false,
        computed: false,
        sensitive: false,
        unordered: false,
    };
    /// Changing it replaces the resource.
    pub const FORCE_NEW: AttrSchema = AttrSchema {
        force_new: true,
        computed: false,
        sensitive: false,
        unordered: false,
    };
    /// Set by the cloud, known only after apply.
    pub const COMPUTED: AttrSchema = AttrSchema {
        force_new: false,
        computed: true,
        sensitive: false,
        unordered: false,
    };
    /// Changed in place, masked in every output and stored as a digest.
    pub const SENSITIVE: AttrSchema = AttrSchema {
        force_new: false,
        computed: false,
        sensitive: true,
        unordered: false,
    };
}

/// The schema of one concrete resource type.
#[derive(Clone, Debug, Default)]
pub struct ResourceSchema {
    /// The type's name, e.g. `aws_subnet`, as [`Concrete::type_name`] carries it.
    pub type_name: String,
    /// How each attribute behaves, by name; one not listed is updatable in place.
    pub attributes: BTreeMap<String, AttrSchema>,
    /// Replace by creating the new object first, whatever the stack says: for types that
    /// cannot be deleted while others still point at them (a load balancer's target group).
    pub create_before_destroy: bool,
    /// A create that meets an existing object with the same natural key (a name, or a
    /// route's table and destination) adopts it when it is this stack's (ownership tags) or
    /// identical, and says so, instead of failing: an interrupted run may have made it.
    /// The provider conformance suite checks it for these types.
    pub adopts_existing: bool,
    /// A create goes on acting on the object after it exists (attaching it, revoking a
    /// default the cloud added): an interrupted run's create may have such a request still
    /// in flight when the object is found, so the object is adopted only once the in-flight
    /// window has passed (and read again then), never changed under a request still coming.
    pub create_follow_ups: bool,
    /// How long a change of this type typically takes, relative to others (a database or
    /// a NAT gateway takes minutes, a route a second). The scheduler starts first the steps
    /// with the longest chain of such durations ahead of them, so slow chains never wait
    /// behind quick side branches for a slot. Only the ratios matter; 1 s by default.
    pub typical_duration: std::time::Duration,
}

impl ResourceSchema {
    /// A type with no attributes declared, no flag set and a typical duration of 1 s.
    pub fn new(type_name: &str) -> Self {
        ResourceSchema {
            type_name: type_name.to_string(),
            attributes: BTreeMap::new(),
            create_before_destroy: false,
            adopts_existing: false,
            create_follow_ups: false,
            typical_duration: std::time::Duration::from_secs(1),
        }
    }
    /// See [`ResourceSchema::typical_duration`].
    pub fn typical_duration(mut self, d: std::time::Duration) -> Self {
        self.typical_duration = d;
        self
    }
    /// See [`ResourceSchema::create_before_destroy`].
    pub fn create_before_destroy(mut self) -> Self {
        self.create_before_destroy = true;
        self
    }
    /// See [`ResourceSchema::adopts_existing`].
    pub fn adopts_existing(mut self) -> Self {
        self.adopts_existing = true;
        self
    }
    /// See [`ResourceSchema::create_follow_ups`].
    pub fn create_follow_ups(mut self) -> Self {
        self.create_follow_ups = true;
        self
    }
    /// Declare how attribute `name` behaves (replacing an earlier declaration).
    pub fn attr(mut self, name: &str, schema: AttrSchema) -> Self {
        self.attributes.insert(name.to_string(), schema);
        self
    }
    /// How attribute `attr` behaves; one not declared is updatable in place (no flag set).
    pub fn get(&self, attr: &str) -> AttrSchema {
        self.attributes.get(attr).copied().unwrap_or_default()
    }
}

/// Every resource type a provider offers.
#[derive(Clone, Debug, Default)]
pub struct ProviderSchema {
    /// Every resource type, keyed by its type name.
    pub resources: BTreeMap<String, ResourceSchema>,
    /// How long after a call started the cloud may still act on it: every request's
    /// deadline (connect and response timeouts, retries included) plus the cloud's
    /// read-after-write delay. A create an interrupted run left pending that cannot be
    /// found while younger than this may still land, so it is read again after the window
    /// instead of being created anew. Zero only for providers whose calls cannot outlive
    /// their caller (the in-memory test provider).
    pub in_flight_window: std::time::Duration,
    /// The region the provider is configured for, in the cloud's spelling; `None` for
    /// providers without regions. The engine refuses a stack pinned to another region
    /// before lowering it, so no provider can forget the check.
    pub region: Option<String>,
    /// Where a user changes that region (named in the error), e.g. "AWS_REGION or the
    /// profile's region".
    pub region_setting: String,
    /// The override keys (`override_for(provider, key, …)`) this provider reads, per
    /// portable kind. The engine refuses any other key addressed to this provider, so a
    /// misspelt override is an error naming the field instead of a silent no-op.
    pub override_keys: BTreeMap<KindName, std::collections::BTreeSet<String>>,
    /// What the cloud accepts as user tags; `None`: anything.
    pub tag_rules: Option<crate::ownership::TagRules>,
    /// The load balancer product this provider lowers to ("ALB"), for messages.
    pub lb_product: String,
    /// What that product can do; a stack asking for more is refused by the engine.
    pub lb_capabilities: std::collections::BTreeSet<crate::model::LbCapability>,
}

impl ProviderSchema {
    /// Add a resource type under its name, replacing one of the same name.
    pub fn add(&mut self, schema: ResourceSchema) {
        self.resources.insert(schema.type_name.clone(), schema);
    }
}

/// A concrete cloud resource produced by lowering, before core adds lifecycle and graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Concrete {
    /// Unique address, `TYPE.NAME[.SUFFIX]`, e.g. `aws_subnet.public-a`.
    pub address: Text,
    /// The provider's resource type, e.g. `aws_subnet`: a key of
    /// [`ProviderSchema::resources`].
    pub type_name: Text,
    /// Name of the portable resource it came from.
    pub origin: Text,
    /// Desired attributes; references to other concrete resources are `Value::Ref`.
    pub attrs: Attrs,
    /// Ordering edges beyond the references found in `attrs`.
    pub depends_on: Vec<Text>,
}

/// An exported portable attribute and the concrete value that carries it.
#[derive(Clone, Debug, PartialEq)]
pub struct Export {
    /// Name of the portable resource that exports it (`orders`, not `database.orders`).
    /// (`Text`: short names are held inline, and a stack exports a few per resource.)
    pub resource: Text,
    /// The portable attribute, e.g. `endpoint`.
    pub attr: Text,
    /// The value that carries it, usually a `Value::Ref` to a concrete resource's attribute.
    pub value: crate::value::Value,
}

/// What [`Provider::lower`] is given.
#[derive(Debug)]
pub struct LowerRequest<'a> {
    /// The stack to lower, already validated and checked against the provider's schema.
    pub stack: &'a Stack,
}

/// An object a stack names but does not manage (a certificate the team holds), as the
/// lowering found it. A plan that reads the cloud reads these too, so one that does not
/// exist is an error naming the resource and the field before any create, never a failure
/// halfway through an apply.
#[derive(Clone, Debug, PartialEq)]
pub struct ExistingRef {
    /// The portable resource that names it, e.g. `load_balancer.web`.
    pub resource: String,
    /// The field that names it, e.g. `listeners.https.certificate`.
    pub field: String,
    /// The provider type it is read as: one the provider reads and never creates.
    pub type_name: Text,
    /// Its id in the cloud (an ARN, a name, a URL).
    pub id: Text,
    /// What it is, for messages (`ACM certificate`).
    pub what: String,
}

/// What [`Provider::lower`] produced.
#[derive(Debug, Default)]
pub struct LowerResponse {
    /// The concrete resources, each naming its portable origin.
    pub resources: Vec<Concrete>,
    /// Exported portable attributes and the concrete values that carry them: at least the
    /// ones the stack's outputs name. The engine keeps only those, so a provider may leave
    /// the others out (at 100,000 resources they were tens of megabytes nothing read).
    pub exports: Vec<Export>,
    /// Objects the stack names and does not manage, checked when a plan reads the cloud.
    pub existing: Vec<ExistingRef>,
    /// What this cloud does differently from the declaration where nothing the user could
    /// declare would do better (shown in every plan; see [`Note`]).
    pub notes: Vec<Note>,
}

type ProgressFn = dyn Fn(&str) + Send + Sync;

/// The engine's side of one provider call: where progress messages go (the observer) and
/// how a call tells the scheduler it is only waiting for the cloud to settle.
#[derive(Clone, Default)]
pub struct Progress {
    report: Option<Arc<ProgressFn>>,
    slots: Option<Arc<Slots>>,
    lease: Option<Arc<dyn crate::state::Lease>>,
}

/// Shared between the scheduler and its running calls: how many are parked in a waiter, and
/// a wake-up so the scheduler can start another call in the freed slot at once.
#[derive(Debug, Default)]
pub struct Slots {
    parked: std::sync::atomic::AtomicUsize,
    wake: tokio::sync::Notify,
}

impl Slots {
    /// Calls currently parked in a waiter.
    pub fn parked(&self) -> usize {
        self.parked.load(std::sync::atomic::Ordering::SeqCst)
    }
    /// Resolves when a call parks (a wake-up is kept if nobody is listening yet).
    pub async fn parked_changed(&self) {
        self.wake.notified().await
    }
}

impl Progress {
    /// Progress whose messages go to `f` (apply passes them to its observer).
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Progress {
            report: Some(Arc::new(f)),
            slots: None,
            lease: None,
        }
    }
    /// Tie the call to the run's lease on state (see [`Progress::may_call`]).
    pub fn with_lease(mut self, lease: Arc<dyn crate::state::Lease>) -> Self {
        self.lease = Some(lease);
        self
    }
    /// Whether the call may send another request to the cloud: not once the run's lease
    /// on state has run out (the run was paused, or could not renew), since another run
    /// may be taking the state over. A waiter asks before every poll. The refusal is an
    /// outcome-unknown error, so the call's pending record stays for whoever reconciles.
    pub fn may_call(&self, address: &str) -> Result<(), ProviderError> {
        match &self.lease {
            Some(lease) if crate::state::now_ms() >= lease.expires_ms() => {
                Err(ProviderError::Indeterminate {
                    address: address.to_string(),
                    message: "this run's lease on the state ran out (the run was paused, or \
                              could not renew it): it sends the cloud nothing more"
                        .into(),
                })
            }
            _ => Ok(()),
        }
    }
    /// Let this call give its scheduler slot back while it waits (see [`Progress::waiting`]).
    pub fn with_slots(mut self, slots: Arc<Slots>) -> Self {
        self.slots = Some(slots);
        self
    }
    /// Pass a progress message on; dropped when nobody listens (`Progress::default()`).
    pub fn report(&self, message: &str) {
        if let Some(f) = &self.report {
            f(message);
        }
    }
    /// Mark the call as waiting for the cloud (polling a slow create, say) until the guard
    /// drops. Meanwhile its slot counts as free, so a long RDS or NAT wait does not hold
    /// back independent work: `parallelism` bounds calls that are busy, not calls that wait.
    pub fn waiting(&self) -> Waiting {
        if let Some(slots) = &self.slots {
            slots
                .parked
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            slots.wake.notify_one();
        }
        Waiting(self.slots.clone())
    }
}

/// A call parked in a waiter; dropping it takes the slot back.
#[derive(Debug)]
#[must_use = "the call counts as waiting only while the guard lives"]
pub struct Waiting(Option<Arc<Slots>>);

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(slots) = &self.0 {
            slots
                .parked
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress")
    }
}

/// One resource to read. With `id: None` and a `token`, the provider looks the object up by
/// its idempotency token / ownership tags: that is how a create interrupted by a crash is
/// found and adopted instead of duplicated.
#[derive(Clone, Debug)]
pub struct ReadItem {
    /// The key its outcome is answered under: the resource's address.
    pub address: Text,
    /// Its id in the cloud; `None` when looking up an interrupted create by `token`.
    pub id: Option<Text>,
    /// The idempotency token of a create a crash left pending, to find what it made.
    pub token: Option<Text>,
    /// Last known attributes (from state), for providers that need them to read.
    pub prior: Attrs,
}

/// Read many resources of one type in one request: providers batch them into as few cloud
/// calls as the API allows.
#[derive(Clone, Debug)]
pub struct ReadRequest {
    /// Name of the stack, for lookups by ownership marks.
    pub stack: String,
    /// The provider type of every item.
    pub type_name: Text,
    /// The resources to read.
    pub items: Vec<ReadItem>,
}

/// What a read found for one item.
#[derive(Clone, Debug)]
pub enum ReadOutcome {
    /// The object exists.
    Found {
        /// Its id in the cloud.
        id: Text,
        /// Every attribute as the cloud holds it now, computed ones included.
        attrs: Attrs,
    },
    /// Gone from the cloud (deleted out of band, or never created).
    Gone,
    /// This item could not be read; the other items of the request may have been.
    Failed(ProviderError),
}

/// The answer to a [`ReadRequest`].
#[derive(Clone, Debug)]
pub struct ReadResponse {
    /// One outcome per requested item, keyed by address.
    pub results: BTreeMap<Text, ReadOutcome>,
}

/// Create one object.
#[derive(Clone, Debug)]
pub struct CreateRequest {
    /// Name of the stack, for the object's ownership marks.
    pub stack: String,
    /// The resource's concrete address, e.g. `aws_subnet.public-a`.
    pub address: Text,
    /// The provider type to create.
    pub type_name: Text,
    /// Fully resolved attributes (no references, no unknowns); secrets carry plaintext.
    pub attrs: Attrs,
    /// Idempotency token, recorded in state before the call: the same token on a retry
    /// after a crash lets the cloud (or the provider's tag lookup) dedupe.
    pub token: String,
    /// Where progress goes, and how the call gives its slot back while it waits.
    pub progress: Progress,
}

/// What a create made.
#[derive(Clone, Debug)]
pub struct CreateResponse {
    /// The new object's id in the cloud.
    pub id: Text,
    /// Every attribute, computed ones included.
    pub attrs: Attrs,
}

/// Change an existing object in place.
#[derive(Clone, Debug)]
pub struct UpdateRequest {
    /// Name of the stack, for ownership marks.
    pub stack: String,
    /// The resource's concrete address.
    pub address: Text,
    /// The provider type of the object.
    pub type_name: Text,
    /// The object's id in the cloud.
    pub id: Text,
    /// Its attributes as state last recorded them.
    pub prior: Attrs,
    /// The desired attributes, resolved; an unchanged secret may carry only its digest.
    pub attrs: Attrs,
    /// Attributes whose value changes.
    pub changed: Vec<String>,
    /// Where progress goes, and how the call gives its slot back while it waits.
    pub progress: Progress,
}

/// What an update left.
#[derive(Clone, Debug)]
pub struct UpdateResponse {
    /// Every attribute after the update, computed ones included.
    pub attrs: Attrs,
}

/// Delete one object.
#[derive(Clone, Debug)]
pub struct DeleteRequest {
    /// Name of the stack, for ownership marks.
    pub stack: String,
    /// The resource's concrete address.
    pub address: Text,
    /// The provider type of the object.
    pub type_name: Text,
    /// The object's id in the cloud.
    pub id: Text,
    /// Its last known attributes, as the plan recorded them.
    pub prior: Attrs,
    /// Where progress goes, and how the call gives its slot back while it waits.
    pub progress: Progress,
}

/// A delete's answer: empty, a struct so fields can be added without changing the trait.
#[derive(Clone, Debug, Default)]
pub struct DeleteResponse {}

/// Read an existing object by its id, to bring it under management.
#[derive(Clone, Debug)]
pub struct ImportRequest {
    /// Name of the stack.
    pub stack: String,
    /// The concrete address it is to be managed at.
    pub address: Text,
    /// The provider type it is read as.
    pub type_name: Text,
    /// Its id in the cloud, as the user gave it.
    pub id: Text,
    /// The declared attributes whose values are already known: literals, and references
    /// to what state records. An id alone cannot always locate an object (a database
    /// inside a server needs the server's address and credentials); never the plaintext
    /// of a secret.
    pub known: Attrs,
}

/// What an import read.
#[derive(Clone, Debug)]
pub struct ImportResponse {
    /// Every attribute of the object, recorded in state as read.
    pub attrs: Attrs,
}

/// List what the cloud holds for a stack, whatever state says: how `inventory` finds
/// objects no state records (a create whose answer a crash lost, an object left by a
/// destroy that was cut short).
#[derive(Clone, Debug)]
pub struct InventoryRequest {
    /// Name of the stack whose ownership marks to look for.
    pub stack: String,
    /// The addresses state records (resources and pending creates): for a cloud whose
    /// marks hold a digest of the address (GCP's labels) to name what it finds.
    pub addresses: Vec<Text>,
}

/// One object of the cloud that carries a stack's ownership marks.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct OwnedObject {
    /// The provider type it would be managed as, e.g. `aws_subnet`.
    #[serde(rename = "type")]
    pub type_name: Text,
    /// Its id in the cloud, in the form state records for its type.
    pub id: Text,
    /// The address its marks name; empty for the few objects the cloud lets carry no
    /// marks, found as this stack's by another relation (a role assignment to one of
    /// its identities).
    pub address: Text,
    /// The idempotency token of the create that made it, when the cloud holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Text>,
    /// Why the stack keeps it outside state on purpose, when it does (a deleted key
    /// vault kept recoverable, as the stack asked): listed, never an orphan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
}

/// The answer to an [`InventoryRequest`].
#[derive(Clone, Debug, Default)]
pub struct InventoryResponse {
    /// Every object found, objects the cloud is deleting left out (they are going).
    pub objects: Vec<OwnedObject>,
}

/// What can go wrong in a provider call.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// The declaration cannot be expressed on this cloud (names a resource and field).
    #[error("{0}")]
    Invalid(Invalid),
    /// The object does not exist.
    #[error("{address}: not found in the cloud")]
    NotFound {
        /// Concrete address of the resource.
        address: String,
    },
    /// The cloud refused the call; `code` is the cloud's own error code.
    #[error("{address}: {code}: {message}")]
    Api {
        /// Concrete address of the resource.
        address: String,
        /// The cloud's error code, e.g. `DependencyViolation`.
        code: String,
        /// The cloud's message.
        message: String,
    },
    /// The call may or may not have taken effect (timeout, connection lost mid-call).
    /// The engine keeps the pending-operation record so the next run reconciles it.
    #[error("{address}: outcome unknown: {message}")]
    Indeterminate {
        /// Concrete address of the resource.
        address: String,
        /// What cut the call short.
        message: String,
    },
    /// Throttling or a transient server fault that outlasted the provider's retries.
    #[error("{address}: transient failure after retries: {message}")]
    Transient {
        /// Concrete address of the resource.
        address: String,
        /// The last failure's message.
        message: String,
    },
    /// The provider has no such type or operation.
    #[error("{type_name}: {message}")]
    Unsupported {
        /// The resource type asked for.
        type_name: String,
        /// What the provider lacks.
        message: String,
    },
}

impl ProviderError {
    /// True when the cloud may hold a half-done result of the call.
    pub fn is_indeterminate(&self) -> bool {
        matches!(self, ProviderError::Indeterminate { .. })
    }
}

/// The names providers answer to ([`Provider::name`]), as `override_for` takes them: the
/// three clouds, and the in-memory provider of tests and benchmarks. An override for any
/// other name would be read by none, so validation refuses it.
pub const PROVIDER_NAMES: &[&str] = &["aws", "azure", "gcp", "memory"];

/// A cloud provider. Implementations live in their own crates (`providers/*`).
#[async_trait]
pub trait Provider: Send + Sync + fmt::Debug {
    /// Short name used for overrides and in state (`aws`, `gcp`, `azure`, `memory`).
    fn name(&self) -> &str;
    /// The resource types this provider offers and what its cloud accepts.
    fn schema(&self) -> &ProviderSchema;
    /// Portable resources -> concrete resources, each tagged with its origin.
    fn lower(&self, req: LowerRequest<'_>) -> Result<LowerResponse, Vec<Invalid>>;
    /// Read items of one type in as few cloud calls as the API allows. An `Err` fails
    /// every item; [`ReadOutcome::Failed`] fails one.
    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError>;
    /// Create one object; a retry with the same `req.token` must not make a second.
    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError>;
    /// Change an object in place (the planner replaces it instead when a `force_new`
    /// attribute changes).
    async fn update(&self, req: UpdateRequest) -> Result<UpdateResponse, ProviderError>;
    /// Delete one object; apply counts [`ProviderError::NotFound`] as deleted.
    async fn delete(&self, req: DeleteRequest) -> Result<DeleteResponse, ProviderError>;
    /// Read an existing object by id so state can take it over; the cloud is not changed.
    async fn import(&self, req: ImportRequest) -> Result<ImportResponse, ProviderError>;
    /// Every object of the cloud carrying `req.stack`'s ownership marks, in as few list
    /// calls as the cloud allows (one per service or per group, not per object).
    async fn inventory(&self, req: InventoryRequest) -> Result<InventoryResponse, ProviderError>;
}
