//! The worker keeps the database in step with the Open F1 API and evicts exactly the cache entries it makes
//! stale.
//!
//! Its modules (private but [`records`]; what other crates use is re-exported below):
//!
//! - `settings`: the typed settings read from environment variables ([`Settings`]).
//! - `client`: the rate-limited, retrying, authenticating Open F1 client.
//! - [`records`]: parsing upstream rows into validated models (unknown fields ignored, bad rows rejected).
//! - `store`: upserting parsed rows on their natural keys, writing only what is new or changed ([`store_rows`]).
//! - `commit`: the one commit path every writer uses ([`Committer`]): store, append the change log, COMMIT,
//!   invalidate, publish.
//! - `ingest`: fetch, store one response per transaction (through `commit`), keep `ingest_state`.
//! - `live`: live ingest from Open F1's MQTT stream (with credentials, through `commit`), gaps filled over REST
//!   ([`LiveHandle`]).
//! - `schedule`: when a session is due (first ingest, live polling, re-polls for corrections).
//! - `invalidation`: Redis cache invalidation and change publication that never block ingest
//!   ([`CacheInvalidator`]).
//! - `lease`: the single-writer lease (MySQL `GET_LOCK` or a SQLite lock file; [`Lease`]).
//! - `metrics`, `server`: Prometheus metrics ([`Metrics`]) and the health/readiness/metrics HTTP server.
//! - `telemetry`: logging setup ([`init_telemetry`]). `cli`: the command line ([`Cli`]: `run`, `once`, `backfill`,
//!   `migrate`, `healthcheck`).
//!
//! [`Worker::build`] then [`Worker::run_until_stopped`] run the daemon; tests drive [`Worker::poll_once`].

mod cli;
mod client;
mod commit;
mod ingest;
mod invalidation;
mod lease;
mod live;
mod metrics;
pub mod records;
mod schedule;
mod server;
mod settings;
mod store;
mod telemetry;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use entity::{ingest_state, sessions};
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client::OpenF1Client;
use crate::ingest::{IngestError, IngestReport, Ingestor, error_chain};
use crate::schedule::SessionWork;
use entity::sessions::SessionPhase;

pub use crate::cli::Cli;
pub use crate::commit::{Batch, Committer};
pub use crate::invalidation::CacheInvalidator;
pub use crate::lease::{Lease, LeaseError};
pub use crate::live::{LiveHandle, LiveStatus, tls_configuration};
pub use crate::metrics::Metrics;
pub use crate::settings::{
  BrokerAddress, Credentials, ENVIRONMENT_VARIABLES, LiveTuning, MQTT_OFF, MqttSettings,
  RetrySettings, Secret, Settings,
};
pub use crate::store::{StoreOutcome, store_rows};
pub use crate::telemetry::init as init_telemetry;

/// How long the daemon waits after upstream said a session is live and no token is configured.
pub(crate) const UPSTREAM_LOCKED_BACKOFF: Duration = Duration::from_secs(300);
/// First wait after a poll that failed as a whole (e.g. database down); doubles up to [`MAX_ERROR_BACKOFF`].
const MIN_ERROR_BACKOFF: Duration = Duration::from_secs(5);
/// Longest wait after failed polls.
const MAX_ERROR_BACKOFF: Duration = Duration::from_secs(300);
/// How long the HTTP server may take to finish its requests at shutdown.
const SERVER_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// What one poll did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollOutcome {
  /// Rows were written.
  NewData {
    /// Rows inserted or updated.
    rows_written: usize,
  },
  /// Everything due was fetched and nothing changed (or nothing was due).
  NothingNew,
  /// Some sessions failed (recorded in `ingest_state`, retried later); others may have written rows.
  PartlyFailed {
    /// Rows inserted or updated.
    rows_written: usize,
    /// Sessions (or calendar years) that failed.
    failures: usize,
  },
  /// Upstream is locked while a session is live and no token is configured: wait and retry later.
  UpstreamLocked,
  /// Cancellation was requested; committed batches are kept.
  Stopped,
}

/// What to backfill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackfillTarget {
  /// Every finished session of a season.
  Year(i32),
  /// Every finished session of a meeting.
  Meeting(i32),
  /// One session.
  Session(i32),
}

