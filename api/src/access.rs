//! Facing the internet: optional API keys and per-client rate limits, both off by default.
//!
//! **Clients.** A request carrying a valid API key (`X-API-Key: <key>` or `Authorization: Bearer <key>`) is the
//! key's client; any other request is its address's client. The address is the TCP peer's, unless the peer is one
//! of `API_TRUSTED_PROXIES`: then it is the right-most `X-Forwarded-For` entry that is not itself a trusted proxy
//! (entries further left were written by the client and can be forged). IPv6 addresses count by their /64 prefix,
//! the block one subscriber gets, so that one machine cannot rotate through its addresses.
//!
//! **API keys** (`API_KEY_HASHES`, `API_KEYS_FILE`): when any is configured, every request but the public documents
//! ([`needs_no_key`]) and the health probes must carry a valid key, else it is answered 401 problem+json. Only
//! SHA-256 hashes of the keys are configured; a presented key is hashed and compared with every configured hash in
//! constant time. Keys are never logged: the layers log paths, never headers, and this module names a key's client
//! by the key's name.
//!
//! **Rate limits** (`API_RATE_LIMITS_ENABLED`): every client has two token buckets (GCRA, from `governor`): *cheap*,
//! charged one token by every request, and *expensive*, charged one token by each answer that cost real work or
//! bandwidth: a cache miss or bypass (`X-Cache: miss|bypass`, a database build), a streamed answer, or a body over
//! `API_RATE_LIMIT_LARGE_ANSWER_BYTES`. Cache hits, coalesced builds, 304s of cached answers, errors and the
//! uncached but paged `/v1` resources are cheap. Whether an answer is expensive is only known once it is built, so
//! the expensive bucket is charged afterwards; an answer that finds it empty is still served but leaves a *debt*,
//! which the client's next request must pay from the refill before it is admitted (429 until then). The steady
//! rate of expensive answers is thus exactly the budget's, and a client can overdraw by at most the answers it has
//! in flight at once (themselves bounded by the cheap bucket). A refused request is answered 429 problem+json with
//! `Retry-After` and the `RateLimit-Limit`/`-Remaining`/`-Reset` headers (draft-ietf-httpapi-ratelimit-headers-07),
//! which every admitted answer carries too, for the cheap budget.
//!
//! **Where it sits.** Inside the layers of [`crate::middleware`] (so that its 401 and 429 answers get a request id,
//! an `instance`, a log line and a metric like any other) and outside CORS (so that browsers can read them, and
//! preflights need no key). The request-shape checks of the middleware (413, 414, unknown query parameters) answer
//! first: they cost nothing and reveal nothing the OpenAPI document does not say.
//!
//! **Bounded memory.** A key's buckets live as long as the key list. Addresses' buckets live in a cache holding at
//! most `API_RATE_LIMIT_MAX_CLIENTS` clients, evicting the least recently seen, and dropping a client idle for as long
//! as its buckets take to refill (after that, a fresh bucket is the same bucket). An evicted client starts again
//! with full buckets: a flood of addresses can reset other addresses' budgets, never grow the memory.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, QuantaClock};
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use poem::http::{HeaderMap, HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use sha2::{Digest, Sha256};

use crate::cache::CacheOutcome;
use crate::middleware::BodyTreatment;
use crate::problem::Problem;
use crate::settings::SettingsError;

/// The header carrying an API key (`Authorization: Bearer <key>` works too).
pub const API_KEY_HEADER: &str = "x-api-key";
/// The header naming the client address when the peer is a trusted proxy.
pub const FORWARDED_FOR_HEADER: &str = "x-forwarded-for";
/// Health probes: answered without a key and never rate limited (load balancers probe them often).
const PROBE_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// Whether a path is served without an API key: the OpenAPI document, Swagger UI (which is where a key is entered)
/// and the viewer's static files, besides the health probes. None of them reads data.
#[must_use]
pub fn needs_no_key(path: &str) -> bool {
  PROBE_PATHS.contains(&path)
    || path == "/openapi.json"
    || path == "/docs"
    || path.starts_with("/docs/")
    || path == "/viewer"
    || path == "/viewer/viewer.js"
    || path == "/viewer/plotly.min.js"
    || path == "/viewer/sample-figure.json"
}

/// A token bucket's size: tokens refilled per minute, and the most it holds (a client's largest burst).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
  /// Tokens refilled per minute (the sustained rate).
  pub per_minute: NonZeroU32,
  /// Most tokens held at once (the largest burst).
  pub burst: NonZeroU32,
}

impl Budget {
  fn quota(self) -> Quota {
    Quota::per_minute(self.per_minute).allow_burst(self.burst)
  }

  /// How long an empty bucket takes to fill up.
  fn refill_time(self) -> Duration {
    self.quota().burst_size_replenished_in()
  }
}

/// An address or a CIDR block (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
  address: IpAddr,
  prefix: u8,
}

impl Network {
  /// Whether `address` is in this block.
  #[must_use]
  pub fn contains(&self, address: IpAddr) -> bool {
    match (self.address, canonical(address)) {
      (IpAddr::V4(network), IpAddr::V4(address)) => {
        let mask = u32::MAX
          .checked_shl(32 - u32::from(self.prefix))
          .unwrap_or(0);
        u32::from(network) & mask == u32::from(address) & mask
      }
      (IpAddr::V6(network), IpAddr::V6(address)) => {
        let mask = u128::MAX
          .checked_shl(128 - u32::from(self.prefix))
          .unwrap_or(0);
        u128::from(network) & mask == u128::from(address) & mask
      }
      _ => false,
    }
  }
}

