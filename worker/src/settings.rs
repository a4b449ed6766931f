//! The worker's settings: one typed struct read from environment variables, every default in one place.
//!
//! [`Settings::from_environment`] fails fast with a [`SettingsError`] naming the bad variable. Secrets are held
//! in [`Secret`], whose `Debug` prints `[redacted]`, so logging the settings never leaks a password.

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use chrono::Datelike;

/// Every environment variable the worker reads (docker compose passes exactly these).
pub const ENVIRONMENT_VARIABLES: &[&str] = &[
  "DATABASE_URL",
  "REDIS_URL",
  "CACHE_PREFIX",
  "LOG_FORMAT",
  "RUST_LOG",
  "OPENF1_BASE_URL",
  "OPENF1_TOKEN_URL",
  "OPENF1_USERNAME",
  "OPENF1_PASSWORD",
  "OPENF1_MAX_REQUESTS_PER_SECOND",
  "OPENF1_MAX_REQUESTS_PER_MINUTE",
  "OPENF1_REQUEST_TIMEOUT_SECONDS",
  "WORKER_YEARS",
  "WORKER_METRICS_ADDRESS",
  "WORKER_CALENDAR_INTERVAL_SECONDS",
  "WORKER_POLL_INTERVAL_SECONDS",
];

/// Default `RUST_LOG` filter (sqlx logs every statement at INFO).
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn";
/// Default `OPENF1_BASE_URL`.
pub const DEFAULT_BASE_URL: &str = "https://api.openf1.org/v1";
/// Default `OPENF1_TOKEN_URL`.
pub const DEFAULT_TOKEN_URL: &str = "https://api.openf1.org/token";
/// Default `WORKER_METRICS_ADDRESS`.
pub const DEFAULT_METRICS_ADDRESS: &str = "0.0.0.0:9091";

/// A value that must never appear in logs: `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
  /// Wraps a secret value.
  #[must_use]
  pub fn new(value: impl Into<String>) -> Self {
    Self(value.into())
  }

  /// The secret itself; call it only where the value is sent.
  #[must_use]
  pub fn expose(&self) -> &str {
    &self.0
  }
}

impl fmt::Debug for Secret {
  fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
    formatter.write_str("[redacted]")
  }
}

impl fmt::Display for Secret {
  fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
    formatter.write_str("[redacted]")
  }
}

/// A bad setting, naming the variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
  /// The variable's value could not be parsed.
  #[error("environment variable {variable} has an invalid value {value:?}: {reason}")]
  Invalid {
    /// The variable.
    variable: &'static str,
    /// The value found (secrets are never reported).
    value: String,
    /// What was expected.
    reason: &'static str,
  },
  /// Only one of two variables that go together is set.
  #[error(
    "environment variables {set} and {missing} go together: {set} is set but {missing} is not"
  )]
  Incomplete {
    /// The variable that is set.
    set: &'static str,
    /// The variable that is missing.
    missing: &'static str,
  },
}

/// How logs are written (`LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
  /// Human-readable lines (default).
  #[default]
  Text,
  /// One JSON object per line.
  Json,
}

/// Open F1 account used to obtain a bearer token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
  /// `OPENF1_USERNAME`.
  pub username: String,
  /// `OPENF1_PASSWORD`.
  pub password: Secret,
}

/// Retry policy for upstream requests (not read from the environment; tests shorten it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySettings {
  /// First back-off delay (default 1 s).
  pub min_delay: Duration,
  /// Largest back-off delay (default 60 s), also the cap on a `Retry-After` wait.
  pub max_delay: Duration,
  /// Retries after the first attempt (default 6).
  pub max_retries: usize,
}

impl Default for RetrySettings {
  fn default() -> Self {
    Self {
      min_delay: Duration::from_secs(1),
      max_delay: Duration::from_secs(60),
      max_retries: 6,
    }
  }
}

