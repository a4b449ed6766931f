//! Parsing Open F1 rows into validated database models.
//!
//! Upstream rows are flat JSON objects whose fields come and go between seasons: unknown fields are ignored,
//! missing fields become null, and a row whose identifying fields are missing or of the wrong type is rejected
//! with a [`RecordError`] naming the field (the caller logs and skips it; one bad row never stops a batch).
//!
//! Outside the crate, [`RecordError`] and the parsers the live-ingest tests compare with ([`lap`], [`car_sample`],
//! [`position_change`], [`pit_stop`]) are public; the other parsers are the crate's own.

use chrono::{DateTime, NaiveDateTime, Utc};
use entity::{
  car_data, championship_drivers, championship_teams, drivers, intervals, laps, location, meetings,
  overtakes, pit, position, race_control, session_result, sessions, starting_grid, stints,
  team_radio, weather,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Why one upstream row could not be stored.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
  /// The row is not a JSON object.
  #[error("row is not a JSON object")]
  NotAnObject,
  /// A field the natural key needs is missing or null.
  #[error("required field `{0}` is missing or null")]
  Missing(&'static str),
  /// A field has a value of the wrong type or out of range.
  #[error("field `{field}` has an unexpected value {value}")]
  Invalid {
    /// The field.
    field: &'static str,
    /// The offending value, as JSON.
    value: String,
  },
}

/// Field access on one upstream row.
struct Row<'a>(&'a Map<String, Value>);

impl<'a> Row<'a> {
  fn new(value: &'a Value) -> Result<Self, RecordError> {
    value.as_object().map(Row).ok_or(RecordError::NotAnObject)
  }

  fn present(&self, field: &'static str) -> Option<&'a Value> {
    self.0.get(field).filter(|value| !value.is_null())
  }

  fn invalid(field: &'static str, value: &Value) -> RecordError {
    RecordError::Invalid {
      field,
      value: value.to_string(),
    }
  }

  fn int(&self, field: &'static str) -> Result<Option<i32>, RecordError> {
    let Some(value) = self.present(field) else {
      return Ok(None);
    };
    let parsed = match value {
      Value::Number(number) => number.as_i64().or_else(|| {
        number
          .as_f64()
          .filter(|float| float.fract() == 0.0)
          .map(|float| float as i64)
      }),
      Value::String(text) => text.trim().parse::<i64>().ok(),
      _ => None,
    };
    parsed
      .and_then(|int| i32::try_from(int).ok())
      .map(Some)
      .ok_or_else(|| Self::invalid(field, value))
  }

  fn required_int(&self, field: &'static str) -> Result<i32, RecordError> {
    self.int(field)?.ok_or(RecordError::Missing(field))
  }

  fn float(&self, field: &'static str) -> Result<Option<f64>, RecordError> {
    let Some(value) = self.present(field) else {
      return Ok(None);
    };
    match value {
      Value::Number(number) => number
        .as_f64()
        .map(Some)
        .ok_or_else(|| Self::invalid(field, value)),
      _ => Err(Self::invalid(field, value)),
    }
  }

  fn bool(&self, field: &'static str) -> Result<Option<bool>, RecordError> {
    let Some(value) = self.present(field) else {
      return Ok(None);
    };
    match value {
      Value::Bool(flag) => Ok(Some(*flag)),
      Value::Number(number) if number.as_i64() == Some(0) => Ok(Some(false)),
      Value::Number(number) if number.as_i64() == Some(1) => Ok(Some(true)),
      _ => Err(Self::invalid(field, value)),
    }
  }

  fn text(&self, field: &'static str) -> Result<Option<String>, RecordError> {
    let Some(value) = self.present(field) else {
      return Ok(None);
    };
    match value {
      Value::String(text) => Ok(Some(text.clone())),
      Value::Number(number) => Ok(Some(number.to_string())),
      _ => Err(Self::invalid(field, value)),
    }
  }

  fn required_text(&self, field: &'static str) -> Result<String, RecordError> {
    self.text(field)?.ok_or(RecordError::Missing(field))
  }

  fn datetime(&self, field: &'static str) -> Result<Option<DateTime<Utc>>, RecordError> {
    let Some(value) = self.present(field) else {
      return Ok(None);
    };
    let Value::String(text) = value else {
      return Err(Self::invalid(field, value));
    };
    parse_datetime(text)
      .map(Some)
      .ok_or_else(|| Self::invalid(field, value))
  }

  fn required_datetime(&self, field: &'static str) -> Result<DateTime<Utc>, RecordError> {
    self.datetime(field)?.ok_or(RecordError::Missing(field))
  }

  fn json(&self, field: &'static str) -> Option<Value> {
    self.present(field).cloned()
  }

  /// A value upstream sends either as seconds or as text such as `"+1 LAP"`.
  fn seconds_or_text(
    &self,
    field: &'static str,
  ) -> Result<(Option<f64>, Option<String>), RecordError> {
    match self.present(field) {
      None => Ok((None, None)),
      Some(Value::Number(number)) => Ok((number.as_f64(), None)),
      Some(Value::String(text)) => Ok((None, Some(text.clone()))),
      Some(other) => Err(Self::invalid(field, other)),
    }
  }
}

/// Parses an Open F1 timestamp: RFC 3339 (`2024-03-02T15:03:42.341000+00:00`), or without offset (taken as UTC).
#[must_use]
pub(crate) fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
  let text = text.trim();
  if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
    return Some(parsed.with_timezone(&Utc));
  }
  ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .map(|naive| naive.and_utc())
}

