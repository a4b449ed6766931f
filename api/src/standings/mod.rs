//! Championship standings of a season after any round, and the season's rounds and results that the season
//! charts share.
//!
//! A **round** is a Grand Prix weekend: a meeting of the year with at least one `Race`-type session that is not
//! cancelled, numbered by date (pre-season testing is no round). Its **scoring sessions** are its sprint and its
//! Grand Prix (Open F1 session type `Race`).
//!
//! After each scoring session, the standings so far gain the session's results: the `points` Open F1 published
//! with each result, or, for a result published without points, the points its finishing position earns under
//! that year's system ([`points`]). Where Open F1's championship tables (`championship_drivers`,
//! `championship_teams`, published for Grands Prix) hold the session, their points then replace those of the cars
//! (teams) they list, and the answer's source is `championship`.
//! Ties are broken by countback on Grand Prix results (most wins, then most second places, and so on, as the
//! FIA Sporting Regulations rank drivers level on points).

pub mod points;

use std::collections::{BTreeMap, HashMap};

use entity::{
  championship_drivers, championship_teams, drivers, laps, meetings, session_result, sessions,
};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::bodies::{
  DriverStandingsEntry, DriversStandings, StandingsSource, TeamStandingsEntry, TeamsStandings,
};
use points::{ScoringSession, fastest_lap_point, grand_prix_multiplier, position_points};

/// Why standings cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum StandingsError {
  /// No session, or no result, is stored for the season.
  #[error("{0}")]
  NotFound(String),
  /// `after_round` is outside the rounds that have results.
  #[error("{0}")]
  InvalidRound(String),
  /// The database failed.
  #[error("database error: {0}")]
  Database(#[from] DbErr),
}

/// A Grand Prix weekend of the season.
#[derive(Clone, Debug)]
pub struct Round {
  /// 1 for the season's first Grand Prix weekend.
  pub number: i32,
  /// Open F1 meeting key.
  pub meeting_key: i32,
  /// Meeting name, e.g. "Bahrain Grand Prix" (the location when the meeting row is missing).
  pub name: String,
  /// The weekend's sessions that are not cancelled, by start.
  pub sessions: Vec<sessions::Model>,
}

impl Round {
  /// The sprint and the Grand Prix, by start.
  pub fn scoring_sessions(&self) -> impl Iterator<Item = &sessions::Model> {
    self.sessions.iter().filter(|session| session.is_race())
  }

  /// The Grand Prix (the `Race`-type session that is not a sprint).
  #[must_use]
  pub fn grand_prix(&self) -> Option<&sessions::Model> {
    self
      .sessions
      .iter()
      .rev()
      .find(|session| session.is_race() && !is_sprint(session))
  }

  /// The Grand Prix qualifying (the `Qualifying`-type session that is not a sprint qualifying or shootout).
  #[must_use]
  pub fn qualifying(&self) -> Option<&sessions::Model> {
    self.sessions.iter().rev().find(|session| {
      session.session_type.as_deref() == Some(sessions::QUALIFYING) && !is_sprint(session)
    })
  }

  /// The name without " Grand Prix", e.g. "Bahrain", for compact axis labels.
  #[must_use]
  pub fn short_name(&self) -> String {
    self.name.trim_end_matches(" Grand Prix").to_owned()
  }
}

/// Whether `session` belongs to the sprint format's own sessions (sprint, sprint qualifying, sprint shootout).
#[must_use]
pub fn is_sprint(session: &sessions::Model) -> bool {
  session
    .session_name
    .as_deref()
    .is_some_and(|name| name.contains("Sprint"))
}

/// The points of one scoring session's results.
#[derive(Clone, Debug, Default)]
struct SessionScore {
  /// Points per car number.
  points: HashMap<i32, f64>,
  /// Results whose points were derived from their position.
  derived: usize,
  /// Whether the fastest-lap point could not be derived (no laps stored).
  fastest_lap_unknown: bool,
  /// Whether no points system is known for the session (derived points are then 0).
  system_unknown: bool,
}

/// The championship after one scoring session.
#[derive(Clone, Debug)]
pub struct Snapshot {
  /// Index of the round in [`SeasonResults::rounds`].
  pub round_index: usize,
  /// The scoring session.
  pub session: sessions::Model,
  /// Points per car number.
  pub drivers: BTreeMap<i32, f64>,
  /// Points per team name.
  pub teams: BTreeMap<String, f64>,
  /// Where the drivers' points come from.
  pub drivers_source: StandingsSource,
  /// Where the teams' points come from.
  pub teams_source: StandingsSource,
  /// How this session's points were obtained, when that is not plain (derived points and their gaps).
  pub notes: Vec<String>,
}