/// The worker: settings, database, upstream client, cache invalidator, metrics and the bound metrics listener.
pub struct Worker {
  settings: Arc<Settings>,
  ingestor: Ingestor,
  metrics: Metrics,
  lease: Arc<Mutex<Option<Lease>>>,
  database_monitor: entity::database::DatabaseMonitor,
  acceptor: Option<TcpAcceptor>,
  local_address: SocketAddr,
  last_calendar_sync: Mutex<Option<Instant>>,
  live_status: watch::Sender<LiveStatus>,
}

/// Installs the ring TLS provider for rustls once per process; "already installed" is fine.
pub fn install_tls_provider() {
  rustls::crypto::ring::default_provider()
    .install_default()
    .ok();
}

/// Sleeps for `duration` unless cancelled first; returns whether the sleep completed.
pub(crate) async fn sleep_unless_cancelled(
  duration: Duration,
  cancellation: &CancellationToken,
) -> bool {
  tokio::select! {
    () = cancellation.cancelled() => false,
    () = tokio::time::sleep(duration) => true,
  }
}

/// Whether the calendar must be synced at `now`, given when it last was.
#[must_use]
fn calendar_sync_due(last: Option<Instant>, now: Instant, interval: Duration) -> bool {
  last.is_none_or(|last| now.duration_since(last) >= interval)
}

impl Worker {
  /// Connects to the database, prepares the client and the cache invalidator, and binds the metrics listener
  /// (use port 0 in tests, then [`Worker::port`]).
  ///
  /// # Errors
  /// Fails when the database cannot be reached, the Redis URL is invalid or the address cannot be bound.
  pub async fn build(settings: Settings) -> anyhow::Result<Self> {
    install_tls_provider();
    let metrics = Metrics::new().context("could not register the metrics")?;
    let database = entity::database::connect(
      settings.shared.database_url.expose(),
      &entity::database::DatabaseOptions::default(),
    )
    .await
    .context("could not connect to the database (DATABASE_URL)")?;
    let database_monitor =
      entity::database::DatabaseMonitor::start(settings.shared.database_url.expose())
        .context("could not watch the database (DATABASE_URL)")?;
    let client =
      OpenF1Client::new(&settings, metrics.clone()).context("could not build the HTTP client")?;
    let invalidator = CacheInvalidator::new(
      settings.shared.redis_url.as_ref().map(|url| url.expose()),
      &settings.shared.cache_prefix,
      metrics.clone(),
    )
    .context("invalid REDIS_URL")?;
    let acceptor = TcpListener::bind(settings.metrics_address)
      .into_acceptor()
      .await
      .with_context(|| {
        format!(
          "could not bind WORKER_METRICS_ADDRESS {}",
          settings.metrics_address
        )
      })?;
    let local_address = acceptor
      .local_addr()
      .first()
      .and_then(|address| address.as_socket_addr().copied())
      .unwrap_or(settings.metrics_address);
    let ingestor = Ingestor::new(
      database,
      client,
      invalidator,
      metrics.clone(),
      settings.telemetry_window,
    );
    Ok(Self {
      settings: Arc::new(settings),
      ingestor,
      metrics,
      lease: Arc::new(Mutex::new(None)),
      database_monitor,
      acceptor: Some(acceptor),
      local_address,
      last_calendar_sync: Mutex::new(None),
      live_status: watch::Sender::new(LiveStatus::default()),
    })
  }

  /// The port of the metrics server.
  #[must_use]
  pub fn port(&self) -> u16 {
    self.local_address.port()
  }

  /// The metrics.
  #[must_use]
  pub fn metrics(&self) -> &Metrics {
    &self.metrics
  }

  /// The ingestor (fetch-and-store operations).
  #[must_use]
  pub fn ingestor(&self) -> &Ingestor {
    &self.ingestor
  }

  /// Starts the live ingest from Open F1's MQTT stream when credentials and a broker are configured (else `None`):
  /// it runs until `cancellation` fires or [`LiveHandle::stop`]. While it is subscribed, [`Worker::poll_once`]
  /// leaves live sessions to it. Only the lease holder may call this (the daemon does, after taking the lease).
  ///
  /// # Errors
  /// Fails when TLS cannot be set up for an `mqtts://` broker.
  pub fn start_live_ingest(
    &self,
    cancellation: &CancellationToken,
  ) -> anyhow::Result<Option<LiveHandle>> {
    live::start(
      self.ingestor.clone(),
      &self.settings,
      self.metrics.clone(),
      self.live_status.clone(),
      cancellation,
    )
    .context("could not start the live MQTT ingest")
  }

