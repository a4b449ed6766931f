//! The worker against real MariaDB/SQLite, real Redis and the local Open F1 server: recorded weekends are
//! ingested row for row, re-polling writes nothing, corrections are picked up, faults are survived, cancellation
//! loses nothing, only one worker writes, and only the affected cache scopes are evicted.

use std::time::Duration;

use entity::cache::{CacheKeys, CacheScope};
use entity::{
  drivers, ingest_state, laps, meetings, pit, position, session_result, sessions, stints,
};
use f1_backend::{Engine, TestDatabase, fixtures_dir, unique_name};
use openf1_server::{Credentials, Fault, OpenF1Server, ServerOptions};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tokio_util::sync::CancellationToken;
use worker::{BackfillTarget, Lease, PollOutcome, RetrySettings, Settings, Worker};

use crate::api_support::wait_for_metrics;

const DEADLINE: Duration = Duration::from_secs(30);

pub(crate) async fn start_server(options: ServerOptions) -> OpenF1Server {
  OpenF1Server::start(options)
    .await
    .expect("start the local Open F1 server")
}

/// What most worker tests start from: the local Open F1 server on the recorded fixtures, a fresh migrated database
/// on `engine`, and a worker on both (without Redis).
pub(crate) async fn recorded_worker(engine: Engine) -> (OpenF1Server, TestDatabase, Worker) {
  let server = start_server(ServerOptions::new(fixtures_dir())).await;
  let database = TestDatabase::migrated(engine).await;
  let worker = Worker::build(settings(&database, &server, None))
    .await
    .expect("build the worker");
  (server, database, worker)
}

/// Settings pointing at the test database, the local server and (optionally) Redis, with limits and back-offs
/// small enough for tests. One-hour telemetry windows keep the request count small.
pub(crate) fn settings(
  database: &TestDatabase,
  server: &OpenF1Server,
  redis_url: Option<String>,
) -> Settings {
  let mut settings = Settings::with_database(&database.url).expect("settings");
  settings.base_url = server.base_url();
  settings.token_url = server.token_url();
  settings.shared.redis_url = redis_url.map(worker::Secret::new);
  settings.shared.cache_prefix = unique_name("cache");
  settings.max_requests_per_second = std::num::NonZeroU32::new(100_000).expect("non-zero");
  settings.max_requests_per_minute = std::num::NonZeroU32::new(6_000_000).expect("non-zero");
  settings.request_timeout = Duration::from_secs(5);
  settings.metrics_address = "127.0.0.1:0".parse().expect("address");
  settings.years = vec![2024];
  settings.retry = RetrySettings {
    min_delay: Duration::from_millis(5),
    max_delay: Duration::from_millis(50),
    max_retries: 4,
  };
  settings.telemetry_window = Duration::from_secs(3600);
  // No MQTT unless a test sets up a broker (never Open F1's real one).
  settings.mqtt = None;
  settings
}

/// Rows of every per-session table for `session_key`, as (table, count).
pub(crate) async fn table_counts(
  database: &TestDatabase,
  session_key: i32,
) -> Vec<(&'static str, usize)> {
  vec![
    (
      "laps",
      database.count_rows::<laps::Entity>(session_key).await,
    ),
    (
      "stints",
      database.count_rows::<stints::Entity>(session_key).await,
    ),
    (
      "position",
      database.count_rows::<position::Entity>(session_key).await,
    ),
    ("pit", database.count_rows::<pit::Entity>(session_key).await),
    (
      "drivers",
      database.count_rows::<drivers::Entity>(session_key).await,
    ),
    (
      "session_result",
      database
        .count_rows::<session_result::Entity>(session_key)
        .await,
    ),
  ]
}

/// The same tables as counted by the server from its fixtures.
pub(crate) fn upstream_counts(
  server: &OpenF1Server,
  session_key: i32,
) -> Vec<(&'static str, usize)> {
  [
    "laps",
    "stints",
    "position",
    "pit",
    "drivers",
    "session_result",
  ]
  .into_iter()
  .map(|table| (table, server.row_count(table, Some(i64::from(session_key)))))
  .collect()
}

