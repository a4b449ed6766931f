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
pub const ENVIRONMENT_VARIABLES: &[&str] = runtime::environment_variables![
  "OPENF1_BASE_URL",
  "OPENF1_TOKEN_URL",
  "OPENF1_USERNAME",
  "OPENF1_PASSWORD",
  "OPENF1_MAX_REQUESTS_PER_SECOND",
  "OPENF1_MAX_REQUESTS_PER_MINUTE",
  "OPENF1_REQUEST_TIMEOUT_SECONDS",
  "OPENF1_MQTT_URL",
  "OPENF1_MQTT_TOPICS",
  "WORKER_YEARS",
  "WORKER_METRICS_ADDRESS",
  "WORKER_CALENDAR_INTERVAL_SECONDS",
  "WORKER_POLL_INTERVAL_SECONDS",
];

/// Default `OPENF1_BASE_URL`.
pub const DEFAULT_BASE_URL: &str = "https://api.openf1.org/v1";
/// Default `OPENF1_TOKEN_URL`.
pub const DEFAULT_TOKEN_URL: &str = "https://api.openf1.org/token";
/// Default `OPENF1_MQTT_URL`: Open F1's MQTT broker, over TLS.
pub const DEFAULT_MQTT_URL: &str = "mqtts://mqtt.openf1.org:8883";
/// Default `OPENF1_MQTT_TOPICS`: every Open F1 topic (`v1/<endpoint>`).
pub const DEFAULT_MQTT_TOPICS: &str = "v1/#";
/// The `OPENF1_MQTT_URL` value that turns live ingest over MQTT off.
pub const MQTT_OFF: &str = "off";
/// Default `WORKER_METRICS_ADDRESS`.
pub const DEFAULT_METRICS_ADDRESS: &str = "0.0.0.0:9091";

pub use runtime::{Secret, SettingsError, SharedSettings};

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

/// Where Open F1's MQTT broker is (`OPENF1_MQTT_URL`): `mqtts://host[:port]` (TLS, port 8883 by default) or
/// `mqtt://host[:port]` (plain TCP, port 1883 by default; for a local broker).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerAddress {
  /// Host name or IP address (also the name the TLS certificate must carry).
  pub host: String,
  /// TCP port.
  pub port: u16,
  /// Whether the connection is wrapped in TLS (`mqtts`).
  pub tls: bool,
}

impl fmt::Display for BrokerAddress {
  fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
    let scheme = if self.tls { "mqtts" } else { "mqtt" };
    write!(formatter, "{scheme}://{}:{}", self.host, self.port)
  }
}

/// Live ingest over MQTT: the broker and the topic filters to subscribe to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MqttSettings {
  /// `OPENF1_MQTT_URL`, default `mqtts://mqtt.openf1.org:8883`.
  pub broker: BrokerAddress,
  /// `OPENF1_MQTT_TOPICS`, comma-separated topic filters, default `v1/#`.
  pub topics: Vec<String>,
  /// Root certificates (PEM) trusted for the broker's TLS certificate besides the platform's (not an environment
  /// variable; tests trust their own certificate authority).
  pub extra_roots_pem: Option<String>,
}

/// How the live MQTT ingest batches rows and reconnects (not read from the environment; tests shorten it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveTuning {
  /// Longest time a received row waits before its transaction commits (default 300 ms).
  pub flush_interval: Duration,
  /// Most rows in one transaction; a full batch commits at once (default 2,000).
  pub flush_rows: usize,
  /// First wait before reconnecting after the stream dropped; doubles up to `max_reconnect_delay` (default 1 s).
  pub min_reconnect_delay: Duration,
  /// Longest wait before reconnecting (default 60 s).
  pub max_reconnect_delay: Duration,
  /// Keep-alive interval of the MQTT connection (default 30 s).
  pub keep_alive: Duration,
}

impl Default for LiveTuning {
  fn default() -> Self {
    Self {
      flush_interval: Duration::from_millis(300),
      flush_rows: 2_000,
      min_reconnect_delay: Duration::from_secs(1),
      max_reconnect_delay: Duration::from_secs(60),
      keep_alive: Duration::from_secs(30),
    }
  }
}

