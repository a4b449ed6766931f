//! Plotly figure JSON for the analyses F1 fans run.
//!
//! Every chart is a function of the database alone: [`build_session_chart`] answers one session's charts,
//! [`build_season_chart`] the charts spanning a year. Both return a Plotly figure (`{"data": [...],
//! "layout": {...}}`) that a frontend passes unchanged to `Plotly.newPlot`. Figures are built with the
//! `plotly` crate's traces and layout; the few attributes that crate does not model (per-point marker
//! symbols, bar `base`, colour-scale names) are added to the serialized JSON afterwards.
//!
//! Shared conventions:
//! - traces are named by driver acronym (`VER`) and coloured by `drivers.team_colour`; the second driver of
//!   a team (by car number) gets a dashed line so teammates stay distinguishable;
//! - lap-time axes carry `tickvals`/`ticktext` formatted as `m:ss.sss`;
//! - titles name the event: `2024 Bahrain Grand Prix – Race: Lap times` (falling back to the session's
//!   location when the meeting row is missing);
//! - a session that exists but holds no data for a chart gives a valid empty figure (`data: []`) whose layout
//!   carries the annotation [`NO_DATA_TEXT`]; an unknown session is [`ChartError::NotFound`];
//! - lap-based charts of races shade safety-car, virtual-safety-car and red-flag periods (see [`flags`]).
//!
//! [`viewer`] embeds the page that picks and renders these charts (`api/viewer/`).

mod context;
mod figure;
pub mod flags;
mod laps;
mod race;
mod season;
mod telemetry;
pub mod viewer;

use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

pub use figure::{NO_DATA_TEXT, format_lap_time};
pub use laps::CLEAN_LAP_RULE;

/// A chart the API can draw. Each kind has a stable kebab-case slug used in URLs
/// (`/v1/sessions/{session_key}/charts/{slug}`) and in cache keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChartKind {
  /// Lap time of every lap per driver; marker symbol = tyre compound, open marker = pit-out lap.
  LapTimes,
  /// Box plot of each driver's clean laps (see [`CLEAN_LAP_RULE`]).
  LapTimeDistribution,
  /// Median clean lap per team, fastest first.
  TeamPace,
  /// Stints as horizontal bars per driver, coloured by compound.
  TyreStrategy,
  /// Running order at the end of every lap, lap 0 being the starting grid.
  PositionChanges,
  /// Gap to the leader over the race (lapped "+1 LAP" samples are omitted with a note).
  GapToLeader,
  /// Interval to the car ahead over the race.
  IntervalToCarAhead,
  /// Time in the pit lane (and stationary time when known) of every stop.
  PitStops,
  /// Each driver's gap to the fastest time of Q1, Q2 and Q3.
  QualifyingDelta,
  /// Each driver's best sector times as a gap to the best of the field.
  SectorComparison,
  /// Top speeds at the two intermediates and the speed trap.
  SpeedTraps,
  /// Air and track temperature, humidity and rainfall over the session.
  Weather,
  /// Speed, throttle, brake and gear over distance on two drivers' fastest laps.
  TelemetryComparison,
  /// One driver's fastest lap drawn on the track outline, coloured by speed.
  TrackMap,
  /// Starting grid position minus finishing position per driver.
  PositionsGained,
  /// Cumulative championship points per driver across a season's races (a season chart).
  ChampionshipProgression,
}

impl ChartKind {
  /// Every chart kind, in the order a chart picker lists them.
  pub const ALL: &[ChartKind] = &[
    ChartKind::LapTimes,
    ChartKind::LapTimeDistribution,
    ChartKind::TeamPace,
    ChartKind::TyreStrategy,
    ChartKind::PositionChanges,
    ChartKind::GapToLeader,
    ChartKind::IntervalToCarAhead,
    ChartKind::PitStops,
    ChartKind::QualifyingDelta,
    ChartKind::SectorComparison,
    ChartKind::SpeedTraps,
    ChartKind::Weather,
    ChartKind::TelemetryComparison,
    ChartKind::TrackMap,
    ChartKind::PositionsGained,
    ChartKind::ChampionshipProgression,
  ];

