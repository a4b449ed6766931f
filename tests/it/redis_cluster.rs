//! `REDIS_URL` naming a Redis Cluster (`redis+cluster://…`): the cache's Lua scripts run on the node owning each
//! scope's slot, the worker's commit path invalidates and publishes through the cluster, and a subscriber on the
//! cluster (the api's change feed) hears the publication; two api replicas share precompressed figures through it.
//! Each test starts its own three-node cluster.

use std::time::Duration;

use api::{Secret, Settings};
use entity::Endpoint;
use entity::cache::{CacheKeys, CacheScope};
use entity::change_log::Change;
use entity::redis_client::RedisTarget;
use f1_backend::{Engine, RedisCluster, TestDatabase, fixture_rows, fixtures_dir, unique_name};
use futures::StreamExt;
use worker::{Batch, CacheInvalidator, Committer, Metrics};

use crate::api_support::TestApi;
use crate::change_feed::{DEADLINE, commit_race_files, committer};

#[tokio::test]
async fn entries_of_scopes_in_different_slots_are_stored_fetched_and_refused_when_overtaken_on_a_cluster()
 {
  let cluster = RedisCluster::start().await;
  let target = RedisTarget::parse(&cluster.url()).expect("a cluster URL");
  assert!(target.is_cluster());
  let mut connection = target.connect_lazily().expect("connect");
  let keys = CacheKeys::new(unique_name("cluster"));
  let scopes = [
    CacheScope::Session(9472),
    CacheScope::Session(9473),
    CacheScope::Season(2024),
    CacheScope::Calendar,
  ];
  for (index, scope) in scopes.into_iter().enumerate() {
    let value = format!("figure {index}");
    let stored = entity::cache::store_entry(
      &mut connection,
      &keys,
      scope,
      "chart:lap-times",
      5,
      value.as_bytes(),
      Duration::from_secs(60),
    )
    .await
    .expect("store");
    assert!(stored);
    let fetched = entity::cache::fetch_entry(&mut connection, &keys, scope, "chart:lap-times")
      .await
      .expect("fetch")
      .expect("an entry");
    assert_eq!(fetched.value, value.as_bytes());
    assert_eq!(fetched.version, 5);
  }
  let removed = entity::cache::invalidate(&mut connection, &keys, [(CacheScope::Season(2024), 7)])
    .await
    .expect("invalidate");
  assert_eq!(removed, 1);
  let overtaken = entity::cache::store_entry(
    &mut connection,
    &keys,
    CacheScope::Season(2024),
    "chart:lap-times",
    6,
    b"stale",
    Duration::from_secs(60),
  )
  .await
  .expect("store");
  assert!(
    !overtaken,
    "a build older than the scope's version is refused"
  );
  // The scopes really are spread over the nodes: each node answers for the slots it owns only.
  let mut owners = std::collections::BTreeSet::new();
  for scope in scopes {
    let key = keys.version(scope);
    for index in 0..cluster.ports.len() {
      let mut node = redis::Client::open(cluster.node_url(index))
        .expect("node url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to a node");
      let owned: redis::RedisResult<Option<i64>> =
        redis::cmd("GET").arg(&key).query_async(&mut node).await;
      if owned.is_ok() {
        owners.insert(index);
      }
    }
  }
  assert!(
    owners.len() > 1,
    "the scopes live on several nodes: {owners:?}"
  );
}

#[tokio::test]
async fn the_worker_commit_invalidates_and_publishes_through_the_cluster_and_a_cluster_subscriber_hears_it()
 {
  let cluster = RedisCluster::start().await;
  let database = TestDatabase::migrated(Engine::Sqlite).await;
  let prefix = unique_name("cluster");
  let keys = CacheKeys::new(prefix.clone());
  let target = RedisTarget::parse(&cluster.url()).expect("a cluster URL");
  let mut connection = target.connect_lazily().expect("connect");
  for scope in [CacheScope::Session(9472), CacheScope::Season(2024)] {
    assert!(
      entity::cache::store_entry(
        &mut connection,
        &keys,
        scope,
        "chart:lap-times",
        0,
        b"{}",
        Duration::from_secs(60),
      )
      .await
      .expect("store")
    );
  }
  let mut published = target
    .subscribe(&keys.changes_channel())
    .await
    .expect("subscribe through the cluster");

  let committer = committer(&database, Some(&cluster.url()), &prefix);
  let outcome = commit_race_files(
    &committer,
    &[
      (Endpoint::Laps, "laps.json"),
      (Endpoint::SessionResult, "session_result.json"),
    ],
  )
  .await;
  assert_eq!(outcome.changes.len(), 1);

  let message = tokio::time::timeout(DEADLINE, published.next())
    .await
    .expect("a publication within the deadline")
    .expect("the subscription is open");
  let changes: Vec<Change> = serde_json::from_slice(&message).expect("changes as JSON");
  assert_eq!(changes, outcome.changes);
  let version = outcome.changes[0].id;
  for scope in [CacheScope::Session(9472), CacheScope::Season(2024)] {
    let entry = entity::cache::fetch_entry(&mut connection, &keys, scope, "chart:lap-times")
      .await
      .expect("fetch");
    assert!(entry.is_none(), "{scope} invalidated");
    let stale = entity::cache::store_entry(
      &mut connection,
      &keys,
      scope,
      "chart:lap-times",
      version - 1,
      b"{}",
      Duration::from_secs(60),
    )
    .await
    .expect("store");
    assert!(!stale, "{scope}'s version was raised to the change id");
  }
}

