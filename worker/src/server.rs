//! The worker's small HTTP server: `/healthz` (alive), `/readyz` (database reachable and lease held) and
//! `/metrics` (Prometheus text).

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{EndpointExt, IntoResponse, Response, Route, get, handler};
use sea_orm::DatabaseConnection;
use tokio::sync::Mutex;

use crate::lease::Lease;
use crate::metrics::Metrics;

/// What the handlers need.
#[derive(Clone)]
pub struct ServerState {
  /// The database whose reachability `/readyz` checks.
  pub database: DatabaseConnection,
  /// The lease, once taken.
  pub lease: Arc<Mutex<Option<Lease>>>,
  /// The metrics rendered by `/metrics`.
  pub metrics: Metrics,
}

#[handler]
fn healthz() -> &'static str {
  "ok"
}

#[handler]
async fn readyz(state: Data<&ServerState>) -> Response {
  let database_reachable = state.database.ping().await.is_ok();
  let lease_held = match state.lease.lock().await.as_ref() {
    Some(lease) => lease.is_held().await,
    None => false,
  };
  let body = format!("database_reachable={database_reachable}\nlease_held={lease_held}\n");
  let status = if database_reachable && lease_held {
    StatusCode::OK
  } else {
    StatusCode::SERVICE_UNAVAILABLE
  };
  body.with_status(status).into_response()
}

#[handler]
fn metrics(state: Data<&ServerState>) -> Response {
  state
    .metrics
    .render()
    .with_content_type("text/plain; version=0.0.4")
    .into_response()
}

/// The routes of the server.
pub fn routes(state: ServerState) -> impl poem::Endpoint {
  Route::new()
    .at("/healthz", get(healthz))
    .at("/readyz", get(readyz))
    .at("/metrics", get(metrics))
    .data(state)
}
