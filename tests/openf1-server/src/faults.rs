//! Switchable faults: a queue of failures applied to the next matching requests.

use std::time::Duration;

use serde_json::Value;

/// A failure the server can be told to produce instead of (or before) a normal answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
  /// `429` with body `{"error": "Rate limit exceeded: 30 per 10 second"}` and `Retry-After` when given.
  TooManyRequests {
    /// Value of the `Retry-After` header, if any.
    retry_after_seconds: Option<u64>,
  },
  /// `429` with the gateway's plain-text body `Rate exceeded`, and `Retry-After` when given.
  RateExceededPlainText {
    /// Value of the `Retry-After` header, if any.
    retry_after_seconds: Option<u64>,
  },
  /// `500` with upstream's HTML traceback page.
  InternalServerError,
  /// `502 Bad Gateway`.
  BadGateway,
  /// `503 Service Unavailable`.
  ServiceUnavailable,
  /// `504 upstream request timeout`.
  GatewayTimeout,
  /// `401` "Session in progress" even with a valid token.
  SessionInProgress,
  /// Waits, then answers normally.
  Slow(Duration),
  /// `200` with the real body cut in the middle.
  TruncatedJson,
  /// `200` with bytes that are not JSON.
  Garbage,
}

/// Errors in a fault description received on the control API.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FaultRequestError {
  /// The body is not a JSON object with a string `fault`.
  #[error("expected a JSON object with a string field `fault`")]
  NotAnObject,
  /// The `fault` name is unknown.
  #[error("unknown fault `{0}`")]
  UnknownFault(String),
}

/// A fault request from the control API: which fault, how many times, for which paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRequest {
  /// The fault.
  pub fault: Fault,
  /// How many matching requests it applies to (default 1).
  pub times: usize,
  /// Only requests whose path contains this text.
  pub path_contains: Option<String>,
}

impl FaultRequest {
  /// Reads `{"fault": "too_many_requests", "retry_after_seconds": 2, "times": 3, "path_contains": "/v1/laps"}`.
  /// Names: `too_many_requests`, `rate_exceeded`, `internal_server_error`, `bad_gateway`, `service_unavailable`,
  /// `gateway_timeout`, `session_in_progress`, `slow` (with `delay_ms`), `truncated_json`, `garbage`.
  ///
  /// # Errors
  /// Returns [`FaultRequestError`] for a malformed body or an unknown fault name.
  pub fn from_json(body: &Value) -> Result<Self, FaultRequestError> {
    let name = body
      .get("fault")
      .and_then(Value::as_str)
      .ok_or(FaultRequestError::NotAnObject)?;
    let retry_after_seconds = body.get("retry_after_seconds").and_then(Value::as_u64);
    let fault = match name {
      "too_many_requests" => Fault::TooManyRequests {
        retry_after_seconds,
      },
      "rate_exceeded" => Fault::RateExceededPlainText {
        retry_after_seconds,
      },
      "internal_server_error" => Fault::InternalServerError,
      "bad_gateway" => Fault::BadGateway,
      "service_unavailable" => Fault::ServiceUnavailable,
      "gateway_timeout" => Fault::GatewayTimeout,
      "session_in_progress" => Fault::SessionInProgress,
      "slow" => Fault::Slow(Duration::from_millis(
        body.get("delay_ms").and_then(Value::as_u64).unwrap_or(1000),
      )),
      "truncated_json" => Fault::TruncatedJson,
      "garbage" => Fault::Garbage,
      other => return Err(FaultRequestError::UnknownFault(other.to_owned())),
    };
    let times = body
      .get("times")
      .and_then(Value::as_u64)
      .and_then(|times| usize::try_from(times).ok())
      .unwrap_or(1);
    let path_contains = body
      .get("path_contains")
      .and_then(Value::as_str)
      .map(str::to_owned);
    Ok(Self {
      fault,
      times,
      path_contains,
    })
  }
}

/// Queued faults, consumed in order by matching requests.
#[derive(Debug, Default)]
pub struct FaultQueue {
  entries: Vec<FaultRequest>,
}

impl FaultQueue {
  /// Queues `fault` for the next `times` requests whose path contains `path_contains` (all paths when `None`).
  pub fn push(&mut self, fault: Fault, times: usize, path_contains: Option<&str>) {
    if times > 0 {
      self.entries.push(FaultRequest {
        fault,
        times,
        path_contains: path_contains.map(str::to_owned),
      });
    }
  }

  /// Removes every queued fault.
  pub fn clear(&mut self) {
    self.entries.clear();
  }

  /// The fault for a request to `path`, if one is queued; uses up one of its times.
  pub fn take(&mut self, path: &str) -> Option<Fault> {
    let position = self.entries.iter().position(|entry| {
      entry
        .path_contains
        .as_deref()
        .is_none_or(|needle| path.contains(needle))
    })?;
    let entry = &mut self.entries[position];
    let fault = entry.fault.clone();
    entry.times -= 1;
    if entry.times == 0 {
      self.entries.remove(position);
    }
    Some(fault)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_fault_applies_to_its_matching_paths_the_given_number_of_times() {
    let mut queue = FaultQueue::default();
    queue.push(Fault::BadGateway, 2, Some("/v1/laps"));
    assert_eq!(queue.take("/v1/stints"), None);
    assert_eq!(queue.take("/v1/laps"), Some(Fault::BadGateway));
    assert_eq!(queue.take("/v1/laps"), Some(Fault::BadGateway));
    assert_eq!(queue.take("/v1/laps"), None);
  }

  #[test]
  fn control_api_bodies_describe_faults() {
    let request = FaultRequest::from_json(&serde_json::json!({
      "fault": "too_many_requests", "retry_after_seconds": 2, "times": 3, "path_contains": "/v1/laps"
    }));
    assert_eq!(
      request,
      Ok(FaultRequest {
        fault: Fault::TooManyRequests {
          retry_after_seconds: Some(2)
        },
        times: 3,
        path_contains: Some("/v1/laps".to_owned()),
      })
    );
    assert_eq!(
      FaultRequest::from_json(&serde_json::json!({"fault": "meteor"})),
      Err(FaultRequestError::UnknownFault("meteor".to_owned()))
    );
  }
}
