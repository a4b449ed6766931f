//! Evicting stale cache entries after a committed batch: exactly the scopes
//! [`entity::cache::scopes_affected_by`] names, through [`entity::cache::invalidate`].
//!
//! Redis being down never loses a database write: the failure is logged and counted, and the entries expire by
//! their time-to-live.

use std::collections::BTreeSet;
use std::time::Duration;

use entity::cache::{CacheKeys, CacheScope};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::metrics::Metrics;

/// How long one Redis connection attempt or command may take.
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// Invalidates cache scopes in Redis, or does nothing when no Redis is configured.
#[derive(Clone)]
pub struct CacheInvalidator {
  connection: Option<ConnectionManager>,
  keys: CacheKeys,
  metrics: Metrics,
}

impl CacheInvalidator {
  /// An invalidator for `redis_url` (None: no cache, nothing to do) under `prefix`. Connects lazily.
  ///
  /// # Errors
  /// Fails when the URL is not a Redis URL.
  pub fn new(redis_url: Option<&str>, prefix: &str, metrics: Metrics) -> redis::RedisResult<Self> {
    let connection = match redis_url {
      None => {
        tracing::info!("REDIS_URL is not set: no cache to invalidate");
        None
      }
      Some(url) => {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
          .set_connection_timeout(Some(REDIS_TIMEOUT))
          .set_response_timeout(Some(REDIS_TIMEOUT))
          .set_number_of_retries(1);
        Some(ConnectionManager::new_lazy_with_config(client, config)?)
      }
    };
    Ok(Self {
      connection,
      keys: CacheKeys::new(prefix),
      metrics,
    })
  }

  /// Deletes the entries of `scopes`; logs and counts failures instead of returning them.
  pub async fn invalidate(&self, scopes: BTreeSet<CacheScope>) {
    let Some(connection) = &self.connection else {
      return;
    };
    if scopes.is_empty() {
      return;
    }
    let mut connection = connection.clone();
    let attempt = tokio::time::timeout(
      REDIS_TIMEOUT * 2,
      entity::cache::invalidate(&mut connection, &self.keys, scopes.iter().copied()),
    )
    .await;
    match attempt {
      Ok(Ok(removed)) => {
        for _ in &scopes {
          self.metrics.count_invalidation(true);
        }
        tracing::debug!(?scopes, removed, "invalidated cache scopes");
      }
      Ok(Err(error)) => {
        self.metrics.count_invalidation(false);
        tracing::warn!(%error, ?scopes, "could not invalidate the cache; entries will expire by their TTL");
      }
      Err(_) => {
        self.metrics.count_invalidation(false);
        tracing::warn!(
          ?scopes,
          "invalidating the cache timed out; entries will expire by their TTL"
        );
      }
    }
  }
}
