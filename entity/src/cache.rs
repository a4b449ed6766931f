//! The cache key scheme shared by the api (which writes cached responses) and the worker (which invalidates them).
//!
//! Every cached entry belongs to exactly one [`CacheScope`]: a session, a season or the calendar. Its key is
//! `{prefix}:{{<scope>}}:<name>`; the braces are a Redis Cluster hash tag, so all keys of a scope share a slot.
//! Each scope has an index set, `{prefix}:{{<scope>}}:index`, listing its entries. [`store_entry`] writes an entry
//! and registers it in the index in one transaction; [`invalidate`] deletes a scope's entries and index in one
//! Lua script, so invalidation is atomic and touches nothing outside the scopes it is given.

use std::collections::BTreeSet;
use std::fmt;

use redis::aio::ConnectionLike;

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
/// (season charts are built from them); meetings and sessions stale the calendar and their season.
#[must_use]
pub fn scopes_affected_by(
  table: &str,
  session_key: Option<i32>,
  year: Option<i32>,
) -> BTreeSet<CacheScope> {
  let mut scopes = BTreeSet::new();
  if let Some(session_key) = session_key {
    scopes.insert(CacheScope::Session(session_key));
  }
  let season_wide = matches!(
    table,
    "meetings"
      | "sessions"
      | "session_result"
      | "championship_drivers"
      | "championship_teams"
      | "drivers"
  );
  if season_wide && let Some(year) = year {
    scopes.insert(CacheScope::Season(year));
  }
  if matches!(table, "meetings" | "sessions") {
    scopes.insert(CacheScope::Calendar);
  }
  scopes
}

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

  /// The prefix.
  #[must_use]
  pub fn prefix(&self) -> &str {
    &self.prefix
  }

  /// The key of entry `name` (e.g. `chart:lap-times:drivers=1,44`) in `scope`.
  #[must_use]
  pub fn entry(&self, scope: CacheScope, name: &str) -> String {
    format!("{}:{{{scope}}}:{name}", self.prefix)
  }

  /// The key of the set listing every entry of `scope`.
  #[must_use]
  pub fn index(&self, scope: CacheScope) -> String {
    format!("{}:{{{scope}}}:index", self.prefix)
  }
}

/// Writes `value` under entry `name` of `scope` with a time-to-live, and registers it in the scope's index,
/// in one MULTI/EXEC transaction.
///
/// # Errors
/// Returns the Redis error when the connection or the command fails.
pub async fn store_entry<C: ConnectionLike>(
  connection: &mut C,
  keys: &CacheKeys,
  scope: CacheScope,
  name: &str,
  value: &[u8],
  time_to_live_seconds: u64,
) -> redis::RedisResult<()> {
  let entry_key = keys.entry(scope, name);
  let index_key = keys.index(scope);
  let time_to_live_seconds = time_to_live_seconds.max(1);
  let index_time_to_live = i64::try_from(time_to_live_seconds).unwrap_or(i64::MAX);
  redis::pipe()
    .atomic()
    .set_ex(&entry_key, value, time_to_live_seconds)
    .ignore()
    .sadd(&index_key, &entry_key)
    .ignore()
    // The index lives at least as long as its longest entry; GT only ever extends it.
    .cmd("EXPIRE")
    .arg(&index_key)
    .arg(index_time_to_live)
    .arg("GT")
    .ignore()
    .cmd("EXPIRE")
    .arg(&index_key)
    .arg(index_time_to_live)
    .arg("NX")
    .ignore()
    .query_async(connection)
    .await
}

/// Reads entry `name` of `scope`.
///
/// # Errors
/// Returns the Redis error when the connection or the command fails.
pub async fn fetch_entry<C: ConnectionLike>(
  connection: &mut C,
  keys: &CacheKeys,
  scope: CacheScope,
  name: &str,
) -> redis::RedisResult<Option<Vec<u8>>> {
  redis::cmd("GET")
    .arg(keys.entry(scope, name))
    .query_async(connection)
    .await
}

const INVALIDATE_SCRIPT: &str = r"
local entries = redis.call('SMEMBERS', KEYS[1])
local removed = 0
for _, key in ipairs(entries) do
  removed = removed + redis.call('DEL', key)
end
redis.call('DEL', KEYS[1])
return removed
";

/// Deletes every entry of each scope and the scope's index, each scope atomically (one Lua script per scope,
/// since scopes live in different cluster slots). Returns how many entries were deleted.
///
/// # Errors
/// Returns the Redis error when the connection or the script fails.
pub async fn invalidate<C: ConnectionLike>(
  connection: &mut C,
  keys: &CacheKeys,
  scopes: impl IntoIterator<Item = CacheScope>,
) -> redis::RedisResult<u64> {
  let script = redis::Script::new(INVALIDATE_SCRIPT);
  let mut removed = 0_u64;
  for scope in scopes {
    let count: u64 = script
      .key(keys.index(scope))
      .invoke_async(connection)
      .await?;
    removed += count;
  }
  Ok(removed)
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
  }

  #[test]
  fn laps_only_stale_their_session_but_results_also_stale_the_season() {
    let laps = scopes_affected_by("laps", Some(9472), Some(2024));
    assert_eq!(
      laps.into_iter().collect::<Vec<_>>(),
      vec![CacheScope::Session(9472)]
    );
    let results = scopes_affected_by("session_result", Some(9472), Some(2024));
    assert!(results.contains(&CacheScope::Season(2024)));
    let sessions = scopes_affected_by("sessions", Some(9472), Some(2024));
    assert!(sessions.contains(&CacheScope::Calendar));
  }
}
