//! The crash test: `worker backfill` killed with SIGKILL (`kill -9`) at random points, then run again to the end,
//! leaves every table exactly as a clean run does (same rows, no duplicates, no half-written batch), and its change
//! log names every table that holds rows.
//!
//! Each backfill is a real process: this test binary run again as `worker backfill --session 9472` through the
//! worker's own command line (see [`backfill_as_a_child_process`]), configured by environment variables like the
//! binary, against the local Open F1 server serving the recorded fixtures. A kill point is "the worker's n-th
//! request to Open F1 has arrived, plus a delay of up to 40 ms", so most kills land while a response is being stored
//! (the stores happen right after the data requests); two of the ten land anywhere in the run. The points come from a
//! fixed seed, printed (set `CRASH_TEST_SEED` to try others); whatever the points, the outcome must be the same.
//!
//! Compared: every table's row count and checksum (`SUM(CRC32(every column))`), except two journals: the change
//! log (a killed run commits in smaller steps, so its rows differ by design) and the migrations table (timestamps);
//! `ingest_state` is compared on `(session_key, status)` (its times and refresh counts say when, not what).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::Parser as _;
use f1_backend::{Engine, TestDatabase, fixtures_dir};
use openf1_server::{OpenF1Server, ServerOptions};
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, Statement};

/// The session backfilled: the 2024 Bahrain Grand Prix race (the largest recorded fixture).
const SESSION_KEY: i32 = 9472;
/// How many times the backfill is killed before the final run.
const KILLS: usize = 10;
/// Of which, killed anywhere in the run rather than around the data requests.
const KILLS_ANYWHERE: usize = 2;
/// The seed of the kill points when `CRASH_TEST_SEED` is not set.
const DEFAULT_SEED: u64 = 14;
/// Largest delay after the chosen request before the kill.
const MAX_KILL_DELAY: Duration = Duration::from_millis(40);
/// Longest a backfill run may take before the test fails (a clean one takes a few seconds).
const RUN_DEADLINE: Duration = Duration::from_secs(180);
/// Set in the child's environment: the child test runs the backfill only then.
const CHILD_VARIABLE: &str = "F1_CRASH_TEST_CHILD";
/// Tables not compared: journals whose rows say when and in how many steps, not what.
const JOURNALS: [&str; 2] = ["change_log", "seaql_migrations"];

/// Runs `worker backfill --session 9472` exactly as the binary would (settings from the environment), when started
/// by [`start_backfill`] (the crash test, and the cache test of a worker in another process); does nothing when run
/// on its own.
#[tokio::test]
#[ignore = "a child process of the crash test and of cache_tiers::the_embedded_default_sees_a_worker_process_commit_within_a_second"]
async fn backfill_as_a_child_process() {
  if std::env::var_os(CHILD_VARIABLE).is_none() {
    return;
  }
  let session = SESSION_KEY.to_string();
  let cli = worker::Cli::parse_from(["worker", "backfill", "--session", &session]);
  let code = cli.run().await.expect("the backfill succeeds");
  assert_eq!(code, std::process::ExitCode::SUCCESS);
}

/// How a backfill run ended.
#[derive(Debug)]
enum RunEnd {
  /// Killed with SIGKILL after `requests` requests of this run.
  Killed { requests: usize },
  /// Finished before the kill point came.
  Finished { success: bool },
}

/// Starts a backfill child process (`worker backfill --session 9472`) against `database` and `server`, logging to
/// `log`.
pub(crate) fn start_backfill(
  database: &TestDatabase,
  server: &OpenF1Server,
  log: &Path,
) -> tokio::process::Child {
  let executable = std::env::current_exe().expect("the test binary");
  let output = std::fs::File::create(log).expect("create the child's log");
  let errors = output.try_clone().expect("clone the log file");
  tokio::process::Command::new(executable)
    .args([
      "--exact",
      "crash::backfill_as_a_child_process",
      "--ignored",
      "--nocapture",
      "--test-threads",
      "1",
    ])
    .env_clear()
    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
    .env(CHILD_VARIABLE, "1")
    .env("DATABASE_URL", &database.url)
    .env("OPENF1_BASE_URL", server.base_url())
    .env("OPENF1_TOKEN_URL", server.token_url())
    .env("OPENF1_MAX_REQUESTS_PER_SECOND", "100000")
    .env("OPENF1_MAX_REQUESTS_PER_MINUTE", "6000000")
    .env("WORKER_METRICS_ADDRESS", "127.0.0.1:0")
    .env("RUST_LOG", "info,sqlx=warn")
    .stdin(Stdio::null())
    .stdout(output)
    .stderr(errors)
    .kill_on_drop(true)
    .spawn()
    .expect("start the backfill process")
}

