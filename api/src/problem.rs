//! Errors as RFC 9457 problem details (`application/problem+json`), for every 4xx and 5xx answer.

use poem::http::StatusCode;
use poem_openapi::Object;
use sea_orm::sqlx::Error as SqlxError;
use sea_orm::{DbErr, RuntimeErr};

/// The media type of problem details.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
/// The `Retry-After` of every 503 answer, in seconds: the database is probed every 0.2 s, so a second later an
/// outage that ended is known to have ended.
pub const RETRY_AFTER_SECONDS: u64 = 1;
/// The `detail` of a 503 answered because the database is unreachable.
pub const DATABASE_UNAVAILABLE_DETAIL: &str = "The database is unavailable; try again shortly.";

/// Longest `instance` of a problem document, in bytes: a longer request path is cut (and ends in `…`), so that a
/// huge path cannot make a huge answer.
pub const MAX_INSTANCE_BYTES: usize = 256;
/// Longest `detail` of a problem document, in bytes (a longer one is cut and ends in `…`).
pub const MAX_DETAIL_BYTES: usize = 1024;
/// Longest client-supplied value echoed inside a `detail`, in bytes (see [`echoed`]).
pub const MAX_ECHOED_VALUE_BYTES: usize = 64;

/// `text` cut to at most `max_bytes` bytes at a character boundary, ending in `…` when it was cut.
#[must_use]
pub fn bounded(text: &str, max_bytes: usize) -> std::borrow::Cow<'_, str> {
  const ELLIPSIS: &str = "…";
  if text.len() <= max_bytes {
    return std::borrow::Cow::Borrowed(text);
  }
  let mut end = max_bytes.saturating_sub(ELLIPSIS.len());
  while !text.is_char_boundary(end) {
    end -= 1;
  }
  std::borrow::Cow::Owned(format!("{}{ELLIPSIS}", &text[..end]))
}

/// A client-supplied value (a path segment, a parameter) as a `detail` may echo it: at most
/// [`MAX_ECHOED_VALUE_BYTES`] bytes.
#[must_use]
pub fn echoed(value: &str) -> std::borrow::Cow<'_, str> {
  bounded(value, MAX_ECHOED_VALUE_BYTES)
}

/// An RFC 9457 problem details document.
#[derive(Clone, Debug, Object, serde::Serialize)]
pub struct Problem {
  /// A URI identifying the problem type (`about:blank` when the status code says it all).
  #[oai(rename = "type")]
  #[serde(rename = "type")]
  pub problem_type: String,
  /// A short summary of the problem type (the HTTP reason phrase).
  pub title: String,
  /// The HTTP status code.
  pub status: u16,
  /// What went wrong with this request, e.g. which parameter is invalid.
  pub detail: String,
  /// The request path this problem occurred on (at most 256 bytes: a longer path is cut and ends in `…`).
  #[oai(skip_serializing_if_is_none)]
  #[serde(skip_serializing_if = "Option::is_none")]
  pub instance: Option<String>,
}

impl Problem {
  /// A problem of `status` with `detail`.
  #[must_use]
  pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
    Self {
      problem_type: "about:blank".to_owned(),
      title: status.canonical_reason().unwrap_or("Error").to_owned(),
      status: status.as_u16(),
      detail: detail.into(),
      instance: None,
    }
  }

  /// The problem as a complete response.
  #[must_use]
  pub fn into_response(self) -> poem::Response {
    let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&self).unwrap_or_default();
    poem::Response::builder()
      .status(status)
      .content_type(PROBLEM_CONTENT_TYPE)
      .body(body)
  }
}

/// Why a request failed; every variant maps to one status code and an opaque, safe detail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
  /// A parameter is invalid (400).
  #[error("invalid parameter `{name}`: {message}")]
  InvalidParameter {
    /// The parameter's name.
    name: &'static str,
    /// What is wrong with it.
    message: String,
  },
  /// The query string cannot be understood (400); the message says why.
  #[error("{0}")]
  InvalidQuery(String),
  /// The thing asked for does not exist (404).
  #[error("{0}")]
  NotFound(String),
  /// The database failed; logged in full, answered opaquely (503 when unreachable, else 500).
  #[error("database error: {0}")]
  Database(#[from] sea_orm::DbErr),
  /// Anything else unexpected (500).
  #[error("internal error: {0}")]
  Internal(String),
}

