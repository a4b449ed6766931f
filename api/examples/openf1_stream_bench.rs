//! Streaming benchmark of the Open F1 drop-in (not part of `cargo test`; run by `bench/openf1-stream.sh`):
//!
//! ```sh
//! cargo build --release -p api && \
//!   cargo run --release -p api --example openf1_stream_bench -- target/release/api [mysql://root@127.0.0.1:3306 | sqlite]
//! ```
//!
//! Fills a fresh database with a SYNTHETIC session (key 9999): 20 cars × 30,000 samples of `car_data` and of
//! `location` (600,000 rows each, ~3.7 Hz over 2 h 15 min, values generated in code), starts the release api binary
//! on it, and for each request measures the time to the first byte of the body, the total time, the bytes and rows
//! received, and the api process's peak resident memory during the request (`VmHWM` after resetting it through
//! `/proc/<pid>/clear_refs`). Prints a Markdown table.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{TimeDelta, TimeZone, Utc};
use entity::{car_data, location, meetings, sessions};
use migration::MigratorTrait;
use sea_orm::{DatabaseConnection, EntityTrait, IntoActiveModel};

const SESSION_KEY: i32 = 9999;
const MEETING_KEY: i32 = 9999;
const CARS: i32 = 20;
const SAMPLES_PER_CAR: i32 = 30_000;
const INSERT_BATCH: usize = 2_000;

/// A `/proc/<pid>/status` figure in kB.
fn proc_status_kilobytes(pid: u32, field: &str) -> anyhow::Result<u64> {
  let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
  let line = status
    .lines()
    .find(|line| line.starts_with(field))
    .with_context(|| format!("{field} in /proc/{pid}/status"))?;
  Ok(
    line
      .trim_start_matches(field)
      .trim_start_matches(':')
      .trim()
      .trim_end_matches("kB")
      .trim()
      .parse()?,
  )
}

/// Resets the process's peak resident set size (`VmHWM`) to its current size.
fn reset_peak(pid: u32) -> anyhow::Result<()> {
  std::fs::write(format!("/proc/{pid}/clear_refs"), "5").context("write clear_refs")
}

async fn fill(database: &DatabaseConnection) -> anyhow::Result<()> {
  let start = Utc
    .with_ymd_and_hms(2024, 3, 2, 15, 0, 0)
    .single()
    .context("start")?;
  meetings::Entity::insert(
    meetings::Model {
      meeting_key: MEETING_KEY,
      meeting_name: Some("SYNTHETIC Grand Prix".to_owned()),
      date_start: Some(start),
      date_end: Some(start + TimeDelta::hours(3)),
      year: 2024,
      ..Default::default()
    }
    .into_active_model(),
  )
  .exec(database)
  .await?;
  sessions::Entity::insert(
    sessions::Model {
      session_key: SESSION_KEY,
      meeting_key: MEETING_KEY,
      session_name: Some("Race".to_owned()),
      session_type: Some("Race".to_owned()),
      date_start: Some(start),
      date_end: Some(start + TimeDelta::hours(2)),
      year: 2024,
      ..Default::default()
    }
    .into_active_model(),
  )
  .exec(database)
  .await?;
  let date = |car: i32, sample: i32| {
    start + TimeDelta::microseconds(i64::from(sample) * 270_270 + i64::from(car) * 1_237)
  };
  let mut car_rows = Vec::with_capacity(INSERT_BATCH);
  let mut location_rows = Vec::with_capacity(INSERT_BATCH);
  for car in 1..=CARS {
    for sample in 0..SAMPLES_PER_CAR {
      car_rows.push(
        car_data::Model {
          session_key: SESSION_KEY,
          driver_number: car,
          date: date(car, sample),
          meeting_key: MEETING_KEY,
          rpm: Some(8_000 + (sample * 37) % 4_000),
          speed: Some((sample * 7 + car) % 340),
          n_gear: Some(sample % 9),
          throttle: Some((sample * 3) % 101),
          brake: Some(if sample % 11 == 0 { 100 } else { 0 }),
          drs: if sample % 5 == 0 { None } else { Some(8) },
        }
        .into_active_model(),
      );
      location_rows.push(
        location::Model {
          session_key: SESSION_KEY,
          driver_number: car,
          date: date(car, sample),
          meeting_key: MEETING_KEY,
          x: Some((sample * 13) % 9_000 - 4_500),
          y: Some((sample * 17) % 7_000 - 3_500),
          z: Some(sample % 200),
        }
        .into_active_model(),
      );
      if car_rows.len() == INSERT_BATCH {
        car_data::Entity::insert_many(std::mem::take(&mut car_rows))
          .exec(database)
          .await?;
        location::Entity::insert_many(std::mem::take(&mut location_rows))
          .exec(database)
          .await?;
      }
    }
  }
  if !car_rows.is_empty() {
    car_data::Entity::insert_many(car_rows)
      .exec(database)
      .await?;
    location::Entity::insert_many(location_rows)
      .exec(database)
      .await?;
  }
  Ok(())
}

/// One measured request.
struct Measurement {
  status: u16,
  first_byte: Duration,
  total: Duration,
  bytes: usize,
  rows: usize,
  peak_kilobytes: u64,
  streamed: bool,
}

