//! Helpers shared by the integration tests: run experiment text, run the binary.

#![allow(dead_code)]

use kinesim_models::metrics::MemoryRecorder;
use kinesim_models::{simulate, RunResult};
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

/// A fresh, empty scratch folder under the system temp dir, unique per test name.
pub fn scratch(name: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("kinesim-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    folder
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
