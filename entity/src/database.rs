//! Connecting to the database: MariaDB/MySQL when `DATABASE_URL` is set, otherwise an embedded SQLite file.

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};

/// The database used when `DATABASE_URL` is not set: a SQLite file in the working directory, created on demand.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://f1.db?mode=rwc";

/// Pool and timeout settings for [`connect`].
#[derive(Clone, Debug)]
pub struct DatabaseOptions {
  /// Largest number of pooled connections.
  pub max_connections: u32,
  /// How long to wait for a connection (from the pool or a new one) before failing.
  pub acquire_timeout: Duration,
}

impl Default for DatabaseOptions {
  fn default() -> Self {
    Self {
      max_connections: 10,
      acquire_timeout: Duration::from_secs(3),
    }
  }
}

/// Opens a connection pool to `url`.
///
/// SQLite files get WAL journaling and a busy timeout, so that the api can read while the worker writes.
///
/// # Errors
/// Fails when the database cannot be reached within the acquire timeout or the URL is invalid.
pub async fn connect(url: &str, options: &DatabaseOptions) -> Result<DatabaseConnection, DbErr> {
  let mut connect_options = ConnectOptions::new(url.to_owned());
  connect_options
    .max_connections(options.max_connections)
    .min_connections(0)
    .connect_timeout(options.acquire_timeout)
    .acquire_timeout(options.acquire_timeout)
    .sqlx_logging(false);
  let connection = Database::connect(connect_options).await?;
  if connection.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
    connection
      .execute_unprepared("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;")
      .await?;
  }
  Ok(connection)
}
