//! Per-service concurrency that adapts to throttling.
//!
//! AWS throttles each service (and often each account and region) separately, so one global
//! cap is either too tight for EC2 describes or too loose for RDS mutations. Every service
//! client gets its own [`Budget`]: an HTTP connector wrapper takes a slot for each attempt,
//! and the limit follows AIMD, as TCP does: halve it when the service throttles, grow it by
//! one slot per limit's worth of clean answers. The SDK's retry backoff happens outside the
//! connector, so a call sleeping before its retry holds no slot.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a fresh budget starts, and the bounds it moves within.
const START: f64 = 16.0;
const MAX: f64 = 64.0;
const MIN: f64 = 1.0;
/// Throttles closer together than this come from one burst: one cut, not several.
const CUT_SPACING: Duration = Duration::from_millis(500);

/// Error codes AWS uses for throttling, across the query, EC2 and JSON protocols.
const THROTTLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "EC2ThrottledException",
];

/// One service's adaptive concurrency limit.
#[derive(Debug)]
pub struct Budget {
    service: &'static str,
    state: Mutex<State>,
    freed: tokio::sync::Notify,
}

#[derive(Debug)]
struct State {
    limit: f64,
    in_use: usize,
    peak_in_use: usize,
    lowest_limit: f64,
    throttled: u64,
    attempts: u64,
    last_cut: Option<Instant>,
}

/// A budget's figures at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetSnapshot {
    pub service: &'static str,
    /// Attempts allowed in flight now.
    pub limit: usize,
    pub in_use: usize,
    /// The most attempts seen in flight at once.
    pub peak_in_use: usize,
    /// The lowest the limit has been.
    pub lowest_limit: usize,
    /// Throttling answers seen.
    pub throttled: u64,
    pub attempts: u64,
}

impl Budget {
    pub fn new(service: &'static str) -> Arc<Budget> {
        Arc::new(Budget {
            service,
            state: Mutex::new(State {
                limit: START,
                in_use: 0,
                peak_in_use: 0,
                lowest_limit: START,
                throttled: 0,
                attempts: 0,
                last_cut: None,
            }),
            freed: tokio::sync::Notify::new(),
        })
    }

    pub fn snapshot(&self) -> BudgetSnapshot {
        let s = self.lock();
        BudgetSnapshot {
            service: self.service,
            limit: s.limit as usize,
            in_use: s.in_use,
            peak_in_use: s.peak_in_use,
            lowest_limit: s.lowest_limit as usize,
            throttled: s.throttled,
            attempts: s.attempts,
        }
    }

    /// Wait for a slot.
    pub async fn acquire(self: &Arc<Self>) -> Slot {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Register before checking, so a release between the check and the wait is seen.
            freed.as_mut().enable();
            {
                let mut s = self.lock();
                if (s.in_use as f64) < s.limit.floor() {
                    s.in_use += 1;
                    s.attempts += 1;
                    s.peak_in_use = s.peak_in_use.max(s.in_use);
                    return Slot(self.clone());
                }
            }
            freed.await;
        }
    }

    /// The service answered without throttling: additive increase.
    pub fn succeeded(&self) {
        let mut s = self.lock();
        s.limit = (s.limit + 1.0 / s.limit).min(MAX);
    }

    /// The service throttled: multiplicative decrease, once per burst.
    pub fn throttled(&self) {
        let mut s = self.lock();
        s.throttled += 1;
        let now = Instant::now();
        if s.last_cut
            .is_none_or(|t| now.duration_since(t) >= CUT_SPACING)
        {
            s.limit = (s.limit / 2.0).max(MIN);
            s.lowest_limit = s.lowest_limit.min(s.limit);
            s.last_cut = Some(now);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is plain numbers, valid after any panic: recover from poisoning.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One attempt's slot; released on drop.
#[derive(Debug)]
pub struct Slot(Arc<Budget>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.lock().in_use -= 1;
        self.0.freed.notify_waiters();
    }
}

/// `scheme://host:port` of a request's URI, for messages.
fn endpoint_of(uri: &str) -> String {
    match uri.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?']).next().unwrap_or(rest);
            format!("{scheme}://{host}")
        }
        None => uri.to_string(),
    }
}

