//! The command line of `f1-local` and the start-up of the api, the worker and (with `--offline`) the replaying
//! local Open F1 server in one process.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{TimeDelta, Utc};
use openf1_server::{FixtureStore, OpenF1Server, ReplayOptions, ServerOptions};
use sea_orm::{DatabaseConnection, EntityTrait as _};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The recorded session replayed by default: the 2024 Bahrain Grand Prix race.
pub const DEFAULT_REPLAY_SESSION: i64 = 9472;
/// The database file when following Open F1 (the `api` and `worker` binaries' default, `f1.db`).
pub const DATABASE_FILE: &str = "f1.db";
/// The database file of `--offline`, emptied at every start (a replay shifts the race to today: its rows must not
/// mix with a previous replay's or with real data).
pub const REPLAY_DATABASE_FILE: &str = "f1-replay.db";
/// How often the worker polls the replayed live session over REST (`WORKER_POLL_INTERVAL_SECONDS`).
pub const OFFLINE_POLL_INTERVAL_SECONDS: u64 = 2;
/// The worker's request limits towards the in-process local Open F1 server (upstream's 3/s and 30/min would make a
/// replay crawl; the local server has no limit).
const LOCAL_REQUESTS_PER_SECOND: u32 = 1_000;
/// Per minute, see [`LOCAL_REQUESTS_PER_SECOND`].
const LOCAL_REQUESTS_PER_MINUTE: u32 = 60_000;
/// How often start-up looks whether the replayed session is stored yet.
const SESSION_CHECK_INTERVAL: Duration = Duration::from_millis(100);
/// Longest wait for the replayed session before the URLs are printed anyway.
const SESSION_WAIT_LIMIT: Duration = Duration::from_secs(30);
/// The chart the printed viewer URL opens.
const VIEWER_CHART: &str = "lap-times";

/// Runs the F1 backend in one process for development: the api and the worker on an embedded SQLite file, following
/// Open F1, or with `--offline` a recorded race replayed as if it were live now (no network needed). Environment
/// variables configure the api and the worker as they configure the `api` and `worker` binaries.
#[derive(Debug, clap::Parser)]
#[command(name = "f1-local", version, args_override_self = true)]
pub struct Options {
  /// Replay a recorded race from the fixtures as if it were live now, instead of following api.openf1.org. Uses
  /// `f1-replay.db` (emptied at start) and no Redis, whatever DATABASE_URL and REDIS_URL say.
  #[arg(long)]
  pub offline: bool,
  /// The recorded session to replay (with --offline); 9472 is the 2024 Bahrain Grand Prix race.
  #[arg(long, default_value_t = DEFAULT_REPLAY_SESSION)]
  pub session: i64,
  /// Replay speed, recorded seconds per real second (with --offline): 10 plays the race in about ten minutes.
  #[arg(long, default_value_t = 1.0)]
  pub speed: f64,
  /// Start the replay this many minutes into the session (with --offline; negative: before its start).
  #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
  pub offset_minutes: i64,
  /// Address of the api (port 0: any free port; the printed URLs say which).
  #[arg(long, default_value = "127.0.0.1:8080")]
  pub listen: SocketAddr,
  /// Folder of the SQLite database: `f1.db` when following Open F1 (unless DATABASE_URL is set),
  /// `f1-replay.db` with --offline.
  #[arg(long, default_value = ".")]
  pub data_dir: PathBuf,
  /// Folder of recorded Open F1 responses to replay from (with --offline).
  #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openf1"))]
  pub fixtures: PathBuf,
}

/// Settings overrides on top of the environment: a variable name to its value (`None`: unset whatever the
/// environment says).
type Overrides = HashMap<&'static str, Option<String>>;

/// A lookup of settings: the override when there is one, else the process environment.
fn lookup(overrides: &Overrides) -> impl Fn(&str) -> Option<String> + '_ {
  move |name| match overrides.get(name) {
    Some(value) => value.clone(),
    None => std::env::var(name).ok(),
  }
}

/// The base URL clients use to reach `address`.
fn public_base_url(address: SocketAddr) -> String {
  if address.ip().is_unspecified() || address.ip().is_loopback() {
    format!("http://localhost:{}", address.port())
  } else {
    format!("http://{address}")
  }
}

