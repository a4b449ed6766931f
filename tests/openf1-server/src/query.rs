//! Evaluating Open F1 filters in memory over recorded rows. The language itself (parsing, casting, grouping into
//! alternatives and ranges) is the `openf1_query` crate's, shared with the api; evaluating it here stays independent
//! of the api's SQL compilation, so the differential test compares two evaluators of one language.

use std::cmp::Ordering;

use openf1_query::{Filter, Operator, Value as FilterValue, parse_datetime};
use serde_json::Value;

/// Fields upstream stores as datetimes (JSON shows them as strings): only datetime filters compare with them, and
/// datetime filters compare with nothing else; keys and sorting compare them as instants, and the replay moves
/// them to wall-clock time.
pub const DATETIME_FIELDS: [&str; 3] = ["date", "date_start", "date_end"];

/// Whether a value that orders as `ordering` against the filter value passes `operator`.
fn accepts(operator: Operator, ordering: Ordering) -> bool {
  match operator {
    Operator::Equal => ordering == Ordering::Equal,
    Operator::Greater => ordering == Ordering::Greater,
    Operator::GreaterOrEqual => ordering != Ordering::Less,
    Operator::Less => ordering == Ordering::Less,
    Operator::LessOrEqual => ordering != Ordering::Greater,
  }
}

/// Compares the value of row field `field` against the filter value `expected`; `None` when the types cannot be
/// compared (as in MongoDB: a datetime field only with datetimes, a string only with strings).
fn compare_row(field: &str, row_value: &Value, expected: &FilterValue) -> Option<Ordering> {
  let datetime_field = DATETIME_FIELDS.contains(&field);
  if datetime_field != matches!(expected, FilterValue::DateTime(_)) {
    return None;
  }
  match (expected, row_value) {
    (FilterValue::Bool(expected), Value::Bool(actual)) => Some(actual.cmp(expected)),
    (FilterValue::Integer(expected), Value::Number(actual)) => match actual.as_i64() {
      Some(actual) => Some(actual.cmp(expected)),
      #[allow(clippy::cast_precision_loss)]
      None => actual.as_f64()?.partial_cmp(&(*expected as f64)),
    },
    (FilterValue::Float(expected), Value::Number(actual)) => actual.as_f64()?.partial_cmp(expected),
    (FilterValue::DateTime(instant), Value::String(actual)) => {
      Some(parse_datetime(actual)?.instant.cmp(instant))
    }
    (FilterValue::Text(expected), Value::String(actual)) => {
      Some(actual.as_str().cmp(expected.as_str()))
    }
    _ => None,
  }
}

/// Whether `row` satisfies every field's filter: one of its alternatives, all of whose predicates hold. Missing
/// fields, nulls and arrays never match.
#[must_use]
pub fn row_matches(filter: &Filter, row: &Value) -> bool {
  filter.fields.iter().all(|field_filter| {
    let Some(row_value) = row.get(&field_filter.field) else {
      return false;
    };
    field_filter.alternatives.iter().any(|conjunction| {
      conjunction.iter().all(|predicate| {
        compare_row(&field_filter.field, row_value, &predicate.value)
          .is_some_and(|ordering| accepts(predicate.operator, ordering))
      })
    })
  })
}

#[cfg(test)]
mod tests {
  use openf1_query::parse_query;
  use serde_json::json;

  use super::*;

  fn matching(query: &str, rows: &[Value]) -> usize {
    let filter = Filter::new(&parse_query(query).expect("parse"), None);
    rows.iter().filter(|row| row_matches(&filter, row)).count()
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
  fn different_fields_are_and_ed() {
    let rows = vec![
      json!({"driver_number": 1, "lap_number": 4}),
      json!({"driver_number": 1, "lap_number": 5}),
      json!({"driver_number": 44, "lap_number": 5}),
    ];
    assert_eq!(matching("driver_number=1&lap_number>=5", &rows), 1);
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
