//! Race-craft charts: tyre strategy, positions, gaps, pit stops, qualifying, weather, grid vs finish.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use entity::{intervals, overtakes, position, session_result, sessions, starting_grid, weather};
use plotly::common::{AxisSide, HoverInfo, Line, Marker, Mode, Orientation, Title};
use plotly::layout::{Axis, AxisRange, AxisType, BarMode, CategoryOrder, HoverMode};
use plotly::{Bar, Scatter};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use super::ChartError;
use super::context::SessionContext;
use super::figure::{
  Figure, base_layout, compound_colour, empty_figure, format_gap, format_lap_time, plotly_date,
};
use super::flags::{lap_overlays, load_flag_periods, time_overlays};
use super::laps::{load_laps, load_pits, load_stints, note, set_path};

const COMPOUND_ORDER: [&str; 6] = ["SOFT", "MEDIUM", "HARD", "INTERMEDIATE", "WET", "UNKNOWN"];

/// Stints as horizontal bars per driver (one trace per compound, so the legend explains the colours).
pub(crate) async fn tyre_strategy<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<Value, ChartError> {
  let session_key = context.session.session_key;
  let stints = load_stints(connection, session_key).await?;
  let laps = load_laps(connection, session_key).await?;
  let mut last_lap: HashMap<i32, i32> = HashMap::new();
  for lap in &laps {
    let entry = last_lap.entry(lap.driver_number).or_insert(lap.lap_number);
    *entry = (*entry).max(lap.lap_number);
  }
  // (driver acronym, first lap, lap count, hover) per compound
  let mut by_compound: BTreeMap<usize, Vec<(String, i32, i32, String)>> = BTreeMap::new();
  let mut drivers_with_stints = Vec::new();
  for stint in &stints {
    if !context.shows(stint.driver_number) {
      continue;
    }
    let Some(start) = stint.lap_start else {
      continue;
    };
    let end = stint
      .lap_end
      .or_else(|| last_lap.get(&stint.driver_number).copied())
      .unwrap_or(start)
      .max(start);
    let (start, end) = match context.request.laps {
      Some((first, last)) => (start.max(first), end.min(last)),
      None => (start, end),
    };
    if end < start {
      continue;
    }
    let compound = stint
      .compound
      .clone()
      .unwrap_or_else(|| "UNKNOWN".to_owned())
      .to_uppercase();
    let order = COMPOUND_ORDER
      .iter()
      .position(|known| *known == compound)
      .unwrap_or(COMPOUND_ORDER.len() - 1);
    let style = context.driver(stint.driver_number);
    let age = stint
      .tyre_age_at_start
      .map(|age| format!(", {age} laps old at start"))
      .unwrap_or_default();
    let hover = format!(
      "{} · stint {} · {compound}<br>laps {start}–{end} ({} laps{age})",
      style.acronym,
      stint.stint_number,
      end - start + 1
    );
    drivers_with_stints.push(stint.driver_number);
    by_compound
      .entry(order)
      .or_default()
      .push((style.acronym, start, end - start + 1, hover));
  }
  if by_compound.is_empty() {
    return Ok(empty_figure(&context.title, None));
  }
  // Every shown driver gets a row, stints or not, in classification order from the top.
  let mut rows: Vec<String> = context
    .ordered_numbers(drivers_with_stints)
    .into_iter()
    .map(|number| context.driver(number).acronym)
    .collect();
  rows.reverse();
  let layout = base_layout(&context.title)
    .bar_mode(BarMode::Overlay)
    .x_axis(Axis::new().title(Title::with_text("Lap")))
    .y_axis(
      Axis::new()
        .type_(AxisType::Category)
        .category_order(CategoryOrder::Array)
        .category_array(rows),
    )
    .hover_mode(HoverMode::Closest);
  let mut figure = Figure::new(layout);
  for (order, bars) in by_compound {
    let compound = COMPOUND_ORDER[order];
    let trace = Bar::new(
      bars.iter().map(|bar| bar.2).collect(),
      bars.iter().map(|bar| bar.0.clone()).collect(),
    )
    .name(compound)
    .orientation(Orientation::Horizontal)
    .marker(
      Marker::new()
        .color(compound_colour(compound))
        .line(Line::new().color("#333333").width(1.0)),
    )
    .hover_text_array(bars.iter().map(|bar| bar.3.clone()).collect())
    .hover_info(HoverInfo::Text);
    let object = figure.add(trace);
    // A stint starting on lap `s` covers the bar from `s - 1` to `s - 1 + laps` (plotly.rs has no `base`).
    set_path(
      object,
      &["base"],
      json!(bars.iter().map(|bar| bar.1 - 1).collect::<Vec<_>>()),
    );
  }
  Ok(figure.finish())
}

