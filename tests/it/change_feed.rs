//! The api's change feed: it learns the worker's commits from the change log (polling) and from Redis
//! (publication), raises the versions of exactly the scopes they affect, broadcasts them in id order, and reloads
//! its session directory when sessions change.

use std::time::Duration;

use api::{ChangeFeed, Metrics};
use entity::Endpoint;
use entity::cache::CacheScope;
use f1_backend::{Engine, TestDatabase, fixture_rows, fixtures_dir, redis_url, unique_name};
use worker::{Batch, CacheInvalidator, Committer};

/// Generous bound for a feed to apply a change (the assertion is that it happens, not how fast).
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The worker's commit path on `database`, announcing on Redis under `prefix` when `redis` is given.
pub fn committer(database: &TestDatabase, redis: Option<&str>, prefix: &str) -> Committer {
  let metrics = worker::Metrics::new().expect("metrics");
  let invalidator = CacheInvalidator::new(redis, prefix, metrics.clone()).expect("redis url");
  Committer::new(database.connection.clone(), invalidator, metrics)
}

/// Rows of a recorded file of the 2024 Bahrain race.
pub fn race_rows(file: &str) -> Vec<serde_json::Value> {
  fixture_rows(&fixtures_dir().join("9472_bahrain_2024_race").join(file))
}

/// Commits `rows` of `endpoint` (season 2024) and returns the id of the one change it records.
pub async fn commit_rows(
  committer: &Committer,
  endpoint: Endpoint,
  rows: &[serde_json::Value],
) -> i64 {
  let outcome = committer
    .commit(&[Batch {
      endpoint,
      rows,
      year: Some(2024),
    }])
    .await
    .expect("commit");
  outcome
    .changes
    .iter()
    .map(|change| change.id)
    .max()
    .expect("the commit wrote rows")
}

/// What committing recorded rows did: how many rows were given and written, and the changes recorded.
pub struct Committed {
  /// Rows given to the commit.
  pub given: usize,
  /// Rows written (new or changed).
  pub written: usize,
  /// The change log rows the commit recorded.
  pub changes: Vec<entity::change_log::Change>,
}

/// Commits every row of the recorded race files of `files` in one transaction, each file as its endpoint (season
/// 2024).
pub async fn commit_race_files(committer: &Committer, files: &[(Endpoint, &str)]) -> Committed {
  let rows: Vec<(Endpoint, Vec<serde_json::Value>)> = files
    .iter()
    .map(|&(endpoint, file)| (endpoint, race_rows(file)))
    .collect();
  let batches: Vec<Batch<'_>> = rows
    .iter()
    .map(|(endpoint, rows)| Batch {
      endpoint: *endpoint,
      rows,
      year: Some(2024),
    })
    .collect();
  let outcome = committer.commit(&batches).await.expect("commit");
  Committed {
    given: rows.iter().map(|(_, rows)| rows.len()).sum(),
    written: outcome.stored.written,
    changes: outcome.changes,
  }
}

/// Waits (bounded) until `feed` applied `change_id`.
pub async fn wait_for(feed: &ChangeFeed, change_id: i64) {
  tokio::time::timeout(DEADLINE, feed.wait_for(change_id))
    .await
    .unwrap_or_else(|_| panic!("the feed never applied change {change_id}"));
}

async fn feed_on(
  database: &TestDatabase,
  redis: Option<&str>,
  prefix: &str,
  poll: Duration,
) -> ChangeFeed {
  ChangeFeed::start(
    database.connection.clone(),
    redis,
    prefix,
    poll,
    Metrics::new().expect("metrics"),
  )
  .await
  .expect("start the change feed")
}

#[tokio::test]
async fn the_feed_learns_a_commit_from_the_change_log_and_raises_only_the_scopes_it_affects() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  let feed = feed_on(&database, None, "unused", Duration::from_millis(50)).await;
  assert!(feed.is_loaded());
  assert_eq!(feed.newest(), 0);
  let mut changes = feed.subscribe();
  let committer = committer(&database, None, "unused");

  let sessions = commit_rows(&committer, Endpoint::Sessions, &race_rows("sessions.json")).await;
  wait_for(&feed, sessions).await;
  let session = feed
    .directory()
    .session(9472)
    .expect("a change of sessions reloads the directory");
  assert_eq!(session.year, 2024);
  assert_eq!(feed.version(CacheScope::Season(2024)), sessions);
  assert_eq!(feed.version(CacheScope::Calendar), sessions);

  let laps = commit_rows(&committer, Endpoint::Laps, &race_rows("laps.json")).await;
  wait_for(&feed, laps).await;
  assert_eq!(feed.newest(), laps);
  assert_eq!(feed.version(CacheScope::Session(9472)), laps);
  assert_eq!(
    feed.version(CacheScope::Season(2024)),
    sessions,
    "laps do not stale the season"
  );
  assert_eq!(feed.version(CacheScope::Session(1)), 0);

  let first = changes.recv().await.expect("the sessions change");
  let second = changes.recv().await.expect("the laps change");
  assert_eq!((first.id, second.id), (sessions, laps), "in id order");
  assert!(second.touches("laps"));

  let restarted = feed_on(&database, None, "unused", Duration::from_millis(50)).await;
  assert_eq!(restarted.newest(), laps, "a new feed loads the versions");
  assert_eq!(restarted.version(CacheScope::Session(9472)), laps);
  assert!(restarted.directory().session(9472).is_some());
}

#[tokio::test]
async fn the_feed_learns_a_commit_from_redis_without_waiting_for_its_poll() {
  let database = TestDatabase::migrated(Engine::MariaDb).await;
  let prefix = unique_name("feed");
  // The poll comes once an hour: only the publication can deliver the change within the deadline.
  let feed = feed_on(
    &database,
    Some(&redis_url()),
    &prefix,
    Duration::from_secs(3600),
  )
  .await;
  let deadline = tokio::time::Instant::now() + DEADLINE;
  while feed.health().subscription != "subscribed" {
    assert!(tokio::time::Instant::now() < deadline, "never subscribed");
    tokio::time::sleep(Duration::from_millis(10)).await;
  }
  let committer = committer(&database, Some(&redis_url()), &prefix);
  let laps = commit_rows(&committer, Endpoint::Laps, &race_rows("laps.json")).await;
  wait_for(&feed, laps).await;
  assert_eq!(feed.version(CacheScope::Session(9472)), laps);
  let stints = commit_rows(&committer, Endpoint::Stints, &race_rows("stints.json")).await;
  wait_for(&feed, stints).await;
  assert_eq!(feed.version(CacheScope::Session(9472)), stints);
}