/// The replayed session's year and a description of it ("2024 Bahrain Grand Prix, Race (session 9472)"), from the
/// fixtures.
fn describe_recorded_session(fixtures: &Path, session_key: i64) -> anyhow::Result<(i64, String)> {
  let store = FixtureStore::load(fixtures)
    .with_context(|| format!("load the recorded responses in {}", fixtures.display()))?;
  let find = |endpoint: &str, key: &str, value: Option<i64>| {
    store
      .rows(endpoint)
      .unwrap_or_default()
      .iter()
      .find(|row| value.is_some() && row.get(key).and_then(Value::as_i64) == value)
  };
  let session = find("sessions", "session_key", Some(session_key)).with_context(|| {
    format!(
      "session {session_key} is not among the recorded sessions in {}",
      fixtures.display()
    )
  })?;
  let year = session
    .get("year")
    .and_then(Value::as_i64)
    .context("the recorded session has no year")?;
  let text = |row: Option<&Value>, field: &str| {
    row
      .and_then(|row| row.get(field))
      .and_then(Value::as_str)
      .map(str::to_owned)
  };
  let meeting = find(
    "meetings",
    "meeting_key",
    session.get("meeting_key").and_then(Value::as_i64),
  );
  let event = text(meeting, "meeting_name")
    .or_else(|| text(Some(session), "location"))
    .unwrap_or_else(|| "?".to_owned());
  let name = text(Some(session), "session_name").unwrap_or_else(|| "?".to_owned());
  Ok((
    year,
    format!("{year} {event}, {name} (session {session_key})"),
  ))
}

/// Empties the replay database (and its SQLite side files), refusing while another `--offline` run uses it (it
/// holds the worker's lock file beside the database).
fn empty_replay_database(path: &Path) -> anyhow::Result<()> {
  let (_, lock) = worker::Lease::open_lock_file(path)?;
  if lock.try_lock().is_err() {
    anyhow::bail!(
      "another replay is using {}: stop it, or give this one its own --data-dir",
      path.display()
    );
  }
  for suffix in ["", "-wal", "-shm", "-journal"] {
    let file = PathBuf::from(format!("{}{suffix}", path.display()));
    match std::fs::remove_file(&file) {
      Ok(()) => {}
      Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
      Err(error) => return Err(error).with_context(|| format!("remove {}", file.display())),
    }
  }
  drop(lock);
  Ok(())
}

/// What the offline replay needs: the running local server and a description of the session.
struct Replay {
  server: OpenF1Server,
  description: String,
}

