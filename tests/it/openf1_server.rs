//! The local Open F1 server answers like the real API from the recorded fixtures: rows, filters, errors, faults,
//! tokens and time-shifted replay.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use openf1_server::{
  Clock, Credentials, Fault, ManualClock, OpenF1Server, ReplayOptions, ServerOptions,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::openf1_support::token_for;

const NO_RESULTS: &str = r#"{"detail":"No results found."}"#;
const SESSION_IN_PROGRESS: &str = r#"{"detail":"Session in progress, access is restricted to authenticated users. Sign up here: https://tally.so/r/w2yWDb"}"#;

fn client() -> reqwest::Client {
  let _ = rustls::crypto::ring::default_provider().install_default();
  reqwest::Client::builder()
    .build()
    .expect("build an HTTP client")
}

fn instant(text: &str) -> DateTime<Utc> {
  DateTime::parse_from_rfc3339(text)
    .expect("a valid RFC 3339 instant")
    .with_timezone(&Utc)
}

/// Options with the clock fixed just after the last recorded session (Suzuka 2026 race).
fn options() -> ServerOptions {
  let mut options = ServerOptions::new(f1_backend::fixtures_dir());
  options.clock = Clock::fixed(instant("2026-04-01T00:00:00+00:00"));
  options
}

async fn start(options: ServerOptions) -> OpenF1Server {
  OpenF1Server::start(options)
    .await
    .expect("start the local Open F1 server")
}

/// Rows of one fixture file (a single object counts as one row).
fn fixture_rows(relative: &str) -> Vec<Value> {
  let path = f1_backend::fixtures_dir().join(relative);
  let text = std::fs::read_to_string(&path).expect("read a fixture file");
  match serde_json::from_str(&text).expect("parse a fixture file") {
    Value::Array(rows) => rows,
    object => vec![object],
  }
}

/// GETs `base_url/path_and_query` and returns status and body text.
async fn get(server: &OpenF1Server, path_and_query: &str) -> (StatusCode, String) {
  let response = get_response(server, path_and_query).await;
  let status = response.status();
  (status, response.text().await.expect("read the body"))
}

/// GETs `path_and_query` (below `/v1`).
async fn get_response(server: &OpenF1Server, path_and_query: &str) -> reqwest::Response {
  client()
    .get(format!("{}/{path_and_query}", server.base_url()))
    .send()
    .await
    .expect("send a request")
}

/// The response's `content-type`, `""` without one.
fn content_type(response: &reqwest::Response) -> String {
  response
    .headers()
    .get("content-type")
    .and_then(|value| value.to_str().ok())
    .unwrap_or_default()
    .to_owned()
}

/// GETs `path_and_query` with `token` as the bearer token.
async fn get_with_token(
  server: &OpenF1Server,
  path_and_query: &str,
  token: &str,
) -> reqwest::Response {
  client()
    .get(format!("{}/{path_and_query}", server.base_url()))
    .bearer_auth(token)
    .send()
    .await
    .expect("send")
}

/// When car 1's first lap of the race 9472 starts, as the server answers now.
async fn first_lap_start(server: &OpenF1Server) -> Value {
  get_rows(server, "laps?session_key=9472&driver_number=1&lap_number=1").await[0]["date_start"]
    .clone()
}

/// GETs and decodes a 200 JSON array.
async fn get_rows(server: &OpenF1Server, path_and_query: &str) -> Vec<Value> {
  let (status, body) = get(server, path_and_query).await;
  assert_eq!(status, StatusCode::OK, "{path_and_query}: {body}");
  serde_json::from_str(&body).expect("a JSON array")
}

async fn count(server: &OpenF1Server, path_and_query: &str) -> usize {
  let (status, body) = get(server, path_and_query).await;
  match status {
    StatusCode::OK => serde_json::from_str::<Vec<Value>>(&body)
      .expect("a JSON array")
      .len(),
    StatusCode::NOT_FOUND => {
      assert_eq!(body, NO_RESULTS);
      0
    }
    other => panic!("{path_and_query}: unexpected status {other}: {body}"),
  }
}

fn endpoint_of(file: &Path) -> String {
  let stem = file
    .file_stem()
    .and_then(|stem| stem.to_str())
    .unwrap_or_default();
  openf1_server::store::endpoint_for_stem(stem)
}

