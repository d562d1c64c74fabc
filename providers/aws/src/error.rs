//! AWS errors as cairn's `ProviderError`s: codes kept, messages naming the resource.

use aws_smithy_runtime_api::client::result::{ConnectorError, SdkError};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use cairn_core::provider::ProviderError;

/// Error codes that mean "that object does not exist" across the services cairn uses.
const NOT_FOUND: &[&str] = &[
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidGroup.NotFound",
    "InvalidInternetGatewayID.NotFound",
    "InvalidRouteTableID.NotFound",
    "InvalidRoute.NotFound",
    "InvalidAssociationID.NotFound",
    "InvalidAllocationID.NotFound",
    "NatGatewayNotFound",
    "InvalidNatGatewayID.NotFound",
    "InvalidVpcEndpointId.NotFound",
    "InvalidSecurityGroupRuleId.NotFound",
    "InvalidPermission.NotFound",
    "ResourceNotFoundException",
    "DBInstanceNotFound",
    "DBSubnetGroupNotFoundFault",
    "DBParameterGroupNotFound",
    "LoadBalancerNotFound",
    "TargetGroupNotFound",
    "ListenerNotFound",
    "RuleNotFound",
    "CacheSubnetGroupNotFoundFault",
    "ReplicationGroupNotFoundFault",
    "NotFoundException",
];

/// A request that never got an answer, said the way a person needs it: which service, at
/// which endpoint, and what happened ("connection refused"), instead of the SDK's
/// `DispatchFailure { .. }`.
#[derive(Debug)]
pub(crate) struct Unreachable {
    service: &'static str,
    endpoint: String,
    cause: String,
    source: ConnectorError,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "could not reach {} at {}: {}",
            self.service, self.endpoint, self.cause
        )
    }
}

impl std::error::Error for Unreachable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Wrap a connector failure with the service and endpoint it was for, keeping its kind
/// (the SDK decides retries by it).
pub(crate) fn unreachable(
    service: &'static str,
    endpoint: &str,
    e: ConnectorError,
) -> ConnectorError {
    let cause = cause_of(&e);
    let (io, timeout, user, other) = (e.is_io(), e.is_timeout(), e.is_user(), e.as_other());
    let refused = cause == "connection refused";
    let wrapped: aws_smithy_runtime_api::box_error::BoxError = Box::new(Unreachable {
        service,
        endpoint: endpoint.to_string(),
        cause,
        source: e,
    });
    let out = if timeout {
        ConnectorError::timeout(wrapped)
    } else if io {
        ConnectorError::io(wrapped)
    } else if user {
        ConnectorError::user(wrapped)
    } else {
        ConnectorError::other(wrapped, other)
    };
    if refused {
        out.never_connected()
    } else {
        out
    }
}

/// An attempt that was sent and got no whole answer in time: AWS may have acted on it.
#[derive(Debug)]
pub(crate) struct NoAnswer {
    service: &'static str,
    endpoint: String,
    after: std::time::Duration,
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at {} sent no answer within {:?}",
            self.service, self.endpoint, self.after
        )
    }
}

impl std::error::Error for NoAnswer {}

/// The connector's error for an attempt sent to `service` at `endpoint` and not answered
/// within `after`: a timeout, which the SDK retries when the call may be sent again.
pub(crate) fn no_answer_within(
    service: &'static str,
    endpoint: &str,
    after: std::time::Duration,
) -> ConnectorError {
    ConnectorError::timeout(Box::new(NoAnswer {
        service,
        endpoint: endpoint.to_string(),
        after,
    }))
}

/// The most telling words for why a connection failed.
fn cause_of(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut last = e.to_string();
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => "connection reset".into(),
                std::io::ErrorKind::TimedOut => "timed out".into(),
                _ => io.to_string(),
            };
        }
        last = err.to_string();
        cur = err.source();
    }
    if e.downcast_ref::<ConnectorError>()
        .is_some_and(|c| c.is_timeout())
    {
        return format!("timed out ({last})");
    }
    last
}