impl ApiError {
  /// The problem document answering this error. Database errors are logged here with their full text.
  #[must_use]
  pub fn to_problem(&self) -> Problem {
    match self {
      Self::InvalidParameter { .. } | Self::InvalidQuery(_) => {
        Problem::new(StatusCode::BAD_REQUEST, self.to_string())
      }
      Self::NotFound(message) => Problem::new(StatusCode::NOT_FOUND, message.clone()),
      Self::Database(error) => {
        tracing::error!(error = %error, "database error");
        if is_unavailable(error) {
          Problem::new(StatusCode::SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE_DETAIL)
        } else {
          Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An internal error occurred.",
          )
        }
      }
      Self::Internal(message) => {
        tracing::error!(error = %message, "internal error");
        Problem::new(
          StatusCode::INTERNAL_SERVER_ERROR,
          "An internal error occurred.",
        )
      }
    }
  }
}

/// Whether a database error means the database cannot be reached (rather than a bad query): no connection could
/// be had from the pool or opened, the connection failed while a statement ran (I/O, TLS), or the server refused
/// the connection (an SQLSTATE of class `08`, "connection exception", e.g. MySQL's "Too many connections").
fn is_unavailable(error: &DbErr) -> bool {
  match error {
    DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
    DbErr::Query(RuntimeErr::SqlxError(error)) | DbErr::Exec(RuntimeErr::SqlxError(error)) => {
      is_connection_failure(error)
    }
    _ => false,
  }
}

/// Whether an SQLx error is a failure of the connection rather than of the statement.
fn is_connection_failure(error: &SqlxError) -> bool {
  match error {
    SqlxError::Io(_) | SqlxError::Tls(_) | SqlxError::PoolTimedOut | SqlxError::PoolClosed => true,
    SqlxError::Database(error) => error.code().is_some_and(|state| state.starts_with("08")),
    _ => false,
  }
}

/// An invalid-parameter error.
#[must_use]
pub fn invalid(name: &'static str, message: impl Into<String>) -> ApiError {
  ApiError::InvalidParameter {
    name,
    message: message.into(),
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn bounded_text_is_cut_at_a_character_boundary_and_marked() {
    assert_eq!(bounded("lap", 8), "lap");
    let cut = bounded("éééééééé", 8);
    assert!(cut.len() <= 8, "{cut}");
    assert!(cut.ends_with('…'));
    assert_eq!(cut, "éé…");
    assert!(echoed(&"x".repeat(10_000)).len() <= MAX_ECHOED_VALUE_BYTES);
  }

  /// A server error with an SQLSTATE, as MySQL sends one.
  #[derive(Debug)]
  struct ServerError(&'static str);

  impl std::fmt::Display for ServerError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
      write!(formatter, "server error {}", self.0)
    }
  }

  impl std::error::Error for ServerError {}

  impl sea_orm::sqlx::error::DatabaseError for ServerError {
    fn message(&self) -> &str {
      "server error"
    }

    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
      Some(std::borrow::Cow::Borrowed(self.0))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
      self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
      self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
      self
    }

    fn kind(&self) -> sea_orm::sqlx::error::ErrorKind {
      sea_orm::sqlx::error::ErrorKind::Other
    }
  }

  fn query_error(error: SqlxError) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(error)))
  }

  fn status_of(error: DbErr) -> u16 {
    ApiError::Database(error).to_problem().status
  }

  #[test]
  fn database_errors_of_the_connection_are_answered_503_and_others_500() {
    let refused = || std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    let unavailable = [
      DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout),
      DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::ConnectionClosed),
      DbErr::Conn(RuntimeErr::SqlxError(std::sync::Arc::new(SqlxError::Io(
        refused(),
      )))),
      DbErr::Conn(RuntimeErr::Internal("no connection".to_owned())),
      query_error(SqlxError::Io(refused())),
      query_error(SqlxError::Io(std::io::ErrorKind::UnexpectedEof.into())),
      query_error(SqlxError::PoolTimedOut),
      query_error(SqlxError::PoolClosed),
      DbErr::Exec(RuntimeErr::SqlxError(std::sync::Arc::new(SqlxError::Io(
        std::io::ErrorKind::BrokenPipe.into(),
      )))),
      // MySQL 1040, "Too many connections".
      query_error(SqlxError::Database(Box::new(ServerError("08004")))),
    ];
    for error in unavailable {
      assert_eq!(status_of(error.clone()), 503, "{error}");
    }
    let failed = [
      // MySQL 1146, "Table doesn't exist".
      query_error(SqlxError::Database(Box::new(ServerError("42S02")))),
      query_error(SqlxError::RowNotFound),
      query_error(SqlxError::Protocol("connection".to_owned())),
      DbErr::Query(RuntimeErr::Internal("connection".to_owned())),
      DbErr::Custom("Connection refused".to_owned()),
      DbErr::RecordNotFound("connection".to_owned()),
    ];
    for error in failed {
      assert_eq!(status_of(error.clone()), 500, "{error}");
    }
  }
}
