//! Bad input, data-driven: every `*.toml` in `tests/data/malformed/` is a realistic
//! mistake that `kinesim validate` and `kinesim run` must both reject with exit code 2
//! and one line on stderr, `error: FILE[:LINE]: key `KEY`: message`, without
//! panicking and (for `run`) without writing a `summary.json`.
//!
//! Each data file opens with two comment lines saying what the error must contain:
//!
//! ```toml
//! # expect-key: producers[0].rate
//! # expect-text: got -5
//! ```
//!
//! `expect-key` is the key path printed as ``key `...` ``, or `(none)` for errors about
//! the whole file (not TOML, not UTF-8, a missing top-level table), which print no key.
//! `expect-text` is a distinctive substring of the message.
//!
//! Every file is checked and every problem collected before the test fails, so one run
//! shows them all. Several files are regressions: each reproduces a loader defect once
//! found (a panic on non-ASCII offsets, an overflowing trace period, a key path lost
//! inside a `kind` table, an unchecked experiment name).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The exit code for invalid input or usage.
const EXIT_INVALID: i32 = 2;

/// Fewer files than this means the folder was not found or lost its cases.
const CASES_MIN: usize = 14;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("data").join("malformed")
}

/// Runs the built binary with a clean backtrace setting, so a panic prints the same
/// text whatever the caller's environment, and outside the repository, so a file that
/// is wrongly accepted cannot leave an `out/` folder behind.
fn kinesim<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_kinesim"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("the kinesim binary should start")
}

/// What a data file says its error must contain.
struct Expectation {
    /// `None` when the error concerns the whole file and names no key.
    key: Option<String>,
    text: String,
}

fn read_expectation(path: &Path) -> Result<Expectation, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read the test file: {e}"))?;
    // Lossy: one case is deliberately not UTF-8; its header lines are ASCII.
    let contents = String::from_utf8_lossy(&bytes);
    let (mut key, mut text) = (None, None);
    for line in contents.lines().take_while(|line| line.starts_with('#')) {
        if let Some(value) = line.strip_prefix("# expect-key:") {
            key = Some(value.trim().to_string());
        } else if let Some(value) = line.strip_prefix("# expect-text:") {
            text = Some(value.trim().to_string());
        }
    }
    match (key, text) {
        (Some(key), Some(text)) if !key.is_empty() && !text.is_empty() => {
            Ok(Expectation { key: (key != "(none)").then_some(key), text })
        }
        _ => Err("the file must open with `# expect-key: ...` and `# expect-text: ...` comment lines".into()),
    }
}

/// The sorted `*.toml` files directly inside `dir`.
fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

/// Checks that stderr is one `error: ` line naming `file_name` and containing every
/// string in `needles`, with no sign of a panic. Returns what is wrong.
fn one_line_error(output: &Output, file_name: &str, needles: &[&str]) -> Vec<String> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut problems = Vec::new();
    if output.status.code() != Some(EXIT_INVALID) {
        problems.push(format!("exit code {:?}, expected {EXIT_INVALID}", output.status.code()));
    }
    let lines = stderr.lines().count();
    if lines != 1 {
        problems.push(format!("stderr has {lines} lines, expected 1"));
    }
    if !stderr.starts_with("error: ") {
        problems.push("stderr does not start with `error: `".into());
    }
    if !stderr.contains(file_name) {
        problems.push(format!("stderr does not name the file `{file_name}`"));
    }
    for needle in needles {
        if !stderr.contains(needle) {
            problems.push(format!("stderr does not contain {needle:?}"));
        }
    }
    for sign in ["panicked", "RUST_BACKTRACE"] {
        if stderr.contains(sign) {
            problems.push(format!("stderr contains {sign:?}"));
        }
    }
    problems
}

