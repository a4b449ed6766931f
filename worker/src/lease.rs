//! The single-writer lease: only one worker ingests into a database at a time.
//!
//! - MySQL/MariaDB: `GET_LOCK('f1-worker:<database>')` held on a dedicated connection (not pooled) for the
//!   process lifetime. When the holder dies its connection closes and the server releases the lock, so a
//!   waiting worker takes over.
//! - SQLite: an exclusive OS lock on the file `<database file>.worker-lock`, released by the OS when the
//!   holder exits.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sea_orm::sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sea_orm::sqlx::{self, ConnectOptions, Connection};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// How long one `GET_LOCK` call waits before the worker checks for cancellation and asks again.
pub const LEASE_WAIT_STEP: Duration = Duration::from_secs(2);
/// A statement on the lease's connection is logged as slow (WARN) when it takes this much longer than the wait it
/// asked for (sqlx's own default threshold).
pub const SLOW_LEASE_STATEMENT_MARGIN: Duration = Duration::from_secs(1);

/// Why the lease could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
  /// The database could not be reached.
  #[error("could not talk to the database about the worker lease")]
  Database(#[from] sqlx::Error),
  /// The lock file could not be opened or locked.
  #[error("could not use the worker lock file {path}")]
  File {
    /// The lock file.
    path: PathBuf,
    /// The I/O error.
    #[source]
    source: std::io::Error,
  },
  /// The wait was cancelled.
  #[error("stopped while waiting for the worker lease")]
  Cancelled,
}

enum Holder {
  MySql {
    connection: Mutex<MySqlConnection>,
    name: String,
  },
  File {
    _file: File,
  },
  /// An in-memory SQLite database is private to the process: nothing to share.
  Private,
}

/// A held lease; dropping it releases the lease.
pub struct Lease {
  holder: Holder,
}

impl std::fmt::Debug for Lease {
  fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    let kind = match &self.holder {
      Holder::MySql { name, .. } => format!("mysql lock {name}"),
      Holder::File { .. } => "lock file".to_owned(),
      Holder::Private => "private database".to_owned(),
    };
    formatter
      .debug_struct("Lease")
      .field("kind", &kind)
      .finish()
  }
}

fn sqlite_path(database_url: &str) -> Option<PathBuf> {
  let rest = database_url.strip_prefix("sqlite:")?;
  let rest = rest.trim_start_matches("//");
  let path = rest.split('?').next().unwrap_or(rest);
  if path.is_empty() || path == ":memory:" || database_url.contains("mode=memory") {
    return None;
  }
  Some(PathBuf::from(path))
}

impl Lease {
  /// Takes the lease without waiting; `Ok(None)` when another worker holds it.
  ///
  /// # Errors
  /// [`LeaseError`] when the database or the lock file cannot be used.
  pub async fn try_acquire(database_url: &str) -> Result<Option<Self>, LeaseError> {
    Self::acquire_within(database_url, Duration::ZERO).await
  }

  /// Waits for the lease, asking again every `LEASE_WAIT_STEP`, until it is taken or `cancellation` fires.
  ///
  /// # Errors
  /// [`LeaseError::Cancelled`] when cancelled; otherwise the database or file error.
  pub async fn acquire(
    database_url: &str,
    cancellation: &CancellationToken,
  ) -> Result<Self, LeaseError> {
    let mut logged = false;
    loop {
      if cancellation.is_cancelled() {
        return Err(LeaseError::Cancelled);
      }
      let attempt = tokio::select! {
        () = cancellation.cancelled() => return Err(LeaseError::Cancelled),
        attempt = Self::acquire_within(database_url, LEASE_WAIT_STEP) => attempt?,
      };
      if let Some(lease) = attempt {
        return Ok(lease);
      }
      if !logged {
        tracing::info!("another worker holds the lease; waiting to take over");
        logged = true;
      }
      // A file lock does not wait by itself: pause between attempts.
      if sqlite_path(database_url).is_some() {
        tokio::select! {
          () = cancellation.cancelled() => return Err(LeaseError::Cancelled),
          () = tokio::time::sleep(LEASE_WAIT_STEP) => {}
        }
      }
    }
  }

