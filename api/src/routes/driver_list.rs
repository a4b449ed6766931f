//! `DriverNumberList`: a query value holding one car number or a comma-separated list (`1,44`).

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult, Type};

/// The pattern of a driver list, as documented in the OpenAPI document.
pub const DRIVER_LIST_PATTERN: &str = "^[0-9]{1,3}(,[0-9]{1,3})*$";

/// One or more car numbers (0-999) from a value such as `1` or `1,44`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverNumberList(pub Vec<i32>);

impl Type for DriverNumberList {
  const IS_REQUIRED: bool = true;
  type RawValueType = Self;
  type RawElementValueType = Self;

  fn name() -> Cow<'static, str> {
    "string(driver_numbers)".into()
  }

  fn schema_ref() -> MetaSchemaRef {
    let mut schema = MetaSchema::new("string");
    schema.pattern = Some(DRIVER_LIST_PATTERN.to_owned());
    schema.description =
      Some("A car number or a comma-separated list of car numbers, e.g. `1,44`.");
    schema.example = Some(serde_json::Value::String("1,44".to_owned()));
    MetaSchemaRef::Inline(Box::new(schema))
  }

  fn as_raw_value(&self) -> Option<&Self::RawValueType> {
    Some(self)
  }

  fn raw_element_iter<'a>(
    &'a self,
  ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
    Box::new(self.as_raw_value().into_iter())
  }
}

impl ParseFromParameter for DriverNumberList {
  fn parse_from_parameter(value: &str) -> ParseResult<Self> {
    let mut numbers = Vec::new();
    for part in value.split(',') {
      let valid =
        !part.is_empty() && part.len() <= 3 && part.bytes().all(|byte| byte.is_ascii_digit());
      let number = part
        .parse::<i32>()
        .ok()
        .filter(|_| valid)
        .ok_or_else(|| ParseError::custom(format!("`{part}` is not a car number (0-999)")))?;
      numbers.push(number);
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
