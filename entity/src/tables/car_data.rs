//! `car_data` table: one car telemetry sample (~3.7 Hz per car).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One car telemetry sample (~3.7 Hz per car).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "car_data")]
pub struct Model {
  /// Open F1 session key.
  #[sea_orm(primary_key, auto_increment = false)]
  pub session_key: i32,
  /// Car number for the season.
  #[sea_orm(primary_key, auto_increment = false)]
  pub driver_number: i32,
  /// Time of the sample or event (UTC).
  #[sea_orm(primary_key, auto_increment = false)]
  pub date: DateTimeUtc,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Engine revolutions per minute.
  pub rpm: Option<i32>,
  /// Speed in km/h.
  pub speed: Option<i32>,
  /// Gear (0 = neutral, 1-8).
  pub n_gear: Option<i32>,
  /// Throttle in percent.
  pub throttle: Option<i32>,
  /// Brake (0 or 100).
  pub brake: Option<i32>,
  /// DRS status code (null from 2026).
  pub drs: Option<i32>,
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
