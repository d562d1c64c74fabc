//! The shared state backends against real servers: PostgreSQL (Debian's server, started by
//! `tests/emulators/postgres/serve`), S3 (moto through the AWS emulator), Cloud Storage
//! (the GCP emulator's, JSON and gRPC on one port) and Azure Blob (Azurite,
//! `tests/emulators/azurite/serve`). Each passes the
//! whole state conformance suite (leases, takeover, fencing, 100 racing lockers), and
//! meets what a real service does to a client: a frozen server, many stacks side by side,
//! objects stored encrypted, credentials kept out of every message.

use cairn_aws::state::S3Blobs;
use cairn_core::state::remote::PostgresBlobs;
use cairn_core::state::{conformance, Mutation, RemoteStore, StateError, StateStore};
use cairn_gcp::state::GcsBlobs;
use cairn_tests::{AwsEmulator, Emulator, AZURITE, GCP, POSTGRES};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn thing(i: usize) -> cairn_core::state::ResourceState {
    cairn_core::state::ResourceState {
        address: format!("mem_thing.r{i}").into(),
        type_name: "mem_thing".into(),
        origin: format!("thing.r{i}").into(),
        id: format!("id-{i}").into(),
        attrs: Default::default(),
        deps: vec![],
        protect: false,
        deposed: vec![],
    }
}

/// Write `n` resources to `store` as stack `stack`.
fn write(store: &dyn StateStore, stack: &str, n: usize) {
    let mut s = store.lock("apply").unwrap();
    s.init(stack, "memory").unwrap();
    s.append(&(0..n).map(|i| Mutation::Put(thing(i))).collect::<Vec<_>>())
        .unwrap();
    s.unlock().unwrap();
}

fn postgres(url: &str, key: &str) -> RemoteStore {
    RemoteStore::new(PostgresBlobs::from_url(url, key).unwrap()).unwrap()
}

#[test]
fn postgresql_passes_the_state_conformance_suite() {
    let pg = Emulator::shared(POSTGRES);
    let url = pg.postgres_url();
    let n = AtomicUsize::new(0);
    let factory = |lease| -> Box<dyn StateStore> {
        let key = format!("conformance-{}", n.fetch_add(1, Ordering::SeqCst));
        Box::new(postgres(&url, &key).with_lease(lease))
    };
    assert!(conformance::run(&factory).len() >= 16);
    // Every store of the suite is a key in one table of one schema, created on first use.
    let calls = pg.calls();
    // Appends check the lock in the statement that writes them.
    assert!(
        calls.contains("FOR SHARE"),
        "writes are fenced by the lock row in one statement"
    );
    assert!(
        calls.contains("CREATE SCHEMA IF NOT EXISTS \\\"cairn\\\""),
        "the schema is created on first use: {}",
        &calls[..calls.len().min(400)]
    );
}

#[test]
fn postgresql_keeps_many_stacks_apart_and_never_shows_its_password() {
    let pg = Emulator::shared(POSTGRES);
    let url = pg.postgres_url();
    let password = url
        .split(':')
        .nth(2)
        .and_then(|p| p.split('@').next())
        .unwrap()
        .to_string();
    let web = postgres(&url, "web.aws");
    let shop = postgres(&url, "shop.aws");
    let elsewhere = postgres(&format!("{url}&schema=team_b"), "web.aws");
    write(&web, "web", 3);
    write(&shop, "shop", 5);
    write(&elsewhere, "web", 1);
    assert_eq!(web.read().unwrap().unwrap().resources.len(), 3);
    assert_eq!(shop.read().unwrap().unwrap().resources.len(), 5);
    assert_eq!(elsewhere.read().unwrap().unwrap().resources.len(), 1);
    // The same stack's lock in another schema is another lock.
    let held = web.lock("apply").unwrap();
    elsewhere.lock("apply").unwrap().unlock().unwrap();
    held.unlock().unwrap();
    for store in [&web, &shop, &elsewhere] {
        assert!(
            !store.location().contains(&password),
            "{}",
            store.location()
        );
    }
    let wrong = url.replace(&password, "not-the-password");
    let err = postgres(&wrong, "web.aws").read().unwrap_err().to_string();
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(
        !err.contains(&password) && !err.contains("not-the-password"),
        "{err}"
    );
}

