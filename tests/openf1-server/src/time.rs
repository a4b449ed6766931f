//! Writing datetimes the way Open F1 writes them (reading them is `openf1_query::parse_datetime`).

use chrono::{DateTime, Timelike, Utc};

/// Formats like upstream: `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`, fraction omitted when zero.
#[must_use]
pub fn format_datetime(instant: DateTime<Utc>) -> String {
  if instant.nanosecond() / 1000 == 0 {
    instant.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
  } else {
    instant.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
  }
}

#[cfg(test)]
mod tests {
  use openf1_query::parse_datetime;

  use super::*;

  fn instant(text: &str) -> Option<DateTime<Utc>> {
    parse_datetime(text).map(|parsed| parsed.instant)
  }

  #[test]
  fn formatting_omits_a_zero_fraction() {
    let whole = instant("2026-03-29T04:18:28+00:00");
    let fractional = instant("2026-03-29T05:14:02.078+00:00");
    assert_eq!(
      whole.map(format_datetime).as_deref(),
      Some("2026-03-29T04:18:28+00:00")
    );
    assert_eq!(
      fractional.map(format_datetime).as_deref(),
      Some("2026-03-29T05:14:02.078000+00:00")
    );
  }
}
