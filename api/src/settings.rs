//! The api's settings: one typed struct read from environment variables, every default in one place.

use std::net::SocketAddr;
use std::time::Duration;

/// Every environment variable the api reads (docker compose passes exactly these).
pub const ENVIRONMENT_VARIABLES: &[&str] = runtime::environment_variables![
  "API_LISTEN_ADDRESS",
  "API_METRICS_ADDRESS",
  "API_PUBLIC_URL",
  "API_CORS_ALLOWED_ORIGINS",
  "API_RUN_MIGRATIONS",
  "API_CACHE_TTL_FINISHED_SECONDS",
  "API_CACHE_TTL_LIVE_SECONDS",
  "API_CACHE_MEMORY_BYTES",
  "API_CHANGE_POLL_INTERVAL_MILLISECONDS",
  "API_EVENT_STREAMS_MAX",
  "API_EVENT_HEARTBEAT_SECONDS",
  "API_EVENT_STREAM_MAX_SECONDS",
  "API_MAX_PAGE_SIZE",
  "API_OPENF1_CACHE_MAX_BYTES",
  "API_REQUEST_TIMEOUT_SECONDS",
  "API_SHUTDOWN_TIMEOUT_SECONDS",
  "API_RATE_LIMITS_ENABLED",
  "API_RATE_LIMIT_CHEAP_PER_MINUTE",
  "API_RATE_LIMIT_CHEAP_BURST",
  "API_RATE_LIMIT_EXPENSIVE_PER_MINUTE",
  "API_RATE_LIMIT_EXPENSIVE_BURST",
  "API_RATE_LIMIT_LARGE_ANSWER_BYTES",
  "API_RATE_LIMIT_MAX_CLIENTS",
  "API_TRUSTED_PROXIES",
  "API_KEY_HASHES",
  "API_KEYS_FILE",
];

/// Default `API_METRICS_ADDRESS`: a port of its own, so that the public port never serves metrics. 9464 is the
/// port conventionally used by OpenTelemetry's Prometheus exporters; 9090 would clash with a Prometheus server on
/// the same host.
pub const DEFAULT_METRICS_ADDRESS: &str = "0.0.0.0:9464";
/// The in-process cache tier's default size in front of Redis (16 MiB): the hottest answers only, so that a replica
/// stays small (`bench/README.md`: api RSS after the chart benchmark).
const DEFAULT_CACHE_MEMORY_BYTES_WITH_REDIS: &str = "16777216";
/// The in-process cache tier's default size without Redis (128 MiB), where it is the only tier.
const DEFAULT_CACHE_MEMORY_BYTES_ALONE: &str = "134217728";

pub use runtime::{Secret, SettingsError, SharedSettings};
use runtime::{parse, positive};

