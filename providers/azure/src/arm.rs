//! What every Azure resource type shares: ARM ids, tags (ownership marks beside the
//! user's), and the wait for a long-running operation.
//!
//! ARM's long-running operations: a PUT, PATCH or DELETE that the resource provider does
//! not finish at once answers 201/202 with an `Azure-AsyncOperation` URL (an operation
//! resource whose `status` goes `InProgress` → `Succeeded` / `Failed` / `Canceled`) or a
//! `Location` URL (202 until done, then 200/204). The management crates' own waiting sleeps
//! 30 s whenever an answer lacks `Retry-After` and cannot be bounded or reported, so cairn
//! sends each request with `send()` and polls the URL itself, through the kit's waiter
//! (which gives the call's engine slot back while it waits).

use crate::error::{convert, AzError};
use crate::Ctx;
use azure_core::headers::{HeaderName, Headers};
use cairn_core::ownership::{is_reserved_key, Ownership};
use cairn_core::provider::{Progress, ProviderError};
use cairn_core::value::{Attrs, Text, Value};
use cairn_provider_kit::ownership::{Encoding, Owner};
use cairn_provider_kit::wait::{self, Poll};
use std::time::Duration;

const ASYNC_OPERATION: HeaderName = HeaderName::from_static("azure-asyncoperation");
const LOCATION: HeaderName = HeaderName::from_static("location");

/// A string attribute, or empty.
pub(crate) fn s<'a>(a: &'a Attrs, k: &str) -> &'a str {
    a.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// A list-of-strings attribute (absent: empty).
pub(crate) fn strings(a: &Attrs, k: &str) -> Vec<String> {
    match a.get(k) {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn str_list(items: impl IntoIterator<Item = impl AsRef<str>>) -> Value {
    Value::List(items.into_iter().map(|i| Value::str(i.as_ref())).collect())
}

/// The last segment of an ARM id (a name).
pub(crate) fn last(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// The resource group an ARM id is in (`/subscriptions/S/resourceGroups/G/...`).
pub(crate) fn group_of(id: &str) -> Option<&str> {
    let mut parts = id.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("resourceGroups") {
            return parts.next();
        }
    }
    None
}

/// A management crate's model from JSON as ARM spells it: the crates' enums take their
/// wire names, so bodies are written as the REST API documents them.
pub(crate) fn model<T: serde::de::DeserializeOwned>(
    address: &str,
    body: serde_json::Value,
) -> Result<T, ProviderError> {
    serde_json::from_value(body).map_err(|e| ProviderError::Api {
        address: address.to_string(),
        code: "InvalidBody".into(),
        message: format!("cairn could not build the request body: {e}"),
    })
}

/// A management crate's model as the JSON ARM answered (its wire names), for reading
/// fields without the crate's nested option types.
pub(crate) fn json_of<T: serde::Serialize>(x: &T) -> serde_json::Value {
    serde_json::to_value(x).unwrap_or_default()
}

/// The string at `v[path...]`, or empty.
pub(crate) fn jstr<'a>(v: &'a serde_json::Value, path: &[&str]) -> &'a str {
    path.iter()
        .fold(v, |v, k| &v[*k])
        .as_str()
        .unwrap_or_default()
}

/// A model's field as ARM spells it (an enum's wire name), or empty.
pub(crate) fn wire<T: serde::Serialize>(v: &Option<T>) -> String {
    v.as_ref()
        .and_then(|v| serde_json::to_value(v).ok())
        .map(|v| match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        })
        .unwrap_or_default()
}

// --- tags ----------------------------------------------------------------------------------

/// The tags a resource is sent with: cairn's marks (stack, address and, on create, the
/// token) and the user's `tags` attribute.
pub(crate) fn tags(
    stack: &str,
    address: &str,
    token: Option<&str>,
    a: &Attrs,
) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    if let Some(Value::Map(m)) = a.get("tags") {
        for (k, v) in m {
            out.insert(
                k.to_string(),
                serde_json::Value::String(v.as_str().unwrap_or_default().to_string()),
            );
        }
    }
    for (k, v) in Encoding::Tags.marks(&Ownership {
        stack,
        address,
        token,
    }) {
        out.insert(k, serde_json::Value::String(v));
    }
    serde_json::Value::Object(out)
}

