//! Prometheus metrics: requests by route template and status, request latency, response cache lookups.

use prometheus::{
  HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};
use runtime::register;

/// The api's metrics (cheap to clone; all clones share one registry).
#[derive(Clone)]
pub struct Metrics {
  registry: Registry,
  requests: IntCounterVec,
  latency: HistogramVec,
  cache_lookups: IntCounterVec,
  cache_hits: IntCounterVec,
  cache_refusals: IntCounter,
  changes_applied: IntCounterVec,
  change_poll_failures: IntCounter,
  change_feed_newest: IntGauge,
}

impl Metrics {
  /// Registers the api's metrics in a fresh registry.
  ///
  /// # Errors
  /// Fails when a metric is defined twice (a programming error).
  pub fn new() -> Result<Self, prometheus::Error> {
    let registry = Registry::new();
    let requests = register(
      &registry,
      IntCounterVec::new(
        Opts::new(
          "http_requests_total",
          "HTTP requests by route template, method and status.",
        ),
        &["route", "method", "status"],
      )?,
    )?;
    let latency = register(
      &registry,
      HistogramVec::new(
        HistogramOpts::new(
          "http_request_duration_seconds",
          "HTTP request latency by route template and method.",
        )
        .buckets(vec![
          0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]),
        &["route", "method"],
      )?,
    )?;
    let cache_lookups = register(
      &registry,
      IntCounterVec::new(
        Opts::new(
          "response_cache_lookups_total",
          "Response cache lookups by outcome (hit, miss, coalesced, error).",
        ),
        &["outcome"],
      )?,
    )?;
    let cache_hits = register(
      &registry,
      IntCounterVec::new(
        Opts::new(
          "response_cache_hits_total",
          "Response cache hits by tier (memory: in process; redis: shared).",
        ),
        &["tier"],
      )?,
    )?;
    let cache_refusals = register(
      &registry,
      IntCounter::new(
        "response_cache_overtaken_total",
        "Built answers not stored because a change overtook their build.",
      )?,
    )?;
    let changes_applied = register(
      &registry,
      IntCounterVec::new(
        Opts::new(
          "change_feed_applied_total",
          "Changes the api applied, by how it learned them (poll of the change log, or Redis publication).",
        ),
        &["source"],
      )?,
    )?;
    let change_poll_failures = register(
      &registry,
      IntCounter::new(
        "change_feed_poll_failures_total",
        "Polls of the change log that failed or timed out.",
      )?,
    )?;
    let change_feed_newest = register(
      &registry,
      IntGauge::new(
        "change_feed_newest_id",
        "The newest change id the api applied.",
      )?,
    )?;
    Ok(Self {
      registry,
      requests,
      latency,
      cache_lookups,
      cache_hits,
      cache_refusals,
      changes_applied,
      change_poll_failures,
      change_feed_newest,
    })
  }

  /// Registers a collector defined elsewhere (the event streams' metrics) in this registry.
  ///
  /// # Errors
  /// Fails when a metric of that name is already registered.
  pub fn register(
    &self,
    collector: Box<dyn prometheus::core::Collector>,
  ) -> Result<(), prometheus::Error> {
    self.registry.register(collector)
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

  /// Counts one hit of a cache tier (`memory` or `redis`).
  pub fn count_cache_hit(&self, tier: &str) {
    self.cache_hits.with_label_values(&[tier]).inc();
  }

  /// Counts one built answer not stored because a change overtook its build.
  pub fn count_cache_overtaken(&self) {
    self.cache_refusals.inc();
  }

  /// Counts one applied change by how it was learned (`poll` or `publication`).
  pub fn count_change_applied(&self, source: &str) {
    self.changes_applied.with_label_values(&[source]).inc();
  }

  /// Counts one failed poll of the change log.
  pub fn count_change_poll_failure(&self) {
    self.change_poll_failures.inc();
  }

  /// Records the newest applied change id.
  pub fn set_change_feed_newest(&self, newest: i64) {
    self.change_feed_newest.set(newest);
  }

  /// The registry every metric is registered in (served by [`runtime::metrics_endpoint`], rendered by
  /// [`runtime::render`]).
  #[must_use]
  pub fn registry(&self) -> &Registry {
    &self.registry
  }
}
