//! Storing upstream rows: parse, then upsert on the natural key, writing only rows that are new or changed.
//!
//! Open F1 re-publishes corrected rows after the fact, so an upsert must replace stored values; and re-polling an
//! unchanged session must write nothing (and invalidate nothing). Each batch therefore reads the stored rows with
//! the same primary keys, compares, and upserts only the difference. MySQL's affected-row count cannot tell an
//! unchanged row from an updated one (sqlx sets `CLIENT_FOUND_ROWS`), hence the comparison in memory.

use std::collections::{BTreeSet, HashMap};

use entity::{
  Endpoint, car_data, championship_drivers, championship_teams, drivers, intervals, laps, location,
  meetings, overtakes, pit, position, race_control, session_result, sessions, starting_grid,
  stints, team_radio, weather,
};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, ValueTuple};
use sea_orm::{
  ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, IdenStatic, IntoActiveModel, Iterable,
  ModelTrait, PrimaryKeyToColumn, QueryFilter,
};
use serde_json::Value;

use crate::records::{self, RecordError};

/// What storing one batch did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreOutcome {
  /// Rows received from upstream.
  pub received: usize,
  /// Rows rejected by parsing (logged and skipped).
  pub skipped: usize,
  /// Rows inserted or updated because they were new or differed from the stored row.
  pub written: usize,
  /// Sessions (or, for meetings, meeting keys are not sessions: see `meetings_changed`) with written rows.
  pub sessions_changed: BTreeSet<i32>,
  /// Meetings whose `meetings` row was written.
  pub meetings_changed: BTreeSet<i32>,
}

impl StoreOutcome {
  /// Adds another outcome into this one.
  pub fn absorb(&mut self, other: StoreOutcome) {
    self.received += other.received;
    self.skipped += other.skipped;
    self.written += other.written;
    self.sessions_changed.extend(other.sessions_changed);
    self.meetings_changed.extend(other.meetings_changed);
  }
}

/// Parses `rows` of `endpoint` and upserts the new or changed ones. Call it inside a transaction to make the batch
/// atomic.
///
/// # Errors
/// Returns the database error; parse failures are not errors (the row is logged and counted in `skipped`).
pub async fn store_rows<C: ConnectionTrait>(
  connection: &C,
  endpoint: Endpoint,
  rows: &[Value],
) -> Result<StoreOutcome, DbErr> {
  let mut outcome = StoreOutcome {
    received: rows.len(),
    ..StoreOutcome::default()
  };
  macro_rules! store {
    ($parse:path, $entity:ty, $session:expr) => {{
      let models = parse_all(endpoint, rows, $parse, &mut outcome.skipped);
      let written = upsert_changed::<$entity, C>(connection, models).await?;
      outcome.written = written.len();
      outcome.sessions_changed = written.iter().map($session).collect();
    }};
  }
  match endpoint {
    Endpoint::Meetings => {
      let models = parse_all(endpoint, rows, records::meeting, &mut outcome.skipped);
      let written = upsert_changed::<meetings::Entity, C>(connection, models).await?;
      outcome.written = written.len();
      outcome.meetings_changed = written.iter().map(|meeting| meeting.meeting_key).collect();
    }
    Endpoint::Sessions => store!(
      records::session,
      sessions::Entity,
      |row: &sessions::Model| row.session_key
    ),
    Endpoint::Drivers => store!(records::driver, drivers::Entity, |row: &drivers::Model| row
      .session_key),
    Endpoint::Laps => store!(records::lap, laps::Entity, |row: &laps::Model| row
      .session_key),
    Endpoint::CarData => store!(
      records::car_sample,
      car_data::Entity,
      |row: &car_data::Model| row.session_key
    ),
    Endpoint::Location => store!(
      records::location_sample,
      location::Entity,
      |row: &location::Model| row.session_key
    ),
    Endpoint::Position => store!(
      records::position_change,
      position::Entity,
      |row: &position::Model| row.session_key
    ),
    Endpoint::Intervals => store!(
      records::interval,
      intervals::Entity,
      |row: &intervals::Model| row.session_key
    ),
    Endpoint::Pit => store!(records::pit_stop, pit::Entity, |row: &pit::Model| row
      .session_key),
    Endpoint::Stints => store!(records::stint, stints::Entity, |row: &stints::Model| row
      .session_key),
    Endpoint::Weather => store!(
      records::weather_sample,
      weather::Entity,
      |row: &weather::Model| row.session_key
    ),
    Endpoint::RaceControl => {
      store!(
        records::race_control_message,
        race_control::Entity,
        |row: &race_control::Model| row.session_key
      )
    }
    Endpoint::TeamRadio => {
      store!(
        records::team_radio_message,
        team_radio::Entity,
        |row: &team_radio::Model| row.session_key
      )
    }
    Endpoint::SessionResult => store!(
      records::result,
      session_result::Entity,
      |row: &session_result::Model| row.session_key
    ),
    Endpoint::StartingGrid => {
      store!(
        records::grid_slot,
        starting_grid::Entity,
        |row: &starting_grid::Model| row.session_key
      )
    }
    Endpoint::Overtakes => store!(
      records::overtake,
      overtakes::Entity,
      |row: &overtakes::Model| row.session_key
    ),
    Endpoint::ChampionshipDrivers => {
      store!(
        records::driver_standing,
        championship_drivers::Entity,
        |row: &championship_drivers::Model| row.session_key
      )
    }
    Endpoint::ChampionshipTeams => {
      store!(
        records::team_standing,
        championship_teams::Entity,
        |row: &championship_teams::Model| row.session_key
      )
    }
  }
  Ok(outcome)
}

