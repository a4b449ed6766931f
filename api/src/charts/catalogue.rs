//! The chart catalogue: every chart kind with its slug, title, one-line description, scope, the session types it
//! suits, the query parameters it takes and the tables it reads.
//!
//! This is the one home of these facts. `GET /v1/charts` lists them, the OpenAPI document's `chart` path
//! parameters enumerate the slugs per scope, the chart route rejects parameters a chart does not take, and
//! [`charts_reading`] names the charts a change to a table affects (for cache invalidation and change events).

use serde::{Deserialize, Serialize};

/// A chart the API can draw. Each kind has a stable kebab-case slug used in URLs
/// (`/v1/sessions/{session_key}/charts/{slug}`, `/v1/seasons/{year}/charts/{slug}`) and in cache keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChartKind {
  /// Lap time of every lap per driver; marker symbol = tyre compound, open marker = pit-out lap.
  LapTimes,
  /// Box plot of each driver's clean laps (see `super::CLEAN_LAP_RULE`).
  LapTimeDistribution,
  /// Box plot of each team's clean laps, fastest median first.
  TeamPace,
  /// Stints as horizontal bars per driver, coloured by compound.
  TyreStrategy,
  /// Clean-lap time against tyre age per stint, with a fitted slope.
  TyreDegradation,
  /// Tyre degradation with lap times corrected for the fuel burned (the fuel model is stated on the chart).
  FuelCorrectedTyreDegradation,
  /// Running order at the end of every lap, lap 0 being the starting grid.
  PositionChanges,
  /// Gap to the leader over the race (lapped "+1 LAP" samples are omitted with a note).
  GapToLeader,
  /// Interval to the car ahead over the race.
  IntervalToCarAhead,
  /// Time in the pit lane (and stationary time when known) of every stop.
  PitStops,
  /// Overtakes made and suffered per driver.
  Overtakes,
  /// Each driver's gap to the fastest time of Q1, Q2 and Q3.
  QualifyingDelta,
  /// Each driver's best sector times as a gap to the best of the field.
  SectorComparison,
  /// Top speeds at the two intermediates and the speed trap.
  SpeedTraps,
  /// Air and track temperature, humidity and rainfall over the session.
  Weather,
  /// Speed, throttle, brake, gear, RPM and DRS over distance on two chosen laps.
  TelemetryComparison,
  /// Time gained or lost over distance between two chosen laps (possibly of two sessions at one circuit).
  LapDelta,
  /// One lap drawn on the track outline, coloured by speed.
  TrackMap,
  /// One lap drawn on the track outline, coloured by gear.
  GearShiftMap,
  /// The track outline split into mini-sectors, each coloured by the driver fastest through it.
  MiniSectorDominance,
  /// Starting grid position minus finishing position per driver.
  PositionsGained,
  /// Cumulative drivers' championship points across a season's races and sprints (a season chart).
  ChampionshipProgression,
  /// Cumulative constructors' championship points across a season's races and sprints (a season chart).
  ConstructorsProgression,
  /// Finishing position of every driver in every Grand Prix of a season, retirements marked (a season chart).
  ResultsHeatmap,
  /// Teammates' qualifying and race head-to-head across a season (a season chart).
  TeammateHeadToHead,
}

/// Whether a chart is drawn for one session or for a season.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum ChartScope {
  /// `/v1/sessions/{session_key}/charts/{chart}`.
  Session,
  /// `/v1/seasons/{year}/charts/{chart}`.
  Season,
}

/// An Open F1 session type (`sessions.session_type`; sprints are `Race`, sprint qualifying is `Qualifying`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, poem_openapi::Enum)]
pub enum SessionType {
  /// Practice sessions (and testing days).
  Practice,
  /// Qualifying, sprint qualifying and sprint shootouts.
  Qualifying,
  /// Grands Prix and sprints.
  Race,
}

impl SessionType {
  /// Every session type.
  pub const ALL: &[SessionType] = &[
    SessionType::Practice,
    SessionType::Qualifying,
    SessionType::Race,
  ];

  /// The value of `sessions.session_type`.
  #[must_use]
  pub fn as_str(&self) -> &'static str {
    match self {
      SessionType::Practice => "Practice",
      SessionType::Qualifying => entity::sessions::QUALIFYING,
      SessionType::Race => entity::sessions::RACE,
    }
  }
}

