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
//! - lap-based charts of races shade safety-car, virtual-safety-car and red-flag periods (see [`flags`]);
//! - a session whose type the chart does not suit (see [`catalogue`]) gives an empty figure explaining why;
//! - a chart rejects query parameters it does not take, and laps that do not exist, as
//!   [`ChartError::InvalidParameter`].
//!
//! [`catalogue`] says what every chart is, which sessions it suits, its parameters and the tables it reads.
//! [`viewer`] embeds the page that picks and renders these charts (`api/viewer/`).

pub mod catalogue;
mod context;
mod figure;
pub mod flags;
mod laps;
mod race;
mod season;
mod telemetry;
mod track;
mod tyres;
pub mod viewer;

use sea_orm::ConnectionTrait;

pub use catalogue::{ChartKind, ChartParameter, ChartScope, SessionType};
pub use figure::NO_DATA_TEXT;

/// A lap chosen by a query parameter: lap `lap` of car `driver`, or that driver's fastest lap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LapChoice {
  /// Car number.
  pub driver: i32,
  /// Lap number; `None` for the driver's fastest timed lap.
  pub lap: Option<i32>,
}

impl std::fmt::Display for LapChoice {
  /// `DRIVER:LAP`, or `DRIVER` for the fastest lap: the parameter syntax, normalised.
  fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    match self.lap {
      Some(lap) => write!(formatter, "{}:{lap}", self.driver),
      None => write!(formatter, "{}", self.driver),
    }
  }
}

/// What to draw beyond the chart kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChartRequest {
  /// Car numbers to show; empty means every driver of the session, except for charts that need a fixed
  /// number: the telemetry comparison defaults to the two drivers with the fastest laps, the track maps to
  /// the driver with the fastest lap, the mini-sector map to the two fastest drivers.
  pub drivers: Vec<i32>,
  /// Inclusive lap range `(first, last)` for lap-based charts; `None` means every lap.
  pub laps: Option<(i32, i32)>,
  /// The reference lap of the lap comparisons and track maps.
  pub reference: Option<LapChoice>,
  /// The compared lap of the lap comparisons.
  pub comparison: Option<LapChoice>,
  /// The session of the compared lap, when it is not the charted session (same circuit).
  pub comparison_session: Option<i32>,
}

