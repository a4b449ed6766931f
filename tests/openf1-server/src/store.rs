//! Loading recorded responses from a fixture folder, keyed and sorted like upstream.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use openf1_query::{ANSWER_SORT_FIELDS, parse_datetime};
use serde_json::Value;

use crate::query::DATETIME_FIELDS;

/// The 18 Open F1 endpoints.
pub const ENDPOINTS: [&str; 18] = [
  "meetings",
  "sessions",
  "drivers",
  "laps",
  "car_data",
  "location",
  "position",
  "intervals",
  "pit",
  "stints",
  "weather",
  "race_control",
  "team_radio",
  "session_result",
  "starting_grid",
  "overtakes",
  "championship_drivers",
  "championship_teams",
];

/// Errors while loading fixtures.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
  /// A folder or file could not be read.
  #[error("cannot read fixture path {path}")]
  Io {
    /// The path.
    path: PathBuf,
    /// The cause.
    #[source]
    source: std::io::Error,
  },
  /// A file is not valid JSON.
  #[error("fixture file {path} is not valid JSON")]
  Json {
    /// The file.
    path: PathBuf,
    /// The cause.
    #[source]
    source: serde_json::Error,
  },
  /// A file holds neither an array of objects nor an object.
  #[error("fixture file {path} holds neither an object nor an array of objects")]
  Shape {
    /// The file.
    path: PathBuf,
  },
}

/// The fields forming an endpoint's natural key (spec §2); `None` for an unknown endpoint.
#[must_use]
pub fn natural_key_fields(endpoint: &str) -> Option<&'static [&'static str]> {
  let fields: &'static [&'static str] = match endpoint {
    "meetings" => &["meeting_key"],
    "sessions" => &["session_key"],
    "drivers" | "session_result" | "starting_grid" | "championship_drivers" => {
      &["session_key", "driver_number"]
    }
    "laps" | "pit" => &["session_key", "driver_number", "lap_number"],
    "stints" => &["session_key", "driver_number", "stint_number"],
    "car_data" | "location" | "position" | "intervals" | "team_radio" => {
      &["session_key", "driver_number", "date"]
    }
    "weather" => &["session_key", "date"],
    "overtakes" => &[
      "session_key",
      "date",
      "overtaking_driver_number",
      "overtaken_driver_number",
    ],
    "race_control" => &[
      "session_key",
      "date",
      "driver_number",
      "lap_number",
      "category",
      "flag",
      "scope",
      "sector",
      "message",
    ],
    "championship_teams" => &["session_key", "team_name"],
    _ => return None,
  };
  Some(fields)
}

/// The endpoint a fixture file feeds, from its stem: up to the first `__`, without `_head`, singular names made plural.
#[must_use]
pub fn endpoint_for_stem(stem: &str) -> String {
  let base = stem.split("__").next().unwrap_or(stem);
  let base = base.strip_suffix("_head").unwrap_or(base);
  match base {
    "session" => "sessions".to_owned(),
    "meeting" => "meetings".to_owned(),
    other => other.to_owned(),
  }
}

/// The identity of a row within its endpoint: natural-key values, datetimes compared as instants.
fn natural_key(endpoint: &str, row: &Value) -> String {
  let fields = natural_key_fields(endpoint).unwrap_or(&[]);
  let mut parts = Vec::with_capacity(fields.len());
  for field in fields {
    let value = row.get(*field).unwrap_or(&Value::Null);
    let part = datetime_key_part(field, value, DateTime::timestamp_micros)
      .unwrap_or_else(|| value.to_string());
    parts.push(part);
  }
  parts.join("\u{1f}")
}

/// How a key writes the value of a datetime field (see [`DATETIME_FIELDS`]): the instant it names as a count of
/// `unit` since the epoch (e.g. [`DateTime::timestamp_micros`]), or the text itself when it does not parse; `None`
/// when `field` is not a datetime field or `value` is not a string, for the caller's own rule.
pub(crate) fn datetime_key_part(
  field: &str,
  value: &Value,
  unit: fn(&DateTime<Utc>) -> i64,
) -> Option<String> {
  match value {
    Value::String(text) if DATETIME_FIELDS.contains(&field) => Some(
      parse_datetime(text).map_or_else(|| text.clone(), |parsed| unit(&parsed.instant).to_string()),
    ),
    _ => None,
  }
}

