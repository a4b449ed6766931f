//! Connecting to the database (MariaDB/MySQL when `DATABASE_URL` is set, otherwise an embedded SQLite file),
//! knowing whether it answers ([`DatabaseMonitor`]), and the scratch databases of tests and benchmarks
//! ([`create_scratch_database`]).

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};

/// The database used when `DATABASE_URL` is not set: a SQLite file in the working directory, created on demand.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://f1.db?mode=rwc";

/// The URL of the SQLite database file at `path`, created when missing (`sqlite://PATH?mode=rwc`).
#[must_use]
pub fn sqlite_url(path: &std::path::Path) -> String {
  format!("sqlite://{}?mode=rwc", path.display())
}

/// Creates the scratch database `name` (for one test or benchmark run) and returns its URL: with `admin_url`, a
/// database on that MariaDB/MySQL server (`utf8mb4_bin`, as the migrations expect), otherwise a SQLite file in the
/// temporary folder. [`drop_scratch_database`] removes it.
///
/// # Errors
/// Fails when the server cannot be reached or refuses to create the database.
pub async fn create_scratch_database(admin_url: Option<&str>, name: &str) -> Result<String, DbErr> {
  let Some(admin_url) = admin_url else {
    return Ok(sqlite_url(&scratch_sqlite_path(name)));
  };
  let admin = Database::connect(admin_url).await?;
  admin
    .execute_unprepared(&format!(
      "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    ))
    .await?;
  admin.close().await.ok();
  Ok(format!("{}/{name}", admin_url.trim_end_matches('/')))
}

/// Removes the scratch database `name` that [`create_scratch_database`] made with the same `admin_url` (a SQLite
/// file with its `-wal` and `-shm` side files; a missing one is no error).
///
/// # Errors
/// Fails when the server cannot be reached or refuses to drop the database.
pub async fn drop_scratch_database(admin_url: Option<&str>, name: &str) -> Result<(), DbErr> {
  let Some(admin_url) = admin_url else {
    let path = scratch_sqlite_path(name);
    for suffix in ["", "-wal", "-shm"] {
      std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
    }
    return Ok(());
  };
  let admin = Database::connect(admin_url).await?;
  admin
    .execute_unprepared(&format!("DROP DATABASE IF EXISTS `{name}`"))
    .await?;
  admin.close().await.ok();
  Ok(())
}

/// Where the scratch SQLite database `name` lives: `NAME.db` in the temporary folder.
fn scratch_sqlite_path(name: &str) -> std::path::PathBuf {
  std::env::temp_dir().join(format!("{name}.db"))
}

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

/// How often a [`DatabaseMonitor`] probes the database.
const PROBE_INTERVAL: Duration = Duration::from_millis(200);
/// Longest wait for one probe (a ping, or connecting then pinging) before the database counts as unreachable. A
/// healthy server answers a ping in about a millisecond, however busy its queries are.
const PROBE_TIMEOUT: Duration = Duration::from_millis(400);

/// Whether the database answers, as last probed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reachability {
  /// The last probe was answered.
  Reachable,
  /// The last probe failed or timed out (server down, refused, frozen, network cut).
  Unreachable,
}

/// Knows, within `PROBE_INTERVAL` + `PROBE_TIMEOUT` (600 ms), whether the database answers: a background task pings it
/// every `PROBE_INTERVAL` (200 ms) on a connection of its own (so a pool busy with slow queries never looks like an
/// outage) and reconnects after a failure. Readiness probes read it without waiting, and requests use it to fail
/// fast while the database is unreachable.
///
/// An embedded SQLite file cannot become unreachable: its monitor always says reachable.
/// Cheap to clone; the probing stops when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct DatabaseMonitor {
  status: tokio::sync::watch::Receiver<Reachability>,
}

