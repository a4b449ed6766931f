//! Shared helpers for the end-to-end tests in `tests/it`: a fresh database per test (MariaDB or SQLite),
//! the Redis URL, the recorded Open F1 fixtures, and a TCP proxy that cuts connections ([`TcpProxy`]).
//!
//! Environment (all optional):
//! - `TEST_DATABASE_ADMIN_URL`: a MySQL URL whose user may create and drop `f1_%` databases
//!   (default `mysql://root@127.0.0.1:3306`).
//! - `TEST_REDIS_URL`: Redis for tests (default `redis://127.0.0.1:6379`).

pub mod tcp_proxy;

use std::path::PathBuf;

use migration::MigratorTrait;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbErr};
pub use tcp_proxy::{Outage, TcpProxy};

/// Default admin URL of the test MariaDB.
pub const DEFAULT_ADMIN_URL: &str = "mysql://root@127.0.0.1:3306";
/// Default Redis URL for tests.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// The MySQL admin URL used to create per-test databases.
#[must_use]
pub fn admin_url() -> String {
  std::env::var("TEST_DATABASE_ADMIN_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

/// The Redis URL used by tests.
#[must_use]
pub fn redis_url() -> String {
  std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_owned())
}

/// The folder of recorded Open F1 responses committed with the project (`tests/fixtures/openf1`).
#[must_use]
pub fn fixtures_dir() -> PathBuf {
  PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openf1")
}

/// A unique name, safe as a database name or key prefix: `f1_<purpose>_<random>`.
#[must_use]
pub fn unique_name(purpose: &str) -> String {
  let random = uuid::Uuid::new_v4().simple().to_string();
  format!("f1_{purpose}_{}", &random[..12])
}

/// Which database engine a [`TestDatabase`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
  /// MariaDB/MySQL over TCP.
  MariaDb,
  /// A SQLite file in the temp folder.
  Sqlite,
}

/// A fresh, empty database for one test, dropped (MariaDB) or deleted (SQLite) when the value is dropped.
pub struct TestDatabase {
  /// Connection URL of the database.
  pub url: String,
  /// An open connection.
  pub connection: DatabaseConnection,
  engine: Engine,
  name: String,
}

impl TestDatabase {
  /// Creates an empty database on `engine`, without running migrations.
  ///
  /// # Panics
  /// Panics when the database server cannot be reached: a test cannot run without it.
  pub async fn empty(engine: Engine) -> Self {
    let name = unique_name("test");
    let url = match engine {
      Engine::MariaDb => {
        let admin = Database::connect(admin_url())
          .await
          .expect("connect to the test MariaDB (TEST_DATABASE_ADMIN_URL)");
        admin
          .execute_unprepared(&format!(
            "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
          ))
          .await
          .expect("create the test database");
        admin.close().await.ok();
        format!("{}/{name}", admin_url().trim_end_matches('/'))
      }
      Engine::Sqlite => {
        let path = std::env::temp_dir().join(format!("{name}.db"));
        format!("sqlite://{}?mode=rwc", path.display())
      }
    };
    let connection = entity::database::connect(&url, &entity::database::DatabaseOptions::default())
      .await
      .expect("connect to the test database");
    Self {
      url,
      connection,
      engine,
      name,
    }
  }

  /// Creates a database on `engine` with every migration applied.
  ///
  /// # Panics
  /// Panics when the database cannot be created or migrated.
  pub async fn migrated(engine: Engine) -> Self {
    let database = Self::empty(engine).await;
    migration::Migrator::up(&database.connection, None)
      .await
      .expect("run migrations");
    database
  }

  /// The engine.
  #[must_use]
  pub fn engine(&self) -> Engine {
    self.engine
  }

  /// How many rows of `E`'s table belong to `session_key`.
  ///
  /// # Panics
  /// Panics when the query fails.
  pub async fn count_rows<E: sea_orm::EntityTrait>(&self, session_key: i32) -> usize {
    let table = E::default().table_name().to_owned();
    let sql =
      format!("SELECT COUNT(*) AS row_count FROM {table} WHERE session_key = {session_key}");
    let backend = self.connection.get_database_backend();
    let row = self
      .connection
      .query_one_raw(sea_orm::Statement::from_string(backend, sql))
      .await
      .expect("count rows")
      .expect("one row");
    let rows = row.try_get::<i64>("", "row_count").expect("row_count");
    usize::try_from(rows).expect("a row count fits in usize")
  }

