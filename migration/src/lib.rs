//! Database migrations for the F1 backend.
//!
//! Each migration names its own tables and columns (it does not import the `entity` crate), so a
//! migration never changes once released. They run on MariaDB/MySQL and on SQLite, up and down.
//! Timestamps are `DATETIME(6)` on MySQL (microseconds, as Open F1 sends them) and text on SQLite.

pub use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

mod m20261123_000001_create_calendar;
mod m20261123_000002_create_session_data;
mod m20261123_000003_create_ingest_state;
mod m20261201_000004_create_change_log;

/// Runs every migration of this crate in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
  fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
      Box::new(m20261123_000001_create_calendar::Migration),
      Box::new(m20261123_000002_create_session_data::Migration),
      Box::new(m20261123_000003_create_ingest_state::Migration),
      Box::new(m20261201_000004_create_change_log::Migration),
    ]
  }
}

/// A UTC timestamp column with microsecond precision on every backend.
pub(crate) fn date_time_column(name: &'static str, backend: DatabaseBackend) -> ColumnDef {
  let mut column = ColumnDef::new(name);
  match backend {
    DatabaseBackend::MySql => column.custom("DATETIME(6)"),
    _ => column.date_time(),
  };
  column
}
