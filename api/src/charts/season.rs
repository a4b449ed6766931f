//! Season charts: drivers' and constructors' championship progression, the results heatmap and the teammate
//! head-to-head, all from the season's rounds and results ([`SeasonResults`], shared with the standings).

use std::collections::{BTreeMap, HashMap, HashSet};

use entity::sessions;
use plotly::common::{HoverInfo, Marker, MarkerSymbol, Mode, Orientation, Title};
use plotly::layout::{Axis, AxisType, BarMode, CategoryOrder, HoverMode, Layout};
use plotly::{Bar, HeatMap, Scatter};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use super::context::{DriverStyle, driver_styles};
use super::figure::{Figure, base_layout, empty_figure, team_colour};
use super::laps::{note, set_path};
use super::{ChartError, ChartKind, ChartRequest};
use crate::bodies::StandingsSource;
use crate::standings::{Round, SeasonResults, Snapshot, is_sprint};

/// Builds season chart `kind` of `year`.
pub(crate) async fn build<C: ConnectionTrait>(
  connection: &C,
  year: i32,
  kind: ChartKind,
  request: &ChartRequest,
) -> Result<Value, ChartError> {
  let season = SeasonResults::load(connection, year)
    .await?
    .ok_or_else(|| ChartError::NotFound(format!("season {year}")))?;
  let title = format!("{year} season: {}", kind.title());
  let chart = SeasonChart {
    season: &season,
    title,
    request,
  };
  match kind {
    ChartKind::ConstructorsProgression => Ok(chart.constructors_progression()),
    ChartKind::ResultsHeatmap => chart.results_heatmap(),
    ChartKind::TeammateHeadToHead => Ok(chart.teammate_head_to_head()),
    _ => chart.championship_progression(),
  }
}

/// `Bahrain`, or `Chinese (Sprint)` for a sprint: a compact label of a scoring session.
fn session_label(round: &Round, session: &sessions::Model) -> String {
  if is_sprint(session) {
    format!(
      "{} ({})",
      round.short_name(),
      session.session_name.as_deref().unwrap_or("Sprint")
    )
  } else {
    round.short_name()
  }
}

/// What every season chart is drawn from.
struct SeasonChart<'season> {
  season: &'season SeasonResults,
  title: String,
  request: &'season ChartRequest,
}

