//! cairn's GCP provider: portable kinds lowered to Google Cloud resources, driven through
//! the official Rust clients (`google-cloud-*-v1`).
//!
//! Every portable kind is lowered, against the portability table in `core/ARCHITECTURE.md`:
//! networks (custom-mode VPCs; NAT, shared or per zone, as one Cloud Router with a Cloud NAT over the
//! private tier), subnets (regional subnetworks, private Google access on private tiers),
//! security groups (a network tag, one VPC firewall rule per rule, and a deny of the egress
//! no rule allows), secrets (Secret Manager secrets, the value as the latest version),
//! databases (Cloud SQL for PostgreSQL on a private IP, through private services access),
//! caches (Memorystore for Redis, the same way; its AUTH string kept in Secret Manager),
//! brokers (Managed Kafka clusters and topics), load balancers (the global external
//! Application Load Balancer, `lb/`) and access edges (VPC firewall rules). What a GCP
//! product cannot mean is refused at lowering with the field and the cloud named, never
//! dropped.
//!
//! Configured as Google's tools are: Application Default Credentials, the project from
//! `GOOGLE_CLOUD_PROJECT`, the region from the stack's pin (or `CAIRN_GCP_REGION`).
//! `CAIRN_GCP_ENDPOINT=http://127.0.0.1:PORT` points every client at a local endpoint with
//! anonymous credentials (the emulator in `tests/emulators/gcp/`).
//!
//! Secrets, Cloud SQL instances, Memorystore instances and Kafka clusters carry labels:
//! ownership is in them (`cairn-stack`, `cairn-resource`), and user tags become labels
//! beside them. The Compute types (networks, subnetworks, firewalls, the balancer's parts)
//! carry none cairn sets, so ownership is in their names:
//! `{stack}-{resource}`, fitted to Compute's 63 characters with a stable digest. A create
//! whose answer was lost is found again by that name; its `requestId` is the create's
//! token as a UUID, so a re-sent insert is recognised by Compute itself.

// Every public item is documented: these crates are used by programs, not only by cairn.
#![warn(missing_docs)]

mod client;
mod compute;
mod error;
mod firewall;
mod inventory;
mod kafka;
mod labels;
mod lb;
mod lower;
mod lro;
mod operation;
mod psa;
mod redis;
mod router;
mod schema;
mod secret;
mod servicenetworking;
mod sql;
pub mod state;

use async_trait::async_trait;
use cairn_core::invalid::Invalid;
use cairn_core::model::LbCapability;
use cairn_core::provider::*;
use cairn_provider_kit::registry::Registry;
use client::Clients;
use std::time::Duration;

pub use lower::lower_stack;

/// Timeouts for the waits on Compute operations.
#[derive(Clone, Debug)]
pub struct GcpOptions {
    /// How long a wait for a create or an update to finish may take (default 30 min).
    pub create_timeout: Duration,
    /// How long a wait for a delete to finish may take (default 30 min).
    pub delete_timeout: Duration,
    /// First pause between polls of an operation (doubling up to 10 s).
    pub first_poll: Duration,
    /// The longest one call may take (each attempt; the clients do not retry).
    pub call_timeout: Duration,
    /// How long after a call's answer what it did may still be invisible to reads.
    pub read_after_write: Duration,
}

impl GcpOptions {
    /// How long after a call started GCP may still act on it: core keeps a create of a
    /// dead run pending at least this long before reading it as never made.
    pub fn in_flight_window(&self) -> Duration {
        self.call_timeout + self.read_after_write
    }
}

impl Default for GcpOptions {
    fn default() -> Self {
        GcpOptions {
            create_timeout: Duration::from_secs(1800),
            delete_timeout: Duration::from_secs(1800),
            first_poll: Duration::from_millis(500),
            call_timeout: Duration::from_secs(60),
            read_after_write: Duration::from_secs(10),
        }
    }
}

/// Where and how to reach GCP.
#[derive(Clone, Debug)]
pub struct GcpConfig {
    /// The project every resource goes in (its id, as `GOOGLE_CLOUD_PROJECT` names it).
    pub project: String,
    /// The region regional resources go in (`europe-west1`).
    pub region: String,
    /// A local endpoint for every client, with anonymous credentials (tests).
    pub endpoint: Option<String>,
    /// Timeouts of calls and waits.
    pub options: GcpOptions,
}

impl GcpConfig {
    /// From the environment: `GOOGLE_CLOUD_PROJECT`, the region given (the stack's pin)
    /// or `CAIRN_GCP_REGION`, and `CAIRN_GCP_ENDPOINT`.
    pub fn from_env(region: Option<&str>) -> Result<GcpConfig, String> {
        let project = std::env::var("GOOGLE_CLOUD_PROJECT")
            .ok()
            .filter(|p| !p.is_empty())
            .ok_or("no GCP project: set GOOGLE_CLOUD_PROJECT")?;
        let region = region
            .map(str::to_string)
            .or_else(|| std::env::var("CAIRN_GCP_REGION").ok())
            .filter(|r| !r.is_empty())
            .ok_or("no GCP region: pin the stack's region (--region) or set CAIRN_GCP_REGION")?;
        Ok(GcpConfig {
            project,
            region,
            endpoint: std::env::var("CAIRN_GCP_ENDPOINT")
                .ok()
                .filter(|e| !e.is_empty()),
            options: GcpOptions::default(),
        })
    }
}

