//! Operational endpoints outside the OpenAPI document: `/healthz`, `/readyz` and `/metrics`.

use std::time::Duration;

use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{IntoResponse, Response, handler};
use serde_json::json;

use crate::AppState;

/// Longest wait for the database when checking readiness.
const READINESS_TIMEOUT: Duration = Duration::from_secs(3);

/// `GET /healthz`: the process is alive (no dependency is checked).
#[handler]
pub fn healthz() -> Json<serde_json::Value> {
  Json(json!({ "status": "alive" }))
}

/// `GET /readyz`: 200 when the database answers (`degraded` when the Redis cache does not), else 503.
#[handler]
pub async fn readyz(state: Data<&AppState>) -> Response {
  let database = match tokio::time::timeout(READINESS_TIMEOUT, state.database.ping()).await {
    Ok(Ok(())) => Ok(()),
    Ok(Err(error)) => {
      tracing::warn!(%error, "readiness: database unreachable");
      Err("unreachable")
    }
    Err(_) => {
      tracing::warn!("readiness: database timed out");
      Err("timed out")
    }
  };
  let cache = if state.cache.is_redis() {
    match state.cache.ping().await {
      Ok(()) => "ok",
      Err(error) => {
        tracing::warn!(%error, "readiness: redis unreachable");
        "unreachable"
      }
    }
  } else {
    "in-process"
  };
  let (status, word) = match (database, cache) {
    (Err(_), _) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    (Ok(()), "unreachable") => (StatusCode::OK, "degraded"),
    (Ok(()), _) => (StatusCode::OK, "ready"),
  };
  let body = json!({
    "status": word,
    "database": database.err().unwrap_or("ok"),
    "cache": cache,
  });
  if status == StatusCode::OK {
    Json(body).into_response()
  } else {
    let problem = crate::problem::Problem::new(
      status,
      format!(
        "The database is {}.",
        body["database"].as_str().unwrap_or("unreachable")
      ),
    );
    problem.into_response()
  }
}

/// `GET /metrics`: Prometheus text format.
#[handler]
pub fn metrics(state: Data<&AppState>) -> Response {
  state
    .metrics
    .render()
    .with_content_type("text/plain; version=0.0.4")
    .into_response()
}
