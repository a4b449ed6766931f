//! The Open F1 HTTP client: one shared rate limiter for every request (token included), a timeout on every
//! request, retries with jittered exponential back-off (honouring `Retry-After`), bearer-token authentication
//! with early refresh, and the upstream's quirks mapped to plain results:
//!
//! - `404 {"detail":"No results found."}` and `200 []` are both an empty result;
//! - `401 Session in progress` without a token is [`FetchError::UpstreamLocked`]: wait, do not fail;
//! - 429, 5xx, timeouts, connection errors and undecodable bodies are retried.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::metrics::Metrics;
use crate::settings::{Credentials, RetrySettings, Secret, Settings};

/// A token is refreshed this long before it expires.
pub const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// The body upstream sends with a 404 that only means "empty".
const NO_RESULTS_DETAIL: &str = "No results found.";
/// Words of the 401 body upstream sends while a session is live.
const SESSION_IN_PROGRESS: &str = "Session in progress";

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
  /// The request could not be sent or its body not read (connection refused, timeout...).
  #[error("request to {url} failed")]
  Http {
    /// The URL requested.
    url: String,
    /// The transport error.
    #[source]
    source: reqwest::Error,
  },
  /// Upstream answered with a status that is neither success nor an empty result.
  #[error("{url} answered {status}: {body}")]
  UnexpectedStatus {
    /// The URL requested.
    url: String,
    /// The status.
    status: StatusCode,
    /// The `Retry-After` delay, when sent in seconds.
    retry_after: Option<Duration>,
    /// The start of the body.
    body: String,
  },
  /// The body was not the expected JSON (garbage or a truncated response).
  #[error("{url} sent a body that is not the expected JSON")]
  Decode {
    /// The URL requested.
    url: String,
    /// The JSON error.
    #[source]
    source: serde_json::Error,
  },
  /// A session is live and upstream only serves authenticated users until 30 minutes after it ends: wait.
  #[error("{url}: a session is in progress and upstream restricts access to authenticated users")]
  UpstreamLocked {
    /// The URL requested.
    url: String,
  },
}

impl FetchError {
  /// Whether trying again may succeed (429, 5xx, timeouts, connection errors, undecodable bodies).
  #[must_use]
  pub fn is_retryable(&self) -> bool {
    match self {
      Self::Http { .. } | Self::Decode { .. } => true,
      Self::UnexpectedStatus { status, .. } => {
        *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
      }
      Self::UpstreamLocked { .. } => false,
    }
  }

  fn retry_after(&self) -> Option<Duration> {
    match self {
      Self::UnexpectedStatus { retry_after, .. } => *retry_after,
      _ => None,
    }
  }
}

/// A query string in Open F1's syntax: `field=value`, `field>=value`, `field<value`...
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query(Vec<String>);

impl Query {
  /// An empty query.
  #[must_use]
  pub fn new() -> Self {
    Self::default()
  }

  /// Adds `field{operator}value`, e.g. `("date", ">=", "2024-03-02T15:00:00")`.
  #[must_use]
  pub fn with(mut self, field: &str, operator: &str, value: impl std::fmt::Display) -> Self {
    self.0.push(format!("{field}{operator}{value}"));
    self
  }

  /// Adds `field=value`.
  #[must_use]
  pub fn equal(self, field: &str, value: impl std::fmt::Display) -> Self {
    self.with(field, "=", value)
  }

  /// The query string, without the `?`.
  #[must_use]
  pub fn render(&self) -> String {
    self.0.join("&")
  }
}

/// An Open F1 access token and the instant it is due for replacement ([`TOKEN_REFRESH_MARGIN`] before it expires).
#[derive(Clone, Debug)]
pub struct AccessToken {
  /// The token (the bearer token of REST requests, the password of the MQTT connection).
  pub value: Secret,
  /// When to replace it.
  pub refresh_at: Instant,
}