/// The qualifying session whose starting grid applies to `session` (same meeting; `Sprint Qualifying` or
/// `Sprint Shootout` for a sprint), and its grid positions; empty for sessions that are not races.
pub(crate) async fn starting_grid_positions<C: ConnectionTrait>(
  connection: &C,
  session: &sessions::Model,
) -> Result<HashMap<i32, i32>, DbErr> {
  if !session.is_race() {
    return Ok(HashMap::new());
  }
  let is_sprint = session
    .session_name
    .as_deref()
    .is_some_and(|name| name.eq_ignore_ascii_case("Sprint"));
  let candidates = sessions::Entity::find()
    .filter(sessions::Column::MeetingKey.eq(session.meeting_key))
    .filter(sessions::Column::SessionType.eq("Qualifying"))
    .all(connection)
    .await?;
  for candidate in candidates {
    let name = candidate.session_name.clone().unwrap_or_default();
    if name.contains("Sprint") != is_sprint {
      continue;
    }
    let grid = starting_grid::Entity::find()
      .filter(starting_grid::Column::SessionKey.eq(candidate.session_key))
      .all(connection)
      .await?;
    let positions: HashMap<i32, i32> = grid
      .into_iter()
      .filter_map(|row| Some((row.driver_number, row.position?)))
      .collect();
    if !positions.is_empty() {
      return Ok(positions);
    }
  }
  Ok(HashMap::new())
}

async fn load_positions<C: ConnectionTrait>(
  connection: &C,
  session_key: i32,
) -> Result<BTreeMap<i32, Vec<(DateTime<Utc>, i32)>>, DbErr> {
  let rows = position::Entity::find()
    .filter(position::Column::SessionKey.eq(session_key))
    .order_by_asc(position::Column::Date)
    .all(connection)
    .await?;
  let mut by_driver: BTreeMap<i32, Vec<(DateTime<Utc>, i32)>> = BTreeMap::new();
  for row in rows {
    by_driver
      .entry(row.driver_number)
      .or_default()
      .push((row.date, row.position));
  }
  Ok(by_driver)
}

/// The last position at or before `moment` (rows sorted by date).
fn position_at(rows: &[(DateTime<Utc>, i32)], moment: DateTime<Utc>) -> Option<i32> {
  let index = rows.partition_point(|(date, _)| *date <= moment);
  index.checked_sub(1).map(|index| rows[index].1)
}

