//! The server's side of Open F1's MQTT stream, on a real mosquitto broker with the dynamic-security plugin
//! (Debian's `mosquitto` package ships it: `mosquitto_dynamic_security.so`, set up with `mosquitto_ctrl dynsec
//! init`).
//!
//! - **Authentication as upstream**: the password is an access token issued by `POST /token` and still valid.
//!   Each issued token is registered as the password of a dynamic-security client named after the username that
//!   requested it (`createClient`, or `setClientPassword` for a later token, which closes that user's current
//!   connections as upstream does when a token is replaced); [`BrokerLink::revoke_expired`] deletes the clients
//!   whose token expired by the server's clock, which disconnects them. One difference with upstream, which
//!   accepts any non-empty username: here the MQTT username must be the one given to `POST /token` (dynamic
//!   security keys passwords by username). The worker sends its account's username, which upstream accepts too.
//! - **Publishing**: rows go to `v1/<endpoint>` with QoS 0, as upstream publishes. After a batch, a
//!   dynamic-security request on the same connection acts as a barrier: mosquitto handles one client's packets in
//!   order, so when its answer arrives every row of the batch has been routed to the subscribers.
//!
//! The link reconnects by itself (a broker restart) and registers the roles and the valid tokens again.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Topic of dynamic-security requests.
const CONTROL_TOPIC: &str = "$CONTROL/dynamic-security/v1";
/// Topic of dynamic-security answers.
const CONTROL_RESPONSE_TOPIC: &str = "$CONTROL/dynamic-security/v1/response";
/// Role given to every token's client: may subscribe to anything (upstream allows `#`), may not publish.
pub const SUBSCRIBER_ROLE: &str = "openf1-subscriber";
/// Role given to the admin client so that it may publish the rows.
pub const PUBLISHER_ROLE: &str = "openf1-publisher";
/// How long a dynamic-security request may take.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);
/// Wait between two attempts to reach the broker.
const RECONNECT_DELAY: Duration = Duration::from_millis(100);

/// Where the broker is and how to administer it.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerOptions {
  /// Host of the broker (plain MQTT over TCP).
  pub host: String,
  /// Port of the broker.
  pub port: u16,
  /// Username of a dynamic-security admin (`mosquitto_ctrl dynsec init FILE USERNAME PASSWORD`).
  pub admin_username: String,
  /// Its password.
  pub admin_password: String,
  /// Publish the replayed rows as the clock reaches them, in a background task (use with the system clock);
  /// `false`: only when [`crate::OpenF1Server::publish_due`] is called (tests with a manual clock).
  pub publish_automatically: bool,
}

impl fmt::Debug for BrokerOptions {
  fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
    formatter
      .debug_struct("BrokerOptions")
      .field("host", &self.host)
      .field("port", &self.port)
      .field("admin_username", &self.admin_username)
      .field("admin_password", &"[redacted]")
      .field("publish_automatically", &self.publish_automatically)
      .finish()
  }
}

/// Errors talking to the broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
  /// The broker is not connected (down or restarting).
  #[error("the MQTT broker is not connected")]
  NotConnected,
  /// A request could not be queued.
  #[error("could not send to the MQTT broker: {0}")]
  Client(#[from] rumqttc::ClientError),
  /// The broker did not answer a dynamic-security request in time (or the connection dropped meanwhile).
  #[error("the MQTT broker did not answer the dynamic-security request {0}")]
  NoAnswer(String),
  /// The broker answered a dynamic-security request with an error.
  #[error("the MQTT broker refused `{command}`: {error}")]
  Refused {
    /// The command.
    command: String,
    /// The broker's error.
    error: String,
  },
}

#[derive(Clone)]
struct Registration {
  token: String,
  expires_at: DateTime<Utc>,
}

