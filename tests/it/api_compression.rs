//! Negotiated compression: a client without `Accept-Encoding` gets the identity body; gzip, brotli and zstd each
//! get their own strong `ETag` and answer `If-None-Match` with 304; every compressible response says
//! `Vary: Accept-Encoding`; small bodies stay identity; streamed Open F1 answers are compressed on the fly; cached
//! figures and the viewer's assets are served compressed.

use std::collections::HashSet;
use std::io::Read;

use api::Settings;
use f1_backend::Engine;
use reqwest::header::HeaderMap;

use crate::api_support::TestApi;
use crate::openf1_answers::{insert_car_data, synthetic_car_data};
use crate::openf1_support::Compat;

/// The codings the api produces, with their `Content-Encoding` token.
const CODINGS: [&str; 3] = ["gzip", "br", "zstd"];

/// A response read as raw bytes (the test client does not decompress).
struct Raw {
  status: u16,
  headers: HeaderMap,
  body: Vec<u8>,
}

async fn fetch(
  api: &TestApi,
  path: &str,
  accept: Option<&str>,
  if_none_match: Option<&str>,
) -> Raw {
  let mut request = api.client.get(format!("{}{path}", api.base_url));
  if let Some(accept) = accept {
    request = request.header("accept-encoding", accept);
  }
  if let Some(tag) = if_none_match {
    request = request.header("if-none-match", tag);
  }
  let response = request.send().await.expect("request");
  Raw {
    status: response.status().as_u16(),
    headers: response.headers().clone(),
    body: response.bytes().await.expect("body").to_vec(),
  }
}

fn decode(coding: &str, body: &[u8]) -> Vec<u8> {
  let mut decoded = Vec::new();
  match coding {
    "gzip" => {
      flate2::read::GzDecoder::new(body)
        .read_to_end(&mut decoded)
        .expect("gunzip");
    }
    "br" => {
      brotli::Decompressor::new(body, 4096)
        .read_to_end(&mut decoded)
        .expect("brotli");
    }
    "zstd" => decoded = zstd::stream::decode_all(body).expect("zstd"),
    other => panic!("unknown coding {other}"),
  }
  decoded
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
  headers.get(name).and_then(|value| value.to_str().ok())
}

fn varies_by_encoding(headers: &HeaderMap) -> bool {
  headers
    .get_all("vary")
    .iter()
    .filter_map(|value| value.to_str().ok())
    .flat_map(|value| value.split(','))
    .any(|value| value.trim().eq_ignore_ascii_case("accept-encoding"))
}

/// Checks every representation of `path`: identity without `Accept-Encoding`, each coding decoding to the identity
/// body with its own tag, and a 304 for each tag sent with its coding (only with its coding).
async fn assert_representations(api: &TestApi, path: &str) {
  let plain = fetch(api, path, None, None).await;
  assert_eq!(plain.status, 200, "{path}");
  assert!(header(&plain.headers, "content-encoding").is_none());
  assert!(
    varies_by_encoding(&plain.headers),
    "{path}: {:?}",
    plain.headers
  );
  let plain_tag = header(&plain.headers, "etag").expect("an ETag").to_owned();
  let mut tags = HashSet::from([plain_tag.clone()]);
  for coding in CODINGS {
    let coded = fetch(api, path, Some(coding), None).await;
    assert_eq!(coded.status, 200);
    assert_eq!(
      header(&coded.headers, "content-encoding"),
      Some(coding),
      "{path}"
    );
    assert!(varies_by_encoding(&coded.headers));
    assert_eq!(decode(coding, &coded.body), plain.body, "{path} {coding}");
    assert!(
      coded.body.len() < plain.body.len(),
      "{path} {coding}: {} of {} bytes",
      coded.body.len(),
      plain.body.len()
    );
    let tag = header(&coded.headers, "etag").expect("an ETag").to_owned();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "strong: {tag}");
    assert!(tags.insert(tag.clone()), "{coding} has its own tag");
    let revalidated = fetch(api, path, Some(coding), Some(&tag)).await;
    assert_eq!(revalidated.status, 304, "{path} {coding}");
    assert_eq!(header(&revalidated.headers, "etag"), Some(tag.as_str()));
    assert!(varies_by_encoding(&revalidated.headers));
    assert!(revalidated.body.is_empty());
    let other_representation = fetch(api, path, Some(coding), Some(&plain_tag)).await;
    assert_eq!(
      other_representation.status, 200,
      "the identity tag does not validate the {coding} representation"
    );
  }
  let revalidated = fetch(api, path, None, Some(&plain_tag)).await;
  assert_eq!(revalidated.status, 304);
  assert_eq!(
    header(&revalidated.headers, "etag"),
    Some(plain_tag.as_str())
  );
}

