//! `weather` table: a weather sample (every minute).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A weather sample (every minute).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "weather")]
pub struct Model {
  /// Open F1 session key.
  #[sea_orm(primary_key, auto_increment = false)]
  pub session_key: i32,
  /// Time of the sample or event (UTC).
  #[sea_orm(primary_key, auto_increment = false)]
  pub date: DateTimeUtc,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Air temperature in °C.
  pub air_temperature: Option<f64>,
  /// Track temperature in °C.
  pub track_temperature: Option<f64>,
  /// Relative humidity in percent.
  pub humidity: Option<f64>,
  /// Air pressure in mbar.
  pub pressure: Option<f64>,
  /// Rainfall indicator (0 or 1).
  pub rainfall: Option<i32>,
  /// Wind direction in degrees.
  pub wind_direction: Option<i32>,
  /// Wind speed in m/s.
  pub wind_speed: Option<f64>,
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
