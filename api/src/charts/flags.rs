//! Safety-car, virtual-safety-car and red-flag periods derived from race-control messages, drawn as shaded
//! overlays on lap-based and time-based charts.
//!
//! Rules (messages compared upper-case, rows in date order):
//! - `VIRTUAL SAFETY CAR DEPLOYED` opens a VSC period; `VIRTUAL SAFETY CAR ENDING` closes it.
//! - `SAFETY CAR DEPLOYED` opens a safety-car period; `SAFETY CAR IN THIS LAP` or `SAFETY CAR ENDING`
//!   closes it (on that message's lap).
//! - flag `RED` or a message containing `RED FLAG` opens a red-flag period; the next message containing
//!   `RESUME` or `SESSION STARTED` closes it (`RED FLAG` as whole words: `CHEQUERED FLAG` is no red flag).
//! - `CHEQUERED` closes whatever is still open; a period never closed ends at the last message.
//!
//! On lap axes a period from lap `a` to lap `b` shades `[a - 0.5, b + 0.5]`.

use chrono::{DateTime, Utc};
use entity::race_control;
use plotly::common::Font;
use plotly::layout::{Annotation, Shape, ShapeLayer, ShapeLine, ShapeType};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::figure::plotly_date;

/// What neutralised or stopped the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagKind {
  /// Safety car.
  SafetyCar,
  /// Virtual safety car.
  VirtualSafetyCar,
  /// Red flag (session suspended).
  RedFlag,
}

impl FlagKind {
  /// The short label drawn above the shaded area.
  #[must_use]
  pub fn label(&self) -> &'static str {
    match self {
      FlagKind::SafetyCar => "SC",
      FlagKind::VirtualSafetyCar => "VSC",
      FlagKind::RedFlag => "Red flag",
    }
  }

  fn fill(&self) -> &'static str {
    match self {
      FlagKind::SafetyCar => "rgba(255, 196, 0, 0.20)",
      FlagKind::VirtualSafetyCar => "rgba(255, 196, 0, 0.10)",
      FlagKind::RedFlag => "rgba(220, 0, 0, 0.18)",
    }
  }
}

/// One period during which the session was neutralised or stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct FlagPeriod {
  /// What happened.
  pub kind: FlagKind,
  /// Race lap of the opening message, when known.
  pub start_lap: Option<i32>,
  /// Race lap of the closing message, when known.
  pub end_lap: Option<i32>,
  /// Time of the opening message, when known.
  pub start: Option<DateTime<Utc>>,
  /// Time of the closing message, when known.
  pub end: Option<DateTime<Utc>>,
}

/// The flag periods of a session.
///
/// # Errors
/// Returns the database error.
pub async fn load_flag_periods<C: ConnectionTrait>(
  connection: &C,
  session_key: i32,
) -> Result<Vec<FlagPeriod>, DbErr> {
  let rows = race_control::Entity::find()
    .filter(race_control::Column::SessionKey.eq(session_key))
    .all(connection)
    .await?;
  Ok(derive_flag_periods(rows))
}

/// Derives flag periods from race-control rows (any order), following the module's rules.
#[must_use]
pub fn derive_flag_periods(mut rows: Vec<race_control::Model>) -> Vec<FlagPeriod> {
  rows.sort_by_key(|row| (row.date, row.lap_number));
  let mut periods: Vec<FlagPeriod> = Vec::new();
  let mut open: Vec<FlagPeriod> = Vec::new();
  let mut last_lap = None;
  let mut last_date = None;
  for row in &rows {
    last_lap = row.lap_number.or(last_lap);
    last_date = row.date.or(last_date);
    let message = row.message.as_deref().unwrap_or_default().to_uppercase();
    let flag = row.flag.as_deref().unwrap_or_default().to_uppercase();
    let opens = if message.contains("VIRTUAL SAFETY CAR DEPLOYED") {
      Some(FlagKind::VirtualSafetyCar)
    } else if message.contains("SAFETY CAR DEPLOYED") {
      Some(FlagKind::SafetyCar)
    } else if flag == "RED" || contains_phrase(&message, "RED FLAG") {
      Some(FlagKind::RedFlag)
    } else {
      None
    };
    let closes: &[FlagKind] = if message.contains("VIRTUAL SAFETY CAR ENDING") {
      &[FlagKind::VirtualSafetyCar]
    } else if message.contains("SAFETY CAR IN THIS LAP") || message.contains("SAFETY CAR ENDING") {
      &[FlagKind::SafetyCar]
    } else if message.contains("RESUME") || message.contains("SESSION STARTED") {
      &[FlagKind::RedFlag]
    } else if flag == "CHEQUERED" {
      &[
        FlagKind::SafetyCar,
        FlagKind::VirtualSafetyCar,
        FlagKind::RedFlag,
      ]
    } else {
      &[]
    };
    let mut index = 0;
    while index < open.len() {
      if closes.contains(&open[index].kind) {
        let mut period = open.remove(index);
        period.end_lap = row.lap_number.or(last_lap);
        period.end = row.date.or(last_date);
        periods.push(period);
      } else {
        index += 1;
      }
    }
    if let Some(kind) = opens
      && !open.iter().any(|period| period.kind == kind)
    {
      open.push(FlagPeriod {
        kind,
        start_lap: row.lap_number,
        end_lap: None,
        start: row.date,
        end: None,
      });
    }
  }
  for mut period in open {
    period.end_lap = last_lap;
    period.end = last_date;
    periods.push(period);
  }
  periods
}

