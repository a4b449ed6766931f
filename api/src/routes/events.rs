//! `GET /v1/sessions/{session_key}/events`: Server-Sent Events, one `changed` event per change the worker committed
//! to a session, so that a frontend redraws a live session's charts without polling.
//!
//! **Where events come from.** Every api replica follows the change log (and the Redis `{prefix}:changes`
//! publications) through its [`ChangeFeed`]; a stream subscribes to the feed's broadcast and keeps the changes of
//! its session. Several replicas behind a load balancer therefore all deliver every event, in process when Redis
//! is not configured.
//!
//! **Resuming.** Each event's `id:` is its change id. A client reconnecting with `Last-Event-ID` (the header
//! browsers send on their own, or the `last_event_id` query parameter for clients that cannot set headers) first
//! gets the session's changes after that id from the change log, then the live ones, without a gap or a
//! duplicate: the stream subscribes to the feed *before* reading the log, and skips live changes the log already
//! gave. Changes older than the log's retention (48 h) are not replayed.
//!
//! **Bounds.** Each connection queues at most [`QUEUE_CAPACITY`] changes (pointers to the feed's shared ones)
//! besides its socket buffers. A client that falls that far behind (it reads too slowly, or not at all) is dropped:
//! its stream ends after what is queued, and it can resume with `Last-Event-ID`. At most `API_EVENT_STREAMS_MAX` streams are open at once; more are answered 503 with
//! `Retry-After`. A stream ends after `API_EVENT_STREAM_MAX_SECONDS` (the client resumes), and on shutdown every
//! stream ends at once, so that clients reconnect to another replica.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::change_log::{self, Change};
use futures::StreamExt;
use futures::stream::BoxStream;
use poem::http::StatusCode;
use poem::web::Data;
use poem::web::sse::Event;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{EventStream, Json};
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Object, OpenApi};
use prometheus::{IntCounterVec, IntGauge, Opts};
use sea_orm::DatabaseConnection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::charts::catalogue::{ChartKind, ChartScope, charts_reading};
use crate::metrics::Metrics;
use crate::middleware::BodyTreatment;
use crate::problem::{ApiError, Problem, RETRY_AFTER_SECONDS};
use crate::routes::{ApiTags, problem_responses};
use crate::{AppState, ChangeFeed};

/// The SSE event name of a change.
pub const CHANGED_EVENT: &str = "changed";
/// How many changes one read of the change log replays at most (a longer backlog is read page by page).
pub const BACKLOG_PAGE: u64 = 500;

/// What one `changed` event says (its `data:` line, JSON).
#[derive(Clone, Debug, PartialEq, Eq, Object, serde::Serialize, serde::Deserialize)]
pub struct ChangedEvent {
  /// The session whose data changed.
  pub session_key: i32,
  /// The change id; also the event's `id:`. Send it back as `Last-Event-ID` (or `last_event_id`) to resume.
  pub change_id: i64,
  /// When the worker committed the change.
  pub committed_at: DateTime<Utc>,
  /// The kinds of data that changed: Open F1 endpoint names, e.g. `laps`, `position`, `pit`.
  pub kinds: Vec<String>,
  /// The slugs of the session charts (see `GET /v1/charts`) whose figures the change affects: refetch these.
  pub charts: Vec<String>,
}

impl ChangedEvent {
  /// The event for `change` of session `session_key`, naming the session charts reading the changed tables that
  /// suit a session of type `session_type`.
  #[must_use]
  pub fn new(change: &Change, session_key: i32, session_type: Option<&str>) -> Self {
    let mut affected: Vec<ChartKind> = change
      .tables
      .iter()
      .flat_map(|table| charts_reading(table))
      .filter(|kind| kind.spec().scope == ChartScope::Session && kind.suits(session_type))
      .collect();
    affected.sort_by_key(|kind| ChartKind::ALL.iter().position(|known| known == kind));
    affected.dedup();
    Self {
      session_key,
      change_id: change.id,
      committed_at: change.committed_at,
      kinds: change.tables.clone(),
      charts: affected
        .into_iter()
        .map(|kind| kind.slug().to_owned())
        .collect(),
    }
  }

