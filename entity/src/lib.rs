//! The crate shared by the `api` and the `worker`.
//!
//! - `tables` (private): one SeaORM entity per Open F1 endpoint (the table is named after the endpoint), each
//!   keyed by the endpoint's natural key so that ingest can upsert; each re-exported at the crate root ([`laps`],
//!   ...).
//! - [`Endpoint`]: the 18 Open F1 endpoints (= tables) and which cache scopes a change to each one stales.
//! - [`ingest_state`]: the worker's bookkeeping of ingested sessions.
//! - [`change_log`]: what each worker commit changed (written by the worker in the same transaction, read by the
//!   api's change feed), and the JSON published on Redis.
//! - [`cache`]: the Redis key scheme and versioning of cached responses, with both the writing side (used by the
//!   api) and the invalidation side (used by the worker), so the two can never disagree.
//! - [`database`]: connecting to MariaDB/MySQL or the embedded SQLite default, and [`database::DatabaseMonitor`],
//!   which knows without waiting whether the database answers.
//! - [`redis_client`]: connecting to one Redis node or a Redis Cluster from `REDIS_URL` (both binaries), with one
//!   timeout policy, and subscribing to the changes channel.

pub mod cache;
pub mod change_log;
pub mod database;
mod endpoint;
pub mod ingest_state;
pub mod redis_client;
mod tables;

pub use endpoint::Endpoint;
pub use tables::*;