/// Everything the worker is configured with.
#[derive(Clone, Debug)]
pub struct Settings {
  /// `DATABASE_URL`; unset means [`entity::database::DEFAULT_DATABASE_URL`] (a SQLite file).
  pub database_url: Secret,
  /// `REDIS_URL`; unset means no cache to invalidate.
  pub redis_url: Option<Secret>,
  /// `CACHE_PREFIX`, default `f1`.
  pub cache_prefix: String,
  /// `LOG_FORMAT`: `text` (default) or `json`.
  pub log_format: LogFormat,
  /// `RUST_LOG`, default `info,sqlx=warn`.
  pub log_filter: String,
  /// `OPENF1_BASE_URL`, default `https://api.openf1.org/v1`.
  pub base_url: String,
  /// `OPENF1_TOKEN_URL`, default `https://api.openf1.org/token`.
  pub token_url: String,
  /// `OPENF1_USERNAME` and `OPENF1_PASSWORD` (both or neither); without them live sessions are skipped.
  pub credentials: Option<Credentials>,
  /// `OPENF1_MAX_REQUESTS_PER_SECOND`, default 3.
  pub max_requests_per_second: NonZeroU32,
  /// `OPENF1_MAX_REQUESTS_PER_MINUTE`, default 30.
  pub max_requests_per_minute: NonZeroU32,
  /// `OPENF1_REQUEST_TIMEOUT_SECONDS`, default 30.
  pub request_timeout: Duration,
  /// `WORKER_YEARS`, comma-separated; default the current year.
  pub years: Vec<i32>,
  /// `WORKER_METRICS_ADDRESS`, default `0.0.0.0:9091` (tests use port 0).
  pub metrics_address: SocketAddr,
  /// `WORKER_CALENDAR_INTERVAL_SECONDS`, default 21600 (6 h).
  pub calendar_interval: Duration,
  /// `WORKER_POLL_INTERVAL_SECONDS`, default 60.
  pub poll_interval: Duration,
  /// Retry policy (default [`RetrySettings::default`]; not an environment variable).
  pub retry: RetrySettings,
  /// Width of the time windows in which `car_data` and `location` are fetched per driver (10 minutes; not an
  /// environment variable).
  pub telemetry_window: Duration,
  /// How long the daemon and `backfill` wait after Open F1 answered 401 "session in progress" before trying again
  /// ([`crate::UPSTREAM_LOCKED_BACKOFF`]; not an environment variable, tests shorten it).
  pub upstream_locked_backoff: Duration,
}

impl Settings {
  /// Reads the settings from the process environment.
  ///
  /// # Errors
  /// [`SettingsError`] naming the first bad variable.
  pub fn from_environment() -> Result<Self, SettingsError> {
    Self::from_lookup(|name| std::env::var(name).ok())
  }

