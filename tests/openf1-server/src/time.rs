//! Parsing and formatting datetimes the way Open F1 accepts and writes them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

/// A parsed datetime and whether it was a bare date (`YYYY-MM-DD`), which filters expand to a whole day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedDateTime {
  /// The instant (naive inputs are taken as UTC; a bare date is its midnight UTC).
  pub instant: DateTime<Utc>,
  /// `true` when the input was a date without time.
  pub date_only: bool,
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

/// Dates without a time: ISO, and the English forms dateutil reads (`Sep 10, 2021`, `10 September 2021`).
const DATE_FORMATS: [&str; 5] = ["%Y-%m-%d", "%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y"];

/// Parses RFC 3339, `YYYY-MM-DD[T ]HH:MM[:SS[.f]]` with or without offset (naive = UTC), or a date alone.
/// A `+HH:MM` offset whose `+` arrived as a space (form decoding) is repaired.
#[must_use]
pub fn parse_datetime(text: &str) -> Option<ParsedDateTime> {
  let text = text.trim();
  if text.len() < 10 {
    return None;
  }
  if let Some(parsed) = parse_with_time(text) {
    return Some(ParsedDateTime {
      instant: parsed,
      date_only: false,
    });
  }
  if let Some(repaired) = repair_offset(text)
    && let Some(parsed) = parse_with_time(&repaired)
  {
    return Some(ParsedDateTime {
      instant: parsed,
      date_only: false,
    });
  }
  let date = DATE_FORMATS
    .iter()
    .find_map(|format| NaiveDate::parse_from_str(text, format).ok())?;
  Some(ParsedDateTime {
    instant: Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?),
    date_only: true,
  })
}

fn parse_with_time(text: &str) -> Option<DateTime<Utc>> {
  if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
    return Some(parsed.with_timezone(&Utc));
  }
  for format in OFFSET_FORMATS {
    if let Ok(parsed) = DateTime::parse_from_str(text, format) {
      return Some(parsed.with_timezone(&Utc));
    }
  }
  for format in NAIVE_FORMATS {
    if let Ok(parsed) = NaiveDateTime::parse_from_str(text, format) {
      return Some(Utc.from_utc_datetime(&parsed));
    }
  }
  None
}

/// `2023-09-16T13:03:35 00:00` → `2023-09-16T13:03:35+00:00`.
fn repair_offset(text: &str) -> Option<String> {
  let position = text.rfind(' ')?;
  let suffix = &text[position + 1..];
  let looks_like_offset = suffix.len() >= 4
    && suffix.as_bytes()[0].is_ascii_digit()
    && suffix
      .chars()
      .all(|character| character.is_ascii_digit() || character == ':');
  (position > 10 && looks_like_offset).then(|| format!("{}+{suffix}", &text[..position]))
}

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
  use super::*;

  fn instant(text: &str) -> Option<DateTime<Utc>> {
    parse_datetime(text).map(|parsed| parsed.instant)
  }

  #[test]
  fn upstream_and_naive_formats_parse_to_the_same_instant() {
    let expected = instant("2023-09-16T13:03:35.200000+00:00");
    assert!(expected.is_some());
    assert_eq!(instant("2023-09-16T13:03:35.200"), expected);
    assert_eq!(instant("2023-09-16T15:03:35.2+02:00"), expected);
    assert_eq!(instant("2023-09-16T13:03:35.2 00:00"), expected);
    assert_eq!(instant("2023-09-16T13:03:35.2Z"), expected);
  }

  #[test]
  fn a_bare_date_is_flagged_as_date_only() {
    let parsed = parse_datetime("2024-03-02");
    assert_eq!(parsed.map(|parsed| parsed.date_only), Some(true));
    assert_eq!(parse_datetime("2024"), None);
    assert_eq!(parse_datetime("SOFT"), None);
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
