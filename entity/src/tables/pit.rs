//! `pit` table: a pit-lane visit.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A pit-lane visit.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "pit")]
pub struct Model {
  /// Open F1 session key.
  #[sea_orm(primary_key, auto_increment = false)]
  pub session_key: i32,
  /// Car number for the season.
  #[sea_orm(primary_key, auto_increment = false)]
  pub driver_number: i32,
  /// Lap number (starts at 1).
  #[sea_orm(primary_key, auto_increment = false)]
  pub lap_number: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Time of the sample or event (UTC).
  pub date: Option<DateTimeUtc>,
  /// Time spent in the pit lane in seconds.
  pub lane_duration: Option<f64>,
  /// Deprecated copy of lane_duration.
  pub pit_duration: Option<f64>,
  /// Stationary time in seconds (2024 US GP onward).
  pub stop_duration: Option<f64>,
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
