//! Settings primitives: the secret wrapper, the log format, the error naming a bad variable, the parsing
//! helpers, and the five settings both binaries read.

use std::fmt;

/// Default `RUST_LOG` filter (sqlx logs every statement at INFO).
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn";

/// The environment variables [`SharedSettings`] reads.
pub const SHARED_VARIABLES: &[&str] = crate::environment_variables![];

/// The environment variables a binary reads, as a `&[&str]` constant: the five [`SharedSettings`] reads
/// (`DATABASE_URL`, `REDIS_URL`, `CACHE_PREFIX`, `LOG_FORMAT`, `RUST_LOG`) first, then the binary's own, given as
/// string literals: `runtime::environment_variables!["API_LISTEN_ADDRESS", …]`.
#[macro_export]
macro_rules! environment_variables {
  ($($own:literal),* $(,)?) => {
    &["DATABASE_URL", "REDIS_URL", "CACHE_PREFIX", "LOG_FORMAT", "RUST_LOG", $($own),*]
  };
}

/// A value that must never appear in logs (database and Redis URLs carry passwords): `Debug` and `Display`
/// print `[redacted]`.
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

/// How log lines are written (`LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
  /// Human-readable lines (`text`, the default).
  #[default]
  Text,
  /// One JSON object per line (`json`).
  Json,
}

/// A setting that could not be read, naming its variable (a secret's value is never reported).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {variable} is invalid: {message}")]
pub struct SettingsError {
  /// The variable's name.
  pub variable: &'static str,
  /// What is wrong with its value.
  pub message: String,
}

impl SettingsError {
  /// `set` is set but `missing`, which goes with it, is not (the error names `missing`).
  #[must_use]
  pub fn incomplete(set: &'static str, missing: &'static str) -> Self {
    Self {
      variable: missing,
      message: format!("it must be set because {set} is set (they go together)"),
    }
  }
}

/// Parses `variable` (read through `read`, or `default` when unset).
///
/// # Errors
/// Fails naming the variable when its value does not parse.
pub fn parse<T: std::str::FromStr>(
  read: &impl Fn(&str) -> Option<String>,
  variable: &'static str,
  default: &str,
) -> Result<T, SettingsError>
where
  T::Err: fmt::Display,
{
  let value = read(variable).unwrap_or_else(|| default.to_owned());
  value.trim().parse().map_err(|error: T::Err| SettingsError {
    variable,
    message: format!("`{value}`: {error}"),
  })
}

/// `value` of `variable` when it is greater than 0.
///
/// # Errors
/// Fails naming the variable when `value` is 0.
pub fn positive(value: u64, variable: &'static str) -> Result<u64, SettingsError> {
  if value == 0 {
    return Err(SettingsError {
      variable,
      message: "must be greater than 0".to_owned(),
    });
  }
  Ok(value)
}

/// A variable lookup over fixed `(name, value)` pairs instead of the environment, for the settings'
/// `from_lookup` constructors (tests give their variables this way).
pub fn lookup_in<'pairs>(
  pairs: &'pairs [(&'pairs str, &'pairs str)],
) -> impl Fn(&str) -> Option<String> + 'pairs {
  move |name| {
    pairs
      .iter()
      .find(|(variable, _)| *variable == name)
      .map(|(_, value)| (*value).to_owned())
  }
}

/// The settings both binaries read, with the same defaults.
#[derive(Clone, Debug)]
pub struct SharedSettings {
  /// `DATABASE_URL`; default [`entity::database::DEFAULT_DATABASE_URL`] (a SQLite file).
  pub database_url: Secret,
  /// `REDIS_URL`; unset means no Redis.
  pub redis_url: Option<Secret>,
  /// `CACHE_PREFIX`; default [`entity::cache::DEFAULT_PREFIX`] (`f1`).
  pub cache_prefix: String,
  /// `LOG_FORMAT`: `text` (default) or `json`.
  pub log_format: LogFormat,
  /// `RUST_LOG`; default [`DEFAULT_LOG_FILTER`].
  pub log_filter: String,
}

impl SharedSettings {
  /// Reads the five shared settings through `read` (which already treats empty values as unset).
  ///
  /// # Errors
  /// Fails when `LOG_FORMAT` is neither `text` nor `json`.
  pub fn from_read(read: &impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
    let log_format = match read("LOG_FORMAT").as_deref().map(str::trim) {
      None | Some("text") => LogFormat::Text,
      Some("json") => LogFormat::Json,
      Some(other) => {
        return Err(SettingsError {
          variable: "LOG_FORMAT",
          message: format!("expected `text` or `json`, got `{other}`"),
        });
      }
    };
    Ok(Self {
      database_url: Secret::new(
        read("DATABASE_URL").unwrap_or_else(|| entity::database::DEFAULT_DATABASE_URL.to_owned()),
      ),
      redis_url: read("REDIS_URL").map(Secret::new),
      cache_prefix: read("CACHE_PREFIX")
        .unwrap_or_else(|| entity::cache::DEFAULT_PREFIX.to_owned()),
      log_format,
      log_filter: read("RUST_LOG").unwrap_or_else(|| DEFAULT_LOG_FILTER.to_owned()),
    })
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn secrets_print_redacted_in_debug_and_display() {
    let secret = Secret::new("hunter2");
    assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
    assert_eq!(secret.expose(), "hunter2");
  }

  #[test]
  fn the_shared_settings_take_their_defaults_and_refuse_an_unknown_log_format() {
    let shared = SharedSettings::from_read(&|_| None).expect("defaults");
    assert_eq!(shared.log_format, LogFormat::Text);
    assert_eq!(shared.log_filter, DEFAULT_LOG_FILTER);
    assert_eq!(shared.cache_prefix, entity::cache::DEFAULT_PREFIX);
    let error = SharedSettings::from_read(&|name| (name == "LOG_FORMAT").then(|| "xml".to_owned()))
      .expect_err("xml");
    assert_eq!(error.variable, "LOG_FORMAT");
  }

  #[test]
  fn the_shared_variables_are_exactly_those_the_shared_settings_read() {
    let read = std::cell::RefCell::new(Vec::new());
    SharedSettings::from_read(&|name| {
      read.borrow_mut().push(name.to_owned());
      None
    })
    .expect("defaults");
    let mut read = read.into_inner();
    read.sort();
    let mut shared = SHARED_VARIABLES.to_vec();
    shared.sort_unstable();
    assert_eq!(read, shared);
  }

  #[test]
  fn lookup_in_finds_a_listed_variable_and_nothing_else() {
    let lookup = lookup_in(&[("LOG_FORMAT", "json"), ("RUST_LOG", "debug")]);
    assert_eq!(lookup("RUST_LOG").as_deref(), Some("debug"));
    assert_eq!(lookup("REDIS_URL"), None);
  }

  #[test]
  fn parse_names_the_variable_and_positive_refuses_zero() {
    let read = |_: &str| Some("lots".to_owned());
    let error = parse::<u64>(&read, "SOME_COUNT", "1").expect_err("lots");
    assert!(error.to_string().contains("SOME_COUNT"), "{error}");
    assert_eq!(
      positive(0, "SOME_COUNT").expect_err("zero").variable,
      "SOME_COUNT"
    );
  }
}
