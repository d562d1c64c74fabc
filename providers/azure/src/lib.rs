//! cairn's Azure provider: portable kinds lowered to Azure Resource Manager resources,
//! driven through the official management crates of the Azure SDK for Rust (0.21).
//!
//! Every portable kind is lowered (see the portability table in `core/ARCHITECTURE.md`):
//! networks (a resource group per stack, a virtual network, and one network security group
//! holding the network's rules, attached to each of its subnets; NAT gateways with static
//! public addresses for the private tier, per zone or shared), subnets, security groups (an
//! application security group: what members carry, and what the rules name), secrets (one
//! key vault per stack, soft-delete aware), databases (PostgreSQL flexible servers with
//! private access through a delegated subnet and a private DNS zone), caches (Azure Cache
//! for Redis) and brokers (Event Hubs' Kafka endpoint), both behind private endpoints, and
//! load balancers (Application Gateway v2, reading its certificate from Key Vault, with a
//! WAF policy for deny routes). What Azure cannot do is refused at lowering with the field
//! and the cloud named, never dropped.
//!
//! Configured as Azure's tools are: the credential chain of `azure_identity` (environment,
//! workload identity, managed identity, the Azure CLI), the subscription from
//! `AZURE_SUBSCRIPTION_ID`, the tenant a key vault trusts from `AZURE_TENANT_ID`, the
//! location from the stack's pin (or `CAIRN_AZURE_LOCATION`).
//! `CAIRN_AZURE_ENDPOINT=http://127.0.0.1:PORT` points every client at a local endpoint
//! with a static test token (the emulator in `tests/emulators/azure/`).
//!
//! Ownership is in tags (`cairn:stack`, `cairn:resource`, `cairn:token`) on every type
//! that has them; subnets have none and are found by name under the stack's network. ARM's
//! PUT creates or replaces, so a create looks for its name first and adopts only what its
//! tags say is this stack's (see `tagged.rs`).

// Every public item is documented: these crates are used by programs, not only by cairn.
#![warn(missing_docs)]

#[macro_use]
mod tagged;
mod arm;
mod cache;
mod client;
mod dns;
mod endpoint;
mod error;
mod eventhub;
mod gateway;
mod group;
mod identity;
mod inventory;
mod lower;
mod nat;
mod network;
mod nsg;
mod postgres;
mod schema;
pub mod state;
mod tcp_balancer;
mod vault;

use async_trait::async_trait;
use cairn_core::invalid::Invalid;
use cairn_core::model::LbCapability;
use cairn_core::provider::*;
use cairn_provider_kit::registry::Registry;
use client::Clients;
use std::time::Duration;

pub use lower::lower_stack;

/// Timeouts for the waits on long-running operations.
#[derive(Clone, Debug)]
pub struct AzureOptions {
    /// How long a wait for a create or an update to finish may take (default 1 h).
    pub create_timeout: Duration,
    /// How long a wait for a delete to finish may take (default 1 h).
    pub delete_timeout: Duration,
    /// First pause between polls of an operation (doubling up to 10 s).
    pub first_poll: Duration,
    /// The longest one request may take.
    pub attempt_timeout: Duration,
    /// How long after its first answer a throttled or failed call is retried.
    pub call_timeout: Duration,
    /// How long after a call's answer what it did may still be invisible to reads.
    pub read_after_write: Duration,
}

impl AzureOptions {
    /// The defaults, with `CAIRN_AZURE_ATTEMPT_TIMEOUT`, `CAIRN_AZURE_CALL_TIMEOUT` and
    /// `CAIRN_AZURE_READ_AFTER_WRITE` (durations such as `20s`) when set. A value that does not parse is an error naming
    /// the variable, not silently ignored.
    pub fn from_env() -> Result<AzureOptions, String> {
        let mut o = AzureOptions::default();
        for (var, slot) in [
            ("CAIRN_AZURE_ATTEMPT_TIMEOUT", &mut o.attempt_timeout),
            ("CAIRN_AZURE_CALL_TIMEOUT", &mut o.call_timeout),
            ("CAIRN_AZURE_READ_AFTER_WRITE", &mut o.read_after_write),
        ] {
            if let Ok(v) = std::env::var(var) {
                *slot = humantime::parse_duration(v.trim())
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| format!("{var}={v:?} is not a duration such as 20s or 1m"))?;
            }
        }
        Ok(o)
    }

    /// How long after a call started Azure may still act on it: core keeps a create of a
    /// dead run pending at least this long before reading it as never made.
    pub fn in_flight_window(&self) -> Duration {
        // The first attempt may take `attempt_timeout`; retries go on until `call_timeout`
        // after its answer; the last may start a pause after that and take
        // `attempt_timeout` itself.
        2 * self.attempt_timeout
            + self.call_timeout
            + client::RETRY_MAX_WAIT
            + self.read_after_write
    }
}

impl Default for AzureOptions {
    fn default() -> Self {
        AzureOptions {
            create_timeout: Duration::from_secs(3600),
            delete_timeout: Duration::from_secs(3600),
            first_poll: Duration::from_millis(500),
            attempt_timeout: Duration::from_secs(30),
            call_timeout: Duration::from_secs(60),
            read_after_write: Duration::from_secs(10),
        }
    }
}

/// Where and how to reach Azure.
#[derive(Clone, Debug)]
pub struct AzureConfig {
    /// The subscription every resource goes in (its id, `AZURE_SUBSCRIPTION_ID`).
    pub subscription: String,
    /// The Microsoft Entra tenant (`AZURE_TENANT_ID`): a key vault names the tenant whose
    /// identities it trusts.
    pub tenant: Option<String>,
    /// The location resources go in (`westeurope`).
    pub location: String,
    /// A local endpoint for every client, with a static token (tests).
    pub endpoint: Option<String>,
    /// Timeouts of calls and waits.
    pub options: AzureOptions,
}

