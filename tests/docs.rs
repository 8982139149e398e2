//! The guide (`docs/guide.md`) runs as written, and the numbers it quotes still hold.
//!
//! Conventions of the guide that this test relies on:
//!
//! - A fenced ```` ```sh ```` block: every line that is neither blank nor a `#` comment is a
//!   command. A block whose commands all start with `kinesim ` is run; a block without any
//!   (`cargo build ...`) is only shown; a block that mixes the two fails the test, so no
//!   kinesim command goes unchecked by accident.
//! - A fenced ```` ```console ```` block: lines starting `$ kinesim ` are commands and the
//!   lines after each are its standard output. A line `...` stands for any number of
//!   lines; every other line must appear, in order and next to its neighbours, in what the
//!   command printed (trailing spaces ignored, the temporary folder's path removed, so
//!   `outputs: out/hot-key` is what a reader sees with the default output folder).
//! - Exit codes: a command that exits with N on purpose ends with the shell comment
//!   `# exit N: why` (an `[[expect]]` SLO failing to show the failure). Every other command
//!   must exit 0.
//! - A fenced ```` ```toml ```` block is an experiment file the reader saves: its first line
//!   is `# file: NAME.toml`. The test writes it to the temporary folder, an argument
//!   `NAME.toml` of a command names that copy, and every such file must be run by some
//!   command.
//! - Commands run in the guide's order, from the repository root, through `sh -c` (so
//!   globs such as `experiments/policies/*.toml` expand), with the kinesim built for this
//!   test. Every output goes into one temporary folder T: an argument starting with `out/`
//!   becomes `T/out/...`, and a command that writes outputs without `--out` gets the
//!   folder kinesim would choose by default, under T (`run`: `out/<experiment name>`;
//!   `check`: `out`; `sweep`: `out/sweep-<file stem>`; `plan`: `out/plan-<file stem>`, or
//!   `out/plan-workload` with `--rate`). So a path the guide names, such as
//!   `out/hot-key/shards.csv`, is where the test finds the file.
//!
//! After the commands, [`quotes`] formats output values the way the guide quotes them and
//! requires the guide's text (whitespace and line breaks collapsed) to contain each one.
//! The numbers live only in the guide: when the model changes a documented number, this
//! test fails and prints the sentence or table row the guide should now contain.
//!
//! The heaviest commands are the one-day plan and the 30-run policy suite; the whole
//! guide takes well under a minute of CPU in the test profile.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const GUIDE: &str = "docs/guide.md";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One command of the guide.
#[derive(Clone, Debug)]
struct Cmd {
    /// Line of the guide, for messages.
    line: usize,
    /// The command, without its trailing comment.
    text: String,
    /// The exit code the guide says it has.
    exit: i32,
    /// A console block's output lines (`...` for any lines).
    expected: Option<Vec<String>>,
}

#[derive(Debug)]
enum Block {
    Commands(Vec<Cmd>),
    File { line: usize, name: String, text: String },
}

fn command(line: usize, text: &str) -> Cmd {
    let (text, comment) = match text.find(" #") {
        Some(at) => (text[..at].trim(), Some(text[at + 2..].trim())),
        None => (text.trim(), None),
    };
    let exit = match comment.and_then(|c| c.strip_prefix("exit ")) {
        None => 0,
        Some(rest) => {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().unwrap_or_else(|_| panic!("{GUIDE}:{line}: `# exit N` needs a number, got `{rest}`"))
        }
    };
    Cmd { line, text: text.to_string(), exit, expected: None }
}

