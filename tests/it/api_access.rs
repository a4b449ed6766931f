//! Facing the internet: API keys (required, accepted, rejected, never logged), per-client rate limits with a cheap
//! and an expensive budget (429 with `Retry-After`), and clients told apart behind a trusted proxy.
//!
//! Budgets refill at one token a minute here, so that nothing refills while a test runs: every count is exact.

use api::{AccessSettings, Settings, hash_key};
use f1_backend::{Engine, TestDatabase};

use crate::api_support::TestApi;
use crate::logs::capture_logs_at;

fn access_settings(pairs: &[(&str, &str)]) -> AccessSettings {
  AccessSettings::from_lookup(&runtime::lookup_in(pairs)).expect("access settings")
}

/// The api on a database seeded with the Bahrain 2024 race, with the access variables `pairs`.
async fn start(pairs: &[(&str, &str)]) -> TestApi {
  let database = TestDatabase::seeded(Engine::Sqlite, &["9472_bahrain_2024_race"]).await;
  let mut settings = Settings::for_tests(database.url.clone());
  settings.access = access_settings(pairs);
  TestApi::start(settings, Some(database)).await
}

async fn get_with(api: &TestApi, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
  let mut request = api.client.get(format!("{}{path}", api.base_url));
  for (name, value) in headers {
    request = request.header(*name, *value);
  }
  request.send().await.expect("request")
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
  response
    .headers()
    .get(name)
    .unwrap_or_else(|| panic!("no {name} header"))
    .to_str()
    .expect("ASCII header")
}

/// Asserts a 429 problem+json with `Retry-After` (whole seconds, at least 1) and `RateLimit-Remaining: 0`; returns
/// its detail.
async fn assert_too_many_requests(response: reqwest::Response) -> String {
  assert_eq!(response.status(), 429);
  assert_eq!(
    header(&response, "content-type"),
    "application/problem+json"
  );
  let retry_after: u64 = header(&response, "retry-after").parse().expect("seconds");
  assert!(
    (1..=60).contains(&retry_after),
    "Retry-After: {retry_after}"
  );
  assert_eq!(header(&response, "ratelimit-remaining"), "0");
  let problem: serde_json::Value = response.json().await.expect("problem");
  assert_eq!(problem["status"], 429);
  problem["detail"].as_str().expect("detail").to_owned()
}

#[tokio::test]
async fn cache_hits_are_charged_to_the_cheap_budget_and_misses_to_the_expensive_one() {
  let api = start(&[
    ("API_RATE_LIMITS_ENABLED", "true"),
    ("API_RATE_LIMIT_CHEAP_PER_MINUTE", "1"),
    ("API_RATE_LIMIT_CHEAP_BURST", "100"),
    ("API_RATE_LIMIT_EXPENSIVE_PER_MINUTE", "1"),
    ("API_RATE_LIMIT_EXPENSIVE_BURST", "2"),
  ])
  .await;
  let chart = |drivers: &str| format!("/v1/sessions/9472/charts/lap-times?drivers={drivers}");
  let first = api.get(&chart("1")).await;
  assert_eq!(first.status(), 200);
  assert_eq!(header(&first, "x-cache"), "miss");
  assert_eq!(header(&first, "ratelimit-limit"), "100");
  assert_eq!(header(&first, "ratelimit-remaining"), "99");
  // Ten hits: had they been charged like misses, the expensive budget (2) would refuse the second.
  for served in 1..=10 {
    let hit = api.get(&chart("1")).await;
    assert_eq!(hit.status(), 200);
    assert_eq!(header(&hit, "x-cache"), "hit");
    assert_eq!(
      header(&hit, "ratelimit-remaining"),
      (99 - served).to_string()
    );
  }
  // The second miss takes the last expensive token; the third finds the bucket empty: it is served, and owed.
  for drivers in ["44", "16"] {
    let miss = api.get(&chart(drivers)).await;
    assert_eq!(miss.status(), 200, "drivers={drivers}");
    assert_eq!(header(&miss, "x-cache"), "miss");
  }
  // Until the debt is paid (a minute here), the client gets nothing, not even a cache hit.
  let detail = assert_too_many_requests(api.get(&chart("1")).await).await;
  assert!(detail.contains("uncached"), "{detail}");
  assert_eq!(
    api.get("/healthz").await.status(),
    200,
    "probes are never limited"
  );
}

