//! `championship_teams` table: teams' championship standing before and after a race.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Teams' championship standing before and after a race.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "championship_teams")]
pub struct Model {
  /// Open F1 session key.
  #[sea_orm(primary_key, auto_increment = false)]
  pub session_key: i32,
  /// Team name.
  #[sea_orm(primary_key, auto_increment = false)]
  pub team_name: String,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Team colour as hex RRGGBB without '#'.
  pub team_colour: Option<String>,
  /// Championship position before the race.
  pub position_start: Option<i32>,
  /// Championship position after (or during) the race.
  pub position_current: Option<i32>,
  /// Points before the race.
  pub points_start: Option<f64>,
  /// Points after (or during) the race.
  pub points_current: Option<f64>,
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
