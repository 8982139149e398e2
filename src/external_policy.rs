//! The `external` policy: a user program speaking JSON lines over stdin/stdout.
//!
//! [`ProcessPolicy`] starts the program once per run, greets it with a `hello` (the
//! seed, the experiment, the stream), then sends one `metrics` message per evaluation
//! and waits for one answer line each (the desired open shard count, or none), and
//! finally an `end`. The protocol is documented in docs/external-policy.md; every
//! message carries `"v": 1`.
//!
//! Nothing here ever blocks without a bound: the program's stdout is read by its own
//! thread into a channel and every answer is awaited with the per-answer timeout; stdin
//! is written by another thread, so a program that stops reading cannot stall the run
//! either. Whatever goes wrong (the program cannot be started, exits, hangs, answers
//! something that is not a valid answer), the child is killed and reaped and the error
//! says in one line which program, what happened and at which simulated time.

use kinesim_models::policy::external::{Answer, ExternalDecider, ExternalFailure, Observation};
use kinesim_models::policy::MinuteDatapoint;
use serde::Serialize;
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// The protocol version kinesim speaks; every message in both directions carries it as `v`.
pub const PROTOCOL_VERSION: u64 = 1;

/// The largest shard count a program may ask for (UpdateShardCount's ceiling).
pub const DESIRED_SHARDS_MAX: u32 = 10_000;

/// The longest line kinesim reads from the program; a longer one is garbage.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// How much of an offending line an error message quotes.
const QUOTE_CHARS: usize = 200;

/// What the program is told once, at start (the `hello` message, with `v`, `type`,
/// `max_desired_shards` and `answer_timeout_ms` added).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The run's seed (the program may use it to seed its own randomness).
    pub seed: u64,
    /// The experiment's `name`.
    pub experiment: String,
    /// Simulated length of the run, in seconds.
    pub duration_s: u64,
    /// `provisioned` (the only capacity mode simulated).
    pub stream_mode: String,
    /// Open shards when the run starts.
    pub open_shards: u32,
    /// How long after its minute ends a datapoint is published, in seconds.
    pub publish_delay_s: u64,
    /// Per-shard write limits: 1,000 records/s ...
    pub shard_write_records_per_s: u64,
    /// ... and 1,048,576 bytes/s.
    pub shard_write_bytes_per_s: u64,
}

#[derive(Serialize)]
struct HelloMessage<'a> {
    v: u64,
    #[serde(rename = "type")]
    kind: &'static str,
    seed: u64,
    experiment: &'a str,
    duration_s: u64,
    stream_mode: &'a str,
    open_shards: u32,
    publish_delay_s: u64,
    shard_write_records_per_s: u64,
    shard_write_bytes_per_s: u64,
    max_desired_shards: u32,
    answer_timeout_ms: u64,
}

#[derive(Serialize)]
struct MetricsMessage {
    v: u64,
    #[serde(rename = "type")]
    kind: &'static str,
    time_s: u64,
    open_shards: u32,
    updating: bool,
    datapoints: Vec<DatapointMessage>,
}

/// One published minute under CloudWatch's metric names; a per-API series is absent in
/// a minute without a call of that API, as CloudWatch returns no datapoint for it.
#[derive(Serialize)]
struct DatapointMessage {
    minute_end_s: u64,
    #[serde(rename = "IncomingBytes")]
    incoming_bytes: u64,
    #[serde(rename = "IncomingRecords")]
    incoming_records: u64,
    #[serde(rename = "PutRecord.Bytes", skip_serializing_if = "Option::is_none")]
    put_record_bytes: Option<u64>,
    #[serde(rename = "PutRecord.Success", skip_serializing_if = "Option::is_none")]
    put_record_success: Option<u64>,
    #[serde(rename = "PutRecords.Bytes", skip_serializing_if = "Option::is_none")]
    put_records_bytes: Option<u64>,
    #[serde(rename = "PutRecords.Records", skip_serializing_if = "Option::is_none")]
    put_records_records: Option<u64>,
    #[serde(rename = "GetRecords.Bytes", skip_serializing_if = "Option::is_none")]
    get_records_bytes: Option<u64>,
    #[serde(rename = "GetRecords.Records", skip_serializing_if = "Option::is_none")]
    get_records_records: Option<u64>,
    /// The Maximum over the minute, not a Sum.
    #[serde(rename = "GetRecords.IteratorAgeMilliseconds", skip_serializing_if = "Option::is_none")]
    get_records_iterator_age_ms: Option<u64>,
}