/// The Open F1 client; cheap to clone (all clones share the rate limiter and the token).
#[derive(Clone)]
pub struct OpenF1Client {
  http: reqwest::Client,
  base_url: String,
  token_url: String,
  credentials: Option<Credentials>,
  per_second: Arc<DefaultDirectRateLimiter>,
  per_minute: Arc<DefaultDirectRateLimiter>,
  token: Arc<Mutex<Option<AccessToken>>>,
  retry: RetrySettings,
  metrics: Metrics,
}

/// A quota letting through at most `limit` requests in any `window`: one request every `window / limit`.
fn spaced_quota(limit: NonZeroU32, window: Duration) -> Quota {
  Quota::with_period(window / limit.get())
    .unwrap_or_else(|| Quota::per_second(limit))
    .allow_burst(NonZeroU32::MIN)
}

/// Decodes the token endpoint's answer; `expires_in` is a string upstream (`"3600"`), a number is tolerated.
fn token_lifetime(body: &Value) -> Option<Duration> {
  let expires_in = body.get("expires_in")?;
  let seconds = match expires_in {
    Value::String(text) => text.trim().parse::<u64>().ok()?,
    Value::Number(number) => number.as_u64()?,
    _ => return None,
  };
  Some(Duration::from_secs(seconds))
}

