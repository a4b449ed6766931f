//! Benchmarks of the event streams, run by `bench/sse.sh` (ignored by `cargo test`; they print numbers, they assert
//! no times). Results go to `bench/README.md`.

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use f1_backend::Engine;

use crate::api_support::scrape_metrics;
use crate::events::{LiveApi, SseClient, live_api, wait_for_open_streams};

/// The value of counter `series` (name and labels as the metrics text prints them) on the api's metrics port; 0
/// while it has not been counted.
async fn counter(http: &reqwest::Client, metrics_port: u16, series: &str) -> u64 {
  let metrics = scrape_metrics(http, &format!("http://127.0.0.1:{metrics_port}/metrics")).await;
  metrics
    .lines()
    .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
    .and_then(|value| value.trim().parse().ok())
    .unwrap_or(0)
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
  let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
  sorted[index.min(sorted.len() - 1)]
}

/// Replays the race at 10x (the clock moves one race second every 100 ms of wall time, and what became due is
/// published to mosquitto) for `SSE_BENCH_SECONDS` (default 60) and measures, for every publication, the time
/// until an SSE client received an event after which the worker had committed every row published so far.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run bench/sse.sh"]
async fn sse_bench_lag_from_replay_publication_to_event_at_ten_times_speed() {
  let seconds: u64 = std::env::var("SSE_BENCH_SECONDS")
    .ok()
    .and_then(|value| value.parse().ok())
    .unwrap_or(60);
  let LiveApi {
    setup,
    mut live,
    api,
    streams,
    ..
  } = live_api().await;
  let port: u16 = api
    .base_url
    .rsplit(':')
    .next()
    .and_then(|port| port.parse().ok())
    .expect("port");
  let mut client = SseClient::connect(port, "/v1/sessions/9472/events", None, false).await;
  wait_for_open_streams(&streams, 1).await;

  // The reader records, for every event, when it arrived and how many messages the worker had committed by then.
  let status = live.status_receiver();
  let (received_sender, mut received) = tokio::sync::mpsc::unbounded_channel();
  let reader = tokio::spawn(async move {
    while let Some((_id, _data)) = client.next_event_patiently().await {
      let handled = status.borrow().handled;
      if received_sender.send((Instant::now(), handled)).is_err() {
        return;
      }
    }
  });
  let handled_at_start = live.status().handled;
  let mut publications = Vec::new();
  let mut published = 0_u64;
  let started = Instant::now();
  let mut tick = tokio::time::interval(Duration::from_millis(100));
  while started.elapsed() < Duration::from_secs(seconds) {
    tick.tick().await;
    setup.clock.advance(TimeDelta::seconds(1));
    let at = Instant::now();
    let rows = setup.server.publish_due().await.expect("publish") as u64;
    if rows > 0 {
      published += rows;
      publications.push((at, published));
    }
  }
  crate::live::wait_for(&mut live, "every published row is handled", |status| {
    status.handled >= handled_at_start + published
  })
  .await;
  tokio::time::sleep(Duration::from_secs(2)).await;
  reader.abort();
  let mut events = Vec::new();
  while let Ok(event) = received.try_recv() {
    events.push(event);
  }
  let mut lags: Vec<f64> = publications
    .iter()
    .filter_map(|(at, cumulative)| {
      events
        .iter()
        .find(|(arrived, handled)| arrived >= at && *handled >= handled_at_start + cumulative)
        .map(|(arrived, _)| arrived.duration_since(*at).as_secs_f64() * 1000.0)
    })
    .collect();
  let unmatched = publications.len() - lags.len();
  lags.sort_by(f64::total_cmp);
  println!(
    "SSE lag at 10x: {} publications ({published} rows) over {seconds} s, {} events; lag p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms; {unmatched} publications without a matching event",
    publications.len(),
    events.len(),
    percentile(&lags, 0.5),
    percentile(&lags, 0.95),
    lags.last().copied().unwrap_or(0.0),
  );
  live.stop().await;
  setup.server.stop().await;
}

fn resident_kilobytes(pid: u32, field: &str) -> u64 {
  std::fs::read_to_string(format!("/proc/{pid}/status"))
    .unwrap_or_default()
    .lines()
    .find(|line| line.starts_with(field))
    .and_then(|line| line.split_whitespace().nth(1))
    .and_then(|value| value.parse().ok())
    .unwrap_or(0)
}