/// The upstream sort key: `date_start` (or `date`), `meeting_key`, `session_key`, `position_current`.
type SortKey = (Option<DateTime<Utc>>, Option<i64>, Option<i64>, Option<i64>);

fn sort_key(row: &Value) -> SortKey {
  let instant = row
    .get("date_start")
    .or_else(|| row.get("date"))
    .and_then(Value::as_str)
    .and_then(parse_datetime)
    .map(|parsed| parsed.instant);
  let integer = |field: &str| row.get(field).and_then(Value::as_i64);
  (
    instant,
    integer("meeting_key"),
    integer("session_key"),
    integer("position_current"),
  )
}

/// Sorts rows like upstream, keeping the existing order of ties.
pub fn sort_rows(rows: &mut [Value]) {
  rows.sort_by_cached_key(sort_key);
}

/// Compares two values of one field as upstream's Python does (datetimes as instants, numbers numerically).
fn compare_field(field: &str, left: &Value, right: &Value) -> std::cmp::Ordering {
  use std::cmp::Ordering;
  match (left, right) {
    (Value::String(left), Value::String(right)) if DATETIME_FIELDS.contains(&field) => {
      match (parse_datetime(left), parse_datetime(right)) {
        (Some(left), Some(right)) => left.instant.cmp(&right.instant),
        _ => left.cmp(right),
      }
    }
    (Value::Number(left), Value::Number(right)) => left
      .as_f64()
      .partial_cmp(&right.as_f64())
      .unwrap_or(Ordering::Equal),
    (Value::String(left), Value::String(right)) => left.cmp(right),
    (Value::Bool(left), Value::Bool(right)) => left.cmp(right),
    _ => Ordering::Equal,
  }
}

/// Sorts an answer like upstream's `sort_results` (see [`ANSWER_SORT_FIELDS`]).
pub fn sort_answer(rows: &mut [Value]) {
  if rows.len() <= 1 {
    return;
  }
  let fields: Vec<&str> = ANSWER_SORT_FIELDS
    .into_iter()
    .filter(|field| {
      rows
        .iter()
        .all(|row| row.get(*field).is_some_and(|value| !value.is_null()))
    })
    .collect();
  rows.sort_by(|left, right| {
    fields
      .iter()
      .map(|field| compare_field(field, &left[*field], &right[*field]))
      .find(|ordering| ordering.is_ne())
      .unwrap_or(std::cmp::Ordering::Equal)
  });
}

/// Recorded rows per endpoint, deduplicated by natural key and sorted like upstream.
#[derive(Clone, Debug, Default)]
pub struct FixtureStore {
  endpoints: BTreeMap<String, Vec<Value>>,
}

impl FixtureStore {
  /// Reads every `*.json` file under `dir` (recursively, in path order); later files win on natural-key clashes.
  ///
  /// # Errors
  /// Returns [`FixtureError`] when a folder or file cannot be read or a file is not an object or array of objects.
  pub fn load(dir: impl AsRef<Path>) -> Result<Self, FixtureError> {
    let mut files = Vec::new();
    collect_json_files(dir.as_ref(), &mut files)?;
    files.sort();
    let mut store = Self::empty();
    for file in files {
      let stem = file
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or("");
      let endpoint = endpoint_for_stem(stem);
      if !ENDPOINTS.contains(&endpoint.as_str()) {
        tracing::warn!(file = %file.display(), endpoint, "ignoring fixture of unknown endpoint");
        continue;
      }
      let text = std::fs::read_to_string(&file).map_err(|source| FixtureError::Io {
        path: file.clone(),
        source,
      })?;
      let value: Value = serde_json::from_str(&text).map_err(|source| FixtureError::Json {
        path: file.clone(),
        source,
      })?;
      let rows = match value {
        Value::Array(rows) if rows.iter().all(Value::is_object) => rows,
        object @ Value::Object(_) => vec![object],
        _ => return Err(FixtureError::Shape { path: file }),
      };
      tracing::debug!(file = %file.display(), endpoint, rows = rows.len(), "loaded fixture");
      store.upsert(&endpoint, rows);
    }
    Ok(store)
  }

