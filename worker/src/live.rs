//! Live ingest from Open F1's MQTT stream (`OPENF1_MQTT_URL`, `OPENF1_MQTT_TOPICS`), used when credentials are
//! configured.
//!
//! - **Connection**: MQTT (over TLS for `mqtts://`, rustls with the ring provider and the platform's roots, as the
//!   REST client), username = the account's username, password = the access token of [`OpenF1Client`]. The token
//!   is replaced before it expires ([`crate::client::TOKEN_REFRESH_MARGIN`]): the connection is closed and a new
//!   one opened with the new token. A refused login discards the token and fetches a new one. Any drop is followed
//!   by a reconnection with jittered exponential back-off ([`LiveTuning`]).
//! - **Rows**: each message (topic `v1/<endpoint>`) is one REST row plus `_id` (ever-increasing) and `_key` (the
//!   row's identity). Rows are parsed by the same [`crate::records`] parsers as REST rows and committed through the
//!   one commit path ([`crate::commit::Committer::commit`]: change log rows, then exactly its scopes invalidated
//!   and the changes published), in small
//!   transactions: at most [`LiveTuning::flush_interval`] after the first pending row, or at once when
//!   [`LiveTuning::flush_rows`] rows are pending; one transaction per session. Of several messages with the same
//!   `_key` the newest `_id` wins, and an older version arriving later never overwrites a newer one
//!   ([`VersionTracker`]).
//! - **Gaps**: whenever a connection is subscribed after a time without one (start-up, a drop, a token change, a
//!   broker restart), the gap is filled over REST: every session live in the calendar is polled incrementally
//!   ([`Ingestor::ingest_session`] with [`SessionWork::Incremental`]: `date>` the newest stored instant), within the
//!   client's rate limiter. Messages received meanwhile wait and are committed after the gap fill, so their newer
//!   versions win.
//! - **Coexistence with REST polling**: while a connection is subscribed the poll loop leaves to MQTT every live
//!   session caught up since ([`LiveStatus::streams`]); a live session the gap fill did not cover (it appeared in the
//!   calendar later, e.g. at the first start) is polled over REST once, then left to MQTT. When there is no
//!   connection (broker unreachable, refused, `OPENF1_MQTT_URL=off`), live sessions are polled over REST every
//!   `WORKER_POLL_INTERVAL_SECONDS` as before. Sessions written by MQTT are
//!   marked `live` in `ingest_state`, so once over they get a full REST ingest: REST is the truth.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use entity::{Endpoint, sessions};
use rand::Rng;
use rumqttc::{
  AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet, QoS,
  SubscribeFilter, SubscribeReasonCode, TlsConfiguration, Transport,
};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client::{AccessToken, OpenF1Client};
use crate::commit::Batch;
use crate::ingest::{IngestError, IngestReport, Ingestor, error_chain};
use crate::metrics::Metrics;
use crate::schedule::SessionWork;
use crate::settings::{BrokerAddress, LiveTuning, MqttSettings, Settings};
use entity::sessions::SessionPhase;

/// Pending rows beyond which the writer gives up on them (the database has been failing for long): they are
/// dropped and the gap is filled over REST once the database is back.
pub const MAX_PENDING_ROWS: usize = 200_000;
/// Rows whose newest version is remembered, to refuse older versions arriving late ([`VersionTracker`]).
pub const REMEMBERED_VERSIONS: usize = 100_000;
/// Largest MQTT packet accepted (Open F1 rows are well under 2 KB).
const MAX_PACKET_BYTES: usize = 1 << 20;
/// A token is used for at least this long before a planned replacement, whatever its lifetime.
const MIN_TOKEN_USE: Duration = Duration::from_secs(1);
/// Longest wait between attempts to commit pending rows while the database fails.
const MAX_FLUSH_RETRY_DELAY: Duration = Duration::from_secs(5);
/// Longest wait before trying again to fill a gap over REST.
const MAX_GAP_FILL_RETRY_DELAY: Duration = Duration::from_secs(30);
/// How long a polite disconnect may take at shutdown or token replacement.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Seconds the broker may take to accept a connection.
const CONNECTION_TIMEOUT_SECONDS: u64 = 10;

/// Why the live ingest could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
  /// The TLS configuration could not be built (no platform roots).
  #[error("could not set up TLS for the MQTT connection")]
  Tls(#[from] rustls::Error),
}

/// Where the live stream stands; the worker's poll loop and tests watch it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveStatus {
  /// Whether a connection is subscribed now (the poll loop then leaves live sessions to MQTT).
  pub subscribed: bool,
  /// Whether the gap before the current connection was filled over REST (the stream is complete since).
  pub caught_up: bool,
  /// The live sessions caught up over REST since the current connection subscribed (by the gap fill, or by the
  /// poll loop for a session that appeared in the calendar later): the stream alone carries them on.
  pub caught_up_sessions: BTreeSet<i32>,
  /// Connections that reached the subscribed state so far.
  pub connections: u64,
  /// Gaps filled over REST so far.
  pub gap_fills: u64,
  /// Messages received so far.
  pub received: u64,
  /// Messages dealt with so far: committed, superseded by a newer version, or rejected as invalid.
  pub handled: u64,
}

