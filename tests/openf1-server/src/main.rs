//! `openf1-server`: serves recorded Open F1 responses locally (see `--help`).

use clap::Parser as _;
use openf1_server::cli::{CommandLine, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
  run(CommandLine::parse()).await
}
