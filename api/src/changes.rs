//! The change feed: what the worker committed, learned from the `change_log` table (the truth, works without
//! Redis, e.g. api and worker as two processes on one SQLite file) and, when Redis is configured, from the
//! `{prefix}:changes` channel (the fast path).
//!
//! [`ChangeFeed`] knows, for every cache scope, the id of the newest change affecting it ([`ChangeFeed::version`]):
//! the response cache serves an entry only while its version is at least that (see `entity::cache`). It also keeps
//! the [`SessionDirectory`], the facts about every session that a cache hit needs (existence, dates: liveness and
//! so the time-to-live), so that a hit never queries the database.
//!
//! **How changes are applied.** At start the feed reads the version of every scope
//! ([`entity::change_log::scope_versions`]). Then a poller reads `changes_after(newest)` every
//! `API_CHANGE_POLL_INTERVAL_MILLISECONDS`; a published change is applied at once when it directly follows the
//! newest applied id, and otherwise wakes the poller (the ids in between may be committed and not yet published).
//! Changes are applied in id order, each once; a change touching `sessions` or `meetings` reloads the directory
//! before its versions are raised. Ids the poller skipped over (a rolled-back commit leaves a gap; another
//! writer could commit a smaller id late) are looked for again for [`GAP_PATIENCE`], and applied when they
//! appear, after larger ones.
//!
//! **Failures.** A failing poll is logged, counted and reported by `/readyz`; the feed keeps what it knows and the
//! cache keeps serving entries by the versions it knows (see the cache module for what that means during an
//! outage). A lost Redis subscription is re-established every second; the poller covers the gap.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use entity::cache::{CacheKeys, CacheScope};
use entity::change_log::{self, Change};
use entity::{meetings, sessions};
use futures::StreamExt;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, QuerySelect};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// How many changes one poll reads at most (it reads again at once when it got that many).
pub const POLL_BATCH: u64 = 1000;
/// Longest wait for one poll (or directory reload) before it counts as failed.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait for the initial load in [`ChangeFeed::start`]; after that the feed loads in the background (the
/// cache is bypassed until it has).
pub const START_TIMEOUT: Duration = Duration::from_secs(2);
/// How long an id the poller skipped over is looked for again.
pub const GAP_PATIENCE: Duration = Duration::from_secs(30);
/// Most ids one jump of the newest id may leave to be looked for again (a larger jump, e.g. an auto-increment
/// that skipped ahead, is not a gap worth watching).
pub const MAX_GAP: i64 = 1000;
/// Wait before subscribing again after the Redis subscription failed.
pub const RESUBSCRIBE_DELAY: Duration = Duration::from_secs(1);
/// Changes buffered for each [`ChangeFeed::subscribe`] receiver before it lags.
pub const BROADCAST_CAPACITY: usize = 1024;

/// The facts a cache hit needs about sessions and seasons, in memory: every session row, and the seasons that
/// have meetings. Loaded at start and reloaded when a change touches `sessions` or `meetings`.
#[derive(Clone, Default)]
pub struct SessionDirectory {
  state: Arc<RwLock<DirectoryState>>,
}

#[derive(Default)]
struct DirectoryState {
  sessions: HashMap<i32, Arc<sessions::Model>>,
  seasons: BTreeSet<i32>,
}

impl SessionDirectory {
  /// The session with key `session_key`, if the directory knows it.
  #[must_use]
  pub fn session(&self, session_key: i32) -> Option<Arc<sessions::Model>> {
    self.read().sessions.get(&session_key).cloned()
  }

  /// Whether the directory knows meetings of season `year`.
  #[must_use]
  pub fn has_season(&self, year: i32) -> bool {
    self.read().seasons.contains(&year)
  }

  /// Records a session read from the database (a lookup the directory could not answer).
  pub fn remember_session(&self, session: sessions::Model) {
    self
      .write()
      .sessions
      .insert(session.session_key, Arc::new(session));
  }

  /// Records that season `year` has meetings (a lookup the directory could not answer).
  pub fn remember_season(&self, year: i32) {
    self.write().seasons.insert(year);
  }