impl LiveStatus {
  /// Whether the stream carries `session_key` now: subscribed, and the session caught up since the connection.
  #[must_use]
  pub fn streams(&self, session_key: i32) -> bool {
    self.subscribed && self.caught_up_sessions.contains(&session_key)
  }
}

/// What the connection task tells the writer, in order.
#[derive(Debug)]
enum LiveEvent {
  /// A connection is subscribed to every topic.
  Subscribed,
  /// The subscribed connection ended.
  Disconnected,
  /// One message.
  Message {
    /// The topic, e.g. `v1/laps`.
    topic: String,
    /// The payload (one JSON row).
    payload: Vec<u8>,
  },
}

/// A row's identity and version in the live stream (`_key`, `_id`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version {
  /// `_key`: the same key means a newer version of the same row.
  pub key: String,
  /// `_id`: ever-increasing; the larger wins.
  pub id: i64,
}

/// One row of the live stream.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveRow {
  /// The endpoint (from the topic `v1/<endpoint>`).
  pub endpoint: Endpoint,
  /// `_key` and `_id`, when the message carries both.
  pub version: Option<Version>,
  /// The row's `session_key`, if any.
  pub session_key: Option<i32>,
  /// The row as received (`_id` and `_key` are ignored by the parsers).
  pub row: Value,
}

/// Why a message was not turned into a row.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
  /// The topic is not `v1/<one of the 18 endpoints>`.
  #[error("topic {0:?} is not an Open F1 endpoint")]
  UnknownTopic(String),
  /// The payload is not a JSON object.
  #[error("the payload is not a JSON object")]
  NotAnObject,
}

/// Turns one MQTT message into a row: the endpoint from the topic, the version from `_key` and `_id` (a string
/// `_id` holding digits is accepted).
///
/// # Errors
/// [`MessageError`] for an unknown topic or a payload that is not a JSON object.
pub fn parse_message(topic: &str, payload: &[u8]) -> Result<LiveRow, MessageError> {
  let endpoint = topic
    .strip_prefix("v1/")
    .and_then(Endpoint::from_name)
    .ok_or_else(|| MessageError::UnknownTopic(topic.to_owned()))?;
  let row: Value = serde_json::from_slice(payload).map_err(|_| MessageError::NotAnObject)?;
  if !row.is_object() {
    return Err(MessageError::NotAnObject);
  }
  let key = match row.get("_key") {
    Some(Value::String(key)) => Some(key.clone()),
    Some(Value::Number(number)) => Some(number.to_string()),
    _ => None,
  };
  let id = match row.get("_id") {
    Some(Value::Number(number)) => number.as_i64(),
    Some(Value::String(text)) => text.trim().parse().ok(),
    _ => None,
  };
  let session_key = row
    .get("session_key")
    .and_then(Value::as_i64)
    .and_then(|key| i32::try_from(key).ok());
  Ok(LiveRow {
    endpoint,
    version: key.zip(id).map(|(key, id)| Version { key, id }),
    session_key,
    row,
  })
}

/// Rows waiting for their transaction; of several versions of one row only the newest is kept.
#[derive(Debug, Default)]
pub struct PendingRows {
  versioned: HashMap<(Endpoint, String), LiveRow>,
  unversioned: Vec<LiveRow>,
  messages: usize,
  since: Option<Instant>,
}

impl PendingRows {
  /// Adds a received row (counted as one message); an older version of a pending row is dropped.
  pub fn push(&mut self, row: LiveRow) {
    self.messages += 1;
    self.since.get_or_insert_with(Instant::now);
    let Some(version) = &row.version else {
      self.unversioned.push(row);
      return;
    };
    let slot = (row.endpoint, version.key.clone());
    match self.versioned.get(&slot) {
      Some(pending)
        if pending
          .version
          .as_ref()
          .is_some_and(|kept| kept.id >= version.id) => {}
      _ => {
        self.versioned.insert(slot, row);
      }
    }
  }

  /// Rows pending (after deduplication).
  #[must_use]
  pub fn rows(&self) -> usize {
    self.versioned.len() + self.unversioned.len()
  }

  /// Messages received since the last [`PendingRows::take`] (before deduplication; for tests).
  #[cfg(test)]
  #[must_use]
  fn messages(&self) -> usize {
    self.messages
  }

  /// When the oldest pending message arrived.
  #[must_use]
  pub fn since(&self) -> Option<Instant> {
    self.since
  }

