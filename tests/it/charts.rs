//! Chart builders on recorded Open F1 data (and clearly labelled synthetic telemetry, location and
//! championship rows where no real data exists): figure structure, colours, axes, titles and edge cases.

use std::collections::{HashMap, HashSet};

use api::{ChartError, ChartKind, ChartRequest, build_season_chart, build_session_chart};

use entity::championship_drivers;
use f1_backend::{Engine, TestDatabase, execute_sql, fixture_rows, fixtures_dir, seed_fixtures};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::Value;

use crate::chart_support::{
  BAHRAIN_2024_RACE, Refusal, annotation_texts, assert_explained_empty, assert_refused, chart_with,
  constant, insert_lap_car_data, insert_synthetic_circle, numbers, recorded_lap, trace_names,
  traces,
};

const SINGAPORE_2023_RACE: i32 = 9165;
const SUZUKA_2026_RACE: i32 = 11253;
const SUZUKA_2026_QUALIFYING: i32 = 11249;

async fn chart(database: &TestDatabase, session_key: i32, kind: ChartKind) -> Value {
  chart_with(database, session_key, kind, &ChartRequest::default()).await
}

fn title(figure: &Value) -> &str {
  figure["layout"]["title"]["text"]
    .as_str()
    .expect("title text")
}

/// Acronym → `#RRGGBB` colour and car number from a recorded drivers fixture.
fn recorded_drivers(folder: &str) -> HashMap<String, (String, i64, String)> {
  fixture_rows(&fixtures_dir().join(folder).join("drivers.json"))
    .into_iter()
    .map(|row| {
      (
        row["name_acronym"].as_str().expect("acronym").to_owned(),
        (
          format!(
            "#{}",
            row["team_colour"]
              .as_str()
              .expect("team colour")
              .to_uppercase()
          ),
          row["driver_number"].as_i64().expect("number"),
          row["team_name"].as_str().expect("team").to_owned(),
        ),
      )
    })
    .collect()
}

/// An empty figure with the no-data note.
fn assert_empty_figure(figure: &Value) {
  assert_explained_empty(figure, "");
}

#[test]
fn every_chart_kind_has_a_unique_kebab_case_slug_that_round_trips() {
  let mut seen = HashSet::new();
  for kind in ChartKind::ALL {
    let slug = kind.slug();
    assert!(seen.insert(slug), "duplicate slug {slug}");
    assert!(
      slug
        .chars()
        .all(|character| character.is_ascii_lowercase() || character == '-')
    );
    assert_eq!(ChartKind::from_slug(slug), Some(*kind));
    assert!(!kind.title().is_empty());
  }
  assert_eq!(ChartKind::from_slug("lap-times"), Some(ChartKind::LapTimes));
  assert_eq!(ChartKind::from_slug("nope"), None);
  let season: Vec<_> = ChartKind::ALL
    .iter()
    .filter(|kind| kind.is_season_chart())
    .collect();
  assert_eq!(
    season,
    [
      &ChartKind::ChampionshipProgression,
      &ChartKind::ConstructorsProgression,
      &ChartKind::ResultsHeatmap,
      &ChartKind::TeammateHeadToHead
    ]
  );
  assert!(
    ChartKind::ALL.len() >= 24,
    "issue 12 asks for 24 chart types"
  );
  for kind in ChartKind::ALL {
    for table in kind.tables() {
      assert!(
        entity::Endpoint::from_name(table).is_some(),
        "{}: `{table}` is an Open F1 endpoint the worker stores",
        kind.slug()
      );
    }
  }
}

#[tokio::test]
async fn lap_times_show_one_trace_per_driver_in_team_colours_with_formatted_ticks_and_compounds() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let figure = chart(&database, BAHRAIN_2024_RACE, ChartKind::LapTimes).await;
  assert_eq!(title(&figure), "2024 Bahrain Grand Prix – Race: Lap times");
  let drivers = recorded_drivers("9472_bahrain_2024_race");
  assert_eq!(traces(&figure).len(), 20);
  let mut dashed = 0;
  for trace in traces(&figure) {
    let name = trace["name"].as_str().expect("name");
    let (colour, _, _) = drivers.get(name).expect("trace named by acronym");
    assert_eq!(trace["line"]["color"], colour.as_str(), "{name} colour");
    assert_eq!(trace["marker"]["color"], colour.as_str());
    if trace["line"]["dash"] == "dash" {
      dashed += 1;
    }
    let laps = numbers(&trace["x"]);
    assert!(laps.len() >= 55, "{name} has {} laps", laps.len());
    assert_eq!(laps.first().copied(), Some(1.0));
    let symbols = trace["marker"]["symbol"].as_array().expect("symbols");
    assert_eq!(symbols.len(), laps.len());
  }
  assert_eq!(
    dashed, 10,
    "the second driver of each of the 10 teams is dashed"
  );
  let ver = traces(&figure)
    .iter()
    .find(|trace| trace["name"] == "VER")
    .expect("VER");
  // VER started on softs (stint 1, laps 1-17) and pitted on lap 17: lap 18 is a pit-out lap.
  assert_eq!(ver["marker"]["symbol"][0], "circle");
  let lap_18 = numbers(&ver["x"])
    .iter()
    .position(|lap| *lap == 18.0)
    .expect("lap 18");
  assert!(
    ver["marker"]["symbol"][lap_18]
      .as_str()
      .expect("symbol")
      .ends_with("-open")
  );
  let tick_text = figure["layout"]["yaxis"]["ticktext"]
    .as_array()
    .expect("formatted ticks");
  assert!(!tick_text.is_empty());
  for text in tick_text {
    let text = text.as_str().expect("tick text");
    let (minutes, seconds) = text.split_once(':').expect("m:ss.sss");
    assert!(minutes.parse::<u32>().is_ok(), "{text}");
    assert_eq!(seconds.len(), 6, "{text}");
  }
  assert_eq!(
    numbers(&figure["layout"]["yaxis"]["tickvals"]).len(),
    tick_text.len()
  );
}