/// A season's rounds with the results, drivers and championship rows of their qualifying and scoring sessions.
pub struct SeasonResults {
  /// Season year.
  pub year: i32,
  /// The Grand Prix weekends, by date.
  pub rounds: Vec<Round>,
  results: HashMap<i32, Vec<session_result::Model>>,
  drivers_by_session: HashMap<i32, Vec<drivers::Model>>,
  drivers_by_meeting: HashMap<i32, Vec<drivers::Model>>,
  championship_drivers: HashMap<i32, Vec<championship_drivers::Model>>,
  championship_teams: HashMap<i32, Vec<championship_teams::Model>>,
  fastest_laps: HashMap<i32, i32>,
}

impl SeasonResults {
  /// Loads the season `year`; `None` when no session of that year is stored.
  ///
  /// # Errors
  /// Returns the database error.
  pub async fn load<C: ConnectionTrait>(connection: &C, year: i32) -> Result<Option<Self>, DbErr> {
    let all_sessions = sessions::Entity::find()
      .filter(sessions::Column::Year.eq(year))
      .order_by_asc(sessions::Column::DateStart)
      .order_by_asc(sessions::Column::SessionKey)
      .all(connection)
      .await?;
    if all_sessions.is_empty() {
      return Ok(None);
    }
    let meeting_rows: HashMap<i32, meetings::Model> = meetings::Entity::find()
      .filter(meetings::Column::Year.eq(year))
      .all(connection)
      .await?
      .into_iter()
      .map(|meeting| (meeting.meeting_key, meeting))
      .collect();
    let mut by_meeting: Vec<(i32, Vec<sessions::Model>)> = Vec::new();
    for session in all_sessions {
      if session.is_cancelled == Some(true) {
        continue;
      }
      match by_meeting
        .iter_mut()
        .find(|(meeting_key, _)| *meeting_key == session.meeting_key)
      {
        Some((_, sessions)) => sessions.push(session),
        None => by_meeting.push((session.meeting_key, vec![session])),
      }
    }
    let mut rounds = Vec::new();
    for (meeting_key, sessions) in by_meeting {
      let meeting = meeting_rows.get(&meeting_key);
      if meeting.is_some_and(|meeting| meeting.is_cancelled == Some(true))
        || !sessions.iter().any(sessions::Model::is_race)
      {
        continue;
      }
      let name = meeting
        .and_then(|meeting| meeting.meeting_name.clone())
        .or_else(|| {
          sessions
            .first()
            .and_then(|session| session.location.clone())
        })
        .unwrap_or_else(|| format!("Meeting {meeting_key}"));
      rounds.push(Round {
        number: i32::try_from(rounds.len() + 1).unwrap_or(i32::MAX),
        meeting_key,
        name,
        sessions,
      });
    }
    let result_sessions: Vec<i32> = rounds
      .iter()
      .flat_map(|round| round.sessions.iter())
      .filter(|session| {
        session.is_race() || session.session_type.as_deref() == Some(sessions::QUALIFYING)
      })
      .map(|session| session.session_key)
      .collect();
    let race_sessions: Vec<i32> = rounds
      .iter()
      .flat_map(Round::scoring_sessions)
      .map(|session| session.session_key)
      .collect();
    let meeting_keys: Vec<i32> = rounds.iter().map(|round| round.meeting_key).collect();
    let mut results: HashMap<i32, Vec<session_result::Model>> = HashMap::new();
    for row in session_result::Entity::find()
      .filter(session_result::Column::SessionKey.is_in(result_sessions))
      .all(connection)
      .await?
    {
      results.entry(row.session_key).or_default().push(row);
    }
    let mut drivers_by_session: HashMap<i32, Vec<drivers::Model>> = HashMap::new();
    let mut drivers_by_meeting: HashMap<i32, Vec<drivers::Model>> = HashMap::new();
    for row in drivers::Entity::find()
      .filter(drivers::Column::MeetingKey.is_in(meeting_keys))
      .order_by_asc(drivers::Column::SessionKey)
      .all(connection)
      .await?
    {
      drivers_by_meeting
        .entry(row.meeting_key)
        .or_default()
        .push(row.clone());
      drivers_by_session
        .entry(row.session_key)
        .or_default()
        .push(row);
    }
    let mut championship_drivers: HashMap<i32, Vec<championship_drivers::Model>> = HashMap::new();
    for row in championship_drivers::Entity::find()
      .filter(championship_drivers::Column::SessionKey.is_in(race_sessions.clone()))
      .all(connection)
      .await?
    {
      if row.points_current.is_some() {
        championship_drivers
          .entry(row.session_key)
          .or_default()
          .push(row);
      }
    }
    let mut championship_teams: HashMap<i32, Vec<championship_teams::Model>> = HashMap::new();
    for row in championship_teams::Entity::find()
      .filter(championship_teams::Column::SessionKey.is_in(race_sessions))
      .all(connection)
      .await?
    {
      if row.points_current.is_some() {
        championship_teams
          .entry(row.session_key)
          .or_default()
          .push(row);
      }
    }
    // The fastest lap is needed only for Grands Prix of fastest-lap years whose results lack points.
    let mut fastest_laps = HashMap::new();
    if fastest_lap_point(year) {
      for round in &rounds {
        let Some(grand_prix) = round.grand_prix() else {
          continue;
        };
        let lacks_points = results
          .get(&grand_prix.session_key)
          .is_some_and(|rows| rows.iter().any(|row| row.points.is_none()));
        if !lacks_points {
          continue;
        }
        let fastest = laps::Entity::find()
          .filter(laps::Column::SessionKey.eq(grand_prix.session_key))
          .filter(laps::Column::LapDuration.is_not_null())
          .order_by_asc(laps::Column::LapDuration)
          .one(connection)
          .await?;
        if let Some(lap) = fastest {
          fastest_laps.insert(grand_prix.session_key, lap.driver_number);
        }
      }
    }
    Ok(Some(Self {
      year,
      rounds,
      results,
      drivers_by_session,
      drivers_by_meeting,
      championship_drivers,
      championship_teams,
      fastest_laps,
    }))
  }

