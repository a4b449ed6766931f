//! `session_result` table: a driver's classified result in a session.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A driver's classified result in a session.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "session_result")]
pub struct Model {
  /// Open F1 session key.
  #[sea_orm(primary_key, auto_increment = false)]
  pub session_key: i32,
  /// Car number for the season.
  #[sea_orm(primary_key, auto_increment = false)]
  pub driver_number: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Classified position (null for DNF/DNS/DSQ).
  pub position: Option<i32>,
  /// Laps completed.
  pub number_of_laps: Option<i32>,
  /// Did not finish.
  pub dnf: Option<bool>,
  /// Did not start.
  pub dns: Option<bool>,
  /// Disqualified.
  pub dsq: Option<bool>,
  /// Race: total time in seconds; qualifying: [Q1, Q2, Q3]; practice: best lap (JSON).
  #[sea_orm(column_type = "Json")]
  pub duration: Option<Json>,
  /// Number of seconds, "+N LAP(S)" text, or [Q1, Q2, Q3] in qualifying (JSON, as sent upstream).
  #[sea_orm(column_type = "Json")]
  pub gap_to_leader: Option<Json>,
  /// Points scored.
  pub points: Option<f64>,
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
