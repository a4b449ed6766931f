//! The versioned two-tier response cache: a build overtaken by a commit is never stored (Redis tier and memory
//! tier, forced deterministically with a barrier inside the build), a hit reads no database, two replicas over one
//! Redis both serve the new figure within a second of a commit, the embedded default (SQLite, in-process cache)
//! sees a worker running as another process within a second, and with Redis down the memory tier keeps serving
//! current entries but never one a commit overtook.

use std::time::{Duration, Instant};

use api::{CacheOutcome, Metrics, ResponseCache, Secret, Settings};
use chrono::Utc;
use entity::Endpoint;
use entity::cache::{CacheKeys, CacheScope};
use entity::change_log;
use f1_backend::{
  Engine, Outage, TcpProxy, TestDatabase, fixtures_dir, redis_url, seed_fixtures, unique_name,
};
use openf1_server::{OpenF1Server, ServerOptions};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use worker::Batch;

use crate::api_support::TestApi;
use crate::change_feed::{committer, race_rows, wait_for};

/// The chart every test caches: lap times of car 1.
const CHART: &str = "/v1/sessions/9472/charts/lap-times?drivers=1";
/// How long a test polls for a new figure (the assertion is on the measured time, at most [`WITHIN`]).
const POLL_DEADLINE: Duration = Duration::from_secs(10);
/// The bound the issue sets: a replica serves the new figure within a second of the commit.
const WITHIN: Duration = Duration::from_secs(1);

/// Lap 2 of car 1 in the 2024 Bahrain race, corrected to `duration`.
fn corrected_lap(duration: f64) -> serde_json::Value {
  let mut lap = race_rows("laps.json")
    .into_iter()
    .find(|lap| lap["driver_number"] == 1 && lap["lap_number"] == 2)
    .expect("lap 2 of car 1");
  lap["lap_duration"] = serde_json::json!(duration);
  lap
}

/// The stored duration of lap 2 of car 1.
async fn lap_duration(database: &DatabaseConnection) -> f64 {
  let row = database
    .query_one_raw(Statement::from_string(
      database.get_database_backend(),
      "SELECT lap_duration FROM laps WHERE session_key = 9472 AND driver_number = 1 AND lap_number = 2",
    ))
    .await
    .expect("read the lap")
    .expect("the lap exists");
  row
    .try_get::<f64>("", "lap_duration")
    .expect("lap_duration")
}

/// The api's change feed and a cache over it, on `database`.
async fn cache_on(
  database: &TestDatabase,
  redis: Option<&str>,
  prefix: &str,
) -> (api::ChangeFeed, ResponseCache, Metrics) {
  let metrics = Metrics::new().expect("metrics");
  let feed = api::ChangeFeed::start(
    database.connection.clone(),
    redis,
    prefix,
    Duration::from_millis(50),
    metrics.clone(),
  )
  .await
  .expect("feed");
  let cache =
    ResponseCache::new(redis, prefix, 1 << 20, feed.clone(), metrics.clone()).expect("cache");
  (feed, cache, metrics)
}

