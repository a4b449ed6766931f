//! The lenient datetime parser: what upstream's `dateutil.parse` accepts in filters, and how rows write datetimes.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// A parsed datetime and whether it was a date alone, which filters expand to a whole day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedDateTime {
  /// The instant (naive inputs are taken as UTC; a date alone is its midnight UTC).
  pub instant: DateTime<Utc>,
  /// `true` when the input was a date without a time.
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

/// Parses RFC 3339, `YYYY-MM-DD[T ]HH:MM[:SS[.f]]` with or without an offset (naive = UTC), or a date alone
/// (`2024-03-02`, `Mar 2, 2024`, `2 March 2024`). Surrounding whitespace is ignored. An offset whose `+` arrived
/// as a space is not repaired here: the query parser repairs it in the term (upstream's rule, see
/// [`parse_query`](crate::parse_query)).
#[must_use]
pub fn parse_datetime(text: &str) -> Option<ParsedDateTime> {
  let text = text.trim();
  let with_time = |instant| ParsedDateTime {
    instant,
    date_only: false,
  };
  if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
    return Some(with_time(parsed.with_timezone(&Utc)));
  }
  for format in OFFSET_FORMATS {
    if let Ok(parsed) = DateTime::parse_from_str(text, format) {
      return Some(with_time(parsed.with_timezone(&Utc)));
    }
  }
  for format in NAIVE_FORMATS {
    if let Ok(parsed) = NaiveDateTime::parse_from_str(text, format) {
      return Some(with_time(Utc.from_utc_datetime(&parsed)));
    }
  }
  DATE_FORMATS.iter().find_map(|format| {
    let date = NaiveDate::parse_from_str(text, format).ok()?;
    Some(ParsedDateTime {
      instant: Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?),
      date_only: true,
    })
  })
}

#[cfg(test)]
mod tests {
  use super::*;

  fn instant(text: &str) -> Option<DateTime<Utc>> {
    parse_datetime(text).map(|parsed| parsed.instant)
  }

  fn date_only(text: &str) -> Option<bool> {
    parse_datetime(text).map(|parsed| parsed.date_only)
  }

  #[test]
  fn upstream_and_naive_formats_parse_to_the_same_instant() {
    let expected = instant("2023-09-16T13:03:35.200000+00:00");
    assert!(expected.is_some());
    for text in [
      "2023-09-16T13:03:35.200",
      "2023-09-16 13:03:35.2",
      "2023-09-16T15:03:35.2+02:00",
      "2023-09-16T13:03:35.2Z",
      " 2023-09-16T13:03:35.2+00:00 ",
    ] {
      assert_eq!(instant(text), expected, "{text}");
    }
  }

  #[test]
  fn a_date_alone_is_flagged_and_a_time_is_not() {
    assert_eq!(date_only("2024-03-02"), Some(true));
    assert_eq!(date_only("Mar 2, 2024"), Some(true));
    assert_eq!(date_only("2 March 2024"), Some(true));
    assert_eq!(date_only("2024-03-02T00:00"), Some(false));
    assert_eq!(instant("Mar 2, 2024"), instant("2024-03-02T00:00:00+00:00"));
  }

  #[test]
  fn what_is_not_a_datetime_is_refused() {
    assert_eq!(parse_datetime("2024"), None);
    assert_eq!(parse_datetime("SOFT"), None);
    assert_eq!(parse_datetime("2024-03"), None);
  }

  #[test]
  fn an_offset_whose_plus_became_a_space_is_left_to_the_query_parser() {
    // `date>2023-09-16T13:03:35.2+00:00` sent unencoded arrives with a space; `parse_query` repairs the term.
    assert_eq!(parse_datetime("2023-09-16T13:03:35.2 00:00"), None);
  }
}