async fn measure(client: &reqwest::Client, pid: u32, url: &str) -> anyhow::Result<Measurement> {
  reset_peak(pid)?;
  let started = Instant::now();
  let mut response = client.get(url).send().await?;
  let status = response.status().as_u16();
  let streamed = response.headers().get("content-length").is_none();
  let mut first_byte = None;
  let mut bytes = 0;
  // Rows: one `}` per JSON row (rows are flat objects), one line per CSV row after the header.
  let (mut closing_braces, mut line_ends) = (0_usize, 0_usize);
  while let Some(chunk) = response.chunk().await? {
    if first_byte.is_none() && !chunk.is_empty() {
      first_byte = Some(started.elapsed());
    }
    bytes += chunk.len();
    closing_braces += chunk.iter().filter(|byte| **byte == b'}').count();
    line_ends += chunk.iter().filter(|byte| **byte == b'\n').count();
  }
  let rows = if url.contains("csv=true") {
    line_ends.saturating_sub(1)
  } else {
    closing_braces
  };
  let total = started.elapsed();
  Ok(Measurement {
    status,
    first_byte: first_byte.unwrap_or(total),
    total,
    bytes,
    rows,
    peak_kilobytes: proc_status_kilobytes(pid, "VmHWM")?,
    streamed,
  })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
  let mut arguments = std::env::args().skip(1);
  let binary = arguments
    .next()
    .context("usage: openf1_stream_bench <api binary> [mysql admin URL | sqlite]")?;
  let target = arguments
    .next()
    .unwrap_or_else(|| "mysql://root@127.0.0.1:3306".to_owned());
  let name = format!("f1_bench_stream_{}", std::process::id());
  let admin = (target != "sqlite").then_some(target.as_str());
  let database_url = entity::database::create_scratch_database(admin, &name).await?;
  let result = run(&binary, &database_url).await;
  entity::database::drop_scratch_database(admin, &name).await?;
  result
}

async fn run(binary: &str, database_url: &str) -> anyhow::Result<()> {
  let database =
    entity::database::connect(database_url, &entity::database::DatabaseOptions::default()).await?;
  migration::Migrator::up(&database, None).await?;
  let filling = Instant::now();
  fill(&database).await?;
  eprintln!(
    "filled {} car_data + {} location rows (SYNTHETIC) in {:.1} s",
    CARS * SAMPLES_PER_CAR,
    CARS * SAMPLES_PER_CAR,
    filling.elapsed().as_secs_f64()
  );
  database.close().await.ok();

  let port = std::net::TcpListener::bind("127.0.0.1:0")?
    .local_addr()?
    .port();
  let mut api = tokio::process::Command::new(binary)
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .env("DATABASE_URL", database_url)
    .env("API_LISTEN_ADDRESS", format!("127.0.0.1:{port}"))
    .env("API_RUN_MIGRATIONS", "false")
    .env("API_REQUEST_TIMEOUT_SECONDS", "120")
    .env("RUST_LOG", "warn")
    .stdout(Stdio::null())
    .stderr(Stdio::inherit())
    .kill_on_drop(true)
    .spawn()
    .context("start the api binary")?;
  let pid = api.id().context("api pid")?;
  rustls::crypto::ring::default_provider()
    .install_default()
    .ok();
  let client = reqwest::Client::builder().build()?;
  let base = format!("http://127.0.0.1:{port}");
  let ready = Instant::now();
  while client.get(format!("{base}/healthz")).send().await.is_err() {
    if ready.elapsed() > Duration::from_secs(30) {
      bail!("the api did not start");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
  }
  // Warm the pool and the code paths once.
  measure(
    &client,
    pid,
    &format!("{base}/openf1/v1/car_data?session_key={SESSION_KEY}&driver_number=1&speed=1"),
  )
  .await?;
  let idle = proc_status_kilobytes(pid, "VmRSS")?;
  println!(
    "api resident memory when idle: {:.1} MB; {} SYNTHETIC rows per endpoint",
    idle as f64 / 1024.0,
    CARS * SAMPLES_PER_CAR
  );
  println!();
  println!(
    "| request | status | streamed | rows | first byte | total | MB | rows/s | api peak RSS |"
  );
  println!("|---|---|---|---|---|---|---|---|---|");
  let cases = [
    format!("car_data?session_key={SESSION_KEY}"),
    format!("location?session_key={SESSION_KEY}"),
    format!("car_data?session_key={SESSION_KEY}&csv=true"),
    format!(
      "car_data?session_key={SESSION_KEY}&date%3E2024-03-02T15:30:00&date%3C2024-03-02T15:40:00"
    ),
    format!("car_data?session_key={SESSION_KEY}&driver_number=4"),
    format!("car_data?session_key={SESSION_KEY}&driver_number=4"),
  ];
  for case in &cases {
    let url = format!("{base}/openf1/v1/{case}");
    let measurement = measure(&client, pid, &url).await?;
    println!(
      "| `{case}` | {} | {} | {} | {:.0} ms | {:.2} s | {:.1} | {:.0} | {:.1} MB |",
      measurement.status,
      if measurement.streamed {
        "yes"
      } else {
        "no (cached)"
      },
      measurement.rows,
      measurement.first_byte.as_secs_f64() * 1000.0,
      measurement.total.as_secs_f64(),
      measurement.bytes as f64 / 1_000_000.0,
      measurement.rows as f64 / measurement.total.as_secs_f64(),
      measurement.peak_kilobytes as f64 / 1024.0,
    );
  }
  api.start_kill().ok();
  api.wait().await.ok();
  Ok(())
}
