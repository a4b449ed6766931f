//! `GET /v1/sessions/{session_key}/<kind>`: the rows of every Open F1 data kind for one session.
//!
//! Every list answers 404 when the session does not exist and `200 []` when no row matches the filters. Rows come
//! in the order of their natural key (driver, then lap or time), which the primary key index serves.

use chrono::{DateTime, Utc};
use entity::{
  car_data, championship_drivers, championship_teams, drivers, intervals, laps, location,
  overtakes, pit, position, race_control, session_result, starting_grid, stints, team_radio,
  weather,
};
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::types::ToJSON;
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select};

use crate::AppState;
use crate::bodies::{
  CarData, Driver, DriverStanding, GridSlot, Interval, Lap, Location, Overtake, PitStop, Position,
  RaceControlMessage, SessionResult, Stint, TeamRadio, TeamStanding, Weather,
};
use crate::problem::ApiError;
use crate::routes::driver_list::{DriverNumberList, flatten};
use crate::routes::{
  ApiTags, CollectionRequest, CollectionResponse, SelectFilters, TELEMETRY_DEFAULT_LIMIT,
  find_session, session_cache_control,
};

/// Per-session data.
pub struct SessionDataApi;

/// What every per-session list shares: the page asked for, of the rows of one session.
struct ListRequest<'a> {
  collection: CollectionRequest<'a>,
  session_key: i32,
}

impl ListRequest<'_> {
  /// Validates paging, lets `filter` narrow the select, finds the session (404), reads one page in `order`.
  async fn respond<E, B>(
    self,
    session_column: E::Column,
    order: &[E::Column],
    filter: impl FnOnce(Select<E>) -> Result<Select<E>, ApiError>,
  ) -> CollectionResponse<B>
  where
    E: EntityTrait,
    E::Model: Sync + Into<B>,
    B: ToJSON + Send + Sync,
  {
    let state = self.collection.state();
    let session_key = self.session_key;
    self
      .collection
      .respond(order, async {
        let select = filter(E::find().filter(session_column.eq(session_key)))?;
        let session = find_session(&state.database, session_key).await?;
        Ok((select, session_cache_control(&session, &state.settings)))
      })
      .await
  }
}

