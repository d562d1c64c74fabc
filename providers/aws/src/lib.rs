//! cairn-aws: cairn's AWS provider.
//!
//! Portable stacks are lowered to AWS resources (`lower`), which the provider creates,
//! reads in batches, updates in place where AWS allows it, and deletes, through the official
//! SDK clients configured the standard way (credential chain, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`), so the same code runs against AWS and the local emulator.

// Every public item is documented: these crates are used by programs, not only by cairn.
#![warn(missing_docs)]

mod acm;
mod budget;
mod client;
mod ec2;
mod elasticache;
mod elb;
mod error;
mod inventory;
mod lower;
mod msk;
mod rds;
mod schema;
mod secrets;
pub mod state;
mod util;

pub(crate) use cairn_provider_kit::wait;

pub use budget::BudgetSnapshot;
pub use client::{CallCounter, Clients};
pub use lower::lower_stack;

use async_trait::async_trait;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use cairn_core::invalid::Invalid;
use cairn_core::provider::*;
use cairn_provider_kit::registry::Registry;
use std::time::Duration;

/// Settings beyond what the SDK configuration carries.
#[derive(Clone, Debug)]
pub struct AwsOptions {
    /// How long a delete keeps retrying while dependents are still going away.
    pub dependency_timeout: Duration,
    /// How long waiters wait for an asynchronous create or update to finish.
    pub create_timeout: Duration,
    /// How long waiters wait for an asynchronous delete to finish.
    pub delete_timeout: Duration,
    /// Timeouts of every API call: a frozen endpoint fails the call instead of hanging the
    /// run, and bounds how long a request can outlive a run that died.
    pub timeouts: CallTimeouts,
}

/// How long one API call may take. Together with the read-after-write delay they make the
/// provider's in-flight window: after it, a create an interrupted run sent has landed or
/// never will.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallTimeouts {
    /// Establishing a connection.
    pub connect: Duration,
    /// One attempt, from sending the request to the end of the answer (a request waiting
    /// for one of its service's concurrency slots has not been sent: that wait counts only
    /// toward `call`).
    pub attempt: Duration,
    /// The whole call, retries and their backoff included.
    pub call: Duration,
    /// How long after a write AWS's reads may still not show it (EC2 is eventually
    /// consistent).
    pub read_after_write: Duration,
}

impl Default for CallTimeouts {
    fn default() -> Self {
        CallTimeouts {
            connect: Duration::from_secs(5),
            attempt: Duration::from_secs(30),
            call: Duration::from_secs(90),
            read_after_write: Duration::from_secs(10),
        }
    }
}

impl CallTimeouts {
    /// The defaults, overridden by `CAIRN_AWS_CONNECT_TIMEOUT`, `CAIRN_AWS_ATTEMPT_TIMEOUT`,
    /// `CAIRN_AWS_CALL_TIMEOUT` and `CAIRN_AWS_READ_AFTER_WRITE` (durations such as `20s`).
    /// A value that does not parse is an error naming the variable, not silently ignored.
    pub fn from_env() -> Result<CallTimeouts, String> {
        let mut t = CallTimeouts::default();
        for (var, slot) in [
            ("CAIRN_AWS_CONNECT_TIMEOUT", &mut t.connect),
            ("CAIRN_AWS_ATTEMPT_TIMEOUT", &mut t.attempt),
            ("CAIRN_AWS_CALL_TIMEOUT", &mut t.call),
            ("CAIRN_AWS_READ_AFTER_WRITE", &mut t.read_after_write),
        ] {
            if let Ok(v) = std::env::var(var) {
                *slot = humantime::parse_duration(v.trim())
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| format!("{var}={v:?} is not a duration such as 20s or 1m"))?;
            }
        }
        Ok(t)
    }

    /// How long after a call started AWS may still act on it.
    pub fn in_flight_window(&self) -> Duration {
        self.call + self.read_after_write
    }
}

impl Default for AwsOptions {
    fn default() -> Self {
        // RDS Multi-AZ and MSK creates take tens of minutes on AWS.
        AwsOptions {
            dependency_timeout: Duration::from_secs(600),
            create_timeout: Duration::from_secs(3600),
            delete_timeout: Duration::from_secs(3600),
            timeouts: CallTimeouts::default(),
        }
    }
}

/// What resource handlers share.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub c: Clients,
    pub options: AwsOptions,
}

impl Ctx {
    /// Run a delete, retrying `DependencyViolation` (and the like) with backoff while the
    /// things that use the object are themselves being deleted. Not found counts as done.
    pub(crate) async fn retry_dependency<F, Fut, E, R>(
        &self,
        address: &str,
        progress: &Progress,
        call: F,
    ) -> Result<(), ProviderError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        cairn_provider_kit::retry::delete_when_free(
            progress,
            self.options.dependency_timeout,
            error::class,
            call,
        )
        .await
        .map_err(|e| error::convert(address, e))
    }
}

/// The AWS provider.
#[derive(Debug)]
pub struct AwsProvider {
    ctx: Ctx,
    types: &'static Registry<Ctx>,
    schema: ProviderSchema,
}

