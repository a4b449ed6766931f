//! The figure under construction, number and time formatting, and colours shared by every chart.

use chrono::{DateTime, Utc};
use plotly::common::{Anchor, Font, Title};
use plotly::layout::{Annotation, Axis, Legend, Margin, Shape};
use plotly::{Layout, Trace};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// The annotation of a figure whose session holds no data for the chart.
pub const NO_DATA_TEXT: &str = "No data for this session";

/// Colour of a driver or team without a known team colour.
pub(crate) const FALLBACK_COLOUR: &str = "#888888";

/// A Plotly figure being assembled: traces are serialized as they are added so that attributes the `plotly`
/// crate does not model can be set on the JSON.
pub(crate) struct Figure {
  traces: Vec<Map<String, Value>>,
  layout: Map<String, Value>,
}

impl Figure {
  /// A figure with `layout` and no traces.
  pub(crate) fn new(layout: Layout) -> Self {
    Self {
      traces: Vec::new(),
      layout: to_object(&layout),
    }
  }

  /// Adds a trace and returns its JSON object for attributes `plotly` lacks.
  pub(crate) fn add(&mut self, trace: Box<dyn Trace>) -> &mut Map<String, Value> {
    self.traces.push(to_object(trace.as_ref()));
    let index = self.traces.len() - 1;
    &mut self.traces[index]
  }

  /// The layout's JSON object, for attributes `plotly` lacks.
  pub(crate) fn layout_mut(&mut self) -> &mut Map<String, Value> {
    &mut self.layout
  }

  /// Number of traces so far.
  pub(crate) fn trace_count(&self) -> usize {
    self.traces.len()
  }

  /// Appends an annotation to the layout.
  pub(crate) fn annotate(&mut self, annotation: Annotation) {
    let value = Value::Object(to_object(&annotation));
    push_to_array(&mut self.layout, "annotations", value);
  }

  /// Appends shapes and their label annotations to the layout.
  pub(crate) fn overlay(&mut self, shapes: Vec<Shape>, labels: Vec<Annotation>) {
    for shape in shapes {
      push_to_array(&mut self.layout, "shapes", Value::Object(to_object(&shape)));
    }
    for label in labels {
      self.annotate(label);
    }
  }

  /// The figure JSON, or the empty figure with the no-data note when no trace was added.
  pub(crate) fn finish(mut self) -> Value {
    if self.traces.is_empty() {
      mark_empty(&mut self.layout, NO_DATA_TEXT);
    }
    json!({ "data": self.traces, "layout": self.layout })
  }
}

/// A figure with no traces, `title` and the no-data annotation (plus `detail` when given).
pub(crate) fn empty_figure(title: &str, detail: Option<&str>) -> Value {
  let mut layout = to_object(&base_layout(title));
  let text = match detail {
    Some(detail) => format!("{NO_DATA_TEXT}<br><sub>{detail}</sub>"),
    None => NO_DATA_TEXT.to_owned(),
  };
  mark_empty(&mut layout, &text);
  json!({ "data": [], "layout": layout })
}

fn mark_empty(layout: &mut Map<String, Value>, text: &str) {
  let note = Annotation::new()
    .text(text)
    .x_ref("paper")
    .y_ref("paper")
    .x(0.5)
    .y(0.5)
    .show_arrow(false)
    .font(Font::new().size(16));
  push_to_array(layout, "annotations", Value::Object(to_object(&note)));
  layout.insert("xaxis".to_owned(), json!({ "visible": false }));
  layout.insert("yaxis".to_owned(), json!({ "visible": false }));
}

fn push_to_array(object: &mut Map<String, Value>, key: &str, value: Value) {
  match object.get_mut(key) {
    Some(Value::Array(items)) => items.push(value),
    _ => {
      object.insert(key.to_owned(), Value::Array(vec![value]));
    }
  }
}

/// Serializes a `plotly` value into a JSON object. `plotly` types serialize to objects with string keys and
/// cannot fail; a non-object result becomes an empty object.
pub(crate) fn to_object<T: Serialize + ?Sized>(value: &T) -> Map<String, Value> {
  match serde_json::to_value(value) {
    Ok(Value::Object(object)) => object,
    _ => Map::new(),
  }
}

/// The layout every chart starts from: title, transparent background (the viewer picks light or dark),
/// horizontal legend below the plot and closest-point hovering.
pub(crate) fn base_layout(title: &str) -> Layout {
  Layout::new()
    .title(Title::with_text(title).x(0.02).x_anchor(Anchor::Left))
    .paper_background_color("rgba(0,0,0,0)")
    .plot_background_color("rgba(0,0,0,0)")
    .margin(Margin::new().top(70).left(70).right(30).bottom(90))
    .legend(Legend::new())
    .auto_size(true)
}

/// `seconds` as `m:ss.sss` (e.g. `94.567` → `"1:34.567"`).
#[must_use]
pub fn format_lap_time(seconds: f64) -> String {
  let total_millis = (seconds * 1000.0).round() as i64;
  let sign = if total_millis < 0 { "-" } else { "" };
  let total_millis = total_millis.abs();
  let minutes = total_millis / 60_000;
  let millis_of_minute = total_millis % 60_000;
  format!(
    "{sign}{minutes}:{:02}.{:03}",
    millis_of_minute / 1000,
    millis_of_minute % 1000
  )
}

