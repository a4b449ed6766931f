//! `GET /v1/meetings`: Grand Prix weekends.

use entity::meetings;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use sea_orm::{ColumnTrait, EntityTrait};

use crate::AppState;
use crate::bodies::Meeting;
use crate::problem::ApiError;
use crate::routes::{
  ApiTags, CollectionResponse, Page, SelectFilters, calendar_cache_control, fetch_page, next_link,
};

/// Meetings.
pub struct MeetingsApi;

#[OpenApi(prefix_path = "/v1/meetings", tag = "ApiTags::Meetings")]
impl MeetingsApi {
  /// List meetings
  ///
  /// Meetings ordered by start date, then meeting key. Paginated (`limit`, `offset`; `X-Total-Count`, `Link`).
  #[oai(path = "/", method = "get", operation_id = "list_meetings")]
  async fn list(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Season year.
    year: Query<Option<i32>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<Meeting> {
    let result: Result<_, ApiError> = async {
      let max = state.settings.max_page_size;
      let page = Page::new(limit.0, offset.0, max, max)?;
      let select = meetings::Entity::find()
        .filter_optional(year.0.map(|year| meetings::Column::Year.eq(year)));
      let (rows, total) = fetch_page(
        &state.database,
        select,
        &[meetings::Column::DateStart, meetings::Column::MeetingKey],
        page,
      )
      .await?;
      Ok((rows, total, page))
    }
    .await;
    match result {
      Ok((rows, total, page)) => CollectionResponse::Ok(
        Json(rows.into_iter().map(Meeting::from).collect()),
        total,
        next_link(uri, &state.settings.public_url, page, total),
        calendar_cache_control(),
      ),
      Err(error) => error.into(),
    }
  }
}
