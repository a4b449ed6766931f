//! The Open F1 query language: raw query-string parsing, value casting and row matching (spec §3).

use std::cmp::Ordering;

use chrono::{DateTime, TimeDelta, Utc};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::time::parse_datetime;

/// Fields whose values are never cast (they look like times or numbers but are strings).
const NEVER_CAST: [&str; 2] = ["gmt_offset", "team_colour"];

/// Fields upstream stores as datetimes (JSON shows them as strings): only datetime filters compare with them, and
/// datetime filters compare with nothing else.
pub const DATETIME_FIELDS: [&str; 3] = ["date", "date_start", "date_end"];

/// A comparison operator of a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
  /// `=`
  Equal,
  /// `>`
  Greater,
  /// `>=`
  GreaterOrEqual,
  /// `<`
  Less,
  /// `<=`
  LessOrEqual,
}

impl Operator {
  fn accepts(self, ordering: Ordering) -> bool {
    match self {
      Self::Equal => ordering == Ordering::Equal,
      Self::Greater => ordering == Ordering::Greater,
      Self::GreaterOrEqual => ordering != Ordering::Less,
      Self::Less => ordering == Ordering::Less,
      Self::LessOrEqual => ordering != Ordering::Greater,
    }
  }

  fn is_lower_bound(self) -> bool {
    matches!(self, Self::Greater | Self::GreaterOrEqual)
  }

  fn is_upper_bound(self) -> bool {
    matches!(self, Self::Less | Self::LessOrEqual)
  }
}

/// A filter value after casting.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterValue {
  /// `true` / `false`.
  Bool(bool),
  /// An integer.
  Integer(i64),
  /// A floating-point number.
  Float(f64),
  /// A datetime; `date_only` for a bare `YYYY-MM-DD`.
  DateTime {
    /// The instant.
    instant: DateTime<Utc>,
    /// Whether the input had no time part.
    date_only: bool,
  },
  /// Anything else, compared exactly.
  Text(String),
}

impl FilterValue {
  /// Casts a raw value like upstream: bool, int, float, datetime, else string; some fields are never cast.
  #[must_use]
  pub fn cast(field: &str, raw: &str) -> Self {
    if NEVER_CAST.contains(&field) {
      return Self::Text(raw.to_owned());
    }
    match raw.to_ascii_lowercase().as_str() {
      "true" => return Self::Bool(true),
      "false" => return Self::Bool(false),
      _ => {}
    }
    // Python's int() and float() ignore surrounding whitespace.
    if let Ok(integer) = raw.trim().parse::<i64>() {
      return Self::Integer(integer);
    }
    if let Ok(float) = raw.trim().parse::<f64>() {
      return Self::Float(float);
    }
    if let Some(parsed) = parse_datetime(raw) {
      return Self::DateTime {
        instant: parsed.instant,
        date_only: parsed.date_only,
      };
    }
    Self::Text(raw.to_owned())
  }

  /// Python truthiness (how upstream reads `csv`).
  #[must_use]
  pub fn is_truthy(&self) -> bool {
    match self {
      Self::Bool(flag) => *flag,
      Self::Integer(integer) => *integer != 0,
      Self::Float(float) => *float != 0.0,
      Self::DateTime { .. } => true,
      Self::Text(text) => !text.is_empty(),
    }
  }

  /// Compares the value of row field `field` against this filter value; `None` when the types cannot be compared
  /// (as in MongoDB: a datetime field only with datetimes, a string only with strings).
  fn compare_row(&self, field: &str, row_value: &Value) -> Option<Ordering> {
    let datetime_field = DATETIME_FIELDS.contains(&field);
    if datetime_field != matches!(self, Self::DateTime { .. }) {
      return None;
    }
    match (self, row_value) {
      (Self::Bool(expected), Value::Bool(actual)) => Some(actual.cmp(expected)),
      (Self::Integer(expected), Value::Number(actual)) => match actual.as_i64() {
        Some(actual) => Some(actual.cmp(expected)),
        #[allow(clippy::cast_precision_loss)]
        None => actual.as_f64()?.partial_cmp(&(*expected as f64)),
      },
      (Self::Float(expected), Value::Number(actual)) => actual.as_f64()?.partial_cmp(expected),
      (Self::DateTime { instant, .. }, Value::String(actual)) => {
        Some(parse_datetime(actual)?.instant.cmp(instant))
      }
      (Self::Text(expected), Value::String(actual)) => Some(actual.as_str().cmp(expected.as_str())),
      _ => None,
    }
  }

