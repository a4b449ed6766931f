//! The Open F1 drop-in: `{api}/openf1/v1/{endpoint}` answers as `https://api.openf1.org/v1/{endpoint}` does, for
//! all 18 endpoints, from the database and the response cache.
//!
//! - `catalogue`: the endpoints and their fields, derived from the SeaORM entities.
//! - `compile`: the filter (Open F1's query language, parsed once by the `openf1_query` crate into a typed
//!   `openf1_query::Filter`) checked against an endpoint's fields and turned into SeaORM conditions and ordering.
//! - `encode`: rows written as upstream writes them (JSON or CSV, upstream's timestamps).
//! - `answer`: running a query: cached when small, streamed when big.
//! - `service`: the documented operations and the route.
//!
//! Where our answers can differ from upstream's, and why, is listed in the README ("Point your Open F1 code here").

mod answer;
mod catalogue;
mod compile;
mod encode;
pub(crate) mod service;

pub use catalogue::{Endpoint, EndpointCatalogue};
pub use encode::format_timestamp;

/// Where the drop-in is served: `{api}/openf1/v1/{endpoint}`.
pub const OPENF1_PREFIX: &str = "/openf1/v1";
