//! The HTTP server: Open F1 routes, token endpoint, faults, request log and control API.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt::{self, Write as _};
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use openf1_query::{Filter, LatestSession, QueryError, parse_datetime, parse_query};
use percent_encoding::percent_decode_str;
use poem::http::{HeaderMap, Method, StatusCode, header};
use poem::listener::TcpAcceptor;
use poem::{Endpoint, Request, Response};
use serde::Serialize;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::broker::{BrokerError, BrokerLink, BrokerOptions};
use crate::clock::Clock;
use crate::faults::{Fault, FaultQueue, FaultRequest};
use crate::query::{DATETIME_FIELDS, row_matches};
use crate::replay::{Presented, ReplayOptions, ReplayView, upstream_key};
use crate::store::{ENDPOINTS, FixtureError, FixtureStore, sort_answer, sort_rows};
use crate::time::format_datetime;

/// Body of every empty result and unknown endpoint.
pub const NO_RESULTS_BODY: &str = r#"{"detail":"No results found."}"#;
/// Body of `401` answers to unauthenticated requests during a live session.
pub const SESSION_IN_PROGRESS_BODY: &str = r#"{"detail":"Session in progress, access is restricted to authenticated users. Sign up here: https://tally.so/r/w2yWDb"}"#;
/// Body of `401` answers of the token endpoint to wrong credentials.
pub const INVALID_CREDENTIALS_BODY: &str = r#"{"detail":"Invalid username or password"}"#;
/// Body of the JSON rate-limit answer.
pub const RATE_LIMIT_BODY: &str = r#"{"error": "Rate limit exceeded: 30 per 10 second"}"#;
/// Body of the `500` answer (upstream's debug page).
pub const INTERNAL_SERVER_ERROR_BODY: &str = "<h1>An error occurred</h1><pre>Traceback (most recent call last):\n  File \"/app/src/openf1/services/query_api/app.py\", line 61, in get_data\n    results = await get_documents(collection, filters)\npymongo.errors.ExecutionTimeout: operation exceeded time limit</pre>";
/// Upstream answers `session_key=latest` with sessions starting up to this long in the future.
const LATEST_LOOKAHEAD: TimeDelta = TimeDelta::seconds(60);
/// How long [`OpenF1Server::stop`] lets in-flight requests finish.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Username and password accepted by `POST /token`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
  /// Username (upstream: the e-mail address).
  pub username: String,
  /// Password.
  pub password: String,
}

impl fmt::Debug for Credentials {
  fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
    formatter
      .debug_struct("Credentials")
      .field("username", &self.username)
      .field("password", &"[redacted]")
      .finish()
  }
}

/// How the server behaves.
#[derive(Clone, Debug)]
pub struct ServerOptions {
  /// Folder of recorded responses (e.g. `tests/fixtures/openf1`).
  pub fixtures_dir: PathBuf,
  /// Accepted credentials; `None` accepts any username and password.
  pub credentials: Option<Credentials>,
  /// Answer `401` to every `/v1` request without a valid bearer token.
  pub require_auth: bool,
  /// Lifetime of issued tokens (upstream: one hour).
  pub token_lifetime: Duration,
  /// Serve one recorded session as if it were running now.
  pub replay: Option<ReplayOptions>,
  /// The server's clock (replay position, `latest`, token expiry).
  pub clock: Clock,
  /// An MQTT broker (mosquitto with dynamic security) to publish the replay to and to register tokens with.
  pub broker: Option<BrokerOptions>,
}

