//! The `api` binary: see the `api` library and `api --help`.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
  api::Cli::parse().run().await
}