  /// Orders two filter values of comparable types (used to pair range bounds).
  fn compare(&self, other: &Self) -> Option<Ordering> {
    match (self, other) {
      (Self::Bool(left), Self::Bool(right)) => Some(left.cmp(right)),
      (Self::Integer(left), Self::Integer(right)) => Some(left.cmp(right)),
      #[allow(clippy::cast_precision_loss)]
      (Self::Integer(left), Self::Float(right)) => (*left as f64).partial_cmp(right),
      #[allow(clippy::cast_precision_loss)]
      (Self::Float(left), Self::Integer(right)) => left.partial_cmp(&(*right as f64)),
      (Self::Float(left), Self::Float(right)) => left.partial_cmp(right),
      (Self::DateTime { instant: left, .. }, Self::DateTime { instant: right, .. }) => {
        Some(left.cmp(right))
      }
      (Self::Text(left), Self::Text(right)) => Some(left.cmp(right)),
      _ => None,
    }
  }
}

/// One `field op value` term of a query, before casting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
  /// Field name, lower-cased.
  pub field: String,
  /// Operator.
  pub operator: Operator,
  /// Raw (decoded, uncast) value.
  pub value: String,
}

/// A parsed query string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedQuery {
  /// Filter terms in query order.
  pub conditions: Vec<Condition>,
  /// `csv=true` was given.
  pub csv: bool,
}

fn decode(raw: &str) -> String {
  let spaced = raw.replace('+', " ");
  percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// Upstream's operators in the order it looks for them (`query_params.py`, `COMPARISON_OPERATORS_TO_MONGO`).
const OPERATORS: [(&str, Operator); 5] = [
  (">=", Operator::GreaterOrEqual),
  ("<=", Operator::LessOrEqual),
  ("=", Operator::Equal),
  (">", Operator::Greater),
  ("<", Operator::Less),
];

/// The first of upstream's operators that `term` contains, split at its first occurrence.
fn split_operator(term: &str) -> Option<(&str, Operator, &str)> {
  OPERATORS.iter().find_map(|(symbol, operator)| {
    term
      .split_once(symbol)
      .map(|(field, value)| (field, *operator, value))
  })
}

/// Upstream's repair of a `+HH:MM` offset whose `+` arrived as a space: a term mentioning `date` that ends in
/// ` HH:MM` gets its first space replaced by `+`.
fn repair_offset(term: String) -> String {
  let bytes = term.as_bytes();
  let ends_with_offset = bytes.len() >= 6
    && bytes[bytes.len() - 6] == b' '
    && bytes[bytes.len() - 5..]
      .iter()
      .enumerate()
      .all(|(index, byte)| {
        if index == 2 {
          *byte == b':'
        } else {
          byte.is_ascii_digit()
        }
      });
  if term.contains("date") && ends_with_offset {
    term.replacen(' ', "+", 1)
  } else {
    term
  }
}

/// A query term without any operator; upstream fails on it (`ValueError`, answered 500).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("No valid operator found in `{0}`.")]
pub struct NoOperator(pub String);

/// Parses a raw query string like upstream: each `&`-separated part is split at its first `=`, key and value are
/// percent-decoded separately, then rejoined as `key=value` (or the bare key when the value is empty), so
/// `position%3C=3` means `position<=3` and `date>2023-09-16T13:03:35.200` (no `=`) means `date > …`. The operator
/// is the first of `>=`, `<=`, `=`, `>`, `<` the term contains. The first `csv` term decides the format by Python
/// truthiness of its cast value.
///
/// # Errors
/// [`NoOperator`] for a term without an operator (`?driver_number`, `?driver_number=`).
pub fn parse_query(raw_query: &str) -> Result<ParsedQuery, NoOperator> {
  let mut parsed = ParsedQuery::default();
  let mut csv_seen = false;
  for part in raw_query.split('&').filter(|part| !part.is_empty()) {
    let (key, value) = match part.split_once('=') {
      Some((key, value)) => (decode(key), decode(value)),
      None => (decode(part), String::new()),
    };
    let term = repair_offset(if value.is_empty() {
      key
    } else {
      format!("{key}={value}")
    });
    let Some((field, operator, value)) = split_operator(&term) else {
      return Err(NoOperator(term));
    };
    let field = field.to_lowercase();
    if field == "csv" {
      if !csv_seen {
        parsed.csv = FilterValue::cast(&field, value).is_truthy();
        csv_seen = true;
      }
      continue;
    }
    parsed.conditions.push(Condition {
      field,
      operator,
      value: value.to_owned(),
    });
  }
  Ok(parsed)
}

/// Session and meeting keys that `latest` stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatestSession {
  /// `session_key` of the latest session.
  pub session_key: i64,
  /// Its `meeting_key`.
  pub meeting_key: i64,
}

