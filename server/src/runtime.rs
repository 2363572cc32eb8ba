//! The IO shell that runs everything (shell): the state shared by tasks,
//! the accept loop with its connection caps (one loop per listener: the
//! plain port and, when configured, the TLS port), room creation and
//! joining, and the shutdown order. Room and session tasks, and the room
//! shards they run on, live in the submodules.

pub(crate) mod room_task;
pub(crate) mod session_task;
pub(crate) mod shards;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tickwire_shared::game::{Game, GameError};
use tickwire_shared::ids::PlayerId;
use tickwire_shared::protocol::{ErrorCode, ErrorMessage, RoomInfo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::config::ServerConfig;
use crate::http::{self, HttpState, RoomDirectory};
use crate::lobby::{Lobby, LobbyError, NewRoom};
use crate::metrics::Metrics;
use crate::room::Room;
use crate::transport::quic::QuicLink;
use crate::transport::tcp::{Movable, MovableTcp};
use crate::transport::ws::{self, Route, WsLink};
use room_task::RoomCommand;
use shards::{ShardId, Shards};

/// Refused connections drained at once; past this, refused sockets are
/// dropped straight away.
const REFUSALS_LINGERING: usize = 64;

/// How sessions reach a room task: its command queue, and the shard it
/// runs on (where its members' sessions move).
#[derive(Clone, Debug)]
pub(crate) struct RoomHandle {
    pub(crate) commands: mpsc::Sender<RoomCommand>,
    pub(crate) shard: ShardId,
}

/// Commands a room queues between ticks: enough for every seat to send an
/// input and an ack twice per tick, and never fewer than 256.
fn room_queue(max_players: u16) -> usize {
    (usize::from(max_players) * 8).max(256)
}

/// A refused request: the code and message the client gets, and a short
/// kind for logs and metrics.
#[derive(Clone, Debug)]
pub(crate) struct Refusal {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
    pub(crate) kind: &'static str,
}

impl Refusal {
    pub(crate) fn new(code: ErrorCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            kind,
        }
    }

    pub(crate) fn to_message(&self, request_id: Option<u32>) -> ErrorMessage {
        ErrorMessage {
            request_id,
            code: self.code,
            message: self.message.clone(),
        }
    }
}

impl From<LobbyError> for Refusal {
    fn from(e: LobbyError) -> Self {
        Self::new(e.code(), e.kind(), e.to_string())
    }
}

impl From<GameError> for Refusal {
    fn from(e: GameError) -> Self {
        match e {
            GameError::BadOption { .. } => {
                Self::new(ErrorCode::BadOptions, "bad_options", e.to_string())
            }
            GameError::JoinRefused(_) => {
                Self::new(ErrorCode::JoinRefused, "join_refused", e.to_string())
            }
            GameError::InvalidInput(_) => {
                Self::new(ErrorCode::InvalidInput, "invalid_input", e.to_string())
            }
        }
    }
}

/// State every task of one server shares.
pub(crate) struct Shared<G: Game> {
    pub(crate) config: ServerConfig,
    pub(crate) game_config: G::Config,
    pub(crate) lobby: Mutex<Lobby<RoomHandle>>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) cancel: CancellationToken,
    pub(crate) tracker: TaskTracker,
    pub(crate) shards: Shards,
    next_player: AtomicU32,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    connections: Arc<Semaphore>,
    handshakes: Arc<Semaphore>,
    refusals: Arc<Semaphore>,
}

impl<G: Game> std::fmt::Debug for Shared<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("server", &self.config.server_name)
            .finish_non_exhaustive()
    }
}

impl<G: Game> RoomDirectory for Shared<G> {
    fn public_rooms(&self) -> Vec<RoomInfo> {
        self.lobby().public_rooms()
    }
}

/// Microseconds since the Unix epoch.
pub(crate) fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

impl<G: Game> Shared<G> {
    pub(crate) fn new(config: ServerConfig, game_config: G::Config) -> std::io::Result<Self> {
        let limits = &config.limits;
        Ok(Self {
            shards: Shards::start(config.shards)?,
            lobby: Mutex::new(Lobby::new(G::NAME, limits)),
            metrics: Arc::new(Metrics::new()),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            next_player: AtomicU32::new(1),
            per_ip: Mutex::new(HashMap::new()),
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            handshakes: Arc::new(Semaphore::new(limits.max_pending_handshakes)),
            refusals: Arc::new(Semaphore::new(REFUSALS_LINGERING)),
            game_config,
            config,
        })
    }