  /// The SSE frame: `event: changed`, `id: <change id>`, `data: <JSON>`.
  #[must_use]
  pub fn to_sse(&self) -> Event {
    Event::message(self.to_json_string())
      .event_type(CHANGED_EVENT)
      .id(self.change_id.to_string())
  }
}

/// The event streams of one api process: the cap on concurrent streams, the heartbeat, the shutdown signal and
/// the metrics (cheap to clone).
#[derive(Clone)]
pub struct EventStreams {
  permits: Arc<Semaphore>,
  heartbeat: Duration,
  lifetime: Duration,
  stop: CancellationToken,
  open: IntGauge,
  outcomes: IntCounterVec,
  sent: prometheus::IntCounter,
}

impl EventStreams {
  /// At most `max_streams` concurrent streams, each sending a heartbeat comment after `heartbeat` without an
  /// event and ending after `lifetime` (the client resumes); the metrics are registered in `metrics`.
  ///
  /// # Errors
  /// Fails when the metrics are already registered.
  pub fn new(
    max_streams: usize,
    heartbeat: Duration,
    lifetime: Duration,
    metrics: &Metrics,
  ) -> Result<Self, prometheus::Error> {
    let open = IntGauge::new("event_streams_open", "Event streams open now.")?;
    let outcomes = IntCounterVec::new(
      Opts::new(
        "event_streams_total",
        "Event streams by outcome: opened, refused (over API_EVENT_STREAMS_MAX), dropped (the client fell behind).",
      ),
      &["outcome"],
    )?;
    let sent = prometheus::IntCounter::new("events_sent_total", "Change events sent to clients.")?;
    metrics.register(Box::new(open.clone()))?;
    metrics.register(Box::new(outcomes.clone()))?;
    metrics.register(Box::new(sent.clone()))?;
    Ok(Self {
      permits: Arc::new(Semaphore::new(max_streams.min(Semaphore::MAX_PERMITS))),
      heartbeat,
      lifetime,
      stop: CancellationToken::new(),
      open,
      outcomes,
      sent,
    })
  }

  /// How many streams are open.
  #[must_use]
  pub fn open(&self) -> i64 {
    self.open.get()
  }

  /// How many streams were dropped because their client fell behind.
  #[must_use]
  pub fn dropped(&self) -> u64 {
    self.outcomes.with_label_values(&["dropped"]).get()
  }

  /// How many events were handed to connections.
  #[must_use]
  pub fn sent(&self) -> u64 {
    self.sent.get()
  }

  /// Ends every stream (at shutdown) and refuses new ones.
  pub fn stop(&self) {
    self.stop.cancel();
    self.permits.close();
  }
}

/// An event stream, or why there is none.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "events_bad_request")]
pub enum EventsResponse {
  /// `text/event-stream`: one `changed` event per change (`id:` = change id, `data:` = the JSON below), and a
  /// comment line (`:`) as a heartbeat after `API_EVENT_HEARTBEAT_SECONDS` without one. The stream ends when the
  /// client falls too far behind or the server shuts down; reconnect with `Last-Event-ID`.
  #[oai(status = 200)]
  Ok(EventStream<BoxStream<'static, ChangedEvent>>),
  /// `Last-Event-ID` (or `last_event_id`) is not a change id, or a parameter is not one this operation takes.
  #[oai(status = 400, content_type = "application/problem+json")]
  BadRequest(Json<Problem>),
  /// The query string is longer than 4096 bytes (answered by the request-limit layer, before any handler).
  #[oai(status = 414, content_type = "application/problem+json")]
  UriTooLong(Json<Problem>),
  /// The session does not exist.
  #[oai(status = 404, content_type = "application/problem+json")]
  NotFound(Json<Problem>),
  /// Unexpected failure (details are logged, not returned).
  #[oai(status = 500, content_type = "application/problem+json")]
  InternalError(Json<Problem>),
  /// Too many streams are open (`API_EVENT_STREAMS_MAX`), or the database is unreachable; retry after
  /// `Retry-After` seconds.
  #[oai(status = 503, content_type = "application/problem+json")]
  Unavailable(
    Json<Problem>,
    /// Seconds to wait before trying again.
    #[oai(header = "Retry-After")]
    u64,
  ),
}

/// The header by which a reconnecting client says the last event it got.
const LAST_EVENT_ID: &str = "Last-Event-ID";

problem_responses!(
  EventsResponse,
  bad_request_handler = events_bad_request,
  path_parameters = ["session_key"],
  retry_after = RETRY_AFTER_SECONDS,
);

/// [`EventsResponse`], with the stream marked [`BodyTreatment::Streamed`] so that no layer buffers it.
pub struct EventsAnswer(EventsResponse);

impl ApiResponse for EventsAnswer {
  const BAD_REQUEST_HANDLER: bool = EventsResponse::BAD_REQUEST_HANDLER;

