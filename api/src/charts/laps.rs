//! Charts drawn from the `laps` table: lap times, lap-time distribution, team pace, sectors, speed traps.

use std::collections::{BTreeMap, HashSet};

use entity::{laps, pit, stints};
use plotly::common::{Font, HoverInfo, Marker, Mode, Title};
use plotly::layout::{Annotation, Axis, AxisRange, BarMode, HoverMode};
use plotly::{Bar, BoxPlot, Scatter};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use serde_json::{Value, json};

use super::ChartError;
use super::context::{DriverStyle, SessionContext};
use super::figure::{
  Figure, base_layout, compound_symbol, empty_figure, format_gap, format_lap_time, lap_time_axis,
  median,
};
use super::flags::{FlagPeriod, lap_overlays, load_flag_periods};

/// Which laps count as representative pace in the lap-time distribution and team pace charts.
pub const CLEAN_LAP_RULE: &str = "Clean laps: a recorded lap time, not lap 1, not a pit-out lap, not an \
in-lap (a lap with a pit stop recorded, or the lap before a pit-out lap), not under a safety car, virtual \
safety car or red flag, and no slower than 107% of the driver's median of the laps passing those rules.";

/// A lap as the charts read it: [`laps::Timing`], every column of `laps` but the mini-sector codes (no chart draws
/// them, and decoding their JSON cost more than the rest of the row).
pub(crate) use laps::Timing as Lap;

/// Every lap of a session ([`Lap`]: only the columns charts read), ordered by driver and lap.
pub(crate) async fn load_laps<C: ConnectionTrait>(
  connection: &C,
  session_key: i32,
) -> Result<Vec<Lap>, DbErr> {
  laps::Entity::find()
    .filter(laps::Column::SessionKey.eq(session_key))
    .order_by_asc(laps::Column::DriverNumber)
    .order_by_asc(laps::Column::LapNumber)
    .into_partial_model::<Lap>()
    .all(connection)
    .await
}

/// Every stint of a session.
pub(crate) async fn load_stints<C: ConnectionTrait>(
  connection: &C,
  session_key: i32,
) -> Result<Vec<stints::Model>, DbErr> {
  stints::Entity::find()
    .filter(stints::Column::SessionKey.eq(session_key))
    .order_by_asc(stints::Column::DriverNumber)
    .order_by_asc(stints::Column::StintNumber)
    .all(connection)
    .await
}

/// Every pit stop of a session.
pub(crate) async fn load_pits<C: ConnectionTrait>(
  connection: &C,
  session_key: i32,
) -> Result<Vec<pit::Model>, DbErr> {
  pit::Entity::find()
    .filter(pit::Column::SessionKey.eq(session_key))
    .all(connection)
    .await
}

/// The stint of `driver` covering `lap`.
pub(crate) fn stint_of(stints: &[stints::Model], driver: i32, lap: i32) -> Option<&stints::Model> {
  stints
    .iter()
    .filter(|stint| stint.driver_number == driver)
    .find(|stint| {
      stint.lap_start.is_some_and(|start| start <= lap)
        && stint.lap_end.is_none_or(|end| lap <= end)
    })
}

/// Sets `value` at `path` inside a JSON object, creating objects on the way.
pub(crate) fn set_path(object: &mut serde_json::Map<String, Value>, path: &[&str], value: Value) {
  let Some((last, parents)) = path.split_last() else {
    return;
  };
  let mut current = object;
  for key in parents {
    let entry = current
      .entry((*key).to_owned())
      .or_insert_with(|| json!({}));
    if !entry.is_object() {
      *entry = json!({});
    }
    let Value::Object(next) = entry else {
      return;
    };
    current = next;
  }
  current.insert((*last).to_owned(), value);
}

