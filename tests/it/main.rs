//! End-to-end tests: one test binary, one module per area.

mod migrations;
mod openf1_server;
mod store;
mod worker;
