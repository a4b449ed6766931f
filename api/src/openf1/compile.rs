//! A [`Filter`] checked against an endpoint's fields and turned into SeaORM conditions (no SQL from strings).
//!
//! Matching follows upstream's MongoDB semantics: a predicate compares values of the same type only (numbers with
//! numbers, strings with strings, datetimes with datetimes, booleans with booleans), so a value of another type,
//! a null, an array or a field the endpoint does not have never matches. String comparisons are exact and
//! case-sensitive (binary on MySQL, whatever the column's collation).

use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{DatabaseBackend, EntityTrait, IdenStatic, Iterable};

use openf1_query::{ANSWER_SORT_FIELDS, Filter, Operator, Predicate, Value};

use crate::openf1::catalogue::{Endpoint, EndpointCatalogue, Field, FieldKind, TIE_FIELDS};

/// A filter ready to run against entity `E`'s table.
#[derive(Clone, Debug)]
pub enum Compiled {
  /// No row can match (a field the endpoint lacks, or values of the wrong type only): the answer is empty.
  Nothing,
  /// Rows matching the condition (an empty condition matches every row).
  Rows(Condition),
}

/// The column of `E` named `name`.
fn column<E: EntityTrait>(name: &str) -> Option<E::Column> {
  E::Column::iter().find(|column| column.as_str() == name)
}

/// Compiles `filter` for `endpoint`, whose table is `E`'s, on `backend`.
#[must_use]
pub fn compile<E: EntityTrait>(
  filter: &Filter,
  endpoint: Endpoint,
  backend: DatabaseBackend,
) -> Compiled {
  let mut condition = Condition::all();
  for field_filter in &filter.fields {
    let Some(field) = endpoint.field(&field_filter.field) else {
      return Compiled::Nothing;
    };
    let mut any = Condition::any();
    let mut viable = 0_usize;
    for conjunction in &field_filter.alternatives {
      let expressions: Option<Vec<SimpleExpr>> = conjunction
        .iter()
        .map(|predicate| predicate_expression::<E>(field, predicate, backend))
        .collect();
      if let Some(expressions) = expressions {
        let mut all = Condition::all();
        for expression in expressions {
          all = all.add(expression);
        }
        any = any.add(all);
        viable += 1;
      }
    }
    if viable == 0 {
      return Compiled::Nothing;
    }
    condition = condition.add(any);
  }
  Compiled::Rows(condition)
}

/// `expression operator value`.
fn compare(expression: SimpleExpr, operator: Operator, value: sea_orm::Value) -> SimpleExpr {
  match operator {
    Operator::Equal => expression.eq(value),
    Operator::Greater => expression.gt(value),
    Operator::GreaterOrEqual => expression.gte(value),
    Operator::Less => expression.lt(value),
    Operator::LessOrEqual => expression.lte(value),
  }
}

/// A number comparison; non-finite floats are decided here (NaN matches nothing, ±infinity all or nothing).
fn compare_number(expression: SimpleExpr, operator: Operator, value: &Value) -> Option<SimpleExpr> {
  match value {
    Value::Integer(integer) => Some(compare(expression, operator, (*integer).into())),
    Value::Float(float) if float.is_finite() => {
      Some(compare(expression, operator, (*float).into()))
    }
    Value::Float(float) if float.is_nan() => None,
    Value::Float(float) => {
      let every_number_passes = if *float > 0.0 {
        matches!(operator, Operator::Less | Operator::LessOrEqual)
      } else {
        matches!(operator, Operator::Greater | Operator::GreaterOrEqual)
      };
      every_number_passes.then(|| expression.is_not_null())
    }
    _ => None,
  }
}

/// A column as compared with text: byte for byte on MySQL (collations may ignore case), as is on SQLite.
fn binary_text(expression: SimpleExpr, backend: DatabaseBackend) -> SimpleExpr {
  match backend {
    DatabaseBackend::MySql => Func::cast_as(expression, "BINARY").into(),
    _ => expression,
  }
}

fn compare_text(
  expression: SimpleExpr,
  operator: Operator,
  value: &Value,
  backend: DatabaseBackend,
) -> Option<SimpleExpr> {
  match value {
    Value::Text(text) => Some(compare(
      binary_text(expression, backend),
      operator,
      text.clone().into(),
    )),
    _ => None,
  }
}

