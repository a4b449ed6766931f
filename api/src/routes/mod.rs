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

use chrono::{DateTime, Utc};
use entity::sessions as session_table;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Tags};
use sea_orm::sea_query::IntoCondition;
use sea_orm::{
  ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
  QueryFilter, QueryOrder, QuerySelect, Select,
};

use crate::AppState;
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

/// Writes the error side of a response enum once: `From<ApiError>` (the error's problem document goes to the
/// variant of its status: `BadRequest` for 400, `NotFound` for 404, `Unavailable` for 503, `InternalError` for any
/// other) and the enum's `bad_request_handler`, which answers a request whose parameters do not parse 400 with
/// poem-openapi's message, the path parameters named as documented (see [`parse_error_detail`]).
///
/// `problem_responses!(Response<T>, bad_request_handler = name, path_parameters = ["session_key"])`; a type
/// parameter gets the bound `ToJSON + Send + Sync`. With `retry_after = seconds`, the 503 variant also carries
/// that `Retry-After` header value. The variants stay written out in each enum: every status is documented per
/// operation.
macro_rules! problem_responses {
  (
    $response:ident $(<$parameter:ident>)?,
    bad_request_handler = $handler:ident,
    path_parameters = $path_parameters:expr
    $(, retry_after = $retry_after:expr)? $(,)?
  ) => {
    fn $handler $(<$parameter: ::poem_openapi::types::ToJSON + Send + Sync>)? (
      error: ::poem::Error,
    ) -> $response $(<$parameter>)? {
      <$response $(<$parameter>)?>::BadRequest(::poem_openapi::payload::Json(
        $crate::problem::Problem::new(
          ::poem::http::StatusCode::BAD_REQUEST,
          $crate::routes::parse_error_detail(&error, &$path_parameters),
        ),
      ))
    }

    impl $(<$parameter: ::poem_openapi::types::ToJSON + Send + Sync>)? From<$crate::problem::ApiError>
      for $response $(<$parameter>)?
    {
      fn from(error: $crate::problem::ApiError) -> Self {
        let problem = ::poem_openapi::payload::Json(error.to_problem());
        match problem.status {
          400 => Self::BadRequest(problem),
          404 => Self::NotFound(problem),
          503 => Self::Unavailable(problem $(, $retry_after)?),
          _ => Self::InternalError(problem),
        }
      }
    }
  };
}
pub(crate) use problem_responses;

/// Implements poem-openapi's `Type` for a path or query value read from one string (`$type`), whose schema is
/// named `$name` and referenced as `$schema`; `register(registry) { … }` adds the schema to the registry when
/// the reference is not inline. Parsing stays with the type (`ParseFromParameter`).
macro_rules! string_value_type {
  ($type:ident, $name:expr, $schema:expr $(, register($registry:ident) $register:block)? $(,)?) => {
    impl ::poem_openapi::types::Type for $type {
      const IS_REQUIRED: bool = true;
      type RawValueType = Self;
      type RawElementValueType = Self;

      fn name() -> ::std::borrow::Cow<'static, str> {
        $name.into()
      }

      fn schema_ref() -> ::poem_openapi::registry::MetaSchemaRef {
        $schema
      }

      $(
        fn register($registry: &mut ::poem_openapi::registry::Registry) $register
      )?

      fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
      }

      fn raw_element_iter<'a>(
        &'a self,
      ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
      }
    }
  };
}
pub(crate) use string_value_type;

/// The inline schema of a string value: its `pattern`, `description` and `example`.
pub(crate) fn string_value_schema(
  pattern: &str,
  description: &'static str,
  example: &str,
) -> MetaSchemaRef {
  let mut schema = MetaSchema::new("string");
  schema.pattern = Some(pattern.to_owned());
  schema.description = Some(description);
  schema.example = Some(serde_json::Value::String(example.to_owned()));
  MetaSchemaRef::Inline(Box::new(schema))
}

