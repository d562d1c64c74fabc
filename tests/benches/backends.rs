//! What shared state costs an apply: the fan-out of 1,000 applied from empty with each
//! state backend against its real server, next to the local file measured in the same run.
//!
//! `cargo bench -p cairn-tests --bench backends` prints, per backend,
//! `backend name=… n=1000 apply_s=… local_apply_s=… ratio=…` (the worst of three runs each;
//! `-- s3 azblob` measures only the backends named, beside the local file;
//! targets: ratio <= 2 for PostgreSQL, <= 3 for the object stores), with the requests one
//! apply made to the backend and the time per request they come to. The provider is the
//! in-memory one with no latency, so the figure is the state store's cost alone: every
//! pending record durable before its call, results of finished calls committed together
//! (group commit). `CAIRN_BENCH_TRACE=1` prints every request to stderr with its size and
//! time. Azurite runs without its debug log (the tests' call log), PostgreSQL logs
//! statements without their values: the harness's instruments, not the backends' costs.

use cairn_core::apply::ApplyOptions;
use cairn_core::plan::planner::PlanOptions;
use cairn_core::prelude::*;
use cairn_core::state::remote::PostgresBlobs;
use cairn_core::state::remote::{Blob, BlobError, Blobs, Condition};
use cairn_core::state::{RemoteStore, StateStore};
use cairn_core::testing::MemoryProvider;
use cairn_tests::{Emulator, AWS, AZURITE, GCP, POSTGRES};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Requests made to every backend's server, counted at the `Blobs` calls.
static REQUESTS: AtomicUsize = AtomicUsize::new(0);
/// Microseconds spent waiting for those requests.
static WAITED_US: AtomicUsize = AtomicUsize::new(0);

/// `call`, its time added to [`WAITED_US`]; with `CAIRN_BENCH_TRACE` set, each request is
/// printed to stderr (what, which object, bytes sent, milliseconds), to see where an apply's
/// time at the backend goes.
async fn timed<T>(
    what: &str,
    name: &str,
    bytes: usize,
    call: impl std::future::Future<Output = T>,
) -> T {
    let started = Instant::now();
    let out = call.await;
    let took = started.elapsed();
    WAITED_US.fetch_add(took.as_micros() as usize, Ordering::SeqCst);
    if std::env::var_os("CAIRN_BENCH_TRACE").is_some() {
        eprintln!(
            "request {what} {name} bytes={bytes} ms={:.2}",
            took.as_secs_f64() * 1000.0
        );
    }
    out
}

/// A backend whose requests are counted in [`REQUESTS`]. `batch_removals`: the backend
/// removes many objects in one request (PostgreSQL, S3's DeleteObjects); otherwise each
/// removal is one request, however many are in flight together.
#[derive(Debug)]
struct Counted<B> {
    blobs: B,
    batch_removals: bool,
}

#[async_trait::async_trait]
impl<B: Blobs> Blobs for Counted<B> {
    fn describe(&self) -> String {
        self.blobs.describe()
    }
    async fn get(&self, name: &str) -> Result<Option<Blob>, BlobError> {
        REQUESTS.fetch_add(1, Ordering::SeqCst);
        timed("get", name, 0, self.blobs.get(name)).await
    }
    async fn put(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
    ) -> Result<String, BlobError> {
        REQUESTS.fetch_add(1, Ordering::SeqCst);
        timed(
            "put",
            name,
            body.len(),
            self.blobs.put(name, body, condition),
        )
        .await
    }
    async fn delete(&self, name: &str) -> Result<(), BlobError> {
        REQUESTS.fetch_add(1, Ordering::SeqCst);
        timed("delete", name, 0, self.blobs.delete(name)).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        REQUESTS.fetch_add(1, Ordering::SeqCst);
        timed("list", prefix, 0, self.blobs.list(prefix)).await
    }
    async fn put_fenced(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
        holder: &str,
    ) -> Option<Result<Option<String>, BlobError>> {
        let bytes = body.len();
        let answer = timed(
            "put_fenced",
            name,
            bytes,
            self.blobs.put_fenced(name, body, condition, holder),
        )
        .await;
        if answer.is_some() {
            REQUESTS.fetch_add(1, Ordering::SeqCst);
        }
        answer
    }
    fn fences_writes(&self) -> bool {
        self.blobs.fences_writes()
    }
    async fn delete_many(&self, names: &[String]) -> Result<(), BlobError> {
        let requests = if self.batch_removals { 1 } else { names.len() };
        REQUESTS.fetch_add(requests, Ordering::SeqCst);
        timed(
            "delete_many",
            &names.join(","),
            0,
            self.blobs.delete_many(names),
        )
        .await
    }
}

fn counted(blobs: impl Blobs, batch_removals: bool) -> Arc<dyn StateStore> {
    Arc::new(
        RemoteStore::new(Counted {
            blobs,
            batch_removals,
        })
        .unwrap(),
    )
}

const N: usize = 1000;
const RUNS: usize = 3;

fn fanout() -> Stack {
    let mut s = Stack::new("bench-fanout");
    let net = s.add("root", Network::new("10.0.0.0/16"));
    for i in 0..N {
        s.add(
            &format!("c{i}"),
            SecurityGroup::new(&net, "fanout child")
                .ingress(Rule::tcp(443).from_cidr("10.0.0.0/16")),
        );
    }
    s
}

