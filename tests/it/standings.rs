//! Championship standings (`/v1/seasons/{year}/standings/drivers` and `/teams`) and the season charts, on the
//! recorded results of the first five rounds of 2024 (`season_2024_opening_rounds`: Bahrain, Saudi Arabia,
//! Australia, Japan and China with its sprint), checked against a table computed by hand from those results.

use api::{ChartKind, ChartRequest, Settings, build_season_chart};
use entity::championship_drivers;
use f1_backend::{Engine, TestDatabase, execute_sql, seed_fixtures};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::Value;

use crate::api_support::TestApi;
use crate::chart_support::traces;

const SEASON: &[&str] = &["season_2023_2025", "season_2024_opening_rounds"];

/// The drivers' championship after round 5 of 2024, computed by hand from the recorded results (`points` of
/// `session_result`, which include the fastest-lap point of 2024): per driver, the points of Bahrain, Saudi
/// Arabia, Australia, Japan, the China sprint and the Chinese Grand Prix, and the total. "—" in a comment means no
/// recorded result (a retirement filtered out upstream, or not entered).
const DRIVERS_AFTER_ROUND_5: &[(&str, [f64; 6], f64)] = &[
  // P1 + fastest lap (26), P1, retired —, P1 + fastest lap (26), sprint P1 (8), P1
  ("VER", [26.0, 25.0, 0.0, 26.0, 8.0, 25.0], 110.0),
  // P2, P2, P5, P2, sprint P3, P3
  ("PER", [18.0, 18.0, 10.0, 18.0, 6.0, 15.0], 85.0),
  // P4, P3 + fastest lap, P2 + fastest lap, P4, sprint P4, P4
  ("LEC", [12.0, 16.0, 19.0, 12.0, 5.0, 12.0], 76.0),
  // P3, — (appendicitis: Bearman drove), P1, P3, sprint P5, P5
  ("SAI", [15.0, 0.0, 25.0, 15.0, 4.0, 10.0], 69.0),
  // P6, P8, P3, P5, sprint P6, P2
  ("NOR", [8.0, 4.0, 15.0, 10.0, 3.0, 18.0], 58.0),
  // P8, P4, P4, P8, sprint P7, P8
  ("PIA", [4.0, 12.0, 12.0, 4.0, 2.0, 4.0], 38.0),
  // P5, P6, P17, P7, sprint P8, P6
  ("RUS", [10.0, 8.0, 0.0, 6.0, 1.0, 8.0], 33.0),
  // P9, P5, P8, P6, sprint P20, P7 + fastest lap
  ("ALO", [2.0, 10.0, 4.0, 8.0, 0.0, 7.0], 31.0),
  // P7, P9, —, P9, sprint P2, P9
  ("HAM", [6.0, 2.0, 0.0, 2.0, 7.0, 2.0], 19.0),
  // P10, —, P6, P12, sprint P14, P15
  ("STR", [1.0, 0.0, 8.0, 0.0, 0.0, 0.0], 9.0),
  // P14, P15, P7, P10, sprint P16, —
  ("TSU", [0.0, 0.0, 6.0, 1.0, 0.0, 0.0], 7.0),
  // Saudi Arabia P7 in Sainz's Ferrari
  ("BEA", [0.0, 6.0, 0.0, 0.0, 0.0, 0.0], 6.0),
  // P16, P10, P9, P11, sprint P19, P10
  ("HUL", [0.0, 1.0, 2.0, 0.0, 0.0, 1.0], 4.0),
  // P12, P12, P10, P13, sprint P10, P16
  ("MAG", [0.0, 0.0, 1.0, 0.0, 0.0, 0.0], 1.0),
];

/// The scoreless drivers after round 5, ranked by countback of their Grand Prix finishes: ALB (P11 twice), OCO
/// (P11, then P13), ZHO (P11, then P14), RIC (best P12), GAS (best P13), BOT (best P14), SAR (best P14, then P17
/// twice against BOT's P14 twice).
const SCORELESS_BY_COUNTBACK: [&str; 7] = ["ALB", "OCO", "ZHO", "RIC", "GAS", "BOT", "SAR"];

