//! Migrations run up and down on MariaDB and SQLite, and every table enforces its natural key.

use f1_backend::{Engine, TestDatabase};
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, Statement};

const DATA_TABLES: [&str; 18] = [
  "car_data",
  "championship_drivers",
  "championship_teams",
  "drivers",
  "intervals",
  "laps",
  "location",
  "meetings",
  "overtakes",
  "pit",
  "position",
  "race_control",
  "session_result",
  "sessions",
  "starting_grid",
  "stints",
  "team_radio",
  "weather",
];

/// The natural key of each table, in primary-key order.
const NATURAL_KEYS: [(&str, &[&str]); 20] = [
  ("car_data", &["session_key", "driver_number", "date"]),
  ("change_log", &["id"]),
  ("championship_drivers", &["session_key", "driver_number"]),
  ("championship_teams", &["session_key", "team_name"]),
  ("drivers", &["session_key", "driver_number"]),
  ("ingest_state", &["session_key"]),
  ("intervals", &["session_key", "driver_number", "date"]),
  ("laps", &["session_key", "driver_number", "lap_number"]),
  ("location", &["session_key", "driver_number", "date"]),
  ("meetings", &["meeting_key"]),
  (
    "overtakes",
    &[
      "session_key",
      "date",
      "overtaking_driver_number",
      "overtaken_driver_number",
    ],
  ),
  ("pit", &["session_key", "driver_number", "lap_number"]),
  ("position", &["session_key", "driver_number", "date"]),
  ("race_control", &["session_key", "event_key"]),
  ("session_result", &["session_key", "driver_number"]),
  ("sessions", &["session_key"]),
  ("starting_grid", &["session_key", "driver_number"]),
  ("stints", &["session_key", "driver_number", "stint_number"]),
  ("team_radio", &["session_key", "driver_number", "date"]),
  ("weather", &["session_key", "date"]),
];

fn expected_tables_after_up() -> Vec<String> {
  let mut names: Vec<String> = DATA_TABLES.iter().map(|name| (*name).to_owned()).collect();
  names.push("ingest_state".to_owned());
  names.push("change_log".to_owned());
  names.push("seaql_migrations".to_owned());
  names.sort();
  names
}

async fn migrations_run_up_down_and_up_again(engine: Engine) {
  let database = TestDatabase::empty(engine).await;
  Migrator::up(&database.connection, None).await.expect("up");
  assert_eq!(
    database.table_names().await.expect("tables"),
    expected_tables_after_up()
  );

  let applied = Migrator::get_applied_migrations(&database.connection)
    .await
    .expect("status");
  assert_eq!(applied.len(), Migrator::migrations().len());

  Migrator::down(&database.connection, None)
    .await
    .expect("down");
  assert_eq!(
    database.table_names().await.expect("tables"),
    vec!["seaql_migrations".to_owned()]
  );

  // Each migration alone, one step at a time, both ways.
  for _ in 0..Migrator::migrations().len() {
    Migrator::up(&database.connection, Some(1))
      .await
      .expect("one step up");
  }
  assert_eq!(
    database.table_names().await.expect("tables"),
    expected_tables_after_up()
  );
  for _ in 0..Migrator::migrations().len() {
    Migrator::down(&database.connection, Some(1))
      .await
      .expect("one step down");
  }
  assert_eq!(
    database.table_names().await.expect("tables"),
    vec!["seaql_migrations".to_owned()]
  );
}

#[tokio::test]
async fn migrations_run_up_and_down_on_mariadb() {
  migrations_run_up_down_and_up_again(Engine::MariaDb).await;
}

#[tokio::test]
async fn migrations_run_up_and_down_on_sqlite() {
  migrations_run_up_down_and_up_again(Engine::Sqlite).await;
}

