//! Tyre degradation: clean-lap time against tyre age for every stint with a least-squares slope, and the same
//! with lap times corrected for the fuel burned ([`FUEL_MODEL`]).

use std::collections::BTreeMap;

use entity::stints;
use plotly::Scatter;
use plotly::common::{DashType, HoverInfo, Line, Marker, Mode, Title};
use plotly::layout::{Axis, HoverMode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use super::ChartError;
use super::context::SessionContext;
use super::figure::{
  Figure, base_layout, compound_symbol, empty_figure, format_lap_time, lap_time_axis,
};
use super::flags::load_flag_periods;
use super::laps::{clean_laps, load_laps, load_pits, load_stints, note, set_path, stint_of};

/// Assumed fuel on board at the start of a race, in kilograms: the race fuel limit of the FIA Formula 1
/// regulations from 2019 to 2025 (100 kg in 2014–2016, 105 kg in 2017–2018).
pub const FUEL_START_KILOGRAMS: f64 = 110.0;

/// Assumed lap-time cost of fuel: seconds per lap for each kilogram on board (a common engineering estimate).
pub const FUEL_SECONDS_PER_KILOGRAM: f64 = 0.03;

/// The fuel model of the fuel-corrected tyre-degradation chart, as stated on the chart.
pub const FUEL_MODEL: &str = "Fuel model (an estimate, not measured): 110 kg of fuel at the start (the 2019–2025 \
race fuel limit), burned evenly over the race distance; each kg on board costs 0.03 s per lap. Corrected time = lap \
time − 0.03 s × fuel on board at the start of the lap.";

/// A stint needs this many clean laps for a fitted slope.
const MINIMUM_LAPS_FOR_A_FIT: usize = 3;

/// Least-squares line `y = intercept + slope · x` through the points; `None` with fewer than
/// [`MINIMUM_LAPS_FOR_A_FIT`] points or a single x value.
pub(crate) fn fit_line(points: &[(f64, f64)]) -> Option<(f64, f64)> {
  if points.len() < MINIMUM_LAPS_FOR_A_FIT {
    return None;
  }
  let count = points.len() as f64;
  let mean_x = points.iter().map(|(x, _)| x).sum::<f64>() / count;
  let mean_y = points.iter().map(|(_, y)| y).sum::<f64>() / count;
  let covariance: f64 = points
    .iter()
    .map(|(x, y)| (x - mean_x) * (y - mean_y))
    .sum();
  let variance: f64 = points.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
  if variance <= f64::EPSILON {
    return None;
  }
  let slope = covariance / variance;
  Some((mean_y - slope * mean_x, slope))
}

/// The fuel on board at the start of `lap` of a race of `race_laps` laps, under [`FUEL_MODEL`].
pub(crate) fn fuel_on_board(lap: i32, race_laps: i32) -> f64 {
  let burned_share = f64::from(lap - 1) / f64::from(race_laps.max(1));
  FUEL_START_KILOGRAMS * (1.0 - burned_share).clamp(0.0, 1.0)
}

/// One stint's clean laps: (tyre age, lap time, lap number).
struct StintLaps<'stint> {
  stint: &'stint stints::Model,
  points: Vec<(f64, f64, i32)>,
}

