//! Charts from the ~3.7 Hz car telemetry: two drivers' fastest laps compared over distance, and one fastest
//! lap drawn on the track map. Only the rows inside each lap's time window are read.

use chrono::{DateTime, Duration, Utc};
use entity::{car_data, location};
use plotly::Scatter;
use plotly::common::{Line, LineShape, Marker, Mode, Title};
use plotly::layout::{Axis, HoverMode};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use super::context::SessionContext;
use super::figure::{Figure, base_layout, empty_figure, format_lap_time};
use super::laps::{load_laps, note, set_path};
use super::{ChartError, ChartRequest};

/// A driver's fastest timed lap and its time window.
#[derive(Clone, Debug)]
struct FastestLap {
  driver: i32,
  lap_number: i32,
  start: DateTime<Utc>,
  duration: f64,
}

impl FastestLap {
  fn end(&self) -> DateTime<Utc> {
    self.start + Duration::milliseconds((self.duration * 1000.0).round() as i64)
  }
}

/// Every driver's fastest lap that has a start time, fastest first.
async fn fastest_laps<C: ConnectionTrait>(
  connection: &C,
  session_key: i32,
) -> Result<Vec<FastestLap>, DbErr> {
  let laps = load_laps(connection, session_key).await?;
  let mut best: std::collections::HashMap<i32, FastestLap> = std::collections::HashMap::new();
  for lap in laps {
    let (Some(start), Some(duration)) = (lap.date_start, lap.lap_duration) else {
      continue;
    };
    let candidate = FastestLap {
      driver: lap.driver_number,
      lap_number: lap.lap_number,
      start,
      duration,
    };
    best
      .entry(lap.driver_number)
      .and_modify(|current| {
        if duration < current.duration {
          *current = candidate.clone();
        }
      })
      .or_insert(candidate);
  }
  let mut laps: Vec<FastestLap> = best.into_values().collect();
  laps.sort_by(|left, right| left.duration.total_cmp(&right.duration));
  Ok(laps)
}

async fn car_data_in_lap<C: ConnectionTrait>(
  connection: &C,
  session_key: i32,
  lap: &FastestLap,
) -> Result<Vec<car_data::Model>, DbErr> {
  car_data::Entity::find()
    .filter(car_data::Column::SessionKey.eq(session_key))
    .filter(car_data::Column::DriverNumber.eq(lap.driver))
    .filter(car_data::Column::Date.between(lap.start, lap.end()))
    .order_by_asc(car_data::Column::Date)
    .all(connection)
    .await
}

/// Distance in metres at each sample, integrating speed (km/h) over time with the trapezoid rule.
pub(crate) fn distances(samples: &[(DateTime<Utc>, f64)]) -> Vec<f64> {
  let mut travelled = 0.0;
  let mut result = Vec::with_capacity(samples.len());
  for (index, (date, speed)) in samples.iter().enumerate() {
    if let Some((previous_date, previous_speed)) = index.checked_sub(1).map(|index| samples[index])
    {
      let seconds = (*date - previous_date).num_milliseconds() as f64 / 1000.0;
      travelled += (previous_speed + speed) / 2.0 / 3.6 * seconds;
    }
    result.push(travelled);
  }
  result
}

/// The laps to draw: the requested drivers' fastest laps, or the `count` fastest drivers'.
fn chosen_laps(
  fastest: &[FastestLap],
  request: &ChartRequest,
  count: usize,
) -> Result<Vec<FastestLap>, ChartError> {
  if request.drivers.is_empty() {
    return Ok(fastest.iter().take(count).cloned().collect());
  }
  if request.drivers.len() != count {
    return Err(ChartError::InvalidParameter {
      name: "drivers",
      message: format!(
        "this chart shows exactly {count} driver(s); {} given",
        request.drivers.len()
      ),
    });
  }
  Ok(
    request
      .drivers
      .iter()
      .filter_map(|number| fastest.iter().find(|lap| lap.driver == *number).cloned())
      .collect(),
  )
}

