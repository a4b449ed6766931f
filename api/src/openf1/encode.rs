//! Writing rows as upstream does: a JSON array of flat objects (FastAPI's encoder), or CSV (Python's `csv`
//! module, `excel` dialect, header = the sorted field names, each cell `str(value)`).
//!
//! Timestamps are UTC with an explicit `+00:00` and microseconds, the fraction left out when it is zero
//! (`2026-03-29T04:18:28+00:00`, `2026-03-29T05:14:02.078000+00:00`); in CSV the date and time are separated by a
//! space, as Python's `str(datetime)` does. Every field of the endpoint is written, null when unknown.

use std::io::Write as _;

use chrono::{DateTime, Timelike, Utc};
use sea_orm::{EntityTrait, IdenStatic, Iterable, ModelTrait};
use serde_json::Value as Json;

use crate::openf1::catalogue::{Endpoint, EndpointCatalogue, FieldKind};

/// The format of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
  /// `application/json`: an array of objects.
  Json,
  /// `text/csv` (`csv=true`).
  Csv,
}

impl Format {
  /// The `Content-Type` of an answer in this format.
  #[must_use]
  pub fn content_type(self) -> &'static str {
    match self {
      Self::Json => "application/json",
      Self::Csv => "text/csv; charset=utf-8",
    }
  }

  /// A name for cache keys.
  #[must_use]
  pub fn name(self) -> &'static str {
    match self {
      Self::Json => "json",
      Self::Csv => "csv",
    }
  }
}

/// Formats an instant like upstream's JSON: `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`, fraction left out when zero.
#[must_use]
pub fn format_timestamp(instant: DateTime<Utc>) -> String {
  timestamp(instant, 'T')
}

fn timestamp(instant: DateTime<Utc>, separator: char) -> String {
  let date_time = instant.format("%Y-%m-%d").to_string();
  let time = instant.format("%H:%M:%S").to_string();
  let micros = instant.nanosecond() / 1000 % 1_000_000;
  if micros == 0 {
    format!("{date_time}{separator}{time}+00:00")
  } else {
    format!("{date_time}{separator}{time}.{micros:06}+00:00")
  }
}

/// One output field: its name, the column holding it and, for number-or-text fields, the text column.
struct Column<E: EntityTrait> {
  name: &'static str,
  value: E::Column,
  text: Option<E::Column>,
}

/// Writes the rows of entity `E`, one at a time, into byte buffers.
pub struct RowWriter<E: EntityTrait> {
  format: Format,
  columns: Vec<Column<E>>,
  rows: usize,
}

impl<E: EntityTrait> RowWriter<E> {
  /// A writer of `endpoint`'s rows (whose table is `E`'s) in `format`.
  #[must_use]
  pub fn new(endpoint: Endpoint, format: Format) -> Self {
    let find = |name: &str| E::Column::iter().find(|column| column.as_str() == name);
    let mut columns: Vec<Column<E>> = endpoint
      .fields()
      .iter()
      .filter_map(|field| {
        let text = match field.kind {
          FieldKind::NumberOrText { text_column } => find(text_column),
          _ => None,
        };
        Some(Column {
          name: field.name,
          value: find(field.name)?,
          text,
        })
      })
      .collect();
    if format == Format::Csv {
      columns.sort_by_key(|column| column.name);
    }
    Self {
      format,
      columns,
      rows: 0,
    }
  }

  /// Appends `model` to `out`, preceded by the opening (`[` or the CSV header) for the first row.
  pub fn write_row(&mut self, model: &E::Model, out: &mut Vec<u8>) {
    match self.format {
      Format::Json => {
        out.push(if self.rows == 0 { b'[' } else { b',' });
        out.push(b'{');
        for (index, column) in self.columns.iter().enumerate() {
          if index > 0 {
            out.push(b',');
          }
          write_json_string(out, column.name);
          out.push(b':');
          write_json_value(out, &value_of(model, column));
        }
        out.push(b'}');
      }
      Format::Csv => {
        if self.rows == 0 {
          let header: Vec<&str> = self.columns.iter().map(|column| column.name).collect();
          out.extend_from_slice(header.join(",").as_bytes());
          out.extend_from_slice(b"\r\n");
        }
        for (index, column) in self.columns.iter().enumerate() {
          if index > 0 {
            out.push(b',');
          }
          write_csv_cell(out, &csv_text(&value_of(model, column)));
        }
        out.extend_from_slice(b"\r\n");
      }
    }
    self.rows += 1;
  }

  /// Appends the closing of the answer (`]` for JSON) when at least one row was written.
  pub fn finish(&self, out: &mut Vec<u8>) {
    if self.format == Format::Json && self.rows > 0 {
      out.push(b']');
    }
  }
}

