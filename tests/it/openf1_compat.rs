//! The Open F1 drop-in answers exactly as upstream: a differential corpus against the local Open F1 server (the
//! independent model of upstream) on MariaDB and SQLite, and one test per rule with explicit expectations.

use api::openf1::Endpoint;
use f1_backend::Engine;
use serde_json::Value;

use crate::openf1_support::{Compat, assert_same_answer, parse_csv};

/// `(endpoint, raw query string)`: every endpoint, every rule. Raw `<`, `>` and spaces are written encoded, as
/// clients send them; `%3C=` and `%3E=` are upstream's quirk for `<=` and `>=`.
const CORPUS: &[(&str, &str)] = &[
  // meetings: no filter, integers, `latest`, never-cast text, date-only ranges, booleans, case-sensitive text.
  ("meetings", ""),
  ("meetings", "year=2024"),
  ("meetings", "meeting_key=latest"),
  ("meetings", "gmt_offset=09:00:00"),
  ("meetings", "country_name=Japan&year%3E%3D2024"),
  (
    "meetings",
    "date_start%3E2024-03-01&date_start%3C2024-04-01",
  ),
  ("meetings", "circuit_type=Permanent"),
  ("meetings", "is_cancelled=false"),
  ("meetings", "meeting_name=japanese%20grand%20prix"),
  ("meetings", "=1"),
  // sessions: `latest`, text, date-only equality, datetime ranges with offsets, English dates, OR, CSV.
  ("sessions", "session_key=latest"),
  ("sessions", "year=2023&session_name=Sprint"),
  ("sessions", "session_type=Race&country_code=BRN"),
  ("sessions", "date_start=2024-03-02"),
  (
    "sessions",
    "date_start%3E%3D2024-03-02T15:00:00%2B00:00&date_start%3C%3D2024-03-02T16:00:00%2B00:00",
  ),
  ("sessions", "date_start%3CMar%202,%202023"),
  ("sessions", "meeting_key=1229&meeting_key=1281"),
  ("sessions", "csv=true&year=2024&session_name=Race"),
  ("sessions", "session_key%3Elatest"),
  // drivers.
  ("drivers", "session_key=9472&driver_number=1"),
  ("drivers", "session_key=9472&team_colour=3671C6"),
  ("drivers", "session_key=9472&team_colour=3671c6"),
  ("drivers", "name_acronym=VER&session_key%3E%3D9472"),
  ("drivers", "session_key=9158&driver_number=1"),
  ("drivers", "session_key=11253&country_code=NED"),
  ("drivers", "session_key=9472&name_acronym%3E%3DV"),
  // laps: every operator, floats, booleans, ranges, unpaired bounds, arrays, wrong types, unknown fields, CSV.
  (
    "laps",
    "session_key=9472&driver_number=1&lap_number%3E%3D50",
  ),
  ("laps", "session_key=9472&lap_number=1"),
  (
    "laps",
    "session_key=9472&lap_duration%3C95.5&driver_number=16",
  ),
  ("laps", "session_key=9165&is_pit_out_lap=true"),
  (
    "laps",
    "session_key=9472&lap_number%3E%3D5&lap_number%3C%3D7&lap_number%3E%3D50&lap_number%3C%3D52&driver_number=44",
  ),
  (
    "laps",
    "session_key=9472&lap_number%3E55&lap_number%3C3&driver_number=1",
  ),
  ("laps", "session_key=9472&segments_sector_1=2049"),
  ("laps", "session_key=9472&lap_number=abc"),
  ("laps", "session_key=9472&speed=300"),
  (
    "laps",
    "session_key=11253&date_start%3E2026-03-29T05:14:00&date_start%3C2026-03-29T05:15:00",
  ),
  ("laps", "session_key=9472&driver_number=1&csv=true"),
  ("laps", "session_key=9472&st_speed%3E%3D320&i1_speed%3E230"),
  ("laps", "driver_number=1&lap_number=10"),
  (
    "laps",
    "session_key=9472&driver_number=1&date_start>2024-03-02T16:00:00+00:00",
  ),
  ("laps", "Session_Key=9472&DRIVER_NUMBER=1&lap_number=1"),
  ("laps", "session_key=9472&lap_duration%3Enan"),
  (
    "laps",
    "session_key=9472&driver_number=1&lap_duration%3Cinf",
  ),
  // car_data: the docs' example, synthetic windows with milliseconds, wrong types.
  (
    "car_data",
    "session_key=9159&driver_number=55&speed%3E%3D315",
  ),
  ("car_data", "session_key=9159&speed=200&n_gear=7"),
  ("car_data", "session_key=9472&driver_number=44&drs=12"),
  (
    "car_data",
    "session_key=9472&date%3E2024-03-02T15:10:05&date%3C%3D2024-03-02T15:10:07.5",
  ),
  ("car_data", "session_key=9472&throttle=true"),
  ("car_data", "session_key=9472&drs%3C=8&brake=100"),
  // location.
  ("location", "session_key=9472&driver_number=1"),
  ("location", "session_key=9472&x%3C0&z%3E%3D5"),
  ("location", "session_key=9472&date=2024-03-02"),
  // position: the `%3C=` quirk, OR, datetimes with `Z`.
  ("position", "session_key=9472&position%3C=3"),
  (
    "position",
    "session_key=9472&driver_number=1&driver_number=16&position=1",
  ),
  (
    "position",
    "session_key=9472&date%3E%3D2024-03-02T15:30:00Z&date%3C2024-03-02T15:40:00Z",
  ),
  // intervals: number-or-text fields, `latest`.
  ("intervals", "session_key=11253&gap_to_leader=%2B1%20LAP"),
  ("intervals", "session_key=11253&interval%3C0.5"),
  (
    "intervals",
    "session_key=11253&gap_to_leader%3E%3D10&gap_to_leader%3C20",
  ),
  ("intervals", "session_key=latest&driver_number=77"),
  // pit: `%3E=` quirk, all-null fields.
  ("pit", "session_key=9472&pit_duration%3C24.1"),
  ("pit", "session_key=11253&lane_duration%3E=22"),
  ("pit", "session_key=11253&stop_duration%3C5"),
  // stints: exact case.
  ("stints", "session_key=9472&compound=HARD"),
  ("stints", "session_key=9472&compound=hard"),
  (
    "stints",
    "session_key=9165&lap_start%3E%3D20&tyre_age_at_start%3E0",
  ),
  ("stints", "session_key=9472&driver_number=%201"),
  // weather: integers and floats mixed upstream, CSV by truthiness.
  ("weather", "session_key=11253&track_temperature%3E%3D37"),
  (
    "weather",
    "session_key=11253&rainfall=0&wind_direction%3C100",
  ),
  ("weather", "session_key=11253&humidity=46.1"),
  ("weather", "session_key=11253&csv=1&wind_direction%3E%3D300"),
  // race_control: text with spaces, nulls, pairing.
  ("race_control", "session_key=11253&flag=BLACK%20AND%20WHITE"),
  (
    "race_control",
    "session_key=11253&category=Flag&lap_number%3C%3D5",
  ),
  ("race_control", "session_key=11253&driver_number=14"),
  (
    "race_control",
    "session_key=11253&message=SAFETY%20CAR%20DEPLOYED",
  ),
  (
    "race_control",
    "session_key=11253&date%3C2026-03-29T05:00:00%2B00:00",
  ),
  (
    "race_control",
    "session_key=11253&lap_number%3E%3D10&lap_number%3E%3D20&lap_number%3C15",
  ),
  // team_radio (synthetic).
  ("team_radio", "session_key=9472&driver_number=11"),
  ("team_radio", "session_key=9472&date%3E2024-03-02T15:20:00"),
  // session_result: JSON fields holding numbers, texts or arrays.
  ("session_result", "session_key=11253&position%3C=3"),
  ("session_result", "session_key=11253&dnf=true"),
  (
    "session_result",
    "session_key=11253&gap_to_leader=%2B1%20LAP",
  ),
  ("session_result", "session_key=11253&duration%3C5300"),
  ("session_result", "session_key=11249&duration%3C90"),
  (
    "session_result",
    "session_key=11253&points%3E%3D10&points%3C%3D18",
  ),
  ("session_result", "position%3C%3D3&meeting_key=1229"),
  // starting_grid.
  ("starting_grid", "session_key=11249&position%3C%3D10"),
  ("starting_grid", "session_key=11249&lap_duration%3C90"),
  // overtakes.
  ("overtakes", "session_key=11253&overtaking_driver_number=12"),
  ("overtakes", "session_key=11253&position=1"),
  ("overtakes", "session_key=11253&date=2026-03-29"),
  // championships (synthetic).
  (
    "championship_drivers",
    "session_key=9472&position_current%3C%3D2",
  ),
  (
    "championship_drivers",
    "session_key=9472&points_current%3E%3D18.5",
  ),
  (
    "championship_teams",
    "session_key=9472&team_name=Red%20Bull%20Racing",
  ),
  ("championship_teams", "team_colour=E8002D"),
];

