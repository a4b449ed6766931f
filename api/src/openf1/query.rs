//! Open F1's query language, parsed once into a typed [`Filter`] (upstream: `query_api/query_params.py`,
//! `util/type_casting.py`, `util/db.py`):
//!
//! 1. The query string is split like Starlette does (`&`, then the first `=`, each side percent-decoded with `+` as
//!    a space). A pair with a value is rejoined as `key=value`, a pair without one is the bare `key`; so
//!    `position%3C=3` arrives as `position<=3` and `date>2023-09-16T13:03` (no `=`) as `date>2023-09-16T13:03`.
//! 2. The operator is the first of `>=`, `<=`, `=`, `>`, `<` that the term contains, split at its first
//!    occurrence; the field is lower-cased. A term with none is an error (upstream answers 500; we answer 400).
//! 3. The value is cast: `true`/`false`, an integer, a float, a datetime (naive = UTC), else text; `gmt_offset` and
//!    `team_colour` values are never cast. `session_key=latest` / `meeting_key=latest` become the latest session's
//!    keys. A bare date covers its whole day (`=D` ⇒ `>=D` and `<D+1`, `>D` ⇒ `>=D+1`, `<=D` ⇒ `<D+1`).
//! 4. Per field, duplicate predicates are dropped; equalities are alternatives; lower and upper bounds are paired
//!    greedily into ranges (each a conjunction); the rest are alternatives. Fields are AND-ed.
//! 5. `csv` is not a filter: the first `csv` term's value, cast, decides the format by Python truthiness.

use std::cmp::Ordering;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Fields whose values upstream never casts (they look like numbers or times but are strings).
pub const NEVER_CAST_FIELDS: [&str; 2] = ["gmt_offset", "team_colour"];

/// The `key=value` pairs of a raw query string, decoded like an HTML form (`+` is a space), in order.
/// Empty parts (`a=1&&b=2`) are skipped; a part without `=` has an empty value.
pub fn query_pairs(raw_query: &str) -> impl Iterator<Item = (String, String)> + '_ {
  raw_query
    .split('&')
    .filter(|part| !part.is_empty())
    .map(|part| match part.split_once('=') {
      Some((key, value)) => (decode(key), decode(value)),
      None => (decode(part), String::new()),
    })
}

fn decode(raw: &str) -> String {
  let spaced = raw.replace('+', " ");
  percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

/// Upstream's operators in the order they are searched for.
const OPERATORS: [(&str, Operator); 5] = [
  (">=", Operator::GreaterOrEqual),
  ("<=", Operator::LessOrEqual),
  ("=", Operator::Equal),
  (">", Operator::Greater),
  ("<", Operator::Less),
];

impl Operator {
  /// The operator as written in a query.
  #[must_use]
  pub fn symbol(self) -> &'static str {
    match self {
      Self::Equal => "=",
      Self::Greater => ">",
      Self::GreaterOrEqual => ">=",
      Self::Less => "<",
      Self::LessOrEqual => "<=",
    }
  }

  fn is_lower_bound(self) -> bool {
    matches!(self, Self::Greater | Self::GreaterOrEqual)
  }

  fn is_upper_bound(self) -> bool {
    matches!(self, Self::Less | Self::LessOrEqual)
  }
}

/// Why a query string cannot be understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
  /// A term has no comparison operator (e.g. `?driver_number` or `?driver_number=` with nothing after `=`).
  #[error(
    "The query term `{0}` has no operator: write `field=value`, `field>value`, `field>=value`, `field<value` \
     or `field<=value` (percent-encode `<` and `>` as %3C and %3E)."
  )]
  NoOperator(String),
}

/// One `field operator value` term, before casting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
  /// The field, lower-cased.
  pub field: String,
  /// The operator.
  pub operator: Operator,
  /// The decoded, uncast value.
  pub value: String,
}

/// A parsed query string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedQuery {
  /// The filter terms, in query order (`csv` excluded).
  pub terms: Vec<Term>,
  /// Whether the answer is CSV.
  pub csv: bool,
}

impl ParsedQuery {
  /// Whether a term asks for `session_key=latest` or `meeting_key=latest`.
  #[must_use]
  pub fn mentions_latest(&self) -> bool {
    self.terms.iter().any(|term| {
      term.value == "latest" && matches!(term.field.as_str(), "session_key" | "meeting_key")
    })
  }
}