#[tokio::test]
async fn laps_with_missing_or_null_durations_are_skipped_and_the_lap_range_and_driver_filters_apply()
 {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  execute_sql(
    &database.connection,
    "UPDATE laps SET lap_duration = NULL WHERE session_key = 9472 AND driver_number = 1 AND lap_number IN (10, 11)",
  )
  .await;
  execute_sql(
    &database.connection,
    "DELETE FROM laps WHERE session_key = 9472 AND driver_number = 16 AND lap_number > 20",
  )
  .await;
  let request = ChartRequest {
    drivers: vec![1, 16],
    laps: Some((5, 30)),
    ..ChartRequest::default()
  };
  let figure = chart_with(&database, BAHRAIN_2024_RACE, ChartKind::LapTimes, &request).await;
  assert_eq!(trace_names(&figure), ["VER", "LEC"]);
  let ver = numbers(&traces(&figure)[0]["x"]);
  assert_eq!(ver.len(), 24, "laps 5-30 without 10 and 11");
  assert!(!ver.contains(&10.0) && !ver.contains(&11.0));
  assert!(
    traces(&figure)[0]["y"]
      .as_array()
      .expect("y")
      .iter()
      .all(Value::is_number)
  );
  let lec = numbers(&traces(&figure)[1]["x"]);
  assert_eq!(lec.first().copied(), Some(5.0));
  assert_eq!(lec.last().copied(), Some(20.0));
}

#[tokio::test]
async fn lap_time_distribution_keeps_only_clean_laps() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let figure = chart(&database, BAHRAIN_2024_RACE, ChartKind::LapTimeDistribution).await;
  assert_eq!(traces(&figure).len(), 20);
  let ver = traces(&figure)
    .iter()
    .find(|trace| trace["name"] == "VER")
    .expect("VER");
  assert_eq!(ver["type"], "box");
  let clean = numbers(&ver["y"]);
  // 57 laps minus lap 1, two in-laps (17, 36 in the pit table), two pit-out laps and laps beyond 107%.
  assert!(clean.len() <= 52 && clean.len() >= 40, "{}", clean.len());
  let fixture_laps = fixture_rows(&fixtures_dir().join("9472_bahrain_2024_race/laps.json"));
  let lap_one = fixture_laps
    .iter()
    .find(|lap| lap["driver_number"] == 1 && lap["lap_number"] == 1)
    .and_then(|lap| lap["lap_duration"].as_f64())
    .expect("lap 1");
  assert!(!clean.contains(&lap_one), "lap 1 is not clean");
  let mut sorted = clean.clone();
  sorted.sort_by(f64::total_cmp);
  let median = sorted[sorted.len() / 2];
  assert!(
    sorted
      .iter()
      .all(|duration| *duration <= median * 1.07 + 0.5)
  );
  assert!(
    annotation_texts(&figure)
      .iter()
      .any(|text| text.contains("Clean laps"))
  );
}

#[tokio::test]
async fn team_pace_is_a_box_plot_per_team_fastest_median_first_in_team_colours() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let figure = chart(&database, BAHRAIN_2024_RACE, ChartKind::TeamPace).await;
  assert_eq!(title(&figure), "2024 Bahrain Grand Prix – Race: Team pace");
  assert_eq!(traces(&figure).len(), 10, "one box per team");
  let drivers = recorded_drivers("9472_bahrain_2024_race");
  let colour_of_team: HashMap<&str, &str> = drivers
    .values()
    .map(|(colour, _, team)| (team.as_str(), colour.as_str()))
    .collect();
  let mut medians = Vec::new();
  for trace in traces(&figure) {
    assert_eq!(trace["type"], "box");
    let team = trace["name"].as_str().expect("team");
    assert_eq!(trace["marker"]["color"], colour_of_team[team], "{team}");
    let mut laps = numbers(&trace["y"]);
    assert!(laps.len() >= 20, "{team}: both drivers' clean laps");
    laps.sort_by(f64::total_cmp);
    medians.push(laps[laps.len() / 2]);
  }
  assert_eq!(
    traces(&figure)[0]["name"],
    "Red Bull Racing",
    "Red Bull dominated Bahrain 2024"
  );
  assert!(
    medians.windows(2).all(|pair| pair[0] <= pair[1] + 0.05),
    "fastest median first: {medians:?}"
  );
  assert!(
    figure["layout"]["yaxis"]["ticktext"]
      .as_array()
      .is_some_and(|ticks| !ticks.is_empty())
  );
}

