//! The two sides of the Open F1 drop-in tests: the local Open F1 server (the independent model of upstream) and the
//! api's `/openf1/v1`, both serving the same recorded fixtures plus the same SYNTHETIC rows; and the comparison of
//! their answers (rows as multisets with numbers compared by value, order by upstream's sort keys, status and body
//! of empty answers).

use std::collections::BTreeMap;

use api::Settings;
use api::openf1::{Endpoint, EndpointCatalogue};
use chrono::{TimeDelta, TimeZone, Utc};
use f1_backend::{Engine, TestDatabase, fixtures_dir, seed_fixtures};
use openf1_query::ANSWER_SORT_FIELDS;
use openf1_server::{OpenF1Server, ServerOptions};
use serde_json::{Value, json};

use crate::api_support::TestApi;

/// A bearer token of the local Open F1 server for `username` (any password is accepted).
pub async fn token_for(server: &OpenF1Server, username: &str) -> String {
  let body: Value = crate::api_support::client()
    .post(server.token_url())
    .form(&[("username", username), ("password", "any")])
    .send()
    .await
    .expect("ask for a token")
    .json()
    .await
    .expect("a token");
  body["access_token"]
    .as_str()
    .expect("access_token")
    .to_owned()
}

/// Every folder of recorded fixtures.
pub fn fixture_folders() -> Vec<String> {
  let mut folders: Vec<String> = std::fs::read_dir(fixtures_dir())
    .expect("read the fixtures folder")
    .filter_map(Result::ok)
    .filter(|entry| entry.path().is_dir())
    .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
    .collect();
  folders.sort();
  folders
}

fn timestamp(instant: chrono::DateTime<Utc>) -> String {
  api::openf1::format_timestamp(instant)
}

/// SYNTHETIC rows, generated here (nothing recorded): upstream serves these endpoints but the fixtures hold no
/// team radio, championship or location data, and no car data for session 9472. The same rows go to both sides.
pub fn synthetic_rows() -> Vec<(&'static str, Vec<Value>)> {
  let start = Utc
    .with_ymd_and_hms(2024, 3, 2, 15, 10, 0)
    .single()
    .expect("a valid instant");
  let at = |index: i64| start + TimeDelta::milliseconds(index * 270);
  let drs_codes = [0, 1, 8, 10, 12, 14];
  let mut car_data = Vec::new();
  let mut location = Vec::new();
  for driver_number in [1, 44] {
    for index in 0..40_i64 {
      let date = timestamp(at(index) + TimeDelta::milliseconds(driver_number * 3));
      let drs = if index % 7 == 0 {
        Value::Null
      } else {
        json!(drs_codes[usize::try_from(index % 6).expect("small")])
      };
      car_data.push(json!({
        "date": date, "session_key": 9472, "meeting_key": 1229, "driver_number": driver_number,
        "rpm": 10000 + (index * 97) % 2000, "speed": 180 + (index * 37) % 150, "n_gear": 1 + index % 8,
        "throttle": (index * 13) % 101, "brake": if index % 5 == 0 { 100 } else { 0 }, "drs": drs,
      }));
      location.push(json!({
        "date": date, "session_key": 9472, "meeting_key": 1229, "driver_number": driver_number,
        "x": -500 + index * 37, "y": 200 - index * 11, "z": index % 9,
      }));
    }
  }
  let team_radio: Vec<Value> = [(1, 5), (11, 12), (16, 18), (1, 25), (11, 31), (44, 40)]
    .into_iter()
    .enumerate()
    .map(|(index, (driver_number, minute))| {
      let date = Utc
        .with_ymd_and_hms(2024, 3, 2, 15, minute, 7)
        .single()
        .expect("a valid instant");
      json!({
        "date": timestamp(date), "session_key": 9472, "meeting_key": 1229, "driver_number": driver_number,
        "recording_url": format!("https://example.invalid/SYNTHETIC/{driver_number}_{index}.mp3"),
      })
    })
    .collect();
  let championship_drivers: Vec<Value> = [(1, 26.0), (11, 18.0), (55, 15.0), (16, 12.0), (44, 10.0)]
    .into_iter()
    .enumerate()
    .map(|(index, (driver_number, points))| {
      json!({
        "session_key": 9472, "meeting_key": 1229, "driver_number": driver_number,
        "position_start": null, "position_current": index + 1, "points_start": 0, "points_current": points,
      })
    })
    .collect();
  let championship_teams: Vec<Value> = [
    ("Red Bull Racing", "3671C6", 44.0),
    ("Ferrari", "E8002D", 27.0),
    ("Mercedes", "27F4D2", 10.0),
  ]
  .into_iter()
  .enumerate()
  .map(|(index, (team_name, colour, points))| {
    json!({
      "session_key": 9472, "meeting_key": 1229, "team_name": team_name, "team_colour": colour,
      "position_start": null, "position_current": index + 1, "points_start": 0, "points_current": points,
    })
  })
  .collect();
  vec![
    ("car_data", car_data),
    ("location", location),
    ("team_radio", team_radio),
    ("championship_drivers", championship_drivers),
    ("championship_teams", championship_teams),
  ]
}