  /// Opens, creating it when missing, the lock file a worker on the SQLite database at `database` locks for its
  /// lease: `DATABASE.worker-lock`, beside the database file. Whoever holds a lock on it keeps workers off that
  /// database (the offline replay locks it while it empties the database). Returns its path and the file.
  ///
  /// # Errors
  /// Fails when the file cannot be opened or created.
  pub fn open_lock_file(database: &Path) -> Result<(PathBuf, File), LeaseError> {
    let lock_path = PathBuf::from(format!("{}.worker-lock", database.display()));
    let file = File::options()
      .create(true)
      .truncate(false)
      .write(true)
      .open(&lock_path)
      .map_err(|source| LeaseError::File {
        path: lock_path.clone(),
        source,
      })?;
    Ok((lock_path, file))
  }

  async fn acquire_within(database_url: &str, wait: Duration) -> Result<Option<Self>, LeaseError> {
    if database_url.starts_with("mysql:") || database_url.starts_with("mariadb:") {
      let url = database_url.replacen("mariadb:", "mysql:", 1);
      // `GET_LOCK` waits `wait` by design: only a statement slower than that (plus sqlx's usual 1 s) is slow, so a
      // standby worker does not warn every LEASE_WAIT_STEP while it waits.
      let options = url
        .parse::<MySqlConnectOptions>()?
        .log_slow_statements(log::LevelFilter::Warn, wait + SLOW_LEASE_STATEMENT_MARGIN);
      let mut connection = MySqlConnection::connect_with(&options).await?;
      let name: String =
        sqlx::query_scalar("SELECT CONCAT('f1-worker:', COALESCE(DATABASE(), ''))")
          .fetch_one(&mut connection)
          .await?;
      let acquired: Option<i64> = sqlx::query_scalar("SELECT CAST(GET_LOCK(?, ?) AS SIGNED)")
        .bind(&name)
        .bind(i64::try_from(wait.as_secs()).unwrap_or(0))
        .fetch_one(&mut connection)
        .await?;
      if acquired == Some(1) {
        tracing::info!(lock = %name, "holding the worker lease");
        return Ok(Some(Self {
          holder: Holder::MySql {
            connection: Mutex::new(connection),
            name,
          },
        }));
      }
      connection.close().await.ok();
      return Ok(None);
    }
    let Some(path) = sqlite_path(database_url) else {
      return Ok(Some(Self {
        holder: Holder::Private,
      }));
    };
    let (lock_path, file) = Self::open_lock_file(&path)?;
    match file.try_lock() {
      Ok(()) => {
        tracing::info!(lock = %lock_path.display(), "holding the worker lease");
        Ok(Some(Self {
          holder: Holder::File { _file: file },
        }))
      }
      Err(std::fs::TryLockError::WouldBlock) => Ok(None),
      Err(std::fs::TryLockError::Error(source)) => Err(LeaseError::File {
        path: lock_path,
        source,
      }),
    }
  }

  /// Whether the lease is still held (for MySQL: the dedicated connection is alive and owns the lock).
  pub async fn is_held(&self) -> bool {
    match &self.holder {
      Holder::MySql { connection, name } => {
        let mut connection = connection.lock().await;
        let owner: Result<Option<i64>, _> =
          sqlx::query_scalar("SELECT CAST(IS_USED_LOCK(?) = CONNECTION_ID() AS SIGNED)")
            .bind(name.as_str())
            .fetch_one(&mut *connection)
            .await;
        matches!(owner, Ok(Some(1)))
      }
      Holder::File { .. } | Holder::Private => true,
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn sqlite_lock_files_sit_next_to_the_database_file() {
    assert_eq!(
      sqlite_path("sqlite://f1.db?mode=rwc"),
      Some(PathBuf::from("f1.db"))
    );
    assert_eq!(
      sqlite_path("sqlite:///tmp/x.db"),
      Some(PathBuf::from("/tmp/x.db"))
    );
    assert_eq!(sqlite_path("sqlite::memory:"), None);
    assert_eq!(sqlite_path("mysql://root@db/f1"), None);
  }
}