impl AwsProvider {
    /// Configure from the environment (credential chain, `AWS_REGION`, `AWS_ENDPOINT_URL`,
    /// and the `CAIRN_AWS_*_TIMEOUT` variables of [`CallTimeouts::from_env`]).
    pub async fn from_env() -> Result<AwsProvider, String> {
        AwsProvider::from_env_in(None).await
    }

    /// [`AwsProvider::from_env`], in `region` when the environment names none (the
    /// stack's pin). With neither, refused: guessing a region would plan against the
    /// wrong one, and the stack would look missing there.
    pub async fn from_env_in(region: Option<&str>) -> Result<AwsProvider, String> {
        let timeouts = CallTimeouts::from_env()?;
        let mut sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        if sdk.region().is_none() {
            let Some(region) = region else {
                return Err("no AWS region: set AWS_REGION (or a profile's region), or pin the stack's region with --region".into());
            };
            sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(region.to_string()))
                .load()
                .await;
        }
        Ok(AwsProvider::new(
            &sdk,
            AwsOptions {
                timeouts,
                ..AwsOptions::default()
            },
        ))
    }

    /// A provider for lowering only (`cairn validate`): configured for `region`, with no
    /// credentials and nothing read from the environment. Any call it made would fail; it
    /// makes none unless asked to read or write.
    pub fn offline(region: &str) -> AwsProvider {
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new(region.to_string()))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        AwsProvider::new(&sdk, AwsOptions::default())
    }

    /// A provider from an SDK configuration (region, credentials, endpoint) and `options`.
    pub fn new(sdk: &aws_config::SdkConfig, options: AwsOptions) -> AwsProvider {
        let types = &*schema::TYPES;
        let mut schema = types.schema();
        schema.in_flight_window = options.timeouts.in_flight_window();
        schema.override_keys = schema::override_keys();
        let clients = Clients::new(sdk, &options.timeouts);
        schema.region = Some(clients.region.clone());
        schema.region_setting = "AWS_REGION or the profile's region".into();
        // AWS tags: keys up to 128 characters, values up to 256, 50 per object, of which
        // cairn's marks (stack, resource, token) take three.
        schema.tag_rules = Some(cairn_core::ownership::TagRules {
            max_key: 128,
            max_value: 256,
            max_tags: 47,
            label_charset: false,
        });
        schema.lb_product = "an Application Load Balancer".into();
        // Everything an ALB does but TCP listeners (an NLB, not lowered yet) and managed
        // certificates (ACM's DNS validation needs a zone the stack does not manage).
        schema.lb_capabilities = cairn_core::model::LbCapability::ALL
            .into_iter()
            .filter(|c| {
                !matches!(
                    c,
                    cairn_core::model::LbCapability::TcpListeners
                        | cairn_core::model::LbCapability::ManagedCertificates
                )
            })
            .collect();
        AwsProvider {
            types,
            ctx: Ctx {
                c: clients,
                options,
            },
            schema,
        }
    }

    /// API calls made so far, by operation.
    pub fn calls(&self) -> &CallCounter {
        &self.ctx.c.counter
    }

    /// Each service's adaptive concurrency budget: limit, peak, throttles seen.
    pub fn budgets(&self) -> Vec<BudgetSnapshot> {
        self.ctx.c.budgets.iter().map(|b| b.snapshot()).collect()
    }

    /// The region the provider lowers for: the SDK configuration's, else `us-east-1`.
    pub fn region(&self) -> &str {
        &self.ctx.c.region
    }
}

#[async_trait]
impl Provider for AwsProvider {
    fn name(&self) -> &str {
        "aws"
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn lower(&self, req: LowerRequest<'_>) -> Result<LowerResponse, Vec<Invalid>> {
        lower_stack(req.stack, &self.ctx.c.region)
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let results = if req.type_name == acm::CERTIFICATE {
            acm::read(&self.ctx, &req).await?
        } else {
            self.types.read(&self.ctx, &req).await?
        };
        Ok(ReadResponse { results })
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        self.types.create(&self.ctx, &req).await
    }

    async fn update(&self, req: UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        self.types.update(&self.ctx, &req).await
    }

    async fn delete(&self, req: DeleteRequest) -> Result<DeleteResponse, ProviderError> {
        self.types.delete(&self.ctx, &req).await?;
        Ok(DeleteResponse {})
    }

    /// Import reads the object by id, like a refresh of one.
    async fn import(&self, req: ImportRequest) -> Result<ImportResponse, ProviderError> {
        // A database inside an instance needs context to be found: where to connect and
        // with which secret. An instance reads its version against the declared one (a
        // major is met by the minor RDS picked). Elsewhere the id says it all.
        let prior = if matches!(
            req.type_name.as_str(),
            "aws_postgres_database" | "aws_db_instance"
        ) {
            req.known.clone()
        } else {
            Default::default()
        };
        self.types.import(&self.ctx, &req, prior).await
    }

    async fn inventory(&self, req: InventoryRequest) -> Result<InventoryResponse, ProviderError> {
        Ok(InventoryResponse {
            objects: inventory::list(&self.ctx, &req.stack).await?,
        })
    }
}
