//! `intervals` table: a gap sample (races only, ~every 4 s).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A gap sample (races only, ~every 4 s).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "intervals")]
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
  /// Gap to the leader in seconds, when numeric.
  pub gap_to_leader: Option<f64>,
  /// Gap to the leader when upstream sent text, e.g. "+1 LAP".
  pub gap_to_leader_text: Option<String>,
  /// Gap to the car ahead in seconds, when numeric.
  pub interval: Option<f64>,
  /// Gap to the car ahead when upstream sent text, e.g. "+1 LAP".
  pub interval_text: Option<String>,
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
