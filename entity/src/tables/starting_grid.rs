//! `starting_grid` table: a grid slot, keyed by the qualifying session that set it.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A grid slot, keyed by the qualifying session that set it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "starting_grid")]
pub struct Model {
  /// Open F1 session key.
  #[sea_orm(primary_key, auto_increment = false)]
  pub session_key: i32,
  /// Car number for the season.
  #[sea_orm(primary_key, auto_increment = false)]
  pub driver_number: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Grid position.
  pub position: Option<i32>,
  /// Qualifying lap time that set the grid slot, in seconds.
  pub lap_duration: Option<f64>,
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