/// A query parameter of the chart routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChartParameter {
  /// `drivers`: car numbers to include.
  Drivers,
  /// `lap_min`: first lap to include.
  LapMin,
  /// `lap_max`: last lap to include.
  LapMax,
  /// `reference`: the reference lap, `DRIVER:LAP` or `DRIVER` (that driver's fastest lap).
  Reference,
  /// `comparison`: the compared lap, `DRIVER:LAP` or `DRIVER`.
  Comparison,
  /// `comparison_session`: the session of the compared lap (same circuit), default the charted session.
  ComparisonSession,
}

impl ChartParameter {
  /// The query parameter's name.
  #[must_use]
  pub fn name(&self) -> &'static str {
    match self {
      ChartParameter::Drivers => "drivers",
      ChartParameter::LapMin => "lap_min",
      ChartParameter::LapMax => "lap_max",
      ChartParameter::Reference => "reference",
      ChartParameter::Comparison => "comparison",
      ChartParameter::ComparisonSession => "comparison_session",
    }
  }

  /// What the parameter does, for the catalogue.
  #[must_use]
  pub fn description(&self) -> &'static str {
    match self {
      ChartParameter::Drivers => {
        "Car numbers to include, comma-separated (`1,44`); every driver when absent."
      }
      ChartParameter::LapMin => "First lap to include.",
      ChartParameter::LapMax => "Last lap to include.",
      ChartParameter::Reference => {
        "The reference lap: `DRIVER:LAP` (`1:39`) or `DRIVER` for that driver's fastest lap; default the \
         session's fastest lap."
      }
      ChartParameter::Comparison => {
        "The compared lap: `DRIVER:LAP` or `DRIVER`; default the fastest lap of the next-fastest driver (or, \
         with `comparison_session`, the reference driver's fastest lap there)."
      }
      ChartParameter::ComparisonSession => {
        "Session key of the compared lap: another session at the same circuit (e.g. last year's race); default \
         the charted session."
      }
    }
  }
}

/// What the catalogue says about one chart kind.
#[derive(Clone, Copy, Debug)]
pub struct ChartSpec {
  /// Stable kebab-case name used in URLs and cache keys, e.g. `lap-times`.
  pub slug: &'static str,
  /// Human title, used after the event name in the figure title.
  pub title: &'static str,
  /// One line saying what the chart shows.
  pub description: &'static str,
  /// Session or season chart.
  pub scope: ChartScope,
  /// Session charts: the session types it suits (others give an explained empty figure). Season charts: the
  /// session types whose results it reads.
  pub session_types: &'static [SessionType],
  /// The query parameters it takes (others are rejected with 400).
  pub parameters: &'static [ChartParameter],
  /// The tables (Open F1 endpoint names) its figure is built from, besides [`SESSION_CHART_TABLES`] for session
  /// charts.
  pub tables: &'static [&'static str],
}

/// Tables every session chart reads: the session, its meeting (title), drivers (names, colours) and results
/// (display order).
pub const SESSION_CHART_TABLES: &[&str] = &["sessions", "meetings", "drivers", "session_result"];

const ALL_TYPES: &[SessionType] = SessionType::ALL;
const RACE: &[SessionType] = &[SessionType::Race];
const QUALIFYING: &[SessionType] = &[SessionType::Qualifying];
const PRACTICE_AND_RACE: &[SessionType] = &[SessionType::Practice, SessionType::Race];
const QUALIFYING_AND_RACE: &[SessionType] = &[SessionType::Qualifying, SessionType::Race];

const DRIVERS_AND_LAPS: &[ChartParameter] = &[
  ChartParameter::Drivers,
  ChartParameter::LapMin,
  ChartParameter::LapMax,
];
const DRIVERS: &[ChartParameter] = &[ChartParameter::Drivers];
const NO_PARAMETERS: &[ChartParameter] = &[];
const TWO_LAPS: &[ChartParameter] = &[
  ChartParameter::Drivers,
  ChartParameter::Reference,
  ChartParameter::Comparison,
  ChartParameter::ComparisonSession,
];
const LAP_DELTA: &[ChartParameter] = &[
  ChartParameter::Reference,
  ChartParameter::Comparison,
  ChartParameter::ComparisonSession,
];
const ONE_LAP: &[ChartParameter] = &[ChartParameter::Drivers, ChartParameter::Reference];