impl std::str::FromStr for Network {
  type Err = String;

  fn from_str(text: &str) -> Result<Self, Self::Err> {
    let (address, prefix) = match text.split_once('/') {
      Some((address, prefix)) => (address, Some(prefix)),
      None => (text, None),
    };
    let address: IpAddr = address
      .trim()
      .parse()
      .map_err(|_| format!("`{text}` is not an IP address or CIDR block"))?;
    let address = canonical(address);
    let most = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
      None => most,
      Some(prefix) => prefix
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|prefix| *prefix <= most)
        .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to {most}"))?,
    };
    Ok(Self { address, prefix })
  }
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) as the IPv4 addresses they are.
fn canonical(address: IpAddr) -> IpAddr {
  match address {
    IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
    IpAddr::V4(_) => address,
  }
}

/// The rate-limited identity of an address: IPv4 addresses as they are, IPv6 addresses by their /64 prefix.
fn address_client(address: IpAddr) -> IpAddr {
  match canonical(address) {
    IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & (u128::MAX << 64)).into()),
    v4 @ IpAddr::V4(_) => v4,
  }
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the right-most `X-Forwarded-For`
/// entry that is not a trusted proxy (falling back to the left-most trusted hop when all are, and to the last
/// trusted hop when an entry is not an address).
#[must_use]
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[Network]) -> IpAddr {
  let trusted = |address: IpAddr| {
    trusted_proxies
      .iter()
      .any(|network| network.contains(address))
  };
  let mut client = canonical(peer);
  if !trusted(client) {
    return client;
  }
  let entries: Vec<&str> = headers
    .get_all(FORWARDED_FOR_HEADER)
    .iter()
    .filter_map(|value| value.to_str().ok())
    .flat_map(|value| value.split(','))
    .map(str::trim)
    .collect();
  for entry in entries.into_iter().rev() {
    let Some(address) = parse_forwarded_address(entry) else {
      return client;
    };
    client = canonical(address);
    if !trusted(client) {
      return client;
    }
  }
  client
}

/// An `X-Forwarded-For` entry: `192.0.2.1`, `2001:db8::1`, `[2001:db8::1]:443` or `192.0.2.1:443`.
fn parse_forwarded_address(entry: &str) -> Option<IpAddr> {
  if let Ok(address) = entry.parse::<IpAddr>() {
    return Some(address);
  }
  entry
    .parse::<std::net::SocketAddr>()
    .ok()
    .map(|address| address.ip())
}

/// A configured API key: its SHA-256 hash, a name for logs, and its budgets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEntry {
  /// A name for logs and metrics (never the key).
  pub name: String,
  /// The SHA-256 hash of the key.
  pub hash: [u8; 32],
  /// The key's cheap budget.
  pub cheap: Budget,
  /// The key's expensive budget.
  pub expensive: Budget,
}

/// The access settings, read with the others by [`crate::settings::Settings`].
#[derive(Clone, Debug)]
pub struct AccessSettings {
  /// `API_RATE_LIMITS_ENABLED`: rate limit every client; default `false`.
  pub rate_limits_enabled: bool,
  /// `API_RATE_LIMIT_CHEAP_PER_MINUTE` (default 1200) and `API_RATE_LIMIT_CHEAP_BURST` (default 120): every
  /// request's budget.
  pub cheap: Budget,
  /// `API_RATE_LIMIT_EXPENSIVE_PER_MINUTE` (default 120) and `API_RATE_LIMIT_EXPENSIVE_BURST` (default 20): the
  /// budget of cache misses, streamed and large answers.
  pub expensive: Budget,
  /// `API_RATE_LIMIT_LARGE_ANSWER_BYTES`: a body bigger than this is expensive; default 1048576 (1 MiB).
  pub large_answer_bytes: usize,
  /// `API_RATE_LIMIT_MAX_CLIENTS`: most addresses tracked at once; default 100000.
  pub max_clients: u64,
  /// `API_TRUSTED_PROXIES`: comma-separated addresses or CIDR blocks whose `X-Forwarded-For` is believed; default
  /// empty (the header is ignored).
  pub trusted_proxies: Vec<Network>,
  /// `API_KEY_HASHES`: comma-separated SHA-256 hashes (hex) of accepted keys, with the default budgets.
  pub key_hashes: Vec<[u8; 32]>,
  /// `API_KEYS_FILE`: a file of accepted keys' hashes, one a line, with optional names and budgets (see the
  /// README).
  pub keys_file: Option<PathBuf>,
}