async fn chart(api: &TestApi, accept: &str) -> (String, String, Vec<u8>) {
  let response = api
    .client
    .get(format!(
      "{}/v1/sessions/9472/charts/lap-times?drivers=1,44",
      api.base_url
    ))
    .header("accept-encoding", accept)
    .send()
    .await
    .expect("request");
  assert_eq!(response.status(), 200);
  let cache = response.headers()["x-cache"]
    .to_str()
    .expect("x-cache")
    .to_owned();
  let tag = response.headers()["etag"]
    .to_str()
    .expect("etag")
    .to_owned();
  let body = response.bytes().await.expect("body").to_vec();
  (cache, tag, body)
}

#[tokio::test]
async fn two_api_replicas_share_precompressed_figures_through_the_cluster_and_hear_the_worker_at_once()
 {
  let cluster = RedisCluster::start().await;
  let database = TestDatabase::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let prefix = unique_name("cluster");
  let settings = || {
    let mut settings = Settings::for_tests(database.url.clone());
    settings.shared.redis_url = Some(Secret::new(cluster.url()));
    settings.shared.cache_prefix.clone_from(&prefix);
    // The poll would find the change too, but only after an hour: within the deadline, only the cluster's
    // publication can tell the replicas.
    settings.change_poll_interval = Duration::from_secs(3600);
    settings
  };
  let first = TestApi::start(settings(), None).await;
  let second = TestApi::start(settings(), None).await;

  let (cache, tag, built) = chart(&first, "gzip").await;
  assert_eq!(cache, "miss");
  assert!(tag.ends_with("-gzip\""), "{tag}");
  let (cache, shared_tag, shared) = chart(&second, "gzip").await;
  assert_eq!(cache, "hit", "the other replica reads the cluster");
  assert_eq!(shared_tag, tag, "the same representation, compressed once");
  assert_eq!(shared, built);
  let (_, zstd_tag, _) = chart(&second, "zstd").await;
  assert!(zstd_tag.ends_with("-zstd\""));

  let metrics = Metrics::new().expect("metrics");
  let invalidator =
    CacheInvalidator::new(Some(&cluster.url()), &prefix, metrics.clone()).expect("a cluster URL");
  let committer = Committer::new(database.connection.clone(), invalidator, metrics);
  let mut laps = fixture_rows(
    &fixtures_dir()
      .join("9472_bahrain_2024_race")
      .join("laps.json"),
  );
  let lap = laps
    .iter_mut()
    .find(|lap| lap["driver_number"] == 1 && lap["lap_duration"].is_number())
    .expect("a timed lap of car 1");
  lap["lap_duration"] = serde_json::json!(lap["lap_duration"].as_f64().expect("a number") + 10.0);
  let corrected = lap.clone();
  committer
    .commit(&[Batch {
      endpoint: Endpoint::Laps,
      rows: std::slice::from_ref(&corrected),
      year: Some(2024),
    }])
    .await
    .expect("commit");
  for api in [&first, &second] {
    let rebuilt = tokio::time::timeout(DEADLINE, async {
      loop {
        let (cache, rebuilt_tag, _) = chart(api, "gzip").await;
        if rebuilt_tag != tag {
          return cache;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
      }
    })
    .await
    .expect("the publication reaches the replica through the cluster");
    assert!(rebuilt == "miss" || rebuilt == "hit", "{rebuilt}");
  }
  drop(database);
}
