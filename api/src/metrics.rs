//! Prometheus metrics: requests by route template and status, request latency, response cache lookups.

use prometheus::{
  Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The api's metrics (cheap to clone; all clones share one registry).
#[derive(Clone)]
pub struct Metrics {
  registry: Registry,
  requests: IntCounterVec,
  latency: HistogramVec,
  cache_lookups: IntCounterVec,
}

impl Metrics {
  /// Registers the api's metrics in a fresh registry.
  ///
  /// # Errors
  /// Fails when a metric is defined twice (a programming error).
  pub fn new() -> Result<Self, prometheus::Error> {
    let registry = Registry::new();
    let requests = IntCounterVec::new(
      Opts::new(
        "http_requests_total",
        "HTTP requests by route template, method and status.",
      ),
      &["route", "method", "status"],
    )?;
    let latency = HistogramVec::new(
      HistogramOpts::new(
        "http_request_duration_seconds",
        "HTTP request latency by route template and method.",
      )
      .buckets(vec![
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
      ]),
      &["route", "method"],
    )?;
    let cache_lookups = IntCounterVec::new(
      Opts::new(
        "response_cache_lookups_total",
        "Response cache lookups by outcome (hit, miss, coalesced, error).",
      ),
      &["outcome"],
    )?;
    registry.register(Box::new(requests.clone()))?;
    registry.register(Box::new(latency.clone()))?;
    registry.register(Box::new(cache_lookups.clone()))?;
    Ok(Self {
      registry,
      requests,
      latency,
      cache_lookups,
    })
  }

  /// Counts one finished request.
  pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
    self
      .requests
      .with_label_values(&[route, method, &status.to_string()])
      .inc();
    self
      .latency
      .with_label_values(&[route, method])
      .observe(seconds);
  }

  /// Counts one cache lookup outcome.
  pub fn count_cache(&self, outcome: &str) {
    self.cache_lookups.with_label_values(&[outcome]).inc();
  }

  /// The metrics in the Prometheus text format.
  #[must_use]
  pub fn render(&self) -> String {
    let mut buffer = Vec::new();
    if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
      tracing::error!(%error, "could not encode metrics");
    }
    String::from_utf8(buffer).unwrap_or_default()
  }
}
