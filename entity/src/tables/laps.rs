//! `laps` table: one lap of one driver.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One lap of one driver.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "laps")]
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
  /// Start time (UTC).
  pub date_start: Option<DateTimeUtc>,
  /// Sector 1 time in seconds.
  pub duration_sector_1: Option<f64>,
  /// Sector 2 time in seconds.
  pub duration_sector_2: Option<f64>,
  /// Sector 3 time in seconds.
  pub duration_sector_3: Option<f64>,
  /// Lap time in seconds.
  pub lap_duration: Option<f64>,
  /// Speed at intermediate 1 (km/h).
  pub i1_speed: Option<i32>,
  /// Speed at intermediate 2 (km/h).
  pub i2_speed: Option<i32>,
  /// Speed at the speed trap (km/h).
  pub st_speed: Option<i32>,
  /// Whether the lap started in the pit lane.
  pub is_pit_out_lap: Option<bool>,
  /// Mini-sector codes of sector 1 (JSON array).
  #[sea_orm(column_type = "Json")]
  pub segments_sector_1: Option<Json>,
  /// Mini-sector codes of sector 2 (JSON array).
  #[sea_orm(column_type = "Json")]
  pub segments_sector_2: Option<Json>,
  /// Mini-sector codes of sector 3 (JSON array).
  #[sea_orm(column_type = "Json")]
  pub segments_sector_3: Option<Json>,
}

/// A lap without its mini-sector codes: every column of `laps` but `meeting_key` and `segments_sector_*`, for
/// readers that never use them (the charts). Decoding the three JSON columns cost more than the rest of the row,
/// and selecting `NULL` for them to keep [`Model`] cost nearly as much again (SeaORM formats an error for every
/// NULL it reads into an `Option`); see bench/README.md, "Uncached chart profile". Load it with
/// `laps::Entity::find().into_partial_model::<laps::Timing>()`, which selects exactly these columns.
#[derive(Clone, Debug, PartialEq, DerivePartialModel)]
#[sea_orm(entity = "Entity")]
pub struct Timing {
  /// Open F1 session key.
  pub session_key: i32,
  /// Car number for the season.
  pub driver_number: i32,
  /// Lap number (starts at 1).
  pub lap_number: i32,
  /// Start time (UTC).
  pub date_start: Option<DateTimeUtc>,
  /// Sector 1 time in seconds.
  pub duration_sector_1: Option<f64>,
  /// Sector 2 time in seconds.
  pub duration_sector_2: Option<f64>,
  /// Sector 3 time in seconds.
  pub duration_sector_3: Option<f64>,
  /// Lap time in seconds.
  pub lap_duration: Option<f64>,
  /// Speed at intermediate 1 (km/h).
  pub i1_speed: Option<i32>,
  /// Speed at intermediate 2 (km/h).
  pub i2_speed: Option<i32>,
  /// Speed at the speed trap (km/h).
  pub st_speed: Option<i32>,
  /// Whether the lap started in the pit lane.
  pub is_pit_out_lap: Option<bool>,
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