async fn the_corpus_answers_as_upstream(engine: Engine) {
  let compat = Compat::start(engine).await;
  for (endpoint, query) in CORPUS {
    compat.same(endpoint, query).await;
  }
}

#[test]
fn the_corpus_covers_every_endpoint_with_sixty_queries_or_more() {
  assert!(CORPUS.len() >= 60, "{} queries", CORPUS.len());
  for endpoint in Endpoint::ALL {
    assert!(
      CORPUS.iter().any(|(name, _)| *name == endpoint.name()),
      "{} is not in the corpus",
      endpoint.name()
    );
  }
}

#[tokio::test]
async fn the_corpus_answers_as_upstream_on_mariadb() {
  the_corpus_answers_as_upstream(Engine::MariaDb).await;
}

#[tokio::test]
async fn the_corpus_answers_as_upstream_on_sqlite() {
  the_corpus_answers_as_upstream(Engine::Sqlite).await;
}

fn rows(answer: &crate::openf1_support::Answer) -> Vec<Value> {
  assert_eq!(answer.status, 200, "{}", answer.body);
  serde_json::from_str(&answer.body).expect("a JSON array")
}

#[tokio::test]
async fn every_endpoint_serves_its_stored_rows_with_upstream_fields_and_timestamps() {
  let compat = Compat::start(Engine::MariaDb).await;
  for (endpoint, query) in [
    ("meetings", ""),
    ("sessions", ""),
    ("drivers", "session_key=11253"),
    ("laps", "session_key=9472"),
    ("car_data", "session_key=9472"),
    ("location", "session_key=9472"),
    ("position", "session_key=9472"),
    ("intervals", "session_key=11253"),
    ("pit", "session_key=11253"),
    ("stints", "session_key=11253"),
    ("weather", "session_key=11253"),
    ("race_control", "session_key=11253"),
    ("team_radio", "session_key=9472"),
    ("session_result", "session_key=11249"),
    ("starting_grid", "session_key=11249"),
    ("overtakes", "session_key=11253"),
    ("championship_drivers", "session_key=9472"),
    ("championship_teams", "session_key=9472"),
  ] {
    let ours = compat.same(endpoint, query).await;
    assert!(ours.content_type.starts_with("application/json"));
  }
  // Timestamps keep upstream's text exactly: microseconds, or no fraction at all.
  let race_control = rows(
    &compat
      .ours("race_control", "session_key=11253", false)
      .await,
  );
  assert_eq!(race_control[0]["date"], "2026-03-29T04:18:28+00:00");
  let intervals = rows(
    &compat
      .ours("intervals", "session_key=11253&driver_number=16", false)
      .await,
  );
  assert_eq!(intervals[0]["date"], "2026-03-29T05:14:06.908000+00:00");
}

