//! Response bodies: the public contract, separate from the SeaORM models (a column rename must not change it),
//! each converted from its model with `From`. Field names and values follow Open F1.

use chrono::{DateTime, Utc};
use entity::{
  car_data, championship_drivers, championship_teams, drivers, intervals, laps, location, meetings,
  overtakes, pit, position, race_control, session_result, sessions, starting_grid, stints,
  team_radio, weather,
};
use poem_openapi::Object;
use serde_json::Value;

/// A season that has data.
#[derive(Clone, Debug, Object)]
pub struct Season {
  /// Season year.
  pub year: i32,
  /// Number of meetings stored for the season.
  pub meetings: i64,
}

/// One Grand Prix weekend (or testing event).
#[derive(Clone, Debug, Object)]
pub struct Meeting {
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Short event name, e.g. "Japanese Grand Prix".
  #[oai(nullable)]
  pub meeting_name: Option<String>,
  /// Official event name.
  #[oai(nullable)]
  pub meeting_official_name: Option<String>,
  /// Three-letter meeting code (2023-2025 data only).
  #[oai(nullable)]
  pub meeting_code: Option<String>,
  /// City or area of the circuit.
  #[oai(nullable)]
  pub location: Option<String>,
  /// Open F1 country key.
  #[oai(nullable)]
  pub country_key: Option<i32>,
  /// Three-letter country code.
  #[oai(nullable)]
  pub country_code: Option<String>,
  /// Country name.
  #[oai(nullable)]
  pub country_name: Option<String>,
  /// URL of the country flag image.
  #[oai(nullable)]
  pub country_flag: Option<String>,
  /// Open F1 circuit key.
  #[oai(nullable)]
  pub circuit_key: Option<i32>,
  /// Short circuit name.
  #[oai(nullable)]
  pub circuit_short_name: Option<String>,
  /// "Permanent", "Temporary - Street" or "Temporary - Road".
  #[oai(nullable)]
  pub circuit_type: Option<String>,
  /// URL of circuit details.
  #[oai(nullable)]
  pub circuit_info_url: Option<String>,
  /// URL of the circuit image.
  #[oai(nullable)]
  pub circuit_image: Option<String>,
  /// Local offset from UTC as "HH:MM:SS" (may be negative).
  #[oai(nullable)]
  pub gmt_offset: Option<String>,
  /// Start time (UTC, RFC 3339).
  #[oai(nullable)]
  pub date_start: Option<DateTime<Utc>>,
  /// End time (UTC, RFC 3339).
  #[oai(nullable)]
  pub date_end: Option<DateTime<Utc>>,
  /// Season year.
  pub year: i32,
  /// Whether the event was cancelled (2026+ data).
  #[oai(nullable)]
  pub is_cancelled: Option<bool>,
}

impl From<meetings::Model> for Meeting {
  fn from(model: meetings::Model) -> Self {
    Self {
      meeting_key: model.meeting_key,
      meeting_name: model.meeting_name,
      meeting_official_name: model.meeting_official_name,
      meeting_code: model.meeting_code,
      location: model.location,
      country_key: model.country_key,
      country_code: model.country_code,
      country_name: model.country_name,
      country_flag: model.country_flag,
      circuit_key: model.circuit_key,
      circuit_short_name: model.circuit_short_name,
      circuit_type: model.circuit_type,
      circuit_info_url: model.circuit_info_url,
      circuit_image: model.circuit_image,
      gmt_offset: model.gmt_offset,
      date_start: model.date_start,
      date_end: model.date_end,
      year: model.year,
      is_cancelled: model.is_cancelled,
    }
  }
}

