//! Noise and exposure: a standby worker waits for the lease without a slow-statement warning every few seconds
//! (while sqlx's slow-statement logging stays on elsewhere), problem documents never echo client input at any
//! length, and the api's metrics are served on their own address, not on the public port.

use std::time::Duration;

use f1_backend::{Engine, TestDatabase};
use sea_orm::sqlx::{self, ConnectOptions, Connection};
use tokio_util::sync::CancellationToken;
use worker::Lease;

use crate::api_support::TestApi;
use crate::logs::capture_logs;

#[tokio::test]
async fn a_standby_worker_waits_for_the_lease_without_slow_statement_warnings() {
  let database = TestDatabase::empty(Engine::MariaDb).await;
  let _holder = Lease::try_acquire(&database.url)
    .await
    .expect("ask for the lease")
    .expect("the first worker takes the lease");
  let (logs, _guard) = capture_logs();

  // The standby asks with GET_LOCK, which waits LEASE_WAIT_STEP, then says it is waiting: stop it right after.
  let cancellation = CancellationToken::new();
  let standby = Lease::acquire(&database.url, &cancellation);
  let watcher = async {
    while !logs.text().contains("waiting to take over") {
      tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancellation.cancel();
  };
  let (standby, ()) = tokio::join!(standby, watcher);
  assert!(matches!(standby, Err(worker::LeaseError::Cancelled)));
  let text = logs.text();
  assert!(
    !text.contains("slow statement"),
    "a waiting standby logs no slow statement:\n{text}"
  );

  // Control: the capture sees sqlx's slow-statement warning on any other connection.
  let options = database
    .url
    .parse::<sqlx::mysql::MySqlConnectOptions>()
    .expect("options")
    .log_slow_statements(log::LevelFilter::Warn, Duration::from_millis(50));
  let mut connection = sqlx::mysql::MySqlConnection::connect_with(&options)
    .await
    .expect("connect");
  sqlx::query("SELECT SLEEP(0.1)")
    .execute(&mut connection)
    .await
    .expect("sleep");
  connection.close().await.ok();
  assert!(
    logs.text().contains("slow statement"),
    "slow statements elsewhere are still logged"
  );
}

#[tokio::test]
async fn a_huge_path_is_not_echoed_in_full_in_the_problem_document() {
  let api = TestApi::seeded(Engine::Sqlite, &["9472_bahrain_2024_race"]).await;
  for path in [
    format!("/v1/{}", "a".repeat(40_000)),
    format!("/v1/sessions/9472/charts/{}", "x".repeat(40_000)),
    format!("/v1/sessions/{}/laps", "9".repeat(40_000)),
  ] {
    let response = api.get(&path).await;
    let status = response.status().as_u16();
    assert!(status == 404 || status == 400, "{status}");
    let body = response.bytes().await.expect("body");
    assert!(
      body.len() < 2048,
      "a {}-byte path gave a {}-byte problem document",
      path.len(),
      body.len()
    );
    let problem: serde_json::Value = serde_json::from_slice(&body).expect("problem+json");
    let instance = problem["instance"].as_str().expect("instance");
    assert!(instance.len() <= api::MAX_INSTANCE_BYTES);
    assert!(instance.ends_with('…'), "{instance}");
    assert!(path.starts_with(instance.trim_end_matches('…')));
  }
  let short = api.get("/v1/nothing-here").await;
  let problem: serde_json::Value = short.json().await.expect("problem+json");
  assert_eq!(
    problem["instance"], "/v1/nothing-here",
    "short paths are whole"
  );
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address_and_not_on_the_public_port() {
  let api = TestApi::seeded(Engine::Sqlite, &["9472_bahrain_2024_race"]).await;
  api.get_rows("/v1/sessions/9472/stints").await;
  let metrics = api.metrics().await;
  assert!(metrics.contains("http_requests_total"), "{metrics}");
  assert!(!api.metrics_url.starts_with(&format!("{}/", api.base_url)));
  let public = api.get("/metrics").await;
  assert_eq!(
    public.status(),
    404,
    "the public port does not serve metrics"
  );
}