  /// The results of `session_key` (empty when none are stored).
  #[must_use]
  pub fn results(&self, session_key: i32) -> &[session_result::Model] {
    self
      .results
      .get(&session_key)
      .map(Vec::as_slice)
      .unwrap_or_default()
  }

  /// The drivers row of car `driver` for `session`: from the session itself, else from another session of its
  /// meeting.
  #[must_use]
  pub fn driver_row(&self, session: &sessions::Model, driver: i32) -> Option<&drivers::Model> {
    self
      .drivers_by_session
      .get(&session.session_key)
      .and_then(|rows| rows.iter().find(|row| row.driver_number == driver))
      .or_else(|| {
        self
          .drivers_by_meeting
          .get(&session.meeting_key)
          .and_then(|rows| rows.iter().rev().find(|row| row.driver_number == driver))
      })
  }

  /// The drivers who took part in `session` (its drivers rows, else its meeting's).
  #[must_use]
  pub fn participants(&self, session: &sessions::Model) -> Vec<&drivers::Model> {
    let rows = self
      .drivers_by_session
      .get(&session.session_key)
      .filter(|rows| !rows.is_empty())
      .or_else(|| self.drivers_by_meeting.get(&session.meeting_key));
    let mut seen = std::collections::HashSet::new();
    rows
      .map(|rows| {
        rows
          .iter()
          .filter(|row| seen.insert(row.driver_number))
          .collect()
      })
      .unwrap_or_default()
  }

  /// The latest drivers row of every car number in rounds up to index `last_round` (inclusive).
  #[must_use]
  pub fn latest_driver_rows(&self, last_round: usize) -> BTreeMap<i32, drivers::Model> {
    self
      .driver_rows_up_to(last_round)
      .map(|row| (row.driver_number, row.clone()))
      .collect()
  }

  /// The drivers rows of every session in rounds up to index `last_round` (inclusive), in calendar order.
  fn driver_rows_up_to(&self, last_round: usize) -> impl Iterator<Item = &drivers::Model> {
    self
      .rounds
      .iter()
      .take(last_round + 1)
      .flat_map(|round| &round.sessions)
      .flat_map(|session| {
        self
          .drivers_by_session
          .get(&session.session_key)
          .into_iter()
          .flatten()
      })
  }

  fn team_of(&self, session: &sessions::Model, driver: i32) -> String {
    self
      .driver_row(session, driver)
      .and_then(|row| row.team_name.clone())
      .unwrap_or_else(|| "Unknown team".to_owned())
  }