/// The constructors' championship after round 5, by hand from the drivers' table: each driver's points go to the
/// team of the session (Bearman's 6 to Ferrari).
const TEAMS_AFTER_ROUND_5: &[(&str, f64)] = &[
  ("Red Bull Racing", 195.0), // VER 110 + PER 85
  ("Ferrari", 151.0),         // LEC 76 + SAI 69 + BEA 6
  ("McLaren", 96.0),          // NOR 58 + PIA 38
  ("Mercedes", 52.0),         // RUS 33 + HAM 19
  ("Aston Martin", 40.0),     // ALO 31 + STR 9
  ("RB", 7.0),                // TSU 7 + RIC 0
  ("Haas F1 Team", 5.0),      // HUL 4 + MAG 1
  // Scoreless, by countback: Williams (P11 twice), Alpine (P11, then P13 three times), Kick Sauber (P11 once).
  ("Williams", 0.0),
  ("Alpine", 0.0),
  ("Kick Sauber", 0.0),
];

async fn season_api() -> TestApi {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  seed_fixtures(&database.connection, SEASON).await;
  TestApi::start(Settings::for_tests(database.url.clone()), Some(database)).await
}

fn standings(body: &Value) -> &Vec<Value> {
  body["standings"].as_array().expect("standings")
}

fn points_of(body: &Value, field: &str, name: &str) -> f64 {
  standings(body)
    .iter()
    .find(|entry| entry[field] == name)
    .and_then(|entry| entry["points"].as_f64())
    .unwrap_or_else(|| panic!("{name} in {body}"))
}

#[tokio::test]
async fn the_drivers_standings_after_round_five_match_the_table_computed_by_hand() {
  let api = season_api().await;
  for (_, per_session, total) in DRIVERS_AFTER_ROUND_5 {
    assert_eq!(
      per_session.iter().sum::<f64>(),
      *total,
      "the hand table adds up"
    );
  }
  let body = api
    .get_json("/v1/seasons/2024/standings/drivers?after_round=5")
    .await;
  assert_eq!(body["year"], 2024);
  assert_eq!(body["after_round"], 5);
  assert_eq!(body["rounds"], 24, "the 2024 calendar, testing excluded");
  assert_eq!(body["meeting_key"], 1233);
  assert_eq!(body["meeting_name"], "Chinese Grand Prix");
  assert_eq!(body["source"], "session_results");
  assert_eq!(body["notes"], serde_json::json!([]));
  let entries = standings(&body);
  assert_eq!(
    entries.len(),
    DRIVERS_AFTER_ROUND_5.len() + SCORELESS_BY_COUNTBACK.len()
  );
  let expected_order: Vec<&str> = DRIVERS_AFTER_ROUND_5
    .iter()
    .map(|(acronym, _, _)| *acronym)
    .chain(SCORELESS_BY_COUNTBACK)
    .collect();
  let order: Vec<&str> = entries
    .iter()
    .map(|entry| entry["name_acronym"].as_str().expect("acronym"))
    .collect();
  assert_eq!(order, expected_order);
  for (index, (acronym, _, total)) in DRIVERS_AFTER_ROUND_5.iter().enumerate() {
    assert_eq!(entries[index]["points"], *total, "{acronym}");
    assert_eq!(entries[index]["position"], index + 1, "{acronym}");
  }
  assert_eq!(entries[0]["wins"], 4, "VER won four of five Grands Prix");
  assert_eq!(entries[3]["wins"], 1, "SAI won in Australia");
  assert_eq!(entries[0]["team_name"], "Red Bull Racing");
  assert_eq!(
    entries[0]["team_colour"], "3671C6",
    "as recorded for the latest race (upstream's case varies)"
  );
  assert_eq!(entries[0]["full_name"], "Max VERSTAPPEN");
  let bearman = entries
    .iter()
    .find(|entry| entry["name_acronym"] == "BEA")
    .expect("BEA");
  assert_eq!(bearman["driver_number"], 38);
  assert_eq!(bearman["team_name"], "Ferrari");

  let latest = api.get_json("/v1/seasons/2024/standings/drivers").await;
  assert_eq!(latest, body, "the latest round with results is round 5");

  let after_bahrain = api
    .get_json("/v1/seasons/2024/standings/drivers?after_round=1")
    .await;
  assert_eq!(after_bahrain["meeting_name"], "Bahrain Grand Prix");
  assert_eq!(standings(&after_bahrain).len(), 20);
  assert_eq!(points_of(&after_bahrain, "name_acronym", "VER"), 26.0);
  assert_eq!(points_of(&after_bahrain, "name_acronym", "SAI"), 15.0);
  assert!(
    !standings(&after_bahrain)
      .iter()
      .any(|entry| entry["name_acronym"] == "BEA"),
    "Bearman had not raced yet"
  );
  let after_japan = api
    .get_json("/v1/seasons/2024/standings/drivers?after_round=4")
    .await;
  // VER 26 + 25 + 0 + 26; LEC 12 + 16 + 19 + 12.
  assert_eq!(points_of(&after_japan, "name_acronym", "VER"), 77.0);
  assert_eq!(points_of(&after_japan, "name_acronym", "LEC"), 59.0);
}

