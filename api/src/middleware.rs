//! The layers every request passes: request id and tracing span, metrics, query-string limit, unknown query
//! parameters of native routes ([`crate::parameters`]), timeout, failing fast while the database is unreachable,
//! problem+json for every error (including poem's own 404/405/413) with `Retry-After` on every 503, and strong ETags
//! with `If-None-Match` → 304. A handler can exempt a response from the problem conversion or the ETag with
//! [`BodyTreatment`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use entity::database::DatabaseMonitor;

use crate::metrics::Metrics;
use crate::openf1::OPENF1_PREFIX;
use crate::parameters::AcceptedParameters;
use crate::problem::{
  DATABASE_UNAVAILABLE_DETAIL, MAX_DETAIL_BYTES, MAX_INSTANCE_BYTES, PROBLEM_CONTENT_TYPE, Problem,
  RETRY_AFTER_SECONDS, bounded,
};

/// The request id header, accepted from the client (or generated) and echoed in the response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Longest accepted query string, in bytes (longer is answered 414).
pub const MAX_QUERY_LENGTH: usize = 4096;
/// Largest accepted request body, in bytes (larger is answered 413).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// While the database is unreachable, how long a request may take to answer without it (a cached answer does,
/// in microseconds) before it is answered 503. With the monitor's probe interval and timeout, a request waiting
/// on an unreachable database is answered within 0.2 + 0.4 + 0.2 = 0.8 s.
pub const DATABASE_OUTAGE_GRACE: Duration = Duration::from_millis(200);
/// Paths answered without the outage cut: the operational endpoints, which report the outage themselves.
const OPERATIONAL_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// How the layers must treat a response's body; handlers set it with `Response::set_data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyTreatment {
  /// The body streams (it may be far bigger than memory should hold): never buffer it, so no `ETag`.
  Streamed,
  /// An error body following another API's contract (Open F1's `{"detail": …}`): keep it as it is rather than
  /// turning it into problem+json.
  Foreign,
}

/// What the layers need.
#[derive(Clone)]
pub struct LayerSettings {
  /// Where requests are counted.
  pub metrics: Metrics,
  /// Longest time a request may take before it is answered 503.
  pub request_timeout: Duration,
  /// Whether the database answers: requests are answered 503 soon after it stops.
  pub database_monitor: DatabaseMonitor,
  /// Route labels: poem-openapi's internal patterns (`/v1/sessions/:param0/laps`) to the documented templates
  /// (`/v1/sessions/{session_key}/laps`).
  pub route_labels: Arc<HashMap<String, String>>,
  /// The query parameters each native operation accepts.
  pub accepted_parameters: Arc<AcceptedParameters>,
}

/// Maps poem-openapi's internal route patterns to the documented path templates of `document_paths`.
#[must_use]
pub fn route_labels<'a>(
  document_paths: impl IntoIterator<Item = &'a str>,
) -> HashMap<String, String> {
  document_paths
    .into_iter()
    .map(|template| {
      let mut index = 0;
      let internal: Vec<String> = template
        .split('/')
        .map(|segment| {
          if segment.starts_with('{') && segment.ends_with('}') {
            let replaced = format!(":param{index}");
            index += 1;
            replaced
          } else {
            segment.to_owned()
          }
        })
        .collect();
      (internal.join("/"), template.to_owned())
    })
    .collect()
}

/// Wraps `endpoint` in the layers described in the module documentation.
pub fn wrap<E: Endpoint + 'static>(
  endpoint: E,
  layers: LayerSettings,
) -> impl Endpoint<Output = Response> {
  let endpoint = Arc::new(endpoint.map_to_response());
  poem::endpoint::make(move |request: Request| {
    let endpoint = endpoint.clone();
    let layers = layers.clone();
    async move { Ok::<_, poem::Error>(handle(endpoint.as_ref(), layers, request).await) }
  })
}

fn request_id(request: &Request) -> String {
  request
    .headers()
    .get(REQUEST_ID_HEADER)
    .and_then(|value| value.to_str().ok())
    .filter(|value| {
      !value.is_empty()
        && value.len() <= 128
        && value
          .bytes()
          .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte))
    })
    .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

