//! Charts from the ~3.7 Hz car telemetry over distance: two chosen laps compared channel by channel, and the
//! time delta between two laps (possibly of two sessions at the same circuit). Also the lap selection
//! (`drivers`, `reference`, `comparison`, `comparison_session`) shared with the track maps. Only the rows inside
//! each lap's time window are read.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{car_data, location, sessions};
use plotly::Scatter;
use plotly::common::{DashType, Line, LineShape, Mode, Title};
use plotly::layout::{Axis, HoverMode};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;

use super::context::{DriverStyle, SessionContext};
use super::figure::{Figure, base_layout, empty_figure, format_lap_time};
use super::laps::{load_laps, note};
use super::{ChartError, ChartKind, LapChoice};

/// A timed lap of one session and its time window.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TimedLap {
  /// Session of the lap.
  pub session_key: i32,
  /// Car number.
  pub driver: i32,
  /// Lap number.
  pub lap_number: i32,
  /// Start of the lap.
  pub start: DateTime<Utc>,
  /// Lap time in seconds.
  pub duration: f64,
}

impl TimedLap {
  fn from_row(row: &super::laps::Lap) -> Option<Self> {
    Some(Self {
      session_key: row.session_key,
      driver: row.driver_number,
      lap_number: row.lap_number,
      start: row.date_start?,
      duration: row.lap_duration?,
    })
  }

  /// End of the lap.
  pub(crate) fn end(&self) -> DateTime<Utc> {
    self.start + Duration::milliseconds((self.duration * 1000.0).round() as i64)
  }

  /// Seconds from the lap's start to `moment`.
  pub(crate) fn elapsed(&self, moment: DateTime<Utc>) -> f64 {
    (moment - self.start).num_milliseconds() as f64 / 1000.0
  }
}

/// Every driver's fastest timed lap (with a start time), fastest first.
pub(crate) fn fastest_laps(laps: &[super::laps::Lap]) -> Vec<TimedLap> {
  let mut best: HashMap<i32, TimedLap> = HashMap::new();
  for candidate in laps.iter().filter_map(TimedLap::from_row) {
    match best.get(&candidate.driver) {
      Some(current) if current.duration <= candidate.duration => {}
      _ => {
        best.insert(candidate.driver, candidate);
      }
    }
  }
  let mut laps: Vec<TimedLap> = best.into_values().collect();
  laps.sort_by(|left, right| {
    left
      .duration
      .total_cmp(&right.duration)
      .then(left.driver.cmp(&right.driver))
  });
  laps
}

/// The lap `choice` names among `laps` (of session `session_key`).
///
/// # Errors
/// [`ChartError::InvalidParameter`] naming `parameter` when the driver has no such lap, or the lap has no time
/// or start.
pub(crate) fn resolve_lap(
  laps: &[super::laps::Lap],
  session_key: i32,
  choice: LapChoice,
  parameter: &'static str,
) -> Result<TimedLap, ChartError> {
  let invalid = |message: String| ChartError::InvalidParameter {
    name: parameter,
    message,
  };
  let driver_laps: Vec<&super::laps::Lap> = laps
    .iter()
    .filter(|lap| lap.driver_number == choice.driver)
    .collect();
  if driver_laps.is_empty() {
    return Err(invalid(format!(
      "car {} has no laps in session {session_key}",
      choice.driver
    )));
  }
  match choice.lap {
    Some(number) => {
      let row = driver_laps
        .iter()
        .find(|lap| lap.lap_number == number)
        .ok_or_else(|| {
          let last = driver_laps
            .iter()
            .map(|lap| lap.lap_number)
            .max()
            .unwrap_or(0);
          invalid(format!(
            "car {} has no lap {number} in session {session_key} (its laps run to {last})",
            choice.driver
          ))
        })?;
      TimedLap::from_row(row).ok_or_else(|| {
        invalid(format!(
          "lap {number} of car {} in session {session_key} has no recorded time or start; choose a timed lap",
          choice.driver
        ))
      })
    }
    None => fastest_laps(laps)
      .into_iter()
      .find(|lap| lap.driver == choice.driver)
      .ok_or_else(|| {
        invalid(format!(
          "car {} has no timed lap in session {session_key}",
          choice.driver
        ))
      }),
  }
}

/// A lap to draw, with the style and label of its driver.
#[derive(Clone, Debug)]
pub(crate) struct ChosenLap {
  /// The lap.
  pub lap: TimedLap,
  /// How its driver is drawn.
  pub style: DriverStyle,
  /// `VER lap 39 (1:32.608)`, with the session when it is not the charted one.
  pub label: String,
}

