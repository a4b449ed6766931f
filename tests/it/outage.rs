//! Dependency outages, made by cutting the connection with a TCP proxy (never by stopping the shared servers):
//! with MariaDB refusing connections or frozen, the api answers every request that needs it 503 problem+json with
//! `Retry-After` at once (whatever its pool and request timeouts) and recovers without a restart; a healthy slow
//! query is not cut; both binaries' health and readiness answer at once whatever MariaDB and Redis do.
//!
//! The pools here wait up to a minute for a connection and requests may take a minute, so an answer within the
//! client's few seconds can only come from failing fast; the measured latencies are printed, not asserted.

use std::time::{Duration, Instant};

use api::{Secret, Settings};
use f1_backend::{Engine, Outage, TcpProxy, TestDatabase};
use openf1_server::{OpenF1Server, ServerOptions};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::api_support::TestApi;

/// Longer than any wait of the code under test but the ones failing fast must cut short.
const PATIENT: Duration = Duration::from_secs(60);
/// How long a test waits for an answer that must come at once (generous for a loaded machine; the old behaviour
/// waited 3 s for a refused database and up to the request timeout for a frozen one).
const AT_ONCE: Duration = Duration::from_secs(5);
/// How many times a test polls for a state that the database monitor reaches within a second.
const POLLS: usize = 200;

fn client() -> reqwest::Client {
  crate::api_support::client();
  reqwest::Client::builder()
    .timeout(AT_ONCE)
    .build()
    .expect("client")
}

/// A pool that waits [`PATIENT`] for a connection.
async fn patient_pool(url: &str) -> sea_orm::DatabaseConnection {
  let options = entity::database::DatabaseOptions {
    max_connections: 10,
    acquire_timeout: PATIENT,
  };
  entity::database::connect(url, &options)
    .await
    .expect("connect through the proxy")
}

/// The api on a seeded MariaDB database reached through a proxy, with a patient pool and request timeout.
async fn api_through_proxy() -> (TestApi, TcpProxy) {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let proxy = TcpProxy::in_front_of(&database.url).await;
  let mut settings = Settings::for_tests(proxy.url());
  settings.request_timeout = PATIENT;
  let pool = patient_pool(&proxy.url()).await;
  let application = api::Application::build_with_database(settings, pool)
    .await
    .expect("build the api");
  (TestApi::serve(application, Some(database)), proxy)
}

/// An answer and how long it took.
struct Answer {
  status: u16,
  retry_after: Option<String>,
  content_type: String,
  body: String,
  elapsed: Duration,
}

impl Answer {
  /// The body as a problem document (asserting the media type).
  fn problem(&self) -> Value {
    assert_eq!(self.content_type, "application/problem+json");
    serde_json::from_str(&self.body).expect("problem+json")
  }
}

/// GETs `path`, which must be answered within [`AT_ONCE`].
async fn timed_get(client: &reqwest::Client, base_url: &str, path: &str) -> Answer {
  let started = Instant::now();
  let response = client
    .get(format!("{base_url}{path}"))
    .send()
    .await
    .unwrap_or_else(|error| panic!("GET {path} must be answered at once: {error}"));
  let header = |name: &str| {
    response
      .headers()
      .get(name)
      .and_then(|value| value.to_str().ok())
      .map(str::to_owned)
  };
  let status = response.status().as_u16();
  let retry_after = header("retry-after");
  let content_type = header("content-type").unwrap_or_default();
  let body = response.text().await.expect("body");
  Answer {
    status,
    retry_after,
    content_type,
    body,
    elapsed: started.elapsed(),
  }
}