impl AccessSettings {
  /// Reads the access settings through `read` (which treats empty values as unset).
  ///
  /// # Errors
  /// Fails naming the first variable whose value cannot be parsed.
  pub fn from_lookup(read: &impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
    let number = |variable: &'static str, default: u64| -> Result<u64, SettingsError> {
      match read(variable) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|error| SettingsError {
          variable,
          message: format!("`{value}`: {error}"),
        }),
      }
    };
    let positive = |variable: &'static str, default: u32| -> Result<NonZeroU32, SettingsError> {
      u32::try_from(number(variable, u64::from(default))?)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| SettingsError {
          variable,
          message: "must be between 1 and 4294967295".to_owned(),
        })
    };
    let rate_limits_enabled = match read("API_RATE_LIMITS_ENABLED") {
      None => false,
      Some(value) => value.trim().parse().map_err(|error| SettingsError {
        variable: "API_RATE_LIMITS_ENABLED",
        message: format!("`{value}`: {error}"),
      })?,
    };
    let trusted_proxies = list(read("API_TRUSTED_PROXIES"))
      .map(|entry| {
        entry.parse().map_err(|message| SettingsError {
          variable: "API_TRUSTED_PROXIES",
          message,
        })
      })
      .collect::<Result<_, _>>()?;
    let key_hashes = list(read("API_KEY_HASHES"))
      .map(|entry| {
        parse_hash(entry).ok_or_else(|| SettingsError {
          variable: "API_KEY_HASHES",
          message: "expected comma-separated SHA-256 hashes (64 hexadecimal digits each)"
            .to_owned(),
        })
      })
      .collect::<Result<_, _>>()?;
    Ok(Self {
      rate_limits_enabled,
      cheap: Budget {
        per_minute: positive("API_RATE_LIMIT_CHEAP_PER_MINUTE", 1200)?,
        burst: positive("API_RATE_LIMIT_CHEAP_BURST", 120)?,
      },
      expensive: Budget {
        per_minute: positive("API_RATE_LIMIT_EXPENSIVE_PER_MINUTE", 120)?,
        burst: positive("API_RATE_LIMIT_EXPENSIVE_BURST", 20)?,
      },
      large_answer_bytes: usize::try_from(number("API_RATE_LIMIT_LARGE_ANSWER_BYTES", 1_048_576)?)
        .unwrap_or(usize::MAX),
      max_clients: number("API_RATE_LIMIT_MAX_CLIENTS", 100_000)?.max(1),
      trusted_proxies,
      key_hashes,
      keys_file: read("API_KEYS_FILE").map(|path| PathBuf::from(path.trim())),
    })
  }

  /// Whether API keys are required (some are configured).
  #[must_use]
  pub fn keys_required(&self) -> bool {
    !self.key_hashes.is_empty() || self.keys_file.is_some()
  }
}

fn list(value: Option<String>) -> impl Iterator<Item = String> {
  value
    .unwrap_or_default()
    .split(',')
    .map(str::trim)
    .filter(|entry| !entry.is_empty())
    .map(str::to_owned)
    .collect::<Vec<_>>()
    .into_iter()
}

/// A SHA-256 hash written as 64 hexadecimal digits, optionally prefixed `sha256:`.
fn parse_hash(text: impl AsRef<str>) -> Option<[u8; 32]> {
  let text = text.as_ref().trim();
  let text = text.strip_prefix("sha256:").unwrap_or(text);
  if text.len() != 64 || !text.is_ascii() {
    return None;
  }
  let mut hash = [0_u8; 32];
  for (index, byte) in hash.iter_mut().enumerate() {
    *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()?;
  }
  Some(hash)
}

/// The SHA-256 hash of `key`, as 64 lower-case hexadecimal digits (what `API_KEY_HASHES` and `API_KEYS_FILE`
/// hold; `printf %s "$key" | sha256sum` prints the same).
#[must_use]
pub fn hash_key(key: &str) -> String {
  Sha256::digest(key.as_bytes())
    .iter()
    .map(|byte| format!("{byte:02x}"))
    .collect()
}

/// Why the access configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
  /// The keys file cannot be read.
  #[error("cannot read API_KEYS_FILE {path}: {source}")]
  KeysFile {
    /// The file.
    path: PathBuf,
    /// Why.
    source: std::io::Error,
  },
  /// A line of the keys file is invalid.
  #[error("API_KEYS_FILE {path}, line {line}: {message}")]
  KeysFileLine {
    /// The file.
    path: PathBuf,
    /// The line number, from 1.
    line: usize,
    /// What is wrong.
    message: String,
  },
}

/// Parses a keys file: one key a line, `<sha256 hex> [name] [cheap_per_minute=N] [cheap_burst=N]
/// [expensive_per_minute=N] [expensive_burst=N]`; blank lines and `#` comments are skipped. Budgets not given are
/// `defaults`'.
///
/// # Errors
/// Fails naming the first invalid line.
pub fn parse_keys_file(
  text: &str,
  path: &std::path::Path,
  defaults: &AccessSettings,
) -> Result<Vec<KeyEntry>, AccessError> {
  let mut keys = Vec::new();
  for (index, line) in text.lines().enumerate() {
    let line = line.split('#').next().unwrap_or_default().trim();
    if line.is_empty() {
      continue;
    }
    let invalid = |message: String| AccessError::KeysFileLine {
      path: path.to_owned(),
      line: index + 1,
      message,
    };
    let mut words = line.split_whitespace();
    let hash = words
      .next()
      .and_then(parse_hash)
      .ok_or_else(|| invalid("expected a SHA-256 hash (64 hexadecimal digits) first".to_owned()))?;
    let mut entry = KeyEntry {
      name: default_key_name(&hash),
      hash,
      cheap: defaults.cheap,
      expensive: defaults.expensive,
    };
    for word in words {
      let Some((setting, value)) = word.split_once('=') else {
        entry.name = word.to_owned();
        continue;
      };
      let value = value
        .parse::<u32>()
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| invalid(format!("`{setting}` must be a positive number")))?;
      match setting {
        "cheap_per_minute" => entry.cheap.per_minute = value,
        "cheap_burst" => entry.cheap.burst = value,
        "expensive_per_minute" => entry.expensive.per_minute = value,
        "expensive_burst" => entry.expensive.burst = value,
        other => return Err(invalid(format!("unknown setting `{other}`"))),
      }
    }
    keys.push(entry);
  }
  Ok(keys)
}

