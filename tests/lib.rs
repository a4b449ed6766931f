//! Shared helpers for the end-to-end tests in `tests/it`: a fresh database per test (MariaDB or SQLite),
//! the Redis URL, the recorded Open F1 fixtures, a TCP proxy that cuts connections ([`TcpProxy`]) and a throwaway
//! three-node Redis Cluster ([`RedisCluster`]).
//!
//! Environment (all optional):
//! - `TEST_DATABASE_ADMIN_URL`: a MySQL URL whose user may create and drop `f1_%` databases
//!   (default `mysql://root@127.0.0.1:3306`).
//! - `TEST_REDIS_URL`: Redis for tests (default `redis://127.0.0.1:6379`).

pub mod redis_cluster;
pub mod tcp_proxy;

use std::path::PathBuf;

use migration::MigratorTrait;
pub use redis_cluster::RedisCluster;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
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
    let url =
      entity::database::create_scratch_database(scratch_admin_url(engine).as_deref(), &name)
        .await
        .expect("create the test database (on MariaDB: TEST_DATABASE_ADMIN_URL)");
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

  /// Creates a migrated database on `engine` holding the recorded fixtures of `folders` (see [`seed_fixtures`]).
  ///
  /// # Panics
  /// Panics when the database cannot be created or the fixtures cannot be stored.
  pub async fn seeded(engine: Engine, folders: &[&str]) -> Self {
    let database = Self::migrated(engine).await;
    seed_fixtures(&database.connection, folders).await;
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

  /// The stored lap `lap` of car `driver` in session `session_key`.
  ///
  /// # Panics
  /// Panics when the query fails or the lap is not stored.
  pub async fn stored_lap(&self, session_key: i32, driver: i32, lap: i32) -> entity::laps::Model {
    use sea_orm::EntityTrait as _;
    entity::laps::Entity::find_by_id((session_key, driver, lap))
      .one(&self.connection)
      .await
      .expect("read")
      .expect("the lap is stored")
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

/// The admin URL the scratch databases of `engine` are made with (none: a SQLite file).
fn scratch_admin_url(engine: Engine) -> Option<String> {
  match engine {
    Engine::MariaDb => Some(admin_url()),
    Engine::Sqlite => None,
  }
}

impl Drop for TestDatabase {
  fn drop(&mut self) {
    let name = self.name.clone();
    let admin_url = scratch_admin_url(self.engine);
    // Dropping needs async I/O; do it on a thread of its own so it works inside or outside a runtime.
    let handle = std::thread::spawn(move || {
      let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
      if let Ok(runtime) = runtime {
        runtime
          .block_on(entity::database::drop_scratch_database(
            admin_url.as_deref(),
            &name,
          ))
          .ok();
      }
    });
    handle.join().ok();
  }
}

/// Runs one SQL statement (tests use it to sabotage or trim seeded rows).
///
/// # Panics
/// Panics, naming the statement, when it fails.
pub async fn execute_sql(connection: &DatabaseConnection, sql: &str) {
  let backend = connection.get_database_backend();
  connection
    .execute_raw(sea_orm::Statement::from_string(backend, sql.to_owned()))
    .await
    .expect(sql);
}

/// The Open F1 endpoint a fixture file holds, by the local Open F1 server's naming rule
/// ([`openf1_server::store::endpoint_for_stem`]), so the seeder and the server always agree.
#[must_use]
pub fn fixture_endpoint(path: &std::path::Path) -> Option<entity::Endpoint> {
  let stem = path.file_stem()?.to_str()?;
  entity::Endpoint::from_name(&openf1_server::store::endpoint_for_stem(stem))
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
) -> worker::StoreOutcome {
  use sea_orm::TransactionTrait;
  let mut outcome = worker::StoreOutcome::default();
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
      let stored = worker::store_rows(&transaction, endpoint, &rows)
        .await
        .expect("store fixture rows");
      transaction.commit().await.expect("commit");
      outcome.absorb(stored);
    }
  }
  outcome
}

/// A mosquitto broker of its own for one test, on a free port of 127.0.0.1, with the dynamic-security plugin and
/// an admin client (the local Open F1 server's [`openf1_server::BrokerOptions`] use it), logging to `broker.log`
/// in its folder. Killed when dropped.
///
/// Environment (all optional): `TEST_MOSQUITTO` (the broker binary, default `mosquitto` on `PATH` or
/// `/usr/sbin/mosquitto`), `TEST_MOSQUITTO_CTRL` (default `mosquitto_ctrl`), `TEST_MOSQUITTO_DYNSEC_PLUGIN` (default:
/// the first `mosquitto_dynamic_security.so` under `/usr/lib`, `/usr/lib/*`, `/usr/local/lib`), `TEST_KEEP_BROKER`
/// (set: keep the broker's folder, with its configuration and `broker.log`, for debugging).
pub struct TestBroker {
  port: u16,
  tls_port: Option<u16>,
  folder: PathBuf,
  process: Option<tokio::process::Child>,
}

