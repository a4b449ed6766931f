//! The client of the `healthcheck` subcommands: a raw HTTP/1.0 GET over TCP, so that images need no curl and the
//! check needs no TLS or HTTP client library.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a health check waits for an answer.
pub const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// The address to reach a server of this process from inside its container (`0.0.0.0` and `::` become
/// loopback).
#[must_use]
pub fn local_address(address: SocketAddr) -> SocketAddr {
  if address.ip().is_unspecified() {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), address.port())
  } else {
    address
  }
}

/// GETs `path` (e.g. `/healthz`) from the server listening on `address` (see [`local_address`]); true on a 200
/// within [`HEALTHCHECK_TIMEOUT`]. A failure is logged at WARN.
pub async fn is_healthy(address: SocketAddr, path: &str) -> bool {
  let address = local_address(address);
  let attempt = async {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
      .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
      .await?;
    let mut head = vec![0_u8; 64];
    let read = stream.read(&mut head).await?;
    Ok::<_, std::io::Error>(String::from_utf8_lossy(&head[..read]).into_owned())
  };
  match tokio::time::timeout(HEALTHCHECK_TIMEOUT, attempt).await {
    Ok(Ok(head)) => head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
    Ok(Err(error)) => {
      tracing::warn!(%error, %address, path, "health check failed");
      false
    }
    Err(_) => {
      tracing::warn!(%address, path, "health check timed out");
      false
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn an_unspecified_address_is_reached_on_loopback() {
    let address = local_address(SocketAddr::from(([0, 0, 0, 0], 9091)));
    assert_eq!(address, SocketAddr::from(([127, 0, 0, 1], 9091)));
  }

  #[tokio::test]
  async fn a_server_answering_200_is_healthy_and_a_closed_port_is_not() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
      .await
      .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
      let (mut stream, _) = listener.accept().await.expect("accept");
      let mut request = vec![0_u8; 256];
      let read = stream.read(&mut request).await.expect("read");
      assert!(String::from_utf8_lossy(&request[..read]).starts_with("GET /healthz HTTP/1.0"));
      stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        .await
        .expect("write");
    });
    assert!(is_healthy(address, "/healthz").await);
    server.await.expect("server");
    assert!(!is_healthy(address, "/healthz").await);
  }
}
