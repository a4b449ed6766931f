//! Prometheus metrics: registering a metric, rendering a registry, and the `/metrics` endpoint.

use poem::{Endpoint, IntoResponse, Response};
use prometheus::core::Collector;
use prometheus::{Encoder, Registry, TextEncoder};

/// Registers `metric` in `registry` and returns it (so that a `Metrics::new` is one expression a metric).
///
/// # Errors
/// Fails when a metric of that name is already registered (a programming error).
pub fn register<M: Collector + Clone + 'static>(
  registry: &Registry,
  metric: M,
) -> Result<M, prometheus::Error> {
  registry.register(Box::new(metric.clone()))?;
  Ok(metric)
}

/// The metrics of `registry` in the Prometheus text format (an encoding failure is logged and gives what was
/// encoded).
#[must_use]
pub fn render(registry: &Registry) -> String {
  let mut buffer = Vec::new();
  if let Err(error) = TextEncoder::new().encode(&registry.gather(), &mut buffer) {
    tracing::error!(%error, "could not encode metrics");
  }
  String::from_utf8_lossy(&buffer).into_owned()
}

/// The `GET /metrics` endpoint: `registry` in the Prometheus text format.
pub fn metrics_endpoint(registry: Registry) -> impl Endpoint<Output = Response> {
  poem::endpoint::make_sync(move |_| {
    render(&registry)
      .with_content_type("text/plain; version=0.0.4")
      .into_response()
  })
}

#[cfg(test)]
mod tests {
  use super::*;

  #[tokio::test]
  async fn the_endpoint_serves_registered_metrics_as_text() {
    let registry = Registry::new();
    let counter = register(
      &registry,
      prometheus::IntCounter::new("things_total", "Things.").expect("counter"),
    )
    .expect("register");
    counter.inc();
    let duplicate = prometheus::IntCounter::new("things_total", "Things.").expect("counter");
    assert!(register(&registry, duplicate).is_err());
    let response = metrics_endpoint(registry)
      .call(poem::Request::default())
      .await
      .expect("response");
    assert!(response.status().is_success());
    let text = response.into_body().into_string().await.expect("text");
    assert_eq!(
      text,
      "# HELP things_total Things.\n# TYPE things_total counter\nthings_total 1\n"
    );
  }
}
