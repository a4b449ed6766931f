//! The query string split into terms: `field operator value`, decoded and uncast.

use percent_encoding::percent_decode_str;

use crate::value::Value;

/// The `key=value` pairs of a raw query string, decoded like an HTML form (`+` is a space), in order.
/// Empty parts (`a=1&&b=2`) are skipped; a part without `=` has an empty value.
pub fn query_pairs(raw_query: &str) -> impl Iterator<Item = (String, String)> + '_ {
  raw_query
    .split('&')
    .filter(|part| !part.is_empty())
    .map(|part| match part.split_once('=') {
      Some((key, value)) => (decode(key), decode(value)),
      None => (decode(part), String::new()),
    })
}

fn decode(raw: &str) -> String {
  let spaced = raw.replace('+', " ");
  percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operator {
  /// `=`
  Equal,
  /// `>`
  Greater,
  /// `>=`
  GreaterOrEqual,
  /// `<`
  Less,
  /// `<=`
  LessOrEqual,
}

/// Upstream's operators in the order it searches for them (`query_params.py`, `COMPARISON_OPERATORS_TO_MONGO`).
const OPERATORS: [(&str, Operator); 5] = [
  (">=", Operator::GreaterOrEqual),
  ("<=", Operator::LessOrEqual),
  ("=", Operator::Equal),
  (">", Operator::Greater),
  ("<", Operator::Less),
];

impl Operator {
  /// The operator as written in a query.
  #[must_use]
  pub fn symbol(self) -> &'static str {
    match self {
      Self::Equal => "=",
      Self::Greater => ">",
      Self::GreaterOrEqual => ">=",
      Self::Less => "<",
      Self::LessOrEqual => "<=",
    }
  }

  /// Whether the operator bounds values from below (`>`, `>=`).
  #[must_use]
  pub fn is_lower_bound(self) -> bool {
    matches!(self, Self::Greater | Self::GreaterOrEqual)
  }

  /// Whether the operator bounds values from above (`<`, `<=`).
  #[must_use]
  pub fn is_upper_bound(self) -> bool {
    matches!(self, Self::Less | Self::LessOrEqual)
  }
}

/// Why a query string cannot be understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
  /// A term has no comparison operator (e.g. `?driver_number` or `?driver_number=` with nothing after `=`); the
  /// term is given as decoded. Upstream fails on it with a `ValueError` (answered 500).
  #[error(
    "The query term `{0}` has no operator: write `field=value`, `field>value`, `field>=value`, `field<value` \
     or `field<=value` (percent-encode `<` and `>` as %3C and %3E)."
  )]
  NoOperator(String),
}

/// One `field operator value` term, before casting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
  /// The field, lower-cased.
  pub field: String,
  /// The operator.
  pub operator: Operator,
  /// The decoded, uncast value.
  pub value: String,
}

/// A parsed query string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedQuery {
  /// The filter terms, in query order (`csv` excluded).
  pub terms: Vec<Term>,
  /// Whether the answer is CSV.
  pub csv: bool,
}

impl ParsedQuery {
  /// Whether a term asks for `session_key=latest` or `meeting_key=latest`.
  #[must_use]
  pub fn mentions_latest(&self) -> bool {
    self.terms.iter().any(|term| {
      term.value == "latest" && matches!(term.field.as_str(), "session_key" | "meeting_key")
    })
  }
}

/// Upstream's repair of an offset whose `+` arrived as a space: a term mentioning `date` and ending in ` HH:MM`
/// gets its first space replaced by `+`.
fn repair_offset(term: String) -> String {
  let bytes = term.as_bytes();
  let ends_with_offset = bytes.len() >= 6 && {
    let tail = &bytes[bytes.len() - 6..];
    tail[0] == b' '
      && tail[1].is_ascii_digit()
      && tail[2].is_ascii_digit()
      && tail[3] == b':'
      && tail[4].is_ascii_digit()
      && tail[5].is_ascii_digit()
  };
  if term.contains("date") && ends_with_offset {
    term.replacen(' ', "+", 1)
  } else {
    term
  }
}

/// The first of upstream's operators that `term` contains, split at its first occurrence.
fn split_operator(term: &str) -> Option<(&str, Operator, &str)> {
  OPERATORS.iter().find_map(|(symbol, operator)| {
    term
      .split_once(symbol)
      .map(|(field, value)| (field, *operator, value))
  })
}