#[test]
fn a_frozen_postgresql_fails_the_run_within_its_timeout_and_loses_nothing() {
    let pg = Emulator::shared(POSTGRES);
    let url = pg.postgres_url();
    let store = postgres(&url, "frozen.aws").with_request_timeout(Duration::from_secs(2));
    write(&store, "frozen", 2);
    let mut session = store.lock("apply").unwrap();
    session.init("frozen", "memory").unwrap();
    pg.set_faults(r#"{"freeze": true}"#);
    let started = Instant::now();
    let append = session.append(&[Mutation::Put(thing(9))]);
    let read = store.read();
    pg.set_faults(r#"{"freeze": false}"#);
    for r in [append, read.map(|_| ())] {
        match r {
            Err(StateError::Backend { message, .. }) => {
                assert!(message.contains("no answer within 2s"), "{message}")
            }
            other => panic!("a frozen server must fail the call, got {other:?}"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(15));
    // Thawed, the session goes on and everything acknowledged is there.
    session.append(&[Mutation::Put(thing(10))]).unwrap();
    session.unlock().unwrap();
    let state = store.read().unwrap().unwrap();
    assert!(state.resources.contains_key("mem_thing.r10"));
    assert!(state.resources.contains_key("mem_thing.r1"));
}

/// The AWS emulator's S3 with a bucket for state, and an SDK configuration for it.
pub(crate) fn s3_setup(emulator: &Emulator) -> (aws_config::SdkConfig, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let config = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(emulator.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "cairn-tests",
            ))
            .load(),
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    rt.block_on(s3.create_bucket().bucket("cairn-state").send())
        .expect("create the state bucket");
    (config, rt)
}

#[test]
fn s3_passes_the_state_conformance_suite() {
    let aws = AwsEmulator::shared();
    let (config, _rt) = s3_setup(&aws);
    let n = AtomicUsize::new(0);
    let factory = |lease| -> Box<dyn StateStore> {
        let key = format!("teams/conformance-{}", n.fetch_add(1, Ordering::SeqCst));
        let blobs = S3Blobs::new(&config, "cairn-state", &key).unwrap();
        Box::new(RemoteStore::new(blobs).unwrap().with_lease(lease))
    };
    assert!(conformance::run(&factory).len() >= 16);
}

#[test]
fn s3_state_is_stored_encrypted() {
    let aws = AwsEmulator::shared();
    let (config, rt) = s3_setup(&aws);
    let store = RemoteStore::new(S3Blobs::new(&config, "cairn-state", "web.aws").unwrap()).unwrap();
    assert_eq!(store.location(), "s3://cairn-state/web.aws");
    write(&store, "web", 4);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    for key in ["web.aws/state", "web.aws/lock"] {
        let head = rt
            .block_on(s3.head_object().bucket("cairn-state").key(key).send())
            .unwrap();
        assert_eq!(
            head.server_side_encryption().map(|s| s.as_str()),
            Some("AES256"),
            "{key} is written with server-side encryption"
        );
    }
    assert_eq!(store.read().unwrap().unwrap().resources.len(), 4);
}

fn azure_blob(connection_string: &str, key: &str) -> RemoteStore {
    let blobs = cairn_azure::state::AzureBlobs::from_connection_string(
        connection_string,
        "devstoreaccount1",
        "cairn-state",
        key,
    )
    .unwrap();
    RemoteStore::new(blobs).unwrap()
}

#[test]
fn azure_blob_passes_the_state_conformance_suite() {
    let azurite = Emulator::shared(AZURITE);
    let cs = azurite.azurite_connection_string();
    let n = AtomicUsize::new(0);
    let factory = |lease| -> Box<dyn StateStore> {
        let key = format!("teams/conformance-{}", n.fetch_add(1, Ordering::SeqCst));
        Box::new(azure_blob(&cs, &key).with_lease(lease))
    };
    assert!(conformance::run(&factory).len() >= 16);
    let calls = azurite.calls();
    assert!(
        calls.contains("Blob_Upload") && calls.contains("Container_ListBlobFlatSegment"),
        "the suite went through Azurite's blob API: {}",
        &calls[..calls.len().min(300)]
    );
}

#[test]
fn a_frozen_blob_endpoint_fails_the_run_within_its_timeout_and_loses_nothing() {
    let azurite = Emulator::shared(AZURITE);
    let cs = azurite.azurite_connection_string();
    let store = azure_blob(&cs, "frozen.azure").with_request_timeout(Duration::from_secs(2));
    write(&store, "frozen", 2);
    azurite.set_faults(r#"{"freeze": true}"#);
    let started = Instant::now();
    let read = store.read();
    azurite.set_faults(r#"{"freeze": false}"#);
    match read {
        Err(StateError::Backend { message, location }) => {
            assert!(message.contains("no answer within 2s"), "{message}");
            assert_eq!(
                location,
                "azblob://devstoreaccount1/cairn-state/frozen.azure"
            );
        }
        other => panic!("a frozen endpoint must fail the read, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(store.read().unwrap().unwrap().resources.len(), 2);
}

/// The GCP emulator's bucket `cairn-state`, made through Cloud Storage's JSON API if the
/// emulator has none (it may have been reset since).
pub(crate) fn gcs_bucket(gcp: &Emulator) {
    let (status, body) = gcp
        .request(
            "POST",
            "/storage/v1/b?project=cairn-test",
            r#"{"name": "cairn-state", "location": "EU"}"#,
        )
        .unwrap();
    assert!(status == 200 || status == 409, "{status} {body}");
}

fn gcs(gcp: &Emulator, key: &str) -> GcsBlobs {
    GcsBlobs::new(Some(&gcp.endpoint()), "cairn-state", key).unwrap()
}

#[test]
fn gcs_passes_the_state_conformance_suite() {
    let gcp = Emulator::shared(GCP);
    gcs_bucket(&gcp);
    let n = AtomicUsize::new(0);
    let factory = |lease| -> Box<dyn StateStore> {
        let key = format!("teams/conformance-{}", n.fetch_add(1, Ordering::SeqCst));
        Box::new(RemoteStore::new(gcs(&gcp, &key)).unwrap().with_lease(lease))
    };
    assert!(conformance::run(&factory).len() >= 16);
    let calls = gcp.calls();
    for operation in [
        "storage.objects.insert",
        "storage.objects.get",
        "storage.objects.list",
        "storage.objects.delete",
    ] {
        assert!(
            calls.contains(&format!("\"operation\": \"{operation}\"")),
            "the suite called {operation}"
        );
    }
}

#[test]
fn gcs_writes_a_large_state_by_resumable_upload() {
    let gcp = Emulator::shared(GCP);
    gcs_bucket(&gcp);
    let store =
        RemoteStore::new(gcs(&gcp, "large.gcp").with_resumable_threshold(64 * 1024)).unwrap();
    // Enough resources that the snapshot crosses the threshold several times over.
    write(&store, "large", 3000);
    let mut s = store.lock("compact").unwrap();
    s.compact().unwrap();
    s.unlock().unwrap();
    assert_eq!(store.read().unwrap().unwrap().resources.len(), 3000);
    let (_, objects) = gcp
        .request(
            "GET",
            "/storage/v1/b/cairn-state/o?prefix=large.gcp/state",
            "",
        )
        .unwrap();
    let size: u64 = serde_json::from_str::<serde_json::Value>(&objects).unwrap()["items"][0]
        ["size"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(size > 4 * 64 * 1024, "the snapshot is {size} bytes");
    assert!(
        gcp.calls().contains("uploadType=resumable"),
        "written by resumable upload"
    );
}

#[test]
fn a_frozen_gcs_endpoint_fails_the_run_within_its_timeout_and_loses_nothing() {
    let gcp = Emulator::shared(GCP);
    gcs_bucket(&gcp);
    let store = RemoteStore::new(gcs(&gcp, "frozen.gcp"))
        .unwrap()
        .with_request_timeout(Duration::from_secs(2));
    write(&store, "frozen", 2);
    gcp.set_faults(r#"{"hold": ["storage.*"]}"#);
    let started = Instant::now();
    let read = store.read();
    gcp.release_held();
    match read {
        Err(StateError::Backend { message, location }) => {
            assert!(message.contains("no answer within 2s"), "{message}");
            assert_eq!(location, "gs://cairn-state/frozen.gcp");
        }
        other => panic!("a frozen endpoint must fail the read, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(store.read().unwrap().unwrap().resources.len(), 2);
}

#[test]
fn gcs_refuses_what_cloud_storage_would_and_names_the_store() {
    let gcp = Emulator::shared(GCP);
    for (url, wanted) in [
        ("gs://Cairn-State/k", "not a bucket name"),
        ("gs://goog-state/k", "not a bucket name"),
        ("gs://ab/k", "not a bucket name"),
    ] {
        let e = GcsBlobs::from_url(url, "default").unwrap_err();
        assert!(e.contains(wanted), "{url}: {e}");
    }
    // A bucket that does not exist: the first write fails, naming the store.
    let store =
        RemoteStore::new(GcsBlobs::new(Some(&gcp.endpoint()), "no-such-bucket", "k").unwrap())
            .unwrap();
    match store.lock("apply") {
        Err(StateError::Backend { message, location }) => {
            assert_eq!(location, "gs://no-such-bucket/k");
            assert!(message.contains("bucket does not exist"), "{message}");
        }
        other => panic!("a missing bucket must fail the lock, got {:?}", other.err()),
    }
}

/// A run of many appends leaves one journal entry each: an object of its own where the
/// backend checks the lock with a write (PostgreSQL), an entry of the lock object's tail on
/// an object store. Its unlock's compaction folds them into the snapshot and removes every
/// one: the objects through the backend's batch call (PostgreSQL's one statement), the tail
/// by the release's write of the lock.
fn compaction_removes_the_journal(
    store: RemoteStore,
    inspect: &dyn cairn_core::state::remote::Blobs,
    rt: &tokio::runtime::Runtime,
) {
    let journal = |rt: &tokio::runtime::Runtime| rt.block_on(inspect.list("journal/")).unwrap();
    let lock = |rt: &tokio::runtime::Runtime| {
        let body = rt.block_on(inspect.get("lock")).unwrap().unwrap().body;
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()
    };
    let mut s = store.lock("apply").unwrap();
    s.init("leftovers", "memory").unwrap();
    for i in 0..40 {
        s.append(&[Mutation::Put(thing(i))]).unwrap();
    }
    let (objects, in_lock) = if inspect.fences_writes() {
        (40, 0)
    } else {
        (0, 40)
    };
    assert_eq!(journal(rt).len(), objects, "{}", inspect.describe());
    let tail = lock(rt)["tail"].as_array().map_or(0, Vec::len);
    assert_eq!(tail, in_lock, "{}", inspect.describe());
    s.unlock().unwrap();
    assert_eq!(journal(rt), Vec::<String>::new(), "{}", inspect.describe());
    assert_eq!(lock(rt).get("tail"), None, "{}", inspect.describe());
    assert_eq!(store.read().unwrap().unwrap().resources.len(), 40);
}

#[test]
fn a_compaction_removes_every_journal_entry_on_every_backend() {
    let aws = AwsEmulator::shared();
    let pg = Emulator::shared(POSTGRES);
    let azurite = Emulator::shared(AZURITE);
    let gcp = Emulator::shared(GCP);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let url = pg.postgres_url();
    let inspect = PostgresBlobs::from_url(&url, "leftovers.pg").unwrap();
    compaction_removes_the_journal(postgres(&url, "leftovers.pg"), &inspect, &rt);

    let (config, _s3rt) = s3_setup(&aws);
    let s3 = || S3Blobs::new(&config, "cairn-state", "leftovers.s3").unwrap();
    compaction_removes_the_journal(RemoteStore::new(s3()).unwrap(), &s3(), &rt);

    gcs_bucket(&gcp);
    compaction_removes_the_journal(
        RemoteStore::new(gcs(&gcp, "leftovers.gcs")).unwrap(),
        &gcs(&gcp, "leftovers.gcs"),
        &rt,
    );

    let cs = azurite.azurite_connection_string();
    let azure = || {
        cairn_azure::state::AzureBlobs::from_connection_string(
            &cs,
            "devstoreaccount1",
            "cairn-state",
            "leftovers.azure",
        )
        .unwrap()
    };
    compaction_removes_the_journal(RemoteStore::new(azure()).unwrap(), &azure(), &rt);
}