/// A build reads the lap, then a commit corrects it and the feed applies the change, then the build stores: the
/// overtaken value must not be stored in any tier, and the next lookup rebuilds the corrected value.
async fn a_build_overtaken_by_a_commit_is_never_stored(redis: Option<&str>) {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let prefix = unique_name("overtaken");
  let (feed, cache, metrics) = cache_on(&database, redis, &prefix).await;
  let scope = CacheScope::Session(9472);
  let name = "chart:lap-duration";
  let original = lap_duration(&database.connection).await;

  let (read_sender, read) = tokio::sync::oneshot::channel::<()>();
  let (release, released) = tokio::sync::oneshot::channel::<()>();
  let building = tokio::spawn({
    let cache = cache.clone();
    let connection = database.connection.clone();
    async move {
      cache
        .get_or_build(scope, name, Duration::from_secs(86_400), async move {
          let duration = lap_duration(&connection).await;
          read_sender.send(()).expect("the test waits");
          released.await.expect("the test releases the build");
          Ok::<_, std::convert::Infallible>(duration.to_string().into_bytes())
        })
        .await
    }
  });
  read.await.expect("the build read the lap");
  let committer = committer(&database, redis, &prefix);
  let change = crate::change_feed::commit_rows(
    &committer,
    Endpoint::Laps,
    &[corrected_lap(original + 10.0)],
  )
  .await;
  wait_for(&feed, change).await;
  release.send(()).expect("the build waits");
  let (value, outcome) = building.await.expect("join").expect("built");
  assert_eq!(value.identity().as_ref(), original.to_string().as_bytes());
  assert_eq!(
    outcome,
    CacheOutcome::Miss,
    "the requester that started before the commit gets what it read"
  );
  let rendered = runtime::render(metrics.registry());
  assert!(
    rendered.contains("response_cache_overtaken_total 1"),
    "the store was refused: {rendered}"
  );

  if let Some(redis) = redis {
    let client = redis::Client::open(redis).expect("redis url");
    let mut connection = client
      .get_multiplexed_async_connection()
      .await
      .expect("redis");
    assert_eq!(
      entity::cache::fetch_entry(
        &mut connection,
        &CacheKeys::new(prefix.clone()),
        scope,
        name
      )
      .await
      .expect("fetch"),
      None,
      "Redis refused the overtaken entry"
    );
  }
  let (value, outcome) = cache
    .get_or_build(scope, name, Duration::from_secs(86_400), async {
      Ok::<_, std::convert::Infallible>(
        lap_duration(&database.connection)
          .await
          .to_string()
          .into_bytes(),
      )
    })
    .await
    .expect("built");
  assert_eq!(outcome, CacheOutcome::Miss, "nothing overtaken was stored");
  assert_eq!(
    value.identity().as_ref(),
    (original + 10.0).to_string().as_bytes()
  );
  let (value, outcome) = cache
    .get_or_build(scope, name, Duration::from_secs(86_400), async {
      Ok::<_, std::convert::Infallible>(b"never built".to_vec())
    })
    .await
    .expect("hit");
  assert_eq!(outcome, CacheOutcome::Hit);
  assert_eq!(
    value.identity().as_ref(),
    (original + 10.0).to_string().as_bytes()
  );
}

#[tokio::test]
async fn a_build_overtaken_by_a_commit_is_stored_neither_in_redis_nor_in_memory() {
  a_build_overtaken_by_a_commit_is_never_stored(Some(&redis_url())).await;
}

#[tokio::test]
async fn a_build_overtaken_by_a_commit_is_not_stored_in_the_memory_tier_alone() {
  a_build_overtaken_by_a_commit_is_never_stored(None).await;
}

#[tokio::test]
async fn a_cache_hit_reads_no_database() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  seed_fixtures(
    &database.connection,
    &["season_2023_2025", "9472_bahrain_2024_race"],
  )
  .await;
  let proxy = TcpProxy::in_front_of(&database.url).await;
  let settings = Settings::for_tests(proxy.url());
  let pool = entity::database::connect(&proxy.url(), &entity::database::DatabaseOptions::default())
    .await
    .expect("connect through the proxy");
  let application = api::Application::build_with_database(settings, pool)
    .await
    .expect("build the api");
  let api = TestApi::serve(application, Some(database));
  let paths = [
    CHART,
    "/v1/seasons/2024/charts/championship-progression",
    "/openf1/v1/laps?session_key=9472&driver_number=1",
  ];
  for path in paths {
    let warm = api.get(path).await;
    assert_eq!(warm.status(), 200, "{path}");
    assert_eq!(warm.headers()["x-cache"], "miss", "{path}");
  }
  // A frozen database: any query would hang until the request is answered 503.
  proxy.cut(Outage::Frozen).await;
  for path in paths {
    let hit = api.get(path).await;
    assert_eq!(hit.status(), 200, "{path} with the database frozen");
    assert_eq!(hit.headers()["x-cache"], "hit", "{path}");
  }
  let uncached = api
    .get("/v1/sessions/9472/charts/lap-times?drivers=44")
    .await;
  assert_eq!(uncached.status(), 503, "a miss does need the database");
  proxy.restore().await;
}

