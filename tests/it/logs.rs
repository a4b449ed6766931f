//! Capturing log lines in a test, to check what an operator would read.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Log lines written by the subscriber of [`capture_logs`].
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
  /// Everything logged so far.
  pub fn text(&self) -> String {
    String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
  }
}

impl Write for CapturedLogs {
  fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
    self.0.lock().expect("log buffer").extend_from_slice(bytes);
    Ok(bytes.len())
  }

  fn flush(&mut self) -> std::io::Result<()> {
    Ok(())
  }
}

/// Captures every event of this thread (the test runs on a current-thread runtime, so its tasks log here too).
pub fn capture_logs() -> (CapturedLogs, tracing::subscriber::DefaultGuard) {
  capture_logs_at(tracing::Level::INFO)
}

/// Like [`capture_logs`], for events up to `level`.
pub fn capture_logs_at(level: tracing::Level) -> (CapturedLogs, tracing::subscriber::DefaultGuard) {
  let logs = CapturedLogs::default();
  let writer = logs.clone();
  let subscriber = tracing_subscriber::fmt()
    .with_max_level(level)
    .with_ansi(false)
    .with_writer(move || writer.clone())
    .finish();
  (logs, tracing::subscriber::set_default(subscriber))
}
