//! Telemetry charts (telemetry comparison, lap delta, track map, gear-shift map, mini-sector dominance) on the
//! recorded Bahrain 2024 laps with SYNTHETIC car_data and location rows generated here: the project holds no
//! recorded full-lap telemetry (only tiny real samples), so every telemetry row below is invented by the test and
//! says so.

use api::{ChartKind, ChartRequest, LapChoice};
use chrono::{DateTime, Utc};
use entity::laps;
use f1_backend::{Engine, TestDatabase, execute_sql, seed_fixtures};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::Value;

use crate::chart_support::{
  BAHRAIN_2024_MEETING, BAHRAIN_2024_RACE, Refusal, Sample, annotation_texts,
  assert_explained_empty, assert_refused, chart_with, constant, insert_car_data,
  insert_lap_car_data, insert_synthetic_circle, numbers, recorded_lap, synthetic_car_data,
  trace_names, traces,
};

const BAHRAIN_2024_QUALIFYING: i32 = 9468;
const SINGAPORE_2023_RACE: i32 = 9165;

async fn chart(database: &TestDatabase, kind: ChartKind, request: &ChartRequest) -> Value {
  chart_with(database, BAHRAIN_2024_RACE, kind, request).await
}

fn lap(driver: i32, lap: i32) -> Option<LapChoice> {
  Some(LapChoice {
    driver,
    lap: Some(lap),
  })
}

#[tokio::test]
async fn telemetry_comparison_draws_two_chosen_laps_with_rpm_and_drs_panels() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  // DRS open (code 12) for the first 20 s of lap 20, then "eligible" (8): open = 1, closed = 0.
  insert_lap_car_data(&database, 1, 20, |seconds| Sample {
    speed: 200,
    gear: 7,
    drs: Some(if seconds < 20.0 { 12 } else { 8 }),
  })
  .await;
  insert_lap_car_data(&database, 1, 21, constant(190)).await;
  let request = ChartRequest {
    reference: lap(1, 20),
    comparison: lap(1, 21),
    ..ChartRequest::default()
  };
  let figure = chart(&database, ChartKind::TelemetryComparison, &request).await;
  assert_eq!(traces(&figure).len(), 12, "2 laps × 6 panels");
  let names = trace_names(&figure);
  assert!(
    names[..6]
      .iter()
      .all(|name| name == "VER lap 20 (1:35.160)")
  );
  assert!(
    names[6..]
      .iter()
      .all(|name| name == "VER lap 21 (1:35.316)")
  );
  // One driver twice: the comparison lap is dashed so the two stay distinguishable.
  assert_eq!(traces(&figure)[0]["line"]["color"], "#3671C6");
  assert_eq!(traces(&figure)[0]["line"]["dash"], Value::Null);
  assert_eq!(traces(&figure)[6]["line"]["dash"], "dash");
  let rpm = numbers(&traces(&figure)[4]["y"]);
  assert!(rpm.iter().all(|value| *value == 11000.0));
  let drs = numbers(&traces(&figure)[5]["y"]);
  assert_eq!(drs.first().copied(), Some(1.0));
  assert_eq!(drs.last().copied(), Some(0.0));
  assert!(drs.iter().all(|value| *value == 0.0 || *value == 1.0));
  assert!(
    traces(&figure)[11]["y"]
      .as_array()
      .expect("drs of lap 21")
      .iter()
      .all(Value::is_null),
    "lap 21 has no DRS code"
  );

  assert_refused(
    &database,
    BAHRAIN_2024_RACE,
    &[
      Refusal {
        kind: ChartKind::TelemetryComparison,
        request: ChartRequest {
          reference: lap(1, 99),
          ..ChartRequest::default()
        },
        parameter: "reference",
        explanations: &["no lap 99", "run to 57"],
      },
      Refusal {
        kind: ChartKind::TelemetryComparison,
        request: ChartRequest {
          drivers: vec![1, 16],
          comparison: lap(16, 36),
          ..ChartRequest::default()
        },
        parameter: "drivers",
        explanations: &[],
      },
    ],
  )
  .await;
  execute_sql(
    &database.connection,
    "DELETE FROM laps WHERE session_key = 9472 AND driver_number = 2",
  )
  .await;
  assert_refused(
    &database,
    BAHRAIN_2024_RACE,
    &[Refusal {
      kind: ChartKind::TelemetryComparison,
      request: ChartRequest {
        comparison: Some(LapChoice {
          driver: 2,
          lap: None,
        }),
        ..ChartRequest::default()
      },
      parameter: "comparison",
      explanations: &["car 2 has no laps"],
    }],
  )
  .await;
}

