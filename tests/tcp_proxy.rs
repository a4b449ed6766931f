//! A TCP proxy for fault tests: it sits between the code under test and a server (MariaDB, Redis), relays bytes
//! both ways, and can cut the connection the way real outages do, then restore it.
//!
//! ```no_run
//! # async fn example(database_url: &str) {
//! use f1_backend::{Outage, TcpProxy};
//! let proxy = TcpProxy::in_front_of(database_url).await;
//! let proxied_url = proxy.url(); // give this URL to the app
//! proxy.cut(Outage::Refused).await; // the server is gone: live connections closed, new ones refused
//! proxy.restore().await; // connections work again
//! proxy.cut(Outage::Frozen).await; // the server hangs: nothing answers, nothing fails
//! proxy.restore().await; // held bytes and connections go through
//! # }
//! ```
//!
//! Every operation has taken effect when its future completes (the listener is closed, live connections are
//! closed or held), so a test needs no sleeps.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

/// How the proxied server fails, from the client's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
  /// The server is gone (stopped process, restarted container): live connections are closed and new
  /// connections are refused (`ECONNREFUSED`). Clients fail at once.
  Refused,
  /// The server is frozen (`SIGSTOP`, a black-holed network): live connections stay open but carry nothing, new
  /// connections are accepted and never answered. Clients wait until their own timeouts fire. On
  /// [`TcpProxy::restore`] the held bytes and connections go through, as they would after `SIGCONT`.
  Frozen,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
  Open,
  Refused,
  Frozen,
}

/// What the proxy is doing: its mode, and the generation of its connections (a connection opened in an older
/// generation is closed).
#[derive(Clone, Copy, Debug)]
struct State {
  mode: Mode,
  generation: u64,
}

/// A running proxy; dropping it closes the listener and every connection.
pub struct TcpProxy {
  address: SocketAddr,
  upstream_url: Option<String>,
  control: watch::Sender<State>,
  listening: watch::Receiver<bool>,
  connections: Arc<watch::Sender<usize>>,
}

impl std::fmt::Debug for TcpProxy {
  fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    formatter
      .debug_struct("TcpProxy")
      .field("address", &self.address)
      .field("state", &*self.control.borrow())
      .finish_non_exhaustive()
  }
}

/// Binds a listener on `address` that may be bound again later (`SO_REUSEADDR`), so that a proxy can stop
/// listening (connections refused) and listen again on the same port.
fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
  let socket = if address.is_ipv4() {
    TcpSocket::new_v4()?
  } else {
    TcpSocket::new_v6()?
  };
  socket.set_reuseaddr(true)?;
  socket.bind(address)?;
  socket.listen(1024)
}

impl TcpProxy {
  /// Starts a proxy on `127.0.0.1:<free port>` relaying to `upstream`.
  ///
  /// # Panics
  /// Panics when no local port can be bound.
  pub async fn start(upstream: SocketAddr) -> Self {
    let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind the proxy");
    let address = listener.local_addr().expect("the proxy's address");
    let (control, control_receiver) = watch::channel(State {
      mode: Mode::Open,
      generation: 0,
    });
    let (listening_sender, listening) = watch::channel(true);
    let connections = Arc::new(watch::Sender::new(0_usize));
    tokio::spawn(accept_loop(
      listener,
      address,
      upstream,
      control_receiver,
      listening_sender,
      connections.clone(),
    ));
    Self {
      address,
      upstream_url: None,
      control,
      listening,
      connections,
    }
  }

  /// Starts a proxy in front of the server of `url` (e.g. `mysql://root@127.0.0.1:3306/f1_test_x` or
  /// `redis://127.0.0.1:6379`); [`TcpProxy::url`] is then the same URL through the proxy.
  ///
  /// # Panics
  /// Panics when the URL has no host or the host does not resolve.
  pub async fn in_front_of(url: &str) -> Self {
    let parsed = url::Url::parse(url).unwrap_or_else(|error| panic!("parse {url}: {error}"));
    let host = parsed.host_str().expect("a URL with a host");
    let port = parsed
      .port_or_known_default()
      .unwrap_or(match parsed.scheme() {
        "redis" => 6379,
        _ => 3306,
      });
    let upstream = tokio::net::lookup_host((host, port))
      .await
      .unwrap_or_else(|error| panic!("resolve {host}:{port}: {error}"))
      .next()
      .unwrap_or_else(|| panic!("{host}:{port} resolves to no address"));
    let mut proxy = Self::start(upstream).await;
    proxy.upstream_url = Some(url.to_owned());
    proxy
  }

  /// The proxy's address (`127.0.0.1:<port>`).
  #[must_use]
  pub fn address(&self) -> SocketAddr {
    self.address
  }

  /// The URL given to [`TcpProxy::in_front_of`] with its host and port replaced by the proxy's.
  ///
  /// # Panics
  /// Panics when the proxy was made with [`TcpProxy::start`] (it has no URL).
  #[must_use]
  pub fn url(&self) -> String {
    let upstream = self
      .upstream_url
      .as_deref()
      .expect("a proxy made with TcpProxy::in_front_of");
    let mut url = url::Url::parse(upstream).expect("parsed before");
    url
      .set_ip_host(self.address.ip())
      .expect("a URL that has a host");
    url
      .set_port(Some(self.address.port()))
      .expect("a URL that has a port");
    url.to_string()
  }

