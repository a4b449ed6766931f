//! `DriverNumberList`: a query value holding one car number or a comma-separated list (`1,44`).

use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult};

use crate::routes::{string_value_schema, string_value_type, three_digit_number};

/// The pattern of a driver list, as documented in the OpenAPI document.
pub const DRIVER_LIST_PATTERN: &str = "^[0-9]{1,3}(,[0-9]{1,3})*$";

/// One or more car numbers (0-999) from a value such as `1` or `1,44`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverNumberList(pub Vec<i32>);

string_value_type!(
  DriverNumberList,
  "string(driver_numbers)",
  string_value_schema(
    DRIVER_LIST_PATTERN,
    "A car number or a comma-separated list of car numbers, e.g. `1,44`.",
    "1,44",
  ),
);

impl ParseFromParameter for DriverNumberList {
  fn parse_from_parameter(value: &str) -> ParseResult<Self> {
    let mut numbers = Vec::new();
    for part in value.split(',') {
      numbers.push(three_digit_number(part, "car number").map_err(ParseError::custom)?);
    }
    Ok(Self(numbers))
  }
}

/// Every car number of `lists`, sorted and deduplicated.
#[must_use]
pub fn flatten(lists: Option<&[DriverNumberList]>) -> Vec<i32> {
  let mut numbers: Vec<i32> = lists
    .unwrap_or_default()
    .iter()
    .flat_map(|list| list.0.iter().copied())
    .collect();
  numbers.sort_unstable();
  numbers.dedup();
  numbers
}