  /// Reads the settings through `lookup` (a variable name to its value), so tests need not touch the environment.
  /// Empty values count as unset.
  ///
  /// # Errors
  /// [`SettingsError`] naming the first bad variable.
  pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
    let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
    let credentials = match (get("OPENF1_USERNAME"), get("OPENF1_PASSWORD")) {
      (Some(username), Some(password)) => Some(Credentials {
        username,
        password: Secret::new(password),
      }),
      (None, None) => None,
      (Some(_), None) => {
        return Err(SettingsError::Incomplete {
          set: "OPENF1_USERNAME",
          missing: "OPENF1_PASSWORD",
        });
      }
      (None, Some(_)) => {
        return Err(SettingsError::Incomplete {
          set: "OPENF1_PASSWORD",
          missing: "OPENF1_USERNAME",
        });
      }
    };
    let log_format = match get("LOG_FORMAT").as_deref().map(str::trim) {
      None | Some("text") => LogFormat::Text,
      Some("json") => LogFormat::Json,
      Some(other) => {
        return Err(SettingsError::Invalid {
          variable: "LOG_FORMAT",
          value: other.to_owned(),
          reason: "expected `text` or `json`",
        });
      }
    };
    let years = match get("WORKER_YEARS") {
      None => vec![chrono::Utc::now().year()],
      Some(text) => parse_years(&text)?,
    };
    let metrics_address =
      get("WORKER_METRICS_ADDRESS").unwrap_or_else(|| DEFAULT_METRICS_ADDRESS.to_owned());
    let metrics_address = metrics_address
      .trim()
      .parse()
      .map_err(|_| SettingsError::Invalid {
        variable: "WORKER_METRICS_ADDRESS",
        value: metrics_address.clone(),
        reason: "expected an address such as 0.0.0.0:9091",
      })?;
    Ok(Self {
      database_url: Secret::new(
        get("DATABASE_URL").unwrap_or_else(|| entity::database::DEFAULT_DATABASE_URL.to_owned()),
      ),
      redis_url: get("REDIS_URL").map(Secret::new),
      cache_prefix: get("CACHE_PREFIX").unwrap_or_else(|| entity::cache::DEFAULT_PREFIX.to_owned()),
      log_format,
      log_filter: get("RUST_LOG").unwrap_or_else(|| DEFAULT_LOG_FILTER.to_owned()),
      base_url: parse_url("OPENF1_BASE_URL", get("OPENF1_BASE_URL"), DEFAULT_BASE_URL)?,
      token_url: parse_url(
        "OPENF1_TOKEN_URL",
        get("OPENF1_TOKEN_URL"),
        DEFAULT_TOKEN_URL,
      )?,
      credentials,
      max_requests_per_second: parse_positive(
        "OPENF1_MAX_REQUESTS_PER_SECOND",
        get("OPENF1_MAX_REQUESTS_PER_SECOND"),
        3,
      )?,
      max_requests_per_minute: parse_positive(
        "OPENF1_MAX_REQUESTS_PER_MINUTE",
        get("OPENF1_MAX_REQUESTS_PER_MINUTE"),
        30,
      )?,
      request_timeout: seconds(
        "OPENF1_REQUEST_TIMEOUT_SECONDS",
        get("OPENF1_REQUEST_TIMEOUT_SECONDS"),
        30,
      )?,
      years,
      metrics_address,
      calendar_interval: seconds(
        "WORKER_CALENDAR_INTERVAL_SECONDS",
        get("WORKER_CALENDAR_INTERVAL_SECONDS"),
        21_600,
      )?,
      poll_interval: seconds(
        "WORKER_POLL_INTERVAL_SECONDS",
        get("WORKER_POLL_INTERVAL_SECONDS"),
        60,
      )?,
      retry: RetrySettings::default(),
      telemetry_window: Duration::from_secs(600),
      upstream_locked_backoff: crate::UPSTREAM_LOCKED_BACKOFF,
    })
  }

  /// The settings with every default and `DATABASE_URL` set to `database_url` (a starting point for tests).
  ///
  /// # Errors
  /// Never in practice (the defaults are valid); kept fallible to share [`Settings::from_lookup`].
  pub fn with_database(database_url: &str) -> Result<Self, SettingsError> {
    let database_url = database_url.to_owned();
    Self::from_lookup(move |name| (name == "DATABASE_URL").then(|| database_url.clone()))
  }
}

fn parse_years(text: &str) -> Result<Vec<i32>, SettingsError> {
  let mut years = Vec::new();
  for part in text
    .split(',')
    .map(str::trim)
    .filter(|part| !part.is_empty())
  {
    match part.parse::<i32>() {
      Ok(year) if (2018..=2100).contains(&year) => years.push(year),
      _ => {
        return Err(SettingsError::Invalid {
          variable: "WORKER_YEARS",
          value: text.to_owned(),
          reason: "expected comma-separated years such as 2024,2025",
        });
      }
    }
  }
  if years.is_empty() {
    return Err(SettingsError::Invalid {
      variable: "WORKER_YEARS",
      value: text.to_owned(),
      reason: "expected at least one year",
    });
  }
  years.sort_unstable();
  years.dedup();
  Ok(years)
}

