//! End-to-end tests of the api's data endpoints against MariaDB seeded with recorded Open F1 data
//! (plus clearly labelled synthetic rows where nothing was recorded).

use f1_backend::{Engine, fixture_rows, fixtures_dir};
use serde_json::Value;

use crate::api_support::TestApi;

const FOLDERS: &[&str] = &[
  "9472_bahrain_2024_race",
  "11253_suzuka_2026_race",
  "11249_suzuka_2026_qualifying",
  "season_2023_2025",
];

fn recorded(folder: &str, file: &str) -> Vec<Value> {
  fixture_rows(&fixtures_dir().join(folder).join(file))
}

fn count_where(rows: &[Value], keep: impl Fn(&Value) -> bool) -> usize {
  rows.iter().filter(|row| keep(row)).count()
}

fn number(row: &Value, field: &str) -> i64 {
  row[field].as_i64().unwrap_or(-1)
}

#[tokio::test]
async fn every_session_endpoint_serves_recorded_rows_and_honours_its_filters() {
  let api = TestApi::seeded(Engine::MariaDb, FOLDERS).await;
  let laps = recorded("9472_bahrain_2024_race", "laps.json");

  // Laps: all of them over pages, a driver list, a lap range.
  let response = api.get("/v1/sessions/9472/laps?limit=1000").await;
  assert_eq!(response.status(), 200);
  assert_eq!(response.headers()["x-total-count"], laps.len().to_string());
  let link = response.headers()["link"]
    .to_str()
    .expect("link")
    .to_owned();
  assert!(
    link.contains("offset=1000") && link.contains("rel=\"next\""),
    "{link}"
  );
  let first_page: Vec<Value> = response.json().await.expect("json");
  assert_eq!(first_page.len(), 1000);
  let rest = api
    .get_rows("/v1/sessions/9472/laps?limit=1000&offset=1000")
    .await;
  assert_eq!(rest.len(), laps.len() - 1000);
  let keys: Vec<(i64, i64)> = first_page
    .iter()
    .chain(&rest)
    .map(|row| (number(row, "driver_number"), number(row, "lap_number")))
    .collect();
  let mut sorted = keys.clone();
  sorted.sort_unstable();
  assert_eq!(keys, sorted, "laps come ordered by driver then lap");

  let filtered = api
    .get_rows("/v1/sessions/9472/laps?driver_number=1,44&lap_min=10&lap_max=20")
    .await;
  let expected = count_where(&laps, |row| {
    [1, 44].contains(&number(row, "driver_number"))
      && (10..=20).contains(&number(row, "lap_number"))
  });
  assert_eq!(filtered.len(), expected);
  let repeated = api
    .get_rows("/v1/sessions/9472/laps?driver_number=1&driver_number=44&lap_min=10&lap_max=20")
    .await;
  assert_eq!(
    repeated, filtered,
    "repeated and comma-separated driver numbers agree"
  );

  // Stints by compound, case-insensitively.
  let stints = recorded("9472_bahrain_2024_race", "stints.json");
  let hard = api.get_rows("/v1/sessions/9472/stints?compound=hard").await;
  assert_eq!(
    hard.len(),
    count_where(&stints, |row| row["compound"] == "HARD")
  );

  // Simple lists match the recorded counts.
  for (path, folder, file) in [
    (
      "/v1/sessions/9472/drivers",
      "9472_bahrain_2024_race",
      "drivers.json",
    ),
    (
      "/v1/sessions/9472/pit",
      "9472_bahrain_2024_race",
      "pit.json",
    ),
    (
      "/v1/sessions/9472/position",
      "9472_bahrain_2024_race",
      "position.json",
    ),
    (
      "/v1/sessions/9472/session_result",
      "9472_bahrain_2024_race",
      "session_result.json",
    ),
    (
      "/v1/sessions/11253/weather",
      "11253_suzuka_2026_race",
      "weather.json",
    ),
    (
      "/v1/sessions/11253/overtakes",
      "11253_suzuka_2026_race",
      "overtakes.json",
    ),
    (
      "/v1/sessions/11253/race_control",
      "11253_suzuka_2026_race",
      "race_control.json",
    ),
    (
      "/v1/sessions/11253/intervals",
      "11253_suzuka_2026_race",
      "intervals.json",
    ),
    (
      "/v1/sessions/11249/starting_grid",
      "11249_suzuka_2026_qualifying",
      "starting_grid.json",
    ),
  ] {
    let rows = api.get_rows(path).await;
    assert_eq!(rows.len(), recorded(folder, file).len(), "{path}");
  }

  // Race control by category and flag, with a lap range.
  let race_control = recorded("11253_suzuka_2026_race", "race_control.json");
  let yellow = api
    .get_rows("/v1/sessions/11253/race_control?category=Flag&flag=YELLOW")
    .await;
  assert_eq!(
    yellow.len(),
    count_where(&race_control, |row| row["category"] == "Flag"
      && row["flag"] == "YELLOW")
  );
  assert!(!yellow.is_empty());

  // Intervals keep upstream's number, text or null.
  let intervals = api
    .get_rows("/v1/sessions/11253/intervals?limit=1000")
    .await;
  assert!(intervals.iter().any(|row| row["gap_to_leader"] == "+1 LAP"));
  assert!(intervals.iter().any(|row| row["gap_to_leader"].is_f64()));
  assert!(intervals.iter().any(|row| row["gap_to_leader"].is_null()));

  // Session results keep qualifying's [Q1, Q2, Q3] and the race's "+1 LAP".
  let qualifying = api.get_rows("/v1/sessions/11249/session_result").await;
  assert!(qualifying.iter().any(|row| row["duration"].is_array()));
  let race = api.get_rows("/v1/sessions/9472/session_result").await;
  assert!(race.iter().any(|row| row["gap_to_leader"] == "+1 LAP"));

  // Overtakes match either driver; date ranges bound weather.
  let overtakes = recorded("11253_suzuka_2026_race", "overtakes.json");
  let involving_one = api
    .get_rows("/v1/sessions/11253/overtakes?driver_number=1")
    .await;
  assert_eq!(
    involving_one.len(),
    count_where(&overtakes, |row| {
      number(row, "overtaking_driver_number") == 1 || number(row, "overtaken_driver_number") == 1
    })
  );
  let weather = api
    .get_rows(
      "/v1/sessions/11253/weather?date_from=2026-03-29T05:00:00Z&date_to=2026-03-29T05:30:00Z",
    )
    .await;
  assert!(!weather.is_empty());
  assert!(weather.len() < recorded("11253_suzuka_2026_race", "weather.json").len());

  // Synthetic rows (inserted by the test support): team radio, telemetry, championship.
  assert_eq!(api.get_rows("/v1/sessions/9472/team_radio").await.len(), 2);
  assert_eq!(
    api
      .get_rows("/v1/sessions/9472/team_radio?driver_number=44")
      .await
      .len(),
    1
  );
  let car_data = api
    .get("/v1/sessions/9472/car_data?driver_number=1&limit=2")
    .await;
  assert_eq!(car_data.headers()["x-total-count"], "3");
  assert_eq!(car_data.json::<Vec<Value>>().await.expect("json").len(), 2);
  let location = api
    .get_rows("/v1/sessions/9472/location?date_from=2024-03-02T15:10:01Z")
    .await;
  assert_eq!(location.len(), 2);
  assert_eq!(
    api
      .get_rows("/v1/sessions/9472/championship_drivers")
      .await
      .len(),
    2
  );
  assert_eq!(
    api
      .get_rows("/v1/sessions/9472/championship_teams?team_name=Ferrari")
      .await
      .len(),
    1
  );

  // Empty filter results are 200 [].
  assert!(
    api
      .get_rows("/v1/sessions/9472/laps?driver_number=99")
      .await
      .is_empty()
  );
}