pub(crate) async fn redis_connection() -> redis::aio::MultiplexedConnection {
  redis::Client::open(f1_backend::redis_url())
    .expect("redis url")
    .get_multiplexed_async_connection()
    .await
    .expect("connect to the test Redis")
}

/// Caches `cached` under each `(scope, name)` of `entries` at the scope's current version, as the api would, and
/// returns the newest change id those versions were read at.
pub(crate) async fn store_cache_entries(
  redis: &mut redis::aio::MultiplexedConnection,
  keys: &CacheKeys,
  database: &TestDatabase,
  entries: &[(CacheScope, &str)],
) -> Option<i64> {
  let (versions, newest_change) = entity::change_log::scope_versions(&database.connection)
    .await
    .expect("scope versions");
  for &(scope, name) in entries {
    let stored = entity::cache::store_entry(
      redis,
      keys,
      scope,
      name,
      versions.get(&scope).copied().unwrap_or(0),
      b"cached",
      Duration::from_secs(600),
    )
    .await
    .expect("store a cache entry");
    assert!(stored);
  }
  newest_change
}

#[tokio::test]
async fn a_recorded_race_weekend_is_ingested_row_for_row_and_a_second_pass_writes_nothing() {
  let server = start_server(ServerOptions::new(fixtures_dir())).await;
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  let worker = Worker::build(settings(&database, &server, Some(f1_backend::redis_url())))
    .await
    .expect("build the worker");
  let cancellation = CancellationToken::new();

  let first = worker
    .backfill(BackfillTarget::Meeting(1229), &cancellation)
    .await
    .expect("backfill Bahrain 2024");
  let weekend = worker
    .backfill(BackfillTarget::Session(11253), &cancellation)
    .await
    .expect("backfill Suzuka 2026 race");
  worker
    .backfill(BackfillTarget::Session(11249), &cancellation)
    .await
    .expect("backfill Suzuka 2026 qualifying");
  assert!(first.written > 1_000 && weekend.written > 500);

  assert_eq!(
    table_counts(&database, 9472).await,
    upstream_counts(&server, 9472)
  );
  assert_eq!(database.count_rows::<laps::Entity>(9472).await, 1129);
  assert_eq!(
    database
      .count_rows::<entity::overtakes::Entity>(11253)
      .await,
    server.row_count("overtakes", Some(11253))
  );
  assert_eq!(
    database.count_rows::<entity::weather::Entity>(11253).await,
    server.row_count("weather", Some(11253))
  );
  assert_eq!(
    database
      .count_rows::<entity::race_control::Entity>(11253)
      .await,
    server.row_count("race_control", Some(11253))
  );
  assert_eq!(
    database
      .count_rows::<entity::starting_grid::Entity>(11249)
      .await,
    server.row_count("starting_grid", Some(11249))
  );
  let weekend_sessions = sessions::Entity::find()
    .filter(sessions::Column::MeetingKey.eq(1229))
    .count(&database.connection)
    .await
    .expect("count sessions");
  assert_eq!(weekend_sessions, 5, "practice 1-3, qualifying and race");
  assert!(
    meetings::Entity::find_by_id(1229)
      .one(&database.connection)
      .await
      .expect("read")
      .is_some()
  );
  let state = ingest_state::Entity::find_by_id(9472)
    .one(&database.connection)
    .await
    .expect("read")
    .expect("ingest state of the race");
  assert_eq!(state.status, "ingested");
  assert!(state.next_refresh_at.is_some());

  let invalidations_before = worker.metrics().invalidations("ok");
  let second = worker
    .backfill(BackfillTarget::Meeting(1229), &cancellation)
    .await
    .expect("backfill again");
  assert_eq!(second.written, 0, "re-ingesting writes nothing");
  assert!(second.received > 1_000);
  assert_eq!(
    worker.metrics().invalidations("ok"),
    invalidations_before,
    "nothing written, nothing invalidated"
  );
  server.stop().await;
}

