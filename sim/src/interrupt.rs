//! A process-wide request to stop early (Ctrl-C, SIGTERM), set by whoever handles the
//! signal and polled by long-running loops. It only ever ends work early; it never
//! changes a result that is produced.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks every run in this process to stop as soon as it can.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}
