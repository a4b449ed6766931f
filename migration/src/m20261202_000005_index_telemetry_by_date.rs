//! Indexes `car_data` and `location` by `(session_key, date, driver_number)`: a session's telemetry in time order
//! (how Open F1 answers `?session_key=K`, and how `date>…&date<…` windows are asked for) is read from the index in
//! order, so its ~600,000 rows stream from the first row instead of waiting for a sort.

use sea_orm_migration::prelude::*;

/// The indexed tables and their index names (the api names them in index hints).
pub const INDEXES: [(&str, &str); 2] = [
  ("car_data", "idx_car_data_session_key_date"),
  ("location", "idx_location_session_key_date"),
];

/// Indexes `car_data` and `location` by session, date and driver.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
  async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
    for (table, name) in INDEXES {
      manager
        .create_index(
          Index::create()
            .name(name)
            .table(table)
            .col("session_key")
            .col("date")
            .col("driver_number")
            .to_owned(),
        )
        .await?;
    }
    Ok(())
  }

  async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
    for (table, name) in INDEXES {
      manager
        .drop_index(Index::drop().name(name).table(table).to_owned())
        .await?;
    }
    Ok(())
  }
}