#[tokio::test]
async fn the_teams_standings_after_round_five_match_the_table_computed_by_hand() {
  let api = season_api().await;
  let body = api
    .get_json("/v1/seasons/2024/standings/teams?after_round=5")
    .await;
  assert_eq!(body["source"], "session_results");
  let entries = standings(&body);
  let order: Vec<(&str, f64)> = entries
    .iter()
    .map(|entry| {
      (
        entry["team_name"].as_str().expect("team"),
        entry["points"].as_f64().expect("points"),
      )
    })
    .collect();
  assert_eq!(order, TEAMS_AFTER_ROUND_5);
  assert_eq!(entries[0]["wins"], 4);
  assert_eq!(entries[1]["wins"], 1);
  assert_eq!(entries[0]["team_colour"], "3671C6");
  assert_eq!(
    entries[1]["team_colour"], "E80020",
    "Ferrari's colour as recorded from Australia on"
  );
  let positions: Vec<i64> = entries
    .iter()
    .map(|entry| entry["position"].as_i64().expect("position"))
    .collect();
  assert_eq!(positions, (1..=10).collect::<Vec<_>>());
}

#[tokio::test]
async fn standings_reject_rounds_without_results_and_seasons_without_data() {
  let api = season_api().await;
  for (path, status, detail) in [
    (
      "/v1/seasons/2024/standings/drivers?after_round=6",
      400,
      "between 1 and 5",
    ),
    (
      "/v1/seasons/2024/standings/teams?after_round=0",
      400,
      "after_round",
    ),
    (
      "/v1/seasons/2024/standings/drivers?after_round=x",
      400,
      "after_round",
    ),
    ("/v1/seasons/1950/standings/drivers", 404, "No season 1950"),
    ("/v1/seasons/2023/standings/teams", 404, "No results"),
  ] {
    let response = api.get(path).await;
    assert_eq!(response.status(), status, "{path}");
    assert_eq!(
      response.headers()["content-type"],
      "application/problem+json",
      "{path}"
    );
    let problem: Value = response.json().await.expect("problem");
    assert!(
      problem["detail"]
        .as_str()
        .is_some_and(|text| text.contains(detail)),
      "{path}: {problem}"
    );
  }
}

#[tokio::test]
async fn results_without_published_points_score_by_position_and_the_fastest_lap() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  seed_fixtures(&database.connection, SEASON).await;
  seed_fixtures(&database.connection, &["9472_bahrain_2024_race"]).await;
  // Test manipulation of recorded rows: drop Bahrain's published points, so they must be derived.
  execute_sql(
    &database.connection,
    "UPDATE session_result SET points = NULL WHERE session_key = 9472",
  )
  .await;
  let season = api::SeasonResults::load(&database.connection, 2024)
    .await
    .expect("load")
    .expect("season");
  let derived = season.driver_standings(Some(1)).expect("standings");
  let points = |acronym: &str| {
    derived
      .standings
      .iter()
      .find(|entry| entry.name_acronym.as_deref() == Some(acronym))
      .map(|entry| entry.points)
      .expect("driver")
  };
  // 2024 scale 25-18-15-12-10-8-6-4-2-1, plus the fastest-lap point (VER's 1:32.608 on lap 39, from laps).
  assert_eq!(points("VER"), 26.0);
  assert_eq!(points("PER"), 18.0);
  assert_eq!(points("STR"), 1.0);
  assert_eq!(points("ZHO"), 0.0);
  assert!(
    derived.notes[0].starts_with("Bahrain Grand Prix (Race): 20 result(s) had no published points"),
    "{:?}",
    derived.notes
  );
  execute_sql(
    &database.connection,
    "DELETE FROM laps WHERE session_key = 9472",
  )
  .await;
  let season = api::SeasonResults::load(&database.connection, 2024)
    .await
    .expect("load")
    .expect("season");
  let without_laps = season.driver_standings(Some(1)).expect("standings");
  assert_eq!(without_laps.standings[0].points, 25.0);
  assert!(
    without_laps
      .notes
      .iter()
      .any(|note| note.contains("fastest-lap point could not be derived"))
  );
}

