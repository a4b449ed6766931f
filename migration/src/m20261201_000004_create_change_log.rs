//! Creates `change_log`: one row per session (or season) whose rows a worker commit changed, written in the same
//! transaction as the data it describes. The api polls it (`id >` its newest) to learn what changed, so it can
//! invalidate cached answers without Redis and push changes to its clients.

use sea_orm_migration::prelude::*;

use crate::date_time_column;

/// Creates `change_log`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
  async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    manager
      .create_table(
        Table::create()
          .table("change_log")
          .if_not_exists()
          .col(
            ColumnDef::new("id")
              .big_integer()
              .not_null()
              .auto_increment()
              .primary_key(),
          )
          .col(date_time_column("committed_at", backend).not_null())
          .col(ColumnDef::new("session_key").integer().null())
          .col(ColumnDef::new("year").integer().null())
          .col(ColumnDef::new("tables").string_len(512).not_null())
          .to_owned(),
      )
      .await?;
    manager
      .create_index(
        Index::create()
          .name("idx_change_log_committed_at")
          .table("change_log")
          .col("committed_at")
          .to_owned(),
      )
      .await?;
    manager
      .create_index(
        Index::create()
          .name("idx_change_log_session_key_id")
          .table("change_log")
          .col("session_key")
          .col("id")
          .to_owned(),
      )
      .await
  }

  async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
    manager
      .drop_table(Table::drop().table("change_log").if_exists().to_owned())
      .await
  }
}
