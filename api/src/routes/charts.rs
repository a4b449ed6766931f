//! `GET /v1/sessions/{session_key}/charts/{chart}` and `GET /v1/seasons/{year}/charts/{chart}`: Plotly figures,
//! cached in the response cache per scope and normalised parameters.

use std::sync::Arc;
use std::time::Duration;

use entity::cache::CacheScope;
use entity::meetings;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::{ApiResponse, OpenApi};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::Value;

use crate::AppState;
use crate::charts::{self, ChartError, ChartKind, ChartRequest};
use crate::problem::{ApiError, Problem};
use crate::routes::driver_list::{DriverNumberList, flatten};
use crate::routes::{ApiTags, find_session, session_time_to_live};

/// Charts.
pub struct ChartsApi;

/// A Plotly figure's JSON, sent as the bytes that were cached: a cache hit costs no parsing or serialising.
/// Documented like `Json<serde_json::Value>` (any JSON object), with the same content type.
pub struct FigureJson(pub Arc<Vec<u8>>);

impl Payload for FigureJson {
  const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

  fn schema_ref() -> MetaSchemaRef {
    <Json<Value> as Payload>::schema_ref()
  }

  fn register(registry: &mut Registry) {
    <Json<Value> as Payload>::register(registry);
  }
}

impl poem::IntoResponse for FigureJson {
  fn into_response(self) -> poem::Response {
    poem::Response::builder()
      .content_type(Self::CONTENT_TYPE)
      .body(Vec::clone(&self.0))
  }
}

/// A chart, or why there is none.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "chart_bad_request")]
pub enum ChartResponse {
  /// A Plotly figure (`{"data": [...], "layout": {...}}`), ready for `Plotly.newPlot(element, figure.data,
  /// figure.layout)`. `ETag` identifies the body.
  #[oai(status = 200)]
  Ok(
    FigureJson,
    /// `public, max-age=…`: long for finished sessions, short for live ones.
    #[oai(header = "Cache-Control")]
    String,
    /// How the figure was obtained: `hit`, `miss`, `coalesced` or `bypass` (cache unavailable).
    #[oai(header = "X-Cache")]
    String,
  ),
  /// The figure did not change (`If-None-Match` matched the `ETag`).
  #[oai(status = 304)]
  NotModified,
  /// A parameter is invalid; `detail` names it.
  #[oai(status = 400, content_type = "application/problem+json")]
  BadRequest(Json<Problem>),
  /// The query string is longer than 4096 bytes (answered by the request-limit layer, before any handler).
  #[oai(status = 414, content_type = "application/problem+json")]
  UriTooLong(Json<Problem>),
  /// Unknown chart, session or season.
  #[oai(status = 404, content_type = "application/problem+json")]
  NotFound(Json<Problem>),
  /// Unexpected failure (details are logged, not returned).
  #[oai(status = 500, content_type = "application/problem+json")]
  InternalError(Json<Problem>),
  /// The database is unreachable or the request took too long.
  #[oai(status = 503, content_type = "application/problem+json")]
  Unavailable(Json<Problem>),
}

fn chart_bad_request(error: poem::Error) -> ChartResponse {
  ChartResponse::BadRequest(Json(Problem::new(
    poem::http::StatusCode::BAD_REQUEST,
    crate::routes::parse_error_detail(&error, &["session_key` or `year", "chart"]),
  )))
}

