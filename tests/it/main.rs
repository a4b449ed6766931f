//! End-to-end tests: one test binary, one module per area.

mod api;
mod api_charts;
mod api_contract;
mod api_fuzz;
mod api_operations;
mod api_support;
mod backfill;
mod change_log;
mod charts;
mod charts_telemetry;
mod crash;
mod deploy;
mod exposure;
mod live;
mod logs;
mod migrations;
mod openf1_server;
mod outage;
mod standings;
mod store;
mod tcp_proxy;
mod viewer;
mod worker;