struct LinkState {
  options: BrokerOptions,
  client: AsyncClient,
  connected: AtomicBool,
  /// True once the roles and tokens are set up on the current connection.
  ready: watch::Sender<bool>,
  next_correlation: AtomicU64,
  waiters: Mutex<HashMap<String, oneshot::Sender<Value>>>,
  /// The token registered per username (the newest one issued).
  registrations: Mutex<HashMap<String, Registration>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
  mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A connection to the broker as its dynamic-security admin; cheap to share.
pub struct BrokerLink {
  state: Arc<LinkState>,
  stop: CancellationToken,
  task: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for BrokerLink {
  fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
    formatter
      .debug_struct("BrokerLink")
      .field("options", &self.state.options)
      .field("connected", &self.is_connected())
      .finish_non_exhaustive()
  }
}

impl BrokerLink {
  /// Connects to the broker (in a background task that reconnects forever) and waits until the roles are set up.
  ///
  /// # Errors
  /// [`BrokerError`] when the broker cannot be reached or refuses the setup within a few seconds.
  pub async fn connect(options: BrokerOptions) -> Result<Self, BrokerError> {
    let suffix = std::process::id();
    let mut mqtt = MqttOptions::new(
      format!("openf1-server-{suffix}-{}", options.port),
      options.host.clone(),
      options.port,
    );
    mqtt
      .set_credentials(
        options.admin_username.clone(),
        options.admin_password.clone(),
      )
      .set_keep_alive(Duration::from_secs(30))
      .set_clean_session(true)
      .set_max_packet_size(1 << 20, 1 << 20);
    let (client, eventloop) = AsyncClient::new(mqtt, 1024);
    let state = Arc::new(LinkState {
      options,
      client,
      connected: AtomicBool::new(false),
      ready: watch::Sender::new(false),
      next_correlation: AtomicU64::new(1),
      waiters: Mutex::new(HashMap::new()),
      registrations: Mutex::new(HashMap::new()),
    });
    let stop = CancellationToken::new();
    let task = tokio::spawn(drive(Arc::clone(&state), eventloop, stop.clone()));
    let link = Self {
      state,
      stop,
      task: Mutex::new(Some(task)),
    };
    match tokio::time::timeout(CONTROL_TIMEOUT * 2, link.wait_until_ready()).await {
      Ok(()) => Ok(link),
      Err(_) => {
        link.stop().await;
        Err(BrokerError::NotConnected)
      }
    }
  }

  /// Whether the broker is connected and set up now.
  #[must_use]
  pub fn is_connected(&self) -> bool {
    *self.state.ready.borrow()
  }

  /// Waits until the broker is connected and set up (after a restart: reconnected, roles and tokens registered
  /// again).
  pub async fn wait_until_ready(&self) {
    let mut ready = self.state.ready.subscribe();
    ready.wait_for(|ready| *ready).await.ok();
  }

  /// Registers `token` (valid until `expires_at`) as the MQTT password of `username`; its previous token stops
  /// working and its connections are closed. Registered again after a broker restart.
  ///
  /// # Errors
  /// [`BrokerError`] when the broker is unreachable (the token is still registered at the next reconnection).
  pub async fn register(
    &self,
    username: &str,
    token: &str,
    expires_at: DateTime<Utc>,
  ) -> Result<(), BrokerError> {
    if username == self.state.options.admin_username {
      tracing::warn!(
        username,
        "not registering a token for the broker's admin username"
      );
      return Ok(());
    }
    lock(&self.state.registrations).insert(
      username.to_owned(),
      Registration {
        token: token.to_owned(),
        expires_at,
      },
    );
    register_client(&self.state, username, token).await
  }

  /// Deletes the clients whose token expired at `now` (by the server's clock), which disconnects them; returns
  /// how many.
  ///
  /// # Errors
  /// [`BrokerError`] when the broker cannot be told (the clients are deleted at the next call).
  pub async fn revoke_expired(&self, now: DateTime<Utc>) -> Result<usize, BrokerError> {
    let expired: Vec<String> = lock(&self.state.registrations)
      .iter()
      .filter(|(_, registration)| registration.expires_at <= now)
      .map(|(username, _)| username.clone())
      .collect();
    for username in &expired {
      let answers = control(
        &self.state,
        vec![json!({"command": "deleteClient", "username": username})],
      )
      .await?;
      check_answers(&answers, &["Client not found"])?;
      lock(&self.state.registrations).remove(username);
      tracing::info!(username, "expired token: MQTT client deleted");
    }
    Ok(expired.len())
  }