/// Parses a raw query string (see the crate documentation, steps 1, 2 and 5).
///
/// # Errors
/// [`QueryError::NoOperator`] for a term without an operator.
pub fn parse_query(raw_query: &str) -> Result<ParsedQuery, QueryError> {
  let mut parsed = ParsedQuery::default();
  let mut csv_seen = false;
  for (key, value) in query_pairs(raw_query) {
    let term = repair_offset(if value.is_empty() {
      key
    } else {
      format!("{key}={value}")
    });
    let Some((field, operator, value)) = split_operator(&term) else {
      return Err(QueryError::NoOperator(term));
    };
    let field = field.to_lowercase();
    if field == "csv" {
      if !csv_seen {
        parsed.csv = Value::cast(&field, value).is_truthy();
        csv_seen = true;
      }
      continue;
    }
    parsed.terms.push(Term {
      field,
      operator,
      value: value.to_owned(),
    });
  }
  Ok(parsed)
}

#[cfg(test)]
mod tests {
  use super::*;

  fn terms(query: &str) -> Vec<(String, Operator, String)> {
    parse_query(query)
      .expect("parse")
      .terms
      .into_iter()
      .map(|term| (term.field, term.operator, term.value))
      .collect()
  }

  fn term(field: &str, operator: Operator, value: &str) -> (String, Operator, String) {
    (field.to_owned(), operator, value.to_owned())
  }

  #[test]
  fn operators_are_found_like_upstream_including_the_encoded_less_than_quirk() {
    assert_eq!(
      terms(
        "position%3C=3&date>2023-09-16T13:03:35.200&speed>=315&lap_number<5&x=1&Driver_Number=4"
      ),
      vec![
        term("position", Operator::LessOrEqual, "3"),
        term("date", Operator::Greater, "2023-09-16T13:03:35.200"),
        term("speed", Operator::GreaterOrEqual, "315"),
        term("lap_number", Operator::Less, "5"),
        term("x", Operator::Equal, "1"),
        term("driver_number", Operator::Equal, "4"),
      ]
    );
    assert_eq!(
      terms("lap_number%3E%3D50&flag=BLACK%20AND%20WHITE"),
      vec![
        term("lap_number", Operator::GreaterOrEqual, "50"),
        term("flag", Operator::Equal, "BLACK AND WHITE"),
      ]
    );
    // `>=` is searched for before `=`, wherever it is.
    assert_eq!(
      terms("message=A>=B"),
      vec![term("message=a", Operator::GreaterOrEqual, "B")]
    );
  }

  #[test]
  fn a_term_without_operator_is_an_error() {
    assert_eq!(
      parse_query("driver_number"),
      Err(QueryError::NoOperator("driver_number".to_owned()))
    );
    assert!(parse_query("driver_number=").is_err());
    assert!(parse_query("a=1&&b=2").is_ok());
  }

  #[test]
  fn values_are_decoded_and_csv_is_not_a_filter() {
    assert_eq!(
      terms("flag=BLACK%20AND%20WHITE&csv=true&Driver_Number=1"),
      vec![
        term("flag", Operator::Equal, "BLACK AND WHITE"),
        term("driver_number", Operator::Equal, "1"),
      ]
    );
    assert!(parse_query("csv=true").expect("parse").terms.is_empty());
  }

  #[test]
  fn csv_takes_the_first_value_by_python_truthiness() {
    assert!(parse_query("csv=true").expect("parse").csv);
    assert!(
      parse_query("flag=BLACK%20AND%20WHITE&csv=true")
        .expect("parse")
        .csv
    );
    assert!(parse_query("csv=1").expect("parse").csv);
    assert!(parse_query("CSV=yes").expect("parse").csv);
    assert!(!parse_query("csv=false").expect("parse").csv);
    assert!(!parse_query("csv=0&csv=true").expect("parse").csv);
    assert!(!parse_query("csv=false&csv=true").expect("parse").csv);
  }

  #[test]
  fn an_offset_whose_plus_became_a_space_is_repaired() {
    assert_eq!(
      terms("date>2023-09-16T13:03:35+02:00"),
      vec![term("date", Operator::Greater, "2023-09-16T13:03:35+02:00")]
    );
    assert_eq!(
      terms("date>2023-09-16T13:03:35.2 00:00"),
      vec![term(
        "date",
        Operator::Greater,
        "2023-09-16T13:03:35.2+00:00"
      )]
    );
  }

  #[test]
  fn latest_is_noticed_only_for_session_and_meeting_keys() {
    assert!(
      parse_query("session_key=latest")
        .expect("parse")
        .mentions_latest()
    );
    assert!(
      parse_query("Meeting_Key=latest")
        .expect("parse")
        .mentions_latest()
    );
    assert!(
      !parse_query("driver_number=latest")
        .expect("parse")
        .mentions_latest()
    );
  }
}
