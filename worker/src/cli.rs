//! The command line: `worker run` (daemon, default), `worker once`, `worker backfill`, `worker migrate` and
//! `worker healthcheck`. Configuration comes from environment variables (see [`crate::settings`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use migration::MigratorTrait;
use tokio_util::sync::CancellationToken;

use crate::settings::Settings;
use crate::{BackfillTarget, Worker};

/// Keeps the F1 database in step with the Open F1 API. Configured by environment variables.
#[derive(Debug, Parser)]
#[command(name = "worker", version, about)]
pub struct Cli {
  /// What to do (default: `run`).
  #[command(subcommand)]
  command: Option<Command>,
}

/// A worker command.
#[derive(Debug, Subcommand)]
pub enum Command {
  /// Run the daemon until SIGTERM or Ctrl-C.
  Run,
  /// Run one full sync pass (calendar and every due session), then exit.
  Once,
  /// Ingest every finished session of a season, meeting or session, whatever was ingested before.
  Backfill(BackfillArguments),
  /// Run the database migrations and exit.
  Migrate,
  /// Ask the running worker's `/healthz` on `WORKER_METRICS_ADDRESS`; exit 0 when healthy, 1 otherwise.
  Healthcheck,
}

/// What to backfill: exactly one of the options.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct BackfillArguments {
  /// A season, e.g. 2024.
  #[arg(long)]
  pub year: Option<i32>,
  /// A meeting key, e.g. 1229.
  #[arg(long)]
  pub meeting: Option<i32>,
  /// A session key, e.g. 9472.
  #[arg(long)]
  pub session: Option<i32>,
}

impl BackfillArguments {
  fn target(&self) -> Option<BackfillTarget> {
    self
      .year
      .map(BackfillTarget::Year)
      .or(self.meeting.map(BackfillTarget::Meeting))
      .or(self.session.map(BackfillTarget::Session))
  }
}

/// A token cancelled on SIGTERM or Ctrl-C (a batch in flight is finished first).
#[must_use]
fn shutdown_token() -> CancellationToken {
  runtime::shutdown_token()
}

impl Cli {
  /// Runs the command line; the exit code tells success.
  ///
  /// # Errors
  /// Fails when the settings are invalid or the command fails.
  pub async fn run(self) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::from_environment()?;
    crate::telemetry::init(&settings);
    match self.command.unwrap_or(Command::Run) {
      Command::Run => {
        tracing::info!(?settings, "starting the worker");
        let worker = Worker::build(settings).await?;
        worker.run_until_stopped(shutdown_token()).await?;
      }
      Command::Once => {
        // A one-off pass must not collide with a running daemon's metrics port.
        settings.metrics_address = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        let worker = Worker::build(settings).await?;
        let cancellation = shutdown_token();
        worker.acquire_lease(&cancellation).await?;
        let outcome = worker.poll_once(&cancellation).await?;
        tracing::info!(?outcome, "sync pass finished");
        if matches!(outcome, crate::PollOutcome::PartlyFailed { .. }) {
          return Ok(ExitCode::FAILURE);
        }
      }
      Command::Backfill(arguments) => {
        let target = arguments
          .target()
          .context("give --year, --meeting or --session")?;
        settings.metrics_address = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        let worker = Worker::build(settings).await?;
        let cancellation = shutdown_token();
        worker.acquire_lease(&cancellation).await?;
        let report = worker.backfill(target, &cancellation).await?;
        tracing::info!(?report, "backfill finished");
      }
      Command::Migrate => {
        crate::install_tls_provider();
        let database = entity::database::connect(
          settings.shared.database_url.expose(),
          &entity::database::DatabaseOptions::default(),
        )
        .await
        .context("could not connect to the database (DATABASE_URL)")?;
        migration::Migrator::up(&database, None)
          .await
          .context("migrations failed")?;
        tracing::info!("migrations applied");
      }
      Command::Healthcheck => {
        let healthy = runtime::is_healthy(settings.metrics_address, "/healthz").await;
        return Ok(if healthy {
          ExitCode::SUCCESS
        } else {
          ExitCode::FAILURE
        });
      }
    }
    Ok(ExitCode::SUCCESS)
  }
}
