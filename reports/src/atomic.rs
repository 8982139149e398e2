//! Files that appear whole or not at all: written under a temporary name in the same
//! folder, flushed, then renamed over the final name.

use crate::ReportError;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The temporary name a file is written under before it is published.
pub fn temporary_path(target: &Path) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // The process id keeps two runs writing the same folder from sharing a temporary.
    target.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Creates the temporary file for `target`, buffered.
pub fn create(target: &Path) -> Result<BufWriter<File>, ReportError> {
    let temporary = temporary_path(target);
    let file = File::create(&temporary).map_err(|source| io_error(&temporary, source))?;
    Ok(BufWriter::with_capacity(1 << 16, file))
}

/// Flushes the temporary file of `target` and moves it into place.
pub fn publish(writer: BufWriter<File>, target: &Path) -> Result<(), ReportError> {
    let temporary = temporary_path(target);
    let file = writer.into_inner().map_err(|e| io_error(&temporary, e.into_error()))?;
    file.sync_all().map_err(|source| io_error(&temporary, source))?;
    drop(file);
    std::fs::rename(&temporary, target).map_err(|source| io_error(target, source))
}

pub fn io_error(path: &Path, source: std::io::Error) -> ReportError {
    ReportError::Io { path: path.display().to_string(), source }
}

/// Writes `bytes` to `target` atomically.
pub fn write_all(target: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let mut writer = create(target)?;
    writer.write_all(bytes).map_err(|source| io_error(target, source))?;
    publish(writer, target)
}
