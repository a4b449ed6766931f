//! The worker's one commit path: every writer (REST ingest, live ingest, anything added later) stores its rows
//! through [`Committer::commit`], so the change log row and the cache announcement always come with the data.
//!
//! One call is one transaction:
//! 1. the batches' rows are upserted ([`crate::store::store_rows`]: only new or changed rows are written);
//! 2. when rows were written, one `change_log` row per session (or season) they belong to is appended, as the last
//!    statement before COMMIT ([`entity::change_log::append`]);
//! 3. COMMIT;
//! 4. after COMMIT, the affected Redis scopes are invalidated and the changes published
//!    ([`crate::invalidation::CacheInvalidator::announce`]).
//!
//! Steps 2 and 3 run under one lock shared by every clone of the [`Committer`], so change ids become visible in
//! increasing order: whoever sees change `n` knows every change `< n` is committed (or was rolled back). The api's
//! cache versions rely on it (see `entity::cache`). On MySQL the lock covers only the append and the COMMIT, not the
//! upserts, so writers still store concurrently; on SQLite (one writer at a time, and a transaction that read
//! before another committed cannot write) it covers the whole transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::Endpoint;
use entity::change_log::{self, Change, PendingChange};
use sea_orm::{DatabaseBackend, DatabaseConnection, DbErr, TransactionTrait};
use serde_json::Value;

use crate::invalidation::CacheInvalidator;
use crate::metrics::Metrics;
use crate::store::{StoreOutcome, store_rows};

/// Rows of one endpoint to store, with the season they belong to (for season-wide cache scopes).
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
  /// The endpoint (= table) of the rows.
  pub endpoint: Endpoint,
  /// The rows as Open F1 sends them.
  pub rows: &'a [Value],
  /// The season of the rows, when known.
  pub year: Option<i32>,
}

/// What a commit stored and the changes it recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitOutcome {
  /// The combined store outcome of the batches.
  pub stored: StoreOutcome,
  /// The change log rows appended (empty when nothing was written).
  pub changes: Vec<Change>,
}

/// The one path by which the worker writes (cheap to clone; clones share the commit-order lock).
#[derive(Clone)]
pub struct Committer {
  database: DatabaseConnection,
  invalidator: CacheInvalidator,
  metrics: Metrics,
  commit_order: Arc<tokio::sync::Mutex<()>>,
}

impl Committer {
  /// A committer writing to `database` and announcing through `invalidator`.
  #[must_use]
  pub fn new(
    database: DatabaseConnection,
    invalidator: CacheInvalidator,
    metrics: Metrics,
  ) -> Self {
    Self {
      database,
      invalidator,
      metrics,
      commit_order: Arc::new(tokio::sync::Mutex::new(())),
    }
  }

