//! Creates `ingest_state`: the worker's bookkeeping of what it has ingested and when to look again.

use sea_orm_migration::prelude::*;

use crate::date_time_column;

/// Creates `ingest_state`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
  async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    manager
      .create_table(
        Table::create()
          .table("ingest_state")
          .if_not_exists()
          .col(ColumnDef::new("session_key").integer().not_null())
          .col(ColumnDef::new("status").string_len(16).not_null())
          .col(
            ColumnDef::new("refresh_count")
              .integer()
              .not_null()
              .default(0),
          )
          .col(date_time_column("ingested_at", backend).null())
          .col(date_time_column("next_refresh_at", backend).null())
          .col(ColumnDef::new("last_error").text().null())
          .col(date_time_column("updated_at", backend).not_null())
          .primary_key(Index::create().col("session_key"))
          .to_owned(),
      )
      .await?;
    manager
      .create_index(
        Index::create()
          .name("idx_ingest_state_next_refresh_at")
          .table("ingest_state")
          .col("next_refresh_at")
          .to_owned(),
      )
      .await
  }

  async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
    manager
      .drop_table(Table::drop().table("ingest_state").if_exists().to_owned())
      .await
  }
}
