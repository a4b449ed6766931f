//! The HTTP resources: one `#[OpenApi]` struct per file, plus the shared response types and helpers.
//!
//! **Pagination** (one design everywhere): collections take `limit` (1..=`API_MAX_PAGE_SIZE`) and `offset`
//! (default 0); the body is always a plain JSON array in stable order, the `X-Total-Count` header gives the number
//! of matching rows and a `Link: <…>; rel="next"` header points at the next page while there is one. An offset
//! past the end answers `200 []`.

pub mod charts;
pub mod driver_list;
pub mod events;
pub mod lap_choice;
pub mod meetings;
pub mod operations;
pub mod seasons;
pub mod session_data;
pub mod sessions;

use chrono::Utc;
use entity::sessions as session_table;
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Tags};
use sea_orm::sea_query::IntoCondition;
use sea_orm::{
  ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
  QuerySelect, Select,
};

use crate::problem::{ApiError, Problem, invalid};
use crate::settings::Settings;

/// Largest accepted `offset`.
pub const MAX_OFFSET: u64 = 1_000_000_000;
/// Default `limit` of telemetry collections (car_data, location).
pub const TELEMETRY_DEFAULT_LIMIT: u64 = 100;
/// `Cache-Control` max-age of calendar lists (seasons, meetings, sessions), in seconds.
pub const CALENDAR_MAX_AGE_SECONDS: u64 = 60;

/// API tags (sections of the documentation).
#[derive(Tags)]
pub enum ApiTags {
  /// Seasons with data, and season-wide charts.
  Seasons,
  /// Grand Prix weekends.
  Meetings,
  /// Sessions of a weekend.
  Sessions,
  /// Per-session data: timing, telemetry, race control, results.
  SessionData,
  /// Plotly figure JSON, cached.
  Charts,
}

/// A page of a collection, or why there is none.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "collection_bad_request")]
pub enum CollectionResponse<T: ToJSON + Send + Sync> {
  /// The matching rows (plain array, stable order). `ETag` identifies the body; `X-Total-Count` is the number of
  /// matching rows over all pages; `Link` (rel="next") is present while more pages follow.
  #[oai(status = 200)]
  Ok(
    Json<Vec<T>>,
    /// Number of matching rows over all pages.
    #[oai(header = "X-Total-Count")]
    u64,
    /// `<url>; rel="next"` while more pages follow.
    #[oai(header = "Link")]
    Option<String>,
    /// `public, max-age=…`: long for finished sessions, short for live ones.
    #[oai(header = "Cache-Control")]
    String,
  ),
  /// The body did not change (`If-None-Match` matched the `ETag`).
  #[oai(status = 304)]
  NotModified,
  /// A parameter is invalid, or not one this operation takes; `detail` names it (and lists the accepted ones).
  #[oai(status = 400, content_type = "application/problem+json")]
  BadRequest(Json<Problem>),
  /// The query string is longer than 4096 bytes (answered by the request-limit layer, before any handler).
  #[oai(status = 414, content_type = "application/problem+json")]
  UriTooLong(Json<Problem>),
  /// The session (or other parent) does not exist.
  #[oai(status = 404, content_type = "application/problem+json")]
  NotFound(Json<Problem>),
  /// Unexpected failure (details are logged, not returned).
  #[oai(status = 500, content_type = "application/problem+json")]
  InternalError(Json<Problem>),
  /// The database is unreachable or the request took too long.
  #[oai(status = 503, content_type = "application/problem+json")]
  Unavailable(Json<Problem>),
}

/// The detail of a parameter parse error, with poem-openapi's internal path parameter names (`param0`, ...)
/// replaced by the documented ones.
#[must_use]
pub fn parse_error_detail(error: &poem::Error, path_parameters: &[&str]) -> String {
  let mut detail = error.to_string();
  for (index, name) in path_parameters.iter().enumerate() {
    detail = detail.replace(
      &format!("path `param{index}`"),
      &format!("path parameter `{name}`"),
    );
  }
  detail
}

fn collection_bad_request<T: ToJSON + Send + Sync>(error: poem::Error) -> CollectionResponse<T> {
  CollectionResponse::BadRequest(Json(Problem::new(
    poem::http::StatusCode::BAD_REQUEST,
    parse_error_detail(&error, &["session_key"]),
  )))
}