  /// Takes every pending row, oldest `_id` first (unversioned rows last, in arrival order), and the number of
  /// messages they stand for.
  pub fn take(&mut self) -> (Vec<LiveRow>, usize) {
    let mut rows: Vec<LiveRow> = self.versioned.drain().map(|(_, row)| row).collect();
    rows.sort_by_key(|row| row.version.as_ref().map_or(i64::MAX, |version| version.id));
    rows.append(&mut self.unversioned);
    let messages = std::mem::take(&mut self.messages);
    self.since = None;
    (rows, messages)
  }

  /// Puts back rows whose commit failed, with the messages they stand for.
  pub fn restore(&mut self, rows: Vec<LiveRow>, messages: usize) {
    let before = self.messages;
    for row in rows {
      self.push(row);
    }
    self.messages = before + messages;
  }
}

/// The newest committed `_id` of recently seen `_key`s, so that an older version arriving after a newer one was
/// committed is refused. Bounded: beyond `capacity` keys the older half (by `_id`) is forgotten, which only
/// matters for versions arriving that much later (REST reconciles after the session anyway).
#[derive(Debug)]
pub struct VersionTracker {
  newest: HashMap<(Endpoint, String), i64>,
  capacity: usize,
}

impl VersionTracker {
  /// A tracker remembering about `capacity` keys.
  #[must_use]
  pub fn new(capacity: usize) -> Self {
    Self {
      newest: HashMap::new(),
      capacity: capacity.max(2),
    }
  }

  /// Whether a version at least as new as `version` was committed for `endpoint`.
  #[must_use]
  pub fn is_superseded(&self, endpoint: Endpoint, version: &Version) -> bool {
    self
      .newest
      .get(&(endpoint, version.key.clone()))
      .is_some_and(|newest| *newest >= version.id)
  }

  /// Remembers that `version` of `endpoint` was committed.
  pub fn record(&mut self, endpoint: Endpoint, version: &Version) {
    let newest = self
      .newest
      .entry((endpoint, version.key.clone()))
      .or_insert(version.id);
    *newest = (*newest).max(version.id);
    if self.newest.len() > self.capacity {
      let mut ids: Vec<i64> = self.newest.values().copied().collect();
      let middle = ids.len() / 2;
      let (_, cutoff, _) = ids.select_nth_unstable(middle);
      let cutoff = *cutoff;
      self.newest.retain(|_, id| *id >= cutoff);
    }
  }

  /// Keys remembered (for tests).
  #[cfg(test)]
  #[must_use]
  fn len(&self) -> usize {
    self.newest.len()
  }

  /// Whether nothing is remembered (for tests).
  #[cfg(test)]
  #[must_use]
  fn is_empty(&self) -> bool {
    self.newest.is_empty()
  }
}

/// The running live ingest: its status and a way to stop it.
pub struct LiveHandle {
  status: watch::Receiver<LiveStatus>,
  stop: CancellationToken,
  tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for LiveHandle {
  fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    formatter
      .debug_struct("LiveHandle")
      .field("status", &*self.status.borrow())
      .finish_non_exhaustive()
  }
}

impl LiveHandle {
  /// The current status.
  #[must_use]
  pub fn status(&self) -> LiveStatus {
    self.status.borrow().clone()
  }

  /// A receiver of every status update (benchmarks read it from another task).
  #[must_use]
  pub fn status_receiver(&self) -> watch::Receiver<LiveStatus> {
    self.status.clone()
  }

  /// Waits until the status satisfies `predicate` (or the live ingest stopped) and returns it.
  pub async fn wait_until(&mut self, predicate: impl Fn(&LiveStatus) -> bool) -> LiveStatus {
    let waited = self
      .status
      .wait_for(|status| predicate(status))
      .await
      .map(|status| status.clone());
    waited.unwrap_or_else(|_| self.status.borrow().clone())
  }

  /// Stops the live ingest: closes the connection, commits the pending rows, waits for both tasks.
  pub async fn stop(self) {
    self.stop.cancel();
    for task in self.tasks {
      if let Err(error) = task.await {
        tracing::warn!(%error, "a live ingest task failed");
      }
    }
  }
}