#[OpenApi(tag = "ApiTags::SessionData")]
#[allow(clippy::too_many_arguments)]
impl SessionDataApi {
  /// Drivers
  ///
  /// The drivers entered in the session, by car number.
  #[oai(
    path = "/v1/sessions/:session_key/drivers",
    method = "get",
    operation_id = "list_drivers"
  )]
  async fn list_drivers(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
    #[oai(explode = true)]
    driver_number: Query<Option<Vec<DriverNumberList>>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<Driver> {
    let request = ListRequest {
      collection: CollectionRequest::new(&state, uri, limit.0, offset.0),
      session_key: session_key.0,
    };
    request
      .respond::<drivers::Entity, _>(
        drivers::Column::SessionKey,
        &[drivers::Column::DriverNumber],
        |select| {
          let drivers = flatten(driver_number.0.as_deref());
          Ok(select.filter_in(drivers::Column::DriverNumber, &drivers))
        },
      )
      .await
  }

  /// Laps
  ///
  /// Laps by driver, then lap number.
  #[oai(
    path = "/v1/sessions/:session_key/laps",
    method = "get",
    operation_id = "list_laps"
  )]
  async fn list_laps(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
    #[oai(explode = true)]
    driver_number: Query<Option<Vec<DriverNumberList>>>,
    /// Lowest lap number (inclusive).
    lap_min: Query<Option<i32>>,
    /// Highest lap number (inclusive).
    lap_max: Query<Option<i32>>,
    /// Earliest time (inclusive, RFC 3339).
    date_from: Query<Option<DateTime<Utc>>>,
    /// Latest time (inclusive, RFC 3339).
    date_to: Query<Option<DateTime<Utc>>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<Lap> {
    let request = ListRequest {
      collection: CollectionRequest::new(&state, uri, limit.0, offset.0),
      session_key: session_key.0,
    };
    request
      .respond::<laps::Entity, _>(
        laps::Column::SessionKey,
        &[laps::Column::DriverNumber, laps::Column::LapNumber],
        |select| {
          let drivers = flatten(driver_number.0.as_deref());
          let (lap_min, lap_max) = (lap_min.0, lap_max.0);
          let (date_from, date_to) = (date_from.0, date_to.0);
          Ok(
            select
              .filter_in(laps::Column::DriverNumber, &drivers)
              .filter_range(laps::Column::LapNumber, lap_min, lap_max)
              .filter_range(laps::Column::DateStart, date_from, date_to),
          )
        },
      )
      .await
  }

  /// Stints
  ///
  /// Tyre stints by driver, then stint number. `compound` matches case-insensitively (SOFT, MEDIUM, HARD, INTERMEDIATE, WET).
  #[oai(
    path = "/v1/sessions/:session_key/stints",
    method = "get",
    operation_id = "list_stints"
  )]
  async fn list_stints(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
    #[oai(explode = true)]
    driver_number: Query<Option<Vec<DriverNumberList>>>,
    /// Tyre compound, e.g. `SOFT`.
    compound: Query<Option<String>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<Stint> {
    let request = ListRequest {
      collection: CollectionRequest::new(&state, uri, limit.0, offset.0),
      session_key: session_key.0,
    };
    request
      .respond::<stints::Entity, _>(
        stints::Column::SessionKey,
        &[stints::Column::DriverNumber, stints::Column::StintNumber],
        |select| {
          let drivers = flatten(driver_number.0.as_deref());
          Ok(
            select
              .filter_in(stints::Column::DriverNumber, &drivers)
              .filter_optional(
                compound
                  .0
                  .as_ref()
                  .map(|compound| stints::Column::Compound.eq(compound.to_uppercase())),
              ),
          )
        },
      )
      .await
  }

  /// Pit stops
  ///
  /// Pit-lane visits by driver, then lap number.
  #[oai(
    path = "/v1/sessions/:session_key/pit",
    method = "get",
    operation_id = "list_pit_stops"
  )]
  async fn list_pit_stops(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
    #[oai(explode = true)]
    driver_number: Query<Option<Vec<DriverNumberList>>>,
    /// Lowest lap number (inclusive).
    lap_min: Query<Option<i32>>,
    /// Highest lap number (inclusive).
    lap_max: Query<Option<i32>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<PitStop> {
    let request = ListRequest {
      collection: CollectionRequest::new(&state, uri, limit.0, offset.0),
      session_key: session_key.0,
    };
    request
      .respond::<pit::Entity, _>(
        pit::Column::SessionKey,
        &[pit::Column::DriverNumber, pit::Column::LapNumber],
        |select| {
          let drivers = flatten(driver_number.0.as_deref());
          let (lap_min, lap_max) = (lap_min.0, lap_max.0);
          Ok(
            select
              .filter_in(pit::Column::DriverNumber, &drivers)
              .filter_range(pit::Column::LapNumber, lap_min, lap_max),
          )
        },
      )
      .await
  }

  /// Positions
  ///
  /// Running-position changes by driver, then time.
  #[oai(
    path = "/v1/sessions/:session_key/position",
    method = "get",
    operation_id = "list_positions"
  )]
  async fn list_positions(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
    #[oai(explode = true)]
    driver_number: Query<Option<Vec<DriverNumberList>>>,
    /// Earliest time (inclusive, RFC 3339).
    date_from: Query<Option<DateTime<Utc>>>,
    /// Latest time (inclusive, RFC 3339).
    date_to: Query<Option<DateTime<Utc>>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<Position> {
    let request = ListRequest {
      collection: CollectionRequest::new(&state, uri, limit.0, offset.0),
      session_key: session_key.0,
    };
    request
      .respond::<position::Entity, _>(
        position::Column::SessionKey,
        &[position::Column::DriverNumber, position::Column::Date],
        |select| {
          let drivers = flatten(driver_number.0.as_deref());
          let (date_from, date_to) = (date_from.0, date_to.0);
          Ok(
            select
              .filter_in(position::Column::DriverNumber, &drivers)
              .filter_range(position::Column::Date, date_from, date_to),
          )
        },
      )
      .await
  }

  /// Intervals
  ///
  /// Gap samples by driver, then time. `gap_to_leader` and `interval` are a number of seconds, a text such as "+1 LAP", or null, as upstream sent them.
  #[oai(
    path = "/v1/sessions/:session_key/intervals",
    method = "get",
    operation_id = "list_intervals"
  )]
  async fn list_intervals(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
    #[oai(explode = true)]
    driver_number: Query<Option<Vec<DriverNumberList>>>,
    /// Earliest time (inclusive, RFC 3339).
    date_from: Query<Option<DateTime<Utc>>>,
    /// Latest time (inclusive, RFC 3339).
    date_to: Query<Option<DateTime<Utc>>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<Interval> {
    let request = ListRequest {
      collection: CollectionRequest::new(&state, uri, limit.0, offset.0),
      session_key: session_key.0,
    };
    request
      .respond::<intervals::Entity, _>(
        intervals::Column::SessionKey,
        &[intervals::Column::DriverNumber, intervals::Column::Date],
        |select| {
          let drivers = flatten(driver_number.0.as_deref());
          let (date_from, date_to) = (date_from.0, date_to.0);
          Ok(
            select
              .filter_in(intervals::Column::DriverNumber, &drivers)
              .filter_range(intervals::Column::Date, date_from, date_to),
          )
        },
      )
      .await
  }

  /// Weather
  ///
  /// Weather samples by time.
  #[oai(
    path = "/v1/sessions/:session_key/weather",
    method = "get",
    operation_id = "list_weather"
  )]
  async fn list_weather(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Earliest time (inclusive, RFC 3339).
    date_from: Query<Option<DateTime<Utc>>>,
    /// Latest time (inclusive, RFC 3339).
    date_to: Query<Option<DateTime<Utc>>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<Weather> {
    let request = ListRequest {
      collection: CollectionRequest::new(&state, uri, limit.0, offset.0),
      session_key: session_key.0,
    };
    request
      .respond::<weather::Entity, _>(
        weather::Column::SessionKey,
        &[weather::Column::Date],
        |select| {
          let (date_from, date_to) = (date_from.0, date_to.0);
          Ok(select.filter_range(weather::Column::Date, date_from, date_to))
        },
      )
      .await
  }

  /// Race control messages
  ///
  /// Messages by time. `category` (e.g. `Flag`, `SafetyCar`) and `flag` (e.g. `YELLOW`) match exactly.
  #[oai(
    path = "/v1/sessions/:session_key/race_control",
    method = "get",
    operation_id = "list_race_control"
  )]
  async fn list_race_control(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
    #[oai(explode = true)]
    driver_number: Query<Option<Vec<DriverNumberList>>>,
    /// Message category, e.g. `Flag`, `SafetyCar`, `Drs`, `Other`.
    category: Query<Option<String>>,
    /// Flag, e.g. `YELLOW`, `GREEN`, `CHEQUERED`.
    flag: Query<Option<String>>,
    /// Lowest lap number (inclusive).
    lap_min: Query<Option<i32>>,
    /// Highest lap number (inclusive).
    lap_max: Query<Option<i32>>,
    /// Earliest time (inclusive, RFC 3339).
    date_from: Query<Option<DateTime<Utc>>>,
    /// Latest time (inclusive, RFC 3339).
    date_to: Query<Option<DateTime<Utc>>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<RaceControlMessage> {
    let request = ListRequest {
      collection: CollectionRequest::new(&state, uri, limit.0, offset.0),
      session_key: session_key.0,
    };
    request
      .respond::<race_control::Entity, _>(
        race_control::Column::SessionKey,
        &[race_control::Column::Date, race_control::Column::EventKey],
        |select| {
          let drivers = flatten(driver_number.0.as_deref());
          let (lap_min, lap_max) = (lap_min.0, lap_max.0);
          let (date_from, date_to) = (date_from.0, date_to.0);
          Ok(
            select
              .filter_in(race_control::Column::DriverNumber, &drivers)
              .filter_optional(
                category
                  .0
                  .clone()
                  .map(|category| race_control::Column::Category.eq(category)),
              )
              .filter_optional(
                flag
                  .0
                  .clone()
                  .map(|flag| race_control::Column::Flag.eq(flag)),
              )
              .filter_range(race_control::Column::LapNumber, lap_min, lap_max)
              .filter_range(race_control::Column::Date, date_from, date_to),
          )
        },
      )
      .await
  }

  /// Team radio
  ///
  /// Radio recordings by driver, then time.
  #[oai(
    path = "/v1/sessions/:session_key/team_radio",
    method = "get",
    operation_id = "list_team_radio"
  )]
  async fn list_team_radio(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
    #[oai(explode = true)]
    driver_number: Query<Option<Vec<DriverNumberList>>>,
    /// Earliest time (inclusive, RFC 3339).
    date_from: Query<Option<DateTime<Utc>>>,
    /// Latest time (inclusive, RFC 3339).
    date_to: Query<Option<DateTime<Utc>>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<TeamRadio> {
    let request = ListRequest {
      collection: CollectionRequest::new(&state, uri, limit.0, offset.0),
      session_key: session_key.0,
    };
    request
      .respond::<team_radio::Entity, _>(
        team_radio::Column::SessionKey,
        &[team_radio::Column::DriverNumber, team_radio::Column::Date],
        |select| {
          let drivers = flatten(driver_number.0.as_deref());
          let (date_from, date_to) = (date_from.0, date_to.0);
          Ok(
            select
              .filter_in(team_radio::Column::DriverNumber, &drivers)
              .filter_range(team_radio::Column::Date, date_from, date_to),
          )
        },
      )
      .await
  }

  /// Session result
  ///
  /// Classified results by car number. `duration` and `gap_to_leader` are as upstream sent them: a number, a text such as "+1 LAP", or `[Q1, Q2, Q3]` in qualifying.
  #[oai(
    path = "/v1/sessions/:session_key/session_result",
    method = "get",
    operation_id = "list_session_results"
  )]
  async fn list_session_results(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
    #[oai(explode = true)]
    driver_number: Query<Option<Vec<DriverNumberList>>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<SessionResult> {
    let request = ListRequest {
      collection: CollectionRequest::new(&state, uri, limit.0, offset.0),
      session_key: session_key.0,
    };
    request
      .respond::<session_result::Entity, _>(
        session_result::Column::SessionKey,
        &[session_result::Column::DriverNumber],
        |select| {
          let drivers = flatten(driver_number.0.as_deref());
          Ok(select.filter_in(session_result::Column::DriverNumber, &drivers))
        },
      )
      .await
  }

  /// Starting grid
  ///
  /// Grid slots set by this (qualifying) session, by car number.
  #[oai(
    path = "/v1/sessions/:session_key/starting_grid",
    method = "get",
    operation_id = "list_starting_grid"
  )]
  async fn list_starting_grid(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
    #[oai(explode = true)]
    driver_number: Query<Option<Vec<DriverNumberList>>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<GridSlot> {
    let request = ListRequest {
      collection: CollectionRequest::new(&state, uri, limit.0, offset.0),
      session_key: session_key.0,
    };
    request
      .respond::<starting_grid::Entity, _>(
        starting_grid::Column::SessionKey,
        &[starting_grid::Column::DriverNumber],
        |select| {
          let drivers = flatten(driver_number.0.as_deref());
          Ok(select.filter_in(starting_grid::Column::DriverNumber, &drivers))
        },
      )
      .await
  }

  /// Overtakes
  ///
  /// Overtakes by time. `driver_number` matches the overtaking or the overtaken driver.
  #[oai(
    path = "/v1/sessions/:session_key/overtakes",
    method = "get",
    operation_id = "list_overtakes"
  )]
  async fn list_overtakes(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
    #[oai(explode = true)]
    driver_number: Query<Option<Vec<DriverNumberList>>>,
    /// Earliest time (inclusive, RFC 3339).
    date_from: Query<Option<DateTime<Utc>>>,
    /// Latest time (inclusive, RFC 3339).
    date_to: Query<Option<DateTime<Utc>>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<Overtake> {
    let request = ListRequest {
      collection: CollectionRequest::new(&state, uri, limit.0, offset.0),
      session_key: session_key.0,
    };
    request
      .respond::<overtakes::Entity, _>(
        overtakes::Column::SessionKey,
        &[
          overtakes::Column::Date,
          overtakes::Column::OvertakingDriverNumber,
          overtakes::Column::OvertakenDriverNumber,
        ],
        |select| {
          let drivers = flatten(driver_number.0.as_deref());
          let (date_from, date_to) = (date_from.0, date_to.0);
          Ok(
            select
              .filter_optional((!drivers.is_empty()).then(|| {
                Condition::any()
                  .add(overtakes::Column::OvertakingDriverNumber.is_in(drivers.clone()))
                  .add(overtakes::Column::OvertakenDriverNumber.is_in(drivers.clone()))
              }))
              .filter_range(overtakes::Column::Date, date_from, date_to),
          )
        },
      )
      .await
  }

  /// Car telemetry
  ///
  /// Telemetry samples (~3.7 Hz per car) by driver, then time; served from the `(session_key, driver_number, date)` primary key. Default page size 100.
  #[oai(
    path = "/v1/sessions/:session_key/car_data",
    method = "get",
    operation_id = "list_car_data"
  )]
  async fn list_car_data(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
    #[oai(explode = true)]
    driver_number: Query<Option<Vec<DriverNumberList>>>,
    /// Earliest time (inclusive, RFC 3339).
    date_from: Query<Option<DateTime<Utc>>>,
    /// Latest time (inclusive, RFC 3339).
    date_to: Query<Option<DateTime<Utc>>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `100`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<CarData> {
    let request = ListRequest {
      collection: CollectionRequest::new(&state, uri, limit.0, offset.0)
        .with_default_limit(TELEMETRY_DEFAULT_LIMIT),
      session_key: session_key.0,
    };
    request
      .respond::<car_data::Entity, _>(
        car_data::Column::SessionKey,
        &[car_data::Column::DriverNumber, car_data::Column::Date],
        |select| {
          let drivers = flatten(driver_number.0.as_deref());
          let (date_from, date_to) = (date_from.0, date_to.0);
          Ok(
            select
              .filter_in(car_data::Column::DriverNumber, &drivers)
              .filter_range(car_data::Column::Date, date_from, date_to),
          )
        },
      )
      .await
  }

  /// Car locations
  ///
  /// Track-map positions (~3.7 Hz per car) by driver, then time; served from the `(session_key, driver_number, date)` primary key. Default page size 100.
  #[oai(
    path = "/v1/sessions/:session_key/location",
    method = "get",
    operation_id = "list_locations"
  )]
  async fn list_locations(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
    #[oai(explode = true)]
    driver_number: Query<Option<Vec<DriverNumberList>>>,
    /// Earliest time (inclusive, RFC 3339).
    date_from: Query<Option<DateTime<Utc>>>,
    /// Latest time (inclusive, RFC 3339).
    date_to: Query<Option<DateTime<Utc>>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `100`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<Location> {
    let request = ListRequest {
      collection: CollectionRequest::new(&state, uri, limit.0, offset.0)
        .with_default_limit(TELEMETRY_DEFAULT_LIMIT),
      session_key: session_key.0,
    };
    request
      .respond::<location::Entity, _>(
        location::Column::SessionKey,
        &[location::Column::DriverNumber, location::Column::Date],
        |select| {
          let drivers = flatten(driver_number.0.as_deref());
          let (date_from, date_to) = (date_from.0, date_to.0);
          Ok(
            select
              .filter_in(location::Column::DriverNumber, &drivers)
              .filter_range(location::Column::Date, date_from, date_to),
          )
        },
      )
      .await
  }

  /// Drivers' championship
  ///
  /// Drivers' standings before and after this race, by car number.
  #[oai(
    path = "/v1/sessions/:session_key/championship_drivers",
    method = "get",
    operation_id = "list_championship_drivers"
  )]
  async fn list_championship_drivers(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
    #[oai(explode = true)]
    driver_number: Query<Option<Vec<DriverNumberList>>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<DriverStanding> {
    let request = ListRequest {
      collection: CollectionRequest::new(&state, uri, limit.0, offset.0),
      session_key: session_key.0,
    };
    request
      .respond::<championship_drivers::Entity, _>(
        championship_drivers::Column::SessionKey,
        &[championship_drivers::Column::DriverNumber],
        |select| {
          let drivers = flatten(driver_number.0.as_deref());
          Ok(select.filter_in(championship_drivers::Column::DriverNumber, &drivers))
        },
      )
      .await
  }

  /// Teams' championship
  ///
  /// Teams' standings before and after this race, by team name.
  #[oai(
    path = "/v1/sessions/:session_key/championship_teams",
    method = "get",
    operation_id = "list_championship_teams"
  )]
  async fn list_championship_teams(
    &self,
    state: Data<&AppState>,
    uri: &poem::http::Uri,
    /// Open F1 session key.
    session_key: Path<i32>,
    /// Team name, exactly.
    team_name: Query<Option<String>>,
    /// Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).
    #[oai(validator(minimum(value = "1")))]
    limit: Query<Option<u64>>,
    /// Rows to skip (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    offset: Query<Option<u64>>,
  ) -> CollectionResponse<TeamStanding> {
    let request = ListRequest {
      collection: CollectionRequest::new(&state, uri, limit.0, offset.0),
      session_key: session_key.0,
    };
    request
      .respond::<championship_teams::Entity, _>(
        championship_teams::Column::SessionKey,
        &[championship_teams::Column::TeamName],
        |select| {
          Ok(
            select.filter_optional(
              team_name
                .0
                .clone()
                .map(|team_name| championship_teams::Column::TeamName.eq(team_name)),
            ),
          )
        },
      )
      .await
  }
}
