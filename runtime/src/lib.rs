//! What the api and the worker share at run time, so that each piece has one home:
//!
//! - settings: [`Secret`], [`LogFormat`], [`SettingsError`], the parsing helpers and the five settings both
//!   binaries read ([`SharedSettings`]: `DATABASE_URL`, `REDIS_URL`, `CACHE_PREFIX`, `LOG_FORMAT`, `RUST_LOG`).
//! - logging: [`init_logging`], one setup; `LOG_FORMAT=json` writes the same shape from every binary.
//! - shutdown: [`shutdown_signal`] and [`shutdown_token`], SIGTERM / Ctrl-C as a future or a cancellation token.
//! - health: [`is_healthy`], the `healthcheck` subcommands' client (a raw HTTP/1.0 GET, so images need no curl).
//! - metrics: [`register`] and [`metrics_endpoint`], registering Prometheus metrics and the `/metrics` endpoint.
//!
//! The Redis connection is not here: it lives in `entity` next to the cache key scheme.

mod health;
mod logging;
mod metrics;
mod settings;
mod shutdown;

pub use crate::health::{HEALTHCHECK_TIMEOUT, is_healthy, local_address};
pub use crate::logging::{JSON_LOG_KEYS, init_logging, subscriber};
pub use crate::metrics::{metrics_endpoint, register, render};
pub use crate::settings::{
  DEFAULT_LOG_FILTER, LogFormat, SHARED_VARIABLES, Secret, SettingsError, SharedSettings,
  lookup_in, parse, positive,
};
pub use crate::shutdown::{shutdown_signal, shutdown_token};
