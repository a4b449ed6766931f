//! Command line of the `openf1-server` binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{TimeDelta, Utc};
use clap::Parser;

use crate::broker::BrokerOptions;
use crate::replay::ReplayOptions;
use crate::server::{Credentials, OpenF1Server, ServerOptions};

/// Serves recorded Open F1 responses over the real protocol, optionally replaying a session as if live.
#[derive(Debug, Parser)]
#[command(name = "openf1-server", version)]
pub struct CommandLine {
  /// Folder of recorded responses.
  #[arg(long = "fixtures", default_value = "tests/fixtures/openf1")]
  pub fixtures_dir: PathBuf,
  /// Address to listen on.
  #[arg(long, default_value = "127.0.0.1:8765")]
  pub listen: SocketAddr,
  /// Replay this session as if it were running now.
  #[arg(long)]
  pub replay_session: Option<i64>,
  /// Replay speed (recorded seconds per real second).
  #[arg(long, default_value_t = 1.0)]
  pub speed: f64,
  /// Start the replay this many minutes into the session (negative: before it starts).
  #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
  pub offset_minutes: i64,
  /// Username accepted by `POST /token` (with `--password`).
  #[arg(long, requires = "password")]
  pub username: Option<String>,
  /// Password accepted by `POST /token` (with `--username`).
  #[arg(long, requires = "username")]
  pub password: Option<String>,
  /// Answer 401 to requests without a valid bearer token (always, and while a replayed session is live).
  #[arg(long)]
  pub require_auth: bool,
  /// Publish the replay on this MQTT broker (`HOST:PORT`, plain TCP; a mosquitto with the dynamic-security
  /// plugin) and register issued tokens with it, as upstream's broker does.
  #[arg(long, requires_all = ["broker_admin_username", "broker_admin_password"])]
  pub broker: Option<String>,
  /// Dynamic-security admin of `--broker` (`mosquitto_ctrl dynsec init FILE USERNAME PASSWORD`).
  #[arg(long, requires = "broker")]
  pub broker_admin_username: Option<String>,
  /// Password of `--broker-admin-username`.
  #[arg(long, env = "OPENF1_SERVER_BROKER_ADMIN_PASSWORD", requires = "broker")]
  pub broker_admin_password: Option<String>,
}

impl CommandLine {
  /// The server options these arguments describe.
  ///
  /// # Errors
  /// When `--broker` is not `HOST:PORT`.
  pub fn server_options(&self) -> anyhow::Result<ServerOptions> {
    let mut options = ServerOptions::new(&self.fixtures_dir);
    options.credentials = self
      .username
      .clone()
      .zip(self.password.clone())
      .map(|(username, password)| Credentials { username, password });
    options.require_auth = self.require_auth && self.replay_session.is_none();
    options.replay = self.replay_session.map(|session_key| ReplayOptions {
      session_key,
      speed: self.speed,
      started_at: Utc::now(),
      offset: TimeDelta::minutes(self.offset_minutes),
      auth_during_live: self.require_auth,
    });
    if let (Some(broker), Some(admin_username), Some(admin_password)) = (
      &self.broker,
      &self.broker_admin_username,
      &self.broker_admin_password,
    ) {
      let (host, port) = broker
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host.to_owned(), port.parse::<u16>().ok()?)))
        .with_context(|| format!("--broker {broker} is not HOST:PORT"))?;
      options.broker = Some(BrokerOptions {
        host,
        port,
        admin_username: admin_username.clone(),
        admin_password: admin_password.clone(),
        publish_automatically: true,
      });
    }
    Ok(options)
  }
}

/// Runs the binary: logs to stderr, serves until Ctrl-C or SIGTERM.
///
/// # Errors
/// Returns an error when the server cannot start.
pub async fn run(command_line: CommandLine) -> anyhow::Result<()> {
  tracing_subscriber::fmt()
    .with_env_filter(
      tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
    )
    .with_writer(std::io::stderr)
    .init();
  let server = OpenF1Server::start_on(command_line.server_options()?, command_line.listen)
    .await
    .with_context(|| {
      format!(
        "starting the local Open F1 server on {}",
        command_line.listen
      )
    })?;
  tracing::info!(
    base_url = server.base_url(),
    token_url = server.token_url(),
    "serving"
  );
  runtime::shutdown_signal().await;
  server.stop().await;
  Ok(())
}
