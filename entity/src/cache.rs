//! The cache key scheme shared by the api (which writes cached responses) and the worker (which invalidates them),
//! and the versioning that keeps a figure overtaken by a change from ever being stored or served.
//!
//! **Keys.** Every cached entry belongs to exactly one [`CacheScope`]: a session, a season or the calendar. Its key
//! is `{prefix}:{{<scope>}}:<name>`; the braces are a Redis Cluster hash tag, so all keys of a scope share a slot
//! and one Lua script may touch them together. Each scope also has an index set, `{prefix}:{{<scope>}}:index`,
//! listing its entries, and a version, `{prefix}:{{<scope>}}:version`. Changes are published on
//! `{prefix}:changes` ([`CacheKeys::changes_channel`]).
//!
//! **Versions.** The version of a scope is the id of the newest [`crate::change_log`] row affecting it (0 when no
//! retained change does). Change ids are committed in order, so a build that starts after its reader knew version
//! `v` reads every change `<= v`. The rule, in both cache tiers:
//! 1. a build records the version of its scope as known *before* it reads the database;
//! 2. an entry is stored only if no newer version is known by then, and in Redis this check is atomic: [`store_entry`]
//!    is one Lua script that refuses when the scope's Redis version, or the version of an entry already there, is
//!    greater than the entry's;
//! 3. an entry is served only while its version is `>=` the newest version the reader knows for its scope.
//!
//! The worker, after each commit, runs [`invalidate`]: one Lua script per scope that raises the scope's Redis
//! version to the change id and deletes the scope's entries and index, atomically. Whatever the interleaving of a
//! build with a commit, an entry holding data older than a change is either refused when stored (2) or, if it
//! slipped in before the version moved, deleted by the script or refused when read (3). Redis being down at the
//! worker's commit loses nothing: the readers learn the version from the change log and apply rule 3.
//!
//! Entries never live longer than [`MAX_ENTRY_LIFETIME`], shorter than the change log's retention, so the change
//! log still holds every change that could make a living entry stale.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use redis::aio::ConnectionLike;

use crate::Endpoint;

/// The default key prefix (`CACHE_PREFIX`).
pub const DEFAULT_PREFIX: &str = "f1";

/// What a cached entry depends on; the worker invalidates by scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CacheScope {
  /// Data of one session (laps, stints, telemetry, charts of that session...).
  Session(i32),
  /// Data spanning one season (e.g. championship progression), keyed by year.
  Season(i32),
  /// The list of seasons, meetings and sessions.
  Calendar,
}

impl fmt::Display for CacheScope {
  fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      Self::Session(session_key) => write!(formatter, "session:{session_key}"),
      Self::Season(year) => write!(formatter, "season:{year}"),
      Self::Calendar => formatter.write_str("calendar"),
    }
  }
}

/// Which scopes a change to `table` for a session of `year` makes stale.
///
/// Per-session tables only stale their session; results and championship tables also stale their season
/// (season charts are built from them); meetings and sessions stale the calendar and their season
/// ([`Endpoint::stales_season`], [`Endpoint::is_calendar`]).
#[must_use]
pub(crate) fn scopes_affected_by(
  table: Endpoint,
  session_key: Option<i32>,
  year: Option<i32>,
) -> BTreeSet<CacheScope> {
  let mut scopes = BTreeSet::new();
  if let Some(session_key) = session_key {
    scopes.insert(CacheScope::Session(session_key));
  }
  if table.stales_season()
    && let Some(year) = year
  {
    scopes.insert(CacheScope::Season(year));
  }
  if table.is_calendar() {
    scopes.insert(CacheScope::Calendar);
  }
  scopes
}

/// [`scopes_affected_by`] for a table named in the change log. A name no [`Endpoint`] has (a newer worker's
/// table) stales every scope it could: its session, its season and the calendar.
#[must_use]
pub(crate) fn scopes_affected_by_name(
  table: &str,
  session_key: Option<i32>,
  year: Option<i32>,
) -> BTreeSet<CacheScope> {
  match Endpoint::from_name(table) {
    Some(endpoint) => scopes_affected_by(endpoint, session_key, year),
    None => {
      let mut scopes = scopes_affected_by(Endpoint::Sessions, session_key, year);
      scopes.insert(CacheScope::Calendar);
      scopes
    }
  }
}