#[tokio::test]
async fn over_its_request_budget_a_client_is_answered_429_with_retry_after() {
  let api = start(&[
    ("API_RATE_LIMITS_ENABLED", "true"),
    ("API_RATE_LIMIT_CHEAP_PER_MINUTE", "1"),
    ("API_RATE_LIMIT_CHEAP_BURST", "3"),
  ])
  .await;
  let first = api.get("/v1/seasons").await;
  assert_eq!(first.status(), 200);
  assert_eq!(header(&first, "ratelimit-limit"), "3");
  assert_eq!(header(&first, "ratelimit-remaining"), "2");
  let entity_tag = header(&first, "etag").to_owned();
  let not_modified = get_with(&api, "/v1/seasons", &[("if-none-match", &entity_tag)]).await;
  assert_eq!(not_modified.status(), 304);
  assert_eq!(header(&not_modified, "ratelimit-remaining"), "1");
  assert_eq!(api.get("/v1/meetings?year=2024").await.status(), 200);
  let detail = assert_too_many_requests(api.get("/v1/seasons").await).await;
  assert!(detail.contains("Too many requests"), "{detail}");
  for probe in ["/healthz", "/readyz"] {
    assert_eq!(api.get(probe).await.status(), 200, "{probe}");
  }
}

#[tokio::test]
async fn where_keys_are_configured_a_valid_key_is_required() {
  let key = uuid::Uuid::new_v4().to_string();
  let hash = hash_key(&key);
  let api = start(&[("API_KEY_HASHES", &hash)]).await;

  let missing = api.get("/v1/seasons").await;
  assert_eq!(missing.status(), 401);
  assert_eq!(header(&missing, "content-type"), "application/problem+json");
  assert!(header(&missing, "www-authenticate").starts_with("Bearer"));
  let wrong = get_with(&api, "/v1/seasons", &[("x-api-key", "not-the-key")]).await;
  assert_eq!(wrong.status(), 401);
  let hashed = get_with(&api, "/v1/seasons", &[("x-api-key", &hash)]).await;
  assert_eq!(hashed.status(), 401, "the hash is not a key");
  let bearer_wrong = get_with(&api, "/v1/seasons", &[("authorization", "Bearer nope")]).await;
  assert_eq!(bearer_wrong.status(), 401);

  let accepted = get_with(&api, "/v1/seasons", &[("x-api-key", &key)]).await;
  assert_eq!(accepted.status(), 200);
  let bearer = format!("Bearer {key}");
  let accepted = get_with(&api, "/v1/seasons", &[("authorization", &bearer)]).await;
  assert_eq!(accepted.status(), 200);
  let drop_in = get_with(
    &api,
    "/openf1/v1/sessions?session_key=9472",
    &[("x-api-key", &key)],
  )
  .await;
  assert_eq!(drop_in.status(), 200);
  assert_eq!(api.get("/openf1/v1/sessions").await.status(), 401);

  for public in ["/healthz", "/readyz", "/openapi.json", "/docs", "/viewer"] {
    assert_eq!(api.get(public).await.status(), 200, "{public}");
  }
  // The document offers both ways of sending the key, on every operation, and Swagger UI shows it.
  let document = api.get_json("/openapi.json").await;
  let schemes = &document["components"]["securitySchemes"];
  assert_eq!(schemes["ApiKey"]["name"], "X-API-Key");
  assert_eq!(schemes["BearerKey"]["scheme"], "bearer");
  assert_eq!(document["security"].as_array().map(Vec::len), Some(2));
  let paths = document["paths"].as_object().expect("paths");
  for (path, item) in paths {
    for (method, operation) in item.as_object().expect("path item") {
      assert!(
        operation["responses"]["401"].is_object(),
        "{method} {path} documents 401"
      );
      assert!(operation["responses"]["429"].is_null(), "limits are off");
    }
  }
  let docs = api.get("/docs").await.text().await.expect("html");
  assert!(
    docs.contains("securitySchemes"),
    "Swagger UI offers the key"
  );
}

#[tokio::test]
async fn keys_carry_their_own_budgets() {
  let small = uuid::Uuid::new_v4().to_string();
  let large = uuid::Uuid::new_v4().to_string();
  let file = std::env::temp_dir().join(format!("{}.keys", f1_backend::unique_name("access")));
  std::fs::write(
    &file,
    format!(
      "# name and budgets per key\n{} small cheap_burst=2\n{} large\n",
      hash_key(&small),
      hash_key(&large)
    ),
  )
  .expect("write the keys file");
  let path = file.to_string_lossy().into_owned();
  let api = start(&[
    ("API_KEYS_FILE", &path),
    ("API_RATE_LIMITS_ENABLED", "true"),
    ("API_RATE_LIMIT_CHEAP_PER_MINUTE", "1"),
    ("API_RATE_LIMIT_CHEAP_BURST", "50"),
  ])
  .await;
  std::fs::remove_file(&file).ok();
  for _ in 0..2 {
    let admitted = get_with(&api, "/v1/seasons", &[("x-api-key", &small)]).await;
    assert_eq!(admitted.status(), 200);
    assert_eq!(header(&admitted, "ratelimit-limit"), "2");
  }
  assert_too_many_requests(get_with(&api, "/v1/seasons", &[("x-api-key", &small)]).await).await;
  // Same address, another key: its own budget.
  let other = get_with(&api, "/v1/seasons", &[("x-api-key", &large)]).await;
  assert_eq!(other.status(), 200);
  assert_eq!(header(&other, "ratelimit-limit"), "50");
  assert_eq!(header(&other, "ratelimit-remaining"), "49");
  // Limits on, the document says so.
  let document = api.get_json("/openapi.json").await;
  let seasons = &document["paths"]["/v1/seasons"]["get"]["responses"];
  assert!(seasons["429"]["headers"]["RETRY-AFTER"].is_object());
}