/// Seconds an apply of the fan-out from empty takes with `store`.
fn apply_s(rt: &tokio::runtime::Runtime, store: Arc<dyn StateStore>) -> f64 {
    let engine = Engine::new(Arc::new(MemoryProvider::new()), store);
    let plan = rt
        .block_on(engine.plan(&fanout(), &PlanOptions::default()))
        .expect("plan");
    if std::env::var_os("CAIRN_BENCH_TRACE").is_some() {
        eprintln!("apply starts");
    }
    let started = Instant::now();
    let report = rt
        .block_on(engine.apply(&plan, &ApplyOptions::default()))
        .expect("apply");
    let took = started.elapsed().as_secs_f64();
    assert!(report.is_success(), "{report}");
    took
}

fn worst(mut run: impl FnMut(usize) -> f64) -> f64 {
    (0..RUNS).map(&mut run).fold(0.0, f64::max)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("# fan-out of {N} applied from empty, memory provider with no latency; worst of {RUNS} runs per backend; servers on loopback");
    let dir = tempfile::tempdir().unwrap();
    let local = worst(|i| {
        let path = dir.path().join(format!("local-{i}/state.json"));
        apply_s(&rt, Arc::new(LocalStore::new(path)))
    });
    println!("backend name=local n={N} apply_s={local:.3} local_apply_s={local:.3} ratio=1.00");

    // The shared store's own cost, with no server: the same contract in memory.
    let mut requests = 0;
    let memory = worst(|_| {
        let blobs = cairn_core::state::remote::MemoryBlobs::new();
        let took = apply_s(&rt, Arc::new(RemoteStore::new(blobs.clone()).unwrap()));
        requests = blobs.calls();
        took
    });
    println!(
        "backend name=memory n={N} apply_s={memory:.3} local_apply_s={local:.3} ratio={:.2} requests_per_apply={requests}",
        memory / local
    );

    let pg = Emulator::start(POSTGRES);
    let url = pg.postgres_url();
    let s3 = Emulator::start(AWS);
    let (config, _s3rt) = s3_bucket(&s3);
    let gcp = Emulator::start(GCP);
    let (status, body) = gcp
        .request(
            "POST",
            "/storage/v1/b?project=cairn-bench",
            r#"{"name": "cairn-bench"}"#,
        )
        .unwrap();
    assert_eq!(status, 200, "the bench bucket: {body}");
    let gcp_endpoint = gcp.endpoint();
    // Without Azurite's debug log, which only the tests' call log reads.
    let azurite = Emulator::start_with(AZURITE, &["--no-call-log"]);
    azurite.reset();
    let connection_string = azurite.azurite_connection_string();

    type Open<'a> = Box<dyn Fn(usize) -> Arc<dyn StateStore> + 'a>;
    let backends: Vec<(&str, f64, Open)> = vec![
        (
            "postgres",
            2.0,
            Box::new(|i| {
                let blobs = PostgresBlobs::from_url(&url, &format!("bench-{i}")).unwrap();
                counted(blobs, true)
            }),
        ),
        (
            "s3",
            3.0,
            Box::new(|i| {
                let blobs =
                    cairn_aws::state::S3Blobs::new(&config, "cairn-bench", &format!("bench-{i}"))
                        .unwrap();
                counted(blobs, true)
            }),
        ),
        (
            "gcs",
            3.0,
            Box::new(|i| {
                let blobs = cairn_gcp::state::GcsBlobs::new(
                    Some(&gcp_endpoint),
                    "cairn-bench",
                    &format!("bench-{i}"),
                )
                .unwrap();
                counted(blobs, false)
            }),
        ),
        (
            "azblob",
            3.0,
            Box::new(|i| {
                let blobs = cairn_azure::state::AzureBlobs::from_connection_string(
                    &connection_string,
                    "devstoreaccount1",
                    "cairn-state",
                    &format!("bench-{i}"),
                )
                .unwrap();
                counted(blobs, false)
            }),
        ),
    ];
    let mut missed = Vec::new();
    // `cargo bench … -- s3 azblob`: only the backends named (the local file always runs).
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for (name, target, open) in backends {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        let before = REQUESTS.load(Ordering::SeqCst);
        let waited_before = WAITED_US.load(Ordering::SeqCst);
        let took = worst(|i| apply_s(&rt, open(i)));
        let requests = (REQUESTS.load(Ordering::SeqCst) - before) / RUNS;
        let waited = (WAITED_US.load(Ordering::SeqCst) - waited_before) as f64 / 1e6 / RUNS as f64;
        let ratio = took / local;
        println!(
            "backend name={name} n={N} apply_s={took:.3} local_apply_s={local:.3} ratio={ratio:.2} target<={target} requests_per_apply={requests} ms_per_request={:.2} waiting_s={waited:.3}",
            took * 1000.0 / requests.max(1) as f64
        );
        if ratio > target {
            missed.push(name);
        }
    }
    println!(
        "summary backends_over_target={}",
        if missed.is_empty() {
            "none".to_string()
        } else {
            missed.join(",")
        }
    );
}

/// A bucket for state in the AWS emulator, and an SDK configuration for it.
fn s3_bucket(emulator: &Emulator) -> (aws_config::SdkConfig, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_current_thread()
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
                "cairn-bench",
            ))
            .load(),
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    rt.block_on(s3.create_bucket().bucket("cairn-bench").send())
        .expect("create the bench bucket");
    (config, rt)
}
