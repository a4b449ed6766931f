//! Time-shifted replay: a recorded session served as if it were running now.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::time::{format_datetime, parse_datetime};

/// Fields holding datetimes, rewritten to wall-clock time in replay.
const DATETIME_FIELDS: [&str; 3] = ["date", "date_start", "date_end"];
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

  fn is_visible(&self, endpoint: &str, row: &Value) -> bool {
    // The schedule (meetings, sessions) is published ahead of time upstream: always visible.
    if endpoint == "meetings" || endpoint == "sessions" {
      return true;
    }
    if AFTER_SESSION_ENDPOINTS.contains(&endpoint) {
      return self.recorded_now >= self.session_end;
    }
    let time_field = if row.get("date").is_some() {
      "date"
    } else {
      "date_start"
    };
    match row
      .get(time_field)
      .and_then(Value::as_str)
      .and_then(parse_datetime)
    {
      Some(parsed) => parsed.instant <= self.recorded_now,
      None => true,
    }
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