impl<T: ToJSON + Send + Sync> From<ApiError> for CollectionResponse<T> {
  fn from(error: ApiError) -> Self {
    let problem = error.to_problem();
    match problem.status {
      400 => Self::BadRequest(Json(problem)),
      404 => Self::NotFound(Json(problem)),
      503 => Self::Unavailable(Json(problem)),
      _ => Self::InternalError(Json(problem)),
    }
  }
}

/// One item, or why there is none.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "item_bad_request")]
pub enum ItemResponse<T: ToJSON + Send + Sync> {
  /// The item. `ETag` identifies the body.
  #[oai(status = 200)]
  Ok(
    Json<T>,
    /// `public, max-age=…`: long for finished sessions, short for live ones.
    #[oai(header = "Cache-Control")]
    String,
  ),
  /// The body did not change (`If-None-Match` matched the `ETag`).
  #[oai(status = 304)]
  NotModified,
  /// A parameter is invalid, or not one this operation takes; `detail` names it (and lists the accepted ones).
  #[oai(status = 400, content_type = "application/problem+json")]
  BadRequest(Json<Problem>),
  /// The query string is longer than 4096 bytes (answered by the request-limit layer, before any handler).
  #[oai(status = 414, content_type = "application/problem+json")]
  UriTooLong(Json<Problem>),
  /// No such item.
  #[oai(status = 404, content_type = "application/problem+json")]
  NotFound(Json<Problem>),
  /// Unexpected failure (details are logged, not returned).
  #[oai(status = 500, content_type = "application/problem+json")]
  InternalError(Json<Problem>),
  /// The database is unreachable or the request took too long.
  #[oai(status = 503, content_type = "application/problem+json")]
  Unavailable(Json<Problem>),
}

fn item_bad_request<T: ToJSON + Send + Sync>(error: poem::Error) -> ItemResponse<T> {
  ItemResponse::BadRequest(Json(Problem::new(
    poem::http::StatusCode::BAD_REQUEST,
    parse_error_detail(&error, &["session_key"]),
  )))
}

impl<T: ToJSON + Send + Sync> From<ApiError> for ItemResponse<T> {
  fn from(error: ApiError) -> Self {
    let problem = error.to_problem();
    match problem.status {
      400 => Self::BadRequest(Json(problem)),
      404 => Self::NotFound(Json(problem)),
      503 => Self::Unavailable(Json(problem)),
      _ => Self::InternalError(Json(problem)),
    }
  }
}

/// A validated page request.
#[derive(Clone, Copy, Debug)]
pub struct Page {
  /// Rows per page.
  pub limit: u64,
  /// Rows skipped.
  pub offset: u64,
}

impl Page {
  /// Validates `limit` (1..=`max`, default `default_limit` capped at `max`) and `offset`.
  ///
  /// # Errors
  /// An invalid-parameter error naming `limit` or `offset`.
  pub fn new(
    limit: Option<u64>,
    offset: Option<u64>,
    default_limit: u64,
    max: u64,
  ) -> Result<Self, ApiError> {
    let limit = limit.unwrap_or(default_limit.min(max));
    if limit == 0 || limit > max {
      return Err(invalid(
        "limit",
        format!("must be between 1 and {max}, got {limit}"),
      ));
    }
    let offset = offset.unwrap_or(0);
    if offset > MAX_OFFSET {
      return Err(invalid(
        "offset",
        format!("must be at most {MAX_OFFSET}, got {offset}"),
      ));
    }
    Ok(Self { limit, offset })
  }
}

/// Filters helpers on a SeaORM select.
pub trait SelectFilters: Sized {
  /// Keeps rows whose `column` is in `values` (no filter when empty).
  #[must_use]
  fn filter_in<C: ColumnTrait>(self, column: C, values: &[i32]) -> Self;
  /// Keeps rows whose `column` lies in the inclusive range.
  #[must_use]
  fn filter_range<C: ColumnTrait, V: Into<sea_orm::Value> + Clone>(
    self,
    column: C,
    minimum: Option<V>,
    maximum: Option<V>,
  ) -> Self;
  /// Keeps rows matching `condition` when it is given.
  #[must_use]
  fn filter_optional<F: IntoCondition>(self, condition: Option<F>) -> Self;
}

