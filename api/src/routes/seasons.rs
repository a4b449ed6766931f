//! `GET /v1/seasons`: the years that have data; `GET /v1/seasons/{year}/standings/drivers` and `/teams`: the
//! championship after any round.

use entity::meetings;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, OpenApi};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{EntityTrait, QueryOrder, QuerySelect};

use crate::AppState;
use crate::bodies::{DriversStandings, Season, TeamsStandings};
use crate::problem::{ApiError, Problem};
use crate::routes::{
  ApiTags, CollectionResponse, calendar_cache_control, problem_responses, season_time_to_live,
};
use crate::standings::{SeasonResults, StandingsError};

/// Seasons.
pub struct SeasonsApi;

#[OpenApi(prefix_path = "/v1/seasons", tag = "ApiTags::Seasons")]
impl SeasonsApi {
  /// List seasons
  ///
  /// Every year with at least one stored meeting, oldest first, with its number of meetings.
  #[oai(path = "/", method = "get", operation_id = "list_seasons")]
  async fn list(&self, state: Data<&AppState>) -> CollectionResponse<Season> {
    let result: Result<_, ApiError> = async {
      let rows: Vec<(i32, i64)> = meetings::Entity::find()
        .select_only()
        .column(meetings::Column::Year)
        .column_as(
          Expr::expr(Func::count(Expr::col(meetings::Column::MeetingKey))),
          "meetings",
        )
        .group_by(meetings::Column::Year)
        .order_by_asc(meetings::Column::Year)
        .into_tuple()
        .all(&state.database)
        .await?;
      Ok(
        rows
          .into_iter()
          .map(|(year, meetings)| Season { year, meetings })
          .collect::<Vec<_>>(),
      )
    }
    .await;
    match result {
      Ok(seasons) => {
        let total = seasons.len() as u64;
        CollectionResponse::Ok(Json(seasons), total, None, calendar_cache_control())
      }
      Err(error) => error.into(),
    }
  }

  /// Drivers' standings
  ///
  /// The drivers' championship after round `after_round` (default: the latest round with results), e.g.
  /// `GET /v1/seasons/2024/standings/drivers?after_round=5`. Points come from Open F1's `championship_drivers`
  /// table where it holds the round's Grand Prix (`source: championship`), otherwise they are summed from the
  /// results of every Grand Prix and sprint so far (`source: session_results`; a result published without
  /// points scores by its finishing position under that year's points system, as `notes` then say). Ties are
  /// broken by countback on Grand Prix results.
  #[oai(
    path = "/:year/standings/drivers",
    method = "get",
    operation_id = "get_driver_standings"
  )]
  async fn driver_standings(
    &self,
    state: Data<&AppState>,
    /// Season year.
    year: Path<i32>,
    /// The round (1 = the season's first Grand Prix weekend) after which to rank; default the latest round with
    /// results. A round beyond that is answered 400.
    #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
    after_round: Query<Option<i32>>,
  ) -> StandingsResponse<DriversStandings> {
    let result: Result<_, ApiError> = async {
      let season = season_results(&state, year.0).await?;
      Ok(season.driver_standings(after_round.0)?)
    }
    .await;
    respond(result, year.0, &state)
  }

  /// Teams' standings
  ///
  /// The constructors' championship after round `after_round` (default: the latest round with results), e.g.
  /// `GET /v1/seasons/2024/standings/teams?after_round=5`. Points come from Open F1's `championship_teams` table
  /// where it holds the round's Grand Prix (`source: championship`), otherwise they are summed from the results
  /// of every Grand Prix and sprint so far, each driver's points going to the team they drove for in that
  /// session (`source: session_results`).
  #[oai(
    path = "/:year/standings/teams",
    method = "get",
    operation_id = "get_team_standings"
  )]
  async fn team_standings(
    &self,
    state: Data<&AppState>,
    /// Season year.
    year: Path<i32>,
    /// The round (1 = the season's first Grand Prix weekend) after which to rank; default the latest round with
    /// results. A round beyond that is answered 400.
    #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
    after_round: Query<Option<i32>>,
  ) -> StandingsResponse<TeamsStandings> {
    let result: Result<_, ApiError> = async {
      let season = season_results(&state, year.0).await?;
      Ok(season.team_standings(after_round.0)?)
    }
    .await;
    respond(result, year.0, &state)
  }
}

/// Championship standings, or why there are none.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "standings_bad_request")]
pub enum StandingsResponse<T: ToJSON + Send + Sync> {
  /// The standings. `ETag` identifies the body.
  #[oai(status = 200)]
  Ok(
    Json<T>,
    /// `public, max-age=…`: short for the current season, long for past ones.
    #[oai(header = "Cache-Control")]
    String,
  ),
  /// The body did not change (`If-None-Match` matched the `ETag`).
  #[oai(status = 304)]
  NotModified,
  /// A parameter is invalid (e.g. `after_round` beyond the latest round with results); `detail` names it.
  #[oai(status = 400, content_type = "application/problem+json")]
  BadRequest(Json<Problem>),
  /// The query string is longer than 4096 bytes (answered by the request-limit layer, before any handler).
  #[oai(status = 414, content_type = "application/problem+json")]
  UriTooLong(Json<Problem>),
  /// No session, or no result, is stored for the season.
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
  StandingsResponse<T>,
  bad_request_handler = standings_bad_request,
  path_parameters = ["year"],
);

impl From<StandingsError> for ApiError {
  fn from(error: StandingsError) -> Self {
    match error {
      StandingsError::NotFound(message) => Self::NotFound(message),
      StandingsError::InvalidRound(message) => Self::InvalidParameter {
        name: "after_round",
        message,
      },
      StandingsError::Database(error) => Self::Database(error),
    }
  }
}

/// The season's results, or 404 when no session of `year` is stored.
async fn season_results(state: &AppState, year: i32) -> Result<SeasonResults, ApiError> {
  SeasonResults::load(&state.database, year)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("No season {year} stored.")))
}

fn respond<T: ToJSON + Send + Sync>(
  result: Result<T, ApiError>,
  year: i32,
  state: &AppState,
) -> StandingsResponse<T> {
  match result {
    Ok(body) => StandingsResponse::Ok(
      Json(body),
      format!(
        "public, max-age={}",
        season_time_to_live(year, &state.settings).as_secs()
      ),
    ),
    Err(error) => error.into(),
  }
}