  /// How many sessions the directory knows.
  #[must_use]
  pub fn session_count(&self) -> usize {
    self.read().sessions.len()
  }

  async fn reload(&self, database: &DatabaseConnection) -> Result<(), DbErr> {
    let rows = sessions::Entity::find().all(database).await?;
    let years: Vec<i32> = meetings::Entity::find()
      .select_only()
      .column(meetings::Column::Year)
      .distinct()
      .into_tuple()
      .all(database)
      .await?;
    let mut state = self.write();
    state.sessions = rows
      .into_iter()
      .map(|session| (session.session_key, Arc::new(session)))
      .collect();
    state.seasons = years.into_iter().collect();
    Ok(())
  }

  fn read(&self) -> std::sync::RwLockReadGuard<'_, DirectoryState> {
    self
      .state
      .read()
      .unwrap_or_else(std::sync::PoisonError::into_inner)
  }

  fn write(&self) -> std::sync::RwLockWriteGuard<'_, DirectoryState> {
    self
      .state
      .write()
      .unwrap_or_else(std::sync::PoisonError::into_inner)
  }
}

/// The state of the feed, for `/readyz` and the logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedHealth {
  /// Whether the initial load succeeded (until then the response cache is bypassed).
  pub loaded: bool,
  /// The newest change id applied.
  pub newest: i64,
  /// How long ago the last poll succeeded (`None`: never).
  pub since_last_poll: Option<Duration>,
  /// The error of the last poll, when it failed.
  pub poll_error: Option<String>,
  /// The Redis subscription: `none` (no Redis), `subscribed` or `down`.
  pub subscription: &'static str,
}

impl FeedHealth {
  /// Whether the feed is following the change log (loaded, last poll succeeded).
  #[must_use]
  pub fn is_following(&self) -> bool {
    self.loaded && self.poll_error.is_none()
  }
}

/// Where a batch of changes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
  Poll,
  Publication,
}

impl Source {
  fn label(self) -> &'static str {
    match self {
      Self::Poll => "poll",
      Self::Publication => "publication",
    }
  }
}

#[derive(Default)]
struct FeedState {
  loaded: bool,
  newest: i64,
  versions: HashMap<CacheScope, i64>,
  /// Ids below `newest` not seen yet, with when they were first missed.
  gaps: BTreeMap<i64, Instant>,
  last_poll: Option<Instant>,
  poll_error: Option<String>,
  subscription: &'static str,
}

struct Inner {
  database: DatabaseConnection,
  state: RwLock<FeedState>,
  /// Bumped after every applied batch (and load): [`ChangeFeed::wait_for`] waits on it.
  applied: watch::Sender<u64>,
  changes: broadcast::Sender<Arc<Change>>,
  directory: SessionDirectory,
  /// Serialises loading and applying (poller and subscriber).
  apply_lock: tokio::sync::Mutex<()>,
  poll_now: Arc<tokio::sync::Notify>,
  metrics: Metrics,
  stop: CancellationToken,
}

impl Drop for Inner {
  fn drop(&mut self) {
    self.stop.cancel();
  }
}

/// The api's view of the worker's commits (cheap to clone; the background tasks stop when the last clone is
/// dropped or [`ChangeFeed::stop`] is called).
#[derive(Clone)]
pub struct ChangeFeed {
  inner: Arc<Inner>,
}

