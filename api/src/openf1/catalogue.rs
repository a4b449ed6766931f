//! The 18 Open F1 endpoints served under `/openf1/v1`, and the fields of each, derived from the SeaORM entity of
//! the endpoint's table: a field is a column, named as upstream names it, with a kind that decides which filter
//! values can match it. Two exceptions are stated here once: internal columns that upstream does not have
//! ([`INTERNAL_COLUMNS`]) are hidden, and a `<field>_text` column beside a numeric `<field>` column holds the same
//! field when upstream sent text (`"+1 LAP"`), so the two columns form one field of kind
//! [`FieldKind::NumberOrText`].

use std::sync::LazyLock;

use sea_orm::sea_query::ColumnType;
use sea_orm::{ColumnTrait, EntityTrait, IdenStatic, Iterable};

/// Columns of our tables that upstream rows do not have: `(endpoint, column)`.
pub const INTERNAL_COLUMNS: [(&str, &str); 1] = [("race_control", "event_key")];

/// Suffix of the column holding a field's value when upstream sent it as text.
const TEXT_TWIN_SUFFIX: &str = "_text";

/// What a field holds, which decides the filter values that can match it (upstream compares values of the same
/// BSON type only: numbers with numbers, strings with strings, datetimes with datetimes, booleans with booleans).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
  /// An integer (`driver_number`, `lap_number`).
  Integer,
  /// A floating-point number (`lap_duration`).
  Float,
  /// `true` / `false` (`is_pit_out_lap`).
  Bool,
  /// A string, compared exactly and case-sensitively.
  Text,
  /// A UTC datetime (`date`, `date_start`, `date_end`).
  DateTime,
  /// A JSON value kept as upstream sent it: a number, a string, an array or null (`session_result.duration`,
  /// `laps.segments_sector_1`). Numbers and strings can match; arrays never do.
  Json,
  /// A number, or a text in the column named by `text_column` (`intervals.gap_to_leader`, `"+1 LAP"`).
  NumberOrText {
    /// The column holding the text form.
    text_column: &'static str,
  },
}

/// One field of an endpoint's rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
  /// The field's name in upstream rows, which is also its column's name.
  pub name: &'static str,
  /// What it holds.
  pub kind: FieldKind,
  /// Whether it may be null.
  pub nullable: bool,
}

/// Where the answers of an endpoint are cached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
  /// The calendar (`meetings`, `sessions`).
  Calendar,
  /// The session the query is pinned to (every per-session endpoint).
  Session,
}

pub use entity::Endpoint;

/// Runs `$body` with `$entity` standing for the SeaORM entity of `$endpoint` (the one place mapping endpoints to
/// tables).
macro_rules! with_openf1_entity {
  ($endpoint:expr, $entity:ident => $body:expr) => {{
    use $crate::openf1::catalogue::Endpoint as OpenF1Endpoint;
    match $endpoint {
      OpenF1Endpoint::Meetings => {
        type $entity = entity::meetings::Entity;
        $body
      }
      OpenF1Endpoint::Sessions => {
        type $entity = entity::sessions::Entity;
        $body
      }
      OpenF1Endpoint::Drivers => {
        type $entity = entity::drivers::Entity;
        $body
      }
      OpenF1Endpoint::Laps => {
        type $entity = entity::laps::Entity;
        $body
      }
      OpenF1Endpoint::CarData => {
        type $entity = entity::car_data::Entity;
        $body
      }
      OpenF1Endpoint::Location => {
        type $entity = entity::location::Entity;
        $body
      }
      OpenF1Endpoint::Position => {
        type $entity = entity::position::Entity;
        $body
      }
      OpenF1Endpoint::Intervals => {
        type $entity = entity::intervals::Entity;
        $body
      }
      OpenF1Endpoint::Pit => {
        type $entity = entity::pit::Entity;
        $body
      }
      OpenF1Endpoint::Stints => {
        type $entity = entity::stints::Entity;
        $body
      }
      OpenF1Endpoint::Weather => {
        type $entity = entity::weather::Entity;
        $body
      }
      OpenF1Endpoint::RaceControl => {
        type $entity = entity::race_control::Entity;
        $body
      }
      OpenF1Endpoint::TeamRadio => {
        type $entity = entity::team_radio::Entity;
        $body
      }
      OpenF1Endpoint::SessionResult => {
        type $entity = entity::session_result::Entity;
        $body
      }
      OpenF1Endpoint::StartingGrid => {
        type $entity = entity::starting_grid::Entity;
        $body
      }
      OpenF1Endpoint::Overtakes => {
        type $entity = entity::overtakes::Entity;
        $body
      }
      OpenF1Endpoint::ChampionshipDrivers => {
        type $entity = entity::championship_drivers::Entity;
        $body
      }
      OpenF1Endpoint::ChampionshipTeams => {
        type $entity = entity::championship_teams::Entity;
        $body
      }
    }
  }};
}