#[tokio::test]
async fn the_encoded_less_than_before_the_equals_sign_means_less_or_equal() {
  let compat = Compat::start(Engine::MariaDb).await;
  let quirk = rows(
    &compat
      .same("position", "session_key=9472&position%3C=3")
      .await,
  );
  let encoded = rows(
    &compat
      .same("position", "session_key=9472&position%3C%3D3")
      .await,
  );
  assert_eq!(quirk, encoded);
  assert!(quirk.iter().any(|row| row["position"] == 3));
  assert!(quirk.iter().all(|row| row["position"].as_i64() <= Some(3)));
}

#[tokio::test]
async fn every_operator_compares_numbers_and_datetimes() {
  let compat = Compat::start(Engine::MariaDb).await;
  let count = |answer: crate::openf1_support::Answer| rows(&answer).len();
  let base = "session_key=9472&driver_number=1";
  let all = count(compat.same("laps", base).await);
  let equal = count(compat.same("laps", &format!("{base}&lap_number=10")).await);
  let below = count(
    compat
      .same("laps", &format!("{base}&lap_number%3C10"))
      .await,
  );
  let above = count(
    compat
      .same("laps", &format!("{base}&lap_number%3E10"))
      .await,
  );
  let at_most = count(
    compat
      .same("laps", &format!("{base}&lap_number%3C%3D10"))
      .await,
  );
  let at_least = count(
    compat
      .same("laps", &format!("{base}&lap_number%3E%3D10"))
      .await,
  );
  assert_eq!(equal, 1);
  assert_eq!(below, 9);
  assert_eq!(at_most, 10);
  assert_eq!(below + equal + above, all);
  assert_eq!(at_least, all - 9);
  // Datetimes: a bound without `=` written raw (`date_start>…`) and the same bound encoded.
  let raw = count(
    compat
      .same("laps", &format!("{base}&date_start>2024-03-02T16:00:00"))
      .await,
  );
  let encoded = count(
    compat
      .same("laps", &format!("{base}&date_start%3E2024-03-02T16:00:00"))
      .await,
  );
  assert_eq!(raw, encoded);
  assert!(raw > 0 && raw < all);
}

