//! `GET /v1/meetings`: Grand Prix weekends.

use entity::meetings;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::Query;
use sea_orm::{ColumnTrait, EntityTrait};

use crate::AppState;
use crate::bodies::Meeting;
use crate::routes::{
  ApiTags, CollectionRequest, CollectionResponse, SelectFilters, calendar_cache_control,
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
    let request = CollectionRequest::new(&state, uri, limit.0, offset.0);
    request
      .respond::<meetings::Entity, _>(
        &[meetings::Column::DateStart, meetings::Column::MeetingKey],
        async {
          let select = meetings::Entity::find()
            .filter_optional(year.0.map(|year| meetings::Column::Year.eq(year)));
          Ok((select, calendar_cache_control()))
        },
      )
      .await
  }
}
