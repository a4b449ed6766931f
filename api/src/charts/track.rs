//! Charts drawn on the track outline (from `location`): one lap coloured by speed or by gear (joined with
//! `car_data` by nearest timestamp), and the mini-sector dominance map.

use chrono::{DateTime, Utc};
use entity::{car_data, location};
use plotly::Scatter;
use plotly::common::{DashType, Line, Marker, Mode};
use plotly::layout::{Axis, Layout};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use super::ChartError;
use super::context::SessionContext;
use super::figure::{Figure, base_layout, empty_figure};
use super::laps::{load_laps, note, set_path};
use super::telemetry::{
  ChosenLap, TimedLap, car_data_in_lap, fastest_laps, interpolate, location_in_lap, one_lap,
  sample_distances,
};

/// Number of equal-length mini-sectors of the dominance map.
pub const MINI_SECTORS: usize = 25;

/// Most drivers the dominance map compares.
const MOST_DOMINANCE_DRIVERS: usize = 5;

/// Colours of gears 1 to 8 (a qualitative palette readable on light and dark backgrounds).
const GEAR_COLOURS: [&str; 8] = [
  "#440154", "#3B528B", "#21918C", "#5EC962", "#FDE725", "#F89540", "#CC4778", "#7E03A8",
];

/// A layout with hidden, equally scaled axes for a track outline.
fn track_layout(title: &str) -> Layout {
  let hidden = || {
    Axis::new()
      .show_grid(false)
      .show_tick_labels(false)
      .zero_line(false)
  };
  base_layout(title)
    .x_axis(hidden())
    .y_axis(hidden().scale_anchor("x").scale_ratio(1.0))
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

fn coordinates(points: &[location::Model]) -> (Vec<i32>, Vec<i32>) {
  points
    .iter()
    .filter_map(|point| Some((point.x?, point.y?)))
    .unzip()
}

/// What a map of one lap on the track outline is coloured by.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LapColouring {
  /// The speed at each position (the track map).
  Speed,
  /// The gear in use (the gear-shift map).
  Gear,
}

/// One lap (the reference lap; default the session's fastest) on the track outline, coloured by `colouring`.
pub(crate) async fn lap_map<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
  colouring: LapColouring,
) -> Result<Value, ChartError> {
  let Some(chosen) = one_lap(connection, context).await? else {
    return Ok(empty_figure(&context.title, Some("no timed lap")));
  };
  let points = location_in_lap(connection, &chosen.lap).await?;
  let samples = car_data_in_lap(connection, &chosen.lap).await?;
  Ok(match colouring {
    LapColouring::Speed => speed_map(context, &chosen, &points, &samples),
    LapColouring::Gear => gear_map(context, &chosen, &points, &samples),
  })
}

/// The lap coloured by speed; without `car_data` on the lap, the outline alone in the driver's colour with a
/// note that speed is not available.
fn speed_map(
  context: &SessionContext,
  chosen: &ChosenLap,
  points: &[location::Model],
  samples: &[car_data::Model],
) -> Value {
  if points.is_empty() {
    return empty_figure(
      &context.title,
      Some(&format!("no car positions (location) on {}", chosen.label)),
    );
  }
  let style = &chosen.style;
  let (xs, ys) = coordinates(points);
  let mut figure = Figure::new(track_layout(&context.title).show_legend(false));
  if samples.is_empty() {
    let trace = Scatter::new(xs, ys)
      .name(&style.acronym)
      .mode(Mode::Lines)
      .line(Line::new().color(style.colour.clone()).width(4.0))
      .hover_template(format!("{}<extra></extra>", style.acronym));
    figure.add(trace);
    figure.annotate(note(&format!(
      "{}: speed is not available (no car_data recorded for this lap), so only the outline is drawn.",
      chosen.label
    )));
    return figure.finish();
  }
  let mut speeds = Vec::new();
  let mut texts = Vec::new();
  for point in points {
    let nearest = nearest_sample(samples, point.date);
    let speed = nearest.and_then(|sample| sample.speed);
    let gear = nearest.and_then(|sample| sample.n_gear);
    speeds.push(speed.map(f64::from));
    texts.push(format!(
      "{} km/h · gear {}",
      speed.map_or("?".to_owned(), |speed| speed.to_string()),
      gear.map_or("?".to_owned(), |gear| gear.to_string())
    ));
  }
  let trace = Scatter::new(xs, ys)
    .name(&style.acronym)
    .mode(Mode::Markers)
    .marker(Marker::new().size(6))
    .text_array(texts)
    .hover_template(format!("{} · %{{text}}<extra></extra>", style.acronym));
  let object = figure.add(trace);
  set_path(object, &["marker", "color"], json!(speeds));
  set_path(object, &["marker", "colorscale"], json!("Viridis"));
  set_path(object, &["marker", "showscale"], json!(true));
  set_path(
    object,
    &["marker", "colorbar", "title", "text"],
    json!("km/h"),
  );
  figure.annotate(note(&format!("{}, coloured by speed", chosen.label)));
  figure.finish()
}