/// Upstream's repair of an offset whose `+` arrived as a space: a term mentioning `date` and ending in ` HH:MM`
/// gets its first space replaced by `+`.
fn repair_offset(term: String) -> String {
  let bytes = term.as_bytes();
  let ends_with_offset = bytes.len() >= 6 && {
    let tail = &bytes[bytes.len() - 6..];
    tail[0] == b' '
      && tail[1].is_ascii_digit()
      && tail[2].is_ascii_digit()
      && tail[3] == b':'
      && tail[4].is_ascii_digit()
      && tail[5].is_ascii_digit()
  };
  if term.contains("date") && ends_with_offset {
    term.replacen(' ', "+", 1)
  } else {
    term
  }
}

/// Parses a raw query string (see the module documentation).
///
/// # Errors
/// [`QueryError::NoOperator`] for a term without an operator.
pub fn parse_query(raw_query: &str) -> Result<ParsedQuery, QueryError> {
  let mut parsed = ParsedQuery::default();
  let mut csv_seen = false;
  for (key, value) in query_pairs(raw_query) {
    let term = if value.is_empty() {
      key
    } else {
      format!("{key}={value}")
    };
    let term = repair_offset(term);
    let Some((field, operator, value)) = OPERATORS.iter().find_map(|(symbol, operator)| {
      term
        .split_once(symbol)
        .map(|(field, value)| (field, *operator, value))
    }) else {
      return Err(QueryError::NoOperator(term));
    };
    let field = field.to_lowercase();
    if field == "csv" {
      if !csv_seen {
        parsed.csv = Value::cast(&field, value).is_truthy();
        csv_seen = true;
      }
      continue;
    }
    parsed.terms.push(Term {
      field,
      operator,
      value: value.to_owned(),
    });
  }
  Ok(parsed)
}

/// A filter value after casting.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
  /// `true` / `false` (any case).
  Bool(bool),
  /// An integer.
  Integer(i64),
  /// A floating-point number.
  Float(f64),
  /// A UTC instant.
  DateTime(DateTime<Utc>),
  /// Anything else, compared exactly.
  Text(String),
}

impl Value {
  /// Casts `raw` like upstream: bool, int, float, datetime, else text; `gmt_offset` and `team_colour` never.
  #[must_use]
  pub fn cast(field: &str, raw: &str) -> Self {
    Self::cast_with_day(field, raw).0
  }

  /// Like [`Value::cast`], also telling whether the value was a date without time (which covers a whole day).
  fn cast_with_day(field: &str, raw: &str) -> (Self, bool) {
    if NEVER_CAST_FIELDS.contains(&field) {
      return (Self::Text(raw.to_owned()), false);
    }
    if raw.eq_ignore_ascii_case("true") {
      return (Self::Bool(true), false);
    }
    if raw.eq_ignore_ascii_case("false") {
      return (Self::Bool(false), false);
    }
    let trimmed = raw.trim();
    if let Ok(integer) = trimmed.parse::<i64>() {
      return (Self::Integer(integer), false);
    }
    if let Ok(float) = trimmed.parse::<f64>() {
      return (Self::Float(float), false);
    }
    if let Some((instant, date_only)) = parse_datetime(raw) {
      return (Self::DateTime(instant), date_only);
    }
    (Self::Text(raw.to_owned()), false)
  }

  /// Python truthiness (how upstream reads `csv`).
  #[must_use]
  pub fn is_truthy(&self) -> bool {
    match self {
      Self::Bool(flag) => *flag,
      Self::Integer(integer) => *integer != 0,
      Self::Float(float) => *float != 0.0,
      Self::DateTime(_) => true,
      Self::Text(text) => !text.is_empty(),
    }
  }

  /// Orders two values of comparable types (used to pair bounds into ranges).
  fn compare(&self, other: &Self) -> Option<Ordering> {
    match (self, other) {
      (Self::Bool(left), Self::Bool(right)) => Some(left.cmp(right)),
      (Self::Integer(left), Self::Integer(right)) => Some(left.cmp(right)),
      #[allow(clippy::cast_precision_loss)]
      (Self::Integer(left), Self::Float(right)) => (*left as f64).partial_cmp(right),
      #[allow(clippy::cast_precision_loss)]
      (Self::Float(left), Self::Integer(right)) => left.partial_cmp(&(*right as f64)),
      (Self::Float(left), Self::Float(right)) => left.partial_cmp(right),
      (Self::DateTime(left), Self::DateTime(right)) => Some(left.cmp(right)),
      (Self::Text(left), Self::Text(right)) => Some(left.cmp(right)),
      _ => None,
    }
  }

