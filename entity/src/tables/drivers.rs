//! `drivers` table: a driver's entry in one session.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A driver's entry in one session.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "drivers")]
pub struct Model {
  /// Open F1 session key.
  #[sea_orm(primary_key, auto_increment = false)]
  pub session_key: i32,
  /// Car number for the season.
  #[sea_orm(primary_key, auto_increment = false)]
  pub driver_number: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Name as shown on TV graphics.
  pub broadcast_name: Option<String>,
  /// Full name.
  pub full_name: Option<String>,
  /// First name.
  pub first_name: Option<String>,
  /// Last name.
  pub last_name: Option<String>,
  /// Three-letter acronym, e.g. "VER".
  pub name_acronym: Option<String>,
  /// Team name.
  pub team_name: Option<String>,
  /// Team colour as hex RRGGBB without '#'.
  pub team_colour: Option<String>,
  /// URL of the driver's headshot.
  pub headshot_url: Option<String>,
  /// Three-letter country code.
  pub country_code: Option<String>,
}

/// No relations are declared: tables are joined by key in queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