/// Parses a `meetings` row.
///
/// # Errors
/// [`RecordError`] when `meeting_key` or `year` is missing, or a field has the wrong type.
pub(crate) fn meeting(value: &Value) -> Result<meetings::Model, RecordError> {
  let row = Row::new(value)?;
  let date_start = row.datetime("date_start")?;
  Ok(meetings::Model {
    meeting_key: row.required_int("meeting_key")?,
    meeting_name: row.text("meeting_name")?,
    meeting_official_name: row.text("meeting_official_name")?,
    meeting_code: row.text("meeting_code")?,
    location: row.text("location")?,
    country_key: row.int("country_key")?,
    country_code: row.text("country_code")?,
    country_name: row.text("country_name")?,
    country_flag: row.text("country_flag")?,
    circuit_key: row.int("circuit_key")?,
    circuit_short_name: row.text("circuit_short_name")?,
    circuit_type: row.text("circuit_type")?,
    circuit_info_url: row.text("circuit_info_url")?,
    circuit_image: row.text("circuit_image")?,
    gmt_offset: row.text("gmt_offset")?,
    date_start,
    date_end: row.datetime("date_end")?,
    year: year_of(&row, date_start)?,
    is_cancelled: row.bool("is_cancelled")?,
  })
}

fn year_of(row: &Row<'_>, date_start: Option<DateTime<Utc>>) -> Result<i32, RecordError> {
  use chrono::Datelike;
  match row.int("year")? {
    Some(year) => Ok(year),
    None => date_start
      .map(|date| date.year())
      .ok_or(RecordError::Missing("year")),
  }
}

/// Parses a `sessions` row.
///
/// # Errors
/// [`RecordError`] when `session_key`, `meeting_key` or `year` is missing, or a field has the wrong type.
pub(crate) fn session(value: &Value) -> Result<sessions::Model, RecordError> {
  let row = Row::new(value)?;
  let date_start = row.datetime("date_start")?;
  Ok(sessions::Model {
    session_key: row.required_int("session_key")?,
    meeting_key: row.required_int("meeting_key")?,
    session_name: row.text("session_name")?,
    session_type: row.text("session_type")?,
    date_start,
    date_end: row.datetime("date_end")?,
    circuit_key: row.int("circuit_key")?,
    circuit_short_name: row.text("circuit_short_name")?,
    country_key: row.int("country_key")?,
    country_code: row.text("country_code")?,
    country_name: row.text("country_name")?,
    location: row.text("location")?,
    gmt_offset: row.text("gmt_offset")?,
    year: year_of(&row, date_start)?,
    is_cancelled: row.bool("is_cancelled")?,
  })
}