  fn meta() -> poem_openapi::registry::MetaResponses {
    EventsResponse::meta()
  }

  fn register(registry: &mut poem_openapi::registry::Registry) {
    EventsResponse::register(registry);
  }

  fn from_parse_request_error(error: poem::Error) -> Self {
    Self(EventsResponse::from_parse_request_error(error))
  }
}

impl poem::IntoResponse for EventsAnswer {
  fn into_response(self) -> poem::Response {
    let streamed = matches!(self.0, EventsResponse::Ok(_));
    let mut response = self.0.into_response();
    if streamed {
      response.set_data(BodyTreatment::Streamed);
    }
    response
  }
}

/// Session change events.
pub struct EventsApi;

#[OpenApi(prefix_path = "/v1/sessions", tag = "ApiTags::Sessions")]
impl EventsApi {
  /// Live change events of a session (Server-Sent Events)
  ///
  /// A `text/event-stream` with one `changed` event each time the worker commits data of the session, naming the
  /// kinds of data and the charts that changed: a frontend refetches those charts instead of polling. In a
  /// browser: `new EventSource("/v1/sessions/9472/events")` and
  /// `source.addEventListener("changed", (event) => redraw(JSON.parse(event.data)))`.
  ///
  /// Each event's `id:` is its change id. On reconnecting, send the last one received as `Last-Event-ID` (browsers
  /// do it on their own) or as `last_event_id` (for clients that cannot set headers): the changes committed
  /// meanwhile come first, without a gap or a duplicate. Without it the stream starts with the next change.
  /// A comment line (`:`) is sent after `API_EVENT_HEARTBEAT_SECONDS` without an event. A client that falls far
  /// behind is disconnected (resume with `Last-Event-ID`); over `API_EVENT_STREAMS_MAX` open streams the answer
  /// is 503 with `Retry-After`. Every api replica delivers every event.
  #[oai(
    path = "/:session_key/events",
    method = "get",
    operation_id = "session_events"
  )]
  async fn events(
    &self,
    request: &poem::Request,
    state: Data<&AppState>,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Resume after this change id (the last event's `id:`). Browsers send it when they reconnect.
    #[oai(name = "Last-Event-ID", validator(minimum(value = "0")))]
    last_event_id_header: Header<Option<i64>>,
    /// Resume after this change id, for clients that cannot set the `Last-Event-ID` header (the header wins when
    /// both are given).
    #[oai(validator(minimum(value = "0")))]
    last_event_id: Query<Option<i64>>,
  ) -> EventsAnswer {
    // poem-openapi hands a header value that is not visible ASCII to the operation as absent: refuse it instead
    // of starting the stream as if no id had been sent.
    if request
      .headers()
      .get(LAST_EVENT_ID)
      .is_some_and(|value| value.to_str().is_err())
    {
      return EventsAnswer(EventsResponse::from(crate::problem::invalid(
        LAST_EVENT_ID,
        "must be a change id (0 or more)",
      )));
    }
    EventsAnswer(
      open_stream(
        &state,
        session_key.0,
        last_event_id_header.0.or(last_event_id.0),
      )
      .await
      .unwrap_or_else(EventsResponse::from),
    )
  }
}