impl DatapointMessage {
    fn new(minute_end_s: u64, m: &MinuteDatapoint) -> DatapointMessage {
        let when = |requests: u64, value: u64| (requests > 0).then_some(value);
        DatapointMessage {
            minute_end_s,
            incoming_bytes: m.incoming_bytes,
            incoming_records: m.incoming_records,
            put_record_bytes: when(m.put_record_requests, m.put_record_bytes),
            put_record_success: when(m.put_record_requests, m.put_record_success),
            put_records_bytes: when(m.put_records_requests, m.put_records_bytes),
            put_records_records: when(m.put_records_requests, m.put_records_records),
            get_records_bytes: when(m.get_records_requests, m.get_records_bytes),
            get_records_records: when(m.get_records_requests, m.get_records_records),
            get_records_iterator_age_ms: when(m.get_records_requests, m.get_records_iterator_age_ms_max),
        }
    }
}

#[derive(Serialize)]
struct EndMessage {
    v: u64,
    #[serde(rename = "type")]
    kind: &'static str,
    time_s: u64,
}

/// One JSON line (newline included).
fn line_of(message: &impl Serialize) -> Vec<u8> {
    let mut line = serde_json::to_vec(message).expect("protocol messages serialise");
    line.push(b'\n');
    line
}

fn hello_line(hello: &Hello, answer_timeout: Duration) -> Vec<u8> {
    line_of(&HelloMessage {
        v: PROTOCOL_VERSION,
        kind: "hello",
        seed: hello.seed,
        experiment: &hello.experiment,
        duration_s: hello.duration_s,
        stream_mode: &hello.stream_mode,
        open_shards: hello.open_shards,
        publish_delay_s: hello.publish_delay_s,
        shard_write_records_per_s: hello.shard_write_records_per_s,
        shard_write_bytes_per_s: hello.shard_write_bytes_per_s,
        max_desired_shards: DESIRED_SHARDS_MAX,
        answer_timeout_ms: u64::try_from(answer_timeout.as_millis()).unwrap_or(u64::MAX),
    })
}

fn metrics_line(observation: &Observation<'_>) -> Vec<u8> {
    line_of(&MetricsMessage {
        v: PROTOCOL_VERSION,
        kind: "metrics",
        time_s: observation.now_s,
        open_shards: observation.open_shards,
        updating: observation.updating,
        datapoints: observation.minutes.iter().map(|(end_s, m)| DatapointMessage::new(*end_s, m)).collect(),
    })
}

fn end_line(time_s: u64) -> Vec<u8> {
    line_of(&EndMessage { v: PROTOCOL_VERSION, kind: "end", time_s })
}

const READY_EXAMPLE: &str = r#"{"v":1,"type":"ready"}"#;
const DECISION_EXAMPLE: &str = r#"{"v":1,"desired_shards":4}"#;