  fn score(&self, round: &Round, session: &sessions::Model) -> Option<SessionScore> {
    let results = self.results.get(&session.session_key)?;
    if results.is_empty() {
      return None;
    }
    let kind = if is_sprint(session) {
      ScoringSession::Sprint
    } else {
      ScoringSession::GrandPrix
    };
    let is_final_round = usize::try_from(round.number).ok() == Some(self.rounds.len());
    let (multiplier, fastest_lap_stands) = match kind {
      ScoringSession::GrandPrix => grand_prix_multiplier(self.year, &round.name, is_final_round),
      ScoringSession::Sprint => (1.0, false),
    };
    let awards_fastest_lap =
      kind == ScoringSession::GrandPrix && fastest_lap_point(self.year) && fastest_lap_stands;
    let fastest = self.fastest_laps.get(&session.session_key).copied();
    let mut score = SessionScore::default();
    for row in results {
      let points = match row.points {
        Some(points) => points,
        None => {
          score.derived += 1;
          let Some(position) = row.position else {
            score.points.insert(row.driver_number, 0.0);
            continue;
          };
          let Some(base) = position_points(self.year, kind, position) else {
            score.system_unknown = true;
            score.points.insert(row.driver_number, 0.0);
            continue;
          };
          let mut points = base * multiplier;
          if awards_fastest_lap && position <= points::FASTEST_LAP_POINT_MAX_POSITION {
            match fastest {
              Some(driver) if driver == row.driver_number => points += 1.0,
              Some(_) => {}
              None => score.fastest_lap_unknown = true,
            }
          }
          points
        }
      };
      score.points.insert(row.driver_number, points);
    }
    Some(score)
  }

  /// The championship after every scoring session that has results or championship rows, in season order.
  /// Each session adds its results' points; its championship rows then set the points of the cars (teams) they
  /// list.
  #[must_use]
  pub fn progression(&self) -> Vec<Snapshot> {
    let mut drivers: BTreeMap<i32, f64> = BTreeMap::new();
    let mut teams: BTreeMap<String, f64> = BTreeMap::new();
    let mut snapshots = Vec::new();
    for (round_index, round) in self.rounds.iter().enumerate() {
      for session in round.scoring_sessions() {
        let label = session_label(round, session);
        let score = self.score(round, session);
        let championship = self.championship_drivers.get(&session.session_key);
        let team_championship = self.championship_teams.get(&session.session_key);
        if score.is_none() && championship.is_none() && team_championship.is_none() {
          continue;
        }
        // Results first, then the championship rows over them: a table listing only some cars (or teams)
        // leaves the others with their summed results.
        for (driver, points) in score.iter().flat_map(|score| &score.points) {
          *drivers.entry(*driver).or_default() += points;
          *teams.entry(self.team_of(session, *driver)).or_default() += points;
        }
        let drivers_source = match championship {
          Some(rows) => {
            for row in rows {
              if let Some(points) = row.points_current {
                drivers.insert(row.driver_number, points);
              }
            }
            StandingsSource::Championship
          }
          None => StandingsSource::SessionResults,
        };
        let teams_source = match team_championship {
          Some(rows) => {
            for row in rows {
              if let Some(points) = row.points_current {
                teams.insert(row.team_name.clone(), points);
              }
            }
            StandingsSource::Championship
          }
          None => StandingsSource::SessionResults,
        };
        let mut notes = Vec::new();
        if let Some(score) = &score {
          if score.derived > 0 {
            notes.push(format!(
              "{label}: {} result(s) had no published points; their points follow from the finishing position \
               under the {} points system.",
              score.derived, self.year
            ));
          }
          if score.fastest_lap_unknown {
            notes.push(format!(
              "{label}: no laps are stored, so the fastest-lap point could not be derived."
            ));
          }
          if score.system_unknown {
            notes.push(format!(
              "{label}: no points system is known for {}; derived points are 0.",
              self.year
            ));
          }
        }
        snapshots.push(Snapshot {
          round_index,
          session: session.clone(),
          drivers: drivers.clone(),
          teams: teams.clone(),
          drivers_source,
          teams_source,
          notes,
        });
      }
    }
    snapshots
  }

