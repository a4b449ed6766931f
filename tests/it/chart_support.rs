//! What the chart tests share: reading a figure (Plotly JSON: traces, names, notes, numbers), the recorded laps
//! their SYNTHETIC telemetry is laid over, and that telemetry (the project holds no recorded full-lap car_data).

use api::{ChartError, ChartKind, ChartRequest, NO_DATA_TEXT, build_session_chart};
use chrono::{DateTime, Duration, Utc};
use entity::{car_data, location};
use f1_backend::{TestDatabase, fixture_rows, fixtures_dir};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::Value;

/// The recorded Bahrain 2024 race, whose laps [`recorded_lap`] reads.
pub const BAHRAIN_2024_RACE: i32 = 9472;
/// Meeting of the recorded Bahrain 2024 race (session 9472).
pub const BAHRAIN_2024_MEETING: i32 = 1229;

/// The `kind` chart of `session_key` for `request`, expecting it builds.
pub async fn chart_with(
  database: &TestDatabase,
  session_key: i32,
  kind: ChartKind,
  request: &ChartRequest,
) -> Value {
  build_session_chart(&database.connection, session_key, kind, request)
    .await
    .unwrap_or_else(|error| panic!("{} chart of {session_key}: {error}", kind.slug()))
}

/// The figure's traces.
pub fn traces(figure: &Value) -> &Vec<Value> {
  figure["data"].as_array().expect("data is an array")
}

/// The name of every trace, `""` where a trace has none.
pub fn trace_names(figure: &Value) -> Vec<String> {
  traces(figure)
    .iter()
    .map(|trace| trace["name"].as_str().unwrap_or_default().to_owned())
    .collect()
}

/// The text of every annotation (the figure's notes).
pub fn annotation_texts(figure: &Value) -> Vec<String> {
  figure["layout"]["annotations"]
    .as_array()
    .map(|annotations| {
      annotations
        .iter()
        .map(|annotation| annotation["text"].as_str().unwrap_or_default().to_owned())
        .collect()
    })
    .unwrap_or_default()
}

/// The numbers of a JSON array (other values skipped).
pub fn numbers(value: &Value) -> Vec<f64> {
  value
    .as_array()
    .expect("array")
    .iter()
    .filter_map(Value::as_f64)
    .collect()
}

/// An empty figure whose note contains `explanation`.
pub fn assert_explained_empty(figure: &Value, explanation: &str) {
  assert!(traces(figure).is_empty(), "no traces: {figure}");
  assert!(
    annotation_texts(figure)
      .iter()
      .any(|text| text.starts_with(NO_DATA_TEXT) && text.contains(explanation)),
    "expected a note containing {explanation:?}: {:?}",
    annotation_texts(figure)
  );
}

/// A request a chart must refuse as an invalid parameter.
pub struct Refusal {
  /// The chart asked for.
  pub kind: ChartKind,
  /// What is asked of it.
  pub request: ChartRequest,
  /// The parameter the error names.
  pub parameter: &'static str,
  /// Words the error message contains.
  pub explanations: &'static [&'static str],
}

/// Asserts that each of `refusals` is refused by the chart of `session_key` as its invalid parameter, in a message
/// that contains each of its explanations.
pub async fn assert_refused(database: &TestDatabase, session_key: i32, refusals: &[Refusal]) {
  for refusal in refusals {
    let Refusal {
      kind,
      request,
      parameter,
      explanations,
    } = refusal;
    let result = build_session_chart(&database.connection, session_key, *kind, request).await;
    assert!(
      matches!(&result, Err(ChartError::InvalidParameter { name, message })
        if name == parameter && explanations.iter().all(|part| message.contains(part))),
      "{} of {session_key} with {request:?}: expected an invalid {parameter} mentioning {explanations:?}, got \
       {result:?}",
      kind.slug()
    );
  }
}