async fn open_stream(
  state: &AppState,
  session_key: i32,
  resume_after: Option<i64>,
) -> Result<EventsResponse, ApiError> {
  let session = state
    .changes
    .find_session(session_key)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("No session with session_key {session_key}.")))?;
  let streams = &state.events;
  let Ok(permit) = streams.permits.clone().try_acquire_owned() else {
    streams.outcomes.with_label_values(&["refused"]).inc();
    return Ok(EventsResponse::Unavailable(
      Json(Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "Too many event streams are open; try again shortly.",
      )),
      RETRY_AFTER_SECONDS,
    ));
  };
  streams.outcomes.with_label_values(&["opened"]).inc();
  let stream = change_stream(
    StreamSource {
      feed: state.changes.clone(),
      database: state.database.clone(),
      session_key,
      session_type: session.session_type.clone(),
      resume_after,
    },
    streams,
    permit,
  );
  let sent = streams.sent.clone();
  Ok(EventsResponse::Ok(
    EventStream::new(stream)
      .keep_alive(streams.heartbeat)
      .to_event(move |event| {
        sent.inc();
        event.to_sse()
      }),
  ))
}

/// Where a stream's changes come from.
pub struct StreamSource {
  /// The feed whose broadcast gives the live changes.
  pub feed: ChangeFeed,
  /// The database whose change log gives the backlog.
  pub database: DatabaseConnection,
  /// The session.
  pub session_key: i32,
  /// Its type (which charts suit it).
  pub session_type: Option<String>,
  /// Replay the session's changes after this id first.
  pub resume_after: Option<i64>,
}

/// One open stream: counted open until its connection ends, holding its permit; ends its forwarder.
struct StreamGuard {
  open: IntGauge,
  forwarder: tokio::task::AbortHandle,
  _permit: OwnedSemaphorePermit,
}

impl Drop for StreamGuard {
  fn drop(&mut self) {
    self.open.dec();
    self.forwarder.abort();
  }
}

/// The changes of one session: the backlog after `resume_after` (if given), then live ones, each once, until the
/// client falls behind (dropped), the feed stops or the server shuts down.
///
/// A forwarder task reads the feed's broadcast as changes come and queues the session's ones for the connection
/// (at most [`QUEUE_CAPACITY`]); the connection sends them as fast as the client reads. A full queue means the
/// client is that far behind, beyond what the socket buffers hold: it is dropped at once (its stream ends after
/// what is queued), whether or not it reads, so that it never holds more.
fn change_stream(
  source: StreamSource,
  streams: &EventStreams,
  permit: OwnedSemaphorePermit,
) -> BoxStream<'static, ChangedEvent> {
  // Subscribe before the backlog is read: whatever commits in between is in one or the other (or both, and then
  // skipped once).
  let receiver = source.feed.subscribe();
  let applied_at_subscribe = source.feed.newest();
  let (sender, queue) = mpsc::channel(QUEUE_CAPACITY);
  let session_key = source.session_key;
  let session_type = source.session_type.clone();
  let forwarder = Forwarder {
    backlog_after: source.resume_after,
    source,
    receiver,
    sender,
    applied_at_subscribe,
    replayed: HashSet::new(),
    stop: streams.stop.clone(),
    lifetime: streams.lifetime,
    dropped: streams.outcomes.with_label_values(&["dropped"]),
  };
  let forwarder = tokio::spawn(forwarder.run()).abort_handle();
  streams.open.inc();
  let guard = StreamGuard {
    open: streams.open.clone(),
    forwarder,
    _permit: permit,
  };
  futures::stream::unfold((queue, guard), move |(mut queue, guard)| {
    let session_type = session_type.clone();
    async move {
      let change = queue.recv().await?;
      let event = ChangedEvent::new(&change, session_key, session_type.as_deref());
      Some((event, (queue, guard)))
    }
  })
  .boxed()
}

