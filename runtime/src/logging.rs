//! One logging setup for every binary: `tracing` filtered by `RUST_LOG` (an invalid filter falls back to
//! [`DEFAULT_LOG_FILTER`]), written to stderr (stdout stays free for command output such as `--help`). With
//! `LOG_FORMAT=json` each line is one JSON object with the event's fields at the top level: `timestamp`, `level`,
//! `target`, `message` and the event's own fields.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::settings::{DEFAULT_LOG_FILTER, LogFormat};

/// The keys every `LOG_FORMAT=json` line has at its top level, whichever binary wrote it (the event's own fields
/// stand beside them).
pub const JSON_LOG_KEYS: [&str; 4] = ["timestamp", "level", "target", "message"];

/// The subscriber [`init_logging`] installs, writing to `writer` (tests pass a buffer).
pub fn subscriber<W>(
  format: LogFormat,
  filter: &str,
  writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
  W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
  let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
  let builder = tracing_subscriber::fmt()
    .with_env_filter(filter)
    .with_writer(writer);
  match format {
    LogFormat::Text => Box::new(builder.finish()),
    LogFormat::Json => Box::new(builder.json().flatten_event(true).finish()),
  }
}

/// Installs the global subscriber (stderr); a second call (tests) is a no-op.
pub fn init_logging(format: LogFormat, filter: &str) {
  tracing::subscriber::set_global_default(subscriber(format, filter, std::io::stderr)).ok();
}

#[cfg(test)]
mod tests {
  use std::sync::{Arc, Mutex};

  use super::*;

  #[derive(Clone, Default)]
  struct Buffer(Arc<Mutex<Vec<u8>>>);

  impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
      self
        .0
        .lock()
        .map_err(|_| std::io::Error::other("poisoned"))?
        .extend_from_slice(bytes);
      Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
      Ok(())
    }
  }

  #[test]
  fn a_json_line_has_the_message_and_fields_at_the_top_level() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = subscriber(LogFormat::Json, "info", move || writer.clone());
    tracing::subscriber::with_default(subscriber, || {
      tracing::info!(port = 8080, "listening");
    });
    let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
    let line: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");
    assert_eq!(line["message"], "listening");
    assert_eq!(line["port"], 8080);
    assert_eq!(line["level"], "INFO");
    for key in JSON_LOG_KEYS {
      assert!(line.get(key).is_some(), "{key} in {line}");
    }
    assert!(line.get("fields").is_none(), "{line}");
  }
}