#[tokio::test]
async fn a_corrected_upstream_lap_is_updated_and_only_its_session_cache_is_evicted() {
  let server = start_server(ServerOptions::new(fixtures_dir())).await;
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  let settings = settings(&database, &server, Some(f1_backend::redis_url()));
  let keys = CacheKeys::new(settings.shared.cache_prefix.clone());
  let worker = Worker::build(settings).await.expect("build the worker");
  let cancellation = CancellationToken::new();
  worker
    .backfill(BackfillTarget::Session(9472), &cancellation)
    .await
    .expect("first ingest");

  let mut redis = redis_connection().await;
  let entries = [
    (CacheScope::Session(9472), "chart:lap-times"),
    (CacheScope::Session(9165), "chart:lap-times"),
    (CacheScope::Season(2024), "standings"),
    (CacheScope::Calendar, "meetings"),
  ];
  store_cache_entries(&mut redis, &keys, &database, &entries).await;

  let mut corrected =
    f1_backend::fixture_rows(&fixtures_dir().join("9472_bahrain_2024_race/laps.json"))
      .into_iter()
      .find(|row| row["driver_number"] == 1 && row["lap_number"] == 5)
      .expect("lap 5 of driver 1");
  corrected["lap_duration"] = serde_json::json!(95.001);
  server.upsert_rows("laps", vec![corrected]);

  let report = worker
    .backfill(BackfillTarget::Session(9472), &cancellation)
    .await
    .expect("re-ingest");
  assert_eq!(report.written, 1, "only the corrected lap is written");
  assert_eq!(
    database.stored_lap(9472, 1, 5).await.lap_duration,
    Some(95.001)
  );

  let cached = |scope, name: &'static str| {
    let keys = keys.clone();
    let mut redis = redis.clone();
    async move {
      entity::cache::fetch_entry(&mut redis, &keys, scope, name)
        .await
        .expect("read the cache")
    }
  };
  assert_eq!(
    cached(CacheScope::Session(9472), "chart:lap-times").await,
    None
  );
  assert!(
    cached(CacheScope::Session(9165), "chart:lap-times")
      .await
      .is_some()
  );
  assert!(
    cached(CacheScope::Season(2024), "standings")
      .await
      .is_some()
  );
  assert!(cached(CacheScope::Calendar, "meetings").await.is_some());
  entity::cache::invalidate(
    &mut redis,
    &keys,
    [
      (CacheScope::Session(9165), 0),
      (CacheScope::Season(2024), 0),
      (CacheScope::Calendar, 0),
    ],
  )
  .await
  .ok();
  server.stop().await;
}

#[tokio::test]
async fn rate_limits_server_errors_and_broken_bodies_are_retried_without_partial_batches() {
  let server = start_server(ServerOptions::new(fixtures_dir())).await;
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  let mut settings = settings(&database, &server, None);
  settings.retry.max_delay = Duration::from_secs(2);
  settings.retry.max_retries = 8;
  let worker = Worker::build(settings).await.expect("build the worker");
  server.push_fault(
    Fault::TooManyRequests {
      retry_after_seconds: Some(1),
    },
    1,
    Some("/v1/laps"),
  );
  server.push_fault(Fault::TruncatedJson, 1, Some("/v1/laps"));
  server.push_fault(
    Fault::TooManyRequests {
      retry_after_seconds: None,
    },
    2,
    Some("/v1/stints"),
  );
  server.push_fault(Fault::InternalServerError, 1, Some("/v1/position"));
  server.push_fault(Fault::BadGateway, 1, Some("/v1/position"));
  server.push_fault(Fault::ServiceUnavailable, 1, Some("/v1/pit"));
  server.push_fault(Fault::GatewayTimeout, 1, Some("/v1/pit"));
  server.push_fault(Fault::Garbage, 2, Some("/v1/drivers"));

  let started = std::time::Instant::now();
  worker
    .backfill(BackfillTarget::Session(9472), &CancellationToken::new())
    .await
    .expect("the faults are survived");
  assert!(
    started.elapsed() >= Duration::from_secs(1),
    "Retry-After: 1 was honoured"
  );
  assert_eq!(
    table_counts(&database, 9472).await,
    upstream_counts(&server, 9472)
  );
  let statuses: Vec<u16> = server
    .requests()
    .iter()
    .filter(|request| request.path == "/v1/laps")
    .map(|request| request.status)
    .collect();
  assert_eq!(
    &statuses[..3],
    &[429, 200, 200],
    "429, truncated 200, then the full answer"
  );
  server.stop().await;
}