/// Lap time of every lap per driver.
pub(crate) async fn lap_times<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<Value, ChartError> {
  let session_key = context.session.session_key;
  let laps = load_laps(connection, session_key).await?;
  let stints = load_stints(connection, session_key).await?;
  let periods = load_flag_periods(connection, session_key).await?;
  let mut by_driver: BTreeMap<i32, Vec<(&Lap, f64)>> = BTreeMap::new();
  for lap in &laps {
    if let Some(duration) = lap.lap_duration
      && context.shows(lap.driver_number)
      && context.in_lap_range(lap.lap_number)
    {
      by_driver
        .entry(lap.driver_number)
        .or_default()
        .push((lap, duration));
    }
  }
  if by_driver.is_empty() {
    return Ok(empty_figure(&context.title, None));
  }
  let all_durations = by_driver.values().flatten().map(|(_, duration)| *duration);
  let layout = base_layout(&context.title)
    .x_axis(Axis::new().title(Title::with_text("Lap")))
    .y_axis(lap_time_axis(all_durations, "Lap time"))
    .hover_mode(HoverMode::Closest);
  let mut figure = Figure::new(layout);
  for number in context.ordered_numbers(by_driver.keys().copied()) {
    let Some(driver_laps) = by_driver.get(&number) else {
      continue;
    };
    let style = context.driver(number);
    let mut symbols = Vec::new();
    let mut texts = Vec::new();
    for (lap, duration) in driver_laps {
      let compound =
        stint_of(&stints, number, lap.lap_number).and_then(|stint| stint.compound.as_deref());
      let pit_out = lap.is_pit_out_lap.unwrap_or(false);
      symbols.push(compound_symbol(compound, pit_out));
      let mut text = format!(
        "{} · lap {} · {} · {}",
        style.acronym,
        lap.lap_number,
        format_lap_time(*duration),
        compound.unwrap_or("tyre unknown")
      );
      if pit_out {
        text.push_str(" · pit-out lap");
      }
      texts.push(text);
    }
    let trace = Scatter::new(
      driver_laps.iter().map(|(lap, _)| lap.lap_number).collect(),
      driver_laps.iter().map(|(_, duration)| *duration).collect(),
    )
    .name(&style.acronym)
    .mode(Mode::LinesMarkers)
    .line(style.line())
    .marker(Marker::new().color(style.colour.clone()).size(7))
    .text_array(texts)
    .hover_template("%{text}<extra></extra>");
    let object = figure.add(trace);
    set_path(object, &["marker", "symbol"], json!(symbols));
  }
  let (shapes, labels) = lap_overlays(&periods, context.request.laps);
  figure.overlay(shapes, labels);
  figure.annotate(note(
    "Marker: ● soft  ■ medium  ◆ hard  ▲ intermediate  ▼ wet  ✚ unknown; open marker = pit-out lap",
  ));
  Ok(figure.finish())
}

/// A small note under the plot area.
pub(crate) fn note(text: &str) -> Annotation {
  Annotation::new()
    .text(text)
    .x_ref("paper")
    .y_ref("paper")
    .x(0.0)
    .y(-0.2)
    .x_anchor(plotly::common::Anchor::Left)
    .show_arrow(false)
    .font(Font::new().size(11))
}

