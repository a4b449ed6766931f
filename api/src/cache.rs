//! The versioned two-tier response cache for expensive answers (charts, Open F1 drop-in answers): a bounded
//! in-process tier (moka, weighed in bytes, `API_CACHE_MEMORY_BYTES`) in front of Redis when `REDIS_URL` is set,
//! the in-process tier alone otherwise.
//!
//! **Versions** (the rule of `entity::cache`): a build records [`ChangeFeed::version`] of its scope *before* it
//! reads the database; the Redis store is the atomic Lua `store_entry` with that version (refused when a change
//! overtook the build); the memory store is refused when the feed already knows a newer version; an entry of
//! either tier is served only while its version is `>=` the feed's version of its scope and it is unexpired. The
//! feed learns every commit from the change log within `API_CHANGE_POLL_INTERVAL_MILLISECONDS` (and at once from
//! Redis pub/sub), so a replica's memory never serves a figure a commit made stale for longer than that.
//!
//! [`ResponseCache::get_or_build`] is cache-aside with these guarantees: concurrent misses of one key build once
//! (single flight, in process); a Redis failure never fails the request (the answer is built from the database,
//! kept in memory, the failure logged and counted, and Redis skipped for [`REDIS_RETRY_DELAY`]); every lookup is
//! counted (hits by tier).
//!
//! **Failures.** Redis down: the memory tier keeps serving entries whose version is current per the change-log
//! poll, and stores new builds (under the same rule). Database down: hits are served from either tier by the
//! versions the feed knows (a commit needs the database too, so nothing newer exists for the worker to have
//! committed there), misses fail. Both down: memory entries are served until their time-to-live, which for a live
//! session or the current season is the live one (`API_CACHE_TTL_LIVE_SECONDS`). Until the feed has loaded once
//! (the database was down at start), nothing is served from or stored in the cache.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use entity::cache::{CacheKeys, CacheScope};
use entity::redis_client::{REDIS_TIMEOUT, RedisConnection, RedisTarget};

use crate::changes::ChangeFeed;
use crate::encoding::{Encoding, Representations};
use crate::metrics::Metrics;

