//! A throwaway three-node Redis Cluster for tests: three `redis-server --cluster-enabled yes` processes on free
//! ports (each with its cluster bus port, +10000), joined with `redis-cli --cluster create`, killed and their files
//! removed when the value is dropped. Needs `redis-server` and `redis-cli` on the PATH.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// How long the cluster may take to start and agree on its slots.
const START_DEADLINE: Duration = Duration::from_secs(20);

/// A running three-node cluster (no replicas).
pub struct RedisCluster {
  /// The nodes' ports.
  pub ports: Vec<u16>,
  servers: Vec<Child>,
  directory: PathBuf,
}

/// A port that is free, and whose cluster bus port (+10000) is free too.
fn free_port_pair() -> u16 {
  loop {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    if port < 55_535 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
      return port;
    }
  }
}

async fn redis_cli(arguments: &[String]) -> std::process::Output {
  Command::new("redis-cli")
    .args(arguments)
    .stdin(Stdio::null())
    .output()
    .await
    .expect("run redis-cli")
}

impl RedisCluster {
  /// Starts three nodes, creates the cluster and waits until every node reports `cluster_state:ok`.
  ///
  /// # Panics
  /// Panics when a server cannot start or the cluster does not form within 20 seconds.
  pub async fn start() -> Self {
    let directory = std::env::temp_dir().join(crate::unique_name("cluster"));
    std::fs::create_dir_all(&directory).expect("create the cluster's folder");
    let mut ports = Vec::new();
    let mut servers = Vec::new();
    while ports.len() < 3 {
      let port = free_port_pair();
      if ports.contains(&port) {
        continue;
      }
      let server = Command::new("redis-server")
        .args([
          "--port",
          &port.to_string(),
          "--bind",
          "127.0.0.1",
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          &format!("nodes-{port}.conf"),
          "--cluster-node-timeout",
          "2000",
          "--save",
          "",
          "--appendonly",
          "no",
          "--dir",
        ])
        .arg(&directory)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start redis-server (is it installed?)");
      ports.push(port);
      servers.push(server);
    }
    let cluster = Self {
      ports,
      servers,
      directory,
    };
    let started = async {
      for port in &cluster.ports {
        while redis_cli(&["-p".into(), port.to_string(), "ping".into()])
          .await
          .stdout
          != b"PONG\n"
        {
          tokio::time::sleep(Duration::from_millis(50)).await;
        }
      }
      let mut create = vec!["--cluster".to_owned(), "create".to_owned()];
      create.extend(cluster.ports.iter().map(|port| format!("127.0.0.1:{port}")));
      create.extend(["--cluster-replicas", "0", "--cluster-yes"].map(str::to_owned));
      let created = redis_cli(&create).await;
      assert!(
        created.status.success(),
        "redis-cli --cluster create: {}",
        String::from_utf8_lossy(&created.stdout)
      );
      for port in &cluster.ports {
        loop {
          let info = redis_cli(&[
            "-p".into(),
            port.to_string(),
            "cluster".into(),
            "info".into(),
          ])
          .await;
          if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
            break;
          }
          tokio::time::sleep(Duration::from_millis(50)).await;
        }
      }
    };
    tokio::time::timeout(START_DEADLINE, started)
      .await
      .expect("the cluster forms within the deadline");
    cluster
  }

  /// `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`, the `REDIS_URL` of this cluster.
  #[must_use]
  pub fn url(&self) -> String {
    let nodes: Vec<String> = self
      .ports
      .iter()
      .map(|port| format!("127.0.0.1:{port}"))
      .collect();
    format!("redis+cluster://{}", nodes.join(","))
  }

  /// The `redis://` URL of node `index`.
  #[must_use]
  pub fn node_url(&self, index: usize) -> String {
    format!("redis://127.0.0.1:{}", self.ports[index])
  }
}

impl Drop for RedisCluster {
  fn drop(&mut self) {
    for server in &mut self.servers {
      server.start_kill().ok();
    }
    std::fs::remove_dir_all(&self.directory).ok();
  }
}
