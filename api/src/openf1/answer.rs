//! Answering one Open F1 request: parse, compile, then run the query in a task that writes rows into bounded
//! chunks.
//!
//! The first `API_OPENF1_CACHE_MAX_BYTES` of the answer are collected before anything is sent: an answer that ends within
//! them is complete, so it gets a status (`404 {"detail":"No results found."}` when empty, else 200), is cached and
//! carries an `ETag`. A bigger answer streams: the collected chunks are sent, then the rest as the database yields
//! it, through a channel of [`CHANNEL_CHUNKS`] chunks of about [`CHUNK_BYTES`], so memory stays flat whatever the
//! size; it is neither cached nor tagged.
//!
//! **Cache scopes.** `meetings` and `sessions` are cached in the calendar scope. A per-session query pinned to one
//! session (`session_key=K`, or `latest`) is cached in session K's scope, so the worker's invalidation of K drops
//! it. A per-session query spanning several sessions (no `session_key`, several, a range) is not cached: no single
//! scope is invalidated by every change it depends on. `latest` is resolved first (cached one minute in the
//! calendar scope, as upstream caches it), so a cached answer never outlives the session `latest` meant.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use entity::cache::CacheScope;
use futures::{StreamExt, TryStreamExt};
use openf1_query::{Filter, LatestSession, ParsedQuery, parse_query};
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Body, Response};
use sea_orm::sea_query::extension::mysql::{IndexHintScope, MySqlSelectStatementExt};
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, Func};
use sea_orm::{
  DatabaseConnection, DbErr, EntityTrait, IdenStatic, Iterable, QueryFilter, QueryOrder,
  QuerySelect,
};
use tokio::sync::mpsc;

use crate::AppState;
use crate::encoding::Representations;
use crate::middleware::BodyTreatment;
use crate::openf1::catalogue::{Endpoint, EndpointCatalogue, ScopeKind, with_openf1_entity};
use crate::openf1::compile::{Compiled, compile, nullable_sort_fields, order};
use crate::openf1::encode::{Format, RowWriter};
use crate::problem::ApiError;
use crate::routes::{
  calendar_cache_control, find_latest_started_session, session_cache_control, session_time_to_live,
};

/// Upstream's body for an empty answer (and an unknown endpoint), with status 404.
pub const NO_RESULTS_BODY: &str = r#"{"detail":"No results found."}"#;
/// Rows are sent in chunks of about this many bytes.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks buffered between the database and the socket.
pub const CHANNEL_CHUNKS: usize = 4;
/// A client that reads nothing for this long is dropped (freeing the database connection).
pub const STALLED_CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `latest` keeps meaning the same session (upstream caches it for a minute).
pub const LATEST_SESSION_TIME_TO_LIVE: Duration = Duration::from_secs(60);
/// Upstream counts a session as started this long before its `date_start`.
const LATEST_LOOKAHEAD_SECONDS: i64 = 60;
/// The cache entry holding `latest`'s keys.
const LATEST_SESSION_ENTRY: &str = "openf1:latest-session";

/// One chunk of an answer, or the database error that ended it.
type Chunk = Result<Bytes, DbErr>;

/// An answer that did not fit `API_OPENF1_CACHE_MAX_BYTES`: what was collected, and the rest still coming.
pub struct Oversized {
  head: Vec<Bytes>,
  rest: mpsc::Receiver<Chunk>,
}

/// Why a cacheable answer was not built.
enum BuildFailure {
  /// The database failed.
  Failed(ApiError),
  /// The answer is too big to cache: it streams instead.
  Oversized(Oversized),
}

/// The collected start of an answer.
enum Collected {
  /// The whole answer (empty when no row matched).
  Complete(Vec<u8>),
  /// The start of an answer too big to cache.
  Oversized(Oversized),
}

/// Answers `GET`/`POST {api}/openf1/v1/{endpoint_segment}?{raw_query}`.
pub async fn answer(state: &AppState, endpoint_segment: &str, raw_query: &str) -> Response {
  let Some(endpoint) = Endpoint::from_name(&endpoint_segment.to_lowercase()) else {
    return no_results(None);
  };
  match answer_endpoint(state, endpoint, raw_query).await {
    Ok(response) => response,
    Err(error) => error.to_problem().into_response(),
  }
}

