//! Logging: `tracing` with the `RUST_LOG` filter (default `info,sqlx=warn`), as text or JSON lines.

use tracing_subscriber::EnvFilter;

use crate::settings::{LogFormat, Settings};

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(settings: &Settings) {
  let filter = EnvFilter::try_new(&settings.log_filter)
    .unwrap_or_else(|_| EnvFilter::new(crate::settings::DEFAULT_LOG_FILTER));
  let builder = tracing_subscriber::fmt()
    .with_env_filter(filter)
    .with_writer(std::io::stderr);
  let installed = match settings.log_format {
    LogFormat::Text => builder.try_init(),
    LogFormat::Json => builder.json().flatten_event(true).try_init(),
  };
  installed.ok();
}