#[tokio::test]
async fn tyre_strategy_draws_every_stint_by_compound_and_keeps_a_row_for_a_driver_without_stints() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  execute_sql(
    &database.connection,
    "DELETE FROM stints WHERE session_key = 9472 AND driver_number = 2",
  )
  .await;
  let figure = chart(&database, BAHRAIN_2024_RACE, ChartKind::TyreStrategy).await;
  let stint_count = fixture_rows(&fixtures_dir().join("9472_bahrain_2024_race/stints.json"))
    .iter()
    .filter(|stint| stint["driver_number"] != 2)
    .count();
  let drawn: usize = traces(&figure)
    .iter()
    .map(|trace| trace["x"].as_array().expect("lengths").len())
    .sum();
  assert_eq!(drawn, stint_count);
  let colours: HashMap<String, String> = traces(&figure)
    .iter()
    .map(|trace| {
      (
        trace["name"].as_str().expect("compound").to_owned(),
        trace["marker"]["color"]
          .as_str()
          .expect("colour")
          .to_owned(),
      )
    })
    .collect();
  assert_eq!(colours["SOFT"], "#DA291C");
  assert_eq!(colours["HARD"], "#F0F0EC");
  for trace in traces(&figure) {
    assert_eq!(trace["orientation"], "h");
    assert_eq!(
      trace["base"].as_array().expect("base").len(),
      trace["y"].as_array().expect("rows").len()
    );
  }
  let rows = figure["layout"]["yaxis"]["categoryarray"]
    .as_array()
    .expect("rows");
  assert_eq!(rows.len(), 20);
  assert!(
    rows.contains(&Value::from("SAR")),
    "SAR (car 2) keeps its row"
  );
  // Rows are top-down in finishing order: VER won, so it is the last category (drawn at the top).
  assert_eq!(rows.last(), Some(&Value::from("VER")));
}

#[tokio::test]
async fn position_changes_start_from_the_first_positions_and_follow_the_position_table() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let figure = chart(&database, BAHRAIN_2024_RACE, ChartKind::PositionChanges).await;
  assert_eq!(traces(&figure).len(), 20);
  let ver = &traces(&figure)[0];
  assert_eq!(ver["name"], "VER", "winner first");
  assert_eq!(numbers(&ver["x"])[0], 0.0);
  assert_eq!(numbers(&ver["y"])[0], 1.0, "VER started from pole");
  assert_eq!(numbers(&ver["y"]).last().copied(), Some(1.0), "and won");
  assert_eq!(numbers(&ver["x"]).last().copied(), Some(57.0));
  let range = numbers(&figure["layout"]["yaxis"]["range"]);
  assert!(range[0] > range[1], "position axis runs top-down");
}

#[tokio::test]
async fn position_changes_take_lap_zero_from_the_qualifying_starting_grid() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  seed_fixtures(
    &database.connection,
    &["11253_suzuka_2026_race", "11249_suzuka_2026_qualifying"],
  )
  .await;
  let figure = chart(&database, SUZUKA_2026_RACE, ChartKind::PositionChanges).await;
  let grid: HashMap<i64, f64> =
    fixture_rows(&fixtures_dir().join("11249_suzuka_2026_qualifying/starting_grid.json"))
      .iter()
      .map(|row| {
        (
          row["driver_number"].as_i64().expect("number"),
          row["position"].as_f64().expect("position"),
        )
      })
      .collect();
  let drivers = recorded_drivers("11253_suzuka_2026_race");
  assert_eq!(traces(&figure).len(), grid.len());
  for trace in traces(&figure) {
    let (_, number, _) = &drivers[trace["name"].as_str().expect("name")];
    assert_eq!(numbers(&trace["x"])[0], 0.0);
    assert_eq!(numbers(&trace["y"])[0], grid[number]);
  }
  assert_eq!(
    title(&figure),
    "2026 Japanese Grand Prix – Race: Position changes"
  );
}

#[tokio::test]
async fn gap_charts_omit_lapped_samples_with_a_note_and_shade_the_safety_car() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["11253_suzuka_2026_race"]).await;
  let figure = chart(&database, SUZUKA_2026_RACE, ChartKind::GapToLeader).await;
  let drivers = recorded_drivers("11253_suzuka_2026_race");
  assert!(!traces(&figure).is_empty());
  for trace in traces(&figure) {
    let name = trace["name"].as_str().expect("name");
    assert_eq!(trace["line"]["color"], drivers[name].0.as_str());
    assert!(
      trace["y"]
        .as_array()
        .expect("y")
        .iter()
        .all(Value::is_number)
    );
  }
  assert!(
    annotation_texts(&figure)
      .iter()
      .any(|text| text.contains("+1 LAP") && text.starts_with('2')),
    "two lapped samples omitted: {:?}",
    annotation_texts(&figure)
  );
  let shapes = figure["layout"]["shapes"].as_array().expect("shapes");
  assert_eq!(shapes.len(), 1, "one safety-car period");
  assert_eq!(shapes[0]["name"], "SC");
  // Without the meeting row the title falls back to the session's location.
  assert_eq!(title(&figure), "2026 Suzuka – Race: Gap to leader");

  let intervals = chart(&database, SUZUKA_2026_RACE, ChartKind::IntervalToCarAhead).await;
  assert!(!traces(&intervals).is_empty());
  assert_eq!(
    intervals["layout"]["yaxis"]["title"]["text"],
    "Interval to car ahead (s)"
  );
}