/// Waits until GET `path` answers `status` (each answer must come at once).
async fn wait_for_status(client: &reqwest::Client, base_url: &str, path: &str, status: u16) {
  for _ in 0..POLLS {
    if timed_get(client, base_url, path).await.status == status {
      return;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
  }
  panic!("GET {path} never answered {status}");
}

/// Paths that need the database: a list, a session's rows, and a chart (cached once requested).
const PATHS_NEEDING_THE_DATABASE: [&str; 4] = [
  "/v1/seasons",
  "/v1/sessions/9472",
  "/v1/sessions/9472/laps?limit=5",
  "/v1/sessions/9472/charts/lap-times",
];
/// A chart not requested before the outage: it needs the database.
const CHART_NOT_CACHED: &str = "/v1/sessions/9472/charts/lap-times?drivers=44";

async fn outage_is_answered_503_at_once_and_recovers(outage: Outage) {
  let (api, proxy) = api_through_proxy().await;
  let client = client();
  for path in PATHS_NEEDING_THE_DATABASE {
    assert_eq!(
      timed_get(&client, &api.base_url, path).await.status,
      200,
      "{path}"
    );
  }

  proxy.cut(outage).await;
  let mut latencies = Vec::new();
  let paths = PATHS_NEEDING_THE_DATABASE[..3]
    .iter()
    .copied()
    .chain([CHART_NOT_CACHED]);
  for path in paths {
    let answer = timed_get(&client, &api.base_url, path).await;
    assert_eq!(answer.status, 503, "GET {path} during a {outage:?} outage");
    assert_eq!(answer.retry_after.as_deref(), Some("1"), "GET {path}");
    let problem = answer.problem();
    assert_eq!(problem["status"], 503);
    assert!(
      problem["detail"]
        .as_str()
        .is_some_and(|detail| detail.contains("database")),
      "{problem}"
    );
    latencies.push(answer.elapsed);
  }
  eprintln!("{outage:?} database: 503 after {latencies:?}");
  let cached = client
    .get(format!("{}{}", api.base_url, PATHS_NEEDING_THE_DATABASE[3]))
    .send()
    .await
    .expect("a cached chart is answered at once");
  assert_eq!(cached.status(), 200, "a cached chart needs no database");
  assert_eq!(cached.headers()["x-cache"], "hit");
  let readiness = timed_get(&client, &api.base_url, "/readyz").await;
  assert_eq!(readiness.status, 503);
  assert_eq!(readiness.retry_after.as_deref(), Some("1"));
  assert_eq!(
    timed_get(&client, &api.base_url, "/healthz").await.status,
    200,
    "alive all the same"
  );

  let restored = Instant::now();
  proxy.restore().await;
  wait_for_status(&client, &api.base_url, "/readyz", 200).await;
  eprintln!(
    "{outage:?} database: ready again {:?} after the restore",
    restored.elapsed()
  );
  for path in PATHS_NEEDING_THE_DATABASE {
    assert_eq!(
      timed_get(&client, &api.base_url, path).await.status,
      200,
      "GET {path} after the outage, without a restart"
    );
  }
}

#[tokio::test]
async fn a_database_refusing_connections_is_answered_503_with_retry_after_at_once_and_recovers_without_restart()
 {
  outage_is_answered_503_at_once_and_recovers(Outage::Refused).await;
}

#[tokio::test]
async fn a_frozen_database_is_answered_503_with_retry_after_at_once_and_recovers_without_restart() {
  outage_is_answered_503_at_once_and_recovers(Outage::Frozen).await;
}

#[tokio::test]
async fn a_slow_query_on_a_database_that_answers_is_not_cut_short() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  // The pool goes through the proxy; the monitor probes the database directly, which keeps answering: a frozen
  // proxy then makes every query of the pool slow, not the database unreachable.
  let proxy = TcpProxy::in_front_of(&database.url).await;
  let mut settings = Settings::for_tests(database.url.clone());
  settings.request_timeout = PATIENT;
  let pool = patient_pool(&proxy.url()).await;
  let application = api::Application::build_with_database(settings, pool)
    .await
    .expect("build the api");
  let api = TestApi::serve(application, Some(database));
  let client = reqwest::Client::builder()
    .timeout(PATIENT)
    .build()
    .expect("client");

  proxy.cut(Outage::Frozen).await;
  let request = tokio::spawn({
    let client = client.clone();
    let url = format!("{}/v1/sessions/9472/laps?limit=5", api.base_url);
    async move {
      client
        .get(url)
        .send()
        .await
        .map(|response| response.status())
    }
  });
  // Slower than an outage takes to be answered 503 (at most 0.8 s), then the query finishes.
  tokio::time::sleep(Duration::from_millis(1500)).await;
  proxy.restore().await;
  let status = request.await.expect("request task").expect("answered");
  assert_eq!(status, 200, "a slow query of a healthy database succeeds");
}