#[tokio::test]
async fn a_fault_that_outlasts_the_retries_fails_the_session_and_keeps_no_partial_data() {
  let (server, database, worker) = recorded_worker(Engine::Sqlite).await;
  server.push_fault(Fault::TruncatedJson, 100, Some("/v1/laps"));
  let error = worker
    .backfill(BackfillTarget::Session(9472), &CancellationToken::new())
    .await
    .expect_err("laps never decode");
  assert!(format!("{error:#}").contains("9472"));
  assert_eq!(database.count_rows::<laps::Entity>(9472).await, 0);
  let state = ingest_state::Entity::find_by_id(9472)
    .one(&database.connection)
    .await
    .expect("read")
    .expect("state");
  assert_eq!(state.status, "failed");
  assert!(state.last_error.is_some_and(|error| error.contains("laps")));

  server.clear_faults();
  worker
    .backfill(BackfillTarget::Session(9472), &CancellationToken::new())
    .await
    .expect("a later attempt succeeds");
  assert_eq!(database.count_rows::<laps::Entity>(9472).await, 1129);
  server.stop().await;
}

#[tokio::test]
async fn a_live_session_without_a_token_makes_the_poll_wait_instead_of_failing() {
  let (server, _database, worker) = recorded_worker(Engine::Sqlite).await;
  server.push_fault(Fault::SessionInProgress, 1_000, None);
  let outcome = worker
    .poll_once(&CancellationToken::new())
    .await
    .expect("poll");
  assert_eq!(outcome, PollOutcome::UpstreamLocked);
  assert_eq!(worker.metrics().upstream_locked(), 1);
  assert_eq!(server.requests().len(), 1, "a lock is not retried");
  assert!(runtime::render(worker.metrics().registry()).contains("worker_upstream_locked_total 1"));
  server.stop().await;
}

#[tokio::test]
async fn with_credentials_every_request_carries_a_token_refreshed_after_a_401() {
  let mut options = ServerOptions::new(fixtures_dir());
  options.credentials = Some(Credentials {
    username: "fan".into(),
    password: "correct horse".into(),
  });
  options.require_auth = true;
  let server = start_server(options).await;
  let database = TestDatabase::migrated(Engine::Sqlite).await;
  let mut settings = settings(&database, &server, None);
  settings.credentials = Some(worker::Credentials {
    username: "fan".into(),
    password: worker::Secret::new("correct horse"),
  });
  let worker = Worker::build(settings).await.expect("build the worker");
  server.push_fault(Fault::SessionInProgress, 1, Some("/v1/laps"));
  worker
    .backfill(BackfillTarget::Session(9472), &CancellationToken::new())
    .await
    .expect("backfill with a token");
  assert_eq!(database.count_rows::<laps::Entity>(9472).await, 1129);
  let requests = server.requests();
  let token_requests = requests
    .iter()
    .filter(|request| request.path == "/token")
    .count();
  assert_eq!(
    token_requests, 2,
    "one token, and one refresh after the 401"
  );
  assert!(
    requests
      .iter()
      .filter(|request| request.path.starts_with("/v1/"))
      .all(|request| request.authorized)
  );
  server.stop().await;
}

#[tokio::test]
async fn a_worker_cancelled_mid_ingest_and_restarted_ends_with_the_same_rows() {
  let (server, database, worker) = recorded_worker(Engine::MariaDb).await;
  server.push_fault(
    Fault::Slow(Duration::from_millis(300)),
    1,
    Some("/v1/position"),
  );
  let cancellation = CancellationToken::new();
  let backfill = {
    let cancellation = cancellation.clone();
    async move {
      worker
        .backfill(BackfillTarget::Session(9472), &cancellation)
        .await
    }
  };
  let task = tokio::spawn(backfill);
  let deadline = std::time::Instant::now() + DEADLINE;
  while !server
    .requests()
    .iter()
    .any(|request| request.path == "/v1/pit")
  {
    assert!(
      std::time::Instant::now() < deadline,
      "pit was never fetched"
    );
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(5)).await;
  }
  cancellation.cancel();
  let interrupted = task.await.expect("join");
  assert!(interrupted.is_err(), "the backfill stopped early");
  let laps_after_stop = database.count_rows::<laps::Entity>(9472).await;
  assert_eq!(laps_after_stop, 1129, "laps were committed before the stop");
  assert_eq!(database.count_rows::<position::Entity>(9472).await, 0);

  let restarted = Worker::build(settings(&database, &server, None))
    .await
    .expect("build again");
  restarted
    .backfill(BackfillTarget::Session(9472), &CancellationToken::new())
    .await
    .expect("restart completes");
  assert_eq!(
    table_counts(&database, 9472).await,
    upstream_counts(&server, 9472)
  );
  server.stop().await;
}

