//! `sessions` table: one session (practice, qualifying, sprint, race) of a meeting.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One session (practice, qualifying, sprint, race) of a meeting.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
  /// Open F1 session key.
  #[sea_orm(primary_key, auto_increment = false)]
  pub session_key: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Session name, e.g. "Race", "Sprint Qualifying".
  pub session_name: Option<String>,
  /// "Practice", "Qualifying" or "Race".
  pub session_type: Option<String>,
  /// Start time (UTC).
  pub date_start: Option<DateTimeUtc>,
  /// End time (UTC).
  pub date_end: Option<DateTimeUtc>,
  /// Open F1 circuit key.
  pub circuit_key: Option<i32>,
  /// Short circuit name.
  pub circuit_short_name: Option<String>,
  /// Open F1 country key.
  pub country_key: Option<i32>,
  /// Three-letter country code.
  pub country_code: Option<String>,
  /// Country name.
  pub country_name: Option<String>,
  /// City or area of the circuit.
  pub location: Option<String>,
  /// Local offset from UTC as "HH:MM:SS" (may be negative).
  pub gmt_offset: Option<String>,
  /// Season year.
  pub year: i32,
  /// Whether the event was cancelled (2026+ data).
  pub is_cancelled: Option<bool>,
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
