//! Azure Resource Manager errors as cairn's provider errors.
//!
//! ARM answers a refusal as `{"error": {"code", "message"}}` with an HTTP status; the
//! management crates keep both (`azure_core::error::HttpError`). Throttling (429) and
//! server faults are transient; a call that got no answer (a timeout, a dropped
//! connection) may have taken effect, so it is indeterminate and core keeps its pending
//! record.

use azure_core::error::ErrorKind;
use cairn_core::provider::ProviderError;

pub(crate) type AzError = azure_core::Error;

/// The HTTP status of an ARM answer, when there was one.
pub(crate) fn status(e: &AzError) -> Option<u16> {
    match e.kind() {
        ErrorKind::HttpResponse { status, .. } => Some(u16::from(*status)),
        _ => None,
    }
}

/// ARM's error code (`ResourceNotFound`, `InUseSubnetCannotBeDeleted`, ...), when given.
pub(crate) fn code(e: &AzError) -> Option<String> {
    if let Some(h) = e.as_http_error() {
        if let Some(c) = h.error_code() {
            return Some(c.to_string());
        }
    }
    match e.kind() {
        ErrorKind::HttpResponse { error_code, .. } => error_code.clone(),
        _ => None,
    }
}

pub(crate) fn is_not_found(e: &AzError) -> bool {
    status(e) == Some(404)
}

/// Refused because another resource still uses this one (ARM's `InUse…` codes, or a 409
/// while a dependent operation runs).
pub(crate) fn is_in_use(e: &AzError) -> bool {
    code(e).is_some_and(|c| {
        c.starts_with("InUse")
            || c.ends_with("InUseByAnotherResource")
            || c == "AnotherOperationInProgress"
    })
}

fn message(e: &AzError) -> String {
    e.as_http_error()
        .and_then(|h| h.error_message().map(str::to_string))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| e.to_string())
}

/// A refusal names ARM's code and message; throttling and server faults are transient; a
/// call whose answer was lost may have taken effect.
pub(crate) fn convert(address: &str, e: AzError) -> ProviderError {
    let address = address.to_string();
    match status(&e) {
        Some(404) => ProviderError::NotFound { address },
        Some(408) | Some(429) | Some(500) | Some(502) | Some(503) | Some(504) => {
            ProviderError::Transient {
                address,
                message: format!(
                    "{}: {}",
                    code(&e).unwrap_or_else(|| "Unavailable".into()),
                    message(&e)
                ),
            }
        }
        Some(_) => ProviderError::Api {
            address,
            code: code(&e).unwrap_or_else(|| "Unknown".into()),
            message: message(&e),
        },
        None if matches!(e.kind(), ErrorKind::DataConversion) => ProviderError::Api {
            address,
            code: "UnreadableAnswer".into(),
            message: format!("Azure's answer could not be read: {e}"),
        },
        None if matches!(e.kind(), ErrorKind::Credential) => ProviderError::Api {
            address,
            code: "NoCredential".into(),
            message: format!("no Azure token: {e}"),
        },
        None => ProviderError::Indeterminate {
            address,
            message: format!("no answer from Azure: {e}"),
        },
    }
}