/// Starts the live ingest (a connection task and a writer task) until `cancellation` fires or
/// [`LiveHandle::stop`], when `settings` has credentials and an MQTT broker (else `None`: REST polling only).
/// Status updates go to `status`.
///
/// # Errors
/// [`LiveError`] when TLS cannot be set up for an `mqtts://` broker.
pub fn start(
  ingestor: Ingestor,
  settings: &Settings,
  metrics: Metrics,
  status: watch::Sender<LiveStatus>,
  cancellation: &CancellationToken,
) -> Result<Option<LiveHandle>, LiveError> {
  let (Some(mqtt), Some(_)) = (settings.mqtt.clone(), settings.credentials.as_ref()) else {
    return Ok(None);
  };
  let client = ingestor.client().clone();
  let years = settings.years.clone();
  let tuning = settings.live.clone();
  let tls = if mqtt.broker.tls {
    Some(Arc::new(tls_configuration(
      mqtt.extra_roots_pem.as_deref(),
    )?))
  } else {
    None
  };
  let stop = cancellation.child_token();
  let (sender, receiver) = mpsc::unbounded_channel();
  status.send_modify(|status| *status = LiveStatus::default());
  let connection = Connection {
    client,
    mqtt,
    tls,
    tuning: tuning.clone(),
    events: sender,
  };
  let writer = Writer {
    ingestor,
    metrics,
    status: status.clone(),
    years,
    tuning,
    pending: PendingRows::default(),
    tracker: VersionTracker::new(REMEMBERED_VERSIONS),
    session_years: HashMap::new(),
    marked_live: HashSet::new(),
    gap_pending: true,
    retry_gap_fill_at: None,
    retry_flush_at: None,
    flush_failures: 0,
  };
  let connection_stop = stop.clone();
  let writer_stop = stop.clone();
  let tasks = vec![
    tokio::spawn(async move { connection.run(&connection_stop).await }),
    tokio::spawn(async move { writer.run(receiver, &writer_stop).await }),
  ];
  Ok(Some(LiveHandle {
    status: status.subscribe(),
    stop,
    tasks,
  }))
}

/// The TLS client configuration of the MQTT connection: the process's rustls provider (ring), the platform's
/// verifier and roots (as the REST client), plus `extra_roots_pem`.
///
/// # Errors
/// `LiveError::Tls` when no verifier can be built or `extra_roots_pem` holds no certificate.
pub fn tls_configuration(extra_roots_pem: Option<&str>) -> Result<rustls::ClientConfig, LiveError> {
  use rustls::pki_types::CertificateDer;
  use rustls::pki_types::pem::PemObject;
  crate::install_tls_provider();
  let provider = rustls::crypto::CryptoProvider::get_default()
    .cloned()
    .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
  let extra_roots: Vec<CertificateDer<'static>> = match extra_roots_pem {
    None => Vec::new(),
    Some(pem) => {
      let roots: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter_map(Result::ok)
        .collect();
      if roots.is_empty() {
        return Err(LiveError::Tls(rustls::Error::General(
          "no certificate in the extra roots".into(),
        )));
      }
      roots
    }
  };
  let verifier =
    rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())?;
  Ok(
    rustls::ClientConfig::builder_with_provider(provider)
      .with_safe_default_protocol_versions()?
      .dangerous()
      .with_custom_certificate_verifier(Arc::new(verifier))
      .with_no_client_auth(),
  )
}

/// How one connection ended.
#[derive(Debug)]
enum Ended {
  /// Shutdown was requested.
  Cancelled,
  /// The token is due for replacement: reconnect at once with a new one.
  TokenDue,
  /// The broker refused the login (bad or expired token).
  Refused(ConnectReturnCode),
  /// The connection failed or dropped; `was_subscribed` says whether it had been streaming.
  Failed {
    /// The error, for the log.
    error: String,
    /// Whether the connection had reached the subscribed state.
    was_subscribed: bool,
  },
}

/// The connection task: one MQTT connection at a time, reconnecting forever with back-off.
struct Connection {
  client: OpenF1Client,
  mqtt: MqttSettings,
  tls: Option<Arc<rustls::ClientConfig>>,
  tuning: LiveTuning,
  events: mpsc::UnboundedSender<LiveEvent>,
}

fn jittered(delay: Duration) -> Duration {
  let factor = rand::rng().random_range(0.5..=1.0);
  delay.mul_f64(factor)
}

impl Connection {
  async fn run(self, cancellation: &CancellationToken) {
    let Some(username) = self.client.username().map(str::to_owned) else {
      return;
    };
    let mut delay = self.tuning.min_reconnect_delay;
    loop {
      if cancellation.is_cancelled() {
        return;
      }
      let token = match self.client.access_token().await {
        Ok(Some(token)) => token,
        Ok(None) => return,
        Err(error) => {
          tracing::warn!(error = %error_chain(&error), "could not get a token for the live stream");
          if !crate::sleep_unless_cancelled(jittered(delay), cancellation).await {
            return;
          }
          delay = (delay * 2).min(self.tuning.max_reconnect_delay);
          continue;
        }
      };
      let ended = self.connect_once(&username, &token, cancellation).await;
      match ended {
        Ended::Cancelled => return,
        Ended::TokenDue => {
          tracing::info!("replacing the live stream's token before it expires");
          delay = self.tuning.min_reconnect_delay;
          continue;
        }
        Ended::Refused(code) => {
          tracing::warn!(
            ?code,
            broker = %self.mqtt.broker,
            "the MQTT broker refused the login; fetching a new token"
          );
          if matches!(
            code,
            ConnectReturnCode::NotAuthorized | ConnectReturnCode::BadUserNamePassword
          ) {
            self.client.discard_token(&token.value).await;
          }
        }
        Ended::Failed {
          error,
          was_subscribed,
        } => {
          if was_subscribed {
            delay = self.tuning.min_reconnect_delay;
          }
          tracing::warn!(%error, broker = %self.mqtt.broker, retry_in = ?delay, "the live stream dropped");
        }
      }
      if !crate::sleep_unless_cancelled(jittered(delay), cancellation).await {
        return;
      }
      delay = (delay * 2).min(self.tuning.max_reconnect_delay);
    }
  }