impl SeasonChart<'_> {
  /// The championship after every scoring session.
  fn snapshots(&self) -> Vec<Snapshot> {
    self.season.progression()
  }

  /// The drivers' and the teams' points after the season's last scoring session (none before it).
  fn final_points(&self) -> (BTreeMap<i32, f64>, BTreeMap<String, f64>) {
    self
      .snapshots()
      .pop()
      .map(|snapshot| (snapshot.drivers, snapshot.teams))
      .unwrap_or_default()
  }

  /// The layout of a points progression: points against the scoring sessions `labels`.
  fn progression_layout(&self, labels: Vec<String>) -> Layout {
    base_layout(&self.title)
      .x_axis(category_axis("Race", labels))
      .y_axis(Axis::new().title(Title::with_text("Points")))
      .hover_mode(HoverMode::Closest)
  }

  fn label(&self, snapshot: &Snapshot) -> String {
    session_label(&self.season.rounds[snapshot.round_index], &snapshot.session)
  }

  /// Driver styles (acronym, team colour) from the latest drivers rows up to round index `last_round`.
  fn styles(&self, last_round: usize) -> HashMap<i32, DriverStyle> {
    let rows: Vec<_> = self
      .season
      .latest_driver_rows(last_round)
      .into_values()
      .collect();
    driver_styles(&rows, &[])
      .into_iter()
      .map(|style| (style.number, style))
      .collect()
  }

  /// Checks that every requested driver is among `seen`.
  fn validate_drivers(&self, seen: &HashSet<i32>) -> Result<(), ChartError> {
    self.request.check_drivers(
      |number| seen.contains(number),
      &format!("scored no result in {}", self.season.year),
    )
  }

  fn points_note(snapshots: &[Snapshot], teams: bool) -> String {
    let sources: HashSet<StandingsSource> = snapshots
      .iter()
      .map(|snapshot| {
        if teams {
          snapshot.teams_source
        } else {
          snapshot.drivers_source
        }
      })
      .collect();
    let mut text = if sources.contains(&StandingsSource::SessionResults) {
      "Points: championship standings where stored, otherwise summed race and sprint results."
        .to_owned()
    } else {
      "Points: championship standings after each race.".to_owned()
    };
    for note in snapshots.iter().flat_map(|snapshot| &snapshot.notes) {
      text.push_str("<br>");
      text.push_str(note);
    }
    text
  }

  /// Cumulative drivers' points after each race and sprint.
  fn championship_progression(&self) -> Result<Value, ChartError> {
    let snapshots = self.snapshots();
    let Some(last) = snapshots.last() else {
      return Ok(empty_figure(&self.title, None));
    };
    let seen: HashSet<i32> = last.drivers.keys().copied().collect();
    self.validate_drivers(&seen)?;
    let styles = self.styles(last.round_index);
    let labels: Vec<String> = snapshots
      .iter()
      .map(|snapshot| self.label(snapshot))
      .collect();
    let mut numbers: Vec<i32> = seen
      .into_iter()
      .filter(|number| self.request.drivers.is_empty() || self.request.drivers.contains(number))
      .collect();
    let final_points = |number: &i32| last.drivers.get(number).copied().unwrap_or(0.0);
    numbers.sort_by(|left, right| {
      final_points(right)
        .total_cmp(&final_points(left))
        .then(left.cmp(right))
    });
    let mut figure = Figure::new(self.progression_layout(labels.clone()));
    for number in numbers {
      let style = styles.get(&number);
      let acronym = style.map_or_else(|| format!("#{number}"), |style| style.acronym.clone());
      let points: Vec<f64> = snapshots
        .iter()
        .map(|snapshot| snapshot.drivers.get(&number).copied().unwrap_or(0.0))
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
    figure.annotate(note(&Self::points_note(&snapshots, false)));
    Ok(figure.finish())
  }

  /// Cumulative constructors' points after each race and sprint.
  fn constructors_progression(&self) -> Value {
    let snapshots = self.snapshots();
    let Some(last) = snapshots.last() else {
      return empty_figure(&self.title, None);
    };
    let colours: HashMap<String, String> = self
      .season
      .latest_driver_rows(last.round_index)
      .into_values()
      .filter_map(|row| Some((row.team_name?, team_colour(row.team_colour.as_deref()))))
      .collect();
    let labels: Vec<String> = snapshots
      .iter()
      .map(|snapshot| self.label(snapshot))
      .collect();
    let mut teams: Vec<&String> = last.teams.keys().collect();
    teams.sort_by(|left, right| {
      last.teams[*right]
        .total_cmp(&last.teams[*left])
        .then(left.cmp(right))
    });
    let mut figure = Figure::new(self.progression_layout(labels.clone()));
    for team in teams {
      let colour = colours
        .get(team)
        .cloned()
        .unwrap_or_else(|| team_colour(None));
      let points: Vec<f64> = snapshots
        .iter()
        .map(|snapshot| snapshot.teams.get(team).copied().unwrap_or(0.0))
        .collect();
      figure.add(
        Scatter::new(labels.clone(), points)
          .name(team)
          .mode(Mode::LinesMarkers)
          .line(plotly::common::Line::new().color(colour.clone()).width(2.0))
          .marker(Marker::new().color(colour).size(5))
          .hover_template(format!("{team} · %{{x}}: %{{y}} pts<extra></extra>")),
      );
    }
    figure.annotate(note(&Self::points_note(&snapshots, true)));
    figure.finish()
  }

  /// The rounds whose Grand Prix has stored results, with that Grand Prix.
  fn grands_prix(&self) -> Vec<(&Round, &sessions::Model)> {
    self
      .season
      .rounds
      .iter()
      .filter_map(|round| Some((round, round.grand_prix()?)))
      .filter(|(_, grand_prix)| !self.season.results(grand_prix.session_key).is_empty())
      .collect()
  }

  /// Drivers (rows) × Grands Prix (columns), coloured by finishing position; DNF, DNS and DSQ marked with a cross.
  fn results_heatmap(&self) -> Result<Value, ChartError> {
    let grands_prix = self.grands_prix();
    let Some(last_round) = grands_prix
      .last()
      .map(|(round, _)| usize::try_from(round.number - 1).unwrap_or(0))
    else {
      return Ok(empty_figure(&self.title, None));
    };
    let seen: HashSet<i32> = grands_prix
      .iter()
      .flat_map(|(_, grand_prix)| self.season.results(grand_prix.session_key))
      .map(|row| row.driver_number)
      .collect();
    self.validate_drivers(&seen)?;
    let styles = self.styles(last_round);
    // Rows in drivers' championship order, the leader on top.
    let (driver_points, _) = self.final_points();
    let final_points = |number: &i32| driver_points.get(number).copied().unwrap_or(0.0);
    let mut numbers: Vec<i32> = seen
      .into_iter()
      .filter(|number| self.request.drivers.is_empty() || self.request.drivers.contains(number))
      .collect();
    numbers.sort_by(|left, right| {
      final_points(right)
        .total_cmp(&final_points(left))
        .then(left.cmp(right))
    });
    let acronym = |number: &i32| {
      styles
        .get(number)
        .map_or_else(|| format!("#{number}"), |style| style.acronym.clone())
    };
    let rows: Vec<String> = numbers.iter().map(acronym).collect();
    let columns: Vec<String> = grands_prix
      .iter()
      .map(|(round, _)| round.short_name())
      .collect();
    let mut positions: Vec<Vec<Option<i32>>> = Vec::new();
    let mut texts: Vec<Vec<String>> = Vec::new();
    let mut hovers: Vec<Vec<String>> = Vec::new();
    let mut retirements: Vec<(String, String, String)> = Vec::new();
    for (number, row_name) in numbers.iter().zip(&rows) {
      let mut position_row = Vec::new();
      let mut text_row = Vec::new();
      let mut hover_row = Vec::new();
      for ((round, grand_prix), column) in grands_prix.iter().zip(&columns) {
        let result = self
          .season
          .results(grand_prix.session_key)
          .iter()
          .find(|row| row.driver_number == *number);
        // A retired driver can still be classified (e.g. a last-lap crash): keep the position, mark the status.
        let status = result.and_then(|row| {
          if row.dsq == Some(true) {
            Some("DSQ")
          } else if row.dns == Some(true) {
            Some("DNS")
          } else if row.dnf == Some(true) || row.position.is_none() {
            Some("DNF")
          } else {
            None
          }
        });
        let position = result
          .and_then(|row| row.position)
          .filter(|_| status != Some("DSQ"));
        position_row.push(position);
        let text = match (position, status) {
          (Some(position), Some(status)) => format!("P{position} {status}"),
          (Some(position), None) => format!("P{position}"),
          (None, Some(status)) => status.to_owned(),
          (None, None) => String::new(),
        };
        hover_row.push(format!(
          "{row_name} · {}: {}",
          round.name,
          if text.is_empty() {
            "no result"
          } else {
            text.as_str()
          }
        ));
        if let Some(status) = status {
          retirements.push((column.clone(), row_name.clone(), status.to_owned()));
        }
        text_row.push(text);
      }
      positions.push(position_row);
      texts.push(text_row);
      hovers.push(hover_row);
    }
    let tick_text: Vec<String> = numbers
      .iter()
      .zip(&rows)
      .map(|(number, name)| match styles.get(number) {
        Some(style) => format!("<span style=\"color:{}\">{name}</span>", style.colour),
        None => name.clone(),
      })
      .collect();
    let deepest = positions
      .iter()
      .flatten()
      .flatten()
      .copied()
      .max()
      .unwrap_or(20);
    let layout = base_layout(&self.title)
      .x_axis(category_axis("Grand Prix", columns.clone()).side(plotly::common::AxisSide::Top))
      .y_axis(
        Axis::new()
          .title(Title::with_text("Driver (championship order)"))
          .type_(AxisType::Category)
          .category_order(CategoryOrder::Array)
          .category_array(rows.clone()),
      )
      .show_legend(false)
      .height((numbers.len() * 26 + 200).max(420));
    let mut figure = Figure::new(layout);
    // Leader on top; tick labels in team colours (plotly.rs has no string tick values).
    let axis = figure.layout_mut();
    set_path(axis, &["yaxis", "autorange"], json!("reversed"));
    set_path(axis, &["yaxis", "tickmode"], json!("array"));
    set_path(axis, &["yaxis", "tickvals"], json!(&rows));
    set_path(axis, &["yaxis", "ticktext"], json!(tick_text));
    let heatmap = HeatMap::new(columns, rows, positions)
      .name("Finishing position")
      .zmin(1.0)
      .zmax(f64::from(deepest))
      .reverse_scale(true)
      .hover_info(HoverInfo::Text);
    let object = figure.add(heatmap);
    set_path(object, &["xgap"], json!(2));
    set_path(object, &["ygap"], json!(2));
    set_path(object, &["colorscale"], json!("Viridis"));
    set_path(object, &["text"], json!(texts));
    set_path(object, &["hovertext"], json!(hovers));
    set_path(object, &["texttemplate"], json!("%{text}"));
    set_path(object, &["colorbar", "title", "text"], json!("Position"));
    if !retirements.is_empty() {
      let trace = Scatter::new(
        retirements.iter().map(|entry| entry.0.clone()).collect(),
        retirements.iter().map(|entry| entry.1.clone()).collect(),
      )
      .name("Not classified")
      .mode(Mode::Markers)
      .marker(
        Marker::new()
          .symbol(MarkerSymbol::X)
          .size(14)
          .color("#E10600"),
      )
      .text_array(
        retirements
          .iter()
          .map(|entry| format!("{} · {}: {}", entry.1, entry.0, entry.2))
          .collect(),
      )
      .hover_template("%{text}<extra></extra>");
      figure.add(trace);
    }
    figure.annotate(note(
      "Grand Prix finishing positions (sprints not shown); ✕ marks DNF, DNS or DSQ (a retired driver may still \
       be classified); a blank cell means no result is stored for the driver in that race.",
    ));
    Ok(figure.finish())
  }

  /// Teammates' head-to-head in qualifying (left) and in the Grand Prix (right): how often each finished ahead.
  fn teammate_head_to_head(&self) -> Value {
    let mut tallies: BTreeMap<TeammatePair, Tally> = BTreeMap::new();
    let mut last_round = None;
    for (round_index, round) in self.season.rounds.iter().enumerate() {
      for (panel, session) in [(0, round.qualifying()), (1, round.grand_prix())] {
        let Some(session) = session else {
          continue;
        };
        let results = self.season.results(session.session_key);
        if results.is_empty() {
          continue;
        }
        last_round = Some(round_index);
        let mut teams: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for row in self.season.participants(session) {
          if let Some(team) = &row.team_name {
            teams
              .entry(team.clone())
              .or_default()
              .push(row.driver_number);
          }
        }
        for (team, mut cars) in teams {
          if cars.len() != 2 {
            continue;
          }
          cars.sort_unstable();
          let position = |car: i32| {
            results
              .iter()
              .find(|row| row.driver_number == car)
              .and_then(|row| row.position)
          };
          let winner = match (position(cars[0]), position(cars[1])) {
            (Some(first), Some(second)) => Some(usize::from(second < first)),
            (Some(_), None) => Some(0),
            (None, Some(_)) => Some(1),
            (None, None) => None,
          };
          if let Some(winner) = winner {
            tallies
              .entry((team, cars[0], cars[1]))
              .or_insert([[0; 2]; 2])[panel][winner] += 1;
          }
        }
      }
    }
    let Some(last_round) = last_round.filter(|_| !tallies.is_empty()) else {
      return empty_figure(
        &self.title,
        Some("no qualifying or race results of teammates"),
      );
    };
    let styles = self.styles(last_round);
    let (_, final_team_points) = self.final_points();
    let team_points = |team: &str| final_team_points.get(team).copied().unwrap_or(0.0);
    let mut pairs: Vec<(&TeammatePair, &Tally)> = tallies.iter().collect();
    pairs.sort_by(|(left, left_tally), (right, right_tally)| {
      team_points(&right.0)
        .total_cmp(&team_points(&left.0))
        .then(left.0.cmp(&right.0))
        .then(sessions_of(right_tally).cmp(&sessions_of(left_tally)))
    });
    let acronym = |number: i32| {
      styles
        .get(&number)
        .map_or_else(|| format!("#{number}"), |style| style.acronym.clone())
    };
    let colour = |number: i32| {
      styles
        .get(&number)
        .map_or_else(|| team_colour(None), |style| style.colour.clone())
    };
    let labels: Vec<String> = pairs
      .iter()
      .map(|((_, first, second), _)| format!("{} vs {}", acronym(*first), acronym(*second)))
      .collect();
    let mut rows = labels.clone();
    rows.reverse();
    let most = pairs
      .iter()
      .flat_map(|(_, tally)| tally.iter().flatten())
      .copied()
      .max()
      .unwrap_or(1)
      .max(1);
    let range = plotly::layout::AxisRange::new(-f64::from(most) - 0.5, f64::from(most) + 0.5);
    let layout = base_layout(&self.title)
      .bar_mode(BarMode::Relative)
      .x_axis(
        Axis::new()
          .title(Title::with_text(
            "Qualifying: ← first car ahead · second car ahead →",
          ))
          .domain(&[0.0, 0.47])
          .range(range.clone())
          .zero_line(true),
      )
      .x_axis2(
        Axis::new()
          .title(Title::with_text(
            "Grand Prix: ← first car ahead · second car ahead →",
          ))
          .domain(&[0.53, 1.0])
          .range(range)
          .zero_line(true),
      )
      .y_axis(
        Axis::new()
          .type_(AxisType::Category)
          .category_order(CategoryOrder::Array)
          .category_array(rows),
      )
      .show_legend(false)
      .height((pairs.len() * 34 + 220).max(420));
    let mut figure = Figure::new(layout);
    for (panel, (axis, name)) in [("x", "Qualifying"), ("x2", "Grand Prix")]
      .into_iter()
      .enumerate()
    {
      for side in 0..2 {
        let cars: Vec<i32> = pairs
          .iter()
          .map(|((_, first, second), _)| if side == 0 { *first } else { *second })
          .collect();
        let counts: Vec<i32> = pairs.iter().map(|(_, tally)| tally[panel][side]).collect();
        let values: Vec<i32> = counts
          .iter()
          .map(|count| if side == 0 { -count } else { *count })
          .collect();
        let hover: Vec<String> = pairs
          .iter()
          .zip(&cars)
          .map(|((_, tally), car)| {
            format!(
              "{name}: {} ahead {} of {} times",
              acronym(*car),
              tally[panel][side],
              tally[panel][0] + tally[panel][1]
            )
          })
          .collect();
        let trace = Bar::new(values, labels.clone())
          .name(format!(
            "{name} · {} car ahead",
            if side == 0 { "first" } else { "second" }
          ))
          .orientation(Orientation::Horizontal)
          .x_axis(axis)
          .marker(Marker::new().color_array(cars.iter().map(|car| colour(*car)).collect()))
          .text_array(
            counts
              .iter()
              .zip(&cars)
              .map(|(count, car)| format!("{} {count}", acronym(*car)))
              .collect(),
          )
          .hover_text_array(hover)
          .hover_info(HoverInfo::Text);
        let object = figure.add(trace);
        if side == 1 {
          set_path(object, &["marker", "pattern", "shape"], json!("/"));
        }
      }
    }
    figure.annotate(note(
      "Per team and pair of teammates (first car = lower car number): rounds in which each was ahead. Qualifying \
       by classified position; Grand Prix by finishing position, a classified driver ahead of one who was not.",
    ));
    figure.finish()
  }
}

/// Team, first car (lower number), second car.
type TeammatePair = (String, i32, i32);

/// `[qualifying, Grand Prix]` × `[first car ahead, second car ahead]` counts.
type Tally = [[i32; 2]; 2];

fn sessions_of(tally: &Tally) -> i32 {
  tally.iter().flatten().sum()
}

fn category_axis(title: &str, categories: Vec<String>) -> Axis {
  Axis::new()
    .title(Title::with_text(title))
    .type_(AxisType::Category)
    .category_order(CategoryOrder::Array)
    .category_array(categories)
}
