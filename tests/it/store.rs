//! The worker's store keeps exactly the upstream rows: counts equal the fixtures, re-storing writes nothing,
//! and a corrected upstream row replaces the stored one.

use entity::{Endpoint, laps, overtakes, position, race_control, session_result, weather};
use f1_backend::{Engine, TestDatabase, fixture_rows, fixtures_dir, seed_fixtures};
use worker::store_rows;

async fn recorded_weekends_are_stored_row_for_row(engine: Engine) {
  let database = TestDatabase::migrated(engine).await;
  let first = seed_fixtures(
    &database.connection,
    &[
      "9472_bahrain_2024_race",
      "11253_suzuka_2026_race",
      "11249_suzuka_2026_qualifying",
    ],
  )
  .await;
  assert_eq!(first.skipped, 0);
  assert_eq!(database.count_rows::<laps::Entity>(9472).await, 1129);
  assert_eq!(database.count_rows::<position::Entity>(9472).await, 435);
  assert_eq!(database.count_rows::<overtakes::Entity>(11253).await, 218);
  assert_eq!(database.count_rows::<weather::Entity>(11253).await, 156);
  assert_eq!(database.count_rows::<race_control::Entity>(11253).await, 49);
  assert_eq!(
    database.count_rows::<session_result::Entity>(11249).await,
    22
  );

  let second = seed_fixtures(
    &database.connection,
    &[
      "9472_bahrain_2024_race",
      "11253_suzuka_2026_race",
      "11249_suzuka_2026_qualifying",
    ],
  )
  .await;
  assert_eq!(second.received, first.received);
  assert_eq!(
    second.written, 0,
    "storing the same rows again writes nothing"
  );
  assert!(second.sessions_changed.is_empty());
}

#[tokio::test]
async fn recorded_weekends_are_stored_row_for_row_on_mariadb() {
  recorded_weekends_are_stored_row_for_row(Engine::MariaDb).await;
}

#[tokio::test]
async fn recorded_weekends_are_stored_row_for_row_on_sqlite() {
  recorded_weekends_are_stored_row_for_row(Engine::Sqlite).await;
}

#[tokio::test]
async fn a_corrected_upstream_lap_replaces_the_stored_one_and_only_its_session_changes() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let mut rows = fixture_rows(&fixtures_dir().join("9472_bahrain_2024_race/laps.json"));
  let corrected = rows
    .iter_mut()
    .find(|row| row["driver_number"] == 1 && row["lap_number"] == 5)
    .expect("lap 5");
  corrected["lap_duration"] = serde_json::json!(95.001);

  let outcome = store_rows(&database.connection, Endpoint::Laps, &rows)
    .await
    .expect("store");
  assert_eq!(outcome.written, 1);
  assert_eq!(
    outcome.sessions_changed.into_iter().collect::<Vec<_>>(),
    vec![9472]
  );
  assert_eq!(
    database.stored_lap(9472, 1, 5).await.lap_duration,
    Some(95.001)
  );
  assert_eq!(database.count_rows::<laps::Entity>(9472).await, 1129);
}

#[tokio::test]
async fn bad_rows_are_skipped_and_the_rest_of_the_batch_is_stored() {
  let database = TestDatabase::migrated(Engine::Sqlite).await;
  let rows = vec![
    serde_json::json!({"session_key": 1, "meeting_key": 2, "driver_number": 3, "lap_number": 1, "lap_duration": 90.5}),
    serde_json::json!({"session_key": 1, "meeting_key": 2, "lap_number": 2}),
    serde_json::json!("not an object"),
    serde_json::json!({"session_key": 1, "meeting_key": 2, "driver_number": 3, "lap_number": 2, "future_field": [1]}),
  ];
  let outcome = store_rows(&database.connection, Endpoint::Laps, &rows)
    .await
    .expect("store");
  assert_eq!(
    (outcome.received, outcome.skipped, outcome.written),
    (4, 2, 2)
  );
}
