//! `GET /v1/charts` (the catalogue), `GET /v1/sessions/{session_key}/charts/{chart}` and
//! `GET /v1/seasons/{year}/charts/{chart}`: Plotly figures, cached in the response cache per scope and normalised
//! parameters.

use std::sync::Arc;
use std::time::Duration;

use entity::cache::CacheScope;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromParameter, ParseResult};
use poem_openapi::{ApiResponse, OpenApi};
use serde_json::Value;

use crate::AppState;
use crate::bodies::ChartDescription;
use crate::charts::{self, ChartError, ChartKind, ChartRequest, ChartScope};
use crate::encoding::{Encoding, Representations};
use crate::problem::{ApiError, Problem};
use crate::routes::driver_list::{DriverNumberList, flatten};
use crate::routes::lap_choice::LapChoiceValue;
use crate::routes::{
  ApiTags, problem_responses, season_time_to_live, session_time_to_live, string_value_type,
};

/// Charts.
pub struct ChartsApi;

/// How long clients may cache the catalogue (it changes only with a release).
const CATALOGUE_MAX_AGE_SECONDS: u64 = 3600;

/// A `chart` path parameter, documented as the enum of one scope's chart slugs (from the catalogue). Any text
/// parses, so that an unknown name is answered 404 listing the charts, like any unknown resource.
macro_rules! chart_name_parameter {
  ($name:ident, $schema:literal, $scope:expr, $description:literal) => {
    #[doc = $description]
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct $name(pub String);

    string_value_type!(
      $name,
      $schema,
      MetaSchemaRef::Reference($schema.to_owned()),
      register(registry) {
        registry.create_schema::<Self, _>($schema.to_owned(), |_| MetaSchema {
          description: Some($description),
          enum_items: ChartKind::of_scope($scope)
            .map(|kind| Value::String(kind.slug().to_owned()))
            .collect(),
          ..MetaSchema::new("string")
        });
      }
    );

    impl ParseFromParameter for $name {
      fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(value.to_owned()))
      }
    }
  };
}

chart_name_parameter!(
  SessionChartName,
  "SessionChart",
  ChartScope::Session,
  "A session chart (see `GET /v1/charts`)."
);
chart_name_parameter!(
  SeasonChartName,
  "SeasonChart",
  ChartScope::Season,
  "A season chart (see `GET /v1/charts`)."
);

/// The chart catalogue.
#[derive(ApiResponse)]
pub enum CatalogueResponse {
  /// Every chart, session charts first. `ETag` identifies the body.
  #[oai(status = 200)]
  Ok(
    Json<Vec<ChartDescription>>,
    /// `public, max-age=3600`.
    #[oai(header = "Cache-Control")]
    String,
  ),
  /// The query string is longer than 4096 bytes (answered by the request-limit layer, before any handler).
  #[oai(status = 414, content_type = "application/problem+json")]
  UriTooLong(Json<Problem>),
}

/// A Plotly figure's JSON, sent as the bytes that were cached, in the representation the client accepts (the
/// middleware picks it): a cache hit costs no parsing, serialising, hashing or compressing. Documented like
/// `Json<serde_json::Value>` (any JSON object), with the same content type.
pub struct FigureJson(pub Arc<Representations>);

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
    let mut response = poem::Response::builder()
      .content_type(Self::CONTENT_TYPE)
      .body(self.0.identity().clone());
    response.set_data(self.0);
    response
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
  /// A parameter is invalid, or not one this operation takes; `detail` names it (and lists the accepted ones).
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

problem_responses!(
  ChartResponse,
  bad_request_handler = chart_bad_request,
  path_parameters = ["session_key` or `year", "chart"],
);

impl From<ChartError> for ApiError {
  fn from(error: ChartError) -> Self {
    match error {
      ChartError::NotFound(message) => Self::NotFound(message),
      ChartError::InvalidParameter { name, message } => Self::InvalidParameter { name, message },
      ChartError::Database(error) => Self::Database(error),
    }
  }
}

fn chart_kind(slug: &str, scope: ChartScope) -> Result<ChartKind, ApiError> {
  ChartKind::from_slug(slug).ok_or_else(|| {
    let known: Vec<_> = ChartKind::of_scope(scope).map(|kind| kind.slug()).collect();
    let scope_name = match scope {
      ChartScope::Session => "session",
      ChartScope::Season => "season",
    };
    ApiError::NotFound(format!(
      "No chart named `{}`; {scope_name} charts: {} (GET /v1/charts lists them all).",
      crate::problem::echoed(slug),
      known.join(", ")
    ))
  })
}

/// The parameters of a session chart request, as parsed from the query string.
struct SessionChartParameters<'query> {
  drivers: Option<&'query DriverNumberList>,
  lap_min: Option<i32>,
  lap_max: Option<i32>,
  reference: Option<LapChoiceValue>,
  comparison: Option<LapChoiceValue>,
  comparison_session: Option<i32>,
}