/// `key-` and the first 8 hexadecimal digits of the hash (not enough to find the key).
fn default_key_name(hash: &[u8; 32]) -> String {
  let prefix: String = hash[..4].iter().map(|byte| format!("{byte:02x}")).collect();
  format!("key-{prefix}")
}

/// Whether `a` equals `b`, in a time that does not depend on where they differ.
fn constant_time_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
  a.iter()
    .zip(b)
    .fold(0_u8, |difference, (a, b)| difference | (a ^ b))
    == 0
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, QuantaClock, StateInformationMiddleware>;

/// Which budget refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetKind {
  /// Every request's budget.
  Cheap,
  /// The budget of cache misses, streamed and large answers.
  Expensive,
}

/// One client's buckets.
struct Buckets {
  cheap: Limiter,
  cheap_budget: Budget,
  expensive: Limiter,
  expensive_budget: Budget,
  /// Expensive tokens owed: answers that found the expensive bucket empty.
  debt: Mutex<u32>,
}

/// A refused request: which budget, and when to retry.
#[derive(Clone, Copy, Debug)]
pub struct Refusal {
  /// The budget that refused.
  pub budget: BudgetKind,
  /// The budget's burst size.
  pub limit: u32,
  /// How long until the request would be admitted.
  pub retry_after: Duration,
}

/// What an admitted request may still do: the cheap bucket after charging it.
#[derive(Clone, Copy, Debug)]
pub struct Admission {
  /// The cheap budget's burst size.
  pub limit: u32,
  /// Requests left in the burst.
  pub remaining: u32,
  /// How long until the bucket is full again.
  pub reset: Duration,
}

impl Buckets {
  fn new(cheap: Budget, expensive: Budget, clock: &QuantaClock) -> Self {
    Self {
      cheap: RateLimiter::direct_with_clock(cheap.quota(), clock.clone())
        .with_middleware::<StateInformationMiddleware>(),
      cheap_budget: cheap,
      expensive: RateLimiter::direct_with_clock(expensive.quota(), clock.clone())
        .with_middleware::<StateInformationMiddleware>(),
      expensive_budget: expensive,
      debt: Mutex::new(0),
    }
  }

  /// Pays the expensive debt, then charges the cheap bucket.
  fn admit(&self, clock: &QuantaClock) -> Result<Admission, Refusal> {
    {
      let mut debt = self
        .debt
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
      if let Some(owed) = NonZeroU32::new(*debt) {
        match self.expensive.check_n(owed) {
          Ok(Ok(_)) => *debt = 0,
          Ok(Err(not_until)) => {
            return Err(Refusal {
              budget: BudgetKind::Expensive,
              limit: self.expensive_budget.burst.get(),
              retry_after: not_until.wait_time_from(clock.now()),
            });
          }
          // The debt never exceeds the burst (see `charge_expensive`).
          Err(_) => *debt = 0,
        }
      }
    }
    match self.cheap.check() {
      Ok(snapshot) => Ok(admission(&snapshot, self.cheap_budget)),
      Err(not_until) => Err(Refusal {
        budget: BudgetKind::Cheap,
        limit: self.cheap_budget.burst.get(),
        retry_after: not_until.wait_time_from(clock.now()),
      }),
    }
  }

  /// Charges one expensive token, or owes it when the bucket is empty.
  fn charge_expensive(&self) {
    if self.expensive.check().is_err() {
      let mut debt = self
        .debt
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
      *debt = (*debt + 1).min(self.expensive_budget.burst.get());
    }
  }
}

fn admission(snapshot: &StateSnapshot, budget: Budget) -> Admission {
  let remaining = snapshot.remaining_burst_capacity();
  let missing = budget.burst.get().saturating_sub(remaining);
  Admission {
    limit: budget.burst.get(),
    remaining,
    reset: budget.quota().replenish_interval() * missing,
  }
}

/// Who a request is, for the limiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
  /// The configured key at this index.
  Key(usize),
  /// An address (IPv6 by /64 prefix).
  Address(IpAddr),
}

struct Limits {
  clock: QuantaClock,
  cheap: Budget,
  expensive: Budget,
  large_answer_bytes: usize,
  addresses: moka::future::Cache<IpAddr, Arc<Buckets>>,
  keys: Vec<Arc<Buckets>>,
}

struct Inner {
  keys: Vec<KeyEntry>,
  keys_required: bool,
  trusted_proxies: Vec<Network>,
  limits: Option<Limits>,
}

/// The access layer's state: the accepted keys and every client's buckets (cheap to clone).
#[derive(Clone)]
pub struct Access {
  inner: Arc<Inner>,
}