#[tokio::test]
async fn a_second_worker_waits_for_the_lease_and_takes_over_when_the_first_stops() {
  let server = start_server(ServerOptions::new(fixtures_dir())).await;
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  let first = Worker::build(settings(&database, &server, None))
    .await
    .expect("build the first worker");
  let first_port = first.port();
  let first_stop = CancellationToken::new();
  let first_task = tokio::spawn(first.run_until_stopped(first_stop.clone()));
  let client = reqwest::Client::builder()
    .timeout(Duration::from_secs(5))
    .build()
    .expect("client");
  let ready = |port: u16| {
    let client = client.clone();
    async move {
      client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .map(|response| response.status().as_u16())
        .unwrap_or(0)
    }
  };
  let deadline = std::time::Instant::now() + DEADLINE;
  while ready(first_port).await != 200 {
    assert!(
      std::time::Instant::now() < deadline,
      "first worker never ready"
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
  }
  assert!(
    Lease::try_acquire(&database.url)
      .await
      .expect("ask for the lease")
      .is_none(),
    "the lease is taken"
  );

  let second = Worker::build(settings(&database, &server, None))
    .await
    .expect("build the second worker");
  let second_port = second.port();
  let second_stop = CancellationToken::new();
  let second_task = tokio::spawn(second.run_until_stopped(second_stop.clone()));
  let deadline = std::time::Instant::now() + DEADLINE;
  while ready(second_port).await != 503 {
    assert!(
      std::time::Instant::now() < deadline,
      "second worker never answered"
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
  }

  first_stop.cancel();
  first_task
    .await
    .expect("join")
    .expect("first worker stops cleanly");
  let deadline = std::time::Instant::now() + DEADLINE;
  while ready(second_port).await != 200 {
    assert!(
      std::time::Instant::now() < deadline,
      "second worker never took over"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
  }
  second_stop.cancel();
  second_task
    .await
    .expect("join")
    .expect("second worker stops cleanly");
  server.stop().await;
}

#[tokio::test]
async fn on_sqlite_a_lock_file_keeps_a_second_worker_out() {
  let database = TestDatabase::migrated(Engine::Sqlite).await;
  let lease = Lease::try_acquire(&database.url)
    .await
    .expect("lease")
    .expect("free");
  assert!(lease.is_held().await);
  assert!(
    Lease::try_acquire(&database.url)
      .await
      .expect("ask again")
      .is_none()
  );
  drop(lease);
  assert!(
    Lease::try_acquire(&database.url)
      .await
      .expect("ask after release")
      .is_some()
  );
}

#[tokio::test]
async fn redis_being_down_is_counted_and_the_rows_are_still_stored() {
  let server = start_server(ServerOptions::new(fixtures_dir())).await;
  let database = TestDatabase::migrated(Engine::Sqlite).await;
  let worker = Worker::build(settings(
    &database,
    &server,
    Some("redis://127.0.0.1:1".to_owned()),
  ))
  .await
  .expect("build the worker");
  worker
    .backfill(BackfillTarget::Session(9472), &CancellationToken::new())
    .await
    .expect("ingest without Redis");
  assert_eq!(database.count_rows::<laps::Entity>(9472).await, 1129);
  assert!(worker.metrics().invalidations("failed") > 0);
  assert_eq!(worker.metrics().invalidations("ok"), 0);
  server.stop().await;
}

#[tokio::test]
async fn a_poll_ingests_the_finished_sessions_of_the_configured_season_once() {
  let server = start_server(ServerOptions::new(fixtures_dir())).await;
  let database = TestDatabase::migrated(Engine::Sqlite).await;
  let mut settings = settings(&database, &server, None);
  settings.years = vec![2023];
  let worker = Worker::build(settings).await.expect("build the worker");
  let cancellation = CancellationToken::new();
  let first = worker.poll_once(&cancellation).await.expect("first poll");
  assert!(matches!(first, PollOutcome::NewData { rows_written } if rows_written > 1_000));
  assert_eq!(
    table_counts(&database, 9165).await,
    upstream_counts(&server, 9165)
  );
  let states = ingest_state::Entity::find()
    .count(&database.connection)
    .await
    .expect("count states");
  let finished_sessions = sessions::Entity::find()
    .filter(sessions::Column::Year.eq(2023))
    .count(&database.connection)
    .await
    .expect("count sessions");
  assert_eq!(states, finished_sessions);

  let requests_before = server.requests().len();
  let second = worker.poll_once(&cancellation).await.expect("second poll");
  assert_eq!(second, PollOutcome::NothingNew);
  assert_eq!(
    server.requests().len(),
    requests_before,
    "nothing is due: no request at all"
  );
  server.stop().await;
}

#[tokio::test]
async fn the_running_worker_serves_health_and_metrics() {
  let server = start_server(ServerOptions::new(fixtures_dir())).await;
  let database = TestDatabase::migrated(Engine::Sqlite).await;
  let mut settings = settings(&database, &server, None);
  settings.years = vec![2026];
  let worker = Worker::build(settings).await.expect("build the worker");
  let port = worker.port();
  let stop = CancellationToken::new();
  let task = tokio::spawn(worker.run_until_stopped(stop.clone()));
  let client = reqwest::Client::new();
  let health = client
    .get(format!("http://127.0.0.1:{port}/healthz"))
    .send()
    .await
    .expect("healthz");
  assert_eq!(health.status().as_u16(), 200);
  let metrics = wait_for_metrics(
    &client,
    &format!("http://127.0.0.1:{port}/metrics"),
    DEADLINE,
    "no ingest counted",
    |metrics| metrics.contains(r#"worker_rows_ingested_total{endpoint="sessions"}"#),
  )
  .await;
  assert!(metrics.contains("worker_upstream_requests_total"));
  stop.cancel();
  task.await.expect("join").expect("stops cleanly");
  server.stop().await;
}

#[tokio::test]
async fn a_live_session_is_polled_incrementally_with_a_token() {
  // The server replays the recorded race 9472 as if it had started 30 minutes ago.
  let clock = openf1_server::ManualClock::new(chrono::Utc::now());
  let mut options = ServerOptions::new(fixtures_dir());
  options.clock = clock.clock();
  options.replay = Some(openf1_server::ReplayOptions {
    session_key: 9472,
    speed: 1.0,
    started_at: clock.now(),
    offset: chrono::TimeDelta::minutes(30),
    auth_during_live: true,
  });
  let server = start_server(options).await;
  let database = TestDatabase::migrated(Engine::Sqlite).await;
  let mut settings = settings(&database, &server, None);
  settings.credentials = Some(worker::Credentials {
    username: "fan".into(),
    password: worker::Secret::new("any"),
  });
  let worker = Worker::build(settings).await.expect("build the worker");
  let cancellation = CancellationToken::new();

  worker.poll_once(&cancellation).await.expect("first poll");
  let state = ingest_state::Entity::find_by_id(9472)
    .one(&database.connection)
    .await
    .expect("read")
    .expect("state of the live session");
  assert_eq!(state.status, "live");
  let laps_after_30_minutes = database.count_rows::<laps::Entity>(9472).await;
  assert!(laps_after_30_minutes > 0 && laps_after_30_minutes < 1129);

  clock.advance(chrono::TimeDelta::minutes(20));
  worker.poll_once(&cancellation).await.expect("second poll");
  assert!(database.count_rows::<laps::Entity>(9472).await > laps_after_30_minutes);
  assert!(
    server
      .requests()
      .iter()
      .any(|request| request.path == "/v1/position"
        && (request.query.contains("date%3E") || request.query.contains("date>"))),
    "the second poll asks only for positions after the stored watermark"
  );
  server.stop().await;
}
