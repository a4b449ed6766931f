//! The points systems of the Formula 1 World Championship by year: how many points a finishing position is
//! worth in a Grand Prix and in a sprint, when the fastest lap earned a point, and the races that paid double or
//! reduced points.
//!
//! These are facts of the FIA Formula One Sporting Regulations of each year (the article on points and the
//! article on the classification of a suspended race). They are used only for results that Open F1 published
//! without `points`: published points are official and already carry penalties and reduced scores.
//!
//! - Grand Prix, 2010 onwards: 25-18-15-12-10-8-6-4-2-1 to the top ten (scale introduced by the 2010 Sporting
//!   Regulations). 2003–2009: 10-8-6-5-4-3-2-1 to the top eight.
//! - Sprint: 2021 ("sprint qualifying"): 3-2-1 to the top three; 2022 onwards: 8-7-6-5-4-3-2-1 to the top eight.
//!   No sprints before 2021.
//! - Fastest lap: one point, 2019 to 2024, to the driver with the fastest lap of the Grand Prix if classified in
//!   the top ten (never in sprints). Abolished from 2025 (FIA World Motor Sport Council, October 2024).
//! - Double points: the final race of 2014 (Abu Dhabi) paid double.
//! - Reduced points: a race suspended and not resumed before 75 % of its distance paid half points until 2021
//!   (e.g. the 2009 Malaysian and 2021 Belgian Grands Prix; no fastest-lap point at Spa 2021), and a sliding
//!   scale from 2022 (6-4-3-2-1 from two laps to 25 %, 13-10-8-6-5-4-3-2-1 to 50 %, 19-14-12-9-8-6-5-3-2-1 to
//!   75 %). Open F1 does not publish a race's scheduled distance, so a shortened race cannot be recognised from
//!   its results: the known ones are listed in [`REDUCED_POINTS_RACES`]; any later one relies on published
//!   points.

/// Grand Prix points from 2010: 25-18-15-12-10-8-6-4-2-1.
const GRAND_PRIX_FROM_2010: [f64; 10] = [25.0, 18.0, 15.0, 12.0, 10.0, 8.0, 6.0, 4.0, 2.0, 1.0];
/// Grand Prix points 2003–2009: 10-8-6-5-4-3-2-1.
const GRAND_PRIX_2003_TO_2009: [f64; 8] = [10.0, 8.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0];
/// Sprint points in 2021: 3-2-1.
const SPRINT_2021: [f64; 3] = [3.0, 2.0, 1.0];
/// Sprint points from 2022: 8-7-6-5-4-3-2-1.
const SPRINT_FROM_2022: [f64; 8] = [8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0];

/// The lowest finishing position that earns the fastest-lap point (in the years it exists).
pub const FASTEST_LAP_POINT_MAX_POSITION: i32 = 10;

/// Grands Prix known to have paid reduced points: (year, meeting name, share of the normal points, whether the
/// fastest-lap point was awarded).
pub const REDUCED_POINTS_RACES: &[(i32, &str, f64, bool)] = &[
  (2009, "Malaysian Grand Prix", 0.5, false),
  (2021, "Belgian Grand Prix", 0.5, false),
];

/// What kind of scoring session a result belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoringSession {
  /// The Grand Prix (`session_name` "Race").
  GrandPrix,
  /// A sprint (`session_name` "Sprint").
  Sprint,
}

/// The points table of `session` in `year`; `None` when this module knows no system for it (before 2003, or a
/// sprint before 2021).
#[must_use]
pub fn points_table(year: i32, session: ScoringSession) -> Option<&'static [f64]> {
  match session {
    ScoringSession::GrandPrix if year >= 2010 => Some(&GRAND_PRIX_FROM_2010),
    ScoringSession::GrandPrix if (2003..=2009).contains(&year) => Some(&GRAND_PRIX_2003_TO_2009),
    ScoringSession::Sprint if year == 2021 => Some(&SPRINT_2021),
    ScoringSession::Sprint if year >= 2022 => Some(&SPRINT_FROM_2022),
    _ => None,
  }
}

/// Points for finishing `position` (1-based); 0 outside the table; `None` when no system is known.
#[must_use]
pub fn position_points(year: i32, session: ScoringSession, position: i32) -> Option<f64> {
  let table = points_table(year, session)?;
  let index = usize::try_from(position - 1).ok();
  Some(
    index
      .and_then(|index| table.get(index))
      .copied()
      .unwrap_or(0.0),
  )
}

/// Whether the fastest lap of a Grand Prix earned a point in `year` (2019–2024).
#[must_use]
pub fn fastest_lap_point(year: i32) -> bool {
  (2019..=2024).contains(&year)
}

/// The multiplier of a Grand Prix's points: 2 for the final race of 2014, the share of
/// [`REDUCED_POINTS_RACES`] for a race listed there, otherwise 1; with whether the fastest-lap point stands.
#[must_use]
pub fn grand_prix_multiplier(year: i32, meeting_name: &str, is_final_round: bool) -> (f64, bool) {
  if year == 2014 && is_final_round {
    return (2.0, true);
  }
  REDUCED_POINTS_RACES
    .iter()
    .find(|(reduced_year, name, _, _)| *reduced_year == year && *name == meeting_name)
    .map_or((1.0, true), |(_, _, share, fastest_lap)| {
      (*share, *fastest_lap)
    })
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn the_grand_prix_scale_of_2010_onwards_pays_the_top_ten() {
    assert_eq!(
      position_points(2024, ScoringSession::GrandPrix, 1),
      Some(25.0)
    );
    assert_eq!(
      position_points(2024, ScoringSession::GrandPrix, 10),
      Some(1.0)
    );
    assert_eq!(
      position_points(2024, ScoringSession::GrandPrix, 11),
      Some(0.0)
    );
    assert_eq!(
      position_points(2008, ScoringSession::GrandPrix, 1),
      Some(10.0)
    );
    assert_eq!(
      position_points(2008, ScoringSession::GrandPrix, 8),
      Some(1.0)
    );
    assert_eq!(position_points(1999, ScoringSession::GrandPrix, 1), None);
  }

  #[test]
  fn sprints_pay_the_top_three_in_2021_and_the_top_eight_from_2022() {
    assert_eq!(position_points(2021, ScoringSession::Sprint, 3), Some(1.0));
    assert_eq!(position_points(2021, ScoringSession::Sprint, 4), Some(0.0));
    assert_eq!(position_points(2024, ScoringSession::Sprint, 1), Some(8.0));
    assert_eq!(position_points(2024, ScoringSession::Sprint, 8), Some(1.0));
    assert_eq!(position_points(2020, ScoringSession::Sprint, 1), None);
  }

  #[test]
  fn the_fastest_lap_point_exists_from_2019_to_2024() {
    assert!(!fastest_lap_point(2018));
    assert!(fastest_lap_point(2019) && fastest_lap_point(2024));
    assert!(!fastest_lap_point(2025));
  }

  #[test]
  fn abu_dhabi_2014_paid_double_and_spa_2021_half_without_a_fastest_lap_point() {
    assert_eq!(
      grand_prix_multiplier(2014, "Abu Dhabi Grand Prix", true),
      (2.0, true)
    );
    assert_eq!(
      grand_prix_multiplier(2021, "Belgian Grand Prix", false),
      (0.5, false)
    );
    assert_eq!(
      grand_prix_multiplier(2024, "Belgian Grand Prix", false),
      (1.0, true)
    );
  }
}