impl ChangeFeed {
  /// Starts following the change log of `database` every `poll_interval`, and the changes channel under `prefix`
  /// when `redis_url` is given. Waits up to `START_TIMEOUT` for the initial load; when the database does not
  /// answer by then, the feed loads in the background.
  ///
  /// # Errors
  /// Fails when the Redis URL is malformed.
  pub async fn start(
    database: DatabaseConnection,
    redis_url: Option<&str>,
    prefix: &str,
    poll_interval: Duration,
    metrics: Metrics,
  ) -> Result<Self, redis::RedisError> {
    let client = redis_url
      .map(entity::redis_client::RedisTarget::parse)
      .transpose()?;
    let (applied, _) = watch::channel(0);
    let (changes, _) = broadcast::channel(BROADCAST_CAPACITY);
    let feed = Self {
      inner: Arc::new(Inner {
        database,
        state: RwLock::new(FeedState {
          subscription: if client.is_some() { "down" } else { "none" },
          ..FeedState::default()
        }),
        applied,
        changes,
        directory: SessionDirectory::default(),
        apply_lock: tokio::sync::Mutex::new(()),
        poll_now: Arc::new(tokio::sync::Notify::new()),
        metrics,
        stop: CancellationToken::new(),
      }),
    };
    if let Err(error) = tokio::time::timeout(START_TIMEOUT, feed.load()).await {
      tracing::warn!(%error, "the change feed could not load at start; retrying in the background");
    }
    tokio::spawn(poll_loop(
      Arc::downgrade(&feed.inner),
      feed.inner.stop.clone(),
      feed.inner.poll_now.clone(),
      poll_interval,
    ));
    if let Some(client) = client {
      tokio::spawn(subscribe_loop(
        Arc::downgrade(&feed.inner),
        feed.inner.stop.clone(),
        client,
        CacheKeys::new(prefix).changes_channel(),
      ));
    }
    Ok(feed)
  }

  /// The id of the newest change known to affect `scope` (0 when none does).
  #[must_use]
  pub fn version(&self, scope: CacheScope) -> i64 {
    self.read().versions.get(&scope).copied().unwrap_or(0)
  }

  /// The newest change id applied (0 before any).
  #[must_use]
  pub fn newest(&self) -> i64 {
    self.read().newest
  }