impl DatabaseMonitor {
  /// Starts probing the database of `url` (which the caller has just connected to, so it starts reachable).
  /// Must be called inside a Tokio runtime.
  ///
  /// # Errors
  /// Fails when `url` is a MySQL URL that cannot be parsed.
  pub fn start(url: &str) -> Result<Self, DbErr> {
    let (sender, status) = tokio::sync::watch::channel(Reachability::Reachable);
    if url.starts_with("mysql:") || url.starts_with("mariadb:") {
      use sea_orm::sqlx::ConnectOptions as _;
      let options = url
        .replacen("mariadb:", "mysql:", 1)
        .parse::<sea_orm::sqlx::mysql::MySqlConnectOptions>()
        .map_err(|error| DbErr::Custom(format!("invalid database URL: {error}")))?
        .disable_statement_logging();
      tokio::spawn(probe_until_unused(options, sender));
    } else {
      // Keep the sender alive as long as any monitor, so that waiting for a change waits forever.
      tokio::spawn(async move { sender.closed().await });
    }
    Ok(Self { status })
  }

  /// The database's reachability as last probed (never waits).
  #[must_use]
  fn reachability(&self) -> Reachability {
    *self.status.borrow()
  }

  /// Whether the last probe was answered (never waits).
  #[must_use]
  pub fn is_reachable(&self) -> bool {
    self.reachability() == Reachability::Reachable
  }

  /// Completes when the database is (or becomes) unreachable.
  pub async fn unreachable(&self) {
    self.wait_for(Reachability::Unreachable).await;
  }

  /// Completes when the database is (or becomes) reachable.
  pub async fn reachable(&self) {
    self.wait_for(Reachability::Reachable).await;
  }

  async fn wait_for(&self, wanted: Reachability) {
    let mut status = self.status.clone();
    if status.wait_for(|current| *current == wanted).await.is_err() {
      std::future::pending::<()>().await;
    }
  }
}

/// Probes every [`PROBE_INTERVAL`] until every [`DatabaseMonitor`] is dropped, logging each change.
async fn probe_until_unused(
  options: sea_orm::sqlx::mysql::MySqlConnectOptions,
  status: tokio::sync::watch::Sender<Reachability>,
) {
  let mut connection = None;
  let mut ticks = tokio::time::interval(PROBE_INTERVAL);
  ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
  loop {
    tokio::select! {
      () = status.closed() => return,
      _ = ticks.tick() => {}
    }
    let probe = tokio::time::timeout(PROBE_TIMEOUT, probe(&mut connection, &options)).await;
    let reachability = match probe {
      Ok(Ok(())) => Reachability::Reachable,
      Ok(Err(error)) => {
        tracing::debug!(%error, "database probe failed");
        Reachability::Unreachable
      }
      Err(_) => {
        tracing::debug!("database probe timed out");
        Reachability::Unreachable
      }
    };
    if reachability == Reachability::Unreachable {
      // Broken or frozen: never reuse it (dropping it closes the socket without a goodbye that could hang).
      connection = None;
    }
    let changed = status.send_if_modified(|current| {
      let changed = *current != reachability;
      *current = reachability;
      changed
    });
    if changed {
      match reachability {
        Reachability::Unreachable => tracing::warn!(
          "the database is unreachable; requests that need it are answered 503 until it answers again"
        ),
        Reachability::Reachable => tracing::info!("the database answers again"),
      }
    }
  }
}

/// Pings the database on the probe's own connection, connecting first when there is none.
async fn probe(
  connection: &mut Option<sea_orm::sqlx::mysql::MySqlConnection>,
  options: &sea_orm::sqlx::mysql::MySqlConnectOptions,
) -> Result<(), sea_orm::sqlx::Error> {
  use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
  let live = match connection {
    Some(live) => live,
    None => connection.insert(options.connect().await?),
  };
  live.ping().await
}

#[cfg(test)]
mod tests {
  use super::*;

  #[tokio::test]
  async fn a_scratch_sqlite_database_is_a_temporary_file_removed_with_its_side_files() {
    let name = format!("f1_scratch_{}", std::process::id());
    let url = create_scratch_database(None, &name).await.expect("create");
    let path = scratch_sqlite_path(&name);
    assert_eq!(url, sqlite_url(&path));
    let connection = connect(&url, &DatabaseOptions::default())
      .await
      .expect("connect");
    connection
      .execute_unprepared("CREATE TABLE t (x INTEGER)")
      .await
      .expect("write");
    connection.close().await.expect("close");
    assert!(path.exists());
    drop_scratch_database(None, &name).await.expect("drop");
    for suffix in ["", "-wal", "-shm"] {
      assert!(!std::path::Path::new(&format!("{}{suffix}", path.display())).exists());
    }
  }
}