#[tokio::test]
async fn lap_based_charts_shade_the_safety_car_from_race_control_laps() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["11253_suzuka_2026_race"]).await;
  let figure = chart(&database, SUZUKA_2026_RACE, ChartKind::LapTimes).await;
  let shapes = figure["layout"]["shapes"].as_array().expect("shapes");
  assert_eq!(shapes.len(), 1);
  // SAFETY CAR DEPLOYED on lap 22, SAFETY CAR IN THIS LAP on lap 27.
  assert_eq!(shapes[0]["x0"], 21.5);
  assert_eq!(shapes[0]["x1"], 27.5);
  assert_eq!(shapes[0]["yref"], "paper");
  assert!(annotation_texts(&figure).contains(&"SC".to_owned()));
  let clipped = chart_with(
    &database,
    SUZUKA_2026_RACE,
    ChartKind::LapTimes,
    &ChartRequest {
      laps: Some((1, 2)),
      ..ChartRequest::default()
    },
  )
  .await;
  assert!(clipped["layout"]["shapes"].is_null(), "SC outside laps 1-2");
}

#[tokio::test]
async fn pit_stops_draw_one_bar_per_stop_from_lane_or_legacy_pit_durations() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  seed_fixtures(
    &database.connection,
    &["9472_bahrain_2024_race", "11253_suzuka_2026_race"],
  )
  .await;
  let figure = chart(&database, BAHRAIN_2024_RACE, ChartKind::PitStops).await;
  assert_eq!(trace_names(&figure), ["Pit lane time"]);
  let bars = &traces(&figure)[0];
  assert_eq!(bars["x"].as_array().expect("stops").len(), 36);
  assert!(
    bars["x"]
      .as_array()
      .expect("stops")
      .contains(&Value::from("VER L17"))
  );
  let durations = numbers(&bars["y"]);
  assert!(durations.windows(2).all(|pair| pair[0] <= pair[1]));
  let suzuka = chart(&database, SUZUKA_2026_RACE, ChartKind::PitStops).await;
  assert_eq!(
    trace_names(&suzuka),
    ["Pit lane time"],
    "stop_duration is null in 2026: no stationary trace"
  );
  assert_eq!(traces(&suzuka)[0]["x"].as_array().expect("stops").len(), 29);
}

#[tokio::test]
async fn qualifying_delta_has_one_trace_per_part_measured_from_the_fastest_time() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  seed_fixtures(
    &database.connection,
    &["11253_suzuka_2026_race", "11249_suzuka_2026_qualifying"],
  )
  .await;
  let figure = chart(
    &database,
    SUZUKA_2026_QUALIFYING,
    ChartKind::QualifyingDelta,
  )
  .await;
  assert_eq!(trace_names(&figure), ["Q1", "Q2", "Q3"]);
  assert_eq!(
    title(&figure),
    "2026 Japanese Grand Prix – Qualifying: Qualifying delta to pole"
  );
  let q3 = &traces(&figure)[2];
  assert_eq!(q3["x"].as_array().expect("drivers").len(), 10);
  let gaps = numbers(&q3["y"]);
  assert_eq!(gaps.iter().copied().fold(f64::INFINITY, f64::min), 0.0);
  assert!(gaps.iter().all(|gap| *gap >= 0.0));
  // No drivers are recorded for the qualifying session itself: they come from the race of the same meeting.
  let drivers = recorded_drivers("11253_suzuka_2026_race");
  for (name, colour) in q3["x"]
    .as_array()
    .expect("drivers")
    .iter()
    .zip(q3["marker"]["color"].as_array().expect("colours"))
  {
    assert_eq!(colour, drivers[name.as_str().expect("acronym")].0.as_str());
  }
  let race = chart(&database, SUZUKA_2026_RACE, ChartKind::QualifyingDelta).await;
  assert_empty_figure(&race);
}