    /// The lobby, locked. Critical sections are short and never await; a
    /// poisoned lock (a panic while holding it) still holds a consistent
    /// registry, so it is used as is.
    pub(crate) fn lobby(&self) -> MutexGuard<'_, Lobby<RoomHandle>> {
        self.lobby
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn next_player(&self) -> PlayerId {
        PlayerId(self.next_player.fetch_add(1, Ordering::Relaxed))
    }

    /// Creates a room with its game and starts its task.
    pub(crate) fn create_room(self: &Arc<Self>, request: NewRoom) -> Result<RoomInfo, Refusal> {
        let limits = &self.config.limits;
        let mut lobby = self.lobby();
        lobby.check_new(&request)?;
        let id = lobby.next_id();
        let seed = self.config.seed.wrapping_add(u64::from(id.0));
        let game = G::new(&self.game_config, &request.options, seed)?;
        let (tx, rx) = mpsc::channel(room_queue(request.max_players));
        let placement = self.shards.place_room();
        let handle = RoomHandle {
            commands: tx,
            shard: placement.shard(),
        };
        let info = lobby.create(request, rand_os::random::<u64>, |_| handle)?;
        drop(lobby);
        let room = Room::new(game, limits.max_baseline_age, limits.max_client_frame);
        self.metrics.rooms.inc();
        self.metrics.rooms_created.inc();
        info!(room = %info.id, name = %info.name, visibility = ?info.visibility, max_players = info.max_players, "room created");
        let task = room_task::run(Arc::clone(self), info.id, room, rx);
        self.shards.spawn(
            placement.shard(),
            self.tracker.track_future(async move {
                task.await;
                drop(placement);
            }),
        );
        Ok(info)
    }
}

/// Holds one address's connection slot until dropped.
struct IpSlot<G: Game> {
    shared: Arc<Shared<G>>,
    ip: IpAddr,
}

impl<G: Game> IpSlot<G> {
    fn acquire(shared: &Arc<Shared<G>>, ip: IpAddr) -> Option<Self> {
        let mut per_ip = shared.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let count = per_ip.entry(ip).or_insert(0);
        if *count >= shared.config.limits.max_connections_per_ip {
            return None;
        }
        *count += 1;
        Some(Self {
            shared: Arc::clone(shared),
            ip,
        })
    }
}

impl<G: Game> Drop for IpSlot<G> {
    fn drop(&mut self) {
        let mut per_ip = self.shared.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// What a connection holds while it lives; dropping it frees the slots.
pub(crate) struct ConnectionPermits {
    _connection: OwnedSemaphorePermit,
    _ip: Box<dyn Send + Sync>,
}

/// How a listener prepares an accepted TCP stream before its session.
#[derive(Clone)]
pub(crate) enum Entry {
    /// The plain port: `GET /ws` becomes a WebSocket session, everything
    /// else is served by the HTTP router.
    Plain(axum::Router),
    /// The TLS port: the TLS handshake, then the WebSocket upgrade only
    /// (no HTTP routing; other paths are answered 404).
    Tls(TlsAcceptor),
}

impl Entry {
    /// Whether refusals can be written as plain HTTP on this port.
    fn speaks_plain_http(&self) -> bool {
        matches!(self, Self::Plain(_))
    }
}

/// Accepts connections until `shutdown` (or the server's cancellation),
/// then returns (see [`crate::Server::run`]). The same connection caps,
/// per-IP limit and pending-handshake permits hold whatever the `entry`.
pub(crate) async fn accept_loop<G: Game>(
    shared: Arc<Shared<G>>,
    listener: TcpListener,
    entry: Entry,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            () = shared.cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: back off briefly.
                warn!(error = %e, "accept failed");
                shared.metrics.error("accept_failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (permits, handshake) = match admit(&shared, peer) {
            Ok(admitted) => admitted,
            Err(reason) => {
                reject(&shared, stream, peer, reason, entry.speaks_plain_http());
                continue;
            }
        };
        let task = handle_connection(
            Arc::clone(&shared),
            stream,
            peer,
            entry.clone(),
            permits,
            handshake,
        );
        shared.tracker.spawn(task);
    }
}

/// Takes the slots a new connection from `peer` needs (one of all
/// connections, one of its address's, a pending-handshake permit), or says
/// which limit refuses it. Every transport's accept loop goes through here.
fn admit<G: Game>(
    shared: &Arc<Shared<G>>,
    peer: SocketAddr,
) -> Result<(ConnectionPermits, OwnedSemaphorePermit), &'static str> {
    let connection = Arc::clone(&shared.connections)
        .try_acquire_owned()
        .map_err(|_| "server_full")?;
    let ip = IpSlot::acquire(shared, peer.ip()).ok_or("ip_limit")?;
    let handshake = Arc::clone(&shared.handshakes)
        .try_acquire_owned()
        .map_err(|_| "handshake_limit")?;
    Ok((
        ConnectionPermits {
            _connection: connection,
            _ip: Box::new(ip),
        },
        handshake,
    ))
}

