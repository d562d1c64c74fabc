//! The emulator harness, the same for every emulator under `tests/emulators/`: starts its
//! `serve` script on a free loopback port, once per test binary, waits for
//! `GET /_emulator/ready`, and gives each test a serialised, freshly reset emulator
//! (`POST /_emulator/reset`). Faults, held answers and the call log are all under
//! `/_emulator/` too, so tests drive any emulator the same way. A missing emulator is a loud
//! failure with the command that fixes it, never a skip.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Which emulator: its name and its `serve` script under `tests/emulators/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmulatorKind {
    pub name: &'static str,
    /// Path of the start script under `tests/emulators/`; it takes `--port PORT
    /// --exit-with-parent` and installs what it needs on first use.
    pub serve: &'static str,
}

/// moto 5.2.5 wrapped by `tests/emulators/aws/cairn_moto.py`.
pub const AWS: EmulatorKind = EmulatorKind {
    name: "aws",
    serve: "aws/serve",
};

/// cairn's own emulator of the Google Cloud APIs, built from their discovery documents
/// (`tests/emulators/gcp/cairn_gcp.py`).
pub const GCP: EmulatorKind = EmulatorKind {
    name: "gcp",
    serve: "gcp/serve",
};

/// cairn's own emulator of Azure Resource Manager, built from Azure's published swagger
/// (`tests/emulators/azure/cairn_azure.py`).
pub const AZURE: EmulatorKind = EmulatorKind {
    name: "azure",
    serve: "azure/serve",
};

/// A real PostgreSQL server (Debian's package) behind the same control API
/// (`tests/emulators/postgres/state_postgres.py`): the state backend's database.
pub const POSTGRES: EmulatorKind = EmulatorKind {
    name: "postgres",
    serve: "postgres/serve",
};

/// Azurite, Microsoft's Azure Storage emulator (from npm), behind the same control API
/// (`tests/emulators/azurite/azurite_control.py`): the Azure Blob state backend's service.
pub const AZURITE: EmulatorKind = EmulatorKind {
    name: "azurite",
    serve: "azurite/serve",
};

/// A running emulator.
#[derive(Debug)]
pub struct Emulator {
    kind: EmulatorKind,
    child: Mutex<Child>,
    port: u16,
    log: PathBuf,
}

/// Exclusive use of a shared emulator for one test; reset on acquisition.
#[derive(Debug)]
pub struct EmulatorGuard {
    emulator: &'static Emulator,
    _lock: MutexGuard<'static, ()>,
}

impl EmulatorGuard {
    /// The emulator itself, for use off the test's thread (while this guard lives).
    pub fn emulator(&self) -> &'static Emulator {
        self.emulator
    }
}

impl std::ops::Deref for EmulatorGuard {
    type Target = Emulator;
    fn deref(&self) -> &Emulator {
        self.emulator
    }
}

fn serve_script(kind: EmulatorKind) -> PathBuf {
    // The checkout being tested, found at run time: a shared target directory may hold a
    // binary compiled from another clone of the same sources.
    let here = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let relative = PathBuf::from("tests/emulators").join(kind.serve);
    here.ancestors()
        .map(|d| d.join(&relative))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("emulators")
                .join(kind.serve)
        })
}

/// The AWS emulator (kept as a name for the common case).
#[derive(Debug)]
pub struct AwsEmulator;

impl AwsEmulator {
    /// The AWS emulator shared by this test binary, reset, for this test alone.
    pub fn shared() -> EmulatorGuard {
        Emulator::shared(AWS)
    }
    /// A new AWS emulator of the caller's own (benchmarks).
    pub fn start() -> Emulator {
        Emulator::start(AWS)
    }
}

impl Emulator {
    /// The emulator of `kind` shared by this test binary, reset, for this test alone.
    pub fn shared(kind: EmulatorKind) -> EmulatorGuard {
        type Slot = (&'static Emulator, &'static Mutex<()>);
        static SHARED: OnceLock<Mutex<HashMap<&'static str, Slot>>> = OnceLock::new();
        let (emulator, lock) = {
            let mut all = SHARED
                .get_or_init(Default::default)
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            *all.entry(kind.name).or_insert_with(|| {
                // Lives as long as the test binary; stopped by the parent-death watch.
                let emulator: &'static Emulator = Box::leak(Box::new(Emulator::start(kind)));
                let lock: &'static Mutex<()> = Box::leak(Box::new(Mutex::new(())));
                (emulator, lock)
            })
        };
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        emulator.reset();
        EmulatorGuard {
            emulator,
            _lock: guard,
        }
    }