/// Running order at the end of every lap; lap 0 is the starting grid (from the qualifying session's
/// `starting_grid`) or, without one, each driver's first `position` row.
pub(crate) async fn position_changes<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<Value, ChartError> {
  let session_key = context.session.session_key;
  let grid = starting_grid_positions(connection, &context.session).await?;
  let positions = load_positions(connection, session_key).await?;
  let laps = load_laps(connection, session_key).await?;
  let periods = load_flag_periods(connection, session_key).await?;
  let mut laps_by_driver: BTreeMap<i32, Vec<&super::laps::Lap>> = BTreeMap::new();
  for lap in &laps {
    laps_by_driver
      .entry(lap.driver_number)
      .or_default()
      .push(lap);
  }
  let numbers: Vec<i32> = context.ordered_numbers(
    grid
      .keys()
      .chain(positions.keys())
      .chain(laps_by_driver.keys())
      .copied()
      .collect::<Vec<_>>(),
  );
  let mut series: Vec<(i32, Vec<i32>, Vec<i32>)> = Vec::new();
  let mut deepest = 1;
  for number in numbers {
    let rows = positions
      .get(&number)
      .map(Vec::as_slice)
      .unwrap_or_default();
    let mut lap_numbers = Vec::new();
    let mut places = Vec::new();
    let start = grid
      .get(&number)
      .copied()
      .or_else(|| rows.first().map(|row| row.1));
    if let Some(start) = start
      && context.in_lap_range(0)
    {
      lap_numbers.push(0);
      places.push(start);
    }
    let driver_laps = laps_by_driver
      .get(&number)
      .map(Vec::as_slice)
      .unwrap_or_default();
    for (index, lap) in driver_laps.iter().enumerate() {
      if !context.in_lap_range(lap.lap_number) {
        continue;
      }
      // The lap ends when the next one starts, or after its own duration.
      let end = driver_laps
        .get(index + 1)
        .and_then(|next| next.date_start)
        .or_else(|| {
          let start = lap.date_start?;
          let millis = (lap.lap_duration? * 1000.0).round() as i64;
          Some(start + Duration::milliseconds(millis))
        });
      let place = match end {
        Some(end) => position_at(rows, end),
        None if index + 1 == driver_laps.len() => rows.last().map(|row| row.1),
        None => None,
      };
      if let Some(place) = place {
        lap_numbers.push(lap.lap_number);
        places.push(place);
      }
    }
    if !places.is_empty() {
      deepest = deepest.max(places.iter().copied().max().unwrap_or(1));
      series.push((number, lap_numbers, places));
    }
  }
  if series.is_empty() {
    return Ok(empty_figure(&context.title, None));
  }
  let layout = base_layout(&context.title)
    .x_axis(Axis::new().title(Title::with_text("Lap (0 = grid)")))
    .y_axis(
      Axis::new()
        .title(Title::with_text("Position"))
        .range(AxisRange::new(f64::from(deepest) + 0.5, 0.5))
        .dtick(1.0)
        .zero_line(false),
    )
    .hover_mode(HoverMode::Closest);
  let mut figure = Figure::new(layout);
  for (number, lap_numbers, places) in series {
    let style = context.driver(number);
    let texts: Vec<String> = lap_numbers
      .iter()
      .zip(&places)
      .map(|(lap, place)| {
        if *lap == 0 {
          format!("{} · grid P{place}", style.acronym)
        } else {
          format!("{} · lap {lap} · P{place}", style.acronym)
        }
      })
      .collect();
    let trace = Scatter::new(lap_numbers, places)
      .name(&style.acronym)
      .mode(Mode::LinesMarkers)
      .line(style.line())
      .marker(Marker::new().color(style.colour.clone()).size(4))
      .text_array(texts)
      .hover_template("%{text}<extra></extra>");
    figure.add(trace);
  }
  let (shapes, labels) = lap_overlays(&periods, context.request.laps);
  figure.overlay(shapes, labels);
  Ok(figure.finish())
}

/// Which gap a gap chart draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GapKind {
  /// `intervals.gap_to_leader`.
  ToLeader,
  /// `intervals.interval`.
  ToCarAhead,
}

/// Dates, gaps in seconds and hover texts of one driver.
type GapSeries = (Vec<String>, Vec<f64>, Vec<String>);

