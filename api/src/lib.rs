//! The `api` crate: an HTTP server (poem + poem-openapi) serving Open F1 data from MySQL/MariaDB (or SQLite)
//! and cached Plotly chart JSON.
//!
//! Its modules (private; what other crates use is re-exported below):
//!
//! - `settings`: typed settings from environment variables, every default in one place ([`Settings`]).
//! - `routes`: the resources under `/v1` (one `#[OpenApi]` struct per file) and the operational endpoints.
//! - `bodies`: response bodies (the public contract), converted from the SeaORM models.
//! - `problem`: RFC 9457 problem details for every error.
//! - `access`: optional API keys and per-client rate limits (cheap and expensive budgets).
//! - `middleware`: request id, metrics, limits, timeout, problem conversion, compression, ETag/304.
//! - `encoding`: content-coding negotiation, compression and precompressed representations.
//! - `cache`: the versioned two-tier response cache ([`ResponseCache`]: in process, in front of Redis when
//!   configured; single-flight; degrades without Redis).
//! - `changes`: the worker's commits ([`ChangeFeed`]), from the change log (and Redis pub/sub), with the versions
//!   of the cache scopes and the session directory a cache hit reads instead of the database.
//! - `charts`: the chart builders ([`build_session_chart`], [`build_season_chart`]) and their catalogue.
//! - `standings`: championship standings after any round, and the season results the season charts share
//!   ([`SeasonResults`]).
//! - [`openf1`]: the Open F1 drop-in at `/openf1/v1/{endpoint}` (one query compiler, cached or streamed answers).
//! - `parameters`: native routes reject query parameters their OpenAPI operation does not document.
//! - `metrics`, `telemetry`: Prometheus metrics ([`Metrics`]) and logging. `cli`: the command line ([`Cli`]:
//!   `serve`, `healthcheck`).
//!
//! [`Application::build`] then [`Application::run_until_stopped`] run the server; the tests call the same two.

mod access;
mod bodies;
mod cache;
mod changes;
mod charts;
mod cli;
mod encoding;
mod metrics;
mod middleware;
pub mod openf1;
mod parameters;
mod problem;
mod routes;
mod settings;
mod standings;
mod telemetry;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use entity::database::DatabaseMonitor;
use migration::MigratorTrait;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::middleware::Cors;
use poem::{Endpoint, EndpointExt, Route, Server, get};
use poem_openapi::{OpenApi, OpenApiService};
use sea_orm::DatabaseConnection;

pub use crate::access::{AccessSettings, hash_key};
pub use crate::bodies::StandingsSource;
pub use crate::cache::{CacheOutcome, ResponseCache};
pub use crate::changes::ChangeFeed;
pub use crate::charts::{
  ChartError, ChartKind, ChartRequest, LapChoice, NO_DATA_TEXT, build_season_chart,
  build_session_chart,
};
pub use crate::cli::Cli;
pub use crate::encoding::MIN_COMPRESSED_BYTES;
pub use crate::metrics::Metrics;
pub use crate::problem::MAX_INSTANCE_BYTES;
pub use crate::routes::events::EventStreams;
pub use crate::settings::{ENVIRONMENT_VARIABLES, Secret, Settings};
pub use crate::standings::SeasonResults;
pub use runtime::shutdown_signal;

/// The title of the OpenAPI document.
const API_TITLE: &str = "F1 data API";

/// What every request handler shares (cheap to clone).
#[derive(Clone)]
pub(crate) struct AppState {
  /// The database pool.
  pub database: DatabaseConnection,
  /// Whether the database answers (probed in the background; never waits).
  pub database_monitor: DatabaseMonitor,
  /// The response cache.
  pub cache: ResponseCache,
  /// The worker's commits: cache scope versions and the session directory.
  pub changes: ChangeFeed,
  /// The metrics.
  pub metrics: Metrics,
  /// The open event streams (`GET /v1/sessions/{session_key}/events`): their cap and shutdown.
  pub events: routes::events::EventStreams,
  /// The settings.
  pub settings: Arc<Settings>,
  /// API keys and rate limits.
  pub access: access::Access,
}

