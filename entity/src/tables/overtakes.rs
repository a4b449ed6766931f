//! `overtakes` table: an overtake (races only; may be incomplete upstream).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An overtake (races only; may be incomplete upstream).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "overtakes")]
pub struct Model {
  /// Open F1 session key.
  #[sea_orm(primary_key, auto_increment = false)]
  pub session_key: i32,
  /// Time of the sample or event (UTC).
  #[sea_orm(primary_key, auto_increment = false)]
  pub date: DateTimeUtc,
  /// Car number of the overtaking driver.
  #[sea_orm(primary_key, auto_increment = false)]
  pub overtaking_driver_number: i32,
  /// Car number of the overtaken driver.
  #[sea_orm(primary_key, auto_increment = false)]
  pub overtaken_driver_number: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Position of the overtaking driver after the move.
  pub position: Option<i32>,
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
