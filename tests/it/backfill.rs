//! `worker backfill` meeting Open F1's 401 "session in progress" (the local Open F1 server's fault): it waits with
//! a clear log line and the daemon's back-off, then completes; stopped while waiting, it leaves the part-ingested
//! session recorded as `partial` in `ingest_state`, and the daemon's next poll completes it.

use std::time::Duration;

use entity::{drivers, ingest_state, laps};
use f1_backend::{Engine, TestDatabase, fixtures_dir};
use openf1_server::{Fault, ServerOptions};
use tokio_util::sync::CancellationToken;
use worker::{BackfillTarget, PollOutcome, Worker};

use crate::logs::capture_logs;
use crate::worker::{settings, start_server, table_counts, upstream_counts};

async fn state_of(database: &TestDatabase, session_key: i32) -> Option<ingest_state::Model> {
  use sea_orm::EntityTrait;
  ingest_state::Entity::find_by_id(session_key)
    .one(&database.connection)
    .await
    .expect("read ingest_state")
}

#[tokio::test]
async fn a_backfill_meeting_session_in_progress_waits_with_a_clear_log_line_then_completes() {
  let server = start_server(ServerOptions::new(fixtures_dir())).await;
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  let mut settings = settings(&database, &server, None);
  settings.upstream_locked_backoff = Duration::from_millis(100);
  let worker = Worker::build(settings).await.expect("build the worker");
  server.push_fault(Fault::SessionInProgress, 1, Some("/v1/sessions"));
  server.push_fault(Fault::SessionInProgress, 2, Some("/v1/laps"));
  let (logs, _guard) = capture_logs();

  worker
    .backfill(BackfillTarget::Session(9472), &CancellationToken::new())
    .await
    .expect("the backfill waits out the lock and completes");

  assert_eq!(
    table_counts(&database, 9472).await,
    upstream_counts(&server, 9472)
  );
  let state = state_of(&database, 9472).await.expect("state");
  assert_eq!(state.status, "ingested");
  let laps_statuses: Vec<u16> = server
    .requests()
    .iter()
    .filter(|request| request.path == "/v1/laps")
    .map(|request| request.status)
    .collect();
  assert_eq!(laps_statuses, [401, 401, 200]);
  let text = logs.text();
  let waits: Vec<&str> = text
    .lines()
    .filter(|line| line.contains("WARN") && line.contains("\"session in progress\""))
    .collect();
  assert_eq!(waits.len(), 3, "one line per wait:\n{text}");
  assert!(waits[0].contains("the calendar"), "{}", waits[0]);
  assert!(waits[1].contains("session 9472"), "{}", waits[1]);
  assert!(
    waits[1].contains("Waiting") && waits[1].contains("OPENF1_USERNAME"),
    "says what happens and how to avoid it: {}",
    waits[1]
  );
  server.stop().await;
}

#[tokio::test]
async fn a_backfill_stopped_while_upstream_is_locked_leaves_a_partial_session_that_the_daemon_completes()
 {
  let server = start_server(ServerOptions::new(fixtures_dir())).await;
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  let mut settings = settings(&database, &server, None);
  settings.upstream_locked_backoff = Duration::from_secs(3600);
  let worker = Worker::build(settings).await.expect("build the worker");
  server.push_fault(Fault::SessionInProgress, 1, Some("/v1/laps"));

  // Stop the backfill (as Ctrl-C would) once it waits, that is once the session is recorded as interrupted.
  let cancellation = CancellationToken::new();
  let backfill = worker.backfill(BackfillTarget::Session(9472), &cancellation);
  let stopper = async {
    for _ in 0..1500 {
      if state_of(&database, 9472)
        .await
        .is_some_and(|state| state.status == "partial")
      {
        cancellation.cancel();
        return;
      }
      tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the session was never recorded as partial");
  };
  let (stopped, ()) = tokio::join!(backfill, stopper);
  let message = format!("{:#}", stopped.expect_err("stopped on request"));
  assert!(
    message.contains("9472") && message.contains("partial") && message.contains("daemon"),
    "{message}"
  );

  let state = state_of(&database, 9472).await.expect("state");
  assert_eq!(state.status, "partial");
  assert!(
    state
      .next_refresh_at
      .is_some_and(|due| due <= chrono::Utc::now()),
    "due again at once"
  );
  assert!(
    state
      .last_error
      .is_some_and(|error| error.contains("session is in progress")),
    "says why it stopped"
  );
  assert!(database.count_rows::<drivers::Entity>(9472).await > 0);
  assert_eq!(database.count_rows::<laps::Entity>(9472).await, 0);

  let outcome = worker
    .poll_once(&CancellationToken::new())
    .await
    .expect("the daemon's poll");
  assert!(
    matches!(outcome, PollOutcome::NewData { .. }),
    "{outcome:?}"
  );
  assert_eq!(
    state_of(&database, 9472).await.expect("state").status,
    "ingested"
  );
  assert_eq!(
    table_counts(&database, 9472).await,
    upstream_counts(&server, 9472)
  );
  server.stop().await;
}