/// Gap to the leader or to the car ahead over time; lapped samples (`+1 LAP`) are omitted with a note.
pub(crate) async fn gaps<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
  kind: GapKind,
) -> Result<Value, ChartError> {
  let session_key = context.session.session_key;
  let rows = intervals::Entity::find()
    .filter(intervals::Column::SessionKey.eq(session_key))
    .order_by_asc(intervals::Column::Date)
    .all(connection)
    .await?;
  let periods = load_flag_periods(connection, session_key).await?;
  let mut by_driver: BTreeMap<i32, GapSeries> = BTreeMap::new();
  let mut omitted = 0_usize;
  for row in &rows {
    if !context.shows(row.driver_number) {
      continue;
    }
    let (seconds, text) = match kind {
      GapKind::ToLeader => (row.gap_to_leader, row.gap_to_leader_text.as_deref()),
      GapKind::ToCarAhead => (row.interval, row.interval_text.as_deref()),
    };
    let Some(seconds) = seconds else {
      if text.is_some() {
        omitted += 1;
      }
      continue;
    };
    let acronym = context.driver(row.driver_number).acronym;
    let entry = by_driver.entry(row.driver_number).or_default();
    entry.0.push(plotly_date(&row.date));
    entry.1.push(seconds);
    entry.2.push(format!(
      "{acronym} · {} · {seconds:.3} s",
      row.date.format("%H:%M:%S")
    ));
  }
  if by_driver.is_empty() {
    return Ok(empty_figure(&context.title, None));
  }
  let y_title = match kind {
    GapKind::ToLeader => "Gap to leader (s)",
    GapKind::ToCarAhead => "Interval to car ahead (s)",
  };
  let layout = base_layout(&context.title)
    .x_axis(
      Axis::new()
        .title(Title::with_text("Time (UTC)"))
        .type_(AxisType::Date),
    )
    .y_axis(Axis::new().title(Title::with_text(y_title)).zero_line(true))
    .hover_mode(HoverMode::Closest);
  let mut figure = Figure::new(layout);
  for number in context.ordered_numbers(by_driver.keys().copied()) {
    let Some((dates, seconds, texts)) = by_driver.remove(&number) else {
      continue;
    };
    let style = context.driver(number);
    let trace = Scatter::new(dates, seconds)
      .name(&style.acronym)
      .mode(Mode::Lines)
      .line(style.line())
      .text_array(texts)
      .hover_template("%{text}<extra></extra>");
    figure.add(trace);
  }
  let (shapes, labels) = time_overlays(&periods);
  figure.overlay(shapes, labels);
  if omitted > 0 {
    figure.annotate(note(&format!(
      "{omitted} samples of lapped cars (\"+1 LAP\") are omitted: they have no gap in seconds."
    )));
  }
  Ok(figure.finish())
}

/// One bar per pit stop: time in the pit lane, plus stationary time when known.
pub(crate) async fn pit_stops<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<Value, ChartError> {
  let mut stops: Vec<_> = load_pits(connection, context.session.session_key)
    .await?
    .into_iter()
    .filter(|stop| context.shows(stop.driver_number) && context.in_lap_range(stop.lap_number))
    .filter_map(|stop| {
      let lane = stop.lane_duration.or(stop.pit_duration);
      (lane.is_some() || stop.stop_duration.is_some()).then_some((stop, lane))
    })
    .collect();
  if stops.is_empty() {
    return Ok(empty_figure(&context.title, None));
  }
  stops.sort_by(|left, right| {
    let left_time = left.0.stop_duration.or(left.1).unwrap_or(f64::MAX);
    let right_time = right.0.stop_duration.or(right.1).unwrap_or(f64::MAX);
    left_time.total_cmp(&right_time)
  });
  let labels: Vec<String> = stops
    .iter()
    .map(|(stop, _)| {
      format!(
        "{} L{}",
        context.driver(stop.driver_number).acronym,
        stop.lap_number
      )
    })
    .collect();
  let colours: Vec<String> = stops
    .iter()
    .map(|(stop, _)| context.driver(stop.driver_number).colour)
    .collect();
  let layout = base_layout(&context.title)
    .bar_mode(BarMode::Group)
    .x_axis(
      Axis::new()
        .title(Title::with_text("Stop (driver, lap)"))
        .type_(AxisType::Category),
    )
    .y_axis(Axis::new().title(Title::with_text("Duration (s)")));
  let mut figure = Figure::new(layout);
  let lane: Vec<Option<f64>> = stops.iter().map(|(_, lane)| *lane).collect();
  let stationary: Vec<Option<f64>> = stops.iter().map(|(stop, _)| stop.stop_duration).collect();
  // The pit lane time, then the (lighter) stationary time, each when some stop has it.
  for (name, durations, opacity) in [
    ("Pit lane time", lane, None),
    ("Stationary time", stationary, Some(0.55)),
  ] {
    if durations.iter().all(Option::is_none) {
      continue;
    }
    let texts: Vec<String> = durations
      .iter()
      .map(|value| {
        value
          .map(|value| format!("{value:.1} s"))
          .unwrap_or_default()
      })
      .collect();
    let mut marker = Marker::new().color_array(colours.clone());
    if let Some(opacity) = opacity {
      marker = marker.opacity(opacity);
    }
    let trace = Bar::new(labels.clone(), durations)
      .name(name)
      .marker(marker)
      .text_array(texts);
    figure.add(trace);
  }
  Ok(figure.finish())
}