/// The OpenAPI service: every documented resource, with the server URL from settings.
#[must_use]
fn openapi_service(public_url: &str) -> OpenApiService<impl OpenApi + use<>, ()> {
  OpenApiService::new(
    (
      routes::seasons::SeasonsApi,
      routes::meetings::MeetingsApi,
      routes::sessions::SessionsApi,
      routes::events::EventsApi,
      routes::session_data::SessionDataApi,
      routes::charts::ChartsApi,
      openf1::service::OpenF1Api,
    ),
    API_TITLE,
    env!("CARGO_PKG_VERSION"),
  )
  .description(
    "Formula 1 timing, telemetry and results from Open F1, served from a local database.\n\n\
     **Errors** are RFC 9457 `application/problem+json` documents.\n\n\
     **Pagination**: collections take `limit` and `offset`; the body is a plain array, `X-Total-Count` gives the \
     number of matching rows and `Link: <…>; rel=\"next\"` points at the next page.\n\n\
     **Outages**: while the database is unreachable, a request that needs it is answered `503` \
     `application/problem+json` within a second, with `Retry-After`.\n\n\
     **Caching**: every 200 carries a strong `ETag` (one per content coding); send it back in `If-None-Match` to get `304 Not Modified`. \
     `Cache-Control` is long for finished sessions and short for live ones.\n\n\
     **Compression**: send `Accept-Encoding` (`zstd`, `br` or `gzip`) to get bodies of 1 KiB or more compressed; \
     responses say `Vary: Accept-Encoding` and each coding has its own `ETag`.\n\n\
     **Unknown query parameters** are refused with `400`, naming them and listing the accepted ones; so is a parameter that takes one value given more than once.\n\n\
     **Open F1 drop-in**: code written for `https://api.openf1.org/v1` works unchanged against `/openf1/v1` \
     (see the `OpenF1` operations).",
  )
  .server(public_url)
}

/// The OpenAPI document served at `/openapi.json`: the generated one, with every `limit` parameter's maximum set
/// to the configured `API_MAX_PAGE_SIZE` (so that the document states exactly what the server accepts).
#[must_use]
fn openapi_document(public_url: &str, max_page_size: u64) -> String {
  let spec = openapi_service(public_url).spec();
  let Ok(mut document) = serde_json::from_str::<serde_json::Value>(&spec) else {
    return spec;
  };
  if let Some(paths) = document
    .get_mut("paths")
    .and_then(serde_json::Value::as_object_mut)
  {
    for operation in paths
      .values_mut()
      .filter_map(serde_json::Value::as_object_mut)
    {
      for operation in operation.values_mut() {
        let parameters = operation
          .get_mut("parameters")
          .and_then(serde_json::Value::as_array_mut);
        for parameter in parameters.into_iter().flatten() {
          if parameter["name"] == "limit"
            && let Some(schema) = parameter
              .get_mut("schema")
              .and_then(serde_json::Value::as_object_mut)
          {
            schema.insert("maximum".to_owned(), max_page_size.into());
          }
        }
      }
    }
  }
  serde_json::to_string_pretty(&document).unwrap_or(spec)
}

/// A bound, ready-to-run api: the public listener and the metrics listener.
pub struct Application {
  port: u16,
  acceptor: TcpAcceptor,
  metrics_port: u16,
  metrics_acceptor: TcpAcceptor,
  state: AppState,
}

/// How long the metrics server may take to finish a scrape at shutdown.
const METRICS_SHUTDOWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Binds `address` for the setting `variable`, returning the acceptor and its port.
async fn bind(address: std::net::SocketAddr, variable: &str) -> anyhow::Result<(TcpAcceptor, u16)> {
  let acceptor = TcpListener::bind(address)
    .into_acceptor()
    .await
    .with_context(|| format!("bind {address} ({variable})"))?;
  let port = acceptor
    .local_addr()
    .first()
    .and_then(|address| address.as_socket_addr().map(std::net::SocketAddr::port))
    .context("read the bound port")?;
  Ok((acceptor, port))
}