type Predicate = (Operator, FilterValue);

/// The predicate on one field: alternatives OR-ed, each a conjunction.
#[derive(Clone, Debug)]
struct FieldPredicate {
  field: String,
  alternatives: Vec<Vec<Predicate>>,
}

/// A compiled query: per field, equalities OR-ed, bounds paired into ranges; fields AND-ed.
#[derive(Clone, Debug, Default)]
pub struct Filter {
  fields: Vec<FieldPredicate>,
}

impl Filter {
  /// Casts and groups the query's conditions. `latest` (for `session_key`/`meeting_key`) becomes `latest_session`'s
  /// key, or matches nothing when there is none.
  #[must_use]
  pub fn new(query: &ParsedQuery, latest_session: Option<LatestSession>) -> Self {
    let mut grouped: Vec<(String, Vec<Predicate>)> = Vec::new();
    for condition in &query.conditions {
      let value = match (condition.field.as_str(), condition.value.as_str()) {
        ("session_key", "latest") => latest_session.map_or_else(
          || FilterValue::Text("latest".to_owned()),
          |latest| FilterValue::Integer(latest.session_key),
        ),
        ("meeting_key", "latest") => latest_session.map_or_else(
          || FilterValue::Text("latest".to_owned()),
          |latest| FilterValue::Integer(latest.meeting_key),
        ),
        (field, raw) => FilterValue::cast(field, raw),
      };
      let predicates = expand_date_only(condition.operator, value);
      match grouped
        .iter_mut()
        .find(|(field, _)| *field == condition.field)
      {
        Some((_, existing)) => existing.extend(predicates),
        None => grouped.push((condition.field.clone(), predicates)),
      }
    }
    Self {
      fields: grouped
        .into_iter()
        .map(|(field, predicates)| FieldPredicate {
          field,
          alternatives: combine(predicates),
        })
        .collect(),
    }
  }

  /// Whether `row` satisfies every field's predicate. Missing fields, nulls and arrays never match.
  #[must_use]
  pub fn matches(&self, row: &Value) -> bool {
    self.fields.iter().all(|predicate| {
      let Some(row_value) = row.get(&predicate.field) else {
        return false;
      };
      predicate.alternatives.iter().any(|conjunction| {
        conjunction.iter().all(|(operator, value)| {
          value
            .compare_row(&predicate.field, row_value)
            .is_some_and(|ordering| operator.accepts(ordering))
        })
      })
    })
  }
}