#[tokio::test]
async fn championship_tables_take_precedence_over_summed_results() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  seed_fixtures(&database.connection, SEASON).await;
  // SYNTHETIC championship rows after the Chinese Grand Prix (session 9673), with a deliberately different total
  // for VER to show which source wins. Not recorded data (the project holds no championship tables).
  championship_drivers::Entity::insert(championship_drivers::ActiveModel {
    session_key: Set(9673),
    driver_number: Set(1),
    meeting_key: Set(1233),
    position_start: Set(Some(1)),
    position_current: Set(Some(1)),
    points_start: Set(Some(77.0)),
    points_current: Set(Some(111.0)),
  })
  .exec(&database.connection)
  .await
  .expect("insert synthetic championship row");
  let season = api::SeasonResults::load(&database.connection, 2024)
    .await
    .expect("load")
    .expect("season");
  let drivers = season.driver_standings(None).expect("drivers");
  assert_eq!(drivers.source, api::StandingsSource::Championship);
  assert_eq!(drivers.standings[0].points, 111.0);
  assert_eq!(
    drivers.standings[1].points, 85.0,
    "cars the table does not list keep their summed results"
  );
  let teams = season.team_standings(None).expect("teams");
  assert_eq!(teams.source, api::StandingsSource::SessionResults);
}

async fn season_chart(database: &TestDatabase, year: i32, kind: ChartKind) -> Value {
  build_season_chart(&database.connection, year, kind, &ChartRequest::default())
    .await
    .unwrap_or_else(|error| panic!("{}: {error}", kind.slug()))
}

#[tokio::test]
async fn championship_progressions_follow_every_race_and_sprint_in_team_colours() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  seed_fixtures(&database.connection, SEASON).await;
  let labels = serde_json::json!([
    "Bahrain",
    "Saudi Arabian",
    "Australian",
    "Japanese",
    "Chinese (Sprint)",
    "Chinese"
  ]);
  let drivers = season_chart(&database, 2024, ChartKind::ChampionshipProgression).await;
  let ver = &traces(&drivers)[0];
  assert_eq!(ver["name"], "VER");
  assert_eq!(ver["x"], labels);
  assert_eq!(
    ver["y"],
    serde_json::json!([26.0, 51.0, 51.0, 77.0, 85.0, 110.0])
  );
  assert_eq!(ver["line"]["color"], "#3671C6");
  assert_eq!(traces(&drivers).len(), 21);

  let teams = season_chart(&database, 2024, ChartKind::ConstructorsProgression).await;
  assert_eq!(
    teams["layout"]["title"]["text"],
    "2024 season: Constructors' championship progression"
  );
  assert_eq!(traces(&teams).len(), TEAMS_AFTER_ROUND_5.len());
  // Scoring teams by points (the chart orders the scoreless ones by name).
  for (trace, (team, points)) in traces(&teams).iter().zip(&TEAMS_AFTER_ROUND_5[..7]) {
    assert_eq!(trace["name"], *team);
    assert_eq!(trace["x"], labels);
    assert_eq!(trace["y"][5], *points);
  }
  // Red Bull: VER + PER after each session: 26+18, +25+18, +0+10, +26+18, +8+6, +25+15.
  assert_eq!(
    traces(&teams)[0]["y"],
    serde_json::json!([44.0, 87.0, 97.0, 141.0, 155.0, 195.0])
  );
  assert_eq!(
    traces(&teams)[1]["line"]["color"],
    "#E80020",
    "Ferrari's latest recorded colour"
  );
  let empty = season_chart(&database, 2023, ChartKind::ConstructorsProgression).await;
  assert!(traces(&empty).is_empty());
}

