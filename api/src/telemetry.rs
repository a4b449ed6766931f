//! Logging: `tracing` with `RUST_LOG` (default `info,sqlx=warn`), text or JSON lines by `LOG_FORMAT`.

use tracing_subscriber::EnvFilter;

use crate::settings::{LogFormat, Settings};

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(settings: &Settings) {
  let filter = EnvFilter::try_new(&settings.log_filter)
    .unwrap_or_else(|_| EnvFilter::new(crate::settings::DEFAULT_LOG_FILTER));
  let builder = tracing_subscriber::fmt().with_env_filter(filter);
  let result = match settings.log_format {
    LogFormat::Json => builder.json().try_init(),
    LogFormat::Text => builder.try_init(),
  };
  drop(result);
}
