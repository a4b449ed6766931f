//! placeholder

pub mod charts;