/// Reads the common part of an answer: a JSON object with `"v": 1` and only known
/// fields. The error completes "answered ... " (it starts with "with").
fn answer_object(line: &str, allowed: &[&str], example: &str) -> Result<Map<String, Value>, String> {
    let object = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(object)) => object,
        _ => return Err(format!("with `{}` (expected a JSON object like {example})", quote(line))),
    };
    match object.get("v") {
        Some(v) if v.as_u64() == Some(PROTOCOL_VERSION) => {}
        Some(v) => {
            return Err(format!(
                "with protocol version {v} (kinesim speaks version {PROTOCOL_VERSION}, like {example}): `{}`",
                quote(line)
            ))
        }
        None => return Err(format!("without \"v\": {PROTOCOL_VERSION} (expected {example}): `{}`", quote(line))),
    }
    if let Some(unknown) = object.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(format!(
            "with an unknown field \"{}\" (the answer has only {}): `{}`",
            quote(unknown),
            allowed.join(", "),
            quote(line)
        ));
    }
    Ok(object)
}

/// Checks the answer to `hello`: `{"v":1,"type":"ready"}`.
fn parse_ready(line: &str) -> Result<(), String> {
    let object = answer_object(line, &["v", "type"], READY_EXAMPLE)?;
    match object.get("type") {
        Some(Value::String(kind)) if kind == "ready" => Ok(()),
        _ => Err(format!("with `{}` (expected {READY_EXAMPLE})", quote(line))),
    }
}

/// Reads the answer to `metrics`: `{"v":1,"desired_shards":N|null,"note":"..."}`, the
/// last two optional, and an optional `"type":"decision"`.
fn parse_decision(line: &str) -> Result<Answer, String> {
    let object = answer_object(line, &["v", "type", "desired_shards", "note"], DECISION_EXAMPLE)?;
    match object.get("type") {
        None => {}
        Some(Value::String(kind)) if kind == "decision" => {}
        Some(other) => {
            return Err(format!(
                "with \"type\": {other} (an answer to metrics has \"type\": \"decision\" or none): `{}`",
                quote(line)
            ))
        }
    }
    let desired_shards = match object.get("desired_shards") {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if (1..=DESIRED_SHARDS_MAX).contains(&n) => Some(n),
            _ => {
                return Err(format!(
                    "with desired_shards {value} (expected null for no change or a whole number from 1 to \
                     {DESIRED_SHARDS_MAX}): `{}`",
                    quote(line)
                ))
            }
        },
    };
    let note = match object.get("note") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(note)) => note.clone(),
        Some(other) => return Err(format!("with a note that is not a string ({other}): `{}`", quote(line))),
    };
    Ok(Answer { desired_shards, note })
}

/// The start of `text`, at most [`QUOTE_CHARS`] characters, marked when cut.
fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// "5 s", "1.5 s", "250 ms".
fn seconds(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{} s", duration.as_secs())
    } else if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{} s", duration.as_secs_f64())
    }
}

fn describe_exit(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    format!("exited abnormally ({status})")
}

/// The command as a user would recognise it: `program arg 'an arg'`, shortened.
fn command_label(command: &[String]) -> String {
    let words: Vec<String> = command
        .iter()
        .map(
            |word| {
                if word.is_empty() || word.contains(char::is_whitespace) {
                    format!("'{word}'")
                } else {
                    word.clone()
                }
            },
        )
        .collect();
    quote(&words.join(" "))
}

/// What arrives from the program's side, in order.
enum Event {
    /// A line of stdout, without its line ending.
    Line(Vec<u8>),
    /// A line longer than [`MAX_LINE_BYTES`] (reading stops there).
    LineTooLong,
    /// stdout closed (normally: the program exited).
    Eof,
    /// stdout could not be read.
    ReadFailed(std::io::Error),
    /// stdin could not be written (normally: the program exited).
    WriteFailed(std::io::Error),
}

enum LineRead {
    Line,
    Eof,
    TooLong,
}

/// Reads one line into `line` (without `\n` or `\r\n`), keeping at most `max` bytes.
fn read_bounded_line(reader: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> std::io::Result<LineRead> {
    line.clear();
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if available.is_empty() {
            return Ok(if line.is_empty() { LineRead::Eof } else { LineRead::Line });
        }
        let (taken, complete) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at, true),
            None => (available.len(), false),
        };
        if line.len() + taken > max {
            return Ok(LineRead::TooLong);
        }
        line.extend_from_slice(&available[..taken]);
        reader.consume(if complete { taken + 1 } else { taken });
        if complete {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(LineRead::Line);
        }
    }
}

