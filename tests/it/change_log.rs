//! The change log: the worker's one commit path appends one row per session it wrote in the same transaction,
//! publishes the changes on Redis after COMMIT, raises the scopes' Redis versions, and prunes old rows.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use entity::Endpoint;
use entity::cache::{CacheKeys, CacheScope};
use entity::change_log::{self, Change, PendingChange};
use f1_backend::{Engine, TestDatabase, fixtures_dir, redis_url, unique_name};
use futures::StreamExt;
use openf1_server::{OpenF1Server, ServerOptions};
use tokio_util::sync::CancellationToken;
use worker::{BackfillTarget, Batch, Worker};

use crate::change_feed::{DEADLINE, commit_race_files, committer, race_rows};

async fn next_published(
  stream: &mut (impl futures::Stream<Item = redis::Msg> + Unpin),
) -> Vec<Change> {
  let message = tokio::time::timeout(DEADLINE, stream.next())
    .await
    .expect("a publication within the deadline")
    .expect("the subscription is open");
  serde_json::from_slice(message.get_payload_bytes()).expect("changes as JSON")
}

#[tokio::test]
async fn a_commit_records_one_change_per_session_publishes_it_and_raises_the_scope_version() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  let prefix = unique_name("changes");
  let keys = CacheKeys::new(prefix.clone());
  let client = redis::Client::open(redis_url()).expect("redis url");
  let mut subscription = client.get_async_pubsub().await.expect("subscribe");
  subscription
    .subscribe(keys.changes_channel())
    .await
    .expect("subscribe to the changes channel");
  let mut published = subscription.into_on_message();
  let committer = committer(&database, Some(&redis_url()), &prefix);

  let outcome = commit_race_files(
    &committer,
    &[
      (Endpoint::Laps, "laps.json"),
      (Endpoint::Stints, "stints.json"),
    ],
  )
  .await;
  assert_eq!(outcome.written, outcome.given);
  assert_eq!(outcome.changes.len(), 1, "one session: one change row");
  let change = outcome.changes[0].clone();
  assert_eq!(change.session_key, Some(9472));
  assert_eq!(change.year, Some(2024));
  assert_eq!(change.tables, vec!["laps".to_owned(), "stints".to_owned()]);
  assert_eq!(
    change_log::changes_after(&database.connection, 0, 100)
      .await
      .expect("read the change log"),
    vec![change.clone()]
  );
  assert_eq!(next_published(&mut published).await, vec![change.clone()]);

  let mut redis = client
    .get_multiplexed_async_connection()
    .await
    .expect("redis");
  let version: i64 = redis::cmd("GET")
    .arg(keys.version(CacheScope::Session(9472)))
    .query_async(&mut redis)
    .await
    .expect("scope version");
  assert_eq!(version, change.id);
  let scope = CacheScope::Session(9472);
  // (the version an entry was built at, its bytes, whether it is stored, why)
  let stores = [
    (
      change.id - 1,
      b"old",
      false,
      "an entry built before the change is refused",
    ),
    (
      change.id,
      b"new",
      true,
      "an entry built at the change is stored",
    ),
    (
      change.id - 1,
      b"old",
      false,
      "an older entry never replaces a newer one",
    ),
  ];
  for (built_at, body, stored, why) in stores {
    let answer = entity::cache::store_entry(
      &mut redis,
      &keys,
      scope,
      "chart:x",
      built_at,
      body,
      Duration::from_secs(60),
    )
    .await
    .expect("store");
    assert_eq!(answer, stored, "{why}");
  }

  let laps = race_rows("laps.json");
  let again = committer
    .commit(&[Batch {
      endpoint: Endpoint::Laps,
      rows: &laps,
      year: Some(2024),
    }])
    .await
    .expect("commit the same rows again");
  assert_eq!(again.stored.written, 0);
  assert!(
    again.changes.is_empty(),
    "nothing written, nothing recorded"
  );

  let mut corrected = laps[0].clone();
  corrected["lap_duration"] = serde_json::json!(123.456);
  let correction = committer
    .commit(&[Batch {
      endpoint: Endpoint::Laps,
      rows: &[corrected],
      year: Some(2024),
    }])
    .await
    .expect("commit a correction");
  assert_eq!(correction.changes.len(), 1);
  assert!(correction.changes[0].id > change.id);
  assert_eq!(
    next_published(&mut published).await,
    correction.changes,
    "the unchanged commit published nothing: the next message is the correction"
  );
  assert_eq!(
    entity::cache::fetch_entry(&mut redis, &keys, scope, "chart:x")
      .await
      .expect("fetch"),
    None,
    "the correction evicted the scope"
  );
}

