//! Connecting to Redis, one node or a Redis Cluster, the same way in both binaries: one URL syntax
//! ([`RedisTarget::parse`]), one timeout policy ([`REDIS_TIMEOUT`]), one connection type for commands and Lua
//! scripts ([`RedisConnection`], usable wherever the [`crate::cache`] functions take a connection) and one
//! subscription ([`RedisTarget::subscribe`]) for the changes channel.
//!
//! **`REDIS_URL`.** `redis://[user:password@]host:port[/db]` is one node (a `ConnectionManager` that reconnects by
//! itself). `redis+cluster://[user:password@]host:port[,host:port...]` is a Redis Cluster reached through any of the
//! listed nodes (seeds: the client learns the others from the cluster); the credentials apply to every node.
//!
//! **Cluster.** Every key of a cache scope carries the scope as a hash tag (see [`crate::cache`]), so each Lua
//! script touches one slot and runs on the node owning it. The changes are published with plain `PUBLISH`, which a
//! cluster broadcasts to every node, so a subscriber on any node hears them; the cluster subscription uses RESP3
//! pushes and resubscribes by itself after a reconnection (a change published meanwhile is read from the change log
//! by the api's poller).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, Pipeline, PushKind, RedisError, RedisFuture, RedisResult, Value};

/// How long one Redis connection attempt or command may take, in both binaries. A cache that answers slower than
/// this is no faster than the database, so the caller gives up on it (and builds or relies on the change log).
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// The URL scheme of a Redis Cluster (`redis+cluster://host:port,host:port`).
const CLUSTER_SCHEME: &str = "redis+cluster://";

/// Where Redis is: one node or a cluster (cheap to clone; connects only when asked).
/// No `Debug`: the URLs may hold a password.
#[derive(Clone)]
pub enum RedisTarget {
  /// One Redis node.
  Node(redis::Client),
  /// A Redis Cluster, by its seed nodes (`redis://` URLs).
  Cluster(Vec<String>),
}

impl RedisTarget {
  /// Parses `REDIS_URL` (see the module documentation).
  ///
  /// # Errors
  /// Fails when the URL is not a Redis URL or a cluster URL lists no node.
  pub fn parse(url: &str) -> RedisResult<Self> {
    let Some(rest) = url.strip_prefix(CLUSTER_SCHEME) else {
      return Ok(Self::Node(redis::Client::open(url)?));
    };
    let (credentials, nodes) = match rest.rsplit_once('@') {
      Some((credentials, nodes)) => (Some(credentials), nodes),
      None => (None, rest),
    };
    let nodes: Vec<String> = nodes
      .trim_end_matches('/')
      .split(',')
      .map(str::trim)
      .filter(|node| !node.is_empty())
      .map(|node| match credentials {
        Some(credentials) => format!("redis://{credentials}@{node}"),
        None => format!("redis://{node}"),
      })
      .collect();
    if nodes.is_empty() {
      return Err(RedisError::from((
        ErrorKind::InvalidClientConfig,
        "a redis+cluster:// URL lists no node",
      )));
    }
    // Check each node's URL now, so that a typo fails at start rather than at the first command.
    for node in &nodes {
      redis::Client::open(node.as_str())?;
    }
    Ok(Self::Cluster(nodes))
  }

  /// Whether this is a Redis Cluster.
  #[must_use]
  pub fn is_cluster(&self) -> bool {
    matches!(self, Self::Cluster(_))
  }

  /// A connection for commands and scripts, connecting in the background: a Redis that is down at start fails
  /// commands (within [`REDIS_TIMEOUT`]) until it is back, it does not fail the start.
  ///
  /// # Errors
  /// Fails when the cluster client cannot be configured from the URLs.
  pub fn connect_lazily(&self) -> RedisResult<RedisConnection> {
    match self {
      Self::Node(client) => {
        let config = ConnectionManagerConfig::new()
          .set_connection_timeout(Some(REDIS_TIMEOUT))
          .set_response_timeout(Some(REDIS_TIMEOUT))
          .set_number_of_retries(1);
        Ok(RedisConnection::Node(
          ConnectionManager::new_lazy_with_config(client.clone(), config)?,
        ))
      }
      Self::Cluster(nodes) => {
        let client = ClusterClientBuilder::new(nodes.clone())
          .connection_timeout(REDIS_TIMEOUT)
          .response_timeout(REDIS_TIMEOUT)
          .retries(1)
          .build()?;
        let config = ClusterConfig::new()
          .set_connection_timeout(REDIS_TIMEOUT)
          .set_response_timeout(REDIS_TIMEOUT);
        Ok(RedisConnection::Cluster(
          client.get_pending_async_connection_with_config(config),
        ))
      }
    }
  }

