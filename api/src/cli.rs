//! The command line: `api` or `api serve` (the server, default) and `api healthcheck` (the Docker HEALTHCHECK).
//! Configuration comes from environment variables (see [`crate::settings`]); `api --help` reads none of them.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::settings::Settings;

/// Serves Open F1 data and Plotly chart JSON over HTTP. Configured by environment variables (see the README's
/// configuration table).
#[derive(Debug, Parser)]
#[command(name = "api", version, about)]
pub struct Cli {
  /// What to do (default: `serve`).
  #[command(subcommand)]
  command: Option<Command>,
}

/// An api command.
#[derive(Debug, Subcommand)]
pub enum Command {
  /// Serve the api (and `/metrics` on `API_METRICS_ADDRESS`) until SIGTERM or Ctrl-C.
  Serve,
  /// Ask the running api's `/healthz` on the port of `API_LISTEN_ADDRESS`; exit 0 when healthy, 1 otherwise.
  Healthcheck,
}

impl Cli {
  /// Runs the command line; the exit code tells success.
  ///
  /// # Errors
  /// Fails when the settings are invalid or the server cannot start or fails.
  pub async fn run(self) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_environment()?;
    match self.command.unwrap_or(Command::Serve) {
      Command::Serve => {
        crate::telemetry::init(&settings);
        let application = crate::Application::build(settings).await?;
        application
          .run_until_stopped(runtime::shutdown_signal())
          .await?;
        Ok(ExitCode::SUCCESS)
      }
      Command::Healthcheck => Ok(if crate::healthcheck(&settings).await {
        ExitCode::SUCCESS
      } else {
        ExitCode::FAILURE
      }),
    }
  }
}