fn parse_guide(guide: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = guide.lines().enumerate().map(|(index, line)| (index + 1, line));
    while let Some((start, line)) = lines.next() {
        let Some(info) = line.trim_start().strip_prefix("```") else { continue };
        let info = info.trim().to_string();
        let mut body = Vec::new();
        let mut closed = false;
        for (number, line) in lines.by_ref() {
            if line.trim_start().starts_with("```") {
                closed = true;
                break;
            }
            body.push((number, line));
        }
        assert!(closed, "{GUIDE}:{start}: the ``` block is not closed");
        match info.as_str() {
            "sh" => {
                let commands: Vec<_> = body
                    .iter()
                    .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
                    .collect();
                let kinesim = commands.iter().filter(|(_, line)| line.trim_start().starts_with("kinesim ")).count();
                if kinesim == 0 {
                    continue;
                }
                assert_eq!(
                    kinesim,
                    commands.len(),
                    "{GUIDE}:{start}: a sh block mixes kinesim commands with others; only blocks of kinesim commands are run, so split it"
                );
                blocks.push(Block::Commands(commands.iter().map(|(number, line)| command(*number, line)).collect()));
            }
            "console" => {
                let mut commands: Vec<Cmd> = Vec::new();
                for (number, line) in body {
                    if let Some(text) = line.strip_prefix("$ ") {
                        assert!(
                            text.starts_with("kinesim "),
                            "{GUIDE}:{number}: console commands are kinesim commands"
                        );
                        commands.push(Cmd { expected: Some(Vec::new()), ..command(number, text) });
                    } else {
                        let last = commands.last_mut().unwrap_or_else(|| {
                            panic!("{GUIDE}:{number}: console output before any `$ kinesim` command")
                        });
                        last.expected.as_mut().expect("console commands expect output").push(line.trim_end().into());
                    }
                }
                blocks.push(Block::Commands(commands));
            }
            "toml" => {
                let (first, rest) = body.split_first().unwrap_or_else(|| panic!("{GUIDE}:{start}: empty toml block"));
                let name = first.1.trim().strip_prefix("# file: ").unwrap_or_else(|| {
                    panic!("{GUIDE}:{start}: a toml block starts with `# file: NAME.toml` (the test runs it under that name)")
                });
                let mut text: String =
                    [first.1].into_iter().chain(rest.iter().map(|(_, l)| *l)).collect::<Vec<_>>().join("\n");
                text.push('\n');
                blocks.push(Block::File { line: start, name: name.trim().to_string(), text });
            }
            _ => {}
        }
    }
    blocks
}

/// Single quotes for `sh`.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Whether `expected` (with `...` lines) matches `actual` line by line.
fn output_matches(expected: &[String], actual: &[&str]) -> bool {
    let segments: Vec<&[String]> = expected.split(|line| line == "...").collect();
    let same = |segment: &[String], at: usize| segment.iter().zip(&actual[at..]).all(|(e, a)| e == a);
    if segments.len() == 1 {
        return expected.len() == actual.len() && same(expected, 0);
    }
    let mut position = 0;
    let last = segments.len() - 1;
    for (index, segment) in segments.iter().enumerate() {
        if segment.is_empty() {
            continue;
        }
        if index == 0 {
            if actual.len() < segment.len() || !same(segment, 0) {
                return false;
            }
            position = segment.len();
        } else if index == last {
            return actual.len() >= position + segment.len() && same(segment, actual.len() - segment.len());
        } else {
            let found = (position..=actual.len().saturating_sub(segment.len()))
                .find(|&at| actual.len() >= at + segment.len() && same(segment, at));
            match found {
                Some(at) => position = at + segment.len(),
                None => return false,
            }
        }
    }
    true
}

/// Runs the guide's commands in one temporary folder.
struct Runner {
    temp: PathBuf,
    files: BTreeMap<String, PathBuf>,
    used: BTreeSet<String>,
    problems: Vec<String>,
}

impl Runner {
    /// A command argument as shell text, with outputs and saved files moved under T.
    fn argument(&mut self, token: &str) -> String {
        assert!(
            token.chars().all(|c| c.is_ascii_alphanumeric() || "-_./*=:,".contains(c)),
            "{GUIDE}: keep command arguments plain (no quotes or shell syntax): `{token}`"
        );
        if let Some(path) = self.files.get(token) {
            self.used.insert(token.to_string());
            return quote(&path.to_string_lossy());
        }
        if token.starts_with("out/") {
            let path = self.temp.join(token).to_string_lossy().into_owned();
            return match path.find('*') {
                // Quote the folder, leave the glob for the shell.
                Some(star) => {
                    let cut = path[..star].rfind('/').map_or(0, |slash| slash + 1);
                    format!("{}{}", quote(&path[..cut]), &path[cut..])
                }
                None => quote(&path),
            };
        }
        if token.contains('*') {
            token.to_string()
        } else {
            quote(token)
        }
    }

    /// Where kinesim writes by default, for the commands that write outputs.
    fn default_out(&self, tokens: &[&str]) -> Option<String> {
        let file = tokens.get(2).copied().unwrap_or("");
        let stem = || Path::new(file).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        match tokens.get(1).copied() {
            Some("run") => {
                let path = self.files.get(file).cloned().unwrap_or_else(|| repo().join(file));
                let spec = kinesim::load(&path).unwrap_or_else(|e| panic!("{GUIDE}: `{file}` does not load: {e}"));
                Some(format!("out/{}", spec.name))
            }
            Some("check") => Some("out".into()),
            Some("sweep") => Some(format!("out/sweep-{}", stem())),
            Some("plan") if tokens.contains(&"--rate") => Some("out/plan-workload".into()),
            Some("plan") => Some(format!("out/plan-{}", stem())),
            _ => None,
        }
    }