async fn handle<E: Endpoint<Output = Response>>(
  endpoint: &E,
  layers: LayerSettings,
  request: Request,
) -> Response {
  let started = Instant::now();
  let request_id = request_id(&request);
  let method = request.method().clone();
  let path = request.uri().path().to_owned();
  let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
  // Logged bounded like `instance`: a huge path must not make a huge log line either.
  let logged_path = bounded(&path, MAX_INSTANCE_BYTES).into_owned();
  let span = tracing::info_span!("request", %method, path = %logged_path, %request_id);
  async move {
    let query_length = request.uri().query().map_or(0, str::len);
    let body_length = request
      .headers()
      .get(header::CONTENT_LENGTH)
      .and_then(|value| value.to_str().ok())
      .and_then(|value| value.parse::<usize>().ok());
    let (mut response, route) = if body_length.is_some_and(|length| length > MAX_BODY_BYTES) {
      let problem = Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
      );
      (problem.into_response(), "unmatched".to_owned())
    } else if query_length > MAX_QUERY_LENGTH {
      let problem = Problem::new(
        StatusCode::URI_TOO_LONG,
        format!("The query string is longer than {MAX_QUERY_LENGTH} bytes."),
      );
      (problem.into_response(), "unmatched".to_owned())
    } else if let Err(unknown) =
      layers
        .accepted_parameters
        .check(&method, &path, request.uri().query())
    {
      (unknown.problem.into_response(), unknown.template)
    } else {
      let fails_fast = !OPERATIONAL_PATHS.contains(&path.as_str());
      let monitor = &layers.database_monitor;
      let call = async {
        tokio::select! {
          biased;
          result = endpoint.call(request) => Some(result),
          () = database_outage(monitor), if fails_fast => None,
        }
      };
      match tokio::time::timeout(layers.request_timeout, call).await {
        Ok(None) => {
          // The monitor logs the outage once; each request's 503 is in its "request finished" line.
          tracing::debug!("the database is unreachable; answered 503");
          let problem = Problem::new(StatusCode::SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE_DETAIL);
          (problem.into_response(), "unmatched".to_owned())
        }
        Ok(Some(Ok(response))) => {
          let route = route_of_response(&response);
          (response, route)
        }
        Ok(Some(Err(error))) => {
          let route = error
            .data::<poem::PathPattern>()
            .map_or_else(|| "unmatched".to_owned(), |pattern| pattern.0.to_string());
          (problem_from_error(&error).into_response(), route)
        }
        Err(_) => {
          tracing::error!("request timed out");
          let problem = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The request took too long; try again shortly.",
          );
          (problem.into_response(), "unmatched".to_owned())
        }
      }
    };
    let treatment = response.data::<BodyTreatment>().copied();
    if treatment != Some(BodyTreatment::Foreign) {
      response = ensure_problem(response);
    }
    if response.status() == StatusCode::SERVICE_UNAVAILABLE
      && !response.headers().contains_key(header::RETRY_AFTER)
    {
      response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    }
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
      let allowed = if path.starts_with(OPENF1_PREFIX) {
        "GET, POST"
      } else {
        "GET, HEAD"
      };
      response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed));
    }
    response = with_instance(response, &path).await;
    if method == Method::GET
      && response.status() == StatusCode::OK
      && treatment != Some(BodyTreatment::Streamed)
    {
      response = with_entity_tag(response, if_none_match.as_ref()).await;
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
      response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let route = layers.route_labels.get(&route).cloned().unwrap_or(route);
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    layers
      .metrics
      .observe_request(&route, method.as_str(), status, elapsed.as_secs_f64());
    tracing::info!(
      status,
      route,
      elapsed_ms = elapsed.as_millis() as u64,
      "request finished"
    );
    response
  }
  .instrument(span)
  .await
}

/// Completes once the database has been unreachable for [`DATABASE_OUTAGE_GRACE`] in a row.
async fn database_outage(monitor: &DatabaseMonitor) {
  loop {
    monitor.unreachable().await;
    tokio::select! {
      () = tokio::time::sleep(DATABASE_OUTAGE_GRACE) => return,
      () = monitor.reachable() => {}
    }
  }
}

fn route_of_response(response: &Response) -> String {
  response
    .data::<poem::PathPattern>()
    .map_or_else(|| "unmatched".to_owned(), |pattern| pattern.0.to_string())
}

/// The problem answering a poem error: its status, with its message for 4xx (parameter parse errors name the
/// parameter) and an opaque text for 5xx.
fn problem_from_error(error: &poem::Error) -> Problem {
  let status = error.status();
  if status.is_server_error() {
    tracing::error!(error = %error, "unhandled error");
    Problem::new(status, "An internal error occurred.")
  } else {
    Problem::new(
      status,
      default_detail(status).unwrap_or_else(|| error.to_string()),
    )
  }
}

