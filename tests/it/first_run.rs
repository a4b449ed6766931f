//! The README's first-run command works as written: it is read from README.md (the line right under
//! `docker compose up` in the first code block), run for a bounded time, and the viewer's data endpoint must answer
//! with laps that grow.
//!
//! How the line is run (the only substitutions):
//! - `cargo run -- ARGS` becomes the `f1-local` binary that `cargo test --workspace` built (the root package's
//!   binary, `CARGO_BIN_EXE_f1-local`) with the same ARGS, so the test does not rebuild anything;
//! - `--listen 127.0.0.1:0 --data-dir <a fresh temporary folder>` are appended (the binary lets a later flag win),
//!   so the run uses its own port and files and never touches 8080 or `./f1-replay.db`;
//! - the environment is emptied but for `PATH` and `HOME`, as on a machine with nothing configured.
//!
//! Once the laps grow, headless Chromium (when installed; always under CI) opens `/` and must land on the viewer
//! drawing the live race's lap times and refreshing them. The child is killed when the test fails (`kill_on_drop`);
//! on success it gets SIGTERM and must exit 0.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use f1_backend::unique_name;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::api_support::client;

/// Longest wait for the command to print the viewer's URL (it starts in about a second).
const START_DEADLINE: Duration = Duration::from_secs(60);
/// Longest wait for the laps to grow (the README's replay shows its first lap about 25 s after the start).
const GROWTH_DEADLINE: Duration = Duration::from_secs(100);
/// Pause between two looks at the chart.
const POLL_PAUSE: Duration = Duration::from_secs(2);
/// How many increases of the lap count prove it grows lap by lap.
const INCREASES: usize = 2;
/// Longest wait for a clean exit after SIGTERM.
const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// The line right under `docker compose up` in the README's first fenced code block, without its `#` comment.
fn first_run_command(readme: &str) -> String {
  let block: Vec<&str> = readme
    .lines()
    .skip_while(|line| !line.starts_with("```"))
    .skip(1)
    .take_while(|line| !line.starts_with("```"))
    .collect();
  let position = block
    .iter()
    .position(|line| line.starts_with("docker compose up"))
    .expect("the README's first code block starts with `docker compose up`");
  let line = block
    .get(position + 1)
    .expect("a command right under `docker compose up`");
  let command = line.split(" #").next().unwrap_or(line).trim();
  assert!(
    !command.contains(['"', '\'', '$', '`', '|', '&', ';']),
    "the first-run command must be a plain word list for this test to run it: {command}"
  );
  command.to_owned()
}

/// The program arguments of `cargo run -- ARGS`.
fn cargo_run_arguments(command: &str) -> Vec<String> {
  let words: Vec<&str> = command.split_whitespace().collect();
  let separator = words.iter().position(|word| *word == "--");
  let (cargo, arguments) = match separator {
    Some(position) => (&words[..position], &words[position + 1..]),
    None => (&words[..], &[][..]),
  };
  assert_eq!(
    cargo,
    ["cargo", "run"],
    "the first-run command is expected to be `cargo run -- ARGS` (the root package's f1-local); if it changed, \
     map it to its binary here: {command}"
  );
  arguments.iter().map(|word| (*word).to_owned()).collect()
}

/// Sends SIGTERM to `pid`.
async fn terminate(pid: u32) {
  let status = tokio::process::Command::new("kill")
    .args(["-TERM", &pid.to_string()])
    .status()
    .await
    .expect("run kill");
  assert!(status.success(), "kill -TERM {pid}");
}

/// How many lap points the lap-time figure plots (each trace's `x` is one driver's laps).
fn plotted_laps(figure: &serde_json::Value) -> usize {
  figure["data"]
    .as_array()
    .expect("a figure has data")
    .iter()
    .map(|trace| trace["x"].as_array().map_or(0, Vec::len))
    .sum()
}