/// The lap coloured by gear: one trace per gear (so the legend names the colours), each a line through the
/// runs driven in that gear.
fn gear_map(
  context: &SessionContext,
  chosen: &ChosenLap,
  points: &[location::Model],
  samples: &[car_data::Model],
) -> Value {
  if points.is_empty() || samples.is_empty() {
    return empty_figure(
      &context.title,
      Some(&format!(
        "no car positions (location) or gears (car_data) on {}",
        chosen.label
      )),
    );
  }
  // (x, y, gear) of every position with a known gear.
  let geared: Vec<(i32, i32, i32)> = points
    .iter()
    .filter_map(|point| {
      let gear = nearest_sample(samples, point.date)?.n_gear?;
      Some((point.x?, point.y?, gear))
    })
    .collect();
  if geared.is_empty() {
    return empty_figure(&context.title, Some("no gear recorded on the lap"));
  }
  let mut gears: Vec<i32> = geared.iter().map(|(_, _, gear)| *gear).collect();
  gears.sort_unstable();
  gears.dedup();
  let mut figure =
    Figure::new(track_layout(&context.title).legend(plotly::layout::Legend::new().title("Gear")));
  for gear in gears {
    // Each run in this gear, extended to the next point so that consecutive runs join; runs split by nulls.
    let mut xs: Vec<Option<i32>> = Vec::new();
    let mut ys: Vec<Option<i32>> = Vec::new();
    let mut index = 0;
    while index < geared.len() {
      if geared[index].2 != gear {
        index += 1;
        continue;
      }
      let start = index;
      while index < geared.len() && geared[index].2 == gear {
        index += 1;
      }
      let end = index.min(geared.len() - 1);
      for point in &geared[start..=end] {
        xs.push(Some(point.0));
        ys.push(Some(point.1));
      }
      xs.push(None);
      ys.push(None);
    }
    let colour = usize::try_from(gear - 1)
      .ok()
      .and_then(|slot| GEAR_COLOURS.get(slot))
      .copied()
      .unwrap_or("#9E9E9E");
    let trace = Scatter::new(xs, ys)
      .name(gear.to_string())
      .mode(Mode::Lines)
      .line(Line::new().color(colour).width(5.0))
      .hover_template(format!("gear {gear}<extra></extra>"));
    let object = figure.add(trace);
    set_path(object, &["connectgaps"], json!(false));
  }
  figure.annotate(note(&format!(
    "{}, coloured by the gear in use (car_data joined to positions by nearest time)",
    chosen.label
  )));
  figure.finish()
}

/// For each driver's lap: elapsed time at each share of the lap (0 to 1), from its car_data.
struct LapProgress {
  lap: TimedLap,
  /// Share of the lap's distance at each sample, ascending from 0 to 1.
  share: Vec<f64>,
  /// Seconds since the lap's start at each sample.
  elapsed: Vec<f64>,
}

impl LapProgress {
  fn new(lap: TimedLap, samples: &[car_data::Model]) -> Option<Self> {
    let distance = sample_distances(samples);
    let length = distance.last().copied().filter(|length| *length > 0.0)?;
    Some(Self {
      share: distance.iter().map(|metres| metres / length).collect(),
      elapsed: samples
        .iter()
        .map(|sample| lap.elapsed(sample.date))
        .collect(),
      lap,
    })
  }

  /// Seconds spent in mini-sector `index` of [`MINI_SECTORS`].
  fn sector_time(&self, index: usize) -> Option<f64> {
    let from = index as f64 / MINI_SECTORS as f64;
    let to = (index + 1) as f64 / MINI_SECTORS as f64;
    Some(
      interpolate(&self.share, &self.elapsed, to)? - interpolate(&self.share, &self.elapsed, from)?,
    )
  }
}

