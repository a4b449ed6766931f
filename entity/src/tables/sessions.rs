//! `sessions` table: one session (practice, qualifying, sprint, race) of a meeting, and its [`SessionPhase`]: the
//! one notion of "is this session live" the api (cache lifetimes) and the worker (schedule) share.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// `session_type` of races and sprints.
pub const RACE: &str = "Race";
/// `session_type` of qualifying sessions (and sprint qualifying, or shootouts).
pub const QUALIFYING: &str = "Qualifying";

/// Upstream treats a session as live from this long before its start until this long after its end (it locks
/// unauthenticated access in that window).
pub const LIVE_MARGIN: TimeDelta = TimeDelta::minutes(30);
/// How long a session with a start but no end time is assumed to last (decided here once: such a session is live
/// from [`LIVE_MARGIN`] before its start to [`LIVE_MARGIN`] after start + this, then finished).
pub const ASSUMED_DURATION: TimeDelta = TimeDelta::hours(3);

/// Where a session stands relative to a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionPhase {
  /// Not started yet, or its start time is unknown.
  Upcoming,
  /// Within the live window: from [`LIVE_MARGIN`] before its start to [`LIVE_MARGIN`] after its end (both ends
  /// included).
  Live,
  /// Over for more than [`LIVE_MARGIN`]: its data is historical.
  Finished,
  /// Cancelled: there is nothing to ingest, and nothing live.
  Cancelled,
}

/// One session (practice, qualifying, sprint, race) of a meeting.
#[derive(Clone, Debug, Default, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
  /// Open F1 session key.
  #[sea_orm(primary_key, auto_increment = false)]
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Session name, e.g. "Race", "Sprint Qualifying".
  pub session_name: Option<String>,
  /// "Practice", "Qualifying" or "Race".
  pub session_type: Option<String>,
  /// Start time (UTC).
  pub date_start: Option<DateTimeUtc>,
  /// End time (UTC).
  pub date_end: Option<DateTimeUtc>,
  /// Open F1 circuit key.
  pub circuit_key: Option<i32>,
  /// Short circuit name.
  pub circuit_short_name: Option<String>,
  /// Open F1 country key.
  pub country_key: Option<i32>,
  /// Three-letter country code.
  pub country_code: Option<String>,
  /// Country name.
  pub country_name: Option<String>,
  /// City or area of the circuit.
  pub location: Option<String>,
  /// Local offset from UTC as "HH:MM:SS" (may be negative).
  pub gmt_offset: Option<String>,
  /// Season year.
  pub year: i32,
  /// Whether the event was cancelled (2026+ data).
  pub is_cancelled: Option<bool>,
}

impl Model {
  /// The phase of this session at `now`. Without an end time the session is taken to last
  /// [`ASSUMED_DURATION`]; without a start time it is [`SessionPhase::Upcoming`].
  #[must_use]
  pub fn phase(&self, now: DateTime<Utc>) -> SessionPhase {
    if self.is_cancelled == Some(true) {
      return SessionPhase::Cancelled;
    }
    let Some(start) = self.date_start else {
      return SessionPhase::Upcoming;
    };
    let end = self.date_end.unwrap_or(start + ASSUMED_DURATION);
    if now < start - LIVE_MARGIN {
      SessionPhase::Upcoming
    } else if now <= end + LIVE_MARGIN {
      SessionPhase::Live
    } else {
      SessionPhase::Finished
    }
  }

  /// Whether this session is live at `now` (see [`Model::phase`]).
  #[must_use]
  pub fn is_live(&self, now: DateTime<Utc>) -> bool {
    self.phase(now) == SessionPhase::Live
  }

  /// Whether this is a race or a sprint (`session_type` is [`RACE`]).
  #[must_use]
  pub fn is_race(&self) -> bool {
    self.session_type.as_deref() == Some(RACE)
  }
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
  use chrono::TimeZone;

  use super::*;

  fn race() -> Model {
    Model {
      session_key: 9472,
      meeting_key: 1229,
      session_name: Some("Race".into()),
      session_type: Some(RACE.into()),
      date_start: Utc.with_ymd_and_hms(2024, 3, 2, 15, 0, 0).single(),
      date_end: Utc.with_ymd_and_hms(2024, 3, 2, 17, 0, 0).single(),
      year: 2024,
      ..Default::default()
    }
  }

  fn at(hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    Utc
      .with_ymd_and_hms(2024, 3, 2, hour, minute, second)
      .single()
      .unwrap_or_default()
  }

  #[test]
  fn a_session_is_live_from_half_an_hour_before_its_start_to_half_an_hour_after_its_end_inclusive()
  {
    let race = race();
    assert_eq!(race.phase(at(14, 29, 59)), SessionPhase::Upcoming);
    assert_eq!(race.phase(at(14, 30, 0)), SessionPhase::Live);
    assert_eq!(race.phase(at(17, 30, 0)), SessionPhase::Live);
    assert_eq!(race.phase(at(17, 30, 1)), SessionPhase::Finished);
    assert!(race.is_live(at(16, 0, 0)));
    assert!(!race.is_live(at(17, 30, 1)));
  }

  #[test]
  fn a_session_without_an_end_time_is_taken_to_last_three_hours() {
    let open_ended = Model {
      date_end: None,
      ..race()
    };
    assert_eq!(open_ended.phase(at(14, 29, 59)), SessionPhase::Upcoming);
    assert_eq!(open_ended.phase(at(14, 30, 0)), SessionPhase::Live);
    assert_eq!(open_ended.phase(at(18, 30, 0)), SessionPhase::Live);
    assert_eq!(open_ended.phase(at(18, 30, 1)), SessionPhase::Finished);
  }

  #[test]
  fn a_session_without_a_start_time_is_upcoming_and_a_cancelled_one_is_never_live() {
    let unscheduled = Model {
      date_start: None,
      ..race()
    };
    assert_eq!(unscheduled.phase(at(16, 0, 0)), SessionPhase::Upcoming);
    let cancelled = Model {
      is_cancelled: Some(true),
      ..race()
    };
    assert_eq!(cancelled.phase(at(16, 0, 0)), SessionPhase::Cancelled);
    assert!(!cancelled.is_live(at(16, 0, 0)));
  }
}
