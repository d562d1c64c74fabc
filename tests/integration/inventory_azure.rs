//! What a stack owns on the Azure emulator, read through Azure Resource Manager's own API
//! (not cairn's state): the top-level resources of its resource group with the address
//! their `cairn:resource` tag names; the role assignments on the vaults outside the stack
//! that a stack's gateways read certificates from (no tags: a grant is the stack's when its
//! principal is one of the stack's identities); and soft-deleted vaults the stack's tags
//! mark (a destroy purges them).

use crate::inventory::Owned;
use cairn_tests::Emulator;

fn get(e: &Emulator, path: &str, api: &str) -> Option<serde_json::Value> {
    let (status, body) = e.arm("GET", path, api, "");
    match status {
        200 => Some(serde_json::from_str(&body).unwrap_or_else(|err| panic!("{err}: {body}"))),
        404 => None,
        _ => panic!("GET {path}: {status} {body}"),
    }
}

fn tag(v: &serde_json::Value, key: &str) -> String {
    v["tags"][key].as_str().unwrap_or_default().to_string()
}

/// Every live object of `stack` in `subscription`; `vaults`: the ARM ids of the vaults
/// the stack's certificates are in.
pub fn owned(e: &Emulator, subscription: &str, stack: &str, vaults: &[String]) -> Vec<Owned> {
    let mut out = Vec::new();
    let group = format!("/subscriptions/{subscription}/resourceGroups/{stack}");
    let mut principals = Vec::new();
    if let Some(listed) = get(e, &format!("{group}/resources"), "2021-04-01") {
        for r in listed["value"].as_array().into_iter().flatten() {
            if tag(r, "cairn:stack") != stack {
                continue;
            }
            let id = r["id"].as_str().unwrap_or_default().to_string();
            if r["type"].as_str() == Some("Microsoft.ManagedIdentity/userAssignedIdentities") {
                if let Some(identity) = get(e, &id, "2023-01-31") {
                    principals.push(identity["properties"]["principalId"].clone());
                }
            }
            out.push(Owned {
                id,
                address: tag(r, "cairn:resource"),
                kind: "resource",
                token: tag(r, "cairn:token"),
            });
        }
    }
    for vault in vaults {
        let path = format!("{vault}/providers/Microsoft.Authorization/roleAssignments");
        for a in get(e, &path, "2022-04-01")
            .map(|v| v["value"].as_array().cloned().unwrap_or_default())
            .unwrap_or_default()
        {
            if principals.contains(&a["properties"]["principalId"])
                || a["properties"]["description"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("cairn:"))
            {
                out.push(Owned {
                    id: a["id"].as_str().unwrap_or_default().to_string(),
                    address: String::new(),
                    kind: "role assignment",
                    token: String::new(),
                });
            }
        }
    }
    let deleted = get(
        e,
        &format!("/subscriptions/{subscription}/providers/Microsoft.KeyVault/deletedVaults"),
        "2019-09-01",
    )
    .unwrap_or_default();
    for d in deleted["value"].as_array().into_iter().flatten() {
        if d["properties"]["tags"]["cairn:stack"] == stack {
            out.push(Owned {
                id: d["id"].as_str().unwrap_or_default().to_string(),
                address: String::new(),
                kind: "soft-deleted vault",
                token: String::new(),
            });
        }
    }
    out
}