/// The person-readable words of an SDK error that got no answer.
fn no_answer<E: std::error::Error + 'static, R: std::fmt::Debug + 'static>(
    e: &SdkError<E, R>,
) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(u) = err.downcast_ref::<Unreachable>() {
            return u.to_string();
        }
        if let Some(n) = err.downcast_ref::<NoAnswer>() {
            return n.to_string();
        }
        cur = err.source();
    }
    // Each error's own words, outermost first (the SDK's context form ends in Debug dumps).
    let mut words: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let w = err.to_string();
        if !w.is_empty() && words.last() != Some(&w) {
            words.push(w);
        }
        cur = err.source();
    }
    let said = words.join(": ");
    match e {
        SdkError::TimeoutError(_) => format!("no answer in time: {said}"),
        _ => said,
    }
}

/// The code of an SDK error, when the service sent one.
pub(crate) fn code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<String> {
    match e {
        SdkError::ServiceError(s) => s.err().code().map(str::to_string),
        _ => None,
    }
}

/// The kit's class of an SDK error, by AWS's codes.
pub(crate) fn class<E: ProvideErrorMetadata, R>(
    e: &SdkError<E, R>,
) -> cairn_provider_kit::retry::ErrorClass {
    use cairn_provider_kit::retry::ErrorClass;
    let Some(code) = code(e) else {
        return ErrorClass::Other;
    };
    match code.as_str() {
        c if NOT_FOUND.contains(&c) => ErrorClass::NotFound,
        "DependencyViolation"
        | "InvalidDBSubnetGroupStateFault"
        | "InvalidDBParameterGroupState"
        | "CacheSubnetGroupInUse"
        | "ResourceInUse" => ErrorClass::InUse,
        c if c.contains("AlreadyExists")
            || c.starts_with("Duplicate")
            || c.ends_with(".Duplicate")
            || c == "ResourceExistsException"
            || c == "RouteAlreadyExists"
            || c == "Resource.AlreadyAssociated" =>
        {
            ErrorClass::AlreadyExists
        }
        "RequestLimitExceeded"
        | "Throttling"
        | "ThrottlingException"
        | "TooManyRequestsException"
        | "ServiceUnavailable" => ErrorClass::Transient,
        c if c.starts_with("Internal") => ErrorClass::Transient,
        _ => ErrorClass::Other,
    }
}

pub(crate) fn is_not_found<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    code(e).is_some_and(|c| NOT_FOUND.contains(&c.as_str()))
}

/// Convert, naming `address`. Calls that may have reached AWS without an answer (timeouts,
/// dropped connections) are `Indeterminate`: their pending record stays for reconciliation.
pub(crate) fn convert<
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
>(
    address: &str,
    e: SdkError<E, R>,
) -> ProviderError {
    match &e {
        SdkError::ServiceError(s) => {
            let code = s.err().code().unwrap_or("Unknown").to_string();
            // Without a code or message, the SDK's own description says what went wrong
            // (an unparsable answer, say); never hide it behind "Unknown".
            let message = match s.err().message() {
                Some(m) if !m.is_empty() => m.to_string(),
                _ => format!(
                    "{}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ),
            };
            match class(&e) {
                cairn_provider_kit::retry::ErrorClass::NotFound => {
                    return ProviderError::NotFound {
                        address: address.to_string(),
                    }
                }
                cairn_provider_kit::retry::ErrorClass::Transient => {
                    return ProviderError::Transient {
                        address: address.to_string(),
                        message: format!("{code}: {message}"),
                    }
                }
                _ => {}
            }
            ProviderError::Api {
                address: address.to_string(),
                code,
                message,
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ProviderError::Indeterminate {
                address: address.to_string(),
                message: no_answer(&e),
            }
        }
        _ => ProviderError::Api {
            address: address.to_string(),
            code: "ClientError".into(),
            message: format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            ),
        },
    }
}