/// Bare dates cover a whole day: `=D` ⇒ `>=D & <D+1`, `>D` ⇒ `>=D+1`, `<=D` ⇒ `<D+1`.
fn expand_date_only(operator: Operator, value: FilterValue) -> Vec<Predicate> {
  let FilterValue::DateTime {
    instant,
    date_only: true,
  } = value
  else {
    return vec![(operator, value)];
  };
  let day = |instant| FilterValue::DateTime {
    instant,
    date_only: false,
  };
  let Some(next_day) = instant.checked_add_signed(TimeDelta::days(1)) else {
    return vec![(operator, day(instant))];
  };
  match operator {
    Operator::Equal => vec![
      (Operator::GreaterOrEqual, day(instant)),
      (Operator::Less, day(next_day)),
    ],
    Operator::Greater => vec![(Operator::GreaterOrEqual, day(next_day))],
    Operator::LessOrEqual => vec![(Operator::Less, day(next_day))],
    Operator::GreaterOrEqual | Operator::Less => vec![(operator, day(instant))],
  }
}

/// Upstream's combination (db.py `_generate_query_predicate`, `_get_bounded_inequality_predicate_pairs`), step for
/// step: duplicates dropped; lower and upper bounds sorted by value, largest first (a stable sort); lower bounds
/// taken from the end (smallest first), each paired with the smallest upper bound not below it, stopping at the first
/// that finds none. Equalities, unpaired bounds and ranges are the alternatives.
fn combine(predicates: Vec<Predicate>) -> Vec<Vec<Predicate>> {
  let mut unique: Vec<Predicate> = Vec::new();
  for predicate in predicates {
    if !unique.contains(&predicate) {
      unique.push(predicate);
    }
  }
  let largest_first =
    |left: &Predicate, right: &Predicate| right.1.compare(&left.1).unwrap_or(Ordering::Equal);
  let mut lower: Vec<Predicate> = unique
    .iter()
    .filter(|(operator, _)| operator.is_lower_bound())
    .cloned()
    .collect();
  let mut upper: Vec<Predicate> = unique
    .iter()
    .filter(|(operator, _)| operator.is_upper_bound())
    .cloned()
    .collect();
  lower.sort_by(largest_first);
  upper.sort_by(largest_first);
  let mut ranges = Vec::new();
  while !upper.is_empty() {
    let Some(lower_bound) = lower.pop() else {
      break;
    };
    let closest = (0..upper.len()).rev().find(|index| {
      matches!(
        lower_bound.1.compare(&upper[*index].1),
        Some(Ordering::Less | Ordering::Equal)
      )
    });
    match closest {
      Some(index) => {
        let upper_bound = upper.remove(index);
        ranges.push(vec![lower_bound, upper_bound]);
      }
      None => {
        lower.push(lower_bound);
        break;
      }
    }
  }
  let mut alternatives: Vec<Vec<Predicate>> = unique
    .into_iter()
    .filter(|predicate| {
      predicate.0 == Operator::Equal || lower.contains(predicate) || upper.contains(predicate)
    })
    .map(|predicate| vec![predicate])
    .collect();
  alternatives.extend(ranges);
  alternatives
}

#[cfg(test)]
mod tests {
  use serde_json::json;

  use super::*;

  fn matching(query: &str, rows: &[Value]) -> usize {
    let filter = Filter::new(&parse_query(query).expect("parse"), None);
    rows.iter().filter(|row| filter.matches(row)).count()
  }

  #[test]
  fn operators_are_found_in_upstream_order() {
    let parsed =
      parse_query("position%3C=3&date>2023-09-16T13:03:35.200&speed>=315&lap_number<5&x=1")
        .expect("parse");
    let terms: Vec<(&str, Operator, &str)> = parsed
      .conditions
      .iter()
      .map(|condition| {
        (
          condition.field.as_str(),
          condition.operator,
          condition.value.as_str(),
        )
      })
      .collect();
    assert_eq!(
      terms,
      vec![
        ("position", Operator::LessOrEqual, "3"),
        ("date", Operator::Greater, "2023-09-16T13:03:35.200"),
        ("speed", Operator::GreaterOrEqual, "315"),
        ("lap_number", Operator::Less, "5"),
        ("x", Operator::Equal, "1"),
      ]
    );
  }