async fn answer_endpoint(
  state: &AppState,
  endpoint: Endpoint,
  raw_query: &str,
) -> Result<Response, ApiError> {
  let parsed = parse_query(raw_query).map_err(|error| ApiError::InvalidQuery(error.to_string()))?;
  let latest = if parsed.mentions_latest() {
    latest_session(state).await?
  } else {
    None
  };
  let filter = Filter::new(&parsed, latest);
  let format = if parsed.csv {
    Format::Csv
  } else {
    Format::Json
  };
  let backend = state.database.get_database_backend();
  let compiled =
    with_openf1_entity!(endpoint, Table => compile::<Table>(&filter, endpoint, backend));
  let Compiled::Rows(condition) = compiled else {
    return Ok(no_results(None));
  };
  let plan = Plan::new(state, endpoint, &parsed, &filter).await?;
  let bound = state.settings.openf1_cache_max_bytes;
  let rows = || {
    with_openf1_entity!(endpoint, Table => spawn_rows::<Table>(
      state.database.clone(),
      endpoint,
      format,
      filter.clone(),
      condition.clone(),
    ))
  };
  match plan.scope {
    Some(scope) => {
      let name = format!(
        "openf1:{}:{}:{}",
        endpoint.name(),
        format.name(),
        filter.canonical()
      );
      let build = async {
        match collect(rows(), bound).await {
          Ok(Collected::Complete(bytes)) => Ok(bytes),
          Ok(Collected::Oversized(oversized)) => Err(BuildFailure::Oversized(oversized)),
          Err(error) => Err(BuildFailure::Failed(error)),
        }
      };
      match state
        .cache
        .get_or_build(scope, &name, plan.time_to_live, build)
        .await
      {
        Ok((representations, outcome)) => Ok(complete(
          endpoint,
          format,
          Answer::Cached(representations),
          &plan.cache_control,
          Some(outcome.as_str()),
        )),
        Err(BuildFailure::Oversized(oversized)) => {
          Ok(streamed(endpoint, format, oversized, &plan.cache_control))
        }
        Err(BuildFailure::Failed(error)) => Err(error),
      }
    }
    None => match collect(rows(), bound).await? {
      Collected::Complete(bytes) => Ok(complete(
        endpoint,
        format,
        Answer::Built(bytes),
        &plan.cache_control,
        None,
      )),
      Collected::Oversized(oversized) => {
        Ok(streamed(endpoint, format, oversized, &plan.cache_control))
      }
    },
  }
}

/// Where an answer is cached, for how long, and the `Cache-Control` sent with it.
struct Plan {
  scope: Option<CacheScope>,
  time_to_live: Duration,
  cache_control: String,
}

impl Plan {
  async fn new(
    state: &AppState,
    endpoint: Endpoint,
    parsed: &ParsedQuery,
    filter: &Filter,
  ) -> Result<Self, ApiError> {
    let settings = &state.settings;
    let short = || format!("public, max-age={}", settings.cache_ttl_live.as_secs());
    let plan = match (endpoint.scope_kind(), filter.pinned_session()) {
      (ScopeKind::Calendar, _) => Self {
        scope: Some(CacheScope::Calendar),
        time_to_live: settings.cache_ttl_finished,
        cache_control: calendar_cache_control(),
      },
      (ScopeKind::Session, Some(session_key)) => {
        // From the session directory: a hit reads no database.
        let session = state.changes.find_session(session_key).await?;
        match session {
          Some(session) => Self {
            scope: Some(CacheScope::Session(session_key)),
            time_to_live: session_time_to_live(&session, settings),
            cache_control: session_cache_control(&session, settings),
          },
          None => Self {
            scope: Some(CacheScope::Session(session_key)),
            time_to_live: settings.cache_ttl_live,
            cache_control: short(),
          },
        }
      }
      (ScopeKind::Session, None) => Self {
        scope: None,
        time_to_live: settings.cache_ttl_live,
        cache_control: short(),
      },
    };
    // The answer is cached under the session `latest` resolved to, so the server may keep it; but a client caching
    // the URL must ask again once `latest` may mean another session.
    if parsed.mentions_latest() {
      let seconds = LATEST_SESSION_TIME_TO_LIVE.min(plan.time_to_live).as_secs();
      return Ok(Self {
        cache_control: format!("public, max-age={seconds}"),
        ..plan
      });
    }
    Ok(plan)
  }
}

