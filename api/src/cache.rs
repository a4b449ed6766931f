//! The response cache for expensive answers (charts): Redis when `REDIS_URL` is set, else an in-process cache.
//!
//! [`ResponseCache::get_or_build`] is cache-aside with three guarantees: concurrent misses of one key build once
//! (single flight, in-process); a Redis failure never fails the request (the answer is built from the database,
//! the failure logged and counted); every lookup is counted as a hit or a miss in the metrics.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use entity::cache::{CacheKeys, CacheScope};
use redis::aio::ConnectionManager;

use crate::metrics::Metrics;

/// Longest wait for one Redis command before giving up and building from the database.
const REDIS_COMMAND_TIMEOUT: Duration = Duration::from_millis(500);
/// Largest total size of the in-process cache, in bytes.
const MEMORY_CACHE_CAPACITY_BYTES: u64 = 256 * 1024 * 1024;

/// How a cached answer was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
  /// Served from the cache.
  Hit,
  /// Built now (and stored).
  Miss,
  /// Built by a concurrent request for the same key, which this one waited for.
  Coalesced,
  /// Built now because the cache could not be reached (not stored).
  Bypass,
}

impl CacheOutcome {
  /// The outcome as a lower-case word (the `X-Cache` header and metric label).
  #[must_use]
  pub fn as_str(self) -> &'static str {
    match self {
      Self::Hit => "hit",
      Self::Miss => "miss",
      Self::Coalesced => "coalesced",
      Self::Bypass => "bypass",
    }
  }
}

#[derive(Clone)]
struct MemoryEntry {
  value: Arc<Vec<u8>>,
  expires_at: Instant,
}

#[derive(Clone)]
enum Store {
  Redis(ConnectionManager),
  Memory(moka::future::Cache<String, MemoryEntry>),
}

/// One in-flight build: later requests for the key wait on the lock and then read the value it left.
type Flight = Arc<tokio::sync::Mutex<Option<Arc<Vec<u8>>>>>;

/// The shared response cache (cheap to clone).
#[derive(Clone)]
pub struct ResponseCache {
  store: Store,
  keys: CacheKeys,
  flights: Arc<Mutex<HashMap<String, Flight>>>,
  metrics: Metrics,
}

impl ResponseCache {
  /// A cache on Redis at `redis_url`, or in process when `None`. Never connects eagerly: a Redis that is down at
  /// start only degrades caching.
  ///
  /// # Errors
  /// Fails when the Redis URL is malformed.
  pub fn new(
    redis_url: Option<&str>,
    prefix: &str,
    metrics: Metrics,
  ) -> Result<Self, redis::RedisError> {
    let store = match redis_url {
      Some(url) => {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
          .set_connection_timeout(Some(REDIS_COMMAND_TIMEOUT))
          .set_response_timeout(Some(REDIS_COMMAND_TIMEOUT))
          .set_number_of_retries(1);
        Store::Redis(ConnectionManager::new_lazy_with_config(client, config)?)
      }
      None => Store::Memory(
        moka::future::Cache::builder()
          .max_capacity(MEMORY_CACHE_CAPACITY_BYTES)
          .weigher(|key: &String, entry: &MemoryEntry| {
            u32::try_from(key.len() + entry.value.len()).unwrap_or(u32::MAX)
          })
          .build(),
      ),
    };
    Ok(Self {
      store,
      keys: CacheKeys::new(prefix),
      flights: Arc::new(Mutex::new(HashMap::new())),
      metrics,
    })
  }

  /// The key scheme (shared with the worker, which invalidates).
  #[must_use]
  pub fn keys(&self) -> &CacheKeys {
    &self.keys
  }

  /// Whether the cache is Redis (rather than in process).
  #[must_use]
  pub fn is_redis(&self) -> bool {
    matches!(self.store, Store::Redis(_))
  }

  /// Pings Redis; `Ok` for the in-process cache.
  ///
  /// # Errors
  /// Returns the Redis error or a timeout.
  pub async fn ping(&self) -> Result<(), String> {
    match &self.store {
      Store::Memory(_) => Ok(()),
      Store::Redis(manager) => {
        let mut connection = manager.clone();
        let reply = tokio::time::timeout(
          REDIS_COMMAND_TIMEOUT,
          redis::cmd("PING").query_async::<String>(&mut connection),
        )
        .await;
        match reply {
          Ok(Ok(_)) => Ok(()),
          Ok(Err(error)) => Err(error.to_string()),
          Err(_) => Err("timed out".to_owned()),
        }
      }
    }
  }

