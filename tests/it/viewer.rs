//! The viewer page, served by the api, renders a chart in a real headless Chromium (Debian's `chromium`).
//!
//! The page reports what it drew in `data-chart-state` and `data-trace-count` on `<body>`; Chromium's
//! `--dump-dom` prints the DOM after the page's scripts ran. A screenshot is kept in `test-artifacts/`.
//! Without Chromium the test is skipped, except under CI (`CI` set), where it must run.

use std::path::PathBuf;
use std::time::Duration;

use f1_backend::{Engine, unique_name};

use crate::api_support::TestApi;

/// Debian's Chromium (or `CHROMIUM`), when installed.
fn chromium() -> Option<PathBuf> {
  if let Some(path) = std::env::var_os("CHROMIUM") {
    return Some(PathBuf::from(path));
  }
  ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
    .iter()
    .map(PathBuf::from)
    .find(|path| path.exists())
}

/// Chromium, or `None` after saying the browser check is skipped; under CI (`CI` set) a missing Chromium fails
/// the test instead (`.ci/run` installs it).
pub(crate) fn chromium_or_skip() -> Option<PathBuf> {
  let found = chromium();
  if found.is_none() {
    assert!(
      std::env::var_os("CI").is_none(),
      "CI must run the browser checks: apt-get install chromium"
    );
    eprintln!("browser check skipped: Chromium is not installed (apt-get install chromium)");
  }
  found
}