/// Everything the worker is configured with.
#[derive(Clone, Debug)]
pub struct Settings {
  /// `DATABASE_URL`, `REDIS_URL` (unset: no cache to invalidate), `CACHE_PREFIX`, `LOG_FORMAT`, `RUST_LOG`: the
  /// settings both binaries read.
  pub shared: SharedSettings,
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
  /// `OPENF1_MQTT_URL` and `OPENF1_MQTT_TOPICS`; `None` when `OPENF1_MQTT_URL=off`. Used only with credentials.
  pub mqtt: Option<MqttSettings>,
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
  /// Batching and reconnection of the live MQTT ingest (default [`LiveTuning::default`]; not environment variables).
  pub live: LiveTuning,
  /// Width of the time windows in which `car_data` and `location` are fetched per driver (10 minutes; not an
  /// environment variable).
  pub telemetry_window: Duration,
  /// How long the daemon and `backfill` wait after Open F1 answered 401 "session in progress" before trying again
  /// (`crate::UPSTREAM_LOCKED_BACKOFF`; not an environment variable, tests shorten it).
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
        return Err(SettingsError::incomplete(
          "OPENF1_USERNAME",
          "OPENF1_PASSWORD",
        ));
      }
      (None, Some(_)) => {
        return Err(SettingsError::incomplete(
          "OPENF1_PASSWORD",
          "OPENF1_USERNAME",
        ));
      }
    };
    let shared = SharedSettings::from_read(&get)?;
    let years = match get("WORKER_YEARS") {
      None => vec![chrono::Utc::now().year()],
      Some(text) => parse_years(&text)?,
    };
    let metrics_address =
      get("WORKER_METRICS_ADDRESS").unwrap_or_else(|| DEFAULT_METRICS_ADDRESS.to_owned());
    let metrics_address = metrics_address.trim().parse().map_err(|_| {
      invalid(
        "WORKER_METRICS_ADDRESS",
        metrics_address.clone(),
        "expected an address such as 0.0.0.0:9091",
      )
    })?;
    Ok(Self {
      shared,
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
      mqtt: parse_mqtt(get("OPENF1_MQTT_URL"), get("OPENF1_MQTT_TOPICS"))?,
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
      live: LiveTuning::default(),
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
        return Err(invalid(
          "WORKER_YEARS",
          text.to_owned(),
          "expected comma-separated years such as 2024,2025",
        ));
      }
    }
  }
  if years.is_empty() {
    return Err(invalid(
      "WORKER_YEARS",
      text.to_owned(),
      "expected at least one year",
    ));
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
    _ => Err(invalid(variable, value, "expected an http(s) URL")),
  }
}

fn parse_mqtt(
  url: Option<String>,
  topics: Option<String>,
) -> Result<Option<MqttSettings>, SettingsError> {
  let url = url.unwrap_or_else(|| DEFAULT_MQTT_URL.to_owned());
  if url.trim().eq_ignore_ascii_case(MQTT_OFF) {
    return Ok(None);
  }
  // Credentials never belong in the URL (the password is the access token); never echo them.
  let shown = if url.contains('@') {
    "[redacted]".to_owned()
  } else {
    url.clone()
  };
  let invalid_url = || {
    invalid(
      "OPENF1_MQTT_URL",
      shown.clone(),
      "expected mqtts://host[:port], mqtt://host[:port] or `off`",
    )
  };
  let parsed = url::Url::parse(url.trim()).map_err(|_| invalid_url())?;
  let tls = match parsed.scheme() {
    "mqtts" => true,
    "mqtt" => false,
    _ => return Err(invalid_url()),
  };
  let host = parsed
    .host_str()
    .filter(|host| !host.is_empty())
    .ok_or_else(invalid_url)?
    .trim_start_matches('[')
    .trim_end_matches(']')
    .to_owned();
  let has_extras = !matches!(parsed.path(), "" | "/")
    || parsed.query().is_some()
    || !parsed.username().is_empty()
    || parsed.password().is_some();
  if has_extras {
    return Err(invalid_url());
  }
  let port = parsed.port().unwrap_or(if tls { 8883 } else { 1883 });
  let topics_text = topics.unwrap_or_else(|| DEFAULT_MQTT_TOPICS.to_owned());
  let topics: Vec<String> = topics_text
    .split(',')
    .map(str::trim)
    .filter(|topic| !topic.is_empty())
    .map(str::to_owned)
    .collect();
  if topics.is_empty() || !topics.iter().all(|topic| is_topic_filter(topic)) {
    return Err(invalid(
      "OPENF1_MQTT_TOPICS",
      topics_text,
      "expected comma-separated MQTT topic filters such as v1/# or v1/laps,v1/position",
    ));
  }
  Ok(Some(MqttSettings {
    broker: BrokerAddress { host, port, tls },
    topics,
    extra_roots_pem: None,
  }))
}

/// Whether `topic` is a valid MQTT topic filter: no blanks, `+` and `#` only as whole levels, `#` only last.
fn is_topic_filter(topic: &str) -> bool {
  let levels: Vec<&str> = topic.split('/').collect();
  !topic.contains(char::is_whitespace)
    && levels
      .iter()
      .enumerate()
      .all(|(index, level)| match *level {
        "#" => index + 1 == levels.len(),
        "+" => true,
        other => !other.contains(['#', '+']),
      })
}