  /// Every change applied from now on, in id order (a change found late, after a gap, comes when it is found).
  /// A receiver that falls `BROADCAST_CAPACITY` changes behind gets `RecvError::Lagged`.
  #[must_use]
  pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
    self.inner.changes.subscribe()
  }

  /// Resolves once the feed has applied change `change_id` (or given up looking for it: a rolled-back id).
  pub async fn wait_for(&self, change_id: i64) {
    let mut applied = self.inner.applied.subscribe();
    loop {
      {
        let state = self.read();
        if state.newest >= change_id && !state.gaps.contains_key(&change_id) {
          return;
        }
      }
      if applied.changed().await.is_err() {
        return;
      }
    }
  }

  /// Whether the initial load succeeded (the versions are known).
  #[must_use]
  pub fn is_loaded(&self) -> bool {
    self.read().loaded
  }

  /// The state of the feed.
  #[must_use]
  pub fn health(&self) -> FeedHealth {
    let state = self.read();
    FeedHealth {
      loaded: state.loaded,
      newest: state.newest,
      since_last_poll: state.last_poll.map(|at| at.elapsed()),
      poll_error: state.poll_error.clone(),
      subscription: state.subscription,
    }
  }

  /// The session directory.
  #[must_use]
  pub fn directory(&self) -> &SessionDirectory {
    &self.inner.directory
  }

  /// The session `session_key`: from the directory, else from the database (then remembered). `Ok(None)` when it
  /// does not exist.
  ///
  /// # Errors
  /// The database error.
  pub async fn find_session(
    &self,
    session_key: i32,
  ) -> Result<Option<Arc<sessions::Model>>, DbErr> {
    if let Some(session) = self.inner.directory.session(session_key) {
      return Ok(Some(session));
    }
    let session = sessions::Entity::find_by_id(session_key)
      .one(&self.inner.database)
      .await?;
    Ok(session.map(|session| {
      self.inner.directory.remember_session(session.clone());
      Arc::new(session)
    }))
  }

  /// Whether season `year` has meetings: from the directory, else from the database (then remembered).
  ///
  /// # Errors
  /// The database error.
  pub async fn has_season(&self, year: i32) -> Result<bool, DbErr> {
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    if self.inner.directory.has_season(year) {
      return Ok(true);
    }
    let meetings = meetings::Entity::find()
      .filter(meetings::Column::Year.eq(year))
      .count(&self.inner.database)
      .await?;
    if meetings > 0 {
      self.inner.directory.remember_season(year);
    }
    Ok(meetings > 0)
  }

  /// Stops the background tasks (the feed keeps what it knows).
  pub fn stop(&self) {
    self.inner.stop.cancel();
  }

  fn read(&self) -> std::sync::RwLockReadGuard<'_, FeedState> {
    self
      .inner
      .state
      .read()
      .unwrap_or_else(std::sync::PoisonError::into_inner)
  }

  fn write(&self) -> std::sync::RwLockWriteGuard<'_, FeedState> {
    self
      .inner
      .state
      .write()
      .unwrap_or_else(std::sync::PoisonError::into_inner)
  }

  /// The initial load: every scope's version, the newest id and the directory.
  async fn load(&self) -> Result<(), DbErr> {
    let _applying = self.inner.apply_lock.lock().await;
    let (versions, newest) = change_log::scope_versions(&self.inner.database).await?;
    self.inner.directory.reload(&self.inner.database).await?;
    {
      let mut state = self.write();
      state.versions = versions;
      state.newest = newest.unwrap_or(0);
      state.loaded = true;
      state.last_poll = Some(Instant::now());
      state.poll_error = None;
    }
    self
      .inner
      .applied
      .send_modify(|generation| *generation += 1);
    self
      .inner
      .metrics
      .set_change_feed_newest(newest.unwrap_or(0));
    tracing::info!(
      newest = newest.unwrap_or(0),
      sessions = self.inner.directory.session_count(),
      "change feed loaded"
    );
    Ok(())
  }

  /// One poll: loads when not loaded yet, else reads the changes after the newest applied (or after the oldest
  /// gap still looked for) and applies them.
  async fn poll(&self) -> Result<(), DbErr> {
    if !self.is_loaded() {
      return self.load().await;
    }
    loop {
      let after = {
        let mut state = self.write();
        state
          .gaps
          .retain(|_, missed_at| missed_at.elapsed() < GAP_PATIENCE);
        state
          .gaps
          .keys()
          .next()
          .map_or(state.newest, |oldest_gap| oldest_gap - 1)
      };
      let changes = change_log::changes_after(&self.inner.database, after, POLL_BATCH).await?;
      let complete = (changes.len() as u64) < POLL_BATCH;
      self.apply(changes, Source::Poll).await;
      if complete {
        break;
      }
    }
    {
      let mut state = self.write();
      state.last_poll = Some(Instant::now());
      state.poll_error = None;
    }
    Ok(())
  }

  /// Applies `changes` (any order, duplicates and already applied ones ignored) in id order. From a publication,
  /// only changes that directly follow the newest applied id are applied; otherwise the poller is woken.
  async fn apply(&self, mut changes: Vec<Change>, source: Source) {
    changes.sort_by_key(|change| change.id);
    changes.dedup_by_key(|change| change.id);
    let _applying = self.inner.apply_lock.lock().await;
    let fresh: Vec<Change> = {
      let state = self.read();
      if !state.loaded {
        return;
      }
      let mut expected = state.newest;
      let mut fresh = Vec::new();
      for change in changes {
        if change.id <= state.newest {
          if state.gaps.contains_key(&change.id) {
            fresh.push(change);
          }
          continue;
        }
        if source == Source::Publication && change.id != expected + 1 {
          // Ids in between may be committed and not published yet: the poller reads them in order.
          self.inner.poll_now.notify_one();
          break;
        }
        expected = change.id;
        fresh.push(change);
      }
      fresh
    };
    if fresh.is_empty() {
      return;
    }
    if fresh
      .iter()
      .any(|change| change.touches("sessions") || change.touches("meetings"))
    {
      let reloaded = tokio::time::timeout(
        POLL_TIMEOUT,
        self.inner.directory.reload(&self.inner.database),
      )
      .await;
      match reloaded {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
          tracing::warn!(%error, "could not reload the session directory");
        }
        Err(_) => tracing::warn!("reloading the session directory timed out"),
      }
    }
    let newest = {
      let mut state = self.write();
      for change in &fresh {
        if change.id > state.newest {
          let now = Instant::now();
          let first_missing = (state.newest + 1).max(change.id - MAX_GAP);
          for missing in first_missing..change.id {
            state.gaps.insert(missing, now);
          }
          state.newest = change.id;
        } else {
          state.gaps.remove(&change.id);
        }
        for scope in change.scopes() {
          let version = state.versions.entry(scope).or_insert(change.id);
          *version = (*version).max(change.id);
        }
      }
      state.newest
    };
    self
      .inner
      .applied
      .send_modify(|generation| *generation += 1);
    self.inner.metrics.set_change_feed_newest(newest);
    for change in fresh {
      self.inner.metrics.count_change_applied(source.label());
      tracing::debug!(id = change.id, session_key = change.session_key, tables = ?change.tables, source = source.label(), "change applied");
      // No receiver is not an error.
      self.inner.changes.send(Arc::new(change)).ok();
    }
  }
}

