//! Starting the real api on port 0 for end-to-end tests, and a small HTTP client around it.

use api::Settings;
use f1_backend::{Engine, TestDatabase, seed_fixtures};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel};

/// The Prometheus text served at `url` (an api's or a worker's `/metrics`), expecting 200.
pub async fn scrape_metrics(client: &reqwest::Client, url: &str) -> String {
  let response = client.get(url).send().await.expect("scrape metrics");
  assert_eq!(response.status(), 200, "{url}");
  response.text().await.expect("metrics text")
}

/// The Prometheus text served at `url` once `ready` holds for it, scraped every 20 ms: a daemon's state is read from
/// its metrics endpoint, and the check itself is the condition. Fails the test, saying `what` did not happen and
/// showing the last text, after `within`.
pub async fn wait_for_metrics(
  client: &reqwest::Client,
  url: &str,
  within: std::time::Duration,
  what: &str,
  ready: impl Fn(&str) -> bool,
) -> String {
  let deadline = std::time::Instant::now() + within;
  loop {
    let metrics = scrape_metrics(client, url).await;
    if ready(&metrics) {
      return metrics;
    }
    assert!(std::time::Instant::now() < deadline, "{what}: {metrics}");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
  }
}

/// A running api; stopped when dropped.
pub struct TestApi {
  /// `http://127.0.0.1:<port>`.
  pub base_url: String,
  /// `http://127.0.0.1:<metrics port>/metrics` (`API_METRICS_ADDRESS`).
  pub metrics_url: String,
  /// The HTTP client.
  pub client: reqwest::Client,
  /// The api's change feed.
  pub feed: api::ChangeFeed,
  /// The database it reads (kept alive for the test).
  _database: Option<TestDatabase>,
  shutdown: Option<tokio::sync::oneshot::Sender<()>>,
  server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Drop for TestApi {
  fn drop(&mut self) {
    if let Some(shutdown) = self.shutdown.take() {
      shutdown.send(()).ok();
    }
    if let Some(server) = self.server.take() {
      server.abort();
    }
  }
}

/// An HTTP client that works with reqwest's provider-less rustls build.
pub fn client() -> reqwest::Client {
  rustls::crypto::ring::default_provider()
    .install_default()
    .ok();
  reqwest::Client::builder()
    .redirect(reqwest::redirect::Policy::none())
    .build()
    .expect("client")
}

/// Like [`client`], sending the header `name: value` with every request.
pub fn client_with_header(name: &'static str, value: &str) -> reqwest::Client {
  rustls::crypto::ring::default_provider()
    .install_default()
    .ok();
  let mut headers = reqwest::header::HeaderMap::new();
  headers.insert(name, value.parse().expect("header value"));
  reqwest::Client::builder()
    .redirect(reqwest::redirect::Policy::none())
    .default_headers(headers)
    .build()
    .expect("client")
}

impl TestApi {
  /// Starts the api with `settings` (port 0 is used whatever they say).
  pub async fn start(mut settings: Settings, database: Option<TestDatabase>) -> Self {
    settings.listen_address = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    settings.metrics_address = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let application = api::Application::build(settings).await.expect("build api");
    Self::serve(application, database)
  }

  /// Serves an already built application.
  pub fn serve(application: api::Application, database: Option<TestDatabase>) -> Self {
    let port = application.port();
    let metrics_port = application.metrics_port();
    let feed = application.change_feed();
    let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until_stopped(async move {
      receiver.await.ok();
    }));
    Self {
      base_url: format!("http://127.0.0.1:{port}"),
      metrics_url: format!("http://127.0.0.1:{metrics_port}/metrics"),
      client: client(),
      feed,
      _database: database,
      shutdown: Some(sender),
      server: Some(server),
    }
  }

  /// Starts the api on a fresh database of `engine` seeded with `folders` and the synthetic rows.
  pub async fn seeded(engine: Engine, folders: &[&str]) -> Self {
    Self::seeded_with(engine, folders, |_| {}).await
  }

  /// Like [`TestApi::seeded`], with the test settings changed by `configure`.
  pub async fn seeded_with(
    engine: Engine,
    folders: &[&str],
    configure: impl FnOnce(&mut Settings),
  ) -> Self {
    let database = TestDatabase::migrated(engine).await;
    seed_fixtures(&database.connection, folders).await;
    insert_synthetic_rows(&database.connection).await;
    let mut settings = Settings::for_tests(database.url.clone());
    configure(&mut settings);
    Self::start(settings, Some(database)).await
  }

