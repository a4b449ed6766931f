//! Uncached lap-times charts for an instruction-count profile (not part of `cargo test`; run by
//! `bench/profile-uncached.sh`, which runs `run` under `valgrind --tool=callgrind`):
//!
//! ```sh
//! cargo build --release --example uncached_chart_profile
//! target/release/examples/uncached_chart_profile seed            # prints the URL of a new database
//! target/release/examples/uncached_chart_profile run URL N [CODING]
//! target/release/examples/uncached_chart_profile drop URL
//! ```
//!
//! `seed` creates a MariaDB database (`TEST_DATABASE_ADMIN_URL`, default `mysql://root@127.0.0.1:3306`), migrates
//! it and stores the recorded fixtures of session 9472 (Bahrain 2024 race) through the worker's store. `run` starts
//! the api in this process on that database with Redis (`TEST_REDIS_URL`) under a fresh key prefix, then asks
//! `GET /v1/sessions/9472/charts/lap-times?lap_min=A&lap_max=B&drivers=…` N times over one keep-alive connection,
//! each with a distinct lap range (as `/work/shared/bench/compare.sh` and `bench/charts.sh` do), so that every one
//! is a cache miss built from the database, and checks each answer is a 200 `X-Cache: miss`. `CODING` is the
//! `Accept-Encoding` sent (default none, like `wrk`). It prints the Redis key prefix it used (the script deletes the
//! keys). `drop` drops the database.

use std::time::Duration;

use anyhow::{Context, bail};
use api::{Secret, Settings};
use sea_orm::{ConnectionTrait, Database};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Every driver of session 9472 but car 1, as the uncached benchmark's first key set.
const DRIVERS: &str = "2,3,4,10,11,14,16,18,20,22,23,24,27,31,44,55,63,77,81";
/// Laps of session 9472.
const LAPS: u32 = 57;

async fn seed() -> anyhow::Result<()> {
  let admin_url = f1_backend::admin_url();
  let name = f1_backend::unique_name("profile");
  let admin = Database::connect(&admin_url)
    .await
    .context("connect to MariaDB")?;
  admin
    .execute_unprepared(&format!(
      "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    ))
    .await
    .context("create the database")?;
  admin.close().await.ok();
  let url = format!("{}/{name}", admin_url.trim_end_matches('/'));
  let connection = entity::database::connect(&url, &entity::database::DatabaseOptions::default())
    .await
    .context("connect to the new database")?;
  <migration::Migrator as migration::MigratorTrait>::up(&connection, None)
    .await
    .context("migrate")?;
  f1_backend::seed_fixtures(&connection, &["9472_bahrain_2024_race"]).await;
  println!("{url}");
  Ok(())
}

async fn drop_database(url: &str) -> anyhow::Result<()> {
  let (_, name) = url.rsplit_once('/').context("a database URL")?;
  if !name.starts_with("f1_profile_") {
    bail!("refusing to drop `{name}`: not made by `seed`");
  }
  let admin = Database::connect(f1_backend::admin_url()).await?;
  admin
    .execute_unprepared(&format!("DROP DATABASE IF EXISTS `{name}`"))
    .await?;
  Ok(())
}

/// One GET over `connection`: the status, the `X-Cache` header and the body length.
async fn get(
  connection: &mut BufReader<tokio::net::TcpStream>,
  path: &str,
  coding: Option<&str>,
) -> anyhow::Result<(u16, String, usize)> {
  let accept = coding
    .map(|coding| format!("Accept-Encoding: {coding}\r\n"))
    .unwrap_or_default();
  connection
    .get_mut()
    .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{accept}\r\n").as_bytes())
    .await?;
  let mut line = String::new();
  connection.read_line(&mut line).await?;
  let status: u16 = line
    .split_whitespace()
    .nth(1)
    .context("a status line")?
    .parse()?;
  let mut length = 0;
  let mut cache = String::new();
  loop {
    line.clear();
    connection.read_line(&mut line).await?;
    let header = line.trim_end();
    if header.is_empty() {
      break;
    }
    let (name, value) = header.split_once(':').context("a header")?;
    if name.eq_ignore_ascii_case("content-length") {
      length = value.trim().parse()?;
    } else if name.eq_ignore_ascii_case("x-cache") {
      value.trim().clone_into(&mut cache);
    }
  }
  let mut body = vec![0; length];
  connection.read_exact(&mut body).await?;
  Ok((status, cache, length))
}

async fn run(url: &str, count: u32, coding: Option<&str>) -> anyhow::Result<()> {
  let prefix = f1_backend::unique_name("profile");
  let mut settings = Settings::for_tests(url);
  settings.shared.redis_url = Some(Secret::new(f1_backend::redis_url()));
  settings.shared.cache_prefix.clone_from(&prefix);
  // Nothing changes the database: polling the change log would only add background work.
  settings.change_poll_interval = Duration::from_secs(3600);
  let application = api::Application::build(settings).await?;
  let port = application.port();
  let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
  let server = tokio::spawn(application.run_until_stopped(async {
    stopped.await.ok();
  }));
  let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
  let mut connection = BufReader::new(stream);
  let mut ranges = (1..=LAPS).flat_map(|first| (first..=LAPS).map(move |last| (first, last)));
  let mut bytes = 0;
  for _ in 0..count {
    let (first, last) = ranges.next().context("at most 1,653 distinct lap ranges")?;
    let path = format!(
      "/v1/sessions/9472/charts/lap-times?lap_min={first}&lap_max={last}&drivers={DRIVERS}"
    );
    let (status, cache, length) = get(&mut connection, &path, coding).await?;
    if status != 200 || cache != "miss" {
      bail!("{path}: {status}, X-Cache {cache}");
    }
    bytes += length;
  }
  stop.send(()).ok();
  server.await??;
  println!("prefix {prefix}");
  println!("{count} uncached charts, {bytes} body bytes");
  Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
  let arguments: Vec<String> = std::env::args().skip(1).collect();
  match arguments
    .iter()
    .map(String::as_str)
    .collect::<Vec<_>>()
    .as_slice()
  {
    ["seed"] => seed().await,
    ["run", url, count] => run(url, count.parse()?, None).await,
    ["run", url, count, coding] => run(url, count.parse()?, Some(coding)).await,
    ["drop", url] => drop_database(url).await,
    _ => bail!("usage: uncached_chart_profile seed | run URL N [CODING] | drop URL"),
  }
}