impl Application {
  /// Connects to the database (running migrations when `API_RUN_MIGRATIONS`), prepares the cache and binds the
  /// listener.
  ///
  /// # Errors
  /// Fails when the database cannot be reached or migrated, the Redis URL is malformed or the address cannot be
  /// bound.
  pub async fn build(settings: Settings) -> anyhow::Result<Self> {
    let database = entity::database::connect(
      settings.shared.database_url.expose(),
      &entity::database::DatabaseOptions::default(),
    )
    .await
    .context("connect to the database (DATABASE_URL)")?;
    if settings.run_migrations {
      migration::Migrator::up(&database, None)
        .await
        .context("run database migrations (API_RUN_MIGRATIONS)")?;
    }
    Self::build_with_database(settings, database).await
  }

  /// Like [`Application::build`] with an existing database pool (no migrations are run), which must be a pool of
  /// `DATABASE_URL` (the database monitor probes that URL).
  ///
  /// # Errors
  /// Fails when the database or Redis URL is malformed or the address cannot be bound.
  pub async fn build_with_database(
    settings: Settings,
    database: DatabaseConnection,
  ) -> anyhow::Result<Self> {
    let database_monitor = DatabaseMonitor::start(settings.shared.database_url.expose())
      .context("watch the database (DATABASE_URL)")?;
    let metrics = Metrics::new().context("register metrics")?;
    let redis_url = settings.shared.redis_url.as_ref().map(Secret::expose);
    let changes = ChangeFeed::start(
      database.clone(),
      redis_url,
      &settings.shared.cache_prefix,
      settings.change_poll_interval,
      metrics.clone(),
    )
    .await
    .context("follow the change log (REDIS_URL)")?;
    let cache = ResponseCache::new(
      redis_url,
      &settings.shared.cache_prefix,
      settings.cache_memory_bytes,
      changes.clone(),
      metrics.clone(),
    )
    .context("open the Redis cache (REDIS_URL)")?;
    let events = routes::events::EventStreams::new(
      settings.event_streams_max,
      settings.event_heartbeat,
      settings.event_stream_lifetime,
      &metrics,
    )
    .context("register the event stream metrics")?;
    let access = access::Access::new(&settings.access).context("configure API keys")?;
    let (acceptor, port) = bind(settings.listen_address, "API_LISTEN_ADDRESS").await?;
    let (metrics_acceptor, metrics_port) =
      bind(settings.metrics_address, "API_METRICS_ADDRESS").await?;
    Ok(Self {
      port,
      acceptor,
      metrics_port,
      metrics_acceptor,
      state: AppState {
        database,
        database_monitor,
        cache,
        changes,
        metrics,
        events,
        settings: Arc::new(settings),
        access,
      },
    })
  }

  /// The bound port (useful with port 0).
  #[must_use]
  pub fn port(&self) -> u16 {
    self.port
  }

  /// The change feed (tests wait on it: [`ChangeFeed::wait_for`]).
  #[must_use]
  pub fn change_feed(&self) -> ChangeFeed {
    self.state.changes.clone()
  }

  /// The event streams (tests read how many are open and dropped).
  #[must_use]
  pub fn event_streams(&self) -> routes::events::EventStreams {
    self.state.events.clone()
  }

  /// The bound port of the metrics server (`API_METRICS_ADDRESS`).
  #[must_use]
  pub fn metrics_port(&self) -> u16 {
    self.metrics_port
  }

  /// Serves the api and, on its own port, `/metrics` (and the health probes again, for probes kept off the public
  /// port), until `shutdown` completes; then drains in-flight requests
  /// for at most `API_SHUTDOWN_TIMEOUT_SECONDS` and stops the metrics server.
  ///
  /// # Errors
  /// Fails when either server fails.
  pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let settings = self.state.settings.clone();
    let changes = self.state.changes.clone();
    let events = self.state.events.clone();
    // Event streams never end on their own: they end as shutdown begins, so that draining does not wait for them.
    let shutdown = async move {
      shutdown.await;
      events.stop();
    };
    let metrics_routes = Route::new()
      .at(
        "/metrics",
        runtime::metrics_endpoint(self.state.metrics.registry().clone()),
      )
      .at("/healthz", get(routes::operations::healthz))
      .at("/readyz", get(routes::operations::readyz))
      .data(self.state.clone());
    let app = build_endpoint(self.state);
    tracing::info!(
      port = self.port,
      metrics_port = self.metrics_port,
      "api listening"
    );
    let (stop_metrics, metrics_stop) = tokio::sync::watch::channel(false);
    let api = async {
      let served = Server::new_with_acceptor(self.acceptor)
        .run_with_graceful_shutdown(app, shutdown, Some(settings.shutdown_timeout))
        .await;
      stop_metrics.send_replace(true);
      served
    };
    let metrics = Server::new_with_acceptor(self.metrics_acceptor).run_with_graceful_shutdown(
      metrics_routes,
      async move {
        let mut metrics_stop = metrics_stop;
        metrics_stop.wait_for(|stop| *stop).await.ok();
      },
      Some(METRICS_SHUTDOWN_TIMEOUT),
    );
    let (served, metrics_served) = tokio::join!(api, metrics);
    changes.stop();
    served.context("serve HTTP")?;
    metrics_served.context("serve metrics (API_METRICS_ADDRESS)")
  }
}

