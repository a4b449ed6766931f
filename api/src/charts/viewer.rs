//! The chart viewer page and its assets, embedded in the binary so the API serves them offline.
//!
//! Routes the API is expected to serve: `/viewer` → [`INDEX_HTML`], `/viewer/viewer.js` → [`VIEWER_JS`],
//! `/viewer/plotly.min.js` → [`PLOTLY_JS`] (plotly.js-dist-min 3.1.0, MIT; see `api/viewer/vendor/README.md`).

/// The viewer page (`text/html; charset=utf-8`).
pub const INDEX_HTML: &str = include_str!("../../viewer/index.html");

/// The viewer script (`text/javascript; charset=utf-8`).
pub const VIEWER_JS: &str = include_str!("../../viewer/viewer.js");

/// The vendored plotly.js bundle (`text/javascript; charset=utf-8`), about 4.7 MB: serve it with a long
/// `Cache-Control` max-age.
pub const PLOTLY_JS: &str = include_str!("../../viewer/vendor/plotly.min.js");
