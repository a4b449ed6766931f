//! `location` table: one car position sample on the track map (~3.7 Hz per car).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One car position sample on the track map (~3.7 Hz per car).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "location")]
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
  /// Track map x coordinate.
  pub x: Option<i32>,
  /// Track map y coordinate.
  pub y: Option<i32>,
  /// Track map z coordinate.
  pub z: Option<i32>,
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