/// One session (practice, qualifying, sprint, race) of a meeting.
#[derive(Clone, Debug, Object)]
pub struct Session {
  /// Open F1 session key.
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Session name, e.g. "Race", "Sprint Qualifying".
  #[oai(nullable)]
  pub session_name: Option<String>,
  /// "Practice", "Qualifying" or "Race".
  #[oai(nullable)]
  pub session_type: Option<String>,
  /// Start time (UTC, RFC 3339).
  #[oai(nullable)]
  pub date_start: Option<DateTime<Utc>>,
  /// End time (UTC, RFC 3339).
  #[oai(nullable)]
  pub date_end: Option<DateTime<Utc>>,
  /// Open F1 circuit key.
  #[oai(nullable)]
  pub circuit_key: Option<i32>,
  /// Short circuit name.
  #[oai(nullable)]
  pub circuit_short_name: Option<String>,
  /// Open F1 country key.
  #[oai(nullable)]
  pub country_key: Option<i32>,
  /// Three-letter country code.
  #[oai(nullable)]
  pub country_code: Option<String>,
  /// Country name.
  #[oai(nullable)]
  pub country_name: Option<String>,
  /// City or area of the circuit.
  #[oai(nullable)]
  pub location: Option<String>,
  /// Local offset from UTC as "HH:MM:SS" (may be negative).
  #[oai(nullable)]
  pub gmt_offset: Option<String>,
  /// Season year.
  pub year: i32,
  /// Whether the event was cancelled (2026+ data).
  #[oai(nullable)]
  pub is_cancelled: Option<bool>,
}

/// A session as `/v1/sessions` serves it: the Open F1 fields, and whether it is live now.
#[derive(Clone, Debug, Object)]
pub struct SessionView {
  /// The Open F1 fields.
  #[oai(flatten)]
  pub session: Session,
  /// Whether the session is live now (from 30 minutes before its start to 30 minutes after its end): its data
  /// changes as it happens, announced by `GET /v1/sessions/{session_key}/events`.
  pub live: bool,
}

impl From<sessions::Model> for SessionView {
  fn from(model: sessions::Model) -> Self {
    let live = model.is_live(Utc::now());
    Self {
      session: Session::from(model),
      live,
    }
  }
}

impl From<sessions::Model> for Session {
  fn from(model: sessions::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      session_name: model.session_name,
      session_type: model.session_type,
      date_start: model.date_start,
      date_end: model.date_end,
      circuit_key: model.circuit_key,
      circuit_short_name: model.circuit_short_name,
      country_key: model.country_key,
      country_code: model.country_code,
      country_name: model.country_name,
      location: model.location,
      gmt_offset: model.gmt_offset,
      year: model.year,
      is_cancelled: model.is_cancelled,
    }
  }
}

/// A driver's entry in one session.
#[derive(Clone, Debug, Object)]
pub struct Driver {
  /// Open F1 session key.
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Car number for the season.
  pub driver_number: i32,
  /// Name as shown on TV graphics.
  #[oai(nullable)]
  pub broadcast_name: Option<String>,
  /// Full name.
  #[oai(nullable)]
  pub full_name: Option<String>,
  /// First name.
  #[oai(nullable)]
  pub first_name: Option<String>,
  /// Last name.
  #[oai(nullable)]
  pub last_name: Option<String>,
  /// Three-letter acronym, e.g. "VER".
  #[oai(nullable)]
  pub name_acronym: Option<String>,
  /// Team name.
  #[oai(nullable)]
  pub team_name: Option<String>,
  /// Team colour as hex RRGGBB without '#'.
  #[oai(nullable)]
  pub team_colour: Option<String>,
  /// URL of the driver's headshot.
  #[oai(nullable)]
  pub headshot_url: Option<String>,
  /// Three-letter country code.
  #[oai(nullable)]
  pub country_code: Option<String>,
}

impl From<drivers::Model> for Driver {
  fn from(model: drivers::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      driver_number: model.driver_number,
      broadcast_name: model.broadcast_name,
      full_name: model.full_name,
      first_name: model.first_name,
      last_name: model.last_name,
      name_acronym: model.name_acronym,
      team_name: model.team_name,
      team_colour: model.team_colour,
      headshot_url: model.headshot_url,
      country_code: model.country_code,
    }
  }
}