/// Parses a `drivers` row.
///
/// # Errors
/// [`RecordError`] when a key field is missing or a field has the wrong type.
pub(crate) fn driver(value: &Value) -> Result<drivers::Model, RecordError> {
  let row = Row::new(value)?;
  Ok(drivers::Model {
    session_key: row.required_int("session_key")?,
    driver_number: row.required_int("driver_number")?,
    meeting_key: row.required_int("meeting_key")?,
    broadcast_name: row.text("broadcast_name")?,
    full_name: row.text("full_name")?,
    first_name: row.text("first_name")?,
    last_name: row.text("last_name")?,
    name_acronym: row.text("name_acronym")?,
    team_name: row.text("team_name")?,
    team_colour: row.text("team_colour")?,
    headshot_url: row.text("headshot_url")?,
    country_code: row.text("country_code")?,
  })
}

/// Parses a `laps` row.
///
/// # Errors
/// [`RecordError`] when a key field is missing or a field has the wrong type.
pub fn lap(value: &Value) -> Result<laps::Model, RecordError> {
  let row = Row::new(value)?;
  Ok(laps::Model {
    session_key: row.required_int("session_key")?,
    driver_number: row.required_int("driver_number")?,
    lap_number: row.required_int("lap_number")?,
    meeting_key: row.required_int("meeting_key")?,
    date_start: row.datetime("date_start")?,
    duration_sector_1: row.float("duration_sector_1")?,
    duration_sector_2: row.float("duration_sector_2")?,
    duration_sector_3: row.float("duration_sector_3")?,
    lap_duration: row.float("lap_duration")?,
    i1_speed: row.int("i1_speed")?,
    i2_speed: row.int("i2_speed")?,
    st_speed: row.int("st_speed")?,
    is_pit_out_lap: row.bool("is_pit_out_lap")?,
    segments_sector_1: row.json("segments_sector_1"),
    segments_sector_2: row.json("segments_sector_2"),
    segments_sector_3: row.json("segments_sector_3"),
  })
}

/// Parses a `car_data` row.
///
/// # Errors
/// [`RecordError`] when a key field is missing or a field has the wrong type.
pub fn car_sample(value: &Value) -> Result<car_data::Model, RecordError> {
  let row = Row::new(value)?;
  Ok(car_data::Model {
    session_key: row.required_int("session_key")?,
    driver_number: row.required_int("driver_number")?,
    date: row.required_datetime("date")?,
    meeting_key: row.required_int("meeting_key")?,
    rpm: row.int("rpm")?,
    speed: row.int("speed")?,
    n_gear: row.int("n_gear")?,
    throttle: row.int("throttle")?,
    brake: row.int("brake")?,
    drs: row.int("drs")?,
  })
}

/// Parses a `location` row.
///
/// # Errors
/// [`RecordError`] when a key field is missing or a field has the wrong type.
pub(crate) fn location_sample(value: &Value) -> Result<location::Model, RecordError> {
  let row = Row::new(value)?;
  Ok(location::Model {
    session_key: row.required_int("session_key")?,
    driver_number: row.required_int("driver_number")?,
    date: row.required_datetime("date")?,
    meeting_key: row.required_int("meeting_key")?,
    x: row.int("x")?,
    y: row.int("y")?,
    z: row.int("z")?,
  })
}

/// Parses a `position` row.
///
/// # Errors
/// [`RecordError`] when a key field or the position is missing, or a field has the wrong type.
pub fn position_change(value: &Value) -> Result<position::Model, RecordError> {
  let row = Row::new(value)?;
  Ok(position::Model {
    session_key: row.required_int("session_key")?,
    driver_number: row.required_int("driver_number")?,
    date: row.required_datetime("date")?,
    meeting_key: row.required_int("meeting_key")?,
    position: row.required_int("position")?,
  })
}