  /// Grand Prix finishing positions in rounds up to index `last_round` (inclusive), grouped by `key` of the
  /// Grand Prix session and car number (the car number itself, or its team).
  fn grand_prix_positions<K: Eq + std::hash::Hash>(
    &self,
    last_round: usize,
    key: impl Fn(&sessions::Model, i32) -> K,
  ) -> HashMap<K, Vec<i32>> {
    let mut positions: HashMap<K, Vec<i32>> = HashMap::new();
    for round in self.rounds.iter().take(last_round + 1) {
      let Some(grand_prix) = round.grand_prix() else {
        continue;
      };
      for row in self.results(grand_prix.session_key) {
        if let Some(position) = row.position {
          positions
            .entry(key(grand_prix, row.driver_number))
            .or_default()
            .push(position);
        }
      }
    }
    positions
  }

  /// The snapshot answering `after_round` (default: the latest round with data), its round index, and the
  /// notes of every session up to it.
  fn standings_after(
    &self,
    after_round: Option<i32>,
  ) -> Result<(Snapshot, usize, Vec<String>), StandingsError> {
    let snapshots = self.progression();
    let Some(latest) = snapshots.last() else {
      return Err(StandingsError::NotFound(format!(
        "No results are stored for the {} season yet.",
        self.year
      )));
    };
    let latest_round = latest.round_index;
    let round_index = match after_round {
      None => latest_round,
      Some(round) => usize::try_from(round - 1)
        .ok()
        .filter(|index| *index <= latest_round)
        .ok_or_else(|| {
          StandingsError::InvalidRound(format!(
            "must be between 1 and {} for the {} season (the latest round with results; the calendar has {} \
             rounds), got {round}",
            latest_round + 1,
            self.year,
            self.rounds.len()
          ))
        })?,
    };
    let answered: Vec<&Snapshot> = snapshots
      .iter()
      .filter(|snapshot| snapshot.round_index <= round_index)
      .collect();
    let Some(snapshot) = answered.last().map(|snapshot| (*snapshot).clone()) else {
      return Err(StandingsError::InvalidRound(format!(
        "no results are stored for the {} season up to round {}",
        self.year,
        round_index + 1
      )));
    };
    let mut notes: Vec<String> = answered
      .iter()
      .flat_map(|snapshot| snapshot.notes.iter().cloned())
      .collect();
    for round in self.rounds.iter().take(round_index + 1) {
      if !answered
        .iter()
        .any(|snapshot| snapshot.round_index + 1 == usize::try_from(round.number).unwrap_or(0))
      {
        notes.push(format!(
          "Round {} ({}): no results are stored.",
          round.number, round.name
        ));
      }
    }
    Ok((snapshot, round_index, notes))
  }

  /// The drivers' championship after `after_round` (default: the latest round with results).
  ///
  /// # Errors
  /// `StandingsError::NotFound` when the season has no results; `StandingsError::InvalidRound` when
  /// `after_round` is not between 1 and the latest round with results.
  pub fn driver_standings(
    &self,
    after_round: Option<i32>,
  ) -> Result<DriversStandings, StandingsError> {
    let (snapshot, round_index, notes) = self.standings_after(after_round)?;
    let positions = self.grand_prix_positions(round_index, |_, driver| driver);
    let identities = self.latest_driver_rows(round_index);
    let standings = championship_order(&snapshot.drivers, &positions)
      .into_iter()
      .map(|placed| {
        let identity = identities.get(&placed.key);
        DriverStandingsEntry {
          position: placed.position,
          driver_number: placed.key,
          name_acronym: identity.and_then(|row| row.name_acronym.clone()),
          full_name: identity.and_then(|row| row.full_name.clone()),
          team_name: identity.and_then(|row| row.team_name.clone()),
          team_colour: identity.and_then(|row| row.team_colour.clone()),
          points: placed.points,
          wins: placed.wins,
        }
      })
      .collect();
    let round = &self.rounds[round_index];
    Ok(DriversStandings {
      year: self.year,
      after_round: round.number,
      rounds: i32::try_from(self.rounds.len()).unwrap_or(i32::MAX),
      meeting_key: round.meeting_key,
      meeting_name: round.name.clone(),
      source: snapshot.drivers_source,
      notes,
      standings,
    })
  }

