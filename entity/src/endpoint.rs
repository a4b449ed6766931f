//! The Open F1 endpoints, each stored in the table of the same name, and what each one's changes stale.

use std::fmt;

/// The 18 Open F1 endpoints; each is stored in the table of the same name (the one list of them: the worker's
/// store and ingest, the cache scopes, the api's Open F1 drop-in and the tests use it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
  /// `/v1/meetings`.
  Meetings,
  /// `/v1/sessions`.
  Sessions,
  /// `/v1/drivers`.
  Drivers,
  /// `/v1/laps`.
  Laps,
  /// `/v1/car_data` (telemetry, fetched per driver in time windows).
  CarData,
  /// `/v1/location` (telemetry, fetched per driver in time windows).
  Location,
  /// `/v1/position`.
  Position,
  /// `/v1/intervals`.
  Intervals,
  /// `/v1/pit`.
  Pit,
  /// `/v1/stints`.
  Stints,
  /// `/v1/weather`.
  Weather,
  /// `/v1/race_control`.
  RaceControl,
  /// `/v1/team_radio`.
  TeamRadio,
  /// `/v1/session_result`.
  SessionResult,
  /// `/v1/starting_grid`.
  StartingGrid,
  /// `/v1/overtakes`.
  Overtakes,
  /// `/v1/championship_drivers`.
  ChampionshipDrivers,
  /// `/v1/championship_teams`.
  ChampionshipTeams,
}

impl Endpoint {
  /// Every endpoint.
  pub const ALL: [Endpoint; 18] = [
    Self::Meetings,
    Self::Sessions,
    Self::Drivers,
    Self::Laps,
    Self::CarData,
    Self::Location,
    Self::Position,
    Self::Intervals,
    Self::Pit,
    Self::Stints,
    Self::Weather,
    Self::RaceControl,
    Self::TeamRadio,
    Self::SessionResult,
    Self::StartingGrid,
    Self::Overtakes,
    Self::ChampionshipDrivers,
    Self::ChampionshipTeams,
  ];

  /// The endpoint's path segment, which is also its table name.
  #[must_use]
  pub fn name(self) -> &'static str {
    match self {
      Self::Meetings => "meetings",
      Self::Sessions => "sessions",
      Self::Drivers => "drivers",
      Self::Laps => "laps",
      Self::CarData => "car_data",
      Self::Location => "location",
      Self::Position => "position",
      Self::Intervals => "intervals",
      Self::Pit => "pit",
      Self::Stints => "stints",
      Self::Weather => "weather",
      Self::RaceControl => "race_control",
      Self::TeamRadio => "team_radio",
      Self::SessionResult => "session_result",
      Self::StartingGrid => "starting_grid",
      Self::Overtakes => "overtakes",
      Self::ChampionshipDrivers => "championship_drivers",
      Self::ChampionshipTeams => "championship_teams",
    }
  }

  /// The endpoint named `name`, if any.
  #[must_use]
  pub fn from_name(name: &str) -> Option<Self> {
    Self::ALL
      .into_iter()
      .find(|endpoint| endpoint.name() == name)
  }

  /// Whether the endpoint is the calendar (`meetings`, `sessions`) rather than data of one session.
  #[must_use]
  pub fn is_calendar(self) -> bool {
    matches!(self, Self::Meetings | Self::Sessions)
  }

  /// Whether a change to the endpoint's table stales its whole season (season charts and standings are built
  /// from the calendar, drivers, results and championship tables), not only its session.
  #[must_use]
  pub(crate) fn stales_season(self) -> bool {
    matches!(
      self,
      Self::Meetings
        | Self::Sessions
        | Self::SessionResult
        | Self::ChampionshipDrivers
        | Self::ChampionshipTeams
        | Self::Drivers
    )
  }

  /// Whether the endpoint's rows only ever append with a non-null `date`, so that a live poll asks only for
  /// `date>` the newest stored one.
  #[must_use]
  pub fn is_append_only(self) -> bool {
    matches!(
      self,
      Self::Position
        | Self::Intervals
        | Self::Weather
        | Self::TeamRadio
        | Self::Overtakes
        | Self::CarData
        | Self::Location
    )
  }
}

impl fmt::Display for Endpoint {
  fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
    formatter.write_str(self.name())
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn every_endpoint_is_found_by_its_name() {
    for endpoint in Endpoint::ALL {
      assert_eq!(Endpoint::from_name(endpoint.name()), Some(endpoint));
      assert_eq!(endpoint.to_string(), endpoint.name());
    }
    assert_eq!(Endpoint::from_name("unknown"), None);
  }
}