pub(crate) use with_openf1_entity;

static FIELDS: LazyLock<Vec<(Endpoint, Vec<Field>)>> = LazyLock::new(|| {
  Endpoint::ALL
    .into_iter()
    .map(|endpoint| {
      let fields = with_openf1_entity!(endpoint, Table => fields_of::<Table>(endpoint.name()));
      (endpoint, fields)
    })
    .collect()
});

/// The fields of entity `E`'s rows as upstream names them, in column order (see the module documentation).
fn fields_of<E: EntityTrait>(endpoint: &str) -> Vec<Field> {
  let columns: Vec<E::Column> = E::Column::iter().collect();
  let names: Vec<&'static str> = columns.iter().map(IdenStatic::as_str).collect();
  columns
    .iter()
    .filter_map(|column| {
      let name = column.as_str();
      if INTERNAL_COLUMNS.contains(&(endpoint, name)) {
        return None;
      }
      if name
        .strip_suffix(TEXT_TWIN_SUFFIX)
        .is_some_and(|base| names.contains(&base))
      {
        return None;
      }
      let definition = column.def();
      let mut kind = match definition.get_column_type() {
        ColumnType::TinyInteger
        | ColumnType::SmallInteger
        | ColumnType::Integer
        | ColumnType::BigInteger
        | ColumnType::TinyUnsigned
        | ColumnType::SmallUnsigned
        | ColumnType::Unsigned
        | ColumnType::BigUnsigned => FieldKind::Integer,
        ColumnType::Float | ColumnType::Double | ColumnType::Decimal(_) => FieldKind::Float,
        ColumnType::Boolean => FieldKind::Bool,
        ColumnType::DateTime | ColumnType::Timestamp | ColumnType::TimestampWithTimeZone => {
          FieldKind::DateTime
        }
        ColumnType::Json | ColumnType::JsonBinary => FieldKind::Json,
        _ => FieldKind::Text,
      };
      let twin = format!("{name}{TEXT_TWIN_SUFFIX}");
      if kind == FieldKind::Float
        && let Some(text_column) = names.iter().find(|candidate| **candidate == twin)
      {
        kind = FieldKind::NumberOrText { text_column };
      }
      Some(Field {
        name,
        kind,
        nullable: definition.is_null(),
      })
    })
    .collect()
}

/// Upstream's database order, which decides ties of [`openf1_query::ANSWER_SORT_FIELDS`] (`util/db.py`, before its
/// insertion order).
pub const TIE_FIELDS: [&str; 3] = ["date_start", "meeting_key", "session_key"];

/// What the Open F1 drop-in knows about each [`Endpoint`]: its fields, its documentation and where its answers
/// are cached.
pub trait EndpointCatalogue: Copy {
  /// The fields of the endpoint's rows, in the order they are written.
  #[must_use]
  fn fields(self) -> &'static [Field];

  /// The field named `name`, if the endpoint has it.
  #[must_use]
  fn field(self, name: &str) -> Option<&'static Field>;

  /// Where the endpoint's answers are cached.
  #[must_use]
  fn scope_kind(self) -> ScopeKind;

  /// The summary of the endpoint's operation in the OpenAPI document.
  #[must_use]
  fn summary(self) -> &'static str;

  /// What the endpoint's rows are, for the OpenAPI document.
  #[must_use]
  fn description(self) -> &'static str;

  /// The operation id of the endpoint's operation for `method` (`get` or `post`).
  #[must_use]
  fn operation_id(self, post: bool) -> &'static str;
}