  fn options(&self, username: &str, token: &AccessToken) -> MqttOptions {
    let BrokerAddress { host, port, .. } = &self.mqtt.broker;
    let suffix: u64 = rand::rng().random();
    let mut options = MqttOptions::new(format!("f1-backend-{suffix:016x}"), host, *port);
    options
      .set_credentials(username, token.value.expose())
      .set_keep_alive(self.tuning.keep_alive)
      .set_clean_session(true)
      .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
    if let Some(tls) = &self.tls {
      options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
        tls.clone(),
      )));
    }
    options
  }

  /// Runs one connection until it ends; sends `Subscribed`, the messages, then `Disconnected`.
  async fn connect_once(
    &self,
    username: &str,
    token: &AccessToken,
    cancellation: &CancellationToken,
  ) -> Ended {
    let (client, mut eventloop) = AsyncClient::new(self.options(username, token), 64);
    let mut network = rumqttc::NetworkOptions::new();
    network.set_connection_timeout(CONNECTION_TIMEOUT_SECONDS);
    eventloop.set_network_options(network);
    let replace_at = token.refresh_at.max(Instant::now() + MIN_TOKEN_USE);
    let token_due = tokio::time::sleep_until(replace_at);
    tokio::pin!(token_due);
    let mut subscribed = false;
    let ended = loop {
      tokio::select! {
        biased;
        () = cancellation.cancelled() => break Ended::Cancelled,
        () = &mut token_due => break Ended::TokenDue,
        event = eventloop.poll() => match event {
          Ok(Event::Incoming(Packet::ConnAck(_))) => {
            let filters = self
              .mqtt
              .topics
              .iter()
              .map(|topic| SubscribeFilter::new(topic.clone(), QoS::AtLeastOnce));
            if let Err(error) = client.try_subscribe_many(filters) {
              break Ended::Failed { error: error.to_string(), was_subscribed: false };
            }
          }
          Ok(Event::Incoming(Packet::SubAck(acknowledgement))) => {
            if acknowledgement.return_codes.contains(&SubscribeReasonCode::Failure) {
              break Ended::Failed {
                error: format!("the broker refused a subscription to {:?}", self.mqtt.topics),
                was_subscribed: false,
              };
            }
            subscribed = true;
            tracing::info!(broker = %self.mqtt.broker, topics = ?self.mqtt.topics, "live stream subscribed");
            if self.events.send(LiveEvent::Subscribed).is_err() {
              break Ended::Cancelled;
            }
          }
          Ok(Event::Incoming(Packet::Publish(publish))) => {
            let message = LiveEvent::Message { topic: publish.topic, payload: publish.payload.to_vec() };
            if self.events.send(message).is_err() {
              break Ended::Cancelled;
            }
          }
          Ok(_) => {}
          Err(ConnectionError::ConnectionRefused(code)) => break Ended::Refused(code),
          Err(error) => break Ended::Failed { error: error.to_string(), was_subscribed: subscribed },
        },
      }
    };
    if matches!(ended, Ended::Cancelled | Ended::TokenDue) {
      disconnect(&client, &mut eventloop).await;
    }
    if subscribed {
      self.events.send(LiveEvent::Disconnected).ok();
    }
    ended
  }
}

/// Sends DISCONNECT and drives the event loop until it is out (bounded).
async fn disconnect(client: &AsyncClient, eventloop: &mut rumqttc::EventLoop) {
  if client.try_disconnect().is_err() {
    return;
  }
  let drained = tokio::time::timeout(DISCONNECT_TIMEOUT, async {
    loop {
      match eventloop.poll().await {
        Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => return,
        Ok(_) => {}
      }
    }
  })
  .await;
  if drained.is_err() {
    tracing::debug!("the MQTT disconnect did not complete in time");
  }
}

/// The writer task: batches rows, commits them, fills gaps over REST.
struct Writer {
  ingestor: Ingestor,
  metrics: Metrics,
  status: watch::Sender<LiveStatus>,
  years: Vec<i32>,
  tuning: LiveTuning,
  pending: PendingRows,
  tracker: VersionTracker,
  session_years: HashMap<i32, i32>,
  marked_live: HashSet<i32>,
  /// Whether the stream had a gap (start-up, a drop) that REST has not filled yet.
  gap_pending: bool,
  retry_gap_fill_at: Option<Instant>,
  retry_flush_at: Option<Instant>,
  flush_failures: u32,
}