  /// Stores `batches` in one transaction with their change log rows, commits, then invalidates and publishes
  /// (see the module documentation). Empty batches open no transaction.
  ///
  /// # Errors
  /// The database error; the transaction is rolled back and nothing is announced.
  pub async fn commit(&self, batches: &[Batch<'_>]) -> Result<CommitOutcome, DbErr> {
    if batches.iter().all(|batch| batch.rows.is_empty()) {
      for batch in batches {
        self.metrics.count_rows(batch.endpoint.name(), 0, 0);
      }
      return Ok(CommitOutcome::default());
    }
    // SQLite has one writer at a time, and a transaction that read before another connection committed cannot
    // write any more (SQLITE_BUSY_SNAPSHOT): with two writers in the process (REST ingest and the live stream), they
    // take turns for the whole transaction. MySQL writers only take turns for the append and the COMMIT.
    let whole_transaction = if self.database.get_database_backend() == DatabaseBackend::Sqlite {
      Some(self.commit_order.lock().await)
    } else {
      None
    };
    let transaction = self.database.begin().await?;
    let mut outcomes = Vec::with_capacity(batches.len());
    for batch in batches {
      outcomes.push(store_rows(&transaction, batch.endpoint, batch.rows).await?);
    }
    let pending = pending_changes(batches, &outcomes);
    let changes = if pending.is_empty() {
      transaction.commit().await?;
      Vec::new()
    } else {
      let _in_order = match whole_transaction {
        Some(_) => None,
        None => Some(self.commit_order.lock().await),
      };
      let changes = change_log::append(&transaction, &pending, Utc::now()).await?;
      transaction.commit().await?;
      changes
    };
    drop(whole_transaction);
    let mut stored = StoreOutcome::default();
    for (batch, outcome) in batches.iter().zip(outcomes) {
      self
        .metrics
        .count_rows(batch.endpoint.name(), outcome.received, outcome.written);
      if let Some(newest) = newest_date(batch.rows) {
        self
          .metrics
          .set_upstream_lag((Utc::now() - newest).num_seconds().max(0));
      }
      stored.absorb(outcome);
    }
    self.invalidator.announce(&changes).await;
    Ok(CommitOutcome { stored, changes })
  }

  /// Deletes change log rows older than [`change_log::RETENTION`] at `now` (always keeping the newest).
  ///
  /// # Errors
  /// The database error.
  pub async fn prune_change_log(&self, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let retention =
      chrono::TimeDelta::from_std(change_log::RETENTION).unwrap_or(chrono::TimeDelta::MAX);
    let pruned = change_log::prune(&self.database, now - retention).await?;
    self.metrics.count_change_log_pruned(pruned);
    Ok(pruned)
  }
}

/// The change log rows describing what `outcomes` (of `batches`, in order) wrote: one per session, plus one per
/// season whose meetings changed, each listing the tables written.
#[must_use]
pub fn pending_changes(batches: &[Batch<'_>], outcomes: &[StoreOutcome]) -> Vec<PendingChange> {
  let mut changes: BTreeMap<(Option<i32>, Option<i32>), PendingChange> = BTreeMap::new();
  let mut record = |session_key: Option<i32>, year: Option<i32>, table: &str| {
    changes
      .entry((session_key, year))
      .or_insert_with(|| PendingChange {
        session_key,
        year,
        ..PendingChange::default()
      })
      .tables
      .insert(table.to_owned());
  };
  for (batch, outcome) in batches.iter().zip(outcomes) {
    if outcome.written == 0 {
      continue;
    }
    for session_key in &outcome.sessions_changed {
      record(Some(*session_key), batch.year, batch.endpoint.name());
    }
    if !outcome.meetings_changed.is_empty() {
      record(None, batch.year, batch.endpoint.name());
    }
  }
  changes.into_values().collect()
}

fn newest_date(rows: &[Value]) -> Option<DateTime<Utc>> {
  rows
    .iter()
    .filter_map(|row| row.get("date").and_then(Value::as_str))
    .filter_map(crate::records::parse_datetime)
    .max()
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn one_change_per_session_lists_every_table_written_and_nothing_for_unchanged_batches() {
    let rows = [Value::Null];
    let batches = [
      Batch {
        endpoint: Endpoint::Laps,
        rows: &rows,
        year: Some(2024),
      },
      Batch {
        endpoint: Endpoint::Stints,
        rows: &rows,
        year: Some(2024),
      },
      Batch {
        endpoint: Endpoint::Pit,
        rows: &rows,
        year: Some(2024),
      },
      Batch {
        endpoint: Endpoint::Meetings,
        rows: &rows,
        year: Some(2024),
      },
    ];
    let written = |sessions: &[i32]| StoreOutcome {
      written: sessions.len().max(1),
      sessions_changed: sessions.iter().copied().collect(),
      ..StoreOutcome::default()
    };
    let outcomes = [
      written(&[9472, 9473]),
      written(&[9472]),
      StoreOutcome::default(),
      StoreOutcome {
        written: 1,
        meetings_changed: [1229].into(),
        ..StoreOutcome::default()
      },
    ];
    let changes = pending_changes(&batches, &outcomes);
    let described: Vec<(Option<i32>, Vec<&str>)> = changes
      .iter()
      .map(|change| {
        (
          change.session_key,
          change.tables.iter().map(String::as_str).collect(),
        )
      })
      .collect();
    assert_eq!(
      described,
      vec![
        (None, vec!["meetings"]),
        (Some(9472), vec!["laps", "stints"]),
        (Some(9473), vec!["laps"]),
      ]
    );
    assert!(pending_changes(&batches[2..3], &outcomes[2..3]).is_empty());
  }
}