/// Friendlier details for poem's routing errors.
fn default_detail(status: StatusCode) -> Option<String> {
  match status {
    StatusCode::NOT_FOUND => Some("No resource at this path.".to_owned()),
    StatusCode::METHOD_NOT_ALLOWED => Some("This method is not allowed on this path.".to_owned()),
    StatusCode::PAYLOAD_TOO_LARGE => Some(format!(
      "The request body is larger than {MAX_BODY_BYTES} bytes."
    )),
    _ => None,
  }
}

/// Turns any 4xx/5xx response that is not already problem+json into one (keeping the status).
fn ensure_problem(response: Response) -> Response {
  let status = response.status();
  if !(status.is_client_error() || status.is_server_error()) {
    return response;
  }
  let is_problem = response
    .headers()
    .get(header::CONTENT_TYPE)
    .and_then(|value| value.to_str().ok())
    .is_some_and(|value| value.starts_with(PROBLEM_CONTENT_TYPE));
  if is_problem {
    return response;
  }
  let detail = default_detail(status).unwrap_or_else(|| {
    if status.is_server_error() {
      "An internal error occurred.".to_owned()
    } else {
      status.canonical_reason().unwrap_or("Error").to_owned()
    }
  });
  let mut replaced = Problem::new(status, detail).into_response();
  for (name, value) in response.headers() {
    if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
      replaced.headers_mut().insert(name.clone(), value.clone());
    }
  }
  replaced
}

/// Sets the `instance` member of a problem+json body to the request path, and bounds `instance` and `detail`
/// ([`MAX_INSTANCE_BYTES`], [`MAX_DETAIL_BYTES`]), so that no client input is echoed at any length.
async fn with_instance(mut response: Response, path: &str) -> Response {
  let is_problem = response
    .headers()
    .get(header::CONTENT_TYPE)
    .and_then(|value| value.to_str().ok())
    .is_some_and(|value| value.starts_with(PROBLEM_CONTENT_TYPE));
  if !is_problem {
    return response;
  }
  let Ok(body) = response.take_body().into_bytes().await else {
    return response;
  };
  let body = match serde_json::from_slice::<serde_json::Value>(&body) {
    Ok(serde_json::Value::Object(mut members)) => {
      members.insert(
        "instance".to_owned(),
        serde_json::Value::String(bounded(path, MAX_INSTANCE_BYTES).into_owned()),
      );
      if let Some(serde_json::Value::String(detail)) = members.get_mut("detail")
        && detail.len() > MAX_DETAIL_BYTES
      {
        *detail = bounded(detail, MAX_DETAIL_BYTES).into_owned();
      }
      serde_json::to_vec(&members).unwrap_or_else(|_| body.to_vec())
    }
    _ => body.to_vec(),
  };
  response.headers_mut().remove(header::CONTENT_LENGTH);
  response.set_body(body);
  response
}

/// Adds a strong ETag (SHA-256 of the body) and answers 304 when `If-None-Match` lists it.
async fn with_entity_tag(mut response: Response, if_none_match: Option<&HeaderValue>) -> Response {
  let body = match response.take_body().into_bytes().await {
    Ok(body) => body,
    Err(error) => {
      tracing::error!(%error, "could not read the response body");
      return Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "An internal error occurred.",
      )
      .into_response();
    }
  };
  let digest = Sha256::digest(&body);
  let hex: String = digest[..16]
    .iter()
    .map(|byte| format!("{byte:02x}"))
    .collect();
  let entity_tag = format!("\"{hex}\"");
  let matches = if_none_match
    .and_then(|value| value.to_str().ok())
    .is_some_and(|value| {
      value
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == entity_tag)
    });
  if let Ok(value) = HeaderValue::from_str(&entity_tag) {
    response.headers_mut().insert(header::ETAG, value);
  }
  if matches {
    let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
    for name in [
      header::ETAG,
      header::CACHE_CONTROL,
      header::VARY,
      header::HeaderName::from_static("x-total-count"),
      header::LINK,
      header::HeaderName::from_static("ratelimit-limit"),
      header::HeaderName::from_static("ratelimit-remaining"),
      header::HeaderName::from_static("ratelimit-reset"),
    ] {
      if let Some(value) = response.headers().get(&name) {
        not_modified.headers_mut().insert(name, value.clone());
      }
    }
    return not_modified;
  }
  response.set_body(body);
  response
}
