//! SDK clients, configured the standard way, plus what every call shares: an interceptor
//! that counts API calls (batched-refresh checks and benchmarks read it), retry with
//! jittered backoff for throttling and transient faults, and a per-service adaptive
//! concurrency budget (see `budget`).

use crate::budget::{budgeted, Budget};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// API calls made, by `service:Operation`, attempts included.
#[derive(Clone, Debug, Default)]
pub struct CallCounter(Arc<Mutex<BTreeMap<String, u64>>>);

impl CallCounter {
    /// Calls made, every operation together.
    pub fn total(&self) -> u64 {
        self.0.lock().map(|m| m.values().sum()).unwrap_or(0)
    }
    /// Calls made, by `service:Operation`.
    pub fn by_operation(&self) -> BTreeMap<String, u64> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }
    /// Forget the calls counted so far.
    pub fn reset(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "cairn-call-counter"
    }

    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let key = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map(|m| format!("{}:{}", m.service(), m.name()))
            .unwrap_or_else(|| "unknown".into());
        if let Ok(mut m) = self.0.lock() {
            *m.entry(key).or_default() += 1;
        }
        Ok(())
    }
}

/// Forbids the SDK's retry of a call whose request may have reached AWS without an answer
/// (a timeout, a connection broken after sending). For creates AWS cannot deduplicate (no
/// client token, no unique name: a VPC, an Elastic IP), a blind re-send would make a second
/// object and orphan the first. The call fails as "outcome unknown" instead; its pending
/// record stays, and the next run finds what it made (after the in-flight window).
/// Throttling and 5xx answers are still retried: AWS answered, having done nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoBlindResend;

impl ClassifyRetry for NoBlindResend {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(e)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        let ambiguous = e.is_timeout_error()
            || e.is_response_error()
            || e.as_connector_error()
                .is_some_and(|c| c.is_timeout() || c.is_io() || c.is_other());
        if ambiguous {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "cairn-no-blind-resend"
    }
}

/// One client per service, sharing the counter and retry policy.
#[derive(Clone, Debug)]
pub struct Clients {
    /// Certificate Manager.
    pub acm: aws_sdk_acm::Client,
    /// EC2 (VPCs, subnets, security groups, gateways, routes).
    pub ec2: aws_sdk_ec2::Client,
    /// RDS.
    pub rds: aws_sdk_rds::Client,
    /// Elastic Load Balancing v2 (Application Load Balancers).
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    /// MSK (Managed Streaming for Apache Kafka).
    pub kafka: aws_sdk_kafka::Client,
    /// ElastiCache.
    pub elasticache: aws_sdk_elasticache::Client,
    /// Secrets Manager.
    pub secrets: aws_sdk_secretsmanager::Client,
    /// Counts every client's calls.
    pub counter: CallCounter,
    /// Each client's concurrency budget, one per service.
    pub budgets: Vec<Arc<Budget>>,
    /// The configuration's region, or `us-east-1` when it names none.
    pub region: String,
}

impl Clients {
    /// One client per service from `sdk`, with cairn's retry policy, the timeouts of `t`,
    /// the call counter and a concurrency budget for each.
    pub fn new(sdk: &aws_config::SdkConfig, t: &crate::CallTimeouts) -> Clients {
        let counter = CallCounter::default();
        // Throttling and transient 5xx: the SDK's standard strategy retries them with
        // exponential backoff and full jitter; a generous attempt count rides out bursts.
        let retry = RetryConfig::standard()
            .with_max_attempts(8)
            .with_initial_backoff(Duration::from_millis(50))
            .with_max_backoff(Duration::from_secs(5));
        // The caller's HTTP client if it configured one, else the SDK's default (rustls).
        let http = sdk.http_client().unwrap_or_else(|| {
            use aws_smithy_http_client::tls;
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .build_https()
        });
        // The attempt timeout is the budgeted connector's: it starts when a request leaves,
        // not while it waits for a slot (see `budget`).
        let timeouts = aws_smithy_types::timeout::TimeoutConfig::builder()
            .connect_timeout(t.connect)
            .disable_operation_attempt_timeout()
            .operation_timeout(t.call)
            .build();
        let mut budgets = Vec::new();
        macro_rules! client {
            ($krate:ident, $service:literal) => {{
                let budget = Budget::new($service);
                budgets.push(budget.clone());
                $krate::Client::from_conf(
                    $krate::config::Builder::from(sdk)
                        .retry_config(retry.clone())
                        .timeout_config(timeouts.clone())
                        .interceptor(counter.clone())
                        .http_client(budgeted(http.clone(), budget, t.attempt))
                        .build(),
                )
            }};
        }
        Clients {
            acm: client!(aws_sdk_acm, "acm"),
            ec2: client!(aws_sdk_ec2, "ec2"),
            rds: client!(aws_sdk_rds, "rds"),
            elbv2: client!(aws_sdk_elasticloadbalancingv2, "elasticloadbalancing"),
            kafka: client!(aws_sdk_kafka, "kafka"),
            elasticache: client!(aws_sdk_elasticache, "elasticache"),
            secrets: client!(aws_sdk_secretsmanager, "secretsmanager"),
            budgets,
            region: sdk
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".into()),
            counter,
        }
    }
}
