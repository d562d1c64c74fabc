//! Google API errors as cairn's provider errors.

use cairn_core::provider::ProviderError;
use google_cloud_gax::error::rpc::StatusDetails;

pub(crate) type GaxError = google_cloud_gax::error::Error;

/// Compute's `errors[].reason` (`notFound`, `alreadyExists`, `resourceInUseByAnotherResource`),
/// or the canonical status name when there is none.
pub(crate) fn reason(e: &GaxError) -> Option<String> {
    let status = e.status()?;
    status
        .details
        .iter()
        .find_map(|d| match d {
            StatusDetails::ErrorInfo(i) if !i.reason.is_empty() => Some(i.reason.clone()),
            _ => None,
        })
        .or_else(|| Some(format!("{:?}", status.code)))
}

pub(crate) fn is_not_found(e: &GaxError) -> bool {
    e.http_status_code() == Some(404)
}

pub(crate) fn is_conflict(e: &GaxError) -> bool {
    e.http_status_code() == Some(409)
}

/// A refusal names its reason and Google's message; throttling and unavailability are
/// transient; a call whose answer was lost may have taken effect.
pub(crate) fn convert(address: &str, e: GaxError) -> ProviderError {
    let address = address.to_string();
    match e.http_status_code() {
        Some(404) => ProviderError::NotFound { address },
        Some(429) | Some(500) | Some(502) | Some(503) | Some(504) => ProviderError::Transient {
            address,
            message: message(&e),
        },
        Some(_) => ProviderError::Api {
            address,
            code: reason(&e).unwrap_or_else(|| "Unknown".into()),
            message: message(&e),
        },
        None if e.is_connect() => ProviderError::Transient {
            address,
            message: format!("cannot reach GCP: {e}"),
        },
        None => ProviderError::Indeterminate {
            address,
            message: format!("no answer from GCP: {e}"),
        },
    }
}

fn message(e: &GaxError) -> String {
    e.status()
        .map(|s| s.message.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| e.to_string())
}