/// The category axis of drivers (by acronym) in classification order.
fn classification_axis(acronyms: Vec<String>) -> Axis {
  Axis::new()
    .title(Title::with_text("Driver (classification order)"))
    .type_(AxisType::Category)
    .category_order(CategoryOrder::Array)
    .category_array(acronyms)
}

/// Overtakes made (up) and suffered (down) per driver, in classification order and team colours.
pub(crate) async fn overtakes<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<Value, ChartError> {
  let rows = overtakes::Entity::find()
    .filter(overtakes::Column::SessionKey.eq(context.session.session_key))
    .all(connection)
    .await?;
  let mut made: HashMap<i32, i32> = HashMap::new();
  let mut suffered: HashMap<i32, i32> = HashMap::new();
  for row in &rows {
    *made.entry(row.overtaking_driver_number).or_default() += 1;
    *suffered.entry(row.overtaken_driver_number).or_default() += 1;
  }
  let numbers = context.ordered_numbers(
    made
      .keys()
      .chain(suffered.keys())
      .copied()
      .collect::<Vec<_>>(),
  );
  let numbers: Vec<i32> = numbers
    .into_iter()
    .filter(|number| made.contains_key(number) || suffered.contains_key(number))
    .collect();
  if numbers.is_empty() {
    return Ok(empty_figure(
      &context.title,
      Some("no overtakes recorded for the chosen drivers"),
    ));
  }
  let acronyms: Vec<String> = numbers
    .iter()
    .map(|number| context.driver(*number).acronym)
    .collect();
  let colours: Vec<String> = numbers
    .iter()
    .map(|number| context.driver(*number).colour)
    .collect();
  let count = |counts: &HashMap<i32, i32>, number: &i32| counts.get(number).copied().unwrap_or(0);
  let hover: Vec<String> = numbers
    .iter()
    .zip(&acronyms)
    .map(|(number, acronym)| {
      format!(
        "{acronym}: made {}, suffered {}",
        count(&made, number),
        count(&suffered, number)
      )
    })
    .collect();
  let layout = base_layout(&context.title)
    .bar_mode(BarMode::Relative)
    .x_axis(classification_axis(acronyms.clone()))
    .y_axis(
      Axis::new()
        .title(Title::with_text("Overtakes made (up) and suffered (down)"))
        .zero_line(true),
    )
    .hover_mode(HoverMode::Closest);
  let mut figure = Figure::new(layout);
  let made_counts: Vec<i32> = numbers.iter().map(|number| count(&made, number)).collect();
  let suffered_counts: Vec<i32> = numbers
    .iter()
    .map(|number| -count(&suffered, number))
    .collect();
  figure.add(
    Bar::new(acronyms.clone(), made_counts.clone())
      .name("Made")
      .marker(Marker::new().color_array(colours.clone()))
      .text_array(made_counts.iter().map(ToString::to_string).collect())
      .hover_text_array(hover.clone())
      .hover_info(HoverInfo::Text),
  );
  let object = figure.add(
    Bar::new(acronyms, suffered_counts.clone())
      .name("Suffered")
      .marker(Marker::new().color_array(colours).opacity(0.45))
      .text_array(
        suffered_counts
          .iter()
          .map(|value| value.abs().to_string())
          .collect(),
      )
      .hover_text_array(hover)
      .hover_info(HoverInfo::Text),
  );
  set_path(object, &["marker", "pattern", "shape"], json!("/"));
  figure.annotate(note(&format!(
    "{} overtakes recorded by Open F1 (races only; they include some position swaps from pit stops and \
     penalties, and may be incomplete).",
    rows.len()
  )));
  Ok(figure.finish())
}