#[tokio::test]
async fn values_are_cast_like_upstream_and_other_types_never_match() {
  let compat = Compat::start(Engine::MariaDb).await;
  // Booleans, floats, integers written with spaces.
  assert!(
    !rows(
      &compat
        .same("laps", "session_key=9165&is_pit_out_lap=true")
        .await
    )
    .is_empty()
  );
  assert!(
    !rows(
      &compat
        .same("weather", "session_key=11253&humidity=46.1")
        .await
    )
    .is_empty()
  );
  assert!(
    !rows(
      &compat
        .same("stints", "session_key=9472&driver_number=%201")
        .await
    )
    .is_empty()
  );
  // `gmt_offset` and `team_colour` are never cast (`09:00:00` is not a time, `000000` not a number).
  assert!(!rows(&compat.same("meetings", "gmt_offset=09:00:00").await).is_empty());
  assert!(
    !rows(
      &compat
        .same("championship_teams", "team_colour=E8002D")
        .await
    )
    .is_empty()
  );
  // A value of another type than the field's matches nothing: 404 as upstream.
  for (endpoint, query) in [
    ("laps", "session_key=9472&lap_number=abc"),
    ("laps", "session_key=9472&lap_number=true"),
    ("car_data", "session_key=9472&throttle=true"),
    ("sessions", "date_start=Sunday"),
    ("meetings", "meeting_name=2024-03-02"),
    ("laps", "session_key=9472&lap_duration%3Enan"),
  ] {
    let answer = compat.same(endpoint, query).await;
    assert_eq!(answer.status, 404, "{endpoint}?{query}");
    assert_eq!(answer.body, r#"{"detail":"No results found."}"#);
  }
}

#[tokio::test]
async fn a_date_alone_covers_its_whole_day() {
  let compat = Compat::start(Engine::MariaDb).await;
  let day = rows(
    &compat
      .same("location", "session_key=9472&date=2024-03-02")
      .await,
  );
  assert_eq!(day.len(), 80);
  let after = compat
    .same("location", "session_key=9472&date%3E2024-03-02")
    .await;
  assert_eq!(after.status, 404, "`>D` starts the next day");
  let through = rows(
    &compat
      .same("location", "session_key=9472&date%3C%3D2024-03-02")
      .await,
  );
  assert_eq!(through.len(), 80, "`<=D` ends with the day");
  let before = compat
    .same("location", "session_key=9472&date%3C2024-03-02")
    .await;
  assert_eq!(before.status, 404);
  let from = rows(
    &compat
      .same("location", "session_key=9472&date%3E%3D2024-03-02")
      .await,
  );
  assert_eq!(from.len(), 80);
  let sessions = rows(&compat.same("sessions", "date_start=2024-03-02").await);
  assert!(
    sessions
      .iter()
      .any(|session| session["session_key"] == 9472)
  );
}

#[tokio::test]
async fn equalities_on_one_field_are_or_ed_bounds_pair_into_ranges_and_fields_are_and_ed() {
  let compat = Compat::start(Engine::MariaDb).await;
  let either = rows(
    &compat
      .same(
        "drivers",
        "session_key=9472&driver_number=1&driver_number=44",
      )
      .await,
  );
  assert_eq!(either.len(), 2);
  let ranges = rows(
    &compat
      .same(
        "laps",
        "session_key=9472&driver_number=44&lap_number%3E%3D5&lap_number%3C%3D7&lap_number%3E%3D50&lap_number%3C%3D52",
      )
      .await,
  );
  let laps: Vec<i64> = ranges
    .iter()
    .filter_map(|row| row["lap_number"].as_i64())
    .collect();
  assert_eq!(laps, [5, 6, 7, 50, 51, 52]);
  // A lower bound above every upper bound stays alone: laps > 55 or laps < 3.
  let apart = rows(
    &compat
      .same(
        "laps",
        "session_key=9472&driver_number=1&lap_number%3E55&lap_number%3C3",
      )
      .await,
  );
  let laps: Vec<i64> = apart
    .iter()
    .filter_map(|row| row["lap_number"].as_i64())
    .collect();
  assert_eq!(laps, [1, 2, 56, 57]);
}

#[tokio::test]
async fn latest_stands_for_the_most_recent_session() {
  let compat = Compat::start(Engine::MariaDb).await;
  let sessions = rows(&compat.same("sessions", "session_key=latest").await);
  assert_eq!(sessions.len(), 1);
  assert_eq!(sessions[0]["session_key"], 11253);
  let meetings = rows(&compat.same("meetings", "meeting_key=latest").await);
  assert_eq!(meetings[0]["meeting_key"], 1281);
  let answer = compat
    .same("intervals", "session_key=latest&driver_number=77")
    .await;
  assert!(!rows(&answer).is_empty());
  let cache_control = answer.headers["cache-control"]
    .to_str()
    .unwrap_or_default()
    .to_owned();
  assert_eq!(
    cache_control, "public, max-age=60",
    "a client must ask again once `latest` may move"
  );
}

#[tokio::test]
async fn csv_true_answers_csv_with_the_sorted_field_names_as_header() {
  let compat = Compat::start(Engine::MariaDb).await;
  let answer = compat
    .same("laps", "session_key=9472&driver_number=1&csv=true")
    .await;
  assert_eq!(answer.content_type, "text/csv; charset=utf-8");
  assert_eq!(
    answer.headers["content-disposition"]
      .to_str()
      .unwrap_or_default(),
    "attachment; filename=laps.csv"
  );
  let table = parse_csv(&answer.body);
  let mut header = table[0].clone();
  header.sort();
  assert_eq!(table[0], header);
  assert_eq!(table.len(), 58, "header and 57 laps");
  assert!(
    answer.body.contains("2024-03-02 15:0"),
    "datetimes as Python's str() writes them"
  );
  let truthy = compat
    .same("weather", "session_key=11253&csv=1&wind_direction%3E%3D300")
    .await;
  assert!(truthy.content_type.starts_with("text/csv"));
  let falsy = compat
    .ours("laps", "session_key=9472&driver_number=1&csv=false", false)
    .await;
  assert!(falsy.content_type.starts_with("application/json"));
}

#[tokio::test]
async fn a_field_the_endpoint_lacks_matches_nothing_instead_of_being_ignored() {
  let compat = Compat::start(Engine::MariaDb).await;
  for (endpoint, query) in [
    ("laps", "session_key=9472&speed=300"),
    ("laps", "session_key=9472&segments_sector_1=2049"),
    ("meetings", "=1"),
    ("sessions", "unknown_field%3E2"),
  ] {
    let answer = compat.same(endpoint, query).await;
    assert_eq!(answer.status, 404, "{endpoint}?{query}");
  }
  // Unknown endpoints answer upstream's empty answer too; endpoint and field names are case-insensitive.
  let unknown = compat.upstream("not_an_endpoint", "").await;
  let ours = compat.ours("not_an_endpoint", "", false).await;
  assert_same_answer("not_an_endpoint", "", &unknown, &ours);
  let upper = compat
    .ours(
      "LAPS",
      "Session_Key=9472&DRIVER_NUMBER=1&lap_number=1",
      false,
    )
    .await;
  assert_eq!(rows(&upper).len(), 1);
}

#[tokio::test]
async fn text_compares_exactly_even_under_a_case_insensitive_collation() {
  let compat = Compat::start(Engine::MariaDb).await;
  // Production databases use utf8mb4_unicode_ci (docker-compose): make the column case-insensitive here too.
  let database = sea_orm::Database::connect(compat.api_database_url())
    .await
    .expect("connect");
  sea_orm::ConnectionTrait::execute_unprepared(
    &database,
    "ALTER TABLE stints MODIFY compound VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL",
  )
  .await
  .expect("make compound case-insensitive");
  assert!(
    !rows(
      &compat
        .same("stints", "session_key=9472&compound=HARD")
        .await
    )
    .is_empty()
  );
  let lower = compat
    .same("stints", "session_key=9472&compound=hard")
    .await;
  assert_eq!(lower.status, 404);
  let ordered = rows(
    &compat
      .same("drivers", "session_key=9472&name_acronym%3E%3DV")
      .await,
  );
  assert!(
    ordered
      .iter()
      .all(|row| row["name_acronym"].as_str() >= Some("V"))
  );
}

#[tokio::test]
async fn number_or_text_and_json_fields_match_numbers_and_texts_but_never_arrays() {
  let compat = Compat::start(Engine::MariaDb).await;
  let lapped = rows(
    &compat
      .same("intervals", "session_key=11253&gap_to_leader=%2B1%20LAP")
      .await,
  );
  assert!(lapped.iter().all(|row| row["gap_to_leader"] == "+1 LAP"));
  let close = rows(
    &compat
      .same("intervals", "session_key=11253&interval%3C0.5")
      .await,
  );
  assert!(close.iter().all(|row| row["interval"].as_f64() < Some(0.5)));
  let results = rows(
    &compat
      .same("session_result", "session_key=11253&duration%3C5300")
      .await,
  );
  assert!(!results.is_empty());
  let text = rows(
    &compat
      .same(
        "session_result",
        "session_key=11253&gap_to_leader=%2B1%20LAP",
      )
      .await,
  );
  assert!(!text.is_empty());
  let arrays = compat
    .same("session_result", "session_key=11249&duration%3C90")
    .await;
  assert_eq!(arrays.status, 404, "qualifying durations are arrays");
}

#[tokio::test]
async fn post_answers_like_get() {
  let compat = Compat::start(Engine::MariaDb).await;
  for (endpoint, query) in [
    (
      "laps",
      "session_key=9472&driver_number=1&lap_number%3E%3D50",
    ),
    ("sessions", "year=2024&session_name=Race"),
    ("stints", "session_key=9472&compound=hard"),
  ] {
    let get = compat.ours(endpoint, query, false).await;
    let post = compat.ours(endpoint, query, true).await;
    assert_eq!(
      (post.status, &post.body),
      (get.status, &get.body),
      "{endpoint}?{query}"
    );
  }
}

#[tokio::test]
async fn a_term_without_operator_is_a_client_error_where_upstream_fails() {
  let compat = Compat::start(Engine::Sqlite).await;
  let upstream = compat
    .upstream("laps", "session_key=9472&driver_number")
    .await;
  assert_eq!(upstream.status, 500, "upstream's ValueError");
  let ours = compat
    .ours("laps", "session_key=9472&driver_number", false)
    .await;
  assert_eq!(ours.status, 400);
  assert!(ours.content_type.starts_with("application/problem+json"));
  assert!(
    ours.body.contains("`driver_number` has no operator"),
    "{}",
    ours.body
  );
}

impl Compat {
  /// The URL of the api's database.
  fn api_database_url(&self) -> String {
    self.api.database_url().to_owned()
  }
}