impl Access {
  /// The access layer for `settings`, reading `API_KEYS_FILE` when set.
  ///
  /// # Errors
  /// Fails when the keys file cannot be read or has an invalid line.
  pub fn new(settings: &AccessSettings) -> Result<Self, AccessError> {
    let mut keys: Vec<KeyEntry> = settings
      .key_hashes
      .iter()
      .map(|hash| KeyEntry {
        name: default_key_name(hash),
        hash: *hash,
        cheap: settings.cheap,
        expensive: settings.expensive,
      })
      .collect();
    if let Some(path) = &settings.keys_file {
      let text = std::fs::read_to_string(path).map_err(|source| AccessError::KeysFile {
        path: path.clone(),
        source,
      })?;
      keys.extend(parse_keys_file(&text, path, settings)?);
    }
    let limits = settings.rate_limits_enabled.then(|| {
      let clock = QuantaClock::default();
      let idle = settings
        .cheap
        .refill_time()
        .max(settings.expensive.refill_time())
        .max(Duration::from_secs(1));
      Limits {
        keys: keys
          .iter()
          .map(|key| Arc::new(Buckets::new(key.cheap, key.expensive, &clock)))
          .collect(),
        clock,
        cheap: settings.cheap,
        expensive: settings.expensive,
        large_answer_bytes: settings.large_answer_bytes,
        addresses: moka::future::Cache::builder()
          .max_capacity(settings.max_clients)
          .time_to_idle(idle)
          .eviction_policy(moka::policy::EvictionPolicy::lru())
          .build(),
      }
    });
    Ok(Self {
      inner: Arc::new(Inner {
        keys_required: settings.keys_required(),
        keys,
        trusted_proxies: settings.trusted_proxies.clone(),
        limits,
      }),
    })
  }

  /// The configured key matching `presented`, if any (compared with every configured hash in constant time).
  fn find_key(&self, presented: &str) -> Option<usize> {
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    let mut found = None;
    for (index, key) in self.inner.keys.iter().enumerate() {
      if constant_time_equal(&key.hash, &digest) && found.is_none() {
        found = Some(index);
      }
    }
    found
  }

  /// Who `request` is: its key's client when it carries a valid key, else its address's; `Err` when it carries
  /// a key that is not valid (only checked while keys are configured).
  fn identify(&self, request: &Request) -> Result<Client, ()> {
    if self.inner.keys_required
      && let Some(presented) = presented_key(request.headers())
    {
      return self.find_key(presented).map(Client::Key).ok_or(());
    }
    let peer = request
      .remote_addr()
      .as_socket_addr()
      .map_or(IpAddr::from([0, 0, 0, 0]), std::net::SocketAddr::ip);
    let address = client_address(peer, request.headers(), &self.inner.trusted_proxies);
    Ok(Client::Address(address_client(address)))
  }

  async fn buckets(&self, limits: &Limits, client: Client) -> Option<Arc<Buckets>> {
    match client {
      Client::Key(index) => limits.keys.get(index).cloned(),
      Client::Address(address) => Some(
        limits
          .addresses
          .get_with(address, async {
            Arc::new(Buckets::new(limits.cheap, limits.expensive, &limits.clock))
          })
          .await,
      ),
    }
  }

  /// Charges `client`'s cheap bucket (after paying any expensive debt): `Ok(None)` when rate limits are off.
  ///
  /// # Errors
  /// The [`Refusal`] when the client is over budget.
  pub async fn admit(&self, client: Client) -> Result<Option<Admission>, Refusal> {
    let Some(limits) = &self.inner.limits else {
      return Ok(None);
    };
    match self.buckets(limits, client).await {
      Some(buckets) => buckets.admit(&limits.clock).map(Some),
      None => Ok(None),
    }
  }

  /// Charges `client` one expensive token (owing it when the bucket is empty).
  pub async fn charge_expensive(&self, client: Client) {
    if let Some(limits) = &self.inner.limits
      && let Some(buckets) = self.buckets(limits, client).await
    {
      buckets.charge_expensive();
    }
  }

  /// How many addresses have buckets (after pending evictions; for tests).
  #[cfg(test)]
  async fn tracked_addresses(&self) -> u64 {
    match &self.inner.limits {
      Some(limits) => {
        limits.addresses.run_pending_tasks().await;
        limits.addresses.entry_count()
      }
      None => 0,
    }
  }

  /// The name of the key at `index` (for logs).
  fn key_name(&self, index: usize) -> &str {
    self
      .inner
      .keys
      .get(index)
      .map_or("unknown", |key| key.name.as_str())
  }
}

/// The key a request presents: `X-API-Key`, else `Authorization: Bearer`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
  headers
    .get(API_KEY_HEADER)
    .and_then(|value| value.to_str().ok())
    .map(str::trim)
    .or_else(|| {
      headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
          let (scheme, token) = value.trim().split_once(' ')?;
          scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
    })
    .filter(|key| !key.is_empty())
}

/// An endpoint behind the access layer (see [`guard`]).
pub struct Guarded<E> {
  endpoint: E,
  access: Access,
}

/// Puts `endpoint` behind the access layer: keys checked, budgets charged, `RateLimit-*` headers added.
pub fn guard<E: Endpoint>(endpoint: E, access: Access) -> Guarded<E> {
  Guarded { endpoint, access }
}