/// The clean laps (see [`CLEAN_LAP_RULE`]) of every driver, within the request's lap range and selection.
pub(crate) fn clean_laps<'laps>(
  context: &SessionContext,
  laps: &'laps [Lap],
  pits: &[pit::Model],
  periods: &[FlagPeriod],
) -> BTreeMap<i32, Vec<(&'laps Lap, f64)>> {
  let pit_laps: HashSet<(i32, i32)> = pits
    .iter()
    .map(|stop| (stop.driver_number, stop.lap_number))
    .collect();
  let pit_out_laps: HashSet<(i32, i32)> = laps
    .iter()
    .filter(|lap| lap.is_pit_out_lap.unwrap_or(false))
    .map(|lap| (lap.driver_number, lap.lap_number))
    .collect();
  let neutralised = |lap: i32| {
    periods.iter().any(|period| {
      period.start_lap.is_some_and(|start| {
        let end = period.end_lap.unwrap_or(start);
        (start..=end).contains(&lap)
      })
    })
  };
  let mut candidates: BTreeMap<i32, Vec<(&Lap, f64)>> = BTreeMap::new();
  for lap in laps {
    let key = (lap.driver_number, lap.lap_number);
    let Some(duration) = lap.lap_duration else {
      continue;
    };
    if lap.lap_number <= 1
      || pit_out_laps.contains(&key)
      || pit_laps.contains(&key)
      || pit_out_laps.contains(&(lap.driver_number, lap.lap_number + 1))
      || neutralised(lap.lap_number)
      || !context.shows(lap.driver_number)
      || !context.in_lap_range(lap.lap_number)
    {
      continue;
    }
    candidates
      .entry(lap.driver_number)
      .or_default()
      .push((lap, duration));
  }
  for driver_laps in candidates.values_mut() {
    let durations: Vec<f64> = driver_laps.iter().map(|(_, duration)| *duration).collect();
    if let Some(limit) = median(&durations).map(|median| median * 1.07) {
      driver_laps.retain(|(_, duration)| *duration <= limit);
    }
  }
  candidates.retain(|_, driver_laps| !driver_laps.is_empty());
  candidates
}

async fn load_clean_laps<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<(Vec<Lap>, Vec<pit::Model>, Vec<FlagPeriod>), DbErr> {
  let session_key = context.session.session_key;
  Ok((
    load_laps(connection, session_key).await?,
    load_pits(connection, session_key).await?,
    load_flag_periods(connection, session_key).await?,
  ))
}

/// Box plot of each driver's clean laps.
pub(crate) async fn lap_time_distribution<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<Value, ChartError> {
  let (laps, pits, periods) = load_clean_laps(connection, context).await?;
  let clean = clean_laps(context, &laps, &pits, &periods);
  if clean.is_empty() {
    return Ok(empty_figure(&context.title, None));
  }
  let all_durations = clean.values().flatten().map(|(_, duration)| *duration);
  let layout = base_layout(&context.title)
    .y_axis(lap_time_axis(all_durations, "Clean lap time"))
    .x_axis(Axis::new().title(Title::with_text("Driver")))
    .show_legend(false);
  let mut figure = Figure::new(layout);
  for number in context.ordered_numbers(clean.keys().copied()) {
    let Some(driver_laps) = clean.get(&number) else {
      continue;
    };
    let style = context.driver(number);
    let texts = driver_laps
      .iter()
      .map(|(lap, duration)| {
        format!(
          "{} · lap {} · {}",
          style.acronym,
          lap.lap_number,
          format_lap_time(*duration)
        )
      })
      .collect();
    let trace =
      BoxPlot::<f64, f64>::new(driver_laps.iter().map(|(_, duration)| *duration).collect())
        .name(&style.acronym)
        .marker(Marker::new().color(style.colour.clone()))
        .line(plotly::common::Line::new().color(style.colour.clone()))
        .box_points(plotly::box_plot::BoxPoints::All)
        .jitter(0.3)
        .point_pos(0.0)
        .text_array(texts)
        .hover_info(HoverInfo::Text);
    figure.add(trace);
  }
  figure.annotate(note(CLEAN_LAP_RULE));
  Ok(figure.finish())
}

/// A clean lap of a team: driver acronym, lap number, lap time.
type TeamLap = (String, i32, f64);