  /// Names of the tables in the database, sorted.
  ///
  /// # Errors
  /// Returns the database error.
  pub async fn table_names(&self) -> Result<Vec<String>, DbErr> {
    let sql = match self.engine {
      Engine::MariaDb => {
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()"
      }
      Engine::Sqlite => {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
      }
    };
    let rows = self
      .connection
      .query_all_raw(sea_orm::Statement::from_string(
        self.connection.get_database_backend(),
        sql,
      ))
      .await?;
    let mut names = rows
      .iter()
      .map(|row| row.try_get::<String>("", "name"))
      .collect::<Result<Vec<_>, _>>()?;
    names.sort();
    Ok(names)
  }
}

impl Drop for TestDatabase {
  fn drop(&mut self) {
    let name = self.name.clone();
    match self.engine {
      Engine::MariaDb => {
        // Dropping needs async I/O; do it on a thread of its own so it works inside or outside a runtime.
        let handle = std::thread::spawn(move || {
          let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
          if let Ok(runtime) = runtime {
            runtime.block_on(async {
              if let Ok(admin) = Database::connect(admin_url()).await {
                admin
                  .execute_unprepared(&format!("DROP DATABASE IF EXISTS `{name}`"))
                  .await
                  .ok();
                admin.close().await.ok();
              }
            });
          }
        });
        handle.join().ok();
      }
      Engine::Sqlite => {
        let path = std::env::temp_dir().join(format!("{name}.db"));
        for suffix in ["", "-wal", "-shm"] {
          std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
        }
      }
    }
  }
}

/// The Open F1 endpoint a fixture file holds, by the local Open F1 server's naming rule
/// ([`openf1_server::store::endpoint_for_stem`]), so the seeder and the server always agree.
#[must_use]
pub fn fixture_endpoint(path: &std::path::Path) -> Option<worker::store::Endpoint> {
  let stem = path.file_stem()?.to_str()?;
  worker::store::Endpoint::from_name(&openf1_server::store::endpoint_for_stem(stem))
}

/// Reads a fixture file as rows (a file holding one object is one row).
///
/// # Panics
/// Panics when the file is missing or not JSON: fixtures are part of the repository.
#[must_use]
pub fn fixture_rows(path: &std::path::Path) -> Vec<serde_json::Value> {
  let text = std::fs::read_to_string(path)
    .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
  match serde_json::from_str(&text)
    .unwrap_or_else(|error| panic!("parse {}: {error}", path.display()))
  {
    serde_json::Value::Array(rows) => rows,
    object => vec![object],
  }
}

/// Stores every fixture file of `folders` (relative to [`fixtures_dir`], e.g. `"9472_bahrain_2024_race"`) in the
/// database through the worker's store, one transaction per file. Returns the combined outcome.
///
/// # Panics
/// Panics when a fixture cannot be read or the database fails.
pub async fn seed_fixtures(
  connection: &DatabaseConnection,
  folders: &[&str],
) -> worker::store::StoreOutcome {
  use sea_orm::TransactionTrait;
  let mut outcome = worker::store::StoreOutcome::default();
  for folder in folders {
    let mut paths: Vec<_> = std::fs::read_dir(fixtures_dir().join(folder))
      .unwrap_or_else(|error| panic!("read fixture folder {folder}: {error}"))
      .filter_map(Result::ok)
      .map(|entry| entry.path())
      .filter(|path| {
        path
          .extension()
          .is_some_and(|extension| extension == "json")
      })
      .collect();
    paths.sort();
    for path in paths {
      let Some(endpoint) = fixture_endpoint(&path) else {
        continue;
      };
      let rows = fixture_rows(&path);
      let transaction = connection.begin().await.expect("begin");
      let stored = worker::store::store_rows(&transaction, endpoint, &rows)
        .await
        .expect("store fixture rows");
      transaction.commit().await.expect("commit");
      outcome.absorb(stored);
    }
  }
  outcome
}