  /// A canonical text of the value, for cache keys (types are distinguished).
  fn canonical(&self) -> String {
    match self {
      Self::Bool(flag) => format!("b:{flag}"),
      Self::Integer(integer) => format!("i:{integer}"),
      Self::Float(float) => format!("f:{float:?}"),
      Self::DateTime(instant) => format!("d:{}", instant.timestamp_micros()),
      Self::Text(text) => format!("t:{}", utf8_percent_encode(text, NON_ALPHANUMERIC)),
    }
  }
}

const OFFSET_FORMATS: [&str; 4] = [
  "%Y-%m-%dT%H:%M:%S%.f%:z",
  "%Y-%m-%d %H:%M:%S%.f%:z",
  "%Y-%m-%dT%H:%M:%S%.f%z",
  "%Y-%m-%d %H:%M:%S%.f%z",
];

const NAIVE_FORMATS: [&str; 4] = [
  "%Y-%m-%dT%H:%M:%S%.f",
  "%Y-%m-%d %H:%M:%S%.f",
  "%Y-%m-%dT%H:%M",
  "%Y-%m-%d %H:%M",
];

const DATE_FORMATS: [&str; 5] = ["%Y-%m-%d", "%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y"];

/// Parses a filter datetime: RFC 3339, `YYYY-MM-DD[T ]HH:MM[:SS[.f]]` with or without an offset (naive = UTC), or a
/// date alone (`2024-03-02`, `Mar 2, 2024`, `2 March 2024`). Returns the instant and whether it was a date alone.
#[must_use]
pub fn parse_datetime(text: &str) -> Option<(DateTime<Utc>, bool)> {
  let text = text.trim();
  if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
    return Some((parsed.with_timezone(&Utc), false));
  }
  for format in OFFSET_FORMATS {
    if let Ok(parsed) = DateTime::parse_from_str(text, format) {
      return Some((parsed.with_timezone(&Utc), false));
    }
  }
  for format in NAIVE_FORMATS {
    if let Ok(parsed) = NaiveDateTime::parse_from_str(text, format) {
      return Some((Utc.from_utc_datetime(&parsed), false));
    }
  }
  DATE_FORMATS.iter().find_map(|format| {
    let date = NaiveDate::parse_from_str(text, format).ok()?;
    Some((Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?), true))
  })
}

/// One predicate on a field: `field operator value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Predicate {
  /// The operator.
  pub operator: Operator,
  /// The value.
  pub value: Value,
}

/// The filter of one field: alternatives OR-ed, each a conjunction of predicates.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldFilter {
  /// The field, lower-cased.
  pub field: String,
  /// The alternatives.
  pub alternatives: Vec<Vec<Predicate>>,
}

impl FieldFilter {
  /// The value the field is pinned to, when the filter is a single equality.
  #[must_use]
  pub fn pinned_value(&self) -> Option<&Value> {
    match self.alternatives.as_slice() {
      [alternative] => match alternative.as_slice() {
        [
          Predicate {
            operator: Operator::Equal,
            value,
          },
        ] => Some(value),
        _ => None,
      },
      _ => None,
    }
  }
}

/// The keys `latest` stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatestSession {
  /// The latest session's key.
  pub session_key: i64,
  /// Its meeting's key.
  pub meeting_key: i64,
}

/// A compiled query: per field, alternatives; fields AND-ed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
  /// The fields' filters, in order of first mention.
  pub fields: Vec<FieldFilter>,
}