/// A field's value as one of the shapes upstream writes.
enum Cell {
  Null,
  Bool(bool),
  Integer(i64),
  Float(f64),
  Text(String),
  DateTime(DateTime<Utc>),
  Json(Json),
}

fn value_of<E: EntityTrait>(model: &E::Model, column: &Column<E>) -> Cell {
  let cell = cell(model.get(column.value));
  match (&cell, &column.text) {
    (Cell::Null, Some(text)) => self::cell(model.get(*text)),
    _ => cell,
  }
}

fn cell(value: sea_orm::Value) -> Cell {
  use sea_orm::Value as V;
  match value {
    V::Bool(Some(flag)) => Cell::Bool(flag),
    V::TinyInt(Some(integer)) => Cell::Integer(integer.into()),
    V::SmallInt(Some(integer)) => Cell::Integer(integer.into()),
    V::Int(Some(integer)) => Cell::Integer(integer.into()),
    V::BigInt(Some(integer)) => Cell::Integer(integer),
    V::TinyUnsigned(Some(integer)) => Cell::Integer(integer.into()),
    V::SmallUnsigned(Some(integer)) => Cell::Integer(integer.into()),
    V::Unsigned(Some(integer)) => Cell::Integer(integer.into()),
    V::Float(Some(float)) => Cell::Float(float.into()),
    V::Double(Some(float)) => Cell::Float(float),
    V::String(Some(text)) => Cell::Text(text),
    V::ChronoDateTimeUtc(Some(instant)) => Cell::DateTime(instant),
    V::ChronoDateTime(Some(naive)) => Cell::DateTime(naive.and_utc()),
    V::Json(Some(json)) if !json.is_null() => Cell::Json(*json),
    _ => Cell::Null,
  }
}

fn write_json_string(out: &mut Vec<u8>, text: &str) {
  // Writing a string into a Vec cannot fail.
  let _ = serde_json::to_writer(&mut *out, text);
}

fn write_float(out: &mut Vec<u8>, float: f64) {
  if float.is_finite() {
    let _ = serde_json::to_writer(&mut *out, &float);
  } else {
    out.extend_from_slice(b"null");
  }
}

fn write_json_value(out: &mut Vec<u8>, cell: &Cell) {
  match cell {
    Cell::Null => out.extend_from_slice(b"null"),
    Cell::Bool(flag) => out.extend_from_slice(if *flag { b"true" } else { b"false" }),
    Cell::Integer(integer) => {
      let _ = write!(out, "{integer}");
    }
    Cell::Float(float) => write_float(out, *float),
    Cell::Text(text) => write_json_string(out, text),
    Cell::DateTime(instant) => write_json_string(out, &timestamp(*instant, 'T')),
    Cell::Json(json) => {
      let _ = serde_json::to_writer(&mut *out, json);
    }
  }
}

/// Python's `str(value)` as the `csv` module writes it (`None` is empty).
fn csv_text(cell: &Cell) -> String {
  match cell {
    Cell::Null => String::new(),
    Cell::Bool(flag) => python_bool(*flag).to_owned(),
    Cell::Integer(integer) => integer.to_string(),
    Cell::Float(float) => python_float(*float),
    Cell::Text(text) => text.clone(),
    Cell::DateTime(instant) => timestamp(*instant, ' '),
    Cell::Json(Json::String(text)) => text.clone(),
    Cell::Json(json) => python_repr(json),
  }
}

fn python_bool(flag: bool) -> &'static str {
  if flag { "True" } else { "False" }
}

fn python_float(float: f64) -> String {
  if float.is_nan() {
    "nan".to_owned()
  } else if float.is_infinite() {
    if float > 0.0 { "inf" } else { "-inf" }.to_owned()
  } else {
    let mut text = Vec::new();
    write_float(&mut text, float);
    String::from_utf8_lossy(&text).into_owned()
  }
}

/// Python's `repr` of a JSON value decoded by `json.loads` (lists, dicts, `None`, `True`).
fn python_repr(json: &Json) -> String {
  match json {
    Json::Null => "None".to_owned(),
    Json::Bool(flag) => python_bool(*flag).to_owned(),
    Json::Number(number) => match number.as_f64() {
      Some(float) if !(number.is_i64() || number.is_u64()) => python_float(float),
      _ => number.to_string(),
    },
    Json::String(text) => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'")),
    Json::Array(items) => {
      let items: Vec<String> = items.iter().map(python_repr).collect();
      format!("[{}]", items.join(", "))
    }
    Json::Object(members) => {
      let members: Vec<String> = members
        .iter()
        .map(|(key, value)| {
          format!(
            "{}: {}",
            python_repr(&Json::String(key.clone())),
            python_repr(value)
          )
        })
        .collect();
      format!("{{{}}}", members.join(", "))
    }
  }
}