/// Polls every `interval` (or at once when woken) until stopped or the feed is gone.
async fn poll_loop(
  inner: Weak<Inner>,
  stop: CancellationToken,
  poll_now: Arc<tokio::sync::Notify>,
  interval: Duration,
) {
  loop {
    let Some(feed) = inner.upgrade().map(|inner| ChangeFeed { inner }) else {
      return;
    };
    match tokio::time::timeout(POLL_TIMEOUT, feed.poll()).await {
      Ok(Ok(())) => {}
      Ok(Err(error)) => record_poll_failure(&feed, error.to_string()),
      Err(_) => record_poll_failure(&feed, "timed out".to_owned()),
    }
    drop(feed);
    tokio::select! {
      () = stop.cancelled() => return,
      () = tokio::time::sleep(interval) => {}
      () = poll_now.notified() => {}
    }
  }
}

fn record_poll_failure(feed: &ChangeFeed, error: String) {
  let first = {
    let mut state = feed.write();
    let first = state.poll_error.is_none();
    state.poll_error = Some(error.clone());
    first
  };
  feed.inner.metrics.count_change_poll_failure();
  if first {
    tracing::warn!(%error, "polling the change log failed; the cache serves by the versions it knows");
  }
}

/// Follows the changes channel, subscribing again after a failure, until stopped or the feed is gone.
async fn subscribe_loop(
  inner: Weak<Inner>,
  stop: CancellationToken,
  client: entity::redis_client::RedisTarget,
  channel: String,
) {
  loop {
    let subscribed = async {
      // One node or a cluster (RESP3 pushes), by `REDIS_URL`: a stream of the messages' payloads.
      client.subscribe(&channel).await
    };
    let subscription = tokio::select! {
      () = stop.cancelled() => return,
      subscribed = tokio::time::timeout(POLL_TIMEOUT, subscribed) => subscribed,
    };
    match subscription {
      Ok(Ok(subscription)) => {
        let Some(feed) = inner.upgrade().map(|inner| ChangeFeed { inner }) else {
          return;
        };
        feed.write().subscription = "subscribed";
        // Anything published while unsubscribed is read by the poller.
        feed.inner.poll_now.notify_one();
        drop(feed);
        let mut messages = subscription;
        loop {
          let message = tokio::select! {
            () = stop.cancelled() => return,
            message = messages.next() => message,
          };
          let Some(message) = message else {
            break;
          };
          let Some(feed) = inner.upgrade().map(|inner| ChangeFeed { inner }) else {
            return;
          };
          match serde_json::from_slice::<Vec<Change>>(&message) {
            Ok(changes) => feed.apply(changes, Source::Publication).await,
            Err(error) => {
              tracing::warn!(%error, "a published change is not valid JSON; the poller reads it");
              feed.inner.poll_now.notify_one();
            }
          }
        }
        tracing::warn!("the Redis changes subscription was lost; subscribing again");
      }
      Ok(Err(error)) => {
        tracing::debug!(%error, "could not subscribe to the Redis changes channel");
      }
      Err(_) => tracing::debug!("subscribing to the Redis changes channel timed out"),
    }
    if let Some(inner) = inner.upgrade() {
      ChangeFeed { inner }.write().subscription = "down";
    } else {
      return;
    }
    tokio::select! {
      () = stop.cancelled() => return,
      () = tokio::time::sleep(RESUBSCRIBE_DELAY) => {}
    }
  }
}
