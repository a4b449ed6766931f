//! The `worker` binary: see the `worker` library and `worker --help`.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
  worker::Cli::parse().run().await
}