/// A bad value of `variable`: the value found (secrets are never passed here) and what was expected.
fn invalid(variable: &'static str, value: impl fmt::Display, reason: &str) -> SettingsError {
  SettingsError {
    variable,
    message: format!("`{value}`: {reason}"),
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
    .map_err(|_| invalid(variable, value, "expected a positive whole number"))
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
  use runtime::lookup_in;

  #[test]
  fn unset_variables_take_the_documented_defaults() {
    let settings = Settings::from_lookup(lookup_in(&[])).expect("defaults");
    assert_eq!(
      settings.shared.database_url.expose(),
      entity::database::DEFAULT_DATABASE_URL
    );
    assert_eq!(settings.shared.redis_url, None);
    assert_eq!(settings.shared.cache_prefix, "f1");
    assert_eq!(settings.shared.log_filter, "info,sqlx=warn");
    assert_eq!(settings.base_url, "https://api.openf1.org/v1");
    assert_eq!(settings.max_requests_per_second.get(), 3);
    assert_eq!(settings.max_requests_per_minute.get(), 30);
    assert_eq!(settings.request_timeout, Duration::from_secs(30));
    assert_eq!(settings.years, vec![chrono::Utc::now().year()]);
    assert_eq!(settings.metrics_address.port(), 9091);
    assert_eq!(settings.calendar_interval, Duration::from_secs(21_600));
    assert_eq!(settings.poll_interval, Duration::from_secs(60));
    let mqtt = settings.mqtt.expect("MQTT is on by default");
    assert_eq!(mqtt.broker.to_string(), "mqtts://mqtt.openf1.org:8883");
    assert_eq!(mqtt.topics, vec!["v1/#".to_owned()]);
  }

  #[test]
  fn the_mqtt_broker_url_takes_a_scheme_a_host_and_an_optional_port() {
    let broker = |url: &str| {
      Settings::from_lookup(lookup_in(&[("OPENF1_MQTT_URL", url)]))
        .map(|settings| settings.mqtt.map(|mqtt| mqtt.broker))
    };
    assert_eq!(
      broker("mqtt://127.0.0.1:18830"),
      Ok(Some(BrokerAddress {
        host: "127.0.0.1".into(),
        port: 18830,
        tls: false
      }))
    );
    assert_eq!(
      broker("mqtt://broker.local").map(|address| address.map(|address| address.port)),
      Ok(Some(1883))
    );
    assert_eq!(broker("off"), Ok(None));
    for bad in [
      "http://mqtt.openf1.org",
      "mqtts://",
      "mqtt://user:secret@host",
      "mqtt://host/path",
    ] {
      let error = broker(bad).expect_err(bad);
      assert!(
        error.to_string().contains("OPENF1_MQTT_URL"),
        "{bad}: {error}"
      );
      assert!(!error.to_string().contains("secret"), "{error}");
    }
  }

  #[test]
  fn mqtt_topics_are_comma_separated_filters() {
    let topics = |text: &str| {
      Settings::from_lookup(lookup_in(&[("OPENF1_MQTT_TOPICS", text)]))
        .map(|settings| settings.mqtt.map(|mqtt| mqtt.topics).unwrap_or_default())
    };
    assert_eq!(
      topics("v1/laps, v1/position"),
      Ok(vec!["v1/laps".to_owned(), "v1/position".to_owned()])
    );
    assert_eq!(topics("v1/+"), Ok(vec!["v1/+".to_owned()]));
    for bad in ["v1/#/laps", "v1/la#ps", " , "] {
      let error = topics(bad).expect_err(bad);
      assert!(
        error.to_string().contains("OPENF1_MQTT_TOPICS"),
        "{bad}: {error}"
      );
    }
  }

  #[test]
  fn a_bad_value_is_reported_with_its_variable_name() {
    let error = Settings::from_lookup(lookup_in(&[("OPENF1_MAX_REQUESTS_PER_MINUTE", "lots")]))
      .expect_err("invalid");
    assert!(error.to_string().contains("OPENF1_MAX_REQUESTS_PER_MINUTE"));
    let error =
      Settings::from_lookup(lookup_in(&[("WORKER_YEARS", "2024,next")])).expect_err("years");
    assert!(error.to_string().contains("WORKER_YEARS"));
    let error = Settings::from_lookup(lookup_in(&[("LOG_FORMAT", "xml")])).expect_err("format");
    assert!(error.to_string().contains("LOG_FORMAT"));
  }

  #[test]
  fn a_username_without_a_password_is_refused() {
    let error =
      Settings::from_lookup(lookup_in(&[("OPENF1_USERNAME", "fan")])).expect_err("incomplete");
    assert_eq!(
      error,
      SettingsError::incomplete("OPENF1_USERNAME", "OPENF1_PASSWORD")
    );
  }

  #[test]
  fn secrets_are_redacted_when_the_settings_are_printed() {
    let settings = Settings::from_lookup(lookup_in(&[
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
