//! Operational endpoints outside the OpenAPI document: `/healthz` and `/readyz` on the public port (`/metrics`, on
//! `API_METRICS_ADDRESS`, is [`runtime::metrics_endpoint`]).

use std::time::Duration;

use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{IntoResponse, Response, handler};
use serde_json::json;

use crate::AppState;
use crate::cache::CacheError;

/// Longest wait for Redis when checking readiness: `/readyz` answers within this bound whatever Redis does (the
/// database's state is known without waiting, from the [`entity::database::DatabaseMonitor`]).
pub const READINESS_REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// `GET /healthz`: the process is alive (no dependency is checked).
#[handler]
pub fn healthz() -> Json<serde_json::Value> {
  Json(json!({ "status": "alive" }))
}

/// `GET /readyz`: 200 when the database answers (`degraded` when the Redis cache does not, or the change feed is
/// not following the change log), else 503. `changes` reports the feed: its newest applied change id, the state
/// of its poll and of its Redis subscription. Answers
/// within [`READINESS_REDIS_TIMEOUT`] whatever the dependencies do: a frozen database or Redis is reported, not
/// waited for.
#[handler]
pub async fn readyz(state: Data<&AppState>) -> Response {
  let database = if state.database_monitor.is_reachable() {
    Ok(())
  } else {
    Err("unreachable")
  };
  let cache = if state.cache.is_redis() {
    match tokio::time::timeout(READINESS_REDIS_TIMEOUT, state.cache.ping()).await {
      Ok(Ok(())) => "ok",
      Ok(Err(CacheError::Redis(error))) => {
        tracing::warn!(%error, "readiness: redis unreachable");
        "unreachable"
      }
      Ok(Err(CacheError::Timeout(_))) | Err(_) => {
        tracing::warn!("readiness: redis timed out");
        "unreachable"
      }
    }
  } else {
    "in-process"
  };
  let feed = state.changes.health();
  let (status, word) = match (database, cache) {
    (Err(_), _) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    (Ok(()), "unreachable") => (StatusCode::OK, "degraded"),
    (Ok(()), _) if !feed.is_following() => (StatusCode::OK, "degraded"),
    (Ok(()), _) => (StatusCode::OK, "ready"),
  };
  let body = json!({
    "status": word,
    "database": database.err().unwrap_or("ok"),
    "cache": cache,
    "changes": {
      "newest": feed.newest,
      "poll": if !feed.loaded { "not loaded" } else if feed.poll_error.is_some() { "failing" } else { "ok" },
      "since_last_poll_ms": feed.since_last_poll.map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)),
      "subscription": feed.subscription,
    },
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