  #[test]
  fn values_are_decoded_and_csv_is_not_a_filter() {
    let parsed = parse_query("flag=BLACK%20AND%20WHITE&csv=true&Driver_Number=1").expect("parse");
    assert!(parsed.csv);
    assert_eq!(parsed.conditions[0].value, "BLACK AND WHITE");
    assert_eq!(parsed.conditions[1].field, "driver_number");
  }

  #[test]
  fn values_are_cast_in_upstream_order() {
    assert_eq!(FilterValue::cast("x", "true"), FilterValue::Bool(true));
    assert_eq!(FilterValue::cast("x", "55"), FilterValue::Integer(55));
    assert_eq!(FilterValue::cast("x", "1.5"), FilterValue::Float(1.5));
    assert!(matches!(
      FilterValue::cast("date", "2024-03-02"),
      FilterValue::DateTime {
        date_only: true,
        ..
      }
    ));
    assert_eq!(
      FilterValue::cast("gmt_offset", "09:00:00"),
      FilterValue::Text("09:00:00".to_owned())
    );
    assert_eq!(
      FilterValue::cast("team_colour", "3671C6"),
      FilterValue::Text("3671C6".to_owned())
    );
  }

  #[test]
  fn repeated_equalities_are_or_ed_and_bounds_pair_into_ranges() {
    let rows: Vec<Value> = (1..=20)
      .map(|position| json!({ "position": position }))
      .collect();
    assert_eq!(matching("position=1&position=3", &rows), 2);
    assert_eq!(
      matching("position>=4&position<=7&position>=10&position<=15", &rows),
      10
    );
    assert_eq!(matching("position=1&position>=4&position<=7", &rows), 5);
    assert_eq!(matching("position>18&position<2", &rows), 3);
  }

  #[test]
  fn bare_dates_cover_whole_days() {
    let rows = vec![
      json!({"date": "2024-03-01T23:59:59+00:00"}),
      json!({"date": "2024-03-02T00:00:00+00:00"}),
      json!({"date": "2024-03-02T15:00:00.5+00:00"}),
      json!({"date": "2024-03-03T00:00:00+00:00"}),
    ];
    assert_eq!(matching("date=2024-03-02", &rows), 2);
    assert_eq!(matching("date>2024-03-02", &rows), 1);
    assert_eq!(matching("date<=2024-03-02", &rows), 3);
    assert_eq!(matching("date<2024-03-02", &rows), 1);
    assert_eq!(matching("date>=2024-03-02", &rows), 3);
  }

  #[test]
  fn a_term_without_operator_fails_like_upstream() {
    assert_eq!(
      parse_query("driver_number"),
      Err(NoOperator("driver_number".to_owned()))
    );
    assert!(parse_query("driver_number=").is_err());
    assert!(parse_query("csv=1").expect("parse").csv);
    assert!(!parse_query("csv=false&csv=true").expect("parse").csv);
  }

  #[test]
  fn text_never_matches_a_datetime_field_nor_a_datetime_another_field() {
    let rows = vec![json!({"date": "2024-03-02T00:00:00+00:00", "name": "2024-03-02"})];
    assert_eq!(matching("date>2024-03", &rows), 0);
    assert_eq!(matching("name=2024-03-02", &rows), 0);
    assert_eq!(matching("=1", &rows), 0);
  }

  #[test]
  fn arrays_nulls_and_missing_fields_never_match() {
    let rows = vec![json!({"segments_sector_1": [2049], "position": null})];
    assert_eq!(matching("segments_sector_1=2049", &rows), 0);
    assert_eq!(matching("position<=20", &rows), 0);
    assert_eq!(matching("missing=1", &rows), 0);
  }
}