/// Whether `phrase` occurs in `message` as whole words (`CHEQUERED FLAG` does not contain `RED FLAG`).
fn contains_phrase(message: &str, phrase: &str) -> bool {
  message.match_indices(phrase).any(|(index, _)| {
    let before = message[..index].chars().next_back();
    let after = message[index + phrase.len()..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
  })
}

/// Shaded rectangles (and labels) for the periods on a lap axis, clipped to `lap_range` when given.
#[must_use]
pub fn lap_overlays(
  periods: &[FlagPeriod],
  lap_range: Option<(i32, i32)>,
) -> (Vec<Shape>, Vec<Annotation>) {
  let mut shapes = Vec::new();
  let mut labels = Vec::new();
  for period in periods {
    let Some(start) = period.start_lap else {
      continue;
    };
    let end = period.end_lap.unwrap_or(start).max(start);
    let (mut from, mut to) = (f64::from(start) - 0.5, f64::from(end) + 0.5);
    if let Some((first, last)) = lap_range {
      from = from.max(f64::from(first) - 0.5);
      to = to.min(f64::from(last) + 0.5);
      if from >= to {
        continue;
      }
    }
    shapes.push(shade(period.kind, from.into(), to.into()));
    labels.push(label(period.kind, f64::midpoint(from, to).into()));
  }
  (shapes, labels)
}

/// Shaded rectangles (and labels) for the periods on a date axis.
#[must_use]
pub fn time_overlays(periods: &[FlagPeriod]) -> (Vec<Shape>, Vec<Annotation>) {
  let mut shapes = Vec::new();
  let mut labels = Vec::new();
  for period in periods {
    let (Some(start), Some(end)) = (period.start, period.end) else {
      continue;
    };
    shapes.push(shade(
      period.kind,
      plotly_date(&start).into(),
      plotly_date(&end).into(),
    ));
    labels.push(label(period.kind, plotly_date(&start).into()));
  }
  (shapes, labels)
}

/// An x position on a lap axis or a date axis.
enum Coordinate {
  Lap(f64),
  Date(String),
}

impl From<f64> for Coordinate {
  fn from(lap: f64) -> Self {
    Coordinate::Lap(lap)
  }
}

impl From<String> for Coordinate {
  fn from(date: String) -> Self {
    Coordinate::Date(date)
  }
}

fn shade(kind: FlagKind, from: Coordinate, to: Coordinate) -> Shape {
  let shape = match from {
    Coordinate::Lap(lap) => Shape::new().x0(lap),
    Coordinate::Date(date) => Shape::new().x0(date),
  };
  let shape = match to {
    Coordinate::Lap(lap) => shape.x1(lap),
    Coordinate::Date(date) => shape.x1(date),
  };
  shape
    .shape_type(ShapeType::Rect)
    .layer(ShapeLayer::Below)
    .x_ref("x")
    .y_ref("paper")
    .y0(0)
    .y1(1)
    .fill_color(kind.fill())
    .line(ShapeLine::new().width(0.0))
    .name(kind.label())
}

fn label(kind: FlagKind, at: Coordinate) -> Annotation {
  let annotation = match at {
    Coordinate::Lap(lap) => Annotation::new().x(lap),
    Coordinate::Date(date) => Annotation::new().x(date),
  };
  annotation
    .text(kind.label())
    .x_ref("x")
    .y_ref("paper")
    .y(1.0)
    .y_anchor(plotly::common::Anchor::Bottom)
    .show_arrow(false)
    .font(Font::new().size(11))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_chequered_flag_is_not_a_red_flag() {
    assert!(!contains_phrase("CHEQUERED FLAG", "RED FLAG"));
    assert!(contains_phrase("RED FLAG", "RED FLAG"));
    assert!(contains_phrase("SESSION SUSPENDED - RED FLAG.", "RED FLAG"));
  }
}