/// The complete endpoint: documented resources, docs, operations and every layer.
fn build_endpoint(state: AppState) -> poem::endpoint::BoxEndpoint<'static> {
  let settings = state.settings.clone();
  let service = openapi_service(&settings.public_url);
  let document = access::describe(
    &openapi_document(&settings.public_url, settings.max_page_size),
    &settings.access,
  );
  let swagger_ui = access::swagger_ui(&service.swagger_ui_html(), &service.spec(), &document);
  let served_document = document.clone();
  let spec = poem::endpoint::make_sync(move |_| {
    poem::Response::builder()
      .content_type("application/json; charset=utf-8")
      .body(served_document.clone())
  });
  let route = Route::new()
    .nest("/", service)
    .nest("/docs", swagger_ui)
    .at("/openapi.json", spec)
    .at("/healthz", get(routes::operations::healthz))
    .at("/readyz", get(routes::operations::readyz))
    .at("/viewer", get(charts::viewer::page))
    .at("/viewer/viewer.js", get(charts::viewer::script))
    .at("/viewer/plotly.min.js", get(charts::viewer::plotly))
    .at(
      "/viewer/sample-figure.json",
      get(charts::viewer::sample_figure),
    );
  let document_paths: Vec<String> = serde_json::from_str::<serde_json::Value>(&document)
    .ok()
    .and_then(|document| {
      document["paths"]
        .as_object()
        .map(|paths| paths.keys().cloned().collect())
    })
    .unwrap_or_default();
  let accepted_parameters = serde_json::from_str::<serde_json::Value>(&document)
    .map(|document| parameters::AcceptedParameters::from_document(&document, openf1::OPENF1_PREFIX))
    .unwrap_or_default();
  let layers = middleware::LayerSettings {
    metrics: state.metrics.clone(),
    database_monitor: state.database_monitor.clone(),
    request_timeout: settings.request_timeout,
    route_labels: Arc::new(middleware::route_labels(
      document_paths.iter().map(String::as_str),
    )),
    accepted_parameters: Arc::new(accepted_parameters),
  };
  let route = access::guard(route, state.access.clone());
  // `/` goes to the viewer (no key needed, like the viewer's files). The OpenAPI service nested at `/` would answer
  // it (404) before a route `/`, so the path is checked ahead of the routing.
  let route = route.around(|endpoint, request| async move {
    if request.uri().path() == "/" {
      Ok(charts::viewer::home())
    } else {
      endpoint.call(request).await
    }
  });
  let endpoint = route.data(state);
  let endpoint = if settings.cors_allowed_origins.is_empty() {
    endpoint.boxed()
  } else {
    let mut cors = Cors::new()
      .allow_methods([
        poem::http::Method::GET,
        poem::http::Method::HEAD,
        poem::http::Method::POST,
      ])
      .expose_headers([
        "etag",
        "x-total-count",
        "link",
        "x-request-id",
        "x-cache",
        "retry-after",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
      ]);
    for origin in &settings.cors_allowed_origins {
      cors = cors.allow_origin(origin.as_str());
    }
    endpoint.with(cors).boxed()
  };
  middleware::wrap(endpoint, layers).boxed()
}

/// `api healthcheck`: GETs `/healthz` on the port of `API_LISTEN_ADDRESS` (from inside the container: an
/// unspecified address becomes loopback), so that the image needs no curl. True on a 200.
pub(crate) async fn healthcheck(settings: &Settings) -> bool {
  runtime::is_healthy(settings.listen_address, "/healthz").await
}
