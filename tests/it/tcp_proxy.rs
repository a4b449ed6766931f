//! The fault-test TCP proxy itself: it relays, refuses, freezes and restores as documented.

use std::net::SocketAddr;
use std::time::Duration;

use f1_backend::{Engine, Outage, TcpProxy, TestDatabase};
use sea_orm::ConnectionTrait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A server that echoes every byte back.
async fn echo_server() -> SocketAddr {
  let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
  let address = listener.local_addr().expect("address");
  tokio::spawn(async move {
    while let Ok((mut stream, _)) = listener.accept().await {
      tokio::spawn(async move {
        let mut buffer = [0_u8; 1024];
        while let Ok(read) = stream.read(&mut buffer).await {
          if read == 0 || stream.write_all(&buffer[..read]).await.is_err() {
            break;
          }
        }
      });
    }
  });
  address
}

async fn echo(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<Vec<u8>> {
  stream.write_all(message).await?;
  let mut answer = vec![0_u8; message.len()];
  stream.read_exact(&mut answer).await?;
  Ok(answer)
}

#[tokio::test]
async fn a_refused_outage_closes_live_connections_and_refuses_new_ones_until_restored() {
  let proxy = TcpProxy::start(echo_server().await).await;
  let mut live = TcpStream::connect(proxy.address()).await.expect("connect");
  assert_eq!(echo(&mut live, b"lap").await.expect("echo"), b"lap");

  proxy.cut(Outage::Refused).await;
  let mut byte = [0_u8; 1];
  let after_cut = live.read(&mut byte).await;
  assert!(
    matches!(after_cut, Ok(0) | Err(_)),
    "the live connection is closed: {after_cut:?}"
  );
  let refused = TcpStream::connect(proxy.address())
    .await
    .expect_err("refused");
  assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);

  proxy.restore().await;
  let mut again = TcpStream::connect(proxy.address()).await.expect("connect");
  assert_eq!(echo(&mut again, b"stint").await.expect("echo"), b"stint");
}

#[tokio::test]
async fn a_frozen_outage_holds_bytes_and_connections_until_restored() {
  let proxy = TcpProxy::start(echo_server().await).await;
  let mut live = TcpStream::connect(proxy.address()).await.expect("connect");
  assert_eq!(echo(&mut live, b"lap").await.expect("echo"), b"lap");

  proxy.cut(Outage::Frozen).await;
  live.write_all(b"pit").await.expect("write");
  let mut byte = [0_u8; 1];
  // A frozen proxy never answers: this only checks that nothing came back meanwhile.
  let held = tokio::time::timeout(Duration::from_millis(200), live.read(&mut byte)).await;
  assert!(held.is_err(), "nothing is relayed while frozen");
  let mut newcomer = TcpStream::connect(proxy.address())
    .await
    .expect("a frozen server still accepts");
  newcomer.write_all(b"box").await.expect("write");

  proxy.restore().await;
  let mut answer = [0_u8; 3];
  live.read_exact(&mut answer).await.expect("held bytes");
  assert_eq!(&answer, b"pit");
  newcomer.read_exact(&mut answer).await.expect("held bytes");
  assert_eq!(&answer, b"box");
}

#[tokio::test]
async fn closing_connections_keeps_accepting_new_ones() {
  let proxy = TcpProxy::start(echo_server().await).await;
  let mut live = TcpStream::connect(proxy.address()).await.expect("connect");
  assert_eq!(echo(&mut live, b"a").await.expect("echo"), b"a");
  proxy.close_connections().await;
  assert_eq!(proxy.live_connections(), 0);
  let mut byte = [0_u8; 1];
  assert!(matches!(live.read(&mut byte).await, Ok(0) | Err(_)));
  let mut again = TcpStream::connect(proxy.address()).await.expect("connect");
  assert_eq!(echo(&mut again, b"b").await.expect("echo"), b"b");
}

#[tokio::test]
async fn a_database_pool_through_the_proxy_fails_while_refused_and_recovers_after() {
  let database = TestDatabase::empty(Engine::MariaDb).await;
  let proxy = TcpProxy::in_front_of(&database.url).await;
  assert!(proxy.url().contains(&proxy.address().port().to_string()));
  let options = entity::database::DatabaseOptions {
    max_connections: 2,
    acquire_timeout: Duration::from_millis(500),
  };
  let pool = entity::database::connect(&proxy.url(), &options)
    .await
    .expect("connect through the proxy");
  pool.execute_unprepared("SELECT 1").await.expect("query");

  proxy.cut(Outage::Refused).await;
  pool
    .execute_unprepared("SELECT 1")
    .await
    .expect_err("the database is unreachable");

  proxy.restore().await;
  pool
    .execute_unprepared("SELECT 1")
    .await
    .expect("the pool reconnects after the outage");
}