/// One answer: status, content type and body.
#[derive(Debug)]
pub struct Answer {
  pub status: u16,
  pub content_type: String,
  pub body: String,
  pub headers: reqwest::header::HeaderMap,
}

/// Both sides, serving the same data.
pub struct Compat {
  pub upstream: OpenF1Server,
  pub api: TestApi,
}

impl Compat {
  /// Starts the local Open F1 server on the fixtures and the api on a fresh `engine` database seeded with them,
  /// both with the synthetic rows.
  pub async fn start(engine: Engine) -> Self {
    Self::start_with(engine, |_| {}).await
  }

  /// Like [`Compat::start`], adjusting the api's settings first.
  pub async fn start_with(engine: Engine, adjust: impl FnOnce(&mut Settings)) -> Self {
    let database = TestDatabase::migrated(engine).await;
    let folders = fixture_folders();
    let folders: Vec<&str> = folders.iter().map(String::as_str).collect();
    let seeded = seed_fixtures(&database.connection, &folders).await;
    assert_eq!(seeded.skipped, 0, "every recorded row is stored");
    let upstream = OpenF1Server::start(ServerOptions::new(fixtures_dir()))
      .await
      .expect("start the local Open F1 server");
    for (endpoint, rows) in synthetic_rows() {
      let stored = worker::store_rows(
        &database.connection,
        entity::Endpoint::from_name(endpoint).expect("an endpoint"),
        &rows,
      )
      .await
      .expect("store synthetic rows");
      assert_eq!(stored.skipped, 0);
      upstream.upsert_rows(endpoint, rows);
    }
    let mut settings = Settings::for_tests(database.url.clone());
    adjust(&mut settings);
    let api = TestApi::start(settings, Some(database)).await;
    Self { upstream, api }
  }

  async fn send(client: &reqwest::Client, post: bool, url: String) -> Answer {
    let request = if post {
      client.post(url)
    } else {
      client.get(url)
    };
    let response = request.send().await.expect("send a request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
      .get(reqwest::header::CONTENT_TYPE)
      .and_then(|value| value.to_str().ok())
      .unwrap_or_default()
      .to_owned();
    let body = response.text().await.expect("read the body");
    Answer {
      status,
      content_type,
      body,
      headers,
    }
  }

  /// Upstream's (the model's) answer to `GET /v1/{endpoint}?{query}`.
  pub async fn upstream(&self, endpoint: &str, query: &str) -> Answer {
    let url = format!("{}/{endpoint}?{query}", self.upstream.base_url());
    Self::send(&self.api.client, false, url).await
  }

  /// Our answer to `GET /openf1/v1/{endpoint}?{query}` (`POST` when `post`).
  pub async fn ours(&self, endpoint: &str, query: &str, post: bool) -> Answer {
    let url = format!("{}/openf1/v1/{endpoint}?{query}", self.api.base_url);
    Self::send(&self.api.client, post, url).await
  }

  /// Asks both sides and requires the same answer; returns ours.
  pub async fn same(&self, endpoint: &str, query: &str) -> Answer {
    let upstream = self.upstream(endpoint, query).await;
    let ours = self.ours(endpoint, query, false).await;
    assert_same_answer(endpoint, query, &upstream, &ours);
    ours
  }
}

/// A value with every number as a float (upstream writes whole floats as integers at times) and object members
/// sorted, so that equal meanings compare equal.
fn canonical(value: &Value) -> Value {
  match value {
    Value::Number(number) => number
      .as_f64()
      .and_then(serde_json::Number::from_f64)
      .map_or(Value::Null, Value::Number),
    Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
    Value::Object(members) => {
      let sorted: BTreeMap<&String, Value> = members
        .iter()
        .map(|(key, value)| (key, canonical(value)))
        .collect();
      Value::Object(
        sorted
          .into_iter()
          .map(|(key, value)| (key.clone(), value))
          .collect(),
      )
    }
    other => other.clone(),
  }
}

/// An upstream row with the fields it lacks (schema drift: older rows lack newer fields) as null, which is how we
/// serve them. A field upstream has that we do not serve fails the test.
fn with_every_field(endpoint: &str, row: &Value) -> Value {
  let fields = Endpoint::from_name(endpoint).map_or(&[][..], Endpoint::fields);
  let mut members = row.as_object().cloned().unwrap_or_default();
  for key in members.keys() {
    assert!(
      fields.iter().any(|field| field.name == key),
      "upstream's {endpoint} rows have a field `{key}` that we do not serve"
    );
  }
  for field in fields {
    members.entry(field.name).or_insert(Value::Null);
  }
  Value::Object(members)
}

fn sorted_texts(rows: impl Iterator<Item = Value>) -> Vec<String> {
  let mut texts: Vec<String> = rows.map(|row| canonical(&row).to_string()).collect();
  texts.sort();
  texts
}

/// The values of upstream's sort keys in each row (only the keys upstream used: present and non-null in all rows).
fn sort_projection(rows: &[Value], keys: &[&str]) -> Vec<String> {
  rows
    .iter()
    .map(|row| {
      let values: Vec<Value> = keys.iter().map(|key| canonical(&row[*key])).collect();
      Value::Array(values).to_string()
    })
    .collect()
}

/// Cells of a CSV document, `"`-quoted cells unquoted.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
  let mut rows = Vec::new();
  let mut row = Vec::new();
  let mut cell = String::new();
  let mut quoted = false;
  let mut characters = text.chars().peekable();
  while let Some(character) = characters.next() {
    match (quoted, character) {
      (true, '"') if characters.peek() == Some(&'"') => {
        characters.next();
        cell.push('"');
      }
      (true, '"') => quoted = false,
      (true, other) => cell.push(other),
      (false, '"') => quoted = true,
      (false, ',') => row.push(std::mem::take(&mut cell)),
      (false, '\r') => {}
      (false, '\n') => {
        row.push(std::mem::take(&mut cell));
        rows.push(std::mem::take(&mut row));
      }
      (false, other) => cell.push(other),
    }
  }
  rows
}