/// Each driver's gap to the fastest time of each qualifying part (Q1, Q2, Q3), from the `duration` arrays
/// of `session_result`.
pub(crate) async fn qualifying_delta<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<Value, ChartError> {
  let results = session_result::Entity::find()
    .filter(session_result::Column::SessionKey.eq(context.session.session_key))
    .all(connection)
    .await?;
  let mut parts: [Vec<(i32, f64)>; 3] = Default::default();
  for result in &results {
    if !context.shows(result.driver_number) {
      continue;
    }
    let Some(Value::Array(times)) = &result.duration else {
      continue;
    };
    for (part, time) in parts.iter_mut().zip(times) {
      if let Some(time) = time.as_f64() {
        part.push((result.driver_number, time));
      }
    }
  }
  if parts.iter().all(Vec::is_empty) {
    return Ok(empty_figure(
      &context.title,
      Some("no Q1/Q2/Q3 times: is this a qualifying session?"),
    ));
  }
  let order = context.ordered_numbers(parts.iter().flatten().map(|(number, _)| *number));
  let categories: Vec<String> = order
    .iter()
    .map(|number| context.driver(*number).acronym)
    .collect();
  let layout = base_layout(&context.title)
    .bar_mode(BarMode::Group)
    .x_axis(classification_axis(categories))
    .y_axis(Axis::new().title(Title::with_text("Gap to the fastest time of the part (s)")));
  let mut figure = Figure::new(layout);
  for (index, part) in parts.iter().enumerate() {
    let Some(pole) = part.iter().map(|(_, time)| *time).min_by(f64::total_cmp) else {
      continue;
    };
    let mut entries: Vec<&(i32, f64)> = part.iter().collect();
    entries.sort_by_key(|(number, _)| order.iter().position(|shown| shown == number));
    let name = format!("Q{}", index + 1);
    let acronyms: Vec<String> = entries
      .iter()
      .map(|(number, _)| context.driver(*number).acronym)
      .collect();
    let gaps: Vec<f64> = entries.iter().map(|(_, time)| time - pole).collect();
    let hover: Vec<String> = entries
      .iter()
      .zip(&acronyms)
      .map(|((_, time), acronym)| {
        format!(
          "{acronym} · {name} · {} ({})",
          format_lap_time(*time),
          format_gap(time - pole)
        )
      })
      .collect();
    let colours: Vec<String> = entries
      .iter()
      .map(|(number, _)| context.driver(*number).colour)
      .collect();
    let trace = Bar::new(acronyms, gaps)
      .name(&name)
      .marker(
        Marker::new()
          .color_array(colours)
          .opacity([0.45, 0.7, 1.0][index]),
      )
      .hover_text_array(hover)
      .hover_info(HoverInfo::Text);
    figure.add(trace);
  }
  Ok(figure.finish())
}