impl ChartKind {
  /// Every chart kind, in the order a chart picker lists them (session charts, then season charts).
  pub const ALL: &[ChartKind] = &[
    ChartKind::LapTimes,
    ChartKind::LapTimeDistribution,
    ChartKind::TeamPace,
    ChartKind::TyreStrategy,
    ChartKind::TyreDegradation,
    ChartKind::FuelCorrectedTyreDegradation,
    ChartKind::PositionChanges,
    ChartKind::GapToLeader,
    ChartKind::IntervalToCarAhead,
    ChartKind::PitStops,
    ChartKind::Overtakes,
    ChartKind::QualifyingDelta,
    ChartKind::SectorComparison,
    ChartKind::SpeedTraps,
    ChartKind::Weather,
    ChartKind::TelemetryComparison,
    ChartKind::LapDelta,
    ChartKind::TrackMap,
    ChartKind::GearShiftMap,
    ChartKind::MiniSectorDominance,
    ChartKind::PositionsGained,
    ChartKind::ChampionshipProgression,
    ChartKind::ConstructorsProgression,
    ChartKind::ResultsHeatmap,
    ChartKind::TeammateHeadToHead,
  ];

  /// The catalogue entry of this kind.
  #[must_use]
  #[allow(clippy::too_many_lines)]
  pub fn spec(&self) -> ChartSpec {
    use ChartScope::{Season, Session};
    let (slug, title, description, scope, session_types, parameters, tables): (
      &'static str,
      &'static str,
      &'static str,
      ChartScope,
      &'static [SessionType],
      &'static [ChartParameter],
      &'static [&'static str],
    ) = match self {
      ChartKind::LapTimes => (
        "lap-times",
        "Lap times",
        "Every lap time per driver; the marker shows the tyre compound, an open marker a pit-out lap.",
        Session,
        ALL_TYPES,
        DRIVERS_AND_LAPS,
        &["laps", "stints", "race_control"],
      ),
      ChartKind::LapTimeDistribution => (
        "lap-time-distribution",
        "Lap-time distribution",
        "A box plot of each driver's clean laps.",
        Session,
        ALL_TYPES,
        DRIVERS_AND_LAPS,
        &["laps", "pit", "race_control"],
      ),
      ChartKind::TeamPace => (
        "team-pace",
        "Team pace",
        "A box plot of each team's clean laps, fastest median first.",
        Session,
        ALL_TYPES,
        DRIVERS_AND_LAPS,
        &["laps", "pit", "race_control"],
      ),
      ChartKind::TyreStrategy => (
        "tyre-strategy",
        "Tyre strategy",
        "Every stint as a bar per driver, coloured by compound.",
        Session,
        ALL_TYPES,
        DRIVERS_AND_LAPS,
        &["stints", "laps"],
      ),
      ChartKind::TyreDegradation => (
        "tyre-degradation",
        "Tyre degradation",
        "Clean-lap time against tyre age for every stint, with the fitted degradation slope in s/lap.",
        Session,
        PRACTICE_AND_RACE,
        DRIVERS_AND_LAPS,
        &["laps", "stints", "pit", "race_control"],
      ),
      ChartKind::FuelCorrectedTyreDegradation => (
        "fuel-corrected-tyre-degradation",
        "Fuel-corrected tyre degradation",
        "Tyre degradation with lap times corrected for the fuel burned; the fuel model is stated on the chart.",
        Session,
        RACE,
        DRIVERS_AND_LAPS,
        &["laps", "stints", "pit", "race_control"],
      ),
      ChartKind::PositionChanges => (
        "position-changes",
        "Position changes",
        "The running order at the end of every lap, lap 0 being the starting grid.",
        Session,
        RACE,
        DRIVERS_AND_LAPS,
        &["position", "laps", "starting_grid", "race_control"],
      ),
      ChartKind::GapToLeader => (
        "gap-to-leader",
        "Gap to leader",
        "Each driver's gap to the leader over the race.",
        Session,
        RACE,
        DRIVERS,
        &["intervals", "race_control"],
      ),
      ChartKind::IntervalToCarAhead => (
        "interval-to-car-ahead",
        "Interval to car ahead",
        "Each driver's interval to the car ahead over the race.",
        Session,
        RACE,
        DRIVERS,
        &["intervals", "race_control"],
      ),
      ChartKind::PitStops => (
        "pit-stops",
        "Pit stop durations",
        "Time in the pit lane, and stationary time when known, of every stop, quickest first.",
        Session,
        RACE,
        DRIVERS_AND_LAPS,
        &["pit"],
      ),
      ChartKind::Overtakes => (
        "overtakes",
        "Overtakes made and suffered",
        "How many overtakes each driver made and suffered.",
        Session,
        RACE,
        DRIVERS,
        &["overtakes"],
      ),
      ChartKind::QualifyingDelta => (
        "qualifying-delta",
        "Qualifying delta to pole",
        "Each driver's gap to the fastest time of Q1, Q2 and Q3.",
        Session,
        QUALIFYING,
        DRIVERS,
        &[],
      ),
      ChartKind::SectorComparison => (
        "sector-comparison",
        "Sector comparison",
        "Each driver's best sector times as a gap to the best of the field.",
        Session,
        ALL_TYPES,
        DRIVERS_AND_LAPS,
        &["laps"],
      ),
      ChartKind::SpeedTraps => (
        "speed-traps",
        "Speed-trap comparison",
        "Each driver's top speed at the two intermediates and the speed trap.",
        Session,
        ALL_TYPES,
        DRIVERS_AND_LAPS,
        &["laps"],
      ),
      ChartKind::Weather => (
        "weather",
        "Weather",
        "Air and track temperature, humidity and rainfall over the session.",
        Session,
        ALL_TYPES,
        NO_PARAMETERS,
        &["weather", "race_control"],
      ),
      ChartKind::TelemetryComparison => (
        "telemetry-comparison",
        "Telemetry comparison",
        "Speed, throttle, brake, gear, RPM and DRS over distance on two laps (by default the two fastest drivers' \
         fastest laps).",
        Session,
        ALL_TYPES,
        TWO_LAPS,
        &["laps", "car_data"],
      ),
      ChartKind::LapDelta => (
        "lap-delta",
        "Lap delta",
        "Time gained or lost over distance between two laps, also of two sessions at the same circuit.",
        Session,
        ALL_TYPES,
        LAP_DELTA,
        &["laps", "car_data"],
      ),
      ChartKind::TrackMap => (
        "track-map",
        "Speed on the track map",
        "One lap on the track outline, coloured by speed (the outline alone when no speed is recorded).",
        Session,
        ALL_TYPES,
        ONE_LAP,
        &["laps", "location", "car_data"],
      ),
      ChartKind::GearShiftMap => (
        "gear-shift-map",
        "Gear shifts on the track map",
        "One lap on the track outline, coloured by the gear in use.",
        Session,
        ALL_TYPES,
        ONE_LAP,
        &["laps", "location", "car_data"],
      ),
      ChartKind::MiniSectorDominance => (
        "mini-sector-dominance",
        "Mini-sector dominance",
        "The track outline in 25 mini-sectors, each coloured by the driver whose fastest lap was quickest \
         through it.",
        Session,
        ALL_TYPES,
        DRIVERS,
        &["laps", "location", "car_data"],
      ),
      ChartKind::PositionsGained => (
        "positions-gained",
        "Grid vs finish: positions gained",
        "Starting grid position minus finishing position per classified driver.",
        Session,
        RACE,
        DRIVERS,
        &["starting_grid", "position"],
      ),
      ChartKind::ChampionshipProgression => (
        "championship-progression",
        "Drivers' championship progression",
        "Each driver's cumulative championship points after every race and sprint of the season.",
        Season,
        RACE,
        DRIVERS,
        &[
          "sessions",
          "meetings",
          "drivers",
          "session_result",
          "championship_drivers",
        ],
      ),
      ChartKind::ConstructorsProgression => (
        "constructors-progression",
        "Constructors' championship progression",
        "Each team's cumulative championship points after every race and sprint of the season.",
        Season,
        RACE,
        NO_PARAMETERS,
        &[
          "sessions",
          "meetings",
          "drivers",
          "session_result",
          "championship_teams",
        ],
      ),
      ChartKind::ResultsHeatmap => (
        "results-heatmap",
        "Results heatmap",
        "Every driver's finishing position in every Grand Prix of the season; DNF, DNS and DSQ marked.",
        Season,
        RACE,
        DRIVERS,
        &["sessions", "meetings", "drivers", "session_result"],
      ),
      ChartKind::TeammateHeadToHead => (
        "teammate-head-to-head",
        "Teammate head-to-head",
        "How often each driver finished ahead of their teammate in qualifying and in the Grand Prix.",
        Season,
        QUALIFYING_AND_RACE,
        NO_PARAMETERS,
        &["sessions", "meetings", "drivers", "session_result"],
      ),
    };
    ChartSpec {
      slug,
      title,
      description,
      scope,
      session_types,
      parameters,
      tables,
    }
  }

  /// The kebab-case name used in URLs, e.g. `"lap-times"`.
  #[must_use]
  pub fn slug(&self) -> &'static str {
    self.spec().slug
  }

  /// The kind whose [`slug`](Self::slug) is `slug`, if any.
  #[must_use]
  pub fn from_slug(slug: &str) -> Option<Self> {
    Self::ALL.iter().copied().find(|kind| kind.slug() == slug)
  }

  /// The human title, used after the event name in the figure title, e.g. `"Lap times"`.
  #[must_use]
  pub fn title(&self) -> &'static str {
    self.spec().title
  }

  /// Whether the chart spans a season (built by [`super::build_season_chart`]) rather than one session.
  #[must_use]
  pub fn is_season_chart(&self) -> bool {
    self.spec().scope == ChartScope::Season
  }

  /// Whether the chart suits a session of Open F1 type `session_type` (an unknown type suits every chart).
  #[must_use]
  pub fn suits(&self, session_type: Option<&str>) -> bool {
    session_type.is_none_or(|session_type| {
      !SessionType::ALL
        .iter()
        .any(|known| known.as_str() == session_type)
        || self
          .spec()
          .session_types
          .iter()
          .any(|suited| suited.as_str() == session_type)
    })
  }

  /// Whether the chart takes query parameter `parameter`.
  #[must_use]
  pub fn takes(&self, parameter: ChartParameter) -> bool {
    self.spec().parameters.contains(&parameter)
  }

  /// Every table the chart's figure is built from (Open F1 endpoint names), sorted.
  #[must_use]
  pub fn tables(&self) -> Vec<&'static str> {
    let spec = self.spec();
    let mut tables: Vec<&'static str> = spec.tables.to_vec();
    if spec.scope == ChartScope::Session {
      tables.extend_from_slice(SESSION_CHART_TABLES);
    }
    tables.sort_unstable();
    tables.dedup();
    tables
  }

  /// The chart kinds of `scope`, in catalogue order.
  pub fn of_scope(scope: ChartScope) -> impl Iterator<Item = ChartKind> {
    Self::ALL
      .iter()
      .copied()
      .filter(move |kind| kind.spec().scope == scope)
  }
}