/// GETs [`CHART`] from every api until each serves a body other than `old`; returns how long after
/// `committed_at` each did.
async fn wait_for_new_figures(
  apis: &[&TestApi],
  old: &str,
  committed_at: chrono::DateTime<Utc>,
) -> Vec<Duration> {
  let started = Instant::now();
  let mut after_commit: Vec<Option<Duration>> = vec![None; apis.len()];
  while after_commit.iter().any(Option::is_none) {
    assert!(
      started.elapsed() < POLL_DEADLINE,
      "a replica still serves the old figure: {after_commit:?}"
    );
    for (index, api) in apis.iter().enumerate() {
      if after_commit[index].is_some() {
        continue;
      }
      let response = api.get(CHART).await;
      assert_eq!(response.status(), 200);
      let body = response.text().await.expect("body");
      if body != old {
        let elapsed = (Utc::now() - committed_at).to_std().unwrap_or_default();
        after_commit[index] = Some(elapsed);
      }
    }
    // Polling the replicas, not ordering the test: the assertion is on the measured time.
    tokio::time::sleep(Duration::from_millis(10)).await;
  }
  after_commit.into_iter().flatten().collect()
}

#[tokio::test]
async fn two_replicas_over_one_redis_both_serve_the_new_figure_within_a_second_of_a_commit() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let prefix = unique_name("replicas");
  let settings = || {
    let mut settings = Settings::for_tests(database.url.clone());
    settings.shared.redis_url = Some(Secret::new(redis_url()));
    settings.shared.cache_prefix = prefix.clone();
    // Polled once an hour: only the Redis publication can reach the replicas in time.
    settings.change_poll_interval = Duration::from_secs(3600);
    settings
  };
  let first = TestApi::start(settings(), None).await;
  let second = TestApi::start(settings(), None).await;
  for api in [&first, &second] {
    let deadline = Instant::now() + POLL_DEADLINE;
    while api.feed.health().subscription != "subscribed" {
      assert!(Instant::now() < deadline, "a replica never subscribed");
      tokio::time::sleep(Duration::from_millis(10)).await;
    }
  }
  let warm = first.get(CHART).await;
  assert_eq!(warm.headers()["x-cache"], "miss");
  let old = warm.text().await.expect("body");
  let shared = second.get(CHART).await;
  assert_eq!(shared.headers()["x-cache"], "hit", "from Redis");
  for api in [&first, &second] {
    let hit = api.get(CHART).await;
    assert_eq!(hit.headers()["x-cache"], "hit", "from memory");
  }
  let metrics = second.metrics().await;
  assert!(
    metrics.contains("response_cache_hits_total{tier=\"redis\"} 1")
      && metrics.contains("response_cache_hits_total{tier=\"memory\"} 1"),
    "{metrics}"
  );

  let committer = committer(&database, Some(&redis_url()), &prefix);
  let original = lap_duration(&database.connection).await;
  let lap = corrected_lap(original + 10.0);
  let outcome = committer
    .commit(&[Batch {
      endpoint: Endpoint::Laps,
      rows: std::slice::from_ref(&lap),
      year: Some(2024),
    }])
    .await
    .expect("commit");
  let committed_at = outcome.changes[0].committed_at;
  let after = wait_for_new_figures(&[&first, &second], &old, committed_at).await;
  eprintln!("replicas served the new figure {after:?} after the commit");
  for elapsed in after {
    assert!(elapsed <= WITHIN, "{elapsed:?} after the commit");
  }
}

