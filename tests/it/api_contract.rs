//! The committed OpenAPI document matches the served one, and the api runs with SELECT-only database grants.

use api::Settings;
use f1_backend::{Engine, TestDatabase, admin_url, unique_name};
use sea_orm::ConnectionTrait;

use crate::api_support::TestApi;

#[tokio::test]
async fn the_served_openapi_document_matches_the_committed_api_openapi_json() {
  let database = TestDatabase::migrated(Engine::Sqlite).await;
  let api = TestApi::start(Settings::for_tests(database.url.clone()), Some(database)).await;
  let served = api.get_json("/openapi.json").await;
  let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("api/openapi.json");
  let pretty = format!(
    "{}\n",
    serde_json::to_string_pretty(&served).expect("serialise")
  );
  if std::env::var_os("UPDATE_OPENAPI").is_some() {
    std::fs::write(&path, &pretty).expect("write api/openapi.json");
  }
  let committed = std::fs::read_to_string(&path).unwrap_or_default();
  let committed: serde_json::Value = serde_json::from_str(&committed).unwrap_or_default();
  assert!(
    committed == served,
    "api/openapi.json differs from the served document; regenerate it with \
     `UPDATE_OPENAPI=1 cargo test --workspace openapi` and commit the result"
  );
}

#[tokio::test]
async fn the_api_serves_with_a_select_only_database_user() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let database_name = database
    .url
    .rsplit('/')
    .next()
    .expect("database name")
    .to_owned();
  let user = unique_name("reader");
  let password = uuid::Uuid::new_v4().simple().to_string();
  let admin = sea_orm::Database::connect(admin_url())
    .await
    .expect("admin");
  for host in ["%", "localhost"] {
    admin
      .execute_unprepared(&format!(
        "CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'"
      ))
      .await
      .expect("create user");
    // `_` is escaped: a grantor whose own rights come from the `f1\_%` pattern may only grant on names
    // written that way (MariaDB compares the names as patterns).
    let escaped_name = database_name.replace('_', "\\_");
    admin
      .execute_unprepared(&format!(
        "GRANT SELECT ON `{escaped_name}`.* TO '{user}'@'{host}'"
      ))
      .await
      .expect("grant select");
  }
  let address = admin_url()
    .rsplit('@')
    .next()
    .expect("host")
    .trim_end_matches('/')
    .to_owned();
  let mut settings = Settings::for_tests(format!(
    "mysql://{user}:{password}@{address}/{database_name}"
  ));
  settings.run_migrations = false;
  let api = TestApi::start(settings, None).await;
  let laps = api.get_rows("/v1/sessions/9472/laps?driver_number=1").await;
  assert_eq!(laps.len(), 57);
  assert_eq!(api.get_rows("/v1/seasons").await.len(), 1);
  assert_eq!(api.get_json("/readyz").await["status"], "ready");
  assert_eq!(
    api.get("/v1/sessions/9472/charts/lap-times").await.status(),
    200
  );
  drop(api);
  for host in ["%", "localhost"] {
    admin
      .execute_unprepared(&format!("DROP USER IF EXISTS '{user}'@'{host}'"))
      .await
      .ok();
  }
  drop(database);
}