#[tokio::test]
async fn every_per_session_fixture_is_served_row_for_row() {
  let server = start(options()).await;
  // (endpoint, session_key) -> rows in the files, for the per-session folders.
  let mut expected: BTreeMap<(String, i64), usize> = BTreeMap::new();
  for folder in [
    "9472_bahrain_2024_race",
    "9165_singapore_2023_race",
    "11253_suzuka_2026_race",
    "11249_suzuka_2026_qualifying",
    "samples_singapore_2023",
  ] {
    for entry in std::fs::read_dir(f1_backend::fixtures_dir().join(folder)).expect("list a folder")
    {
      let path = entry.expect("a folder entry").path();
      let endpoint = endpoint_of(&path);
      if endpoint == "meetings" || endpoint == "sessions" {
        continue;
      }
      for row in fixture_rows(&format!(
        "{folder}/{}",
        path
          .file_name()
          .and_then(|name| name.to_str())
          .unwrap_or_default()
      )) {
        let session_key = row["session_key"].as_i64().expect("a session_key");
        *expected.entry((endpoint.clone(), session_key)).or_default() += 1;
      }
    }
  }
  assert!(
    expected.len() > 20,
    "fixture folders should feed many endpoints"
  );
  for ((endpoint, session_key), rows) in &expected {
    let served = count(&server, &format!("{endpoint}?session_key={session_key}")).await;
    assert_eq!(served, *rows, "{endpoint} of session {session_key}");
    assert_eq!(server.row_count(endpoint, Some(*session_key)), *rows);
  }
  server.stop().await;
}

#[tokio::test]
async fn recorded_sessions_answer_with_their_known_row_counts() {
  let server = start(options()).await;
  for (query, expected) in [
    ("laps?session_key=9472", 1129),
    ("position?session_key=9472", 435),
    ("overtakes?session_key=11253", 218),
    ("weather?session_key=11253", 156),
    ("race_control?session_key=11253", 49),
    ("laps?session_key=9165", 1091),
    ("intervals?session_key=11253", 160),
    ("car_data?session_key=9159", 43),
    ("drivers?session_key=11253", 22),
    ("starting_grid?session_key=11249", 22),
    ("sessions?year=2024", 123),
    ("meetings?meeting_key=1281", 1),
  ] {
    assert_eq!(count(&server, query).await, expected, "{query}");
  }
  server.stop().await;
}

#[tokio::test]
async fn sessions_present_in_several_files_are_served_once_and_sorted_by_start() {
  let server = start(options()).await;
  let sessions = get_rows(&server, "sessions").await;
  let season = fixture_rows("season_2023_2025/sessions.json");
  // The season file has 344 sessions; the 2026 folders add 11249 and 11253; the 2023/2024 folders repeat ones.
  assert_eq!(sessions.len(), season.len() + 2);
  let starts: Vec<&str> = sessions
    .iter()
    .map(|session| session["date_start"].as_str().unwrap_or_default())
    .collect();
  let mut sorted = starts.clone();
  sorted.sort_unstable();
  assert_eq!(starts, sorted);
  assert_eq!(
    sessions
      .iter()
      .filter(|session| session["session_key"] == 9472)
      .count(),
    1
  );
  server.stop().await;
}

#[tokio::test]
async fn comparison_operators_filter_like_upstream() {
  let server = start(options()).await;
  let laps = fixture_rows("9472_bahrain_2024_race/laps.json");
  let of_driver_one = |keep: &dyn Fn(i64) -> bool| {
    laps
      .iter()
      .filter(|lap| {
        lap["driver_number"] == 1 && keep(lap["lap_number"].as_i64().unwrap_or_default())
      })
      .count()
  };
  let base = "laps?session_key=9472&driver_number=1";
  assert_eq!(count(&server, &format!("{base}&lap_number=5")).await, 1);
  assert_eq!(
    count(&server, &format!("{base}&lap_number>50")).await,
    of_driver_one(&|lap| lap > 50)
  );
  assert_eq!(count(&server, &format!("{base}&lap_number<5")).await, 4);
  assert_eq!(
    count(&server, &format!("{base}&lap_number>=50")).await,
    of_driver_one(&|lap| lap >= 50)
  );
  assert_eq!(count(&server, &format!("{base}&lap_number<=5")).await, 5);
  let pit_out_laps = laps
    .iter()
    .filter(|lap| lap["driver_number"] == 1 && lap["is_pit_out_lap"] == true)
    .count();
  assert!(pit_out_laps > 0);
  assert_eq!(
    count(&server, &format!("{base}&is_pit_out_lap=true")).await,
    pit_out_laps
  );
  server.stop().await;
}

