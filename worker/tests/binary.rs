//! The `worker` binary as a process: `LOG_FORMAT=json` writes the shared line shape ([`runtime::JSON_LOG_KEYS`], the
//! same as the api's) to stderr.

use std::process::Command;

#[test]
fn a_json_log_line_of_the_worker_has_the_shared_shape() {
  let directory = std::env::temp_dir().join(format!("worker-json-log-{}", std::process::id()));
  std::fs::create_dir_all(&directory).expect("temporary directory");
  let database_url = entity::database::sqlite_url(&directory.join("f1.db"));
  let output = Command::new(env!("CARGO_BIN_EXE_worker"))
    .arg("migrate")
    .env_clear()
    .env("DATABASE_URL", database_url)
    .env("LOG_FORMAT", "json")
    .env("RUST_LOG", "info")
    .output()
    .expect("run worker migrate");
  std::fs::remove_dir_all(&directory).ok();
  assert!(output.status.success(), "{output:?}");
  let stderr = String::from_utf8_lossy(&output.stderr);
  let line = stderr.lines().last().expect("a log line");
  let line: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
  assert_eq!(line["message"], "migrations applied");
  for key in runtime::JSON_LOG_KEYS {
    assert!(line.get(key).is_some(), "{key} in {line}");
  }
  assert!(line.get("fields").is_none(), "{line}");
}
