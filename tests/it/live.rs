//! Live ingest over MQTT against a real mosquitto (one per test, with the dynamic-security plugin), the local Open
//! F1 server replaying a recorded race and publishing it to the broker as upstream would, and the worker's live
//! ingest writing to a real database. Time is the server's manual clock: rows are published when a test moves it
//! and calls `publish_due`, which returns once the broker has routed them; tests then wait for the worker's status
//! to count them as handled. No sleeps decide an order.

use std::fmt::Debug;
use std::time::Duration;

use chrono::TimeDelta;
use entity::cache::{CacheKeys, CacheScope};
use entity::{ingest_state, laps, pit, position, sessions};
use f1_backend::{Engine, TestBroker, TestDatabase, fixtures_dir};
use openf1_server::{ManualClock, OpenF1Server, ReplayOptions, ServerOptions};
use sea_orm::{ActiveModelTrait, ActiveValue, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use worker::records::RecordError;
use worker::{
  BrokerAddress, Credentials, LiveHandle, LiveStatus, LiveTuning, MqttSettings, Secret, Worker,
};

use crate::api_support::wait_for_metrics;
use crate::openf1_support::token_for;
use crate::worker::{
  recorded_worker, redis_connection, settings, start_server, store_cache_entries,
};

/// The recorded race replayed in these tests (Bahrain 2024), and its season.
const RACE: i32 = 9472;
const SEASON: i32 = 2024;
/// How long a test waits for an expected state before failing.
const DEADLINE: Duration = Duration::from_secs(60);
/// The worker's account; its username is also its MQTT username.
const USERNAME: &str = "fan@example.org";

pub(crate) struct Live {
  pub(crate) broker: TestBroker,
  pub(crate) clock: ManualClock,
  pub(crate) server: OpenF1Server,
  pub(crate) database: TestDatabase,
  pub(crate) worker: Worker,
  pub(crate) cancellation: CancellationToken,
  pub(crate) cache_prefix: String,
}

/// A broker, the local server replaying the race 30 minutes in (publishing only on `publish_due`), and a worker
/// with credentials whose calendar is synced; the live ingest is not started yet.
pub(crate) async fn live_setup(engine: Engine, token_lifetime: Duration, redis: bool) -> Live {
  live_setup_on(TestBroker::start().await, engine, token_lifetime, redis).await
}

/// [`live_setup`] on SQLite without Redis, its live ingest started and caught up (the status is not needed).
async fn live_setup_caught_up(token_lifetime: Duration) -> (Live, LiveHandle) {
  let setup = live_setup(Engine::Sqlite, token_lifetime, false).await;
  let (live, _) = setup.start_live_caught_up().await;
  (setup, live)
}

async fn live_setup_on(
  broker: TestBroker,
  engine: Engine,
  token_lifetime: Duration,
  redis: bool,
) -> Live {
  let setup = live_setup_without_calendar(broker, engine, token_lifetime, redis).await;
  setup
    .worker
    .ingestor()
    .sync_calendar(SEASON, &setup.cancellation)
    .await
    .expect("sync the calendar");
  setup
}

async fn live_setup_without_calendar(
  broker: TestBroker,
  engine: Engine,
  token_lifetime: Duration,
  redis: bool,
) -> Live {
  let clock = ManualClock::new(chrono::Utc::now());
  let mut options = ServerOptions::new(fixtures_dir());
  options.clock = clock.clock();
  options.token_lifetime = token_lifetime;
  options.replay = Some(ReplayOptions {
    session_key: i64::from(RACE),
    speed: 1.0,
    started_at: clock.now(),
    offset: TimeDelta::minutes(30),
    auth_during_live: true,
  });
  options.broker = Some(broker.server_options(false));
  let server = start_server(options).await;
  let database = TestDatabase::migrated(engine).await;
  let mut settings = settings(&database, &server, redis.then(f1_backend::redis_url));
  settings.credentials = Some(Credentials {
    username: USERNAME.into(),
    password: Secret::new("any"),
  });
  settings.mqtt = Some(MqttSettings {
    broker: BrokerAddress {
      host: "127.0.0.1".into(),
      port: broker.port(),
      tls: false,
    },
    topics: vec!["v1/#".into()],
    extra_roots_pem: None,
  });
  settings.live = LiveTuning {
    flush_interval: Duration::from_millis(20),
    flush_rows: 500,
    min_reconnect_delay: Duration::from_millis(10),
    max_reconnect_delay: Duration::from_millis(200),
    keep_alive: Duration::from_secs(5),
  };
  if let Some(tls_port) = broker.tls_port() {
    settings.mqtt = Some(MqttSettings {
      broker: BrokerAddress {
        host: "127.0.0.1".into(),
        port: tls_port,
        tls: true,
      },
      topics: vec!["v1/#".into()],
      extra_roots_pem: Some(broker.certificate_authority_pem()),
    });
  }
  let cache_prefix = settings.shared.cache_prefix.clone();
  let worker = Worker::build(settings).await.expect("build the worker");
  let cancellation = CancellationToken::new();
  Live {
    broker,
    clock,
    server,
    database,
    worker,
    cancellation,
    cache_prefix,
  }
}

impl Live {
  pub(crate) fn start_live(&self) -> LiveHandle {
    self
      .worker
      .start_live_ingest(&self.cancellation)
      .expect("start the live ingest")
      .expect("credentials and a broker are configured")
  }

  /// Starts the live ingest and waits until the stream is caught up; returns the handle and that status.
  pub(crate) async fn start_live_caught_up(&self) -> (LiveHandle, LiveStatus) {
    let mut live = self.start_live();
    let status = wait_for(&mut live, "the stream is caught up", |status| {
      status.caught_up
    })
    .await;
    (live, status)
  }

  /// Stops the live ingest, then the local Open F1 server.
  async fn stop(self, live: LiveHandle) {
    live.stop().await;
    self.server.stop().await;
  }

  /// Checks the database against upstream, publishes two more minutes of the replay, waits until `live` has
  /// handled them (`what` names that moment) and checks again, then stops.
  async fn match_upstream_now_and_two_minutes_later_and_stop(
    self,
    mut live: LiveHandle,
    what: &str,
  ) {
    self.assert_database_matches_upstream().await;
    self.publish_and_match_upstream(&mut live, 2, what).await;
    self.stop(live).await;
  }

  /// Moves the replay forward by `minutes`, publishes what became due, waits until `live` has handled it (`what`
  /// names that moment) and checks the database against upstream; returns how many rows were published.
  async fn publish_and_match_upstream(
    &self,
    live: &mut LiveHandle,
    minutes: i64,
    what: &str,
  ) -> u64 {
    let handled = live.status().handled;
    let published = self.advance_and_publish(minutes).await;
    wait_for(live, what, |status| status.handled >= handled + published).await;
    self.assert_database_matches_upstream().await;
    published
  }

  /// Moves the replay forward and publishes what became due; returns how many rows were published.
  pub(crate) async fn advance_and_publish(&self, minutes: i64) -> u64 {
    self.clock.advance(TimeDelta::minutes(minutes));
    let published = self
      .server
      .publish_due()
      .await
      .expect("publish the due rows");
    u64::try_from(published).expect("a count")
  }

  /// Rows of `endpoint` for the race as upstream serves them now (with a token of another user).
  async fn upstream_rows(&self, endpoint: &str) -> Vec<Value> {
    upstream_rows(&self.server, endpoint).await
  }

  /// Asserts that the database holds exactly the rows upstream serves now, for the race's laps, positions and pits.
  async fn assert_database_matches_upstream(&self) {
    self
      .assert_table_matches_upstream("laps", laps::Column::SessionKey, worker::records::lap)
      .await;
    self
      .assert_table_matches_upstream(
        "position",
        position::Column::SessionKey,
        worker::records::position_change,
      )
      .await;
    self
      .assert_table_matches_upstream("pit", pit::Column::SessionKey, worker::records::pit_stop)
      .await;
  }

  /// Asserts that the table of `session_key`, the session column of a table, holds exactly the rows of `endpoint`
  /// upstream serves now for the race, parsed by `parse`.
  async fn assert_table_matches_upstream<Column>(
    &self,
    endpoint: &str,
    session_key: Column,
    parse: fn(&Value) -> Result<<Column::EntityName as EntityTrait>::Model, RecordError>,
  ) where
    Column: ColumnTrait,
    Column::EntityName: EntityTrait,
    <Column::EntityName as EntityTrait>::Model: Debug,
  {
    let upstream = self.upstream_rows(endpoint).await;
    let stored = Column::EntityName::find()
      .filter(session_key.eq(RACE))
      .all(&self.database.connection)
      .await
      .unwrap_or_else(|error| panic!("read the stored {endpoint} rows: {error}"));
    assert_same_rows(endpoint, &upstream, parse, &stored);
  }
}

async fn upstream_rows(server: &OpenF1Server, endpoint: &str) -> Vec<Value> {
  let token = token_for(server, "test-reader").await;
  let response = reqwest::Client::new()
    .get(format!(
      "{}/{endpoint}?session_key={RACE}",
      server.base_url()
    ))
    .bearer_auth(&token)
    .send()
    .await
    .expect("query the local server");
  if response.status() == reqwest::StatusCode::NOT_FOUND {
    return Vec::new();
  }
  response.json().await.expect("rows")
}

/// Compares rows as parsed models, whatever the order.
fn assert_same_rows<M: Debug>(
  endpoint: &str,
  upstream: &[Value],
  parse: fn(&Value) -> Result<M, RecordError>,
  stored: &[M],
) {
  let mut expected: Vec<String> = upstream
    .iter()
    .map(|row| format!("{:?}", parse(row).expect("an upstream row parses")))
    .collect();
  let mut actual: Vec<String> = stored.iter().map(|model| format!("{model:?}")).collect();
  expected.sort();
  actual.sort();
  assert_eq!(
    actual.len(),
    expected.len(),
    "{endpoint}: stored {} rows, upstream serves {}",
    actual.len(),
    expected.len()
  );
  assert!(
    actual == expected,
    "{endpoint}: the stored rows differ from upstream's"
  );
}

pub(crate) async fn wait_for(
  live: &mut LiveHandle,
  what: &str,
  predicate: impl Fn(&LiveStatus) -> bool,
) -> LiveStatus {
  match tokio::time::timeout(DEADLINE, live.wait_until(predicate)).await {
    Ok(status) => status,
    Err(_) => panic!("timed out waiting until {what}: {:?}", live.status()),
  }
}

fn token_requests(server: &OpenF1Server) -> usize {
  server
    .requests()
    .iter()
    .filter(|request| request.path == "/token" && request.status == 200)
    .count()
}

#[tokio::test]
async fn a_replayed_race_flows_from_the_broker_into_the_database_row_for_row() {
  let setup = live_setup(Engine::MariaDb, Duration::from_secs(3600), true).await;
  let (mut live, status) = setup.start_live_caught_up().await;
  assert_eq!(status.connections, 1);
  assert_eq!(status.gap_fills, 1, "the start is a gap filled over REST");
  setup.assert_database_matches_upstream().await;
  let laps_before = setup.database.count_rows::<laps::Entity>(RACE).await;

  let keys = CacheKeys::new(setup.cache_prefix.clone());
  let mut redis = redis_connection().await;
  let newest_change = store_cache_entries(
    &mut redis,
    &keys,
    &setup.database,
    &[
      (CacheScope::Session(RACE), "chart:lap-times"),
      (CacheScope::Session(9165), "chart:lap-times"),
    ],
  )
  .await;
  let requests_before = setup.server.requests().len();

  let mut published = 0;
  for _ in 0..5 {
    published += setup.advance_and_publish(2).await;
    wait_for(&mut live, "every published row is handled", |status| {
      status.handled >= published
    })
    .await;
  }
  assert!(
    published > 100,
    "ten minutes of a race is more than {published} rows"
  );
  assert_eq!(live.status().received, published);
  assert_eq!(
    setup.server.requests().len(),
    requests_before,
    "while streaming, the worker sends no request upstream"
  );
  setup.assert_database_matches_upstream().await;
  assert!(setup.database.count_rows::<laps::Entity>(RACE).await > laps_before);
  assert_eq!(
    entity::cache::fetch_entry(
      &mut redis,
      &keys,
      CacheScope::Session(RACE),
      "chart:lap-times"
    )
    .await
    .expect("read the cache"),
    None,
    "the race's cache scope is invalidated by the live commits"
  );
  assert!(
    entity::cache::fetch_entry(
      &mut redis,
      &keys,
      CacheScope::Session(9165),
      "chart:lap-times"
    )
    .await
    .expect("read the cache")
    .is_some(),
    "another session's scope is left alone"
  );
  entity::cache::invalidate(&mut redis, &keys, [(CacheScope::Session(9165), 0)])
    .await
    .ok();
  // Each live commit went through the one commit path: its change log rows name the race and what it wrote.
  let changes = entity::change_log::changes_after(
    &setup.database.connection,
    newest_change.unwrap_or(0),
    10_000,
  )
  .await
  .expect("read the change log");
  assert!(!changes.is_empty());
  for change in &changes {
    assert_eq!(change.session_key, Some(RACE));
    assert_eq!(change.year, Some(SEASON));
    assert!(
      change
        .tables
        .iter()
        .all(|table| ["laps", "position", "pit"].contains(&table.as_str())),
      "{change:?}"
    );
  }
  assert!(changes.iter().any(|change| change.touches("laps")));
  let state = ingest_state::Entity::find_by_id(RACE)
    .one(&setup.database.connection)
    .await
    .expect("read")
    .expect("state");
  assert_eq!(
    state.status, "live",
    "REST reconciles the race once it is over"
  );
  setup.stop(live).await;
}

#[tokio::test]
async fn the_mqtt_connection_moves_to_a_new_token_before_the_old_one_expires_and_loses_nothing() {
  let setup = live_setup(Engine::Sqlite, Duration::from_secs(3600), false).await;
  // The stream starts with a token living 61 s: the worker replaces it 60 s before it expires, i.e. after a
  // second; its replacement lives an hour, so there is exactly one replacement.
  let client = setup.worker.ingestor().client();
  let calendar_token = client
    .access_token()
    .await
    .expect("a token")
    .expect("credentials");
  client.discard_token(&calendar_token.value).await;
  setup.server.push_token_lifetime(Duration::from_secs(61));
  let tokens_before = token_requests(&setup.server);
  let mut live = setup.start_live();
  wait_for(&mut live, "the first connection is subscribed", |status| {
    status.connections >= 1
  })
  .await;
  // Rows published around the replacement arrive over MQTT or, if they fall in between, by the gap fill.
  setup.advance_and_publish(3).await;
  let status = wait_for(&mut live, "a second connection is caught up", |status| {
    status.connections >= 2 && status.caught_up
  })
  .await;
  assert_eq!(status.connections, 2);
  assert_eq!(
    token_requests(&setup.server) - tokens_before,
    2,
    "one token, then its replacement"
  );
  setup.assert_database_matches_upstream().await;

  // The stream goes on with the new token.
  let published = setup
    .publish_and_match_upstream(&mut live, 3, "the new rows are handled")
    .await;
  assert!(published > 0);
  assert_eq!(
    live.status().connections,
    2,
    "no reconnection while the token is valid"
  );
  setup.stop(live).await;
}

#[tokio::test]
async fn a_connection_whose_token_expired_is_closed_by_the_broker_and_the_worker_comes_back_with_a_new_token()
 {
  let (setup, mut live) = live_setup_caught_up(Duration::from_secs(300)).await;

  // By the server's clock the token expires; the broker deletes its client, which disconnects the worker. The
  // worker's own schedule still trusts the token: the broker's refusal makes it fetch a new one.
  setup.clock.advance(TimeDelta::minutes(6));
  assert!(setup.server.revoke_expired_tokens().await.expect("revoke") >= 1);
  let status = wait_for(&mut live, "a new connection is caught up", |status| {
    status.connections >= 2 && status.caught_up
  })
  .await;
  assert_eq!(status.connections, 2);
  assert!(token_requests(&setup.server) >= 2);

  setup
    .match_upstream_now_and_two_minutes_later_and_stop(live, "the new rows are handled")
    .await;
}

#[tokio::test]
async fn a_broker_restart_is_survived_and_the_rows_lost_meanwhile_are_filled_over_rest() {
  let (mut setup, mut live) = live_setup_caught_up(Duration::from_secs(3600)).await;

  setup.broker.stop().await;
  wait_for(
    &mut live,
    "the worker notices the broker is gone",
    |status| !status.subscribed,
  )
  .await;
  // Rows happen while the broker is down: upstream's messages are lost, REST has them.
  setup.clock.advance(TimeDelta::minutes(10));
  let lost = setup.server.discard_due().await;
  assert!(lost > 0);
  let requests_before = setup.server.requests().len();

  setup.broker.restart().await;
  setup
    .server
    .broker()
    .expect("a broker")
    .wait_until_ready()
    .await;
  let status = wait_for(&mut live, "the stream is back and caught up", |status| {
    status.connections >= 2 && status.caught_up
  })
  .await;
  assert!(status.gap_fills >= 2);
  let gap_fill = &setup.server.requests()[requests_before..];
  assert!(
    gap_fill.iter().any(|request| request.path == "/v1/position"
      && (request.query.contains("date%3E") || request.query.contains("date>"))),
    "the gap fill asks for positions after the newest stored one: {gap_fill:?}"
  );

  setup
    .match_upstream_now_and_two_minutes_later_and_stop(
      live,
      "rows published after the restart are handled",
    )
    .await;
}

fn lap_message(id: i64, lap_duration: f64) -> Value {
  json!({
    "meeting_key": 1229, "session_key": RACE, "driver_number": 1, "lap_number": 1,
    "date_start": "2024-03-02T15:03:42.341000+00:00", "lap_duration": lap_duration,
    "_key": format!("{RACE}_1_1"), "_id": id,
  })
}

#[tokio::test]
async fn of_duplicate_and_out_of_order_versions_of_a_row_the_newest_id_wins() {
  let (setup, mut live) = live_setup_caught_up(Duration::from_secs(3600)).await;
  let mut handled = live.status().handled;
  let publish = |rows: Vec<Value>| {
    let server = &setup.server;
    async move {
      server.publish_rows("laps", &rows).await.expect("publish");
      u64::try_from(rows.len()).expect("a count")
    }
  };

  // (messages published at once, what handling them is, the lap time stored after them)
  let steps = [
    // Newest first, then an older version, then a duplicate of the newest.
    (
      vec![
        lap_message(2_000, 99.5),
        lap_message(1_000, 11.1),
        lap_message(2_000, 99.5),
      ],
      "three messages handled",
      99.5,
    ),
    // An older version arriving after the newer one was committed changes nothing.
    (
      vec![lap_message(1_500, 22.2)],
      "the late message handled",
      99.5,
    ),
    // A newer version replaces it.
    (
      vec![lap_message(3_000, 88.8)],
      "the newer message handled",
      88.8,
    ),
  ];
  for (messages, what, lap_duration) in steps {
    handled += publish(messages).await;
    wait_for(&mut live, what, |status| status.handled >= handled).await;
    assert_eq!(
      setup.database.stored_lap(RACE, 1, 1).await.lap_duration,
      Some(lap_duration),
      "after {what}"
    );
  }
  assert_eq!(
    setup.worker.metrics().live_messages("stored"),
    2,
    "the duplicate and the older versions were never written"
  );

  // A message that is not a row, and a topic that is not an endpoint, are skipped.
  setup
    .server
    .publish_rows("not_an_endpoint", &[json!({"_key": "x", "_id": 1})])
    .await
    .expect("publish");
  handled += 1;
  wait_for(&mut live, "the unknown topic handled", |status| {
    status.handled >= handled
  })
  .await;
  assert_eq!(setup.worker.metrics().live_messages("unknown_topic"), 1);
  setup.stop(live).await;
}

#[tokio::test]
async fn once_the_race_is_over_rest_reconciles_what_mqtt_wrote() {
  let (setup, mut live) = live_setup_caught_up(Duration::from_secs(3600)).await;
  let cancellation = CancellationToken::new();
  // The daemon's first poll (the calendar; the live race is MQTT's).
  setup
    .worker
    .poll_once(&cancellation)
    .await
    .expect("a poll while streaming");
  // A version that upstream's REST API will not confirm.
  let handled = live.status().handled;
  setup
    .server
    .publish_rows("laps", &[lap_message(i64::MAX / 2, 1.0)])
    .await
    .expect("publish");
  wait_for(&mut live, "the message is handled", |status| {
    status.handled > handled
  })
  .await;
  assert_eq!(
    setup.database.stored_lap(RACE, 1, 1).await.lap_duration,
    Some(1.0)
  );
  live.stop().await;

  // The race ends: every row is published over REST, and the calendar says it is over.
  setup.clock.advance(TimeDelta::hours(3));
  let race = sessions::Entity::find_by_id(RACE)
    .one(&setup.database.connection)
    .await
    .expect("read")
    .expect("the race");
  let mut finished: sessions::ActiveModel = race.into();
  finished.date_start = ActiveValue::Set(Some(chrono::Utc::now() - TimeDelta::hours(4)));
  finished.date_end = ActiveValue::Set(Some(chrono::Utc::now() - TimeDelta::hours(2)));
  finished
    .update(&setup.database.connection)
    .await
    .expect("end the race");

  setup
    .worker
    .poll_once(&cancellation)
    .await
    .expect("the reconciling poll");
  assert_eq!(
    setup.database.stored_lap(RACE, 1, 1).await.lap_duration,
    Some(97.759)
  );
  setup.assert_database_matches_upstream().await;
  assert_eq!(setup.database.count_rows::<laps::Entity>(RACE).await, 1129);
  let state = ingest_state::Entity::find_by_id(RACE)
    .one(&setup.database.connection)
    .await
    .expect("read")
    .expect("state");
  assert_eq!(state.status, "ingested");
  setup.server.stop().await;
}

#[tokio::test]
async fn live_sessions_are_polled_over_rest_only_while_no_mqtt_connection_is_subscribed() {
  let setup = live_setup(Engine::Sqlite, Duration::from_secs(3600), false).await;
  let (live, _) = setup.start_live_caught_up().await;
  assert!(setup.worker.live_status().subscribed);
  let before = race_laps_requests(&setup.server);
  setup
    .worker
    .poll_once(&setup.cancellation)
    .await
    .expect("poll while streaming");
  assert_eq!(
    race_laps_requests(&setup.server),
    before,
    "the live race is left to MQTT"
  );

  live.stop().await;
  assert!(!setup.worker.live_status().subscribed);
  setup
    .worker
    .poll_once(&setup.cancellation)
    .await
    .expect("poll without MQTT");
  assert_eq!(
    race_laps_requests(&setup.server),
    before + 1,
    "without MQTT the live race is polled over REST"
  );
  setup.server.stop().await;
}

#[tokio::test]
async fn the_stream_runs_over_tls_and_the_broker_certificate_is_verified() {
  let broker = TestBroker::start_with_tls().await;
  let setup = live_setup_on(broker, Engine::Sqlite, Duration::from_secs(3600), false).await;
  let (mut live, _) = setup.start_live_caught_up().await;
  let published = setup.advance_and_publish(2).await;
  assert!(published > 0);
  wait_for(&mut live, "the rows are handled", |status| {
    status.handled >= published
  })
  .await;
  setup.assert_database_matches_upstream().await;
  live.stop().await;

  // A certificate signed by an authority nobody trusts is refused.
  let untrusted = worker::tls_configuration(None).expect("the platform's roots");
  let connector = rumqttc::tokio_rustls::TlsConnector::from(std::sync::Arc::new(untrusted));
  let stream = tokio::net::TcpStream::connect(("127.0.0.1", setup.broker.tls_port().expect("TLS")))
    .await
    .expect("connect");
  let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("a name");
  assert!(connector.connect(name, stream).await.is_err());
  setup.server.stop().await;
}

fn race_laps_requests(server: &OpenF1Server) -> usize {
  server
    .requests()
    .iter()
    .filter(|request| {
      request.path == "/v1/laps" && request.query.contains(&format!("session_key={RACE}"))
    })
    .count()
}

#[tokio::test]
async fn a_live_session_that_appears_in_the_calendar_after_the_stream_connected_is_caught_up_once_over_rest()
 {
  let setup = live_setup_without_calendar(
    TestBroker::start().await,
    Engine::Sqlite,
    Duration::from_secs(3600),
    false,
  )
  .await;
  let (live, status) = setup.start_live_caught_up().await;
  assert!(
    status.caught_up_sessions.is_empty(),
    "no calendar, nothing to catch up"
  );

  // The first poll syncs the calendar: the race is live and the stream has not caught it up, so REST does once.
  setup
    .worker
    .poll_once(&setup.cancellation)
    .await
    .expect("first poll");
  assert_eq!(race_laps_requests(&setup.server), 1);
  assert!(setup.worker.live_status().streams(RACE));
  setup
    .worker
    .poll_once(&setup.cancellation)
    .await
    .expect("second poll");
  assert_eq!(
    race_laps_requests(&setup.server),
    1,
    "from now on it is MQTT's"
  );

  setup
    .match_upstream_now_and_two_minutes_later_and_stop(live, "the new rows are handled")
    .await;
}

#[tokio::test]
async fn the_daemon_streams_live_sessions_once_it_holds_the_lease_and_stops_cleanly() {
  let setup = live_setup(Engine::Sqlite, Duration::from_secs(3600), false).await;
  let Live {
    broker: _broker,
    server,
    worker,
    database: _database,
    ..
  } = setup;
  let port = worker.port();
  let stop = CancellationToken::new();
  let daemon = tokio::spawn(worker.run_until_stopped(stop.clone()));
  let http = reqwest::Client::new();
  wait_for_metrics(
    &http,
    &format!("http://127.0.0.1:{port}/metrics"),
    DEADLINE,
    "the daemon never subscribed",
    |metrics| {
      metrics.contains("worker_live_connected 1")
        && metrics.contains(r#"worker_live_gap_fills_total{outcome="ok"} 1"#)
    },
  )
  .await;
  stop.cancel();
  daemon.await.expect("join").expect("stops cleanly");
  server.stop().await;
}

#[tokio::test]
async fn without_credentials_there_is_no_live_stream() {
  let (server, _database, worker) = recorded_worker(Engine::Sqlite).await;
  assert!(
    worker
      .start_live_ingest(&CancellationToken::new())
      .expect("nothing to set up")
      .is_none()
  );
  assert_eq!(worker.live_status(), LiveStatus::default());
  server.stop().await;
}

#[tokio::test]
async fn concurrent_writers_commit_on_sqlite_without_busy_errors() {
  // REST ingest and the live stream write at the same time; SQLite allows one writer, so they must take turns.
  let (server, database, worker) = recorded_worker(Engine::Sqlite).await;
  let laps = f1_backend::fixture_rows(&fixtures_dir().join("9472_bahrain_2024_race/laps.json"));
  let writers = (0..16).map(|writer| {
    let committer = worker.ingestor().committer().clone();
    let rows: Vec<Value> = laps
      .iter()
      .filter(|row| row["lap_number"].as_i64() == Some(writer + 1))
      .cloned()
      .collect();
    tokio::spawn(async move {
      committer
        .commit(&[worker::Batch {
          endpoint: entity::Endpoint::Laps,
          rows: &rows,
          year: Some(SEASON),
        }])
        .await
        .map(|outcome| outcome.stored.written)
    })
  });
  let mut written = 0;
  for writer in futures::future::join_all(writers).await {
    written += writer.expect("join").expect("a commit succeeds");
  }
  assert_eq!(
    written,
    database.count_rows::<laps::Entity>(RACE).await,
    "every commit wrote its laps"
  );
  server.stop().await;
}