fn chart_request(parameters: &SessionChartParameters<'_>) -> ChartRequest {
  let drivers = flatten(parameters.drivers.map(std::slice::from_ref));
  let laps = match (parameters.lap_min, parameters.lap_max) {
    (None, None) => None,
    (minimum, maximum) => Some((minimum.unwrap_or(1), maximum.unwrap_or(i32::MAX))),
  };
  ChartRequest {
    drivers,
    laps,
    reference: parameters.reference.map(|value| value.0),
    comparison: parameters.comparison.map(|value| value.0),
    comparison_session: parameters.comparison_session,
  }
}

/// The cache entry name: the chart and its normalised parameters (drivers sorted, deduplicated; laps as
/// `DRIVER:LAP` without leading zeros). Parameters a chart does not take never get here (they are rejected).
fn cache_name(kind: ChartKind, request: &ChartRequest) -> String {
  let drivers: Vec<String> = request.drivers.iter().map(i32::to_string).collect();
  let mut name = format!("chart:{}:drivers={}", kind.slug(), drivers.join(","));
  if let Some((first, last)) = request.laps {
    name.push_str(&format!(":laps={first}-{last}"));
  }
  if let Some(reference) = request.reference {
    name.push_str(&format!(":reference={reference}"));
  }
  if let Some(comparison) = request.comparison {
    name.push_str(&format!(":comparison={comparison}"));
  }
  if let Some(session_key) = request.comparison_session {
    name.push_str(&format!(":comparison_session={session_key}"));
  }
  name
}

/// What a cached chart spans (a chart never spans the calendar).
#[derive(Clone, Copy, Debug)]
enum ChartSpan {
  /// One session.
  Session(i32),
  /// One season.
  Season(i32),
}

/// A chart to answer: what it spans, which chart with which request, and how long it may be cached.
struct ChartLookup {
  span: ChartSpan,
  kind: ChartKind,
  request: ChartRequest,
  time_to_live: Duration,
}

/// Answers `lookup` from the response cache in `encoding`, building the figure on a miss: the figure with its
/// `Cache-Control` and `X-Cache`, or the problem (also when the lookup itself failed).
async fn answer_chart(
  state: &AppState,
  encoding: Encoding,
  lookup: Result<ChartLookup, ApiError>,
) -> ChartResponse {
  match cached_chart(state, lookup, encoding).await {
    Ok((figure, outcome, time_to_live)) => ChartResponse::Ok(
      FigureJson(figure),
      format!("public, max-age={}", time_to_live.as_secs()),
      outcome,
    ),
    Err(error) => error.into(),
  }
}

/// The cached figure of `lookup`, the cache outcome and the figure's time to live.
async fn cached_chart(
  state: &AppState,
  lookup: Result<ChartLookup, ApiError>,
  encoding: Encoding,
) -> Result<(Arc<Representations>, String, Duration), ApiError> {
  let ChartLookup {
    span,
    kind,
    request,
    time_to_live,
  } = lookup?;
  let name = cache_name(kind, &request);
  let scope = match span {
    ChartSpan::Season(year) => CacheScope::Season(year),
    ChartSpan::Session(session_key) => CacheScope::Session(session_key),
  };
  let database = state.database.clone();
  let build = async move {
    let figure = match span {
      ChartSpan::Season(year) => {
        charts::build_season_chart(&database, year, kind, &request).await?
      }
      ChartSpan::Session(session_key) => {
        charts::build_session_chart(&database, session_key, kind, &request).await?
      }
    };
    serde_json::to_vec(&figure).map_err(|error| ApiError::Internal(error.to_string()))
  };
  let (bytes, outcome) = state
    .cache
    .get_or_build_for(scope, &name, time_to_live, encoding, build)
    .await?;
  Ok((bytes, outcome.as_str().to_owned(), time_to_live))
}

/// The documented example session: the 2024 Bahrain Grand Prix race, which Swagger UI's "Try it out" fills in.
fn example_session_key() -> i32 {
  9472
}

/// The documented example season.
fn example_year() -> i32 {
  2024
}

#[OpenApi(tag = "ApiTags::Charts")]
impl ChartsApi {
  /// Chart catalogue
  ///
  /// Every chart the API draws: its slug (the `chart` path parameter), title, one-line description, scope
  /// (session or season), the session types it suits, the query parameters it takes, the tables it is built
  /// from, and its URL template. A frontend can build its chart menu from this list.
  #[oai(path = "/v1/charts", method = "get", operation_id = "list_charts")]
  async fn catalogue(&self) -> CatalogueResponse {
    CatalogueResponse::Ok(
      Json(
        ChartKind::ALL
          .iter()
          .copied()
          .map(ChartDescription::from)
          .collect(),
      ),
      format!("public, max-age={CATALOGUE_MAX_AGE_SECONDS}"),
    )
  }