  /// The live ingest's status (all defaults while it is not running).
  #[must_use]
  pub fn live_status(&self) -> LiveStatus {
    self.live_status.borrow().clone()
  }

  /// Waits for the single-writer lease (unless already held).
  ///
  /// # Errors
  /// [`LeaseError`] when cancelled or the database cannot be used.
  pub async fn acquire_lease(&self, cancellation: &CancellationToken) -> Result<(), LeaseError> {
    {
      let mut slot = self.lease.lock().await;
      if let Some(lease) = slot.as_ref()
        && lease.is_held().await
      {
        return Ok(());
      }
      *slot = None;
    }
    self.metrics.set_lease_held(false);
    // Wait without holding the slot, so `/readyz` answers meanwhile.
    let lease = Lease::acquire(self.settings.shared.database_url.expose(), cancellation).await?;
    *self.lease.lock().await = Some(lease);
    self.metrics.set_lease_held(true);
    Ok(())
  }

  /// Whether this worker holds the lease.
  pub async fn holds_lease(&self) -> bool {
    match self.lease.lock().await.as_ref() {
      Some(lease) => lease.is_held().await,
      None => false,
    }
  }

  /// One pass: prunes the change log, syncs the calendar when due, then ingests every session that is due (live
  /// sessions first, then the most recent finished ones). One failing session is recorded and does not stop the
  /// others.
  ///
  /// # Errors
  /// Fails when the database cannot be read to decide what is due.
  pub async fn poll_once(&self, cancellation: &CancellationToken) -> anyhow::Result<PollOutcome> {
    let mut failures = 0;
    let mut rows_written = 0;
    match self.ingestor.committer().prune_change_log(Utc::now()).await {
      Ok(0) => {}
      Ok(pruned) => tracing::debug!(pruned, "pruned the change log"),
      Err(error) => tracing::warn!(error = %error_chain(&error), "could not prune the change log"),
    }
    {
      let mut last_sync = self.last_calendar_sync.lock().await;
      if calendar_sync_due(*last_sync, Instant::now(), self.settings.calendar_interval) {
        let mut synced_all = true;
        for year in &self.settings.years {
          match self.ingestor.sync_calendar(*year, cancellation).await {
            Ok(report) => rows_written += report.written,
            Err(IngestError::Cancelled) => return Ok(PollOutcome::Stopped),
            Err(error) if error.is_upstream_locked() => return Ok(PollOutcome::UpstreamLocked),
            Err(error) => {
              synced_all = false;
              failures += 1;
              tracing::error!(year, error = %error_chain(&error), "calendar sync failed");
            }
          }
        }
        if synced_all {
          *last_sync = Some(Instant::now());
        }
      }
    }

    let due = self.sessions_due().await?;
    for (session, work) in due {
      if cancellation.is_cancelled() {
        return Ok(PollOutcome::Stopped);
      }
      let connection = self.live_status.borrow().connections;
      let result = self
        .ingestor
        .ingest_session(&session, work, cancellation)
        .await;
      if work == SessionWork::Incremental && result.is_ok() {
        // Caught up over REST while the same MQTT connection streamed: the stream carries it on from here.
        self.live_status.send_if_modified(|live| {
          live.subscribed
            && live.connections == connection
            && live.caught_up_sessions.insert(session.session_key)
        });
      }
      match &result {
        Err(IngestError::Cancelled) => return Ok(PollOutcome::Stopped),
        Err(error) if error.is_upstream_locked() => return Ok(PollOutcome::UpstreamLocked),
        Err(error) => {
          failures += 1;
          tracing::error!(session_key = session.session_key, error = %error_chain(error), "session ingest failed");
        }
        Ok(report) => {
          rows_written += report.written;
          tracing::info!(
            session_key = session.session_key,
            ?work,
            received = report.received,
            written = report.written,
            "session ingested"
          );
        }
      }
      self
        .ingestor
        .record_state(session.session_key, work, &result)
        .await
        .context("could not record the ingest state")?;
    }
    Ok(if failures > 0 {
      PollOutcome::PartlyFailed {
        rows_written,
        failures,
      }
    } else if rows_written > 0 {
      PollOutcome::NewData { rows_written }
    } else {
      PollOutcome::NothingNew
    })
  }

