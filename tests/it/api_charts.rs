//! The chart route and the response cache: Redis entries under the shared key scheme, hits after misses, one
//! build for concurrent misses, and serving from the database when Redis cannot be reached.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use api::cache::{CacheOutcome, ResponseCache};
use api::metrics::Metrics;
use api::settings::{Secret, Settings};
use entity::cache::{CacheKeys, CacheScope};
use f1_backend::{Engine, TestDatabase, redis_url, seed_fixtures, unique_name};

use crate::api_support::TestApi;

#[tokio::test]
async fn a_session_chart_is_cached_in_redis_under_its_normalised_name_then_served_as_a_hit() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  seed_fixtures(&database.connection, &["9472_bahrain_2024_race"]).await;
  let prefix = unique_name("charts");
  let mut settings = Settings::for_tests(database.url.clone());
  settings.redis_url = Some(Secret::new(redis_url()));
  settings.cache_prefix = prefix.clone();
  let api = TestApi::start(settings, Some(database)).await;

  let first = api
    .get("/v1/sessions/9472/charts/lap-times?drivers=44,1")
    .await;
  assert_eq!(first.status(), 200);
  assert_eq!(first.headers()["x-cache"], "miss");
  assert_eq!(first.headers()["cache-control"], "public, max-age=86400");
  let entity_tag = first.headers()["etag"].to_str().expect("etag").to_owned();
  let figure: serde_json::Value = first.json().await.expect("json");
  assert!(figure["layout"].is_object());

  let second = api
    .get("/v1/sessions/9472/charts/lap-times?drivers=1,44")
    .await;
  assert_eq!(second.headers()["x-cache"], "hit", "drivers are normalised");
  assert_eq!(second.headers()["etag"], entity_tag.as_str());

  let client = redis::Client::open(redis_url()).expect("redis url");
  let mut connection = client
    .get_multiplexed_async_connection()
    .await
    .expect("redis");
  let keys = CacheKeys::new(prefix);
  let stored = entity::cache::fetch_entry(
    &mut connection,
    &keys,
    CacheScope::Session(9472),
    "chart:lap-times:drivers=1,44",
  )
  .await
  .expect("get");
  assert!(stored.is_some(), "stored under the shared key scheme");
  let removed = entity::cache::invalidate(&mut connection, &keys, [(CacheScope::Session(9472), 0)])
    .await
    .expect("invalidate");
  assert_eq!(removed, 1);
  let third = api
    .get("/v1/sessions/9472/charts/lap-times?drivers=1,44")
    .await;
  assert_eq!(
    third.headers()["x-cache"],
    "miss",
    "rebuilt after invalidation"
  );

  assert_eq!(
    api.get("/v1/sessions/1/charts/lap-times").await.status(),
    404
  );
  assert_eq!(
    api
      .get("/v1/sessions/9472/charts/lap-times?drivers=x")
      .await
      .status(),
    400
  );
}

#[tokio::test]
async fn a_season_chart_needs_a_stored_season() {
  let api = TestApi::seeded(Engine::Sqlite, &["season_2023_2025"]).await;
  let chart = api
    .get("/v1/seasons/2024/charts/championship-progression")
    .await;
  assert_eq!(chart.status(), 200);
  assert_eq!(chart.headers()["x-cache"], "miss");
  assert_eq!(
    api
      .get("/v1/seasons/2024/charts/championship-progression")
      .await
      .headers()["x-cache"],
    "hit",
    "the in-process cache serves the second request"
  );
  assert_eq!(
    api
      .get("/v1/seasons/1950/charts/championship-progression")
      .await
      .status(),
    404
  );
}

#[tokio::test]
async fn charts_are_served_from_the_database_when_redis_never_answers() {
  let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
  let port = silent.local_addr().expect("address").port();
  let database = TestDatabase::migrated(Engine::Sqlite).await;
  seed_fixtures(&database.connection, &["9472_bahrain_2024_race"]).await;
  let mut settings = Settings::for_tests(database.url.clone());
  settings.redis_url = Some(Secret::new(format!("redis://127.0.0.1:{port}")));
  let api = TestApi::start(settings, Some(database)).await;
  let chart = api.get("/v1/sessions/9472/charts/lap-times").await;
  assert_eq!(chart.status(), 200);
  assert_eq!(chart.headers()["x-cache"], "bypass");
  let metrics = api.metrics().await;
  assert!(
    metrics.contains("response_cache_lookups_total{outcome=\"error\"}"),
    "{metrics}"
  );
  drop(silent);
}

#[tokio::test]
async fn concurrent_misses_of_one_key_build_once() {
  let cache = ResponseCache::new(None, "f1", Metrics::new().expect("metrics")).expect("cache");
  let builds = Arc::new(AtomicUsize::new(0));
  let (release, released) = tokio::sync::watch::channel(false);
  let mut tasks = Vec::new();
  for _ in 0..8 {
    let cache = cache.clone();
    let builds = builds.clone();
    let mut released = released.clone();
    tasks.push(tokio::spawn(async move {
      cache
        .get_or_build(
          CacheScope::Session(1),
          "chart:lap-times:drivers=",
          Duration::from_secs(60),
          async move {
            builds.fetch_add(1, Ordering::SeqCst);
            released.wait_for(|released| *released).await.ok();
            Ok::<_, std::convert::Infallible>(b"{}".to_vec())
          },
        )
        .await
    }));
  }
  // Let every task reach the cache (the first builds, the others wait for it), within a bounded deadline.
  let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
  while builds.load(Ordering::SeqCst) == 0 && tokio::time::Instant::now() < deadline {
    tokio::task::yield_now().await;
  }
  for _ in 0..100 {
    tokio::task::yield_now().await;
  }
  release.send(true).expect("release");
  let mut outcomes = Vec::new();
  for task in tasks {
    let (value, outcome) = task.await.expect("join").expect("build");
    assert_eq!(value.as_slice(), b"{}");
    outcomes.push(outcome);
  }
  assert_eq!(builds.load(Ordering::SeqCst), 1, "{outcomes:?}");
  assert_eq!(
    outcomes
      .iter()
      .filter(|outcome| **outcome == CacheOutcome::Miss)
      .count(),
    1
  );
}