/// Sleeps until `instant`, or forever when there is none.
async fn sleep_until_some(instant: Option<Instant>) {
  match instant {
    Some(instant) => tokio::time::sleep_until(instant).await,
    None => std::future::pending().await,
  }
}

impl Writer {
  async fn run(
    mut self,
    mut events: mpsc::UnboundedReceiver<LiveEvent>,
    cancellation: &CancellationToken,
  ) {
    loop {
      let flush_at = self.next_flush_at();
      let gap_fill_at = self
        .retry_gap_fill_at
        .filter(|_| self.gap_pending && self.status.borrow().subscribed);
      tokio::select! {
        biased;
        () = cancellation.cancelled() => break,
        () = sleep_until_some(flush_at) => self.flush().await,
        () = sleep_until_some(gap_fill_at) => self.fill_gap(cancellation).await,
        event = events.recv() => match event {
          None => break,
          Some(LiveEvent::Message { topic, payload }) => self.receive(&topic, &payload).await,
          Some(LiveEvent::Subscribed) => {
            self.metrics.set_live_connected(true);
            self.status.send_modify(|status| {
              status.subscribed = true;
              status.connections += 1;
            });
            if self.gap_pending {
              self.flush().await;
              self.fill_gap(cancellation).await;
            }
          }
          Some(LiveEvent::Disconnected) => {
            self.metrics.set_live_connected(false);
            self.gap_pending = true;
            self.retry_gap_fill_at = None;
            self.status.send_modify(|status| {
              status.subscribed = false;
              status.caught_up = false;
              status.caught_up_sessions.clear();
            });
          }
        },
      }
    }
    // The commit is the unit of work: what was received is committed before stopping.
    if self.pending.rows() > 0 {
      self.retry_flush_at = None;
      self.flush().await;
    }
    self.metrics.set_live_connected(false);
    self.status.send_modify(|status| {
      status.subscribed = false;
      status.caught_up = false;
      status.caught_up_sessions.clear();
    });
  }

  fn next_flush_at(&self) -> Option<Instant> {
    if let Some(retry_at) = self.retry_flush_at {
      return Some(retry_at);
    }
    self
      .pending
      .since()
      .map(|since| since + self.tuning.flush_interval)
  }

  async fn receive(&mut self, topic: &str, payload: &[u8]) {
    self.status.send_modify(|status| status.received += 1);
    match parse_message(topic, payload) {
      Ok(row) => self.pending.push(row),
      Err(error) => {
        let outcome = match error {
          MessageError::UnknownTopic(_) => "unknown_topic",
          MessageError::NotAnObject => "invalid",
        };
        tracing::debug!(%error, topic, "skipping a live message");
        self.metrics.count_live_messages(outcome, 1);
        self.status.send_modify(|status| status.handled += 1);
      }
    }
    if self.pending.rows() >= self.tuning.flush_rows && self.retry_flush_at.is_none() {
      self.flush().await;
    }
  }

  /// Commits the pending rows, one transaction per session; on failure keeps them and retries with back-off.
  async fn flush(&mut self) {
    if self
      .retry_flush_at
      .is_some_and(|retry_at| Instant::now() < retry_at)
    {
      return;
    }
    self.retry_flush_at = None;
    let (rows, messages) = self.pending.take();
    if rows.is_empty() && messages == 0 {
      return;
    }
    let mut superseded = 0;
    let mut by_session: BTreeMap<Option<i32>, Vec<LiveRow>> = BTreeMap::new();
    for row in rows {
      if let Some(version) = &row.version
        && self.tracker.is_superseded(row.endpoint, version)
      {
        superseded += 1;
        continue;
      }
      by_session.entry(row.session_key).or_default().push(row);
    }
    let mut stored = 0;
    let mut groups = by_session.into_iter();
    while let Some((session_key, group)) = groups.next() {
      match self.commit(session_key, &group).await {
        Ok(()) => stored += group.len(),
        Err(error) => {
          self.flush_failures += 1;
          let delay = (self.tuning.flush_interval * 2_u32.saturating_pow(self.flush_failures))
            .min(MAX_FLUSH_RETRY_DELAY);
          tracing::error!(error = %error_chain(&error), retry_in = ?delay, "could not commit live rows");
          let mut unsaved = group;
          for (_, rest) in groups.by_ref() {
            unsaved.extend(rest);
          }
          self.pending.restore(unsaved, messages);
          self.retry_flush_at = Some(Instant::now() + delay);
          self.drop_pending_beyond_limit();
          return;
        }
      }
    }
    self.flush_failures = 0;
    self.metrics.count_live_messages("stored", stored);
    self
      .metrics
      .count_live_messages("superseded", messages.saturating_sub(stored));
    tracing::debug!(messages, stored, superseded, "committed live rows");
    let handled = u64::try_from(messages).unwrap_or(u64::MAX);
    self.status.send_modify(|status| status.handled += handled);
  }