impl ServerOptions {
  /// Options serving `fixtures_dir` with no auth, one-hour tokens, no replay and the system clock.
  #[must_use]
  pub fn new(fixtures_dir: impl Into<PathBuf>) -> Self {
    Self {
      fixtures_dir: fixtures_dir.into(),
      credentials: None,
      require_auth: false,
      token_lifetime: Duration::from_secs(3600),
      replay: None,
      clock: Clock::system(),
      broker: None,
    }
  }
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
  /// The fixtures could not be loaded.
  #[error("cannot load fixtures")]
  Fixtures(#[from] FixtureError),
  /// The listening socket could not be opened.
  #[error("cannot listen on {address}")]
  Bind {
    /// The address.
    address: SocketAddr,
    /// The cause.
    #[source]
    source: std::io::Error,
  },
  /// The replayed session is not among the fixtures' sessions (or has no `date_start`).
  #[error("session {0} to replay is not in the fixtures' sessions")]
  UnknownReplaySession(i64),
  /// The replay speed is not a positive finite number.
  #[error("replay speed must be positive, got {0}")]
  InvalidReplaySpeed(f64),
  /// The MQTT broker could not be reached or set up.
  #[error("cannot use the MQTT broker")]
  Broker(#[from] BrokerError),
}

/// A recorded row of the replayed session, waiting for its publication.
#[derive(Clone, Debug)]
struct ScheduledRow {
  visible_from: DateTime<Utc>,
  endpoint: &'static str,
  row: Value,
}

/// The rows of the replayed session still to publish on MQTT, in order of their recorded instants.
#[derive(Debug, Default)]
struct PublicationSchedule {
  rows: Vec<ScheduledRow>,
  next: usize,
  last_id: i64,
}

/// One request as seen by the server (control API requests are not recorded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordedRequest {
  /// HTTP method.
  pub method: String,
  /// Path, e.g. `/v1/laps`.
  pub path: String,
  /// Raw query string (empty when none).
  pub query: String,
  /// Status code answered.
  pub status: u16,
  /// Whether a valid bearer token was presented.
  pub authorized: bool,
}

/// Shared state of a running server.
struct ServerState {
  store: RwLock<FixtureStore>,
  faults: Mutex<FaultQueue>,
  requests: Mutex<Vec<RecordedRequest>>,
  tokens: Mutex<HashMap<String, DateTime<Utc>>>,
  options: ServerOptions,
  broker: Option<BrokerLink>,
  schedule: tokio::sync::Mutex<PublicationSchedule>,
  token_lifetime: Mutex<Duration>,
  next_token_lifetimes: Mutex<std::collections::VecDeque<Duration>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
  mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn json_response(status: StatusCode, body: impl Into<String>) -> Response {
  Response::builder()
    .status(status)
    .content_type("application/json")
    .body(body.into())
}

fn text_response(status: StatusCode, body: &'static str) -> Response {
  Response::builder()
    .status(status)
    .content_type("text/plain; charset=utf-8")
    .body(body)
}

fn no_results() -> Response {
  json_response(StatusCode::NOT_FOUND, NO_RESULTS_BODY)
}

/// A long random hexadecimal token (std's randomly keyed hasher; no cryptographic claim).
fn random_token() -> String {
  let mut token = String::with_capacity(128);
  let nanos = std::time::SystemTime::now()
    .duration_since(std::time::UNIX_EPOCH)
    .map_or(0, |elapsed| elapsed.as_nanos());
  for index in 0..8_u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(index);
    hasher.write_u128(nanos);
    let _ = write!(token, "{:016x}", hasher.finish());
  }
  token
}

fn form_fields(body: &str) -> HashMap<String, String> {
  body
    .split('&')
    .filter_map(|pair| pair.split_once('='))
    .map(|(key, value)| {
      let decode = |text: &str| {
        percent_decode_str(&text.replace('+', " "))
          .decode_utf8_lossy()
          .into_owned()
      };
      (decode(key), decode(value))
    })
    .collect()
}

/// Python's `repr` of a decoded JSON value (lists show `None`, `True`, quoted strings).
fn python_repr(value: &Value) -> String {
  match value {
    Value::Null => "None".to_owned(),
    Value::Bool(true) => "True".to_owned(),
    Value::Bool(false) => "False".to_owned(),
    Value::Number(number) => number.to_string(),
    Value::String(text) => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'")),
    Value::Array(items) => format!(
      "[{}]",
      items.iter().map(python_repr).collect::<Vec<_>>().join(", ")
    ),
    Value::Object(members) => format!(
      "{{{}}}",
      members
        .iter()
        .map(|(key, value)| format!("'{key}': {}", python_repr(value)))
        .collect::<Vec<_>>()
        .join(", ")
    ),
  }
}

/// CSV like upstream's `csv=true` (Python's `csv.DictWriter`): header = sorted union of keys, each cell `str(value)`
/// (`True`/`False`, empty for null, lists as Python shows them, datetimes with a space before the time).
fn to_csv(rows: &[Value]) -> String {
  let mut columns: Vec<&str> = rows
    .iter()
    .filter_map(Value::as_object)
    .flat_map(|row| row.keys().map(String::as_str))
    .collect();
  columns.sort_unstable();
  columns.dedup();
  let quote = |text: String| {
    if text.contains([',', '"', '\n', '\r']) {
      format!("\"{}\"", text.replace('"', "\"\""))
    } else {
      text
    }
  };
  let mut csv = columns.join(",");
  csv.push_str("\r\n");
  for row in rows {
    let cells: Vec<String> = columns
      .iter()
      .map(|column| match row.get(*column) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) if DATETIME_FIELDS.contains(column) => parse_datetime(text)
          .map_or_else(
            || quote(text.clone()),
            |parsed| format_datetime(parsed.instant).replacen('T', " ", 1),
          ),
        Some(Value::String(text)) => quote(text.clone()),
        Some(other) => quote(python_repr(other)),
      })
      .collect();
    csv.push_str(&cells.join(","));
    csv.push_str("\r\n");
  }
  csv
}

