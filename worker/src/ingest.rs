//! Fetching Open F1 responses and storing them through the one commit path ([`crate::commit`]): one transaction
//! per fetched response (the unit of work) with its change log rows, then invalidation of exactly the cache scopes
//! the written rows affect; and the `ingest_state` bookkeeping.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use entity::ingest_state::status;
use entity::{Endpoint, drivers, ingest_state, sessions};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
  ActiveValue, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
  QueryOrder, Statement,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::client::{FetchError, OpenF1Client, Query};
use crate::commit::{Batch, Committer};
use crate::invalidation::CacheInvalidator;
use crate::metrics::Metrics;
use crate::schedule::{self, SessionWork};
use crate::store::StoreOutcome;

/// Per-session endpoints fetched with `?session_key=K`, in order (drivers first: telemetry needs them).
pub const SESSION_ENDPOINTS: [Endpoint; 14] = [
  Endpoint::Drivers,
  Endpoint::SessionResult,
  Endpoint::StartingGrid,
  Endpoint::Laps,
  Endpoint::Stints,
  Endpoint::Pit,
  Endpoint::Position,
  Endpoint::Intervals,
  Endpoint::Weather,
  Endpoint::RaceControl,
  Endpoint::TeamRadio,
  Endpoint::Overtakes,
  Endpoint::ChampionshipDrivers,
  Endpoint::ChampionshipTeams,
];

/// Why an ingest stopped.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
  /// Fetching failed (after retries), or upstream is locked.
  #[error(transparent)]
  Fetch(#[from] FetchError),
  /// The database failed; the batch in flight was rolled back.
  #[error("database error")]
  Database(#[from] DbErr),
  /// Cancellation was requested; every committed batch is kept.
  #[error("stopped on request")]
  Cancelled,
}

impl IngestError {
  /// Whether upstream refused because a session is live (wait, do not count as failure).
  #[must_use]
  pub fn is_upstream_locked(&self) -> bool {
    matches!(self, Self::Fetch(FetchError::UpstreamLocked { .. }))
  }

  /// Whether the ingest was interrupted rather than failed: upstream locked, or stopped on request. Rows stored
  /// before the interruption are kept and the session is simply due again.
  #[must_use]
  pub fn is_interruption(&self) -> bool {
    self.is_upstream_locked() || matches!(self, Self::Cancelled)
  }
}

/// Counts of an ingest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
  /// Requests answered (responses stored).
  pub responses: usize,
  /// Rows received.
  pub received: usize,
  /// Rows written (new or changed).
  pub written: usize,
}

impl IngestReport {
  fn absorb(&mut self, outcome: &StoreOutcome) {
    self.responses += 1;
    self.received += outcome.received;
    self.written += outcome.written;
  }

  /// Adds another report into this one.
  pub fn add(&mut self, other: IngestReport) {
    self.responses += other.responses;
    self.received += other.received;
    self.written += other.written;
  }
}

/// Fetches and stores; shared by the daemon, `once` and `backfill`.
#[derive(Clone)]
pub struct Ingestor {
  database: DatabaseConnection,
  client: OpenF1Client,
  committer: Committer,
  telemetry_window: std::time::Duration,
}