/// The keys `latest` stands for: the most recent session, not cancelled, starting at most a minute from now
/// (upstream's rule). Cached for [`LATEST_SESSION_TIME_TO_LIVE`] in the calendar scope.
async fn latest_session(state: &AppState) -> Result<Option<LatestSession>, ApiError> {
  let database = state.database.clone();
  let build = async move {
    let horizon = Utc::now() + chrono::TimeDelta::seconds(LATEST_LOOKAHEAD_SECONDS);
    let latest = find_latest_started_session(&database, horizon).await?;
    Ok::<_, ApiError>(
      latest
        .map(|session| format!("{} {}", session.session_key, session.meeting_key))
        .unwrap_or_default()
        .into_bytes(),
    )
  };
  let (representations, _) = state
    .cache
    .get_or_build(
      CacheScope::Calendar,
      LATEST_SESSION_ENTRY,
      LATEST_SESSION_TIME_TO_LIVE,
      build,
    )
    .await?;
  let text = String::from_utf8_lossy(representations.identity());
  let mut keys = text.split(' ').map(str::parse::<i64>);
  Ok(match (keys.next(), keys.next()) {
    (Some(Ok(session_key)), Some(Ok(meeting_key))) => Some(LatestSession {
      session_key,
      meeting_key,
    }),
    _ => None,
  })
}

/// Which of `fields` (nullable sort fields) are null in at least one row matching `condition`.
async fn fields_with_nulls<E: EntityTrait>(
  database: &DatabaseConnection,
  condition: Condition,
  fields: &[&'static str],
) -> Result<Vec<&'static str>, DbErr> {
  let mut query = E::find().select_only().filter(condition);
  for name in fields {
    let Some(column) = E::Column::iter().find(|column| column.as_str() == *name) else {
      continue;
    };
    let is_null = Expr::case(Expr::col(column).is_null(), 1).finally(0);
    query = query.expr_as(Func::max(is_null), *name);
  }
  let Some(row) = query.into_json().one(database).await? else {
    return Ok(Vec::new());
  };
  Ok(
    fields
      .iter()
      .copied()
      .filter(|name| row.get(*name).and_then(serde_json::Value::as_i64) == Some(1))
      .collect(),
  )
}

/// The index to read a session's telemetry in time order from, when the query asks for a whole session (or a time
/// window of it) of several cars: MySQL's optimizer otherwise prefers the primary key and sorts every row of the
/// session before sending the first (hundreds of milliseconds for a race), even for a ten-minute window. With one car
/// pinned, the primary key `(session_key, driver_number, date)` is already in time order. SQLite ignores the hint.
fn telemetry_date_index(endpoint: Endpoint, filter: &Filter) -> Option<&'static str> {
  let driver_pinned = filter
    .field("driver_number")
    .is_some_and(|field| field.pinned_value().is_some());
  if filter.pinned_session().is_none() || driver_pinned {
    return None;
  }
  migration::TELEMETRY_DATE_INDEXES
    .iter()
    .find(|(table, _)| *table == endpoint.name())
    .map(|(_, index)| *index)
}

/// Runs the query in a task of its own, sending the answer's bytes in chunks (none at all when no row matches).
fn spawn_rows<E>(
  database: DatabaseConnection,
  endpoint: Endpoint,
  format: Format,
  filter: Filter,
  condition: Condition,
) -> mpsc::Receiver<Chunk>
where
  E: EntityTrait,
  E::Model: Send + Sync,
{
  let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
  tokio::spawn(async move {
    if let Err(error) =
      write_rows::<E>(&database, endpoint, format, &filter, condition, &sender).await
    {
      tracing::error!(%error, endpoint = endpoint.name(), "Open F1 answer failed");
      sender.send(Err(error)).await.ok();
    }
  });
  receiver
}

/// What became of a chunk handed to the client side.
enum Delivery {
  Sent,
  ClientGone,
}

async fn deliver(sender: &mpsc::Sender<Chunk>, chunk: Vec<u8>) -> Delivery {
  match tokio::time::timeout(STALLED_CLIENT_TIMEOUT, sender.send(Ok(Bytes::from(chunk)))).await {
    Ok(Ok(())) => Delivery::Sent,
    Ok(Err(_)) => Delivery::ClientGone,
    Err(_) => {
      tracing::warn!("dropping an Open F1 answer: the client stopped reading");
      Delivery::ClientGone
    }
  }
}