  /// A store with all 18 endpoints and no rows.
  #[must_use]
  pub fn empty() -> Self {
    Self {
      endpoints: ENDPOINTS
        .iter()
        .map(|endpoint| ((*endpoint).to_owned(), Vec::new()))
        .collect(),
    }
  }

  /// Inserts `rows` into `endpoint`, replacing rows with the same natural key, and re-sorts.
  /// Returns `false` (and changes nothing) for an unknown endpoint.
  pub fn upsert(&mut self, endpoint: &str, rows: Vec<Value>) -> bool {
    let Some(existing) = self.endpoints.get_mut(endpoint) else {
      return false;
    };
    let mut positions: HashMap<String, usize> = existing
      .iter()
      .enumerate()
      .map(|(position, row)| (natural_key(endpoint, row), position))
      .collect();
    for row in rows {
      let key = natural_key(endpoint, &row);
      match positions.get(&key) {
        Some(position) => existing[*position] = row,
        None => {
          positions.insert(key, existing.len());
          existing.push(row);
        }
      }
    }
    sort_rows(existing);
    true
  }

  /// The rows of `endpoint` in response order; `None` for an unknown endpoint.
  #[must_use]
  pub fn rows(&self, endpoint: &str) -> Option<&[Value]> {
    self.endpoints.get(endpoint).map(Vec::as_slice)
  }

  /// Number of rows of `endpoint`, optionally only those of one session.
  #[must_use]
  pub fn row_count(&self, endpoint: &str, session_key: Option<i64>) -> usize {
    self.rows(endpoint).map_or(0, |rows| {
      rows
        .iter()
        .filter(|row| {
          session_key.is_none_or(|key| row.get("session_key").and_then(Value::as_i64) == Some(key))
        })
        .count()
    })
  }
}

fn collect_json_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), FixtureError> {
  let entries = std::fs::read_dir(dir).map_err(|source| FixtureError::Io {
    path: dir.to_path_buf(),
    source,
  })?;
  for entry in entries {
    let path = entry
      .map_err(|source| FixtureError::Io {
        path: dir.to_path_buf(),
        source,
      })?
      .path();
    if path.is_dir() {
      collect_json_files(&path, files)?;
    } else if path
      .extension()
      .is_some_and(|extension| extension == "json")
    {
      files.push(path);
    }
  }
  Ok(())
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn file_stems_map_to_endpoints() {
    assert_eq!(
      endpoint_for_stem("car_data__9159_driver55_speed200"),
      "car_data"
    );
    assert_eq!(endpoint_for_stem("drivers__9158_driver1"), "drivers");
    assert_eq!(endpoint_for_stem("laps_head"), "laps");
    assert_eq!(endpoint_for_stem("session"), "sessions");
    assert_eq!(endpoint_for_stem("meeting"), "meetings");
    assert_eq!(endpoint_for_stem("PROVENANCE"), "PROVENANCE");
  }

  #[test]
  fn upserting_a_row_with_the_same_natural_key_replaces_it() {
    let mut store = FixtureStore::empty();
    store.upsert(
      "laps",
      vec![serde_json::json!({"session_key": 1, "driver_number": 4, "lap_number": 2, "lap_duration": 90.0})],
    );
    store.upsert(
      "laps",
      vec![serde_json::json!({"session_key": 1, "driver_number": 4, "lap_number": 2, "lap_duration": 89.5})],
    );
    assert_eq!(store.row_count("laps", Some(1)), 1);
    assert_eq!(
      store
        .rows("laps")
        .and_then(|rows| rows[0].get("lap_duration"))
        .and_then(Value::as_f64),
      Some(89.5)
    );
  }
}
