//! Each AWS service client's adaptive concurrency budget (the AIMD logic is the provider
//! kit's `budget`): an HTTP connector wrapper takes a slot for each attempt and tells the
//! budget which answers were throttling, in every AWS protocol's error shape. The SDK's
//! retry backoff happens outside the connector, so a call sleeping before its retry holds
//! no slot.
//!
//! The attempt timeout is kept here too, from the moment the request leaves, not by the
//! SDK: its timer would run while the request still waits for a slot, and an attempt that
//! timed out is one AWS may have acted on. A create AWS cannot deduplicate (an Elastic IP)
//! would then end "outcome unknown" without ever having been sent, and whenever throttling
//! shrinks a budget, the calls queued behind it time out as if the service had not
//! answered. The call timeout still counts the wait, so it still bounds how long after a
//! call began its request can reach AWS (the in-flight window).

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
pub use cairn_provider_kit::budget::{Budget, BudgetSnapshot};
use std::sync::Arc;
use std::time::Duration;

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

/// `base` with every attempt passing through `budget`, and given `attempt` to be answered
/// once it has a slot.
pub(crate) fn budgeted(
    base: SharedHttpClient,
    budget: Arc<Budget>,
    attempt: Duration,
) -> SharedHttpClient {
    aws_smithy_runtime_api::client::http::http_client_fn(move |settings, components| {
        SharedHttpConnector::new(Budgeted {
            inner: base.http_connector(settings, components),
            budget: budget.clone(),
            attempt,
        })
    })
}

#[derive(Debug)]
struct Budgeted {
    inner: SharedHttpConnector,
    budget: Arc<Budget>,
    attempt: Duration,
}

impl HttpConnector for Budgeted {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let budget = self.budget.clone();
        let attempt = self.attempt;
        let endpoint = endpoint_of(request.uri());
        HttpConnectorFuture::new(async move {
            let _slot = budget.acquire().await;
            // The clock starts as the request leaves, and stops at the answer's last byte.
            let answer = async {
                let mut response = inner
                    .call(request)
                    .await
                    .map_err(|e| crate::error::unreachable(budget.service(), &endpoint, e))?;
                // AWS's answers here are small documents: read each whole, so a body that
                // stalls half-way is caught by the same clock.
                let body = ByteStream::new(response.take_body())
                    .collect()
                    .await
                    .map(|b| b.into_bytes())
                    .map_err(|e| ConnectorError::io(e.into()))?;
                *response.body_mut() = SdkBody::from(body);
                Ok(response)
            };
            let response = match tokio::time::timeout(attempt, answer).await {
                Ok(answered) => answered?,
                Err(_) => {
                    return Err(crate::error::no_answer_within(
                        budget.service(),
                        &endpoint,
                        attempt,
                    ))
                }
            };
            let status = response.status().as_u16();
            if status < 400 {
                budget.succeeded();
                return Ok(response);
            }
            let header = response
                .headers()
                .get("x-amzn-ErrorType")
                .unwrap_or_default()
                .to_string();
            let body = response.body().bytes().unwrap_or_default();
            if status == 429 || is_throttle(&header) || is_throttle_body(body) {
                budget.throttled();
            } else {
                budget.succeeded();
            }
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
}