  /// The URL of the database the api reads, when the test gave it one.
  pub fn database_url(&self) -> &str {
    self
      ._database
      .as_ref()
      .map_or("", |database| database.url.as_str())
  }

  /// GETs `path_and_query`.
  pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
    self
      .client
      .get(format!("{}{path_and_query}", self.base_url))
      .send()
      .await
      .expect("request")
  }

  /// The Prometheus text served on the metrics address.
  pub async fn metrics(&self) -> String {
    scrape_metrics(&self.client, &self.metrics_url).await
  }

  /// GETs `path_and_query` expecting 200 and a JSON body.
  pub async fn get_json(&self, path_and_query: &str) -> serde_json::Value {
    let response = self.get(path_and_query).await;
    let status = response.status();
    let body = response.text().await.expect("body");
    assert_eq!(status, 200, "GET {path_and_query}: {body}");
    serde_json::from_str(&body).expect("json")
  }

  /// GETs `path_and_query` expecting 200 and a JSON array.
  pub async fn get_rows(&self, path_and_query: &str) -> Vec<serde_json::Value> {
    match self.get_json(path_and_query).await {
      serde_json::Value::Array(rows) => rows,
      other => panic!("GET {path_and_query}: expected an array, got {other}"),
    }
  }
}

/// SYNTHETIC rows, invented for tests (there is no recorded team radio, championship, full car_data or location
/// data): two team radio messages, three car_data and three location samples for car 1, and championship standings
/// for two drivers and two teams, all in session 9472 (Bahrain 2024 race, meeting 1229).
pub async fn insert_synthetic_rows(connection: &sea_orm::DatabaseConnection) {
  use chrono::{TimeZone, Utc};
  use entity::{car_data, championship_drivers, championship_teams, location, team_radio};
  let at = |second: u32| {
    Utc
      .with_ymd_and_hms(2024, 3, 2, 15, 10, second)
      .single()
      .expect("date")
  };
  insert_models(
    connection,
    (0..2).map(|index| team_radio::Model {
      session_key: 9472,
      driver_number: [1, 44][index],
      date: at(u32::try_from(index).expect("small")),
      meeting_key: 1229,
      recording_url: Some(format!("https://example.invalid/synthetic/{index}.mp3")),
    }),
    "synthetic team radio",
  )
  .await;
  insert_models(
    connection,
    (0..3).map(|second| car_data::Model {
      session_key: 9472,
      driver_number: 1,
      date: at(second),
      meeting_key: 1229,
      rpm: Some(11000 + i32::try_from(second).expect("small")),
      speed: Some(300),
      n_gear: Some(8),
      throttle: Some(100),
      brake: Some(0),
      drs: Some(12),
    }),
    "synthetic car data",
  )
  .await;
  insert_models(
    connection,
    (0..3).map(|second| location::Model {
      session_key: 9472,
      driver_number: 1,
      date: at(second),
      meeting_key: 1229,
      x: Some(100 * i32::try_from(second).expect("small")),
      y: Some(-50),
      z: Some(10),
    }),
    "synthetic location",
  )
  .await;
  insert_models(
    connection,
    [(1, 1, 26.0), (11, 2, 18.0)].map(|(driver_number, position, points)| {
      championship_drivers::Model {
        session_key: 9472,
        driver_number,
        meeting_key: 1229,
        position_start: None,
        position_current: Some(position),
        points_start: Some(0.0),
        points_current: Some(points),
      }
    }),
    "synthetic drivers' championship",
  )
  .await;
  insert_models(
    connection,
    [("Red Bull Racing", 1, 44.0), ("Ferrari", 2, 27.0)].map(|(team_name, position, points)| {
      championship_teams::Model {
        session_key: 9472,
        team_name: team_name.to_owned(),
        meeting_key: 1229,
        team_colour: None,
        position_start: None,
        position_current: Some(position),
        points_start: Some(0.0),
        points_current: Some(points),
      }
    }),
    "synthetic teams' championship",
  )
  .await;
}

/// Inserts `models` into their table, `what` naming them should it fail.
async fn insert_models<Model, Active>(
  connection: &sea_orm::DatabaseConnection,
  models: impl IntoIterator<Item = Model>,
  what: &str,
) where
  Model: IntoActiveModel<Active>,
  Active: ActiveModelTrait,
{
  Active::Entity::insert_many(models.into_iter().map(IntoActiveModel::into_active_model))
    .exec(connection)
    .await
    .expect(what);
}