impl ServerState {
  fn now(&self) -> DateTime<Utc> {
    self.options.clock.now()
  }

  fn replay_view(&self, store: &FixtureStore) -> Option<ReplayView> {
    let options = self.options.replay.as_ref()?;
    let session = store.rows("sessions")?.iter().find(|session| {
      session.get("session_key").and_then(Value::as_i64) == Some(options.session_key)
    })?;
    ReplayView::new(options, session, self.now())
  }

  fn is_authorized(&self, headers: &HeaderMap) -> bool {
    let Some(token) = headers
      .get(header::AUTHORIZATION)
      .and_then(|value| value.to_str().ok())
      .and_then(|value| {
        value
          .strip_prefix("Bearer ")
          .or_else(|| value.strip_prefix("bearer "))
      })
    else {
      return false;
    };
    let now = self.now();
    lock(&self.tokens)
      .get(token.trim())
      .is_some_and(|expires_at| *expires_at > now)
  }

  fn latest_session(
    &self,
    store: &FixtureStore,
    replay: Option<&ReplayView>,
  ) -> Option<LatestSession> {
    if let Some(replay) = replay {
      return Some(LatestSession {
        session_key: replay.session_key(),
        meeting_key: replay.meeting_key().unwrap_or_default(),
      });
    }
    let horizon = self.now() + LATEST_LOOKAHEAD;
    store
      .rows("sessions")?
      .iter()
      .filter(|session| session.get("is_cancelled").and_then(Value::as_bool) != Some(true))
      .filter_map(|session| {
        let start = parse_datetime(session.get("date_start")?.as_str()?)?.instant;
        (start <= horizon).then_some((start, session))
      })
      .max_by_key(|(start, _)| *start)
      .and_then(|(_, session)| {
        Some(LatestSession {
          session_key: session.get("session_key")?.as_i64()?,
          meeting_key: session.get("meeting_key")?.as_i64()?,
        })
      })
  }

  async fn handle(&self, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    if let Some(control_path) = path.strip_prefix("/__control/") {
      let control_path = control_path.to_owned();
      let body = request.into_body().into_string().await.unwrap_or_default();
      return self.control(&method, &control_path, &body);
    }
    let authorized = self.is_authorized(request.headers());
    let fault = lock(&self.faults).take(&path);
    let response = match fault {
      None => self.serve(request, &path, &query, authorized).await,
      Some(Fault::Slow(delay)) => {
        tokio::time::sleep(delay).await;
        self.serve(request, &path, &query, authorized).await
      }
      Some(Fault::TruncatedJson) => {
        let full = self.serve(request, &path, &query, authorized).await;
        let bytes = full.into_body().into_vec().await.unwrap_or_default();
        let cut = bytes[..bytes.len() / 2].to_vec();
        Response::builder()
          .status(StatusCode::OK)
          .content_type("application/json")
          .body(cut)
      }
      Some(fault) => fault_response(&fault),
    };
    lock(&self.requests).push(RecordedRequest {
      method: method.to_string(),
      path,
      query,
      status: response.status().as_u16(),
      authorized,
    });
    response
  }

