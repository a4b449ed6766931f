//! `GET /v1/sessions/{session_key}/events`: Server-Sent Events of the worker's commits, against a real api, real
//! MariaDB and Redis, and the worker's one commit path. The clients are raw HTTP/1.0 connections, so a test
//! controls when (and whether) a client reads. Every wait is for a condition, bounded by a deadline.

use std::time::Duration;

use api::{Secret, Settings};
use entity::Endpoint;
use entity::change_log::{self, PendingChange};
use f1_backend::{Engine, TestDatabase, fixture_rows, fixtures_dir, redis_url, unique_name};
use sea_orm::TransactionTrait;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use worker::{Batch, Committer};

use crate::api_support::TestApi;
use crate::change_feed::{DEADLINE, commit_rows, committer, race_rows, wait_for};

const RACE: i32 = 9472;

/// One frame of an event stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
  /// A comment line (`:`): a heartbeat.
  Heartbeat,
  /// An event.
  Event {
    /// `id:`.
    id: i64,
    /// `event:`.
    name: String,
    /// `data:`, parsed.
    data: Value,
  },
}

/// A raw HTTP/1.0 client of an event stream.
pub struct SseClient {
  stream: TcpStream,
  buffer: Vec<u8>,
  /// The status code.
  pub status: u16,
  /// The response head (status line and headers), lower-cased.
  pub head: String,
  closed: bool,
}

impl SseClient {
  /// GETs `path` on `127.0.0.1:port`, sending `Last-Event-ID` when given; with `small_buffer`, the socket's
  /// receive buffer is tiny, so that a client that does not read is soon behind.
  pub async fn connect(
    port: u16,
    path: &str,
    last_event_id: Option<i64>,
    small_buffer: bool,
  ) -> Self {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    if small_buffer {
      socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    }
    let mut stream = socket
      .connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
      .await
      .expect("connect to the api");
    let resume = last_event_id.map_or_else(String::new, |id| format!("Last-Event-ID: {id}\r\n"));
    stream
      .write_all(
        format!(
          "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n{resume}\r\n"
        )
        .as_bytes(),
      )
      .await
      .expect("send the request");
    let mut client = Self {
      stream,
      buffer: Vec::new(),
      status: 0,
      head: String::new(),
      closed: false,
    };
    let end = loop {
      if let Some(end) = find(&client.buffer, b"\r\n\r\n") {
        break end;
      }
      assert!(client.fill().await, "the connection closed before the head");
    };
    client.head = String::from_utf8_lossy(&client.buffer[..end]).to_lowercase();
    client.buffer.drain(..end + 4);
    client.status = client
      .head
      .split_whitespace()
      .nth(1)
      .and_then(|status| status.parse().ok())
      .expect("a status line");
    client
  }

  async fn fill(&mut self) -> bool {
    let mut chunk = [0_u8; 8192];
    let read = self.stream.read(&mut chunk).await.expect("read");
    if read == 0 {
      self.closed = true;
      return false;
    }
    self.buffer.extend_from_slice(&chunk[..read]);
    true
  }

  /// The rest of the body, up to the end of the connection (for answers that are not streams).
  pub async fn body(mut self) -> String {
    while self.fill().await {}
    String::from_utf8_lossy(&self.buffer).into_owned()
  }

  /// The next frame, or `None` when the server ended the stream; fails after [`DEADLINE`].
  pub async fn next_frame(&mut self) -> Option<Frame> {
    tokio::time::timeout(DEADLINE, self.read_frame())
      .await
      .expect("a frame or the end of the stream within the deadline")
  }

  async fn read_frame(&mut self) -> Option<Frame> {
    loop {
      if let Some(end) = find(&self.buffer, b"\n\n") {
        let text = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
        self.buffer.drain(..end + 2);
        return Some(parse_frame(&text));
      }
      if self.closed || !self.fill().await {
        return None;
      }
    }
  }