fn parse_url(
  variable: &'static str,
  value: Option<String>,
  default: &str,
) -> Result<String, SettingsError> {
  let value = value.unwrap_or_else(|| default.to_owned());
  let trimmed = value.trim().trim_end_matches('/').to_owned();
  match url::Url::parse(&trimmed) {
    Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(trimmed),
    _ => Err(SettingsError::Invalid {
      variable,
      value,
      reason: "expected an http(s) URL",
    }),
  }
}

fn parse_positive(
  variable: &'static str,
  value: Option<String>,
  default: u32,
) -> Result<NonZeroU32, SettingsError> {
  let Some(value) = value else {
    return Ok(NonZeroU32::new(default).unwrap_or(NonZeroU32::MIN));
  };
  value
    .trim()
    .parse::<NonZeroU32>()
    .map_err(|_| SettingsError::Invalid {
      variable,
      value,
      reason: "expected a positive whole number",
    })
}

fn seconds(
  variable: &'static str,
  value: Option<String>,
  default: u32,
) -> Result<Duration, SettingsError> {
  parse_positive(variable, value, default).map(|count| Duration::from_secs(u64::from(count.get())))
}

#[cfg(test)]
mod tests {
  use super::*;

  fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = pairs
      .iter()
      .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
      .collect();
    move |name| {
      pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
    }
  }

  #[test]
  fn unset_variables_take_the_documented_defaults() {
    let settings = Settings::from_lookup(lookup(&[])).expect("defaults");
    assert_eq!(
      settings.database_url.expose(),
      entity::database::DEFAULT_DATABASE_URL
    );
    assert_eq!(settings.redis_url, None);
    assert_eq!(settings.cache_prefix, "f1");
    assert_eq!(settings.log_filter, "info,sqlx=warn");
    assert_eq!(settings.base_url, "https://api.openf1.org/v1");
    assert_eq!(settings.max_requests_per_second.get(), 3);
    assert_eq!(settings.max_requests_per_minute.get(), 30);
    assert_eq!(settings.request_timeout, Duration::from_secs(30));
    assert_eq!(settings.years, vec![chrono::Utc::now().year()]);
    assert_eq!(settings.metrics_address.port(), 9091);
    assert_eq!(settings.calendar_interval, Duration::from_secs(21_600));
    assert_eq!(settings.poll_interval, Duration::from_secs(60));
  }

  #[test]
  fn a_bad_value_is_reported_with_its_variable_name() {
    let error = Settings::from_lookup(lookup(&[("OPENF1_MAX_REQUESTS_PER_MINUTE", "lots")]))
      .expect_err("invalid");
    assert!(error.to_string().contains("OPENF1_MAX_REQUESTS_PER_MINUTE"));
    let error = Settings::from_lookup(lookup(&[("WORKER_YEARS", "2024,next")])).expect_err("years");
    assert!(error.to_string().contains("WORKER_YEARS"));
    let error = Settings::from_lookup(lookup(&[("LOG_FORMAT", "xml")])).expect_err("format");
    assert!(error.to_string().contains("LOG_FORMAT"));
  }

  #[test]
  fn a_username_without_a_password_is_refused() {
    let error =
      Settings::from_lookup(lookup(&[("OPENF1_USERNAME", "fan")])).expect_err("incomplete");
    assert_eq!(
      error,
      SettingsError::Incomplete {
        set: "OPENF1_USERNAME",
        missing: "OPENF1_PASSWORD"
      }
    );
  }

  #[test]
  fn secrets_are_redacted_when_the_settings_are_printed() {
    let settings = Settings::from_lookup(lookup(&[
      ("OPENF1_USERNAME", "fan"),
      ("OPENF1_PASSWORD", "hunter2"),
      ("DATABASE_URL", "mysql://user:topsecret@db/f1"),
      ("WORKER_YEARS", "2025, 2023,2024"),
    ]))
    .expect("settings");
    let printed = format!("{settings:?}");
    assert!(!printed.contains("hunter2"));
    assert!(!printed.contains("topsecret"));
    assert!(printed.contains("[redacted]"));
    assert_eq!(settings.years, vec![2023, 2024, 2025]);
  }
}