#[tokio::test]
async fn calendar_endpoints_list_seasons_meetings_and_sessions_with_filters() {
  let api = TestApi::seeded(Engine::MariaDb, FOLDERS).await;
  let meetings = recorded("season_2023_2025", "meetings.json");
  let sessions = recorded("season_2023_2025", "sessions.json");

  let seasons = api.get_rows("/v1/seasons").await;
  let years: Vec<i64> = seasons.iter().map(|row| number(row, "year")).collect();
  assert_eq!(years, vec![2023, 2024, 2025, 2026]);

  let meetings_2024 = api.get_rows("/v1/meetings?year=2024").await;
  assert_eq!(
    meetings_2024.len(),
    count_where(&meetings, |row| number(row, "year") == 2024)
  );
  let races_2024 = api
    .get_rows("/v1/sessions?year=2024&session_type=Race&session_name=Race")
    .await;
  assert_eq!(
    races_2024.len(),
    count_where(&sessions, |row| {
      number(row, "year") == 2024 && row["session_type"] == "Race" && row["session_name"] == "Race"
    })
  );
  let of_meeting = api.get_rows("/v1/sessions?meeting_key=1229").await;
  assert!(
    of_meeting
      .iter()
      .all(|row| number(row, "meeting_key") == 1229)
  );
  assert!(
    of_meeting
      .iter()
      .any(|row| number(row, "session_key") == 9472)
  );

  let session = api.get_json("/v1/sessions/9472").await;
  assert_eq!(session["circuit_short_name"], "Sakhir");
  let latest = api.get_json("/v1/sessions/latest").await;
  assert_eq!(latest["session_key"], 11253, "the latest started session");
}

