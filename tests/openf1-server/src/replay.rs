//! Time-shifted replay: a recorded session served as if it were running now.

use chrono::{DateTime, TimeDelta, Utc};
use openf1_query::parse_datetime;
use serde_json::Value;

use crate::query::DATETIME_FIELDS;
use crate::store::datetime_key_part;
use crate::time::format_datetime;

/// Endpoints published only once the session is over.
const AFTER_SESSION_ENDPOINTS: [&str; 4] = [
  "session_result",
  "starting_grid",
  "championship_drivers",
  "championship_teams",
];
/// Upstream counts a session as live from 30 minutes before its start until 30 minutes after its end.
const LIVE_MARGIN: TimeDelta = TimeDelta::minutes(30);
/// Assumed length of a session without `date_end`.
const DEFAULT_SESSION_LENGTH: TimeDelta = TimeDelta::hours(3);

/// How to replay a recorded session.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayOptions {
  /// The recorded session to replay.
  pub session_key: i64,
  /// Recorded seconds per wall-clock second (1.0 = real time; must be positive).
  pub speed: f64,
  /// Wall-clock instant at which the replay is at `offset`.
  pub started_at: DateTime<Utc>,
  /// Position in the session (from its `date_start`) at `started_at`; negative starts before the session.
  pub offset: TimeDelta,
  /// Whether unauthenticated requests get `401` while the replayed session is live (as upstream does).
  pub auth_during_live: bool,
}

impl ReplayOptions {
  /// Replays `session_key` in real time from its start, beginning at `started_at`, without requiring auth.
  #[must_use]
  pub fn new(session_key: i64, started_at: DateTime<Utc>) -> Self {
    Self {
      session_key,
      speed: 1.0,
      started_at,
      offset: TimeDelta::zero(),
      auth_during_live: false,
    }
  }
}

/// How a recorded row is served during a replay.
#[derive(Clone, Debug, PartialEq)]
pub enum Presented {
  /// Not about the replayed session: served as recorded.
  Unchanged,
  /// Not yet happened in the replay.
  Hidden,
  /// Served with its datetimes moved to wall-clock time.
  Shifted(Value),
}

/// The replay at one instant: which recorded rows are visible and how their times map to the wall clock.
#[derive(Clone, Debug)]
pub struct ReplayView {
  session_key: i64,
  meeting_key: Option<i64>,
  session_start: DateTime<Utc>,
  session_end: DateTime<Utc>,
  /// Recorded instant corresponding to `started_at`.
  anchor: DateTime<Utc>,
  started_at: DateTime<Utc>,
  speed: f64,
  /// The recorded instant being replayed now.
  recorded_now: DateTime<Utc>,
}

#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
fn scale(delta: TimeDelta, factor: f64) -> TimeDelta {
  let micros = delta.num_microseconds().unwrap_or(i64::MAX) as f64 * factor;
  TimeDelta::microseconds(micros.round() as i64)
}

impl ReplayView {
  /// The view of `options` at wall-clock `now`, given the replayed session's row; `None` without a usable `date_start`.
  #[must_use]
  pub fn new(options: &ReplayOptions, session: &Value, now: DateTime<Utc>) -> Option<Self> {
    let instant = |field: &str| {
      session
        .get(field)
        .and_then(Value::as_str)
        .and_then(parse_datetime)
        .map(|parsed| parsed.instant)
    };
    let session_start = instant("date_start")?;
    let session_end = instant("date_end").unwrap_or(session_start + DEFAULT_SESSION_LENGTH);
    let anchor = session_start + options.offset;
    Some(Self {
      session_key: options.session_key,
      meeting_key: session.get("meeting_key").and_then(Value::as_i64),
      session_start,
      session_end,
      anchor,
      started_at: options.started_at,
      speed: options.speed,
      recorded_now: anchor + scale(now - options.started_at, options.speed),
    })
  }

  /// The recorded instant being replayed.
  #[must_use]
  pub fn recorded_now(&self) -> DateTime<Utc> {
    self.recorded_now
  }

  /// The replayed session's key.
  #[must_use]
  pub fn session_key(&self) -> i64 {
    self.session_key
  }

  /// The replayed session's meeting key.
  #[must_use]
  pub fn meeting_key(&self) -> Option<i64> {
    self.meeting_key
  }

  /// Whether the session is live (from 30 minutes before its start to 30 minutes after its end, recorded time).
  #[must_use]
  pub fn is_live(&self) -> bool {
    self.recorded_now >= self.session_start - LIVE_MARGIN
      && self.recorded_now <= self.session_end + LIVE_MARGIN
  }

  /// Wall-clock time at which recorded instant `recorded` is replayed.
  #[must_use]
  pub fn to_wall_clock(&self, recorded: DateTime<Utc>) -> DateTime<Utc> {
    self.started_at + scale(recorded - self.anchor, 1.0 / self.speed)
  }

  fn concerns(&self, endpoint: &str, row: &Value) -> bool {
    if endpoint == "meetings" {
      self.meeting_key.is_some()
        && row.get("meeting_key").and_then(Value::as_i64) == self.meeting_key
    } else {
      row.get("session_key").and_then(Value::as_i64) == Some(self.session_key)
    }
  }