/// Runs headless Chromium on `url` with `extra` arguments and returns its standard output.
pub(crate) async fn run_chromium(chromium: &PathBuf, url: &str, extra: &[&str]) -> String {
  let profile = std::env::temp_dir().join(unique_name("chromium"));
  let mut command = tokio::process::Command::new(chromium);
  command
    .args([
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--hide-scrollbars",
      "--window-size=1280,860",
      "--virtual-time-budget=20000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(url)
    .kill_on_drop(true);
  let output = tokio::time::timeout(Duration::from_secs(120), command.output())
    .await
    .expect("Chromium finishes within two minutes")
    .expect("run Chromium");
  std::fs::remove_dir_all(&profile).ok();
  assert!(
    output.status.success(),
    "Chromium failed: {}",
    String::from_utf8_lossy(&output.stderr)
  );
  String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_renders_the_lap_time_chart_in_headless_chromium() {
  let Some(chromium) = chromium_or_skip() else {
    return;
  };
  let api = TestApi::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;

  let bundle = api.get("/viewer/plotly.min.js").await;
  assert_eq!(bundle.status(), 200);
  assert!(
    bundle.headers()["content-type"]
      .to_str()
      .expect("ascii")
      .starts_with("text/javascript")
  );

  let url = format!("{}/viewer?session=9472&chart=lap-times", api.base_url);
  let dom = run_chromium(&chromium, &url, &["--dump-dom"]).await;
  assert!(
    dom.contains(r#"data-chart-state="rendered""#),
    "the chart did not render: {}",
    &dom[..dom.len().min(2000)]
  );
  // Bahrain 2024: twenty drivers, one lap-time trace each.
  assert!(
    dom.contains(r#"data-trace-count="20""#),
    "expected 20 traces"
  );

  let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts");
  std::fs::create_dir_all(&artifacts).expect("create test-artifacts/");
  let screenshot = artifacts.join("viewer-lap-times.png");
  std::fs::remove_file(&screenshot).ok();
  run_chromium(
    &chromium,
    &url,
    &[&format!("--screenshot={}", screenshot.display())],
  )
  .await;
  let size = std::fs::metadata(&screenshot)
    .expect("the screenshot was written")
    .len();
  assert!(
    size > 20_000,
    "a rendered chart makes a screenshot larger than a blank page ({size} bytes)"
  );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_renders_three_of_the_new_charts_from_the_catalogue() {
  let Some(chromium) = chromium_or_skip() else {
    return;
  };
  let api = TestApi::seeded(
    Engine::MariaDb,
    &[
      "9472_bahrain_2024_race",
      "11253_suzuka_2026_race",
      "season_2023_2025",
      "season_2024_opening_rounds",
    ],
  )
  .await;
  for (query, chart_path) in [
    (
      "session=9472&chart=tyre-degradation&drivers=1,16",
      "/v1/sessions/9472/charts/tyre-degradation?drivers=1,16",
    ),
    (
      "session=11253&chart=overtakes",
      "/v1/sessions/11253/charts/overtakes",
    ),
    (
      "season=2024&chart=results-heatmap",
      "/v1/seasons/2024/charts/results-heatmap",
    ),
  ] {
    let figure = api.get_json(chart_path).await;
    let traces = figure["data"].as_array().expect("data").len();
    assert!(traces > 0, "{chart_path} has traces");
    let url = format!("{}/viewer?{query}", api.base_url);
    let dom = run_chromium(&chromium, &url, &["--dump-dom"]).await;
    assert!(
      dom.contains(r#"data-chart-state="rendered""#),
      "{query}: the chart did not render: {}",
      &dom[..dom.len().min(2000)]
    );
    assert!(
      dom.contains(&format!(r#"data-trace-count="{traces}""#)),
      "{query}: expected {traces} traces"
    );
    // The menu is built from the catalogue: its options include every chart of the catalogue.
    assert!(dom.contains(r#"<option value="teammate-head-to-head""#));
    assert!(dom.contains(r#"<option value="mini-sector-dominance""#));
    let chart = chart_path
      .rsplit('/')
      .next()
      .and_then(|last| last.split('?').next())
      .unwrap_or("chart");
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("create test-artifacts/");
    let screenshot = artifacts.join(format!("viewer-{chart}.png"));
    run_chromium(
      &chromium,
      &url,
      &[&format!("--screenshot={}", screenshot.display())],
    )
    .await;
    assert!(screenshot.exists(), "{chart}: screenshot written");
  }
}

#[tokio::test]
async fn the_sample_figure_is_the_lap_time_chart_byte_for_byte() {
  let api = TestApi::seeded(Engine::MariaDb, &["9472_bahrain_2024_race"]).await;
  let chart = api
    .get("/v1/sessions/9472/charts/lap-times")
    .await
    .bytes()
    .await
    .expect("chart body");
  let sample = api
    .get("/viewer/sample-figure.json")
    .await
    .bytes()
    .await
    .expect("sample body");
  assert!(
    chart == sample,
    "api/viewer/sample-figure.json is stale: save GET /v1/sessions/9472/charts/lap-times (recorded 9472 data) over it"
  );
}

/// How many chart requests the api answered 200.
fn chart_requests(metrics: &str) -> u64 {
  metrics
    .lines()
    .filter(|line| {
      line.starts_with("http_requests_total{")
        && line.contains(r#"route="/v1/sessions/{session_key}/charts/{chart}""#)
        && line.contains(r#"status="200""#)
    })
    .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
    .sum()
}

fn attribute(dom: &str, name: &str) -> Option<u64> {
  let start = dom.find(&format!("{name}=\""))? + name.len() + 2;
  dom[start..].split('"').next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_live_session_the_viewer_redraws_the_chart_with_new_laps_as_a_replay_runs() {
  let Some(chromium) = chromium_or_skip() else {
    return;
  };
  let crate::events::LiveApi {
    setup,
    mut live,
    api,
    streams,
    ..
  } = crate::events::live_api().await;
  let session = api.get_json("/v1/sessions/9472").await;
  assert_eq!(session["live"], true, "the replayed race is live");
  let points = |figure: &serde_json::Value| -> u64 {
    figure["data"]
      .as_array()
      .expect("data")
      .iter()
      .map(|trace| trace["x"].as_array().map_or(0, Vec::len) as u64)
      .sum()
  };
  let before = points(&api.get_json("/v1/sessions/9472/charts/lap-times").await);
  let requests_before = chart_requests(&api.metrics().await);

  // The browser draws the chart and subscribes; while its stream is open, its virtual clock stands still.
  let url = format!("{}/viewer?session=9472&chart=lap-times", api.base_url);
  let browser = {
    let chromium = chromium.clone();
    tokio::spawn(async move { run_chromium(&chromium, &url, &["--dump-dom"]).await })
  };
  crate::events::wait_for_open_streams(&streams, 1).await;
  assert_eq!(
    chart_requests(&api.metrics().await),
    requests_before + 1,
    "the viewer drew the chart once before subscribing"
  );

  // Three minutes of the race: new laps are committed and announced; the viewer fetches the chart again.
  let (_, newest_before) = entity::change_log::scope_versions(&setup.database.connection)
    .await
    .expect("scope versions");
  let published = setup.advance_and_publish(3).await;
  crate::live::wait_for(&mut live, "every published row is handled", |status| {
    status.handled >= published
  })
  .await;
  let committed = entity::change_log::changes_of_session_after(
    &setup.database.connection,
    9472,
    newest_before.unwrap_or(0),
    10_000,
  )
  .await
  .expect("read the change log");
  let deadline = std::time::Instant::now() + Duration::from_secs(60);
  while streams.sent() < committed.len() as u64 {
    assert!(
      std::time::Instant::now() < deadline,
      "the viewer's stream never got every event"
    );
    // Polling the api's own count until it shows every event sent; the count itself is the condition.
    tokio::time::sleep(Duration::from_millis(20)).await;
  }
  // Measured only now: an event is sent once the api's change feed knows its change, so from here on the api's
  // cache can no longer answer with a figure the feed has not yet seen overtaken (before, under load, this read
  // could be a few commits behind what the viewer drew after the last event).
  let after = points(&api.get_json("/v1/sessions/9472/charts/lap-times").await);
  assert!(
    after > before,
    "the replay completed laps: {before} -> {after}"
  );
  // Every event is on its way: the viewer redraws after the last one whatever happens to the stream next.
  // Ending the streams lets the browser's clock run: it finishes drawing and prints the page.
  streams.stop();
  let dom = browser.await.expect("join the browser");
  assert!(
    dom.contains(r#"data-chart-state="rendered""#),
    "the chart did not render: {}",
    &dom[..dom.len().min(2000)]
  );
  assert!(
    attribute(&dom, "data-live-updates").is_some_and(|updates| updates >= 1),
    "the viewer redrew on an event: {}",
    &dom[..dom.len().min(2000)]
  );
  assert_eq!(
    attribute(&dom, "data-point-count"),
    Some(after),
    "the chart on screen gained the new laps ({before} before)"
  );
  // The viewer's own fetches: the first draw, then at most one per event (no polling).
  let fetches = chart_requests(&api.metrics().await) - requests_before - 1;
  assert!(
    (2..=1 + committed.len() as u64).contains(&fetches),
    "{fetches} chart fetches by the viewer for {} events",
    committed.len()
  );
  live.stop().await;
  setup.server.stop().await;
}