pub(crate) fn tag_pairs(tags: Option<&serde_json::Value>) -> Vec<(&str, &str)> {
    match tags {
        Some(serde_json::Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The user's tags of a resource (cairn's marks left out), as the `tags` attribute.
pub(crate) fn user_tags(tags: Option<&serde_json::Value>) -> Value {
    Value::Map(
        tag_pairs(tags)
            .into_iter()
            .filter(|(k, _)| !is_reserved_key(k))
            .map(|(k, v)| (Text::from(k), Value::str(v)))
            .collect::<Attrs>(),
    )
}

/// Whose a resource is, by its tags.
pub(crate) fn owner(stack: &str, address: &str, tags: Option<&serde_json::Value>) -> Owner {
    Encoding::Tags.owner(stack, address, tag_pairs(tags))
}

// --- long-running operations -------------------------------------------------------------

/// Wait for what a PUT, PATCH or DELETE started, from its answer's headers: the operation
/// at `Azure-AsyncOperation` (or `Location`) polled until it ends; nothing to wait for
/// when the answer names neither.
pub(crate) async fn finish(
    ctx: &Ctx,
    address: &str,
    what: &str,
    progress: &Progress,
    headers: &Headers,
    timeout: Duration,
) -> Result<(), ProviderError> {
    if let Some(url) = headers.get_optional_string(&ASYNC_OPERATION) {
        return wait::until(
            address,
            what,
            progress,
            timeout,
            ctx.options.first_poll,
            || {
                let url = url.clone();
                async move {
                    let rsp = ctx.c.get_url(&url).await.map_err(|e| convert(address, e))?;
                    let body: serde_json::Value =
                        rsp.json().await.map_err(|e| convert(address, e))?;
                    operation_status(address, what, &body)
                }
            },
        )
        .await;
    }
    if let Some(url) = headers.get_optional_string(&LOCATION) {
        return wait::until(
            address,
            what,
            progress,
            timeout,
            ctx.options.first_poll,
            || {
                let url = url.clone();
                async move {
                    let rsp = ctx.c.get_url(&url).await.map_err(|e| convert(address, e))?;
                    Ok(match u16::from(rsp.status()) {
                        202 => Poll::Pending("InProgress".into()),
                        _ => Poll::Ready(()),
                    })
                }
            },
        )
        .await;
    }
    Ok(())
}

/// An operation resource's `status` as a poll; a failure names ARM's code and message.
fn operation_status(
    address: &str,
    what: &str,
    body: &serde_json::Value,
) -> Result<Poll<()>, ProviderError> {
    let status = body["status"].as_str().unwrap_or("InProgress");
    match status {
        "Succeeded" => Ok(Poll::Ready(())),
        "Failed" | "Canceled" => Err(ProviderError::Api {
            address: address.to_string(),
            code: body["error"]["code"].as_str().unwrap_or(status).to_string(),
            message: format!(
                "{what}: {}",
                body["error"]["message"]
                    .as_str()
                    .unwrap_or("the operation ended without success")
            ),
        }),
        other => Ok(Poll::Pending(other.to_string())),
    }
}

/// Wait until a resource found mid-operation (adopted after a crash, or still settling)
/// reaches `Succeeded`: `state()` reads its `provisioningState` (none: gone).
pub(crate) async fn settled<F, Fut>(
    ctx: &Ctx,
    address: &str,
    what: &str,
    progress: &Progress,
    state: F,
) -> Result<(), ProviderError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, ProviderError>>,
{
    wait::until(
        address,
        what,
        progress,
        ctx.options.create_timeout,
        ctx.options.first_poll,
        || async {
            Ok(match state().await?.as_deref() {
                None => Poll::Failed("gone while being created".into()),
                Some("Succeeded") => Poll::Ready(()),
                Some(s @ ("Failed" | "Canceled")) => Poll::Failed(s.to_string()),
                Some(s) => Poll::Pending(s.to_string()),
            })
        },
    )
    .await
}

/// A GET's outcome: the resource, none when ARM answers 404, or the error.
pub(crate) fn found<T>(address: &str, r: Result<T, AzError>) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if crate::error::is_not_found(&e) => Ok(None),
        Err(e) => Err(convert(address, e)),
    }
}