#[tokio::test]
async fn pagination_edges_answer_problems_or_empty_pages() {
  let api = TestApi::seeded(Engine::Sqlite, &["9472_bahrain_2024_race"]).await;
  for path in [
    "/v1/sessions/9472/laps?limit=0",
    "/v1/sessions/9472/laps?limit=1001",
    "/v1/meetings?limit=5000",
  ] {
    let response = api.get(path).await;
    assert_eq!(response.status(), 400, "{path}");
    assert_eq!(
      response.headers()["content-type"],
      "application/problem+json",
      "{path}"
    );
    let problem: Value = response.json().await.expect("json");
    assert!(
      problem["detail"].as_str().unwrap_or("").contains("limit"),
      "{problem}"
    );
  }
  let past_the_end = api.get("/v1/sessions/9472/laps?offset=100000").await;
  assert_eq!(past_the_end.status(), 200);
  assert!(past_the_end.headers().get("link").is_none());
  assert_eq!(past_the_end.text().await.expect("body"), "[]");
  let last_page = api
    .get("/v1/sessions/9472/laps?limit=1000&offset=1000")
    .await;
  assert!(
    last_page.headers().get("link").is_none(),
    "no next page after the last"
  );
}

#[tokio::test]
async fn an_unchanged_body_is_answered_304_with_its_etag() {
  let api = TestApi::seeded(Engine::Sqlite, &["9472_bahrain_2024_race"]).await;
  let first = api.get("/v1/sessions/9472/stints").await;
  assert_eq!(first.status(), 200);
  let entity_tag = first.headers()["etag"].to_str().expect("etag").to_owned();
  assert!(entity_tag.starts_with('"') && !entity_tag.starts_with("W/"));
  let cache_control = first.headers()["cache-control"]
    .to_str()
    .expect("cc")
    .to_owned();
  assert_eq!(
    cache_control, "public, max-age=86400",
    "a finished session caches long"
  );
  let again = api
    .client
    .get(format!("{}/v1/sessions/9472/stints", api.base_url))
    .header("if-none-match", &entity_tag)
    .send()
    .await
    .expect("request");
  assert_eq!(again.status(), 304);
  assert_eq!(again.headers()["etag"], entity_tag.as_str());
  assert!(again.text().await.expect("body").is_empty());
  let other = api
    .client
    .get(format!(
      "{}/v1/sessions/9472/stints?compound=SOFT",
      api.base_url
    ))
    .header("if-none-match", &entity_tag)
    .send()
    .await
    .expect("request");
  assert_eq!(other.status(), 200, "a different body has a different tag");
}