  /// The kebab-case name used in URLs, e.g. `"lap-times"`.
  #[must_use]
  pub fn slug(&self) -> &'static str {
    match self {
      ChartKind::LapTimes => "lap-times",
      ChartKind::LapTimeDistribution => "lap-time-distribution",
      ChartKind::TeamPace => "team-pace",
      ChartKind::TyreStrategy => "tyre-strategy",
      ChartKind::PositionChanges => "position-changes",
      ChartKind::GapToLeader => "gap-to-leader",
      ChartKind::IntervalToCarAhead => "interval-to-car-ahead",
      ChartKind::PitStops => "pit-stops",
      ChartKind::QualifyingDelta => "qualifying-delta",
      ChartKind::SectorComparison => "sector-comparison",
      ChartKind::SpeedTraps => "speed-traps",
      ChartKind::Weather => "weather",
      ChartKind::TelemetryComparison => "telemetry-comparison",
      ChartKind::TrackMap => "track-map",
      ChartKind::PositionsGained => "positions-gained",
      ChartKind::ChampionshipProgression => "championship-progression",
    }
  }

  /// The kind whose [`slug`](Self::slug) is `slug`, if any.
  #[must_use]
  pub fn from_slug(slug: &str) -> Option<Self> {
    Self::ALL.iter().copied().find(|kind| kind.slug() == slug)
  }

  /// The human title, used after the event name in the figure title, e.g. `"Lap times"`.
  #[must_use]
  pub fn title(&self) -> &'static str {
    match self {
      ChartKind::LapTimes => "Lap times",
      ChartKind::LapTimeDistribution => "Lap-time distribution",
      ChartKind::TeamPace => "Team pace ranking",
      ChartKind::TyreStrategy => "Tyre strategy",
      ChartKind::PositionChanges => "Position changes",
      ChartKind::GapToLeader => "Gap to leader",
      ChartKind::IntervalToCarAhead => "Interval to car ahead",
      ChartKind::PitStops => "Pit stop durations",
      ChartKind::QualifyingDelta => "Qualifying delta to pole",
      ChartKind::SectorComparison => "Sector comparison",
      ChartKind::SpeedTraps => "Speed-trap comparison",
      ChartKind::Weather => "Weather",
      ChartKind::TelemetryComparison => "Fastest-lap telemetry comparison",
      ChartKind::TrackMap => "Speed on the track map",
      ChartKind::PositionsGained => "Grid vs finish: positions gained",
      ChartKind::ChampionshipProgression => "Championship points progression",
    }
  }

  /// Whether the chart spans a season (built by [`build_season_chart`]) rather than one session.
  #[must_use]
  pub fn is_season_chart(&self) -> bool {
    matches!(self, ChartKind::ChampionshipProgression)
  }
}

impl std::fmt::Display for ChartKind {
  fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    formatter.write_str(self.slug())
  }
}

/// What to draw beyond the chart kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChartRequest {
  /// Car numbers to show; empty means every driver of the session, except for charts that need a fixed
  /// number: the telemetry comparison defaults to the two drivers with the fastest laps, the track map to
  /// the driver with the fastest lap.
  pub drivers: Vec<i32>,
  /// Inclusive lap range `(first, last)` for lap-based charts; `None` means every lap.
  pub laps: Option<(i32, i32)>,
  /// For a season chart asked through a session: draw the whole year of that session (up to and including
  /// it) instead of refusing. Ignored by session charts.
  pub year_scope: bool,
}

/// Why a chart could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
  /// The session (or the season) does not exist.
  #[error("not found: {0}")]
  NotFound(String),
  /// A request parameter is invalid for this chart or session.
  #[error("invalid parameter `{name}`: {message}")]
  InvalidParameter {
    /// The parameter name as the API exposes it (`drivers`, `laps`, `chart`).
    name: &'static str,
    /// What is wrong, for the client.
    message: String,
  },
  /// The database failed.
  #[error("database error: {0}")]
  Database(#[from] sea_orm::DbErr),
}

