//! Native routes reject query parameters they do not understand. The accepted names have one home: each
//! operation's documented query parameters in the OpenAPI document (so they come from the handlers' signatures, and
//! a new route or parameter is covered without a list to maintain). A request naming anything else is answered
//! `400` problem+json naming it and listing the accepted ones, before any handler runs. So is a request repeating a
//! parameter documented with one value (`limit=3&limit=5`): the extractor would keep the first and silently drop the
//! rest, the same wrong-data-without-an-error as an ignored filter. Array parameters (`driver_number=1&driver_number=44`)
//! repeat by design. Operations under [`crate::openf1::OPENF1_PREFIX`] take Open F1 filters on any field, repeated
//! equalities OR-ed as upstream does, and are not checked here.

use std::collections::BTreeSet;

use openf1_query::query_pairs;
use poem::http::{Method, StatusCode};

use crate::problem::Problem;

/// One segment of a documented path template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
  Literal(String),
  Parameter,
}

/// One documented query parameter.
#[derive(Clone, Debug)]
struct Parameter {
  name: String,
  /// Documented as an array, so it may be repeated.
  repeatable: bool,
}

/// One documented operation: its path template, method and accepted query parameters.
#[derive(Clone, Debug)]
struct Operation {
  template: String,
  segments: Vec<Segment>,
  method: Method,
  accepted: Vec<Parameter>,
}

impl Operation {
  fn parameter(&self, name: &str) -> Option<&Parameter> {
    self
      .accepted
      .iter()
      .find(|parameter| parameter.name == name)
  }
}

/// The accepted query parameters of every checked operation.
#[derive(Clone, Debug, Default)]
pub struct AcceptedParameters {
  operations: Vec<Operation>,
}

/// A request naming query parameters its operation does not document, or repeating one it documents with one value.
#[derive(Clone, Debug)]
pub struct RejectedParameters {
  /// The operation's documented path template (used as the route label).
  pub template: String,
  /// The problem to answer.
  pub problem: Problem,
}

fn segments(path: &str) -> Vec<&str> {
  path.trim_matches('/').split('/').collect()
}

impl AcceptedParameters {
  /// Reads every operation of `document` (an OpenAPI 3 document) whose path does not start with `skip_prefix`.
  #[must_use]
  pub fn from_document(document: &serde_json::Value, skip_prefix: &str) -> Self {
    let mut operations = Vec::new();
    let Some(paths) = document["paths"].as_object() else {
      return Self::default();
    };
    for (template, item) in paths {
      if template.starts_with(skip_prefix) {
        continue;
      }
      let Some(methods) = item.as_object() else {
        continue;
      };
      for (method, operation) in methods {
        let Ok(method) = method.to_uppercase().parse::<Method>() else {
          continue;
        };
        let accepted = operation["parameters"]
          .as_array()
          .into_iter()
          .flatten()
          .filter(|parameter| parameter["in"] == "query")
          .filter_map(|parameter| {
            Some(Parameter {
              name: parameter["name"].as_str()?.to_owned(),
              repeatable: parameter["schema"]["type"] == "array",
            })
          })
          .collect();
        operations.push(Operation {
          template: template.clone(),
          segments: segments(template)
            .into_iter()
            .map(|segment| {
              if segment.starts_with('{') && segment.ends_with('}') {
                Segment::Parameter
              } else {
                Segment::Literal(segment.to_owned())
              }
            })
            .collect(),
          method,
          accepted,
        });
      }
    }
    Self { operations }
  }

  /// The operation serving `method` on `path`: the matching template with the most literal segments (so
  /// `/v1/sessions/latest` wins over `/v1/sessions/{session_key}`).
  fn operation(&self, method: &Method, path: &str) -> Option<&Operation> {
    let method = if method == Method::HEAD {
      &Method::GET
    } else {
      method
    };
    let requested = segments(path);
    self
      .operations
      .iter()
      .filter(|operation| {
        operation.method == *method && operation.segments.len() == requested.len()
      })
      .filter(|operation| {
        operation
          .segments
          .iter()
          .zip(&requested)
          .all(|(segment, actual)| match segment {
            Segment::Literal(literal) => literal == actual,
            Segment::Parameter => !actual.is_empty(),
          })
      })
      .max_by_key(|operation| {
        operation
          .segments
          .iter()
          .filter(|segment| matches!(segment, Segment::Literal(_)))
          .count()
      })
  }