/// CSV rows as objects header → cell, numbers by value, missing columns empty.
fn csv_objects(text: &str, columns: &[String]) -> Vec<Value> {
  let mut rows = parse_csv(text).into_iter();
  let header = rows.next().unwrap_or_default();
  rows
    .map(|cells| {
      let mut object = serde_json::Map::new();
      for column in columns {
        let cell = header
          .iter()
          .position(|name| name == column)
          .and_then(|index| cells.get(index))
          .cloned()
          .unwrap_or_default();
        let value = cell
          .parse::<f64>()
          .ok()
          .and_then(serde_json::Number::from_f64)
          .map_or(Value::String(cell), Value::Number);
        object.insert(column.clone(), value);
      }
      Value::Object(object)
    })
    .collect()
}

/// Requires our answer to mean the same as upstream's.
pub fn assert_same_answer(endpoint: &str, query: &str, upstream: &Answer, ours: &Answer) {
  let what = format!("{endpoint}?{query}");
  assert_eq!(
    ours.status, upstream.status,
    "{what}: status (upstream body {}; ours {})",
    upstream.body, ours.body
  );
  match upstream.status {
    200 if upstream.content_type.starts_with("text/csv") => {
      assert!(
        ours.content_type.starts_with("text/csv"),
        "{what}: {}",
        ours.content_type
      );
      let upstream_header = parse_csv(&upstream.body)
        .into_iter()
        .next()
        .unwrap_or_default();
      let our_header = parse_csv(&ours.body).into_iter().next().unwrap_or_default();
      for column in &upstream_header {
        assert!(
          our_header.contains(column),
          "{what}: we lack the CSV column {column}"
        );
      }
      let upstream_rows = csv_objects(&upstream.body, &our_header);
      let our_rows = csv_objects(&ours.body, &our_header);
      assert_eq!(
        sorted_texts(our_rows.into_iter()),
        sorted_texts(upstream_rows.into_iter()),
        "{what}: CSV rows differ"
      );
    }
    200 => {
      let upstream_rows: Vec<Value> = serde_json::from_str(&upstream.body).expect("upstream JSON");
      let our_rows: Vec<Value> = serde_json::from_str(&ours.body)
        .unwrap_or_else(|error| panic!("{what}: our body is not JSON ({error}): {}", ours.body));
      assert_eq!(our_rows.len(), upstream_rows.len(), "{what}: row count");
      let upstream_rows: Vec<Value> = upstream_rows
        .iter()
        .map(|row| with_every_field(endpoint, row))
        .collect();
      assert_eq!(
        sorted_texts(our_rows.iter().cloned()),
        sorted_texts(upstream_rows.iter().cloned()),
        "{what}: rows differ"
      );
      let keys: Vec<&str> = ANSWER_SORT_FIELDS
        .into_iter()
        .filter(|key| upstream_rows.iter().all(|row| !row[*key].is_null()))
        .collect();
      assert_eq!(
        sort_projection(&our_rows, &keys),
        sort_projection(&upstream_rows, &keys),
        "{what}: order (by {keys:?})"
      );
    }
    _ => assert_eq!(ours.body, upstream.body, "{what}: body"),
  }
}