/// One lap of one driver.
#[derive(Clone, Debug, Object)]
pub struct Lap {
  /// Open F1 session key.
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Car number for the season.
  pub driver_number: i32,
  /// Lap number (starts at 1).
  pub lap_number: i32,
  /// Start time (UTC).
  #[oai(nullable)]
  pub date_start: Option<DateTime<Utc>>,
  /// Sector 1 time in seconds.
  #[oai(nullable)]
  pub duration_sector_1: Option<f64>,
  /// Sector 2 time in seconds.
  #[oai(nullable)]
  pub duration_sector_2: Option<f64>,
  /// Sector 3 time in seconds.
  #[oai(nullable)]
  pub duration_sector_3: Option<f64>,
  /// Lap time in seconds.
  #[oai(nullable)]
  pub lap_duration: Option<f64>,
  /// Speed at intermediate 1 (km/h).
  #[oai(nullable)]
  pub i1_speed: Option<i32>,
  /// Speed at intermediate 2 (km/h).
  #[oai(nullable)]
  pub i2_speed: Option<i32>,
  /// Speed at the speed trap (km/h).
  #[oai(nullable)]
  pub st_speed: Option<i32>,
  /// Whether the lap started in the pit lane.
  #[oai(nullable)]
  pub is_pit_out_lap: Option<bool>,
  /// Mini-sector codes of sector 1 (array of integers, as sent upstream).
  #[oai(nullable)]
  pub segments_sector_1: Option<Value>,
  /// Mini-sector codes of sector 2.
  #[oai(nullable)]
  pub segments_sector_2: Option<Value>,
  /// Mini-sector codes of sector 3.
  #[oai(nullable)]
  pub segments_sector_3: Option<Value>,
}

impl From<laps::Model> for Lap {
  fn from(model: laps::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      driver_number: model.driver_number,
      lap_number: model.lap_number,
      date_start: model.date_start,
      duration_sector_1: model.duration_sector_1,
      duration_sector_2: model.duration_sector_2,
      duration_sector_3: model.duration_sector_3,
      lap_duration: model.lap_duration,
      i1_speed: model.i1_speed,
      i2_speed: model.i2_speed,
      st_speed: model.st_speed,
      is_pit_out_lap: model.is_pit_out_lap,
      segments_sector_1: model.segments_sector_1,
      segments_sector_2: model.segments_sector_2,
      segments_sector_3: model.segments_sector_3,
    }
  }
}

/// A run on one set of tyres.
#[derive(Clone, Debug, Object)]
pub struct Stint {
  /// Open F1 session key.
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Car number for the season.
  pub driver_number: i32,
  /// Stint number (starts at 1).
  pub stint_number: i32,
  /// First lap of the stint.
  #[oai(nullable)]
  pub lap_start: Option<i32>,
  /// Last lap of the stint.
  #[oai(nullable)]
  pub lap_end: Option<i32>,
  /// Tyre compound, e.g. "SOFT".
  #[oai(nullable)]
  pub compound: Option<String>,
  /// Tyre age in laps at the start of the stint.
  #[oai(nullable)]
  pub tyre_age_at_start: Option<i32>,
}

impl From<stints::Model> for Stint {
  fn from(model: stints::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      driver_number: model.driver_number,
      stint_number: model.stint_number,
      lap_start: model.lap_start,
      lap_end: model.lap_end,
      compound: model.compound,
      tyre_age_at_start: model.tyre_age_at_start,
    }
  }
}

/// A pit-lane visit.
#[derive(Clone, Debug, Object)]
pub struct PitStop {
  /// Open F1 session key.
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Car number for the season.
  pub driver_number: i32,
  /// Lap number of the visit.
  pub lap_number: i32,
  /// Time of the visit (UTC).
  #[oai(nullable)]
  pub date: Option<DateTime<Utc>>,
  /// Time spent in the pit lane in seconds.
  #[oai(nullable)]
  pub lane_duration: Option<f64>,
  /// Deprecated copy of `lane_duration`.
  #[oai(nullable)]
  pub pit_duration: Option<f64>,
  /// Stationary time in seconds (2024 US GP onward).
  #[oai(nullable)]
  pub stop_duration: Option<f64>,
}

impl From<pit::Model> for PitStop {
  fn from(model: pit::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      driver_number: model.driver_number,
      lap_number: model.lap_number,
      date: model.date,
      lane_duration: model.lane_duration,
      pit_duration: model.pit_duration,
      stop_duration: model.stop_duration,
    }
  }
}

/// A change of a driver's running position.
#[derive(Clone, Debug, Object)]
pub struct Position {
  /// Open F1 session key.
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Car number for the season.
  pub driver_number: i32,
  /// Time of the change (UTC).
  pub date: DateTime<Utc>,
  /// Running position (1 = leader).
  pub position: i32,
}

impl From<position::Model> for Position {
  fn from(model: position::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      driver_number: model.driver_number,
      date: model.date,
      position: model.position,
    }
  }
}

