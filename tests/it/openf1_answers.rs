//! How the Open F1 drop-in delivers answers: small ones cached in their scope with an `ETag` (and dropped by the
//! worker's invalidation), answers spanning sessions not cached, big ones streamed in chunks and still identical to
//! upstream's; and what happens to raw `<`, `>` and `"` in a request target.

use api::{Secret, Settings};
use chrono::{TimeDelta, TimeZone, Utc};
use f1_backend::{Engine, redis_url, unique_name};
use sea_orm::{EntityTrait, IntoActiveModel};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::openf1_support::{Compat, assert_same_answer};

async fn redis_connection() -> redis::aio::MultiplexedConnection {
  redis::Client::open(redis_url())
    .expect("redis url")
    .get_multiplexed_async_connection()
    .await
    .expect("connect to Redis")
}

async fn redis_keys(prefix: &str) -> Vec<String> {
  let mut connection = redis_connection().await;
  let mut keys: Vec<String> = redis::cmd("KEYS")
    .arg(format!("{prefix}:*"))
    .query_async(&mut connection)
    .await
    .expect("KEYS");
  keys.sort();
  keys
}

#[tokio::test]
async fn a_session_answer_is_cached_in_its_scope_tagged_and_dropped_when_the_worker_invalidates_the_session()
 {
  let prefix = unique_name("openf1");
  let compat = Compat::start_with(Engine::MariaDb, |settings: &mut Settings| {
    settings.shared.redis_url = Some(Secret::new(redis_url()));
    settings.shared.cache_prefix.clone_from(&prefix);
  })
  .await;
  let query = "session_key=9472&driver_number=1&lap_number%3C%3D3";
  let first = compat.ours("laps", query, false).await;
  assert_eq!(first.status, 200);
  assert_eq!(first.headers["x-cache"], "miss");
  let entity_tag = first.headers["etag"].to_str().expect("an ETag").to_owned();
  // The same query written differently is the same entry.
  let second = compat
    .ours(
      "laps",
      "lap_number%3C=3&driver_number=1&session_key=9472&driver_number=1",
      false,
    )
    .await;
  assert_eq!(second.headers["x-cache"], "hit");
  assert_eq!(second.headers["etag"], entity_tag.as_str());
  let keys = redis_keys(&prefix).await;
  assert!(
    keys
      .iter()
      .any(|key| key.starts_with(&format!("{prefix}:{{session:9472}}:openf1:laps:json:"))),
    "{keys:?}"
  );
  let conditional = compat
    .api
    .client
    .get(format!("{}/openf1/v1/laps?{query}", compat.api.base_url))
    .header("if-none-match", &entity_tag)
    .send()
    .await
    .expect("send");
  assert_eq!(conditional.status(), 304);

  // Upstream corrects lap 2; the worker commits it through its one commit path (change log, invalidation of
  // session 9472's scope).
  let database = sea_orm::Database::connect(compat.api.database_url())
    .await
    .expect("connect");
  let corrected = [
    json!({"meeting_key": 1229, "session_key": 9472, "driver_number": 1, "lap_number": 2,
    "lap_duration": 95.001, "is_pit_out_lap": false}),
  ];
  let metrics = worker::Metrics::new().expect("metrics");
  let invalidator = worker::CacheInvalidator::new(Some(&redis_url()), &prefix, metrics.clone())
    .expect("a Redis URL");
  let committed = worker::Committer::new(database, invalidator, metrics)
    .commit(&[worker::Batch {
      endpoint: entity::Endpoint::Laps,
      rows: &corrected,
      year: Some(2024),
    }])
    .await
    .expect("commit the correction");
  assert_eq!(committed.stored.written, 1);
  let third = compat.ours("laps", query, false).await;
  assert_eq!(third.headers["x-cache"], "miss");
  let rows: Vec<Value> = serde_json::from_str(&third.body).expect("JSON");
  assert_eq!(rows[1]["lap_duration"], 95.001);
  assert_ne!(third.headers["etag"], entity_tag.as_str());
}

#[tokio::test]
async fn calendar_answers_are_cached_in_the_calendar_scope_and_answers_spanning_sessions_are_not_cached()
 {
  let prefix = unique_name("openf1");
  let compat = Compat::start_with(Engine::Sqlite, |settings: &mut Settings| {
    settings.shared.redis_url = Some(Secret::new(redis_url()));
    settings.shared.cache_prefix.clone_from(&prefix);
  })
  .await;
  let sessions = compat
    .ours("sessions", "year=2024&session_name=Race", false)
    .await;
  assert_eq!(sessions.headers["x-cache"], "miss");
  assert_eq!(sessions.headers["cache-control"], "public, max-age=60");
  let across = compat
    .ours("laps", "driver_number=1&lap_number=10", false)
    .await;
  assert_eq!(across.status, 200);
  assert!(across.headers.get("x-cache").is_none(), "not cached");
  assert!(
    across.headers.get("etag").is_some(),
    "complete answers are tagged"
  );
  let again = compat
    .ours("laps", "driver_number=1&lap_number=10", false)
    .await;
  assert!(again.headers.get("x-cache").is_none());
  let keys = redis_keys(&prefix).await;
  assert!(
    keys
      .iter()
      .any(|key| key.starts_with(&format!("{prefix}:{{calendar}}:openf1:sessions:")))
  );
  assert!(
    !keys.iter().any(|key| key.contains("openf1:laps")),
    "{keys:?}"
  );
}

