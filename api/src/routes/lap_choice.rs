//! `LapChoiceValue`: a query value naming one lap, `DRIVER:LAP` (`1:39`) or `DRIVER` (that driver's fastest lap).

use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult};

use crate::charts::LapChoice;
use crate::routes::{string_value_schema, string_value_type, three_digit_number};

/// The pattern of a lap choice, as documented in the OpenAPI document.
pub const LAP_CHOICE_PATTERN: &str = "^[0-9]{1,3}(:[0-9]{1,3})?$";

/// A lap named by car number and lap number (`1:39`), or a car number alone for its fastest lap (`1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LapChoiceValue(pub LapChoice);

string_value_type!(
  LapChoiceValue,
  "string(lap_choice)",
  string_value_schema(
    LAP_CHOICE_PATTERN,
    "A lap: `DRIVER:LAP` (car number and lap number, e.g. `1:39`) or `DRIVER` for that driver's fastest lap.",
    "1:39",
  ),
);

impl ParseFromParameter for LapChoiceValue {
  fn parse_from_parameter(value: &str) -> ParseResult<Self> {
    let (driver, lap) = match value.split_once(':') {
      Some((driver, lap)) => (driver, Some(lap)),
      None => (value, None),
    };
    let choice = LapChoice {
      driver: three_digit_number(driver, "car number").map_err(ParseError::custom)?,
      lap: lap
        .map(|lap| three_digit_number(lap, "lap number"))
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