/// Parses an `intervals` row; `"+1 LAP"`-style values go to the `*_text` columns.
///
/// # Errors
/// [`RecordError`] when a key field is missing or a field has the wrong type.
pub(crate) fn interval(value: &Value) -> Result<intervals::Model, RecordError> {
  let row = Row::new(value)?;
  let (gap_to_leader, gap_to_leader_text) = row.seconds_or_text("gap_to_leader")?;
  let (interval, interval_text) = row.seconds_or_text("interval")?;
  Ok(intervals::Model {
    session_key: row.required_int("session_key")?,
    driver_number: row.required_int("driver_number")?,
    date: row.required_datetime("date")?,
    meeting_key: row.required_int("meeting_key")?,
    gap_to_leader,
    gap_to_leader_text,
    interval,
    interval_text,
  })
}

/// Parses a `pit` row.
///
/// # Errors
/// [`RecordError`] when a key field is missing or a field has the wrong type.
pub fn pit_stop(value: &Value) -> Result<pit::Model, RecordError> {
  let row = Row::new(value)?;
  Ok(pit::Model {
    session_key: row.required_int("session_key")?,
    driver_number: row.required_int("driver_number")?,
    lap_number: row.required_int("lap_number")?,
    meeting_key: row.required_int("meeting_key")?,
    date: row.datetime("date")?,
    lane_duration: row.float("lane_duration")?,
    pit_duration: row.float("pit_duration")?,
    stop_duration: row.float("stop_duration")?,
  })
}

/// Parses a `stints` row.
///
/// # Errors
/// [`RecordError`] when a key field is missing or a field has the wrong type.
pub(crate) fn stint(value: &Value) -> Result<stints::Model, RecordError> {
  let row = Row::new(value)?;
  Ok(stints::Model {
    session_key: row.required_int("session_key")?,
    driver_number: row.required_int("driver_number")?,
    stint_number: row.required_int("stint_number")?,
    meeting_key: row.required_int("meeting_key")?,
    lap_start: row.int("lap_start")?,
    lap_end: row.int("lap_end")?,
    compound: row.text("compound")?,
    tyre_age_at_start: row.int("tyre_age_at_start")?,
  })
}

/// Parses a `weather` row.
///
/// # Errors
/// [`RecordError`] when a key field is missing or a field has the wrong type.
pub(crate) fn weather_sample(value: &Value) -> Result<weather::Model, RecordError> {
  let row = Row::new(value)?;
  Ok(weather::Model {
    session_key: row.required_int("session_key")?,
    date: row.required_datetime("date")?,
    meeting_key: row.required_int("meeting_key")?,
    air_temperature: row.float("air_temperature")?,
    track_temperature: row.float("track_temperature")?,
    humidity: row.float("humidity")?,
    pressure: row.float("pressure")?,
    rainfall: row.int("rainfall")?,
    wind_direction: row.int("wind_direction")?,
    wind_speed: row.float("wind_speed")?,
  })
}

/// Parses a `race_control` row. Its key is a hash of upstream's key fields plus the message text, since those
/// fields are often null and nulls never collide in a unique index.
///
/// # Errors
/// [`RecordError`] when a key field is missing or a field has the wrong type.
pub(crate) fn race_control_message(value: &Value) -> Result<race_control::Model, RecordError> {
  let row = Row::new(value)?;
  let model = race_control::Model {
    session_key: row.required_int("session_key")?,
    event_key: String::new(),
    meeting_key: row.required_int("meeting_key")?,
    date: row.datetime("date")?,
    category: row.text("category")?,
    flag: row.text("flag")?,
    scope: row.text("scope")?,
    sector: row.int("sector")?,
    driver_number: row.int("driver_number")?,
    lap_number: row.int("lap_number")?,
    qualifying_phase: row.int("qualifying_phase")?,
    message: row.text("message")?,
  };
  Ok(race_control::Model {
    event_key: race_control_event_key(&model),
    ..model
  })
}

