//! The `api` binary: see the `api` library and `api --help`.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
  api::cli::run(api::cli::Cli::parse()).await
}