impl From<ApiError> for ChartResponse {
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

impl From<ChartError> for ApiError {
  fn from(error: ChartError) -> Self {
    match error {
      ChartError::NotFound(message) => Self::NotFound(message),
      ChartError::InvalidParameter { name, message } => Self::InvalidParameter { name, message },
      ChartError::Database(error) => Self::Database(error),
    }
  }
}

/// The response for a chart lookup: the figure with its `Cache-Control` and `X-Cache`, or the problem.
fn chart_response(result: Result<(Arc<Vec<u8>>, String, Duration), ApiError>) -> ChartResponse {
  match result {
    Ok((figure, outcome, time_to_live)) => ChartResponse::Ok(
      FigureJson(figure),
      format!("public, max-age={}", time_to_live.as_secs()),
      outcome,
    ),
    Err(error) => error.into(),
  }
}

fn chart_kind(slug: &str) -> Result<ChartKind, ApiError> {
  ChartKind::from_slug(slug).ok_or_else(|| {
    let known: Vec<_> = ChartKind::ALL.iter().map(ChartKind::slug).collect();
    ApiError::NotFound(format!(
      "No chart named `{}`; known charts: {}.",
      crate::problem::echoed(slug),
      known.join(", ")
    ))
  })
}

fn chart_request(
  drivers: Option<&DriverNumberList>,
  lap_min: Option<i32>,
  lap_max: Option<i32>,
  year_scope: bool,
) -> Result<ChartRequest, ApiError> {
  let drivers = flatten(drivers.map(std::slice::from_ref));
  let laps = match (lap_min, lap_max) {
    (None, None) => None,
    (minimum, maximum) => Some((minimum.unwrap_or(1), maximum.unwrap_or(i32::MAX))),
  };
  Ok(ChartRequest {
    drivers,
    laps,
    year_scope,
  })
}

/// The cache entry name: the chart and its normalised parameters (drivers sorted, deduplicated).
fn cache_name(kind: ChartKind, request: &ChartRequest) -> String {
  let drivers: Vec<String> = request.drivers.iter().map(i32::to_string).collect();
  let mut name = format!("chart:{}:drivers={}", kind.slug(), drivers.join(","));
  if let Some((first, last)) = request.laps {
    name.push_str(&format!(":laps={first}-{last}"));
  }
  name
}

async fn cached_chart(
  state: &AppState,
  scope: CacheScope,
  kind: ChartKind,
  request: ChartRequest,
  time_to_live: Duration,
) -> Result<(Arc<Vec<u8>>, String), ApiError> {
  let name = cache_name(kind, &request);
  let database = state.database.clone();
  let build = async move {
    let figure = match scope {
      CacheScope::Season(year) => {
        charts::build_season_chart(&database, year, kind, &request).await?
      }
      CacheScope::Session(session_key) => {
        charts::build_session_chart(&database, session_key, kind, &request).await?
      }
      CacheScope::Calendar => return Err(ApiError::Internal("calendar chart".to_owned())),
    };
    serde_json::to_vec(&figure).map_err(|error| ApiError::Internal(error.to_string()))
  };
  let (bytes, outcome) = state
    .cache
    .get_or_build(scope, &name, time_to_live, build)
    .await?;
  Ok((bytes, outcome.as_str().to_owned()))
}

/// The documented example session: the 2024 Bahrain Grand Prix race, which Swagger UI's "Try it out" fills in.
fn example_session_key() -> i32 {
  9472
}

/// The documented example session chart.
fn example_session_chart() -> String {
  ChartKind::LapTimes.slug().to_owned()
}

/// The documented example season.
fn example_year() -> i32 {
  2024
}

/// The documented example season chart.
fn example_season_chart() -> String {
  ChartKind::ChampionshipProgression.slug().to_owned()
}

#[OpenApi(tag = "ApiTags::Charts")]
impl ChartsApi {
  /// Session chart
  ///
  /// A Plotly figure of one session, e.g. `GET /v1/sessions/9472/charts/lap-times?drivers=1,44`.
  /// Cached per session and normalised parameters; the worker invalidates the session's charts when its data
  /// changes. Example response:
  ///
  /// ```json
  /// {"data": [{"type": "scatter", "name": "VER", "x": [1, 2, 3], "y": [97.284, 96.5, 96.61]}],
  ///  "layout": {"title": {"text": "Lap times"}}}
  /// ```
  #[oai(
    path = "/v1/sessions/:session_key/charts/:chart",
    method = "get",
    operation_id = "get_session_chart"
  )]
  async fn session_chart(
    &self,
    state: Data<&AppState>,
    /// Open F1 session key.
    #[oai(example = "example_session_key")]
    session_key: Path<i32>,
    /// Chart name, e.g. `lap-times`.
    #[oai(example = "example_session_chart")]
    chart: Path<String>,
    /// Car numbers to include, comma-separated (`1,44`); all drivers when absent.
    drivers: Query<Option<DriverNumberList>>,
    /// First lap to include.
    lap_min: Query<Option<i32>>,
    /// Last lap to include.
    lap_max: Query<Option<i32>>,
  ) -> ChartResponse {
    let result: Result<_, ApiError> = async {
      let kind = chart_kind(&chart.0)?;
      let request = chart_request(drivers.0.as_ref(), lap_min.0, lap_max.0, false)?;
      let session = find_session(&state.database, session_key.0).await?;
      let time_to_live = session_time_to_live(&session, &state.settings);
      let (figure, outcome) = cached_chart(
        &state,
        CacheScope::Session(session_key.0),
        kind,
        request,
        time_to_live,
      )
      .await?;
      Ok((figure, outcome, time_to_live))
    }
    .await;
    chart_response(result)
  }

  /// Season chart
  ///
  /// A Plotly figure spanning a season, e.g. `GET /v1/seasons/2024/charts/championship-progression`. Cached per
  /// season.
  /// Example response:
  ///
  /// ```json
  /// {"data": [{"type": "scatter", "name": "VER", "x": ["BHR", "SAU"], "y": [26, 51]}],
  ///  "layout": {"title": {"text": "Championship points"}}}
  /// ```
  #[oai(
    path = "/v1/seasons/:year/charts/:chart",
    method = "get",
    operation_id = "get_season_chart"
  )]
  async fn season_chart(
    &self,
    state: Data<&AppState>,
    /// Season year.
    #[oai(example = "example_year")]
    year: Path<i32>,
    /// Chart name, e.g. `championship-progression`.
    #[oai(example = "example_season_chart")]
    chart: Path<String>,
    /// Car numbers to include, comma-separated; all drivers when absent.
    drivers: Query<Option<DriverNumberList>>,
  ) -> ChartResponse {
    let result: Result<_, ApiError> = async {
      let kind = chart_kind(&chart.0)?;
      let request = chart_request(drivers.0.as_ref(), None, None, true)?;
      let meetings = meetings::Entity::find()
        .filter(meetings::Column::Year.eq(year.0))
        .count(&state.database)
        .await?;
      if meetings == 0 {
        return Err(ApiError::NotFound(format!("No season {} stored.", year.0)));
      }
      let current_year = chrono::Datelike::year(&chrono::Utc::now());
      let time_to_live = if year.0 >= current_year {
        state.settings.cache_ttl_live
      } else {
        state.settings.cache_ttl_finished
      };
      let (figure, outcome) = cached_chart(
        &state,
        CacheScope::Season(year.0),
        kind,
        request,
        time_to_live,
      )
      .await?;
      Ok((figure, outcome, time_to_live))
    }
    .await;
    chart_response(result)
  }
}
