//! Every native route (enumerated from the served OpenAPI document, so a new route is covered without editing this
//! test) refuses a query parameter it does not document: 400 problem+json naming it and listing the accepted ones;
//! and refuses a parameter documented with one value given more than once, instead of keeping the first.

use f1_backend::Engine;
use serde_json::Value;

use crate::api_support::TestApi;

/// A path of the document with its parameters filled in with values that exist in the seeded data.
fn concrete(template: &str) -> String {
  template
    .replace("{session_key}", "9472")
    .replace("{year}", "2024")
    .replace("{chart}", "lap-times")
}

#[tokio::test]
async fn every_native_route_refuses_an_unknown_query_parameter_naming_it_and_the_accepted_ones() {
  let api = TestApi::seeded(Engine::Sqlite, &["9472_bahrain_2024_race"]).await;
  let document = api.get_json("/openapi.json").await;
  let paths = document["paths"].as_object().expect("paths");
  let mut checked = 0;
  for (template, item) in paths {
    if template.starts_with(api::openf1::OPENF1_PREFIX) {
      continue;
    }
    let operation = &item["get"];
    assert!(operation.is_object(), "{template}: native routes are GET");
    let accepted: Vec<&str> = operation["parameters"]
      .as_array()
      .into_iter()
      .flatten()
      .filter(|parameter| parameter["in"] == "query")
      .filter_map(|parameter| parameter["name"].as_str())
      .collect();
    let path = concrete(template);

    let answer = api.get(&format!("{path}?not_a_parameter=1")).await;
    assert_eq!(answer.status(), 400, "{template}");
    assert_eq!(
      answer.headers()["content-type"],
      "application/problem+json",
      "{template}"
    );
    let problem: Value = answer.json().await.expect("a problem document");
    let detail = problem["detail"].as_str().expect("a detail");
    assert!(detail.contains("`not_a_parameter`"), "{template}: {detail}");
    for name in &accepted {
      assert!(
        detail.contains(&format!("`{name}`")),
        "{template}: {detail} should list {name}"
      );
    }
    if accepted.is_empty() {
      assert!(
        detail.contains("takes no query parameters"),
        "{template}: {detail}"
      );
    }
    assert_eq!(problem["instance"], path.as_str());

    let single_valued = operation["parameters"]
      .as_array()
      .into_iter()
      .flatten()
      .filter(|parameter| parameter["in"] == "query" && parameter["schema"]["type"] != "array")
      .filter_map(|parameter| parameter["name"].as_str());
    for name in single_valued {
      let answer = api.get(&format!("{path}?{name}=2&{name}=3")).await;
      assert_eq!(answer.status(), 400, "{template}?{name}=2&{name}=3");
      let problem: Value = answer.json().await.expect("a problem document");
      assert_eq!(
        problem["detail"],
        format!("Query parameter `{name}` is given more than once; it takes one value."),
        "{template}"
      );
    }

    // The documented parameters themselves are accepted (whatever the answer, it is not this refusal).
    let documented = accepted
      .iter()
      .map(|name| {
        format!(
          "{name}={}",
          if *name == "drivers" || *name == "driver_number" {
            "1"
          } else {
            "2"
          }
        )
      })
      .collect::<Vec<_>>()
      .join("&");
    if !documented.is_empty() {
      let answer = api.get(&format!("{path}?{documented}")).await;
      let status = answer.status();
      let streaming = answer
        .headers()
        .get("content-type")
        .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"));
      if streaming {
        // An event stream that opened took its parameters; its body lasts as long as the stream, so it is not read.
        assert_eq!(status, 200, "{template}?{documented}");
      } else {
        let body = answer.text().await.expect("body");
        assert!(
          !body.contains("Unknown query parameter"),
          "{template}?{documented}: {status} {body}"
        );
      }
    }
    checked += 1;
  }
  assert!(checked >= 20, "{checked} native routes");
}

#[tokio::test]
async fn a_misspelt_filter_is_refused_instead_of_silently_answering_everything() {
  let api = TestApi::seeded(Engine::Sqlite, &["9472_bahrain_2024_race"]).await;
  let answer = api
    .get("/v1/sessions/9472/laps?lap_number=5&driver=1")
    .await;
  assert_eq!(answer.status(), 400);
  let problem: Value = answer.json().await.expect("a problem document");
  assert_eq!(
    problem["detail"],
    "Unknown query parameters `lap_number`, `driver`; this operation accepts `date_from`, `date_to`, \
     `driver_number`, `lap_max`, `lap_min`, `limit`, `offset`."
  );
  let percent_encoded_name = api.get("/v1/meetings?y%65ar=2024").await;
  assert_eq!(
    percent_encoded_name.status(),
    200,
    "names are compared decoded"
  );
}

#[tokio::test]
async fn a_repeated_single_value_parameter_is_refused_and_a_repeated_array_is_not() {
  let api = TestApi::seeded(Engine::Sqlite, &["9472_bahrain_2024_race"]).await;
  // The request schemathesis found accepted (it answered 200 with the first `limit`).
  let answer = api
    .get("/v1/sessions/9472/race_control?limit=3&limit=M%F2%BE&limit=&driver_number=1")
    .await;
  assert_eq!(answer.status(), 400);
  let problem: Value = answer.json().await.expect("a problem document");
  assert_eq!(
    problem["detail"],
    "Query parameter `limit` is given more than once; it takes one value."
  );
  let answer = api
    .get("/v1/sessions/9472/laps?driver_number=1&driver_number=44&limit=5")
    .await;
  assert_eq!(answer.status(), 200);
  let laps: Value = answer.json().await.expect("laps");
  assert_eq!(laps.as_array().map(Vec::len), Some(5));
  // The Open F1 surface ORs repeated equalities as upstream does; it is not checked here.
  let answer = api
    .get("/openf1/v1/laps?session_key=9472&lap_number=1&lap_number=2&driver_number=1")
    .await;
  assert_eq!(answer.status(), 200);
}