  /// Sessions of the configured years that need work now, live ones first, then the newest first.
  async fn sessions_due(&self) -> anyhow::Result<Vec<(sessions::Model, SessionWork)>> {
    let database = self.ingestor.database();
    let sessions = sessions::Entity::find()
      .filter(sessions::Column::Year.is_in(self.settings.years.clone()))
      .all(database)
      .await
      .context("could not read the sessions")?;
    let states: HashMap<i32, ingest_state::Model> = ingest_state::Entity::find()
      .all(database)
      .await
      .context("could not read the ingest state")?
      .into_iter()
      .map(|state| (state.session_key, state))
      .collect();
    let now = Utc::now();
    let authenticated = self.ingestor.can_read_live_sessions();
    // While the MQTT stream is subscribed, a live session whose gap it filled is its job; one it has not caught up
    // (e.g. it appeared in the calendar after the stream connected) is polled once more over REST.
    let live = self.live_status.borrow().clone();
    let mut due: Vec<(sessions::Model, SessionWork)> = sessions
      .into_iter()
      .filter_map(|session| {
        let state = states.get(&session.session_key);
        schedule::work_for(&session, state, now, authenticated).map(|work| (session, work))
      })
      .filter(|(session, work)| {
        !(*work == SessionWork::Incremental && live.streams(session.session_key))
      })
      .collect();
    due.sort_by(|(left, left_work), (right, right_work)| {
      let live_first = (*left_work == SessionWork::Full).cmp(&(*right_work == SessionWork::Full));
      live_first.then(right.date_start.cmp(&left.date_start))
    });
    Ok(due)
  }

  /// Waits [`Settings::upstream_locked_backoff`] after Open F1 answered 401 "session in progress" during a
  /// backfill, saying so in one clear log line; false when cancelled meanwhile.
  async fn wait_while_upstream_locked(&self, what: &str, cancellation: &CancellationToken) -> bool {
    let wait = self.settings.upstream_locked_backoff;
    tracing::warn!(
      wait_seconds = wait.as_secs_f64(),
      "backfill: Open F1 answered 401 \"session in progress\" for {what}: while any session is live (from 30 \
       minutes before its start to 30 minutes after its end) it serves authenticated clients only. Waiting {} s, \
       then trying again; rows already stored are kept. Ctrl-C stops (interrupted sessions are recorded as \
       `partial` in ingest_state). OPENF1_USERNAME/OPENF1_PASSWORD avoid the wait.",
      wait.as_secs()
    );
    sleep_unless_cancelled(wait, cancellation).await
  }

  /// The message of a backfill stopped on request (SIGTERM, Ctrl-C).
  fn backfill_stopped(session_key: Option<i32>) -> anyhow::Error {
    match session_key {
      Some(session_key) => anyhow::anyhow!(
        "backfill stopped on request during session {session_key}: its rows stored so far are kept and it is \
         recorded as `partial` in ingest_state, so the daemon completes it (if its year is in WORKER_YEARS) or \
         the next backfill does"
      ),
      None => anyhow::anyhow!("backfill stopped on request while fetching the calendar"),
    }
  }