impl<E: Endpoint> Endpoint for Guarded<E> {
  type Output = Response;

  async fn call(&self, request: Request) -> poem::Result<Response> {
    let path = request.uri().path();
    if PROBE_PATHS.contains(&path)
      || (!self.access.inner.keys_required && self.access.inner.limits.is_none())
    {
      return self
        .endpoint
        .call(request)
        .await
        .map(IntoResponse::into_response);
    }
    let client = match self.access.identify(&request) {
      Ok(Client::Address(address)) if self.access.inner.keys_required && !needs_no_key(path) => {
        tracing::debug!(%address, "request without an API key");
        return Ok(unauthorized(
          "This request needs an API key (`X-API-Key` header).",
        ));
      }
      Ok(client) => client,
      Err(()) => {
        tracing::debug!("request with an unknown API key");
        return Ok(unauthorized("The API key is not valid."));
      }
    };
    let admission = match self.access.admit(client).await {
      Ok(admission) => admission,
      Err(refusal) => {
        match client {
          Client::Key(index) => {
            tracing::debug!(key = self.access.key_name(index), budget = ?refusal.budget, "over budget");
          }
          Client::Address(address) => {
            tracing::debug!(%address, budget = ?refusal.budget, "over budget");
          }
        }
        return Ok(too_many_requests(refusal));
      }
    };
    let Some(admission) = admission else {
      return self
        .endpoint
        .call(request)
        .await
        .map(IntoResponse::into_response);
    };
    let large_answer_bytes = self
      .access
      .inner
      .limits
      .as_ref()
      .map_or(usize::MAX, |limits| limits.large_answer_bytes);
    let response = self.endpoint.call(request).await?.into_response();
    let (mut response, expensive) = classify(response, large_answer_bytes).await;
    if expensive {
      self.access.charge_expensive(client).await;
    }
    set_rate_limit_headers(
      response.headers_mut(),
      admission.limit,
      admission.remaining,
      admission.reset,
    );
    Ok(response)
  }
}

/// Whether an answer is expensive (a cache miss or bypass, streamed, or a body over `large_answer_bytes`), with
/// the response (its body read into memory when it was not streamed, to measure it).
async fn classify(mut response: Response, large_answer_bytes: usize) -> (Response, bool) {
  if response.data::<BodyTreatment>() == Some(&BodyTreatment::Streamed) {
    return (response, true);
  }
  let built = response
    .headers()
    .get("x-cache")
    .and_then(|value| value.to_str().ok())
    .is_some_and(|outcome| {
      outcome == CacheOutcome::Miss.as_str() || outcome == CacheOutcome::Bypass.as_str()
    });
  if built || !response.status().is_success() {
    return (response, built);
  }
  match response.take_body().into_bytes().await {
    Ok(body) => {
      let large = body.len() > large_answer_bytes;
      response.set_body(body);
      (response, large)
    }
    Err(error) => {
      tracing::error!(%error, "could not read the response body");
      let problem = Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "An internal error occurred.",
      );
      (problem.into_response(), false)
    }
  }
}

fn unauthorized(detail: &str) -> Response {
  let mut response = Problem::new(StatusCode::UNAUTHORIZED, detail).into_response();
  response.headers_mut().insert(
    header::WWW_AUTHENTICATE,
    HeaderValue::from_static("Bearer realm=\"api\""),
  );
  response
}

/// Whole seconds, rounded up (a client waiting this long is admitted).
fn seconds_up(duration: Duration) -> u64 {
  duration
    .as_secs()
    .saturating_add(u64::from(duration.subsec_nanos() > 0))
}

fn too_many_requests(refusal: Refusal) -> Response {
  let which = match refusal.budget {
    BudgetKind::Cheap => "requests",
    BudgetKind::Expensive => "uncached or large answers",
  };
  let retry_after = seconds_up(refusal.retry_after).max(1);
  let mut response = Problem::new(
    StatusCode::TOO_MANY_REQUESTS,
    format!("Too many {which}; retry in {retry_after} s."),
  )
  .into_response();
  response
    .headers_mut()
    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
  set_rate_limit_headers(
    response.headers_mut(),
    refusal.limit,
    0,
    Duration::from_secs(retry_after),
  );
  response
}

/// The `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers.
fn set_rate_limit_headers(headers: &mut HeaderMap, limit: u32, remaining: u32, reset: Duration) {
  headers.insert("ratelimit-limit", HeaderValue::from(limit));
  headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
  headers.insert("ratelimit-reset", HeaderValue::from(seconds_up(reset)));
}

/// The security scheme of the `X-API-Key` header in the OpenAPI document.
pub const API_KEY_SCHEME: &str = "ApiKey";
/// The security scheme of `Authorization: Bearer` in the OpenAPI document.
pub const BEARER_SCHEME: &str = "BearerKey";

fn problem_response(description: &str) -> serde_json::Value {
  serde_json::json!({
    "description": description,
    "content": {
      "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } }
    }
  })
}

fn integer_header(description: &str) -> serde_json::Value {
  serde_json::json!({
    "description": description,
    "required": true,
    "deprecated": false,
    "schema": { "type": "integer", "format": "uint64" }
  })
}

