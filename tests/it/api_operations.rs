//! Errors as problem+json, operational endpoints (health, readiness, metrics), request ids, CORS, and behaviour
//! when MariaDB or Redis cannot be reached (simulated with a closed port or a listener that never answers; the
//! shared servers are never stopped).

use std::time::{Duration, Instant};

use api::{Secret, Settings};
use f1_backend::{Engine, TestDatabase, redis_url, unique_name};
use serde_json::Value;

use crate::api_support::TestApi;

/// A port that accepts TCP connections but never answers (kept open while the value lives).
fn silent_listener() -> (std::net::TcpListener, u16) {
  let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
  let port = listener.local_addr().expect("address").port();
  (listener, port)
}

/// A port nothing listens on.
fn closed_port() -> u16 {
  let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
  listener.local_addr().expect("address").port()
}

async fn assert_problem(response: reqwest::Response, status: u16, detail_contains: &str) -> Value {
  assert_eq!(response.status(), status);
  assert_eq!(
    response.headers()["content-type"],
    "application/problem+json"
  );
  let problem: Value = response.json().await.expect("json");
  assert_eq!(problem["status"], status);
  assert!(problem["title"].is_string());
  assert!(problem["type"].is_string());
  assert!(problem["instance"].is_string());
  let detail = problem["detail"].as_str().unwrap_or("");
  assert!(
    detail.contains(detail_contains),
    "detail `{detail}` should mention `{detail_contains}`"
  );
  problem
}