fn open_f1_time(instant: DateTime<Utc>) -> String {
  instant.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

impl Ingestor {
  /// An ingestor writing to `database` with data from `client`.
  #[must_use]
  pub fn new(
    database: DatabaseConnection,
    client: OpenF1Client,
    invalidator: CacheInvalidator,
    metrics: Metrics,
    telemetry_window: std::time::Duration,
  ) -> Self {
    Self {
      committer: Committer::new(database.clone(), invalidator, metrics),
      database,
      client,
      telemetry_window,
    }
  }

  /// The database connection.
  #[must_use]
  pub fn database(&self) -> &DatabaseConnection {
    &self.database
  }

  /// The Open F1 client (shared rate limiter and token).
  #[must_use]
  pub fn client(&self) -> &OpenF1Client {
    &self.client
  }

  /// The one commit path every writer uses (see [`crate::commit`]).
  #[must_use]
  pub fn committer(&self) -> &Committer {
    &self.committer
  }

  /// Whether live sessions can be read (a token is configured).
  #[must_use]
  pub fn can_read_live_sessions(&self) -> bool {
    self.client.is_authenticated()
  }

  async fn fetch(
    &self,
    endpoint: Endpoint,
    query: &Query,
    cancellation: &CancellationToken,
  ) -> Result<Vec<Value>, IngestError> {
    if cancellation.is_cancelled() {
      return Err(IngestError::Cancelled);
    }
    tokio::select! {
      () = cancellation.cancelled() => Err(IngestError::Cancelled),
      rows = self.client.fetch(endpoint.name(), query) => Ok(rows?),
    }
  }

  /// Stores one fetched response through the one commit path ([`Committer::commit`]): one transaction with its
  /// change log rows, then invalidation of the affected cache scopes. `year` is the season of the rows (used for
  /// season-wide scopes).
  ///
  /// # Errors
  /// The database error; the transaction is rolled back.
  pub async fn store_batch(
    &self,
    endpoint: Endpoint,
    rows: &[Value],
    year: Option<i32>,
  ) -> Result<StoreOutcome, DbErr> {
    let outcome = self
      .committer
      .commit(&[Batch {
        endpoint,
        rows,
        year,
      }])
      .await?;
    Ok(outcome.stored)
  }

  async fn fetch_and_store(
    &self,
    endpoint: Endpoint,
    query: Query,
    year: Option<i32>,
    cancellation: &CancellationToken,
    report: &mut IngestReport,
  ) -> Result<(), IngestError> {
    let rows = self.fetch(endpoint, &query, cancellation).await?;
    let year = year.or_else(|| {
      rows
        .first()
        .and_then(|row| row.get("year"))
        .and_then(Value::as_i64)
        .and_then(|year| i32::try_from(year).ok())
    });
    // The fetched response is stored even if cancellation arrives now: the commit is the unit of work.
    let outcome = self.store_batch(endpoint, &rows, year).await?;
    report.absorb(&outcome);
    Ok(())
  }

  /// Fetches and stores the meetings and sessions of `year`.
  ///
  /// # Errors
  /// [`IngestError`] from the fetch or the database.
  #[tracing::instrument(skip(self, cancellation), err)]
  pub async fn sync_calendar(
    &self,
    year: i32,
    cancellation: &CancellationToken,
  ) -> Result<IngestReport, IngestError> {
    let mut report = IngestReport::default();
    for endpoint in [Endpoint::Meetings, Endpoint::Sessions] {
      let query = Query::new().equal("year", year);
      self
        .fetch_and_store(endpoint, query, Some(year), cancellation, &mut report)
        .await?;
    }
    Ok(report)
  }

  /// Fetches and stores the meetings and sessions selected by `field=key` (`meeting_key` or `session_key`).
  ///
  /// # Errors
  /// [`IngestError`] from the fetch or the database.
  pub async fn sync_calendar_by(
    &self,
    field: &str,
    key: i32,
    cancellation: &CancellationToken,
  ) -> Result<IngestReport, IngestError> {
    let mut report = IngestReport::default();
    let session_rows = self
      .fetch(
        Endpoint::Sessions,
        &Query::new().equal(field, key),
        cancellation,
      )
      .await?;
    let meeting_keys: BTreeSet<i64> = session_rows
      .iter()
      .filter_map(|row| row.get("meeting_key").and_then(Value::as_i64))
      .collect();
    for meeting_key in meeting_keys {
      self
        .fetch_and_store(
          Endpoint::Meetings,
          Query::new().equal("meeting_key", meeting_key),
          None,
          cancellation,
          &mut report,
        )
        .await?;
    }
    let year = session_rows
      .first()
      .and_then(|row| row.get("year"))
      .and_then(Value::as_i64)
      .and_then(|year| i32::try_from(year).ok());
    let outcome = self
      .store_batch(Endpoint::Sessions, &session_rows, year)
      .await?;
    report.absorb(&outcome);
    Ok(report)
  }

  /// Ingests one session: every per-session endpoint, then `car_data` and `location` per driver in time windows
  /// (`Full`), or only what is new since the stored watermarks (`Incremental`).
  ///
  /// # Errors
  /// [`IngestError`]; batches committed before the error are kept (re-ingesting is idempotent).
  #[tracing::instrument(skip_all, fields(session_key = session.session_key, ?work), err)]
  pub async fn ingest_session(
    &self,
    session: &sessions::Model,
    work: SessionWork,
    cancellation: &CancellationToken,
  ) -> Result<IngestReport, IngestError> {
    let session_key = session.session_key;
    let year = Some(session.year);
    let mut report = IngestReport::default();
    for endpoint in SESSION_ENDPOINTS {
      let mut query = Query::new().equal("session_key", session_key);
      if work == SessionWork::Incremental
        && endpoint.is_append_only()
        && let Some(watermark) = self.watermark(endpoint, session_key).await?
      {
        query = query.with("date", ">", open_f1_time(watermark));
      }
      self
        .fetch_and_store(endpoint, query, year, cancellation, &mut report)
        .await?;
    }
    match work {
      SessionWork::Full => {
        self
          .ingest_telemetry(session, cancellation, &mut report)
          .await?
      }
      SessionWork::Incremental => {
        for endpoint in [Endpoint::CarData, Endpoint::Location] {
          let floor = Utc::now() - TimeDelta::minutes(10);
          let watermark = self
            .watermark(endpoint, session_key)
            .await?
            .unwrap_or(floor)
            .max(floor);
          let query = Query::new().equal("session_key", session_key).with(
            "date",
            ">",
            open_f1_time(watermark),
          );
          self
            .fetch_and_store(endpoint, query, year, cancellation, &mut report)
            .await?;
        }
      }
    }
    Ok(report)
  }

  async fn ingest_telemetry(
    &self,
    session: &sessions::Model,
    cancellation: &CancellationToken,
    report: &mut IngestReport,
  ) -> Result<(), IngestError> {
    let driver_numbers: Vec<i32> = drivers::Entity::find()
      .filter(drivers::Column::SessionKey.eq(session.session_key))
      .order_by_asc(drivers::Column::DriverNumber)
      .all(&self.database)
      .await?
      .into_iter()
      .map(|driver| driver.driver_number)
      .collect();
    let windows = schedule::telemetry_windows(session, self.telemetry_window);
    for driver_number in driver_numbers {
      for (start, end) in &windows {
        for endpoint in [Endpoint::CarData, Endpoint::Location] {
          let query = Query::new()
            .equal("session_key", session.session_key)
            .equal("driver_number", driver_number)
            .with("date", ">=", open_f1_time(*start))
            .with("date", "<", open_f1_time(*end));
          self
            .fetch_and_store(endpoint, query, Some(session.year), cancellation, report)
            .await?;
        }
      }
    }
    Ok(())
  }

  /// The newest stored `date` of `endpoint` for a session.
  async fn watermark(
    &self,
    endpoint: Endpoint,
    session_key: i32,
  ) -> Result<Option<DateTime<Utc>>, DbErr> {
    let backend = self.database.get_database_backend();
    let statement = Statement::from_sql_and_values(
      backend,
      match backend {
        sea_orm::DatabaseBackend::MySql => format!(
          "SELECT MAX(`date`) AS watermark FROM `{}` WHERE session_key = ?",
          endpoint.name()
        ),
        _ => format!(
          "SELECT MAX(\"date\") AS watermark FROM \"{}\" WHERE session_key = $1",
          endpoint.name()
        ),
      },
      [session_key.into()],
    );
    let row = self.database.query_one_raw(statement).await?;
    match row {
      Some(row) => row.try_get::<Option<DateTime<Utc>>>("", "watermark"),
      None => Ok(None),
    }
  }

  /// Records the result of an ingest of `session_key` in `ingest_state`.
  ///
  /// # Errors
  /// The database error.
  pub async fn record_state(
    &self,
    session_key: i32,
    work: SessionWork,
    result: &Result<IngestReport, IngestError>,
  ) -> Result<(), DbErr> {
    let now = Utc::now();
    let previous = ingest_state::Entity::find_by_id(session_key)
      .one(&self.database)
      .await?;
    let previous_ingested_at = previous.as_ref().and_then(|state| state.ingested_at);
    let previous_count = previous.as_ref().map_or(0, |state| state.refresh_count);
    let was_ingested = previous
      .as_ref()
      .is_some_and(|state| state.status == status::INGESTED);
    let state = match (work, result) {
      (SessionWork::Incremental, Ok(_)) => ingest_state::Model {
        session_key,
        status: status::LIVE.into(),
        refresh_count: previous_count,
        ingested_at: previous_ingested_at,
        next_refresh_at: None,
        last_error: None,
        updated_at: now,
      },
      (SessionWork::Full, Ok(_)) => {
        let refresh_count = if was_ingested { previous_count + 1 } else { 0 };
        ingest_state::Model {
          session_key,
          status: status::INGESTED.into(),
          refresh_count,
          ingested_at: Some(now),
          next_refresh_at: schedule::next_refresh_at(refresh_count, now),
          last_error: None,
          updated_at: now,
        }
      }
      // Interrupted, not failed: what was stored is kept and the session is due again at once, so the daemon (or
      // the next backfill) completes it.
      (_, Err(error)) if error.is_interruption() => ingest_state::Model {
        session_key,
        status: if was_ingested {
          status::INGESTED
        } else {
          status::PARTIAL
        }
        .into(),
        refresh_count: previous_count,
        ingested_at: previous_ingested_at,
        next_refresh_at: Some(now),
        last_error: Some(error_chain(error)),
        updated_at: now,
      },
      (_, Err(error)) => ingest_state::Model {
        session_key,
        status: if was_ingested {
          status::INGESTED
        } else {
          status::FAILED
        }
        .into(),
        refresh_count: previous_count,
        ingested_at: previous_ingested_at,
        next_refresh_at: Some(now + schedule::FAILURE_RETRY_DELAY),
        last_error: Some(error_chain(error)),
        updated_at: now,
      },
    };
    let active = ingest_state::ActiveModel {
      session_key: ActiveValue::Set(state.session_key),
      status: ActiveValue::Set(state.status),
      refresh_count: ActiveValue::Set(state.refresh_count),
      ingested_at: ActiveValue::Set(state.ingested_at),
      next_refresh_at: ActiveValue::Set(state.next_refresh_at),
      last_error: ActiveValue::Set(state.last_error),
      updated_at: ActiveValue::Set(state.updated_at),
    };
    ingest_state::Entity::insert(active)
      .on_conflict(
        OnConflict::column(ingest_state::Column::SessionKey)
          .update_columns([
            ingest_state::Column::Status,
            ingest_state::Column::RefreshCount,
            ingest_state::Column::IngestedAt,
            ingest_state::Column::NextRefreshAt,
            ingest_state::Column::LastError,
            ingest_state::Column::UpdatedAt,
          ])
          .to_owned(),
      )
      .exec_without_returning(&self.database)
      .await?;
    Ok(())
  }
}

/// An error and its causes on one line.
#[must_use]
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
  let mut text = error.to_string();
  let mut source = error.source();
  while let Some(cause) = source {
    text.push_str(": ");
    text.push_str(&cause.to_string());
    source = cause.source();
  }
  text
}