impl Filter {
  /// Casts and groups the terms of `query`; `latest` becomes `latest_session`'s keys (or stays text, matching
  /// nothing, when there is no session).
  #[must_use]
  pub fn new(query: &ParsedQuery, latest_session: Option<LatestSession>) -> Self {
    let mut grouped: Vec<(String, Vec<Predicate>)> = Vec::new();
    for term in &query.terms {
      let (value, date_only) = match (term.field.as_str(), term.value.as_str()) {
        ("session_key", "latest") => (
          latest_session.map_or_else(
            || Value::Text("latest".to_owned()),
            |latest| Value::Integer(latest.session_key),
          ),
          false,
        ),
        ("meeting_key", "latest") => (
          latest_session.map_or_else(
            || Value::Text("latest".to_owned()),
            |latest| Value::Integer(latest.meeting_key),
          ),
          false,
        ),
        (field, raw) => Value::cast_with_day(field, raw),
      };
      let predicates = expand_whole_day(term.operator, value, date_only);
      match grouped.iter_mut().find(|(field, _)| *field == term.field) {
        Some((_, existing)) => existing.extend(predicates),
        None => grouped.push((term.field.clone(), predicates)),
      }
    }
    Self {
      fields: grouped
        .into_iter()
        .map(|(field, predicates)| FieldFilter {
          field,
          alternatives: combine(predicates),
        })
        .collect(),
    }
  }

  /// The filter of `field`, if the query has one.
  #[must_use]
  pub fn field(&self, field: &str) -> Option<&FieldFilter> {
    self.fields.iter().find(|filter| filter.field == field)
  }

  /// The session the filter is pinned to (a single `session_key=K` equality), if any.
  #[must_use]
  pub fn pinned_session(&self) -> Option<i32> {
    match self.field("session_key")?.pinned_value()? {
      Value::Integer(key) => i32::try_from(*key).ok(),
      _ => None,
    }
  }

  /// A canonical text of the filter: equal for queries that must have the same answer (terms in any order,
  /// duplicates, `%3E=` vs `>=`, `latest` resolved). Used as the cache entry name.
  #[must_use]
  pub fn canonical(&self) -> String {
    let mut fields: Vec<String> = self
      .fields
      .iter()
      .map(|filter| {
        let mut alternatives: Vec<String> = filter
          .alternatives
          .iter()
          .map(|conjunction| {
            let mut predicates: Vec<String> = conjunction
              .iter()
              .map(|predicate| {
                format!(
                  "{}{}",
                  predicate.operator.symbol(),
                  predicate.value.canonical()
                )
              })
              .collect();
            predicates.sort();
            predicates.join("&")
          })
          .collect();
        alternatives.sort();
        alternatives.dedup();
        let mut text = utf8_percent_encode(&filter.field, NON_ALPHANUMERIC).to_string();
        let _ = write!(text, "({})", alternatives.join("|"));
        text
      })
      .collect();
    fields.sort();
    fields.join(",")
  }
}

/// A date without time covers its whole day (upstream `_adjust_time_param`).
fn expand_whole_day(operator: Operator, value: Value, date_only: bool) -> Vec<Predicate> {
  let Value::DateTime(instant) = value else {
    return vec![Predicate { operator, value }];
  };
  if !date_only {
    return vec![Predicate { operator, value }];
  }
  let day = Value::DateTime(instant);
  // The last representable day has no next day: it then reaches to the end of time.
  let Some(next_day) = instant.checked_add_signed(TimeDelta::days(1)) else {
    return match operator {
      Operator::Equal | Operator::GreaterOrEqual => vec![Predicate {
        operator: Operator::GreaterOrEqual,
        value: day,
      }],
      Operator::Greater => vec![Predicate {
        operator: Operator::Greater,
        value: day,
      }],
      Operator::Less => vec![Predicate {
        operator,
        value: day,
      }],
      Operator::LessOrEqual => vec![Predicate {
        operator: Operator::LessOrEqual,
        value: Value::DateTime(DateTime::<Utc>::MAX_UTC),
      }],
    };
  };
  let next_day = Value::DateTime(next_day);
  match operator {
    Operator::Equal => vec![
      Predicate {
        operator: Operator::GreaterOrEqual,
        value: day,
      },
      Predicate {
        operator: Operator::Less,
        value: next_day,
      },
    ],
    Operator::Greater => vec![Predicate {
      operator: Operator::GreaterOrEqual,
      value: next_day,
    }],
    Operator::LessOrEqual => vec![Predicate {
      operator: Operator::Less,
      value: next_day,
    }],
    Operator::GreaterOrEqual | Operator::Less => vec![Predicate {
      operator,
      value: day,
    }],
  }
}

