//! Creates the season calendar tables: meetings and sessions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::date_time_column;

/// Creates the season calendar tables: meetings and sessions.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
  async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    manager.create_table(create_meetings(backend)).await?;
    manager.create_table(create_sessions(backend)).await?;
    manager
      .create_index(
        Index::create()
          .name("idx_meetings_year_date_start")
          .table("meetings")
          .col("year")
          .col("date_start")
          .to_owned(),
      )
      .await?;
    manager
      .create_index(
        Index::create()
          .name("idx_sessions_year_date_start")
          .table("sessions")
          .col("year")
          .col("date_start")
          .to_owned(),
      )
      .await?;
    manager
      .create_index(
        Index::create()
          .name("idx_sessions_meeting_key")
          .table("sessions")
          .col("meeting_key")
          .to_owned(),
      )
      .await?;
    Ok(())
  }

  async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
    manager
      .drop_table(Table::drop().table("sessions").if_exists().to_owned())
      .await?;
    manager
      .drop_table(Table::drop().table("meetings").if_exists().to_owned())
      .await?;
    Ok(())
  }
}

/// `meetings`: One Grand Prix weekend (or testing event).
fn create_meetings(backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("meetings")
    .if_not_exists()
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(ColumnDef::new("meeting_name").string_len(255).null())
    .col(
      ColumnDef::new("meeting_official_name")
        .string_len(255)
        .null(),
    )
    .col(ColumnDef::new("meeting_code").string_len(16).null())
    .col(ColumnDef::new("location").string_len(128).null())
    .col(ColumnDef::new("country_key").integer().null())
    .col(ColumnDef::new("country_code").string_len(8).null())
    .col(ColumnDef::new("country_name").string_len(128).null())
    .col(ColumnDef::new("country_flag").string_len(512).null())
    .col(ColumnDef::new("circuit_key").integer().null())
    .col(ColumnDef::new("circuit_short_name").string_len(128).null())
    .col(ColumnDef::new("circuit_type").string_len(64).null())
    .col(ColumnDef::new("circuit_info_url").string_len(512).null())
    .col(ColumnDef::new("circuit_image").string_len(512).null())
    .col(ColumnDef::new("gmt_offset").string_len(16).null())
    .col(date_time_column("date_start", backend).null())
    .col(date_time_column("date_end", backend).null())
    .col(ColumnDef::new("year").integer().not_null())
    .col(ColumnDef::new("is_cancelled").boolean().null())
    .primary_key(Index::create().col("meeting_key"))
    .to_owned()
}
/// `sessions`: One session (practice, qualifying, sprint, race) of a meeting.
fn create_sessions(backend: DatabaseBackend) -> TableCreateStatement {
  Table::create()
    .table("sessions")
    .if_not_exists()
    .col(ColumnDef::new("session_key").integer().not_null())
    .col(ColumnDef::new("meeting_key").integer().not_null())
    .col(ColumnDef::new("session_name").string_len(64).null())
    .col(ColumnDef::new("session_type").string_len(32).null())
    .col(date_time_column("date_start", backend).null())
    .col(date_time_column("date_end", backend).null())
    .col(ColumnDef::new("circuit_key").integer().null())
    .col(ColumnDef::new("circuit_short_name").string_len(128).null())
    .col(ColumnDef::new("country_key").integer().null())
    .col(ColumnDef::new("country_code").string_len(8).null())
    .col(ColumnDef::new("country_name").string_len(128).null())
    .col(ColumnDef::new("location").string_len(128).null())
    .col(ColumnDef::new("gmt_offset").string_len(16).null())
    .col(ColumnDef::new("year").integer().not_null())
    .col(ColumnDef::new("is_cancelled").boolean().null())
    .primary_key(Index::create().col("session_key"))
    .to_owned()
}