#[tokio::test]
async fn an_encoded_less_than_before_the_equals_sign_means_less_or_equal() {
  let server = start(options()).await;
  let expected = fixture_rows("9472_bahrain_2024_race/position.json")
    .iter()
    .filter(|row| {
      row["position"]
        .as_i64()
        .is_some_and(|position| position <= 3)
    })
    .count();
  assert_eq!(
    count(&server, "position?session_key=9472&position%3C=3").await,
    expected
  );
  assert_eq!(
    count(&server, "position?session_key=9472&position<=3").await,
    expected
  );
  server.stop().await;
}

#[tokio::test]
async fn a_datetime_bound_without_an_equals_sign_filters_by_instant() {
  let server = start(options()).await;
  let rows = fixture_rows("samples_singapore_2023/car_data__9159_driver55_speed200.json");
  let cutoff = instant("2023-09-15T13:30:00+00:00");
  let expected = rows
    .iter()
    .filter(|row| instant(row["date"].as_str().unwrap_or_default()) > cutoff)
    .count();
  assert!(expected > 0 && expected < rows.len());
  assert_eq!(
    count(
      &server,
      "car_data?session_key=9159&speed=200&date>2023-09-15T13:30:00"
    )
    .await,
    expected
  );
  assert_eq!(
    count(
      &server,
      "car_data?session_key=9159&speed=200&date>2023-09-15T13:30:00%2B00:00"
    )
    .await,
    expected
  );
  // A `+` in the offset that arrives as a space is repaired.
  assert_eq!(
    count(
      &server,
      "car_data?session_key=9159&speed=200&date>2023-09-15T13:30:00+00:00"
    )
    .await,
    expected
  );
  server.stop().await;
}

#[tokio::test]
async fn repeated_keys_are_or_ed_and_bound_pairs_form_or_ed_ranges() {
  let server = start(options()).await;
  let one = count(&server, "laps?session_key=9472&driver_number=1").await;
  let eleven = count(&server, "laps?session_key=9472&driver_number=11").await;
  assert!(one > 0 && eleven > 0);
  assert_eq!(
    count(
      &server,
      "laps?session_key=9472&driver_number=1&driver_number=11"
    )
    .await,
    one + eleven
  );
  assert_eq!(
    count(
      &server,
      "laps?session_key=9472&driver_number=1&lap_number>=1&lap_number<=3&lap_number>=10&lap_number<=12"
    )
    .await,
    6
  );
  server.stop().await;
}

#[tokio::test]
async fn a_bare_date_covers_the_whole_day() {
  let server = start(options()).await;
  let sessions = get_rows(&server, "sessions?date_start=2024-03-02").await;
  assert_eq!(sessions.len(), 1);
  assert_eq!(sessions[0]["session_key"], 9472);
  let after = count(&server, "sessions?year=2024&date_start>2024-03-02").await;
  let until = count(&server, "sessions?year=2024&date_start<=2024-03-02").await;
  assert_eq!(after + until, 123);
  assert_eq!(
    count(&server, "sessions?year=2024&date_start<2024-03-02").await,
    until - 1
  );
  server.stop().await;
}

#[tokio::test]
async fn latest_resolves_to_the_most_recent_session_started_by_now() {
  let server = start(options()).await;
  assert_eq!(count(&server, "drivers?session_key=latest").await, 22);
  let meetings = get_rows(&server, "meetings?meeting_key=latest").await;
  assert_eq!(meetings[0]["meeting_key"], 1281);
  server.stop().await;

  // One minute of look-ahead: 30 s before the Bahrain 2024 race starts, it is already "latest".
  let mut early = options();
  early.clock = Clock::fixed(instant("2024-03-02T14:59:30+00:00"));
  let server = start(early).await;
  assert_eq!(count(&server, "laps?session_key=latest").await, 1129);
  server.stop().await;
}

#[tokio::test]
async fn csv_true_answers_csv_with_the_sorted_union_of_keys() {
  let server = start(options()).await;
  let response = get_response(&server, "drivers?session_key=11253&csv=true").await;
  assert_eq!(response.status(), StatusCode::OK);
  let content_type = content_type(&response);
  assert!(content_type.starts_with("text/csv"), "{content_type}");
  let body = response.text().await.expect("body");
  let mut lines = body.lines();
  assert_eq!(
    lines.next(),
    Some(
      "broadcast_name,country_code,driver_number,first_name,full_name,headshot_url,last_name,meeting_key,name_acronym,session_key,team_colour,team_name"
    )
  );
  assert_eq!(lines.count(), 22);
  server.stop().await;
}