fn read_stdout(stdout: impl Read, events: Sender<Event>) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        let event = match read_bounded_line(&mut reader, &mut line, MAX_LINE_BYTES) {
            Ok(LineRead::Line) => Event::Line(std::mem::take(&mut line)),
            Ok(LineRead::Eof) => Event::Eof,
            Ok(LineRead::TooLong) => Event::LineTooLong,
            Err(error) => Event::ReadFailed(error),
        };
        let last = !matches!(event, Event::Line(_));
        if events.send(event).is_err() || last {
            return;
        }
    }
}

fn write_stdin(mut stdin: ChildStdin, lines: Receiver<Vec<u8>>, events: Sender<Event>) {
    for line in lines {
        if let Err(error) = stdin.write_all(&line).and_then(|()| stdin.flush()) {
            let _ = events.send(Event::WriteFailed(error));
            return;
        }
    }
    // The sender is gone (the `end` was sent): dropping `stdin` closes the pipe.
}

/// Where the program was looked for, for the error when it cannot be started.
fn resolve_program(program: &str, working_dir: &Path) -> (PathBuf, String) {
    let has_separator = program.contains('/') || program.contains(std::path::MAIN_SEPARATOR);
    if has_separator {
        // Joining drops `working_dir` for an absolute program; collecting drops the `.`s.
        let path: PathBuf = working_dir.join(program).components().collect();
        let looked = format!("looked for {}", path.display());
        return (path, looked);
    }
    let with_suffix = |dir: &Path| {
        let mut path = dir.join(program);
        if !std::env::consts::EXE_SUFFIX.is_empty() && path.extension().is_none() {
            path.set_extension(std::env::consts::EXE_EXTENSION);
        }
        path
    };
    let exe_dir = std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf));
    let mut places = Vec::new();
    if let Some(dir) = &exe_dir {
        places.push(dir.display().to_string());
        let candidate = with_suffix(dir);
        if is_executable(&candidate) {
            return (candidate, String::new());
        }
    }
    places.push("on PATH".to_string());
    let looked = format!("looked in {}", places.join(" and "));
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = with_suffix(if dir.as_os_str().is_empty() { Path::new(".") } else { &dir });
            if is_executable(&candidate) {
                return (absolute(&candidate), looked);
            }
        }
    }
    // Not found: let the OS say so (and have the last word on PATH).
    (PathBuf::from(program), looked)
}

fn is_executable(path: &Path) -> bool {
    let Ok(metadata) = path.metadata() else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        metadata.is_file() && metadata.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        metadata.is_file()
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Which message an answer (or the lack of one) is about, for error messages.
#[derive(Clone, Copy)]
enum Asked {
    Hello,
    Metrics(u64),
    End(u64),
}

impl std::fmt::Display for Asked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Asked::Hello => write!(f, "the hello at 0 s"),
            Asked::Metrics(time_s) => write!(f, "the metrics at {time_s} s"),
            Asked::End(time_s) => write!(f, "the end at {time_s} s"),
        }
    }
}

enum State {
    Running,
    /// `finish` returned: the program exited and was reaped.
    Finished,
    /// A failure ended the program (killed and reaped); the first error, repeated.
    Failed(String),
}

/// An `external` policy: a user program started once per run, answering each
/// evaluation's metrics with a desired open shard count over JSON lines.
pub struct ProcessPolicy {
    /// `external policy `program args``, the start of every error.
    label: String,
    child: Child,
    /// Lines to the writer thread; dropped (closing stdin) after the `end`.
    to_child: Option<Sender<Vec<u8>>>,
    from_child: Receiver<Event>,
    answer_timeout: Duration,
    /// Simulated time of the `end` message.
    end_time_s: u64,
    state: State,
}

