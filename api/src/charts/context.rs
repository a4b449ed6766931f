//! What every session chart needs: the session, its meeting (for the title), and the drivers with their
//! team colours and line styles.

use std::collections::{BTreeMap, HashMap};

use entity::{drivers, meetings, session_result, sessions};
use plotly::common::{DashType, Line};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::figure::{FALLBACK_COLOUR, team_colour};
use super::{ChartError, ChartKind, ChartRequest};

/// How one driver is drawn.
#[derive(Clone, Debug)]
pub(crate) struct DriverStyle {
  /// Car number.
  pub number: i32,
  /// Three-letter acronym, or `#<number>` when unknown.
  pub acronym: String,
  /// Team name, or `"Unknown team"`.
  pub team: String,
  /// `#RRGGBB` team colour.
  pub colour: String,
  /// Whether this is the team's second driver (by car number): drawn dashed.
  pub second_in_team: bool,
}

impl DriverStyle {
  fn unknown(number: i32) -> Self {
    Self {
      number,
      acronym: format!("#{number}"),
      team: "Unknown team".to_owned(),
      colour: FALLBACK_COLOUR.to_owned(),
      second_in_team: false,
    }
  }

  /// The line of this driver's traces: team colour, dashed for the second driver.
  pub(crate) fn line(&self) -> Line {
    let line = Line::new().color(self.colour.clone()).width(2.0);
    if self.second_in_team {
      line.dash(DashType::Dash)
    } else {
      line
    }
  }
}

/// The session a chart is drawn for, with its title and drivers.
pub(crate) struct SessionContext {
  /// The session row.
  pub session: sessions::Model,
  /// The chart's full title.
  pub title: String,
  /// Drivers in classification order (then car number), with drivers seen only in data added lazily.
  pub drivers: Vec<DriverStyle>,
  /// What the client asked to draw: the driver selection, lap range and chosen laps.
  pub request: ChartRequest,
  styles: HashMap<i32, DriverStyle>,
  finishing: HashMap<i32, i32>,
}

impl SessionContext {
  /// Loads the session, meeting and drivers, keeping `request` for the chart builders.
  ///
  /// # Errors
  /// [`ChartError::NotFound`] for an unknown session; [`ChartError::Database`].
  pub(crate) async fn load<C: ConnectionTrait>(
    connection: &C,
    session_key: i32,
    kind: ChartKind,
    request: &ChartRequest,
  ) -> Result<Self, ChartError> {
    let session = sessions::Entity::find_by_id(session_key)
      .one(connection)
      .await?
      .ok_or_else(|| ChartError::NotFound(format!("session {session_key}")))?;
    let meeting = meetings::Entity::find_by_id(session.meeting_key)
      .one(connection)
      .await?;
    let mut driver_rows = drivers::Entity::find()
      .filter(drivers::Column::SessionKey.eq(session_key))
      .all(connection)
      .await?;
    if driver_rows.is_empty() {
      // Drivers are published per session; borrow them from another session of the same meeting.
      let mut seen = std::collections::HashSet::new();
      driver_rows = drivers::Entity::find()
        .filter(drivers::Column::MeetingKey.eq(session.meeting_key))
        .all(connection)
        .await?
        .into_iter()
        .filter(|row| seen.insert(row.driver_number))
        .collect();
    }
    let results = session_result::Entity::find()
      .filter(session_result::Column::SessionKey.eq(session_key))
      .all(connection)
      .await?;
    let event_title = event_title(&session, meeting.as_ref());
    let title = format!("{event_title}: {}", kind.title());
    let drivers = driver_styles(&driver_rows, &results);
    let finishing = results
      .iter()
      .filter_map(|result| Some((result.driver_number, result.position?)))
      .collect();
    let styles = drivers
      .iter()
      .map(|style| (style.number, style.clone()))
      .collect();
    Ok(Self {
      session,
      title,
      drivers,
      request: request.clone(),
      styles,
      finishing,
    })
  }