async fn write_rows<E>(
  database: &DatabaseConnection,
  endpoint: Endpoint,
  format: Format,
  filter: &Filter,
  condition: Condition,
  sender: &mpsc::Sender<Chunk>,
) -> Result<(), DbErr>
where
  E: EntityTrait,
  E::Model: Send + Sync,
{
  let nullable = nullable_sort_fields(endpoint);
  let with_nulls = if nullable.is_empty() {
    Vec::new()
  } else {
    fields_with_nulls::<E>(database, condition.clone(), &nullable).await?
  };
  let mut select = E::find().filter(condition);
  for column in order::<E>(endpoint, filter, &with_nulls) {
    select = select.order_by_asc(column);
  }
  if let Some(index) = telemetry_date_index(endpoint, filter) {
    QuerySelect::query(&mut select).force_index(Alias::new(index), IndexHintScope::All);
  }
  let rows = select.stream(database).await?;
  let mut rows = std::pin::pin!(rows);
  let mut writer = RowWriter::<E>::new(endpoint, format);
  let mut chunk = Vec::with_capacity(CHUNK_BYTES + 1024);
  while let Some(model) = rows.try_next().await? {
    writer.write_row(&model, &mut chunk);
    if chunk.len() >= CHUNK_BYTES {
      let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_BYTES + 1024));
      if let Delivery::ClientGone = deliver(sender, full).await {
        return Ok(());
      }
    }
  }
  writer.finish(&mut chunk);
  if !chunk.is_empty() {
    deliver(sender, chunk).await;
  }
  Ok(())
}

/// Collects the answer until it ends or exceeds `bound` bytes.
async fn collect(mut receiver: mpsc::Receiver<Chunk>, bound: usize) -> Result<Collected, ApiError> {
  let mut head: Vec<Bytes> = Vec::new();
  let mut total = 0_usize;
  while let Some(chunk) = receiver.recv().await {
    let chunk = chunk?;
    total += chunk.len();
    head.push(chunk);
    if total > bound {
      return Ok(Collected::Oversized(Oversized {
        head,
        rest: receiver,
      }));
    }
  }
  let mut bytes = Vec::with_capacity(total);
  for chunk in head {
    bytes.extend_from_slice(&chunk);
  }
  Ok(Collected::Complete(bytes))
}

/// Upstream's empty answer: 404 `{"detail":"No results found."}`, kept as is by the problem layer.
fn no_results(cache_control: Option<&str>) -> Response {
  let mut response = Response::builder()
    .status(StatusCode::NOT_FOUND)
    .content_type("application/json")
    .body(NO_RESULTS_BODY);
  if let Some(value) = cache_control.and_then(|value| HeaderValue::from_str(value).ok()) {
    response.headers_mut().insert(header::CACHE_CONTROL, value);
  }
  response.set_data(BodyTreatment::Foreign);
  response
}

fn success(endpoint: Endpoint, format: Format, body: Body, cache_control: &str) -> Response {
  let mut builder = Response::builder()
    .status(StatusCode::OK)
    .content_type(format.content_type())
    .header(header::CACHE_CONTROL, cache_control);
  if format == Format::Csv {
    builder = builder.header(
      header::CONTENT_DISPOSITION,
      format!("attachment; filename={}.csv", endpoint.name()),
    );
  }
  builder.body(body)
}

/// A complete answer's body.
enum Answer {
  /// From the cache, in every coding (the middleware serves the one the client accepts).
  Cached(Arc<Representations>),
  /// Built for this request only.
  Built(Vec<u8>),
}

/// A complete answer: 200 with the bytes, or upstream's 404 when empty.
fn complete(
  endpoint: Endpoint,
  format: Format,
  answer: Answer,
  cache_control: &str,
  cache_outcome: Option<&str>,
) -> Response {
  let mut response = match answer {
    Answer::Built(bytes) if bytes.is_empty() => no_results(Some(cache_control)),
    Answer::Cached(representations) if representations.identity().is_empty() => {
      no_results(Some(cache_control))
    }
    Answer::Built(bytes) => success(endpoint, format, Body::from(bytes), cache_control),
    Answer::Cached(representations) => {
      let mut response = success(
        endpoint,
        format,
        Body::from(representations.identity().clone()),
        cache_control,
      );
      response.set_data(representations);
      response
    }
  };
  if let Some(outcome) = cache_outcome.and_then(|outcome| HeaderValue::from_str(outcome).ok()) {
    response.headers_mut().insert("x-cache", outcome);
  }
  response
}

/// A streamed answer: the collected chunks, then the rest as it comes.
fn streamed(
  endpoint: Endpoint,
  format: Format,
  oversized: Oversized,
  cache_control: &str,
) -> Response {
  let Oversized { head, rest } = oversized;
  let rest = futures::stream::unfold(rest, |mut receiver| async move {
    receiver.recv().await.map(|chunk| (chunk, receiver))
  });
  let chunks = futures::stream::iter(head.into_iter().map(Ok))
    .chain(rest)
    .map_err(std::io::Error::other);
  let mut response = success(
    endpoint,
    format,
    Body::from_bytes_stream(chunks),
    cache_control,
  );
  response.set_data(BodyTreatment::Streamed);
  response
}