/// The standard error of the run, for failure messages.
fn log_tail(path: &Path) -> String {
  let text = std::fs::read_to_string(path).unwrap_or_default();
  let start = text.len().saturating_sub(4000);
  text.get(start..).unwrap_or(&text).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_first_run_command_serves_a_replayed_race_whose_laps_grow() {
  let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
    .expect("read README.md");
  let command = first_run_command(&readme);
  let mut arguments = cargo_run_arguments(&command);
  assert!(
    arguments.iter().any(|argument| argument == "--offline"),
    "the first-run command runs offline: {command}"
  );
  let data_dir = std::env::temp_dir().join(unique_name("first_run"));
  std::fs::create_dir_all(&data_dir).expect("create the data folder");
  let data_dir_text = data_dir
    .to_str()
    .expect("a UTF-8 temporary folder")
    .to_owned();
  arguments.extend(["--listen", "127.0.0.1:0", "--data-dir", &data_dir_text].map(str::to_owned));
  let log = data_dir.join("stderr.log");
  eprintln!("running `{command}` as f1-local {}", arguments.join(" "));

  let mut child = tokio::process::Command::new(PathBuf::from(env!("CARGO_BIN_EXE_f1-local")))
    .args(&arguments)
    .env_clear()
    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
    .env("HOME", std::env::var_os("HOME").unwrap_or_default())
    // The viewer follows the live race over an event stream, and headless Chromium's virtual clock (which decides
    // when it prints the page) stands still while one is open: short streams let it run between reconnections.
    .env("API_EVENT_STREAM_MAX_SECONDS", "2")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(std::fs::File::create(&log).expect("create the log"))
    .kill_on_drop(true)
    .spawn()
    .expect("start f1-local");
  let pid = child.id().expect("the child runs");
  let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();

  let viewer = tokio::time::timeout(START_DEADLINE, async {
    while let Some(line) = lines.next_line().await.expect("read stdout") {
      if let Some(url) = line.trim().strip_prefix("viewer:") {
        return url.trim().to_owned();
      }
    }
    panic!(
      "f1-local ended without printing the viewer's URL: {}",
      log_tail(&log)
    );
  })
  .await
  .unwrap_or_else(|_| {
    panic!(
      "no viewer URL within {START_DEADLINE:?}: {}",
      log_tail(&log)
    )
  });
  // Keep reading standard output so the child never blocks on a full pipe.
  tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

  let url = url::Url::parse(&viewer).expect("the viewer URL parses");
  let base = format!("{}://{}", url.scheme(), url.authority());
  let parameter = |name: &str| {
    url
      .query_pairs()
      .find(|(key, _)| key == name)
      .map(|(_, value)| value.into_owned())
      .unwrap_or_else(|| panic!("the viewer URL {viewer} names the {name}"))
  };
  let (session, chart) = (parameter("session"), parameter("chart"));
  assert_eq!(
    chart, "lap-times",
    "the printed URL opens the lap-time chart"
  );
  let http = client();

  let home = http.get(format!("{base}/")).send().await.expect("GET /");
  assert_eq!(home.status(), 303, "`/` leads to the viewer");
  assert_eq!(home.headers()["location"], "/viewer");
  let page = http
    .get(&viewer)
    .send()
    .await
    .expect("GET the viewer")
    .text()
    .await
    .expect("the viewer page");
  assert!(
    page.contains(r#"href="/docs""#),
    "the viewer links to /docs"
  );

  // The viewer's data endpoint for that URL.
  let chart_url = format!("{base}/v1/sessions/{session}/charts/{chart}");
  let started = Instant::now();
  let mut counts: Vec<usize> = Vec::new();
  while counts.windows(2).filter(|pair| pair[1] > pair[0]).count() < INCREASES {
    assert!(
      started.elapsed() < GROWTH_DEADLINE,
      "the laps did not grow {INCREASES} times within {GROWTH_DEADLINE:?} (lap counts seen: {counts:?}): {}",
      log_tail(&log)
    );
    let response = http.get(&chart_url).send().await.expect("GET the chart");
    assert_eq!(response.status(), 200, "{chart_url}");
    let figure: serde_json::Value = response.json().await.expect("figure JSON");
    let laps = plotted_laps(&figure);
    if let Some(last) = counts.last() {
      assert!(
        laps >= *last,
        "the lap count went down: {counts:?} then {laps}"
      );
    }
    if counts.last() != Some(&laps) {
      eprintln!(
        "{:>5.1} s: {laps} laps plotted",
        started.elapsed().as_secs_f64()
      );
      counts.push(laps);
    }
    tokio::time::sleep(POLL_PAUSE).await;
  }

  // In a browser, `/` opens the viewer on the latest session, the live replay, and keeps its chart fresh.
  if let Some(chromium) = crate::viewer::chromium_or_skip() {
    let dom = crate::viewer::run_chromium(&chromium, &format!("{base}/"), &["--dump-dom"]).await;
    for expected in [
      r#"data-chart-state="rendered""#,
      r#"data-live="true""#,
      r#"data-trace-count="20""#,
    ] {
      assert!(
        dom.contains(expected),
        "the viewer at / shows the live race ({expected}): {}",
        &dom[..dom.len().min(2000)]
      );
    }
  }

  terminate(pid).await;
  let status = tokio::time::timeout(STOP_DEADLINE, child.wait())
    .await
    .expect("f1-local stops after SIGTERM")
    .expect("wait for f1-local");
  assert!(
    status.success(),
    "f1-local exits 0 on SIGTERM: {status}: {}",
    log_tail(&log)
  );
  std::fs::remove_dir_all(&data_dir).ok();
}