/// A gap sample (races only, ~every 4 s).
#[derive(Clone, Debug, Object)]
pub struct Interval {
  /// Open F1 session key.
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Car number for the season.
  pub driver_number: i32,
  /// Time of the sample (UTC).
  pub date: DateTime<Utc>,
  /// Gap to the leader: seconds (number), text such as "+1 LAP" (string), or null, as sent upstream.
  pub gap_to_leader: Value,
  /// Gap to the car ahead: seconds (number), text such as "+1 LAP" (string), or null, as sent upstream.
  pub interval: Value,
}

/// A gap as upstream sent it: the numeric column, else the text column, else null.
fn gap(number: Option<f64>, text: Option<String>) -> Value {
  match (number, text) {
    (Some(seconds), _) => serde_json::Number::from_f64(seconds).map_or(Value::Null, Value::Number),
    (None, Some(text)) => Value::String(text),
    (None, None) => Value::Null,
  }
}

impl From<intervals::Model> for Interval {
  fn from(model: intervals::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      driver_number: model.driver_number,
      date: model.date,
      gap_to_leader: gap(model.gap_to_leader, model.gap_to_leader_text),
      interval: gap(model.interval, model.interval_text),
    }
  }
}

/// A weather sample (every minute).
#[derive(Clone, Debug, Object)]
pub struct Weather {
  /// Open F1 session key.
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Time of the sample (UTC).
  pub date: DateTime<Utc>,
  /// Air temperature in °C.
  #[oai(nullable)]
  pub air_temperature: Option<f64>,
  /// Track temperature in °C.
  #[oai(nullable)]
  pub track_temperature: Option<f64>,
  /// Relative humidity in percent.
  #[oai(nullable)]
  pub humidity: Option<f64>,
  /// Air pressure in mbar.
  #[oai(nullable)]
  pub pressure: Option<f64>,
  /// Rainfall indicator (0 or 1).
  #[oai(nullable)]
  pub rainfall: Option<i32>,
  /// Wind direction in degrees.
  #[oai(nullable)]
  pub wind_direction: Option<i32>,
  /// Wind speed in m/s.
  #[oai(nullable)]
  pub wind_speed: Option<f64>,
}

impl From<weather::Model> for Weather {
  fn from(model: weather::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      date: model.date,
      air_temperature: model.air_temperature,
      track_temperature: model.track_temperature,
      humidity: model.humidity,
      pressure: model.pressure,
      rainfall: model.rainfall,
      wind_direction: model.wind_direction,
      wind_speed: model.wind_speed,
    }
  }
}

/// A race control message (flags, safety car, incidents).
#[derive(Clone, Debug, Object)]
pub struct RaceControlMessage {
  /// Open F1 session key.
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Time of the message (UTC).
  #[oai(nullable)]
  pub date: Option<DateTime<Utc>>,
  /// Message category, e.g. "Flag", "SafetyCar".
  #[oai(nullable)]
  pub category: Option<String>,
  /// Flag, e.g. "YELLOW".
  #[oai(nullable)]
  pub flag: Option<String>,
  /// "Track", "Driver" or "Sector".
  #[oai(nullable)]
  pub scope: Option<String>,
  /// Mini-sector number the message refers to.
  #[oai(nullable)]
  pub sector: Option<i32>,
  /// Car number the message refers to.
  #[oai(nullable)]
  pub driver_number: Option<i32>,
  /// Lap number.
  #[oai(nullable)]
  pub lap_number: Option<i32>,
  /// Qualifying part (1-3) or null.
  #[oai(nullable)]
  pub qualifying_phase: Option<i32>,
  /// Message text.
  #[oai(nullable)]
  pub message: Option<String>,
}

impl From<race_control::Model> for RaceControlMessage {
  fn from(model: race_control::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      date: model.date,
      category: model.category,
      flag: model.flag,
      scope: model.scope,
      sector: model.sector,
      driver_number: model.driver_number,
      lap_number: model.lap_number,
      qualifying_phase: model.qualifying_phase,
      message: model.message,
    }
  }
}

/// A team radio recording.
#[derive(Clone, Debug, Object)]
pub struct TeamRadio {
  /// Open F1 session key.
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Car number for the season.
  pub driver_number: i32,
  /// Time of the recording (UTC).
  pub date: DateTime<Utc>,
  /// URL of the audio recording.
  #[oai(nullable)]
  pub recording_url: Option<String>,
}