/// A recorded lap's start and duration (Bahrain 2024 race).
pub fn recorded_lap(driver: i64, lap: i64) -> (DateTime<Utc>, f64) {
  let laps = fixture_rows(&fixtures_dir().join("9472_bahrain_2024_race/laps.json"));
  let row = laps
    .iter()
    .find(|row| row["driver_number"] == driver && row["lap_number"] == lap)
    .expect("recorded lap");
  let start = row["date_start"]
    .as_str()
    .expect("date_start")
    .parse::<DateTime<Utc>>()
    .expect("date");
  (start, row["lap_duration"].as_f64().expect("duration"))
}

/// What a SYNTHETIC car_data sample holds at some second of the lap.
pub struct Sample {
  /// Speed (km/h).
  pub speed: i32,
  /// Gear.
  pub gear: i32,
  /// DRS code.
  pub drs: Option<i32>,
}

/// SYNTHETIC car_data: one sample every 250 ms over `[start, start + duration]`, values from `sample(seconds)`,
/// RPM 11000, full throttle, no brake, in the Bahrain 2024 meeting. Not recorded data.
pub fn synthetic_car_data(
  session_key: i32,
  driver: i32,
  start: DateTime<Utc>,
  duration: f64,
  sample: impl Fn(f64) -> Sample,
) -> Vec<car_data::ActiveModel> {
  let count = (duration * 4.0) as i64;
  (0..=count)
    .map(|index| {
      let values = sample(index as f64 / 4.0);
      car_data::ActiveModel {
        session_key: Set(session_key),
        driver_number: Set(driver),
        date: Set(start + Duration::milliseconds(index * 250)),
        meeting_key: Set(BAHRAIN_2024_MEETING),
        rpm: Set(Some(11000)),
        speed: Set(Some(values.speed)),
        n_gear: Set(Some(values.gear)),
        throttle: Set(Some(100)),
        brake: Set(Some(0)),
        drs: Set(values.drs),
      }
    })
    .collect()
}

/// Inserts car_data rows (SYNTHETIC ones: see [`synthetic_car_data`]).
pub async fn insert_car_data(database: &TestDatabase, rows: Vec<car_data::ActiveModel>) {
  car_data::Entity::insert_many(rows)
    .exec(&database.connection)
    .await
    .expect("insert synthetic car_data");
}

/// Inserts SYNTHETIC car_data over recorded lap `lap` of car `driver` in the Bahrain 2024 race, values from
/// `sample` (see [`synthetic_car_data`]).
pub async fn insert_lap_car_data(
  database: &TestDatabase,
  driver: i32,
  lap: i64,
  sample: impl Fn(f64) -> Sample,
) {
  let (start, duration) = recorded_lap(i64::from(driver), lap);
  insert_car_data(
    database,
    synthetic_car_data(BAHRAIN_2024_RACE, driver, start, duration, sample),
  )
  .await;
}

/// Inserts SYNTHETIC location rows of car `driver` in the Bahrain 2024 race: a circle of radius 1000 sampled every
/// 270 ms over `[start, start + duration)` (offset from the car_data timestamps, so joining needs the nearest
/// sample). Not recorded data. Returns how many rows it inserted.
pub async fn insert_synthetic_circle(
  database: &TestDatabase,
  driver: i32,
  start: DateTime<Utc>,
  duration: f64,
) -> usize {
  let points = (duration / 0.27) as i64;
  let rows: Vec<location::ActiveModel> = (0..points)
    .map(|index| {
      let angle = index as f64 / points as f64 * std::f64::consts::TAU;
      location::ActiveModel {
        session_key: Set(BAHRAIN_2024_RACE),
        driver_number: Set(driver),
        date: Set(start + Duration::milliseconds(index * 270 + 13)),
        meeting_key: Set(BAHRAIN_2024_MEETING),
        x: Set(Some((angle.cos() * 1000.0) as i32)),
        y: Set(Some((angle.sin() * 1000.0) as i32)),
        z: Set(Some(0)),
      }
    })
    .collect();
  let count = rows.len();
  location::Entity::insert_many(rows)
    .exec(&database.connection)
    .await
    .expect("insert synthetic location");
  count
}

/// A SYNTHETIC sample at a constant `speed` in gear 7 without DRS, whatever the second.
pub fn constant(speed: i32) -> impl Fn(f64) -> Sample {
  move |_| Sample {
    speed,
    gear: 7,
    drs: None,
  }
}