/// The JSON type names of numbers and strings, per backend, and the scalar extracted for comparison.
fn json_scalar(
  column: SimpleExpr,
  backend: DatabaseBackend,
  text: bool,
) -> (SimpleExpr, SimpleExpr) {
  match backend {
    DatabaseBackend::MySql => {
      let json_type: SimpleExpr = Func::cust("JSON_TYPE").arg(column.clone()).into();
      let type_check = if text {
        json_type.eq("STRING")
      } else {
        json_type.is_in(["INTEGER", "UNSIGNED INTEGER", "DOUBLE", "DECIMAL"])
      };
      let scalar: SimpleExpr = Func::cust("JSON_VALUE").arg(column).arg("$").into();
      let scalar = if text {
        Func::cast_as(scalar, "BINARY").into()
      } else {
        Func::cast_as(scalar, "DOUBLE").into()
      };
      (type_check, scalar)
    }
    _ => {
      let json_type: SimpleExpr = Func::cust("json_type").arg(column.clone()).into();
      let type_check = if text {
        json_type.eq("text")
      } else {
        json_type.is_in(["integer", "real"])
      };
      let scalar: SimpleExpr = Func::cust("json_extract").arg(column).arg("$").into();
      (type_check, scalar)
    }
  }
}

fn predicate_expression<E: EntityTrait>(
  field: &Field,
  predicate: &Predicate,
  backend: DatabaseBackend,
) -> Option<SimpleExpr> {
  let target = || column::<E>(field.name).map(Expr::col);
  let Predicate { operator, value } = predicate;
  let operator = *operator;
  match field.kind {
    FieldKind::Integer | FieldKind::Float => compare_number(target()?, operator, value),
    FieldKind::Bool => match value {
      Value::Bool(flag) => Some(compare(target()?, operator, (*flag).into())),
      _ => None,
    },
    FieldKind::Text => compare_text(target()?, operator, value, backend),
    FieldKind::DateTime => match value {
      Value::DateTime(instant) => Some(compare(target()?, operator, (*instant).into())),
      _ => None,
    },
    FieldKind::NumberOrText { text_column } => match value {
      Value::Text(_) => {
        let text = Expr::col(column::<E>(text_column)?);
        compare_text(text, operator, value, backend)
      }
      _ => compare_number(target()?, operator, value),
    },
    FieldKind::Json => {
      let text = match value {
        Value::Text(_) => true,
        Value::Integer(_) | Value::Float(_) => false,
        _ => return None,
      };
      // The scalar of a string is already byte-comparable on every backend.
      let (type_check, scalar) = json_scalar(target()?, backend, text);
      let comparison = match value {
        Value::Text(text) => compare(scalar, operator, text.clone().into()),
        _ => compare_number(scalar, operator, value)?,
      };
      Some(type_check.and(comparison))
    }
  }
}

/// The `ORDER BY` of an answer, as upstream orders it: [`ANSWER_SORT_FIELDS`] the endpoint has, except those with a null
/// in some matching row (`nullable_with_nulls`), then [`TIE_FIELDS`], then the primary key. Fields the filter pins
/// to one value are left out (they cannot change the order), and so is `meeting_key` when `session_key` is pinned;
/// this lets an index on `(session_key, date, driver_number)` serve a session's telemetry in order.
#[must_use]
pub fn order<E: EntityTrait>(
  endpoint: Endpoint,
  filter: &Filter,
  fields_with_nulls: &[&str],
) -> Vec<E::Column> {
  let pinned = |name: &str| {
    filter
      .field(name)
      .is_some_and(|field| field.pinned_value().is_some())
      || (name == "meeting_key" && filter.pinned_session().is_some())
  };
  let mut names: Vec<&'static str> = Vec::new();
  for name in ANSWER_SORT_FIELDS {
    if endpoint.field(name).is_some() && !fields_with_nulls.contains(&name) {
      names.push(name);
    }
  }
  for name in TIE_FIELDS {
    if endpoint.field(name).is_some() && !names.contains(&name) {
      names.push(name);
    }
  }
  for key in <E::PrimaryKey as Iterable>::iter() {
    let name = sea_orm::PrimaryKeyToColumn::into_column(key).as_str();
    if !names.contains(&name) {
      names.push(name);
    }
  }
  names
    .into_iter()
    .filter(|name| !pinned(name))
    .filter_map(column::<E>)
    .collect()
}