#[tokio::test]
async fn empty_results_and_unknown_endpoints_answer_404_no_results_found() {
  let server = start(options()).await;
  for query in [
    "laps?session_key=1",
    "laps?session_key=9472&driver_number=99",
    "team_radio",
    "championship_teams?session_key=11253",
    "not_an_endpoint",
    "laps?segments_sector_1=2049",
  ] {
    let response = get_response(&server, query).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "{query}");
    let content_type = content_type(&response);
    assert_eq!(content_type, "application/json");
    assert_eq!(response.text().await.expect("body"), NO_RESULTS);
  }
  let welcome = client()
    .get(server.base_url().trim_end_matches("/v1"))
    .send()
    .await
    .expect("send");
  assert_eq!(welcome.text().await.expect("body"), "Welcome to OpenF1!");
  server.stop().await;
}

#[tokio::test]
async fn post_queries_answer_like_get() {
  let server = start(options()).await;
  let response = client()
    .post(format!("{}/stints?session_key=11253", server.base_url()))
    .send()
    .await
    .expect("send");
  assert_eq!(response.status(), StatusCode::OK);
  let rows: Vec<Value> = response.json().await.expect("JSON");
  assert_eq!(rows.len(), 51);
  server.stop().await;
}

#[tokio::test]
async fn each_fault_answers_like_the_real_failure_then_service_resumes() {
  let server = start(options()).await;
  let cases: Vec<(Fault, StatusCode, &str)> = vec![
    (
      Fault::TooManyRequests {
        retry_after_seconds: None,
      },
      StatusCode::TOO_MANY_REQUESTS,
      r#"{"error": "Rate limit exceeded: 30 per 10 second"}"#,
    ),
    (
      Fault::RateExceededPlainText {
        retry_after_seconds: None,
      },
      StatusCode::TOO_MANY_REQUESTS,
      "Rate exceeded",
    ),
    (Fault::BadGateway, StatusCode::BAD_GATEWAY, "Bad Gateway"),
    (
      Fault::ServiceUnavailable,
      StatusCode::SERVICE_UNAVAILABLE,
      "Service Unavailable",
    ),
    (
      Fault::GatewayTimeout,
      StatusCode::GATEWAY_TIMEOUT,
      "upstream request timeout",
    ),
    (
      Fault::SessionInProgress,
      StatusCode::UNAUTHORIZED,
      SESSION_IN_PROGRESS,
    ),
  ];
  for (fault, status, body) in cases {
    server.push_fault(fault.clone(), 1, None);
    assert_eq!(
      get(&server, "pit?session_key=11253").await,
      (status, body.to_owned()),
      "{fault:?}"
    );
    assert_eq!(
      count(&server, "pit?session_key=11253").await,
      29,
      "after {fault:?}"
    );
  }

  server.push_fault(Fault::InternalServerError, 1, None);
  let (status, body) = get(&server, "pit?session_key=11253").await;
  assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
  assert!(
    body.starts_with("<h1>An error occurred</h1><pre>Traceback"),
    "{body}"
  );

  server.push_fault(Fault::TruncatedJson, 1, None);
  let (status, body) = get(&server, "pit?session_key=11253").await;
  assert_eq!(status, StatusCode::OK);
  assert!(body.starts_with("[{"));
  assert!(serde_json::from_str::<Value>(&body).is_err());

  server.push_fault(Fault::Garbage, 1, None);
  let response = client()
    .get(format!("{}/pit?session_key=11253", server.base_url()))
    .send()
    .await
    .expect("send");
  assert_eq!(response.status(), StatusCode::OK);
  let bytes = response.bytes().await.expect("body");
  assert!(serde_json::from_slice::<Value>(&bytes).is_err());
  server.stop().await;
}

#[tokio::test]
async fn a_rate_limit_fault_sets_retry_after_and_applies_only_to_matching_paths_the_given_times() {
  let server = start(options()).await;
  server.push_fault(
    Fault::TooManyRequests {
      retry_after_seconds: Some(2),
    },
    2,
    Some("/v1/laps"),
  );
  assert_eq!(count(&server, "stints?session_key=11253").await, 51);
  for _ in 0..2 {
    let response = client()
      .get(format!("{}/laps?session_key=9472", server.base_url()))
      .send()
      .await
      .expect("send");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
      response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok()),
      Some("2")
    );
  }
  assert_eq!(count(&server, "laps?session_key=9472").await, 1129);

  server.push_fault(Fault::BadGateway, 5, None);
  server.clear_faults();
  assert_eq!(count(&server, "laps?session_key=9472").await, 1129);
  server.stop().await;
}

