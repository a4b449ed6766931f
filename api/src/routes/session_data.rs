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

/// Writes the per-session list operations from one table of them: each entry gives the operation's documentation,
/// path, `operationId`, handler name and row type, the table and its order, the page size (`default`:
/// `API_MAX_PAGE_SIZE`, `telemetry`: [`TELEMETRY_DEFAULT_LIMIT`]), its filter parameters and how they narrow the
/// select. The parameters every list shares (`session_key` first; `limit` and `offset` last) and the answer
/// ([`ListRequest::respond`]) are written once, here. `#[OpenApi]` reads the impl only after this macro has written
/// it, so the OpenAPI document is the one the handlers would give written out by hand.
macro_rules! session_list_operations {
  // Each entry's page size becomes the documentation of its `limit` and its default page size.
  (@entries [$($done:tt)*] { page: default, $($entry:tt)* } $($rest:tt)*) => {
    session_list_operations!(@entries [$($done)*] {
      limit: ("Page size (1 to `API_MAX_PAGE_SIZE`, default `API_MAX_PAGE_SIZE`).", None), $($entry)*
    } $($rest)*);
  };
  (@entries [$($done:tt)*] { page: telemetry, $($entry:tt)* } $($rest:tt)*) => {
    session_list_operations!(@entries [$($done)*] {
      limit: ("Page size (1 to `API_MAX_PAGE_SIZE`, default `100`).", Some(TELEMETRY_DEFAULT_LIMIT)), $($entry)*
    } $($rest)*);
  };
  (@entries [$($done:tt)*] {
    limit: ($limit_documentation:literal, $default_limit:expr),
    $(#[doc = $documentation:literal])*
    get $path:literal as $operation_id:literal => fn $name:ident -> $row:ty;
    rows of $table:ident ordered by [$($order:ident),+];
    filters ($($(#[$($filter_attribute:tt)*])* $filter:ident: $filter_type:ty),* $(,)?);
    |$select:ident| $narrow:expr;
  } $($rest:tt)*) => {
    session_list_operations!(@entries [$($done)*
      $(#[doc = $documentation])*
      #[oai(path = $path, method = "get", operation_id = $operation_id)]
      async fn $name(
        &self,
        state: Data<&AppState>,
        uri: &poem::http::Uri,
        /// Open F1 session key.
        session_key: Path<i32>,
        $($(#[$($filter_attribute)*])* $filter: $filter_type,)*
        #[doc = $limit_documentation]
        #[oai(validator(minimum(value = "1")))]
        limit: Query<Option<u64>>,
        /// Rows to skip (default 0).
        #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
        offset: Query<Option<u64>>,
      ) -> CollectionResponse<$row> {
        let request = ListRequest {
          collection: CollectionRequest::new(&state, uri, limit.0, offset.0)
            .with_default_limit($default_limit),
          session_key: session_key.0,
        };
        request
          .respond::<$table::Entity, _>(
            $table::Column::SessionKey,
            &[$($table::Column::$order),+],
            |$select| Ok($narrow),
          )
          .await
      }
    ] $($rest)*);
  };
  (@entries [$($done:tt)*]) => {
    #[OpenApi(tag = "ApiTags::SessionData")]
    #[allow(clippy::too_many_arguments)]
    impl SessionDataApi {
      $($done)*
    }
  };
  ($($entries:tt)*) => {
    session_list_operations!(@entries [] $($entries)*);
  };
}

session_list_operations! {
  {
    page: default,
    /// Drivers
    ///
    /// The drivers entered in the session, by car number.
    get "/v1/sessions/:session_key/drivers" as "list_drivers" => fn list_drivers -> Driver;
    rows of drivers ordered by [DriverNumber];
    filters (
      /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
      #[oai(explode = true)]
      driver_number: Query<Option<Vec<DriverNumberList>>>,
    );
    |select| select.filter_in(drivers::Column::DriverNumber, &flatten(driver_number.0.as_deref()));
  }
  {
    page: default,
    /// Laps
    ///
    /// Laps by driver, then lap number.
    get "/v1/sessions/:session_key/laps" as "list_laps" => fn list_laps -> Lap;
    rows of laps ordered by [DriverNumber, LapNumber];
    filters (
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
    );
    |select| select
      .filter_in(laps::Column::DriverNumber, &flatten(driver_number.0.as_deref()))
      .filter_range(laps::Column::LapNumber, lap_min.0, lap_max.0)
      .filter_range(laps::Column::DateStart, date_from.0, date_to.0);
  }
  {
    page: default,
    /// Stints
    ///
    /// Tyre stints by driver, then stint number. `compound` matches case-insensitively (SOFT, MEDIUM, HARD, INTERMEDIATE, WET).
    get "/v1/sessions/:session_key/stints" as "list_stints" => fn list_stints -> Stint;
    rows of stints ordered by [DriverNumber, StintNumber];
    filters (
      /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
      #[oai(explode = true)]
      driver_number: Query<Option<Vec<DriverNumberList>>>,
      /// Tyre compound, e.g. `SOFT`.
      compound: Query<Option<String>>,
    );
    |select| select
      .filter_in(stints::Column::DriverNumber, &flatten(driver_number.0.as_deref()))
      .filter_optional(
        compound
          .0
          .as_ref()
          .map(|compound| stints::Column::Compound.eq(compound.to_uppercase())),
      );
  }
  {
    page: default,
    /// Pit stops
    ///
    /// Pit-lane visits by driver, then lap number.
    get "/v1/sessions/:session_key/pit" as "list_pit_stops" => fn list_pit_stops -> PitStop;
    rows of pit ordered by [DriverNumber, LapNumber];
    filters (
      /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
      #[oai(explode = true)]
      driver_number: Query<Option<Vec<DriverNumberList>>>,
      /// Lowest lap number (inclusive).
      lap_min: Query<Option<i32>>,
      /// Highest lap number (inclusive).
      lap_max: Query<Option<i32>>,
    );
    |select| select
      .filter_in(pit::Column::DriverNumber, &flatten(driver_number.0.as_deref()))
      .filter_range(pit::Column::LapNumber, lap_min.0, lap_max.0);
  }
  {
    page: default,
    /// Positions
    ///
    /// Running-position changes by driver, then time.
    get "/v1/sessions/:session_key/position" as "list_positions" => fn list_positions -> Position;
    rows of position ordered by [DriverNumber, Date];
    filters (
      /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
      #[oai(explode = true)]
      driver_number: Query<Option<Vec<DriverNumberList>>>,
      /// Earliest time (inclusive, RFC 3339).
      date_from: Query<Option<DateTime<Utc>>>,
      /// Latest time (inclusive, RFC 3339).
      date_to: Query<Option<DateTime<Utc>>>,
    );
    |select| select
      .filter_in(position::Column::DriverNumber, &flatten(driver_number.0.as_deref()))
      .filter_range(position::Column::Date, date_from.0, date_to.0);
  }
  {
    page: default,
    /// Intervals
    ///
    /// Gap samples by driver, then time. `gap_to_leader` and `interval` are a number of seconds, a text such as "+1 LAP", or null, as upstream sent them.
    get "/v1/sessions/:session_key/intervals" as "list_intervals" => fn list_intervals -> Interval;
    rows of intervals ordered by [DriverNumber, Date];
    filters (
      /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
      #[oai(explode = true)]
      driver_number: Query<Option<Vec<DriverNumberList>>>,
      /// Earliest time (inclusive, RFC 3339).
      date_from: Query<Option<DateTime<Utc>>>,
      /// Latest time (inclusive, RFC 3339).
      date_to: Query<Option<DateTime<Utc>>>,
    );
    |select| select
      .filter_in(intervals::Column::DriverNumber, &flatten(driver_number.0.as_deref()))
      .filter_range(intervals::Column::Date, date_from.0, date_to.0);
  }
  {
    page: default,
    /// Weather
    ///
    /// Weather samples by time.
    get "/v1/sessions/:session_key/weather" as "list_weather" => fn list_weather -> Weather;
    rows of weather ordered by [Date];
    filters (
      /// Earliest time (inclusive, RFC 3339).
      date_from: Query<Option<DateTime<Utc>>>,
      /// Latest time (inclusive, RFC 3339).
      date_to: Query<Option<DateTime<Utc>>>,
    );
    |select| select.filter_range(weather::Column::Date, date_from.0, date_to.0);
  }
  {
    page: default,
    /// Race control messages
    ///
    /// Messages by time. `category` (e.g. `Flag`, `SafetyCar`) and `flag` (e.g. `YELLOW`) match exactly.
    get "/v1/sessions/:session_key/race_control" as "list_race_control" => fn list_race_control -> RaceControlMessage;
    rows of race_control ordered by [Date, EventKey];
    filters (
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
    );
    |select| select
      .filter_in(race_control::Column::DriverNumber, &flatten(driver_number.0.as_deref()))
      .filter_optional(category.0.clone().map(|category| race_control::Column::Category.eq(category)))
      .filter_optional(flag.0.clone().map(|flag| race_control::Column::Flag.eq(flag)))
      .filter_range(race_control::Column::LapNumber, lap_min.0, lap_max.0)
      .filter_range(race_control::Column::Date, date_from.0, date_to.0);
  }
  {
    page: default,
    /// Team radio
    ///
    /// Radio recordings by driver, then time.
    get "/v1/sessions/:session_key/team_radio" as "list_team_radio" => fn list_team_radio -> TeamRadio;
    rows of team_radio ordered by [DriverNumber, Date];
    filters (
      /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
      #[oai(explode = true)]
      driver_number: Query<Option<Vec<DriverNumberList>>>,
      /// Earliest time (inclusive, RFC 3339).
      date_from: Query<Option<DateTime<Utc>>>,
      /// Latest time (inclusive, RFC 3339).
      date_to: Query<Option<DateTime<Utc>>>,
    );
    |select| select
      .filter_in(team_radio::Column::DriverNumber, &flatten(driver_number.0.as_deref()))
      .filter_range(team_radio::Column::Date, date_from.0, date_to.0);
  }
  {
    page: default,
    /// Session result
    ///
    /// Classified results by car number. `duration` and `gap_to_leader` are as upstream sent them: a number, a text such as "+1 LAP", or `[Q1, Q2, Q3]` in qualifying.
    get "/v1/sessions/:session_key/session_result" as "list_session_results" => fn list_session_results -> SessionResult;
    rows of session_result ordered by [DriverNumber];
    filters (
      /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
      #[oai(explode = true)]
      driver_number: Query<Option<Vec<DriverNumberList>>>,
    );
    |select| select.filter_in(session_result::Column::DriverNumber, &flatten(driver_number.0.as_deref()));
  }
  {
    page: default,
    /// Starting grid
    ///
    /// Grid slots set by this (qualifying) session, by car number.
    get "/v1/sessions/:session_key/starting_grid" as "list_starting_grid" => fn list_starting_grid -> GridSlot;
    rows of starting_grid ordered by [DriverNumber];
    filters (
      /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
      #[oai(explode = true)]
      driver_number: Query<Option<Vec<DriverNumberList>>>,
    );
    |select| select.filter_in(starting_grid::Column::DriverNumber, &flatten(driver_number.0.as_deref()));
  }
  {
    page: default,
    /// Overtakes
    ///
    /// Overtakes by time. `driver_number` matches the overtaking or the overtaken driver.
    get "/v1/sessions/:session_key/overtakes" as "list_overtakes" => fn list_overtakes -> Overtake;
    rows of overtakes ordered by [Date, OvertakingDriverNumber, OvertakenDriverNumber];
    filters (
      /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
      #[oai(explode = true)]
      driver_number: Query<Option<Vec<DriverNumberList>>>,
      /// Earliest time (inclusive, RFC 3339).
      date_from: Query<Option<DateTime<Utc>>>,
      /// Latest time (inclusive, RFC 3339).
      date_to: Query<Option<DateTime<Utc>>>,
    );
    |select| {
      let drivers = flatten(driver_number.0.as_deref());
      select
        .filter_optional((!drivers.is_empty()).then(|| {
          Condition::any()
            .add(overtakes::Column::OvertakingDriverNumber.is_in(drivers.clone()))
            .add(overtakes::Column::OvertakenDriverNumber.is_in(drivers.clone()))
        }))
        .filter_range(overtakes::Column::Date, date_from.0, date_to.0)
    };
  }
  {
    page: telemetry,
    /// Car telemetry
    ///
    /// Telemetry samples (~3.7 Hz per car) by driver, then time; served from the `(session_key, driver_number, date)` primary key. Default page size 100.
    get "/v1/sessions/:session_key/car_data" as "list_car_data" => fn list_car_data -> CarData;
    rows of car_data ordered by [DriverNumber, Date];
    filters (
      /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
      #[oai(explode = true)]
      driver_number: Query<Option<Vec<DriverNumberList>>>,
      /// Earliest time (inclusive, RFC 3339).
      date_from: Query<Option<DateTime<Utc>>>,
      /// Latest time (inclusive, RFC 3339).
      date_to: Query<Option<DateTime<Utc>>>,
    );
    |select| select
      .filter_in(car_data::Column::DriverNumber, &flatten(driver_number.0.as_deref()))
      .filter_range(car_data::Column::Date, date_from.0, date_to.0);
  }
  {
    page: telemetry,
    /// Car locations
    ///
    /// Track-map positions (~3.7 Hz per car) by driver, then time; served from the `(session_key, driver_number, date)` primary key. Default page size 100.
    get "/v1/sessions/:session_key/location" as "list_locations" => fn list_locations -> Location;
    rows of location ordered by [DriverNumber, Date];
    filters (
      /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
      #[oai(explode = true)]
      driver_number: Query<Option<Vec<DriverNumberList>>>,
      /// Earliest time (inclusive, RFC 3339).
      date_from: Query<Option<DateTime<Utc>>>,
      /// Latest time (inclusive, RFC 3339).
      date_to: Query<Option<DateTime<Utc>>>,
    );
    |select| select
      .filter_in(location::Column::DriverNumber, &flatten(driver_number.0.as_deref()))
      .filter_range(location::Column::Date, date_from.0, date_to.0);
  }
  {
    page: default,
    /// Drivers' championship
    ///
    /// Drivers' standings before and after this race, by car number.
    get "/v1/sessions/:session_key/championship_drivers" as "list_championship_drivers" => fn list_championship_drivers -> DriverStanding;
    rows of championship_drivers ordered by [DriverNumber];
    filters (
      /// Car numbers: repeat the parameter or give a comma-separated list (`1,44`).
      #[oai(explode = true)]
      driver_number: Query<Option<Vec<DriverNumberList>>>,
    );
    |select| select.filter_in(championship_drivers::Column::DriverNumber, &flatten(driver_number.0.as_deref()));
  }
  {
    page: default,
    /// Teams' championship
    ///
    /// Teams' standings before and after this race, by team name.
    get "/v1/sessions/:session_key/championship_teams" as "list_championship_teams" => fn list_championship_teams -> TeamStanding;
    rows of championship_teams ordered by [TeamName];
    filters (
      /// Team name, exactly.
      team_name: Query<Option<String>>,
    );
    |select| select.filter_optional(
      team_name.0.clone().map(|team_name| championship_teams::Column::TeamName.eq(team_name)),
    );
  }
}