impl std::fmt::Display for ChartKind {
  fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    formatter.write_str(self.slug())
  }
}

/// The chart kinds whose figures are built from `table` (an Open F1 endpoint name such as `laps`): a change to
/// that table can change exactly these charts.
#[must_use]
pub fn charts_reading(table: &str) -> Vec<ChartKind> {
  ChartKind::ALL
    .iter()
    .copied()
    .filter(|kind| kind.tables().contains(&table))
    .collect()
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_lap_change_affects_the_lap_charts_and_not_the_weather() {
    let affected = charts_reading("laps");
    assert!(affected.contains(&ChartKind::LapTimes));
    assert!(affected.contains(&ChartKind::TyreDegradation));
    assert!(!affected.contains(&ChartKind::Weather));
    assert!(charts_reading("championship_teams").contains(&ChartKind::ConstructorsProgression));
    assert_eq!(charts_reading("drivers").len(), ChartKind::ALL.len());
  }

  #[test]
  fn unknown_session_types_suit_every_chart_and_known_ones_follow_the_catalogue() {
    assert!(ChartKind::GapToLeader.suits(Some("Race")));
    assert!(!ChartKind::GapToLeader.suits(Some("Qualifying")));
    assert!(ChartKind::GapToLeader.suits(None));
    assert!(ChartKind::GapToLeader.suits(Some("Something new")));
    assert!(ChartKind::LapTimes.suits(Some("Practice")));
  }
}
