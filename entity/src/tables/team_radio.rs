//! `team_radio` table: a team radio recording.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A team radio recording.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "team_radio")]
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
  /// URL of the audio recording.
  pub recording_url: Option<String>,
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
