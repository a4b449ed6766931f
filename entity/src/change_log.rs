//! `change_log` table: what each worker commit changed, written in the same transaction as the data.
//!
//! **One row per session (or season) a commit touched**: the session (`session_key`, null when the change is not
//! about one session, e.g. a meeting), its season (`year`) and the Open F1 endpoints (= tables) whose rows changed
//! (`tables`, comma-separated). A commit of one session's laps, the usual case, is one row. The rows are the
//! last statement before COMMIT, and only exist when rows were actually written, so a row in this table means
//! "this commit is visible now".
//!
//! **Ids are committed in order.** The worker appends change rows and commits while holding one lock (its single
//! commit path), so a change id is only ever visible after every smaller id is committed or rolled back. This is
//! what makes an id a usable *version*: whoever sees change `n` and then reads the database sees every change
//! `<= n`. Readers still tolerate gaps (a rolled-back commit leaves one) and late ids (see the api's change feed).
//!
//! The worker publishes the same [`Change`]s as JSON on Redis ([`crate::cache::CacheKeys::changes_channel`])
//! after COMMIT; the table stays the truth, the publication is the fast path. Rows older than [`RETENTION`] are
//! pruned by the worker; cached entries never outlive [`crate::cache::MAX_ENTRY_LIFETIME`], which is shorter, so
//! every change that could make a living entry stale is still in the table.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue, ConnectionTrait, FromQueryResult, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::cache::{CacheScope, scopes_affected_by_name};

/// How long change rows are kept (the worker prunes older ones). Longer than any cache entry lives.
pub const RETENTION: Duration = Duration::from_secs(48 * 3600);

/// One change row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "change_log")]
pub struct Model {
  /// Increasing id: the order of commits, and the version of the cache scopes the change affects.
  #[sea_orm(primary_key)]
  pub id: i64,
  /// When the worker committed (its clock, set just before COMMIT).
  pub committed_at: DateTimeUtc,
  /// The session whose rows changed; null for changes not about one session (meetings).
  pub session_key: Option<i32>,
  /// The season of the changed rows, when known.
  pub year: Option<i32>,
  /// The endpoints (= tables) whose rows changed, comma-separated, sorted.
  pub tables: String,
}

/// No relations are declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A committed change, as read from the table and as published on Redis (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
  /// The change id (see [`Model::id`]).
  pub id: i64,
  /// When it was committed.
  pub committed_at: DateTime<Utc>,
  /// The session whose rows changed, if the change is about one session.
  pub session_key: Option<i32>,
  /// The season of the changed rows, when known.
  pub year: Option<i32>,
  /// The endpoints (= tables) whose rows changed, sorted.
  pub tables: Vec<String>,
}

impl Change {
  /// The cache scopes this change makes stale (`scopes_affected_by_name` for each table).
  #[must_use]
  pub fn scopes(&self) -> BTreeSet<CacheScope> {
    self
      .tables
      .iter()
      .flat_map(|table| scopes_affected_by_name(table, self.session_key, self.year))
      .collect()
  }

  /// Whether rows of `table` changed.
  #[must_use]
  pub fn touches(&self, table: &str) -> bool {
    self.tables.iter().any(|changed| changed == table)
  }
}

impl From<Model> for Change {
  fn from(row: Model) -> Self {
    Self {
      id: row.id,
      committed_at: row.committed_at,
      session_key: row.session_key,
      year: row.year,
      tables: split_tables(&row.tables),
    }
  }
}

fn split_tables(tables: &str) -> Vec<String> {
  tables
    .split(',')
    .filter(|table| !table.is_empty())
    .map(str::to_owned)
    .collect()
}

/// What one commit changed for one session (or season): the row to append, before it has an id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PendingChange {
  /// The session, if the change is about one.
  pub session_key: Option<i32>,
  /// The season, when known.
  pub year: Option<i32>,
  /// The tables whose rows changed.
  pub tables: BTreeSet<String>,
}

/// Appends one row per pending change (in the given order; call it as the last statement of the transaction that
/// wrote the data) and returns them with their ids. `committed_at` is kept to the microsecond (what the column
/// holds).
///
/// Rows are inserted one at a time: only a single-row insert reports its own id on every backend.
///
/// # Errors
/// Returns the database error.
pub async fn append<C: ConnectionTrait>(
  connection: &C,
  changes: &[PendingChange],
  committed_at: DateTime<Utc>,
) -> Result<Vec<Change>, DbErr> {
  let committed_at = committed_at.trunc_subsecs(6);
  let mut appended = Vec::with_capacity(changes.len());
  for change in changes {
    let tables: Vec<String> = change.tables.iter().cloned().collect();
    let row = ActiveModel {
      id: ActiveValue::NotSet,
      committed_at: ActiveValue::Set(committed_at),
      session_key: ActiveValue::Set(change.session_key),
      year: ActiveValue::Set(change.year),
      tables: ActiveValue::Set(tables.join(",")),
    };
    let inserted = Entity::insert(row).exec(connection).await?;
    appended.push(Change {
      id: inserted.last_insert_id,
      committed_at,
      session_key: change.session_key,
      year: change.year,
      tables,
    });
  }
  Ok(appended)
}

