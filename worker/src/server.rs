//! The worker's small HTTP server: `/healthz` (alive), `/readyz` (database reachable and lease held) and
//! `/metrics` (Prometheus text). Every answer comes within [`READINESS_LEASE_TIMEOUT`], whatever the database
//! does.

use std::sync::Arc;
use std::time::Duration;

use entity::database::DatabaseMonitor;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{EndpointExt, IntoResponse, Response, Route, get, handler};
use tokio::sync::Mutex;

use crate::lease::Lease;
use crate::metrics::Metrics;

/// What the handlers need.
#[derive(Clone)]
pub struct ServerState {
  /// Whether the database answers (probed in the background: `/readyz` never waits for it).
  pub database_monitor: DatabaseMonitor,
  /// The lease, once taken.
  pub lease: Arc<Mutex<Option<Lease>>>,
  /// The metrics rendered by `/metrics`.
  pub metrics: Metrics,
}

#[handler]
fn healthz() -> &'static str {
  "ok"
}

/// Longest wait for the lease check of `/readyz` (a query on the lease's connection, which a frozen database never
/// answers); past it the lease counts as not held.
pub const READINESS_LEASE_TIMEOUT: Duration = Duration::from_millis(500);

#[handler]
async fn readyz(state: Data<&ServerState>) -> Response {
  let database_reachable = state.database_monitor.is_reachable();
  let lease_check = async {
    match state.lease.lock().await.as_ref() {
      Some(lease) => lease.is_held().await,
      None => false,
    }
  };
  let lease_held = database_reachable
    && tokio::time::timeout(READINESS_LEASE_TIMEOUT, lease_check)
      .await
      .unwrap_or(false);
  let body = format!("database_reachable={database_reachable}\nlease_held={lease_held}\n");
  let status = if database_reachable && lease_held {
    StatusCode::OK
  } else {
    StatusCode::SERVICE_UNAVAILABLE
  };
  body.with_status(status).into_response()
}

/// The routes of the server.
pub fn routes(state: ServerState) -> impl poem::Endpoint {
  Route::new()
    .at("/healthz", get(healthz))
    .at("/readyz", get(readyz))
    .at(
      "/metrics",
      runtime::metrics_endpoint(state.metrics.registry().clone()),
    )
    .data(state)
}