#[tokio::test]
async fn a_live_session_is_cached_briefly_and_a_finished_one_long() {
  use sea_orm::{EntityTrait, IntoActiveModel};
  let database = f1_backend::TestDatabase::migrated(Engine::Sqlite).await;
  // SYNTHETIC: a session that started ten minutes ago, so it is live now.
  let now = chrono::Utc::now();
  entity::sessions::Entity::insert(
    entity::sessions::Model {
      session_key: 990_001,
      meeting_key: 990_000,
      session_name: Some("Race".to_owned()),
      session_type: Some("Race".to_owned()),
      date_start: Some(now - chrono::Duration::minutes(10)),
      date_end: Some(now + chrono::Duration::hours(2)),
      year: 2026,
      is_cancelled: Some(false),
      ..Default::default()
    }
    .into_active_model(),
  )
  .exec(&database.connection)
  .await
  .expect("synthetic live session");
  f1_backend::seed_fixtures(&database.connection, &["9472_bahrain_2024_race"]).await;
  let settings = api::Settings::for_tests(database.url.clone());
  let api = TestApi::start(settings, Some(database)).await;
  for path in ["/v1/sessions/990001", "/v1/sessions/990001/laps"] {
    let response = api.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    assert_eq!(
      response.headers()["cache-control"],
      "public, max-age=5",
      "{path}"
    );
  }
  let finished = api.get("/v1/sessions/9472/laps").await;
  assert_eq!(finished.headers()["cache-control"], "public, max-age=86400");
}

#[tokio::test]
async fn shutdown_stops_the_server_within_the_drain_timeout() {
  let database = f1_backend::TestDatabase::migrated(Engine::Sqlite).await;
  let mut settings = api::Settings::for_tests(database.url.clone());
  settings.shutdown_timeout = std::time::Duration::from_secs(1);
  let application = api::Application::build(settings).await.expect("build");
  let port = application.port();
  let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
  let server = tokio::spawn(application.run_until_stopped(async move {
    stopped.await.ok();
  }));
  let client = crate::api_support::client();
  let health = client
    .get(format!("http://127.0.0.1:{port}/healthz"))
    .send()
    .await
    .expect("healthz");
  assert_eq!(health.status(), 200);
  stop.send(()).expect("stop");
  tokio::time::timeout(std::time::Duration::from_secs(5), server)
    .await
    .expect("stopped within the drain timeout")
    .expect("join")
    .expect("clean exit");
  assert!(
    client
      .get(format!("http://127.0.0.1:{port}/healthz"))
      .send()
      .await
      .is_err(),
    "no longer listening"
  );
}

#[tokio::test]
async fn the_latest_session_skips_cancelled_sessions_like_open_f1() {
  use sea_orm::ConnectionTrait;
  let database = f1_backend::TestDatabase::migrated(Engine::Sqlite).await;
  f1_backend::seed_fixtures(
    &database.connection,
    &["11253_suzuka_2026_race", "11249_suzuka_2026_qualifying"],
  )
  .await;
  // Test manipulation of a recorded row: mark the Suzuka 2026 race (the latest started session) as cancelled.
  database
    .connection
    .execute_unprepared("UPDATE sessions SET is_cancelled = 1 WHERE session_key = 11253")
    .await
    .expect("cancel the race");
  let api = TestApi::start(
    api::Settings::for_tests(database.url.clone()),
    Some(database),
  )
  .await;
  let latest = api.get_json("/v1/sessions/latest").await;
  assert_eq!(latest["session_key"], 11249, "the qualifying before it");
}
