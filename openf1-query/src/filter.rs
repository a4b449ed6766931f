//! The terms of a query cast and grouped: per field, OR-ed alternatives (each a conjunction); fields AND-ed.

use std::cmp::Ordering;
use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::parse::{Operator, ParsedQuery};
use crate::value::Value;

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
      let (value, date_only) = match (term.field.as_str(), term.value.as_str(), latest_session) {
        ("session_key", "latest", Some(latest)) => (Value::Integer(latest.session_key), false),
        ("meeting_key", "latest", Some(latest)) => (Value::Integer(latest.meeting_key), false),
        (field, raw, _) => Value::cast_with_day(field, raw),
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

/// A date without time covers its whole day (upstream `_adjust_time_param`): `=D` ⇒ `>=D` and `<D+1`, `>D` ⇒
/// `>=D+1`, `<=D` ⇒ `<D+1`; `>=D` and `<D` are unchanged.
fn expand_whole_day(operator: Operator, value: Value, date_only: bool) -> Vec<Predicate> {
  let day = match value {
    Value::DateTime(day) if date_only => day,
    value => return vec![Predicate { operator, value }],
  };
  let predicate = |operator, instant| Predicate {
    operator,
    value: Value::DateTime(instant),
  };
  // Where the day ends: at the next midnight, or, for the last representable day, which has no next day, at the
  // end of time (included).
  let (before_end, after_end) = match day.checked_add_signed(TimeDelta::days(1)) {
    Some(next_day) => (
      predicate(Operator::Less, next_day),
      predicate(Operator::GreaterOrEqual, next_day),
    ),
    None => (
      predicate(Operator::LessOrEqual, DateTime::<Utc>::MAX_UTC),
      predicate(Operator::Greater, DateTime::<Utc>::MAX_UTC),
    ),
  };
  match operator {
    Operator::Equal => vec![predicate(Operator::GreaterOrEqual, day), before_end],
    Operator::Greater => vec![after_end],
    Operator::LessOrEqual => vec![before_end],
    Operator::GreaterOrEqual | Operator::Less => vec![predicate(operator, day)],
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
  let bounds = |is_bound: fn(Operator) -> bool| {
    let mut bounds: Vec<Predicate> = unique
      .iter()
      .filter(|predicate| is_bound(predicate.operator))
      .cloned()
      .collect();
    bounds.sort_by(largest_first);
    bounds
  };
  let mut lower = bounds(Operator::is_lower_bound);
  let mut upper = bounds(Operator::is_upper_bound);
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
  use crate::parse::parse_query;

  fn filter(query: &str) -> Filter {
    Filter::new(&parse_query(query).expect("parse"), None)
  }

  fn alternatives(query: &str) -> Vec<Vec<Predicate>> {
    filter(query).fields[0].alternatives.clone()
  }

  fn instant(text: &str) -> DateTime<Utc> {
    crate::parse_datetime(text).expect("a datetime").instant
  }

  fn predicate(operator: Operator, text: &str) -> Predicate {
    Predicate {
      operator,
      value: Value::DateTime(instant(text)),
    }
  }

  #[test]
  fn equalities_are_or_ed_and_bounds_pair_into_ranges() {
    assert_eq!(alternatives("position=1&position=3").len(), 2);
    let ranges = alternatives("position>=4&position<=7&position>=10&position<=15");
    assert_eq!(ranges.len(), 2);
    assert!(ranges.iter().all(|range| range.len() == 2));
    // An equality beside a range stays its own alternative.
    assert_eq!(alternatives("position=1&position>=4&position<=7").len(), 2);
    // A lower bound above every upper bound stays alone, and so does the upper bound.
    assert_eq!(alternatives("position>18&position<2").len(), 2);
    assert_eq!(alternatives("position=1&position=1").len(), 1);
  }

  #[test]
  fn different_fields_are_kept_apart_in_order_of_first_mention() {
    let fields: Vec<String> = filter("driver_number=1&lap_number>=5&driver_number=44")
      .fields
      .into_iter()
      .map(|field| field.field)
      .collect();
    assert_eq!(fields, ["driver_number", "lap_number"]);
  }

  #[test]
  fn a_bare_date_covers_its_day() {
    let day = "2024-03-02T00:00:00+00:00";
    let next_day = "2024-03-03T00:00:00+00:00";
    let cases = [
      (
        "date=2024-03-02",
        vec![(Operator::GreaterOrEqual, day), (Operator::Less, next_day)],
      ),
      (
        "date>2024-03-02",
        vec![(Operator::GreaterOrEqual, next_day)],
      ),
      ("date<=2024-03-02", vec![(Operator::Less, next_day)]),
      ("date<2024-03-02", vec![(Operator::Less, day)]),
      ("date>=2024-03-02", vec![(Operator::GreaterOrEqual, day)]),
      // A time, even midnight, is not a whole day.
      ("date=2024-03-02T00:00", vec![(Operator::Equal, day)]),
    ];
    for (query, expected) in cases {
      let expected: Vec<Predicate> = expected
        .into_iter()
        .map(|(operator, text)| predicate(operator, text))
        .collect();
      assert_eq!(alternatives(query), [expected], "{query}");
    }
  }

  #[test]
  fn the_last_representable_day_reaches_to_the_end_of_time() {
    // The year needs its sign, written encoded (a bare `+` is a space).
    let filter = filter("date=%2B262142-12-31&date%3C%3D%2B262142-12-31&date%3E%2B262142-12-31");
    assert!(!filter.fields[0].alternatives.is_empty());
    let day = instant("+262142-12-31");
    let end = Value::DateTime(DateTime::<Utc>::MAX_UTC);
    assert_eq!(
      expand_whole_day(Operator::Equal, Value::DateTime(day), true),
      [
        Predicate {
          operator: Operator::GreaterOrEqual,
          value: Value::DateTime(day)
        },
        Predicate {
          operator: Operator::LessOrEqual,
          value: end.clone()
        }
      ]
    );
    assert_eq!(
      expand_whole_day(Operator::Greater, Value::DateTime(day), true),
      [Predicate {
        operator: Operator::Greater,
        value: end
      }]
    );
  }

  #[test]
  fn latest_becomes_the_latest_session_and_pins_it() {
    let latest = Some(LatestSession {
      session_key: 11253,
      meeting_key: 1281,
    });
    let pinned = Filter::new(&parse_query("session_key=latest").expect("parse"), latest);
    assert_eq!(pinned.pinned_session(), Some(11253));
    let meeting = Filter::new(&parse_query("meeting_key=latest").expect("parse"), latest);
    assert_eq!(
      meeting
        .field("meeting_key")
        .and_then(FieldFilter::pinned_value),
      Some(&Value::Integer(1281))
    );
    let none = Filter::new(&parse_query("session_key=latest").expect("parse"), None);
    assert_eq!(none.pinned_session(), None);
    assert_eq!(
      none
        .field("session_key")
        .and_then(FieldFilter::pinned_value),
      Some(&Value::Text("latest".to_owned()))
    );
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