impl From<team_radio::Model> for TeamRadio {
  fn from(model: team_radio::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      driver_number: model.driver_number,
      date: model.date,
      recording_url: model.recording_url,
    }
  }
}

/// A driver's classified result in a session.
#[derive(Clone, Debug, Object)]
pub struct SessionResult {
  /// Open F1 session key.
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Car number for the season.
  pub driver_number: i32,
  /// Classified position (null for DNF/DNS/DSQ).
  #[oai(nullable)]
  pub position: Option<i32>,
  /// Laps completed.
  #[oai(nullable)]
  pub number_of_laps: Option<i32>,
  /// Did not finish.
  #[oai(nullable)]
  pub dnf: Option<bool>,
  /// Did not start.
  #[oai(nullable)]
  pub dns: Option<bool>,
  /// Disqualified.
  #[oai(nullable)]
  pub dsq: Option<bool>,
  /// Race: total time in seconds (number); qualifying: [Q1, Q2, Q3] (array); practice: best lap. As sent upstream.
  #[oai(nullable)]
  pub duration: Option<Value>,
  /// Seconds (number), "+N LAP(S)" (string), or [Q1, Q2, Q3] in qualifying (array). As sent upstream.
  #[oai(nullable)]
  pub gap_to_leader: Option<Value>,
  /// Points scored.
  #[oai(nullable)]
  pub points: Option<f64>,
}

impl From<session_result::Model> for SessionResult {
  fn from(model: session_result::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      driver_number: model.driver_number,
      position: model.position,
      number_of_laps: model.number_of_laps,
      dnf: model.dnf,
      dns: model.dns,
      dsq: model.dsq,
      duration: model.duration,
      gap_to_leader: model.gap_to_leader,
      points: model.points,
    }
  }
}

/// A grid slot, keyed by the qualifying session that set it.
#[derive(Clone, Debug, Object)]
pub struct GridSlot {
  /// Open F1 session key (of the qualifying session).
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Car number for the season.
  pub driver_number: i32,
  /// Grid position.
  #[oai(nullable)]
  pub position: Option<i32>,
  /// Qualifying lap time that set the grid slot, in seconds.
  #[oai(nullable)]
  pub lap_duration: Option<f64>,
}

impl From<starting_grid::Model> for GridSlot {
  fn from(model: starting_grid::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      driver_number: model.driver_number,
      position: model.position,
      lap_duration: model.lap_duration,
    }
  }
}

/// An overtake (races only; may be incomplete upstream).
#[derive(Clone, Debug, Object)]
pub struct Overtake {
  /// Open F1 session key.
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Time of the overtake (UTC).
  pub date: DateTime<Utc>,
  /// Car number of the overtaking driver.
  pub overtaking_driver_number: i32,
  /// Car number of the overtaken driver.
  pub overtaken_driver_number: i32,
  /// Position of the overtaking driver after the move.
  #[oai(nullable)]
  pub position: Option<i32>,
}

impl From<overtakes::Model> for Overtake {
  fn from(model: overtakes::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      date: model.date,
      overtaking_driver_number: model.overtaking_driver_number,
      overtaken_driver_number: model.overtaken_driver_number,
      position: model.position,
    }
  }
}

/// One car telemetry sample (~3.7 Hz per car).
#[derive(Clone, Debug, Object)]
pub struct CarData {
  /// Open F1 session key.
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Car number for the season.
  pub driver_number: i32,
  /// Time of the sample (UTC).
  pub date: DateTime<Utc>,
  /// Engine revolutions per minute.
  #[oai(nullable)]
  pub rpm: Option<i32>,
  /// Speed in km/h.
  #[oai(nullable)]
  pub speed: Option<i32>,
  /// Gear (0 = neutral, 1-8).
  #[oai(nullable)]
  pub n_gear: Option<i32>,
  /// Throttle in percent.
  #[oai(nullable)]
  pub throttle: Option<i32>,
  /// Brake (0 or 100).
  #[oai(nullable)]
  pub brake: Option<i32>,
  /// DRS status code (null from 2026).
  #[oai(nullable)]
  pub drs: Option<i32>,
}

impl From<car_data::Model> for CarData {
  fn from(model: car_data::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      driver_number: model.driver_number,
      date: model.date,
      rpm: model.rpm,
      speed: model.speed,
      n_gear: model.n_gear,
      throttle: model.throttle,
      brake: model.brake,
      drs: model.drs,
    }
  }
}

