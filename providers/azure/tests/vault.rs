//! Key Vault's soft delete as a stack meets it: a vault kept after a destroy holds its name,
//! and the next apply of the stack recovers it (its secrets back with it) or purges it, as
//! the stack says; a deleted vault of anyone else's is refused, naming it, never purged.

use crate::support::{Azure, SUBSCRIPTION, TENANT};
use cairn_core::plan::planner::PlanOptions;
use cairn_core::plan::PlanMode;
use cairn_core::prelude::*;

fn stack(name: &str, purge_on_destroy: bool, on_soft_deleted: &str) -> Stack {
    let mut s = Stack::new(name);
    s.add(
        "api-key",
        Secret::given("Api-Key-Value-1")
            .override_for("azure", "purge_on_destroy", purge_on_destroy)
            .override_for("azure", "on_soft_deleted", on_soft_deleted),
    );
    s
}

fn destroy() -> PlanOptions {
    PlanOptions {
        mode: PlanMode::Destroy,
        refresh: true,
        ..Default::default()
    }
}

/// The vault's secrets' names, through the management plane.
fn secrets(az: &Azure, stack: &str) -> Vec<String> {
    let (status, body) = az.arm(
        "GET",
        &format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{stack}/providers/Microsoft.KeyVault/vaults/kv-{stack}/secrets"),
        "2019-09-01",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect()
}

/// How many calls of `operation` the emulator logged on a path ending with `path`.
fn calls(az: &Azure, operation: &str, path: &str) -> usize {
    let log: serde_json::Value = serde_json::from_str(&az.guard.emulator().calls()).unwrap();
    log.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["operation"] == operation && c["path"].as_str().unwrap().ends_with(path))
        .count()
}

#[test]
fn a_kept_vault_is_recovered_with_its_secrets_or_purged_as_the_stack_says() {
    let az = Azure::new();
    let engine = cairn_provider_kit::lifecycle::Harness::engine(&az, "vault.json");
    let kept = stack("acc-kv", false, "recover");
    az.apply(&engine, &kept, PlanOptions::default());
    az.apply(&engine, &kept, destroy());
    assert_eq!(az.deleted_vaults("acc-kv"), 1, "kept, its name held");
    // The next apply recovers it: the secret comes back with it and is adopted, not made.
    az.apply(&engine, &kept, PlanOptions::default());
    assert_eq!(az.deleted_vaults("acc-kv"), 0);
    assert_eq!(secrets(&az, "acc-kv"), vec!["api-key".to_string()]);
    assert_eq!(
        calls(&az, "Vaults_GetDeleted", "/deletedVaults/kv-acc-kv"),
        2,
        "each create looked for a deleted namesake"
    );
    // Told to purge, the next apply after a kept destroy starts from an empty vault.
    az.apply(&engine, &kept, destroy());
    let purging = stack("acc-kv", true, "purge");
    az.apply(&engine, &purging, PlanOptions::default());
    assert_eq!(
        calls(&az, "Vaults_PurgeDeleted", "/deletedVaults/kv-acc-kv/purge"),
        1
    );
    assert_eq!(secrets(&az, "acc-kv"), vec!["api-key".to_string()]);
    az.apply(&engine, &purging, destroy());
    assert_eq!(az.deleted_vaults("acc-kv"), 0, "purged on destroy");
    assert_eq!(az.group_contents("acc-kv"), (false, 0));
}

#[test]
fn a_deleted_vault_of_another_owner_is_refused_by_name_and_left_alone() {
    let az = Azure::new();
    let group = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/elsewhere");
    let (status, body) = az.arm("PUT", &group, "2021-04-01", r#"{"location": "westeurope"}"#);
    assert!(matches!(status, 200 | 201), "{body}");
    let vault = format!("{group}/providers/Microsoft.KeyVault/vaults/kv-acc-kv-foreign");
    let body = format!(
        r#"{{"location": "westeurope", "tags": {{"cairn:stack": "someone-else", "cairn:resource": "azure_key_vault.stack"}},
            "properties": {{"tenantId": "{TENANT}", "sku": {{"family": "A", "name": "standard"}}, "accessPolicies": []}}}}"#
    );
    let (status, answer) = az.arm("PUT", &vault, "2019-09-01", &body);
    assert!(matches!(status, 200 | 201), "{answer}");
    let (status, answer) = az.arm("DELETE", &vault, "2019-09-01", "");
    assert_eq!(status, 200, "{answer}");
    let engine = cairn_provider_kit::lifecycle::Harness::engine(&az, "foreign.json");
    let s = stack("acc-kv-foreign", true, "purge");
    let report = az.rt.block_on(async {
        let plan = engine.plan(&s, &PlanOptions::default()).await.unwrap();
        engine
            .apply(&plan, &cairn_core::apply::ApplyOptions::default())
            .await
            .unwrap()
    });
    assert!(!report.is_success());
    let said = report.to_string();
    assert!(
        said.contains("kv-acc-kv-foreign") && said.contains("someone-else"),
        "{said}"
    );
    assert_eq!(
        az.deleted_vaults("someone-else"),
        1,
        "another owner's deleted vault is never purged"
    );
}

/// A destroy killed between a vault's delete and its purge leaves a soft-deleted vault the
/// re-run reads as gone. The group's delete, which ends every destroy, purges it (and only
/// it: a vault the stack keeps on destroy stays held, as the test above shows).
#[test]
fn a_vault_a_killed_destroy_left_soft_deleted_is_purged_with_its_group() {
    let az = Azure::new();
    let engine = cairn_provider_kit::lifecycle::Harness::engine(&az, "left.json");
    let s = stack("acc-kvl", true, "purge");
    az.apply(&engine, &s, PlanOptions::default());
    // What the killed run did: the vault's delete, and no purge.
    let (status, body) = az.arm(
        "DELETE",
        &format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/acc-kvl/providers/Microsoft.KeyVault/vaults/kv-acc-kvl"),
        "2019-09-01",
        "",
    );
    assert!(status == 200 || status == 202, "{status} {body}");
    assert_eq!(az.deleted_vaults("acc-kvl"), 1);
    az.apply(&engine, &s, destroy());
    assert_eq!(az.deleted_vaults("acc-kvl"), 0, "purged with the group");
    assert_eq!(az.group_contents("acc-kvl"), (false, 0));
}
