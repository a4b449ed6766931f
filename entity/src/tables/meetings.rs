//! `meetings` table: one Grand Prix weekend (or testing event).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One Grand Prix weekend (or testing event).
#[derive(Clone, Debug, Default, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "meetings")]
pub struct Model {
  /// Open F1 meeting key.
  #[sea_orm(primary_key, auto_increment = false)]
  pub meeting_key: i32,
  /// Short event name, e.g. "Japanese Grand Prix".
  pub meeting_name: Option<String>,
  /// Official event name.
  pub meeting_official_name: Option<String>,
  /// Three-letter meeting code (2023-2025 data only).
  pub meeting_code: Option<String>,
  /// City or area of the circuit.
  pub location: Option<String>,
  /// Open F1 country key.
  pub country_key: Option<i32>,
  /// Three-letter country code.
  pub country_code: Option<String>,
  /// Country name.
  pub country_name: Option<String>,
  /// URL of the country flag image.
  pub country_flag: Option<String>,
  /// Open F1 circuit key.
  pub circuit_key: Option<i32>,
  /// Short circuit name.
  pub circuit_short_name: Option<String>,
  /// "Permanent", "Temporary - Street" or "Temporary - Road".
  pub circuit_type: Option<String>,
  /// URL of circuit details (MultiViewer).
  pub circuit_info_url: Option<String>,
  /// URL of the circuit image.
  pub circuit_image: Option<String>,
  /// Local offset from UTC as "HH:MM:SS" (may be negative).
  pub gmt_offset: Option<String>,
  /// Start time (UTC).
  pub date_start: Option<DateTimeUtc>,
  /// End time (UTC).
  pub date_end: Option<DateTimeUtc>,
  /// Season year.
  pub year: i32,
  /// Whether the event was cancelled (2026+ data).
  pub is_cancelled: Option<bool>,
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
