//! Prometheus metrics of the worker, served as text on `/metrics`.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use runtime::register;

/// The worker's metrics; cheap to clone (clones share the counters).
#[derive(Clone)]
pub struct Metrics {
  registry: Registry,
  rows_received: IntCounterVec,
  rows_ingested: IntCounterVec,
  requests: IntCounterVec,
  upstream_lag_seconds: IntGauge,
  last_success_timestamp_seconds: IntGauge,
  invalidations: IntCounterVec,
  publications: IntCounterVec,
  change_log_pruned: IntCounter,
  upstream_locked: IntCounter,
  poll_failures: IntCounter,
  lease_held: IntGauge,
  live_messages: IntCounterVec,
  live_connected: IntGauge,
  live_connections: IntCounter,
  live_gap_fills: IntCounterVec,
}

fn counter_vec(
  registry: &Registry,
  name: &str,
  help: &str,
  labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
  register(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> Result<IntGauge, prometheus::Error> {
  register(registry, IntGauge::new(name, help)?)
}

fn counter(registry: &Registry, name: &str, help: &str) -> Result<IntCounter, prometheus::Error> {
  register(registry, IntCounter::new(name, help)?)
}

impl Metrics {
  /// A fresh registry with every metric registered.
  ///
  /// # Errors
  /// Fails when a metric is defined twice or invalid (a programming error).
  pub fn new() -> Result<Self, prometheus::Error> {
    let registry = Registry::new();
    Ok(Self {
      rows_received: counter_vec(
        &registry,
        "worker_rows_received_total",
        "Rows received from Open F1, by endpoint.",
        &["endpoint"],
      )?,
      rows_ingested: counter_vec(
        &registry,
        "worker_rows_ingested_total",
        "Rows written (new or changed), by endpoint.",
        &["endpoint"],
      )?,
      requests: counter_vec(
        &registry,
        "worker_upstream_requests_total",
        "Requests to Open F1, by endpoint and HTTP status (`error` when no response arrived).",
        &["endpoint", "status"],
      )?,
      upstream_lag_seconds: gauge(
        &registry,
        "worker_upstream_lag_seconds",
        "Age of the newest timestamped row in the last stored batch.",
      )?,
      last_success_timestamp_seconds: gauge(
        &registry,
        "worker_last_success_timestamp_seconds",
        "Unix time of the last poll that completed without error.",
      )?,
      invalidations: counter_vec(
        &registry,
        "worker_cache_invalidations_total",
        "Cache scope invalidations, by outcome (`ok`, `failed`).",
        &["outcome"],
      )?,
      publications: counter_vec(
        &registry,
        "worker_change_publications_total",
        "Commits published on the Redis changes channel, by outcome (`ok`, `failed`).",
        &["outcome"],
      )?,
      change_log_pruned: counter(
        &registry,
        "worker_change_log_pruned_total",
        "Change log rows deleted because they are older than the retention.",
      )?,
      upstream_locked: counter(
        &registry,
        "worker_upstream_locked_total",
        "Requests refused because a session is live and no token is configured.",
      )?,
      poll_failures: counter(
        &registry,
        "worker_poll_failures_total",
        "Polls that ended with an error.",
      )?,
      lease_held: gauge(
        &registry,
        "worker_lease_held",
        "1 while this worker holds the single-writer lease.",
      )?,
      live_messages: counter_vec(
        &registry,
        "worker_live_messages_total",
        "MQTT messages of the live stream, by outcome (`stored`, `superseded`, `invalid`, `unknown_topic`, \
         `dropped`).",
        &["outcome"],
      )?,
      live_connected: gauge(
        &registry,
        "worker_live_connected",
        "1 while a live MQTT connection is subscribed (REST polling then leaves live sessions to it).",
      )?,
      live_connections: counter(
        &registry,
        "worker_live_connections_total",
        "Live MQTT connections that reached the subscribed state.",
      )?,
      live_gap_fills: counter_vec(
        &registry,
        "worker_live_gap_fills_total",
        "Gaps of the live stream filled over REST, by outcome (`ok`, `failed`).",
        &["outcome"],
      )?,
      registry,
    })
  }

  /// Counts `count` live MQTT messages with `outcome`.
  pub fn count_live_messages(&self, outcome: &str, count: usize) {
    self
      .live_messages
      .with_label_values(&[outcome])
      .inc_by(u64::try_from(count).unwrap_or(u64::MAX));
  }

  /// Live MQTT messages with `outcome` so far.
  #[must_use]
  pub fn live_messages(&self, outcome: &str) -> u64 {
    self.live_messages.with_label_values(&[outcome]).get()
  }

  /// Records whether a live MQTT connection is subscribed; counts each new subscribed connection.
  pub fn set_live_connected(&self, connected: bool) {
    if connected {
      self.live_connections.inc();
    }
    self.live_connected.set(i64::from(connected));
  }

  /// Counts a gap of the live stream filled over REST (or a failed attempt).
  pub fn count_gap_fill(&self, succeeded: bool) {
    let outcome = if succeeded { "ok" } else { "failed" };
    self.live_gap_fills.with_label_values(&[outcome]).inc();
  }

  /// Counts a request to `endpoint` answered with `status`.
  pub fn count_request(&self, endpoint: &str, status: &str) {
    self.requests.with_label_values(&[endpoint, status]).inc();
  }

  /// Counts a stored batch.
  pub fn count_rows(&self, endpoint: &str, received: usize, written: usize) {
    let as_u64 = |count: usize| u64::try_from(count).unwrap_or(u64::MAX);
    self
      .rows_received
      .with_label_values(&[endpoint])
      .inc_by(as_u64(received));
    self
      .rows_ingested
      .with_label_values(&[endpoint])
      .inc_by(as_u64(written));
  }

  /// Rows written for `endpoint` so far.
  #[must_use]
  pub fn rows_ingested(&self, endpoint: &str) -> u64 {
    self.rows_ingested.with_label_values(&[endpoint]).get()
  }

  /// Records the age of the newest row of a batch.
  pub fn set_upstream_lag(&self, seconds: i64) {
    self.upstream_lag_seconds.set(seconds);
  }

  /// Records a successful poll now.
  pub fn record_success(&self) {
    self
      .last_success_timestamp_seconds
      .set(chrono::Utc::now().timestamp());
  }

  /// Counts a scope invalidation.
  pub fn count_invalidation(&self, succeeded: bool) {
    let outcome = if succeeded { "ok" } else { "failed" };
    self.invalidations.with_label_values(&[outcome]).inc();
  }

  /// Invalidations with `outcome` (`ok` or `failed`) so far.
  #[must_use]
  pub fn invalidations(&self, outcome: &str) -> u64 {
    self.invalidations.with_label_values(&[outcome]).get()
  }

  /// Counts a publication of a commit's changes.
  pub fn count_publication(&self, succeeded: bool) {
    let outcome = if succeeded { "ok" } else { "failed" };
    self.publications.with_label_values(&[outcome]).inc();
  }

  /// Publications with `outcome` (`ok` or `failed`) so far.
  #[must_use]
  pub fn publications(&self, outcome: &str) -> u64 {
    self.publications.with_label_values(&[outcome]).get()
  }

  /// Counts pruned change log rows.
  pub fn count_change_log_pruned(&self, rows: u64) {
    self.change_log_pruned.inc_by(rows);
  }

  /// Counts a request refused because a session is live.
  pub fn count_upstream_locked(&self) {
    self.upstream_locked.inc();
  }

  /// Requests refused because a session is live, so far.
  #[must_use]
  pub fn upstream_locked(&self) -> u64 {
    self.upstream_locked.get()
  }

  /// Counts a failed poll.
  pub fn count_poll_failure(&self) {
    self.poll_failures.inc();
  }

  /// Records whether the lease is held.
  pub fn set_lease_held(&self, held: bool) {
    self.lease_held.set(i64::from(held));
  }

  /// The registry every metric is registered in (served by [`runtime::metrics_endpoint`], rendered by
  /// [`runtime::render`]).
  #[must_use]
  pub fn registry(&self) -> &Registry {
    &self.registry
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn counted_requests_appear_in_the_text_format() {
    let metrics = Metrics::new().expect("metrics");
    metrics.count_request("laps", "200");
    metrics.count_rows("laps", 10, 4);
    metrics.count_upstream_locked();
    let text = runtime::render(metrics.registry());
    assert!(text.contains(r#"worker_upstream_requests_total{endpoint="laps",status="200"} 1"#));
    assert!(text.contains(r#"worker_rows_ingested_total{endpoint="laps"} 4"#));
    assert!(text.contains("worker_upstream_locked_total 1"));
  }
}