/// A signed gap in seconds, e.g. `"+0.123"`.
pub(crate) fn format_gap(seconds: f64) -> String {
  format!("{seconds:+.3}")
}

/// A y axis for lap times: ticks at round steps between `minimum` and `maximum`, labelled `m:ss.sss`.
pub(crate) fn lap_time_axis(values: impl IntoIterator<Item = f64>, title: &str) -> Axis {
  let (tick_values, tick_text) = lap_time_ticks(values);
  let axis = Axis::new().title(Title::with_text(title)).zero_line(false);
  if tick_values.is_empty() {
    return axis;
  }
  axis
    .tick_mode(plotly::common::TickMode::Array)
    .tick_values(tick_values)
    .tick_text(tick_text)
}

/// Tick positions and `m:ss.sss` labels covering `values` with at most about eight ticks.
pub(crate) fn lap_time_ticks(values: impl IntoIterator<Item = f64>) -> (Vec<f64>, Vec<String>) {
  let mut minimum = f64::INFINITY;
  let mut maximum = f64::NEG_INFINITY;
  for value in values {
    if value.is_finite() {
      minimum = minimum.min(value);
      maximum = maximum.max(value);
    }
  }
  if !minimum.is_finite() {
    return (Vec::new(), Vec::new());
  }
  let span = (maximum - minimum).max(0.001);
  const STEPS: [f64; 12] = [
    0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0,
  ];
  let step = STEPS
    .iter()
    .copied()
    .find(|step| span / step <= 8.0)
    .unwrap_or(120.0);
  let first = (minimum / step).floor() as i64;
  let last = (maximum / step).ceil() as i64;
  let tick_values: Vec<f64> = (first..=last).map(|index| index as f64 * step).collect();
  let tick_text = tick_values
    .iter()
    .map(|value| format_lap_time(*value))
    .collect();
  (tick_values, tick_text)
}

/// A `#RRGGBB` colour from an Open F1 `team_colour` (`"3671C6"` or `"3671c6"`), or the fallback grey.
pub(crate) fn team_colour(raw: Option<&str>) -> String {
  match raw.map(str::trim) {
    Some(hex) if hex.len() == 6 && hex.chars().all(|character| character.is_ascii_hexdigit()) => {
      format!("#{}", hex.to_ascii_uppercase())
    }
    _ => FALLBACK_COLOUR.to_owned(),
  }
}

/// Official-ish Pirelli compound colours.
pub(crate) fn compound_colour(compound: &str) -> &'static str {
  match compound {
    "SOFT" => "#DA291C",
    "MEDIUM" => "#FFD12E",
    "HARD" => "#F0F0EC",
    "INTERMEDIATE" => "#43B02A",
    "WET" => "#0067AD",
    _ => "#9E9E9E",
  }
}

/// Plotly marker symbol name for a compound (`-open` variant for pit-out laps).
pub(crate) fn compound_symbol(compound: Option<&str>, pit_out: bool) -> String {
  let base = match compound {
    Some("SOFT") => "circle",
    Some("MEDIUM") => "square",
    Some("HARD") => "diamond",
    Some("INTERMEDIATE") => "triangle-up",
    Some("WET") => "triangle-down",
    _ => "cross",
  };
  if pit_out {
    format!("{base}-open")
  } else {
    base.to_owned()
  }
}

/// A date as Plotly expects it on a date axis (`2024-03-02 15:03:12.345`, UTC).
pub(crate) fn plotly_date(date: &DateTime<Utc>) -> String {
  date.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// The median of `values` (which need not be sorted); `None` when empty.
pub(crate) fn median(values: &[f64]) -> Option<f64> {
  if values.is_empty() {
    return None;
  }
  let mut sorted = values.to_vec();
  sorted.sort_by(f64::total_cmp);
  let middle = sorted.len() / 2;
  Some(if sorted.len().is_multiple_of(2) {
    (sorted[middle - 1] + sorted[middle]) / 2.0
  } else {
    sorted[middle]
  })
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn lap_times_are_formatted_as_minutes_seconds_and_milliseconds() {
    assert_eq!(format_lap_time(94.567), "1:34.567");
    assert_eq!(format_lap_time(59.9996), "1:00.000");
    assert_eq!(format_lap_time(5.2), "0:05.200");
  }

  #[test]
  fn lap_time_ticks_cover_the_values_with_round_steps() {
    let (values, text) = lap_time_ticks([93.4, 97.9]);
    assert_eq!(values.first().copied(), Some(93.0));
    assert_eq!(values.last().copied(), Some(98.0));
    assert_eq!(text.first().map(String::as_str), Some("1:33.000"));
  }

  #[test]
  fn team_colours_get_a_hash_and_bad_values_fall_back_to_grey() {
    assert_eq!(team_colour(Some("3671c6")), "#3671C6");
    assert_eq!(team_colour(Some("nope")), FALLBACK_COLOUR);
    assert_eq!(team_colour(None), FALLBACK_COLOUR);
  }
}