/// A box plot of each team's clean laps (both drivers together), fastest median first, in team colours.
pub(crate) async fn team_pace<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<Value, ChartError> {
  let (laps, pits, periods) = load_clean_laps(connection, context).await?;
  let clean = clean_laps(context, &laps, &pits, &periods);
  // team -> (colour, (driver acronym, lap, duration) of every clean lap)
  let mut by_team: BTreeMap<String, (String, Vec<TeamLap>)> = BTreeMap::new();
  for (number, driver_laps) in &clean {
    let style = context.driver(*number);
    let entry = by_team
      .entry(style.team.clone())
      .or_insert_with(|| (style.colour.clone(), Vec::new()));
    entry.1.extend(
      driver_laps
        .iter()
        .map(|(lap, duration)| (style.acronym.clone(), lap.lap_number, *duration)),
    );
  }
  // (team, colour, median, laps), fastest median first
  let mut ranking: Vec<(String, String, f64, Vec<TeamLap>)> = by_team
    .into_iter()
    .filter_map(|(team, (colour, laps))| {
      let durations: Vec<f64> = laps.iter().map(|(_, _, duration)| *duration).collect();
      Some((team, colour, median(&durations)?, laps))
    })
    .collect();
  if ranking.is_empty() {
    return Ok(empty_figure(&context.title, None));
  }
  ranking.sort_by(|left, right| left.2.total_cmp(&right.2));
  let fastest = ranking[0].2;
  let all_durations = ranking
    .iter()
    .flat_map(|entry| entry.3.iter().map(|(_, _, duration)| *duration));
  let layout = base_layout(&context.title)
    .y_axis(lap_time_axis(all_durations, "Clean lap time"))
    .x_axis(Axis::new().title(Title::with_text("Team (fastest median first)")))
    .show_legend(false);
  let mut figure = Figure::new(layout);
  for (team, colour, team_median, laps) in &ranking {
    let gap = if *team_median == fastest {
      "fastest".to_owned()
    } else {
      format_gap(team_median - fastest)
    };
    let texts = laps
      .iter()
      .map(|(acronym, lap, duration)| {
        format!(
          "{team} · {acronym} lap {lap} · {}<br>team median {} ({gap})",
          format_lap_time(*duration),
          format_lap_time(*team_median)
        )
      })
      .collect();
    let trace = BoxPlot::<f64, f64>::new(laps.iter().map(|(_, _, duration)| *duration).collect())
      .name(team)
      .marker(Marker::new().color(colour.clone()))
      .line(plotly::common::Line::new().color(colour.clone()))
      .box_points(plotly::box_plot::BoxPoints::Outliers)
      .text_array(texts)
      .hover_info(HoverInfo::Text);
    figure.add(trace);
  }
  figure.annotate(note(CLEAN_LAP_RULE));
  Ok(figure.finish())
}

/// The best of three measurements per lap (sector times, speeds) of every shown driver over the shown laps,
/// `better` choosing between two values; laps without any of the measurements are skipped.
fn best_per_driver<T: Copy>(
  context: &SessionContext,
  laps: &[Lap],
  measurements: impl Fn(&Lap) -> [Option<T>; 3],
  better: impl Fn(T, T) -> T,
) -> BTreeMap<i32, [Option<T>; 3]> {
  let mut best: BTreeMap<i32, [Option<T>; 3]> = BTreeMap::new();
  for lap in laps {
    if !context.shows(lap.driver_number) || !context.in_lap_range(lap.lap_number) {
      continue;
    }
    let values = measurements(lap);
    if values.iter().all(Option::is_none) {
      continue;
    }
    let entry = best.entry(lap.driver_number).or_default();
    for (slot, value) in entry.iter_mut().zip(values) {
      if let Some(value) = value {
        *slot = Some(slot.map_or(value, |current| better(current, value)));
      }
    }
  }
  best
}

/// One driver's group of bars (one per measuring point) in team colour, hatched for the team's second driver.
fn add_driver_bars<Y: Serialize + Clone + 'static>(
  figure: &mut Figure,
  style: &DriverStyle,
  names: [&'static str; 3],
  values: Vec<Y>,
  hover: Vec<String>,
) {
  let trace = Bar::new(names.to_vec(), values)
    .name(&style.acronym)
    .marker(Marker::new().color(style.colour.clone()))
    .hover_text_array(hover)
    .hover_info(HoverInfo::Text);
  let object = figure.add(trace);
  if style.second_in_team {
    set_path(object, &["marker", "pattern", "shape"], json!("/"));
  }
}