  /// Ingests every finished session of `target` in full, whatever its bookkeeping says, logging progress as
  /// "n/N sessions, rows so far".
  ///
  /// When Open F1 answers 401 "session in progress" (it locks unauthenticated clients out while any session is
  /// live), the backfill records the interrupted session as `partial` in `ingest_state`, waits
  /// [`Settings::upstream_locked_backoff`] (the daemon's back-off) with a clear log line and tries again: the lock
  /// ends by itself within hours, and stopping would throw away the progress of a long backfill. Cancellation
  /// (SIGTERM, Ctrl-C) stops it at any time, with the interrupted session recorded as `partial` too.
  ///
  /// # Errors
  /// Fails on the first session that cannot be ingested, or when cancelled.
  pub async fn backfill(
    &self,
    target: BackfillTarget,
    cancellation: &CancellationToken,
  ) -> anyhow::Result<IngestReport> {
    let mut report = loop {
      let calendar = match target {
        BackfillTarget::Year(year) => self.ingestor.sync_calendar(year, cancellation).await,
        BackfillTarget::Meeting(key) => {
          self
            .ingestor
            .sync_calendar_by("meeting_key", key, cancellation)
            .await
        }
        BackfillTarget::Session(key) => {
          self
            .ingestor
            .sync_calendar_by("session_key", key, cancellation)
            .await
        }
      };
      match calendar {
        Err(error) if error.is_upstream_locked() => {
          if !self
            .wait_while_upstream_locked("the calendar", cancellation)
            .await
          {
            return Err(Self::backfill_stopped(None));
          }
        }
        Err(IngestError::Cancelled) => return Err(Self::backfill_stopped(None)),
        calendar => break calendar.context("could not fetch the calendar")?,
      }
    };
    let filter = match target {
      BackfillTarget::Year(year) => sessions::Column::Year.eq(year),
      BackfillTarget::Meeting(key) => sessions::Column::MeetingKey.eq(key),
      BackfillTarget::Session(key) => sessions::Column::SessionKey.eq(key),
    };
    let now = Utc::now();
    let mut targets: Vec<sessions::Model> = sessions::Entity::find()
      .filter(filter)
      .all(self.ingestor.database())
      .await?
      .into_iter()
      .filter(|session| {
        let finished = session.phase(now) == SessionPhase::Finished;
        if !finished {
          tracing::info!(
            session_key = session.session_key,
            "skipping a session that is not finished"
          );
        }
        finished
      })
      .collect();
    targets.sort_by_key(|session| session.date_start);
    let total = targets.len();
    tracing::info!(?target, sessions = total, "backfill started");
    for (index, session) in targets.iter().enumerate() {
      let session_key = session.session_key;
      let session_report = loop {
        let result = self
          .ingestor
          .ingest_session(session, SessionWork::Full, cancellation)
          .await;
        self
          .ingestor
          .record_state(session_key, SessionWork::Full, &result)
          .await
          .with_context(|| format!("could not record the ingest state of session {session_key}"))?;
        match result {
          Err(error) if error.is_upstream_locked() => {
            let what = format!("session {session_key}");
            if !self.wait_while_upstream_locked(&what, cancellation).await {
              return Err(Self::backfill_stopped(Some(session_key)));
            }
          }
          Err(IngestError::Cancelled) => return Err(Self::backfill_stopped(Some(session_key))),
          result => {
            break result.with_context(|| format!("could not ingest session {session_key}"))?;
          }
        }
      };
      report.add(session_report);
      tracing::info!(
        "backfill: {}/{total} sessions, {} rows so far ({} written)",
        index + 1,
        report.received,
        report.written
      );
    }
    Ok(report)
  }

