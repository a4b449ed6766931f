//! Creates the sixteen per-session data tables, each keyed by its natural key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::date_time_column;

/// Creates the sixteen per-session data tables, each keyed by its natural key.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
  async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    manager.create_table(create_drivers(backend)).await?;
    manager.create_table(create_laps(backend)).await?;
    manager.create_table(create_car_data(backend)).await?;
    manager.create_table(create_location(backend)).await?;
    manager.create_table(create_position(backend)).await?;
    manager.create_table(create_intervals(backend)).await?;
    manager.create_table(create_pit(backend)).await?;
    manager.create_table(create_stints(backend)).await?;
    manager.create_table(create_weather(backend)).await?;
    manager.create_table(create_race_control(backend)).await?;
    manager.create_table(create_team_radio(backend)).await?;
    manager.create_table(create_session_result(backend)).await?;
    manager.create_table(create_starting_grid(backend)).await?;
    manager.create_table(create_overtakes(backend)).await?;
    manager
      .create_table(create_championship_drivers(backend))
      .await?;
    manager
      .create_table(create_championship_teams(backend))
      .await?;
    manager
      .create_index(
        Index::create()
          .name("idx_laps_session_key_lap_number")
          .table("laps")
          .col("session_key")
          .col("lap_number")
          .to_owned(),
      )
      .await?;
    manager
      .create_index(
        Index::create()
          .name("idx_position_session_key_date")
          .table("position")
          .col("session_key")
          .col("date")
          .to_owned(),
      )
      .await?;
    manager
      .create_index(
        Index::create()
          .name("idx_intervals_session_key_date")
          .table("intervals")
          .col("session_key")
          .col("date")
          .to_owned(),
      )
      .await?;
    manager
      .create_index(
        Index::create()
          .name("idx_race_control_session_key_date")
          .table("race_control")
          .col("session_key")
          .col("date")
          .to_owned(),
      )
      .await?;
    Ok(())
  }

  async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
    manager
      .drop_table(
        Table::drop()
          .table("championship_teams")
          .if_exists()
          .to_owned(),
      )
      .await?;
    manager
      .drop_table(
        Table::drop()
          .table("championship_drivers")
          .if_exists()
          .to_owned(),
      )
      .await?;
    manager
      .drop_table(Table::drop().table("overtakes").if_exists().to_owned())
      .await?;
    manager
      .drop_table(Table::drop().table("starting_grid").if_exists().to_owned())
      .await?;
    manager
      .drop_table(Table::drop().table("session_result").if_exists().to_owned())
      .await?;
    manager
      .drop_table(Table::drop().table("team_radio").if_exists().to_owned())
      .await?;
    manager
      .drop_table(Table::drop().table("race_control").if_exists().to_owned())
      .await?;
    manager
      .drop_table(Table::drop().table("weather").if_exists().to_owned())
      .await?;
    manager
      .drop_table(Table::drop().table("stints").if_exists().to_owned())
      .await?;
    manager
      .drop_table(Table::drop().table("pit").if_exists().to_owned())
      .await?;
    manager
      .drop_table(Table::drop().table("intervals").if_exists().to_owned())
      .await?;
    manager
      .drop_table(Table::drop().table("position").if_exists().to_owned())
      .await?;
    manager
      .drop_table(Table::drop().table("location").if_exists().to_owned())
      .await?;
    manager
      .drop_table(Table::drop().table("car_data").if_exists().to_owned())
      .await?;
    manager
      .drop_table(Table::drop().table("laps").if_exists().to_owned())
      .await?;
    manager
      .drop_table(Table::drop().table("drivers").if_exists().to_owned())
      .await?;
    Ok(())
  }
}