#[tokio::test]
async fn api_keys_never_appear_in_the_logs() {
  let (logs, _guard) = capture_logs_at(tracing::Level::DEBUG);
  let key = format!("secret-{}", uuid::Uuid::new_v4().simple());
  let wrong = format!("wrong-{}", uuid::Uuid::new_v4().simple());
  let api = start(&[
    ("API_KEY_HASHES", &hash_key(&key)),
    ("API_RATE_LIMITS_ENABLED", "true"),
    ("API_RATE_LIMIT_CHEAP_PER_MINUTE", "1"),
    ("API_RATE_LIMIT_CHEAP_BURST", "2"),
  ])
  .await;
  let bearer = format!("Bearer {key}");
  let wrong_bearer = format!("Bearer {wrong}");
  let attempts = [
    ("x-api-key", key.as_str(), 200),
    ("authorization", bearer.as_str(), 200),
    ("x-api-key", wrong.as_str(), 401),
    ("authorization", wrong_bearer.as_str(), 401),
    ("x-api-key", key.as_str(), 429),
  ];
  for (name, value, status) in attempts {
    // A callsite first reached on another test's thread while this capture was being installed can keep a stale
    // "never" interest (tracing-core caches interest per callsite): recompute it before each request.
    tracing::callsite::rebuild_interest_cache();
    let path = format!("/v1/seasons?year={value}");
    let response = get_with(&api, "/v1/seasons", &[(name, value)]).await;
    assert_eq!(response.status(), status, "{name}");
    // Even a key mistakenly sent in the query string (a 400: not a parameter of this operation) is not logged.
    get_with(&api, &path, &[]).await;
  }
  let text = logs.text();
  assert!(
    text.contains("request finished"),
    "logs were captured:\n{text}"
  );
  assert!(text.contains("over budget"), "the refusal was logged");
  assert!(!text.contains(&key), "the key was logged:\n{text}");
  assert!(!text.contains(&wrong), "the wrong key was logged:\n{text}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
  let limits = [
    ("API_RATE_LIMITS_ENABLED", "true"),
    ("API_RATE_LIMIT_CHEAP_PER_MINUTE", "1"),
    ("API_RATE_LIMIT_CHEAP_BURST", "2"),
  ];
  let with_proxies = |proxies: &'static str| {
    let mut pairs = limits.to_vec();
    pairs.push(("API_TRUSTED_PROXIES", proxies));
    pairs
  };
  let forwarded_for = |client: &'static str| [("x-forwarded-for", client)];

  let behind_proxy = start(&with_proxies("127.0.0.1, ::1")).await;
  for _ in 0..2 {
    let response = get_with(&behind_proxy, "/v1/seasons", &forwarded_for("192.0.2.1")).await;
    assert_eq!(response.status(), 200);
  }
  assert_too_many_requests(
    get_with(&behind_proxy, "/v1/seasons", &forwarded_for("192.0.2.1")).await,
  )
  .await;
  // A client cannot escape by prepending a forged address: the proxy's entry is the right-most.
  assert_too_many_requests(
    get_with(
      &behind_proxy,
      "/v1/seasons",
      &forwarded_for("203.0.113.9, 192.0.2.1"),
    )
    .await,
  )
  .await;
  let other = get_with(&behind_proxy, "/v1/seasons", &forwarded_for("192.0.2.2")).await;
  assert_eq!(other.status(), 200, "another client behind the proxy");

  // The header of a peer that is not a trusted proxy is ignored: both "clients" are the peer, one budget.
  let direct = start(&with_proxies("10.0.0.0/8")).await;
  for client in ["192.0.2.1", "192.0.2.2"] {
    let response = get_with(&direct, "/v1/seasons", &forwarded_for(client)).await;
    assert_eq!(response.status(), 200);
  }
  assert_too_many_requests(get_with(&direct, "/v1/seasons", &forwarded_for("192.0.2.3")).await)
    .await;
}

#[tokio::test]
async fn the_health_probes_are_also_served_on_the_operations_address() {
  let api = start(&[]).await;
  let operations = api.metrics_url.trim_end_matches("/metrics").to_owned();
  for probe in ["/healthz", "/readyz"] {
    let response = api
      .client
      .get(format!("{operations}{probe}"))
      .send()
      .await
      .expect("probe");
    assert_eq!(response.status(), 200, "{probe}");
  }
  let data = api
    .client
    .get(format!("{operations}/v1/seasons"))
    .send()
    .await
    .expect("request");
  assert_eq!(data.status(), 404, "the operations address serves no data");
}