fn chosen(lap: TimedLap, context: &SessionContext, session_label: Option<&str>) -> ChosenLap {
  let style = context.driver(lap.driver);
  let mut label = format!(
    "{} lap {} ({})",
    style.acronym,
    lap.lap_number,
    format_lap_time(lap.duration)
  );
  if let Some(session_label) = session_label {
    label.push_str(&format!(", {session_label}"));
  }
  ChosenLap { lap, style, label }
}

/// The one lap a track map draws: `reference`, or the fastest lap of the one driver in `drivers`, or the
/// session's fastest lap. `None` when the session has no timed lap (or the chosen driver none).
///
/// # Errors
/// [`ChartError::InvalidParameter`] when both `drivers` and `reference` are set, `drivers` names more than one
/// driver, or `reference` names a lap that does not exist.
pub(crate) async fn one_lap<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<Option<ChosenLap>, ChartError> {
  let session_key = context.session.session_key;
  let laps = load_laps(connection, session_key).await?;
  if context.request.reference.is_some() && !context.request.drivers.is_empty() {
    return Err(either_drivers_or_laps());
  }
  if context.request.drivers.len() > 1 {
    return Err(ChartError::InvalidParameter {
      name: "drivers",
      message: format!(
        "this chart shows exactly 1 driver; {} given",
        context.request.drivers.len()
      ),
    });
  }
  let lap = match (context.request.reference, context.request.drivers.first()) {
    (Some(choice), _) => Some(resolve_lap(&laps, session_key, choice, "reference")?),
    (None, Some(driver)) => fastest_laps(&laps)
      .into_iter()
      .find(|lap| lap.driver == *driver),
    (None, None) => fastest_laps(&laps).into_iter().next(),
  };
  Ok(lap.map(|lap| chosen(lap, context, None)))
}

fn either_drivers_or_laps() -> ChartError {
  ChartError::InvalidParameter {
    name: "drivers",
    message: "give either `drivers` (their fastest laps) or `reference`/`comparison` (chosen laps), not both"
      .to_owned(),
  }
}

/// The two laps a comparison draws (reference first). Fewer than two when the session has fewer timed laps.
///
/// With `drivers` (exactly two): their fastest laps. Otherwise the `reference` lap (default: the session's
/// fastest) and the `comparison` lap, looked up in `comparison_session` when given (default: the reference
/// driver's fastest lap there; without a comparison session, the next-fastest driver's fastest lap).
///
/// # Errors
/// [`ChartError::InvalidParameter`] for a wrong driver count, `drivers` mixed with chosen laps, a lap that does
/// not exist, or a comparison session that is unknown or at another circuit.
pub(crate) async fn two_laps<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
  kind: ChartKind,
) -> Result<Vec<ChosenLap>, ChartError> {
  let session_key = context.session.session_key;
  let chose_laps = context.request.reference.is_some()
    || context.request.comparison.is_some()
    || context.request.comparison_session.is_some();
  if !context.request.drivers.is_empty() && chose_laps {
    return Err(either_drivers_or_laps());
  }
  let laps = load_laps(connection, session_key).await?;
  let fastest = fastest_laps(&laps);
  if !context.request.drivers.is_empty() {
    if context.request.drivers.len() != 2 {
      return Err(ChartError::InvalidParameter {
        name: "drivers",
        message: format!(
          "this chart shows exactly 2 drivers; {} given",
          context.request.drivers.len()
        ),
      });
    }
    return Ok(
      context
        .request
        .drivers
        .iter()
        .filter_map(|number| fastest.iter().find(|lap| lap.driver == *number).cloned())
        .map(|lap| chosen(lap, context, None))
        .collect(),
    );
  }
  let comparison_context = match context.request.comparison_session {
    Some(other) if other != session_key => {
      Some(comparison_session(connection, context, other, kind).await?)
    }
    _ => None,
  };
  let reference = match context.request.reference {
    Some(choice) => Some(resolve_lap(&laps, session_key, choice, "reference")?),
    None => fastest.first().cloned(),
  };
  let (comparison_laps, comparison_key) = match &comparison_context {
    Some(other) => (
      load_laps(connection, other.session.session_key).await?,
      other.session.session_key,
    ),
    None => (Vec::new(), session_key),
  };
  let comparison_pool = if comparison_context.is_some() {
    &comparison_laps
  } else {
    &laps
  };
  let comparison = match context.request.comparison {
    Some(choice) => Some(resolve_lap(
      comparison_pool,
      comparison_key,
      choice,
      "comparison",
    )?),
    None => {
      let candidates = fastest_laps(comparison_pool);
      match (&comparison_context, &reference) {
        (Some(_), Some(reference)) => candidates
          .iter()
          .find(|lap| lap.driver == reference.driver)
          .or(candidates.first())
          .cloned(),
        (Some(_), None) => candidates.first().cloned(),
        (None, Some(reference)) => candidates
          .iter()
          .find(|lap| lap.driver != reference.driver)
          .cloned(),
        (None, None) => None,
      }
    }
  };
  let mut result = Vec::new();
  if let Some(reference) = reference {
    result.push(chosen(reference, context, None));
  }
  if let Some(comparison) = comparison {
    match &comparison_context {
      Some(other) => {
        let label = super::context::event_title(&other.session, other.meeting.as_ref());
        result.push(chosen(comparison, &other.context, Some(&label)));
      }
      None => result.push(chosen(comparison, context, None)),
    }
  }
  Ok(result)
}