  /// After long database failures: drop what is pending (REST fills the gap once the database is back).
  fn drop_pending_beyond_limit(&mut self) {
    if self.pending.rows() <= MAX_PENDING_ROWS {
      return;
    }
    let (rows, messages) = self.pending.take();
    tracing::error!(
      rows = rows.len(),
      "too many live rows wait for the database; dropping them, REST will fill the gap"
    );
    self.metrics.count_live_messages("dropped", messages);
    let handled = u64::try_from(messages).unwrap_or(u64::MAX);
    self.status.send_modify(|status| {
      status.handled += handled;
      status.caught_up = false;
      status.caught_up_sessions.clear();
    });
    self.gap_pending = true;
    self.retry_gap_fill_at = Some(Instant::now() + MAX_FLUSH_RETRY_DELAY);
  }

  /// One transaction for the rows of one session, through the shared commit path.
  async fn commit(&mut self, session_key: Option<i32>, rows: &[LiveRow]) -> Result<(), DbErr> {
    let year_in_rows = rows
      .iter()
      .find_map(|row| row.row.get("year").and_then(Value::as_i64))
      .and_then(|year| i32::try_from(year).ok());
    let year = match session_key {
      Some(session_key) => self.year_of(session_key).await?.or(year_in_rows),
      None => year_in_rows,
    };
    let mut by_endpoint: BTreeMap<Endpoint, Vec<Value>> = BTreeMap::new();
    for row in rows {
      by_endpoint
        .entry(row.endpoint)
        .or_default()
        .push(row.row.clone());
    }
    let batches: Vec<Batch<'_>> = by_endpoint
      .iter()
      .map(|(endpoint, rows)| Batch {
        endpoint: *endpoint,
        rows,
        year,
      })
      .collect();
    // The one commit path: the change log rows and the cache announcement come with the rows.
    let outcome = self.ingestor.committer().commit(&batches).await?.stored;
    for row in rows {
      if let Some(version) = &row.version {
        self.tracker.record(row.endpoint, version);
      }
    }
    for session_key in outcome.sessions_changed {
      if self.marked_live.insert(session_key) {
        // REST reconciles a session MQTT wrote to once it is over (`live` sessions get a full ingest).
        let marked = self
          .ingestor
          .record_state(
            session_key,
            SessionWork::Incremental,
            &Ok(IngestReport::default()),
          )
          .await;
        if let Err(error) = marked {
          self.marked_live.remove(&session_key);
          tracing::warn!(session_key, error = %error_chain(&error), "could not mark the session live");
        }
      }
    }
    Ok(())
  }

  async fn year_of(&mut self, session_key: i32) -> Result<Option<i32>, DbErr> {
    if let Some(year) = self.session_years.get(&session_key) {
      return Ok(Some(*year));
    }
    let year = sessions::Entity::find_by_id(session_key)
      .one(self.ingestor.database())
      .await?
      .map(|session| session.year);
    if let Some(year) = year {
      self.session_years.insert(session_key, year);
    }
    Ok(year)
  }

  /// Fills the gap over REST: every session live in the calendar is polled incrementally.
  async fn fill_gap(&mut self, cancellation: &CancellationToken) {
    self.retry_gap_fill_at = None;
    let succeeded = match self.poll_live_sessions(cancellation).await {
      Ok(()) => true,
      Err(IngestError::Cancelled) => return,
      Err(error) => {
        tracing::warn!(error = %error_chain(&error), "could not fill the live stream's gap over REST");
        false
      }
    };
    self.metrics.count_gap_fill(succeeded);
    if succeeded {
      self.gap_pending = false;
      self.status.send_modify(|status| {
        status.caught_up = status.subscribed;
        status.gap_fills += 1;
      });
    } else {
      self.retry_gap_fill_at = Some(
        Instant::now()
          + self
            .tuning
            .max_reconnect_delay
            .min(MAX_GAP_FILL_RETRY_DELAY),
      );
    }
  }

  async fn poll_live_sessions(&self, cancellation: &CancellationToken) -> Result<(), IngestError> {
    let now = Utc::now();
    let live: Vec<sessions::Model> = sessions::Entity::find()
      .filter(sessions::Column::Year.is_in(self.years.clone()))
      .all(self.ingestor.database())
      .await?
      .into_iter()
      .filter(|session| session.phase(now) == SessionPhase::Live)
      .collect();
    let mut first_error = None;
    for session in live {
      let result = self
        .ingestor
        .ingest_session(&session, SessionWork::Incremental, cancellation)
        .await;
      if matches!(result, Err(IngestError::Cancelled)) {
        return Err(IngestError::Cancelled);
      }
      self
        .ingestor
        .record_state(session.session_key, SessionWork::Incremental, &result)
        .await?;
      match result {
        Ok(report) => {
          self.status.send_modify(|status| {
            status.caught_up_sessions.insert(session.session_key);
          });
          tracing::info!(
            session_key = session.session_key,
            received = report.received,
            written = report.written,
            "filled the live stream's gap over REST"
          );
        }
        Err(error) => {
          first_error.get_or_insert(error);
        }
      }
    }
    first_error.map_or(Ok(()), Err)
  }
}

