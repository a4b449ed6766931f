//! Logging: the shared setup of [`runtime::init_logging`] with the worker's `LOG_FORMAT` and `RUST_LOG`.

use crate::settings::Settings;

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(settings: &Settings) {
  runtime::init_logging(settings.shared.log_format, &settings.shared.log_filter);
}
