//! The `api` binary: `api` serves; `api healthcheck` checks a running api (the Docker HEALTHCHECK).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
  let settings = api::settings::Settings::from_environment()?;
  if std::env::args().nth(1).as_deref() == Some("healthcheck") {
    std::process::exit(if api::healthcheck(&settings).await {
      0
    } else {
      1
    });
  }
  api::telemetry::init(&settings);
  let application = api::Application::build(settings).await?;
  application.run_until_stopped(api::shutdown_signal()).await
}