impl EndpointCatalogue for Endpoint {
  fn fields(self) -> &'static [Field] {
    FIELDS
      .iter()
      .find(|(endpoint, _)| *endpoint == self)
      .map_or(&[], |(_, fields)| fields.as_slice())
  }

  fn field(self, name: &str) -> Option<&'static Field> {
    self.fields().iter().find(|field| field.name == name)
  }

  fn scope_kind(self) -> ScopeKind {
    if self.is_calendar() {
      ScopeKind::Calendar
    } else {
      ScopeKind::Session
    }
  }

  fn summary(self) -> &'static str {
    match self {
      Self::Meetings => "Open F1 meetings",
      Self::Sessions => "Open F1 sessions",
      Self::Drivers => "Open F1 drivers",
      Self::Laps => "Open F1 laps",
      Self::CarData => "Open F1 car data",
      Self::Location => "Open F1 location",
      Self::Position => "Open F1 position",
      Self::Intervals => "Open F1 intervals",
      Self::Pit => "Open F1 pit",
      Self::Stints => "Open F1 stints",
      Self::Weather => "Open F1 weather",
      Self::RaceControl => "Open F1 race control",
      Self::TeamRadio => "Open F1 team radio",
      Self::SessionResult => "Open F1 session result",
      Self::StartingGrid => "Open F1 starting grid",
      Self::Overtakes => "Open F1 overtakes",
      Self::ChampionshipDrivers => "Open F1 drivers' championship",
      Self::ChampionshipTeams => "Open F1 teams' championship",
    }
  }

  fn description(self) -> &'static str {
    match self {
      Self::Meetings => {
        "Grand Prix weekends and testing events, exactly as `GET https://api.openf1.org/v1/meetings` \
         answers, e.g. `?year=2024&country_name=Bahrain`."
      }
      Self::Sessions => {
        "Sessions (practice, qualifying, sprint, race), exactly as `GET https://api.openf1.org/v1/sessions` \
         answers, e.g. `?year=2024&session_name=Race` or `?session_key=latest`."
      }
      Self::Drivers => {
        "Drivers entered in each session, exactly as `GET https://api.openf1.org/v1/drivers` answers, e.g. \
         `?session_key=9472&driver_number=1`."
      }
      Self::Laps => {
        "Laps of each driver, exactly as `GET https://api.openf1.org/v1/laps` answers, e.g. \
         `?session_key=9472&driver_number=1&lap_number%3E%3D50` (laps 50 onwards)."
      }
      Self::CarData => {
        "Car telemetry (~3.7 Hz per car), exactly as `GET https://api.openf1.org/v1/car_data` answers, e.g. \
         `?session_key=9472&driver_number=1&speed%3E%3D315`. A whole session (~600,000 rows) streams."
      }
      Self::Location => {
        "Car positions on the track map (~3.7 Hz per car), exactly as \
         `GET https://api.openf1.org/v1/location` answers, e.g. `?session_key=9472&driver_number=1`. A whole \
         session (~600,000 rows) streams."
      }
      Self::Position => {
        "Changes of running position, exactly as `GET https://api.openf1.org/v1/position` answers, e.g. \
         `?session_key=9472&position%3C%3D3`."
      }
      Self::Intervals => {
        "Gaps to the leader and to the car ahead (races), exactly as \
         `GET https://api.openf1.org/v1/intervals` answers, e.g. `?session_key=11253&interval%3C0.5`. \
         `gap_to_leader` and `interval` are numbers of seconds, or texts such as `\"+1 LAP\"`."
      }
      Self::Pit => {
        "Pit-lane visits, exactly as `GET https://api.openf1.org/v1/pit` answers, e.g. \
         `?session_key=9472&lane_duration%3C25`."
      }
      Self::Stints => {
        "Tyre stints, exactly as `GET https://api.openf1.org/v1/stints` answers, e.g. \
         `?session_key=9472&compound=HARD`."
      }
      Self::Weather => {
        "Weather samples (every minute), exactly as `GET https://api.openf1.org/v1/weather` answers, e.g. \
         `?session_key=11253&track_temperature%3E%3D30`."
      }
      Self::RaceControl => {
        "Race control messages, exactly as `GET https://api.openf1.org/v1/race_control` answers, e.g. \
         `?session_key=11253&category=Flag&flag=YELLOW`."
      }
      Self::TeamRadio => {
        "Team radio recordings, exactly as `GET https://api.openf1.org/v1/team_radio` answers, e.g. \
         `?session_key=9472&driver_number=1`."
      }
      Self::SessionResult => {
        "Classified results, exactly as `GET https://api.openf1.org/v1/session_result` answers, e.g. \
         `?session_key=9472&position%3C%3D3`. In qualifying, `duration` and `gap_to_leader` are arrays \
         `[Q1, Q2, Q3]`, which filters never match."
      }
      Self::StartingGrid => {
        "Starting grids, keyed by the qualifying session that set them, exactly as \
         `GET https://api.openf1.org/v1/starting_grid` answers, e.g. `?session_key=11249&position%3C%3D10`."
      }
      Self::Overtakes => {
        "Overtakes (races), exactly as `GET https://api.openf1.org/v1/overtakes` answers, e.g. \
         `?session_key=11253&overtaking_driver_number=1`."
      }
      Self::ChampionshipDrivers => {
        "Drivers' championship standings before and after each race, exactly as \
         `GET https://api.openf1.org/v1/championship_drivers` answers, e.g. `?session_key=9472&position_current%3C%3D3`."
      }
      Self::ChampionshipTeams => {
        "Teams' championship standings before and after each race, exactly as \
         `GET https://api.openf1.org/v1/championship_teams` answers, e.g. `?session_key=9472&team_name=Ferrari`."
      }
    }
  }

  fn operation_id(self, post: bool) -> &'static str {
    macro_rules! ids {
      ($($variant:ident => $get:literal, $post:literal;)*) => {
        match self {
          $(Self::$variant => if post { $post } else { $get },)*
        }
      };
    }
    ids! {
      Meetings => "openf1_meetings", "openf1_meetings_post";
      Sessions => "openf1_sessions", "openf1_sessions_post";
      Drivers => "openf1_drivers", "openf1_drivers_post";
      Laps => "openf1_laps", "openf1_laps_post";
      CarData => "openf1_car_data", "openf1_car_data_post";
      Location => "openf1_location", "openf1_location_post";
      Position => "openf1_position", "openf1_position_post";
      Intervals => "openf1_intervals", "openf1_intervals_post";
      Pit => "openf1_pit", "openf1_pit_post";
      Stints => "openf1_stints", "openf1_stints_post";
      Weather => "openf1_weather", "openf1_weather_post";
      RaceControl => "openf1_race_control", "openf1_race_control_post";
      TeamRadio => "openf1_team_radio", "openf1_team_radio_post";
      SessionResult => "openf1_session_result", "openf1_session_result_post";
      StartingGrid => "openf1_starting_grid", "openf1_starting_grid_post";
      Overtakes => "openf1_overtakes", "openf1_overtakes_post";
      ChampionshipDrivers => "openf1_championship_drivers", "openf1_championship_drivers_post";
      ChampionshipTeams => "openf1_championship_teams", "openf1_championship_teams_post";
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn kind(endpoint: Endpoint, name: &str) -> Option<FieldKind> {
    endpoint.field(name).map(|field| field.kind)
  }

  #[test]
  fn field_kinds_follow_the_columns() {
    assert_eq!(kind(Endpoint::Laps, "lap_number"), Some(FieldKind::Integer));
    assert_eq!(kind(Endpoint::Laps, "lap_duration"), Some(FieldKind::Float));
    assert_eq!(
      kind(Endpoint::Laps, "is_pit_out_lap"),
      Some(FieldKind::Bool)
    );
    assert_eq!(
      kind(Endpoint::Laps, "date_start"),
      Some(FieldKind::DateTime)
    );
    assert_eq!(
      kind(Endpoint::Laps, "segments_sector_1"),
      Some(FieldKind::Json)
    );
    assert_eq!(
      kind(Endpoint::RaceControl, "message"),
      Some(FieldKind::Text)
    );
    assert_eq!(
      kind(Endpoint::Meetings, "gmt_offset"),
      Some(FieldKind::Text)
    );
    assert_eq!(
      kind(Endpoint::Intervals, "gap_to_leader"),
      Some(FieldKind::NumberOrText {
        text_column: "gap_to_leader_text"
      })
    );
  }

  #[test]
  fn internal_and_text_twin_columns_are_not_fields() {
    assert_eq!(kind(Endpoint::RaceControl, "event_key"), None);
    assert_eq!(kind(Endpoint::Intervals, "gap_to_leader_text"), None);
    assert_eq!(kind(Endpoint::Intervals, "interval_text"), None);
    let names: Vec<&str> = Endpoint::Intervals
      .fields()
      .iter()
      .map(|field| field.name)
      .collect();
    assert_eq!(
      names,
      [
        "session_key",
        "driver_number",
        "date",
        "meeting_key",
        "gap_to_leader",
        "interval"
      ]
    );
  }

  #[test]
  fn every_endpoint_has_fields_and_a_unique_name() {
    for endpoint in Endpoint::ALL {
      assert!(!endpoint.fields().is_empty(), "{endpoint:?}");
      assert_eq!(Endpoint::from_name(endpoint.name()), Some(endpoint));
    }
    assert_eq!(Endpoint::from_name("unknown"), None);
  }
}
