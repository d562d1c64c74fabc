//! Apply progress for people: one line per finished step, and every in-flight resource
//! with its elapsed time — redrawn in place on a terminal, as periodic "still creating"
//! lines in a log.
//!
//! The engine calls the observer from its tasks; the observer only forwards events over a
//! channel, and [`Progress::drain`] (running beside the apply) does all the writing, so a
//! slow terminal never slows the apply.

use cairn_core::apply::{ApplyReport, Observer, OpInfo, OpKind};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What the observer forwards.
pub enum Event {
    Started(OpInfo),
    Message(OpInfo, String),
    Finished(OpInfo, Duration),
    Failed(OpInfo, String),
    Skipped(OpInfo, String),
}

/// The engine-side half: cheap, never blocks.
pub struct Forward(mpsc::UnboundedSender<Event>);

impl Observer for Forward {
    fn op_started(&self, op: &OpInfo) {
        let _ = self.0.send(Event::Started(op.clone()));
    }
    fn op_progress(&self, op: &OpInfo, message: &str) {
        let _ = self.0.send(Event::Message(op.clone(), message.to_string()));
    }
    fn op_finished(&self, op: &OpInfo, elapsed: Duration) {
        let _ = self.0.send(Event::Finished(op.clone(), elapsed));
    }
    fn op_failed(&self, op: &OpInfo, error: &str) {
        let _ = self.0.send(Event::Failed(op.clone(), error.to_string()));
    }
    fn op_skipped(&self, op: &OpInfo, because: &str) {
        let _ = self.0.send(Event::Skipped(op.clone(), because.to_string()));
    }
    fn apply_finished(&self, _report: &ApplyReport) {}
}

/// The writing half.
pub struct Progress {
    events: mpsc::UnboundedReceiver<Event>,
    /// Redraw in place (a terminal) or print periodic lines (a log).
    live: bool,
    color: bool,
}

pub fn channel(live: bool, color: bool) -> (Forward, Progress) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        Forward(tx),
        Progress {
            events: rx,
            live,
            color,
        },
    )
}

fn verb(kind: OpKind) -> (&'static str, &'static str) {
    match kind {
        OpKind::Create | OpKind::CreateReplacement => ("creating", "created"),
        OpKind::Update => ("updating", "updated"),
        OpKind::Delete | OpKind::DeleteReplaced => ("destroying", "destroyed"),
    }
}

struct InFlight {
    kind: OpKind,
    since: Instant,
    note: String,
}

impl Progress {
    /// Write events until the apply ends (the sender is dropped).
    pub async fn drain(mut self, out: &mut dyn Write) {
        let mut flight: BTreeMap<String, InFlight> = BTreeMap::new();
        let mut drawn = 0usize;
        let mut tick = tokio::time::interval(Duration::from_secs(if self.live { 1 } else { 10 }));
        tick.tick().await;
        loop {
            let event = tokio::select! {
                e = self.events.recv() => match e {
                    Some(e) => Some(e),
                    None => break,
                },
                _ = tick.tick() => None,
            };
            if self.live {
                // Erase the in-flight block; permanent lines go above the new one.
                for _ in 0..drawn {
                    let _ = write!(out, "\x1b[1A\x1b[2K");
                }
                drawn = 0;
            }
            match event {
                Some(Event::Started(op)) => {
                    let (doing, _) = verb(op.kind);
                    if !self.live {
                        let _ = writeln!(out, "{}: {doing}...", op.address);
                    }
                    flight.insert(
                        op.address.to_string(),
                        InFlight {
                            kind: op.kind,
                            since: Instant::now(),
                            note: String::new(),
                        },
                    );
                }
                Some(Event::Message(op, m)) => {
                    if let Some(f) = flight.get_mut(op.address.as_str()) {
                        f.note = m;
                    }
                }
                Some(Event::Finished(op, elapsed)) => {
                    flight.remove(op.address.as_str());
                    let (_, done) = verb(op.kind);
                    let line = format!("{}: {done} ({:.1}s)", op.address, elapsed.as_secs_f64());
                    let _ = writeln!(out, "{}", self.paint("32", &line));
                }
                Some(Event::Failed(op, e)) => {
                    flight.remove(op.address.as_str());
                    let line = format!("{}: failed: {e}", op.address);
                    let _ = writeln!(out, "{}", self.paint("31", &line));
                }
                Some(Event::Skipped(op, because)) => {
                    let _ = writeln!(out, "{}: skipped ({because})", op.address);
                }
                None if !self.live => {
                    for (address, f) in &flight {
                        let (doing, _) = verb(f.kind);
                        let _ = writeln!(
                            out,
                            "{address}: still {doing}... [{}s elapsed]{}",
                            f.since.elapsed().as_secs(),
                            note(&f.note)
                        );
                    }
                }
                None => {}
            }
            if self.live {
                for (address, f) in &flight {
                    let (doing, _) = verb(f.kind);
                    let _ = writeln!(
                        out,
                        "  {} {address} [{}s]{}",
                        self.paint("33", doing),
                        f.since.elapsed().as_secs(),
                        note(&f.note)
                    );
                    drawn += 1;
                }
            }
            let _ = out.flush();
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

fn note(n: &str) -> String {
    if n.is_empty() {
        String::new()
    } else {
        format!(" ({n})")
    }
}