#[tokio::test]
async fn a_slow_fault_delays_the_answer_but_serves_it() {
  let server = start(options()).await;
  server.push_fault(Fault::Slow(Duration::from_millis(300)), 1, None);
  let started = Instant::now();
  assert_eq!(count(&server, "pit?session_key=11253").await, 29);
  assert!(started.elapsed() >= Duration::from_millis(300));
  server.stop().await;
}

/// Sends `request` to the control API, expecting 200.
async fn control(request: reqwest::RequestBuilder) {
  let response = request.send().await.expect("send");
  assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_control_api_queues_faults_upserts_rows_and_lists_requests() {
  let server = start(options()).await;
  let root = server.base_url().trim_end_matches("/v1").to_owned();
  let http = client();
  control(http.post(format!("{root}/__control/faults")).body(
    r#"{"fault":"too_many_requests","retry_after_seconds":2,"times":3,"path_contains":"/v1/laps"}"#,
  ))
  .await;
  assert_eq!(
    get(&server, "laps?session_key=9472").await.0,
    StatusCode::TOO_MANY_REQUESTS
  );
  control(http.delete(format!("{root}/__control/faults"))).await;
  assert_eq!(
    get(&server, "laps?session_key=9472").await.0,
    StatusCode::OK
  );

  let corrected = json!({"meeting_key": 1281, "session_key": 11253, "driver_number": 1, "lap_number": 1, "date": "2026-03-29T05:20:00+00:00", "lane_duration": 1.5, "pit_duration": 1.5, "stop_duration": null});
  control(
    http
      .post(format!("{root}/__control/rows/pit"))
      .body(corrected.to_string()),
  )
  .await;
  assert_eq!(
    count(&server, "pit?session_key=11253&lane_duration=1.5").await,
    1
  );

  let requests: Vec<Value> = http
    .get(format!("{root}/__control/requests"))
    .send()
    .await
    .expect("send")
    .json()
    .await
    .expect("JSON");
  let statuses: Vec<u64> = requests
    .iter()
    .map(|request| request["status"].as_u64().unwrap_or_default())
    .collect();
  assert_eq!(statuses, vec![429, 200, 200]);
  assert_eq!(requests[0]["path"], "/v1/laps");
  assert_eq!(requests[0]["query"], "session_key=9472");
  server.stop().await;
}

#[tokio::test]
async fn upserting_a_corrected_row_replaces_the_recorded_one() {
  let server = start(options()).await;
  let mut lap = get_rows(
    &server,
    "laps?session_key=9472&driver_number=1&lap_number=2",
  )
  .await[0]
    .clone();
  lap["lap_duration"] = json!(91.234);
  server.upsert_rows("laps", vec![lap]);
  assert_eq!(server.row_count("laps", Some(9472)), 1129);
  let served = get_rows(
    &server,
    "laps?session_key=9472&driver_number=1&lap_number=2",
  )
  .await;
  assert_eq!(served.len(), 1);
  assert_eq!(served[0]["lap_duration"], 91.234);
  server.stop().await;
}

async fn request_token(server: &OpenF1Server, username: &str, password: &str) -> reqwest::Response {
  client()
    .post(server.token_url())
    .header("content-type", "application/x-www-form-urlencoded")
    .body(format!("username={username}&password={password}"))
    .send()
    .await
    .expect("send")
}

#[tokio::test]
async fn tokens_are_issued_for_the_right_credentials_and_required_when_auth_is_on() {
  let clock = ManualClock::new(instant("2026-04-01T00:00:00+00:00"));
  let mut options = options();
  options.clock = clock.clock();
  options.require_auth = true;
  options.token_lifetime = Duration::from_secs(60);
  options.credentials = Some(Credentials {
    username: "fan@example.com".to_owned(),
    password: "secret".to_owned(),
  });
  let server = start(options).await;

  let refused = request_token(&server, "fan%40example.com", "wrong").await;
  assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
  assert_eq!(
    refused.text().await.expect("body"),
    r#"{"detail":"Invalid username or password"}"#
  );

  let issued = request_token(&server, "fan%40example.com", "secret").await;
  assert_eq!(issued.status(), StatusCode::OK);
  let token: Value = issued.json().await.expect("JSON");
  assert_eq!(token["expires_in"], "60");
  assert_eq!(token["token_type"], "bearer");
  let access_token = token["access_token"].as_str().expect("a token").to_owned();

  assert_eq!(
    get(&server, "drivers?session_key=11253").await,
    (StatusCode::UNAUTHORIZED, SESSION_IN_PROGRESS.to_owned())
  );
  let authorized = get_with_token(&server, "drivers?session_key=11253", &access_token).await;
  assert_eq!(authorized.status(), StatusCode::OK);

  clock.advance(TimeDelta::seconds(61));
  let expired = get_with_token(&server, "drivers?session_key=11253", &access_token).await;
  assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
  assert_eq!(expired.text().await.expect("body"), SESSION_IN_PROGRESS);

  let authorized_flags: Vec<bool> = server
    .requests()
    .iter()
    .filter(|request| request.path == "/v1/drivers")
    .map(|request| request.authorized)
    .collect();
  assert_eq!(authorized_flags, vec![false, true, false]);
  server.stop().await;
}

/// A clock at the replays' start, 2030-01-01 12:00 UTC.
fn replay_clock() -> ManualClock {
  ManualClock::new(instant("2030-01-01T12:00:00+00:00"))
}

fn replay_options(clock: &ManualClock, speed: f64, auth_during_live: bool) -> ServerOptions {
  let mut options = options();
  options.clock = clock.clock();
  options.replay = Some(ReplayOptions {
    session_key: 9472,
    speed,
    started_at: clock.now(),
    offset: TimeDelta::zero(),
    auth_during_live,
  });
  options
}

/// [`replay_options`] at normal speed without tokens, on a [`replay_clock`], with one change to the replay.
fn changed_replay(change: impl FnOnce(&mut ReplayOptions)) -> ServerOptions {
  let mut options = replay_options(&replay_clock(), 1.0, false);
  change(options.replay.as_mut().expect("a replay"));
  options
}

#[tokio::test]
async fn replay_releases_rows_as_the_clock_advances_and_shifts_their_dates() {
  let started_at = instant("2030-01-01T12:00:00+00:00");
  let clock = ManualClock::new(started_at);
  let server = start(replay_options(&clock, 1.0, false)).await;
  let recorded = fixture_rows("9472_bahrain_2024_race/laps.json");
  let recorded_start = instant("2024-03-02T15:00:00+00:00");
  let laps_until = |minutes: i64| {
    recorded
      .iter()
      .filter(|lap| {
        lap["date_start"]
          .as_str()
          .is_some_and(|start| instant(start) <= recorded_start + TimeDelta::minutes(minutes))
      })
      .count()
  };

  assert_eq!(count(&server, "laps?session_key=9472").await, 0);
  let sessions = get_rows(&server, "sessions?session_key=latest").await;
  assert_eq!(sessions[0]["session_key"], 9472);
  assert_eq!(sessions[0]["date_start"], "2030-01-01T12:00:00+00:00");
  assert_eq!(sessions[0]["date_end"], "2030-01-01T14:00:00+00:00");
  assert_eq!(count(&server, "session_result?session_key=9472").await, 0);

  clock.advance(TimeDelta::minutes(10));
  assert_eq!(
    count(&server, "laps?session_key=latest").await,
    laps_until(10)
  );
  assert_eq!(laps_until(10), 80);
  assert_eq!(
    first_lap_start(&server).await,
    "2030-01-01T12:03:42.341000+00:00"
  );
  // Filters see the shifted times.
  assert_eq!(
    count(
      &server,
      "laps?session_key=9472&date_start<2030-01-01T12:05:00"
    )
    .await,
    laps_until(5)
  );
  // Other sessions are untouched.
  assert_eq!(count(&server, "laps?session_key=9165").await, 1091);

  clock.advance(TimeDelta::hours(3));
  assert_eq!(count(&server, "laps?session_key=9472").await, 1129);
  assert_eq!(count(&server, "session_result?session_key=9472").await, 20);
  server.stop().await;
}

#[tokio::test]
async fn replay_at_double_speed_covers_twice_the_recorded_time() {
  let clock = replay_clock();
  let server = start(replay_options(&clock, 2.0, false)).await;
  clock.advance(TimeDelta::minutes(5));
  assert_eq!(count(&server, "laps?session_key=9472").await, 80);
  // 3 min 42.341 s into the session, replayed at 2x: 1 min 51.1705 s after the start.
  assert_eq!(
    first_lap_start(&server).await,
    "2030-01-01T12:01:51.170500+00:00"
  );
  server.stop().await;
}

#[tokio::test]
async fn a_live_replay_requires_a_token_when_auth_during_live_is_on() {
  let clock = replay_clock();
  let server = start(replay_options(&clock, 1.0, true)).await;
  assert_eq!(
    get(&server, "drivers?session_key=9472").await,
    (StatusCode::UNAUTHORIZED, SESSION_IN_PROGRESS.to_owned())
  );
  let token: Value = request_token(&server, "someone", "anything")
    .await
    .json()
    .await
    .expect("JSON");
  let authorized = get_with_token(
    &server,
    "drivers?session_key=9472",
    token["access_token"].as_str().unwrap_or_default(),
  )
  .await;
  assert_eq!(authorized.status(), StatusCode::OK);
  // Thirty minutes after the recorded end the session is no longer live.
  clock.advance(TimeDelta::hours(2) + TimeDelta::minutes(31));
  assert_eq!(count(&server, "drivers?session_key=9472").await, 20);
  server.stop().await;
}

#[tokio::test]
async fn a_replay_starting_before_the_session_already_shows_it_as_latest_but_no_events() {
  let server = start(changed_replay(|replay| {
    replay.offset = TimeDelta::minutes(-5);
  }))
  .await;
  let sessions = get_rows(&server, "sessions?session_key=latest").await;
  assert_eq!(sessions[0]["date_start"], "2030-01-01T12:05:00+00:00");
  let meetings = get_rows(&server, "meetings?meeting_key=latest").await;
  assert_eq!(meetings[0]["meeting_key"], 1229);
  let positions = get_rows(&server, "position?session_key=latest").await;
  assert!(positions.len() < 435);
  assert_eq!(count(&server, "laps?session_key=latest").await, 0);
  server.stop().await;
}

#[tokio::test]
async fn replaying_an_unknown_session_fails_to_start() {
  let options = changed_replay(|replay| replay.session_key = 1);
  assert!(OpenF1Server::start(options).await.is_err());
}

/// An MQTT client of `broker` logged in as `username` with `password`; returns once connected and subscribed to
/// `v1/#`, or the broker's refusal.
async fn mqtt_subscriber(
  broker: &f1_backend::TestBroker,
  username: &str,
  password: &str,
) -> Result<(rumqttc::AsyncClient, rumqttc::EventLoop), rumqttc::ConnectionError> {
  let suffix = f1_backend::unique_name("subscriber");
  let mut options = rumqttc::MqttOptions::new(suffix, "127.0.0.1", broker.port());
  options.set_credentials(username, password);
  let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 16);
  client
    .subscribe("v1/#", rumqttc::QoS::AtMostOnce)
    .await
    .expect("queue the subscription");
  loop {
    match tokio::time::timeout(Duration::from_secs(10), eventloop.poll())
      .await
      .expect("the broker answers")?
    {
      rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)) => return Ok((client, eventloop)),
      _ => continue,
    }
  }
}