impl AzureConfig {
    /// From the environment: `AZURE_SUBSCRIPTION_ID`, the location given (the stack's pin)
    /// or `CAIRN_AZURE_LOCATION`, `CAIRN_AZURE_ENDPOINT`, and the call timeouts
    /// ([`AzureOptions::from_env`]).
    pub fn from_env(location: Option<&str>) -> Result<AzureConfig, String> {
        let subscription = std::env::var("AZURE_SUBSCRIPTION_ID")
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or("no Azure subscription: set AZURE_SUBSCRIPTION_ID")?;
        let location = location
            .map(str::to_string)
            .or_else(|| std::env::var("CAIRN_AZURE_LOCATION").ok())
            .filter(|l| !l.is_empty())
            .ok_or(
                "no Azure location: pin the stack's region (--region) or set CAIRN_AZURE_LOCATION",
            )?;
        Ok(AzureConfig {
            subscription,
            tenant: std::env::var("AZURE_TENANT_ID")
                .ok()
                .filter(|t| !t.is_empty()),
            location,
            endpoint: std::env::var("CAIRN_AZURE_ENDPOINT")
                .ok()
                .filter(|e| !e.is_empty()),
            options: AzureOptions::from_env()?,
        })
    }
}

/// What resource handlers share.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub c: Clients,
    pub subscription: String,
    pub tenant: Option<String>,
    pub options: AzureOptions,
}

impl Ctx {
    /// The tenant, required where a resource names it (a key vault).
    pub fn tenant(&self) -> azure_core::Result<&str> {
        self.tenant.as_deref().ok_or_else(|| {
            azure_core::Error::message(
                azure_core::error::ErrorKind::Credential,
                "no Azure tenant: set AZURE_TENANT_ID (a key vault names the tenant it trusts)",
            )
        })
    }
}

/// The Azure provider.
#[derive(Debug)]
pub struct AzureProvider {
    /// The clients and what handlers share; none for a provider that only lowers.
    ctx: Option<Ctx>,
    subscription: String,
    location: String,
    types: &'static Registry<Ctx>,
    schema: ProviderSchema,
}

impl AzureProvider {
    /// A provider that calls Azure as `config` says; an error when a client cannot be set up
    /// (no Azure credential, or an endpoint that is not a URL).
    pub fn new(config: AzureConfig) -> Result<AzureProvider, String> {
        let c = Clients::new(
            config.endpoint.as_deref(),
            config.options.attempt_timeout,
            config.options.call_timeout,
        )?;
        let mut provider = AzureProvider::offline(&config.subscription, &config.location);
        provider.schema.in_flight_window = config.options.in_flight_window();
        provider.ctx = Some(Ctx {
            c,
            subscription: config.subscription,
            tenant: config.tenant,
            options: config.options,
        });
        Ok(provider)
    }

    /// A provider for lowering only (`cairn validate`): no clients, no credentials, nothing
    /// read from the environment. A read or a change through it is refused.
    pub fn offline(subscription: &str, location: &str) -> AzureProvider {
        let types = &*schema::TYPES;
        let mut schema = types.schema();
        schema.override_keys = schema::override_keys();
        schema.in_flight_window = AzureOptions::default().in_flight_window();
        schema.region = Some(location.to_string());
        schema.region_setting = "the stack's region pin or CAIRN_AZURE_LOCATION".into();
        // Tags: 50 per resource, three of them cairn's marks; names up to 512, values 256.
        schema.tag_rules = Some(cairn_core::ownership::TagRules {
            max_key: 512,
            max_value: 256,
            max_tags: 47,
            label_charset: false,
        });
        // Application Gateway v2 for HTTP(S), a Standard Load Balancer for TCP listeners:
        // no managed certificates (give a Key Vault one), no internal-only frontend yet.
        schema.lb_capabilities = [
            LbCapability::TcpListeners,
            LbCapability::Https,
            LbCapability::TlsPolicy,
            LbCapability::HttpRedirect,
            LbCapability::PathRoutes,
            LbCapability::SourceCidrRoutes,
            LbCapability::DenyRoutes,
            LbCapability::BlueGreen,
        ]
        .into_iter()
        .collect();
        schema.lb_product = "Application Gateway v2, or a Standard Load Balancer for TCP".into();
        AzureProvider {
            ctx: None,
            subscription: subscription.to_string(),
            location: location.to_string(),
            types,
            schema,
        }
    }

    /// The subscription the provider manages resources in.
    pub fn subscription(&self) -> &str {
        &self.subscription
    }

    fn ctx(&self) -> Result<&Ctx, ProviderError> {
        self.ctx.as_ref().ok_or_else(|| ProviderError::Api {
            address: String::new(),
            code: "Offline".into(),
            message: "this Azure provider only lowers stacks (AzureProvider::offline)".into(),
        })
    }
}

#[async_trait]
impl Provider for AzureProvider {
    fn name(&self) -> &str {
        "azure"
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn lower(&self, req: LowerRequest<'_>) -> Result<LowerResponse, Vec<Invalid>> {
        lower_stack(req.stack, &self.location)
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let results = if req.type_name == identity::CERTIFICATE {
            identity::read_certificates(self.ctx()?, &req).await?
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

    /// Import reads the object by id (its ARM id), like a refresh of one.
    async fn import(&self, req: ImportRequest) -> Result<ImportResponse, ProviderError> {
        self.types
            .import(self.ctx()?, &req, Default::default())
            .await
    }
    async fn inventory(&self, req: InventoryRequest) -> Result<InventoryResponse, ProviderError> {
        Ok(InventoryResponse {
            objects: inventory::list(self.ctx()?, &req.stack).await?,
        })
    }
}
