//! A local server speaking the real Open F1 protocol (<https://api.openf1.org/v1>) from recorded fixtures, for the
//! worker's tests and for frontend developers.
//!
//! Modules:
//! - [`store`]: loads every `*.json` under a fixture folder, deduplicated by natural key, sorted like upstream.
//! - [`query`]: evaluating Open F1 filters over rows in memory (the language itself, shared with the api, is the
//!   `openf1_query` crate's: operators, casting, repeated keys, ranges, bare dates, `latest`).
//! - [`faults`]: switchable failures (429, 5xx, 401, slow, truncated or garbage bodies).
//! - [`replay`]: time-shifted replay of a recorded session as if it were live now.
//! - [`broker`]: publishing the replay to a real MQTT broker (mosquitto) and upstream's token authentication on it.
//! - [`clock`]: the injectable clock.
//! - [`server`]: the HTTP server ([`OpenF1Server`]), token endpoint and control API (`/__control/...`).
//! - [`cli`]: the `openf1-server` binary's arguments.
//! - [`time`]: writing datetimes as upstream does.

pub mod broker;
pub mod cli;
pub mod clock;
pub mod faults;
pub mod query;
pub mod replay;
pub mod server;
pub mod store;
pub mod time;

pub use broker::{BrokerError, BrokerOptions};
pub use clock::{Clock, ManualClock};
pub use faults::Fault;
pub use replay::ReplayOptions;
pub use server::{Credentials, OpenF1Server, RecordedRequest, ServerError, ServerOptions};
pub use store::FixtureStore;
