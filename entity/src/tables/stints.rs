//! `stints` table: a run on one set of tyres.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A run on one set of tyres.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "stints")]
pub struct Model {
  /// Open F1 session key.
  #[sea_orm(primary_key, auto_increment = false)]
  pub session_key: i32,
  /// Car number for the season.
  #[sea_orm(primary_key, auto_increment = false)]
  pub driver_number: i32,
  /// Stint number (starts at 1).
  #[sea_orm(primary_key, auto_increment = false)]
  pub stint_number: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// First lap of the stint.
  pub lap_start: Option<i32>,
  /// Last lap of the stint.
  pub lap_end: Option<i32>,
  /// Tyre compound, e.g. "SOFT".
  pub compound: Option<String>,
  /// Tyre age in laps at the start of the stint.
  pub tyre_age_at_start: Option<i32>,
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