#[tokio::test]
async fn the_results_heatmap_has_a_row_per_driver_and_a_column_per_grand_prix() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  seed_fixtures(&database.connection, SEASON).await;
  let figure = season_chart(&database, 2024, ChartKind::ResultsHeatmap).await;
  assert_eq!(
    traces(&figure).len(),
    2,
    "positions, and the retirement marks"
  );
  let heatmap = &traces(&figure)[0];
  assert_eq!(heatmap["type"], "heatmap");
  assert_eq!(
    heatmap["x"],
    serde_json::json!([
      "Bahrain",
      "Saudi Arabian",
      "Australian",
      "Japanese",
      "Chinese"
    ])
  );
  let rows = heatmap["y"].as_array().expect("rows");
  assert_eq!(rows.len(), 21);
  assert_eq!(rows[0], "VER", "championship order, leader first");
  // VER: won Bahrain, Saudi Arabia, Japan and China; no recorded result in Australia.
  assert_eq!(heatmap["z"][0], serde_json::json!([1, 1, null, 1, 1]));
  assert_eq!(heatmap["text"][0][0], "P1");
  assert_eq!(heatmap["text"][0][2], "");
  // The one retirement in these rows: RUS crashed on the last lap in Australia, classified 17th.
  let russell = rows.iter().position(|row| row == "RUS").expect("RUS");
  assert_eq!(heatmap["z"][russell][2], 17);
  assert_eq!(heatmap["text"][russell][2], "P17 DNF");
  assert_eq!(traces(&figure)[1]["x"], serde_json::json!(["Australian"]));
  assert_eq!(traces(&figure)[1]["y"], serde_json::json!(["RUS"]));
  assert_eq!(figure["layout"]["yaxis"]["autorange"], "reversed");
  assert_eq!(
    figure["layout"]["yaxis"]["ticktext"][0], "<span style=\"color:#3671C6\">VER</span>",
    "row labels in team colours"
  );

  // Suzuka 2026 records two retirements (cars 18 and 87): they are marked.
  seed_fixtures(
    &database.connection,
    &["11253_suzuka_2026_race", "11249_suzuka_2026_qualifying"],
  )
  .await;
  let suzuka = season_chart(&database, 2026, ChartKind::ResultsHeatmap).await;
  assert_eq!(traces(&suzuka).len(), 2);
  let marks = &traces(&suzuka)[1];
  assert_eq!(marks["name"], "Not classified");
  assert_eq!(marks["y"], serde_json::json!(["STR", "BEA"]));
  assert!(
    marks["text"]
      .as_array()
      .expect("texts")
      .iter()
      .all(|text| text.as_str().is_some_and(|text| text.ends_with("DNF")))
  );
}

#[tokio::test]
async fn the_teammate_head_to_head_counts_qualifying_and_race_duels() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  seed_fixtures(&database.connection, SEASON).await;
  let figure = season_chart(&database, 2024, ChartKind::TeammateHeadToHead).await;
  assert_eq!(
    traces(&figure).len(),
    4,
    "qualifying and Grand Prix, each side"
  );
  let labels: Vec<&str> = traces(&figure)[0]["y"]
    .as_array()
    .expect("pairs")
    .iter()
    .filter_map(Value::as_str)
    .collect();
  // Eleven pairings: ten teams, and Ferrari twice (Bearman replaced Sainz in Saudi Arabia). Williams ran one
  // car in Australia: no duel there.
  assert_eq!(labels.len(), 11);
  assert_eq!(&labels[..3], ["VER vs PER", "LEC vs SAI", "LEC vs BEA"]);
  // By hand from the recorded results. Qualifying: VER ahead of PER in all five. Grand Prix: VER ahead in
  // Bahrain, Saudi Arabia, Japan and China; PER ahead in Australia, where VER retired (no classified result).
  assert_eq!(traces(&figure)[0]["x"][0], -5);
  assert_eq!(traces(&figure)[1]["x"][0], 0);
  assert_eq!(traces(&figure)[2]["x"][0], -4);
  assert_eq!(traces(&figure)[3]["x"][0], 1);
  assert_eq!(traces(&figure)[2]["xaxis"], "x2");
  // LEC vs SAI: qualifying 2–2 (LEC ahead in Bahrain and China), Grand Prix 1–3 (LEC ahead only in China).
  assert_eq!(traces(&figure)[0]["x"][1], -2);
  assert_eq!(traces(&figure)[1]["x"][1], 2);
  assert_eq!(traces(&figure)[2]["x"][1], -1);
  assert_eq!(traces(&figure)[3]["x"][1], 3);
  assert_eq!(traces(&figure)[0]["marker"]["color"][0], "#3671C6");
  assert_eq!(traces(&figure)[0]["marker"]["color"][1], "#E80020");
}
