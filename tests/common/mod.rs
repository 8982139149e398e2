//! Helpers shared by the integration tests: run experiment text, run the binary.

#![allow(dead_code)]

use kinesim_models::metrics::MemoryRecorder;
use kinesim_models::{simulate, RunResult};
use statrs::distribution::ContinuousCDF;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Parses experiment TOML (as if it were `tests/inline.toml`) and runs it in memory.
pub fn run_toml(text: &str) -> (RunResult, MemoryRecorder) {
    let spec =
        kinesim::parse(Path::new("tests/inline.toml"), text).unwrap_or_else(|e| panic!("invalid test experiment: {e}"));
    let mut recorder = MemoryRecorder::default();
    let result = simulate(&spec, &mut recorder);
    (result, recorder)
}

/// Loads `experiments/<name>.toml` and runs it in memory.
pub fn run_example(name: &str) -> (RunResult, MemoryRecorder) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("experiments/{name}.toml"));
    let spec = kinesim::load(&path).unwrap_or_else(|e| panic!("invalid example: {e}"));
    let mut recorder = MemoryRecorder::default();
    let result = simulate(&spec, &mut recorder);
    (result, recorder)
}

/// A fresh, empty scratch folder in Cargo's folder for test files (`target/tmp`),
/// unique per test name and process. It is removed when dropped, unless the test is
/// failing (then it stays, for a look at what the run wrote), so test runs do not pile
/// up folders. (The few held in statics, runs shared by the tests of one binary, are
/// never dropped.)
pub fn scratch(name: &str) -> Scratch {
    let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("kinesim-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    Scratch { path: folder.clone(), folder }
}

/// A scratch folder (see [`scratch`]), or a path inside one that keeps the folder for
/// as long as it lives ([`Scratch::into_path_of`]); use it as that path.
#[derive(Debug)]
pub struct Scratch {
    folder: PathBuf,
    path: PathBuf,
}

impl Scratch {
    /// `name` inside this folder, keeping the folder.
    pub fn into_path_of(mut self, name: &str) -> Scratch {
        self.path = self.folder.join(name);
        self
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.path.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.folder);
        }
    }
}

/// The `kinesim` binary built for this test run, started in the repository root.
pub fn kinesim() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kinesim"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// Every file of a folder and its subfolders (as "plots/x.svg"), sorted by name, with
/// its bytes.
pub fn folder_bytes(folder: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, folder: &Path, files: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let name = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                files.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut files = Vec::new();
    walk(folder, folder, &mut files);
    files.sort();
    files
}

/// Mean and variance of the mean.
pub fn mean_and_variance(sample: &[f64]) -> (f64, f64) {
    let n = sample.len() as f64;
    let mean = sample.iter().sum::<f64>() / n;
    let variance = sample.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, variance / n)
}

/// The 99% half-width of the difference of two means (Welch).
pub fn half_width_99(a: &[f64], b: &[f64]) -> f64 {
    let ((_, va), (_, vb)) = (mean_and_variance(a), mean_and_variance(b));
    let se = (va + vb).sqrt();
    if se == 0.0 {
        return 0.0;
    }
    let (na, nb) = (a.len() as f64 - 1.0, b.len() as f64 - 1.0);
    let df = (va + vb).powi(2) / (va * va / na + vb * vb / nb);
    let t = statrs::distribution::StudentsT::new(0.0, 1.0, df.max(1.0)).unwrap().inverse_cdf(0.995);
    t * se
}

/// A Zipf hot key overloads one of four shards; rejected records retry with
/// exponential backoff (base 100 ms, full jitter). Shared by `tests/agreement.rs` and `tests/coasting.rs`.
pub const HOT_KEY: &str = r#"
    duration = "3m"
    [stream]
    shards = 4
    [[producers]]
    name = "tenants"
    rate = 3000
    record_size = 512
    keys = { kind = "zipf", count = 1000, exponent = 1.2, prefix = "tenant-" }
    retry = { kind = "exponential", base = "100ms", cap = "2s", max_attempts = 5, jitter = "full" }
    [[consumers]]
    name = "reader"
    kind = "polling"
"#;

/// The rate doubles at two minutes, past what two shards take; an alarm policy doubles
/// the shards once the utilisation alarm fires. Shared by `tests/agreement.rs` and `tests/coasting.rs`.
pub const STEP_CHANGE: &str = r#"
    duration = "8m"
    [stream]
    shards = 2
    [[producers]]
    name = "p"
    rate = { kind = "steps", steps = [["0s", 1200], ["2m", 2400]] }
    record_size = 512
    keys = { kind = "random" }
    retry = { kind = "exponential", base = "100ms", cap = "2s", max_attempts = 4, jitter = "full" }
    [[consumers]]
    name = "reader"
    kind = "polling"
    [policy]
    kind = "alarm_double_halve"
    up_threshold = 0.75
    down_threshold = 0.1
    period = "1m"
    publish_delay = "1m"
"#;