    fn run(&mut self, cmd: &Cmd) {
        let tokens: Vec<&str> = cmd.text.split_whitespace().collect();
        assert_eq!(tokens[0], "kinesim");
        let mut script = quote(env!("CARGO_BIN_EXE_kinesim"));
        for token in &tokens[1..] {
            script.push(' ');
            script += &self.argument(token);
        }
        if !tokens.contains(&"--out") {
            if let Some(out) = self.default_out(&tokens) {
                script += &format!(" --out {}", quote(&self.temp.join(out).to_string_lossy()));
            }
        }
        let started = Instant::now();
        let output = Command::new("sh").arg("-c").arg(&script).current_dir(repo()).output().expect("sh runs");
        eprintln!("{GUIDE}:{}: {} ({:.1} s)", cmd.line, cmd.text, started.elapsed().as_secs_f64());
        let stdout = String::from_utf8_lossy(&output.stdout).replace(&format!("{}/", self.temp.display()), "");
        let code = output.status.code().unwrap_or(-1);
        if code != cmd.exit {
            self.problems.push(format!(
                "{GUIDE}:{}: `{}` exited with {code}, the guide says {}\nstdout:\n{stdout}\nstderr:\n{}",
                cmd.line,
                cmd.text,
                cmd.exit,
                String::from_utf8_lossy(&output.stderr)
            ));
            return;
        }
        if let Some(expected) = &cmd.expected {
            let actual: Vec<&str> = stdout.lines().map(str::trim_end).collect();
            if !output_matches(expected, &actual) {
                self.problems.push(format!(
                    "{GUIDE}:{}: `{}` printed something else than the guide shows. It printed:\n{stdout}",
                    cmd.line, cmd.text
                ));
            }
        }
    }
}

/// Reads the outputs the guide's commands wrote.
struct Outputs {
    temp: PathBuf,
}

type Row = BTreeMap<String, String>;

impl Outputs {
    fn path(&self, relative: &str) -> PathBuf {
        self.temp.join(relative)
    }