  /// Starts an outage. When this completes, it is in effect: for [`Outage::Refused`] the listener is closed and
  /// every live connection is closed; for [`Outage::Frozen`] no more bytes are relayed (a write already being
  /// relayed may still finish).
  pub async fn cut(&self, outage: Outage) {
    match outage {
      Outage::Refused => {
        self.control.send_modify(|state| {
          state.mode = Mode::Refused;
          state.generation += 1;
        });
        let mut listening = self.listening.clone();
        listening
          .wait_for(|listening| !listening)
          .await
          .expect("the proxy's accept loop is running");
        let mut connections = self.connections.subscribe();
        connections
          .wait_for(|live| *live == 0)
          .await
          .expect("the proxy is alive");
      }
      Outage::Frozen => self.control.send_modify(|state| state.mode = Mode::Frozen),
    }
  }

  /// Ends the outage: connections are accepted and relayed again (held ones resume). When this completes the
  /// proxy is listening.
  pub async fn restore(&self) {
    self.control.send_modify(|state| state.mode = Mode::Open);
    let mut listening = self.listening.clone();
    listening
      .wait_for(|listening| *listening)
      .await
      .expect("the proxy's accept loop is running");
  }

  /// Closes every live connection and keeps accepting new ones (like a server that restarted at once, or that
  /// killed idle connections).
  pub async fn close_connections(&self) {
    self.control.send_modify(|state| state.generation += 1);
    let mut connections = self.connections.subscribe();
    connections
      .wait_for(|live| *live == 0)
      .await
      .expect("the proxy is alive");
  }

  /// How many client connections the proxy holds (relayed or held).
  #[must_use]
  pub fn live_connections(&self) -> usize {
    *self.connections.borrow()
  }
}

/// Accepts connections while the proxy is not refusing them; closes the listener while it is, and binds the same
/// address again when it no longer is.
async fn accept_loop(
  listener: TcpListener,
  address: SocketAddr,
  upstream: SocketAddr,
  mut control: watch::Receiver<State>,
  listening: watch::Sender<bool>,
  connections: Arc<watch::Sender<usize>>,
) {
  let mut listener = Some(listener);
  loop {
    let state = *control.borrow_and_update();
    if state.mode == Mode::Refused {
      listener = None;
      listening.send_replace(false);
      if control.changed().await.is_err() {
        return;
      }
      continue;
    }
    let current = match listener.take() {
      Some(current) => current,
      None => bind(address)
        .unwrap_or_else(|error| panic!("bind the proxy's address {address} again: {error}")),
    };
    listening.send_replace(true);
    tokio::select! {
      accepted = current.accept() => {
        if let Ok((client, _)) = accepted {
          client.set_nodelay(true).ok();
          let guard = ConnectionGuard::new(connections.clone());
          tokio::spawn(relay(client, upstream, control.clone(), state.generation, guard));
        }
      }
      changed = control.changed() => {
        if changed.is_err() {
          return;
        }
      }
    }
    listener = Some(current);
  }
}

/// Counts a live client connection for as long as it exists.
struct ConnectionGuard(Arc<watch::Sender<usize>>);

impl ConnectionGuard {
  fn new(connections: Arc<watch::Sender<usize>>) -> Self {
    connections.send_modify(|live| *live += 1);
    Self(connections)
  }
}

impl Drop for ConnectionGuard {
  fn drop(&mut self) {
    self.0.send_modify(|live| *live -= 1);
  }
}

/// Waits until the proxy relays (`true`) or this connection's generation is over (`false`).
async fn wait_until_open(control: &mut watch::Receiver<State>, generation: u64) -> bool {
  loop {
    let state = *control.borrow_and_update();
    if state.generation != generation {
      return false;
    }
    if state.mode == Mode::Open {
      return true;
    }
    if control.changed().await.is_err() {
      return false;
    }
  }
}

/// Completes when this connection's generation is over (or the proxy is gone).
async fn wait_until_closed(control: &mut watch::Receiver<State>, generation: u64) {
  loop {
    if control.borrow_and_update().generation != generation {
      return;
    }
    if control.changed().await.is_err() {
      return;
    }
  }
}

/// Relays one client connection: connects upstream once the proxy is open, then copies both ways until either
/// side closes or the connection's generation is over.
async fn relay(
  client: TcpStream,
  upstream: SocketAddr,
  mut control: watch::Receiver<State>,
  generation: u64,
  _guard: ConnectionGuard,
) {
  if !wait_until_open(&mut control, generation).await {
    return;
  }
  let mut closed = control.clone();
  let server = tokio::select! {
    connected = TcpStream::connect(upstream) => match connected {
      Ok(server) => server,
      Err(_) => return,
    },
    () = wait_until_closed(&mut closed, generation) => return,
  };
  server.set_nodelay(true).ok();
  let (client_reader, client_writer) = client.into_split();
  let (server_reader, server_writer) = server.into_split();
  tokio::select! {
    () = pump(client_reader, server_writer, control.clone(), generation) => {}
    () = pump(server_reader, client_writer, control, generation) => {}
  }
}

/// Copies bytes from `from` to `to` while the proxy is open; holds them while it is frozen; stops when either
/// side closes or the generation is over.
async fn pump(
  mut from: tokio::net::tcp::OwnedReadHalf,
  mut to: tokio::net::tcp::OwnedWriteHalf,
  mut control: watch::Receiver<State>,
  generation: u64,
) {
  let mut buffer = vec![0_u8; 16 * 1024];
  loop {
    if !wait_until_open(&mut control, generation).await {
      return;
    }
    let read = tokio::select! {
      biased;
      changed = control.changed() => {
        if changed.is_err() {
          return;
        }
        continue;
      }
      read = from.read(&mut buffer) => match read {
        Ok(0) | Err(_) => return,
        Ok(read) => read,
      },
    };
    if !wait_until_open(&mut control, generation).await {
      return;
    }
    let mut closed = control.clone();
    tokio::select! {
      () = wait_until_closed(&mut closed, generation) => return,
      written = to.write_all(&buffer[..read]) => {
        if written.is_err() {
          return;
        }
      }
    }
  }
}