/// `drivers`: A driver's entry in one session.
fn create_drivers(_backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("drivers")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(ColumnDef::new("driver_number").integer().not_null())
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(ColumnDef::new("broadcast_name").string_len(128).null())
    .col(ColumnDef::new("full_name").string_len(128).null())
    .col(ColumnDef::new("first_name").string_len(128).null())
    .col(ColumnDef::new("last_name").string_len(128).null())
    .col(ColumnDef::new("name_acronym").string_len(8).null())
    .col(ColumnDef::new("team_name").string_len(128).null())
    .col(ColumnDef::new("team_colour").string_len(16).null())
    .col(ColumnDef::new("headshot_url").string_len(512).null())
    .col(ColumnDef::new("country_code").string_len(8).null())
    .primary_key(Index::create().col("session_key").col("driver_number"))
    .to_owned()
}
/// `laps`: One lap of one driver.
fn create_laps(backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("laps")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(ColumnDef::new("driver_number").integer().not_null())
    .col(ColumnDef::new("lap_number").integer().not_null())
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(date_time_column("date_start", backend).null())
    .col(ColumnDef::new("duration_sector_1").double().null())
    .col(ColumnDef::new("duration_sector_2").double().null())
    .col(ColumnDef::new("duration_sector_3").double().null())
    .col(ColumnDef::new("lap_duration").double().null())
    .col(ColumnDef::new("i1_speed").integer().null())
    .col(ColumnDef::new("i2_speed").integer().null())
    .col(ColumnDef::new("st_speed").integer().null())
    .col(ColumnDef::new("is_pit_out_lap").boolean().null())
    .col(ColumnDef::new("segments_sector_1").json().null())
    .col(ColumnDef::new("segments_sector_2").json().null())
    .col(ColumnDef::new("segments_sector_3").json().null())
    .primary_key(
      Index::create()
        .col("session_key")
        .col("driver_number")
        .col("lap_number"),
    )
    .to_owned()
}
/// `car_data`: One car telemetry sample (~3.7 Hz per car).
fn create_car_data(backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("car_data")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(ColumnDef::new("driver_number").integer().not_null())
    .col(date_time_column("date", backend).not_null())
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(ColumnDef::new("rpm").integer().null())
    .col(ColumnDef::new("speed").integer().null())
    .col(ColumnDef::new("n_gear").integer().null())
    .col(ColumnDef::new("throttle").integer().null())
    .col(ColumnDef::new("brake").integer().null())
    .col(ColumnDef::new("drs").integer().null())
    .primary_key(
      Index::create()
        .col("session_key")
        .col("driver_number")
        .col("date"),
    )
    .to_owned()
}
/// `location`: One car position sample on the track map (~3.7 Hz per car).
fn create_location(backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("location")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(ColumnDef::new("driver_number").integer().not_null())
    .col(date_time_column("date", backend).not_null())
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(ColumnDef::new("x").integer().null())
    .col(ColumnDef::new("y").integer().null())
    .col(ColumnDef::new("z").integer().null())
    .primary_key(
      Index::create()
        .col("session_key")
        .col("driver_number")
        .col("date"),
    )
    .to_owned()
}
/// `position`: A change of a driver's running position.
fn create_position(backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("position")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(ColumnDef::new("driver_number").integer().not_null())
    .col(date_time_column("date", backend).not_null())
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(ColumnDef::new("position").integer().not_null())
    .primary_key(
      Index::create()
        .col("session_key")
        .col("driver_number")
        .col("date"),
    )
    .to_owned()
}
/// `intervals`: A gap sample (races only, ~every 4 s).
fn create_intervals(backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("intervals")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(ColumnDef::new("driver_number").integer().not_null())
    .col(date_time_column("date", backend).not_null())
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(ColumnDef::new("gap_to_leader").double().null())
    .col(ColumnDef::new("gap_to_leader_text").string_len(16).null())
    .col(ColumnDef::new("interval").double().null())
    .col(ColumnDef::new("interval_text").string_len(16).null())
    .primary_key(
      Index::create()
        .col("session_key")
        .col("driver_number")
        .col("date"),
    )
    .to_owned()
}
/// `pit`: A pit-lane visit.
fn create_pit(backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("pit")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(ColumnDef::new("driver_number").integer().not_null())
    .col(ColumnDef::new("lap_number").integer().not_null())
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(date_time_column("date", backend).null())
    .col(ColumnDef::new("lane_duration").double().null())
    .col(ColumnDef::new("pit_duration").double().null())
    .col(ColumnDef::new("stop_duration").double().null())
    .primary_key(
      Index::create()
        .col("session_key")
        .col("driver_number")
        .col("lap_number"),
    )
    .to_owned()
}
/// `stints`: A run on one set of tyres.
fn create_stints(_backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("stints")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(ColumnDef::new("driver_number").integer().not_null())
    .col(ColumnDef::new("stint_number").integer().not_null())
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(ColumnDef::new("lap_start").integer().null())
    .col(ColumnDef::new("lap_end").integer().null())
    .col(ColumnDef::new("compound").string_len(32).null())
    .col(ColumnDef::new("tyre_age_at_start").integer().null())
    .primary_key(
      Index::create()
        .col("session_key")
        .col("driver_number")
        .col("stint_number"),
    )
    .to_owned()
}
/// `weather`: A weather sample (every minute).
fn create_weather(backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("weather")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(date_time_column("date", backend).not_null())
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(ColumnDef::new("air_temperature").double().null())
    .col(ColumnDef::new("track_temperature").double().null())
    .col(ColumnDef::new("humidity").double().null())
    .col(ColumnDef::new("pressure").double().null())
    .col(ColumnDef::new("rainfall").integer().null())
    .col(ColumnDef::new("wind_direction").integer().null())
    .col(ColumnDef::new("wind_speed").double().null())
    .primary_key(Index::create().col("session_key").col("date"))
    .to_owned()
}
/// `race_control`: A race control message (flags, safety car, incidents).
fn create_race_control(backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("race_control")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(ColumnDef::new("event_key").char_len(32).not_null())
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(date_time_column("date", backend).null())
    .col(ColumnDef::new("category").string_len(32).null())
    .col(ColumnDef::new("flag").string_len(32).null())
    .col(ColumnDef::new("scope").string_len(16).null())
    .col(ColumnDef::new("sector").integer().null())
    .col(ColumnDef::new("driver_number").integer().null())
    .col(ColumnDef::new("lap_number").integer().null())
    .col(ColumnDef::new("qualifying_phase").integer().null())
    .col(ColumnDef::new("message").text().null())
    .primary_key(Index::create().col("session_key").col("event_key"))
    .to_owned()
}
/// `team_radio`: A team radio recording.
fn create_team_radio(backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("team_radio")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(ColumnDef::new("driver_number").integer().not_null())
    .col(date_time_column("date", backend).not_null())
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(ColumnDef::new("recording_url").string_len(512).null())
    .primary_key(
      Index::create()
        .col("session_key")
        .col("driver_number")
        .col("date"),
    )
    .to_owned()
}
/// `session_result`: A driver's classified result in a session.
fn create_session_result(_backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("session_result")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(ColumnDef::new("driver_number").integer().not_null())
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(ColumnDef::new("position").integer().null())
    .col(ColumnDef::new("number_of_laps").integer().null())
    .col(ColumnDef::new("dnf").boolean().null())
    .col(ColumnDef::new("dns").boolean().null())
    .col(ColumnDef::new("dsq").boolean().null())
    .col(ColumnDef::new("duration").json().null())
    .col(ColumnDef::new("gap_to_leader").json().null())
    .col(ColumnDef::new("points").double().null())
    .primary_key(Index::create().col("session_key").col("driver_number"))
    .to_owned()
}
/// `starting_grid`: A grid slot, keyed by the qualifying session that set it.
fn create_starting_grid(_backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("starting_grid")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(ColumnDef::new("driver_number").integer().not_null())
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(ColumnDef::new("position").integer().null())
    .col(ColumnDef::new("lap_duration").double().null())
    .primary_key(Index::create().col("session_key").col("driver_number"))
    .to_owned()
}
/// `overtakes`: An overtake (races only; may be incomplete upstream).
fn create_overtakes(backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("overtakes")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(date_time_column("date", backend).not_null())
    .col(
      ColumnDef::new("overtaking_driver_number")
        .integer()
        .not_null(),
    )
    .col(
      ColumnDef::new("overtaken_driver_number")
        .integer()
        .not_null(),
    )
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(ColumnDef::new("position").integer().null())
    .primary_key(
      Index::create()
        .col("session_key")
        .col("date")
        .col("overtaking_driver_number")
        .col("overtaken_driver_number"),
    )
    .to_owned()
}
/// `championship_drivers`: Drivers' championship standing before and after a race.
fn create_championship_drivers(_backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("championship_drivers")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(ColumnDef::new("driver_number").integer().not_null())
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(ColumnDef::new("position_start").integer().null())
    .col(ColumnDef::new("position_current").integer().null())
    .col(ColumnDef::new("points_start").double().null())
    .col(ColumnDef::new("points_current").double().null())
    .primary_key(Index::create().col("session_key").col("driver_number"))
    .to_owned()
}
/// `championship_teams`: Teams' championship standing before and after a race.
fn create_championship_teams(_backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("championship_teams")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(ColumnDef::new("team_name").string_len(128).not_null())
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(ColumnDef::new("team_colour").string_len(16).null())
    .col(ColumnDef::new("position_start").integer().null())
    .col(ColumnDef::new("position_current").integer().null())
    .col(ColumnDef::new("points_start").double().null())
    .col(ColumnDef::new("points_current").double().null())
    .primary_key(Index::create().col("session_key").col("team_name"))
    .to_owned()
}
