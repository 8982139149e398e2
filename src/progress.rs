//! Progress of long jobs on stderr: a bar with count, rate and ETA on a terminal; a
//! plain line at most every 10 s otherwise (cluster logs); nothing with `--quiet`.
//! Wall-clock time is used only here, to pace messages: it never touches a result.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    Quiet,
    /// A bar on a terminal, plain lines otherwise.
    Auto,
}

/// The most often a plain progress line is printed.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

impl Progress {
    pub fn start(self, total: u64, unit: &'static str) -> Tracker {
        if self == Progress::Quiet || total == 0 {
            return Tracker { bar: None, plain: None };
        }
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(total);
            let style = indicatif::ProgressStyle::with_template(&format!(
                "{{bar:40}} {{pos}}/{{len}} {unit} ({{per_sec}}, ETA {{eta}})"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            return Tracker { bar: Some(bar), plain: None };
        }
        let now = Instant::now();
        let plain = Plain { done: AtomicU64::new(0), total, unit, started: now, last: Mutex::new(now) };
        Tracker { bar: None, plain: Some(plain) }
    }
}

struct Plain {
    done: AtomicU64,
    total: u64,
    unit: &'static str,
    started: Instant,
    last: Mutex<Instant>,
}

/// A started progress display; shared by worker threads.
pub struct Tracker {
    bar: Option<indicatif::ProgressBar>,
    plain: Option<Plain>,
}

impl Tracker {
    pub fn advance(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if let Some(plain) = &self.plain {
            let done = plain.done.fetch_add(1, Ordering::Relaxed) + 1;
            let mut last = plain.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.elapsed() >= PLAIN_EVERY || done == plain.total {
                *last = Instant::now();
                let seconds = plain.started.elapsed().as_secs_f64().max(1e-9);
                let rate = done as f64 / seconds;
                let eta = (plain.total - done) as f64 / rate.max(1e-9);
                eprintln!("progress: {done}/{} {} ({rate:.1}/s, ETA {eta:.0} s)", plain.total, plain.unit);
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