impl ChartRequest {
  /// Rejects the requested car numbers that `is_known` refuses, saying of them `absence` (e.g. "did not
  /// take part in session 9472").
  fn check_drivers(
    &self,
    is_known: impl Fn(&i32) -> bool,
    absence: &str,
  ) -> Result<(), ChartError> {
    let unknown: Vec<String> = self
      .drivers
      .iter()
      .filter(|number| !is_known(number))
      .map(ToString::to_string)
      .collect();
    if unknown.is_empty() {
      Ok(())
    } else {
      Err(ChartError::InvalidParameter {
        name: "drivers",
        message: format!("car number(s) {} {absence}", unknown.join(", ")),
      })
    }
  }
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
    /// The parameter name as the API exposes it (`drivers`, `lap_min`, `reference`, `chart`, ...).
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
/// [`ChartError::NotFound`] when the session is unknown; [`ChartError::InvalidParameter`] when the request sets
/// a parameter the chart does not take, a requested driver did not take part, the lap range is reversed or
/// negative, the driver count does not fit the chart, a chosen lap does not exist, the comparison session is
/// unknown or at another circuit, or `kind` is a season chart;
/// [`ChartError::Database`] when a query fails. A session without data for the chart, or of a type the chart
/// does not suit, is not an error: it gives an empty figure with a note.
pub async fn build_session_chart<C: ConnectionTrait>(
  connection: &C,
  session_key: i32,
  kind: ChartKind,
  request: &ChartRequest,
) -> Result<serde_json::Value, ChartError> {
  validate_lap_range(request)?;
  check_parameters(kind, request)?;
  let context = context::SessionContext::load(connection, session_key, kind, request).await?;
  context.validate_drivers()?;
  if kind.is_season_chart() {
    return Err(ChartError::InvalidParameter {
      name: "chart",
      message: format!(
        "`{}` is a season chart: ask for it by year (/v1/seasons/{}/charts/{})",
        kind.slug(),
        context.session.year,
        kind.slug()
      ),
    });
  }
  if !kind.suits(context.session.session_type.as_deref()) {
    return Ok(unsuited_session_figure(kind, &context));
  }
  match kind {
    ChartKind::LapTimes => laps::lap_times(connection, &context).await,
    ChartKind::LapTimeDistribution => laps::lap_time_distribution(connection, &context).await,
    ChartKind::TeamPace => laps::team_pace(connection, &context).await,
    ChartKind::SectorComparison => laps::sector_comparison(connection, &context).await,
    ChartKind::SpeedTraps => laps::speed_traps(connection, &context).await,
    ChartKind::TyreStrategy => race::tyre_strategy(connection, &context).await,
    ChartKind::TyreDegradation => tyres::tyre_degradation(connection, &context, false).await,
    ChartKind::FuelCorrectedTyreDegradation => {
      tyres::tyre_degradation(connection, &context, true).await
    }
    ChartKind::PositionChanges => race::position_changes(connection, &context).await,
    ChartKind::GapToLeader => race::gaps(connection, &context, race::GapKind::ToLeader).await,
    ChartKind::IntervalToCarAhead => {
      race::gaps(connection, &context, race::GapKind::ToCarAhead).await
    }
    ChartKind::PitStops => race::pit_stops(connection, &context).await,
    ChartKind::Overtakes => race::overtakes(connection, &context).await,
    ChartKind::QualifyingDelta => race::qualifying_delta(connection, &context).await,
    ChartKind::Weather => race::weather(connection, &context).await,
    ChartKind::PositionsGained => race::positions_gained(connection, &context).await,
    ChartKind::TelemetryComparison => telemetry::telemetry_comparison(connection, &context).await,
    ChartKind::LapDelta => telemetry::lap_delta(connection, &context).await,
    ChartKind::TrackMap => track::lap_map(connection, &context, track::LapColouring::Speed).await,
    ChartKind::GearShiftMap => {
      track::lap_map(connection, &context, track::LapColouring::Gear).await
    }
    ChartKind::MiniSectorDominance => track::mini_sector_dominance(connection, &context).await,
    ChartKind::ChampionshipProgression
    | ChartKind::ConstructorsProgression
    | ChartKind::ResultsHeatmap
    | ChartKind::TeammateHeadToHead => unreachable_season_chart(kind),
  }
}

/// Season charts are answered above; this arm only keeps the match exhaustive.
fn unreachable_season_chart(kind: ChartKind) -> Result<serde_json::Value, ChartError> {
  Err(ChartError::InvalidParameter {
    name: "chart",
    message: format!("`{}` is a season chart", kind.slug()),
  })
}

/// Builds the Plotly figure of a season chart `kind` for `year`.
///
/// # Errors
/// [`ChartError::NotFound`] when no session of `year` is stored; [`ChartError::InvalidParameter`] when
/// `kind` is a session chart, the request sets a parameter the chart does not take, or the driver selection
/// names nobody who raced that year; [`ChartError::Database`] when a query fails.
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
        "`{}` is a session chart: ask for it by session (/v1/sessions/{{session_key}}/charts/{})",
        kind.slug(),
        kind.slug()
      ),
    });
  }
  check_parameters(kind, request)?;
  season::build(connection, year, kind, request).await
}

/// The explained empty figure of a chart asked for a session type it does not suit.
fn unsuited_session_figure(
  kind: ChartKind,
  context: &context::SessionContext,
) -> serde_json::Value {
  let suited: Vec<&str> = kind
    .spec()
    .session_types
    .iter()
    .map(SessionType::as_str)
    .collect();
  figure::empty_figure(
    &context.title,
    Some(&format!(
      "`{}` is drawn for {} sessions; session {} is a {} session",
      kind.slug(),
      suited.join(" and "),
      context.session.session_key,
      context.session.session_type.as_deref().unwrap_or("unknown")
    )),
  )
}

/// Rejects parameters `kind` does not take, naming the ones it does.
fn check_parameters(kind: ChartKind, request: &ChartRequest) -> Result<(), ChartError> {
  let given = [
    (ChartParameter::Drivers, !request.drivers.is_empty()),
    (ChartParameter::LapMin, request.laps.is_some()),
    (ChartParameter::Reference, request.reference.is_some()),
    (ChartParameter::Comparison, request.comparison.is_some()),
    (
      ChartParameter::ComparisonSession,
      request.comparison_session.is_some(),
    ),
  ];
  for (parameter, is_given) in given {
    if is_given && !kind.takes(parameter) {
      let taken: Vec<String> = kind
        .spec()
        .parameters
        .iter()
        .map(|parameter| format!("`{}`", parameter.name()))
        .collect();
      let name = if parameter == ChartParameter::LapMin {
        "lap_min` / `lap_max"
      } else {
        parameter.name()
      };
      return Err(ChartError::InvalidParameter {
        name,
        message: format!(
          "`{}` does not take this parameter; it takes {}",
          kind.slug(),
          if taken.is_empty() {
            "none".to_owned()
          } else {
            taken.join(", ")
          }
        ),
      });
    }
  }
  Ok(())
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