/// Accepts QUIC connections until the server's cancellation, under the
/// same limits as the TCP listeners; each becomes a session over a
/// [`QuicLink`] once its TLS handshake and control stream are up (both
/// inside the handshake deadline).
pub(crate) async fn quic_accept_loop<G: Game>(shared: Arc<Shared<G>>, endpoint: quinn::Endpoint) {
    loop {
        let incoming = tokio::select! {
            () = shared.cancel.cancelled() => break,
            incoming = endpoint.accept() => match incoming {
                Some(incoming) => incoming,
                None => break,
            },
        };
        let peer = incoming.remote_address();
        let (permits, handshake) = match admit(&shared, peer) {
            Ok(admitted) => admitted,
            Err(reason) => {
                shared.metrics.connection_rejected(reason);
                debug!(%peer, reason, "QUIC connection refused");
                incoming.refuse();
                continue;
            }
        };
        let shared_for_task = Arc::clone(&shared);
        shared.tracker.spawn(async move {
            let shared = shared_for_task;
            let deadline = tokio::time::Instant::now() + shared.config.timeouts.handshake();
            let max_frame = shared.config.limits.max_client_frame;
            let connecting = async {
                let connection = incoming
                    .await
                    .map_err(|e| ("tls_handshake_failed", e.to_string()))?;
                QuicLink::accept(connection, max_frame)
                    .await
                    .map_err(|e| ("handshake_failed", e.to_string()))
            };
            let link = tokio::select! {
                r = tokio::time::timeout_at(deadline, connecting) => r,
                () = shared.cancel.cancelled() => return,
            };
            match link {
                Err(_) => {
                    shared.metrics.connection_rejected("handshake_timeout");
                    debug!(%peer, "QUIC handshake timed out");
                }
                Ok(Err((reason, error))) => {
                    shared.metrics.connection_rejected(reason);
                    debug!(%peer, %error, "QUIC handshake failed");
                }
                Ok(Ok(link)) => {
                    session_task::run(
                        Arc::clone(&shared),
                        link,
                        peer,
                        deadline.into_std(),
                        handshake,
                        permits,
                    )
                    .await
                }
            }
        });
    }
}

/// Refuses a connection over a limit with an HTTP 503 (on the plain port;
/// a TLS client could not read it, so the TLS port just closes). The
/// answer is written at once (a fresh socket's buffer takes it); lingering
/// so that it is not reset away runs in a task of its own, bounded by a
/// semaphore so a flood of refusals cannot pile up tasks: past that bound
/// the socket is simply dropped.
fn reject<G: Game>(
    shared: &Arc<Shared<G>>,
    stream: TcpStream,
    peer: SocketAddr,
    reason: &'static str,
    http: bool,
) {
    shared.metrics.connection_rejected(reason);
    debug!(%peer, reason, "connection refused");
    if http {
        let _ = stream.try_write(ws::refusal(reason).as_bytes());
    }
    if let Ok(permit) = Arc::clone(&shared.refusals).try_acquire_owned() {
        let mut stream = stream;
        shared.tracker.spawn(async move {
            ws::linger(&mut stream).await;
            drop(permit);
        });
    }
}

