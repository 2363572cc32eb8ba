//! Helpers for the end-to-end tests: an in-process server on an ephemeral
//! loopback port, and a test client on the client library (`tickwire-client`,
//! the tree's one protocol client) that reads messages one by one and can
//! send anything. Every wait is bounded.

#![allow(dead_code, unreachable_pub)] // each test file uses a different subset

pub mod bots;
pub mod proxy;
pub mod redis;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::FutureExt;
use tickwire_client::{ClientError, RawFrame};
use tickwire_server::config::ServerConfig;
use tickwire_server::{Games, Server, ServerError};
use tickwire_shared::arena::{Arena, ArenaConfig, ArenaInput, PlayerView, player_field};
use tickwire_shared::chat::Chat;
use tickwire_shared::client::{Replica, ReplicaError};
use tickwire_shared::game::GameOptions;
use tickwire_shared::ids::PlayerId;
use tickwire_shared::protocol::*;
use tickwire_shared::snapshot::WorldSnapshot;
use tickwire_shared::tick::{Tick, TickRate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The longest any single wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(5);

/// The operator API token of test servers.
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// Settings for tests: an ephemeral port and short timeouts.
pub fn test_config() -> ServerConfig {
    let mut config = ServerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..ServerConfig::default()
    };
    config.timeouts.handshake_ms = 1_000;
    config.timeouts.idle_ms = 5_000;
    config.timeouts.heartbeat_ms = 500;
    config.timeouts.write_ms = 1_000;
    config.timeouts.empty_room_ms = 300;
    // No drain unless a test asks for one: `stop` shuts down at once.
    config.timeouts.drain_ms = 0;
    // Tests create their rooms from one address, many at once;
    // tests/abuse.rs sets its own bounds.
    config.limits.rooms_per_minute_per_client = 10_000;
    config.limits.rooms_per_minute_per_ip = 100_000;
    config.seed = Some(1);
    config.timeouts.shutdown_ms = 3_000;
    config.admin_token = Some(tickwire_server::config::Secret::new(ADMIN_TOKEN));
    config
}