/// Username of the test broker's dynamic-security admin.
pub const BROKER_ADMIN_USERNAME: &str = "openf1-admin";
/// Password of the test broker's dynamic-security admin.
pub const BROKER_ADMIN_PASSWORD: &str = "openf1-admin-password";

fn executable(variable: &str, name: &str, fallbacks: &[&str]) -> PathBuf {
  if let Ok(path) = std::env::var(variable) {
    return PathBuf::from(path);
  }
  let on_path = std::env::var_os("PATH").and_then(|paths| {
    std::env::split_paths(&paths)
      .map(|folder| folder.join(name))
      .find(|candidate| candidate.is_file())
  });
  on_path
    .or_else(|| {
      fallbacks
        .iter()
        .map(PathBuf::from)
        .find(|candidate| candidate.is_file())
    })
    .unwrap_or_else(|| PathBuf::from(name))
}

fn dynamic_security_plugin() -> PathBuf {
  const NAME: &str = "mosquitto_dynamic_security.so";
  if let Ok(path) = std::env::var("TEST_MOSQUITTO_DYNSEC_PLUGIN") {
    return PathBuf::from(path);
  }
  let mut folders = vec![PathBuf::from("/usr/lib"), PathBuf::from("/usr/local/lib")];
  if let Ok(entries) = std::fs::read_dir("/usr/lib") {
    folders.extend(
      entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir()),
    );
  }
  folders
    .into_iter()
    .map(|folder| folder.join(NAME))
    .find(|candidate| candidate.is_file())
    .unwrap_or_else(|| {
      panic!("{NAME} not found: install Debian's mosquitto or set TEST_MOSQUITTO_DYNSEC_PLUGIN")
    })
}

impl TestBroker {
  /// Starts a broker with a fresh dynamic-security configuration (only the admin client exists).
  ///
  /// # Panics
  /// Panics when mosquitto is not installed or does not start: the test cannot run without it.
  pub async fn start() -> Self {
    Self::start_with(false).await
  }

  /// Starts a broker that also listens with TLS ([`TestBroker::tls_port`]), with a certificate for `127.0.0.1`
  /// signed by a certificate authority of its own ([`TestBroker::certificate_authority_pem`]), made with the
  /// `openssl` command.
  ///
  /// # Panics
  /// Panics when mosquitto or openssl is missing or the broker does not start.
  pub async fn start_with_tls() -> Self {
    Self::start_with(true).await
  }

  async fn start_with(tls: bool) -> Self {
    let folder = std::env::temp_dir().join(unique_name("mosquitto"));
    std::fs::create_dir_all(&folder).expect("create the broker's folder");
    let dynsec = folder.join("dynamic-security.json");
    let initialised = tokio::process::Command::new(executable(
      "TEST_MOSQUITTO_CTRL",
      "mosquitto_ctrl",
      &["/usr/bin/mosquitto_ctrl"],
    ))
    .args(["dynsec", "init"])
    .arg(&dynsec)
    .args([BROKER_ADMIN_USERNAME, BROKER_ADMIN_PASSWORD])
    .output()
    .await
    .expect("run mosquitto_ctrl (install Debian's mosquitto)");
    assert!(
      initialised.status.success(),
      "mosquitto_ctrl dynsec init failed: {}",
      String::from_utf8_lossy(&initialised.stderr)
    );
    // Run as root, mosquitto drops to the `mosquitto` user, which must be able to read and save the files.
    #[cfg(unix)]
    {
      use std::os::unix::fs::PermissionsExt;
      std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o777)).ok();
      std::fs::set_permissions(&dynsec, std::fs::Permissions::from_mode(0o666)).ok();
    }
    if tls {
      make_certificates(&folder).await;
    }
    let mut broker = Self {
      port: 0,
      tls_port: None,
      folder,
      process: None,
    };
    for _ in 0..5 {
      broker.port = free_port();
      broker.tls_port = tls.then(free_port);
      if broker.launch().await {
        return broker;
      }
    }
    panic!(
      "mosquitto did not start; see {}",
      broker.folder.join("broker.log").display()
    );
  }

  /// Writes the configuration for the current port and starts the process; whether it accepts connections.
  async fn launch(&mut self) -> bool {
    let config = self.folder.join("mosquitto.conf");
    let text = format!(
      "listener {port} 127.0.0.1\nallow_anonymous false\nplugin {plugin}\nplugin_opt_config_file {dynsec}\n\
       persistence false\nlog_dest file {log}\nlog_type error\nlog_type warning\nlog_type notice\n\
       log_type information\nconnection_messages true\n",
      port = self.port,
      plugin = dynamic_security_plugin().display(),
      dynsec = self.folder.join("dynamic-security.json").display(),
      log = self.folder.join("broker.log").display(),
    );
    let mut text = text;
    if let Some(tls_port) = self.tls_port {
      text.push_str(&format!(
        "listener {tls_port} 127.0.0.1\ncertfile {certificate}\nkeyfile {key}\n",
        certificate = self.folder.join("server.crt").display(),
        key = self.folder.join("server.key").display(),
      ));
    }
    std::fs::write(&config, text).expect("write the broker's configuration");
    #[cfg(unix)]
    {
      use std::os::unix::fs::PermissionsExt;
      std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).ok();
    }
    let mut process = tokio::process::Command::new(executable(
      "TEST_MOSQUITTO",
      "mosquitto",
      &["/usr/sbin/mosquitto"],
    ))
    .arg("-c")
    .arg(&config)
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .kill_on_drop(true)
    .spawn()
    .expect("start mosquitto (install Debian's mosquitto)");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
      if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
        .await
        .is_ok()
      {
        self.process = Some(process);
        return true;
      }
      if process.try_wait().ok().flatten().is_some() || std::time::Instant::now() > deadline {
        process.kill().await.ok();
        return false;
      }
      // Readiness polling of a starting process, not ordering: the next attempt is the check itself.
      tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
  }

  /// The broker's port.
  #[must_use]
  pub fn port(&self) -> u16 {
    self.port
  }

  /// The TLS port, for a broker started with [`TestBroker::start_with_tls`].
  #[must_use]
  pub fn tls_port(&self) -> Option<u16> {
    self.tls_port
  }

  /// The certificate authority (PEM) that signed the TLS certificate of [`TestBroker::start_with_tls`].
  ///
  /// # Panics
  /// Panics when the broker was started without TLS.
  #[must_use]
  pub fn certificate_authority_pem(&self) -> String {
    std::fs::read_to_string(self.folder.join("ca.crt")).expect("the broker was started with TLS")
  }

  /// The worker's `OPENF1_MQTT_URL` for this broker.
  #[must_use]
  pub fn url(&self) -> String {
    format!("mqtt://127.0.0.1:{}", self.port)
  }

  /// Options for the local Open F1 server to publish to this broker as its admin.
  #[must_use]
  pub fn server_options(&self, publish_automatically: bool) -> openf1_server::BrokerOptions {
    openf1_server::BrokerOptions {
      host: "127.0.0.1".into(),
      port: self.port,
      admin_username: BROKER_ADMIN_USERNAME.into(),
      admin_password: BROKER_ADMIN_PASSWORD.into(),
      publish_automatically,
    }
  }

  /// Kills the broker and waits for it to exit (a crash: connections drop, unsaved state is lost).
  pub async fn stop(&mut self) {
    if let Some(mut process) = self.process.take() {
      process.kill().await.ok();
    }
  }

  /// Starts the broker again on the same port (after [`TestBroker::stop`]).
  ///
  /// # Panics
  /// Panics when it does not start.
  pub async fn restart(&mut self) {
    self.stop().await;
    assert!(
      self.launch().await,
      "mosquitto did not restart on port {}",
      self.port
    );
  }
}