  /// Publishes `payloads` on `topic` (QoS 0, as upstream), then waits until the broker has routed them.
  ///
  /// # Errors
  /// [`BrokerError::NotConnected`] when the broker is down (nothing is queued for later: QoS 0 messages to a
  /// broker that is down are lost, as upstream's would be), or the barrier's error.
  pub async fn publish(&self, messages: Vec<(String, Vec<u8>)>) -> Result<(), BrokerError> {
    if !self.is_connected() {
      return Err(BrokerError::NotConnected);
    }
    for (topic, payload) in messages {
      self
        .state
        .client
        .publish(topic, QoS::AtMostOnce, false, payload)
        .await?;
    }
    self.barrier().await
  }

  /// Returns once the broker has handled every packet sent before (a dynamic-security request answered in order).
  ///
  /// # Errors
  /// [`BrokerError`] when the broker does not answer.
  pub async fn barrier(&self) -> Result<(), BrokerError> {
    let answers = control(&self.state, vec![json!({"command": "getDefaultACLAccess"})]).await?;
    check_answers(&answers, &[])
  }

  /// Disconnects and stops the background task.
  pub async fn stop(&self) {
    self.stop.cancel();
    let task = lock(&self.task).take();
    if let Some(task) = task {
      task.await.ok();
    }
  }
}

impl Drop for BrokerLink {
  fn drop(&mut self) {
    self.stop.cancel();
  }
}

fn check_answers(answers: &[Value], tolerated: &[&str]) -> Result<(), BrokerError> {
  for answer in answers {
    if let Some(error) = answer.get("error").and_then(Value::as_str)
      && !tolerated.contains(&error)
    {
      return Err(BrokerError::Refused {
        command: answer
          .get("command")
          .and_then(Value::as_str)
          .unwrap_or_default()
          .to_owned(),
        error: error.to_owned(),
      });
    }
  }
  Ok(())
}

/// Sends dynamic-security `commands` and waits for their answers (in order).
async fn control(state: &LinkState, commands: Vec<Value>) -> Result<Vec<Value>, BrokerError> {
  if !state.connected.load(Ordering::SeqCst) {
    return Err(BrokerError::NotConnected);
  }
  let mut receivers = Vec::with_capacity(commands.len());
  let mut tagged = Vec::with_capacity(commands.len());
  for mut command in commands {
    let correlation = format!("c{}", state.next_correlation.fetch_add(1, Ordering::SeqCst));
    let (sender, receiver) = oneshot::channel();
    lock(&state.waiters).insert(correlation.clone(), sender);
    if let Value::Object(fields) = &mut command {
      fields.insert("correlationData".into(), Value::String(correlation.clone()));
    }
    receivers.push((correlation, receiver));
    tagged.push(command);
  }
  let body = json!({ "commands": tagged }).to_string();
  state
    .client
    .publish(CONTROL_TOPIC, QoS::AtMostOnce, false, body)
    .await?;
  let mut answers = Vec::with_capacity(receivers.len());
  for (correlation, receiver) in receivers {
    match tokio::time::timeout(CONTROL_TIMEOUT, receiver).await {
      Ok(Ok(answer)) => answers.push(answer),
      _ => {
        lock(&state.waiters).remove(&correlation);
        return Err(BrokerError::NoAnswer(correlation));
      }
    }
  }
  Ok(answers)
}

/// Creates the client of `username` with `token` as password, or changes its password.
async fn register_client(
  state: &LinkState,
  username: &str,
  token: &str,
) -> Result<(), BrokerError> {
  let created = control(
    state,
    vec![json!({
      "command": "createClient",
      "username": username,
      "password": token,
      "roles": [{"rolename": SUBSCRIBER_ROLE}],
    })],
  )
  .await?;
  if created
    .first()
    .and_then(|answer| answer.get("error"))
    .and_then(Value::as_str)
    == Some("Client already exists")
  {
    let changed = control(
      state,
      vec![
        json!({"command": "setClientPassword", "username": username, "password": token}),
        json!({"command": "addClientRole", "username": username, "rolename": SUBSCRIBER_ROLE}),
      ],
    )
    .await?;
    return check_answers(&changed[..1], &[]);
  }
  check_answers(&created, &[])
}

/// Sets up the roles, then registers every valid token again (after a broker restart they may be gone). Returns
/// `false` when it had to give the admin the publisher role: the broker then disconnects the admin (dynamic
/// security applies role changes by disconnecting), and the setup finishes on the next connection.
async fn provision(state: &LinkState) -> Result<bool, BrokerError> {
  let answers = control(
    state,
    vec![
      json!({"command": "createRole", "rolename": SUBSCRIBER_ROLE,
        "acls": [{"acltype": "subscribePattern", "topic": "#", "allow": true}]}),
      json!({"command": "createRole", "rolename": PUBLISHER_ROLE,
        "acls": [{"acltype": "publishClientSend", "topic": "v1/#", "allow": true}]}),
      json!({"command": "getClient", "username": state.options.admin_username}),
    ],
  )
  .await?;
  check_answers(&answers, &["Role already exists"])?;
  let admin_roles = answers
    .get(2)
    .and_then(|answer| answer.pointer("/data/client/roles"))
    .and_then(Value::as_array)
    .cloned()
    .unwrap_or_default();
  let publishes = admin_roles
    .iter()
    .any(|role| role.get("rolename").and_then(Value::as_str) == Some(PUBLISHER_ROLE));
  if !publishes {
    let body = json!({"commands": [{"command": "addClientRole",
      "username": state.options.admin_username, "rolename": PUBLISHER_ROLE}]});
    state
      .client
      .publish(CONTROL_TOPIC, QoS::AtMostOnce, false, body.to_string())
      .await?;
    return Ok(false);
  }
  let registrations: Vec<(String, Registration)> = lock(&state.registrations)
    .iter()
    .map(|(username, registration)| (username.clone(), registration.clone()))
    .collect();
  for (username, registration) in registrations {
    // A client kept by the broker's saved configuration already has its newest token: changing its password
    // again would disconnect it for nothing.
    let created = control(
      state,
      vec![json!({
        "command": "createClient",
        "username": username,
        "password": registration.token,
        "roles": [{"rolename": SUBSCRIBER_ROLE}],
      })],
    )
    .await?;
    check_answers(&created, &["Client already exists"])?;
  }
  Ok(true)
}

/// Drives the admin connection: answers to waiters, provisioning after each (re)connection, reconnection.
async fn drive(state: Arc<LinkState>, mut eventloop: EventLoop, stop: CancellationToken) {
  loop {
    let event = tokio::select! {
      () = stop.cancelled() => break,
      event = eventloop.poll() => event,
    };
    match event {
      Ok(Event::Incoming(Packet::ConnAck(_))) => {
        // `try_`: this task drains the request channel, it must never wait on it.
        if let Err(error) = state
          .client
          .try_subscribe(CONTROL_RESPONSE_TOPIC, QoS::AtMostOnce)
        {
          tracing::warn!(%error, "could not subscribe to dynamic-security answers");
        }
        state.connected.store(true, Ordering::SeqCst);
        let provisioning_state = Arc::clone(&state);
        tokio::spawn(async move {
          match provision(&provisioning_state).await {
            Ok(true) => {
              provisioning_state.ready.send_replace(true);
            }
            Ok(false) => tracing::debug!("gave the admin the publisher role; reconnecting"),
            Err(error) => tracing::warn!(%error, "could not set up the broker's dynamic security"),
          }
        });
      }
      Ok(Event::Incoming(Packet::Publish(publish))) if publish.topic == CONTROL_RESPONSE_TOPIC => {
        let answers = serde_json::from_slice::<Value>(&publish.payload)
          .ok()
          .and_then(|body| body.get("responses").and_then(Value::as_array).cloned())
          .unwrap_or_default();
        for answer in answers {
          let waiter = answer
            .get("correlationData")
            .and_then(Value::as_str)
            .and_then(|correlation| lock(&state.waiters).remove(correlation));
          if let Some(waiter) = waiter {
            waiter.send(answer).ok();
          }
        }
      }
      Ok(_) => {}
      Err(error) => {
        state.ready.send_replace(false);
        if state.connected.swap(false, Ordering::SeqCst) {
          tracing::warn!(%error, "lost the MQTT broker; reconnecting");
        }
        lock(&state.waiters).clear();
        tokio::select! {
          () = stop.cancelled() => break,
          () = tokio::time::sleep(RECONNECT_DELAY) => {}
        }
      }
    }
  }
  state.connected.store(false, Ordering::SeqCst);
  state.ready.send_replace(false);
  state.client.try_disconnect().ok();
  // Let the DISCONNECT go out (bounded).
  tokio::time::timeout(Duration::from_millis(200), async {
    while let Ok(event) = eventloop.poll().await {
      if matches!(event, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
        break;
      }
    }
  })
  .await
  .ok();
}