  /// Runs the daemon until `cancellation` fires: serves health and metrics, waits for the lease, then polls every
  /// `WORKER_POLL_INTERVAL_SECONDS` (longer after upstream locks or errors). Every wait is raced against
  /// cancellation; a batch in flight is committed or rolled back, never left half-written.
  ///
  /// # Errors
  /// Fails when the lease cannot be taken for a reason other than cancellation.
  pub async fn run_until_stopped(mut self, cancellation: CancellationToken) -> anyhow::Result<()> {
    let server_stop = CancellationToken::new();
    let server = self.acceptor.take().map(|acceptor| {
      let routes = server::routes(server::ServerState {
        database_monitor: self.database_monitor.clone(),
        lease: self.lease.clone(),
        metrics: self.metrics.clone(),
      });
      let stop = server_stop.clone();
      tokio::spawn(async move {
        poem::Server::new_with_acceptor(acceptor)
          .run_with_graceful_shutdown(
            routes,
            async move { stop.cancelled().await },
            Some(SERVER_SHUTDOWN_TIMEOUT),
          )
          .await
      })
    });
    tracing::info!(address = %self.local_address, "health and metrics server listening");

    let result = self.poll_until_stopped(&cancellation).await;

    server_stop.cancel();
    if let Some(server) = server {
      match server.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "the metrics server failed"),
        Err(error) => tracing::warn!(%error, "the metrics server task failed"),
      }
    }
    *self.lease.lock().await = None;
    tracing::info!("worker stopped");
    result
  }

  async fn poll_until_stopped(&self, cancellation: &CancellationToken) -> anyhow::Result<()> {
    let mut live: Option<LiveHandle> = None;
    let result = self.poll_with_live(cancellation, &mut live).await;
    if let Some(live) = live {
      live.stop().await;
    }
    result
  }

  /// The poll loop; runs the live ingest (in `live`) only while the lease is held.
  async fn poll_with_live(
    &self,
    cancellation: &CancellationToken,
    live: &mut Option<LiveHandle>,
  ) -> anyhow::Result<()> {
    let mut error_backoff = MIN_ERROR_BACKOFF;
    let mut live_unavailable = false;
    loop {
      if live.is_some() && !self.holds_lease().await {
        tracing::warn!("lost the worker lease; stopping the live ingest until it is back");
        if let Some(running) = live.take() {
          running.stop().await;
        }
      }
      match self.acquire_lease(cancellation).await {
        Ok(()) => {}
        Err(LeaseError::Cancelled) => return Ok(()),
        Err(error) => {
          tracing::error!(error = %error_chain(&error), "could not take the worker lease");
          if !sleep_unless_cancelled(error_backoff, cancellation).await {
            return Ok(());
          }
          error_backoff = (error_backoff * 2).min(MAX_ERROR_BACKOFF);
          continue;
        }
      }
      if live.is_none() && !live_unavailable {
        match self.start_live_ingest(cancellation) {
          Ok(started) => {
            live_unavailable = started.is_none();
            *live = started;
          }
          Err(error) => {
            live_unavailable = true;
            tracing::error!(
              error = format!("{error:#}"),
              "live ingest disabled; live sessions are polled over REST"
            );
          }
        }
      }
      let wait = match self.poll_once(cancellation).await {
        Ok(PollOutcome::Stopped) => return Ok(()),
        Ok(PollOutcome::UpstreamLocked) => {
          tracing::info!(
            wait_seconds = self.settings.upstream_locked_backoff.as_secs(),
            "a session is live and no token is configured; waiting"
          );
          self.settings.upstream_locked_backoff
        }
        Ok(outcome) => {
          error_backoff = MIN_ERROR_BACKOFF;
          if !matches!(outcome, PollOutcome::PartlyFailed { .. }) {
            self.metrics.record_success();
          } else {
            self.metrics.count_poll_failure();
          }
          tracing::debug!(?outcome, "poll finished");
          self.settings.poll_interval
        }
        Err(error) => {
          self.metrics.count_poll_failure();
          tracing::error!(error = format!("{error:#}"), "poll failed");
          let wait = error_backoff;
          error_backoff = (error_backoff * 2).min(MAX_ERROR_BACKOFF);
          wait
        }
      };
      if !sleep_unless_cancelled(wait, cancellation).await {
        return Ok(());
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[tokio::test(start_paused = true)]
  async fn the_calendar_is_synced_again_only_after_its_interval() {
    let interval = Duration::from_secs(21_600);
    let start = Instant::now();
    assert!(calendar_sync_due(None, start, interval));
    tokio::time::advance(Duration::from_secs(21_599)).await;
    assert!(!calendar_sync_due(Some(start), Instant::now(), interval));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(calendar_sync_due(Some(start), Instant::now(), interval));
  }

  #[tokio::test(start_paused = true)]
  async fn a_wait_is_cut_short_by_cancellation_and_otherwise_lasts_its_duration() {
    let cancellation = CancellationToken::new();
    let started = Instant::now();
    assert!(sleep_unless_cancelled(Duration::from_secs(60), &cancellation).await);
    assert_eq!(started.elapsed(), Duration::from_secs(60));

    let canceller = cancellation.clone();
    tokio::spawn(async move {
      tokio::time::sleep(Duration::from_secs(5)).await;
      canceller.cancel();
    });
    let started = Instant::now();
    assert!(!sleep_unless_cancelled(UPSTREAM_LOCKED_BACKOFF, &cancellation).await);
    assert_eq!(started.elapsed(), Duration::from_secs(5));
  }
}
