//! Chart builders: Plotly figure JSON built from the database.
//!
//! This is a minimal stub holding the interface the routes call; the chart builders replace its body.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

/// A chart the api can build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChartKind {
  /// Lap times of the selected drivers over the session.
  LapTimes,
  /// Drivers' championship points over a season.
  ChampionshipPoints,
}

impl ChartKind {
  /// Every chart kind.
  pub const ALL: &[ChartKind] = &[Self::LapTimes, Self::ChampionshipPoints];

  /// The chart's URL name.
  #[must_use]
  pub fn slug(&self) -> &'static str {
    match self {
      Self::LapTimes => "lap-times",
      Self::ChampionshipPoints => "championship-points",
    }
  }

  /// The kind named `slug`.
  #[must_use]
  pub fn from_slug(slug: &str) -> Option<Self> {
    Self::ALL.iter().copied().find(|kind| kind.slug() == slug)
  }

  /// The chart's title.
  #[must_use]
  pub fn title(&self) -> &'static str {
    match self {
      Self::LapTimes => "Lap times",
      Self::ChampionshipPoints => "Championship points",
    }
  }
}

/// What the client asked for.
#[derive(Clone, Debug, Default)]
pub struct ChartRequest {
  /// Car numbers to include (empty: all).
  pub drivers: Vec<i32>,
  /// Inclusive lap range.
  pub laps: Option<(i32, i32)>,
  /// Whether the chart spans a season rather than one session.
  pub year_scope: bool,
}

/// Why a chart could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
  /// The chart or the data it needs does not exist.
  #[error("{0}")]
  NotFound(String),
  /// A parameter is invalid.
  #[error("invalid parameter `{name}`: {message}")]
  InvalidParameter {
    /// The parameter's name.
    name: &'static str,
    /// What is wrong with it.
    message: String,
  },
  /// The database failed.
  #[error("database error: {0}")]
  Database(#[from] sea_orm::DbErr),
}

fn empty_figure(title: &str) -> Value {
  json!({ "data": [], "layout": { "title": { "text": title } } })
}

/// Builds a chart of one session.
///
/// # Errors
/// Not found, invalid parameter, or the database error.
pub async fn build_session_chart<C: ConnectionTrait>(
  _connection: &C,
  _session_key: i32,
  kind: ChartKind,
  _request: &ChartRequest,
) -> Result<Value, ChartError> {
  Ok(empty_figure(kind.title()))
}

/// Builds a chart of one season.
///
/// # Errors
/// Not found, invalid parameter, or the database error.
pub async fn build_season_chart<C: ConnectionTrait>(
  _connection: &C,
  _year: i32,
  kind: ChartKind,
  _request: &ChartRequest,
) -> Result<Value, ChartError> {
  Ok(empty_figure(kind.title()))
}
