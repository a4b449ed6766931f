//! Announcing a commit to the cache after COMMIT: raising the version and evicting the entries of exactly the
//! scopes its changes affect ([`entity::change_log::Change::scopes`], through [`entity::cache::invalidate`]), then
//! publishing the changes on Redis pub/sub ([`entity::cache::publish_changes`]) so that every api replica drops
//! its in-process copies at once.
//!
//! Redis being down never loses a database write nor correctness: the failure is logged and counted, and the
//! api replicas learn the changes from the `change_log` table they poll.

use entity::cache::CacheKeys;
use entity::change_log::Change;
use entity::redis_client::{REDIS_TIMEOUT, RedisConnection, RedisTarget};

use crate::metrics::Metrics;

/// Invalidates cache scopes in Redis and publishes changes, or does nothing when no Redis is configured.
#[derive(Clone)]
pub struct CacheInvalidator {
  connection: Option<RedisConnection>,
  keys: CacheKeys,
  metrics: Metrics,
}

impl CacheInvalidator {
  /// An invalidator for `redis_url` (None: no cache, nothing to do; one node or a cluster, see
  /// [`entity::redis_client`]) under `prefix`. Connects lazily.
  ///
  /// # Errors
  /// Fails when the URL is not a Redis URL.
  pub fn new(redis_url: Option<&str>, prefix: &str, metrics: Metrics) -> redis::RedisResult<Self> {
    let connection = match redis_url {
      None => {
        tracing::info!("REDIS_URL is not set: no cache to invalidate");
        None
      }
      Some(url) => Some(RedisTarget::parse(url)?.connect_lazily()?),
    };
    Ok(Self {
      connection,
      keys: CacheKeys::new(prefix),
      metrics,
    })
  }

  /// Invalidates the scopes of one commit's `changes` (each raised to the newest change id affecting it), then
  /// publishes the changes. Logs and counts failures instead of returning them.
  pub async fn announce(&self, changes: &[Change]) {
    let Some(connection) = &self.connection else {
      return;
    };
    if changes.is_empty() {
      return;
    }
    let versions = entity::cache::versions_of(changes);
    let mut connection = connection.clone();
    let attempt = tokio::time::timeout(
      REDIS_TIMEOUT * 2,
      entity::cache::invalidate(&mut connection, &self.keys, versions.clone()),
    )
    .await;
    match attempt {
      Ok(Ok(removed)) => {
        for _ in &versions {
          self.metrics.count_invalidation(true);
        }
        tracing::debug!(?versions, removed, "invalidated cache scopes");
      }
      Ok(Err(error)) => {
        self.metrics.count_invalidation(false);
        tracing::warn!(%error, ?versions, "could not invalidate the cache; the api learns the change from the change log");
      }
      Err(_) => {
        self.metrics.count_invalidation(false);
        self.metrics.count_publication(false);
        tracing::warn!(
          ?versions,
          "invalidating the cache timed out; the api learns the change from the change log"
        );
        // Redis hangs: do not wait for it a second time.
        return;
      }
    }
    let published = tokio::time::timeout(
      REDIS_TIMEOUT,
      entity::cache::publish_changes(&mut connection, &self.keys, changes),
    )
    .await;
    match published {
      Ok(Ok(())) => self.metrics.count_publication(true),
      Ok(Err(error)) => {
        self.metrics.count_publication(false);
        tracing::warn!(%error, "could not publish the changes; the api learns them from the change log");
      }
      Err(_) => {
        self.metrics.count_publication(false);
        tracing::warn!("publishing the changes timed out; the api learns them from the change log");
      }
    }
  }
}