/// Upstream's combination of one field's predicates (`db.py`, `_generate_query_predicate` and
/// `_get_bounded_inequality_predicate_pairs`), step for step: duplicates dropped; lower and upper bounds sorted by
/// value, largest first (stable), then lower bounds taken from the smallest, each paired with the smallest upper
/// bound not below it, stopping at the first lower bound that finds none. Equalities, ranges and unpaired bounds are
/// the alternatives.
fn combine(predicates: Vec<Predicate>) -> Vec<Vec<Predicate>> {
  let mut unique: Vec<Predicate> = Vec::new();
  for predicate in predicates {
    if !unique.contains(&predicate) {
      unique.push(predicate);
    }
  }
  let largest_first = |left: &Predicate, right: &Predicate| {
    right.value.compare(&left.value).unwrap_or(Ordering::Equal)
  };
  let mut lower: Vec<Predicate> = unique
    .iter()
    .filter(|predicate| predicate.operator.is_lower_bound())
    .cloned()
    .collect();
  let mut upper: Vec<Predicate> = unique
    .iter()
    .filter(|predicate| predicate.operator.is_upper_bound())
    .cloned()
    .collect();
  lower.sort_by(largest_first);
  upper.sort_by(largest_first);
  let mut ranges: Vec<Vec<Predicate>> = Vec::new();
  while !upper.is_empty() {
    let Some(lower_bound) = lower.pop() else {
      break;
    };
    let closest = (0..upper.len()).rev().find(|index| {
      matches!(
        lower_bound.value.compare(&upper[*index].value),
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
      predicate.operator == Operator::Equal
        || lower.contains(predicate)
        || upper.contains(predicate)
    })
    .map(|predicate| vec![predicate])
    .collect();
  alternatives.extend(ranges);
  alternatives
}

#[cfg(test)]
mod tests {
  use super::*;

  fn terms(query: &str) -> Vec<(String, Operator, String)> {
    parse_query(query)
      .expect("parse")
      .terms
      .into_iter()
      .map(|term| (term.field, term.operator, term.value))
      .collect()
  }

  fn term(field: &str, operator: Operator, value: &str) -> (String, Operator, String) {
    (field.to_owned(), operator, value.to_owned())
  }

  #[test]
  fn operators_are_found_like_upstream_including_the_encoded_less_than_quirk() {
    assert_eq!(
      terms(
        "position%3C=3&date>2023-09-16T13:03:35.200&speed>=315&lap_number<5&x=1&Driver_Number=4"
      ),
      vec![
        term("position", Operator::LessOrEqual, "3"),
        term("date", Operator::Greater, "2023-09-16T13:03:35.200"),
        term("speed", Operator::GreaterOrEqual, "315"),
        term("lap_number", Operator::Less, "5"),
        term("x", Operator::Equal, "1"),
        term("driver_number", Operator::Equal, "4"),
      ]
    );
    assert_eq!(
      terms("lap_number%3E%3D50&flag=BLACK%20AND%20WHITE"),
      vec![
        term("lap_number", Operator::GreaterOrEqual, "50"),
        term("flag", Operator::Equal, "BLACK AND WHITE"),
      ]
    );
    // `>=` is searched for before `=`, wherever it is.
    assert_eq!(
      terms("message=A>=B"),
      vec![term("message=a", Operator::GreaterOrEqual, "B")]
    );
  }

  #[test]
  fn a_term_without_operator_is_an_error() {
    assert_eq!(
      parse_query("driver_number"),
      Err(QueryError::NoOperator("driver_number".to_owned()))
    );
    assert!(parse_query("driver_number=").is_err());
    assert!(parse_query("a=1&&b=2").is_ok());
  }

  #[test]
  fn csv_takes_the_first_value_by_python_truthiness() {
    assert!(parse_query("csv=true").expect("parse").csv);
    assert!(parse_query("csv=1").expect("parse").csv);
    assert!(parse_query("CSV=yes").expect("parse").csv);
    assert!(!parse_query("csv=false").expect("parse").csv);
    assert!(!parse_query("csv=0&csv=true").expect("parse").csv);
    assert!(parse_query("csv=true").expect("parse").terms.is_empty());
  }

  #[test]
  fn an_offset_whose_plus_became_a_space_is_repaired() {
    assert_eq!(
      terms("date>2023-09-16T13:03:35+02:00"),
      vec![term("date", Operator::Greater, "2023-09-16T13:03:35+02:00")]
    );
  }

  #[test]
  fn values_are_cast_in_upstream_order() {
    assert_eq!(Value::cast("x", "TRUE"), Value::Bool(true));
    assert_eq!(Value::cast("x", "55"), Value::Integer(55));
    assert_eq!(Value::cast("x", "-1.5"), Value::Float(-1.5));
    assert!(matches!(Value::cast("x", "2024-03-02"), Value::DateTime(_)));
    assert!(matches!(
      Value::cast("x", "Mar 2, 2024"),
      Value::DateTime(_)
    ));
    assert_eq!(Value::cast("x", "SOFT"), Value::Text("SOFT".to_owned()));
    assert_eq!(
      Value::cast("team_colour", "000000"),
      Value::Text("000000".to_owned())
    );
    assert_eq!(
      Value::cast("gmt_offset", "09:00:00"),
      Value::Text("09:00:00".to_owned())
    );
  }

  #[test]
  fn datetimes_parse_with_and_without_offset_and_dates_alone_are_flagged() {
    let expected = parse_datetime("2023-09-16T13:03:35.200000+00:00").map(|(instant, _)| instant);
    assert!(expected.is_some());
    for text in [
      "2023-09-16T13:03:35.200",
      "2023-09-16 13:03:35.2",
      "2023-09-16T15:03:35.2+02:00",
      "2023-09-16T13:03:35.2Z",
    ] {
      assert_eq!(
        parse_datetime(text).map(|(instant, _)| instant),
        expected,
        "{text}"
      );
    }
    assert_eq!(parse_datetime("2024-03-02").map(|(_, day)| day), Some(true));
    assert_eq!(
      parse_datetime("2024-03-02T00:00").map(|(_, day)| day),
      Some(false)
    );
    assert_eq!(parse_datetime("2024"), None);
  }

  fn filter(query: &str) -> Filter {
    Filter::new(&parse_query(query).expect("parse"), None)
  }

  #[test]
  fn equalities_are_or_ed_and_bounds_pair_into_ranges() {
    let position = |query: &str| filter(query).fields[0].alternatives.clone();
    assert_eq!(position("position=1&position=3").len(), 2);
    let ranges = position("position>=4&position<=7&position>=10&position<=15");
    assert_eq!(ranges.len(), 2);
    assert!(ranges.iter().all(|range| range.len() == 2));
    // A lower bound above every upper bound stays alone, and so does the upper bound.
    assert_eq!(position("position>18&position<2").len(), 2);
    assert_eq!(position("position=1&position=1").len(), 1);
  }

  #[test]
  fn a_bare_date_covers_its_day() {
    let date = |query: &str| filter(query).fields[0].alternatives.clone();
    let equal = date("date=2024-03-02");
    assert_eq!(equal.len(), 1);
    assert_eq!(equal[0].len(), 2);
    assert_eq!(equal[0][0].operator, Operator::GreaterOrEqual);
    assert_eq!(equal[0][1].operator, Operator::Less);
    assert_eq!(
      date("date>2024-03-02")[0][0].operator,
      Operator::GreaterOrEqual
    );
    assert_eq!(date("date<=2024-03-02")[0][0].operator, Operator::Less);
  }

  #[test]
  fn the_last_representable_day_does_not_overflow() {
    let filter = filter("date=262142-12-31&date%3C%3D262142-12-31&date%3E262142-12-31");
    assert!(!filter.fields[0].alternatives.is_empty());
  }

  #[test]
  fn latest_becomes_the_latest_session_and_pins_it() {
    let latest = Some(LatestSession {
      session_key: 11253,
      meeting_key: 1281,
    });
    let pinned = Filter::new(&parse_query("session_key=latest").expect("parse"), latest);
    assert_eq!(pinned.pinned_session(), Some(11253));
    let none = Filter::new(&parse_query("session_key=latest").expect("parse"), None);
    assert_eq!(none.pinned_session(), None);
    assert_eq!(filter("session_key=1&session_key=2").pinned_session(), None);
  }

  #[test]
  fn equivalent_queries_have_the_same_canonical_text() {
    assert_eq!(
      filter("driver_number=1&driver_number=44&lap_number%3E%3D5").canonical(),
      filter("lap_number>=5&driver_number=44&driver_number=1&driver_number=1").canonical()
    );
    assert_ne!(
      filter("driver_number=1").canonical(),
      filter("driver_number=1.0").canonical()
    );
  }
}