impl Drop for TestBroker {
  fn drop(&mut self) {
    if let Some(process) = self.process.as_mut() {
      process.start_kill().ok();
    }
    if std::env::var_os("TEST_KEEP_BROKER").is_none() {
      std::fs::remove_dir_all(&self.folder).ok();
    }
  }
}

/// A certificate authority and a certificate for `127.0.0.1` it signed, in `folder` (`ca.crt`, `server.crt`,
/// `server.key`), made with the `openssl` command (P-256 keys, valid two days).
async fn make_certificates(folder: &std::path::Path) {
  let run = |arguments: Vec<String>| async move {
    let output = tokio::process::Command::new("openssl")
      .args(&arguments)
      .current_dir(folder)
      .output()
      .await
      .expect("run openssl (install Debian's openssl)");
    assert!(
      output.status.success(),
      "openssl {arguments:?} failed: {}",
      String::from_utf8_lossy(&output.stderr)
    );
  };
  let words = |text: &str| {
    text
      .split_whitespace()
      .map(str::to_owned)
      .collect::<Vec<_>>()
  };
  std::fs::write(
    folder.join("server.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
     keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
  )
  .expect("write the certificate extensions");
  let mut authority = words(
    "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 2",
  );
  authority.extend([
    "-subj".into(),
    "/CN=f1-backend test authority".into(),
    "-addext".into(),
    "basicConstraints=critical,CA:TRUE".into(),
    "-addext".into(),
    "keyUsage=critical,keyCertSign,cRLSign".into(),
  ]);
  run(authority).await;
  let mut request = words(
    "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr",
  );
  request.extend(["-subj".into(), "/CN=127.0.0.1".into()]);
  run(request).await;
  run(words(
    "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext",
  ))
  .await;
  #[cfg(unix)]
  {
    use std::os::unix::fs::PermissionsExt;
    for file in ["server.crt", "server.key", "ca.crt"] {
      std::fs::set_permissions(folder.join(file), std::fs::Permissions::from_mode(0o644)).ok();
    }
  }
}

/// A TCP port that was free a moment ago on 127.0.0.1.
///
/// # Panics
/// Panics when no port can be bound.
#[must_use]
pub fn free_port() -> u16 {
  std::net::TcpListener::bind(("127.0.0.1", 0))
    .and_then(|listener| listener.local_addr())
    .map(|address| address.port())
    .expect("bind a free port")
}