  /// The recorded instant from which `row` of `endpoint` is visible: its `date` (or `date_start`), the session's
  /// end for results published after it; `None` when it is visible from the start (the schedule, undated rows).
  #[must_use]
  pub fn visible_from(&self, endpoint: &str, row: &Value) -> Option<DateTime<Utc>> {
    // The schedule (meetings, sessions) is published ahead of time upstream: always visible.
    if endpoint == "meetings" || endpoint == "sessions" {
      return None;
    }
    if AFTER_SESSION_ENDPOINTS.contains(&endpoint) {
      return Some(self.session_end);
    }
    let time_field = if row.get("date").is_some() {
      "date"
    } else {
      "date_start"
    };
    row
      .get(time_field)
      .and_then(Value::as_str)
      .and_then(parse_datetime)
      .map(|parsed| parsed.instant)
  }

  /// Whether `row` of the replayed session is about the replayed session (or its meeting).
  #[must_use]
  pub fn concerns_replayed_session(&self, endpoint: &str, row: &Value) -> bool {
    self.concerns(endpoint, row)
  }

  fn is_visible(&self, endpoint: &str, row: &Value) -> bool {
    self
      .visible_from(endpoint, row)
      .is_none_or(|instant| instant <= self.recorded_now)
  }

  /// How `row` is served now: unchanged when it is not about the replayed session (or its meeting), hidden when
  /// not yet recorded at [`Self::recorded_now`], else a copy with its datetimes moved to wall-clock time.
  #[must_use]
  pub fn present(&self, endpoint: &str, row: &Value) -> Presented {
    if !self.concerns(endpoint, row) {
      return Presented::Unchanged;
    }
    if !self.is_visible(endpoint, row) {
      return Presented::Hidden;
    }
    let mut shifted = row.clone();
    if let Value::Object(fields) = &mut shifted {
      for field in DATETIME_FIELDS {
        if let Some(Value::String(text)) = fields.get_mut(field)
          && let Some(parsed) = parse_datetime(text)
        {
          *text = format_datetime(self.to_wall_clock(parsed.instant));
        }
      }
    }
    Presented::Shifted(shifted)
  }
}

/// The fields of upstream's `unique_key` per endpoint, as published on MQTT in `_key` (the live-timing collections
/// of Open F1's ingestor; `session_result` and `starting_grid` come from another service and are not published).
#[must_use]
pub fn upstream_key_fields(endpoint: &str) -> Option<&'static [&'static str]> {
  Some(match endpoint {
    "car_data" | "location" | "position" | "intervals" | "team_radio" => &["date", "driver_number"],
    "laps" | "pit" => &["session_key", "lap_number", "driver_number"],
    "stints" => &["session_key", "stint_number", "driver_number"],
    "weather" => &["date"],
    "race_control" => &[
      "date",
      "driver_number",
      "lap_number",
      "category",
      "flag",
      "scope",
      "sector",
    ],
    "overtakes" => &[
      "date",
      "overtaking_driver_number",
      "overtaken_driver_number",
    ],
    "drivers" | "championship_drivers" => &["session_key", "driver_number"],
    "championship_teams" => &["session_key", "team_name"],
    "sessions" => &["session_key"],
    "meetings" => &["date_start"],
    _ => return None,
  })
}

/// Upstream's `_key` of `row`: its `unique_key` parts joined by `_`, datetimes as epoch milliseconds, other values
/// as Python prints them (`None`, `True`); `None` for endpoints that are not published.
#[must_use]
pub fn upstream_key(endpoint: &str, row: &Value) -> Option<String> {
  let fields = upstream_key_fields(endpoint)?;
  let parts: Vec<String> = fields
    .iter()
    .map(|field| {
      let value = row.get(*field).unwrap_or(&Value::Null);
      datetime_key_part(field, value, DateTime::timestamp_millis).unwrap_or_else(|| match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
      })
    })
    .collect();
  Some(parts.join("_"))
}

#[cfg(test)]
mod tests {
  use serde_json::json;

  use super::*;

  #[test]
  fn keys_join_the_unique_key_parts_with_datetimes_in_milliseconds() {
    let location = json!({"date": "2025-04-11T11:21:16.603025+00:00", "driver_number": 31, "x": 0});
    assert_eq!(
      upstream_key("location", &location).as_deref(),
      Some("1744370476603_31")
    );
    let lap = json!({"session_key": 9472, "lap_number": 3, "driver_number": 1});
    assert_eq!(upstream_key("laps", &lap).as_deref(), Some("9472_3_1"));
    let message = json!({"date": "2024-03-02T15:03:42+00:00", "driver_number": null, "lap_number": 1,
      "category": "Flag", "flag": "GREEN", "scope": "Track", "sector": null});
    assert_eq!(
      upstream_key("race_control", &message).as_deref(),
      Some("1709391822000_None_1_Flag_GREEN_Track_None")
    );
    assert_eq!(upstream_key("session_result", &lap), None);
  }
}