  async fn fetch(&self, scope: CacheScope, name: &str) -> Result<Option<Arc<Vec<u8>>>, String> {
    match &self.store {
      Store::Memory(cache) => {
        let key = self.keys.entry(scope, name);
        Ok(
          cache
            .get(&key)
            .await
            .filter(|entry| entry.expires_at > Instant::now())
            .map(|entry| entry.value),
        )
      }
      Store::Redis(manager) => {
        let mut connection = manager.clone();
        match tokio::time::timeout(
          REDIS_COMMAND_TIMEOUT,
          entity::cache::fetch_entry(&mut connection, &self.keys, scope, name),
        )
        .await
        {
          Ok(Ok(value)) => Ok(value.map(|entry| Arc::new(entry.value))),
          Ok(Err(error)) => Err(error.to_string()),
          Err(_) => Err("timed out".to_owned()),
        }
      }
    }
  }

  async fn store(
    &self,
    scope: CacheScope,
    name: &str,
    value: Arc<Vec<u8>>,
    time_to_live: Duration,
  ) -> Result<(), String> {
    match &self.store {
      Store::Memory(cache) => {
        let entry = MemoryEntry {
          value,
          expires_at: Instant::now() + time_to_live,
        };
        cache.insert(self.keys.entry(scope, name), entry).await;
        Ok(())
      }
      Store::Redis(manager) => {
        let mut connection = manager.clone();
        match tokio::time::timeout(
          REDIS_COMMAND_TIMEOUT,
          entity::cache::store_entry(
            &mut connection,
            &self.keys,
            scope,
            name,
            0,
            &value,
            time_to_live,
          ),
        )
        .await
        {
          Ok(Ok(_)) => Ok(()),
          Ok(Err(error)) => Err(error.to_string()),
          Err(_) => Err("timed out".to_owned()),
        }
      }
    }
  }

  fn flight(&self, key: &str) -> Flight {
    let mut flights = self
      .flights
      .lock()
      .unwrap_or_else(std::sync::PoisonError::into_inner);
    flights.entry(key.to_owned()).or_default().clone()
  }

  fn land(&self, key: &str, flight: &Flight) {
    let mut flights = self
      .flights
      .lock()
      .unwrap_or_else(std::sync::PoisonError::into_inner);
    if flights
      .get(key)
      .is_some_and(|current| Arc::ptr_eq(current, flight))
    {
      flights.remove(key);
    }
  }

  /// Returns entry `name` of `scope`, building and storing it with `build` on a miss.
  ///
  /// Concurrent misses of the same key in this process run `build` once; the others wait and share its value.
  /// When the cache fails (Redis down), the value is built and served without being stored.
  ///
  /// # Errors
  /// Returns `build`'s error; cache failures are never returned.
  pub async fn get_or_build<E>(
    &self,
    scope: CacheScope,
    name: &str,
    time_to_live: Duration,
    build: impl Future<Output = Result<Vec<u8>, E>>,
  ) -> Result<(Arc<Vec<u8>>, CacheOutcome), E> {
    let mut cache_failed = false;
    match self.fetch(scope, name).await {
      Ok(Some(value)) => {
        self.metrics.count_cache("hit");
        return Ok((value, CacheOutcome::Hit));
      }
      Ok(None) => {}
      Err(error) => {
        tracing::warn!(%error, %scope, name, "response cache unavailable; building from the database");
        self.metrics.count_cache("error");
        cache_failed = true;
      }
    }
    let key = self.keys.entry(scope, name);
    let flight = self.flight(&key);
    let mut slot = flight.lock().await;
    if let Some(value) = slot.as_ref() {
      self.metrics.count_cache("coalesced");
      return Ok((value.clone(), CacheOutcome::Coalesced));
    }
    let result = build.await;
    let outcome = match result {
      Ok(bytes) => {
        let value = Arc::new(bytes);
        *slot = Some(value.clone());
        let outcome = if cache_failed {
          CacheOutcome::Bypass
        } else if let Err(error) = self.store(scope, name, value.clone(), time_to_live).await {
          tracing::warn!(%error, %scope, name, "could not store in the response cache");
          self.metrics.count_cache("error");
          CacheOutcome::Bypass
        } else {
          CacheOutcome::Miss
        };
        self.metrics.count_cache("miss");
        Ok((value, outcome))
      }
      Err(error) => Err(error),
    };
    drop(slot);
    self.land(&key, &flight);
    outcome
  }
}
