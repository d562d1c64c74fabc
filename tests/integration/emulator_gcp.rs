//! The GCP emulator's own promises: the discovery documents' contract (routing, body
//! checks, Google's error shapes, long-running Compute operations), through raw HTTP as
//! any client would meet it.

use std::time::{Duration, Instant};

/// GCP's error body: `(code, status, reason)` (reason: Compute's `errors[0].reason`).
fn google_error(body: &str) -> (i64, String, String) {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let e = &v["error"];
    (
        e["code"].as_i64().unwrap_or(0),
        e["status"].as_str().unwrap_or_default().to_string(),
        e["errors"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Poll a Compute operation until DONE, counting the polls.
fn finish(emulator: &cairn_tests::Emulator, op: &serde_json::Value) -> usize {
    let link = op["selfLink"].as_str().unwrap();
    let path = format!("/compute/v1/{}", link.split("/compute/v1/").nth(1).unwrap());
    for polls in 1..20 {
        let (status, body) = emulator.request("GET", &path, "").unwrap();
        assert_eq!(status, 200, "{body}");
        if json(&body)["status"] == "DONE" {
            return polls;
        }
    }
    panic!("{path} never finished");
}

#[test]
fn the_gcp_emulator_holds_requests_to_the_discovery_contract() {
    let guard = cairn_tests::Emulator::shared(cairn_tests::GCP);
    let emulator = guard.emulator();
    let (status, body) = emulator.request("GET", "/_emulator/ready", "").unwrap();
    assert_eq!(status, 200, "{body}");
    for api in [
        "compute",
        "sqladmin",
        "redis",
        "managedkafka",
        "secretmanager",
        "servicenetworking",
    ] {
        assert!(body.contains(&format!("\"{api}\"")), "{api}: {body}");
    }
    let networks = "/compute/v1/projects/p1/global/networks";
    // Refused before anything happens, in Compute's error shape, naming the field.
    for (bad, wanted) in [
        (r#"{"name": "a", "bogus": 1}"#, "Unknown name \"bogus\""),
        (r#"{"name": "Not_Valid"}"#, "resource.name"),
        (
            r#"{"name": "a", "routingConfig": {"routingMode": "SIDEWAYS"}}"#,
            "resource.routingConfig.routingMode",
        ),
        (
            r#"{"name": "a", "autoCreateSubnetworks": "no"}"#,
            "expected a boolean",
        ),
        (
            r#"{"autoCreateSubnetworks": false}"#,
            "'resource.name' not specified",
        ),
        ("{not json", "Invalid JSON payload"),
    ] {
        let (status, body) = emulator.request("POST", networks, bad).unwrap();
        assert_eq!(
            google_error(&body),
            (400, "INVALID_ARGUMENT".into(), "invalid".into()),
            "{bad}: {body}"
        );
        assert_eq!(status, 400);
        let message = json(&body)["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.contains(wanted), "{bad}: {message}");
    }
    let (status, body) = emulator
        .request(
            "POST",
            &format!("{networks}?requestId=not-a-uuid"),
            r#"{"name": "a"}"#,
        )
        .unwrap();
    assert_eq!((status, body.contains("requestId")), (400, true), "{body}");
    assert_eq!(
        emulator.calls().matches("compute.networks.insert").count(),
        7
    );

    // An insert is an operation: the network exists once it is DONE, after some polls.
    emulator.set_faults(r#"{"op_polls": 3, "op_ms": 0}"#);
    let token = "6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f";
    let insert = format!("{networks}?requestId={token}");
    let body = r#"{"name": "net-a", "autoCreateSubnetworks": false}"#;
    let (status, first) = emulator.request("POST", &insert, body).unwrap();
    assert_eq!(status, 200, "{first}");
    let op = json(&first);
    assert_eq!(
        (op["kind"].as_str(), op["status"].as_str()),
        (Some("compute#operation"), Some("PENDING"))
    );
    let (status, _) = emulator
        .request("GET", &format!("{networks}/net-a"), "")
        .unwrap();
    assert_eq!(status, 404, "not there before its operation is DONE");
    // The same requestId again: the same operation, not a second network (nor a 409).
    let (_, again) = emulator.request("POST", &insert, body).unwrap();
    assert_eq!(json(&again)["name"], op["name"], "{again}");
    assert_eq!(finish(emulator, &op), 3);
    let (status, got) = emulator
        .request("GET", &format!("{networks}/net-a"), "")
        .unwrap();
    assert_eq!(status, 200, "{got}");
    let net = json(&got);
    assert_eq!(net["kind"], "compute#network");
    assert!(
        net["id"].as_str().unwrap().parse::<u64>().is_ok(),
        "uint64 as a string: {got}"
    );
    assert_eq!(net["id"], op["targetId"]);
    assert!(net["selfLink"]
        .as_str()
        .unwrap()
        .ends_with("/projects/p1/global/networks/net-a"));
    // An operation nobody polls still finishes, after op_ms (a run killed mid-wait).
    emulator.set_faults(r#"{"op_ms": 200}"#);
    let (status, _) = emulator
        .request(
            "POST",
            networks,
            r#"{"name": "net-unpolled", "autoCreateSubnetworks": false}"#,
        )
        .unwrap();
    assert_eq!(status, 200);
    std::thread::sleep(Duration::from_millis(400));
    let (status, _) = emulator
        .request("GET", &format!("{networks}/net-unpolled"), "")
        .unwrap();
    assert_eq!(status, 200, "finished unpolled after op_ms");
    let (status, dup) = emulator.request("POST", networks, body).unwrap();
    assert_eq!(
        (status, google_error(&dup).2),
        (409, "alreadyExists".into()),
        "{dup}"
    );

    // A subnetwork: its range checked against its network's others; the network in use.
    emulator.set_faults(r#"{"op_polls": 0}"#);
    let subnets = "/compute/v1/projects/p1/regions/us-central1/subnetworks";
    let (status, made) = emulator
        .request(
            "POST",
            subnets,
            r#"{"name": "s1", "network": "global/networks/net-a", "ipCidrRange": "10.0.1.0/24"}"#,
        )
        .unwrap();
    assert_eq!(
        (status, json(&made)["status"].as_str()),
        (200, Some("DONE")),
        "{made}"
    );
    for (bad, code) in [
        (
            r#"{"name": "s2", "network": "global/networks/net-a", "ipCidrRange": "10.0.1.128/25"}"#,
            400,
        ),
        (
            r#"{"name": "s3", "network": "global/networks/net-a", "ipCidrRange": "10.0.300.0/24"}"#,
            400,
        ),
        (
            r#"{"name": "s4", "network": "global/networks/nope", "ipCidrRange": "10.0.4.0/24"}"#,
            404,
        ),
    ] {
        let (status, body) = emulator.request("POST", subnets, bad).unwrap();
        assert_eq!(status, code, "{bad}: {body}");
    }
    let (status, refused) = emulator
        .request("DELETE", &format!("{networks}/net-a"), "")
        .unwrap();
    assert_eq!(
        (status, google_error(&refused).2),
        (400, "resourceInUseByAnotherResource".into()),
        "{refused}"
    );
    assert!(refused.contains("subnetworks/s1"), "{refused}");
    let (_, listed) = emulator
        .request(
            "GET",
            &format!("{subnets}?filter=name%20eq%20s.*&maxResults=1"),
            "",
        )
        .unwrap();
    let listed = json(&listed);
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    assert_eq!(listed["kind"], "compute#subnetworkList");
    let (status, _) = emulator
        .request("GET", &format!("{subnets}?filter=zone%20%3E%201"), "")
        .unwrap();
    assert_eq!(
        status, 400,
        "a filter it does not understand is refused, not ignored"
    );

    // Secret Manager: AIP error shapes, the project's number in names, versions.
    let secrets = "/v1/projects/p1/secrets";
    for (query, bad, code) in [
        (
            "?secretId=s1",
            r#"{"replication": {"automatic": {}}, "lables": {}}"#,
            400,
        ),
        ("?secretId=s1", r#"{"labels": {"a": "b"}}"#, 400),
        (
            "?secretId=s1",
            r#"{"replication": {"automatic": {}}, "labels": {"Team": "x"}}"#,
            400,
        ),
        (
            "?secretId=bad%2Fid",
            r#"{"replication": {"automatic": {}}}"#,
            400,
        ),
        ("", r#"{"replication": {"automatic": {}}}"#, 400),
    ] {
        let (status, body) = emulator
            .request("POST", &format!("{secrets}{query}"), bad)
            .unwrap();
        assert_eq!(status, code, "{bad}: {body}");
        assert_eq!(json(&body)["error"]["status"], "INVALID_ARGUMENT", "{body}");
    }
    let made = r#"{"replication": {"automatic": {}}, "labels": {"team": "ops"}}"#;
    let (status, body) = emulator
        .request("POST", &format!("{secrets}?secretId=s1"), made)
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let name = json(&body)["name"].as_str().unwrap().to_string();
    assert!(
        name.ends_with("/secrets/s1") && name.split('/').nth(1).unwrap().parse::<u64>().is_ok(),
        "named by the project's number: {name}"
    );
    let (status, body) = emulator
        .request("POST", &format!("{secrets}?secretId=s1"), made)
        .unwrap();
    assert_eq!(
        (status, json(&body)["error"]["status"].as_str()),
        (409, Some("ALREADY_EXISTS"))
    );
    let latest = format!("{secrets}/s1/versions/latest:access");
    let (status, _) = emulator.request("GET", &latest, "").unwrap();
    assert_eq!(status, 404, "no version yet");
    for (bad, code) in [
        (r#"{"payload": {"data": "not base64!"}}"#, 400),
        (
            r#"{"payload": {"data": "aGVsbG8=", "dataCrc32c": "1"}}"#,
            400,
        ),
        (
            r#"{"payload": {"data": "aGVsbG8=", "dataCrc32c": "2591144780"}}"#,
            200,
        ),
    ] {
        let (status, body) = emulator
            .request("POST", &format!("{secrets}/s1:addVersion"), bad)
            .unwrap();
        assert_eq!(status, code, "{bad}: {body}");
    }
    let (_, body) = emulator.request("GET", &latest, "").unwrap();
    assert_eq!(json(&body)["payload"]["data"], "aGVsbG8=", "{body}");
    let (status, _) = emulator
        .request("PATCH", &format!("{secrets}/s1"), r#"{"labels": {}}"#)
        .unwrap();
    assert_eq!(status, 400, "a patch without updateMask is refused");
    let (_, body) = emulator
        .request("GET", &format!("{secrets}?filter=labels.team%3Dops"), "")
        .unwrap();
    assert_eq!(
        json(&body)["secrets"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    let (status, _) = emulator
        .request("GET", &format!("{secrets}?filter=createTime%3C1"), "")
        .unwrap();
    assert_eq!(
        status, 400,
        "a filter it does not understand is refused, not ignored"
    );

    // Proto3 JSON: an enum by its protobuf number is read as its name (the Rust clients
    // send numbers); a number the enum does not have is refused.
    let (status, body) = emulator
        .request(
            "POST",
            "/v1/projects/p1/instances",
            r#"{"name": "db1", "databaseVersion": 99999, "settings": {"tier": "db-custom-1-3840"}}"#,
        )
        .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("TYPE_ENUM"), "{body}");
    // 272 is POSTGRES_16's number in google.cloud.sql.v1.
    let (status, body) = emulator
        .request(
            "POST",
            "/v1/projects/p1/instances",
            r#"{"name": "db1", "databaseVersion": 272, "settings": {"tier": "db-custom-1-3840", "edition": 2}}"#,
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let (_, body) = emulator
        .request("GET", "/v1/projects/p1/instances/db1", "")
        .unwrap();
    assert_eq!(json(&body)["databaseVersion"], "POSTGRES_16", "{body}");

    // The load-balancing chain: references must exist, and what is used cannot go.
    let global = "/compute/v1/projects/p1/global";
    let (status, body) = emulator
        .request(
            "POST",
            &format!("{global}/healthChecks"),
            r#"{"name": "hc", "type": "HTTP", "httpHealthCheck": {"port": 8080, "requestPath": "/health"}}"#,
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, body) = emulator
        .request(
            "POST",
            &format!("{global}/backendServices"),
            r#"{"name": "api", "loadBalancingScheme": "EXTERNAL_MANAGED", "protocol": "HTTP", "healthChecks": ["global/healthChecks/hc"]}"#,
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    for (bad, code) in [
        (
            r#"{"name": "m1", "defaultService": "global/backendServices/nope"}"#,
            404,
        ),
        (
            r#"{"name": "m1", "defaultService": "global/backendServices/api", "hostRules": [{"hosts": ["*"], "pathMatcher": "pm"}], "pathMatchers": [{"name": "pm", "defaultService": "global/backendServices/api", "pathRules": [{"paths": ["api/*"], "service": "global/backendServices/api"}]}]}"#,
            400,
        ),
    ] {
        let (status, body) = emulator
            .request("POST", &format!("{global}/urlMaps"), bad)
            .unwrap();
        assert_eq!(status, code, "{bad}: {body}");
    }
    let (status, body) = emulator
        .request(
            "POST",
            &format!("{global}/urlMaps"),
            r#"{"name": "m1", "defaultService": "global/backendServices/api"}"#,
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, refused) = emulator
        .request("DELETE", &format!("{global}/healthChecks/hc"), "")
        .unwrap();
    assert_eq!(
        (status, google_error(&refused).2),
        (400, "resourceInUseByAnotherResource".into()),
        "{refused}"
    );

    // Routed but not emulated yet: said so, never a made-up success.
    let (status, body) = emulator
        .request(
            "POST",
            "/compute/v1/projects/p1/zones/us-central1-a/instances",
            r#"{"name": "vm-1"}"#,
        )
        .unwrap();
    assert_eq!(google_error(&body).0, 501, "{body}");
    assert_eq!(status, 501);

    // Faults in Google's shapes; a held answer arrives after its effect.
    emulator.set_faults(r#"{"throttle_rate": 1}"#);
    let (status, body) = emulator.request("GET", networks, "").unwrap();
    assert_eq!(
        (status, google_error(&body).2),
        (429, "rateLimitExceeded".into()),
        "{body}"
    );
    emulator.set_faults(r#"{"throttle_rate": 0, "error_rate": 1}"#);
    let (status, body) = emulator.request("GET", networks, "").unwrap();
    assert_eq!(
        (status, google_error(&body).1),
        (503, "UNAVAILABLE".into()),
        "{body}"
    );
    emulator.set_faults(r#"{"error_rate": 0, "hold": ["compute.networks.insert"]}"#);
    let held = std::thread::spawn(move || {
        emulator
            .request(
                "POST",
                networks,
                r#"{"name": "net-held", "autoCreateSubnetworks": false}"#,
            )
            .unwrap()
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !emulator.held().contains("compute.networks.insert") {
        assert!(Instant::now() < deadline, "the held call is listed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, _) = emulator
        .request("GET", &format!("{networks}/net-held"), "")
        .unwrap();
    assert_eq!(status, 200, "a held insert has taken effect (op_polls 0)");
    assert!(!held.is_finished(), "its answer is held");
    emulator.release_held();
    assert_eq!(held.join().unwrap().0, 200);

    emulator.reset();
    assert_eq!(emulator.calls(), "[]", "reset clears the call log");
    let (status, _) = emulator
        .request("GET", &format!("{networks}/net-a"), "")
        .unwrap();
    assert_eq!(status, 404, "reset forgets resources");
    let faults = emulator.request("GET", "/_emulator/faults", "").unwrap().1;
    assert!(
        faults.contains("\"op_polls\": 2"),
        "reset restores defaults: {faults}"
    );
}
