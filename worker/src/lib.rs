//! The worker keeps the database in step with the Open F1 API.
//!
//! - [`records`]: parsing upstream rows into validated models (unknown fields ignored, bad rows rejected).
//! - [`store`]: upserting parsed rows on their natural keys, writing only what is new or changed.

pub mod records;
pub mod store;