#[cfg(test)]
mod tests {
  use serde_json::json;

  use super::*;

  fn lap(key: &str, id: i64, duration: Option<f64>) -> LiveRow {
    let payload = json!({
      "session_key": 9472, "meeting_key": 1229, "driver_number": 1, "lap_number": 3,
      "lap_duration": duration, "_key": key, "_id": id,
    });
    parse_message("v1/laps", payload.to_string().as_bytes()).expect("a lap message")
  }

  #[test]
  fn a_message_is_one_row_of_the_endpoint_named_by_its_topic() {
    let row = lap("9472_3_1", 1_709_391_600_123, Some(95.2));
    assert_eq!(row.endpoint, Endpoint::Laps);
    assert_eq!(row.session_key, Some(9472));
    assert_eq!(
      row.version,
      Some(Version {
        key: "9472_3_1".into(),
        id: 1_709_391_600_123
      })
    );
    assert_eq!(
      parse_message("v1/nonsense", b"{}"),
      Err(MessageError::UnknownTopic("v1/nonsense".into()))
    );
    assert_eq!(
      parse_message("laps", b"{}"),
      Err(MessageError::UnknownTopic("laps".into()))
    );
    assert_eq!(
      parse_message("v1/laps", b"[1]"),
      Err(MessageError::NotAnObject)
    );
    assert_eq!(
      parse_message("v1/laps", b"\xff"),
      Err(MessageError::NotAnObject)
    );
    let string_id = parse_message("v1/weather", br#"{"_key":"1","_id":"42"}"#).expect("row");
    assert_eq!(string_id.version.map(|version| version.id), Some(42));
  }

  #[test]
  fn of_pending_versions_of_one_row_the_newest_id_wins_whatever_the_arrival_order() {
    let mut pending = PendingRows::default();
    pending.push(lap("9472_3_1", 20, Some(95.2)));
    pending.push(lap("9472_3_1", 10, None));
    pending.push(lap("9472_3_1", 20, Some(95.2)));
    pending.push(lap("9472_4_1", 15, None));
    assert_eq!(pending.rows(), 2);
    assert_eq!(pending.messages(), 4);
    let (rows, messages) = pending.take();
    assert_eq!(messages, 4);
    let ids: Vec<i64> = rows
      .iter()
      .filter_map(|row| row.version.as_ref().map(|version| version.id))
      .collect();
    assert_eq!(
      ids,
      vec![15, 20],
      "oldest first, so the newest is written last"
    );
    assert_eq!(rows[1].row["lap_duration"], json!(95.2));
    assert_eq!(pending.rows(), 0);
    assert_eq!(pending.since(), None);
  }

  #[test]
  fn restored_rows_keep_their_message_count_once() {
    let mut pending = PendingRows::default();
    pending.push(lap("a", 1, None));
    pending.push(lap("b", 2, None));
    let (rows, messages) = pending.take();
    pending.push(lap("c", 3, None));
    pending.restore(rows, messages);
    assert_eq!(pending.rows(), 3);
    assert_eq!(pending.messages(), 3);
  }

  #[test]
  fn a_committed_version_refuses_older_and_equal_ones_but_not_newer() {
    let mut tracker = VersionTracker::new(10);
    let version = |id| Version {
      key: "9472_3_1".into(),
      id,
    };
    tracker.record(Endpoint::Laps, &version(20));
    assert!(tracker.is_superseded(Endpoint::Laps, &version(10)));
    assert!(tracker.is_superseded(Endpoint::Laps, &version(20)));
    assert!(!tracker.is_superseded(Endpoint::Laps, &version(21)));
    assert!(!tracker.is_superseded(Endpoint::Stints, &version(10)));
    tracker.record(Endpoint::Laps, &version(5));
    assert!(
      tracker.is_superseded(Endpoint::Laps, &version(19)),
      "an older record keeps the newest"
    );
  }

  #[test]
  fn the_tracker_forgets_the_oldest_keys_beyond_its_capacity() {
    let mut tracker = VersionTracker::new(100);
    for id in 0..1_000 {
      tracker.record(
        Endpoint::Location,
        &Version {
          key: id.to_string(),
          id,
        },
      );
      assert!(tracker.len() <= 101);
    }
    assert!(!tracker.is_empty());
    let newest = Version {
      key: "999".into(),
      id: 999,
    };
    assert!(tracker.is_superseded(Endpoint::Location, &newest));
  }
}