/// Prepares one accepted connection as its listener says (plain routing
/// or TLS), within the handshake deadline, and runs what it asked for.
async fn handle_connection<G: Game>(
    shared: Arc<Shared<G>>,
    stream: TcpStream,
    peer: SocketAddr,
    entry: Entry,
    permits: ConnectionPermits,
    handshake: OwnedSemaphorePermit,
) {
    let timeouts = &shared.config.timeouts;
    let deadline = tokio::time::Instant::now() + timeouts.handshake();
    let _ = stream.set_nodelay(true);
    let send_buffer = shared.config.limits.send_buffer_bytes;
    if send_buffer > 0 {
        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(send_buffer);
    }
    match entry {
        Entry::Plain(router) => {
            serve_plain(shared, stream, peer, router, deadline, handshake, permits).await;
        }
        Entry::Tls(acceptor) => {
            let accepted = tokio::select! {
                r = tokio::time::timeout_at(deadline, acceptor.accept(MovableTcp::new(stream))) => r,
                () = shared.cancel.cancelled() => return,
            };
            match accepted {
                Err(_) => {
                    shared.metrics.connection_rejected("handshake_timeout");
                    debug!(%peer, "TLS handshake timed out");
                }
                Ok(Err(e)) => {
                    // The rustls error: plain TCP or HTTP to the TLS port,
                    // no common ALPN protocol, a client that refused our
                    // certificate (its alert), ...
                    shared.metrics.connection_rejected("tls_handshake_failed");
                    debug!(%peer, error = %e, "TLS handshake failed");
                }
                Ok(Ok(tls)) => {
                    serve_websocket(shared, tls, peer, deadline, handshake, permits).await;
                }
            }
        }
    }
}

/// Routes a plain connection to HTTP or to a WebSocket session.
async fn serve_plain<G: Game>(
    shared: Arc<Shared<G>>,
    stream: TcpStream,
    peer: SocketAddr,
    router: axum::Router,
    deadline: tokio::time::Instant,
    handshake: OwnedSemaphorePermit,
    permits: ConnectionPermits,
) {
    let route = tokio::select! {
        route = tokio::time::timeout_at(deadline, ws::peek_route(&stream)) => route,
        () = shared.cancel.cancelled() => return,
    };
    match route {
        Err(_) => {
            shared.metrics.connection_rejected("handshake_timeout");
            debug!(%peer, "request head never arrived");
        }
        Ok(None) => {}
        Ok(Some(Route::Http)) => {
            drop(handshake);
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let header_timeout = remaining.max(Duration::from_millis(100));
            if let Err(e) =
                http::serve_connection(stream, router, header_timeout, shared.cancel.clone()).await
            {
                debug!(%peer, error = %e, "http connection ended with an error");
            }
            drop(permits);
        }
        Ok(Some(Route::WebSocket)) => {
            let stream = MovableTcp::new(stream);
            serve_websocket(shared, stream, peer, deadline, handshake, permits).await;
        }
    }
}

/// Upgrades a (plain or TLS) stream to a WebSocket within the handshake
/// deadline and runs its session.
async fn serve_websocket<G: Game, S>(
    shared: Arc<Shared<G>>,
    stream: S,
    peer: SocketAddr,
    deadline: tokio::time::Instant,
    handshake: OwnedSemaphorePermit,
    permits: ConnectionPermits,
) where
    S: AsyncRead + AsyncWrite + Movable + Unpin + Send + 'static,
{
    let config = ws::config(shared.config.limits.max_client_frame);
    let upgraded = tokio::select! {
        r = tokio::time::timeout_at(deadline, ws::accept(stream, config)) => r,
        () = shared.cancel.cancelled() => return,
    };
    match upgraded {
        Err(_) => {
            shared.metrics.connection_rejected("handshake_timeout");
            debug!(%peer, "websocket handshake timed out");
        }
        Ok(Err(e)) => {
            shared.metrics.connection_rejected("handshake_failed");
            debug!(%peer, error = %e, "websocket handshake failed");
        }
        Ok(Ok(ws)) => {
            let link = WsLink::new(ws);
            session_task::run(shared, link, peer, deadline.into_std(), handshake, permits).await;
        }
    }
}

/// Builds the HTTP router for a server.
pub(crate) fn router<G: Game>(shared: &Arc<Shared<G>>) -> axum::Router {
    http::router(HttpState {
        metrics: Arc::clone(&shared.metrics),
        rooms: Arc::clone(shared) as Arc<dyn RoomDirectory>,
        started: Instant::now(),
        server_name: shared.config.server_name.clone(),
        draining: shared.cancel.clone(),
    })
}