/// The OpenAPI `document` stating what `settings` switch on: with keys, the two security schemes (which Swagger UI
/// offers under "Authorize"), a security requirement on every operation and their 401 answer; with rate limits,
/// every operation's 429 answer and its headers. With both off, the document is returned as it is.
#[must_use]
pub fn describe(document: &str, settings: &AccessSettings) -> String {
  if !settings.keys_required() && !settings.rate_limits_enabled {
    return document.to_owned();
  }
  let Ok(mut document) = serde_json::from_str::<serde_json::Value>(document) else {
    return document.to_owned();
  };
  let mut notes = Vec::new();
  if settings.keys_required() {
    notes.push(
      "**API keys**: every operation needs a key, sent as `X-API-Key: <key>` or `Authorization: Bearer <key>`; \
       without a valid one it is answered `401`.",
    );
    document["components"]["securitySchemes"] = serde_json::json!({
      API_KEY_SCHEME: {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key given by the operator.",
      },
      BEARER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "description": "The same API key, as `Authorization: Bearer <key>`.",
      },
    });
    document["security"] = serde_json::json!([{ API_KEY_SCHEME: [] }, { BEARER_SCHEME: [] }]);
  }
  if settings.rate_limits_enabled {
    notes.push(
      "**Rate limits**: each client (API key, else address) has a budget of requests and a smaller one of \
       expensive answers (chart and Open F1 cache misses, streamed and large answers). Over budget, a request is \
       answered `429` with `Retry-After`; every answer carries `RateLimit-Limit`, `RateLimit-Remaining` and \
       `RateLimit-Reset`.",
    );
  }
  let unauthorized =
    problem_response("No API key, or not a valid one (`WWW-Authenticate: Bearer`).");
  let mut too_many = problem_response(
    "Over the client's rate limit: retry after `Retry-After` seconds (`detail` says which budget).",
  );
  too_many["headers"] = serde_json::json!({
    "RETRY-AFTER": integer_header("Seconds to wait before retrying."),
    "RATELIMIT-LIMIT": integer_header("The refusing budget's burst size."),
    "RATELIMIT-REMAINING": integer_header("Always 0 here."),
    "RATELIMIT-RESET": integer_header("Seconds until the request would be admitted."),
  });
  if let Some(paths) = document
    .get_mut("paths")
    .and_then(serde_json::Value::as_object_mut)
  {
    let operations = paths
      .values_mut()
      .filter_map(serde_json::Value::as_object_mut)
      .flat_map(|item| item.values_mut())
      .filter_map(|operation| operation.get_mut("responses"))
      .filter_map(serde_json::Value::as_object_mut);
    for responses in operations {
      if settings.keys_required() {
        responses.insert("401".to_owned(), unauthorized.clone());
      }
      if settings.rate_limits_enabled {
        responses.insert("429".to_owned(), too_many.clone());
      }
    }
  }
  if let Some(description) = document["info"]["description"].as_str() {
    document["info"]["description"] =
      serde_json::Value::String(format!("{description}\n\n{}", notes.join("\n\n")));
  }
  serde_json::to_string_pretty(&document).unwrap_or_default()
}

/// Swagger UI showing `document` (the served document, with the security schemes): poem-openapi's page for the
/// service, whose embedded `service_spec` is replaced.
pub fn swagger_ui(
  service_html: &str,
  service_spec: &str,
  document: &str,
) -> impl Endpoint<Output = Response> + use<> {
  let html = service_html.replacen(service_spec, document, 1);
  poem::endpoint::make_sync(move |_| poem::web::Html(html.clone()).into_response())
}

#[cfg(test)]
mod tests {
  use super::*;

  fn settings(pairs: &[(&str, &str)]) -> AccessSettings {
    AccessSettings::from_lookup(&runtime::lookup_in(pairs)).expect("settings")
  }

  fn address(text: &str) -> IpAddr {
    text.parse().expect("address")
  }

  fn forwarded(values: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in values {
      headers.append(FORWARDED_FOR_HEADER, value.parse().expect("header value"));
    }
    headers
  }

  #[test]
  fn everything_is_off_by_default() {
    let defaults = settings(&[]);
    assert!(!defaults.rate_limits_enabled);
    assert!(!defaults.keys_required());
    assert!(defaults.trusted_proxies.is_empty());
  }

  #[test]
  fn a_bad_hash_or_proxy_names_its_variable() {
    for (variable, value) in [
      ("API_KEY_HASHES", "not-a-hash"),
      ("API_TRUSTED_PROXIES", "10.0.0.0/33"),
      ("API_RATE_LIMIT_CHEAP_BURST", "0"),
    ] {
      let lookup = |name: &str| (name == variable).then(|| value.to_owned());
      let error = AccessSettings::from_lookup(&lookup).expect_err(variable);
      assert_eq!(error.variable, variable);
    }
  }

  #[test]
  fn networks_contain_the_addresses_of_their_prefix() {
    let network: Network = "10.1.0.0/16".parse().expect("network");
    assert!(network.contains(address("10.1.200.3")));
    assert!(!network.contains(address("10.2.0.1")));
    assert!(network.contains(address("::ffff:10.1.0.9")));
    let single: Network = "2001:db8::1".parse().expect("network");
    assert!(single.contains(address("2001:db8::1")));
    assert!(!single.contains(address("2001:db8::2")));
    let everything: Network = "0.0.0.0/0".parse().expect("network");
    assert!(everything.contains(address("192.0.2.1")));
  }