#[tokio::test]
async fn a_backfill_records_the_sessions_it_wrote_and_a_second_one_records_nothing() {
  let server = OpenF1Server::start(ServerOptions::new(fixtures_dir()))
    .await
    .expect("start the local Open F1 server");
  let database = TestDatabase::migrated(Engine::Sqlite).await;
  let mut settings = worker::Settings::with_database(&database.url).expect("settings");
  settings.base_url = server.base_url();
  settings.token_url = server.token_url();
  settings.max_requests_per_second = std::num::NonZeroU32::new(100_000).expect("non-zero");
  settings.max_requests_per_minute = std::num::NonZeroU32::new(6_000_000).expect("non-zero");
  settings.metrics_address = "127.0.0.1:0".parse().expect("address");
  settings.telemetry_window = Duration::from_secs(3600);
  let worker = Worker::build(settings).await.expect("build the worker");
  let cancellation = CancellationToken::new();
  worker
    .backfill(BackfillTarget::Session(9472), &cancellation)
    .await
    .expect("backfill");
  let changes = change_log::changes_after(&database.connection, 0, 10_000)
    .await
    .expect("read the change log");
  let of_session: BTreeSet<String> = changes
    .iter()
    .filter(|change| change.session_key == Some(9472))
    .flat_map(|change| change.tables.clone())
    .collect();
  for table in ["sessions", "drivers", "laps", "stints", "pit"] {
    assert!(of_session.contains(table), "{table} in {of_session:?}");
  }
  assert!(
    changes
      .iter()
      .any(|change| change.session_key.is_none() && change.touches("meetings")),
    "the meeting is recorded as a season change"
  );
  let ids: Vec<i64> = changes.iter().map(|change| change.id).collect();
  let mut sorted = ids.clone();
  sorted.sort_unstable();
  sorted.dedup();
  assert_eq!(ids, sorted, "ids increase");

  worker
    .backfill(BackfillTarget::Session(9472), &cancellation)
    .await
    .expect("backfill again");
  assert_eq!(
    change_log::changes_after(&database.connection, 0, 10_000)
      .await
      .expect("read the change log")
      .len(),
    changes.len(),
    "re-ingesting unchanged data records nothing"
  );
  server.stop().await;
}

async fn pruning_keeps_recent_rows_and_the_newest_so_ids_never_restart(engine: Engine) {
  let database = TestDatabase::migrated(engine).await;
  let committer = committer(&database, None, "unused");
  let long_ago = Utc::now() - TimeDelta::hours(72);
  let change = |session_key| PendingChange {
    session_key: Some(session_key),
    year: Some(2024),
    tables: ["laps".to_owned()].into(),
  };
  let old = change_log::append(&database.connection, &[change(1), change(2)], long_ago)
    .await
    .expect("append old changes");
  assert_eq!(
    committer.prune_change_log(Utc::now()).await.expect("prune"),
    1,
    "the newest row is kept even when it is old"
  );
  let recent = change_log::append(&database.connection, &[change(3)], Utc::now())
    .await
    .expect("append a recent change");
  assert!(recent[0].id > old[1].id);
  assert_eq!(
    committer.prune_change_log(Utc::now()).await.expect("prune"),
    1
  );
  let left = change_log::changes_after(&database.connection, 0, 10)
    .await
    .expect("read");
  assert_eq!(left, recent);
  assert_eq!(
    change_log::changes_of_session_after(&database.connection, 3, 0, 10)
      .await
      .expect("read"),
    recent
  );
  assert!(
    change_log::changes_of_session_after(&database.connection, 3, recent[0].id, 10)
      .await
      .expect("read")
      .is_empty()
  );
}

#[tokio::test]
async fn pruning_keeps_recent_rows_and_the_newest_so_ids_never_restart_on_mariadb() {
  pruning_keeps_recent_rows_and_the_newest_so_ids_never_restart(Engine::MariaDb).await;
}

#[tokio::test]
async fn pruning_keeps_recent_rows_and_the_newest_so_ids_never_restart_on_sqlite() {
  pruning_keeps_recent_rows_and_the_newest_so_ids_never_restart(Engine::Sqlite).await;
}