#[tokio::test]
async fn sector_and_speed_trap_comparisons_have_one_trace_per_driver() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9165_singapore_2023_race"]).await;
  let sectors = chart(&database, SINGAPORE_2023_RACE, ChartKind::SectorComparison).await;
  assert_eq!(traces(&sectors).len(), 19);
  assert_eq!(
    traces(&sectors)[0]["x"],
    serde_json::json!(["Sector 1", "Sector 2", "Sector 3"])
  );
  for sector in 0..3 {
    let best = traces(&sectors)
      .iter()
      .filter_map(|trace| trace["y"][sector].as_f64())
      .fold(f64::INFINITY, f64::min);
    assert_eq!(
      best,
      0.0,
      "sector {} gap is measured from the best",
      sector + 1
    );
  }
  assert!(title(&sectors).starts_with("2023 Singapore Grand Prix – Race"));
  let speeds = chart(&database, SINGAPORE_2023_RACE, ChartKind::SpeedTraps).await;
  assert_eq!(traces(&speeds).len(), 19);
  let drivers = recorded_drivers("9165_singapore_2023_race");
  for trace in traces(&speeds) {
    let name = trace["name"].as_str().expect("name");
    assert_eq!(trace["marker"]["color"], drivers[name].0.as_str());
    assert!(numbers(&trace["y"]).iter().all(|speed| *speed > 100.0));
  }
}

#[tokio::test]
async fn weather_timeline_has_temperatures_humidity_and_rainfall() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["11253_suzuka_2026_race"]).await;
  let figure = chart(&database, SUZUKA_2026_RACE, ChartKind::Weather).await;
  assert_eq!(
    trace_names(&figure),
    [
      "Air temperature",
      "Track temperature",
      "Humidity",
      "Rainfall"
    ]
  );
  assert_eq!(
    traces(&figure)[0]["x"].as_array().expect("dates").len(),
    156
  );
  assert_eq!(traces(&figure)[2]["yaxis"], "y2");
  assert_eq!(figure["layout"]["xaxis"]["type"], "date");
}

#[tokio::test]
async fn positions_gained_compare_the_grid_with_the_classified_finish() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  seed_fixtures(
    &database.connection,
    &["11253_suzuka_2026_race", "11249_suzuka_2026_qualifying"],
  )
  .await;
  let figure = chart(&database, SUZUKA_2026_RACE, ChartKind::PositionsGained).await;
  assert_eq!(traces(&figure).len(), 1);
  let results = fixture_rows(&fixtures_dir().join("11253_suzuka_2026_race/session_result.json"));
  let classified = results
    .iter()
    .filter(|row| row["position"].is_number())
    .count();
  let bar = &traces(&figure)[0];
  assert_eq!(bar["x"].as_array().expect("drivers").len(), classified);
  let gained = numbers(&bar["y"]);
  let winner = results
    .iter()
    .find(|row| row["position"] == 1)
    .and_then(|row| row["driver_number"].as_i64())
    .expect("winner");
  let winner_grid =
    fixture_rows(&fixtures_dir().join("11249_suzuka_2026_qualifying/starting_grid.json"))
      .iter()
      .find(|row| row["driver_number"] == winner)
      .and_then(|row| row["position"].as_f64())
      .expect("winner's grid slot");
  assert_eq!(gained[0], winner_grid - 1.0, "the winner's bar comes first");
  assert!(
    annotation_texts(&figure)
      .iter()
      .any(|text| text.contains("starting grid"))
  );
}

#[tokio::test]
async fn a_session_without_data_for_a_chart_gives_an_empty_figure_with_a_note() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["11249_suzuka_2026_qualifying"]).await;
  for kind in [
    ChartKind::LapTimes,
    ChartKind::LapTimeDistribution,
    ChartKind::TeamPace,
    ChartKind::TyreStrategy,
    ChartKind::PositionChanges,
    ChartKind::GapToLeader,
    ChartKind::PitStops,
    ChartKind::Weather,
    ChartKind::TelemetryComparison,
    ChartKind::TrackMap,
  ] {
    let figure = chart(&database, SUZUKA_2026_QUALIFYING, kind).await;
    assert_empty_figure(&figure);
    assert!(title(&figure).starts_with("2026 Japanese Grand Prix – Qualifying: "));
  }
}

#[tokio::test]
async fn unknown_sessions_invalid_drivers_and_reversed_lap_ranges_are_errors() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let unknown = build_session_chart(
    &database.connection,
    1,
    ChartKind::LapTimes,
    &ChartRequest::default(),
  )
  .await;
  assert!(
    matches!(unknown, Err(ChartError::NotFound(_))),
    "{unknown:?}"
  );
  assert_refused(
    &database,
    BAHRAIN_2024_RACE,
    &[
      Refusal {
        kind: ChartKind::LapTimes,
        request: ChartRequest {
          drivers: vec![1, 99],
          ..ChartRequest::default()
        },
        parameter: "drivers",
        explanations: &["99"],
      },
      Refusal {
        kind: ChartKind::LapTimes,
        request: ChartRequest {
          laps: Some((30, 10)),
          ..ChartRequest::default()
        },
        parameter: "laps",
        explanations: &[],
      },
      Refusal {
        kind: ChartKind::TelemetryComparison,
        request: ChartRequest {
          drivers: vec![1, 11, 16],
          ..ChartRequest::default()
        },
        parameter: "drivers",
        explanations: &[],
      },
      Refusal {
        kind: ChartKind::ChampionshipProgression,
        request: ChartRequest::default(),
        parameter: "chart",
        explanations: &[],
      },
    ],
  )
  .await;
  let session_by_season = build_season_chart(
    &database.connection,
    2024,
    ChartKind::LapTimes,
    &ChartRequest::default(),
  )
  .await;
  assert!(matches!(
    session_by_season,
    Err(ChartError::InvalidParameter { name: "chart", .. })
  ));
  let unknown_season = build_season_chart(
    &database.connection,
    1950,
    ChartKind::ChampionshipProgression,
    &ChartRequest::default(),
  )
  .await;
  assert!(matches!(unknown_season, Err(ChartError::NotFound(_))));
}