/// Changes with an id greater than `after`, oldest first, at most `limit`.
///
/// # Errors
/// Returns the database error.
pub async fn changes_after<C: ConnectionTrait>(
  connection: &C,
  after: i64,
  limit: u64,
) -> Result<Vec<Change>, DbErr> {
  selected_changes_after(connection, Entity::find(), after, limit).await
}

/// Changes of session `session_key` with an id greater than `after`, oldest first, at most `limit`.
///
/// # Errors
/// Returns the database error.
pub async fn changes_of_session_after<C: ConnectionTrait>(
  connection: &C,
  session_key: i32,
  after: i64,
  limit: u64,
) -> Result<Vec<Change>, DbErr> {
  selected_changes_after(
    connection,
    Entity::find().filter(Column::SessionKey.eq(session_key)),
    after,
    limit,
  )
  .await
}

/// The changes `selection` finds with an id greater than `after`, oldest first, at most `limit`.
async fn selected_changes_after<C: ConnectionTrait>(
  connection: &C,
  selection: Select<Entity>,
  after: i64,
  limit: u64,
) -> Result<Vec<Change>, DbErr> {
  Ok(
    selection
      .filter(Column::Id.gt(after))
      .order_by_asc(Column::Id)
      .limit(limit)
      .all(connection)
      .await?
      .into_iter()
      .map(Change::from)
      .collect(),
  )
}

#[derive(Debug, FromQueryResult)]
struct NewestOfGroup {
  session_key: Option<i32>,
  year: Option<i32>,
  tables: String,
  newest: i64,
}

/// The version of every cache scope a retained change affects (the id of the newest change affecting it), and the
/// newest id overall (`None` for an empty table). One grouped query: cheap even with many rows.
///
/// # Errors
/// Returns the database error.
pub async fn scope_versions<C: ConnectionTrait>(
  connection: &C,
) -> Result<(HashMap<CacheScope, i64>, Option<i64>), DbErr> {
  let groups = Entity::find()
    .select_only()
    .column(Column::SessionKey)
    .column(Column::Year)
    .column(Column::Tables)
    .column_as(Column::Id.max(), "newest")
    .group_by(Column::SessionKey)
    .group_by(Column::Year)
    .group_by(Column::Tables)
    .into_model::<NewestOfGroup>()
    .all(connection)
    .await?;
  let mut versions: HashMap<CacheScope, i64> = HashMap::new();
  let mut newest_overall = None;
  for group in groups {
    newest_overall = newest_overall.max(Some(group.newest));
    for table in split_tables(&group.tables) {
      for scope in scopes_affected_by_name(&table, group.session_key, group.year) {
        let version = versions.entry(scope).or_insert(group.newest);
        *version = (*version).max(group.newest);
      }
    }
  }
  Ok((versions, newest_overall))
}

/// Deletes changes committed before `before`, always keeping the newest row (so that ids never restart, whatever
/// the backend does with an empty table). Returns how many rows were deleted.
///
/// # Errors
/// Returns the database error.
pub async fn prune<C: ConnectionTrait>(
  connection: &C,
  before: DateTime<Utc>,
) -> Result<u64, DbErr> {
  let newest: Option<i64> = Entity::find()
    .select_only()
    .column_as(Column::Id.max(), "newest")
    .into_tuple::<Option<i64>>()
    .one(connection)
    .await?
    .flatten();
  let Some(newest) = newest else {
    return Ok(0);
  };
  let deleted = Entity::delete_many()
    .filter(Column::CommittedAt.lt(before))
    .filter(Column::Id.lt(newest))
    .exec(connection)
    .await?;
  Ok(deleted.rows_affected)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_change_of_laps_stales_its_session_and_one_of_results_also_its_season() {
    let change = Change {
      id: 7,
      committed_at: Utc::now(),
      session_key: Some(9472),
      year: Some(2024),
      tables: vec!["laps".to_owned(), "session_result".to_owned()],
    };
    assert_eq!(
      change.scopes().into_iter().collect::<Vec<_>>(),
      vec![CacheScope::Session(9472), CacheScope::Season(2024)]
    );
    assert!(change.touches("laps"));
    assert!(!change.touches("stints"));
  }

  #[test]
  fn the_published_json_round_trips() {
    let change = Change {
      id: 12,
      committed_at: "2024-03-02T15:13:40.123456Z".parse().expect("time"),
      session_key: None,
      year: Some(2024),
      tables: vec!["meetings".to_owned()],
    };
    let text = serde_json::to_string(&[&change]).expect("json");
    let back: Vec<Change> = serde_json::from_str(&text).expect("parse");
    assert_eq!(back, vec![change]);
  }
}