  /// The constructors' championship after `after_round` (default: the latest round with results).
  ///
  /// # Errors
  /// As [`SeasonResults::driver_standings`].
  pub fn team_standings(&self, after_round: Option<i32>) -> Result<TeamsStandings, StandingsError> {
    let (snapshot, round_index, notes) = self.standings_after(after_round)?;
    let positions = self.grand_prix_positions(round_index, |grand_prix, driver| {
      self.team_of(grand_prix, driver)
    });
    // The latest colour of every team.
    let mut colours: HashMap<String, String> = HashMap::new();
    for row in self.driver_rows_up_to(round_index) {
      if let (Some(team), Some(colour)) = (&row.team_name, &row.team_colour) {
        colours.insert(team.clone(), colour.clone());
      }
    }
    for round in self.rounds.iter().take(round_index + 1) {
      for session in round.scoring_sessions() {
        for row in self
          .championship_teams
          .get(&session.session_key)
          .into_iter()
          .flatten()
        {
          if let Some(colour) = &row.team_colour {
            colours.insert(row.team_name.clone(), colour.clone());
          }
        }
      }
    }
    let standings = championship_order(&snapshot.teams, &positions)
      .into_iter()
      .map(|placed| TeamStandingsEntry {
        position: placed.position,
        team_colour: colours.get(&placed.key).cloned(),
        team_name: placed.key,
        points: placed.points,
        wins: placed.wins,
      })
      .collect();
    let round = &self.rounds[round_index];
    Ok(TeamsStandings {
      year: self.year,
      after_round: round.number,
      rounds: i32::try_from(self.rounds.len()).unwrap_or(i32::MAX),
      meeting_key: round.meeting_key,
      meeting_name: round.name.clone(),
      source: snapshot.teams_source,
      notes,
      standings,
    })
  }
}

/// `Bahrain Grand Prix (Race)`: how notes name a scoring session.
fn session_label(round: &Round, session: &sessions::Model) -> String {
  format!(
    "{} ({})",
    round.name,
    session.session_name.as_deref().unwrap_or("Race")
  )
}

/// How many first places, second places, … (up to 30th) `positions` hold: compared lexicographically, a larger
/// tally ranks higher.
fn countback(positions: &[i32]) -> Vec<usize> {
  let mut tally = vec![0; 30];
  for position in positions {
    if let Some(slot) = usize::try_from(position - 1)
      .ok()
      .and_then(|index| tally.get_mut(index))
    {
      *slot += 1;
    }
  }
  tally
}

/// A driver or team (`key`) placed in a championship.
struct Placed<K> {
  key: K,
  points: f64,
  /// Championship position (tied entries share one).
  position: i32,
  /// Grands Prix won (first places among the countback positions).
  wins: i32,
}

/// The championship order of `points`: most points first, ties broken by countback of the Grand Prix
/// finishing `positions`, then by key; entries equal on points and countback share a position.
fn championship_order<K: Ord + Clone + std::hash::Hash>(
  points: &BTreeMap<K, f64>,
  positions: &HashMap<K, Vec<i32>>,
) -> Vec<Placed<K>> {
  let mut entries: Vec<(K, f64, Vec<usize>)> = points
    .iter()
    .map(|(key, points)| {
      (
        key.clone(),
        *points,
        countback(positions.get(key).map(Vec::as_slice).unwrap_or_default()),
      )
    })
    .collect();
  entries.sort_by(|left, right| {
    right
      .1
      .total_cmp(&left.1)
      .then_with(|| right.2.cmp(&left.2))
      .then(left.0.cmp(&right.0))
  });
  let ranks = ranks(&entries, |entry| (entry.1, entry.2.clone()));
  entries
    .into_iter()
    .zip(ranks)
    .map(|((key, points, tally), position)| Placed {
      key,
      points,
      position,
      wins: i32::try_from(tally.first().copied().unwrap_or(0)).unwrap_or(i32::MAX),
    })
    .collect()
}

/// Positions of sorted `entries`: equal keys share a position, the next distinct key takes its index + 1.
fn ranks<T, K: PartialEq>(entries: &[T], key: impl Fn(&T) -> K) -> Vec<i32> {
  let mut result = Vec::with_capacity(entries.len());
  for (index, entry) in entries.iter().enumerate() {
    let position = match index.checked_sub(1) {
      Some(previous) if key(&entries[previous]) == key(entry) => {
        result.last().copied().unwrap_or(1)
      }
      _ => i32::try_from(index + 1).unwrap_or(i32::MAX),
    };
    result.push(position);
  }
  result
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn countback_ranks_more_wins_first_then_more_second_places() {
    let winner_once = countback(&[1, 5, 5]);
    let second_thrice = countback(&[2, 2, 2]);
    assert!(winner_once > second_thrice);
    assert!(countback(&[2, 3]) > countback(&[2, 4]));
  }

  #[test]
  fn equal_keys_share_a_position() {
    let entries = [10, 8, 8, 3];
    assert_eq!(ranks(&entries, |points| *points), [1, 2, 2, 4]);
  }
}