/// `API_OPENF1_CACHE_MAX_BYTES` of the streaming test: answers above it stream.
const STREAMING_THRESHOLD: usize = 64 * 1024;

/// SYNTHETIC telemetry: `cars` cars × `samples` samples of session 9472, ~3.7 Hz from the race start.
pub(crate) fn synthetic_car_data(cars: i64, samples: i64) -> Vec<Value> {
  let start = Utc
    .with_ymd_and_hms(2024, 3, 2, 15, 3, 0)
    .single()
    .expect("a valid instant");
  let mut rows = Vec::new();
  for car in 0..cars {
    for sample in 0..samples {
      let date = start + TimeDelta::milliseconds(sample * 270 + car * 13);
      rows.push(json!({
        "date": api::openf1::format_timestamp(date), "session_key": 9472, "meeting_key": 1229,
        "driver_number": 60 + car, "rpm": 9000 + (sample * 31) % 3000, "speed": (sample * 7) % 340,
        "n_gear": sample % 9, "throttle": (sample * 3) % 101, "brake": if sample % 11 == 0 { 100 } else { 0 },
        "drs": if sample % 5 == 0 { Value::Null } else { json!(8) },
      }));
    }
  }
  rows
}

/// Stores `rows` (Open F1 `car_data` rows) straight into the api's database, in batches of 1,000.
pub(crate) async fn insert_car_data(compat: &Compat, rows: &[Value]) {
  let database = sea_orm::Database::connect(compat.api.database_url())
    .await
    .expect("connect");
  for batch in rows.chunks(1_000) {
    let models = batch.iter().map(|row| {
      worker::records::car_sample(row)
        .expect("a valid row")
        .into_active_model()
    });
    entity::car_data::Entity::insert_many(models)
      .exec(&database)
      .await
      .expect("insert synthetic telemetry");
  }
}

#[tokio::test]
async fn a_big_answer_streams_in_chunks_uncached_and_still_answers_as_upstream() {
  let prefix = unique_name("openf1");
  let compat = Compat::start_with(Engine::MariaDb, |settings: &mut Settings| {
    settings.shared.redis_url = Some(Secret::new(redis_url()));
    settings.shared.cache_prefix.clone_from(&prefix);
    settings.openf1_cache_max_bytes = STREAMING_THRESHOLD;
  })
  .await;
  let rows = synthetic_car_data(4, 2_000);
  insert_car_data(&compat, &rows).await;
  compat.upstream.upsert_rows("car_data", rows);
  for query in ["session_key=9472", "session_key=9472&csv=true"] {
    let upstream = compat.upstream("car_data", query).await;
    let ours = compat.ours("car_data", query, false).await;
    assert!(
      ours.body.len() > 8 * STREAMING_THRESHOLD,
      "{} bytes",
      ours.body.len()
    );
    assert!(
      ours.headers.get("content-length").is_none(),
      "streamed, not buffered"
    );
    assert_eq!(ours.headers["transfer-encoding"], "chunked");
    assert!(ours.headers.get("etag").is_none());
    assert!(ours.headers.get("x-cache").is_none());
    assert_same_answer("car_data", query, &upstream, &ours);
  }
  let keys = redis_keys(&prefix).await;
  assert!(
    !keys.iter().any(|key| key.contains("openf1:car_data")),
    "{keys:?}"
  );
}

/// Sends a raw HTTP/1.1 request line and returns the whole answer.
async fn raw_request(base_url: &str, target: &str) -> String {
  let address = base_url.trim_start_matches("http://");
  let mut stream = tokio::net::TcpStream::connect(address)
    .await
    .expect("connect");
  let request = format!("GET {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
  stream.write_all(request.as_bytes()).await.expect("write");
  let mut answer = Vec::new();
  stream.read_to_end(&mut answer).await.expect("read");
  String::from_utf8_lossy(&answer).into_owned()
}

/// Raw `<`, `>` and `"` in a query are refused by the HTTP parser (the `http` crate's URI grammar, used by hyper)
/// before any handler runs: `400 Bad Request` with an empty body, which no option of hyper 1 changes. The README
/// says to percent-encode them (`curl -G --data-urlencode`); this test notices if a new hyper starts accepting them.
#[tokio::test]
async fn raw_angle_brackets_and_quotes_are_refused_by_the_http_parser_before_any_handler() {
  let compat = Compat::start(Engine::Sqlite).await;
  for target in [
    "/openf1/v1/laps?session_key=9472&lap_number>=50",
    "/openf1/v1/position?session_key=9472&position<=3",
    "/openf1/v1/race_control?message=\"X\"",
  ] {
    let answer = raw_request(&compat.api.base_url, target).await;
    assert!(
      answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
      "{target}: {answer}"
    );
    assert!(
      answer.ends_with("\r\n\r\n"),
      "{target}: an empty body: {answer}"
    );
  }
  let encoded = raw_request(
    &compat.api.base_url,
    "/openf1/v1/laps?session_key=9472&driver_number=1&lap_number%3E%3D50",
  )
  .await;
  assert!(encoded.starts_with("HTTP/1.1 200 OK\r\n"), "{encoded}");
}