#[tokio::test]
async fn telemetry_comparison_defaults_to_the_two_fastest_laps_and_integrates_distance() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  // The two fastest recorded laps: VER lap 39 (1:32.608) and LEC lap 36 (1:34.090).
  let (_, ver_duration) = recorded_lap(1, 39);
  insert_lap_car_data(&database, 1, 39, constant(216)).await;
  insert_lap_car_data(&database, 16, 36, constant(180)).await;
  let figure = chart(&database, BAHRAIN_2024_RACE, ChartKind::TelemetryComparison).await;
  assert_eq!(
    traces(&figure).len(),
    12,
    "2 laps x speed, throttle, brake, gear, RPM, DRS"
  );
  let names = trace_names(&figure);
  assert_eq!(
    names
      .iter()
      .filter(|name| *name == "VER lap 39 (1:32.608)")
      .count(),
    6
  );
  assert_eq!(
    names
      .iter()
      .filter(|name| *name == "LEC lap 36 (1:34.090)")
      .count(),
    6
  );
  let axes: Vec<&str> = traces(&figure)[..6]
    .iter()
    .map(|trace| trace["yaxis"].as_str().expect("axis"))
    .collect();
  assert_eq!(axes, ["y", "y2", "y3", "y4", "y5", "y6"]);
  assert_eq!(figure["layout"]["yaxis5"]["title"]["text"], "RPM");
  assert_eq!(figure["layout"]["yaxis6"]["title"]["text"], "DRS open");
  let ver_distance = numbers(&traces(&figure)[0]["x"]);
  // 216 km/h = 60 m/s over the sampled whole quarter-seconds of the lap.
  let expected = 60.0 * ((ver_duration * 4.0).floor() / 4.0);
  let travelled = ver_distance.last().copied().expect("distance");
  assert!(
    (travelled - expected).abs() < 1.0,
    "{travelled} vs {expected}"
  );
  assert_eq!(
    traces(&figure)[6]["line"]["dash"],
    Value::Null,
    "LEC is Ferrari's first car"
  );
  assert_eq!(traces(&figure)[6]["line"]["color"], "#E8002D");

  let chosen = chart_with(
    &database,
    BAHRAIN_2024_RACE,
    ChartKind::TelemetryComparison,
    &ChartRequest {
      drivers: vec![16, 1],
      ..ChartRequest::default()
    },
  )
  .await;
  assert!(trace_names(&chosen)[0].starts_with("LEC"));
}

#[tokio::test]
async fn track_map_colours_the_fastest_lap_by_the_nearest_car_data_speed() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let (start, duration) = recorded_lap(1, 39);
  insert_lap_car_data(&database, 1, 39, constant(250)).await;
  let points = insert_synthetic_circle(&database, 1, start, duration).await;
  let figure = chart(&database, BAHRAIN_2024_RACE, ChartKind::TrackMap).await;
  assert_eq!(trace_names(&figure), ["VER"]);
  let trace = &traces(&figure)[0];
  let colours = numbers(&trace["marker"]["color"]);
  assert_eq!(colours.len(), points);
  assert!(colours.iter().all(|speed| *speed == 250.0));
  assert_eq!(trace["marker"]["colorscale"], "Viridis");
  assert_eq!(figure["layout"]["yaxis"]["scaleanchor"], "x");
}