#[tokio::test]
async fn every_error_is_a_problem_document_naming_what_went_wrong() {
  let api = TestApi::seeded(Engine::Sqlite, &["9472_bahrain_2024_race"]).await;
  assert_problem(api.get("/v1/sessions/1/laps").await, 404, "session_key 1").await;
  assert_problem(api.get("/v1/sessions/1").await, 404, "session_key 1").await;
  assert_problem(api.get("/v1/nothing-here").await, 404, "No resource").await;
  assert_problem(
    api.get("/v1/sessions/9472/laps?lap_min=ten").await,
    400,
    "lap_min",
  )
  .await;
  assert_problem(
    api.get("/v1/sessions/9472/laps?driver_number=one").await,
    400,
    "driver_number",
  )
  .await;
  assert_problem(
    api.get("/v1/sessions/9472/laps?date_from=yesterday").await,
    400,
    "date_from",
  )
  .await;
  assert!(
    api
      .get_rows("/v1/sessions/9472/laps?lap_min=20&lap_max=10")
      .await
      .is_empty(),
    "an empty range matches nothing"
  );
  assert_problem(api.get("/v1/sessions/abc/laps").await, 400, "session_key").await;
  let post = api
    .client
    .post(format!("{}/v1/sessions/9472/laps", api.base_url))
    .send()
    .await
    .expect("post");
  assert_eq!(post.headers()["allow"], "GET, HEAD");
  assert_problem(post, 405, "not allowed").await;
  let large = api
    .client
    .post(format!("{}/v1/sessions", api.base_url))
    .body(vec![b'x'; 100 * 1024])
    .send()
    .await
    .expect("post");
  assert_problem(large, 413, "larger").await;
  let long_query = format!("/v1/sessions?session_name={}", "a".repeat(5000));
  assert_problem(api.get(&long_query).await, 414, "query string").await;
  assert_problem(
    api.get("/v1/sessions/9472/charts/no-such-chart").await,
    404,
    "no-such-chart",
  )
  .await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
  let api = TestApi::seeded(Engine::Sqlite, &[]).await;
  let echoed = api
    .client
    .get(format!("{}/healthz", api.base_url))
    .header("x-request-id", "trace-42")
    .send()
    .await
    .expect("request");
  assert_eq!(echoed.headers()["x-request-id"], "trace-42");
  let generated = api.get("/healthz").await;
  assert_eq!(
    generated.headers()["x-request-id"]
      .to_str()
      .expect("id")
      .len(),
    36
  );
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
  let api = TestApi::seeded(Engine::Sqlite, &["9472_bahrain_2024_race"]).await;
  api.get_rows("/v1/sessions/9472/stints").await;
  api.get("/v1/sessions/1/stints").await;
  let metrics = api.metrics().await;
  assert!(
    metrics.contains(
      "http_requests_total{method=\"GET\",route=\"/v1/sessions/{session_key}/stints\",status=\"200\"} 1"
    ),
    "{metrics}"
  );
  assert!(metrics.contains("status=\"404\""));
  assert!(metrics.contains("http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn the_openapi_document_and_swagger_ui_are_served() {
  let api = TestApi::seeded(Engine::Sqlite, &[]).await;
  let spec = api.get_json("/openapi.json").await;
  assert!(spec["paths"]["/v1/sessions/{session_key}/car_data"].is_object());
  let docs = api.get("/docs").await;
  assert_eq!(docs.status(), 200);
  assert!(docs.text().await.expect("html").contains("swagger"));
}

#[tokio::test]
async fn cors_headers_are_sent_only_to_allowed_origins() {
  let database = TestDatabase::migrated(Engine::Sqlite).await;
  let mut settings = Settings::for_tests(database.url.clone());
  settings.cors_allowed_origins = vec!["https://f1.example".to_owned()];
  let api = TestApi::start(settings, Some(database)).await;
  let allowed = api
    .client
    .get(format!("{}/v1/seasons", api.base_url))
    .header("origin", "https://f1.example")
    .send()
    .await
    .expect("request");
  assert_eq!(
    allowed.headers()["access-control-allow-origin"],
    "https://f1.example"
  );
  let other = api
    .client
    .get(format!("{}/v1/seasons", api.base_url))
    .header("origin", "https://elsewhere.example")
    .send()
    .await
    .expect("request");
  assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn readiness_is_ready_with_database_and_redis_and_degraded_without_redis() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  let mut settings = Settings::for_tests(database.url.clone());
  settings.shared.redis_url = Some(Secret::new(redis_url()));
  settings.shared.cache_prefix = unique_name("ready");
  let api = TestApi::start(settings, Some(database)).await;
  let ready = api.get_json("/readyz").await;
  assert_eq!(ready["status"], "ready");
  assert_eq!(ready["cache"], "ok");

  let database = TestDatabase::migrated(Engine::Sqlite).await;
  let (_silent, port) = silent_listener();
  let mut settings = Settings::for_tests(database.url.clone());
  settings.shared.redis_url = Some(Secret::new(format!("redis://127.0.0.1:{port}")));
  let api = TestApi::start(settings, Some(database)).await;
  let degraded = api.get_json("/readyz").await;
  assert_eq!(degraded["status"], "degraded");
  assert_eq!(degraded["cache"], "unreachable");
}

async fn api_on_unreachable_database(database_port: u16) -> TestApi {
  let url = format!("mysql://root@127.0.0.1:{database_port}/f1_unreachable");
  let mut options = sea_orm::ConnectOptions::new(url.clone());
  options
    .connect_lazy(true)
    .acquire_timeout(Duration::from_secs(3))
    .connect_timeout(Duration::from_secs(3))
    .sqlx_logging(false);
  let connection = sea_orm::Database::connect(options)
    .await
    .expect("lazy pool");
  let application = api::Application::build_with_database(Settings::for_tests(url), connection)
    .await
    .expect("build");
  TestApi::serve(application, None)
}

#[tokio::test]
async fn a_database_that_never_answers_gives_503_within_seconds_not_a_hang() {
  let (_silent, port) = silent_listener();
  let api = api_on_unreachable_database(port).await;
  let started = Instant::now();
  let problem = assert_problem(api.get("/v1/sessions/9472/laps").await, 503, "database").await;
  assert!(
    started.elapsed() < Duration::from_secs(8),
    "took {:?}",
    started.elapsed()
  );
  let text = problem.to_string();
  assert!(
    !text.contains("SELECT") && !text.contains("mysql://"),
    "{text}"
  );
  let readiness = api.get("/readyz").await;
  assert_eq!(readiness.status(), 503);
  assert_eq!(
    api.get("/healthz").await.status(),
    200,
    "alive all the same"
  );
}

#[tokio::test]
async fn a_closed_database_port_gives_503_and_not_ready() {
  let api = api_on_unreachable_database(closed_port()).await;
  assert_problem(api.get("/v1/seasons").await, 503, "database").await;
  assert_eq!(api.get("/readyz").await.status(), 503);
}

#[tokio::test]
async fn a_request_slower_than_the_request_timeout_is_answered_503() {
  // The database answers (its monitor probes it), but the pool's server never does: a slow request, not an outage.
  let database = TestDatabase::empty(Engine::MariaDb).await;
  let (_silent, port) = silent_listener();
  let url = format!("mysql://root@127.0.0.1:{port}/f1_unreachable");
  let mut options = sea_orm::ConnectOptions::new(url.clone());
  options
    .connect_lazy(true)
    .acquire_timeout(Duration::from_secs(30))
    .connect_timeout(Duration::from_secs(30))
    .sqlx_logging(false);
  let connection = sea_orm::Database::connect(options)
    .await
    .expect("lazy pool");
  let mut settings = Settings::for_tests(database.url.clone());
  settings.request_timeout = Duration::from_secs(1);
  let application = api::Application::build_with_database(settings, connection)
    .await
    .expect("build");
  let api = TestApi::serve(application, Some(database));
  let started = Instant::now();
  let response = api.get("/v1/seasons").await;
  assert_eq!(response.headers()["retry-after"], "1");
  assert_problem(response, 503, "too long").await;
  assert!(started.elapsed() < Duration::from_secs(5));
}