/// The compared session and its drivers.
struct ComparisonSession {
  session: sessions::Model,
  meeting: Option<entity::meetings::Model>,
  context: SessionContext,
}

async fn comparison_session<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
  session_key: i32,
  kind: ChartKind,
) -> Result<ComparisonSession, ChartError> {
  let other = match SessionContext::load(connection, session_key, kind, &context.request).await {
    Ok(other) => other,
    Err(ChartError::NotFound(_)) => {
      return Err(ChartError::InvalidParameter {
        name: "comparison_session",
        message: format!("there is no session {session_key}"),
      });
    }
    Err(error) => return Err(error),
  };
  let circuit = |session: &sessions::Model| {
    session
      .circuit_short_name
      .clone()
      .unwrap_or_else(|| format!("circuit {:?}", session.circuit_key))
  };
  if other.session.circuit_key.is_none() || other.session.circuit_key != context.session.circuit_key
  {
    return Err(ChartError::InvalidParameter {
      name: "comparison_session",
      message: format!(
        "session {session_key} ran at {}, not at {} like session {}: laps compare only on one circuit",
        circuit(&other.session),
        circuit(&context.session),
        context.session.session_key
      ),
    });
  }
  let meeting = entity::meetings::Entity::find_by_id(other.session.meeting_key)
    .one(connection)
    .await?;
  Ok(ComparisonSession {
    session: other.session.clone(),
    meeting,
    context: other,
  })
}

/// The car telemetry of `lap`, in time order.
pub(crate) async fn car_data_in_lap<C: ConnectionTrait>(
  connection: &C,
  lap: &TimedLap,
) -> Result<Vec<car_data::Model>, DbErr> {
  car_data::Entity::find()
    .filter(car_data::Column::SessionKey.eq(lap.session_key))
    .filter(car_data::Column::DriverNumber.eq(lap.driver))
    .filter(car_data::Column::Date.between(lap.start, lap.end()))
    .order_by_asc(car_data::Column::Date)
    .all(connection)
    .await
}

