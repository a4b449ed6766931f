//! `race_control` table: a race control message (flags, safety car, incidents).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A race control message (flags, safety car, incidents).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "race_control")]
pub struct Model {
  /// Open F1 session key.
  #[sea_orm(primary_key, auto_increment = false)]
  pub session_key: i32,
  /// Hash of the message's identifying fields (the upstream key plus the message text).
  #[sea_orm(primary_key, auto_increment = false)]
  pub event_key: String,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Time of the sample or event (UTC).
  pub date: Option<DateTimeUtc>,
  /// Message category, e.g. "Flag", "SafetyCar".
  pub category: Option<String>,
  /// Flag, e.g. "YELLOW".
  pub flag: Option<String>,
  /// "Track", "Driver" or "Sector".
  pub scope: Option<String>,
  /// Mini-sector number the message refers to.
  pub sector: Option<i32>,
  /// Car number for the season.
  pub driver_number: Option<i32>,
  /// Lap number (starts at 1).
  pub lap_number: Option<i32>,
  /// Qualifying part (1-3) or null.
  pub qualifying_phase: Option<i32>,
  /// Message text.
  #[sea_orm(column_type = "Text")]
  pub message: Option<String>,
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