  /// Subscribes to `channel` and returns the payloads of its messages, in order. The stream ends when a
  /// single-node subscription's connection is lost (subscribe again); a cluster subscription resubscribes by itself
  /// after reconnecting. Messages published while not subscribed are lost: the caller must have another way to
  /// learn them (the api polls the change log).
  ///
  /// # Errors
  /// Fails when Redis cannot be reached or refuses the subscription within [`REDIS_TIMEOUT`].
  pub async fn subscribe(&self, channel: &str) -> RedisResult<Subscription> {
    let subscribed = async {
      match self {
        Self::Node(client) => {
          let mut pubsub = client.get_async_pubsub().await?;
          pubsub.subscribe(channel).await?;
          let messages = pubsub
            .into_on_message()
            .map(|message| message.get_payload_bytes().to_vec());
          Ok(Subscription {
            messages: Box::pin(messages),
          })
        }
        Self::Cluster(nodes) => {
          let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
          let client = ClusterClientBuilder::new(nodes.clone())
            .connection_timeout(REDIS_TIMEOUT)
            .response_timeout(REDIS_TIMEOUT)
            .use_protocol(redis::ProtocolVersion::RESP3)
            .push_sender(sender)
            .build()?;
          let mut connection = client.get_async_connection().await?;
          connection.subscribe(channel).await?;
          let channel = channel.as_bytes().to_vec();
          // The connection lives as long as the stream: dropping the subscription closes it.
          let messages = futures::stream::unfold(
            (receiver, connection),
            |(mut receiver, connection)| async move {
              receiver
                .recv()
                .await
                .map(|push| (push, (receiver, connection)))
            },
          )
          .filter_map(move |push| {
            let payload = message_payload(&push, &channel);
            async move { payload }
          });
          Ok(Subscription {
            messages: Box::pin(messages),
          })
        }
      }
    };
    match tokio::time::timeout(REDIS_TIMEOUT, subscribed).await {
      Ok(result) => result,
      Err(_) => Err(RedisError::from((ErrorKind::Io, "subscribing timed out"))),
    }
  }
}

/// The payload of a RESP3 `message` push on `channel`.
fn message_payload(push: &redis::PushInfo, channel: &[u8]) -> Option<Vec<u8>> {
  if push.kind != PushKind::Message {
    return None;
  }
  match push.data.as_slice() {
    [Value::BulkString(name), Value::BulkString(payload)] if name.as_slice() == channel => {
      Some(payload.clone())
    }
    _ => None,
  }
}

/// The payloads of a channel's messages ([`RedisTarget::subscribe`]).
pub struct Subscription {
  messages: Pin<Box<dyn Stream<Item = Vec<u8>> + Send>>,
}

impl Stream for Subscription {
  type Item = Vec<u8>;

  fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Vec<u8>>> {
    self.messages.as_mut().poll_next(context)
  }
}

/// A connection to one node or to a cluster (cheap to clone; clones share the connection).
#[derive(Clone)]
pub enum RedisConnection {
  /// One node, reconnecting by itself.
  Node(ConnectionManager),
  /// A cluster, routing each command to the node owning its keys.
  Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConnection {
  fn req_packed_command<'a>(&'a mut self, command: &'a Cmd) -> RedisFuture<'a, Value> {
    match self {
      Self::Node(connection) => connection.req_packed_command(command),
      Self::Cluster(connection) => connection.req_packed_command(command),
    }
  }

  fn req_packed_commands<'a>(
    &'a mut self,
    pipeline: &'a Pipeline,
    offset: usize,
    count: usize,
  ) -> RedisFuture<'a, Vec<Value>> {
    match self {
      Self::Node(connection) => connection.req_packed_commands(pipeline, offset, count),
      Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
    }
  }

  fn get_db(&self) -> i64 {
    match self {
      Self::Node(connection) => connection.get_db(),
      Self::Cluster(connection) => connection.get_db(),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_plain_url_is_one_node_and_a_cluster_url_lists_its_seeds_with_shared_credentials() {
    assert!(
      !RedisTarget::parse("redis://127.0.0.1:6379/2")
        .expect("node")
        .is_cluster()
    );
    let RedisTarget::Cluster(nodes) =
      RedisTarget::parse("redis+cluster://user:secret@10.0.0.1:7000, 10.0.0.2:7001,10.0.0.3:7002/")
        .expect("cluster")
    else {
      panic!("a cluster");
    };
    assert_eq!(
      nodes,
      [
        "redis://user:secret@10.0.0.1:7000",
        "redis://user:secret@10.0.0.2:7001",
        "redis://user:secret@10.0.0.3:7002"
      ]
    );
    assert!(RedisTarget::parse("redis+cluster://").is_err());
    assert!(RedisTarget::parse("http://example.com").is_err());
  }
}
