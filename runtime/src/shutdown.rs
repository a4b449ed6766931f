//! SIGTERM and Ctrl-C, as a future ([`shutdown_signal`]) or a cancellation token ([`shutdown_token`]).

use tokio_util::sync::CancellationToken;

/// Completes on SIGTERM or Ctrl-C. A signal that cannot be listened for is logged and never completes.
pub async fn shutdown_signal() {
  let interrupt = async {
    if let Err(error) = tokio::signal::ctrl_c().await {
      tracing::error!(%error, "cannot listen for Ctrl-C");
      std::future::pending::<()>().await;
    }
  };
  #[cfg(unix)]
  let terminate = async {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
      Ok(mut signal) => {
        signal.recv().await;
      }
      Err(error) => {
        tracing::error!(%error, "cannot listen for SIGTERM");
        std::future::pending::<()>().await;
      }
    }
  };
  #[cfg(not(unix))]
  let terminate = std::future::pending::<()>();
  tokio::select! {
    () = interrupt => {},
    () = terminate => {},
  }
  tracing::info!("shutdown requested");
}

/// A token cancelled on SIGTERM or Ctrl-C (spawns the wait; call it inside a tokio runtime).
#[must_use]
pub fn shutdown_token() -> CancellationToken {
  let token = CancellationToken::new();
  let trigger = token.clone();
  tokio::spawn(async move {
    shutdown_signal().await;
    trigger.cancel();
  });
  token
}
