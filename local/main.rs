//! `f1-local` (`cargo run` at the repository root): the whole system in one process for development.
//!
//! The api and the worker run as libraries ([`api::Application`], [`worker::Worker`]) on an embedded SQLite file
//! with the in-process cache, so nothing but the Rust toolchain is needed:
//!
//! - `cargo run` follows the real Open F1 API (the worker's settings come from the environment, as for the
//!   `worker` binary) and serves what it stores.
//! - `cargo run -- --offline --speed 10` needs no network: the local Open F1 server ([`openf1_server`]) runs in
//!   this process and replays a recorded race as if it were live now, and the worker polls it like upstream.
//!
//! This binary belongs to the root package (development tooling, with the tests), not to `api` or `worker`: the
//! production binaries and images carry no replay code.

mod system;

use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
  system::run(system::Options::parse()).await
}