/// Clean-lap time (fuel-corrected when `fuel_corrected`) against tyre age per stint, with fitted slopes.
pub(crate) async fn tyre_degradation<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
  fuel_corrected: bool,
) -> Result<Value, ChartError> {
  let session_key = context.session.session_key;
  let laps = load_laps(connection, session_key).await?;
  let pits = load_pits(connection, session_key).await?;
  let stints = load_stints(connection, session_key).await?;
  let periods = load_flag_periods(connection, session_key).await?;
  let race_laps = laps.iter().map(|lap| lap.lap_number).max().unwrap_or(0);
  let clean = clean_laps(context, &laps, &pits, &periods);
  let mut by_driver: BTreeMap<i32, Vec<StintLaps>> = BTreeMap::new();
  let mut unknown_ages = 0_usize;
  for (number, driver_laps) in &clean {
    let stints_of_driver = by_driver.entry(*number).or_default();
    for (lap, duration) in driver_laps {
      let Some(stint) = stint_of(&stints, *number, lap.lap_number) else {
        continue;
      };
      let start = stint.lap_start.unwrap_or(lap.lap_number);
      let age = stint.tyre_age_at_start.unwrap_or(0) + lap.lap_number - start;
      let time = if fuel_corrected {
        duration - FUEL_SECONDS_PER_KILOGRAM * fuel_on_board(lap.lap_number, race_laps)
      } else {
        *duration
      };
      match stints_of_driver
        .iter_mut()
        .find(|entry| entry.stint.stint_number == stint.stint_number)
      {
        Some(entry) => entry.points.push((f64::from(age), time, lap.lap_number)),
        None => {
          if stint.tyre_age_at_start.is_none() {
            unknown_ages += 1;
          }
          stints_of_driver.push(StintLaps {
            stint,
            points: vec![(f64::from(age), time, lap.lap_number)],
          });
        }
      }
    }
  }
  by_driver.retain(|_, stints| !stints.is_empty());
  if by_driver.is_empty() {
    return Ok(empty_figure(
      &context.title,
      Some("no clean laps inside a recorded stint"),
    ));
  }
  let all_times = by_driver
    .values()
    .flatten()
    .flat_map(|entry| entry.points.iter().map(|(_, time, _)| *time));
  let y_title = if fuel_corrected {
    "Fuel-corrected clean lap time"
  } else {
    "Clean lap time"
  };
  let layout = base_layout(&context.title)
    .x_axis(Axis::new().title(Title::with_text("Tyre age (laps)")))
    .y_axis(lap_time_axis(all_times, y_title))
    .hover_mode(HoverMode::Closest);
  let mut figure = Figure::new(layout);
  for number in context.ordered_numbers(by_driver.keys().copied()) {
    let Some(stints_of_driver) = by_driver.get_mut(&number) else {
      continue;
    };
    stints_of_driver.sort_by_key(|entry| entry.stint.stint_number);
    let style = context.driver(number);
    for entry in stints_of_driver.iter() {
      let compound = entry
        .stint
        .compound
        .clone()
        .unwrap_or_else(|| "UNKNOWN".to_owned())
        .to_uppercase();
      let fit = fit_line(
        &entry
          .points
          .iter()
          .map(|(age, time, _)| (*age, *time))
          .collect::<Vec<_>>(),
      );
      let slope_text = fit.map_or_else(
        || "too few laps for a slope".to_owned(),
        |(_, slope)| format!("{slope:+.3} s/lap"),
      );
      let name = format!(
        "{} · stint {} · {compound} · {slope_text}",
        style.acronym, entry.stint.stint_number
      );
      let texts: Vec<String> = entry
        .points
        .iter()
        .map(|(age, time, lap)| {
          format!(
            "{} · lap {lap} · {compound}, {age} laps old · {}",
            style.acronym,
            format_lap_time(*time)
          )
        })
        .collect();
      let symbol = compound_symbol(Some(compound.as_str()), false);
      let markers = Scatter::new(
        entry.points.iter().map(|(age, _, _)| *age).collect(),
        entry.points.iter().map(|(_, time, _)| *time).collect(),
      )
      .name(&name)
      .legend_group(&style.acronym)
      .mode(Mode::Markers)
      .marker(Marker::new().color(style.colour.clone()).size(7))
      .text_array(texts)
      .hover_template("%{text}<extra></extra>");
      let object = figure.add(markers);
      set_path(object, &["marker", "symbol"], json!(symbol));
      if let Some((intercept, slope)) = fit {
        let first = entry
          .points
          .iter()
          .map(|(age, _, _)| *age)
          .fold(f64::INFINITY, f64::min);
        let last = entry
          .points
          .iter()
          .map(|(age, _, _)| *age)
          .fold(f64::NEG_INFINITY, f64::max);
        let line =
          Line::new()
            .color(style.colour.clone())
            .width(2.0)
            .dash(if style.second_in_team {
              DashType::Dot
            } else {
              DashType::Dash
            });
        let fitted = Scatter::new(
          vec![first, last],
          vec![intercept + slope * first, intercept + slope * last],
        )
        .name(format!(
          "{} stint {} fit",
          style.acronym, entry.stint.stint_number
        ))
        .legend_group(&style.acronym)
        .show_legend(false)
        .mode(Mode::Lines)
        .line(line)
        .hover_info(HoverInfo::Text)
        .hover_text(format!(
          "{} · stint {} · {compound}: {slope:+.3} s/lap",
          style.acronym, entry.stint.stint_number
        ));
        figure.add(fitted);
      }
    }
  }
  let mut text =
    "Clean laps only (as in the lap-time distribution); the dashed line is a least-squares fit \
                  over a stint's clean laps (3 or more)."
      .to_owned();
  if unknown_ages > 0 {
    text.push_str(&format!(
      " {unknown_ages} stint(s) have no recorded tyre age at the start: counted from 0."
    ));
  }
  if fuel_corrected {
    text.push_str(&format!(
      "<br>{FUEL_MODEL} Race distance: {race_laps} laps."
    ));
  }
  figure.annotate(note(&text));
  Ok(figure.finish())
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn the_fitted_line_goes_through_points_on_a_line() {
    let points = [(1.0, 91.0), (2.0, 91.1), (3.0, 91.2), (4.0, 91.3)];
    let (intercept, slope) = fit_line(&points).expect("fit");
    assert!((slope - 0.1).abs() < 1e-9);
    assert!((intercept - 90.9).abs() < 1e-9);
    assert_eq!(fit_line(&points[..2]), None);
  }

  #[test]
  fn fuel_burns_evenly_from_the_full_load_to_the_last_lap() {
    assert_eq!(fuel_on_board(1, 57), FUEL_START_KILOGRAMS);
    assert!((fuel_on_board(57, 57) - FUEL_START_KILOGRAMS / 57.0).abs() < 1e-9);
    assert!(fuel_on_board(30, 57) < fuel_on_board(29, 57));
  }
}