/// A CSV cell, quoted when it holds a comma, a quote or a line break (`QUOTE_MINIMAL`).
fn write_csv_cell(out: &mut Vec<u8>, text: &str) {
  if text.contains([',', '"', '\r', '\n']) {
    out.push(b'"');
    out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
    out.push(b'"');
  } else {
    out.extend_from_slice(text.as_bytes());
  }
}

#[cfg(test)]
mod tests {
  use chrono::TimeZone;
  use entity::{intervals, laps};

  use super::*;

  fn instant(micros: u32) -> DateTime<Utc> {
    Utc
      .with_ymd_and_hms(2026, 3, 29, 5, 14, 2)
      .single()
      .and_then(|at| at.with_nanosecond(micros * 1000))
      .expect("instant")
  }

  #[test]
  fn timestamps_carry_six_digits_or_none() {
    assert_eq!(
      format_timestamp(instant(78_000)),
      "2026-03-29T05:14:02.078000+00:00"
    );
    assert_eq!(format_timestamp(instant(0)), "2026-03-29T05:14:02+00:00");
  }

  fn lap() -> laps::Model {
    laps::Model {
      session_key: 9472,
      driver_number: 1,
      lap_number: 2,
      meeting_key: 1229,
      date_start: Some(instant(0)),
      duration_sector_1: Some(31.5),
      duration_sector_2: None,
      duration_sector_3: Some(30.0),
      lap_duration: None,
      i1_speed: Some(250),
      i2_speed: None,
      st_speed: None,
      is_pit_out_lap: Some(false),
      segments_sector_1: Some(serde_json::json!([2049, 2051, null])),
      segments_sector_2: None,
      segments_sector_3: None,
    }
  }

  #[test]
  fn json_rows_have_every_field_with_upstream_types() {
    let mut writer = RowWriter::<laps::Entity>::new(Endpoint::Laps, Format::Json);
    let mut out = Vec::new();
    writer.write_row(&lap(), &mut out);
    writer.finish(&mut out);
    let rows: Json = serde_json::from_slice(&out).expect("json");
    let row = &rows[0];
    assert_eq!(row["date_start"], "2026-03-29T05:14:02+00:00");
    assert_eq!(row["duration_sector_3"], 30.0);
    assert_eq!(row["is_pit_out_lap"], false);
    assert_eq!(
      row["segments_sector_1"],
      serde_json::json!([2049, 2051, null])
    );
    assert!(row["lap_duration"].is_null());
    assert_eq!(row.as_object().map(serde_json::Map::len), Some(16));
  }

  #[test]
  fn csv_rows_follow_python_str() {
    let mut writer = RowWriter::<laps::Entity>::new(Endpoint::Laps, Format::Csv);
    let mut out = Vec::new();
    writer.write_row(&lap(), &mut out);
    let text = String::from_utf8(out).expect("utf-8");
    let mut lines = text.split("\r\n");
    assert_eq!(
      lines.next(),
      Some(
        "date_start,driver_number,duration_sector_1,duration_sector_2,duration_sector_3,i1_speed,i2_speed,\
         is_pit_out_lap,lap_duration,lap_number,meeting_key,segments_sector_1,segments_sector_2,\
         segments_sector_3,session_key,st_speed"
      )
    );
    assert_eq!(
      lines.next(),
      Some(
        "2026-03-29 05:14:02+00:00,1,31.5,,30.0,250,,False,,2,1229,\"[2049, 2051, None]\",,,9472,"
      )
    );
  }

  #[test]
  fn a_gap_is_a_number_or_a_text() {
    let mut writer = RowWriter::<intervals::Entity>::new(Endpoint::Intervals, Format::Json);
    let mut out = Vec::new();
    writer.write_row(
      &intervals::Model {
        session_key: 1,
        driver_number: 2,
        date: instant(500),
        meeting_key: 3,
        gap_to_leader: None,
        gap_to_leader_text: Some("+1 LAP".to_owned()),
        interval: Some(0.207),
        interval_text: None,
      },
      &mut out,
    );
    writer.finish(&mut out);
    let rows: Json = serde_json::from_slice(&out).expect("json");
    assert_eq!(rows[0]["gap_to_leader"], "+1 LAP");
    assert_eq!(rows[0]["interval"], 0.207);
    assert_eq!(rows[0]["date"], "2026-03-29T05:14:02.000500+00:00");
  }
}
