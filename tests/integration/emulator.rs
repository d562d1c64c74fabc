//! The AWS emulator's own promises: what it starts dies with it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn serve_script() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .join("emulators/aws/serve")
}

/// PIDs of the direct children of `parent` named `name`.
fn children(parent: u32, name: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
        };
        if field("Name:").as_deref() == Some(name)
            && field("PPid:").and_then(|p| p.parse().ok()) == Some(parent)
        {
            out.push(pid);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    // A zombie is dead: it only waits to be reaped.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

#[test]
fn an_emulator_killed_with_sigkill_leaves_no_postgresql_behind() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut emulator = Command::new(serve_script())
        .args(["--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the emulator");
    let deadline = Instant::now() + Duration::from_secs(120);
    let postgres = loop {
        let found = children(emulator.id(), "postgres");
        if !found.is_empty() {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "the emulator started no PostgreSQL (is the postgresql package installed?)"
        );
        assert!(
            emulator.try_wait().unwrap().is_none(),
            "the emulator exited"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    emulator.kill().unwrap(); // SIGKILL: no atexit, no cleanup of its own
    emulator.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while postgres.iter().any(|p| alive(*p)) {
        if Instant::now() > deadline {
            // Leave nothing behind, even when failing.
            for p in &postgres {
                let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
            }
            panic!("PostgreSQL {postgres:?} still ran 30 s after its emulator was killed");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The control contract every emulator of the project serves under `/_emulator/`: ready,
/// reset, faults, held answers and the call log, driven here through the real SDK.
#[test]
fn the_emulator_serves_its_control_contract_under_emulator_paths() {
    let emulator = cairn_tests::AwsEmulator::shared();
    let (status, body) = emulator.request("GET", "/_emulator/ready", "").unwrap();
    assert_eq!(
        (status, body.contains("\"ready\": true")),
        (200, true),
        "{body}"
    );
    let (status, _) = emulator.request("GET", "/_emulator/nothing", "").unwrap();
    assert_eq!(status, 404, "an unknown control path is refused");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let config = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(emulator.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "cairn-tests",
            ))
            .load(),
    );
    let ec2 = aws_sdk_ec2::Client::new(&config);
    emulator.set_faults(r#"{"hold": ["CreateVpc"]}"#);
    let create = rt.spawn({
        let ec2 = ec2.clone();
        async move { ec2.create_vpc().cidr_block("10.9.0.0/16").send().await }
    });
    // The VPC exists at once; its answer waits.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !emulator.held().contains("CreateVpc") {
        assert!(Instant::now() < deadline, "the held call is listed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let vpcs = rt
        .block_on(ec2.describe_vpcs().send())
        .unwrap()
        .vpcs()
        .iter()
        .filter(|v| v.cidr_block() == Some("10.9.0.0/16"))
        .count();
    assert_eq!(vpcs, 1, "a held call has taken effect");
    assert!(!create.is_finished(), "its answer is held");
    emulator.release_held();
    let vpc = rt
        .block_on(create)
        .unwrap()
        .expect("the held answer arrives");
    assert!(vpc.vpc().and_then(|v| v.vpc_id()).is_some());
    assert_eq!(emulator.held(), "[]");
    assert!(
        emulator.calls().contains("\"CreateVpc\""),
        "{}",
        emulator.calls()
    );

    emulator.set_faults(r#"{"latency_ms": 5}"#);
    emulator.reset();
    assert_eq!(emulator.calls(), "[]", "reset clears the call log");
    let faults = emulator.request("GET", "/_emulator/faults", "").unwrap().1;
    assert!(
        faults.contains("\"latency_ms\": 0"),
        "reset clears faults: {faults}"
    );
    let vpcs = rt.block_on(ec2.describe_vpcs().send()).unwrap();
    assert!(
        !vpcs
            .vpcs()
            .iter()
            .any(|v| v.cidr_block() == Some("10.9.0.0/16")),
        "reset forgets resources"
    );
}

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

/// A bearer token, as the Azure SDK sends one (the emulator wants one, whatever it is).
const ARM_TOKEN: [(&str, &str); 1] = [("Authorization", "Bearer test")];

/// An ARM call with a token: status, headers, body.
fn arm_call(
    e: &cairn_tests::Emulator,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, std::collections::HashMap<String, String>, String) {
    e.request_with(method, path, body, &ARM_TOKEN)
        .unwrap_or_else(|err| panic!("{method} {path}: {err}"))
}

/// ARM's error body: `(code, message)`.
fn arm_error(body: &str) -> (String, String) {
    let v = json(body);
    (
        v["error"]["code"].as_str().unwrap_or_default().to_string(),
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[test]
fn the_azure_emulator_holds_requests_to_arms_contract() {
    let guard = cairn_tests::Emulator::shared(cairn_tests::AZURE);
    let e = guard.emulator();
    let call = |method: &str, path: &str, body: &str| arm_call(e, method, path, body);
    let group = "/subscriptions/s1/resourcegroups/shop?api-version=2024-03-01";
    let vnet =
        "/subscriptions/s1/resourceGroups/shop/providers/Microsoft.Network/virtualNetworks/main";
    let v = |path: &str| format!("{path}?api-version=2024-03-01");

    // ARM's refusals before anything happens: no token, no or an unknown api-version, a
    // body that is not what the swagger says, a group that does not exist.
    let (status, _, body) = e
        .request_with("PUT", group, r#"{"location": "westeurope"}"#, &[])
        .unwrap();
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (401, "AuthenticationFailed")
    );
    let (status, _, body) = call("PUT", vnet, "{}");
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (400, "MissingApiVersionParameter")
    );
    let (status, _, body) = call("PUT", &format!("{vnet}?api-version=2019-01-01"), "{}");
    let (code, message) = arm_error(&body);
    assert_eq!((status, code.as_str()), (400, "InvalidApiVersionParameter"));
    assert!(message.contains("2024-03-01"), "{message}");
    let wrong = r#"{"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": "10.0.0.0/16"}}}"#;
    let (status, _, body) = call("PUT", &v(vnet), wrong);
    let (code, message) = arm_error(&body);
    assert_eq!((status, code.as_str()), (400, "InvalidRequestContent"));
    assert!(
        message.contains("properties.addressSpace.addressPrefixes"),
        "{message}"
    );
    let good = r#"{"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "provisioningState": "Succeeded"}}"#;
    let (status, _, body) = call("PUT", &v(vnet), good);
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (404, "ResourceGroupNotFound")
    );

    // A resource group: 201, then 200 when put again.
    let (status, _, _) = call(
        "PUT",
        group,
        r#"{"location": "westeurope", "tags": {"cairn-stack": "shop"}}"#,
    );
    assert_eq!(status, 201);
    let (status, _, body) = call(
        "PUT",
        group,
        r#"{"location": "westeurope", "tags": {"cairn-stack": "shop"}}"#,
    );
    assert_eq!(status, 200, "{body}");

    // A long-running PUT: 201 with the state "Creating" (the read-only state sent is
    // ignored), an Azure-AsyncOperation to poll and a Retry-After; the operation is
    // InProgress until polled twice, then Succeeded, and the network with it.
    let (status, headers, body) = call("PUT", &v(vnet), good);
    assert_eq!(status, 201, "{body}");
    assert_eq!(json(&body)["properties"]["provisioningState"], "Creating");
    assert_eq!(headers.get("retry-after").map(String::as_str), Some("0"));
    let poll = headers["azure-asyncoperation"].clone();
    let poll = poll.trim_start_matches(&e.endpoint()).to_string();
    let (_, _, body) = call("GET", &poll, "");
    assert_eq!(json(&body)["status"], "InProgress");
    let (_, _, body) = call("GET", &poll, "");
    assert_eq!(json(&body)["status"], "Succeeded");
    let (status, _, body) = call("GET", &v(vnet), "");
    assert_eq!(status, 200);
    assert_eq!(json(&body)["properties"]["provisioningState"], "Succeeded");
    assert_eq!(json(&body)["type"], "Microsoft.Network/virtualNetworks");

    // A child needs its parent; a child is listed under it.
    let orphan = format!("{}/subnets/a", vnet.replace("/main", "/none"));
    let (status, _, body) = call(
        "PUT",
        &v(&orphan),
        r#"{"properties": {"addressPrefix": "10.0.1.0/24"}}"#,
    );
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (404, "ParentResourceNotFound")
    );
    let subnet = format!("{vnet}/subnets/a");
    let (status, _, _) = call(
        "PUT",
        &v(&subnet),
        r#"{"properties": {"addressPrefix": "10.0.1.0/24"}}"#,
    );
    assert_eq!(status, 201);
    let (_, _, body) = call("GET", &v(&format!("{vnet}/subnets")), "");
    assert_eq!(json(&body)["value"].as_array().unwrap().len(), 1, "{body}");

    // An NSG a subnet names cannot be deleted (the provider's code), and once the subnet
    // lets go of it, it can.
    let nsg = "/subscriptions/s1/resourceGroups/shop/providers/Microsoft.Network/networkSecurityGroups/web";
    let (status, _, _) = call("PUT", &v(nsg), r#"{"location": "westeurope"}"#);
    assert_eq!(status, 201);
    let attached = format!(
        r#"{{"properties": {{"addressPrefix": "10.0.1.0/24", "networkSecurityGroup": {{"id": "{nsg}"}}}}}}"#
    );
    let (status, _, body) = call("PUT", &v(&subnet), &attached);
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = call("DELETE", &v(nsg), "");
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (400, "InUseNetworkSecurityGroupCannotBeDeleted")
    );
    let (status, _, _) = call(
        "PUT",
        &v(&subnet),
        r#"{"properties": {"addressPrefix": "10.0.1.0/24"}}"#,
    );
    assert_eq!(status, 200);
    let (status, _, _) = call("DELETE", &v(nsg), "");
    assert_eq!(status, 202);

    // Names that are global: another group's cache cannot take a name already held.
    let other = "/subscriptions/s1/resourcegroups/other?api-version=2024-03-01";
    call("PUT", other, r#"{"location": "westeurope"}"#);
    let cache = |group: &str| {
        format!("/subscriptions/s1/resourceGroups/{group}/providers/Microsoft.Cache/redis/shop-cache?api-version=2024-03-01")
    };
    let redis = r#"{"location": "westeurope", "properties": {"sku": {"name": "Basic", "family": "C", "capacity": 0}}}"#;
    let (status, _, body) = call("PUT", &cache("shop"), redis);
    assert_eq!(status, 201, "{body}");
    let (status, _, body) = call("PUT", &cache("other"), redis);
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (409, "NameNotAvailable")
    );

    // Throttling on request: a 429 with Retry-After, in ARM's shape.
    e.set_faults(r#"{"throttle_rate": 1.0}"#);
    let (status, headers, body) = call("GET", &v(vnet), "");
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (429, "TooManyRequests")
    );
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    e.set_faults(r#"{"throttle_rate": 0.0}"#);

    // Deleting the group: 202 with a Location answering 202 until done, then everything
    // in the group is gone.
    let (status, headers, _) = call("DELETE", group, "");
    assert_eq!(status, 202);
    let location = headers["location"]
        .trim_start_matches(&e.endpoint())
        .to_string();
    let (status, _, _) = call("GET", &location, "");
    assert_eq!(status, 202);
    let (status, _, _) = call("GET", &location, "");
    assert_eq!(status, 200);
    let (status, _, body) = call("GET", &v(vnet), "");
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (404, "ResourceGroupNotFound")
    );

    // The call log names each operation as the specs do.
    let calls = e.calls();
    for op in [
        "ResourceGroups_CreateOrUpdate",
        "VirtualNetworks_CreateOrUpdate",
        "Subnets_List",
        "ResourceGroups_Delete",
    ] {
        assert!(calls.contains(op), "{op}: {calls}");
    }

    // A held answer: the group exists at once, its answer waits for the release.
    e.set_faults(r#"{"hold": ["ResourceGroups_CreateOrUpdate"]}"#);
    let held =
        std::thread::spawn(move || arm_call(e, "PUT", group, r#"{"location": "westeurope"}"#).0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !e.held().contains("ResourceGroups_CreateOrUpdate") {
        assert!(Instant::now() < deadline, "the held call is listed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        call("GET", group, "").0,
        200,
        "a held call has taken effect"
    );
    assert!(!held.is_finished(), "its answer is held");
    e.release_held();
    assert_eq!(held.join().unwrap(), 201);
    e.reset();
    assert_eq!(e.calls(), "[]", "reset clears the call log");
    let (status, _, body) = call("GET", group, "");
    assert_eq!(
        (status, arm_error(&body).0.as_str()),
        (404, "ResourceGroupNotFound")
    );
}

#[test]
fn the_azure_emulator_keeps_soft_deleted_vaults_secret_values_and_service_keys() {
    let guard = cairn_tests::Emulator::shared(cairn_tests::AZURE);
    let e = guard.emulator();
    let call = |method: &str, path: &str, body: &str| arm_call(e, method, path, body);
    let group = "/subscriptions/s1/resourceGroups/shop";
    call(
        "PUT",
        &format!("{group}?api-version=2024-03-01"),
        r#"{"location": "westeurope"}"#,
    );
    let vault = format!("{group}/providers/Microsoft.KeyVault/vaults/shop-kv");
    let kv = |path: &str| format!("{path}?api-version=2024-11-01");
    let body = |mode: &str| {
        format!(
            r#"{{"location": "westeurope", "properties": {{"tenantId": "00000000-0000-0000-0000-000000000001", "sku": {{"family": "A", "name": "standard"}}, "createMode": "{mode}"}}}}"#
        )
    };
    let (status, _, text) = call("PUT", &kv(&vault), &body("default"));
    assert_eq!(status, 201, "{text}");

    // A secret's value is taken and never answered.
    let secret = format!("{vault}/secrets/db-password");
    let (status, _, text) = call(
        "PUT",
        &kv(&secret),
        r#"{"properties": {"value": "s3cr3t-value"}}"#,
    );
    assert_eq!(status, 201);
    assert!(!text.contains("s3cr3t-value"), "{text}");
    let (_, _, text) = call("GET", &kv(&secret), "");
    assert!(!text.contains("s3cr3t-value"), "{text}");

    // Deleted, the vault is soft-deleted: listed, its name held, recovered with its secret.
    let (status, _, _) = call("DELETE", &kv(&vault), "");
    assert_eq!(status, 200);
    let deleted =
        "/subscriptions/s1/providers/Microsoft.KeyVault/deletedVaults?api-version=2024-11-01";
    let (_, _, text) = call("GET", deleted, "");
    assert_eq!(json(&text)["value"][0]["name"], "shop-kv", "{text}");
    let (status, _, text) = call("PUT", &kv(&vault), &body("default"));
    assert_eq!(
        (status, arm_error(&text).0.as_str()),
        (409, "ConflictError")
    );
    let (status, _, text) = call("PUT", &kv(&vault), &body("recover"));
    assert_eq!(status, 200, "{text}");
    assert_eq!(call("GET", &kv(&secret), "").0, 200, "the secret came back");
    let (_, _, text) = call("GET", deleted, "");
    assert_eq!(json(&text)["value"], serde_json::json!([]));

    // Purged, the name is free again.
    call("DELETE", &kv(&vault), "");
    let purge = "/subscriptions/s1/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/shop-kv/purge?api-version=2024-11-01";
    let (status, headers, _) = call("POST", purge, "");
    assert_eq!(status, 202);
    let location = headers["location"]
        .trim_start_matches(&e.endpoint())
        .to_string();
    while call("GET", &location, "").0 == 202 {}
    let (status, _, text) = call("PUT", &kv(&vault), &body("default"));
    assert_eq!(status, 201, "{text}");

    // Keys: a cache's are made once and kept; an event hub's rule gets connection strings
    // naming the namespace's host and the hub.
    let cache = format!("{group}/providers/Microsoft.Cache/redis/shop-cache");
    let v = |path: &str, api: &str| format!("{path}?api-version={api}");
    call(
        "PUT",
        &v(&cache, "2024-03-01"),
        r#"{"location": "westeurope", "properties": {"sku": {"name": "Basic", "family": "C", "capacity": 0}}}"#,
    );
    let keys =
        |path: &str, api: &str| json(&call("POST", &v(&format!("{path}/listKeys"), api), "").2);
    let first = keys(&cache, "2024-03-01");
    assert!(first["primaryKey"].as_str().unwrap().len() >= 40, "{first}");
    assert_eq!(keys(&cache, "2024-03-01"), first, "the same keys again");
    let ns = format!("{group}/providers/Microsoft.EventHub/namespaces/shop-bus");
    let eh = "2024-01-01";
    call(
        "PUT",
        &v(&ns, eh),
        r#"{"location": "westeurope", "sku": {"name": "Standard"}}"#,
    );
    call(
        "PUT",
        &v(&format!("{ns}/eventhubs/orders"), eh),
        r#"{"properties": {"partitionCount": 3}}"#,
    );
    let rule = format!("{ns}/eventhubs/orders/authorizationRules/app");
    let (status, _, text) = call("PUT", &v(&rule, eh), r#"{"properties": {}}"#);
    assert_eq!(
        (status, arm_error(&text).0.as_str()),
        (400, "InvalidRequestContent")
    );
    call(
        "PUT",
        &v(&rule, eh),
        r#"{"properties": {"rights": ["Send", "Listen"]}}"#,
    );
    let conn = keys(&rule, eh)["primaryConnectionString"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        conn.starts_with("Endpoint=sb://shop-bus.servicebus.windows.net/;SharedAccessKeyName=app;")
            && conn.ends_with(";EntityPath=orders"),
        "{conn}"
    );
}