/// What resource handlers share.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub c: Clients,
    pub project: String,
    pub region: String,
    pub options: GcpOptions,
    /// The project's number (Service Networking names networks by it), asked once.
    pub project_number: tokio::sync::OnceCell<String>,
}

impl Ctx {
    /// `projects/{number}/global/networks/{name}`, as Service Networking names a network.
    pub async fn numbered_network(
        &self,
        address: &str,
        name: &str,
    ) -> Result<String, ProviderError> {
        let number = self
            .project_number
            .get_or_try_init(|| async {
                let p = self
                    .c
                    .projects
                    .get()
                    .set_project(&self.project)
                    .send()
                    .await
                    .map_err(|e| error::convert(address, e))?;
                p.id.map(|n| n.to_string())
                    .ok_or_else(|| ProviderError::Api {
                        address: address.to_string(),
                        code: "NoProjectNumber".into(),
                        message: format!("Compute gave no number for project {}", self.project),
                    })
            })
            .await?;
        Ok(format!("projects/{number}/global/networks/{name}"))
    }
}

/// The GCP provider.
#[derive(Debug)]
pub struct GcpProvider {
    /// The clients and what handlers share; none for a provider that only lowers.
    ctx: Option<Ctx>,
    project: String,
    region: String,
    types: &'static Registry<Ctx>,
    schema: ProviderSchema,
}

impl GcpProvider {
    /// A provider that calls GCP as `config` says; an error when a client cannot be set up.
    pub async fn new(config: GcpConfig) -> Result<GcpProvider, String> {
        let c = Clients::new(config.endpoint.as_deref(), config.options.call_timeout).await?;
        let mut provider = GcpProvider::offline(&config.project, &config.region);
        provider.schema.in_flight_window = config.options.in_flight_window();
        provider.ctx = Some(Ctx {
            c,
            project: config.project,
            region: config.region,
            options: config.options,
            project_number: tokio::sync::OnceCell::new(),
        });
        Ok(provider)
    }

    /// A provider for lowering only (`cairn validate`): no clients, no credentials, nothing
    /// read from the environment. A read or a change through it is refused.
    pub fn offline(project: &str, region: &str) -> GcpProvider {
        let types = &*schema::TYPES;
        let mut schema = types.schema();
        schema.override_keys = schema::override_keys();
        schema.in_flight_window = GcpOptions::default().in_flight_window();
        schema.region = Some(region.to_string());
        schema.region_setting = "the stack's region pin or CAIRN_GCP_REGION".into();
        // Labels: 64 per object, three of them cairn's marks.
        schema.tag_rules = Some(cairn_core::ownership::TagRules {
            max_key: 63,
            max_value: 63,
            max_tags: 61,
            label_charset: true,
        });
        // The global external Application Load Balancer's rows (see the portability
        // table); internal balancers, TLS policies and TCP listeners are not lowered yet.
        schema.lb_capabilities = [
            LbCapability::Https,
            LbCapability::ManagedCertificates,
            LbCapability::HttpRedirect,
            LbCapability::PathRoutes,
            LbCapability::SourceCidrRoutes,
            LbCapability::DenyRoutes,
            LbCapability::BlueGreen,
        ]
        .into_iter()
        .collect();
        schema.lb_product = "the global external Application Load Balancer".into();
        GcpProvider {
            ctx: None,
            project: project.to_string(),
            region: region.to_string(),
            types,
            schema,
        }
    }

    /// The project the provider manages resources in.
    pub fn project(&self) -> &str {
        &self.project
    }

    fn ctx(&self) -> Result<&Ctx, ProviderError> {
        self.ctx.as_ref().ok_or_else(|| ProviderError::Api {
            address: String::new(),
            code: "Offline".into(),
            message: "this GCP provider only lowers stacks (GcpProvider::offline)".into(),
        })
    }
}

#[async_trait]
impl Provider for GcpProvider {
    fn name(&self) -> &str {
        "gcp"
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn lower(&self, req: LowerRequest<'_>) -> Result<LowerResponse, Vec<Invalid>> {
        lower_stack(req.stack, &self.project, &self.region)
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let results = if req.type_name == lb::frontend::existing::CERTIFICATE {
            lb::frontend::existing::read(self.ctx()?, &req).await?
        } else {
            self.types.read(self.ctx()?, &req).await?
        };
        Ok(ReadResponse { results })
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        self.types.create(self.ctx()?, &req).await
    }

    async fn update(&self, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        self.types.update(self.ctx()?, &req).await
    }

    async fn delete(&self, req: DeleteRequest) -> Result<DeleteResponse, ProviderError> {
        self.types.delete(self.ctx()?, &req).await?;
        Ok(DeleteResponse {})
    }

    /// Import reads the object by id (its Compute path), like a refresh of one.
    async fn import(&self, req: ImportRequest) -> Result<ImportResponse, ProviderError> {
        self.types
            .import(self.ctx()?, &req, Default::default())
            .await
    }
    async fn inventory(&self, req: InventoryRequest) -> Result<InventoryResponse, ProviderError> {
        Ok(InventoryResponse {
            objects: inventory::list(self.ctx()?, &req.stack, &req.addresses).await?,
        })
    }
}