  /// Checks the query parameter names of a request.
  ///
  /// # Errors
  /// [`RejectedParameters`] when the request names a query parameter its operation does not document, or repeats
  /// one documented with a single value.
  pub fn check(
    &self,
    method: &Method,
    path: &str,
    query: Option<&str>,
  ) -> Result<(), Box<RejectedParameters>> {
    let Some(query) = query.filter(|query| !query.is_empty()) else {
      return Ok(());
    };
    let Some(operation) = self.operation(method, path) else {
      return Ok(());
    };
    let mut unknown: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut repeated: Vec<String> = Vec::new();
    for (name, _) in query_pairs(query) {
      match operation.parameter(&name) {
        None => {
          if !unknown.contains(&name) {
            unknown.push(name);
          }
        }
        Some(parameter) if !parameter.repeatable => {
          if !seen.contains(&name) {
            seen.push(name);
          } else if !repeated.contains(&name) {
            repeated.push(name);
          }
        }
        Some(_) => {}
      }
    }
    let detail = if !unknown.is_empty() {
      let subject = if unknown.len() == 1 {
        format!("Unknown query parameter {}", quoted(&unknown))
      } else {
        format!("Unknown query parameters {}", quoted(&unknown))
      };
      let accepted: BTreeSet<&String> = operation
        .accepted
        .iter()
        .map(|parameter| &parameter.name)
        .collect();
      if accepted.is_empty() {
        format!("{subject}; this operation takes no query parameters.")
      } else {
        format!("{subject}; this operation accepts {}.", quoted(accepted))
      }
    } else if !repeated.is_empty() {
      if repeated.len() == 1 {
        format!(
          "Query parameter {} is given more than once; it takes one value.",
          quoted(&repeated)
        )
      } else {
        format!(
          "Query parameters {} are given more than once; each takes one value.",
          quoted(&repeated)
        )
      }
    } else {
      return Ok(());
    };
    Err(Box::new(RejectedParameters {
      template: operation.template.clone(),
      problem: Problem::new(StatusCode::BAD_REQUEST, detail),
    }))
  }
}

/// Names in backticks, comma-separated.
fn quoted<'name>(names: impl IntoIterator<Item = &'name String>) -> String {
  names
    .into_iter()
    .map(|name| format!("`{name}`"))
    .collect::<Vec<_>>()
    .join(", ")
}

#[cfg(test)]
mod tests {
  use super::*;

  fn accepted() -> AcceptedParameters {
    let document = serde_json::json!({
      "paths": {
        "/v1/sessions/{session_key}/laps": {"get": {"parameters": [
          {"in": "path", "name": "session_key"},
          {"in": "query", "name": "driver_number", "schema": {"type": "array", "items": {"type": "integer"}}},
          {"in": "query", "name": "lap_min", "schema": {"type": "integer"}},
          {"in": "query", "name": "limit", "schema": {"type": "integer"}}
        ]}},
        "/v1/sessions/latest": {"get": {}},
        "/v1/sessions/{session_key}": {"get": {"parameters": [{"in": "path", "name": "session_key"}]}},
        "/openf1/v1/laps": {"get": {"parameters": [{"in": "query", "name": "lap_number"}]}}
      }
    });
    AcceptedParameters::from_document(&document, "/openf1/")
  }

  /// What `GET /v1/sessions/9472/laps?{query}` is refused with: its template and problem detail, or `None`
  /// when the query is accepted.
  fn laps_query_refusal(query: &str) -> Option<(String, String)> {
    accepted()
      .check(&Method::GET, "/v1/sessions/9472/laps", Some(query))
      .err()
      .map(|error| (error.template, error.problem.detail))
  }

  #[test]
  fn documented_parameters_pass_and_others_are_named() {
    assert_eq!(laps_query_refusal("driver_number=1&lap_min=3"), None);
    assert_eq!(
      laps_query_refusal("lap_number=5&driver_number=1"),
      Some((
        "/v1/sessions/{session_key}/laps".to_owned(),
        "Unknown query parameter `lap_number`; this operation accepts `driver_number`, `lap_min`, `limit`."
          .to_owned()
      ))
    );
  }

  #[test]
  fn arrays_repeat_and_single_values_do_not() {
    assert_eq!(
      laps_query_refusal("driver_number=1&driver_number=44&lap_min=3"),
      None
    );
    let refusal = |query| laps_query_refusal(query).map(|(_, detail)| detail);
    assert_eq!(
      refusal("limit=3&driver_number=1&limit=x&limit=&lap_min=1&lap_min=2").as_deref(),
      Some("Query parameters `limit`, `lap_min` are given more than once; each takes one value.")
    );
    assert_eq!(
      refusal("limit=3&limit=4").as_deref(),
      Some("Query parameter `limit` is given more than once; it takes one value.")
    );
  }

  #[test]
  fn literal_segments_win_and_unchecked_paths_pass() {
    let parameters = accepted();
    let error = parameters
      .check(&Method::GET, "/v1/sessions/latest", Some("year=2024"))
      .expect_err("unknown");
    assert_eq!(error.template, "/v1/sessions/latest");
    assert!(error.problem.detail.contains("takes no query parameters"));
    assert!(
      parameters
        .check(&Method::GET, "/openf1/v1/laps", Some("anything=1"))
        .is_ok()
    );
    assert!(
      parameters
        .check(&Method::GET, "/healthz", Some("x=1"))
        .is_ok()
    );
  }
}
