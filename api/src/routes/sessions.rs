//! `GET /v1/sessions`, `/v1/sessions/latest` and `/v1/sessions/{session_key}`.

use chrono::Utc;
use entity::sessions;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use sea_orm::{ColumnTrait, EntityTrait};

use crate::AppState;
use crate::bodies::SessionView;
use crate::problem::ApiError;
use crate::routes::{
  ApiTags, CollectionRequest, CollectionResponse, ItemResponse, SelectFilters,
  calendar_cache_control, find_latest_started_session, find_session, session_cache_control,
};

/// Sessions.
pub struct SessionsApi;

#[OpenApi(prefix_path = "/v1/sessions", tag = "ApiTags::Sessions")]
impl SessionsApi {
  /// List sessions
  ///
  /// Sessions ordered by start date, then session key. Paginated (`limit`, `offset`; `X-Total-Count`, `Link`).
  #[oai(path = "/", method = "get", operation_id = "list_sessions")]
  #[allow(clippy::too_many_arguments)]
  async fn list(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Season year.
    year: Query<Option<i32>>,
    /// Meeting key.
    meeting_key: Query<Option<i32>>,
    /// Session type: "Practice", "Qualifying" or "Race".
    session_type: Query<Option<String>>,
    /// Session name, e.g. "Race", "Sprint", "Practice 1".
    session_name: Query<Option<String>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<SessionView> {
    let request = CollectionRequest::new(&state, uri, limit.0, offset.0);
    request
      .respond::<sessions::Entity, _>(
        &[sessions::Column::DateStart, sessions::Column::SessionKey],
        async {
          let select = sessions::Entity::find()
            .filter_optional(year.0.map(|year| sessions::Column::Year.eq(year)))
            .filter_optional(
              meeting_key
                .0
                .map(|key| sessions::Column::MeetingKey.eq(key)),
            )
            .filter_optional(
              session_type
                .0
                .clone()
                .map(|value| sessions::Column::SessionType.eq(value)),
            )
            .filter_optional(
              session_name
                .0
                .clone()
                .map(|value| sessions::Column::SessionName.eq(value)),
            );
          Ok((select, calendar_cache_control()))
        },
      )
      .await
  }

  /// Latest session
  ///
  /// The session that started most recently: not one scheduled in the future, and not a cancelled one (like
  /// Open F1's `session_key=latest`).
  #[oai(path = "/latest", method = "get", operation_id = "latest_session")]
  async fn latest(&self, state: Data<&AppState>) -> ItemResponse<SessionView> {
    let result: Result<_, ApiError> = async {
      find_latest_started_session(&state.database, Utc::now())
        .await?
        .ok_or_else(|| ApiError::NotFound("No session has started yet.".to_owned()))
    }
    .await;
    match result {
      // Which session is latest changes when the next one starts: cache like the calendar.
      Ok(session) => ItemResponse::Ok(Json(SessionView::from(session)), calendar_cache_control()),
      Err(error) => error.into(),
    }
  }

  /// Get a session
  #[oai(path = "/:session_key", method = "get", operation_id = "get_session")]
  async fn get(
    &self,
    state: Data<&AppState>,
    /// Open F1 session key.
    session_key: Path<i32>,
  ) -> ItemResponse<SessionView> {
    match find_session(&state.database, session_key.0).await {
      Ok(session) => {
        let cache_control = session_cache_control(&session, &state.settings);
        ItemResponse::Ok(Json(SessionView::from(session)), cache_control)
      }
      Err(error) => error.into(),
    }
  }
}