async fn primary_key_columns(database: &TestDatabase, table: &str) -> Vec<String> {
  let backend = database.connection.get_database_backend();
  let (sql, column) = match database.engine() {
    Engine::MariaDb => (
      format!(
        "SELECT column_name AS name FROM information_schema.key_column_usage \
         WHERE table_schema = DATABASE() AND table_name = '{table}' AND constraint_name = 'PRIMARY' \
         ORDER BY ordinal_position"
      ),
      "name",
    ),
    Engine::Sqlite => (
      format!("SELECT name, pk FROM pragma_table_info('{table}') WHERE pk > 0 ORDER BY pk"),
      "name",
    ),
  };
  let rows = database
    .connection
    .query_all_raw(Statement::from_string(backend, sql))
    .await
    .expect("key columns");
  rows
    .iter()
    .map(|row| row.try_get::<String>("", column).expect("column name"))
    .collect()
}

async fn every_table_is_keyed_by_its_natural_key(engine: Engine) {
  let database = TestDatabase::migrated(engine).await;
  for (table, key) in NATURAL_KEYS {
    assert_eq!(
      primary_key_columns(&database, table).await,
      key,
      "natural key of {table}"
    );
  }
}

#[tokio::test]
async fn every_table_is_keyed_by_its_natural_key_on_mariadb() {
  every_table_is_keyed_by_its_natural_key(Engine::MariaDb).await;
}

#[tokio::test]
async fn every_table_is_keyed_by_its_natural_key_on_sqlite() {
  every_table_is_keyed_by_its_natural_key(Engine::Sqlite).await;
}

fn lap(lap_duration: f64) -> entity::laps::ActiveModel {
  entity::laps::ActiveModel {
    session_key: Set(9472),
    driver_number: Set(1),
    lap_number: Set(7),
    meeting_key: Set(1229),
    date_start: Set(Some("2024-03-02T15:13:40.123456Z".parse().expect("date"))),
    lap_duration: Set(Some(lap_duration)),
    is_pit_out_lap: Set(Some(false)),
    segments_sector_1: Set(Some(serde_json::json!([2049, null, 2051]))),
    ..Default::default()
  }
}

async fn a_duplicate_natural_key_is_refused_and_an_upsert_replaces(engine: Engine) {
  let database = TestDatabase::migrated(engine).await;
  entity::laps::Entity::insert(lap(97.759))
    .exec(&database.connection)
    .await
    .expect("first insert");
  let duplicate = entity::laps::Entity::insert(lap(97.759))
    .exec(&database.connection)
    .await;
  assert!(
    duplicate.is_err(),
    "a second row with the same natural key must be refused"
  );

  let upsert = OnConflict::columns([
    entity::laps::Column::SessionKey,
    entity::laps::Column::DriverNumber,
    entity::laps::Column::LapNumber,
  ])
  .update_columns([entity::laps::Column::LapDuration])
  .to_owned();
  entity::laps::Entity::insert(lap(96.5))
    .on_conflict(upsert)
    .exec(&database.connection)
    .await
    .expect("upsert");

  let rows = entity::laps::Entity::find()
    .all(&database.connection)
    .await
    .expect("read back");
  assert_eq!(rows.len(), 1);
  assert_eq!(rows[0].lap_duration, Some(96.5));
  // Microseconds and JSON arrays with nulls survive the round trip.
  assert_eq!(
    rows[0]
      .date_start
      .map(|date| date.timestamp_subsec_micros()),
    Some(123_456)
  );
  assert_eq!(
    rows[0].segments_sector_1,
    Some(serde_json::json!([2049, null, 2051]))
  );
}

#[tokio::test]
async fn a_duplicate_natural_key_is_refused_and_an_upsert_replaces_on_mariadb() {
  a_duplicate_natural_key_is_refused_and_an_upsert_replaces(Engine::MariaDb).await;
}

#[tokio::test]
async fn a_duplicate_natural_key_is_refused_and_an_upsert_replaces_on_sqlite() {
  a_duplicate_natural_key_is_refused_and_an_upsert_replaces(Engine::Sqlite).await;
}
