//! The command line itself: every command's `--help` ends with an example, and
//! `kinesim run -` and `kinesim validate -` read the experiment from standard input,
//! resolve its relative paths against the current folder and name it `<stdin>` in
//! errors.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Every command of `kinesim`; `every_command_is_listed` keeps it complete.
const COMMANDS: [&str; 9] = ["run", "check", "validate", "shard-for", "plan", "sweep", "merge", "report", "schema"];

/// Runs `command` with `input` on its standard input.
fn with_stdin(mut command: Command, input: &str) -> Output {
    let mut child =
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("kinesim starts");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_command_is_listed() {
    let output = common::kinesim().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = text(&output.stdout);
    let listed: Vec<&str> = help
        .lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    let mut expected = COMMANDS.to_vec();
    expected.sort_unstable();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort_unstable();
    assert_eq!(listed_sorted, expected, "kinesim --help lists {listed:?}");
}

#[test]
fn every_command_help_shows_an_example() {
    for command in COMMANDS {
        for flag in ["--help", "-h"] {
            let output = common::kinesim().args([command, flag]).output().unwrap();
            assert!(output.status.success(), "kinesim {command} {flag} exits {:?}", output.status);
            let help = text(&output.stdout);
            let example =
                help.find("Example").unwrap_or_else(|| panic!("kinesim {command} {flag} has no example:\n{help}"));
            assert!(
                help[example..].contains(&format!("\n  kinesim {command}")),
                "the example of kinesim {command} {flag} does not run it:\n{help}"
            );
        }
    }
}

/// A short run of a trace named relative to the current folder, as standard input.
const TRACE_EXPERIMENT: &str = r#"
duration = "8m"
start = "2026-03-02T00:00:00Z"
[stream]
shards = 2
[[producers]]
name = "replay"
rate = { kind = "trace", file = "traces/gaps.csv" }
arrivals = "uniform"
[[consumers]]
name = "reader"
kind = "polling"
"#;

#[test]
fn run_reads_the_experiment_from_stdin() {
    let folder = common::scratch("cli-run-stdin");
    std::fs::create_dir_all(folder.join("traces")).unwrap();
    let trace = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/traces/gaps.csv");
    std::fs::copy(trace, folder.join("traces/gaps.csv")).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_kinesim"));
    command.current_dir(&folder).args(["run", "-"]);
    let output = with_stdin(command, TRACE_EXPERIMENT);
    assert!(output.status.success(), "exit {:?}: {}", output.status, text(&output.stderr));
    let stdout = text(&output.stdout);
    // Without a `name`, standard input's outputs go to out/stdin.
    assert!(stdout.starts_with("kinesim run stdin (seed 0)"), "{stdout}");
    assert!(stdout.contains("outputs: out/stdin"), "{stdout}");
    assert!(stdout.contains("replay: kinesim run - --seed 0 (the same experiment on standard input)"), "{stdout}");
    for file in ["summary.json", "stream.csv", "report.html"] {
        assert!(folder.join("out/stdin").join(file).is_file(), "no out/stdin/{file}");
    }
    let summary = std::fs::read_to_string(folder.join("out/stdin/summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    // The trace offers 360,000 records (tests/robustness.rs): the relative path was found.
    let offered = summary["offered_records"].as_f64().unwrap();
    assert!((offered - 360_000.0).abs() < 360.0, "offered {offered}");

    // The options work as with a file.
    let mut command = Command::new(env!("CARGO_BIN_EXE_kinesim"));
    command.current_dir(&folder).args(["run", "-", "--out", "out/named", "--no-plots", "--quiet"]);
    let named = with_stdin(command, &format!("name = \"replay\"\n{TRACE_EXPERIMENT}"));
    assert!(named.status.success(), "{}", text(&named.stderr));
    assert!(named.stdout.is_empty(), "--quiet prints nothing: {}", text(&named.stdout));
    assert!(folder.join("out/named/summary.json").is_file());
    assert!(!folder.join("out/named/report.html").exists(), "--no-plots writes no report");
}

#[test]
fn errors_in_stdin_name_stdin_and_the_key() {
    let folder = common::scratch("cli-stdin-errors");
    let cases = [
        // (experiment text, the key named, a fragment of the message)
        ("duration = \"1m\"\n[stream]\nshards = 0\n", "stream.shards", "must be between 1 and"),
        ("duration = \"1m\"\n[stream]\nshards = \"four\"\n", "stream.shards", "invalid type"),
        ("duration = \"1m\"\n[stream\nshards = 4\n", "", "not valid TOML"),
        (
            "duration = \"1m\"\n[stream]\nshards = 1\n[[producers]]\nname = \"p\"\nrate = { kind = \"trace\", file = \"traces/missing.csv\" }\n",
            "producers[0].rate.file",
            "traces/missing.csv",
        ),
        ("duration = \"1m\"\n[stream]\nshards = 1\n[pricing]\nfile = \"no-such-prices.toml\"\n", "pricing.file", "no-such-prices.toml"),
    ];
    for command in ["run", "validate"] {
        for (input, key, fragment) in cases {
            let mut kinesim = Command::new(env!("CARGO_BIN_EXE_kinesim"));
            kinesim.current_dir(&folder).args([command, "-"]);
            let output = with_stdin(kinesim, input);
            let stderr = text(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "kinesim {command} - exits 2 for {input:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
            assert!(stderr.starts_with("error: <stdin>"), "names <stdin>: {stderr}");
            if !key.is_empty() {
                assert!(stderr.contains(&format!("key `{key}`")), "names {key}: {stderr}");
            }
            assert!(stderr.contains(fragment), "says {fragment:?}: {stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
    assert!(!folder.join("out").exists(), "a rejected experiment writes nothing");
}

#[test]
fn validate_reads_stdin_with_paths_from_the_current_folder() {
    let quickstart =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/quickstart.toml")).unwrap();
    let priced = format!("{quickstart}\n[pricing]\nfile = \"experiments/pricing/us-east-2.toml\"\n");
    let output = with_stdin(
        {
            let mut command = common::kinesim();
            command.args(["validate", "-"]);
            command
        },
        &priced,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "<stdin>: ok (quickstart: 4 shards, 1 producers, 1 consumers)\n");
    // Not UTF-8: one line naming standard input.
    let mut command = common::kinesim();
    command.args(["validate", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"duration = \"\xff\"\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(text(&output.stderr), "error: <stdin>: standard input is not UTF-8 text\n");
}

/// A time may be written quoted or as a bare TOML datetime (a common slip): both mean the
/// same, and a datetime without an offset is refused with the key and an example.
#[test]
fn times_may_be_bare_toml_datetimes() {
    let text = |start: &str| {
        format!(
            "duration = \"1m\"\nstart = {start}\n[stream]\nshards = 1\n[[producers]]\nname = \"p\"\nrate = 10\n\
             [[consumers]]\nname = \"c\"\nkind = \"polling\"\nstart = \"at_timestamp\"\ntimestamp = 2026-03-02T13:59:30Z\n"
        )
    };
    let path = std::path::Path::new("experiments/bare.toml");
    let quoted = kinesim::parse(path, &text("\"2026-03-02T13:59:00Z\"")).unwrap();
    let bare = kinesim::parse(path, &text("2026-03-02T13:59:00Z")).unwrap();
    assert_eq!(format!("{quoted:?}"), format!("{bare:?}"));
    let error = kinesim::parse(path, &text("2026-03-02T13:59:00")).unwrap_err().to_string();
    assert!(error.contains("key `start`") && error.contains("RFC 3339"), "{error}");
}

/// A reader that closes the pipe early (`kinesim run ... | head`) ends the program
/// quietly: exit 0, no panic, and the run's outputs complete on disk.
#[test]
fn a_closed_stdout_ends_quietly() {
    let out = common::scratch("closed-stdout");
    let mut child = common::kinesim()
        .args(["run", "experiments/quickstart.toml", "--no-plots", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Closing the read end before the run prints anything makes its first line fail.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.join("summary.json").exists());
}

/// Usage errors are one line with exit 2, like every other error, whatever clap would
/// print after it; flags that cannot be honoured are refused, not ignored or wrapped.
#[test]
fn usage_errors_are_one_line_with_exit_2() {
    let folder = common::scratch("cli-usage-errors");
    let quickstart = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/quickstart.toml");
    let dots = folder.join("..toml");
    std::fs::write(&dots, "duration = \"1m\"\n[stream]\nshards = 1\n").unwrap();
    let (nowhere, out) = (folder.join("nowhere"), folder.join("out"));
    let (nowhere, out, dots) = (nowhere.to_str().unwrap(), out.to_str().unwrap(), dots.to_str().unwrap());
    let cases: [(&[&str], &str); 10] = [
        (&["run"], "<FILE>"),
        (&["run", quickstart, "--seed", "abc"], "--seed"),
        (&["sweep", quickstart, "--threads", "0"], "--threads"),
        (&["sweep", quickstart, "--partition", "3/2"], "0 <= I < N"),
        (&["merge", nowhere], "--out"),
        (&["plan", "--rate", "100", "--consumers", "4294967295", "--fan-out", "2", "--out", out], "at most 30"),
        (&["plan", "--rate", "1e300", "--out", out], "--rate"),
        (&["plan", quickstart, "--duration", "1s", "--out", out], "--duration"),
        (&["report", nowhere], "not a run folder"),
        (&["validate", dots], "key `name`"),
    ];
    for (args, expected) in cases {
        let output = common::kinesim().args(args).output().unwrap();
        let message = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
        assert_eq!(message.lines().count(), 1, "{args:?}: {message}");
        assert!(message.contains(expected), "{args:?}: {message}");
    }
    assert!(!folder.join("out").exists(), "nothing is written for a refused command");
}
