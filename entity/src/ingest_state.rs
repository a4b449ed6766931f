//! `ingest_state` table: the worker's record of each session it has ingested and when to look again.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// The values of [`Model::status`].
pub mod status {
  /// Every endpoint was stored.
  pub const INGESTED: &str = "ingested";
  /// The session is being polled while it runs.
  pub const LIVE: &str = "live";
  /// The last attempt failed.
  pub const FAILED: &str = "failed";
  /// An ingest was interrupted after storing some endpoints; due again at once.
  pub const PARTIAL: &str = "partial";
}

/// What the worker knows about one session's ingest.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "ingest_state")]
pub struct Model {
  /// Open F1 session key.
  #[sea_orm(primary_key, auto_increment = false)]
  pub session_key: i32,
  /// `"ingested"` once every endpoint was stored, `"live"` while polling a running session, `"failed"` after an
  /// error, `"partial"` when an ingest was interrupted (upstream locked while a session is live, or stopped on
  /// request) after storing some endpoints: due again at once (`next_refresh_at`), so the daemon completes it.
  pub status: String,
  /// How many times the session was re-polled after its first complete ingest.
  pub refresh_count: i32,
  /// When the last complete ingest committed.
  pub ingested_at: Option<DateTimeUtc>,
  /// When the worker should re-poll the session for upstream corrections (null: never again).
  pub next_refresh_at: Option<DateTimeUtc>,
  /// The last error, with its cause chain, if the last attempt failed.
  #[sea_orm(column_type = "Text")]
  pub last_error: Option<String>,
  /// When this row last changed.
  pub updated_at: DateTimeUtc,
}

/// No relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