/// Starts the local Open F1 server replaying `options.session` in this process, and returns the settings that point
/// the worker at it.
async fn start_replay(options: &Options, overrides: &mut Overrides) -> anyhow::Result<Replay> {
  let (year, description) = describe_recorded_session(&options.fixtures, options.session)?;
  let mut server_options = ServerOptions::new(&options.fixtures);
  server_options.replay = Some(ReplayOptions {
    session_key: options.session,
    speed: options.speed,
    started_at: Utc::now(),
    offset: TimeDelta::minutes(options.offset_minutes),
    auth_during_live: false,
  });
  let server = OpenF1Server::start_on(server_options, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    .await
    .context("start the local Open F1 server")?;
  for (name, value) in [
    ("OPENF1_BASE_URL", server.base_url()),
    ("OPENF1_TOKEN_URL", server.token_url()),
    // The local server gives a token to anyone; with one, the worker follows live sessions.
    ("OPENF1_USERNAME", "local".to_owned()),
    ("OPENF1_PASSWORD", "local".to_owned()),
    // REST polling: no MQTT broker is needed.
    ("OPENF1_MQTT_URL", worker::MQTT_OFF.to_owned()),
    (
      "OPENF1_MAX_REQUESTS_PER_SECOND",
      LOCAL_REQUESTS_PER_SECOND.to_string(),
    ),
    (
      "OPENF1_MAX_REQUESTS_PER_MINUTE",
      LOCAL_REQUESTS_PER_MINUTE.to_string(),
    ),
    ("WORKER_YEARS", year.to_string()),
    (
      "WORKER_POLL_INTERVAL_SECONDS",
      OFFLINE_POLL_INTERVAL_SECONDS.to_string(),
    ),
  ] {
    overrides.insert(name, Some(value));
  }
  Ok(Replay {
    server,
    description,
  })
}

/// Waits until the worker stored `session_key` (checked every [`SESSION_CHECK_INTERVAL`]); false when stopped first.
async fn wait_for_session(
  database: &DatabaseConnection,
  session_key: i64,
  stop: &CancellationToken,
) -> bool {
  let Ok(session_key) = i32::try_from(session_key) else {
    return false;
  };
  loop {
    match entity::sessions::Entity::find_by_id(session_key)
      .one(database)
      .await
    {
      Ok(Some(_)) => return true,
      Ok(None) => {}
      Err(error) => tracing::debug!(%error, "could not look for the replayed session yet"),
    }
    tokio::select! {
      () = stop.cancelled() => return false,
      () = tokio::time::sleep(SESSION_CHECK_INTERVAL) => {}
    }
  }
}

/// Runs until SIGTERM or Ctrl-C (or until the api or the worker fails).
///
/// # Errors
/// Fails when the options or settings are invalid, the replay cannot start, the database cannot be opened or an
/// address cannot be bound.
pub async fn run(options: Options) -> anyhow::Result<()> {
  worker::install_tls_provider();
  let mut overrides = Overrides::new();
  let loopback_any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).to_string();
  // Metrics on free loopback ports, so that this never clashes with a running `api` or `worker`.
  for name in ["API_METRICS_ADDRESS", "WORKER_METRICS_ADDRESS"] {
    if std::env::var(name).is_err() {
      overrides.insert(name, Some(loopback_any_port.clone()));
    }
  }
  overrides.insert("API_LISTEN_ADDRESS", Some(options.listen.to_string()));
  if options.listen.port() != 0 && std::env::var("API_PUBLIC_URL").is_err() {
    overrides.insert("API_PUBLIC_URL", Some(public_base_url(options.listen)));
  }
  std::fs::create_dir_all(&options.data_dir)
    .with_context(|| format!("create --data-dir {}", options.data_dir.display()))?;

  let (replay, database_label) = if options.offline {
    let path = options.data_dir.join(REPLAY_DATABASE_FILE);
    empty_replay_database(&path)?;
    overrides.insert("DATABASE_URL", Some(entity::database::sqlite_url(&path)));
    overrides.insert("REDIS_URL", None);
    let replay = start_replay(&options, &mut overrides).await?;
    (
      Some(replay),
      format!("{} (emptied at every start)", path.display()),
    )
  } else if std::env::var("DATABASE_URL").is_ok_and(|url| !url.trim().is_empty()) {
    (None, "DATABASE_URL".to_owned())
  } else {
    let path = options.data_dir.join(DATABASE_FILE);
    overrides.insert("DATABASE_URL", Some(entity::database::sqlite_url(&path)));
    (None, path.display().to_string())
  };

  let worker_settings = worker::Settings::from_lookup(lookup(&overrides))?;
  worker::init_telemetry(&worker_settings);
  let api_settings = api::Settings::from_lookup(lookup(&overrides))?;
  // The api creates the schema (API_RUN_MIGRATIONS) before the worker starts writing.
  let application = api::Application::build(api_settings)
    .await
    .context("start the api")?;
  let worker = worker::Worker::build(worker_settings)
    .await
    .context("start the worker")?;

  let base_url = public_base_url(SocketAddr::new(options.listen.ip(), application.port()));
  let source = match &replay {
    Some(replay) => format!(
      "offline: replaying {} at {}x as if live now (the local Open F1 server at {})",
      replay.description,
      options.speed,
      replay.server.base_url()
    ),
    None => "following Open F1 (OPENF1_BASE_URL)".to_owned(),
  };
  let viewer = match &replay {
    Some(_) => format!(
      "{base_url}/viewer?session={}&chart={VIEWER_CHART}",
      options.session
    ),
    None => format!("{base_url}/viewer"),
  };
  let announcement = format!(
    "\nF1 backend running, {source}\n  viewer:   {viewer}\n  API docs: {base_url}/docs\n  database: \
     {database_label}\n  metrics:  api http://127.0.0.1:{}/metrics, worker http://127.0.0.1:{}/metrics\nCtrl-C \
     stops it.\n",
    application.metrics_port(),
    worker.port()
  );
  let database = worker.ingestor().database().clone();
  let replayed_session = replay.as_ref().map(|_| options.session);

  let stop = CancellationToken::new();
  let signal = stop.clone();
  tokio::spawn(async move {
    api::shutdown_signal().await;
    signal.cancel();
  });
  let api_stop = stop.clone();
  let api = async {
    let served = application
      .run_until_stopped(async move { api_stop.cancelled().await })
      .await;
    stop.cancel();
    served
  };
  let worker = async {
    let worked = worker.run_until_stopped(stop.clone()).await;
    stop.cancel();
    worked
  };
  let announce = async {
    // The viewer URL opens the replayed session: print it once the worker's first calendar sync stored it.
    if let Some(session_key) = replayed_session {
      match tokio::time::timeout(
        SESSION_WAIT_LIMIT,
        wait_for_session(&database, session_key, &stop),
      )
      .await
      {
        Ok(true) => {}
        Ok(false) => return,
        Err(_) => tracing::warn!(
          session_key,
          "the worker has not stored the replayed session yet: the viewer answers 404 until it has (see the logs)"
        ),
      }
    }
    // The one thing to read on start-up, so on standard output rather than among the logs (standard error).
    println!("{announcement}");
  };
  let (served, worked, ()) = tokio::join!(api, worker, announce);
  if let Some(replay) = replay {
    replay.server.stop().await;
  }
  served.context("the api failed")?;
  worked.context("the worker failed")
}
