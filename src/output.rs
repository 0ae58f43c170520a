//! All terminal output goes through here: results to stdout, status and
//! progress to stderr, so JSON on stdout is never polluted.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

static JSON_LOGS: AtomicBool = AtomicBool::new(false);

/// Status lines become JSON log events (`--log-format json`).
pub fn use_json_logs() {
    JSON_LOGS.store(true, Ordering::SeqCst);
}

/// Print a status line on stderr (a JSON log event with `--log-format json`).
pub fn status(msg: impl std::fmt::Display) {
    if JSON_LOGS.load(Ordering::SeqCst) {
        tracing::info!("{msg}");
        return;
    }
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// Print an error line on stderr (an error-level JSON log event with
/// `--log-format json`).
pub fn error(msg: impl std::fmt::Display) {
    if JSON_LOGS.load(Ordering::SeqCst) {
        tracing::error!("{msg}");
        return;
    }
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// Print a result on stdout.
pub fn result(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Colour on stdout: only on a terminal, and never with NO_COLOR set.
pub fn color_stdout() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// A spinner on stderr for reads that take more than a moment; hidden when
/// stderr is not a terminal or when asked (JSON mode).
pub struct Progress {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    pub fn start(message: &str, enabled: bool) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress { stop, handle: None };
        }
        let flag = stop.clone();
        let message = message.to_string();
        let handle = std::thread::spawn(move || {
            let frames = ['|', '/', '-', '\\'];
            // Only show up if the work takes more than a moment.
            std::thread::sleep(Duration::from_millis(300));
            let mut i = 0;
            while !flag.load(Ordering::Relaxed) {
                let _ = write!(std::io::stderr(), "\r{} {message}", frames[i % frames.len()]);
                i += 1;
                std::thread::sleep(Duration::from_millis(120));
            }
            let _ = write!(std::io::stderr(), "\r{}\r", " ".repeat(message.len() + 2));
        });
        Progress { stop, handle: Some(handle) }
    }

    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