    /// Start a new emulator and wait until it answers.
    pub fn start(kind: EmulatorKind) -> Emulator {
        Emulator::start_with(kind, &[])
    }

    /// [`Emulator::start`] with options of that emulator's `serve` script
    /// (`--no-call-log` for Azurite, which benches pass).
    pub fn start_with(kind: EmulatorKind, options: &[&str]) -> Emulator {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let log = log_dir().join(format!("{}-{port}.log", kind.name));
        let out = std::fs::File::create(&log).expect("emulator log file");
        let err = out.try_clone().expect("emulator log file");
        let serve = serve_script(kind);
        let child = Command::new(&serve)
            .args(["--port", &port.to_string(), "--exit-with-parent"])
            .args(options)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", serve.display()));
        let emulator = Emulator {
            kind,
            child: Mutex::new(child),
            port,
            log,
        };
        // The first start creates the virtualenv (a pip install): allow for it.
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Ok((200, _)) = emulator.request("GET", "/_emulator/ready", "") {
                return emulator;
            }
            if let Ok(Some(status)) = emulator.child.lock().unwrap().try_wait() {
                panic!(
                    "the {} emulator exited ({status}) before answering. Its log ({}):\n{}\nRun `{} --port 5555` to see why (it installs what it needs on first use).",
                    kind.name,
                    emulator.log.display(),
                    std::fs::read_to_string(&emulator.log).unwrap_or_default(),
                    serve.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the {} emulator did not answer within 300 s; log: {}",
                kind.name,
                emulator.log.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL` or an SDK `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Which emulator this is.
    pub fn kind(&self) -> EmulatorKind {
        self.kind
    }

    /// Forget every resource, pending transition and logged call; faults back to none.
    pub fn reset(&self) {
        self.post("/_emulator/reset", "");
    }

    /// Set latency, fault injection, holds and delays (see the emulator's module docs).
    pub fn set_faults(&self, json: &str) {
        self.post("/_emulator/faults", json);
    }

    /// The call log: a JSON list of `{service, operation, start, end, fault}`.
    pub fn calls(&self) -> String {
        self.get("/_emulator/calls")
    }

    /// The PostgreSQL server's connection URL for its state role (password included).
    /// PostgreSQL emulator only.
    pub fn postgres_url(&self) -> String {
        assert_eq!(
            self.kind, POSTGRES,
            "a connection URL is the PostgreSQL server's"
        );
        let body = self.get("/_emulator/connection");
        body.split("\"url\": \"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("a connection URL")
            .to_string()
    }

    /// Azurite's storage connection string (its well-known development account). Azurite
    /// only.
    pub fn azurite_connection_string(&self) -> String {
        assert_eq!(self.kind, AZURITE, "a connection string is Azurite's");
        let body = self.get("/_emulator/connection");
        body.split("\"connection_string\": \"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("a connection string")
            .to_string()
    }

    /// The calls whose answers are held right now (JSON list).
    pub fn held(&self) -> String {
        self.get("/_emulator/held")
    }

    /// Answer every held call.
    pub fn release_held(&self) {
        self.post("/_emulator/held/release", "");
    }

    /// The ARN of a new ACM certificate for `domain` (HTTPS listeners need one that
    /// exists). AWS emulator only.
    pub fn certificate(&self, domain: &str) -> String {
        assert_eq!(self.kind, AWS, "certificates are an AWS emulator fixture");
        let (status, body) = self
            .request(
                "POST",
                "/_emulator/certificate",
                &format!(r#"{{"domain": "{domain}"}}"#),
            )
            .expect("certificate");
        assert_eq!(status, 200, "{body}");
        body.split("\"arn\": \"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_string()
    }

    /// An ACM certificate for `domain` held under the given `arn` (golden plans name a
    /// fixed one). AWS emulator only.
    pub fn certificate_at(&self, domain: &str, arn: &str) {
        assert_eq!(self.kind, AWS, "certificates are an AWS emulator fixture");
        let (status, body) = self
            .request(
                "POST",
                "/_emulator/certificate",
                &format!(r#"{{"domain": "{domain}", "arn": "{arn}"}}"#),
            )
            .expect("certificate");
        assert_eq!(status, 200, "{body}");
    }

    fn get(&self, path: &str) -> String {
        let (status, body) = self
            .request("GET", path, "")
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    fn post(&self, path: &str, body: &str) {
        let (status, text) = self
            .request("POST", path, body)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        assert_eq!(status, 200, "POST {path}: {text}");
    }

    /// A plain HTTP/1.1 request to the emulator (control endpoints need nothing more).
    pub fn request(&self, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        self.request_with(method, path, body, &[])
            .map(|(status, _, body)| (status, body))
    }

    /// An ARM call to the Azure emulator as someone outside cairn makes it (a bearer
    /// token, `api` as the api-version): the status and the body.
    pub fn arm(&self, method: &str, path: &str, api: &str, body: &str) -> (u16, String) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let (status, _, body) = self
            .request_with(
                method,
                &format!("{path}{sep}api-version={api}"),
                body,
                &[("Authorization", "Bearer out-of-band")],
            )
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        (status, body)
    }

    /// A TLS certificate issued into a vault kept outside any stack, as a team keeps them,
    /// on the Azure emulator: resource group `group` and vault `vault` in `subscription`
    /// (granting by Azure RBAC when `rbac`, else by access policies), and the certificate's
    /// PFX as the secret `site-tls` of content type `application/x-pkcs12` (what Key Vault
    /// keeps of a certificate, and what a gateway reads). The secret's URL.
    pub fn issue_certificate(
        &self,
        at: (&str, &str, &str),
        group: &str,
        vault: &str,
        rbac: bool,
    ) -> String {
        let (subscription, tenant, location) = at;
        let group_path = format!("/subscriptions/{subscription}/resourceGroups/{group}");
        let (status, body) = self.arm(
            "PUT",
            &group_path,
            "2021-04-01",
            &format!(r#"{{"location": "{location}"}}"#),
        );
        assert!(matches!(status, 200 | 201), "{body}");
        let vault_path = format!("{group_path}/providers/Microsoft.KeyVault/vaults/{vault}");
        let (status, body) = self.arm(
            "PUT",
            &vault_path,
            "2019-09-01",
            &serde_json::json!({
                "location": location,
                "properties": {
                    "tenantId": tenant,
                    "sku": {"family": "A", "name": "standard"},
                    "enableRbacAuthorization": rbac,
                    "accessPolicies": [],
                },
            })
            .to_string(),
        );
        assert!(matches!(status, 200 | 201), "{body}");
        let uri = loop {
            let (_, body) = self.arm("GET", &vault_path, "2019-09-01", "");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if v["properties"]["provisioningState"] == "Succeeded" {
                break v["properties"]["vaultUri"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // The start of a real PFX's DER (its content is not read by the emulator).
        let pfx = "MIIKcAIBAzCCCiwGCSqGSIb3DQEHAaCCCh0EggoZMIIKFTCCBhYGCSqGSIb3DQEHAaCCBgcEggYD";
        let (status, body) = self.arm(
            "PUT",
            &format!("{vault_path}/secrets/site-tls"),
            "2019-09-01",
            &serde_json::json!({
                "properties": {"value": pfx, "contentType": "application/x-pkcs12"},
            })
            .to_string(),
        );
        assert!(matches!(status, 200 | 201), "{body}");
        format!("{uri}secrets/site-tls")
    }

    /// A plain HTTP/1.1 request with extra headers; the status, the response's headers
    /// (lowercased names) and its body.
    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> std::io::Result<(u16, HashMap<String, String>, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let extra: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )?;
        let mut raw = String::new();
        s.read_to_string(&mut raw)?;
        let status = raw
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
        let headers = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Ok((status, headers, body.to_string()))
    }
}

/// Where this test process's emulators write their logs: a directory of its own, so that a
/// later run can remove those of processes that have ended. A log explains a failure of the
/// run that started its emulator until the next run; none piles up in the temporary
/// directory run after run.
fn log_dir() -> &'static std::path::Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        const PREFIX: &str = "cairn-emulator-logs-";
        let tmp = std::env::temp_dir();
        for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ended = name
                .strip_prefix(PREFIX)
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists());
            if ended {
                let _ = std::fs::remove_dir_all(entry.path());
            } else if name.starts_with("cairn-")
                && name.contains("-emulator-")
                && name.ends_with(".log")
            {
                // The layout before: one file per emulator, left in the directory itself.
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let dir = tmp.join(format!("{PREFIX}{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("emulator log directory");
        dir
    })
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Ok(mut c) = self.child.lock() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
