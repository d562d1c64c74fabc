//! AWS errors as cairn's `ProviderError`s: codes kept, messages naming the resource.

use aws_smithy_runtime_api::client::result::SdkError;
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

/// The code of an SDK error, when the service sent one.
pub(crate) fn code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<String> {
    match e {
        SdkError::ServiceError(s) => s.err().code().map(str::to_string),
        _ => None,
    }
}

pub(crate) fn is_not_found<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    code(e).is_some_and(|c| NOT_FOUND.contains(&c.as_str()))
}

/// Convert, naming `address`. Calls that may have reached AWS without an answer (timeouts,
/// dropped connections) are `Indeterminate`: their pending record stays for reconciliation.
pub(crate) fn convert<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
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
            if NOT_FOUND.contains(&code.as_str()) {
                return ProviderError::NotFound {
                    address: address.to_string(),
                };
            }
            if matches!(
                code.as_str(),
                "RequestLimitExceeded"
                    | "Throttling"
                    | "ThrottlingException"
                    | "TooManyRequestsException"
            ) || code.starts_with("Internal")
                || code == "ServiceUnavailable"
            {
                return ProviderError::Transient {
                    address: address.to_string(),
                    message: format!("{code}: {message}"),
                };
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
                message: format!(
                    "{}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ),
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
