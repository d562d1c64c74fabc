//! Secret Manager secrets: the kit's lifecycle suite (labels and description in place, a
//! new value as a new version, a secret deleted out of band, destroy counted through the
//! API); a value changed behind cairn's back seen as drift; a secret a dead run created
//! without its value adopted and given one; someone else's secret of the same id refused.

use crate::support::{Gcp, PROJECT};
use cairn_core::apply::ApplyOptions;
use cairn_core::plan::planner::PlanOptions;
use cairn_core::plan::Action;
use cairn_core::prelude::*;
use cairn_provider_kit::lifecycle::{Case, Harness};

fn stack(name: &str, value: &str, team: &str, description: &str) -> Stack {
    let mut s = Stack::new(name);
    s.add(
        "api-key",
        Secret::given(value)
            .description(description)
            .tag("team", team),
    );
    s
}

/// The stack's secrets Secret Manager still lists (by cairn's label).
fn listed(gcp: &Gcp, stack: &str) -> Vec<serde_json::Value> {
    let (status, body) = gcp.rest(
        "GET",
        &format!("/v1/projects/{PROJECT}/secrets?filter=labels.cairn-stack%3D{stack}"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["secrets"].as_array().cloned().unwrap_or_default()
}

/// The secret's latest value, through the REST API.
fn latest(gcp: &Gcp, secret_id: &str) -> String {
    let (status, body) = gcp.rest(
        "GET",
        &format!("/v1/projects/{PROJECT}/secrets/{secret_id}/versions/latest:access"),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let data = v["payload"]["data"].as_str().unwrap();
    String::from_utf8(base64_decode(data)).unwrap()
}

pub fn base64_decode(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = alphabet.iter().position(|a| *a == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

fn refreshed() -> PlanOptions {
    PlanOptions {
        refresh: true,
        ..PlanOptions::default()
    }
}

fn plan_and_apply(gcp: &Gcp, engine: &cairn_core::Engine, s: &Stack) -> cairn_core::plan::Plan {
    gcp.rt.block_on(async {
        let plan = engine.plan(s, &refreshed()).await.unwrap();
        let report = engine.apply(&plan, &ApplyOptions::default()).await.unwrap();
        assert!(report.is_success(), "{report}");
        plan
    })
}

#[test]
fn secrets_through_the_lifecycle_suite() {
    let gcp = Gcp::new();
    let report = gcp.lifecycle(Case {
        name: "gcp-secret",
        stack: stack("acc-sec", "first-value-1", "payments", "the API key"),
        creates: vec!["gcp_secret_manager_secret"],
        write_only: vec![],
        updates: vec![
            (
                stack("acc-sec", "first-value-1", "billing", "the API key"),
                "gcp_secret_manager_secret.api-key",
            ),
            (
                stack("acc-sec", "first-value-1", "billing", "the partner API key"),
                "gcp_secret_manager_secret.api-key",
            ),
            (
                stack(
                    "acc-sec",
                    "second-value-2",
                    "billing",
                    "the partner API key",
                ),
                "gcp_secret_manager_secret.api-key",
            ),
        ],
        replace: None,
        delete_out_of_band: Some((
            vec!["gcp_secret_manager_secret.api-key"],
            Box::new(|id| {
                let (status, body) = gcp.rest("DELETE", &format!("/v1/{id}"), "");
                assert_eq!(status, 200, "{body}");
                Box::pin(async {})
            }),
        )),
        remaining: Box::new(|_| {
            let n = listed(&gcp, "acc-sec").len();
            Box::pin(async move { n })
        }),
    });
    assert_eq!((report.updated, report.recreated), (3, 1), "{report:?}");
}

#[test]
fn a_value_changed_behind_cairns_back_is_drift_and_is_repaired() {
    let gcp = Gcp::new();
    let engine = gcp.engine("drift.json");
    let s = stack("acc-sec-drift", "s3cret-value-9", "ops", "");
    plan_and_apply(&gcp, &engine, &s);
    let secrets = listed(&gcp, "acc-sec-drift");
    assert_eq!(secrets.len(), 1, "{secrets:?}");
    let name = secrets[0]["name"].as_str().unwrap().to_string();
    // Names carry the project number, as on GCP.
    assert!(!name.contains(PROJECT), "{name}");
    assert_eq!(secrets[0]["labels"]["team"], "ops");
    assert_eq!(latest(&gcp, "acc-sec-drift-api-key"), "s3cret-value-9");

    // Someone adds a version by hand ("Hand-Edited-77" in Base64).
    let (status, body) = gcp.rest(
        "POST",
        &format!("/v1/{name}:addVersion"),
        r#"{"payload":{"data":"SGFuZC1FZGl0ZWQtNzc="}}"#,
    );
    assert_eq!(status, 200, "{body}");
    let plan = gcp
        .rt
        .block_on(async { engine.plan(&s, &refreshed()).await.unwrap() });
    let change = plan
        .changes
        .iter()
        .find(|c| c.address == "gcp_secret_manager_secret.api-key")
        .unwrap();
    assert_eq!(change.action, Action::Update, "{change:?}");
    let text = cairn_core::plan::render::text(&plan, Default::default());
    assert!(text.contains("secret_data"), "{text}");
    assert!(
        !text.contains("Hand-Edited") && !text.contains("s3cret"),
        "no plaintext: {text}"
    );
    gcp.rt.block_on(async {
        let report = engine.apply(&plan, &ApplyOptions::default()).await.unwrap();
        assert!(report.is_success(), "{report}");
    });
    assert_eq!(latest(&gcp, "acc-sec-drift-api-key"), "s3cret-value-9");
    let again = gcp
        .rt
        .block_on(async { engine.plan(&s, &refreshed()).await.unwrap() });
    assert!(!again.has_changes(), "{again:?}");
    gcp.rt.block_on(async {
        let destroy = PlanOptions {
            mode: cairn_core::plan::PlanMode::Destroy,
            ..refreshed()
        };
        let plan = engine.plan(&s, &destroy).await.unwrap();
        assert!(engine
            .apply(&plan, &ApplyOptions::default())
            .await
            .unwrap()
            .is_success());
    });
    assert!(listed(&gcp, "acc-sec-drift").is_empty());
}

#[test]
fn a_secret_a_dead_run_left_without_its_value_is_adopted_and_given_it() {
    let gcp = Gcp::new();
    // What a run killed between `create` and `addVersion` leaves: the secret, marked as
    // this stack's for this address, with no version.
    let address = "gcp_secret_manager_secret.api-key";
    let mark = cairn_provider_kit::ownership::label_value(address);
    let (status, body) = gcp.rest(
        "POST",
        &format!("/v1/projects/{PROJECT}/secrets?secretId=acc-sec-dead-api-key"),
        &format!(
            r#"{{"replication":{{"automatic":{{}}}},"labels":{{"cairn-stack":"acc-sec-dead","cairn-resource":"{mark}","team":"ops"}}}}"#
        ),
    );
    assert_eq!(status, 200, "{body}");
    let engine = gcp.engine("dead.json");
    let s = stack("acc-sec-dead", "the-declared-value-1", "ops", "");
    plan_and_apply(&gcp, &engine, &s);
    assert_eq!(latest(&gcp, "acc-sec-dead-api-key"), "the-declared-value-1");
    assert_eq!(listed(&gcp, "acc-sec-dead").len(), 1);
    let again = gcp
        .rt
        .block_on(async { engine.plan(&s, &refreshed()).await.unwrap() });
    assert!(!again.has_changes(), "{again:?}");

    // A secret of the same id that is not this stack's is never taken over.
    let (status, body) = gcp.rest(
        "POST",
        &format!("/v1/projects/{PROJECT}/secrets?secretId=acc-sec-other-api-key"),
        r#"{"replication":{"automatic":{}},"labels":{"owner":"someone"}}"#,
    );
    assert_eq!(status, 200, "{body}");
    let other = gcp.engine("other.json");
    let s = stack("acc-sec-other", "some-long-value-2", "ops", "");
    gcp.rt.block_on(async {
        let plan = other.plan(&s, &refreshed()).await.unwrap();
        let report = other.apply(&plan, &ApplyOptions::default()).await.unwrap();
        assert!(!report.is_success());
        let said = report.to_string();
        assert!(said.contains("not made by cairn"), "{said}");
    });
    let (status, _) = gcp.rest(
        "GET",
        &format!("/v1/projects/{PROJECT}/secrets/acc-sec-other-api-key/versions/latest:access"),
        "",
    );
    assert_eq!(status, 404, "no version was added to someone else's secret");
}