/// The next `count` messages as (topic, JSON payload).
async fn next_messages(eventloop: &mut rumqttc::EventLoop, count: usize) -> Vec<(String, Value)> {
  let mut messages = Vec::new();
  while messages.len() < count {
    let event = tokio::time::timeout(Duration::from_secs(10), eventloop.poll())
      .await
      .expect("a message in time")
      .expect("the connection holds");
    if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(publish)) = event {
      let payload = serde_json::from_slice(&publish.payload).expect("a JSON payload");
      messages.push((publish.topic, payload));
    }
  }
  messages
}

#[tokio::test]
async fn the_replay_publishes_each_row_when_its_instant_comes_as_upstream_would() {
  let broker = f1_backend::TestBroker::start().await;
  let clock = replay_clock();
  let mut options = replay_options(&clock, 1.0, false);
  options.broker = Some(broker.server_options(false));
  let server = start(options).await;
  let token = token_for(&server, "viewer").await;
  let (_client, mut eventloop) = mqtt_subscriber(&broker, "viewer", &token)
    .await
    .expect("a valid token is accepted");

  assert_eq!(
    server.publish_due().await.expect("publish"),
    0,
    "nothing happened yet"
  );
  clock.advance(TimeDelta::minutes(10));
  let published = server.publish_due().await.expect("publish");
  assert!(
    published > 20,
    "ten minutes of laps and positions: {published}"
  );
  let messages = next_messages(&mut eventloop, published).await;
  assert_eq!(
    server.publish_due().await.expect("publish"),
    0,
    "each row once"
  );

  let mut previous_id = 0;
  for (topic, message) in &messages {
    let endpoint = topic.strip_prefix("v1/").expect("topic v1/<endpoint>");
    let id = message["_id"].as_i64().expect("an integer _id");
    assert!(id > previous_id, "_id increases: {id} after {previous_id}");
    previous_id = id;
    let key = message["_key"].as_str().expect("a string _key");
    assert_eq!(
      Some(key.to_owned()),
      openf1_server::replay::upstream_key(endpoint, message)
    );
  }
  // The published rows are the rows REST serves now, plus `_key` and `_id`.
  let laps = get_rows(&server, "laps?session_key=9472").await;
  let published_laps: Vec<Value> = messages
    .iter()
    .filter(|(topic, _)| topic == "v1/laps")
    .map(|(_, message)| {
      let mut row = message.clone();
      if let Value::Object(fields) = &mut row {
        fields.remove("_key");
        fields.remove("_id");
      }
      row
    })
    .collect();
  assert!(!published_laps.is_empty());
  assert_eq!(
    published_laps.len(),
    laps.len(),
    "the replay starts at the session's start"
  );
  for row in &published_laps {
    assert!(
      laps.contains(row),
      "a published lap is served over REST: {row}"
    );
  }
  let first_lap = &messages
    .iter()
    .find(|(topic, _)| topic == "v1/laps")
    .expect("a lap")
    .1;
  assert_eq!(
    first_lap["_key"],
    json!(format!(
      "9472_{}_{}",
      first_lap["lap_number"], first_lap["driver_number"]
    ))
  );
  server.stop().await;
}

