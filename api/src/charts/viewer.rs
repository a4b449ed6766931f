//! The chart viewer page and its assets, embedded in the binary so the API serves them offline.
//!
//! Routes the API is expected to serve: `/` → a redirect to `/viewer`, `/viewer` → [`INDEX_HTML`], `/viewer/viewer.js` → [`VIEWER_JS`],
//! `/viewer/plotly.min.js` → [`PLOTLY_JS`] (plotly.js-dist-min 3.1.0, MIT; see `api/viewer/vendor/README.md`).

/// The viewer page (`text/html; charset=utf-8`).
pub const INDEX_HTML: &str = include_str!("../../viewer/index.html");

/// The viewer script (`text/javascript; charset=utf-8`).
pub const VIEWER_JS: &str = include_str!("../../viewer/viewer.js");

/// The vendored plotly.js bundle (`text/javascript; charset=utf-8`), about 4.7 MB: serve it with a long
/// `Cache-Control` max-age.
pub const PLOTLY_JS: &str = include_str!("../../viewer/vendor/plotly.min.js");

use poem::{Response, handler};

fn asset(content_type: &'static str, body: &'static str, max_age_seconds: u32) -> Response {
  Response::builder()
    .content_type(content_type)
    .header(
      "cache-control",
      format!("public, max-age={max_age_seconds}"),
    )
    .body(body)
}

/// `GET /`: a redirect (`303 See Other`) to the viewer, which links to the API docs (`/docs`).
#[must_use]
pub fn home() -> Response {
  Response::builder()
    .status(poem::http::StatusCode::SEE_OTHER)
    .header("location", "/viewer")
    .finish()
}

/// `GET /viewer`: the chart viewer page.
#[handler]
pub fn page() -> Response {
  asset("text/html; charset=utf-8", INDEX_HTML, 300)
}

/// `GET /viewer/viewer.js`: the viewer's script.
#[handler]
pub fn script() -> Response {
  asset("text/javascript; charset=utf-8", VIEWER_JS, 300)
}

/// `GET /viewer/plotly.min.js`: the bundled plotly.js (changes only with a release, so cached for a day).
#[handler]
pub fn plotly() -> Response {
  asset("text/javascript; charset=utf-8", PLOTLY_JS, 86_400)
}

/// A sample figure: the `lap-times` chart of the 2024 Bahrain Grand Prix race (session 9472) as the api builds it
/// from the recorded fixtures. The viewer's docs link to it, and the chart benchmark uses it as its ceiling: the
/// same bytes as the chart endpoint, served as a static file by the same server.
pub const SAMPLE_FIGURE_JSON: &str = include_str!("../../viewer/sample-figure.json");

/// `GET /viewer/sample-figure.json`: [`SAMPLE_FIGURE_JSON`].
#[handler]
pub fn sample_figure() -> Response {
  asset("application/json", SAMPLE_FIGURE_JSON, 86_400)
}
