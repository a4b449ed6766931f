//! Season charts: cumulative championship points per driver across a year's races.

use std::collections::{BTreeMap, HashMap, HashSet};

use entity::{championship_drivers, drivers, meetings, session_result, sessions};
use plotly::Scatter;
use plotly::common::{Marker, Mode, Title};
use plotly::layout::{Axis, AxisType, CategoryOrder, HoverMode};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;

use super::context::driver_styles;
use super::figure::{Figure, base_layout, empty_figure};
use super::laps::note;
use super::{ChartError, ChartKind, ChartRequest};

/// Cumulative points per driver after each race (and sprint) of `year`, up to and including `up_to` when
/// given. A race's standings come from `championship_drivers.points_current` when stored, otherwise from the
/// previous standings plus that race's `session_result.points`.
pub(crate) async fn championship_progression<C: ConnectionTrait>(
  connection: &C,
  year: i32,
  up_to: Option<&sessions::Model>,
  request: &ChartRequest,
) -> Result<Value, ChartError> {
  let mut races = sessions::Entity::find()
    .filter(sessions::Column::Year.eq(year))
    .order_by_asc(sessions::Column::DateStart)
    .all(connection)
    .await?;
  if races.is_empty() {
    return Err(ChartError::NotFound(format!("season {year}")));
  }
  races.retain(|session| {
    session.session_type.as_deref() == Some("Race") && session.is_cancelled != Some(true)
  });
  if let Some(last) = up_to {
    races.retain(|session| session.date_start <= last.date_start);
  }
  let meeting_names: HashMap<i32, String> = meetings::Entity::find()
    .filter(meetings::Column::Year.eq(year))
    .all(connection)
    .await?
    .into_iter()
    .filter_map(|meeting| Some((meeting.meeting_key, meeting.meeting_name?)))
    .collect();
  let title = match up_to {
    Some(last) => format!(
      "{year} season up to {}: {}",
      race_label(last, &meeting_names),
      ChartKind::ChampionshipProgression.title()
    ),
    None => format!(
      "{year} season: {}",
      ChartKind::ChampionshipProgression.title()
    ),
  };

  let mut standings: HashMap<i32, f64> = HashMap::new();
  let mut labels: Vec<String> = Vec::new();
  let mut snapshots: Vec<HashMap<i32, f64>> = Vec::new();
  let mut latest_driver_rows: BTreeMap<i32, drivers::Model> = BTreeMap::new();
  let mut used_results = false;
  for race in &races {
    let championship = championship_drivers::Entity::find()
      .filter(championship_drivers::Column::SessionKey.eq(race.session_key))
      .all(connection)
      .await?;
    let with_points: Vec<_> = championship
      .iter()
      .filter_map(|row| Some((row.driver_number, row.points_current?)))
      .collect();
    if with_points.is_empty() {
      let results = session_result::Entity::find()
        .filter(session_result::Column::SessionKey.eq(race.session_key))
        .all(connection)
        .await?;
      if results.is_empty() {
        continue;
      }
      used_results = true;
      for result in results {
        *standings.entry(result.driver_number).or_default() += result.points.unwrap_or(0.0);
      }
    } else {
      for (number, points) in with_points {
        standings.insert(number, points);
      }
    }
    for row in drivers::Entity::find()
      .filter(drivers::Column::SessionKey.eq(race.session_key))
      .all(connection)
      .await?
    {
      latest_driver_rows.insert(row.driver_number, row);
    }
    labels.push(race_label(race, &meeting_names));
    snapshots.push(standings.clone());
  }
  if snapshots.is_empty() {
    return Ok(empty_figure(&title, None));
  }
  let seen: HashSet<i32> = standings.keys().copied().collect();
  let unknown: Vec<String> = request
    .drivers
    .iter()
    .filter(|number| !seen.contains(number))
    .map(ToString::to_string)
    .collect();
  if !unknown.is_empty() {
    return Err(ChartError::InvalidParameter {
      name: "drivers",
      message: format!(
        "car number(s) {} scored no result in {year}",
        unknown.join(", ")
      ),
    });
  }
  let rows: Vec<drivers::Model> = latest_driver_rows.into_values().collect();
  let styles: HashMap<i32, _> = driver_styles(&rows, &[])
    .into_iter()
    .map(|style| (style.number, style))
    .collect();
  let mut numbers: Vec<i32> = seen
    .into_iter()
    .filter(|number| request.drivers.is_empty() || request.drivers.contains(number))
    .collect();
  numbers.sort_by(|left, right| {
    let left_points = standings.get(left).copied().unwrap_or(0.0);
    let right_points = standings.get(right).copied().unwrap_or(0.0);
    right_points.total_cmp(&left_points).then(left.cmp(right))
  });
  let layout = base_layout(&title)
    .x_axis(
      Axis::new()
        .title(Title::with_text("Race"))
        .type_(AxisType::Category)
        .category_order(CategoryOrder::Array)
        .category_array(labels.clone()),
    )
    .y_axis(Axis::new().title(Title::with_text("Points")))
    .hover_mode(HoverMode::Closest);
  let mut figure = Figure::new(layout);
  for number in numbers {
    let style = styles.get(&number).cloned();
    let acronym = style
      .as_ref()
      .map_or_else(|| format!("#{number}"), |style| style.acronym.clone());
    let points: Vec<f64> = snapshots
      .iter()
      .map(|snapshot| snapshot.get(&number).copied().unwrap_or(0.0))
      .collect();
    let mut trace = Scatter::new(labels.clone(), points)
      .name(&acronym)
      .mode(Mode::LinesMarkers)
      .hover_template(format!("{acronym} · %{{x}}: %{{y}} pts<extra></extra>"));
    if let Some(style) = style {
      trace = trace
        .line(style.line())
        .marker(Marker::new().color(style.colour.clone()).size(5));
    }
    figure.add(trace);
  }
  figure.annotate(note(if used_results {
    "Points: championship standings where stored, otherwise summed race and sprint results."
  } else {
    "Points: championship standings after each race."
  }));
  Ok(figure.finish())
}

fn race_label(session: &sessions::Model, meeting_names: &HashMap<i32, String>) -> String {
  let event = meeting_names
    .get(&session.meeting_key)
    .map(|name| name.trim_end_matches(" Grand Prix").to_owned())
    .or_else(|| session.location.clone())
    .unwrap_or_else(|| format!("Meeting {}", session.meeting_key));
  match session.session_name.as_deref() {
    Some("Race") | None => event,
    Some(name) => format!("{event} ({name})"),
  }
}