/// Builds the Plotly figure of `kind` for one session.
///
/// # Errors
/// [`ChartError::NotFound`] when the session is unknown; [`ChartError::InvalidParameter`] when a requested
/// driver did not take part, the lap range is reversed or negative, the driver count does not fit the chart,
/// or `kind` is a season chart and `request.year_scope` is false; [`ChartError::Database`] when a query fails.
/// A session without data for the chart is not an error: it gives an empty figure with a note.
pub async fn build_session_chart<C: ConnectionTrait>(
  connection: &C,
  session_key: i32,
  kind: ChartKind,
  request: &ChartRequest,
) -> Result<serde_json::Value, ChartError> {
  validate_lap_range(request)?;
  let context = context::SessionContext::load(connection, session_key, kind).await?;
  context.validate_drivers(request)?;
  match kind {
    ChartKind::LapTimes => laps::lap_times(connection, &context, request).await,
    ChartKind::LapTimeDistribution => {
      laps::lap_time_distribution(connection, &context, request).await
    }
    ChartKind::TeamPace => laps::team_pace(connection, &context, request).await,
    ChartKind::SectorComparison => laps::sector_comparison(connection, &context, request).await,
    ChartKind::SpeedTraps => laps::speed_traps(connection, &context, request).await,
    ChartKind::TyreStrategy => race::tyre_strategy(connection, &context, request).await,
    ChartKind::PositionChanges => race::position_changes(connection, &context, request).await,
    ChartKind::GapToLeader => {
      race::gaps(connection, &context, request, race::GapKind::ToLeader).await
    }
    ChartKind::IntervalToCarAhead => {
      race::gaps(connection, &context, request, race::GapKind::ToCarAhead).await
    }
    ChartKind::PitStops => race::pit_stops(connection, &context, request).await,
    ChartKind::QualifyingDelta => race::qualifying_delta(connection, &context, request).await,
    ChartKind::Weather => race::weather(connection, &context).await,
    ChartKind::PositionsGained => race::positions_gained(connection, &context, request).await,
    ChartKind::TelemetryComparison => {
      telemetry::telemetry_comparison(connection, &context, request).await
    }
    ChartKind::TrackMap => telemetry::track_map(connection, &context, request).await,
    ChartKind::ChampionshipProgression => {
      if !request.year_scope {
        return Err(ChartError::InvalidParameter {
          name: "chart",
          message: format!(
            "`{}` is a season chart: ask for it by year, or set the year scope",
            kind.slug()
          ),
        });
      }
      season::championship_progression(
        connection,
        context.session.year,
        Some(&context.session),
        request,
      )
      .await
    }
  }
}

/// Builds the Plotly figure of a season chart `kind` for `year`.
///
/// # Errors
/// [`ChartError::NotFound`] when no session of `year` is stored; [`ChartError::InvalidParameter`] when
/// `kind` is a session chart or the driver selection names nobody who raced that year;
/// [`ChartError::Database`] when a query fails.
pub async fn build_season_chart<C: ConnectionTrait>(
  connection: &C,
  year: i32,
  kind: ChartKind,
  request: &ChartRequest,
) -> Result<serde_json::Value, ChartError> {
  if !kind.is_season_chart() {
    return Err(ChartError::InvalidParameter {
      name: "chart",
      message: format!(
        "`{}` is a session chart: ask for it by session",
        kind.slug()
      ),
    });
  }
  season::championship_progression(connection, year, None, request).await
}

fn validate_lap_range(request: &ChartRequest) -> Result<(), ChartError> {
  if let Some((first, last)) = request.laps
    && (first < 0 || last < first)
  {
    return Err(ChartError::InvalidParameter {
      name: "laps",
      message: format!("lap range {first}-{last} must be ascending and start at 0 or later"),
    });
  }
  Ok(())
}