#[tokio::test]
async fn championship_progression_uses_standings_when_stored_and_race_points_otherwise() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  seed_fixtures(
    &database.connection,
    &["season_2023_2025", "9472_bahrain_2024_race"],
  )
  .await;
  // SYNTHETIC championship standings after the 2024 Saudi Arabian GP (session 9480); not recorded data
  // (the project holds no championship_drivers responses).
  let standings = [(1, 51.0), (11, 36.0), (16, 28.0)];
  championship_drivers::Entity::insert_many(standings.map(|(driver, points)| {
    championship_drivers::ActiveModel {
      session_key: Set(9480),
      driver_number: Set(driver),
      meeting_key: Set(1230),
      position_start: Set(None),
      position_current: Set(None),
      points_start: Set(None),
      points_current: Set(Some(points)),
    }
  }))
  .exec(&database.connection)
  .await
  .expect("insert synthetic standings");
  let figure = build_season_chart(
    &database.connection,
    2024,
    ChartKind::ChampionshipProgression,
    &ChartRequest::default(),
  )
  .await
  .expect("season chart");
  assert_eq!(
    title(&figure),
    "2024 season: Drivers' championship progression"
  );
  let ver = traces(&figure)
    .iter()
    .find(|trace| trace["name"] == "VER")
    .expect("VER");
  assert_eq!(ver["x"], serde_json::json!(["Bahrain", "Saudi Arabian"]));
  assert_eq!(numbers(&ver["y"]), [26.0, 51.0]);
  assert_eq!(trace_names(&figure)[0], "VER", "leader first");
  assert_eq!(ver["line"]["color"], "#3671C6");
  assert_eq!(traces(&figure).len(), 20);

  let selected = build_season_chart(
    &database.connection,
    2024,
    ChartKind::ChampionshipProgression,
    &ChartRequest {
      drivers: vec![16],
      ..ChartRequest::default()
    },
  )
  .await
  .expect("selection");
  assert_eq!(trace_names(&selected), ["LEC"]);

  // A season chart is asked for by year, never through a session.
  assert_refused(
    &database,
    BAHRAIN_2024_RACE,
    &[Refusal {
      kind: ChartKind::ChampionshipProgression,
      request: ChartRequest::default(),
      parameter: "chart",
      explanations: &[],
    }],
  )
  .await;

  let empty_year = build_season_chart(
    &database.connection,
    2023,
    ChartKind::ChampionshipProgression,
    &ChartRequest::default(),
  )
  .await
  .expect("2023 has sessions but no results here");
  assert_empty_figure(&empty_year);
}

#[tokio::test]
async fn every_session_chart_builds_on_sqlite() {
  let database = TestDatabase::migrated(Engine::Sqlite).await;
  seed_fixtures(
    &database.connection,
    &["9472_bahrain_2024_race", "11253_suzuka_2026_race"],
  )
  .await;
  for session_key in [BAHRAIN_2024_RACE, SUZUKA_2026_RACE] {
    for kind in ChartKind::ALL.iter().filter(|kind| !kind.is_season_chart()) {
      let figure = chart(&database, session_key, *kind).await;
      assert!(figure["data"].is_array(), "{}", kind.slug());
      assert!(figure["layout"]["title"]["text"].is_string());
    }
  }
  let lap_times = chart(&database, BAHRAIN_2024_RACE, ChartKind::LapTimes).await;
  assert_eq!(traces(&lap_times).len(), 20);
}

/// The trace of `figure` named `name`.
fn trace_named<'figure>(figure: &'figure Value, name: &str) -> &'figure Value {
  traces(figure)
    .iter()
    .find(|trace| trace["name"] == name)
    .unwrap_or_else(|| panic!("no trace named {name}: {:?}", trace_names(figure)))
}

#[tokio::test]
async fn tyre_degradation_plots_clean_laps_against_tyre_age_per_stint_with_a_fitted_slope() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let request = ChartRequest {
    drivers: vec![1, 16],
    ..ChartRequest::default()
  };
  let figure = chart_with(
    &database,
    BAHRAIN_2024_RACE,
    ChartKind::TyreDegradation,
    &request,
  )
  .await;
  assert_eq!(
    title(&figure),
    "2024 Bahrain Grand Prix – Race: Tyre degradation"
  );
  assert_eq!(
    figure["layout"]["xaxis"]["title"]["text"],
    "Tyre age (laps)"
  );
  let drivers = recorded_drivers("9472_bahrain_2024_race");
  // VER ran three stints (recorded stints: SOFT laps 1-17 from 3 laps old, HARD 18-37 new, SOFT 38-57 new).
  let names = trace_names(&figure);
  let ver_stints: Vec<&String> = names
    .iter()
    .filter(|name| name.starts_with("VER · stint"))
    .collect();
  assert_eq!(ver_stints.len(), 3, "{names:?}");
  assert!(ver_stints[1].starts_with("VER · stint 2 · HARD · "));
  assert!(ver_stints[1].ends_with(" s/lap"));
  for trace in traces(&figure) {
    let acronym = &trace["legendgroup"].as_str().expect("legend group");
    assert_eq!(
      trace["marker"]["color"]
        .as_str()
        .or(trace["line"]["color"].as_str()),
      Some(drivers[*acronym].0.as_str())
    );
  }
  let hard = trace_named(&figure, ver_stints[1]);
  let ages = numbers(&hard["x"]);
  let times = numbers(&hard["y"]);
  // Recorded: VER's lap 20 (1:35.160) is the third lap of the new hards, two laps old at its start.
  let lap_20 = ages.iter().position(|age| *age == 2.0).expect("lap 20");
  assert_eq!(times[lap_20], 95.16);
  assert_eq!(hard["marker"]["symbol"], "diamond", "HARD");
  // The fitted line of the stint follows its markers (same legend group, no legend entry).
  let fit = trace_named(&figure, "VER stint 2 fit");
  assert_eq!(fit["showlegend"], false);
  assert_eq!(fit["mode"], "lines");
  let fitted = numbers(&fit["y"]);
  assert!(fitted[1] > fitted[0], "hards get slower as they wear");

  let corrected = chart_with(
    &database,
    BAHRAIN_2024_RACE,
    ChartKind::FuelCorrectedTyreDegradation,
    &request,
  )
  .await;
  assert_eq!(traces(&corrected).len(), traces(&figure).len());
  let corrected_hard = traces(&corrected)
    .iter()
    .find(|trace| {
      trace["name"]
        .as_str()
        .is_some_and(|name| name.starts_with("VER · stint 2 · HARD"))
    })
    .expect("corrected hard stint");
  // Lap 20 of 57 starts with 110 kg × (1 − 19/57) on board, each kg costing 0.03 s.
  let expected = 95.16 - 0.03 * 110.0 * (1.0 - 19.0 / 57.0);
  assert!((numbers(&corrected_hard["y"])[lap_20] - expected).abs() < 1e-9);
  assert!(
    annotation_texts(&corrected)
      .iter()
      .any(|text| text.contains("Fuel model")
        && text.contains("110 kg")
        && text.contains("57 laps")),
    "the fuel model is stated on the chart"
  );
}