/// Runs a backfill to its end, or kills it (SIGKILL) once `kill_point` = (requests into the run, delay) is reached.
async fn run_backfill(
  database: &TestDatabase,
  server: &OpenF1Server,
  log: &Path,
  kill_point: Option<(usize, Duration)>,
) -> RunEnd {
  let started_at = server.request_count();
  let deadline = Instant::now() + RUN_DEADLINE;
  let mut child = start_backfill(database, server, log);
  loop {
    if let Some(status) = child.try_wait().expect("poll the child") {
      return RunEnd::Finished {
        success: status.success(),
      };
    }
    if let Some((requests, delay)) = kill_point
      && server.request_count() - started_at >= requests
    {
      tokio::time::sleep(delay).await;
      child.start_kill().expect("SIGKILL the backfill");
      child.wait().await.expect("reap the child");
      return RunEnd::Killed {
        requests: server.request_count() - started_at,
      };
    }
    assert!(
      Instant::now() < deadline,
      "a backfill ran longer than {RUN_DEADLINE:?}; log: {}",
      log.display()
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
  }
}

/// Every compared table's `(row count, checksum)`.
async fn table_checksums(database: &TestDatabase) -> BTreeMap<String, (i64, String)> {
  let connection = &database.connection;
  let backend = connection.get_database_backend();
  let columns = connection
    .query_all_raw(Statement::from_string(
      backend,
      "SELECT table_name AS table_name, column_name AS column_name FROM information_schema.columns \
       WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position",
    ))
    .await
    .expect("list the columns");
  let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
  for row in columns {
    let table: String = row.try_get("", "table_name").expect("table_name");
    let column: String = row.try_get("", "column_name").expect("column_name");
    if JOURNALS.contains(&table.as_str())
      || (table == "ingest_state" && column != "session_key" && column != "status")
    {
      continue;
    }
    tables.entry(table).or_default().push(column);
  }
  let mut checksums = BTreeMap::new();
  for (table, columns) in tables {
    let values: Vec<String> = columns
      .iter()
      .map(|column| format!("COALESCE(CAST(`{column}` AS CHAR), '<null>')"))
      .collect();
    let sql = format!(
      "SELECT COUNT(*) AS row_count, \
       CAST(COALESCE(SUM(CRC32(CONCAT_WS('|', {}))), 0) AS CHAR) AS checksum FROM `{table}`",
      values.join(", ")
    );
    let row = connection
      .query_one_raw(Statement::from_string(backend, sql))
      .await
      .expect("checksum a table")
      .expect("one row");
    let row_count: i64 = row.try_get("", "row_count").expect("row_count");
    let checksum: String = row.try_get("", "checksum").expect("checksum");
    checksums.insert(table, (row_count, checksum));
  }
  checksums
}

/// The data tables holding rows of the session, and the tables the change log names for it.
async fn tables_with_rows_and_logged(
  database: &TestDatabase,
) -> (BTreeSet<String>, BTreeSet<String>) {
  let connection = &database.connection;
  let backend = connection.get_database_backend();
  let mut with_rows = BTreeSet::new();
  for endpoint in entity::Endpoint::ALL {
    let table = endpoint.name();
    let has_column = connection
      .query_one_raw(Statement::from_string(
        backend,
        format!(
          "SELECT COUNT(*) AS found FROM information_schema.columns WHERE table_schema = DATABASE() \
           AND table_name = '{table}' AND column_name = 'session_key'"
        ),
      ))
      .await
      .expect("look for session_key")
      .and_then(|row| row.try_get::<i64>("", "found").ok())
      .is_some_and(|found| found > 0);
    if !has_column {
      continue;
    }
    let rows = connection
      .query_one_raw(Statement::from_string(
        backend,
        format!("SELECT COUNT(*) AS row_count FROM `{table}` WHERE session_key = {SESSION_KEY}"),
      ))
      .await
      .expect("count rows")
      .and_then(|row| row.try_get::<i64>("", "row_count").ok())
      .unwrap_or(0);
    if rows > 0 {
      with_rows.insert(table.to_owned());
    }
  }
  let logged = connection
    .query_all_raw(Statement::from_string(
      backend,
      format!("SELECT `tables` AS logged FROM change_log WHERE session_key = {SESSION_KEY}"),
    ))
    .await
    .expect("read the change log")
    .iter()
    .filter_map(|row| row.try_get::<String>("", "logged").ok())
    .flat_map(|tables| {
      tables
        .split(',')
        .map(str::to_owned)
        .collect::<Vec<String>>()
    })
    .collect();
  (with_rows, logged)
}

#[tokio::test]
async fn a_backfill_killed_at_random_points_then_run_again_ends_like_a_clean_run() {
  let seed = std::env::var("CRASH_TEST_SEED")
    .ok()
    .and_then(|seed| seed.parse().ok())
    .unwrap_or(DEFAULT_SEED);
  eprintln!("crash test: seed {seed} (set CRASH_TEST_SEED to choose another)");
  let server = OpenF1Server::start(ServerOptions::new(fixtures_dir()))
    .await
    .expect("start the local Open F1 server");
  let logs = std::env::temp_dir().join(f1_backend::unique_name("crash"));
  std::fs::create_dir_all(&logs).expect("create the log folder");

  let clean = TestDatabase::migrated(Engine::MariaDb).await;
  let before = server.request_count();
  let clean_log = logs.join("clean.log");
  let clean_run = run_backfill(&clean, &server, &clean_log, None).await;
  assert!(
    matches!(clean_run, RunEnd::Finished { success: true }),
    "the clean backfill failed: {clean_run:?}, log {}",
    clean_log.display()
  );
  let requests = server.requests();
  let run_requests = requests.len() - before;
  // The data requests come first; telemetry (car_data, location: empty in the fixtures) follows.
  let data_requests = requests[before..]
    .iter()
    .position(|request| request.path.ends_with("/car_data") || request.path.ends_with("/location"))
    .unwrap_or(run_requests)
    .max(1);
  let expected = table_checksums(&clean).await;
  assert!(
    expected.get("laps").is_some_and(|(rows, _)| *rows > 1000),
    "the clean run stored the laps: {expected:?}"
  );
  eprintln!(
    "crash test: a clean run makes {run_requests} requests, {data_requests} before telemetry"
  );

  let crashed = TestDatabase::migrated(Engine::MariaDb).await;
  let mut random = rand::rngs::StdRng::seed_from_u64(seed);
  for kill in 1..=KILLS {
    let last_request = if kill <= KILLS - KILLS_ANYWHERE {
      data_requests + 2
    } else {
      run_requests
    };
    let requests = random.random_range(1..=last_request);
    let delay = Duration::from_micros(
      random.random_range(0..=u64::try_from(MAX_KILL_DELAY.as_micros()).unwrap_or(u64::MAX)),
    );
    let log = logs.join(format!("kill-{kill}.log"));
    let end = match run_backfill(&crashed, &server, &log, Some((requests, delay))).await {
      RunEnd::Killed { requests } => format!("killed during request {requests}"),
      RunEnd::Finished { success } => format!("finished first (success: {success})"),
    };
    eprintln!("crash test: kill {kill}: chosen after request {requests} + {delay:?}: {end}");
  }
  let final_log = logs.join("final.log");
  let final_run = run_backfill(&crashed, &server, &final_log, None).await;
  assert!(
    matches!(final_run, RunEnd::Finished { success: true }),
    "the backfill after the kills failed: {final_run:?}, log {}",
    final_log.display()
  );

  let actual = table_checksums(&crashed).await;
  for (table, (rows, checksum)) in &expected {
    assert_eq!(
      actual.get(table),
      Some(&(*rows, checksum.clone())),
      "table {table} differs from a clean run (seed {seed}; logs in {})",
      logs.display()
    );
  }
  assert_eq!(actual.len(), expected.len(), "the same tables");
  for database in [&clean, &crashed] {
    let (with_rows, logged) = tables_with_rows_and_logged(database).await;
    assert!(
      with_rows.is_subset(&logged),
      "every table with rows is in the change log: {with_rows:?} vs {logged:?}"
    );
  }
  std::fs::remove_dir_all(&logs).ok();
  server.stop().await;
}