/// The longest any cache entry may live (either tier): an hour less than the change log's retention.
pub const MAX_ENTRY_LIFETIME: Duration =
  Duration::from_secs(crate::change_log::RETENTION.as_secs() - 3600);

/// Builds cache keys under one prefix.
#[derive(Clone, Debug)]
pub struct CacheKeys {
  prefix: String,
}

impl Default for CacheKeys {
  fn default() -> Self {
    Self::new(DEFAULT_PREFIX)
  }
}

impl CacheKeys {
  /// Keys under `prefix` (tests use a unique prefix each).
  #[must_use]
  pub fn new(prefix: impl Into<String>) -> Self {
    Self {
      prefix: prefix.into(),
    }
  }

  /// The key of entry `name` (e.g. `chart:lap-times:drivers=1,44`) in `scope`.
  #[must_use]
  pub fn entry(&self, scope: CacheScope, name: &str) -> String {
    format!("{}:{{{scope}}}:{name}", self.prefix)
  }

  /// The key of the set listing every entry of `scope`.
  #[must_use]
  fn index(&self, scope: CacheScope) -> String {
    format!("{}:{{{scope}}}:index", self.prefix)
  }

  /// The key holding the version of `scope` (the newest change id the worker invalidated it for).
  #[must_use]
  pub fn version(&self, scope: CacheScope) -> String {
    format!("{}:{{{scope}}}:version", self.prefix)
  }

  /// The pub/sub channel on which the worker publishes its changes (a JSON array of
  /// [`crate::change_log::Change`] per commit).
  #[must_use]
  pub fn changes_channel(&self) -> String {
    format!("{}:changes", self.prefix)
  }
}

/// A cached entry as stored in Redis: its scope version and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
  /// The version of the entry's scope read before it was built.
  pub version: i64,
  /// The entry's bytes (opaque to this crate).
  pub value: Vec<u8>,
}

const STORE_SCRIPT: &str = r"
local version = tonumber(ARGV[1])
local scope_version = tonumber(redis.call('GET', KEYS[3]) or '0')
if scope_version > version then
  return 0
end
local existing = redis.call('HGET', KEYS[1], 'version')
if existing and tonumber(existing) > version then
  return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'value', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], KEYS[1])
if redis.call('TTL', KEYS[2]) < tonumber(ARGV[3]) then
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return 1
";

/// Stores `value` as entry `name` of `scope`, built at `version`, with a time-to-live (capped at
/// [`MAX_ENTRY_LIFETIME`]), and registers it in the scope's index, in one Lua script. Refuses (returns `false`)
/// when the scope's version in Redis or the version of the entry already stored is newer than `version`: the
/// value was overtaken by a change.
///
/// # Errors
/// Returns the Redis error when the connection or the script fails.
pub async fn store_entry<C: ConnectionLike>(
  connection: &mut C,
  keys: &CacheKeys,
  scope: CacheScope,
  name: &str,
  version: i64,
  value: &[u8],
  time_to_live: Duration,
) -> redis::RedisResult<bool> {
  let seconds = time_to_live.min(MAX_ENTRY_LIFETIME).as_secs().max(1);
  let stored: i64 = redis::Script::new(STORE_SCRIPT)
    .key(keys.entry(scope, name))
    .key(keys.index(scope))
    .key(keys.version(scope))
    .arg(version)
    .arg(value)
    .arg(seconds)
    .invoke_async(connection)
    .await?;
  Ok(stored == 1)
}

/// Reads entry `name` of `scope` with its version.
///
/// # Errors
/// Returns the Redis error when the connection or the command fails.
pub async fn fetch_entry<C: ConnectionLike>(
  connection: &mut C,
  keys: &CacheKeys,
  scope: CacheScope,
  name: &str,
) -> redis::RedisResult<Option<StoredEntry>> {
  let (version, value): (Option<i64>, Option<Vec<u8>>) = redis::cmd("HMGET")
    .arg(keys.entry(scope, name))
    .arg("version")
    .arg("value")
    .query_async(connection)
    .await?;
  Ok(match (version, value) {
    (Some(version), Some(value)) => Some(StoredEntry { version, value }),
    _ => None,
  })
}