#[tokio::test]
async fn tyre_degradation_explains_a_driver_without_laps_and_a_session_type_it_does_not_suit() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  seed_fixtures(
    &database.connection,
    &["9472_bahrain_2024_race", "11249_suzuka_2026_qualifying"],
  )
  .await;
  execute_sql(
    &database.connection,
    "DELETE FROM laps WHERE session_key = 9472 AND driver_number = 2",
  )
  .await;
  let without_laps = chart_with(
    &database,
    BAHRAIN_2024_RACE,
    ChartKind::TyreDegradation,
    &ChartRequest {
      drivers: vec![2],
      ..ChartRequest::default()
    },
  )
  .await;
  assert_empty_figure(&without_laps);
  for kind in [
    ChartKind::TyreDegradation,
    ChartKind::FuelCorrectedTyreDegradation,
    ChartKind::Overtakes,
    ChartKind::GapToLeader,
  ] {
    let figure = chart(&database, SUZUKA_2026_QUALIFYING, kind).await;
    assert_empty_figure(&figure);
    assert!(
      annotation_texts(&figure)
        .iter()
        .any(|text| text.contains("is drawn for") && text.contains("a Qualifying session")),
      "{}: {:?}",
      kind.slug(),
      annotation_texts(&figure)
    );
  }
}

#[tokio::test]
async fn overtakes_count_moves_made_and_suffered_per_driver_from_the_recorded_table() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["11253_suzuka_2026_race"]).await;
  let figure = chart(&database, SUZUKA_2026_RACE, ChartKind::Overtakes).await;
  assert_eq!(trace_names(&figure), ["Made", "Suffered"]);
  let recorded = fixture_rows(&fixtures_dir().join("11253_suzuka_2026_race/overtakes.json"));
  let drivers = recorded_drivers("11253_suzuka_2026_race");
  let acronyms: Vec<&str> = traces(&figure)[0]["x"]
    .as_array()
    .expect("drivers")
    .iter()
    .filter_map(Value::as_str)
    .collect();
  assert!(!acronyms.is_empty());
  let made = numbers(&traces(&figure)[0]["y"]);
  let suffered = numbers(&traces(&figure)[1]["y"]);
  for (index, acronym) in acronyms.iter().enumerate() {
    let number = drivers[*acronym].1;
    let count = |field: &str| {
      recorded
        .iter()
        .filter(|row| row[field].as_i64() == Some(number))
        .count() as f64
    };
    assert_eq!(made[index], count("overtaking_driver_number"), "{acronym}");
    assert_eq!(
      suffered[index],
      -count("overtaken_driver_number"),
      "{acronym}"
    );
    assert_eq!(
      traces(&figure)[0]["marker"]["color"][index],
      drivers[*acronym].0.as_str()
    );
  }
  assert_eq!(made.iter().sum::<f64>(), recorded.len() as f64);
  assert_eq!(
    acronyms[0], "ANT",
    "classification order: the winner (car 12) first"
  );
  assert!(
    annotation_texts(&figure)
      .iter()
      .any(|text| text.starts_with(&format!("{} overtakes", recorded.len())))
  );
  // A race without recorded overtakes gives the explained empty figure.
  seed_fixtures(&database.connection, &["9472_bahrain_2024_race"]).await;
  assert_empty_figure(&chart(&database, BAHRAIN_2024_RACE, ChartKind::Overtakes).await);
}

#[tokio::test]
async fn a_parameter_the_chart_does_not_take_is_an_invalid_parameter() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  assert_refused(
    &database,
    BAHRAIN_2024_RACE,
    &[
      Refusal {
        kind: ChartKind::Weather,
        request: ChartRequest {
          drivers: vec![1],
          ..ChartRequest::default()
        },
        parameter: "drivers",
        explanations: &["takes none"],
      },
      Refusal {
        kind: ChartKind::LapTimes,
        request: ChartRequest {
          reference: Some(api::LapChoice {
            driver: 1,
            lap: Some(3),
          }),
          ..ChartRequest::default()
        },
        parameter: "reference",
        explanations: &["`drivers`, `lap_min`, `lap_max`"],
      },
    ],
  )
  .await;
}
