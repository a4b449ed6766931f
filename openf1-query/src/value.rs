//! A term's text cast into a typed value, like upstream's `type_casting.py`.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::datetime::parse_datetime;

/// Fields whose values upstream never casts (they look like numbers or times but are strings).
pub const NEVER_CAST_FIELDS: [&str; 2] = ["gmt_offset", "team_colour"];

/// A filter value after casting.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
  /// `true` / `false` (any case).
  Bool(bool),
  /// An integer.
  Integer(i64),
  /// A floating-point number.
  Float(f64),
  /// A UTC instant.
  DateTime(DateTime<Utc>),
  /// Anything else, compared exactly.
  Text(String),
}

impl Value {
  /// Casts `raw` like upstream: bool, int, float, datetime, else text; `gmt_offset` and `team_colour` never.
  #[must_use]
  pub fn cast(field: &str, raw: &str) -> Self {
    Self::cast_with_day(field, raw).0
  }

  /// Like [`Value::cast`], also telling whether the value was a date without time (which covers a whole day).
  pub(crate) fn cast_with_day(field: &str, raw: &str) -> (Self, bool) {
    if NEVER_CAST_FIELDS.contains(&field) {
      return (Self::Text(raw.to_owned()), false);
    }
    if raw.eq_ignore_ascii_case("true") {
      return (Self::Bool(true), false);
    }
    if raw.eq_ignore_ascii_case("false") {
      return (Self::Bool(false), false);
    }
    // Python's int() and float() ignore surrounding whitespace.
    let trimmed = raw.trim();
    if let Ok(integer) = trimmed.parse::<i64>() {
      return (Self::Integer(integer), false);
    }
    if let Ok(float) = trimmed.parse::<f64>() {
      return (Self::Float(float), false);
    }
    if let Some(parsed) = parse_datetime(raw) {
      return (Self::DateTime(parsed.instant), parsed.date_only);
    }
    (Self::Text(raw.to_owned()), false)
  }

  /// Python truthiness (how upstream reads `csv`).
  #[must_use]
  pub fn is_truthy(&self) -> bool {
    match self {
      Self::Bool(flag) => *flag,
      Self::Integer(integer) => *integer != 0,
      Self::Float(float) => *float != 0.0,
      Self::DateTime(_) => true,
      Self::Text(text) => !text.is_empty(),
    }
  }

  /// Orders two values of comparable types (used to pair bounds into ranges).
  pub(crate) fn compare(&self, other: &Self) -> Option<Ordering> {
    match (self, other) {
      (Self::Bool(left), Self::Bool(right)) => Some(left.cmp(right)),
      (Self::Integer(left), Self::Integer(right)) => Some(left.cmp(right)),
      #[allow(clippy::cast_precision_loss)]
      (Self::Integer(left), Self::Float(right)) => (*left as f64).partial_cmp(right),
      #[allow(clippy::cast_precision_loss)]
      (Self::Float(left), Self::Integer(right)) => left.partial_cmp(&(*right as f64)),
      (Self::Float(left), Self::Float(right)) => left.partial_cmp(right),
      (Self::DateTime(left), Self::DateTime(right)) => Some(left.cmp(right)),
      (Self::Text(left), Self::Text(right)) => Some(left.cmp(right)),
      _ => None,
    }
  }

  /// A canonical text of the value, for cache keys (types are distinguished).
  pub(crate) fn canonical(&self) -> String {
    match self {
      Self::Bool(flag) => format!("b:{flag}"),
      Self::Integer(integer) => format!("i:{integer}"),
      Self::Float(float) => format!("f:{float:?}"),
      Self::DateTime(instant) => format!("d:{}", instant.timestamp_micros()),
      Self::Text(text) => format!("t:{}", utf8_percent_encode(text, NON_ALPHANUMERIC)),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn values_are_cast_in_upstream_order() {
    assert_eq!(Value::cast("x", "TRUE"), Value::Bool(true));
    assert_eq!(Value::cast("x", "true"), Value::Bool(true));
    assert_eq!(Value::cast("x", "55"), Value::Integer(55));
    assert_eq!(Value::cast("x", " 55 "), Value::Integer(55));
    assert_eq!(Value::cast("x", "1.5"), Value::Float(1.5));
    assert_eq!(Value::cast("x", "-1.5"), Value::Float(-1.5));
    assert!(matches!(Value::cast("x", "2024-03-02"), Value::DateTime(_)));
    assert!(matches!(
      Value::cast("x", "Mar 2, 2024"),
      Value::DateTime(_)
    ));
    assert_eq!(Value::cast("x", "SOFT"), Value::Text("SOFT".to_owned()));
  }

  #[test]
  fn gmt_offset_and_team_colour_are_never_cast() {
    assert_eq!(
      Value::cast("team_colour", "000000"),
      Value::Text("000000".to_owned())
    );
    assert_eq!(
      Value::cast("team_colour", "3671C6"),
      Value::Text("3671C6".to_owned())
    );
    assert_eq!(
      Value::cast("gmt_offset", "09:00:00"),
      Value::Text("09:00:00".to_owned())
    );
  }

  #[test]
  fn a_date_alone_is_told_apart_from_a_datetime() {
    assert!(matches!(
      Value::cast_with_day("date", "2024-03-02"),
      (Value::DateTime(_), true)
    ));
    assert!(matches!(
      Value::cast_with_day("date", "2024-03-02T00:00"),
      (Value::DateTime(_), false)
    ));
  }
}
