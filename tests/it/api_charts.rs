//! The chart routes and the response cache: the catalogue, the chart enums of the OpenAPI document, parameter
//! validation, Redis entries under the shared key scheme, hits after misses, one build for concurrent misses, and
//! serving from the database when Redis cannot be reached.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use api::{CacheOutcome, ChartKind, Metrics, ResponseCache, Secret, Settings};
use entity::Endpoint;
use entity::cache::{CacheKeys, CacheScope};
use f1_backend::{Engine, TestDatabase, redis_url, seed_fixtures, unique_name};

use crate::api_support::TestApi;

#[tokio::test]
async fn a_session_chart_is_cached_in_redis_under_its_normalised_name_then_served_as_a_hit() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let prefix = unique_name("charts");
  let mut settings = Settings::for_tests(database.url.clone());
  settings.shared.redis_url = Some(Secret::new(redis_url()));
  settings.shared.cache_prefix = prefix.clone();
  let database_handle = database;
  let api = TestApi::start(settings, None).await;

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
  let keys = CacheKeys::new(prefix.clone());
  let stored = entity::cache::fetch_entry(
    &mut connection,
    &keys,
    CacheScope::Session(9472),
    "chart:lap-times:drivers=1,44",
  )
  .await
  .expect("get");
  assert!(stored.is_some(), "stored under the shared key scheme");
  assert_eq!(
    stored.expect("stored").version,
    0,
    "built before any change"
  );
  // The worker corrects a lap of car 1: its commit overtakes the cached figure in both tiers.
  let committer = crate::change_feed::committer(&database_handle, Some(&redis_url()), &prefix);
  let mut corrected = crate::change_feed::race_rows("laps.json")
    .into_iter()
    .find(|lap| lap["driver_number"] == 1 && lap["lap_duration"].is_number())
    .expect("a timed lap of car 1");
  corrected["lap_duration"] = serde_json::json!(123.456);
  let change = crate::change_feed::commit_rows(&committer, Endpoint::Laps, &[corrected]).await;
  crate::change_feed::wait_for(&api.feed, change).await;
  let third = api
    .get("/v1/sessions/9472/charts/lap-times?drivers=1,44")
    .await;
  assert_eq!(
    third.headers()["x-cache"],
    "miss",
    "rebuilt after the commit"
  );
  assert_ne!(third.headers()["etag"], entity_tag.as_str(), "a new figure");
  let rebuilt = entity::cache::fetch_entry(
    &mut connection,
    &keys,
    CacheScope::Session(9472),
    "chart:lap-times:drivers=1,44",
  )
  .await
  .expect("get")
  .expect("stored again");
  assert_eq!(
    rebuilt.version, change,
    "stored at the version of the commit"
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
  let database = TestDatabase::seeded(Engine::Sqlite, &["9472_bahrain_2024_race"]).await;
  let mut settings = Settings::for_tests(database.url.clone());
  settings.shared.redis_url = Some(Secret::new(format!("redis://127.0.0.1:{port}")));
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
  let database = TestDatabase::migrated(Engine::Sqlite).await;
  let metrics = Metrics::new().expect("metrics");
  let feed = api::ChangeFeed::start(
    database.connection.clone(),
    None,
    "f1",
    Duration::from_millis(250),
    metrics.clone(),
  )
  .await
  .expect("feed");
  let cache = ResponseCache::new(None, "f1", 1 << 20, feed, metrics).expect("cache");
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
    assert_eq!(value.identity().as_ref(), b"{}");
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

#[tokio::test]
async fn the_catalogue_lists_every_chart_kind_and_every_chart_renders() {
  let api = TestApi::seeded(
    Engine::Sqlite,
    &[
      "season_2023_2025",
      "season_2024_opening_rounds",
      "9472_bahrain_2024_race",
    ],
  )
  .await;
  let response = api.get("/v1/charts").await;
  assert_eq!(response.status(), 200);
  assert_eq!(response.headers()["cache-control"], "public, max-age=3600");
  let catalogue: Vec<serde_json::Value> = response.json().await.expect("json");
  let slugs: Vec<&str> = catalogue
    .iter()
    .map(|chart| chart["slug"].as_str().expect("slug"))
    .collect();
  let kinds: Vec<&str> = ChartKind::ALL.iter().map(ChartKind::slug).collect();
  assert_eq!(slugs, kinds, "every chart kind, in catalogue order");
  assert!(slugs.len() >= 24);
  let parameters = [
    "drivers",
    "lap_min",
    "lap_max",
    "reference",
    "comparison",
    "comparison_session",
  ];
  for chart in &catalogue {
    let slug = chart["slug"].as_str().expect("slug");
    assert!(!chart["title"].as_str().unwrap_or_default().is_empty());
    assert!(!chart["description"].as_str().unwrap_or_default().is_empty());
    assert!(
      !chart["session_types"]
        .as_array()
        .expect("session types")
        .is_empty()
    );
    for parameter in chart["parameters"].as_array().expect("parameters") {
      assert!(parameters.contains(&parameter["name"].as_str().expect("name")));
      assert!(parameter["description"].is_string());
    }
    assert!(
      chart["tables"]
        .as_array()
        .expect("tables")
        .contains(&serde_json::json!("drivers")),
      "{slug}: every chart names its drivers"
    );
    let path = chart["path"].as_str().expect("path");
    let url = match chart["scope"].as_str() {
      Some("session") => path.replace("{session_key}", "9472"),
      Some("season") => path.replace("{year}", "2024"),
      other => panic!("{slug}: scope {other:?}"),
    };
    assert!(url.ends_with(slug));
    let figure = api.get_json(&url).await;
    assert!(figure["data"].is_array(), "{slug}");
    assert!(figure["layout"]["title"]["text"].is_string(), "{slug}");
  }
  let lap_delta = catalogue
    .iter()
    .find(|chart| chart["slug"] == "lap-delta")
    .expect("lap-delta");
  assert_eq!(
    lap_delta["tables"],
    serde_json::json!([
      "car_data",
      "drivers",
      "laps",
      "meetings",
      "session_result",
      "sessions"
    ])
  );
}

#[tokio::test]
async fn the_openapi_document_enumerates_the_charts_of_each_scope() {
  let api = TestApi::seeded(Engine::Sqlite, &[]).await;
  let document = api.get_json("/openapi.json").await;
  let enumeration = |schema: &str| -> Vec<String> {
    document["components"]["schemas"][schema]["enum"]
      .as_array()
      .unwrap_or_else(|| panic!("{schema} is an enum"))
      .iter()
      .map(|slug| slug.as_str().expect("slug").to_owned())
      .collect()
  };
  let of_scope = |season: bool| -> Vec<String> {
    ChartKind::ALL
      .iter()
      .filter(|kind| kind.is_season_chart() == season)
      .map(|kind| kind.slug().to_owned())
      .collect()
  };
  assert_eq!(enumeration("SessionChart"), of_scope(false));
  assert_eq!(enumeration("SeasonChart"), of_scope(true));
  let session_chart = &document["paths"]["/v1/sessions/{session_key}/charts/{chart}"]["get"];
  let chart_parameter = session_chart["parameters"]
    .as_array()
    .expect("parameters")
    .iter()
    .find(|parameter| parameter["name"] == "chart")
    .expect("chart parameter");
  assert_eq!(
    chart_parameter["schema"]["$ref"],
    "#/components/schemas/SessionChart"
  );
  let season_doc = document["paths"]["/v1/seasons/{year}/charts/{chart}"]["get"]["description"]
    .as_str()
    .expect("description");
  assert!(season_doc.contains("championship-progression"));
  assert!(!season_doc.contains("championship-points"));
}

#[tokio::test]
async fn chart_parameters_are_validated_with_problems_and_cached_under_normalised_names() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  seed_fixtures(
    &database.connection,
    &["season_2023_2025", "9472_bahrain_2024_race"],
  )
  .await;
  let api = TestApi::start(Settings::for_tests(database.url.clone()), Some(database)).await;
  for (path, status, detail) in [
    (
      "/v1/sessions/9472/charts/weather?drivers=1",
      400,
      "`weather` does not take this parameter; it takes none",
    ),
    (
      "/v1/sessions/9472/charts/lap-times?reference=1:3",
      400,
      "`reference`",
    ),
    (
      "/v1/sessions/9472/charts/lap-delta?reference=1:99",
      400,
      "car 1 has no lap 99 in session 9472",
    ),
    (
      "/v1/sessions/9472/charts/lap-delta?comparison=5",
      400,
      "car 5 has no laps",
    ),
    (
      "/v1/sessions/9472/charts/lap-delta?reference=1:x",
      400,
      "`x` is not a lap number",
    ),
    (
      "/v1/sessions/9472/charts/lap-delta?comparison_session=9165",
      400,
      "laps compare only on one circuit",
    ),
    (
      "/v1/sessions/9472/charts/mini-sector-dominance?drivers=1",
      400,
      "2 to 5 drivers",
    ),
    (
      "/v1/sessions/9472/charts/results-heatmap",
      400,
      "season chart",
    ),
    ("/v1/seasons/2024/charts/lap-times", 400, "session chart"),
    (
      "/v1/seasons/2024/charts/no-such-chart",
      404,
      "season charts:",
    ),
    (
      "/v1/seasons/2024/charts/constructors-progression?drivers=1",
      400,
      "does not take",
    ),
  ] {
    let response = api.get(path).await;
    assert_eq!(response.status(), status, "{path}");
    assert_eq!(
      response.headers()["content-type"],
      "application/problem+json"
    );
    let problem: serde_json::Value = response.json().await.expect("problem");
    assert!(
      problem["detail"]
        .as_str()
        .is_some_and(|text| text.contains(detail)),
      "{path}: {problem}"
    );
  }
  let unsuited = api.get("/v1/sessions/9472/charts/qualifying-delta").await;
  assert_eq!(
    unsuited.status(),
    200,
    "an unsuited session type is explained"
  );
  let figure: serde_json::Value = unsuited.json().await.expect("figure");
  assert!(
    figure["layout"]["annotations"][0]["text"]
      .as_str()
      .is_some_and(|text| text.contains("is drawn for Qualifying sessions"))
  );
  let first = api
    .get("/v1/sessions/9472/charts/lap-delta?reference=01:039&comparison=016")
    .await;
  assert_eq!(first.status(), 200);
  assert_eq!(first.headers()["x-cache"], "miss");
  let second = api
    .get("/v1/sessions/9472/charts/lap-delta?comparison=16&reference=1:39")
    .await;
  assert_eq!(
    second.headers()["x-cache"],
    "hit",
    "laps are cached under normalised names"
  );
}