fn retry_after_header(response: &reqwest::Response) -> Option<Duration> {
  let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
  value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn truncated(text: &str) -> String {
  text.chars().take(300).collect()
}

impl OpenF1Client {
  /// A client configured by `settings`, reporting to `metrics`.
  ///
  /// # Errors
  /// Fails when the HTTP client cannot be built (no TLS provider).
  pub fn new(settings: &Settings, metrics: Metrics) -> Result<Self, reqwest::Error> {
    let http = reqwest::Client::builder()
      .timeout(settings.request_timeout)
      .connect_timeout(settings.request_timeout)
      .user_agent(concat!("f1-backend-worker/", env!("CARGO_PKG_VERSION")))
      .build()?;
    Ok(Self {
      http,
      base_url: settings.base_url.clone(),
      token_url: settings.token_url.clone(),
      credentials: settings.credentials.clone(),
      per_second: Arc::new(RateLimiter::direct(spaced_quota(
        settings.max_requests_per_second,
        Duration::from_secs(1),
      ))),
      per_minute: Arc::new(RateLimiter::direct(spaced_quota(
        settings.max_requests_per_minute,
        Duration::from_secs(60),
      ))),
      token: Arc::new(Mutex::new(None)),
      retry: settings.retry.clone(),
      metrics,
    })
  }

  /// Whether the client has credentials (and can therefore read live sessions).
  #[must_use]
  pub fn is_authenticated(&self) -> bool {
    self.credentials.is_some()
  }

  /// The account's username (also the MQTT username), when credentials are configured.
  #[must_use]
  pub fn username(&self) -> Option<&str> {
    self
      .credentials
      .as_ref()
      .map(|credentials| credentials.username.as_str())
  }

  /// The current access token, fetched (within the rate limiter) when there is none or it is due for
  /// replacement; `None` without credentials.
  ///
  /// # Errors
  /// The token endpoint's failure (not retried here: callers back off and ask again).
  pub async fn access_token(&self) -> Result<Option<AccessToken>, FetchError> {
    let Some(credentials) = &self.credentials else {
      return Ok(None);
    };
    let mut token = self.token.lock().await;
    if let Some(current) = token.as_ref()
      && Instant::now() < current.refresh_at
    {
      return Ok(Some(current.clone()));
    }
    let fresh = self.request_token(credentials).await?;
    *token = Some(fresh.clone());
    Ok(Some(fresh))
  }

  /// Forgets `rejected` if it is still the current token (upstream refused it), so the next call to
  /// [`OpenF1Client::access_token`] fetches a new one.
  pub async fn discard_token(&self, rejected: &Secret) {
    let mut token = self.token.lock().await;
    if token
      .as_ref()
      .is_some_and(|current| current.value == *rejected)
    {
      *token = None;
    }
  }

  async fn wait_for_permit(&self) {
    self.per_minute.until_ready().await;
    self.per_second.until_ready().await;
  }

  /// Fetches `endpoint` with `query`, retrying transient failures. An empty result is an empty Vec.
  ///
  /// # Errors
  /// [`FetchError::UpstreamLocked`] while a session is live and no token is configured; otherwise the last error
  /// once retries are exhausted, or the first error that retrying cannot fix.
  #[tracing::instrument(skip_all, fields(endpoint, query = %query.render()), err)]
  pub async fn fetch(&self, endpoint: &str, query: &Query) -> Result<Vec<Value>, FetchError> {
    let url = if query.0.is_empty() {
      format!("{}/{endpoint}", self.base_url)
    } else {
      format!("{}/{endpoint}?{}", self.base_url, query.render())
    };
    let backoff = ExponentialBuilder::default()
      .with_min_delay(self.retry.min_delay)
      .with_max_delay(self.retry.max_delay)
      .with_max_times(self.retry.max_retries)
      .with_jitter();
    let max_delay = self.retry.max_delay;
    (|| self.fetch_once(endpoint, &url))
      .retry(backoff)
      .when(FetchError::is_retryable)
      .adjust(move |error, delay| {
        // Only while retries remain (`delay` is None once they are exhausted).
        delay.map(|delay| {
          error
            .retry_after()
            .map_or(delay, |retry_after| retry_after.min(max_delay))
        })
      })
      .notify(|error, delay| {
        tracing::warn!(error = %error, retry_in = ?delay, "retrying an Open F1 request");
      })
      .await
  }

  /// One attempt; a 401 with credentials refreshes the token and tries once more.
  async fn fetch_once(&self, endpoint: &str, url: &str) -> Result<Vec<Value>, FetchError> {
    let mut refreshed = false;
    loop {
      let token = self.bearer_token().await?;
      self.wait_for_permit().await;
      let mut request = self.http.get(url);
      if let Some(token) = &token {
        request = request.header(AUTHORIZATION, format!("Bearer {}", token.expose()));
      }
      let response = match request.send().await {
        Ok(response) => response,
        Err(source) => {
          self.metrics.count_request(endpoint, "error");
          return Err(FetchError::Http {
            url: url.to_owned(),
            source,
          });
        }
      };
      let status = response.status();
      self.metrics.count_request(endpoint, status.as_str());
      let retry_after = retry_after_header(&response);
      let body = response.bytes().await.map_err(|source| FetchError::Http {
        url: url.to_owned(),
        source,
      })?;
      if status.is_success() {
        return serde_json::from_slice::<Vec<Value>>(&body).map_err(|source| FetchError::Decode {
          url: url.to_owned(),
          source,
        });
      }
      let text = String::from_utf8_lossy(&body);
      if status == StatusCode::NOT_FOUND {
        let detail = serde_json::from_slice::<Value>(&body)
          .ok()
          .and_then(|value| {
            value
              .get("detail")
              .and_then(Value::as_str)
              .map(str::to_owned)
          });
        if detail.as_deref() == Some(NO_RESULTS_DETAIL) {
          return Ok(Vec::new());
        }
      }
      if status == StatusCode::UNAUTHORIZED {
        if token.is_none() && text.contains(SESSION_IN_PROGRESS) {
          self.metrics.count_upstream_locked();
          return Err(FetchError::UpstreamLocked {
            url: url.to_owned(),
          });
        }
        if token.is_some() && !refreshed {
          tracing::info!("Open F1 refused the token; fetching a new one");
          *self.token.lock().await = None;
          refreshed = true;
          continue;
        }
      }
      return Err(FetchError::UnexpectedStatus {
        url: url.to_owned(),
        status,
        retry_after,
        body: truncated(&text),
      });
    }
  }

  /// The current bearer token, fetched or refreshed when missing or about to expire; None without credentials.
  async fn bearer_token(&self) -> Result<Option<Secret>, FetchError> {
    Ok(self.access_token().await?.map(|token| token.value))
  }

  /// Exchanges the credentials for a new token at the token endpoint.
  async fn request_token(&self, credentials: &Credentials) -> Result<AccessToken, FetchError> {
    self.wait_for_permit().await;
    let url = self.token_url.clone();
    let response = self
      .http
      .post(&url)
      .form(&[
        ("username", credentials.username.as_str()),
        ("password", credentials.password.expose()),
      ])
      .send()
      .await
      .map_err(|source| {
        self.metrics.count_request("token", "error");
        FetchError::Http {
          url: url.clone(),
          source,
        }
      })?;
    let status = response.status();
    self.metrics.count_request("token", status.as_str());
    let retry_after = retry_after_header(&response);
    let body = response.bytes().await.map_err(|source| FetchError::Http {
      url: url.clone(),
      source,
    })?;
    if !status.is_success() {
      return Err(FetchError::UnexpectedStatus {
        url,
        status,
        retry_after,
        body: truncated(&String::from_utf8_lossy(&body)),
      });
    }
    let decoded: Value = serde_json::from_slice(&body).map_err(|source| FetchError::Decode {
      url: url.clone(),
      source,
    })?;
    let access_token = decoded.get("access_token").and_then(Value::as_str);
    let (Some(access_token), Some(lifetime)) = (access_token, token_lifetime(&decoded)) else {
      return Err(FetchError::Decode {
        url,
        source: <serde_json::Error as serde::de::Error>::custom(
          "expected access_token and expires_in",
        ),
      });
    };
    tracing::info!(
      lifetime_seconds = lifetime.as_secs(),
      "obtained an Open F1 token"
    );
    Ok(AccessToken {
      value: Secret::new(access_token),
      refresh_at: Instant::now() + lifetime.saturating_sub(TOKEN_REFRESH_MARGIN),
    })
  }
}

#[cfg(test)]
mod tests {
  use serde_json::json;

  use super::*;

  #[test]
  fn the_token_lifetime_is_read_from_a_string_or_a_number() {
    assert_eq!(
      token_lifetime(&json!({"expires_in": "3600", "access_token": "a"})),
      Some(Duration::from_secs(3600))
    );
    assert_eq!(
      token_lifetime(&json!({"expires_in": 60})),
      Some(Duration::from_secs(60))
    );
    assert_eq!(token_lifetime(&json!({"expires_in": "soon"})), None);
  }

  #[test]
  fn queries_render_in_open_f1_syntax() {
    let query = Query::new()
      .equal("session_key", 9472)
      .with("date", ">=", "2024-03-02T15:00:00")
      .with("date", "<", "2024-03-02T15:10:00");
    assert_eq!(
      query.render(),
      "session_key=9472&date>=2024-03-02T15:00:00&date<2024-03-02T15:10:00"
    );
  }

  #[test]
  fn only_transient_failures_are_retried() {
    let status = |status: StatusCode| FetchError::UnexpectedStatus {
      url: String::new(),
      status,
      retry_after: None,
      body: String::new(),
    };
    assert!(status(StatusCode::TOO_MANY_REQUESTS).is_retryable());
    assert!(status(StatusCode::BAD_GATEWAY).is_retryable());
    assert!(!status(StatusCode::BAD_REQUEST).is_retryable());
    assert!(!FetchError::UpstreamLocked { url: String::new() }.is_retryable());
  }

  #[test]
  fn a_spaced_quota_lets_through_at_most_the_limit_per_window() {
    let limit = NonZeroU32::new(30).unwrap_or(NonZeroU32::MIN);
    let quota = spaced_quota(limit, Duration::from_secs(60));
    assert_eq!(quota.replenish_interval(), Duration::from_secs(2));
    assert_eq!(quota.burst_size().get(), 1);
  }
}