impl ProcessPolicy {
    /// Starts `command` (program and arguments) in `working_dir` (the experiment file's
    /// folder), sends the `hello` and waits for `ready` (at most `answer_timeout`, the
    /// bound of every answer). A program with a path separator is relative to
    /// `working_dir`; a bare name is looked for next to the running executable, then on
    /// PATH.
    pub fn start(
        command: &[String],
        working_dir: &Path,
        hello: &Hello,
        answer_timeout: Duration,
    ) -> Result<ProcessPolicy, ExternalFailure> {
        let Some(program) = command.first() else {
            return Err(ExternalFailure(
                "external policy: the command is empty (it needs at least the program)".into(),
            ));
        };
        let label = format!("external policy `{}`", command_label(command));
        let working_dir = absolute(if working_dir.as_os_str().is_empty() { Path::new(".") } else { working_dir });
        let (path, looked) = resolve_program(program, &working_dir);
        let spawned = Command::new(&path)
            .args(&command[1..])
            .current_dir(&working_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => {
                let place = if looked.is_empty() { String::new() } else { format!(" ({looked})") };
                return Err(ExternalFailure(format!("{label} could not be started: {error}{place}")));
            }
        };
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ExternalFailure(format!("{label} could not be started: its stdin or stdout is not piped")));
        };
        let (events_tx, events_rx) = mpsc::channel();
        let (lines_tx, lines_rx) = mpsc::channel();
        let reader_events = events_tx.clone();
        // Neither thread is joined: a grandchild that keeps a pipe open must not hold up
        // the run. Each ends when its pipe closes or its channel is dropped.
        let threads = std::thread::Builder::new()
            .name("external-policy-stdout".into())
            .spawn(move || read_stdout(stdout, reader_events))
            .and_then(|_| {
                std::thread::Builder::new()
                    .name("external-policy-stdin".into())
                    .spawn(move || write_stdin(stdin, lines_rx, events_tx))
            });
        if let Err(error) = threads {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ExternalFailure(format!("{label} could not be started: no thread for its pipes: {error}")));
        }
        let mut policy = ProcessPolicy {
            label,
            child,
            to_child: Some(lines_tx),
            from_child: events_rx,
            answer_timeout,
            end_time_s: hello.duration_s,
            state: State::Running,
        };
        let line = policy.ask(Asked::Hello, hello_line(hello, answer_timeout))?;
        if let Err(problem) = parse_ready(&line) {
            return Err(policy.fail(format!("answered {} {problem}", Asked::Hello)));
        }
        Ok(policy)
    }

    /// The operating system's id of the program's process.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    fn check_running(&self) -> Result<(), ExternalFailure> {
        match &self.state {
            State::Running => Ok(()),
            State::Finished => Err(ExternalFailure(format!("{} was asked after the end of the run", self.label))),
            State::Failed(first) => Err(ExternalFailure(format!("{first} (and was asked again)"))),
        }
    }

    /// Kills and reaps the program and records the failure.
    fn fail(&mut self, what: String) -> ExternalFailure {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.to_child = None;
        let message = format!("{} {what}", self.label);
        self.state = State::Failed(message.clone());
        ExternalFailure(message)
    }

    /// Sends `line` and waits for the one answer line.
    fn ask(&mut self, asked: Asked, line: Vec<u8>) -> Result<String, ExternalFailure> {
        self.check_running()?;
        // Anything the program wrote since its last answer was not asked for.
        if let Ok(event) = self.from_child.try_recv() {
            return Err(self.unexpected(event, asked, Instant::now() + self.answer_timeout));
        }
        let sent = self.to_child.as_ref().is_some_and(|to_child| to_child.send(line).is_ok());
        let deadline = Instant::now() + self.answer_timeout;
        if !sent {
            return Err(self.gone(asked, deadline, None));
        }
        let event = match self.from_child.recv_timeout(self.answer_timeout) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => {
                let within = seconds(self.answer_timeout);
                return Err(self.fail(format!("did not answer {asked} within {within} (the policy's `timeout`)")));
            }
            Err(RecvTimeoutError::Disconnected) => return Err(self.gone(asked, deadline, None)),
        };
        match event {
            Event::Line(bytes) => match String::from_utf8(bytes) {
                Ok(line) => Ok(line),
                Err(error) => {
                    let text = quote(&String::from_utf8_lossy(error.as_bytes()));
                    Err(self.fail(format!("answered {asked} with a line that is not UTF-8: `{text}`")))
                }
            },
            other => Err(self.unexpected(other, asked, deadline)),
        }
    }

    /// The error for an event other than the awaited answer line.
    fn unexpected(&mut self, event: Event, asked: Asked, deadline: Instant) -> ExternalFailure {
        match event {
            Event::Line(bytes) => {
                let text = quote(&String::from_utf8_lossy(&bytes));
                let when = match asked {
                    Asked::End(_) => format!("at {asked} (nothing is answered to the end)"),
                    _ => format!("before {asked} (one answer line per message)"),
                };
                self.fail(format!("wrote `{text}` unasked, {when}"))
            }
            Event::LineTooLong => self.fail(format!("answered {asked} with a line longer than {MAX_LINE_BYTES} bytes")),
            Event::Eof => self.gone(asked, deadline, None),
            Event::ReadFailed(error) | Event::WriteFailed(error) => self.gone(asked, deadline, Some(error)),
        }
    }

    /// The program closed a pipe: reports how it exited, if it does by `deadline`.
    fn gone(&mut self, asked: Asked, deadline: Instant, error: Option<std::io::Error>) -> ExternalFailure {
        match self.wait_until(deadline) {
            Some(status) => self.fail(format!("{} before answering {asked}", describe_exit(status))),
            None => {
                let how = match error {
                    Some(error) => format!("its pipes failed ({error})"),
                    None => "closed its standard output".to_string(),
                };
                self.fail(format!("{how} before answering {asked}"))
            }
        }
    }

    /// The exit status once the program exits, or `None` if it is still running at
    /// `deadline`. Lines it writes meanwhile are dropped (the caller is failing anyway).
    fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(5)));
        }
    }
}