/// A server running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The TLS (wss) port, when the config set `tls_bind`.
    pub tls_addr: Option<SocketAddr>,
    /// Its certificate's SHA-256 fingerprint.
    pub tls_fingerprint: Option<String>,
    /// The QUIC (UDP) port, when the config set `quic_bind`.
    pub quic_addr: Option<SocketAddr>,
    /// The WebTransport (UDP) port, when the config set
    /// `webtransport_bind`.
    pub webtransport_addr: Option<SocketAddr>,
    /// The admin port, when the config set `admin_bind`.
    pub admin_addr: Option<SocketAddr>,
    drain: Option<oneshot::Sender<()>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServerError>>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut ServerConfig)) -> Self {
        Self::start_authenticating(tweak, None).await
    }

    /// A server whose clients `authenticator` verifies (an open one
    /// without).
    pub async fn start_authenticating(
        tweak: impl FnOnce(&mut ServerConfig),
        authenticator: Option<std::sync::Arc<dyn tickwire_server::Authenticator>>,
    ) -> Self {
        let mut config = test_config();
        tweak(&mut config);
        let games = Games::new()
            .with::<Arena>(ArenaConfig::default())
            .with::<Chat>(());
        let server = match authenticator {
            Some(auth) => Server::bind_with_authenticator(config, games, auth).await,
            None => Server::bind(config, games).await,
        }
        .expect("server binds");
        let addr = server.local_addr();
        let tls_addr = server.tls_addr();
        let tls_fingerprint = server.tls_fingerprint().map(str::to_owned);
        let quic_addr = server.quic_addr();
        let webtransport_addr = server.webtransport_addr();
        let admin_addr = server.admin_addr();
        let (drain, drained) = oneshot::channel::<()>();
        let (stop, stopped) = oneshot::channel::<()>();
        // A dropped sender (the test ended) stops the server too.
        let task = tokio::spawn(server.run_with(
            async move {
                let _ = drained.await;
            },
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            tls_addr,
            tls_fingerprint,
            quic_addr,
            webtransport_addr,
            admin_addr,
            drain: Some(drain),
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The `wss://` URL of the TLS port (the config must set `tls_bind`).
    pub fn wss_url(&self) -> String {
        format!("wss://{}/ws", self.tls_addr.expect("a TLS port"))
    }

    /// The `quic://` URL of the QUIC port (the config must set
    /// `quic_bind`).
    pub fn quic_url(&self) -> String {
        format!("quic://{}", self.quic_addr.expect("a QUIC port"))
    }

    /// Triggers a graceful shutdown (a drain first, when `drain_ms` is
    /// set) and waits for `run` to return.
    pub async fn stop(mut self) -> Result<(), ServerError> {
        self.begin_drain();
        self.finished(Duration::from_secs(10)).await
    }

    /// Starts the drain (the first shutdown signal) without waiting.
    pub fn begin_drain(&mut self) {
        if let Some(drain) = self.drain.take() {
            let _ = drain.send(());
        }
    }

    /// Stops at once (the second signal), without waiting.
    pub fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Whether `run` has returned.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits (at most `within`) for `run` to return.
    pub async fn finished(&mut self, within: Duration) -> Result<(), ServerError> {
        let task = self.task.take().expect("running");
        tokio::time::timeout(within, task)
            .await
            .expect("server stops in time")
            .expect("no panic")
    }

    /// `GET path` over plain HTTP/1.1; returns the status and the body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        get_from(self.addr, path).await
    }

    /// A request to the operator API with the tests' admin token
    /// ([`ADMIN_TOKEN`]).
    pub async fn operator(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let bearer = format!("Bearer {ADMIN_TOKEN}");
        request_from(
            self.addr,
            method,
            path,
            &[
                ("Authorization", bearer.as_str()),
                ("Content-Type", "application/json"),
            ],
            body,
        )
        .await
    }

    /// `GET path` on the admin port (the config must set `admin_bind`).
    pub async fn admin_get(&self, path: &str) -> (u16, String) {
        get_from(self.admin_addr.expect("an admin port"), path).await
    }

    /// The value of one metric sample line (`name{labels}` exactly), or 0.
    pub async fn metric(&self, sample: &str) -> f64 {
        let (_, body) = self.get("/metrics").await;
        body.lines()
            .find_map(|line| {
                line.strip_prefix(sample)
                    .and_then(|rest| rest.strip_prefix(' '))
            })
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

/// `GET path` from `addr` over plain HTTP/1.1; returns the status and the
/// body.
pub async fn get_from(addr: SocketAddr, path: &str) -> (u16, String) {
    request_from(addr, "GET", path, &[], "").await
}

/// A request to `addr` over plain HTTP/1.1 with extra header lines and a
/// body; returns the status and the body.
pub async fn request_from(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    try_request_from(addr, method, path, headers, body)
        .await
        .expect("http answer")
}

/// [`request_from`], or the IO error when the connection is refused or
/// reset (a port at its cap may answer 503 and reset).
pub async fn try_request_from(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(WAIT, exchange)
        .await
        .expect("http answer in time")?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// How a connection ended, as the client saw it.
#[derive(Debug, Default)]
pub struct Ending {
    /// The `Close` or `Rejected` message, if one came.
    pub close: Option<(CloseReason, String)>,
    /// The WebSocket close frame's code, if one came.
    pub code: Option<u16>,
}

/// A protocol client for the tests: the client library
/// ([`tickwire_client::Client`], the one protocol client in the tree) with
/// every server message kept, so that a test can read them one by one
/// ([`Client::recv`]) and send anything, well-formed or not. The library
/// answers pings, applies and acknowledges updates; this wrapper counts
/// what arrived.
pub struct Client {
    inner: tickwire_client::Client,
    next_request: u32,
    pub player: Option<PlayerId>,
    pub updates: u32,
    pub full_snapshots: u32,
    /// Tick of the last full snapshot received.
    pub last_full: Option<Tick>,
    pub errors: Vec<ErrorMessage>,
    pub replica_errors: Vec<ReplicaError>,
    pub events: Vec<RoomEvent>,
}

impl Client {
    fn wrap(inner: tickwire_client::Client) -> Self {
        Self {
            player: (inner.player() != PlayerId(0)).then(|| inner.player()),
            inner,
            next_request: 1_000_000,
            updates: 0,
            full_snapshots: 0,
            last_full: None,
            errors: Vec::new(),
            replica_errors: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Opens a WebSocket, without greeting.
    pub async fn connect(server: &TestServer) -> Self {
        let open = tickwire_client::Client::builder(server.ws_url())
            .keep_messages(true)
            .reconnect(tickwire_client::ReconnectPolicy::disabled())
            .connect_timeout(WAIT)
            .open();
        Self::wrap(open.await.expect("websocket connects"))
    }

    /// Connects and completes the handshake.
    pub async fn greeted(server: &TestServer, name: &str) -> Self {
        // A protocol test sees every ending as it is: no reconnection.
        let connect = tickwire_client::Client::builder(server.ws_url())
            .name(name)
            .keep_messages(true)
            .reconnect(tickwire_client::ReconnectPolicy::disabled())
            .connect_timeout(WAIT)
            .connect();
        let mut client = Self::wrap(connect.await.expect("connects and greets"));
        // The Welcome was read while greeting.
        let _ = client.inner.next_message().now_or_never();
        client
    }

    /// The library client underneath.
    pub fn inner(&mut self) -> &mut tickwire_client::Client {
        &mut self.inner
    }

    /// The rebuilt worlds.
    pub fn replica(&self) -> &Replica {
        self.inner.replica()
    }

    pub async fn send(&mut self, message: &ClientMessage) {
        tokio::time::timeout(WAIT, self.inner.send_message(message))
            .await
            .expect("send in time")
            .expect("send");
    }

    pub async fn send_raw(&mut self, message: Message) {
        assert!(self.try_send_raw(message).await, "send");
    }

    /// Tries to send; false if the connection is gone.
    pub async fn try_send_raw(&mut self, message: Message) -> bool {
        let frame = match message {
            Message::Binary(bytes) => RawFrame::Binary(bytes.to_vec()),
            Message::Text(text) => RawFrame::Text(text.to_string()),
            other => panic!("the client sends binary or text frames, not {other:?}"),
        };
        matches!(
            tokio::time::timeout(WAIT, self.inner.send_raw(frame)).await,
            Ok(Ok(()))
        )
    }

    /// The next server message, or `None` when the connection ends. Pings
    /// are answered, updates applied and acknowledged (by the library),
    /// errors and events recorded, all before being returned.
    pub async fn recv(&mut self) -> Option<ServerMessage> {
        let next = tokio::time::timeout(WAIT, self.inner.next_message())
            .await
            .expect("server message in time");
        let message = next.ok().flatten()?;
        self.observe(&message);
        Some(message)
    }

    fn observe(&mut self, message: &ServerMessage) {
        match message {
            ServerMessage::Update(update) => {
                self.updates += 1;
                if update.baseline.is_none() {
                    self.full_snapshots += 1;
                    self.last_full = Some(update.tick);
                }
            }
            ServerMessage::Error(e) => self.errors.push(e.clone()),
            ServerMessage::Event(e) => self.events.push(e.clone()),
            ServerMessage::Welcome(w) => self.player = Some(w.player),
            _ => {}
        }
        while let Some(event) = self.inner.poll_event() {
            if let tickwire_client::Event::UpdateFailed(e) = event {
                self.replica_errors.push(e);
            }
        }
    }

    /// Reads until `pick` accepts a message (bounded by [`WAIT`] overall).
    pub async fn expect<T>(&mut self, mut pick: impl FnMut(ServerMessage) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected message did not come in time"
            );
            let message = self.recv().await.expect("connection still open");
            if let Some(found) = pick(message) {
                return found;
            }
        }
    }

    fn request_id(&mut self) -> u32 {
        self.next_request += 1;
        self.next_request
    }

    /// Sends a request built with a fresh request id (the test's own, not
    /// the library's) and waits for the answer carrying that id (an
    /// `Error` comes back as `Err`).
    pub async fn request(
        &mut self,
        build: impl FnOnce(u32) -> ClientMessage,
    ) -> Result<ServerMessage, ErrorMessage> {
        let id = self.request_id();
        self.send(&build(id)).await;
        let answer = self
            .expect(|m| (m.request_id() == Some(id)).then_some(m))
            .await;
        into_result(answer)
    }

    pub async fn create_room(
        &mut self,
        name: &str,
        visibility: Visibility,
        max_players: u16,
        join_as: Option<Role>,
    ) -> Result<ServerMessage, ErrorMessage> {
        self.request(|request_id| {
            ClientMessage::CreateRoom(CreateRoom {
                request_id,
                game: None,
                name: name.into(),
                visibility,
                max_players,
                options: GameOptions::default(),
                join_as,
                join_options: GameOptions::default(),
            })
        })
        .await
    }

    /// Joins with the library's request (the answer is matched by it).
    pub async fn join(&mut self, target: RoomTarget, role: Role) -> Result<Joined, ErrorMessage> {
        let joined = tokio::time::timeout(WAIT, self.inner.join(target, role))
            .await
            .expect("join answered in time");
        match joined {
            Ok(joined) => Ok(joined),
            Err(ClientError::Refused(e)) => Err(e),
            Err(e) => panic!("join failed: {e}"),
        }
    }

    pub async fn list(&mut self) -> Vec<RoomInfo> {
        tokio::time::timeout(WAIT, self.inner.list_rooms(RoomFilter::default()))
            .await
            .expect("list answered in time")
            .expect("rooms listed")
    }

    /// Sends one arena input with the next sequence number.
    pub async fn input(&mut self, input: ArenaInput) {
        tokio::time::timeout(WAIT, self.inner.send_input(&input))
            .await
            .expect("send in time")
            .expect("send");
    }

    /// Reads (applying updates) until the replica holds `tick` or later.
    pub async fn until_tick(&mut self, tick: Tick) -> WorldSnapshot {
        loop {
            if let Some(world) = self.replica().latest().filter(|w| w.tick >= tick) {
                return world.clone();
            }
            self.recv()
                .await
                .expect("connection open while waiting for a tick");
        }
    }

    /// Reads until the connection ends and reports how it ended.
    pub async fn ending(&mut self) -> Ending {
        let mut ending = Ending::default();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let next = tokio::time::timeout_at(deadline, self.inner.next_message())
                .await
                .expect("connection ends in time");
            match next {
                Ok(Some(ServerMessage::Close(c))) => ending.close = Some((c.reason, c.message)),
                Ok(Some(ServerMessage::Rejected(r))) => ending.close = Some((r.reason, r.message)),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    ending.code = self.inner.close_code();
                    return ending;
                }
            }
        }
    }
}

/// An answer as a result: an `Error` is the error.
fn into_result(message: ServerMessage) -> Result<ServerMessage, ErrorMessage> {
    match message {
        ServerMessage::Error(e) => Err(e),
        other => Ok(other),
    }
}

pub fn hello(name: &str) -> Hello {
    Hello {
        protocol_version: PROTOCOL_VERSION,
        client_name: name.into(),
        auth_ticket: None,
        resume_token: None,
        resume_from: None,
    }
}

/// The WebSocket close code a reason maps to.
pub fn code_of(reason: CloseReason) -> u16 {
    u16::from(CloseCode::from(reason.code()))
}

/// Full speed to the right, no aim, no fire.
pub const WALK_RIGHT: ArenaInput = ArenaInput {
    move_x: 1.0,
    move_y: 0.0,
    aim: 0.0,
    fire: false,
};

/// A player's avatar in a replicated arena world.
pub fn avatar(world: &WorldSnapshot, player: PlayerId) -> PlayerView {
    let entity = world
        .entities()
        .iter()
        .find(|e| {
            e.kind == tickwire_shared::arena::PLAYER
                && e.fields[player_field::PLAYER] == player.0 as i32
        })
        .expect("the player's avatar is replicated");
    PlayerView::from_entity(entity, TickRate::ARENA).expect("a player entity")
}

/// A client-library client for a game with `schema`, greeted as `name`.
pub async fn game_client(
    server: &TestServer,
    name: &str,
    schema: tickwire_shared::schema::Schema,
) -> tickwire_client::Client {
    tickwire_client::Client::builder(server.ws_url())
        .name(name)
        .schema(schema)
        .connect()
        .await
        .expect("connects")
}