#[tokio::test]
async fn lap_delta_accumulates_the_time_lost_over_distance_between_two_laps() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let no_telemetry = chart(&database, ChartKind::LapDelta, &ChartRequest::default()).await;
  assert_explained_empty(&no_telemetry, "no car telemetry");
  // The two fastest recorded laps: VER lap 39 (1:32.608) and LEC lap 36 (1:34.090).
  let (_, ver_duration) = recorded_lap(1, 39);
  let (_, lec_duration) = recorded_lap(16, 36);
  insert_lap_car_data(&database, 1, 39, constant(216)).await;
  insert_lap_car_data(&database, 16, 36, constant(180)).await;
  let figure = chart(&database, ChartKind::LapDelta, &ChartRequest::default()).await;
  assert_eq!(
    figure["layout"]["title"]["text"],
    "2024 Bahrain Grand Prix – Race: Lap delta"
  );
  assert_eq!(
    trace_names(&figure),
    [
      "LEC lap 36 (1:34.090) vs VER lap 39 (1:32.608)",
      "VER lap 39 (1:32.608)",
      "LEC lap 36 (1:34.090)"
    ]
  );
  assert_eq!(
    traces(&figure)[0]["line"]["color"],
    "#E8002D",
    "LEC's colour"
  );
  assert_eq!(traces(&figure)[1]["yaxis"], "y2");
  let delta = numbers(&traces(&figure)[0]["y"]);
  // Constant speeds: the gap grows evenly to the lap-time difference (sampled at whole quarter seconds).
  let final_delta = delta.last().copied().expect("delta");
  assert!(
    (final_delta - (lec_duration - ver_duration)).abs() < 0.3,
    "{final_delta}"
  );
  assert!(delta.windows(2).all(|pair| pair[1] >= pair[0] - 1e-9));
  assert!(delta[0].abs() < 0.3);

  let explicit = chart(
    &database,
    ChartKind::LapDelta,
    &ChartRequest {
      reference: lap(16, 36),
      comparison: lap(1, 39),
      ..ChartRequest::default()
    },
  )
  .await;
  let reversed = numbers(&traces(&explicit)[0]["y"]);
  assert!(
    reversed.last().copied().expect("delta") < 0.0,
    "VER gains on LEC"
  );
}