/// `SSE_BENCH_CLIENTS` (default 1000) clients on one api process (the debug `api` binary, run as its own process
/// so that its memory is its own) for `SSE_BENCH_SECONDS` (default 60) while changes are committed 20 times a
/// second; every client must receive every change, and the api's resident memory is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run bench/sse.sh"]
async fn sse_bench_a_thousand_clients_on_one_api_for_a_minute() {
  let clients: usize = std::env::var("SSE_BENCH_CLIENTS")
    .ok()
    .and_then(|value| value.parse().ok())
    .unwrap_or(1000);
  let seconds: u64 = std::env::var("SSE_BENCH_SECONDS")
    .ok()
    .and_then(|value| value.parse().ok())
    .unwrap_or(60);
  let binary =
    std::env::var("API_BINARY").expect("API_BINARY: the api binary (bench/sse.sh sets it)");
  let database = f1_backend::TestDatabase::migrated(Engine::MariaDb).await;
  let committer = crate::change_feed::committer(&database, None, "unused");
  crate::change_feed::commit_rows(
    &committer,
    entity::Endpoint::Sessions,
    &crate::change_feed::race_rows("sessions.json"),
  )
  .await;
  let free_port = || {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("address").port()
  };
  let port = free_port();
  let metrics_port = free_port();
  let mut api = tokio::process::Command::new(binary)
    .env("DATABASE_URL", &database.url)
    .env("API_LISTEN_ADDRESS", format!("127.0.0.1:{port}"))
    .env("API_METRICS_ADDRESS", format!("127.0.0.1:{metrics_port}"))
    .env("API_RUN_MIGRATIONS", "false")
    .env("API_CHANGE_POLL_INTERVAL_MILLISECONDS", "50")
    .env("RUST_LOG", "warn")
    .kill_on_drop(true)
    .spawn()
    .expect("start the api");
  let pid = api.id().expect("pid");
  let deadline = Instant::now() + Duration::from_secs(30);
  while tokio::net::TcpStream::connect(("127.0.0.1", port))
    .await
    .is_err()
  {
    assert!(Instant::now() < deadline, "the api never listened");
    tokio::time::sleep(Duration::from_millis(50)).await;
  }
  let idle_kilobytes = resident_kilobytes(pid, "VmRSS:");
  let mut readers = Vec::with_capacity(clients);
  for _ in 0..clients {
    let mut client = SseClient::connect(port, "/v1/sessions/9472/events", None, false).await;
    assert_eq!(client.status, 200);
    readers.push(tokio::spawn(async move {
      let mut ids = Vec::new();
      while let Some((id, _)) = client.next_event_patiently().await {
        ids.push(id);
      }
      ids
    }));
  }
  let connected_kilobytes = resident_kilobytes(pid, "VmRSS:");
  let mut appended = Vec::new();
  let started = Instant::now();
  let mut tick = tokio::time::interval(Duration::from_millis(50));
  while started.elapsed() < Duration::from_secs(seconds) {
    tick.tick().await;
    let transaction = sea_orm::TransactionTrait::begin(&database.connection)
      .await
      .expect("begin");
    let change = entity::change_log::PendingChange {
      session_key: Some(9472),
      year: Some(2024),
      tables: ["laps".to_owned()].into_iter().collect(),
    };
    let changes = entity::change_log::append(&transaction, &[change], chrono::Utc::now())
      .await
      .expect("append");
    transaction.commit().await.expect("commit");
    appended.extend(changes.into_iter().map(|change| change.id));
  }
  // Delivery may trail the last commit: wait (at most a minute) until the api has sent every event.
  let committed_at = Instant::now();
  let expected = (clients * appended.len()) as u64;
  let http = crate::api_support::client();
  let mut sent = 0;
  while sent < expected && committed_at.elapsed() < Duration::from_secs(60) {
    tokio::time::sleep(Duration::from_millis(200)).await;
    sent = counter(&http, metrics_port, "events_sent_total").await;
  }
  let trailing = committed_at.elapsed();
  let dropped = counter(
    &http,
    metrics_port,
    r#"event_streams_total{outcome="dropped"}"#,
  )
  .await;
  let peak_kilobytes = resident_kilobytes(pid, "VmHWM:");
  let final_kilobytes = resident_kilobytes(pid, "VmRSS:");
  api.kill().await.ok();
  let mut complete = 0;
  for reader in readers {
    let ids = reader.await.expect("join");
    if ids == appended {
      complete += 1;
    }
  }
  println!(
    "SSE fan-out: {clients} clients, {} changes over {seconds} s; {complete}/{clients} clients got every change in order, {dropped} dropped as too slow; delivery finished {:.1} s after the last commit; api RSS idle {} MiB, connected {} MiB, end {} MiB, peak (VmHWM) {} MiB",
    appended.len(),
    trailing.as_secs_f64(),
    idle_kilobytes / 1024,
    connected_kilobytes / 1024,
    final_kilobytes / 1024,
    peak_kilobytes / 1024,
  );
  assert_eq!(complete, clients, "a client that keeps up loses no event");
}