/// The api's settings.
#[derive(Clone, Debug)]
pub struct Settings {
  /// `DATABASE_URL`, `REDIS_URL` (unset: an in-process cache), `CACHE_PREFIX`, `LOG_FORMAT`, `RUST_LOG`: the settings
  /// both binaries read.
  pub shared: SharedSettings,
  /// `API_LISTEN_ADDRESS`; default `0.0.0.0:8080` (tests use port 0).
  pub listen_address: SocketAddr,
  /// `API_METRICS_ADDRESS`: where `/metrics` is served, apart from the public port; default `0.0.0.0:9464`
  /// (tests use port 0).
  pub metrics_address: SocketAddr,
  /// `API_PUBLIC_URL`: the server URL in the OpenAPI document; default `http://localhost:8080`.
  pub public_url: String,
  /// `API_CORS_ALLOWED_ORIGINS`: comma-separated origins; default empty (no CORS headers).
  pub cors_allowed_origins: Vec<String>,
  /// `API_RUN_MIGRATIONS`: apply migrations at start; default `true`.
  pub run_migrations: bool,
  /// `API_CACHE_TTL_FINISHED_SECONDS`: cache lifetime of finished sessions' data; default 86400.
  pub cache_ttl_finished: Duration,
  /// `API_CACHE_TTL_LIVE_SECONDS`: cache lifetime of live sessions' data; default 5.
  pub cache_ttl_live: Duration,
  /// `API_CACHE_MEMORY_BYTES`: size of the in-process cache tier, in bytes of cached answers; default
  /// 16777216 (16 MiB) in front of Redis, where it only holds the hottest answers and Redis holds the rest, and
  /// 134217728 (128 MiB) without Redis, where it is the only tier.
  pub cache_memory_bytes: u64,
  /// `API_CHANGE_POLL_INTERVAL_MILLISECONDS`: how often the change log is polled for the worker's commits;
  /// default 250.
  pub change_poll_interval: Duration,
  /// `API_EVENT_STREAMS_MAX`: most concurrent event streams (`GET /v1/sessions/{session_key}/events`) one api
  /// serves; more are answered 503 with `Retry-After`; default 10000.
  pub event_streams_max: usize,
  /// `API_EVENT_HEARTBEAT_SECONDS`: an event stream sends a comment line after this long without an event, so
  /// that proxies and clients see it alive; default 15.
  pub event_heartbeat: Duration,
  /// `API_EVENT_STREAM_MAX_SECONDS`: an event stream ends after this long; the client reconnects with
  /// `Last-Event-ID` (browsers do on their own) and loses nothing, and long-lived clients spread over replicas added
  /// meanwhile; default 900.
  pub event_stream_lifetime: Duration,
  /// `API_MAX_PAGE_SIZE`: largest accepted `limit`; default 1000.
  pub max_page_size: u64,
  /// `API_OPENF1_CACHE_MAX_BYTES`: Open F1 drop-in answers up to this size are cached (and tagged); bigger ones
  /// stream; default 1048576 (1 MiB).
  pub openf1_cache_max_bytes: usize,
  /// `API_REQUEST_TIMEOUT_SECONDS`: a request taking longer is answered 503; default 10.
  pub request_timeout: Duration,
  /// `API_SHUTDOWN_TIMEOUT_SECONDS`: how long in-flight requests may drain at shutdown; default 10.
  pub shutdown_timeout: Duration,
  /// API keys, rate limits and trusted proxies (`API_RATE_LIMIT*`, `API_TRUSTED_PROXIES`, `API_KEY*`; see
  /// `crate::access`).
  pub access: crate::access::AccessSettings,
}

impl Settings {
  /// Reads the settings from the process environment.
  ///
  /// # Errors
  /// Fails naming the first variable whose value cannot be parsed.
  pub fn from_environment() -> Result<Self, SettingsError> {
    Self::from_lookup(|name| std::env::var(name).ok())
  }