/// One car position sample on the track map (~3.7 Hz per car).
#[derive(Clone, Debug, Object)]
pub struct Location {
  /// Open F1 session key.
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Car number for the season.
  pub driver_number: i32,
  /// Time of the sample (UTC).
  pub date: DateTime<Utc>,
  /// Track map x coordinate.
  #[oai(nullable)]
  pub x: Option<i32>,
  /// Track map y coordinate.
  #[oai(nullable)]
  pub y: Option<i32>,
  /// Track map z coordinate.
  #[oai(nullable)]
  pub z: Option<i32>,
}

impl From<location::Model> for Location {
  fn from(model: location::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      driver_number: model.driver_number,
      date: model.date,
      x: model.x,
      y: model.y,
      z: model.z,
    }
  }
}

/// A driver's championship standing before and after a race.
#[derive(Clone, Debug, Object)]
pub struct DriverStanding {
  /// Open F1 session key.
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Car number for the season.
  pub driver_number: i32,
  /// Championship position before the race.
  #[oai(nullable)]
  pub position_start: Option<i32>,
  /// Championship position after (or during) the race.
  #[oai(nullable)]
  pub position_current: Option<i32>,
  /// Points before the race.
  #[oai(nullable)]
  pub points_start: Option<f64>,
  /// Points after (or during) the race.
  #[oai(nullable)]
  pub points_current: Option<f64>,
}

impl From<championship_drivers::Model> for DriverStanding {
  fn from(model: championship_drivers::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      driver_number: model.driver_number,
      position_start: model.position_start,
      position_current: model.position_current,
      points_start: model.points_start,
      points_current: model.points_current,
    }
  }
}

/// A team's championship standing before and after a race.
#[derive(Clone, Debug, Object)]
pub struct TeamStanding {
  /// Open F1 session key.
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Team name.
  pub team_name: String,
  /// Team colour as hex RRGGBB without '#'.
  #[oai(nullable)]
  pub team_colour: Option<String>,
  /// Championship position before the race.
  #[oai(nullable)]
  pub position_start: Option<i32>,
  /// Championship position after (or during) the race.
  #[oai(nullable)]
  pub position_current: Option<i32>,
  /// Points before the race.
  #[oai(nullable)]
  pub points_start: Option<f64>,
  /// Points after (or during) the race.
  #[oai(nullable)]
  pub points_current: Option<f64>,
}

impl From<championship_teams::Model> for TeamStanding {
  fn from(model: championship_teams::Model) -> Self {
    Self {
      session_key: model.session_key,
      meeting_key: model.meeting_key,
      team_name: model.team_name,
      team_colour: model.team_colour,
      position_start: model.position_start,
      position_current: model.position_current,
      points_start: model.points_start,
      points_current: model.points_current,
    }
  }
}

/// Where the points of a standings answer come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum StandingsSource {
  /// Open F1's championship tables (`championship_drivers` / `championship_teams`) of the round's Grand Prix.
  Championship,
  /// Summed from the session results of every Grand Prix and sprint up to the round (see `notes`).
  SessionResults,
}

/// A driver's place in the drivers' championship after a round.
#[derive(Clone, Debug, PartialEq, Object)]
pub struct DriverStandingsEntry {
  /// Championship position (tied drivers share one).
  pub position: i32,
  /// Car number for the season.
  pub driver_number: i32,
  /// Three-letter acronym, e.g. "VER".
  #[oai(nullable)]
  pub name_acronym: Option<String>,
  /// Full name.
  #[oai(nullable)]
  pub full_name: Option<String>,
  /// Team in the driver's latest race up to the round.
  #[oai(nullable)]
  pub team_name: Option<String>,
  /// Team colour as hex RRGGBB without '#'.
  #[oai(nullable)]
  pub team_colour: Option<String>,
  /// Championship points.
  pub points: f64,
  /// Grands Prix won up to the round (sprints not counted).
  pub wins: i32,
}

/// A team's place in the constructors' championship after a round.
#[derive(Clone, Debug, PartialEq, Object)]
pub struct TeamStandingsEntry {
  /// Championship position (tied teams share one).
  pub position: i32,
  /// Team name.
  pub team_name: String,
  /// Team colour as hex RRGGBB without '#'.
  #[oai(nullable)]
  pub team_colour: Option<String>,
  /// Championship points.
  pub points: f64,
  /// Grands Prix won by the team's drivers up to the round.
  pub wins: i32,
}