  /// Session chart
  ///
  /// A Plotly figure of one session, e.g. `GET /v1/sessions/9472/charts/lap-times?drivers=1,44` or
  /// `GET /v1/sessions/9472/charts/lap-delta?reference=1:39&comparison=16:36`. `GET /v1/charts` lists the charts
  /// with the parameters each takes: a parameter the chart does not take, a driver who did not take part or a
  /// lap that does not exist is answered 400. A session whose type the chart does not suit (e.g.
  /// `gap-to-leader` of a qualifying session) is answered 200 with an empty figure whose annotation says why.
  /// Cached per session and normalised parameters; the worker invalidates the session's charts when its data
  /// changes (a comparison with another session is cached under the charted session, for the shorter of the two
  /// sessions' cache lifetimes). Example response:
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
  #[allow(clippy::too_many_arguments)]
  async fn session_chart(
    &self,
    state: Data<&AppState>,
    http_request: &poem::Request,
    /// Open F1 session key.
    #[oai(example = "example_session_key")]
    session_key: Path<i32>,
    /// Chart name (see `GET /v1/charts`), e.g. `lap-times`.
    chart: Path<SessionChartName>,
    /// Car numbers to include, comma-separated (`1,44`); all drivers when absent. The telemetry comparison
    /// takes exactly two (their fastest laps), the track maps one, the mini-sector map two to five.
    drivers: Query<Option<DriverNumberList>>,
    /// First lap to include (lap-based charts).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000")))]
    lap_min: Query<Option<i32>>,
    /// Last lap to include (lap-based charts).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000")))]
    lap_max: Query<Option<i32>>,
    /// The reference lap of `telemetry-comparison`, `lap-delta`, `track-map` and `gear-shift-map`: `DRIVER:LAP`
    /// (`1:39`) or `DRIVER` for that driver's fastest lap; default the session's fastest lap.
    reference: Query<Option<LapChoiceValue>>,
    /// The compared lap of `telemetry-comparison` and `lap-delta`: `DRIVER:LAP` or `DRIVER`; default the
    /// next-fastest driver's fastest lap (or, with `comparison_session`, the reference driver's fastest lap
    /// there).
    comparison: Query<Option<LapChoiceValue>>,
    /// Session key of the compared lap (`telemetry-comparison`, `lap-delta`): another session at the same
    /// circuit, e.g. last year's race; default the charted session.
    #[oai(validator(minimum(value = "1")))]
    comparison_session: Query<Option<i32>>,
  ) -> ChartResponse {
    let lookup: Result<_, ApiError> = async {
      let kind = chart_kind(&chart.0.0, ChartScope::Session)?;
      let parameters = SessionChartParameters {
        drivers: drivers.0.as_ref(),
        lap_min: lap_min.0,
        lap_max: lap_max.0,
        reference: reference.0,
        comparison: comparison.0,
        comparison_session: comparison_session.0,
      };
      let request = chart_request(&parameters);
      // From the session directory: a hit reads no database.
      let session = state
        .changes
        .find_session(session_key.0)
        .await?
        .ok_or_else(|| {
          ApiError::NotFound(format!("No session with session_key {}.", session_key.0))
        })?;
      let mut time_to_live = session_time_to_live(&session, &state.settings);
      if let Some(other) = request
        .comparison_session
        .filter(|other| *other != session_key.0)
        && let Some(other) = state.changes.find_session(other).await?
      {
        time_to_live = time_to_live.min(session_time_to_live(&other, &state.settings));
      }
      Ok(ChartLookup {
        span: ChartSpan::Session(session_key.0),
        kind,
        request,
        time_to_live,
      })
    }
    .await;
    answer_chart(&state, Encoding::negotiate(http_request.headers()), lookup).await
  }

  /// Season chart
  ///
  /// A Plotly figure spanning a season, e.g. `GET /v1/seasons/2024/charts/championship-progression`. `GET
  /// /v1/charts` lists the season charts and the parameters each takes. Cached per season. Example response:
  ///
  /// ```json
  /// {"data": [{"type": "scatter", "name": "VER", "x": ["BHR", "SAU"], "y": [26, 51]}],
  ///  "layout": {"title": {"text": "2024 season: Drivers' championship progression"}}}
  /// ```
  #[oai(
    path = "/v1/seasons/:year/charts/:chart",
    method = "get",
    operation_id = "get_season_chart"
  )]
  async fn season_chart(
    &self,
    state: Data<&AppState>,
    http_request: &poem::Request,
    /// Season year.
    #[oai(example = "example_year")]
    year: Path<i32>,
    /// Chart name (see `GET /v1/charts`), e.g. `championship-progression`.
    chart: Path<SeasonChartName>,
    /// Car numbers to include, comma-separated; all drivers when absent.
    drivers: Query<Option<DriverNumberList>>,
  ) -> ChartResponse {
    let lookup: Result<_, ApiError> = async {
      let kind = chart_kind(&chart.0.0, ChartScope::Season)?;
      let request = ChartRequest {
        drivers: flatten(drivers.0.as_ref().map(std::slice::from_ref)),
        ..ChartRequest::default()
      };
      if !state.changes.has_season(year.0).await? {
        return Err(ApiError::NotFound(format!("No season {} stored.", year.0)));
      }
      let time_to_live = season_time_to_live(year.0, &state.settings);
      Ok(ChartLookup {
        span: ChartSpan::Season(year.0),
        kind,
        request,
        time_to_live,
      })
    }
    .await;
    answer_chart(&state, Encoding::negotiate(http_request.headers()), lookup).await
  }
}
