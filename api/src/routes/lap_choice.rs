//! `LapChoiceValue`: a query value naming one lap, `DRIVER:LAP` (`1:39`) or `DRIVER` (that driver's fastest lap).

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult, Type};

use crate::charts::LapChoice;

/// The pattern of a lap choice, as documented in the OpenAPI document.
pub const LAP_CHOICE_PATTERN: &str = "^[0-9]{1,3}(:[0-9]{1,3})?$";

/// A lap named by car number and lap number (`1:39`), or a car number alone for its fastest lap (`1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LapChoiceValue(pub LapChoice);

impl Type for LapChoiceValue {
  const IS_REQUIRED: bool = true;
  type RawValueType = Self;
  type RawElementValueType = Self;

  fn name() -> Cow<'static, str> {
    "string(lap_choice)".into()
  }

  fn schema_ref() -> MetaSchemaRef {
    let mut schema = MetaSchema::new("string");
    schema.pattern = Some(LAP_CHOICE_PATTERN.to_owned());
    schema.description = Some(
      "A lap: `DRIVER:LAP` (car number and lap number, e.g. `1:39`) or `DRIVER` for that driver's fastest lap.",
    );
    schema.example = Some(serde_json::Value::String("1:39".to_owned()));
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

/// The number in `part` (one to three digits), or what is wrong with it.
fn number(part: &str, what: &str) -> Result<i32, String> {
  let valid = !part.is_empty() && part.len() <= 3 && part.bytes().all(|byte| byte.is_ascii_digit());
  part
    .parse::<i32>()
    .ok()
    .filter(|_| valid)
    .ok_or_else(|| format!("`{part}` is not a {what} (0-999)"))
}

impl ParseFromParameter for LapChoiceValue {
  fn parse_from_parameter(value: &str) -> ParseResult<Self> {
    let (driver, lap) = match value.split_once(':') {
      Some((driver, lap)) => (driver, Some(lap)),
      None => (value, None),
    };
    let choice = LapChoice {
      driver: number(driver, "car number").map_err(ParseError::custom)?,
      lap: lap
        .map(|lap| number(lap, "lap number"))
        .transpose()
        .map_err(ParseError::custom)?,
    };
    Ok(Self(choice))
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_lap_choice_is_a_car_number_with_an_optional_lap() {
    assert_eq!(
      LapChoiceValue::parse_from_parameter("1:39")
        .map(|value| value.0)
        .ok(),
      Some(LapChoice {
        driver: 1,
        lap: Some(39)
      })
    );
    assert_eq!(
      LapChoiceValue::parse_from_parameter("44")
        .map(|value| value.0)
        .ok(),
      Some(LapChoice {
        driver: 44,
        lap: None
      })
    );
    for invalid in ["", ":3", "1:", "1:2:3", "a", "1000", "1:x"] {
      assert!(
        LapChoiceValue::parse_from_parameter(invalid).is_err(),
        "{invalid}"
      );
    }
  }
}