  async fn serve(&self, request: Request, path: &str, query: &str, authorized: bool) -> Response {
    if path == "/" || path.is_empty() {
      return text_response(StatusCode::OK, "Welcome to OpenF1!");
    }
    if path == "/token" {
      if request.method() != Method::POST {
        return json_response(
          StatusCode::METHOD_NOT_ALLOWED,
          r#"{"detail":"Method Not Allowed"}"#,
        );
      }
      let body = request.into_body().into_string().await.unwrap_or_default();
      return self.issue_token(&body).await;
    }
    let Some(endpoint) = path
      .strip_prefix("/v1/")
      .map(|endpoint| endpoint.trim_end_matches('/').to_lowercase())
    else {
      return no_results();
    };
    if request.method() != Method::GET && request.method() != Method::POST {
      return json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        r#"{"detail":"Method Not Allowed"}"#,
      );
    }
    self.query_endpoint(&endpoint, query, authorized)
  }

  async fn issue_token(&self, body: &str) -> Response {
    let fields = form_fields(body);
    let username = fields
      .get("username")
      .map(String::as_str)
      .unwrap_or_default();
    let password = fields
      .get("password")
      .map(String::as_str)
      .unwrap_or_default();
    let accepted = match &self.options.credentials {
      Some(credentials) => credentials.username == username && credentials.password == password,
      None => !username.is_empty() && !password.is_empty(),
    };
    if !accepted {
      return json_response(StatusCode::UNAUTHORIZED, INVALID_CREDENTIALS_BODY);
    }
    let token = random_token();
    let queued = lock(&self.next_token_lifetimes).pop_front();
    let lifetime_seconds = queued
      .unwrap_or_else(|| *lock(&self.token_lifetime))
      .as_secs();
    let lifetime = TimeDelta::try_seconds(i64::try_from(lifetime_seconds).unwrap_or(3600))
      .unwrap_or(TimeDelta::hours(1));
    let expires_at = self.now() + lifetime;
    lock(&self.tokens).insert(token.clone(), expires_at);
    if let Some(broker) = &self.broker
      && let Err(error) = broker.register(username, &token, expires_at).await
    {
      tracing::warn!(%error, username, "could not register the token with the MQTT broker");
    }
    let body = serde_json::json!({
      "expires_in": lifetime_seconds.to_string(),
      "access_token": token,
      "token_type": "bearer",
    });
    json_response(StatusCode::OK, body.to_string())
  }

  fn query_endpoint(&self, endpoint: &str, query: &str, authorized: bool) -> Response {
    let store = self.store.read().unwrap_or_else(PoisonError::into_inner);
    let replay = self.replay_view(&store);
    let live_auth = replay.as_ref().is_some_and(ReplayView::is_live)
      && self
        .options
        .replay
        .as_ref()
        .is_some_and(|options| options.auth_during_live);
    if (self.options.require_auth || live_auth) && !authorized {
      return json_response(StatusCode::UNAUTHORIZED, SESSION_IN_PROGRESS_BODY);
    }
    let Some(rows) = store.rows(endpoint) else {
      return no_results();
    };
    let parsed = match parse_query(query) {
      Ok(parsed) => parsed,
      Err(QueryError::NoOperator(term)) => {
        return Response::builder()
          .status(StatusCode::INTERNAL_SERVER_ERROR)
          .content_type("text/html; charset=utf-8")
          .body(format!(
            "<h1>An error occurred</h1><pre>Traceback (most recent call last):\n  File \"/app/src/openf1/services/query_api/query_params.py\", in _str_to_query_params\nValueError: No valid operator found in `{term}`.</pre>"
          ));
      }
    };
    let filter = Filter::new(&parsed, self.latest_session(&store, replay.as_ref()));
    let mut selected: Vec<Value> = Vec::new();
    for row in rows {
      let served = match replay.as_ref().map(|view| view.present(endpoint, row)) {
        None | Some(Presented::Unchanged) => None,
        Some(Presented::Hidden) => continue,
        Some(Presented::Shifted(shifted)) => Some(shifted),
      };
      let candidate = served.as_ref().unwrap_or(row);
      if row_matches(&filter, candidate) {
        selected.push(served.unwrap_or_else(|| row.clone()));
      }
    }
    drop(store);
    if replay.is_some() {
      sort_rows(&mut selected);
    }
    sort_answer(&mut selected);
    if selected.is_empty() {
      return no_results();
    }
    if parsed.csv {
      return Response::builder()
        .status(StatusCode::OK)
        .content_type("text/csv; charset=utf-8")
        .header(
          header::CONTENT_DISPOSITION,
          format!("attachment; filename={endpoint}.csv"),
        )
        .body(to_csv(&selected));
    }
    json_response(StatusCode::OK, Value::Array(selected).to_string())
  }

  /// Builds the publication schedule: the replayed session's rows of published endpoints that become visible after
  /// the replay's current instant (upstream publishes as data happens, and keeps nothing for late subscribers).
  fn build_schedule(&self) -> PublicationSchedule {
    let store = self.store.read().unwrap_or_else(PoisonError::into_inner);
    let Some(view) = self.replay_view(&store) else {
      return PublicationSchedule::default();
    };
    let mut rows: Vec<ScheduledRow> = Vec::new();
    for endpoint in ENDPOINTS {
      if crate::replay::upstream_key_fields(endpoint).is_none() {
        continue;
      }
      for row in store.rows(endpoint).unwrap_or_default() {
        if !view.concerns_replayed_session(endpoint, row) {
          continue;
        }
        if let Some(visible_from) = view.visible_from(endpoint, row)
          && visible_from > view.recorded_now()
        {
          rows.push(ScheduledRow {
            visible_from,
            endpoint,
            row: row.clone(),
          });
        }
      }
    }
    rows.sort_by_key(|scheduled| scheduled.visible_from);
    PublicationSchedule {
      rows,
      next: 0,
      last_id: 0,
    }
  }

  /// The messages due now: rows whose recorded instant was reached, as served now over REST plus `_key` and `_id`.
  fn due_messages(&self, schedule: &mut PublicationSchedule) -> (Vec<(String, Vec<u8>)>, usize) {
    let store = self.store.read().unwrap_or_else(PoisonError::into_inner);
    let Some(view) = self.replay_view(&store) else {
      return (Vec::new(), schedule.next);
    };
    drop(store);
    let mut messages = Vec::new();
    let mut next = schedule.next;
    while let Some(scheduled) = schedule.rows.get(next)
      && scheduled.visible_from <= view.recorded_now()
    {
      next += 1;
      let Presented::Shifted(mut row) = view.present(scheduled.endpoint, &scheduled.row) else {
        continue;
      };
      let id = view
        .to_wall_clock(scheduled.visible_from)
        .timestamp_millis()
        .max(schedule.last_id + 1);
      schedule.last_id = id;
      if let Some(key) = upstream_key(scheduled.endpoint, &row)
        && let Value::Object(fields) = &mut row
      {
        fields.insert("_key".into(), Value::String(key));
        fields.insert("_id".into(), Value::from(id));
      }
      messages.push((
        format!("v1/{}", scheduled.endpoint),
        row.to_string().into_bytes(),
      ));
    }
    (messages, next)
  }

  async fn publish_due(&self) -> Result<usize, BrokerError> {
    let Some(broker) = &self.broker else {
      return Err(BrokerError::NotConnected);
    };
    let mut schedule = self.schedule.lock().await;
    let last_id = schedule.last_id;
    let (messages, next) = self.due_messages(&mut schedule);
    let count = messages.len();
    if count == 0 {
      schedule.next = next;
      return Ok(0);
    }
    match broker.publish(messages).await {
      Ok(()) => {
        schedule.next = next;
        Ok(count)
      }
      Err(error) => {
        schedule.last_id = last_id;
        Err(error)
      }
    }
  }

  async fn discard_due(&self) -> usize {
    let mut schedule = self.schedule.lock().await;
    let before = schedule.next;
    let (_, next) = self.due_messages(&mut schedule);
    schedule.next = next;
    next - before
  }

  /// How long until the next scheduled row is due (by the server's clock), if any.
  async fn until_next_publication(&self) -> Option<Duration> {
    let schedule = self.schedule.lock().await;
    let scheduled = schedule.rows.get(schedule.next)?;
    let store = self.store.read().unwrap_or_else(PoisonError::into_inner);
    let view = self.replay_view(&store)?;
    (view.to_wall_clock(scheduled.visible_from) - self.now())
      .to_std()
      .ok()
      .or(Some(Duration::ZERO))
  }

  fn control(&self, method: &Method, control_path: &str, body: &str) -> Response {
    match (method.as_str(), control_path) {
      ("POST", "faults") => {
        let parsed = serde_json::from_str::<Value>(body)
          .map_err(|error| error.to_string())
          .and_then(|value| FaultRequest::from_json(&value).map_err(|error| error.to_string()));
        match parsed {
          Ok(request) => {
            lock(&self.faults).push(
              request.fault,
              request.times,
              request.path_contains.as_deref(),
            );
            json_response(StatusCode::OK, r#"{"queued":true}"#)
          }
          Err(message) => json_response(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "detail": message }).to_string(),
          ),
        }
      }
      ("DELETE", "faults") => {
        lock(&self.faults).clear();
        json_response(StatusCode::OK, r#"{"cleared":true}"#)
      }
      ("GET", "requests") => {
        let requests = lock(&self.requests).clone();
        json_response(
          StatusCode::OK,
          serde_json::to_string(&requests).unwrap_or_else(|_| "[]".to_owned()),
        )
      }
      ("DELETE", "requests") => {
        lock(&self.requests).clear();
        json_response(StatusCode::OK, r#"{"cleared":true}"#)
      }
      ("POST", path) if path.starts_with("rows/") => {
        let endpoint = path.trim_start_matches("rows/");
        let rows = match serde_json::from_str::<Value>(body) {
          Ok(Value::Array(rows)) => rows,
          Ok(object @ Value::Object(_)) => vec![object],
          _ => {
            return json_response(
              StatusCode::BAD_REQUEST,
              r#"{"detail":"expected a JSON object or array of objects"}"#,
            );
          }
        };
        let count = rows.len();
        let mut store = self.store.write().unwrap_or_else(PoisonError::into_inner);
        if store.upsert(endpoint, rows) {
          json_response(
            StatusCode::OK,
            serde_json::json!({ "upserted": count }).to_string(),
          )
        } else {
          no_results()
        }
      }
      _ => no_results(),
    }
  }
}

