//! End-to-end tests: one test binary, one module per area.

mod api;
mod api_charts;
mod api_contract;
mod api_fuzz;
mod api_operations;
mod api_parameters;
mod api_support;
mod change_log;
mod charts;
mod charts_telemetry;
mod deploy;
mod live;
mod migrations;
mod openf1_answers;
mod openf1_compat;
mod openf1_server;
mod openf1_support;
mod standings;
mod store;
mod tcp_proxy;
mod viewer;
mod worker;
