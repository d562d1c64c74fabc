//! The AWS emulator harness: starts `tests/emulators/aws/serve` (moto 5.2.5 wrapped by
//! `cairn_moto.py`) on a free loopback port, once per test binary, and gives tests a
//! serialised, freshly reset emulator. A missing emulator is a loud failure with the command
//! that fixes it, never a skip.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// A running emulator.
#[derive(Debug)]
pub struct AwsEmulator {
    child: Mutex<Child>,
    port: u16,
    log: PathBuf,
}

/// Exclusive use of the shared emulator for one test; reset on acquisition.
#[derive(Debug)]
pub struct EmulatorGuard {
    emulator: &'static AwsEmulator,
    _lock: MutexGuard<'static, ()>,
}

impl EmulatorGuard {
    /// The emulator itself, for use off the test's thread (while this guard lives).
    pub fn emulator(&self) -> &'static AwsEmulator {
        self.emulator
    }
}

impl std::ops::Deref for EmulatorGuard {
    type Target = AwsEmulator;
    fn deref(&self) -> &AwsEmulator {
        self.emulator
    }
}

fn serve_script() -> PathBuf {
    // The checkout being tested, found at run time: a shared target directory may hold a
    // binary compiled from another clone of the same sources.
    let here = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    here.ancestors()
        .map(|d| d.join("tests/emulators/aws/serve"))
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("emulators/aws/serve"))
}

impl AwsEmulator {
    /// The emulator shared by this test binary, reset, for this test alone.
    pub fn shared() -> EmulatorGuard {
        static EMULATOR: OnceLock<AwsEmulator> = OnceLock::new();
        static LOCK: Mutex<()> = Mutex::new(());
        let lock = LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let emulator = EMULATOR.get_or_init(AwsEmulator::start);
        emulator.reset();
        EmulatorGuard {
            emulator,
            _lock: lock,
        }
    }

    /// Start a new emulator and wait until it answers.
    pub fn start() -> AwsEmulator {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let log = std::env::temp_dir().join(format!("cairn-aws-emulator-{port}.log"));
        let out = std::fs::File::create(&log).expect("emulator log file");
        let err = out.try_clone().expect("emulator log file");
        let child = Command::new(serve_script())
            .args(["--port", &port.to_string(), "--exit-with-parent"])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", serve_script().display()));
        let emulator = AwsEmulator {
            child: Mutex::new(child),
            port,
            log,
        };
        // The first start creates the virtualenv (a pip install): allow for it.
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Ok((200, _)) = emulator.request("GET", "/moto-api/", "") {
                return emulator;
            }
            if let Ok(Some(status)) = emulator.child.lock().unwrap().try_wait() {
                panic!(
                    "the AWS emulator exited ({status}) before answering. Its log ({}):\n{}\nRun `tests/emulators/aws/serve --port 5555` to see why (it needs python3 with venv and pip, and PyPI).",
                    emulator.log.display(),
                    std::fs::read_to_string(&emulator.log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the AWS emulator did not answer within 300 s; log: {}",
                emulator.log.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL` or an SDK `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Forget every resource (moto's reset) and pending transition; faults back to none.
    pub fn reset(&self) {
        self.post("/moto-api/reset", "");
        self.set_faults(
            r#"{"latency_ms": 0, "throttle_rate": 0, "error_rate": 0, "transition_ms": 300}"#,
        );
        self.post("/cairn/calls/reset", "");
    }

    /// Set latency and fault injection (see `cairn_moto.py`).
    pub fn set_faults(&self, json: &str) {
        self.post("/cairn/faults", json);
    }

    /// The call log: a JSON list of `{service, operation, start, end, fault}`.
    pub fn calls(&self) -> String {
        let (status, body) = self
            .request("GET", "/cairn/calls", "")
            .expect("emulator call log");
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The ARN of a new ACM certificate for `domain` (HTTPS listeners need one that exists).
    pub fn certificate(&self, domain: &str) -> String {
        let (status, body) = self
            .request(
                "POST",
                "/cairn/certificate",
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

    fn post(&self, path: &str, body: &str) {
        let (status, text) = self
            .request("POST", path, body)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        assert_eq!(status, 200, "POST {path}: {text}");
    }

    /// A plain HTTP/1.1 request to the emulator (control endpoints need nothing more).
    fn request(&self, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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
        let body = raw
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((status, body))
    }
}

impl Drop for AwsEmulator {
    fn drop(&mut self) {
        if let Ok(mut c) = self.child.lock() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