#[tokio::test]
async fn lap_delta_compares_laps_of_two_sessions_at_the_same_circuit_only() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  seed_fixtures(
    &database.connection,
    &["season_2023_2025", "9472_bahrain_2024_race"],
  )
  .await;
  insert_lap_car_data(&database, 1, 39, constant(216)).await;
  // SYNTHETIC: a 90-second lap 5 of car 1 in the 2024 Bahrain qualifying (session 9468, same circuit), with
  // car_data. Not recorded data: the project holds no laps of that session.
  let qualifying_start = "2024-03-01T16:20:00Z"
    .parse::<DateTime<Utc>>()
    .expect("date");
  laps::Entity::insert(laps::ActiveModel {
    session_key: Set(BAHRAIN_2024_QUALIFYING),
    driver_number: Set(1),
    lap_number: Set(5),
    meeting_key: Set(BAHRAIN_2024_MEETING),
    date_start: Set(Some(qualifying_start)),
    duration_sector_1: Set(None),
    duration_sector_2: Set(None),
    duration_sector_3: Set(None),
    lap_duration: Set(Some(90.0)),
    i1_speed: Set(None),
    i2_speed: Set(None),
    st_speed: Set(None),
    is_pit_out_lap: Set(Some(false)),
    segments_sector_1: Set(None),
    segments_sector_2: Set(None),
    segments_sector_3: Set(None),
  })
  .exec(&database.connection)
  .await
  .expect("insert the synthetic lap");
  insert_car_data(
    &database,
    synthetic_car_data(
      BAHRAIN_2024_QUALIFYING,
      1,
      qualifying_start,
      90.0,
      constant(222),
    ),
  )
  .await;
  let figure = chart(
    &database,
    ChartKind::LapDelta,
    &ChartRequest {
      reference: Some(LapChoice {
        driver: 1,
        lap: None,
      }),
      comparison_session: Some(BAHRAIN_2024_QUALIFYING),
      ..ChartRequest::default()
    },
  )
  .await;
  assert_eq!(
    trace_names(&figure)[2],
    "VER lap 5 (1:30.000), 2024 Bahrain Grand Prix – Qualifying"
  );
  let delta = numbers(&traces(&figure)[0]["y"]);
  assert!(
    delta.last().copied().expect("delta") < -2.0,
    "the qualifying lap is 2.6 s quicker"
  );
  assert_eq!(
    traces(&figure)[0]["line"]["dash"],
    "dash",
    "one driver in two sessions: the comparison is dashed"
  );

  assert_refused(
    &database,
    BAHRAIN_2024_RACE,
    &[
      Refusal {
        kind: ChartKind::LapDelta,
        request: ChartRequest {
          comparison_session: Some(SINGAPORE_2023_RACE),
          ..ChartRequest::default()
        },
        parameter: "comparison_session",
        explanations: &["Singapore", "Sakhir"],
      },
      Refusal {
        kind: ChartKind::LapDelta,
        request: ChartRequest {
          comparison_session: Some(1),
          ..ChartRequest::default()
        },
        parameter: "comparison_session",
        explanations: &[],
      },
    ],
  )
  .await;
}

#[tokio::test]
async fn the_track_map_without_car_data_draws_the_outline_and_says_speed_is_not_available() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let (start, duration) = recorded_lap(1, 39);
  let points = insert_synthetic_circle(&database, 1, start, duration).await;
  let figure = chart(&database, ChartKind::TrackMap, &ChartRequest::default()).await;
  assert_eq!(trace_names(&figure), ["VER"]);
  let outline = &traces(&figure)[0];
  assert_eq!(outline["mode"], "lines");
  assert_eq!(outline["line"]["color"], "#3671C6");
  assert_eq!(numbers(&outline["x"]).len(), points);
  assert!(
    outline["marker"]["colorscale"].is_null(),
    "no speed colour scale"
  );
  assert!(
    annotation_texts(&figure)
      .iter()
      .any(|text| text.contains("speed is not available")),
    "{:?}",
    annotation_texts(&figure)
  );
  assert!(
    !annotation_texts(&figure)
      .iter()
      .any(|text| text.contains("coloured by speed"))
  );
  assert_eq!(figure["layout"]["yaxis"]["scaleanchor"], "x");
}

