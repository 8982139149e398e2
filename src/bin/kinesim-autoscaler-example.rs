//! An example `external` scaling policy for kinesim: a small autoscaler that doubles the
//! stream when it is busy and halves it after a quiet spell. Copy it and put your own
//! rule in `Autoscaler::decide`; the protocol is in docs/external-policy.md.
//!
//! The conversation, one JSON object per line (stdin from kinesim, stdout to kinesim):
//!
//! ```text
//! kinesim: {"v":1,"type":"hello","seed":42,"open_shards":2,...}
//! we:      {"v":1,"type":"ready"}
//! kinesim: {"v":1,"type":"metrics","time_s":120,"open_shards":2,"updating":false,"datapoints":[...]}
//! we:      {"v":1,"desired_shards":null,"note":"..."}        (exactly one answer per metrics)
//! ...
//! kinesim: {"v":1,"type":"end","time_s":3600}
//! we:      (nothing; exit with status 0)
//! ```
//!
//! Rules of the road: answer every `metrics` with exactly one line and flush it (kinesim
//! waits for it, up to the experiment's `timeout`); write logs to stderr, never stdout;
//! exit 0 at `end` or when stdin closes.
//!
//! The rule here: the utilisation of a minute is
//! `max(IncomingBytes / (60 s x 1 MiB/s x N), IncomingRecords / (60 s x 1000/s x N))` with
//! `N` the open shards. Double (at most 10,000) when the newest minute is above 80%;
//! halve (at least 1) after 10 consecutive minutes below 30%. It uses no randomness, so
//! it is deterministic; an autoscaler that needs some should seed it from `hello.seed`.

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::process::ExitCode;

const SCALE_OUT_ABOVE: f64 = 0.8;
const SCALE_IN_BELOW: f64 = 0.3;
const QUIET_MINUTES: usize = 10;

/// The state of the autoscaler between messages.
struct Autoscaler {
    /// Per-shard limits from the hello (1,000 records/s and 1 MiB/s).
    records_per_s: f64,
    bytes_per_s: f64,
    /// The most kinesim accepts (10,000).
    max_shards: u64,
    /// Utilisations of the last minutes since the last resize, oldest first.
    recent: VecDeque<f64>,
}

impl Autoscaler {
    fn from_hello(hello: &Value) -> Autoscaler {
        Autoscaler {
            records_per_s: hello["shard_write_records_per_s"].as_f64().unwrap_or(1000.0),
            bytes_per_s: hello["shard_write_bytes_per_s"].as_f64().unwrap_or(1_048_576.0),
            max_shards: hello["max_desired_shards"].as_u64().unwrap_or(10_000),
            recent: VecDeque::new(),
        }
    }

    /// The share of the stream's write capacity one minute used.
    fn utilisation(&self, minute: &Value, shards: u64) -> f64 {
        let seconds = 60.0 * shards as f64;
        let bytes = minute["IncomingBytes"].as_f64().unwrap_or(0.0) / (self.bytes_per_s * seconds);
        let records = minute["IncomingRecords"].as_f64().unwrap_or(0.0) / (self.records_per_s * seconds);
        bytes.max(records)
    }

    /// Answers one `metrics` message: `(desired shards or None for no change, note)`.
    fn decide(&mut self, metrics: &Value) -> (Option<u64>, String) {
        let shards = metrics["open_shards"].as_u64().unwrap_or(1).max(1);
        let minutes = metrics["datapoints"].as_array().map(Vec::as_slice).unwrap_or_default();
        for minute in minutes {
            self.recent.push_back(self.utilisation(minute, shards));
            if self.recent.len() > QUIET_MINUTES {
                self.recent.pop_front();
            }
        }
        let Some(&newest) = self.recent.back() else {
            return (None, "no datapoint yet".to_string());
        };
        let note = format!("utilisation {:.1}% of {shards} shards", 100.0 * newest);
        if metrics["updating"].as_bool() == Some(true) {
            // A resize is in progress; a new request would be refused.
            return (None, format!("{note}; stream updating, waiting"));
        }
        if newest > SCALE_OUT_ABOVE && shards < self.max_shards {
            let target = (2 * shards).min(self.max_shards);
            // The old minutes were measured against the old capacity: start afresh.
            self.recent.clear();
            return (Some(target), format!("{note} > {:.0}%: scale out to {target}", 100.0 * SCALE_OUT_ABOVE));
        }
        let quiet = self.recent.len() == QUIET_MINUTES && self.recent.iter().all(|&u| u < SCALE_IN_BELOW);
        if quiet && shards > 1 {
            let target = (shards / 2).max(1);
            self.recent.clear();
            return (
                Some(target),
                format!("{note}; {QUIET_MINUTES} minutes < {:.0}%: scale in to {target}", 100.0 * SCALE_IN_BELOW),
            );
        }
        (None, note)
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // stderr goes to the terminal running kinesim; stdout is only for answers.
            eprintln!("kinesim-autoscaler-example: {message}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut stdout = std::io::stdout().lock();
    let mut send = |answer: Value| -> Result<(), String> {
        // One line per answer, flushed at once: kinesim is waiting for it.
        writeln!(stdout, "{answer}").and_then(|()| stdout.flush()).map_err(|e| format!("cannot answer: {e}"))
    };
    let mut read = || -> Result<Option<Value>, String> {
        match lines.next() {
            None => Ok(None),
            Some(Err(e)) => Err(format!("cannot read stdin: {e}")),
            Some(Ok(line)) => {
                let message: Value = serde_json::from_str(&line).map_err(|e| format!("bad message {line}: {e}"))?;
                if message["v"] != 1 {
                    return Err(format!("protocol version {} is not supported (this speaks 1)", message["v"]));
                }
                Ok(Some(message))
            }
        }
    };

    // The handshake: kinesim starts with `hello`; we answer `ready` once set up.
    let Some(hello) = read()? else { return Ok(()) };
    if hello["type"] != "hello" {
        return Err(format!("expected a hello first, got {hello}"));
    }
    let mut autoscaler = Autoscaler::from_hello(&hello);
    send(json!({"v": 1, "type": "ready"}))?;

    // Then one answer per `metrics` until `end` (or stdin closes).
    while let Some(message) = read()? {
        match message["type"].as_str() {
            Some("metrics") => {
                let (desired, note) = autoscaler.decide(&message);
                send(json!({"v": 1, "desired_shards": desired, "note": note}))?;
            }
            Some("end") => return Ok(()),
            other => return Err(format!("unexpected message type {other:?}")),
        }
    }
    Ok(())
}
