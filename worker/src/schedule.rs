//! When to look at a session: pure functions of the calendar, the ingest bookkeeping and the clock.
//!
//! - A session is **live** from 30 minutes before its start until 30 minutes after its end (Open F1 locks
//!   unauthenticated access in that window), **finished** afterwards: [`sessions::Model::phase`], which the api
//!   shares (a session without an end time is taken to last three hours).
//! - A finished session is ingested once, then re-polled for upstream corrections after
//!   [`REFRESH_DELAYS`] (1 h, 24 h, 7 days), then left alone.
//! - A failed ingest is tried again after [`FAILURE_RETRY_DELAY`]; an interrupted one (`partial`: upstream locked,
//!   or stopped on request) at once.

use chrono::{DateTime, TimeDelta, Utc};
use entity::sessions::SessionPhase;
use entity::{ingest_state, sessions};

/// Delays before the successive re-polls of an ingested session; after the last one it is not polled again.
pub const REFRESH_DELAYS: [TimeDelta; 3] = [
  TimeDelta::hours(1),
  TimeDelta::hours(24),
  TimeDelta::days(7),
];
/// Delay before trying again a session whose ingest failed.
pub const FAILURE_RETRY_DELAY: TimeDelta = TimeDelta::minutes(15);
/// Telemetry is fetched from this long before a session's start until this long after its end.
pub const TELEMETRY_MARGIN: TimeDelta = TimeDelta::minutes(10);

/// What to do with one session in this poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionWork {
  /// Fetch everything (first ingest, retry after failure, or a scheduled re-poll).
  Full,
  /// Fetch what is new since the stored watermarks (live session, token configured).
  Incremental,
}

/// What `session` needs at `now`, given its bookkeeping `state` and whether a token is configured.
#[must_use]
pub fn work_for(
  session: &sessions::Model,
  state: Option<&ingest_state::Model>,
  now: DateTime<Utc>,
  authenticated: bool,
) -> Option<SessionWork> {
  match session.phase(now) {
    SessionPhase::Upcoming | SessionPhase::Cancelled => None,
    SessionPhase::Live => authenticated.then_some(SessionWork::Incremental),
    SessionPhase::Finished => match state {
      None => Some(SessionWork::Full),
      Some(state) if state.status == ingest_state::status::LIVE => Some(SessionWork::Full),
      Some(state) => state
        .next_refresh_at
        .is_some_and(|due| due <= now)
        .then_some(SessionWork::Full),
    },
  }
}

/// When to re-poll a session after a complete ingest that was re-poll number `refresh_count` (0 for the first
/// ingest); None when no more re-polls are planned.
#[must_use]
pub fn next_refresh_at(refresh_count: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
  let index = usize::try_from(refresh_count).ok()?;
  REFRESH_DELAYS.get(index).map(|delay| now + *delay)
}

/// The `[start, end)` windows in which to fetch telemetry of `session`, `width` wide; empty without dates.
#[must_use]
pub fn telemetry_windows(
  session: &sessions::Model,
  width: std::time::Duration,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
  let (Some(start), Some(end)) = (session.date_start, session.date_end) else {
    return Vec::new();
  };
  let Ok(width) = TimeDelta::from_std(width) else {
    return Vec::new();
  };
  if width <= TimeDelta::zero() {
    return Vec::new();
  }
  let last = end + TELEMETRY_MARGIN;
  let mut windows = Vec::new();
  let mut window_start = start - TELEMETRY_MARGIN;
  while window_start < last {
    let window_end = (window_start + width).min(last);
    windows.push((window_start, window_end));
    window_start = window_end;
  }
  windows
}

#[cfg(test)]
mod tests {
  use chrono::TimeZone;

  use super::*;

  fn race() -> sessions::Model {
    sessions::Model {
      session_key: 9472,
      meeting_key: 1229,
      session_name: Some("Race".into()),
      session_type: Some("Race".into()),
      date_start: Utc.with_ymd_and_hms(2024, 3, 2, 15, 0, 0).single(),
      date_end: Utc.with_ymd_and_hms(2024, 3, 2, 17, 0, 0).single(),
      year: 2024,
      ..Default::default()
    }
  }

  fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc
      .with_ymd_and_hms(2024, 3, 2, hour, minute, 0)
      .single()
      .unwrap_or_default()
  }

  fn state(status: &str, next_refresh_at: Option<DateTime<Utc>>) -> ingest_state::Model {
    ingest_state::Model {
      session_key: 9472,
      status: status.into(),
      refresh_count: 0,
      ingested_at: None,
      next_refresh_at,
      last_error: None,
      updated_at: at(0, 0),
    }
  }

  #[test]
  fn live_sessions_are_only_polled_with_a_token() {
    let race = race();
    assert_eq!(work_for(&race, None, at(16, 0), false), None);
    assert_eq!(
      work_for(&race, None, at(16, 0), true),
      Some(SessionWork::Incremental)
    );
  }

  #[test]
  fn a_finished_session_is_ingested_once_then_only_when_a_refresh_is_due() {
    let race = race();
    assert_eq!(
      work_for(&race, None, at(18, 0), false),
      Some(SessionWork::Full)
    );
    let ingested = state("ingested", Some(at(19, 0)));
    assert_eq!(work_for(&race, Some(&ingested), at(18, 0), false), None);
    assert_eq!(
      work_for(&race, Some(&ingested), at(19, 0), false),
      Some(SessionWork::Full)
    );
    let settled = state("ingested", None);
    assert_eq!(work_for(&race, Some(&settled), at(23, 0), false), None);
    let after_live = state("live", None);
    assert_eq!(
      work_for(&race, Some(&after_live), at(18, 0), true),
      Some(SessionWork::Full)
    );
    let interrupted = state("partial", Some(at(18, 0)));
    assert_eq!(
      work_for(&race, Some(&interrupted), at(18, 0), false),
      Some(SessionWork::Full),
      "a part-ingested session is completed at the next poll"
    );
  }

  #[test]
  fn re_polls_back_off_to_a_week_and_then_stop() {
    let now = at(18, 0);
    assert_eq!(next_refresh_at(0, now), Some(now + TimeDelta::hours(1)));
    assert_eq!(next_refresh_at(1, now), Some(now + TimeDelta::hours(24)));
    assert_eq!(next_refresh_at(2, now), Some(now + TimeDelta::days(7)));
    assert_eq!(next_refresh_at(3, now), None);
  }

  #[test]
  fn telemetry_windows_cover_the_session_with_margins_and_no_gaps() {
    let windows = telemetry_windows(&race(), std::time::Duration::from_secs(600));
    assert_eq!(windows.len(), 14);
    assert_eq!(windows.first().map(|window| window.0), Some(at(14, 50)));
    assert_eq!(windows.last().map(|window| window.1), Some(at(17, 10)));
    assert!(windows.windows(2).all(|pair| pair[0].1 == pair[1].0));
  }
}