/// The number in `part` (one to three digits, 0-999), or a message saying `part` is not a `what`.
pub(crate) fn three_digit_number(part: &str, what: &str) -> Result<i32, String> {
  let valid = !part.is_empty() && part.len() <= 3 && part.bytes().all(|byte| byte.is_ascii_digit());
  part
    .parse::<i32>()
    .ok()
    .filter(|_| valid)
    .ok_or_else(|| format!("`{part}` is not a {what} (0-999)"))
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

problem_responses!(
  CollectionResponse<T>,
  bad_request_handler = collection_bad_request,
  path_parameters = ["session_key"],
);

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

problem_responses!(
  ItemResponse<T>,
  bad_request_handler = item_bad_request,
  path_parameters = ["session_key"],
);

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

/// A request for one page of a collection: its paging parameters, and what answering needs (the settings, the
/// database, the URI the `Link` to the next page is made from).
pub struct CollectionRequest<'a> {
  state: &'a AppState,
  uri: &'a poem::http::Uri,
  limit: Option<u64>,
  offset: Option<u64>,
  default_limit: Option<u64>,
}

impl<'a> CollectionRequest<'a> {
  /// A request for the page `limit` and `offset` (as given) ask for, of `API_MAX_PAGE_SIZE` rows when `limit` is
  /// not given.
  #[must_use]
  pub fn new(
    state: &'a AppState,
    uri: &'a poem::http::Uri,
    limit: Option<u64>,
    offset: Option<u64>,
  ) -> Self {
    Self {
      state,
      uri,
      limit,
      offset,
      default_limit: None,
    }
  }

  /// The application state the request is answered from.
  #[must_use]
  pub fn state(&self) -> &'a AppState {
    self.state
  }

  /// The same request, of `default_limit` rows (at most `API_MAX_PAGE_SIZE`) when `limit` is not given; `None`
  /// keeps `API_MAX_PAGE_SIZE`.
  #[must_use]
  pub fn with_default_limit(self, default_limit: Option<u64>) -> Self {
    Self {
      default_limit,
      ..self
    }
  }
}

impl CollectionRequest<'_> {
  /// Validates paging (400), then awaits `select` for the rows to list and their `Cache-Control` value (it may
  /// fail, e.g. 400 on a filter or 404 on a missing parent), reads one page of them in `order` and answers it with
  /// `X-Total-Count` and the `Link` to the next page.
  pub async fn respond<E, B>(
    self,
    order: &[E::Column],
    select: impl Future<Output = Result<(Select<E>, String), ApiError>>,
  ) -> CollectionResponse<B>
  where
    E: EntityTrait,
    E::Model: Sync + Into<B>,
    B: ToJSON + Send + Sync,
  {
    let state = self.state;
    let result: Result<_, ApiError> = async {
      let max = state.settings.max_page_size;
      let page = Page::new(
        self.limit,
        self.offset,
        self.default_limit.unwrap_or(max),
        max,
      )?;
      let (select, cache_control) = select.await?;
      let (rows, total) = fetch_page(&state.database, select, order, page).await?;
      Ok((rows, total, page, cache_control))
    }
    .await;
    match result {
      Ok((rows, total, page, cache_control)) => CollectionResponse::Ok(
        Json(rows.into_iter().map(Into::into).collect()),
        total,
        next_link(self.uri, &state.settings.public_url, page, total),
        cache_control,
      ),
      Err(error) => error.into(),
    }
  }
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

/// The session that started last by `horizon`: the latest `date_start` not after it (ties: the highest
/// `session_key`), cancelled sessions excluded. `/v1/sessions/latest` asks it for now, Open F1's `latest` for a
/// minute from now.
///
/// # Errors
/// The database error.
pub async fn find_latest_started_session(
  connection: &impl ConnectionTrait,
  horizon: DateTime<Utc>,
) -> Result<Option<session_table::Model>, DbErr> {
  session_table::Entity::find()
    .filter(session_table::Column::DateStart.lte(horizon))
    .filter(
      Condition::any()
        .add(session_table::Column::IsCancelled.is_null())
        .add(session_table::Column::IsCancelled.eq(false)),
    )
    .order_by_desc(session_table::Column::DateStart)
    .order_by_desc(session_table::Column::SessionKey)
    .one(connection)
    .await
}
