//! Progress reporting for apply: the CLI's progress lines and JSON event streams both hang
//! off this trait. Every method has a no-op default, so an observer implements only what it
//! shows.

use super::{ApplyReport, OpKind};
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Identifies one step of an apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpInfo {
    /// Concrete address of the resource.
    pub address: crate::value::Text,
    /// Portable address the resource came from.
    pub origin: crate::value::Text,
    /// What the step does.
    pub kind: OpKind,
}

/// Receives apply progress. Called from the scheduler and from provider tasks: keep it quick.
pub trait Observer: Send + Sync {
    /// The step's provider call starts (its pending record is already durable).
    fn op_started(&self, _op: &OpInfo) {}
    /// A message from a long provider call (a waiter polling a database to become available).
    fn op_progress(&self, _op: &OpInfo, _message: &str) {}
    /// The step succeeded, `elapsed` after its call started.
    fn op_finished(&self, _op: &OpInfo, _elapsed: Duration) {}
    /// The step failed with `error` (its call failed, or could not be made).
    fn op_failed(&self, _op: &OpInfo, _error: &str) {}
    /// The step will not run: `because` names the failed step it depends on.
    fn op_skipped(&self, _op: &OpInfo, _because: &str) {}
    /// The apply ended; `report` is what it returns.
    fn apply_finished(&self, _report: &ApplyReport) {}
}

/// Observes nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopObserver;

impl Observer for NoopObserver {}

/// One JSON object per line per event, for machines (`cairn apply --json`).
#[derive(Debug)]
pub struct JsonEvents<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> JsonEvents<W> {
    /// Write events to `out`, flushing after each.
    pub fn new(out: W) -> Self {
        JsonEvents {
            out: Mutex::new(out),
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    fn emit(&self, event: &str, op: Option<&OpInfo>, extra: serde_json::Value) {
        let mut obj = serde_json::json!({ "event": event, "time_ms": crate::state::now_ms() });
        if let Some(op) = op {
            obj["address"] = op.address.as_str().into();
            obj["origin"] = op.origin.as_str().into();
            obj["op"] = op.kind.as_str().into();
        }
        if let (Some(o), serde_json::Value::Object(e)) = (obj.as_object_mut(), extra) {
            o.extend(e);
        }
        if let Ok(mut w) = self.out.lock() {
            let _ = writeln!(w, "{obj}");
            let _ = w.flush();
        }
    }
}

impl<W: Write + Send> Observer for JsonEvents<W> {
    fn op_started(&self, op: &OpInfo) {
        self.emit("op_started", Some(op), serde_json::json!({}));
    }
    fn op_progress(&self, op: &OpInfo, message: &str) {
        self.emit(
            "op_progress",
            Some(op),
            serde_json::json!({ "message": message }),
        );
    }
    fn op_finished(&self, op: &OpInfo, elapsed: Duration) {
        self.emit(
            "op_finished",
            Some(op),
            serde_json::json!({ "elapsed_ms": elapsed.as_millis() as u64 }),
        );
    }
    fn op_failed(&self, op: &OpInfo, error: &str) {
        self.emit("op_failed", Some(op), serde_json::json!({ "error": error }));
    }
    fn op_skipped(&self, op: &OpInfo, because: &str) {
        self.emit(
            "op_skipped",
            Some(op),
            serde_json::json!({ "because": because }),
        );
    }
    fn apply_finished(&self, report: &ApplyReport) {
        self.emit(
            "apply_finished",
            None,
            serde_json::json!({
                "succeeded": report.succeeded().count(),
                "failed": report.failed().count(),
                "skipped": report.skipped().count(),
            }),
        );
    }
}