impl ExternalDecider for ProcessPolicy {
    fn decide(&mut self, observation: &Observation<'_>) -> Result<Answer, ExternalFailure> {
        let asked = Asked::Metrics(observation.now_s);
        let line = self.ask(asked, metrics_line(observation))?;
        parse_decision(&line).map_err(|problem| self.fail(format!("answered {asked} {problem}")))
    }

    /// Sends `end`, closes stdin and waits (at most the answer timeout) for the program
    /// to exit with status 0; anything it writes meanwhile is an error.
    fn finish(&mut self) -> Result<(), ExternalFailure> {
        self.check_running()?;
        let asked = Asked::End(self.end_time_s);
        if let Some(to_child) = self.to_child.take() {
            // A failed send means the writer stopped: the program is gone, seen below.
            let _ = to_child.send(end_line(self.end_time_s));
        }
        let deadline = Instant::now() + self.answer_timeout;
        loop {
            match self.from_child.try_recv() {
                // The program may exit without reading the `end`; its exit status says how it went.
                Ok(Event::Eof | Event::WriteFailed(_) | Event::ReadFailed(_)) | Err(_) => {}
                Ok(event) => return Err(self.unexpected(event, asked, deadline)),
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Whatever it wrote before exiting is still in the channel.
                while let Ok(event) = self.from_child.recv_timeout(Duration::from_millis(50)) {
                    if let Event::Line(_) | Event::LineTooLong = event {
                        return Err(self.unexpected(event, asked, deadline));
                    }
                    if let Event::Eof = event {
                        break;
                    }
                }
                if !status.success() {
                    let message = format!("{} {} after {asked}", self.label, describe_exit(status));
                    self.state = State::Failed(message.clone());
                    return Err(ExternalFailure(message));
                }
                self.state = State::Finished;
                return Ok(());
            }
            if Instant::now() >= deadline {
                let within = seconds(self.answer_timeout);
                return Err(self.fail(format!("did not exit within {within} of {asked} (the policy's `timeout`)")));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for ProcessPolicy {
    fn drop(&mut self) {
        if let State::Running = self.state {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello() -> Hello {
        Hello {
            seed: 7,
            experiment: "demo".into(),
            duration_s: 3600,
            stream_mode: "provisioned".into(),
            open_shards: 2,
            publish_delay_s: 60,
            shard_write_records_per_s: 1000,
            shard_write_bytes_per_s: 1_048_576,
        }
    }

    fn text(line: Vec<u8>) -> String {
        let text = String::from_utf8(line).unwrap();
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1, "{text:?}");
        text.trim_end().to_string()
    }

    #[test]
    fn hello_is_one_versioned_line() {
        assert_eq!(
            text(hello_line(&hello(), Duration::from_secs(5))),
            r#"{"v":1,"type":"hello","seed":7,"experiment":"demo","duration_s":3600,"stream_mode":"provisioned","open_shards":2,"publish_delay_s":60,"shard_write_records_per_s":1000,"shard_write_bytes_per_s":1048576,"max_desired_shards":10000,"answer_timeout_ms":5000}"#
        );
    }

    #[test]
    fn metrics_name_cloudwatch_series_and_omit_uncalled_apis() {
        let busy = MinuteDatapoint {
            incoming_bytes: 600,
            incoming_records: 6,
            put_record_bytes: 100,
            put_record_success: 1,
            put_record_requests: 2,
            put_records_bytes: 500,
            put_records_records: 5,
            put_records_requests: 1,
            get_records_bytes: 0,
            get_records_records: 0,
            get_records_requests: 3,
            get_records_iterator_age_ms_max: 1500,
        };
        let minutes = [(540, MinuteDatapoint::default()), (600, busy)];
        let observation = Observation { now_s: 660, open_shards: 2, updating: true, minutes: &minutes };
        assert_eq!(
            text(metrics_line(&observation)),
            concat!(
                r#"{"v":1,"type":"metrics","time_s":660,"open_shards":2,"updating":true,"datapoints":["#,
                r#"{"minute_end_s":540,"IncomingBytes":0,"IncomingRecords":0},"#,
                r#"{"minute_end_s":600,"IncomingBytes":600,"IncomingRecords":6,"PutRecord.Bytes":100,"#,
                r#""PutRecord.Success":1,"PutRecords.Bytes":500,"PutRecords.Records":5,"GetRecords.Bytes":0,"#,
                r#""GetRecords.Records":0,"GetRecords.IteratorAgeMilliseconds":1500}]}"#
            )
        );
        let none = Observation { now_s: 60, open_shards: 1, updating: false, minutes: &[] };
        assert_eq!(
            text(metrics_line(&none)),
            r#"{"v":1,"type":"metrics","time_s":60,"open_shards":1,"updating":false,"datapoints":[]}"#
        );
    }

    #[test]
    fn end_carries_the_run_length() {
        assert_eq!(text(end_line(3600)), r#"{"v":1,"type":"end","time_s":3600}"#);
    }

    #[test]
    fn valid_decisions() {
        let answer = |desired_shards, note: &str| Answer { desired_shards, note: note.into() };
        assert_eq!(parse_decision(r#"{"v":1,"desired_shards":4}"#), Ok(answer(Some(4), "")));
        assert_eq!(parse_decision(r#"{"v":1,"desired_shards":null}"#), Ok(answer(None, "")));
        assert_eq!(parse_decision(r#"{"v":1}"#), Ok(answer(None, "")));
        assert_eq!(parse_decision(r#" {"v":1,"desired_shards":10000} "#), Ok(answer(Some(10_000), "")));
        assert_eq!(
            parse_decision(r#"{"v":1,"type":"decision","desired_shards":1,"note":"idle"}"#),
            Ok(answer(Some(1), "idle"))
        );
        assert_eq!(parse_decision(r#"{"note":null,"v":1}"#), Ok(answer(None, "")));
    }

    #[test]
    fn invalid_decisions_say_what_is_wrong() {
        let error = |line: &str| parse_decision(line).unwrap_err();
        for garbage in ["xyz", "", "[1]", "4", "null", r#""v""#, r#"{"v":1"#] {
            assert!(error(garbage).contains("expected a JSON object like {\"v\":1,\"desired_shards\":4}"), "{garbage}");
        }
        assert!(error(r#"{"v":2,"desired_shards":4}"#).starts_with("with protocol version 2 (kinesim speaks version 1"));
        assert!(error(r#"{"v":"1","desired_shards":4}"#).starts_with("with protocol version \"1\""));
        assert!(error(r#"{"desired_shards":4}"#).starts_with("without \"v\": 1"));
        for bad in ["0", "-1", "2.5", "4.0", "10001", "4294967297", "\"4\"", "true"] {
            let message = error(&format!(r#"{{"v":1,"desired_shards":{bad}}}"#));
            assert!(
                message
                    .starts_with(&format!("with desired_shards {bad} (expected null for no change or a whole number")),
                "{message}"
            );
        }
        assert!(error(r#"{"v":1,"desiredShards":4}"#).starts_with("with an unknown field \"desiredShards\""));
        assert!(error(r#"{"v":1,"type":"ready"}"#).starts_with("with \"type\": \"ready\""));
        assert!(error(r#"{"v":1,"note":5}"#).starts_with("with a note that is not a string"));
    }

    #[test]
    fn ready_is_exactly_ready() {
        assert_eq!(parse_ready(r#"{"v":1,"type":"ready"}"#), Ok(()));
        assert!(parse_ready(r#"{"v":1}"#).unwrap_err().contains(r#"expected {"v":1,"type":"ready"}"#));
        assert!(parse_ready(r#"{"v":1,"desired_shards":4}"#).unwrap_err().starts_with("with an unknown field"));
        assert!(parse_ready("ready").unwrap_err().contains("expected a JSON object like"));
        assert!(parse_ready(r#"{"v":2,"type":"ready"}"#).unwrap_err().starts_with("with protocol version 2"));
    }

    #[test]
    fn long_lines_are_cut_in_quotes_and_refused_when_read() {
        let long = "é".repeat(QUOTE_CHARS + 10);
        assert_eq!(quote(&long).chars().count(), QUOTE_CHARS + 3);
        let mut input = std::io::Cursor::new(b"short\r\nabcdefghijk\nlast".to_vec());
        let mut line = Vec::new();
        assert!(matches!(read_bounded_line(&mut input, &mut line, 8), Ok(LineRead::Line)));
        assert_eq!(line, b"short");
        assert!(matches!(read_bounded_line(&mut input, &mut line, 8), Ok(LineRead::TooLong)));
        let mut input = std::io::Cursor::new(b"last".to_vec());
        assert!(matches!(read_bounded_line(&mut input, &mut line, 8), Ok(LineRead::Line)));
        assert_eq!(line, b"last");
        assert!(matches!(read_bounded_line(&mut input, &mut line, 8), Ok(LineRead::Eof)));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(seconds(Duration::from_secs(5)), "5 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(seconds(Duration::from_millis(250)), "250 ms");
    }

    #[test]
    fn commands_are_labelled_as_typed() {
        let command = ["sh", "-c", "exit 1"].map(String::from);
        assert_eq!(command_label(&command), "sh -c 'exit 1'");
    }
}