/// Longest wait for one Redis command before giving up and building from the database.
const REDIS_COMMAND_TIMEOUT: Duration = REDIS_TIMEOUT;
/// After a Redis failure, how long lookups skip Redis (so that an outage does not cost every miss a timeout).
pub const REDIS_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Why a Redis command of the response cache failed (the cache then carries on without Redis, see
/// [`ResponseCache::get_or_build`]).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
  /// Redis answered with an error, or the connection to it failed.
  #[error("Redis failed: {0}")]
  Redis(#[from] redis::RedisError),
  /// Redis did not answer within the command timeout.
  #[error("Redis did not answer within {} ms", .0.as_millis())]
  Timeout(Duration),
}

/// Runs one Redis command, giving up after [`REDIS_COMMAND_TIMEOUT`].
async fn within_timeout<T>(
  command: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, CacheError> {
  match tokio::time::timeout(REDIS_COMMAND_TIMEOUT, command).await {
    Ok(reply) => Ok(reply?),
    Err(_) => Err(CacheError::Timeout(REDIS_COMMAND_TIMEOUT)),
  }
}

/// How a cached answer was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
  /// Served from the cache.
  Hit,
  /// Built now (and stored, unless a change overtook the build).
  Miss,
  /// Built by a concurrent request for the same key, which this one waited for.
  Coalesced,
  /// Built now because the shared cache could not be reached (kept in memory only), or before the change feed
  /// loaded (not stored).
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

/// A cached answer in the memory tier: its representations (the body, opaque here, hashed when built and
/// compressed in each coding when first asked for), the scope version it was built at, and when it expires.
#[derive(Clone)]
struct MemoryEntry {
  version: i64,
  value: Arc<Representations>,
  expires_at: Instant,
}

/// One in-flight build: later requests for the key wait on the lock and then read the value it left.
type Flight = Arc<tokio::sync::Mutex<Option<Arc<Representations>>>>;

/// The shared response cache (cheap to clone).
#[derive(Clone)]
pub struct ResponseCache {
  memory: moka::future::Cache<String, MemoryEntry>,
  redis: Option<RedisConnection>,
  /// Until when Redis is skipped after a failure.
  redis_resting_until: Arc<Mutex<Option<Instant>>>,
  keys: CacheKeys,
  feed: ChangeFeed,
  flights: Arc<Mutex<HashMap<String, Flight>>>,
  metrics: Metrics,
}

impl ResponseCache {
  /// A cache whose memory tier holds up to `memory_bytes` of answers, in front of Redis at `redis_url` when
  /// given (one node or a cluster, see [`entity::redis_client`]), with entries versioned by `feed`. Never connects
  /// eagerly: a Redis that is down at start only degrades caching.
  ///
  /// # Errors
  /// Fails when the Redis URL is malformed.
  pub fn new(
    redis_url: Option<&str>,
    prefix: &str,
    memory_bytes: u64,
    feed: ChangeFeed,
    metrics: Metrics,
  ) -> Result<Self, redis::RedisError> {
    let redis = match redis_url {
      Some(url) => Some(RedisTarget::parse(url)?.connect_lazily()?),
      None => None,
    };
    let memory = moka::future::Cache::builder()
      .max_capacity(memory_bytes)
      .weigher(|key: &String, entry: &MemoryEntry| {
        u32::try_from(key.len() + entry.value.weight()).unwrap_or(u32::MAX)
      })
      .build();
    Ok(Self {
      memory,
      redis,
      redis_resting_until: Arc::new(Mutex::new(None)),
      keys: CacheKeys::new(prefix),
      feed,
      flights: Arc::new(Mutex::new(HashMap::new())),
      metrics,
    })
  }

  /// Whether there is a Redis tier behind the memory tier.
  #[must_use]
  pub fn is_redis(&self) -> bool {
    self.redis.is_some()
  }

  /// Pings Redis; `Ok` without Redis.
  ///
  /// # Errors
  /// `CacheError::Redis` when Redis fails, `CacheError::Timeout` when it does not answer in time.
  pub async fn ping(&self) -> Result<(), CacheError> {
    let Some(manager) = &self.redis else {
      return Ok(());
    };
    let mut connection = manager.clone();
    within_timeout(redis::cmd("PING").query_async::<String>(&mut connection)).await?;
    Ok(())
  }

  /// Redis, unless it failed less than [`REDIS_RETRY_DELAY`] ago.
  fn redis(&self) -> Option<RedisConnection> {
    let manager = self.redis.as_ref()?;
    let mut resting = self
      .redis_resting_until
      .lock()
      .unwrap_or_else(std::sync::PoisonError::into_inner);
    match *resting {
      Some(until) if Instant::now() < until => None,
      Some(_) => {
        *resting = None;
        Some(manager.clone())
      }
      None => Some(manager.clone()),
    }
  }

  fn redis_failed(&self, error: &CacheError, scope: CacheScope, name: &str) {
    tracing::warn!(%error, %scope, name, "response cache (Redis) unavailable; using the memory tier and the database");
    self.metrics.count_cache("error");
    *self
      .redis_resting_until
      .lock()
      .unwrap_or_else(std::sync::PoisonError::into_inner) =
      Some(Instant::now() + REDIS_RETRY_DELAY);
  }

  /// The memory entry of `key`, when it is current (version and time) for `version`.
  async fn memory_entry(&self, key: &str, version: i64) -> Option<Arc<Representations>> {
    let entry = self.memory.get(key).await?;
    if entry.version >= version && entry.expires_at > Instant::now() {
      return Some(entry.value);
    }
    self.memory.invalidate(key).await;
    None
  }

  /// Keeps `value` (built at `version`) in memory unless the feed already knows a newer version of `scope`.
  async fn remember(
    &self,
    scope: CacheScope,
    key: String,
    version: i64,
    value: Arc<Representations>,
    time_to_live: Duration,
  ) -> bool {
    if self.feed.version(scope) > version {
      return false;
    }
    let entry = MemoryEntry {
      version,
      value,
      expires_at: Instant::now() + time_to_live.min(entity::cache::MAX_ENTRY_LIFETIME),
    };
    self.memory.insert(key, entry).await;
    true
  }

  /// Reads entry `name` from Redis; `Ok(None)` also when it is older than `version` (or not representations).
  async fn fetch_redis(
    &self,
    manager: RedisConnection,
    scope: CacheScope,
    name: &str,
    version: i64,
  ) -> Result<Option<(i64, Representations)>, CacheError> {
    let mut connection = manager;
    let entry = within_timeout(entity::cache::fetch_entry(
      &mut connection,
      &self.keys,
      scope,
      name,
    ))
    .await?;
    Ok(
      entry
        .filter(|entry| entry.version >= version)
        .and_then(|entry| {
          Representations::from_stored(entry.value)
            .map(|representations| (entry.version, representations))
        }),
    )
  }

  /// Stores entry `name` in Redis at `version`: `Ok(false)` when refused (a change overtook the build).
  async fn store_redis(
    &self,
    manager: RedisConnection,
    scope: CacheScope,
    name: &str,
    version: i64,
    value: &[u8],
    time_to_live: Duration,
  ) -> Result<bool, CacheError> {
    let mut connection = manager;
    within_timeout(entity::cache::store_entry(
      &mut connection,
      &self.keys,
      scope,
      name,
      version,
      value,
      time_to_live,
    ))
    .await
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

  /// Returns entry `name` of `scope`: from memory, else from Redis (then kept in memory), else built with `build`
  /// and stored in both tiers, each lookup and store following the version rule of the module documentation.
  /// A built body is hashed once, before it is stored (`Representations::build`), and compressed in a coding
  /// only when a request first asks for it (see [`ResponseCache::get_or_build_for`]): a hit does neither again.
  ///
  /// `build` must read the database only when polled: the scope's version is recorded before it is.
  /// Concurrent misses of the same key in this process run `build` once; the others wait and share its value.
  /// When Redis fails, the value is built and kept in memory only.
  ///
  /// # Errors
  /// Returns `build`'s error; cache failures are never returned.
  pub async fn get_or_build<E>(
    &self,
    scope: CacheScope,
    name: &str,
    time_to_live: Duration,
    build: impl Future<Output = Result<Vec<u8>, E>>,
  ) -> Result<(Arc<Representations>, CacheOutcome), E> {
    self
      .get_or_build_for(scope, name, time_to_live, Encoding::Identity, build)
      .await
  }

  /// [`ResponseCache::get_or_build`] for a request that negotiated `encoding`: a built body is also compressed in
  /// that coding before it is stored, so that Redis holds the identity body and that representation (other
  /// codings are compressed by each replica when first asked for, and kept in its memory tier).
  ///
  /// # Errors
  /// Returns `build`'s error; cache failures are never returned.
  pub async fn get_or_build_for<E>(
    &self,
    scope: CacheScope,
    name: &str,
    time_to_live: Duration,
    encoding: Encoding,
    build: impl Future<Output = Result<Vec<u8>, E>>,
  ) -> Result<(Arc<Representations>, CacheOutcome), E> {
    if !self.feed.is_loaded() {
      // The versions are unknown: nothing in the cache can be trusted, nothing built can be versioned.
      self.metrics.count_cache("bypass");
      return build.await.map(|bytes| {
        (
          Arc::new(Representations::build_for(bytes, encoding)),
          CacheOutcome::Bypass,
        )
      });
    }
    let key = self.keys.entry(scope, name);
    let current = self.feed.version(scope);
    if let Some(value) = self.memory_entry(&key, current).await {
      self.metrics.count_cache("hit");
      self.metrics.count_cache_hit("memory");
      return Ok((value, CacheOutcome::Hit));
    }
    let mut redis = self.redis();
    let mut redis_failed = self.redis.is_some() && redis.is_none();
    if let Some(manager) = redis.clone() {
      match self.fetch_redis(manager, scope, name, current).await {
        Ok(Some((entry_version, representations))) => {
          let value = Arc::new(representations);
          self
            .remember(scope, key, entry_version, value.clone(), time_to_live)
            .await;
          self.metrics.count_cache("hit");
          self.metrics.count_cache_hit("redis");
          return Ok((value, CacheOutcome::Hit));
        }
        Ok(None) => {}
        Err(error) => {
          self.redis_failed(&error, scope, name);
          redis = None;
          redis_failed = true;
        }
      }
    }
    let flight = self.flight(&key);
    let mut slot = flight.lock().await;
    if let Some(value) = slot.as_ref() {
      self.metrics.count_cache("coalesced");
      return Ok((value.clone(), CacheOutcome::Coalesced));
    }
    // Rule 1: the version is recorded before `build` first reads the database.
    let version = self.feed.version(scope);
    let result = build.await;
    let outcome = match result {
      Ok(bytes) => {
        let value = Arc::new(Representations::build_for(bytes, encoding));
        *slot = Some(value.clone());
        self.metrics.count_cache("miss");
        let outcome = match redis {
          Some(manager) => match self
            .store_redis(
              manager,
              scope,
              name,
              version,
              &value.to_stored(),
              time_to_live,
            )
            .await
          {
            Ok(true) => {
              self
                .remember(scope, key.clone(), version, value.clone(), time_to_live)
                .await;
              CacheOutcome::Miss
            }
            Ok(false) => {
              self.overtaken(scope, name, version);
              CacheOutcome::Miss
            }
            Err(error) => {
              self.redis_failed(&error, scope, name);
              self
                .remember(scope, key.clone(), version, value.clone(), time_to_live)
                .await;
              CacheOutcome::Bypass
            }
          },
          None => {
            if !self
              .remember(scope, key.clone(), version, value.clone(), time_to_live)
              .await
            {
              self.overtaken(scope, name, version);
            }
            if redis_failed {
              CacheOutcome::Bypass
            } else {
              CacheOutcome::Miss
            }
          }
        };
        Ok((value, outcome))
      }
      Err(error) => Err(error),
    };
    drop(slot);
    self.land(&key, &flight);
    outcome
  }

  fn overtaken(&self, scope: CacheScope, name: &str, version: i64) {
    tracing::debug!(%scope, name, version, "a change overtook the build: not stored");
    self.metrics.count_cache_overtaken();
  }
}