/// Checks a loading error against what the data file expects.
fn check_load_error(output: &Output, file_name: &str, expect: &Expectation) -> Vec<String> {
    let key_needle = expect.key.as_ref().map(|key| format!("key `{key}`"));
    let mut needles = vec![expect.text.as_str()];
    needles.extend(key_needle.as_deref());
    let mut problems = one_line_error(output, file_name, &needles);
    if expect.key.is_none() && String::from_utf8_lossy(&output.stderr).contains("key `") {
        problems.push("stderr names a key, expected none (`# expect-key: (none)`)".into());
    }
    problems
}

fn describe(file_name: &str, command: &str, output: &Output, problems: &[String]) -> String {
    format!(
        "{file_name} ({command}): {}\n    exit code: {:?}\n    stderr: {:?}",
        problems.join("; "),
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// An output folder under the system temp dir, unique to this process and file.
fn out_dir_for(stem: &str) -> PathBuf {
    std::env::temp_dir().join(format!("kinesim-malformed-{}-{stem}", std::process::id()))
}

/// Runs `validate` and `run` on every `*.toml` in `dir`; returns one report per failure.
fn check_folder(dir: &Path) -> (usize, Vec<String>) {
    let files = toml_files(dir);
    let mut failures = Vec::new();
    for path in &files {
        let file_name = path.file_name().expect("a file name").to_string_lossy().into_owned();
        let expect = match read_expectation(path) {
            Ok(expect) => expect,
            Err(problem) => {
                failures.push(format!("{file_name}: {problem}"));
                continue;
            }
        };

        let output = kinesim([Path::new("validate"), path]);
        let problems = check_load_error(&output, &file_name, &expect);
        if !problems.is_empty() {
            failures.push(describe(&file_name, "validate", &output, &problems));
        }

        let stem = path.file_stem().expect("a file stem").to_string_lossy().into_owned();
        let out = out_dir_for(&stem);
        let _ = fs::remove_dir_all(&out);
        let output = kinesim([Path::new("run"), path, Path::new("--out"), &out]);
        let mut problems = check_load_error(&output, &file_name, &expect);
        if out.join("summary.json").exists() {
            problems.push(format!("run wrote {}", out.join("summary.json").display()));
        }
        let _ = fs::remove_dir_all(&out);
        if !problems.is_empty() {
            failures.push(describe(&file_name, "run", &output, &problems));
        }
    }
    (files.len(), failures)
}

#[test]
fn every_malformed_file_is_rejected_with_one_line_naming_the_key() {
    let dir = data_dir();
    let (count, failures) = check_folder(&dir);
    assert!(count >= CASES_MIN, "expected at least {CASES_MIN} *.toml files in {}, found {count}", dir.display());
    assert!(
        failures.is_empty(),
        "{} failed checks over {count} malformed files:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_missing_experiment_file_is_an_input_error_naming_the_path() {
    let path = std::env::temp_dir().join(format!("kinesim-no-such-experiment-{}.toml", std::process::id()));
    assert!(!path.exists(), "{} should not exist", path.display());
    let shown = path.display().to_string();
    let out = out_dir_for("no-such-experiment");
    let _ = fs::remove_dir_all(&out);

    let validate = kinesim([Path::new("validate"), &path]);
    let run = kinesim([Path::new("run"), &path, Path::new("--out"), &out]);
    let mut failures = Vec::new();
    for (command, output) in [("validate", &validate), ("run", &run)] {
        let problems = one_line_error(output, &shown, &["cannot read the file"]);
        if !problems.is_empty() {
            failures.push(describe(&shown, command, output, &problems));
        }
    }
    assert!(!out.join("summary.json").exists(), "run wrote a summary for a missing file");
    let _ = fs::remove_dir_all(&out);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn shard_for_zero_shards_is_an_input_error() {
    let output = kinesim(["shard-for", "--shards", "0", "a"]);
    let problems = one_line_error(&output, "--shards", &["between 1 and"]);
    assert!(problems.is_empty(), "{}", describe("shard-for --shards 0 a", "shard-for", &output, &problems));
    assert!(output.stdout.is_empty(), "shard-for printed on stdout: {:?}", String::from_utf8_lossy(&output.stdout));
}