  /// The next event (heartbeats skipped), or `None` at the end of the stream.
  pub async fn next_event(&mut self) -> Option<(i64, Value)> {
    loop {
      match self.next_frame().await? {
        Frame::Heartbeat => {}
        Frame::Event { id, name, data } => {
          assert_eq!(name, "changed");
          return Some((id, data));
        }
      }
    }
  }

  /// The next event (heartbeats skipped), or `None` at the end of the stream, however long it takes.
  pub async fn next_event_patiently(&mut self) -> Option<(i64, Value)> {
    loop {
      match self.read_frame().await? {
        Frame::Heartbeat => {}
        Frame::Event { id, data, .. } => return Some((id, data)),
      }
    }
  }

  /// The ids of the next `count` events.
  pub async fn next_ids(&mut self, count: usize) -> Vec<i64> {
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
      ids.push(self.next_event().await.expect("an event").0);
    }
    ids
  }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
  haystack
    .windows(needle.len())
    .position(|window| window == needle)
}

fn parse_frame(text: &str) -> Frame {
  let mut id = None;
  let mut name = String::new();
  let mut data = String::new();
  for line in text.lines() {
    if let Some(value) = line.strip_prefix("id: ") {
      id = value.parse().ok();
    } else if let Some(value) = line.strip_prefix("event: ") {
      name = value.to_owned();
    } else if let Some(value) = line.strip_prefix("data: ") {
      data.push_str(value);
    }
  }
  match id {
    None if text.lines().all(|line| line.starts_with(':')) => Frame::Heartbeat,
    Some(id) => Frame::Event {
      id,
      name,
      data: serde_json::from_str(&data).expect("the data is JSON"),
    },
    None => panic!("a frame without an id: {text:?}"),
  }
}

fn port_of(api: &TestApi) -> u16 {
  api
    .base_url
    .rsplit(':')
    .next()
    .and_then(|port| port.parse().ok())
    .expect("a port")
}

fn events_path(session_key: i32) -> String {
  format!("/v1/sessions/{session_key}/events")
}

/// A migrated MariaDB database whose race session is committed through the worker's commit path.
async fn database_with_race() -> TestDatabase {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  let committer = committer(&database, None, "unused");
  commit_rows(&committer, Endpoint::Sessions, &race_rows("sessions.json")).await;
  database
}

fn settings_for(database: &TestDatabase) -> Settings {
  let mut settings = Settings::for_tests(database.url.clone());
  settings.change_poll_interval = Duration::from_millis(20);
  settings
}

/// Starts the api on `settings`, returning it with its change feed and event streams.
pub(crate) async fn start_api(settings: Settings) -> (TestApi, api::ChangeFeed, api::EventStreams) {
  let application = api::Application::build(settings)
    .await
    .expect("build the api");
  let feed = application.change_feed();
  let streams = application.event_streams();
  (TestApi::serve(application, None), feed, streams)
}

/// A recorded race replayed to mosquitto, the worker's live ingest caught up with it (MariaDB, Redis), and an api
/// on the same database and Redis prefix.
pub(crate) struct LiveApi {
  pub(crate) setup: crate::live::Live,
  pub(crate) live: worker::LiveHandle,
  pub(crate) api: TestApi,
  pub(crate) feed: api::ChangeFeed,
  pub(crate) streams: api::EventStreams,
}

/// Starts a [`LiveApi`].
pub(crate) async fn live_api() -> LiveApi {
  let setup = crate::live::live_setup(Engine::MariaDb, Duration::from_secs(3600), true).await;
  let (live, _) = setup.start_live_caught_up().await;
  let mut settings = Settings::for_tests(setup.database.url.clone());
  settings.shared.redis_url = Some(Secret::new(redis_url()));
  settings.shared.cache_prefix = setup.cache_prefix.clone();
  let (api, feed, streams) = start_api(settings).await;
  LiveApi {
    setup,
    live,
    api,
    feed,
    streams,
  }
}