impl<E: EntityTrait> SelectFilters for Select<E> {
  fn filter_in<C: ColumnTrait>(self, column: C, values: &[i32]) -> Self {
    if values.is_empty() {
      self
    } else {
      self.filter(column.is_in(values.iter().copied()))
    }
  }

  fn filter_range<C: ColumnTrait, V: Into<sea_orm::Value> + Clone>(
    self,
    column: C,
    minimum: Option<V>,
    maximum: Option<V>,
  ) -> Self {
    let mut select = self;
    if let Some(minimum) = minimum {
      select = select.filter(column.gte(minimum));
    }
    if let Some(maximum) = maximum {
      select = select.filter(column.lte(maximum));
    }
    select
  }

  fn filter_optional<F: IntoCondition>(self, condition: Option<F>) -> Self {
    match condition {
      Some(condition) => self.filter(condition.into_condition()),
      None => self,
    }
  }
}

/// Counts the rows of `select`, then reads one page of them ordered by `order` (the natural key).
///
/// # Errors
/// Returns the database error.
pub async fn fetch_page<E>(
  connection: &DatabaseConnection,
  select: Select<E>,
  order: &[E::Column],
  page: Page,
) -> Result<(Vec<E::Model>, u64), sea_orm::DbErr>
where
  E: EntityTrait,
  E::Model: Sync,
{
  let total = select.clone().count(connection).await?;
  if page.offset >= total {
    return Ok((Vec::new(), total));
  }
  let mut ordered = select;
  for column in order {
    ordered = ordered.order_by_asc(*column);
  }
  let rows = ordered
    .offset(page.offset)
    .limit(page.limit)
    .all(connection)
    .await?;
  Ok((rows, total))
}

/// The `Link` header pointing at the next page, when one follows.
#[must_use]
pub fn next_link(
  uri: &poem::http::Uri,
  public_url: &str,
  page: Page,
  total: u64,
) -> Option<String> {
  let next_offset = page.offset.saturating_add(page.limit);
  if next_offset >= total {
    return None;
  }
  let mut pairs: Vec<String> = uri
    .query()
    .unwrap_or("")
    .split('&')
    .filter(|pair| !pair.is_empty() && !pair.starts_with("offset=") && !pair.starts_with("limit="))
    .map(str::to_owned)
    .collect();
  pairs.push(format!("limit={}", page.limit));
  pairs.push(format!("offset={next_offset}"));
  Some(format!(
    "<{}{}?{}>; rel=\"next\"",
    public_url.trim_end_matches('/'),
    uri.path(),
    pairs.join("&")
  ))
}

/// The `Cache-Control` value for data of `session`.
#[must_use]
pub fn session_cache_control(session: &session_table::Model, settings: &Settings) -> String {
  let seconds = session_time_to_live(session, settings).as_secs();
  format!("public, max-age={seconds}")
}

/// How long data of `session` may be cached.
#[must_use]
pub fn session_time_to_live(
  session: &session_table::Model,
  settings: &Settings,
) -> std::time::Duration {
  if session.is_live(Utc::now()) {
    settings.cache_ttl_live
  } else {
    settings.cache_ttl_finished
  }
}

/// How long data spanning season `year` may be cached: the live lifetime for the current (or a future) season,
/// the finished one for past seasons.
#[must_use]
pub fn season_time_to_live(year: i32, settings: &Settings) -> std::time::Duration {
  if year >= chrono::Datelike::year(&Utc::now()) {
    settings.cache_ttl_live
  } else {
    settings.cache_ttl_finished
  }
}

/// The `Cache-Control` value of calendar lists.
#[must_use]
pub fn calendar_cache_control() -> String {
  format!("public, max-age={CALENDAR_MAX_AGE_SECONDS}")
}

/// Reads the session or answers 404.
///
/// # Errors
/// Not found, or the database error.
pub async fn find_session(
  connection: &DatabaseConnection,
  session_key: i32,
) -> Result<session_table::Model, ApiError> {
  session_table::Entity::find_by_id(session_key)
    .one(connection)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("No session with session_key {session_key}.")))
}