fn fault_response(fault: &Fault) -> Response {
  let with_retry_after = |mut response: Response, retry_after_seconds: Option<u64>| {
    if let Some(seconds) = retry_after_seconds
      && let Ok(value) = seconds.to_string().parse()
    {
      response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
  };
  match fault {
    Fault::TooManyRequests {
      retry_after_seconds,
    } => with_retry_after(
      json_response(StatusCode::TOO_MANY_REQUESTS, RATE_LIMIT_BODY),
      *retry_after_seconds,
    ),
    Fault::RateExceededPlainText {
      retry_after_seconds,
    } => with_retry_after(
      text_response(StatusCode::TOO_MANY_REQUESTS, "Rate exceeded"),
      *retry_after_seconds,
    ),
    Fault::InternalServerError => Response::builder()
      .status(StatusCode::INTERNAL_SERVER_ERROR)
      .content_type("text/html; charset=utf-8")
      .body(INTERNAL_SERVER_ERROR_BODY),
    Fault::BadGateway => text_response(StatusCode::BAD_GATEWAY, "Bad Gateway"),
    Fault::ServiceUnavailable => {
      text_response(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
    }
    Fault::GatewayTimeout => text_response(StatusCode::GATEWAY_TIMEOUT, "upstream request timeout"),
    Fault::SessionInProgress => json_response(StatusCode::UNAUTHORIZED, SESSION_IN_PROGRESS_BODY),
    Fault::Garbage => Response::builder()
      .status(StatusCode::OK)
      .content_type("application/json")
      .body(b"\x00\x9f<html>garbage \xff\xfe not json".to_vec()),
    // Handled before reaching here; answer as a gateway would if it ever happens.
    Fault::Slow(_) | Fault::TruncatedJson => text_response(StatusCode::BAD_GATEWAY, "Bad Gateway"),
  }
}

/// The poem endpoint serving every path from the shared state.
struct OpenF1Endpoint {
  state: Arc<ServerState>,
}

impl Endpoint for OpenF1Endpoint {
  type Output = Response;

  async fn call(&self, request: Request) -> poem::Result<Response> {
    Ok(self.state.handle(request).await)
  }
}

/// A running local Open F1 server; stops when [`OpenF1Server::stop`] is called or the value is dropped.
pub struct OpenF1Server {
  state: Arc<ServerState>,
  address: SocketAddr,
  shutdown: CancellationToken,
  task: Option<JoinHandle<()>>,
  publisher: Option<JoinHandle<()>>,
}

/// Longest wait of the automatic publisher between two looks at the clock.
const MAX_PUBLISHER_WAIT: Duration = Duration::from_secs(1);

/// The automatic publisher: publishes rows as their instants come, deletes expired tokens' MQTT clients.
async fn publish_until_stopped(state: &ServerState, stop: &CancellationToken) {
  loop {
    match state.publish_due().await {
      Ok(_) => {}
      Err(error) => {
        let lost = state.discard_due().await;
        tracing::warn!(%error, lost, "could not publish to the MQTT broker; the due rows are lost, as upstream's would be");
      }
    }
    if let Some(broker) = &state.broker
      && let Err(error) = broker.revoke_expired(state.now()).await
    {
      tracing::debug!(%error, "could not revoke expired tokens yet");
    }
    let wait = state
      .until_next_publication()
      .await
      .unwrap_or(MAX_PUBLISHER_WAIT)
      .clamp(Duration::from_millis(1), MAX_PUBLISHER_WAIT);
    tokio::select! {
      () = stop.cancelled() => return,
      () = tokio::time::sleep(wait) => {}
    }
  }
}

impl fmt::Debug for OpenF1Server {
  fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
    formatter
      .debug_struct("OpenF1Server")
      .field("address", &self.address)
      .finish_non_exhaustive()
  }
}

impl OpenF1Server {
  /// Loads the fixtures and serves them on `127.0.0.1` at a free port, in a background task.
  ///
  /// # Errors
  /// Returns [`ServerError`] when the fixtures cannot be loaded, the replay options are invalid or binding fails.
  pub async fn start(options: ServerOptions) -> Result<Self, ServerError> {
    Self::start_on(options, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
  }

  /// Loads the fixtures and serves them on `address`, in a background task.
  ///
  /// # Errors
  /// Returns [`ServerError`] when the fixtures cannot be loaded, the replay options are invalid or binding fails.
  pub async fn start_on(options: ServerOptions, address: SocketAddr) -> Result<Self, ServerError> {
    let store = FixtureStore::load(&options.fixtures_dir)?;
    for endpoint in ENDPOINTS {
      tracing::debug!(
        endpoint,
        rows = store.row_count(endpoint, None),
        "fixture rows"
      );
    }
    if let Some(replay) = &options.replay {
      if !(replay.speed.is_finite() && replay.speed > 0.0) {
        return Err(ServerError::InvalidReplaySpeed(replay.speed));
      }
      let session = store.rows("sessions").and_then(|sessions| {
        sessions.iter().find(|session| {
          session.get("session_key").and_then(Value::as_i64) == Some(replay.session_key)
        })
      });
      if session
        .is_none_or(|session| ReplayView::new(replay, session, options.clock.now()).is_none())
      {
        return Err(ServerError::UnknownReplaySession(replay.session_key));
      }
    }
    let bind_error = |source| ServerError::Bind { address, source };
    let listener = tokio::net::TcpListener::bind(address)
      .await
      .map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    let acceptor = TcpAcceptor::from_tokio(listener).map_err(bind_error)?;
    let broker = match &options.broker {
      Some(broker_options) => Some(BrokerLink::connect(broker_options.clone()).await?),
      None => None,
    };
    let automatic = options
      .broker
      .as_ref()
      .is_some_and(|broker| broker.publish_automatically);
    let state = Arc::new(ServerState {
      store: RwLock::new(store),
      faults: Mutex::new(FaultQueue::default()),
      requests: Mutex::new(Vec::new()),
      tokens: Mutex::new(HashMap::new()),
      broker,
      schedule: tokio::sync::Mutex::new(PublicationSchedule::default()),
      token_lifetime: Mutex::new(options.token_lifetime),
      next_token_lifetimes: Mutex::new(std::collections::VecDeque::new()),
      options,
    });
    if state.broker.is_some() {
      *state.schedule.lock().await = state.build_schedule();
    }
    let shutdown = CancellationToken::new();
    let endpoint = OpenF1Endpoint {
      state: Arc::clone(&state),
    };
    let signal = shutdown.clone().cancelled_owned();
    let task = tokio::spawn(async move {
      if let Err(error) = poem::Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(endpoint, signal, Some(SHUTDOWN_TIMEOUT))
        .await
      {
        tracing::error!(%error, "local Open F1 server stopped with an error");
      }
    });
    let publisher = automatic.then(|| {
      let state = Arc::clone(&state);
      let stop = shutdown.clone();
      tokio::spawn(async move { publish_until_stopped(&state, &stop).await })
    });
    tracing::info!(address = %bound, "local Open F1 server listening");
    Ok(Self {
      state,
      address: bound,
      shutdown,
      task: Some(task),
      publisher,
    })
  }

  /// The bound address.
  #[must_use]
  pub fn address(&self) -> SocketAddr {
    self.address
  }

  /// Base URL of the API, e.g. `http://127.0.0.1:PORT/v1`.
  #[must_use]
  pub fn base_url(&self) -> String {
    format!("http://{}/v1", self.address)
  }

  /// URL of the token endpoint, e.g. `http://127.0.0.1:PORT/token`.
  #[must_use]
  pub fn token_url(&self) -> String {
    format!("http://{}/token", self.address)
  }

  /// Applies `fault` to the next `times` requests whose path contains `path_contains` (all when `None`).
  pub fn push_fault(&self, fault: Fault, times: usize, path_contains: Option<&str>) {
    lock(&self.state.faults).push(fault, times, path_contains);
  }

  /// Removes all queued faults.
  pub fn clear_faults(&self) {
    lock(&self.state.faults).clear();
  }

  /// Inserts rows into `endpoint`, replacing rows with the same natural key (an upstream correction).
  /// Rows for an unknown endpoint are ignored with a warning.
  pub fn upsert_rows(&self, endpoint: &str, rows: Vec<Value>) {
    let mut store = self
      .state
      .store
      .write()
      .unwrap_or_else(PoisonError::into_inner);
    if !store.upsert(endpoint, rows) {
      tracing::warn!(endpoint, "ignoring rows for an unknown endpoint");
    }
  }

  /// Publishes on the MQTT broker every replayed row whose recorded instant the replay (by the server's clock) has
  /// reached since the last call, as upstream would (topic `v1/<endpoint>`, the row as served over REST now plus
  /// `_key` and `_id`), and returns once the broker has routed them to the subscribers. Returns how many.
  ///
  /// # Errors
  /// [`BrokerError`] without a broker or when it is down (the rows stay due: call again, or
  /// [`OpenF1Server::discard_due`] to lose them as upstream would).
  pub async fn publish_due(&self) -> Result<usize, BrokerError> {
    self.state.publish_due().await
  }

  /// Marks every due row as published without publishing it (lost while the broker was down); returns how many.
  pub async fn discard_due(&self) -> usize {
    self.state.discard_due().await
  }

  /// Publishes `rows` on `v1/<endpoint>` exactly as given (tests add their own `_key` and `_id`), and returns once
  /// the broker has routed them.
  ///
  /// # Errors
  /// [`BrokerError`] without a broker or when it is down.
  pub async fn publish_rows(&self, endpoint: &str, rows: &[Value]) -> Result<(), BrokerError> {
    let Some(broker) = &self.state.broker else {
      return Err(BrokerError::NotConnected);
    };
    let messages = rows
      .iter()
      .map(|row| (format!("v1/{endpoint}"), row.to_string().into_bytes()))
      .collect();
    broker.publish(messages).await
  }

  /// Deletes the MQTT clients whose token expired by the server's clock (they are disconnected); returns how many.
  ///
  /// # Errors
  /// [`BrokerError`] without a broker or when it is down.
  pub async fn revoke_expired_tokens(&self) -> Result<usize, BrokerError> {
    let Some(broker) = &self.state.broker else {
      return Err(BrokerError::NotConnected);
    };
    broker.revoke_expired(self.state.now()).await
  }

  /// Gives the next token issued the lifetime `lifetime` (queued: each call applies to one token; later tokens get
  /// the usual lifetime).
  pub fn push_token_lifetime(&self, lifetime: Duration) {
    lock(&self.state.next_token_lifetimes).push_back(lifetime);
  }

  /// Changes the lifetime of the tokens issued from now on.
  pub fn set_token_lifetime(&self, lifetime: Duration) {
    *lock(&self.state.token_lifetime) = lifetime;
  }

  /// The link to the MQTT broker, when one is configured.
  #[must_use]
  pub fn broker(&self) -> Option<&BrokerLink> {
    self.state.broker.as_ref()
  }

  /// Every request served so far (control API excluded), oldest first.
  #[must_use]
  pub fn requests(&self) -> Vec<RecordedRequest> {
    lock(&self.state.requests).clone()
  }

  /// How many requests were served so far (control API excluded): cheaper than `requests().len()` for a test that
  /// watches a client's progress.
  #[must_use]
  pub fn request_count(&self) -> usize {
    lock(&self.state.requests).len()
  }

  /// Number of stored rows of `endpoint` (optionally of one session), ignoring replay.
  #[must_use]
  pub fn row_count(&self, endpoint: &str, session_key: Option<i64>) -> usize {
    self
      .state
      .store
      .read()
      .unwrap_or_else(PoisonError::into_inner)
      .row_count(endpoint, session_key)
  }

  /// Stops accepting requests and waits for in-flight ones (bounded).
  pub async fn stop(mut self) {
    self.shutdown.cancel();
    if let Some(task) = self.task.take() {
      let _ = task.await;
    }
    if let Some(publisher) = self.publisher.take() {
      let _ = publisher.await;
    }
    if let Some(broker) = &self.state.broker {
      broker.stop().await;
    }
  }
}

impl Drop for OpenF1Server {
  fn drop(&mut self) {
    self.shutdown.cancel();
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn csv_has_the_sorted_union_of_keys_as_header() {
    let rows = vec![
      serde_json::json!({"b": 1, "a": "x,y"}),
      serde_json::json!({"c": true, "a": null}),
    ];
    assert_eq!(to_csv(&rows), "a,b,c\r\n\"x,y\",1,\r\n,,True\r\n");
    let lap = vec![
      serde_json::json!({"date_start": "2024-03-02T15:03:42.341000+00:00", "s": [2049, null]}),
    ];
    assert_eq!(
      to_csv(&lap),
      "date_start,s\r\n2024-03-02 15:03:42.341000+00:00,\"[2049, None]\"\r\n"
    );
  }

  #[test]
  fn form_bodies_are_decoded() {
    let fields = form_fields("username=a%40b.com&password=p+w");
    assert_eq!(fields.get("username").map(String::as_str), Some("a@b.com"));
    assert_eq!(fields.get("password").map(String::as_str), Some("p w"));
  }
}