/// `base` with every attempt passing through `budget`.
pub(crate) fn budgeted(base: SharedHttpClient, budget: Arc<Budget>) -> SharedHttpClient {
    aws_smithy_runtime_api::client::http::http_client_fn(move |settings, components| {
        SharedHttpConnector::new(Budgeted {
            inner: base.http_connector(settings, components),
            budget: budget.clone(),
        })
    })
}

#[derive(Debug)]
struct Budgeted {
    inner: SharedHttpConnector,
    budget: Arc<Budget>,
}

impl HttpConnector for Budgeted {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let budget = self.budget.clone();
        let endpoint = endpoint_of(request.uri());
        HttpConnectorFuture::new(async move {
            let _slot = budget.acquire().await;
            let mut response = inner
                .call(request)
                .await
                .map_err(|e| crate::error::unreachable(budget.service, &endpoint, e))?;
            let status = response.status().as_u16();
            if status < 400 {
                budget.succeeded();
                return Ok(response);
            }
            // Error bodies are small: read this one to find the code, then hand it on.
            let body = ByteStream::new(response.take_body())
                .collect()
                .await
                .map(|b| b.into_bytes())
                .unwrap_or_default();
            let header = response
                .headers()
                .get("x-amzn-ErrorType")
                .unwrap_or_default()
                .to_string();
            if status == 429 || is_throttle(&header) || is_throttle_body(&body) {
                budget.throttled();
            } else {
                budget.succeeded();
            }
            *response.body_mut() = SdkBody::from(body);
            Ok(response)
        })
    }
}

fn is_throttle(code: &str) -> bool {
    let code = code.split(':').next().unwrap_or_default();
    THROTTLE_CODES.contains(&code)
}

/// Finds `<Code>X</Code>` (query and EC2 protocols) or `"__type":"X"`/`"code":"X"` (JSON).
fn is_throttle_body(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    THROTTLE_CODES.iter().any(|code| {
        text.contains(&format!("<Code>{code}</Code>"))
            || text.contains(&format!("\"{code}\""))
            || text.contains(&format!("#{code}\""))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_codes_are_found_in_every_protocol_shape() {
        assert!(is_throttle_body(
            b"<Response><Errors><Error><Code>RequestLimitExceeded</Code></Error></Errors></Response>"
        ));
        assert!(is_throttle_body(
            b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code></Error></ErrorResponse>"
        ));
        assert!(is_throttle_body(
            br#"{"__type":"com.amazonaws#ThrottlingException","message":"Rate exceeded"}"#
        ));
        assert!(is_throttle(
            "TooManyRequestsException:http://internal.amazon.com/"
        ));
        assert!(!is_throttle_body(
            b"<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code></Error></Errors></Response>"
        ));
        assert!(!is_throttle_body(
            br#"{"__type":"ThrottlingExceptionLookalike"}"#
        ));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_limit_halves_on_throttling_and_grows_back() {
        let b = Budget::new("test");
        b.throttled();
        assert_eq!(b.snapshot().limit, 8);
        // A second throttle from the same burst does not cut again.
        b.throttled();
        assert_eq!(b.snapshot().limit, 8);
        assert_eq!(b.snapshot().throttled, 2);
        for _ in 0..200 {
            b.succeeded();
        }
        assert!(b.snapshot().limit > 16, "{:?}", b.snapshot());
        assert_eq!(b.snapshot().lowest_limit, 8);
        // Slots beyond the limit wait until one is released.
        b.lock().limit = 1.0;
        let first = b.acquire().await;
        let waiting = tokio::spawn({
            let b = b.clone();
            async move { b.acquire().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(first);
        let second = waiting.await.unwrap();
        assert_eq!(b.snapshot().in_use, 1);
        drop(second);
        assert_eq!(b.snapshot().peak_in_use, 1);
    }
}