/// The identity of a race control message: 32 hex digits of SHA-256 over its identifying fields.
#[must_use]
pub(crate) fn race_control_event_key(message: &race_control::Model) -> String {
  let parts = [
    message.date.map(|date| date.timestamp_micros().to_string()),
    message.driver_number.map(|number| number.to_string()),
    message.lap_number.map(|number| number.to_string()),
    message.category.clone(),
    message.flag.clone(),
    message.scope.clone(),
    message.sector.map(|number| number.to_string()),
    message.message.clone(),
  ];
  let mut hasher = Sha256::new();
  for part in parts {
    hasher.update(part.as_deref().unwrap_or("\u{0}null").as_bytes());
    hasher.update([0x1f]);
  }
  hasher
    .finalize()
    .iter()
    .take(16)
    .map(|byte| format!("{byte:02x}"))
    .collect()
}

/// Parses a `team_radio` row.
///
/// # Errors
/// [`RecordError`] when a key field is missing or a field has the wrong type.
pub(crate) fn team_radio_message(value: &Value) -> Result<team_radio::Model, RecordError> {
  let row = Row::new(value)?;
  Ok(team_radio::Model {
    session_key: row.required_int("session_key")?,
    driver_number: row.required_int("driver_number")?,
    date: row.required_datetime("date")?,
    meeting_key: row.required_int("meeting_key")?,
    recording_url: row.text("recording_url")?,
  })
}

/// Parses a `session_result` row; `duration` and `gap_to_leader` are kept as sent (number, text or array).
///
/// # Errors
/// [`RecordError`] when a key field is missing or a field has the wrong type.
pub(crate) fn result(value: &Value) -> Result<session_result::Model, RecordError> {
  let row = Row::new(value)?;
  Ok(session_result::Model {
    session_key: row.required_int("session_key")?,
    driver_number: row.required_int("driver_number")?,
    meeting_key: row.required_int("meeting_key")?,
    position: row.int("position")?,
    number_of_laps: row.int("number_of_laps")?,
    dnf: row.bool("dnf")?,
    dns: row.bool("dns")?,
    dsq: row.bool("dsq")?,
    duration: row.json("duration"),
    gap_to_leader: row.json("gap_to_leader"),
    points: row.float("points")?,
  })
}

/// Parses a `starting_grid` row.
///
/// # Errors
/// [`RecordError`] when a key field is missing or a field has the wrong type.
pub(crate) fn grid_slot(value: &Value) -> Result<starting_grid::Model, RecordError> {
  let row = Row::new(value)?;
  Ok(starting_grid::Model {
    session_key: row.required_int("session_key")?,
    driver_number: row.required_int("driver_number")?,
    meeting_key: row.required_int("meeting_key")?,
    position: row.int("position")?,
    lap_duration: row.float("lap_duration")?,
  })
}

/// Parses an `overtakes` row.
///
/// # Errors
/// [`RecordError`] when a key field is missing or a field has the wrong type.
pub(crate) fn overtake(value: &Value) -> Result<overtakes::Model, RecordError> {
  let row = Row::new(value)?;
  Ok(overtakes::Model {
    session_key: row.required_int("session_key")?,
    date: row.required_datetime("date")?,
    overtaking_driver_number: row.required_int("overtaking_driver_number")?,
    overtaken_driver_number: row.required_int("overtaken_driver_number")?,
    meeting_key: row.required_int("meeting_key")?,
    position: row.int("position")?,
  })
}

/// Parses a `championship_drivers` row.
///
/// # Errors
/// [`RecordError`] when a key field is missing or a field has the wrong type.
pub(crate) fn driver_standing(value: &Value) -> Result<championship_drivers::Model, RecordError> {
  let row = Row::new(value)?;
  Ok(championship_drivers::Model {
    session_key: row.required_int("session_key")?,
    driver_number: row.required_int("driver_number")?,
    meeting_key: row.required_int("meeting_key")?,
    position_start: row.int("position_start")?,
    position_current: row.int("position_current")?,
    points_start: row.float("points_start")?,
    points_current: row.float("points_current")?,
  })
}