  /// The style of car `number` (a grey `#<number>` when the drivers table does not know it).
  pub(crate) fn driver(&self, number: i32) -> DriverStyle {
    self
      .styles
      .get(&number)
      .cloned()
      .unwrap_or_else(|| DriverStyle::unknown(number))
  }

  /// Car number → classified position, from the session's results.
  pub(crate) fn finishing_positions(&self) -> &HashMap<i32, i32> {
    &self.finishing
  }

  /// Whether car `number` is shown under the request.
  pub(crate) fn shows(&self, number: i32) -> bool {
    self.request.drivers.is_empty() || self.request.drivers.contains(&number)
  }

  /// The car numbers to draw, in display order: the selection, or every known driver followed by cars only
  /// `data_numbers` mention.
  pub(crate) fn ordered_numbers(&self, data_numbers: impl IntoIterator<Item = i32>) -> Vec<i32> {
    let mut numbers: Vec<i32> = self.drivers.iter().map(|style| style.number).collect();
    let mut extra: Vec<i32> = data_numbers
      .into_iter()
      .filter(|number| !self.styles.contains_key(number))
      .collect();
    extra.sort_unstable_by_key(|number| {
      (
        self.finishing.get(number).copied().unwrap_or(i32::MAX),
        *number,
      )
    });
    extra.dedup();
    numbers.extend(extra);
    numbers.retain(|number| self.shows(*number));
    numbers
  }

  /// Checks that every requested driver took part (when the session's drivers are known).
  ///
  /// # Errors
  /// [`ChartError::InvalidParameter`] naming `drivers`.
  pub(crate) fn validate_drivers(&self) -> Result<(), ChartError> {
    if self.styles.is_empty() {
      return Ok(());
    }
    self.request.check_drivers(
      |number| self.styles.contains_key(number),
      &format!("did not take part in session {}", self.session.session_key),
    )
  }

  /// Whether `lap` lies in the requested lap range.
  pub(crate) fn in_lap_range(&self, lap: i32) -> bool {
    self
      .request
      .laps
      .is_none_or(|(first, last)| (first..=last).contains(&lap))
  }
}

/// `2024 Bahrain Grand Prix – Race`; without a meeting row: `2024 Sakhir – Race`.
pub(crate) fn event_title(session: &sessions::Model, meeting: Option<&meetings::Model>) -> String {
  let event = meeting
    .and_then(|meeting| meeting.meeting_name.clone())
    .or_else(|| session.location.clone())
    .or_else(|| session.circuit_short_name.clone())
    .or_else(|| session.country_name.clone())
    .unwrap_or_else(|| format!("Meeting {}", session.meeting_key));
  let session_name = session
    .session_name
    .clone()
    .unwrap_or_else(|| format!("Session {}", session.session_key));
  format!("{} {event} – {session_name}", session.year)
}

pub(crate) fn driver_styles(
  rows: &[drivers::Model],
  results: &[session_result::Model],
) -> Vec<DriverStyle> {
  let finishing: HashMap<i32, i32> = results
    .iter()
    .filter_map(|result| Some((result.driver_number, result.position?)))
    .collect();
  let mut by_team: BTreeMap<String, Vec<&drivers::Model>> = BTreeMap::new();
  for row in rows {
    let team = row
      .team_name
      .clone()
      .unwrap_or_else(|| "Unknown team".to_owned());
    by_team.entry(team).or_default().push(row);
  }
  let mut styles = Vec::new();
  for (team, mut members) in by_team {
    members.sort_by_key(|row| row.driver_number);
    for (index, row) in members.into_iter().enumerate() {
      styles.push(DriverStyle {
        number: row.driver_number,
        acronym: row
          .name_acronym
          .clone()
          .unwrap_or_else(|| format!("#{}", row.driver_number)),
        team: team.clone(),
        colour: team_colour(row.team_colour.as_deref()),
        second_in_team: index > 0,
      });
    }
  }
  styles.sort_by_key(|style| {
    (
      finishing.get(&style.number).copied().unwrap_or(i32::MAX),
      style.number,
    )
  });
  styles
}
