//! The `api` binary as a process: `--help` needs no database, and `LOG_FORMAT=json` writes the shared line shape
//! ([`runtime::JSON_LOG_KEYS`], the same as the worker's) to stderr.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn help_prints_the_usage_and_exits_0_without_reading_settings_or_a_database() {
  let output = Command::new(env!("CARGO_BIN_EXE_api"))
    .arg("--help")
    .env("DATABASE_URL", "mysql://nobody@127.0.0.1:1/none")
    .env("LOG_FORMAT", "not a format")
    .output()
    .expect("run api --help");
  assert!(output.status.success(), "{output:?}");
  let usage = String::from_utf8_lossy(&output.stdout);
  assert!(usage.contains("Usage: api"), "{usage}");
  assert!(usage.contains("healthcheck"), "{usage}");
}

#[test]
fn a_json_log_line_of_the_api_has_the_shared_shape() {
  let directory = std::env::temp_dir().join(format!("api-json-log-{}", std::process::id()));
  std::fs::create_dir_all(&directory).expect("temporary directory");
  let database_url = entity::database::sqlite_url(&directory.join("f1.db"));
  let mut api = Command::new(env!("CARGO_BIN_EXE_api"))
    .env_clear()
    .env("DATABASE_URL", database_url)
    .env("LOG_FORMAT", "json")
    .env("RUST_LOG", "info")
    .env("API_LISTEN_ADDRESS", "127.0.0.1:0")
    .env("API_METRICS_ADDRESS", "127.0.0.1:0")
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start the api");
  let stderr = api.stderr.take().expect("stderr");
  let (lines, received) = mpsc::channel();
  std::thread::spawn(move || {
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
      if lines.send(line).is_err() {
        break;
      }
    }
  });
  let line = received.recv_timeout(Duration::from_secs(60));
  api.kill().ok();
  api.wait().ok();
  std::fs::remove_dir_all(&directory).ok();
  let line: serde_json::Value =
    serde_json::from_str(&line.expect("a log line within 60 s")).expect("a JSON line");
  for key in runtime::JSON_LOG_KEYS {
    assert!(line.get(key).is_some(), "{key} in {line}");
  }
  assert!(line.get("fields").is_none(), "{line}");
}
