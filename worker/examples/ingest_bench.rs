//! Ingest throughput benchmark (not part of `cargo test`):
//!
//! ```sh
//! cargo run --release -p worker --example ingest_bench -- [mysql://root@127.0.0.1:3306 | sqlite]
//! ```
//!
//! Measures `store_rows` (one transaction per batch, as the worker does) for:
//! - recorded laps of session 9472 (1,129 rows), stored under 20 distinct session keys, then re-stored unchanged;
//! - SYNTHETIC car_data of a full race: 20 drivers x 30,000 samples (~600k rows) generated in code, in batches
//!   the size of one 10-minute window of one driver (~2,220 rows).
//!
//! Prints rows/s and the peak resident memory (`VmHWM` from `/proc/self/status`).

use std::time::Instant;

use anyhow::Context;
use chrono::{TimeDelta, TimeZone, Utc};
use entity::Endpoint;
use migration::MigratorTrait;
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::{Value, json};
use worker::store_rows;

const LAP_COPIES: i32 = 20;
const DRIVERS: i32 = 20;
const SAMPLES_PER_DRIVER: i32 = 30_000;
/// One 10-minute window of one car at ~3.7 Hz.
const TELEMETRY_BATCH: usize = 2_220;

fn peak_memory() -> String {
  std::fs::read_to_string("/proc/self/status")
    .ok()
    .and_then(|status| {
      status
        .lines()
        .find(|line| line.starts_with("VmHWM"))
        .map(|line| line.trim_start_matches("VmHWM:").trim().to_owned())
    })
    .unwrap_or_else(|| "unknown".to_owned())
}

async fn store_in_batches(
  connection: &DatabaseConnection,
  endpoint: Endpoint,
  rows: &[Value],
  batch: usize,
) -> anyhow::Result<(usize, f64)> {
  let started = Instant::now();
  let mut written = 0;
  for chunk in rows.chunks(batch) {
    let transaction = connection.begin().await?;
    written += store_rows(&transaction, endpoint, chunk).await?.written;
    transaction.commit().await?;
  }
  Ok((written, started.elapsed().as_secs_f64()))
}

fn report(label: &str, rows: usize, written: usize, seconds: f64) {
  #[allow(clippy::cast_precision_loss)]
  let rate = rows as f64 / seconds;
  println!("{label}: {rows} rows ({written} written) in {seconds:.2} s = {rate:.0} rows/s");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
  let target = std::env::args()
    .nth(1)
    .unwrap_or_else(|| "mysql://root@127.0.0.1:3306".to_owned());
  let name = format!("f1_bench_{}", std::process::id());
  let admin = (target != "sqlite").then_some(target.as_str());
  let url = entity::database::create_scratch_database(admin, &name)
    .await
    .context("create the benchmark database")?;
  let connection =
    entity::database::connect(&url, &entity::database::DatabaseOptions::default()).await?;
  migration::Migrator::up(&connection, None).await?;
  println!(
    "engine: {}",
    if admin.is_some() { "MariaDB" } else { "SQLite" }
  );

  let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
    .join("../tests/fixtures/openf1/9472_bahrain_2024_race/laps.json");
  let laps: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(fixture)?)?;
  let mut copies = Vec::with_capacity(laps.len() * usize::try_from(LAP_COPIES)?);
  for copy in 0..LAP_COPIES {
    for lap in &laps {
      let mut lap = lap.clone();
      lap["session_key"] = json!(100_000 + copy);
      copies.push(lap);
    }
  }
  let (written, seconds) =
    store_in_batches(&connection, Endpoint::Laps, &copies, laps.len()).await?;
  report(
    "laps (recorded 9472 x20, new)",
    copies.len(),
    written,
    seconds,
  );
  let (written, seconds) =
    store_in_batches(&connection, Endpoint::Laps, &copies, laps.len()).await?;
  report(
    "laps (recorded 9472 x20, unchanged)",
    copies.len(),
    written,
    seconds,
  );
  drop(copies);

  let start = Utc
    .with_ymd_and_hms(2024, 3, 2, 15, 0, 0)
    .single()
    .context("start time")?;
  let mut telemetry = Vec::with_capacity(usize::try_from(DRIVERS * SAMPLES_PER_DRIVER)?);
  for driver in 1..=DRIVERS {
    for sample in 0..SAMPLES_PER_DRIVER {
      let date = start + TimeDelta::microseconds(i64::from(sample) * 270_270 + i64::from(driver));
      telemetry.push(json!({
        "session_key": 200_000, "meeting_key": 1, "driver_number": driver,
        "date": date.to_rfc3339(), "rpm": 10_000 + sample % 2_000, "speed": 100 + sample % 230,
        "n_gear": 1 + sample % 8, "throttle": sample % 101, "brake": if sample % 7 == 0 { 100 } else { 0 },
        "drs": 0
      }));
    }
  }
  let (written, seconds) =
    store_in_batches(&connection, Endpoint::CarData, &telemetry, TELEMETRY_BATCH).await?;
  report(
    "car_data SYNTHETIC (new)",
    telemetry.len(),
    written,
    seconds,
  );
  let (written, seconds) =
    store_in_batches(&connection, Endpoint::CarData, &telemetry, TELEMETRY_BATCH).await?;
  report(
    "car_data SYNTHETIC (unchanged)",
    telemetry.len(),
    written,
    seconds,
  );
  println!("peak memory (VmHWM): {}", peak_memory());

  connection.close().await.ok();
  entity::database::drop_scratch_database(admin, &name).await?;
  Ok(())
}