/// The track outline in [`MINI_SECTORS`] equal-length mini-sectors, each drawn in the colour of the driver
/// whose fastest lap went through it quickest. Compares the `drivers` (2 to 5; default the two fastest).
pub(crate) async fn mini_sector_dominance<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<Value, ChartError> {
  if !context.request.drivers.is_empty()
    && !(2..=MOST_DOMINANCE_DRIVERS).contains(&context.request.drivers.len())
  {
    return Err(ChartError::InvalidParameter {
      name: "drivers",
      message: format!(
        "this chart compares 2 to {MOST_DOMINANCE_DRIVERS} drivers; {} given",
        context.request.drivers.len()
      ),
    });
  }
  let laps = load_laps(connection, context.session.session_key).await?;
  let fastest = fastest_laps(&laps);
  let chosen: Vec<TimedLap> = if context.request.drivers.is_empty() {
    fastest.into_iter().take(2).collect()
  } else {
    fastest
      .into_iter()
      .filter(|lap| context.request.drivers.contains(&lap.driver))
      .collect()
  };
  let mut progress = Vec::new();
  let mut without_telemetry = Vec::new();
  for lap in chosen {
    let samples = car_data_in_lap(connection, &lap).await?;
    match LapProgress::new(lap.clone(), &samples) {
      Some(entry) if samples.len() >= 2 => progress.push(entry),
      _ => without_telemetry.push(context.driver(lap.driver).acronym),
    }
  }
  let Some(reference) = progress.first() else {
    return Ok(empty_figure(
      &context.title,
      Some("no car telemetry (car_data) on the drivers' fastest laps"),
    ));
  };
  let points = location_in_lap(connection, &reference.lap).await?;
  if points.is_empty() {
    return Ok(empty_figure(
      &context.title,
      Some("no car positions (location) on the fastest lap, so no outline"),
    ));
  }
  // The winner (index into `progress`) of every mini-sector.
  let winners: Vec<Option<usize>> = (0..MINI_SECTORS)
    .map(|sector| {
      progress
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| Some((index, entry.sector_time(sector)?)))
        .min_by(|left, right| left.1.total_cmp(&right.1))
        .map(|(index, _)| index)
    })
    .collect();
  // The mini-sector of every outline point, from the reference lap's share of distance at that moment.
  let sector_of = |point: &location::Model| {
    let share = interpolate(
      &reference.elapsed,
      &reference.share,
      reference.lap.elapsed(point.date),
    )
    .unwrap_or(0.0);
    ((share * MINI_SECTORS as f64).floor() as usize).min(MINI_SECTORS - 1)
  };
  let sectors: Vec<usize> = points.iter().map(sector_of).collect();
  let mut figure = Figure::new(track_layout(&context.title));
  for (index, entry) in progress.iter().enumerate() {
    let style = context.driver(entry.lap.driver);
    let won = winners
      .iter()
      .filter(|winner| **winner == Some(index))
      .count();
    let mut xs: Vec<Option<i32>> = Vec::new();
    let mut ys: Vec<Option<i32>> = Vec::new();
    for (position, point) in points.iter().enumerate() {
      if winners[sectors[position]] != Some(index) {
        continue;
      }
      xs.push(point.x);
      ys.push(point.y);
      // Join to the next point, then break the line where the next point belongs to someone else.
      if let Some(next) = points.get(position + 1)
        && winners[sectors[position + 1]] != Some(index)
      {
        xs.push(next.x);
        ys.push(next.y);
        xs.push(None);
        ys.push(None);
      }
    }
    let mut line = Line::new().color(style.colour.clone()).width(6.0);
    if style.second_in_team {
      line = line.dash(DashType::Dash);
    }
    let trace = Scatter::new(xs, ys)
      .name(format!("{} ({won} of {MINI_SECTORS})", style.acronym))
      .mode(Mode::Lines)
      .line(line)
      .hover_template(format!(
        "{} lap {}: fastest here<extra></extra>",
        style.acronym, entry.lap.lap_number
      ));
    let object = figure.add(trace);
    set_path(object, &["connectgaps"], json!(false));
  }
  let mut text = format!(
    "Fastest laps compared over {MINI_SECTORS} mini-sectors of equal length (distance integrates speed over \
     time); the outline is {}'s lap.",
    context.driver(reference.lap.driver).acronym
  );
  if !without_telemetry.is_empty() {
    text.push_str(&format!(
      " Left out, no car_data on their fastest lap: {}.",
      without_telemetry.join(", ")
    ));
  }
  figure.annotate(note(&text));
  Ok(figure.finish())
}