/// The nullable [`ANSWER_SORT_FIELDS`] of `endpoint`: whether a matching row has a null in one of them decides the order.
#[must_use]
pub fn nullable_sort_fields(endpoint: Endpoint) -> Vec<&'static str> {
  ANSWER_SORT_FIELDS
    .into_iter()
    .filter(|name| endpoint.field(name).is_some_and(|field| field.nullable))
    .collect()
}

#[cfg(test)]
mod tests {
  use entity::{car_data, laps, race_control};
  use sea_orm::{QueryFilter, QueryTrait};

  use super::*;
  use openf1_query::parse_query;

  fn sql<E: EntityTrait>(endpoint: Endpoint, query: &str, backend: DatabaseBackend) -> String {
    let filter = Filter::new(&parse_query(query).expect("parse"), None);
    match compile::<E>(&filter, endpoint, backend) {
      Compiled::Nothing => "NOTHING".to_owned(),
      Compiled::Rows(condition) => E::find().filter(condition).build(backend).to_string(),
    }
  }

  #[test]
  fn unknown_fields_and_values_of_another_type_match_nothing() {
    let backend = DatabaseBackend::Sqlite;
    assert_eq!(
      sql::<laps::Entity>(Endpoint::Laps, "speed=300", backend),
      "NOTHING"
    );
    assert_eq!(
      sql::<laps::Entity>(Endpoint::Laps, "lap_number=abc", backend),
      "NOTHING"
    );
    assert_eq!(
      sql::<laps::Entity>(Endpoint::Laps, "lap_number=true", backend),
      "NOTHING"
    );
    assert!(
      sql::<laps::Entity>(
        Endpoint::Laps,
        "segments_sector_1=2049&lap_number=1",
        backend
      )
      .contains("json_type")
    );
    // One viable alternative is enough.
    assert_ne!(
      sql::<laps::Entity>(Endpoint::Laps, "lap_number=abc&lap_number=3", backend),
      "NOTHING"
    );
  }

  #[test]
  fn text_compares_byte_for_byte_on_mysql() {
    let query =
      sql::<race_control::Entity>(Endpoint::RaceControl, "flag=YELLOW", DatabaseBackend::MySql);
    assert!(
      query.contains("CAST(`flag` AS BINARY) = 'YELLOW'"),
      "{query}"
    );
  }

  #[test]
  fn ranges_and_alternatives_become_nested_conditions() {
    let query = sql::<laps::Entity>(
      Endpoint::Laps,
      "lap_number>=4&lap_number<=7&driver_number=1&driver_number=44",
      DatabaseBackend::MySql,
    );
    assert!(
      query.contains("`lap_number` >= 4 AND `lap_number` <= 7"),
      "{query}"
    );
    assert!(
      query.contains("`driver_number` = 1 OR `driver_number` = 44"),
      "{query}"
    );
  }

  #[test]
  fn a_pinned_session_orders_telemetry_by_date_then_driver() {
    let filter = Filter::new(&parse_query("session_key=9472").expect("parse"), None);
    let columns: Vec<&str> = order::<car_data::Entity>(Endpoint::CarData, &filter, &[])
      .into_iter()
      .map(|column| column.as_str())
      .collect();
    assert_eq!(columns, ["date", "driver_number"]);
    let across = Filter::new(&parse_query("driver_number=1").expect("parse"), None);
    let columns: Vec<&str> = order::<car_data::Entity>(Endpoint::CarData, &across, &[])
      .into_iter()
      .map(|column| column.as_str())
      .collect();
    assert_eq!(columns, ["date", "meeting_key", "session_key"]);
  }

  #[test]
  fn laps_with_a_null_start_are_ordered_by_lap_then_driver() {
    let filter = Filter::new(&parse_query("session_key=9472").expect("parse"), None);
    let columns: Vec<&str> = order::<laps::Entity>(Endpoint::Laps, &filter, &["date_start"])
      .into_iter()
      .map(|column| column.as_str())
      .collect();
    assert_eq!(columns, ["lap_number", "driver_number", "date_start"]);
    assert_eq!(nullable_sort_fields(Endpoint::Laps), ["date_start"]);
  }
}