/// Speed, throttle, brake and gear over distance on two drivers' fastest laps (four stacked panels, one
/// trace per driver and panel).
pub(crate) async fn telemetry_comparison<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
  request: &ChartRequest,
) -> Result<Value, ChartError> {
  let session_key = context.session.session_key;
  let fastest = fastest_laps(connection, session_key).await?;
  let chosen = chosen_laps(&fastest, request, 2)?;
  let mut drawn = Vec::new();
  for lap in &chosen {
    let samples = car_data_in_lap(connection, session_key, lap).await?;
    if samples.len() >= 2 {
      drawn.push((lap.clone(), samples));
    }
  }
  if drawn.is_empty() {
    return Ok(empty_figure(
      &context.title,
      Some("no car telemetry on the fastest laps"),
    ));
  }
  let panel = |title: &str, domain: &[f64]| {
    Axis::new()
      .title(Title::with_text(title))
      .domain(domain)
      .anchor("x")
      .zero_line(false)
  };
  let layout = base_layout(&context.title)
    .x_axis(Axis::new().title(Title::with_text("Distance into the lap (m)")))
    .y_axis(panel("Speed (km/h)", &[0.56, 1.0]))
    .y_axis2(panel("Throttle (%)", &[0.38, 0.53]))
    .y_axis3(panel("Brake", &[0.2, 0.35]))
    .y_axis4(panel("Gear", &[0.0, 0.17]))
    .hover_mode(HoverMode::XUnified)
    .height(720);
  let mut figure = Figure::new(layout);
  let mut legend_notes = Vec::new();
  for (lap, samples) in drawn {
    let style = context.driver(lap.driver);
    legend_notes.push(format!(
      "{} lap {} ({})",
      style.acronym,
      lap.lap_number,
      format_lap_time(lap.duration)
    ));
    let timed: Vec<(DateTime<Utc>, f64)> = samples
      .iter()
      .map(|sample| (sample.date, f64::from(sample.speed.unwrap_or(0))))
      .collect();
    let distance = distances(&timed);
    let channels: [(&str, Vec<Option<i32>>, bool); 4] = [
      (
        "y",
        samples.iter().map(|sample| sample.speed).collect(),
        true,
      ),
      (
        "y2",
        samples.iter().map(|sample| sample.throttle).collect(),
        false,
      ),
      (
        "y3",
        samples.iter().map(|sample| sample.brake).collect(),
        false,
      ),
      (
        "y4",
        samples.iter().map(|sample| sample.n_gear).collect(),
        false,
      ),
    ];
    for (axis, values, shows_legend) in channels {
      let mut line = style.line().width(1.5);
      if axis == "y4" || axis == "y3" {
        line = line.shape(LineShape::Hv);
      }
      let trace = Scatter::new(distance.clone(), values)
        .name(&style.acronym)
        .legend_group(&style.acronym)
        .show_legend(shows_legend)
        .mode(Mode::Lines)
        .line(line)
        .y_axis(axis);
      figure.add(trace);
    }
  }
  figure.annotate(note(&format!(
    "Fastest laps: {}. Distance integrates speed over time.",
    legend_notes.join(" vs ")
  )));
  Ok(figure.finish())
}

/// One driver's fastest lap on the track outline (from `location`), coloured by speed (from `car_data`,
/// joined by nearest timestamp).
pub(crate) async fn track_map<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
  request: &ChartRequest,
) -> Result<Value, ChartError> {
  let session_key = context.session.session_key;
  let fastest = fastest_laps(connection, session_key).await?;
  let chosen = chosen_laps(&fastest, request, 1)?;
  let Some(lap) = chosen.first() else {
    return Ok(empty_figure(&context.title, None));
  };
  let points = location::Entity::find()
    .filter(location::Column::SessionKey.eq(session_key))
    .filter(location::Column::DriverNumber.eq(lap.driver))
    .filter(location::Column::Date.between(lap.start, lap.end()))
    .order_by_asc(location::Column::Date)
    .all(connection)
    .await?;
  let samples = car_data_in_lap(connection, session_key, lap).await?;
  let mut xs = Vec::new();
  let mut ys = Vec::new();
  let mut speeds = Vec::new();
  let mut texts = Vec::new();
  for point in &points {
    let (Some(x), Some(y)) = (point.x, point.y) else {
      continue;
    };
    let nearest = nearest_sample(&samples, point.date);
    let speed = nearest.and_then(|sample| sample.speed);
    let gear = nearest.and_then(|sample| sample.n_gear);
    xs.push(x);
    ys.push(y);
    speeds.push(f64::from(speed.unwrap_or(0)));
    texts.push(format!(
      "{} km/h · gear {}",
      speed.map_or("?".to_owned(), |speed| speed.to_string()),
      gear.map_or("?".to_owned(), |gear| gear.to_string())
    ));
  }
  if xs.is_empty() {
    return Ok(empty_figure(
      &context.title,
      Some("no car positions on the fastest lap"),
    ));
  }
  let style = context.driver(lap.driver);
  let hidden = || {
    Axis::new()
      .show_grid(false)
      .show_tick_labels(false)
      .zero_line(false)
  };
  let layout = base_layout(&context.title)
    .x_axis(hidden())
    .y_axis(hidden().scale_anchor("x").scale_ratio(1.0))
    .show_legend(false);
  let mut figure = Figure::new(layout);
  let trace = Scatter::new(xs, ys)
    .name(&style.acronym)
    .mode(Mode::Markers)
    .marker(Marker::new().size(6).color_array(speeds))
    .line(Line::new().color(style.colour.clone()))
    .text_array(texts)
    .hover_template(format!("{} · %{{text}}<extra></extra>", style.acronym));
  let object = figure.add(trace);
  set_path(object, &["marker", "colorscale"], json!("Viridis"));
  set_path(object, &["marker", "showscale"], json!(true));
  set_path(
    object,
    &["marker", "colorbar", "title", "text"],
    json!("km/h"),
  );
  figure.annotate(note(&format!(
    "{} lap {} ({}), coloured by speed",
    style.acronym,
    lap.lap_number,
    format_lap_time(lap.duration)
  )));
  Ok(figure.finish())
}

/// The sample closest in time to `moment` (samples sorted by date).
fn nearest_sample(samples: &[car_data::Model], moment: DateTime<Utc>) -> Option<&car_data::Model> {
  let index = samples.partition_point(|sample| sample.date < moment);
  let after = samples.get(index);
  let before = index.checked_sub(1).and_then(|index| samples.get(index));
  match (before, after) {
    (Some(before), Some(after)) => {
      if moment - before.date <= after.date - moment {
        Some(before)
      } else {
        Some(after)
      }
    }
    (before, after) => before.or(after),
  }
}