#[tokio::test]
async fn every_coding_of_a_json_collection_has_its_own_etag_and_answers_304() {
  let api = TestApi::seeded(Engine::Sqlite, &["9472_bahrain_2024_race"]).await;
  assert_representations(&api, "/v1/sessions/9472/laps?limit=1000").await;
}

#[tokio::test]
async fn a_cached_figure_is_served_in_every_coding_on_a_miss_and_on_a_hit() {
  let api = TestApi::seeded(Engine::Sqlite, &["9472_bahrain_2024_race"]).await;
  let path = "/v1/sessions/9472/charts/lap-times?drivers=1,44";
  let miss = fetch(&api, path, Some("gzip"), None).await;
  assert_eq!(header(&miss.headers, "x-cache"), Some("miss"));
  assert_eq!(header(&miss.headers, "content-encoding"), Some("gzip"));
  let hit = fetch(&api, path, Some("gzip"), None).await;
  assert_eq!(header(&hit.headers, "x-cache"), Some("hit"));
  assert_eq!(hit.headers.get("etag"), miss.headers.get("etag"));
  assert_eq!(decode("gzip", &hit.body), decode("gzip", &miss.body));
  assert_representations(&api, path).await;
}

#[tokio::test]
async fn the_viewer_assets_are_served_precompressed_with_a_tag_per_coding() {
  let api = TestApi::seeded(Engine::Sqlite, &[]).await;
  for path in ["/viewer/plotly.min.js", "/viewer/sample-figure.json"] {
    assert_representations(&api, path).await;
  }
}

#[tokio::test]
async fn a_small_body_stays_identity_and_an_unwanted_coding_is_never_sent() {
  let api = TestApi::seeded(Engine::Sqlite, &["9472_bahrain_2024_race"]).await;
  let small = fetch(
    &api,
    "/v1/sessions/9472/laps?limit=1",
    Some("gzip, br, zstd"),
    None,
  )
  .await;
  assert_eq!(small.status, 200);
  assert!(small.body.len() < api::MIN_COMPRESSED_BYTES);
  assert!(header(&small.headers, "content-encoding").is_none());
  assert!(
    varies_by_encoding(&small.headers),
    "the URL's bigger answers vary"
  );
  let problem = fetch(&api, "/v1/sessions/1/laps", Some("gzip"), None).await;
  assert_eq!(problem.status, 404);
  assert!(header(&problem.headers, "content-encoding").is_none());
  let refused = fetch(
    &api,
    "/v1/sessions/9472/laps?limit=1000",
    Some("gzip;q=0, br;q=0, zstd;q=0, deflate"),
    None,
  )
  .await;
  assert!(header(&refused.headers, "content-encoding").is_none());
  let preferred = fetch(
    &api,
    "/v1/sessions/9472/laps?limit=1000",
    Some("gzip;q=1, br;q=0.5"),
    None,
  )
  .await;
  assert_eq!(header(&preferred.headers, "content-encoding"), Some("gzip"));
  let metrics = reqwest::get(&api.metrics_url).await.expect("metrics");
  assert!(metrics.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn a_streamed_open_f1_answer_is_compressed_on_the_fly() {
  let compat = Compat::start_with(Engine::MariaDb, |settings: &mut Settings| {
    settings.openf1_cache_max_bytes = 64 * 1024;
  })
  .await;
  let rows = synthetic_car_data(4, 2_000);
  insert_car_data(&compat, &rows).await;
  for query in ["session_key=9472", "session_key=9472&csv=true"] {
    let path = format!("/openf1/v1/car_data?{query}");
    let plain = fetch(&compat.api, &path, None, None).await;
    assert_eq!(plain.status, 200);
    assert!(plain.headers.get("content-length").is_none(), "streamed");
    for coding in CODINGS {
      let coded = fetch(&compat.api, &path, Some(coding), None).await;
      assert_eq!(coded.status, 200);
      assert_eq!(header(&coded.headers, "content-encoding"), Some(coding));
      assert_eq!(header(&coded.headers, "transfer-encoding"), Some("chunked"));
      assert!(
        coded.headers.get("etag").is_none(),
        "streamed answers are not tagged"
      );
      assert!(varies_by_encoding(&coded.headers));
      assert_eq!(decode(coding, &coded.body), plain.body, "{query} {coding}");
      assert!(coded.body.len() * 5 <= plain.body.len());
    }
  }
}
