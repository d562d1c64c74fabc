//! Each AWS service client's adaptive concurrency budget (the AIMD logic is the provider
//! kit's `budget`): an HTTP connector wrapper takes a slot for each attempt and tells the
//! budget which answers were throttling, in every AWS protocol's error shape. The SDK's
//! retry backoff happens outside the connector, so a call sleeping before its retry holds
//! no slot.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
pub use cairn_provider_kit::budget::{Budget, BudgetSnapshot};
use std::sync::Arc;

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
                .map_err(|e| crate::error::unreachable(budget.service(), &endpoint, e))?;
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
}