/// Each driver's best sector times as a gap to the best of the shown drivers.
pub(crate) async fn sector_comparison<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<Value, ChartError> {
  let laps = load_laps(connection, context.session.session_key).await?;
  let best = best_per_driver(
    context,
    &laps,
    |lap| {
      [
        lap.duration_sector_1,
        lap.duration_sector_2,
        lap.duration_sector_3,
      ]
    },
    f64::min,
  );
  if best.is_empty() {
    return Ok(empty_figure(&context.title, None));
  }
  let mut field_best = [f64::INFINITY; 3];
  for sectors in best.values() {
    for (field, value) in field_best.iter_mut().zip(sectors) {
      if let Some(value) = value {
        *field = field.min(*value);
      }
    }
  }
  let layout = base_layout(&context.title)
    .bar_mode(BarMode::Group)
    .y_axis(Axis::new().title(Title::with_text("Gap to the best sector (s)")))
    .x_axis(Axis::new().title(Title::with_text("Sector")));
  let mut figure = Figure::new(layout);
  let names = ["Sector 1", "Sector 2", "Sector 3"];
  for number in context.ordered_numbers(best.keys().copied()) {
    let Some(sectors) = best.get(&number) else {
      continue;
    };
    let style = context.driver(number);
    let gaps: Vec<Option<f64>> = sectors
      .iter()
      .zip(field_best)
      .map(|(value, field)| value.map(|value| value - field))
      .collect();
    let hover: Vec<String> = sectors
      .iter()
      .zip(names)
      .zip(field_best)
      .map(|((value, name), field)| match value {
        Some(value) => format!(
          "{} · {name}: {value:.3} s ({})",
          style.acronym,
          format_gap(value - field)
        ),
        None => format!("{} · {name}: no time", style.acronym),
      })
      .collect();
    add_driver_bars(&mut figure, &style, names, gaps, hover);
  }
  Ok(figure.finish())
}

/// Top speeds at the intermediates and the speed trap per driver.
pub(crate) async fn speed_traps<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<Value, ChartError> {
  let laps = load_laps(connection, context.session.session_key).await?;
  let top = best_per_driver(
    context,
    &laps,
    |lap| [lap.i1_speed, lap.i2_speed, lap.st_speed],
    Ord::max,
  );
  if top.is_empty() {
    return Ok(empty_figure(&context.title, None));
  }
  let all: Vec<i32> = top.values().flatten().flatten().copied().collect();
  let minimum = all.iter().copied().min().unwrap_or(0);
  let maximum = all.iter().copied().max().unwrap_or(0);
  let layout = base_layout(&context.title)
    .bar_mode(BarMode::Group)
    .y_axis(
      Axis::new()
        .title(Title::with_text("Top speed (km/h)"))
        .range(AxisRange::new(
          f64::from(minimum - 15).max(0.0),
          f64::from(maximum + 5),
        )),
    )
    .x_axis(Axis::new().title(Title::with_text("Measuring point")));
  let mut figure = Figure::new(layout);
  let names = ["Intermediate 1", "Intermediate 2", "Speed trap"];
  for number in context.ordered_numbers(top.keys().copied()) {
    let Some(speeds) = top.get(&number) else {
      continue;
    };
    let style = context.driver(number);
    let hover: Vec<String> = speeds
      .iter()
      .zip(names)
      .map(|(speed, name)| match speed {
        Some(speed) => format!("{} · {name}: {speed} km/h", style.acronym),
        None => format!("{} · {name}: no speed", style.acronym),
      })
      .collect();
    add_driver_bars(&mut figure, &style, names, speeds.to_vec(), hover);
  }
  Ok(figure.finish())
}