#[tokio::test]
async fn the_broker_takes_a_valid_token_as_password_and_drops_its_connections_once_it_expired() {
  let broker = f1_backend::TestBroker::start().await;
  let clock = replay_clock();
  let mut options = replay_options(&clock, 1.0, true);
  options.broker = Some(broker.server_options(false));
  options.token_lifetime = Duration::from_secs(3600);
  let server = start(options).await;

  let refused = mqtt_subscriber(&broker, "viewer", "not-a-token").await;
  assert!(
    matches!(
      refused,
      Err(rumqttc::ConnectionError::ConnectionRefused(
        rumqttc::ConnectReturnCode::NotAuthorized
      ))
    ),
    "{:?}",
    refused.map(|_| ())
  );
  let token = token_for(&server, "viewer").await;
  let (_client, mut eventloop) = mqtt_subscriber(&broker, "viewer", &token)
    .await
    .expect("a valid token is accepted");

  clock.advance(TimeDelta::minutes(61));
  assert_eq!(server.revoke_expired_tokens().await.expect("revoke"), 1);
  let dropped = loop {
    match tokio::time::timeout(Duration::from_secs(10), eventloop.poll())
      .await
      .expect("the broker acts in time")
    {
      Ok(_) => continue,
      Err(error) => break error,
    }
  };
  assert!(
    !matches!(dropped, rumqttc::ConnectionError::ConnectionRefused(_)),
    "{dropped}"
  );
  let again = mqtt_subscriber(&broker, "viewer", &token).await;
  assert!(again.is_err(), "an expired token is refused");
  let fresh = token_for(&server, "viewer").await;
  assert!(mqtt_subscriber(&broker, "viewer", &fresh).await.is_ok());
  server.stop().await;
}

#[tokio::test]
async fn with_the_system_clock_the_replay_publishes_by_itself() {
  let broker = f1_backend::TestBroker::start().await;
  let mut options = ServerOptions::new(f1_backend::fixtures_dir());
  // 120x from three minutes into the race: the first laps are due within a second.
  options.replay = Some(ReplayOptions {
    session_key: 9472,
    speed: 120.0,
    started_at: Utc::now(),
    offset: TimeDelta::minutes(3),
    auth_during_live: false,
  });
  options.broker = Some(broker.server_options(true));
  let server = start(options).await;
  let token = token_for(&server, "viewer").await;
  let (_client, mut eventloop) = mqtt_subscriber(&broker, "viewer", &token)
    .await
    .expect("a valid token is accepted");
  let messages = next_messages(&mut eventloop, 5).await;
  let ids: Vec<i64> = messages
    .iter()
    .map(|(_, message)| message["_id"].as_i64().expect("an _id"))
    .collect();
  assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
  server.stop().await;
}