fn parse_all<M>(
  endpoint: Endpoint,
  rows: &[Value],
  parse: fn(&Value) -> Result<M, RecordError>,
  skipped: &mut usize,
) -> Vec<M> {
  rows
    .iter()
    .filter_map(|row| match parse(row) {
      Ok(model) => Some(model),
      Err(error) => {
        *skipped += 1;
        tracing::warn!(%endpoint, %error, row = %truncate(&row.to_string(), 300), "skipping an invalid upstream row");
        None
      }
    })
    .collect()
}

fn truncate(text: &str, limit: usize) -> &str {
  match text.char_indices().nth(limit) {
    Some((index, _)) => &text[..index],
    None => text,
  }
}

/// Most bind parameters a statement may use: SQLite allows 32,766 and MySQL 65,535.
const MAX_BIND_PARAMETERS: usize = 30_000;

fn primary_key_of<E: EntityTrait>(model: &E::Model) -> String {
  let values: Vec<sea_orm::Value> = E::PrimaryKey::iter()
    .map(|key| model.get(key.into_column()))
    .collect();
  format!("{values:?}")
}

/// Upserts the models that are new or differ from the stored row with the same primary key; returns those.
///
/// # Errors
/// Returns the database error.
pub async fn upsert_changed<E, C>(
  connection: &C,
  models: Vec<E::Model>,
) -> Result<Vec<E::Model>, DbErr>
where
  E: EntityTrait,
  E::Model: IntoActiveModel<E::ActiveModel> + PartialEq + Clone,
  E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
  C: ConnectionTrait,
{
  // Upstream occasionally repeats a row; the last version wins, as in an upsert.
  let mut unique: HashMap<String, usize> = HashMap::new();
  let mut deduplicated: Vec<E::Model> = Vec::with_capacity(models.len());
  for model in models {
    let key = primary_key_of::<E>(&model);
    match unique.get(&key) {
      Some(&index) => deduplicated[index] = model,
      None => {
        unique.insert(key, deduplicated.len());
        deduplicated.push(model);
      }
    }
  }

  let column_count = E::Column::iter().count().max(1);
  let chunk_size = (MAX_BIND_PARAMETERS / column_count).max(1);
  let key_columns: Vec<E::Column> = E::PrimaryKey::iter()
    .map(PrimaryKeyToColumn::into_column)
    .collect();
  let value_columns: Vec<E::Column> = E::Column::iter()
    .filter(|column| {
      !key_columns
        .iter()
        .any(|key| key.as_str() == column.as_str())
    })
    .collect();
  let mut written = Vec::new();
  for chunk in deduplicated.chunks(chunk_size) {
    let key_tuples = chunk.iter().map(|model| {
      ValueTuple::Many(
        key_columns
          .iter()
          .map(|column| model.get(*column))
          .collect::<Vec<sea_orm::Value>>(),
      )
    });
    let key_expression = Expr::tuple(
      key_columns
        .iter()
        .map(|column| Expr::col((E::default(), *column))),
    );
    let stored: HashMap<String, E::Model> = E::find()
      .filter(key_expression.in_tuples(key_tuples))
      .all(connection)
      .await?
      .into_iter()
      .map(|model| (primary_key_of::<E>(&model), model))
      .collect();
    let changed: Vec<E::Model> = chunk
      .iter()
      .filter(|model| stored.get(&primary_key_of::<E>(model)) != Some(*model))
      .cloned()
      .collect();
    if changed.is_empty() {
      continue;
    }
    let mut on_conflict = OnConflict::columns(key_columns.iter().copied());
    if value_columns.is_empty() {
      on_conflict.do_nothing();
    } else {
      on_conflict.update_columns(value_columns.iter().copied());
    }
    let active_models = changed
      .iter()
      .cloned()
      .map(|model| model.into_active_model().reset_all());
    E::insert_many(active_models)
      .on_conflict(on_conflict)
      .exec_without_returning(connection)
      .await?;
    written.extend(changed);
  }
  Ok(written)
}