    fn json(&self, relative: &str) -> serde_json::Value {
        let bytes = std::fs::read(self.path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{relative}: {e}"))
    }

    /// A number of a JSON file, by JSON pointer.
    fn number(&self, relative: &str, pointer: &str) -> f64 {
        let value = self.json(relative);
        value
            .pointer(pointer)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or_else(|| panic!("{relative}: no number at {pointer}"))
    }

    fn rows(&self, relative: &str) -> Vec<Row> {
        let mut reader = csv::Reader::from_path(self.path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
        let headers = reader.headers().unwrap().clone();
        reader
            .records()
            .map(|record| {
                headers.iter().zip(record.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect()
            })
            .collect()
    }

    /// The one row of a CSV file whose columns have the given values.
    fn row(&self, relative: &str, filter: &[(&str, &str)]) -> Row {
        let mut found: Vec<Row> =
            self.rows(relative).into_iter().filter(|row| filter.iter().all(|(k, v)| row[*k] == *v)).collect();
        assert_eq!(found.len(), 1, "{relative}: rows with {filter:?}");
        found.remove(0)
    }

    /// The simulated times of `events.csv` rows of a kind.
    fn event_times(&self, relative: &str, kind: &str) -> Vec<f64> {
        self.rows(relative).iter().filter(|row| row["kind"] == kind).map(|row| number(row, "time_s")).collect()
    }
}

fn number(row: &Row, column: &str) -> f64 {
    row[column].parse().unwrap_or_else(|_| panic!("column {column}: `{}` is not a number", row[column]))
}

/// `1234567` as `1,234,567`.
fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut text = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

fn int(value: f64) -> String {
    thousands(value.round() as u64)
}

/// A fraction as a percentage with one decimal, or `0%`.
fn pct(value: f64) -> String {
    if value == 0.0 {
        "0%".into()
    } else {
        format!("{:.1}%", value * 100.0)
    }
}

/// Dollars with cents and thousands separators.
fn usd(value: f64) -> String {
    let cents = (value * 100.0).round() as u64;
    format!("{}.{:02}", thousands(cents / 100), cents % 100)
}

/// Milliseconds as the guide writes durations: ms below a second, seconds above.
fn age(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{:.0} s", ms / 1000.0)
    }
}

/// Seconds from the run's start as a time of day.
fn clock(seconds: f64) -> String {
    let minutes = (seconds as u64 % 86_400) / 60;
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Text the guide must contain, built from the outputs: (what it is, the text).
fn quotes(o: &Outputs) -> Vec<(&'static str, String)> {
    let mut q: Vec<(&'static str, String)> = Vec::new();

    // 1. How many shards.
    let plan = |label: &str| o.row("out/plan-plan-diurnal/plan.csv", &[("label", label)]);
    q.push((
        "plan: the formula's shard count",
        format!(
            "3 shards throttle {:.0}% of write attempts",
            100.0 * number(&plan("provisioned, 3 shards"), "write_throttle_rate")
        ),
    ));
    let workload = o.row("out/plan-workload/plan.csv", &[("label", "provisioned, 5 shards")]);
    q.push((
        "plan --rate: one shard too few",
        format!("(5 throttle {:.0}% of attempts)", 100.0 * number(&workload, "write_throttle_rate")),
    ));

    // 2. Hot keys and their fixes.
    let hot = "out/hot-key/summary.json";
    q.push((
        "hot-key: throttled",
        format!("{} of write attempts are throttled", pct(o.number(hot, "/write_throttle_rate"))),
    ));
    q.push(("hot-key: dropped", format!("{} records are dropped", int(o.number(hot, "/dropped_records")))));
    let top = o.row("out/hot-key/hot_keys.csv", &[("shard_id", "shardId-000000000007"), ("rank", "1")]);
    let duration_s = o.number(hot, "/duration_s");
    let offered_per_s = o.number(hot, "/offered_records") / duration_s;
    let shard_share = number(&top, "shard_share_of_stream");
    q.push((
        "hot-key: the hot shard's share",
        format!(
            "{:.0}% of the stream's traffic on that one shard, {} records/s",
            100.0 * shard_share,
            int(shard_share * offered_per_s)
        ),
    ));
    q.push((
        "hot-key: the top key",
        format!(
            "`{}` alone offers {} records/s, {:.0}% of the shard",
            top["partition_key"],
            int(number(&top, "offered_records") / duration_s),
            100.0 * number(&top, "share_of_shard")
        ),
    ));
    let bursts = o.rows("out/micro-bursts/stream.csv");
    let mean_utilisation = bursts.iter().map(|r| number(r, "utilisation_mean")).sum::<f64>() / bursts.len() as f64;
    let demand_peak = bursts.iter().map(|r| number(r, "demand_peak")).fold(0.0, f64::max);
    q.push(("micro-bursts: mean utilisation", format!("`utilisation_mean` stays at {mean_utilisation:.2}")));
    q.push((
        "micro-bursts: peak demand",
        format!(
            "reaches {demand_peak:.2}: {} of attempts are throttled",
            pct(o.number("out/micro-bursts/summary.json", "/write_throttle_rate"))
        ),
    ));
    let sweep = "out/sweep-shard-count/sweep_summary.csv";
    for (key, label) in
        [("uniform", "uniform"), ("zipf-1.1", "Zipf, exponent 1.1"), ("hot-key-33%", "one key with 33% of the traffic")]
    {
        let cells: Vec<String> = ["4", "6", "8", "10", "12"]
            .iter()
            .map(|shards| {
                let row = o.row(
                    sweep,
                    &[("producers.web.keys", key), ("stream.shards", shards), ("metric", "write_throttle_rate")],
                );
                pct(number(&row, "mean"))
            })
            .collect();
        q.push(("shard-count sweep: throttling", format!("| {label} | {} |", cells.join(" | "))));
    }
    let eight =
        o.row(sweep, &[("producers.web.keys", "uniform"), ("stream.shards", "8"), ("metric", "cost_usd_per_month")]);
    q.push(("shard-count sweep: 8 shards' cost", format!("(8 shards: ${} a month;", usd(number(&eight, "mean")))));
    let split = o.rows("out/targeted-split/stream.csv");
    let mut before: Vec<f64> = split.iter().take(10).map(|r| number(r, "write_throttled_records")).collect();
    before.sort_by(f64::total_cmp);
    let last_throttled = split
        .iter()
        .filter(|r| number(r, "write_throttled_records") > 0.0)
        .map(|r| number(r, "time_s"))
        .fold(0.0, f64::max);
    q.push((
        "targeted-split: before and after",
        format!(
            "about {} throttled records a minute before it and none from minute {} on",
            int((before[4] + before[5]) / 2.0 / 1000.0) + ",000",
            last_throttled as u64 / 60 + 1
        ),
    ));
    q.push((
        "targeted-split: dropped",
        format!("The run's {} dropped records", int(o.number("out/targeted-split/summary.json", "/dropped_records"))),
    ));
    let salted = "out/salted-keys/summary.json";
    let clean = o.number(salted, "/write_throttled_records") == 0.0 && o.number(salted, "/dropped_records") == 0.0;
    q.push((
        "salted-keys: clean",
        if clean { "Nothing is throttled and nothing dropped".into() } else { "salted keys still throttle".into() },
    ));
    q.push((
        "salted-keys: cost",
        format!(
            "costs ${} instead of ${}",
            usd(o.number(salted, "/cost_usd_per_month")),
            usd(o.number(hot, "/cost_usd_per_month"))
        ),
    ));
    let batching = o.json("out/batching-fix/summary.json");
    for (name, label) in [
        ("put-record-loop", "PutRecord in a loop, SDK retries"),
        ("put-records", "PutRecords of 500, 3 attempts"),
        ("kpl", "KPL with aggregation"),
    ] {
        let p = &batching["producers"][name];
        let field = |f: &str| p[f].as_f64().unwrap();
        q.push((
            "batching-fix: per producer",
            format!(
                "| {label} | {} | {} | {} |",
                pct(field("write_throttled_records") / field("attempted_records")),
                int(field("dropped_records")),
                int(field("put_requests"))
            ),
        ));
    }
    let kpl_shard =
        o.rows("out/batching-fix/shards.csv").into_iter().filter(|r| r["shard_id"] == "shardId-000000000002");
    let kpl_records = kpl_shard.map(|r| number(&r, "incoming_records")).sum::<f64>();
    let kpl_per_s = kpl_records / o.number("out/batching-fix/summary.json", "/duration_s");
    q.push(("batching-fix: Kinesis records of the KPL", format!("that shard sees {} records/s", int(kpl_per_s))));
    let producer = |file: &str, name: &str, field: &str| o.number(file, &format!("/producers/{name}/{field}"));
    let amplification =
        |file: &str, name: &str| producer(file, name, "attempted_records") / producer(file, name, "offered_records");
    let backoff = "out/backoff-fix/summary.json";
    q.push((
        "backoff-fix: no retries",
        format!("No retries drop {} records", int(producer(backoff, "no-retry", "dropped_records"))),
    ));
    q.push((
        "backoff-fix: full jitter",
        format!(
            "drops {} at the price of {:.2} attempts per record",
            int(producer(backoff, "full-jitter", "dropped_records")),
            amplification(backoff, "full-jitter")
        ),
    ));
    q.push((
        "backoff-fix: SDK default",
        format!("mode drops {}", int(producer(backoff, "sdk-default", "dropped_records"))),
    ));
    let storm = "out/retry-storm/summary.json";
    q.push((
        "retry-storm: KPL",
        format!(
            "({:.2} attempts per record) and loses {} records",
            amplification(storm, "kpl-no-backoff"),
            int(producer(storm, "kpl-no-backoff", "expired_records"))
        ),
    ));
    q.push((
        "retry-storm: SDK",
        format!(
            "barely retries ({:.2}) and drops {}",
            amplification(storm, "sdk-standard"),
            int(producer(storm, "sdk-standard", "dropped_records"))
        ),
    ));
    q.push((
        "retry-storm: full jitter",
        format!(
            "({:.2} attempts per record) but outlasts the overload and drops {}",
            amplification(storm, "full-jitter"),
            int(producer(storm, "full-jitter", "dropped_records"))
        ),
    ));

    // 3. Consumers.
    let contention = "out/polling-contention/summary.json";
    let fan_out_usd =
        o.number(contention, "/cost_usd/efo_data") + o.number(contention, "/cost_usd/efo_consumer_shard_hours");
    let total_usd = o.number(contention, "/cost_usd_total");
    q.push(("polling-contention: fan-out's cost", format!("are ${fan_out_usd:.2} of the run's ${total_usd:.2}")));
    q.push((
        "polling-contention: fan-out's share",
        format!(
            "{:.0}% of the ${} a month",
            100.0 * fan_out_usd / total_usd,
            usd(o.number(contention, "/cost_usd_per_month"))
        ),
    ));
    let live = o.number("out/replay-hurts-live/summary.json", "/consumers/live/iterator_age_ms_max");
    let mut live_by_minute: BTreeMap<u64, f64> = BTreeMap::new();
    for row in o.rows("out/replay-hurts-live/consumers.csv").iter().filter(|r| r["consumer"] == "live") {
        let age = live_by_minute.entry(number(row, "time_s") as u64 / 60).or_insert(0.0);
        *age = age.max(number(row, "iterator_age_ms_max"));
    }
    let recovered =
        live_by_minute.iter().filter(|(_, &age)| age > 1000.0).map(|(&minute, _)| minute + 1).max().unwrap_or(0);
    q.push((
        "replay-hurts-live: the live reader",
        format!("jumps from 52 ms to {:.1} s, is back to 52 ms from minute {recovered} on", live / 1000.0),
    ));
    let consumers = "out/sweep-consumers/sweep_summary.csv";
    let mean =
        |label: &str, metric: &str| number(&o.row(consumers, &[("consumers", label), ("metric", metric)]), "mean");
    for n in [1, 4, 5, 6] {
        let (polling, fan_out) = (format!("{n} polling"), format!("{n} fan-out"));
        q.push((
            "consumers sweep: a row",
            format!(
                "| {n} | {} | {} | {} | {} | {} |",
                int(mean(&polling, "consumers_read_throttled_calls")),
                age(mean(&polling, "consumers_iterator_age_ms_max")),
                usd(mean(&polling, "cost_usd_per_month")),
                age(mean(&fan_out, "consumers_iterator_age_ms_max")),
                usd(mean(&fan_out, "cost_usd_per_month"))
            ),
        ));
    }
    let per_fan_out = mean("2 fan-out", "cost_usd_per_month") - mean("1 fan-out", "cost_usd_per_month");
    q.push(("consumers sweep: one more fan-out", format!("adds about ${per_fan_out:.0} a month")));

    // 4. Lambda.
    let lambda = "out/lambda-lag/summary.json";
    let duration_s = o.number(lambda, "/duration_s");
    for (name, label) in [
        ("default", "batch 100, parallelization 1"),
        ("bigger-batches", "batch 500, parallelization 1"),
        ("parallel", "batch 100, parallelization 4"),
    ] {
        let field = |f: &str| o.number(lambda, &format!("/consumers/{name}/{f}"));
        q.push((
            "lambda-lag: a mapping",
            format!(
                "| {label} | {} | {} | {} |",
                int(field("read_records") / duration_s),
                age(field("iterator_age_ms_max")),
                age(field("latency_ms_p99"))
            ),
        ));
    }

    // 5. KCL.
    let kcl = o.row("out/kcl-failover/events.csv", &[("kind", "kcl_worker_failed")]);
    let moves: Vec<String> = kcl["detail"]
        .split_once("leases: ")
        .map_or("", |(_, moves)| moves)
        .split("; ")
        .map(|m| {
            let (shard, rest) = m.split_once(" to worker ").unwrap();
            let (worker, rest) = rest.split_once(" at ").unwrap();
            let at: f64 = rest.split_once("s from").unwrap().0.parse().unwrap();
            format!("`{shard}` to worker {worker} at {at:.2} s")
        })
        .collect();
    q.push(("kcl-failover: lease moves", moves.join(" and ")));
    let sessionizer = |f: &str| o.number("out/kcl-failover/summary.json", &format!("/consumers/sessionizer/{f}"));
    q.push((
        "kcl-failover: the gap",
        format!("worst iterator age reaches {:.1} s", sessionizer("iterator_age_ms_max") / 1000.0),
    ));
    q.push((
        "kcl-failover: reprocessing",
        format!("{} records are processed twice", int(sessionizer("reprocessed_records"))),
    ));

    // 6. Retention.
    let slow: Vec<Row> =
        o.rows("out/retention-loss/consumers.csv").into_iter().filter(|r| r["consumer"] == "slow-analytics").collect();
    let hour = |row: &Row| number(row, "time_s") as u64 / 3600;
    let half = slow.iter().find(|r| number(r, "iterator_age_ms_max") > 12.0 * 3_600_000.0).map_or(0, hour);
    let first_loss = slow.iter().find(|r| number(r, "expired_unread_records") > 0.0).map_or(0, hour);
    q.push((
        "retention-loss: the alarm point",
        format!("passes 12 hours (half the retention, where AWS advises alarming) during hour {half}"),
    ));
    q.push((
        "retention-loss: the loss",
        format!(
            "from hour {first_loss} its unread records pass 24 hours and are trimmed, about {:.2} million an hour, {} by the end",
            number(slow.last().unwrap(), "expired_unread_records") / 1e6,
            int(o.number("out/retention-loss/summary.json", "/consumers/slow-analytics/expired_unread_records"))
        ),
    ));

    // 7. On-demand.
    let surge = "out/on-demand-surge/summary.json";
    let mut splits: Vec<u64> =
        o.event_times("out/on-demand-surge/events.csv", "split_shard").iter().map(|&t| t as u64 / 60).collect();
    splits.dedup();
    q.push(("on-demand-surge: first splits", format!("so it has 8 shards from minute {}", splits[0])));
    q.push((
        "on-demand-surge: later splits",
        format!(
            "at minute {} (16 shards; then 32 at minute {})",
            splits.get(1).unwrap_or(&0),
            splits.get(2).unwrap_or(&0)
        ),
    ));
    q.push((
        "on-demand-surge: the loss",
        format!(
            "{} records are dropped, {} of attempts throttled",
            int(o.number(surge, "/dropped_records")),
            pct(o.number(surge, "/write_throttle_rate"))
        ),
    ));
    for (label, shown) in [
        ("on-demand", "on-demand"),
        ("on-demand, 5-minute splits", "on-demand, AWS splitting within 5 minutes"),
        ("advantage, warmed to 16 MiB/s", "On-demand Advantage, warm throughput 16 MiB/s"),
        ("provisioned, 16 shards", "provisioned, 16 shards"),
    ] {
        let row = o.row("out/sweep-surge-fixes/sweep.csv", &[("stream", label)]);
        q.push((
            "surge-fixes: a set-up",
            format!(
                "| {shown} | {} | {} | {} |",
                pct(number(&row, "write_throttle_rate")),
                int(number(&row, "dropped_records")),
                usd(number(&row, "cost_usd_per_month"))
            ),
        ));
    }

    // 8. Autoscalers.
    let resizes = |name: &str| -> Vec<String> {
        o.event_times(&format!("out/{name}/events.csv"), "reshard_started").into_iter().map(clock).collect()
    };
    let diurnal = resizes("autoscaler-diurnal");
    q.push((
        "autoscaler-diurnal: resizes",
        format!(
            "2 to 4 shards at {} and 4 to 8 at {}, halving only at {} the next night",
            diurnal[0], diurnal[1], diurnal[2]
        ),
    ));
    q.push(("autoscaler-diurnal: day two", format!("doubling again at {} on day two", diurnal[3])));
    let diurnal_summary = "out/autoscaler-diurnal/summary.json";
    q.push((
        "autoscaler-diurnal: cost",
        format!(
            "the 36 hours cost ${}, ${} a month",
            usd(o.number(diurnal_summary, "/cost_usd_total")),
            usd(o.number(diurnal_summary, "/cost_usd_per_month"))
        ),
    ));
    let crowd_starts = o.event_times("out/autoscaler-flash-crowd/events.csv", "reshard_started");
    let crowd = "out/autoscaler-flash-crowd/summary.json";
    q.push((
        "autoscaler-flash-crowd: the climb",
        format!(
            "from 4 at {} minutes to {} at {} minutes",
            crowd_starts[0] as u64 / 60,
            o.number(crowd, "/shards_open_max"),
            *crowd_starts.last().unwrap() as u64 / 60
        ),
    ));
    q.push((
        "autoscaler-flash-crowd: the loss",
        format!(
            "{} of attempts are throttled and {} records dropped",
            pct(o.number(crowd, "/write_throttle_rate")),
            int(o.number(crowd, "/dropped_records"))
        ),
    ));
    let external = resizes("autoscaler-external");
    q.push((
        "autoscaler-external: resizes",
        format!(
            "2, 4, 8 shards at {} and {} and back at {} and {}",
            external[0], external[1], external[2], external[3]
        ),
    ));
    for (policy, label) in [
        ("alarm", "alarm double/halve"),
        ("scaling-utils", "scaling-utils, `percent-based.json`"),
        ("step", "step scaling"),
        ("target-tracking", "target tracking at 75%"),
        ("scheduled", "hand-written schedule"),
    ] {
        let file = format!("out/policy-diurnal-{policy}/summary.json");
        q.push((
            "policy suite: a diurnal row",
            format!(
                "| {label} | {} | {} | {} | {} |",
                pct(o.number(&file, "/write_throttle_rate")),
                o.number(&file, "/shards_open_max"),
                o.number(&file, "/reshard_operations"),
                usd(o.number(&file, "/cost_usd_per_month"))
            ),
        ));
    }
    for policy in ["alarm", "scaling-utils", "step", "target-tracking"] {
        let file = format!("out/policy-hot-key-{policy}/summary.json");
        q.push((
            "policy suite: the hot key",
            format!(
                "({} throttled at {} shards)",
                pct(o.number(&file, "/write_throttle_rate")),
                o.number(&file, "/shards_open_max")
            ),
        ));
    }
    q.push((
        "policy suite: the schedule on the hot key",
        format!("helps there ({})", pct(o.number("out/policy-hot-key-scheduled/summary.json", "/write_throttle_rate"))),
    ));

    // 9. A month.
    let advantage = plan("on-demand advantage");
    q.push((
        "plan: the Advantage commitment",
        format!("plus ${} of the account's 25 MiB/s commitment", int(number(&advantage, "shortfall_usd_per_month"))),
    ));
    let nightly = "out/sweep-nightly-batch/sweep.csv";
    let shortfall =
        o.number("out/sweep-nightly-batch/runs/point-00002-rep-0000/summary.json", "/advantage_shortfall_usd");
    for (label, shown) in [
        ("provisioned, 8 shards", "provisioned, 8 shards"),
        ("on-demand", "on-demand"),
        ("on-demand advantage", "On-demand Advantage"),
    ] {
        let row = o.row(nightly, &[("stream", label)]);
        let cost = if label == "on-demand advantage" {
            format!(
                "{}, plus {} of commitment shortfall over the 48 h",
                usd(number(&row, "cost_usd_per_month")),
                usd(shortfall)
            )
        } else {
            usd(number(&row, "cost_usd_per_month"))
        };
        q.push((
            "nightly-batch: a set-up",
            format!(
                "| {shown} | {cost} | {} | {} |",
                pct(number(&row, "write_throttle_rate")),
                int(number(&row, "dropped_records"))
            ),
        ));
    }
    let on_demand = o.row(nightly, &[("stream", "on-demand")]);
    q.push((
        "nightly-batch: shards kept",
        format!("the stream kept its {} shards", number(&on_demand, "shards_open_max")),
    ));
    q
}

#[test]
fn guide_commands_run_and_its_numbers_hold() {
    let guide = std::fs::read_to_string(repo().join(GUIDE)).expect("docs/guide.md exists");
    let temp = std::env::temp_dir().join(format!("kinesim-docs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&temp);
    std::fs::create_dir_all(&temp).unwrap();
    let mut runner = Runner { temp: temp.clone(), files: BTreeMap::new(), used: BTreeSet::new(), problems: Vec::new() };
    let blocks = parse_guide(&guide);
    let mut commands = 0;
    for block in &blocks {
        match block {
            Block::File { line, name, text } => {
                assert!(
                    name.ends_with(".toml") && !name.contains('/') && !runner.files.contains_key(name),
                    "{GUIDE}:{line}: `{name}` is not a new plain NAME.toml"
                );
                let path = temp.join(name);
                std::fs::write(&path, text).unwrap();
                runner.files.insert(name.clone(), path);
            }
            Block::Commands(list) => {
                for cmd in list {
                    runner.run(cmd);
                    commands += 1;
                }
            }
        }
    }
    assert!(commands >= 20, "the guide's commands were found ({commands})");
    for name in runner.files.keys().filter(|name| !runner.used.contains(*name)) {
        runner.problems.push(format!("{GUIDE}: `{name}` is shown but no command runs it"));
    }
    assert!(runner.problems.is_empty(), "\n{}", runner.problems.join("\n\n"));

    let outputs = Outputs { temp: temp.clone() };
    // Section 10: the merged parts are the single-machine sweep, byte for byte.
    for file in ["sweep.csv", "sweep_summary.csv"] {
        let merged = std::fs::read(outputs.path("out/parts/merged").join(file)).unwrap();
        let single = std::fs::read(outputs.path("out/sweep-shard-count").join(file)).unwrap();
        assert!(merged == single, "{file}: the merged partitions differ from the single-machine sweep");
    }
    let prose = guide.split_whitespace().collect::<Vec<_>>().join(" ");
    let missing: Vec<String> = quotes(&outputs)
        .into_iter()
        .filter(|(_, text)| !prose.contains(&text.split_whitespace().collect::<Vec<_>>().join(" ")))
        .map(|(what, text)| format!("{what}: the guide should say `{text}`"))
        .collect();
    assert!(missing.is_empty(), "the guide's numbers no longer match the outputs:\n{}", missing.join("\n"));
    let _ = std::fs::remove_dir_all(&temp);
}

#[test]
fn console_outputs_match_with_ellipses() {
    let lines = |text: &str| text.lines().map(String::from).collect::<Vec<_>>();
    let actual = ["a", "b", "c", "d"];
    assert!(output_matches(&lines("a\nb\nc\nd"), &actual));
    assert!(!output_matches(&lines("a\nb\nc"), &actual));
    assert!(output_matches(&lines("a\n...\nd"), &actual));
    assert!(output_matches(&lines("...\nc\n..."), &actual));
    assert!(output_matches(&lines("a\n...\nb\nc\n...\nd"), &actual));
    assert!(!output_matches(&lines("a\n...\nc\nb\n..."), &actual));
    assert!(!output_matches(&lines("...\nb\na"), &actual));
    assert!(output_matches(&lines("a\n..."), &actual));
}