#[tokio::test]
async fn with_redis_down_the_memory_tier_serves_current_entries_but_not_one_a_commit_overtook() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let redis_proxy = TcpProxy::in_front_of(&redis_url()).await;
  let prefix = unique_name("redis_down");
  let mut settings = Settings::for_tests(database.url.clone());
  settings.shared.redis_url = Some(Secret::new(redis_proxy.url()));
  settings.shared.cache_prefix = prefix.clone();
  let committer = committer(&database, Some(&redis_proxy.url()), &prefix);
  let original = lap_duration(&database.connection).await;
  let api = TestApi::start(settings, Some(database)).await;
  let warm = api.get(CHART).await;
  assert_eq!(warm.headers()["x-cache"], "miss");
  let old = warm.text().await.expect("body");

  redis_proxy.cut(Outage::Refused).await;
  let hit = api.get(CHART).await;
  assert_eq!(hit.headers()["x-cache"], "hit", "the memory tier serves");
  assert_eq!(hit.text().await.expect("body"), old);

  // The worker's commit: Redis is down, so neither invalidation nor publication reaches anyone.
  let change = crate::change_feed::commit_rows(
    &committer,
    Endpoint::Laps,
    &[corrected_lap(original + 10.0)],
  )
  .await;
  wait_for(&api.feed, change).await;
  let rebuilt = api.get(CHART).await;
  assert_eq!(rebuilt.status(), 200);
  assert_eq!(
    rebuilt.headers()["x-cache"],
    "bypass",
    "the overtaken entry is not served; the figure is rebuilt without Redis"
  );
  let new = rebuilt.text().await.expect("body");
  assert_ne!(new, old);
  let hit = api.get(CHART).await;
  assert_eq!(hit.headers()["x-cache"], "hit", "kept in memory");
  assert_eq!(hit.text().await.expect("body"), new);

  redis_proxy.restore().await;
  let client = redis::Client::open(redis_url()).expect("redis url");
  let mut connection = client
    .get_multiplexed_async_connection()
    .await
    .expect("redis");
  let stale = entity::cache::fetch_entry(
    &mut connection,
    &CacheKeys::new(prefix),
    CacheScope::Session(9472),
    "chart:lap-times:drivers=1",
  )
  .await
  .expect("fetch")
  .expect("the entry Redis kept through the outage");
  assert!(
    stale.version < change,
    "Redis still holds the old figure: only its version keeps it from being served"
  );
}

#[tokio::test]
async fn the_embedded_default_sees_a_worker_process_commit_within_a_second() {
  let server = OpenF1Server::start(ServerOptions::new(fixtures_dir()))
    .await
    .expect("start the local Open F1 server");
  let database = TestDatabase::migrated(Engine::Sqlite).await;
  let backfill = |log: &std::path::Path| crate::crash::start_backfill(&database, &server, log);
  let log = std::env::temp_dir().join(format!("{}.log", unique_name("cache_worker")));
  let status = backfill(&log).wait().await.expect("the first backfill");
  assert!(
    status.success(),
    "first backfill failed; log: {}",
    log.display()
  );
  // The stored lap drifts from upstream behind the worker's back (no change is recorded): the next backfill
  // writes it back, as a correction from upstream would.
  let original = lap_duration(&database.connection).await;
  database
    .connection
    .execute_unprepared(&format!(
      "UPDATE laps SET lap_duration = {} WHERE session_key = 9472 AND driver_number = 1 AND lap_number = 2",
      original + 10.0
    ))
    .await
    .expect("change the lap");
  let before = change_log::changes_after(&database.connection, 0, 100_000)
    .await
    .expect("read the change log")
    .last()
    .map_or(0, |change| change.id);

  // The embedded default: SQLite, no Redis, the in-process cache.
  let api = TestApi::start(Settings::for_tests(database.url.clone()), None).await;
  let warm = api.get(CHART).await;
  assert_eq!(warm.headers()["x-cache"], "miss");
  let old = warm.text().await.expect("body");
  assert_eq!(api.get(CHART).await.headers()["x-cache"], "hit");

  let mut worker = backfill(&log);
  let started = Instant::now();
  let mut served_new_at = None;
  while served_new_at.is_none() {
    assert!(
      started.elapsed() < Duration::from_secs(120),
      "the api never served the new figure; worker log: {}",
      log.display()
    );
    let response = api.get(CHART).await;
    assert_eq!(response.status(), 200);
    if response.text().await.expect("body") != old {
      served_new_at = Some(Utc::now());
    }
    // Polling the api, not ordering the test: the assertion is on the measured time.
    tokio::time::sleep(Duration::from_millis(10)).await;
  }
  let status = worker.wait().await.expect("the second backfill");
  assert!(
    status.success(),
    "second backfill failed; log: {}",
    log.display()
  );
  let changes = change_log::changes_after(&database.connection, before, 100_000)
    .await
    .expect("read the change log");
  let correction = changes
    .iter()
    .find(|change| change.session_key == Some(9472) && change.touches("laps"))
    .expect("the worker recorded the lap it wrote back");
  assert!((lap_duration(&database.connection).await - original).abs() < 1e-9);
  let after = (served_new_at.expect("served") - correction.committed_at)
    .to_std()
    .unwrap_or_default();
  eprintln!("the api served the new figure {after:?} after the worker process committed it");
  assert!(after <= WITHIN, "{after:?} after the commit");
  std::fs::remove_file(&log).ok();
  server.stop().await;
}
