//! Errors of loading an experiment: every one names the file, the key path and what is
//! allowed, in one line.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: cannot read the file: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}{}: {message}", path.display(), location(key, *line))]
    Invalid { path: PathBuf, key: String, line: Option<usize>, message: String },
}

fn location(key: &str, line: Option<usize>) -> String {
    match (key.is_empty(), line) {
        (true, None) => String::new(),
        (true, Some(line)) => format!(":{line}"),
        (false, None) => format!(": key `{key}`"),
        (false, Some(line)) => format!(":{line}: key `{key}`"),
    }
}

impl LoadError {
    pub fn invalid(path: &Path, key: impl Into<String>, message: impl Into<String>) -> LoadError {
        LoadError::Invalid { path: path.to_path_buf(), key: key.into(), line: None, message: message.into() }
    }

    /// The key path the error is about ("" when it concerns the whole file).
    pub fn key(&self) -> &str {
        match self {
            LoadError::Read { .. } => "",
            LoadError::Invalid { key, .. } => key,
        }
    }
}
