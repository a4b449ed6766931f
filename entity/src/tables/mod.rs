//! One module per Open F1 endpoint; each table is named after its endpoint.

pub mod car_data;
pub mod championship_drivers;
pub mod championship_teams;
pub mod drivers;
pub mod intervals;
pub mod laps;
pub mod location;
pub mod meetings;
pub mod overtakes;
pub mod pit;
pub mod position;
pub mod race_control;
pub mod session_result;
pub mod sessions;
pub mod starting_grid;
pub mod stints;
pub mod team_radio;
pub mod weather;