  /// Reads the settings through `lookup` (the environment, or a map in tests). Empty values count as unset.
  ///
  /// # Errors
  /// Fails naming the first variable whose value cannot be parsed.
  pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
    let read = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
    let shared = SharedSettings::from_read(&read)?;
    let cache_memory_bytes_default = if shared.redis_url.is_some() {
      DEFAULT_CACHE_MEMORY_BYTES_WITH_REDIS
    } else {
      DEFAULT_CACHE_MEMORY_BYTES_ALONE
    };
    Ok(Self {
      shared,
      listen_address: parse(&read, "API_LISTEN_ADDRESS", "0.0.0.0:8080")?,
      metrics_address: parse(&read, "API_METRICS_ADDRESS", DEFAULT_METRICS_ADDRESS)?,
      public_url: read("API_PUBLIC_URL").unwrap_or_else(|| "http://localhost:8080".to_owned()),
      cors_allowed_origins: read("API_CORS_ALLOWED_ORIGINS")
        .map(|origins| {
          origins
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(str::to_owned)
            .collect()
        })
        .unwrap_or_default(),
      run_migrations: parse(&read, "API_RUN_MIGRATIONS", "true")?,
      cache_ttl_finished: Duration::from_secs(parse(
        &read,
        "API_CACHE_TTL_FINISHED_SECONDS",
        "86400",
      )?),
      cache_ttl_live: Duration::from_secs(parse(&read, "API_CACHE_TTL_LIVE_SECONDS", "5")?),
      cache_memory_bytes: parse(&read, "API_CACHE_MEMORY_BYTES", cache_memory_bytes_default)?,
      change_poll_interval: Duration::from_millis(positive(
        parse(&read, "API_CHANGE_POLL_INTERVAL_MILLISECONDS", "250")?,
        "API_CHANGE_POLL_INTERVAL_MILLISECONDS",
      )?),
      event_streams_max: usize::try_from(positive(
        parse(&read, "API_EVENT_STREAMS_MAX", "10000")?,
        "API_EVENT_STREAMS_MAX",
      )?)
      .unwrap_or(usize::MAX),
      event_heartbeat: Duration::from_secs(positive(
        parse(&read, "API_EVENT_HEARTBEAT_SECONDS", "15")?,
        "API_EVENT_HEARTBEAT_SECONDS",
      )?),
      event_stream_lifetime: Duration::from_secs(positive(
        parse(&read, "API_EVENT_STREAM_MAX_SECONDS", "900")?,
        "API_EVENT_STREAM_MAX_SECONDS",
      )?),
      max_page_size: positive(
        parse(&read, "API_MAX_PAGE_SIZE", "1000")?,
        "API_MAX_PAGE_SIZE",
      )?,
      openf1_cache_max_bytes: parse(&read, "API_OPENF1_CACHE_MAX_BYTES", "1048576")?,
      request_timeout: Duration::from_secs(positive(
        parse(&read, "API_REQUEST_TIMEOUT_SECONDS", "10")?,
        "API_REQUEST_TIMEOUT_SECONDS",
      )?),
      shutdown_timeout: Duration::from_secs(parse(&read, "API_SHUTDOWN_TIMEOUT_SECONDS", "10")?),
      access: crate::access::AccessSettings::from_lookup(&read)?,
    })
  }

  /// Settings for tests: the given database, no Redis, no migrations, listening (and serving metrics) on
  /// `127.0.0.1:0`.
  #[must_use]
  pub fn for_tests(database_url: impl Into<String>) -> Self {
    let mut settings =
      Self::from_lookup(|_| None).unwrap_or_else(|_| unreachable!("defaults parse"));
    settings.shared.database_url = Secret::new(database_url);
    settings.run_migrations = false;
    settings.listen_address = SocketAddr::from(([127, 0, 0, 1], 0));
    settings.metrics_address = SocketAddr::from(([127, 0, 0, 1], 0));
    settings
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn defaults_apply_when_nothing_is_set() {
    let settings = Settings::from_lookup(|_| None).expect("defaults");
    assert_eq!(settings.max_page_size, 1000);
    assert!(settings.run_migrations);
    assert!(settings.shared.redis_url.is_none());
    assert_eq!(settings.listen_address.port(), 8080);
    assert_eq!(settings.metrics_address.port(), 9464);
  }

  #[test]
  fn a_bad_value_names_its_variable() {
    let error =
      Settings::from_lookup(|name| (name == "API_MAX_PAGE_SIZE").then(|| "lots".to_owned()))
        .expect_err("invalid");
    assert_eq!(error.variable, "API_MAX_PAGE_SIZE");
    assert!(error.to_string().contains("API_MAX_PAGE_SIZE"));
  }

  #[test]
  fn environment_variables_lists_exactly_the_variables_read() {
    let read = std::cell::RefCell::new(Vec::new());
    Settings::from_lookup(|name| {
      read.borrow_mut().push(name.to_owned());
      None
    })
    .expect("defaults");
    let mut read = read.into_inner();
    read.sort();
    read.dedup();
    let mut listed: Vec<String> = ENVIRONMENT_VARIABLES
      .iter()
      .map(|name| (*name).to_owned())
      .collect();
    listed.sort();
    assert_eq!(read, listed);
  }

  #[test]
  fn secrets_are_redacted_in_debug_output() {
    let settings = Settings::for_tests("mysql://user:hunter2@db/f1");
    assert!(!format!("{settings:?}").contains("hunter2"));
  }
}