/// Air and track temperature, humidity and rainfall over the session.
pub(crate) async fn weather<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<Value, ChartError> {
  let session_key = context.session.session_key;
  let rows = weather::Entity::find()
    .filter(weather::Column::SessionKey.eq(session_key))
    .order_by_asc(weather::Column::Date)
    .all(connection)
    .await?;
  if rows.is_empty() {
    return Ok(empty_figure(&context.title, None));
  }
  let periods = load_flag_periods(connection, session_key).await?;
  let dates: Vec<String> = rows.iter().map(|row| plotly_date(&row.date)).collect();
  let layout = base_layout(&context.title)
    .x_axis(
      Axis::new()
        .title(Title::with_text("Time (UTC)"))
        .type_(AxisType::Date),
    )
    .y_axis(Axis::new().title(Title::with_text("Temperature (°C)")))
    .y_axis2(
      Axis::new()
        .title(Title::with_text("Humidity (%)"))
        .overlaying("y")
        .side(AxisSide::Right)
        .range(AxisRange::new(0.0, 100.0))
        .show_grid(false),
    )
    .hover_mode(HoverMode::XUnified);
  let mut figure = Figure::new(layout);
  let series: [(&str, &str, Vec<Option<f64>>, &str); 3] = [
    (
      "Air temperature",
      "#4FC3F7",
      rows.iter().map(|row| row.air_temperature).collect(),
      "y",
    ),
    (
      "Track temperature",
      "#FF7043",
      rows.iter().map(|row| row.track_temperature).collect(),
      "y",
    ),
    (
      "Humidity",
      "#9575CD",
      rows.iter().map(|row| row.humidity).collect(),
      "y2",
    ),
  ];
  for (name, colour, values, axis) in series {
    if values.iter().all(Option::is_none) {
      continue;
    }
    let suffix = if axis == "y2" { " %" } else { " °C" };
    let trace = Scatter::new(dates.clone(), values)
      .name(name)
      .mode(Mode::Lines)
      .line(Line::new().color(colour).width(2.0))
      .y_axis(axis)
      .hover_template(format!("%{{y:.1f}}{suffix}"));
    figure.add(trace);
  }
  let rainfall: Vec<Option<f64>> = rows
    .iter()
    .map(|row| row.rainfall.map(|rain| if rain > 0 { 100.0 } else { 0.0 }))
    .collect();
  if rainfall.iter().any(Option::is_some) {
    let trace = Bar::new(dates, rainfall)
      .name("Rainfall")
      .y_axis("y2")
      .marker(Marker::new().color("#1E88E5").opacity(0.25))
      .hover_template("Rain: %{y:.0f}%");
    figure.add(trace);
  }
  if figure.trace_count() > 0 {
    let (shapes, labels) = time_overlays(&periods);
    figure.overlay(shapes, labels);
  }
  Ok(figure.finish())
}

/// Starting-grid position minus finishing position per classified driver.
pub(crate) async fn positions_gained<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<Value, ChartError> {
  let session_key = context.session.session_key;
  let mut grid = starting_grid_positions(connection, &context.session).await?;
  let mut grid_source = "starting grid";
  if grid.is_empty() {
    grid = load_positions(connection, session_key)
      .await?
      .into_iter()
      .filter_map(|(number, rows)| Some((number, rows.first()?.1)))
      .collect();
    grid_source = "first recorded position";
  }
  let mut entries: Vec<(i32, i32, i32)> = context
    .finishing_positions()
    .iter()
    .filter(|(number, _)| context.shows(**number))
    .filter_map(|(number, finished)| Some((*number, *grid.get(number)?, *finished)))
    .collect();
  if entries.is_empty() {
    return Ok(empty_figure(&context.title, None));
  }
  entries.sort_by_key(|(_, _, finished)| *finished);
  let acronyms: Vec<String> = entries
    .iter()
    .map(|(number, _, _)| context.driver(*number).acronym)
    .collect();
  let gained: Vec<i32> = entries
    .iter()
    .map(|(_, started, finished)| started - finished)
    .collect();
  let hover: Vec<String> = entries
    .iter()
    .zip(&acronyms)
    .map(|((_, started, finished), acronym)| {
      format!(
        "{acronym}: P{started} → P{finished} ({:+})",
        started - finished
      )
    })
    .collect();
  let layout = base_layout(&context.title)
    .x_axis(
      Axis::new()
        .title(Title::with_text("Driver (finishing order)"))
        .type_(AxisType::Category),
    )
    .y_axis(
      Axis::new()
        .title(Title::with_text("Positions gained"))
        .zero_line(true)
        .dtick(1.0),
    )
    .show_legend(false);
  let mut figure = Figure::new(layout);
  let trace = Bar::new(acronyms, gained.clone())
    .name("Positions gained")
    .marker(
      Marker::new().color_array(
        entries
          .iter()
          .map(|(number, _, _)| context.driver(*number).colour)
          .collect(),
      ),
    )
    .text_array(gained.iter().map(|value| format!("{value:+}")).collect())
    .hover_text_array(hover)
    .hover_info(HoverInfo::Text);
  figure.add(trace);
  figure.annotate(note(&format!(
    "Grid from the {grid_source}; drivers without a classified finish are left out."
  )));
  Ok(figure.finish())
}
