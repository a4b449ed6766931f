//! `GET /v1/seasons`: the years that have data.

use entity::meetings;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::payload::Json;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{EntityTrait, QueryOrder, QuerySelect};

use crate::AppState;
use crate::bodies::Season;
use crate::problem::ApiError;
use crate::routes::{ApiTags, CollectionResponse, calendar_cache_control};

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
}