#[tokio::test]
async fn the_api_readiness_answers_at_once_whether_mariadb_or_redis_is_frozen() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  let database_proxy = TcpProxy::in_front_of(&database.url).await;
  let redis_proxy = TcpProxy::in_front_of(&f1_backend::redis_url()).await;
  let mut settings = Settings::for_tests(database_proxy.url());
  settings.shared.redis_url = Some(Secret::new(redis_proxy.url()));
  settings.shared.cache_prefix = f1_backend::unique_name("ready");
  settings.request_timeout = PATIENT;
  let application =
    api::Application::build_with_database(settings, patient_pool(&database_proxy.url()).await)
      .await
      .expect("build the api");
  let api = TestApi::serve(application, Some(database));
  let client = client();
  wait_for_status(&client, &api.base_url, "/readyz", 200).await;

  redis_proxy.cut(Outage::Frozen).await;
  let readiness = timed_get(&client, &api.base_url, "/readyz").await;
  eprintln!(
    "api /readyz with Redis frozen: {} after {:?}",
    readiness.status, readiness.elapsed
  );
  assert_eq!(
    readiness.status, 200,
    "a frozen Redis only degrades the api"
  );
  let body: Value = serde_json::from_str(&readiness.body).expect("json");
  assert_eq!(body["status"], "degraded");
  assert_eq!(body["cache"], "unreachable");

  database_proxy.cut(Outage::Frozen).await;
  wait_for_status(&client, &api.base_url, "/readyz", 503).await;
  let readiness = timed_get(&client, &api.base_url, "/readyz").await;
  eprintln!(
    "api /readyz with MariaDB and Redis frozen: {} after {:?}",
    readiness.status, readiness.elapsed
  );
  let problem = readiness.problem();
  assert!(
    problem["detail"]
      .as_str()
      .is_some_and(|detail| detail.contains("unreachable")),
    "{problem}"
  );
  assert_eq!(
    timed_get(&client, &api.base_url, "/healthz").await.status,
    200
  );
  let scrape = client
    .get(&api.metrics_url)
    .send()
    .await
    .expect("metrics are answered at once");
  assert_eq!(scrape.status(), 200);

  database_proxy.restore().await;
  redis_proxy.restore().await;
  wait_for_status(&client, &api.base_url, "/readyz", 200).await;
}

#[tokio::test]
async fn the_worker_probes_answer_at_once_whether_mariadb_or_redis_is_frozen() {
  let server = OpenF1Server::start(ServerOptions::new(f1_backend::fixtures_dir()))
    .await
    .expect("start the local Open F1 server");
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  let database_proxy = TcpProxy::in_front_of(&database.url).await;
  let redis_proxy = TcpProxy::in_front_of(&f1_backend::redis_url()).await;
  let mut settings = worker::Settings::with_database(&database_proxy.url()).expect("settings");
  settings.base_url = server.base_url();
  settings.token_url = server.token_url();
  settings.shared.redis_url = Some(worker::Secret::new(redis_proxy.url()));
  settings.shared.cache_prefix = f1_backend::unique_name("probe");
  settings.metrics_address = "127.0.0.1:0".parse().expect("address");
  settings.years = vec![2024];
  let worker = worker::Worker::build(settings)
    .await
    .expect("build the worker");
  let base_url = format!("http://127.0.0.1:{}", worker.port());
  let stop = CancellationToken::new();
  let running = tokio::spawn(worker.run_until_stopped(stop.clone()));
  let client = client();
  wait_for_status(&client, &base_url, "/readyz", 200).await;

  redis_proxy.cut(Outage::Frozen).await;
  let readiness = timed_get(&client, &base_url, "/readyz").await;
  eprintln!(
    "worker /readyz with Redis frozen: {} after {:?}",
    readiness.status, readiness.elapsed
  );
  assert_eq!(
    readiness.status, 200,
    "Redis only serves invalidation: still ready"
  );

  database_proxy.cut(Outage::Frozen).await;
  // Each answer comes at once: first "lease not held" (its check gives up), then "database unreachable" too.
  let mut answers = Vec::new();
  for _ in 0..POLLS {
    let readiness = timed_get(&client, &base_url, "/readyz").await;
    assert_eq!(readiness.status, 503, "{}", readiness.body);
    answers.push(readiness.elapsed);
    if readiness.body.contains("database_reachable=false") {
      break;
    }
  }
  eprintln!("worker /readyz with MariaDB and Redis frozen: 503 after {answers:?}");
  let readiness = timed_get(&client, &base_url, "/readyz").await;
  assert!(
    readiness.body.contains("database_reachable=false"),
    "{}",
    readiness.body
  );
  assert_eq!(timed_get(&client, &base_url, "/healthz").await.status, 200);
  assert_eq!(timed_get(&client, &base_url, "/metrics").await.status, 200);

  database_proxy.restore().await;
  redis_proxy.restore().await;
  wait_for_status(&client, &base_url, "/readyz", 200).await;
  stop.cancel();
  running
    .await
    .expect("worker task")
    .expect("the worker stops cleanly");
  server.stop().await;
}