#[tokio::test]
async fn the_gear_shift_map_draws_one_trace_per_gear_on_the_outline() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let (start, duration) = recorded_lap(16, 36);
  insert_synthetic_circle(&database, 16, start, duration).await;
  let request = ChartRequest {
    reference: lap(16, 36),
    ..ChartRequest::default()
  };
  assert_explained_empty(
    &chart(&database, ChartKind::GearShiftMap, &request).await,
    "LEC lap 36",
  );
  // Gears 1 to 8 in eight equal parts of the lap.
  insert_lap_car_data(&database, 16, 36, move |seconds| Sample {
    speed: 200,
    gear: 1 + ((seconds / duration * 8.0) as i32).min(7),
    drs: None,
  })
  .await;
  let figure = chart(&database, ChartKind::GearShiftMap, &request).await;
  assert_eq!(
    figure["layout"]["title"]["text"],
    "2024 Bahrain Grand Prix – Race: Gear shifts on the track map"
  );
  assert_eq!(
    trace_names(&figure),
    ["1", "2", "3", "4", "5", "6", "7", "8"]
  );
  let colours: std::collections::HashSet<&str> = traces(&figure)
    .iter()
    .map(|trace| trace["line"]["color"].as_str().expect("colour"))
    .collect();
  assert_eq!(colours.len(), 8, "a colour per gear");
  for trace in traces(&figure) {
    let xs = trace["x"].as_array().expect("x");
    assert!(xs.iter().filter(|x| x.is_number()).count() > 10);
    assert!(xs.last().is_some_and(Value::is_null), "runs end with a gap");
  }
  assert!(
    annotation_texts(&figure)
      .iter()
      .any(|text| text.starts_with("LEC lap 36 (1:34.090)"))
  );
  assert_refused(
    &database,
    BAHRAIN_2024_RACE,
    &[Refusal {
      kind: ChartKind::GearShiftMap,
      request: ChartRequest {
        drivers: vec![1, 16],
        ..ChartRequest::default()
      },
      parameter: "drivers",
      explanations: &[],
    }],
  )
  .await;
}

#[tokio::test]
async fn mini_sector_dominance_colours_every_mini_sector_by_the_quicker_driver() {
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let (ver_start, ver_duration) = recorded_lap(1, 39);
  let (_, lec_duration) = recorded_lap(16, 36);
  // VER even (216 km/h); LEC slow (150 km/h) for the first half of his lap's time and fast (300 km/h) after:
  // one third of his distance at 5.6 s per mini-sector, two thirds at 2.8 s, against VER's 3.7 s.
  insert_lap_car_data(&database, 1, 39, constant(216)).await;
  insert_lap_car_data(&database, 16, 36, move |seconds| Sample {
    speed: if seconds < lec_duration / 2.0 {
      150
    } else {
      300
    },
    gear: 7,
    drs: None,
  })
  .await;
  assert_explained_empty(
    &chart(
      &database,
      ChartKind::MiniSectorDominance,
      &ChartRequest::default(),
    )
    .await,
    "no car positions",
  );
  insert_synthetic_circle(&database, 1, ver_start, ver_duration).await;
  let figure = chart(
    &database,
    ChartKind::MiniSectorDominance,
    &ChartRequest::default(),
  )
  .await;
  let names = trace_names(&figure);
  assert_eq!(names.len(), 2, "{names:?}");
  let won = |name: &str| -> usize {
    name
      .split_once('(')
      .and_then(|(_, rest)| rest.split_once(' '))
      .and_then(|(count, _)| count.parse().ok())
      .expect("count")
  };
  assert!(names[0].starts_with("VER (") && names[1].starts_with("LEC ("));
  assert_eq!(won(&names[0]) + won(&names[1]), 25);
  assert_eq!(
    won(&names[1]),
    16,
    "LEC is quicker over the last two thirds"
  );
  assert_eq!(traces(&figure)[0]["line"]["color"], "#3671C6");
  assert_eq!(traces(&figure)[1]["line"]["color"], "#E8002D");
  assert_refused(
    &database,
    BAHRAIN_2024_RACE,
    &[Refusal {
      kind: ChartKind::MiniSectorDominance,
      request: ChartRequest {
        drivers: vec![1],
        ..ChartRequest::default()
      },
      parameter: "drivers",
      explanations: &["2 to 5"],
    }],
  )
  .await;
}