  #[test]
  fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    let trusted: Vec<Network> = vec!["10.0.0.0/8".parse().expect("network")];
    let headers = forwarded(&["198.51.100.7"]);
    assert_eq!(
      client_address(address("192.0.2.1"), &headers, &trusted),
      address("192.0.2.1")
    );
    assert_eq!(
      client_address(address("10.0.0.5"), &headers, &trusted),
      address("198.51.100.7")
    );
    assert_eq!(
      client_address(address("10.0.0.5"), &headers, &[]),
      address("10.0.0.5")
    );
  }

  #[test]
  fn the_client_is_the_right_most_untrusted_forwarded_address() {
    let trusted: Vec<Network> = vec!["10.0.0.0/8".parse().expect("network")];
    // The client forged the first entry; the proxies appended the real one and their own.
    let headers = forwarded(&["203.0.113.66, 198.51.100.7", "10.0.0.9"]);
    assert_eq!(
      client_address(address("10.0.0.5"), &headers, &trusted),
      address("198.51.100.7")
    );
    let garbage = forwarded(&["198.51.100.7, garbage"]);
    assert_eq!(
      client_address(address("10.0.0.5"), &garbage, &trusted),
      address("10.0.0.5")
    );
    let with_port = forwarded(&["[2001:db8::7]:4711"]);
    assert_eq!(
      client_address(address("10.0.0.5"), &with_port, &trusted),
      address("2001:db8::7")
    );
    let only_proxies = forwarded(&["10.0.0.8"]);
    assert_eq!(
      client_address(address("10.0.0.5"), &only_proxies, &trusted),
      address("10.0.0.8")
    );
  }

  #[test]
  fn ipv6_clients_count_by_their_64_bit_prefix() {
    assert_eq!(
      address_client(address("2001:db8:1:2:aaaa::1")),
      address_client(address("2001:db8:1:2:bbbb::2"))
    );
    assert_ne!(
      address_client(address("2001:db8:1:2::1")),
      address_client(address("2001:db8:1:3::1"))
    );
    assert_eq!(address_client(address("192.0.2.1")), address("192.0.2.1"));
  }

  #[test]
  fn a_keys_file_gives_names_and_budgets() {
    let defaults = settings(&[]);
    let first = hash_key("first-key");
    let second = hash_key("second-key");
    let text = format!(
      "# partners\n{first} website cheap_burst=5 expensive_per_minute=7\n\nsha256:{second}\n"
    );
    let keys = parse_keys_file(&text, std::path::Path::new("keys"), &defaults).expect("keys");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].name, "website");
    assert_eq!(keys[0].cheap.burst.get(), 5);
    assert_eq!(keys[0].cheap.per_minute, defaults.cheap.per_minute);
    assert_eq!(keys[0].expensive.per_minute.get(), 7);
    assert!(keys[1].name.starts_with("key-"));
    assert_eq!(keys[1].cheap, defaults.cheap);
    let error = parse_keys_file(
      &format!("{first} cheap_burst=lots"),
      std::path::Path::new("keys"),
      &defaults,
    )
    .expect_err("invalid");
    assert!(error.to_string().contains("line 1"), "{error}");
  }

  #[test]
  fn keys_are_found_by_their_hash_only() {
    let hash = hash_key("the-key");
    let access = Access::new(&settings(&[("API_KEY_HASHES", &hash)])).expect("access");
    assert_eq!(access.find_key("the-key"), Some(0));
    assert_eq!(access.find_key("the-kex"), None);
    assert_eq!(access.find_key(&hash), None);
  }

  #[tokio::test]
  async fn the_limiter_tracks_at_most_max_clients_addresses() {
    let access = Access::new(&settings(&[
      ("API_RATE_LIMITS_ENABLED", "true"),
      ("API_RATE_LIMIT_MAX_CLIENTS", "1000"),
    ]))
    .expect("access");
    for index in 0..100_000_u32 {
      let client = Client::Address(IpAddr::from((0x0a00_0000 + index).to_be_bytes()));
      access.admit(client).await.expect("admitted");
    }
    let tracked = access.tracked_addresses().await;
    assert!(tracked <= 1000, "{tracked} addresses tracked");
    assert!(tracked > 0);
  }

  #[tokio::test]
  async fn an_expensive_answer_over_budget_is_owed_and_paid_before_the_next_request() {
    let access = Access::new(&settings(&[
      ("API_RATE_LIMITS_ENABLED", "true"),
      ("API_RATE_LIMIT_EXPENSIVE_PER_MINUTE", "1"),
      ("API_RATE_LIMIT_EXPENSIVE_BURST", "1"),
    ]))
    .expect("access");
    let client = Client::Address(address("192.0.2.1"));
    access.admit(client).await.expect("first");
    access.charge_expensive(client).await;
    // The bucket is empty, but nothing is owed yet: cheap requests go on.
    access.admit(client).await.expect("second");
    access.charge_expensive(client).await;
    let refusal = access.admit(client).await.expect_err("in debt");
    assert_eq!(refusal.budget, BudgetKind::Expensive);
    assert!(refusal.retry_after > Duration::from_secs(50));
    let other = Client::Address(address("192.0.2.2"));
    access
      .admit(other)
      .await
      .expect("other clients are not affected");
  }
}