/// Parses a `championship_teams` row.
///
/// # Errors
/// [`RecordError`] when a key field is missing or a field has the wrong type.
pub(crate) fn team_standing(value: &Value) -> Result<championship_teams::Model, RecordError> {
  let row = Row::new(value)?;
  Ok(championship_teams::Model {
    session_key: row.required_int("session_key")?,
    team_name: row.required_text("team_name")?,
    meeting_key: row.required_int("meeting_key")?,
    team_colour: row.text("team_colour")?,
    position_start: row.int("position_start")?,
    position_current: row.int("position_current")?,
    points_start: row.float("points_start")?,
    points_current: row.float("points_current")?,
  })
}

#[cfg(test)]
mod tests {
  use serde_json::json;

  use super::*;

  #[test]
  fn timestamps_with_and_without_fraction_or_offset_parse_as_utc() {
    let with_fraction = parse_datetime("2026-03-29T05:14:02.078000+00:00").expect("parse");
    assert_eq!(with_fraction.timestamp_subsec_micros(), 78_000);
    assert!(parse_datetime("2026-03-29T04:18:28+00:00").is_some());
    assert_eq!(
      parse_datetime("2023-09-15T09:40:43.005000"),
      parse_datetime("2023-09-15T09:40:43.005+00:00")
    );
    assert_eq!(parse_datetime("yesterday"), None);
  }

  #[test]
  fn a_lapped_gap_is_kept_as_text_and_a_number_as_seconds() {
    let lapped = interval(
      &json!({"session_key": 1, "meeting_key": 2, "driver_number": 3,
      "date": "2026-03-29T05:14:06.908000+00:00", "gap_to_leader": "+1 LAP", "interval": 0.207}),
    )
    .expect("parse");
    assert_eq!(lapped.gap_to_leader, None);
    assert_eq!(lapped.gap_to_leader_text.as_deref(), Some("+1 LAP"));
    assert_eq!(lapped.interval, Some(0.207));
  }

  #[test]
  fn unknown_fields_are_ignored_and_missing_fields_become_null() {
    let stint = stint(
      &json!({"session_key": 1, "meeting_key": 2, "driver_number": 3, "stint_number": 1,
      "brand_new_field": true}),
    )
    .expect("parse");
    assert_eq!(stint.compound, None);
    assert_eq!(stint.lap_end, None);
  }

  #[test]
  fn a_row_without_its_key_or_with_a_wrong_type_is_rejected_naming_the_field() {
    assert_eq!(
      lap(&json!({"session_key": 1, "meeting_key": 2, "lap_number": 1})),
      Err(RecordError::Missing("driver_number"))
    );
    let wrong = lap(
      &json!({"session_key": 1, "meeting_key": 2, "driver_number": 3, "lap_number": 1, "lap_duration": "fast"}),
    );
    assert!(matches!(
      wrong,
      Err(RecordError::Invalid {
        field: "lap_duration",
        ..
      })
    ));
    assert_eq!(lap(&json!([1, 2])), Err(RecordError::NotAnObject));
  }

  #[test]
  fn race_control_messages_differing_only_in_text_get_different_keys() {
    let first = race_control_message(
      &json!({"session_key": 1, "meeting_key": 2, "date": "2026-03-29T04:18:28+00:00",
      "category": "Other", "message": "A"}),
    )
    .expect("parse");
    let second = race_control_message(
      &json!({"session_key": 1, "meeting_key": 2, "date": "2026-03-29T04:18:28+00:00",
      "category": "Other", "message": "B"}),
    )
    .expect("parse");
    assert_ne!(first.event_key, second.event_key);
    assert_eq!(first.event_key.len(), 32);
  }
}