/// Changes a connection may have queued before its client counts as fallen behind and is dropped.
pub const QUEUE_CAPACITY: usize = 1024;

struct Forwarder {
  source: StreamSource,
  receiver: broadcast::Receiver<Arc<Change>>,
  sender: mpsc::Sender<Arc<Change>>,
  /// `Some(after)` while the backlog is being replayed.
  backlog_after: Option<i64>,
  /// The newest change the feed had applied when the stream subscribed: live changes up to it never arrive.
  applied_at_subscribe: i64,
  /// Replayed changes newer than that: they also arrive live, and are skipped then.
  replayed: HashSet<i64>,
  stop: CancellationToken,
  lifetime: Duration,
  dropped: prometheus::IntCounter,
}

impl Forwarder {
  /// Forwards until the client is gone or dropped, the stream's lifetime is over, the feed stops or the server
  /// shuts down.
  async fn run(mut self) {
    tokio::select! {
      () = self.stop.clone().cancelled_owned() => {}
      () = tokio::time::sleep(self.lifetime) => {}
      () = self.forward() => {}
    }
  }

  async fn forward(&mut self) {
    while let Some(after) = self.backlog_after {
      let page = change_log::changes_of_session_after(
        &self.source.database,
        self.source.session_key,
        after,
        BACKLOG_PAGE,
      )
      .await;
      let page = match page {
        Ok(page) => page,
        Err(error) => {
          // The stream ends; the client reconnects with the id it got last and the backlog is read again.
          tracing::warn!(%error, session_key = self.source.session_key, "could not read the change log for an event stream");
          return;
        }
      };
      let complete = (page.len() as u64) < BACKLOG_PAGE;
      self.backlog_after = match page.last() {
        Some(last) if !complete => Some(last.id),
        _ => None,
      };
      for change in page {
        if change.id > self.applied_at_subscribe {
          self.replayed.insert(change.id);
        }
        // The backlog is sent at the client's pace (live changes wait in the broadcast meanwhile).
        if self.sender.send(Arc::new(change)).await.is_err() {
          return;
        }
      }
    }
    loop {
      match self.receiver.recv().await {
        Ok(change) => {
          if change.session_key != Some(self.source.session_key) || self.replayed.remove(&change.id)
          {
            continue;
          }
          match self.sender.try_send(change) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
              self.drop_client("its queue is full");
              return;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
          }
        }
        Err(broadcast::error::RecvError::Lagged(_)) => {
          self.drop_client("it fell behind the change feed");
          return;
        }
        Err(broadcast::error::RecvError::Closed) => return,
      }
    }
  }

  fn drop_client(&self, why: &str) {
    self.dropped.inc();
    tracing::info!(
      session_key = self.source.session_key,
      why,
      "an event stream's client is too slow; it was dropped (it can resume with Last-Event-ID)"
    );
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_lap_change_names_the_lap_charts_of_a_race_and_not_the_qualifying_ones() {
    let change = Change {
      id: 41,
      committed_at: Utc::now(),
      session_key: Some(9472),
      year: Some(2024),
      tables: vec!["laps".to_owned()],
    };
    let event = ChangedEvent::new(&change, 9472, Some("Race"));
    assert_eq!(event.change_id, 41);
    assert_eq!(event.kinds, vec!["laps".to_owned()]);
    assert!(event.charts.contains(&"lap-times".to_owned()));
    assert!(!event.charts.contains(&"weather".to_owned()));
    assert!(!event.charts.contains(&"qualifying-delta".to_owned()));
    assert!(
      event
        .charts
        .iter()
        .all(|slug| ChartKind::from_slug(slug).is_some_and(|kind| !kind.is_season_chart()))
    );
    let frame = event.to_sse().to_string();
    assert!(
      frame.starts_with("id: 41\nevent: changed\ndata: {"),
      "{frame}"
    );
  }
}