/// The drivers' championship after one round of a season.
#[derive(Clone, Debug, PartialEq, Object)]
pub struct DriversStandings {
  /// Season year.
  pub year: i32,
  /// The round the standings are after (1 = the season's first Grand Prix weekend).
  pub after_round: i32,
  /// Rounds on the season's calendar (Grand Prix weekends that are not cancelled).
  pub rounds: i32,
  /// Open F1 meeting key of round `after_round`.
  pub meeting_key: i32,
  /// Name of round `after_round`, e.g. "Chinese Grand Prix".
  pub meeting_name: String,
  /// Where the points come from.
  pub source: StandingsSource,
  /// How the points were obtained when that is not plain: results whose points were derived from their
  /// finishing position, rounds without results, and so on.
  pub notes: Vec<String>,
  /// Every driver who scored or raced, by championship position.
  pub standings: Vec<DriverStandingsEntry>,
}

/// The constructors' championship after one round of a season.
#[derive(Clone, Debug, PartialEq, Object)]
pub struct TeamsStandings {
  /// Season year.
  pub year: i32,
  /// The round the standings are after (1 = the season's first Grand Prix weekend).
  pub after_round: i32,
  /// Rounds on the season's calendar (Grand Prix weekends that are not cancelled).
  pub rounds: i32,
  /// Open F1 meeting key of round `after_round`.
  pub meeting_key: i32,
  /// Name of round `after_round`, e.g. "Chinese Grand Prix".
  pub meeting_name: String,
  /// Where the points come from.
  pub source: StandingsSource,
  /// How the points were obtained when that is not plain: results whose points were derived from their
  /// finishing position, rounds without results, and so on.
  pub notes: Vec<String>,
  /// Every team that scored or raced, by championship position.
  pub standings: Vec<TeamStandingsEntry>,
}

/// A query parameter a chart takes.
#[derive(Clone, Debug, PartialEq, Object)]
pub struct ChartParameterDescription {
  /// The query parameter's name, e.g. `drivers`.
  pub name: String,
  /// What it does.
  pub description: String,
}

/// One chart of the catalogue (`GET /v1/charts`).
#[derive(Clone, Debug, PartialEq, Object)]
pub struct ChartDescription {
  /// Stable name used in the chart URL, e.g. `lap-times`.
  pub slug: String,
  /// Human title, e.g. "Lap times".
  pub title: String,
  /// One line saying what the chart shows.
  pub description: String,
  /// `session` (`/v1/sessions/{session_key}/charts/{slug}`) or `season` (`/v1/seasons/{year}/charts/{slug}`).
  pub scope: crate::charts::ChartScope,
  /// Session charts: the session types the chart suits (for other types it answers an empty figure saying
  /// why). Season charts: the session types whose results it reads.
  pub session_types: Vec<crate::charts::SessionType>,
  /// The query parameters it takes; any other chart parameter is answered with 400.
  pub parameters: Vec<ChartParameterDescription>,
  /// The Open F1 tables (endpoint names) its figure is built from: a change to one of them can change it.
  pub tables: Vec<String>,
  /// The URL template, e.g. `/v1/sessions/{session_key}/charts/lap-times`.
  pub path: String,
}

impl From<crate::charts::ChartKind> for ChartDescription {
  fn from(kind: crate::charts::ChartKind) -> Self {
    let spec = kind.spec();
    let path = match spec.scope {
      crate::charts::ChartScope::Session => {
        format!("/v1/sessions/{{session_key}}/charts/{}", spec.slug)
      }
      crate::charts::ChartScope::Season => format!("/v1/seasons/{{year}}/charts/{}", spec.slug),
    };
    Self {
      slug: spec.slug.to_owned(),
      title: spec.title.to_owned(),
      description: spec.description.to_owned(),
      scope: spec.scope,
      session_types: spec.session_types.to_vec(),
      parameters: spec
        .parameters
        .iter()
        .map(|parameter| ChartParameterDescription {
          name: parameter.name().to_owned(),
          description: parameter.description().to_owned(),
        })
        .collect(),
      tables: kind.tables().into_iter().map(str::to_owned).collect(),
      path,
    }
  }
}