/// Waits until `streams` counts `open` open streams (the server has subscribed them).
pub(crate) async fn wait_for_open_streams(streams: &api::EventStreams, open: i64) {
  let deadline = tokio::time::Instant::now() + DEADLINE;
  while streams.open() != open {
    assert!(
      tokio::time::Instant::now() < deadline,
      "{} streams open, expected {open}",
      streams.open()
    );
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(5)).await;
  }
}

/// The laps of the race's lap `lap`.
fn laps_of_lap(lap: i64) -> Vec<Value> {
  race_rows("laps.json")
    .into_iter()
    .filter(|row| row["lap_number"].as_i64() == Some(lap))
    .collect()
}

#[tokio::test]
async fn each_commit_of_a_session_is_one_changed_event_naming_its_kinds_and_charts_and_other_sessions_are_filtered_out()
 {
  let database = database_with_race().await;
  let mut settings = settings_for(&database);
  settings.event_heartbeat = Duration::from_secs(1);
  let (api, feed, streams) = start_api(settings).await;
  let mut client = SseClient::connect(port_of(&api), &events_path(RACE), None, false).await;
  assert_eq!(client.status, 200);
  assert!(
    client.head.contains("content-type: text/event-stream"),
    "{}",
    client.head
  );
  assert!(
    !client.head.contains("etag"),
    "a stream is never buffered for an ETag"
  );
  wait_for_open_streams(&streams, 1).await;

  let committer = committer(&database, None, "unused");
  let laps = commit_rows(&committer, Endpoint::Laps, &laps_of_lap(1)).await;
  let (id, data) = client.next_event().await.expect("the laps event");
  assert_eq!(id, laps);
  assert_eq!(data["session_key"], RACE);
  assert_eq!(data["change_id"], laps);
  assert_eq!(data["kinds"], serde_json::json!(["laps"]));
  let charts: Vec<&str> = data["charts"]
    .as_array()
    .expect("charts")
    .iter()
    .filter_map(Value::as_str)
    .collect();
  assert!(charts.contains(&"lap-times"), "{charts:?}");
  assert!(!charts.contains(&"weather"), "{charts:?}");
  assert!(
    !charts.contains(&"qualifying-delta"),
    "a race's events name no qualifying chart: {charts:?}"
  );

  // Another session's commit is not this stream's; the next event is the race's stints.
  let suzuka = fixture_rows(
    &fixtures_dir()
      .join("11253_suzuka_2026_race")
      .join("laps_head.json"),
  );
  let other = committer
    .commit(&[Batch {
      endpoint: Endpoint::Laps,
      rows: &suzuka,
      year: Some(2026),
    }])
    .await
    .expect("commit another session's laps");
  assert!(!other.changes.is_empty());
  let stints = commit_rows(&committer, Endpoint::Stints, &race_rows("stints.json")).await;
  let (id, data) = client.next_event().await.expect("the stints event");
  assert_eq!(id, stints);
  assert_eq!(data["kinds"], serde_json::json!(["stints"]));
  assert!(
    data["charts"]
      .as_array()
      .expect("charts")
      .contains(&Value::from("tyre-strategy"))
  );
  wait_for(&feed, stints).await;

  // With nothing to say, the stream sends heartbeats.
  assert_eq!(client.next_frame().await, Some(Frame::Heartbeat));
  let metrics = api.metrics().await;
  assert!(metrics.contains("event_streams_open 1"), "{metrics}");
  assert!(metrics.contains(r#"event_streams_total{outcome="opened"} 1"#));
}

#[tokio::test]
async fn a_stream_is_refused_for_an_unknown_session_a_bad_last_event_id_and_an_unknown_parameter() {
  let database = database_with_race().await;
  let (api, _feed, _streams) = start_api(settings_for(&database)).await;
  let port = port_of(&api);
  let unknown = SseClient::connect(port, &events_path(1), None, false).await;
  assert_eq!(unknown.status, 404);
  assert!(unknown.head.contains("application/problem+json"));
  let client = client_with_header(port, "Last-Event-ID: yesterday").await;
  assert_eq!(client.status, 400);
  let body = client.body().await;
  assert!(body.contains("Last-Event-ID"), "{body}");
  // A value that is not visible ASCII (here the UTF-8 bytes c2 84) is refused too, not taken as no id.
  let client = client_with_header(port, "Last-Event-ID: \u{84}").await;
  assert_eq!(client.status, 400);
  let body = client.body().await;
  assert!(body.contains("Last-Event-ID"), "{body}");
  let unknown_parameter =
    SseClient::connect(port, &format!("{}?since=4", events_path(RACE)), None, false).await;
  assert_eq!(unknown_parameter.status, 400);
  let body = unknown_parameter.body().await;
  assert!(
    body.contains("last_event_id"),
    "the accepted parameters are listed: {body}"
  );
}

async fn client_with_header(port: u16, header: &str) -> SseClient {
  let mut stream = TcpStream::connect(("127.0.0.1", port))
    .await
    .expect("connect");
  stream
    .write_all(
      format!(
        "GET {} HTTP/1.0\r\nHost: 127.0.0.1\r\n{header}\r\n\r\n",
        events_path(RACE)
      )
      .as_bytes(),
    )
    .await
    .expect("send");
  let mut head = Vec::new();
  let mut chunk = [0_u8; 4096];
  while find(&head, b"\r\n\r\n").is_none() {
    let read = stream.read(&mut chunk).await.expect("read");
    assert!(read > 0, "closed before the head");
    head.extend_from_slice(&chunk[..read]);
  }
  let end = find(&head, b"\r\n\r\n").expect("head");
  let text = String::from_utf8_lossy(&head[..end]).to_lowercase();
  let status = text
    .split_whitespace()
    .nth(1)
    .and_then(|status| status.parse().ok())
    .expect("status");
  SseClient {
    stream,
    buffer: head[end + 4..].to_vec(),
    status,
    head: text,
    closed: false,
  }
}

#[tokio::test]
async fn a_client_resuming_with_last_event_id_gets_the_changes_it_missed_then_live_ones_without_gaps_or_duplicates()
 {
  let database = database_with_race().await;
  let (api, feed, streams) = start_api(settings_for(&database)).await;
  let port = port_of(&api);
  let committer = committer(&database, None, "unused");

  let mut client = SseClient::connect(port, &events_path(RACE), None, false).await;
  wait_for_open_streams(&streams, 1).await;
  let first = commit_rows(&committer, Endpoint::Laps, &laps_of_lap(1)).await;
  let second = commit_rows(&committer, Endpoint::Laps, &laps_of_lap(2)).await;
  assert_eq!(client.next_ids(2).await, vec![first, second]);
  drop(client);

  // Missed while disconnected.
  let mut missed = Vec::new();
  for lap in 3..=5 {
    missed.push(commit_rows(&committer, Endpoint::Laps, &laps_of_lap(lap)).await);
  }
  wait_for(&feed, *missed.last().expect("missed")).await;
  let mut resumed = SseClient::connect(port, &events_path(RACE), Some(second), false).await;
  assert_eq!(resumed.status, 200);
  assert_eq!(resumed.next_ids(3).await, missed, "the backlog, in order");
  let live = commit_rows(&committer, Endpoint::Laps, &laps_of_lap(6)).await;
  assert_eq!(
    resumed.next_ids(1).await,
    vec![live],
    "then live, nothing twice"
  );

  // The query parameter does the same for clients that cannot set headers.
  let mut by_query = SseClient::connect(
    port,
    &format!("{}?last_event_id={}", events_path(RACE), missed[1]),
    None,
    false,
  )
  .await;
  assert_eq!(by_query.status, 200);
  assert_eq!(by_query.next_ids(2).await, vec![missed[2], live]);
  let next = commit_rows(&committer, Endpoint::Laps, &laps_of_lap(7)).await;
  assert_eq!(by_query.next_ids(1).await, vec![next]);
  assert_eq!(resumed.next_ids(1).await, vec![next]);
}

/// Appends `count` change rows of the race in one transaction (as many commits of the worker would), returning
/// their ids.
async fn append_changes(database: &TestDatabase, count: usize) -> Vec<i64> {
  let transaction = database.connection.begin().await.expect("begin");
  let pending = vec![
    PendingChange {
      session_key: Some(RACE),
      year: Some(2024),
      tables: ["laps".to_owned()].into_iter().collect(),
    };
    count
  ];
  let changes = change_log::append(&transaction, &pending, chrono::Utc::now())
    .await
    .expect("append changes");
  transaction.commit().await.expect("commit");
  changes.into_iter().map(|change| change.id).collect()
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_while_one_that_keeps_up_gets_every_event_and_the_dropped_one_resumes()
 {
  let database = database_with_race().await;
  let (api, feed, streams) = start_api(settings_for(&database)).await;
  let port = port_of(&api);
  let mut fast = SseClient::connect(port, &events_path(RACE), None, false).await;
  let mut slow = SseClient::connect(port, &events_path(RACE), None, true).await;
  wait_for_open_streams(&streams, 2).await;

  // Batches the fast client reads as they come; the slow one reads nothing until it is dropped.
  let mut sent = Vec::new();
  for _ in 0..200 {
    let batch = append_changes(&database, 100).await;
    wait_for(&feed, *batch.last().expect("a batch")).await;
    assert_eq!(
      fast.next_ids(batch.len()).await,
      batch,
      "the fast client keeps every event"
    );
    sent.extend(batch);
    if streams.dropped() > 0 {
      break;
    }
  }
  assert_eq!(streams.dropped(), 1, "the slow client was dropped");

  // The slow client gets what was in flight, in order and without a gap, then the end of its stream.
  let mut received = Vec::new();
  while let Some((id, _)) = slow.next_event().await {
    received.push(id);
  }
  assert!(
    received.len() < sent.len(),
    "the slow client missed the tail"
  );
  assert_eq!(received, sent[..received.len()], "a prefix, in order");
  wait_for_open_streams(&streams, 1).await;

  // Resuming from the last event it got, it catches up, then goes on live.
  let last = received.last().copied().unwrap_or(0);
  let mut resumed = SseClient::connect(port, &events_path(RACE), Some(last), false).await;
  let missed = sent.len() - received.len();
  assert_eq!(resumed.next_ids(missed).await, sent[received.len()..]);
  let live = append_changes(&database, 1).await;
  assert_eq!(resumed.next_ids(1).await, live);
  assert_eq!(fast.next_ids(1).await, live);
  let metrics = api.metrics().await;
  assert!(
    metrics.contains(r#"event_streams_total{outcome="dropped"} 1"#),
    "{metrics}"
  );
}

#[tokio::test]
async fn over_the_stream_cap_a_client_is_answered_503_problem_json_with_retry_after() {
  let database = database_with_race().await;
  let mut settings = settings_for(&database);
  settings.event_streams_max = 1;
  settings.event_heartbeat = Duration::from_secs(1);
  let (api, _feed, streams) = start_api(settings).await;
  let port = port_of(&api);
  let first = SseClient::connect(port, &events_path(RACE), None, false).await;
  assert_eq!(first.status, 200);
  let refused = SseClient::connect(port, &events_path(RACE), None, false).await;
  assert_eq!(refused.status, 503);
  assert!(
    refused
      .head
      .contains("content-type: application/problem+json"),
    "{}",
    refused.head
  );
  assert!(refused.head.contains("retry-after: 1"), "{}", refused.head);
  let body: Value = serde_json::from_str(&refused.body().await).expect("problem json");
  assert_eq!(body["status"], 503);
  assert!(
    body["detail"]
      .as_str()
      .expect("detail")
      .contains("Too many event streams")
  );

  // Once the first client leaves (noticed at the latest by its next heartbeat), a stream is free again.
  drop(first);
  wait_for_open_streams(&streams, 0).await;
  let again = SseClient::connect(port, &events_path(RACE), None, false).await;
  assert_eq!(again.status, 200);
  let metrics = api.metrics().await;
  assert!(
    metrics.contains(r#"event_streams_total{outcome="refused"} 1"#),
    "{metrics}"
  );
}

#[tokio::test]
async fn two_api_replicas_over_one_redis_both_deliver_each_event() {
  let database = database_with_race().await;
  let prefix = unique_name("events");
  let mut replicas = Vec::new();
  for _ in 0..2 {
    let mut settings = settings_for(&database);
    settings.shared.redis_url = Some(Secret::new(redis_url()));
    settings.shared.cache_prefix = prefix.clone();
    // Only a publication can deliver the change within the deadline.
    settings.change_poll_interval = Duration::from_secs(3600);
    let (api, feed, streams) = start_api(settings).await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while feed.health().subscription != "subscribed" {
      assert!(tokio::time::Instant::now() < deadline, "never subscribed");
      tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let client = SseClient::connect(port_of(&api), &events_path(RACE), None, false).await;
    wait_for_open_streams(&streams, 1).await;
    replicas.push((api, client));
  }
  let committer: Committer = committer(&database, Some(&redis_url()), &prefix);
  let laps = commit_rows(&committer, Endpoint::Laps, &laps_of_lap(1)).await;
  for (_api, client) in &mut replicas {
    let (id, data) = client.next_event().await.expect("the event");
    assert_eq!(id, laps);
    assert_eq!(data["kinds"], serde_json::json!(["laps"]));
  }
}

#[tokio::test]
async fn a_replayed_race_flows_from_the_broker_through_the_worker_and_the_database_to_an_event_stream()
 {
  let LiveApi {
    setup,
    mut live,
    api,
    feed,
    streams,
  } = live_api().await;
  let (_, newest_before) = change_log::scope_versions(&setup.database.connection)
    .await
    .expect("scope versions");
  let mut client = SseClient::connect(port_of(&api), &events_path(RACE), None, false).await;
  assert_eq!(client.status, 200);
  wait_for_open_streams(&streams, 1).await;

  // Two minutes of the race: the replay publishes to mosquitto, the worker commits, the api announces.
  let published = setup.advance_and_publish(2).await;
  assert!(published > 0);
  crate::live::wait_for(&mut live, "every published row is handled", |status| {
    status.handled >= published
  })
  .await;
  let committed = change_log::changes_of_session_after(
    &setup.database.connection,
    RACE,
    newest_before.unwrap_or(0),
    10_000,
  )
  .await
  .expect("read the change log");
  assert!(!committed.is_empty(), "the live commits were logged");
  let newest = committed.last().expect("a change").id;
  wait_for(&feed, newest).await;
  let mut received = Vec::new();
  while received.len() < committed.len() {
    let (id, data) = client.next_event().await.expect("an event");
    assert_eq!(data["session_key"], RACE);
    received.push((id, data));
  }
  assert_eq!(
    received.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
    committed.iter().map(|change| change.id).collect::<Vec<_>>(),
    "one event per committed change, in order"
  );
  for ((_, data), change) in received.iter().zip(&committed) {
    assert_eq!(data["kinds"], serde_json::json!(change.tables));
  }
  assert!(
    received.iter().any(|(_, data)| data["charts"]
      .as_array()
      .expect("charts")
      .contains(&Value::from("lap-times"))),
    "two minutes of a race complete laps"
  );
  live.stop().await;
  setup.server.stop().await;
}