const INVALIDATE_SCRIPT: &str = r"
local version = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if version > current then
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
end
local entries = redis.call('SMEMBERS', KEYS[1])
local removed = 0
for _, key in ipairs(entries) do
  removed = removed + redis.call('DEL', key)
end
redis.call('DEL', KEYS[1])
return removed
";

/// For each `(scope, version)`: raises the scope's version to `version` (never lowers it) and deletes every entry
/// of the scope and its index, each scope atomically (one Lua script per scope, since scopes live in different
/// cluster slots). Returns how many entries were deleted.
///
/// # Errors
/// Returns the Redis error when the connection or the script fails.
pub async fn invalidate<C: ConnectionLike>(
  connection: &mut C,
  keys: &CacheKeys,
  scopes: impl IntoIterator<Item = (CacheScope, i64)>,
) -> redis::RedisResult<u64> {
  let script = redis::Script::new(INVALIDATE_SCRIPT);
  let version_lifetime = crate::change_log::RETENTION.as_secs();
  let mut removed = 0_u64;
  for (scope, version) in scopes {
    let count: u64 = script
      .key(keys.index(scope))
      .key(keys.version(scope))
      .arg(version)
      .arg(version_lifetime)
      .invoke_async(connection)
      .await?;
    removed += count;
  }
  Ok(removed)
}

/// Publishes the changes of one commit on [`CacheKeys::changes_channel`] as one JSON array.
///
/// # Errors
/// Returns the Redis error when the connection or the command fails.
pub async fn publish_changes<C: ConnectionLike>(
  connection: &mut C,
  keys: &CacheKeys,
  changes: &[crate::change_log::Change],
) -> redis::RedisResult<()> {
  let message = serde_json::to_vec(changes).map_err(|error| {
    redis::RedisError::from((
      redis::ErrorKind::Client,
      "could not encode the changes",
      error.to_string(),
    ))
  })?;
  redis::cmd("PUBLISH")
    .arg(keys.changes_channel())
    .arg(message)
    .query_async::<i64>(connection)
    .await?;
  Ok(())
}

/// The version each scope takes from a commit's changes: the newest change id affecting it.
#[must_use]
pub fn versions_of(changes: &[crate::change_log::Change]) -> BTreeMap<CacheScope, i64> {
  let mut versions = BTreeMap::new();
  for change in changes {
    for scope in change.scopes() {
      let version = versions.entry(scope).or_insert(change.id);
      *version = (*version).max(change.id);
    }
  }
  versions
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn entry_keys_carry_the_scope_as_a_hash_tag() {
    let keys = CacheKeys::new("f1");
    assert_eq!(
      keys.entry(CacheScope::Session(9472), "chart:lap-times"),
      "f1:{session:9472}:chart:lap-times"
    );
    assert_eq!(
      keys.index(CacheScope::Season(2024)),
      "f1:{season:2024}:index"
    );
    assert_eq!(keys.index(CacheScope::Calendar), "f1:{calendar}:index");
    assert_eq!(
      keys.version(CacheScope::Session(9472)),
      "f1:{session:9472}:version"
    );
    assert_eq!(keys.changes_channel(), "f1:changes");
  }

  #[test]
  fn laps_only_stale_their_session_but_results_also_stale_the_season() {
    let laps = scopes_affected_by(Endpoint::Laps, Some(9472), Some(2024));
    assert_eq!(
      laps.into_iter().collect::<Vec<_>>(),
      vec![CacheScope::Session(9472)]
    );
    let results = scopes_affected_by(Endpoint::SessionResult, Some(9472), Some(2024));
    assert!(results.contains(&CacheScope::Season(2024)));
    let sessions = scopes_affected_by(Endpoint::Sessions, Some(9472), Some(2024));
    assert!(sessions.contains(&CacheScope::Calendar));
  }
}