/// The car positions of `lap`, in time order (rows without coordinates left out).
pub(crate) async fn location_in_lap<C: ConnectionTrait>(
  connection: &C,
  lap: &TimedLap,
) -> Result<Vec<location::Model>, DbErr> {
  Ok(
    location::Entity::find()
      .filter(location::Column::SessionKey.eq(lap.session_key))
      .filter(location::Column::DriverNumber.eq(lap.driver))
      .filter(location::Column::Date.between(lap.start, lap.end()))
      .order_by_asc(location::Column::Date)
      .all(connection)
      .await?
      .into_iter()
      .filter(|point| point.x.is_some() && point.y.is_some())
      .collect(),
  )
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

/// Distance (m) of every sample of a lap, from its speeds.
pub(crate) fn sample_distances(samples: &[car_data::Model]) -> Vec<f64> {
  let timed: Vec<(DateTime<Utc>, f64)> = samples
    .iter()
    .map(|sample| (sample.date, f64::from(sample.speed.unwrap_or(0))))
    .collect();
  distances(&timed)
}

/// Linear interpolation of `ys` at `x` over ascending `xs` (clamped to the ends); `None` when empty.
pub(crate) fn interpolate(xs: &[f64], ys: &[f64], x: f64) -> Option<f64> {
  let count = xs.len().min(ys.len());
  if count == 0 {
    return None;
  }
  let index = xs[..count].partition_point(|value| *value < x);
  if index == 0 {
    return Some(ys[0]);
  }
  if index >= count {
    return Some(ys[count - 1]);
  }
  let (x0, x1, y0, y1) = (xs[index - 1], xs[index], ys[index - 1], ys[index]);
  if (x1 - x0).abs() <= f64::EPSILON {
    return Some(y1);
  }
  Some(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
}

/// Whether Open F1's `drs` code means the flap is open (10, 12 and 14; 8 is "eligible", 0 and 1 are off).
pub(crate) fn drs_open(code: i32) -> bool {
  matches!(code, 10 | 12 | 14)
}

/// The line of the lap at `index` of a comparison: the team colour, dashed for a team's second driver or
/// when the other lap has the same colour (teammates, or one driver in two sessions).
fn comparison_line(laps: &[ChosenLap], index: usize) -> Line {
  let lap = &laps[index];
  let shares_colour = index > 0 && laps[0].style.colour == lap.style.colour;
  let line = Line::new().color(lap.style.colour.clone()).width(1.5);
  if lap.style.second_in_team || shares_colour {
    line.dash(DashType::Dash)
  } else {
    line
  }
}

/// Speed, throttle, brake, gear, RPM and DRS over distance on two chosen laps (six stacked panels, one trace
/// per lap and panel).
pub(crate) async fn telemetry_comparison<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<Value, ChartError> {
  let chosen_laps = two_laps(connection, context, ChartKind::TelemetryComparison).await?;
  let mut drawn = Vec::new();
  for chosen in chosen_laps {
    let samples = car_data_in_lap(connection, &chosen.lap).await?;
    if samples.len() >= 2 {
      drawn.push((chosen, samples));
    }
  }
  if drawn.is_empty() {
    return Ok(empty_figure(
      &context.title,
      Some("no car telemetry (car_data) on the chosen laps"),
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
    .y_axis(panel("Speed (km/h)", &[0.64, 1.0]))
    .y_axis2(panel("Throttle (%)", &[0.51, 0.61]))
    .y_axis3(panel("Brake", &[0.39, 0.48]))
    .y_axis4(panel("Gear", &[0.26, 0.36]))
    .y_axis5(panel("RPM", &[0.13, 0.23]))
    .y_axis6(panel("DRS open", &[0.0, 0.1]).range(plotly::layout::AxisRange::new(-0.1, 1.1)))
    .hover_mode(HoverMode::XUnified)
    .height(900);
  let mut figure = Figure::new(layout);
  let laps: Vec<ChosenLap> = drawn.iter().map(|(chosen, _)| chosen.clone()).collect();
  let mut drs_reported = false;
  for (index, (chosen, samples)) in drawn.iter().enumerate() {
    let distance = sample_distances(samples);
    let drs: Vec<Option<i32>> = samples
      .iter()
      .map(|sample| sample.drs.map(|code| i32::from(drs_open(code))))
      .collect();
    drs_reported |= drs.iter().any(Option::is_some);
    let channels: [(&str, Vec<Option<i32>>, bool); 6] = [
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
      (
        "y5",
        samples.iter().map(|sample| sample.rpm).collect(),
        false,
      ),
      ("y6", drs, false),
    ];
    for (axis, values, shows_legend) in channels {
      let mut line = comparison_line(&laps, index);
      if matches!(axis, "y3" | "y4" | "y6") {
        line = line.shape(LineShape::Hv);
      }
      let trace = Scatter::new(distance.clone(), values)
        .name(&chosen.label)
        .legend_group(&chosen.label)
        .show_legend(shows_legend)
        .mode(Mode::Lines)
        .line(line)
        .y_axis(axis);
      figure.add(trace);
    }
  }
  let mut text = format!(
    "{}. Distance integrates speed over time.",
    laps
      .iter()
      .map(|lap| lap.label.clone())
      .collect::<Vec<_>>()
      .join(" vs ")
  );
  if !drs_reported {
    text.push_str(" DRS is not reported for these laps (Open F1 sends none from 2026).");
  }
  figure.annotate(note(&text));
  Ok(figure.finish())
}

/// Elapsed seconds and distance of every sample of a lap.
fn elapsed_and_distance(lap: &TimedLap, samples: &[car_data::Model]) -> (Vec<f64>, Vec<f64>) {
  (
    samples
      .iter()
      .map(|sample| lap.elapsed(sample.date))
      .collect(),
    sample_distances(samples),
  )
}

/// The time difference over distance between a reference lap and a comparison lap (top panel), with both laps'
/// speed (bottom panel). Positive means the comparison lap is behind.
pub(crate) async fn lap_delta<C: ConnectionTrait>(
  connection: &C,
  context: &SessionContext,
) -> Result<Value, ChartError> {
  let chosen_laps = two_laps(connection, context, ChartKind::LapDelta).await?;
  if chosen_laps.len() < 2 {
    return Ok(empty_figure(
      &context.title,
      Some("two timed laps are needed for a delta"),
    ));
  }
  let reference = &chosen_laps[0];
  let comparison = &chosen_laps[1];
  let reference_samples = car_data_in_lap(connection, &reference.lap).await?;
  let comparison_samples = car_data_in_lap(connection, &comparison.lap).await?;
  if reference_samples.len() < 2 || comparison_samples.len() < 2 {
    return Ok(empty_figure(
      &context.title,
      Some("no car telemetry (car_data) on one of the chosen laps"),
    ));
  }
  let (reference_time, reference_distance) =
    elapsed_and_distance(&reference.lap, &reference_samples);
  let (comparison_time, comparison_distance) =
    elapsed_and_distance(&comparison.lap, &comparison_samples);
  let reference_length = reference_distance.last().copied().unwrap_or(0.0);
  let comparison_length = comparison_distance.last().copied().unwrap_or(0.0);
  let scale = if comparison_length > 0.0 && reference_length > 0.0 {
    reference_length / comparison_length
  } else {
    1.0
  };
  let scaled: Vec<f64> = comparison_distance
    .iter()
    .map(|distance| distance * scale)
    .collect();
  let delta: Vec<f64> = reference_distance
    .iter()
    .zip(&reference_time)
    .filter_map(|(distance, time)| {
      interpolate(&scaled, &comparison_time, *distance).map(|other| other - time)
    })
    .collect();
  let layout = base_layout(&context.title)
    .x_axis(Axis::new().title(Title::with_text("Distance into the lap (m)")))
    .y_axis(
      Axis::new()
        .title(Title::with_text("Delta (s, + = comparison behind)"))
        .domain(&[0.45, 1.0])
        .anchor("x")
        .zero_line(true),
    )
    .y_axis2(
      Axis::new()
        .title(Title::with_text("Speed (km/h)"))
        .domain(&[0.0, 0.38])
        .anchor("x"),
    )
    .hover_mode(HoverMode::XUnified)
    .height(720);
  let mut figure = Figure::new(layout);
  figure.add(
    Scatter::new(reference_distance.clone(), delta)
      .name(format!("{} vs {}", comparison.label, reference.label))
      .mode(Mode::Lines)
      .line(comparison_line(&chosen_laps, 1).width(2.0))
      .hover_template("%{y:+.3f} s<extra></extra>"),
  );
  for (index, (distance, samples)) in [
    (reference_distance, &reference_samples),
    (scaled, &comparison_samples),
  ]
  .into_iter()
  .enumerate()
  {
    figure.add(
      Scatter::new(
        distance,
        samples
          .iter()
          .map(|sample| sample.speed)
          .collect::<Vec<_>>(),
      )
      .name(&chosen_laps[index].label)
      .mode(Mode::Lines)
      .line(comparison_line(&chosen_laps, index))
      .y_axis("y2"),
    );
  }
  figure.annotate(note(&format!(
    "Delta = comparison time − reference time at equal distance; reference {}, comparison {}. Distance \
     integrates speed over time; the comparison lap is scaled to the reference lap's length (×{scale:.4}).",
    reference.label, comparison.label
  )));
  Ok(figure.finish())
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn interpolation_is_linear_inside_and_clamped_outside() {
    let xs = [0.0, 10.0, 20.0];
    let ys = [0.0, 1.0, 3.0];
    assert_eq!(interpolate(&xs, &ys, 5.0), Some(0.5));
    assert_eq!(interpolate(&xs, &ys, 15.0), Some(2.0));
    assert_eq!(interpolate(&xs, &ys, -1.0), Some(0.0));
    assert_eq!(interpolate(&xs, &ys, 25.0), Some(3.0));
    assert_eq!(interpolate(&[], &[], 1.0), None);
  }

  #[test]
  fn drs_is_open_only_for_the_open_codes() {
    assert!(drs_open(12) && drs_open(10) && drs_open(14));
    assert!(!drs_open(8) && !drs_open(0) && !drs_open(1));
  }
}
