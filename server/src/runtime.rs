//! The IO shell that runs everything (shell): the state one server's tasks
//! share, room creation, and the clock the pure parts are given. Each job
//! has a module of its own:
//! - [`admission`]: the connection caps;
//! - [`accept`]: the accept loops and handshakes, not generic over the game;
//! - [`shards`]: the room threads;
//! - [`room_task`]: one room's tick loop;
//! - [`session_task`]: one client's loop around its pure session;
//! - [`cluster`]: the heartbeat to the cluster's Redis directory.

pub(crate) mod accept;
pub(crate) mod admission;
pub(crate) mod cluster;
pub(crate) mod room_task;
pub(crate) mod session_task;
pub(crate) mod shards;

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tickwire_shared::game::Game;
use tickwire_shared::ids::{PlayerId, RoomId};
use tickwire_shared::protocol::{RoomFilter, RoomInfo};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::admin::{AdminState, History, Operator, OperatorError, OperatorFuture, OperatorRoom};
use crate::auth::Authenticator;
use crate::config::ServerConfig;
use crate::games::Games;
use crate::http::{self, HttpState, RoomDirectory};
use crate::lobby::{Lobby, NewRoom};
use crate::metrics::Metrics;
use crate::reason::Refusal;
use crate::resume::Resumes;
use crate::room::Room;
use crate::session::Now;
use accept::{Admitted, AnyLink, Front, SessionHost};
use admission::Admission;
use room_task::RoomCommand;
use shards::{ShardId, Shards};

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

/// State every task of one server shares.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) games: Games,
    pub(crate) lobby: Mutex<Lobby<RoomHandle>>,
    pub(crate) metrics: Arc<Metrics>,
    /// Cancelled when the drain starts (always before `cancel`):
    /// `/healthz` answers 503 from then on.
    pub(crate) draining: CancellationToken,
    /// Cancelled for the final shutdown: sessions close, rooms stop,
    /// listeners close.
    pub(crate) cancel: CancellationToken,
    pub(crate) tracker: TaskTracker,
    pub(crate) shards: Shards,
    pub(crate) admission: Arc<Admission>,
    /// Resume tokens: live sessions (with their takeover wake-up) and the
    /// seats of dropped ones.
    pub(crate) resumes: Mutex<Resumes<Arc<tokio::sync::Notify>>>,
    /// The live session of each signed-in account (its player and its
    /// takeover wake-up), when accounts sit once.
    pub(crate) accounts: Mutex<HashMap<String, (PlayerId, Arc<tokio::sync::Notify>)>>,
    /// Verifies clients' tickets; `None`: an open server.
    pub(crate) authenticator: Option<Arc<dyn Authenticator>>,
    /// The operator API's token: the configured one, or one drawn at
    /// start (logged).
    pub(crate) admin_token: String,
    /// Whether [`Shared::admin_token`] was drawn rather than configured.
    pub(crate) admin_token_drawn: bool,
    /// The server's figures over the last minutes, for operators.
    pub(crate) history: Arc<History>,
    /// This node's cluster membership; `None`: it runs alone.
    pub(crate) cluster: Option<Arc<cluster::Cluster>>,
    next_player: AtomicU32,
}

/// How long the operator API waits for a room to answer: a room answers
/// at its next tick.
const OPERATOR_WAIT: Duration = Duration::from_secs(1);

impl Shared {
    /// A room's command queue, if the room exists.
    fn room_commands(&self, room: RoomId) -> Option<mpsc::Sender<RoomCommand>> {
        self.lobby()
            .seat_of(room)
            .map(|(_, handle)| handle.commands.clone())
    }
}

impl Operator for Shared {
    fn rooms(&self) -> OperatorFuture<'_, Vec<OperatorRoom>> {
        Box::pin(async move {
            let rooms: Vec<(RoomInfo, Option<mpsc::Sender<RoomCommand>>)> = {
                let lobby = self.lobby();
                // `seat_of` gives the whole entry, invite code included.
                lobby
                    .all_rooms()
                    .into_iter()
                    .map(|listed| match lobby.seat_of(listed.id) {
                        Some((info, h)) => (info, Some(h.commands.clone())),
                        None => (listed, None),
                    })
                    .collect()
            };
            let asks = rooms.into_iter().map(|(info, commands)| async move {
                let (reply, answer) = oneshot::channel();
                let report = match commands {
                    Some(commands) if commands.try_send(RoomCommand::Inspect { reply }).is_ok() => {
                        tokio::time::timeout(OPERATOR_WAIT, answer)
                            .await
                            .ok()
                            .and_then(Result::ok)
                    }
                    _ => None,
                };
                OperatorRoom {
                    id: info.id.0,
                    name: info.name,
                    game: info.game,
                    visibility: match info.visibility {
                        tickwire_shared::protocol::Visibility::Public => "public",
                        tickwire_shared::protocol::Visibility::Private => "private",
                    },
                    code: info.code.map(|c| c.to_string()),
                    players: info.players,
                    max_players: info.max_players,
                    spectators: info.spectators,
                    locked: info.locked,
                    metadata: info.metadata,
                    tick: report.as_ref().map(|r| r.tick),
                    tick_rate_hz: report.as_ref().map(|r| r.tick_rate_hz),
                    members: report
                        .as_ref()
                        .map(|r| r.members.clone())
                        .unwrap_or_default(),
                    health: report.map(|r| r.health),
                }
            });
            let mut rooms = futures_util::future::join_all(asks).await;
            rooms.sort_by_key(|r| r.id);
            rooms
        })
    }

    fn kick(
        &self,
        room: RoomId,
        player: PlayerId,
        message: String,
    ) -> OperatorFuture<'_, Result<(), OperatorError>> {
        Box::pin(async move {
            let kicked = self
                .ask_room(room, |reply| RoomCommand::Kick {
                    player,
                    message,
                    reply,
                })
                .await?;
            if kicked {
                Ok(())
            } else {
                Err(OperatorError::NoMember {
                    room: room.0,
                    player: player.0,
                })
            }
        })
    }

    fn close(
        &self,
        room: RoomId,
        message: String,
    ) -> OperatorFuture<'_, Result<(), OperatorError>> {
        Box::pin(self.ask_room(room, |reply| RoomCommand::Close { message, reply }))
    }
}

impl Shared {
    /// Sends `room` the command `ask` builds around a reply channel and
    /// waits for the answer, each step at most [`OPERATOR_WAIT`].
    async fn ask_room<T>(
        &self,
        room: RoomId,
        ask: impl FnOnce(oneshot::Sender<T>) -> RoomCommand,
    ) -> Result<T, OperatorError> {
        let commands = self
            .room_commands(room)
            .ok_or(OperatorError::NoRoom(room.0))?;
        let (reply, answer) = oneshot::channel();
        commands
            .send_timeout(ask(reply), OPERATOR_WAIT)
            .await
            .map_err(|_| OperatorError::NoAnswer(room.0))?;
        match tokio::time::timeout(OPERATOR_WAIT, answer).await {
            Ok(Ok(answer)) => Ok(answer),
            _ => Err(OperatorError::NoAnswer(room.0)),
        }
    }
}

/// Samples the server's figures into the operator history once a second
/// until the server stops.
pub(crate) async fn sample_history(shared: Arc<Shared>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shared.cancel.cancelled() => return,
            _ = every.tick() => {}
        }
        let unix_ms = now().unix_us / 1_000;
        shared.history.sample(&shared.metrics, unix_ms);
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("server", &self.config.server_name)
            .finish_non_exhaustive()
    }
}

impl RoomDirectory for Shared {
    fn public_rooms(&self) -> Vec<RoomInfo> {
        self.lobby()
            .all_rooms()
            .into_iter()
            .filter(|r| r.visibility == tickwire_shared::protocol::Visibility::Public)
            .collect()
    }

    fn cluster_health(&self) -> Option<http::ClusterHealth> {
        self.cluster.as_ref().map(|c| c.health())
    }

    fn cluster_rooms(&self) -> Option<Vec<crate::cluster::ListedRoom>> {
        cluster::listing(self)
    }
}

/// The time now, for the pure parts (the shell's one clock).
pub(crate) fn now() -> Now {
    Now {
        at: Instant::now(),
        unix_us: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64),
    }
}

impl Shared {
    pub(crate) fn new(
        config: ServerConfig,
        games: Games,
        authenticator: Option<Arc<dyn Authenticator>>,
        cluster: Option<Arc<cluster::Cluster>>,
    ) -> std::io::Result<Self> {
        let limits = &config.limits;
        let (admin_token, admin_token_drawn) = match &config.admin_token {
            Some(token) => (token.expose().to_owned(), false),
            None => (
                format!(
                    "{:016x}{:016x}",
                    rand_os::random::<u64>(),
                    rand_os::random::<u64>()
                ),
                true,
            ),
        };
        let node_tag = cluster.as_ref().map_or(0, |c| c.tag);
        Ok(Self {
            admin_token,
            admin_token_drawn,
            history: Arc::new(History::default()),
            authenticator,
            cluster,
            shards: Shards::start(config.shards)?,
            lobby: Mutex::new(Lobby::new(limits).with_node_tag(node_tag)),
            metrics: Arc::new(Metrics::new()),
            draining: CancellationToken::new(),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            next_player: AtomicU32::new(1),
            admission: Arc::new(Admission::new(limits)),
            accounts: Mutex::new(HashMap::new()),
            resumes: Mutex::new(Resumes::new()),
            games,
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

    /// The resume tokens, locked (short critical sections, never held
    /// across an await).
    pub(crate) fn resumes(&self) -> MutexGuard<'_, Resumes<Arc<tokio::sync::Notify>>> {
        self.resumes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The signed-in accounts, locked (short critical sections).
    pub(crate) fn accounts(
        &self,
    ) -> MutexGuard<'_, HashMap<String, (PlayerId, Arc<tokio::sync::Notify>)>> {
        self.accounts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn next_player(&self) -> PlayerId {
        PlayerId(self.next_player.fetch_add(1, Ordering::Relaxed))
    }

    /// Creates a room of the game the request names (the default game
    /// when it names none) for a client at `creator`, within that
    /// address's allowance, and starts its task.
    pub(crate) fn create_room(
        self: &Arc<Self>,
        request: NewRoom,
        creator: IpAddr,
    ) -> Result<RoomInfo, Refusal> {
        let kind = Arc::clone(self.games.find(request.game.as_deref())?);
        kind.create_room(self, request, creator)
    }

    /// The public, unlocked rooms passing `filter`: this node's, then
    /// (in a cluster) the other nodes' as of the last heartbeat.
    pub(crate) fn list_rooms(&self, filter: &RoomFilter) -> Vec<RoomInfo> {
        let mut rooms = self.lobby().public_rooms(filter);
        if let Some(cluster) = &self.cluster {
            rooms.extend(cluster.remote_rooms(filter));
        }
        rooms
    }
}

/// Creates a room of game `G` (whose server-wide config is `config`) and
/// starts its task on a shard.
pub(crate) fn create_room<G: Game>(
    shared: &Arc<Shared>,
    config: &G::Config,
    request: NewRoom,
    creator: IpAddr,
) -> Result<RoomInfo, Refusal> {
    let limits = &shared.config.limits;
    let mut lobby = shared.lobby();
    lobby.check_new(&request)?;
    lobby.admit_creation(creator, Instant::now())?;
    let id = lobby.next_id();
    // Unpredictable unless the operator asked for reproducible seeds.
    let seed = shared.config.room_seed(id.0, rand_os::random::<u64>);
    let game = G::new(config, &request.options, seed)?;
    // The game's `created` hook runs here: the listing starts with the
    // metadata and lock it set.
    let room = Room::new(
        game,
        limits.max_baseline_age,
        limits.max_client_frame,
        limits.event_limits(),
    )
    .with_spectator_delay(shared.config.spectator_delay_ticks);
    let (tx, rx) = mpsc::channel(room_queue(request.max_players));
    let placement = shared.shards.place_room();
    let handle = RoomHandle {
        commands: tx,
        shard: placement.shard(),
    };
    let mut info = lobby.create(G::NAME, request, rand_os::random::<u64>, |_| handle)?;
    lobby.set_metadata(info.id, room.metadata().clone());
    lobby.set_locked(info.id, room.is_locked());
    drop(lobby);
    info.metadata = room.metadata().clone();
    info.locked = room.is_locked();
    shared.metrics.rooms.inc();
    shared.metrics.rooms_created.inc();
    info!(room = %info.id, game = G::NAME, name = %info.name, visibility = ?info.visibility, max_players = info.max_players, "room created");
    let task = room_task::run(Arc::clone(shared), info.id, room, rx);
    shared.shards.spawn(
        placement.shard(),
        shared.tracker.track_future(async move {
            task.await;
            drop(placement);
        }),
    );
    Ok(info)
}

/// How often a drain looks whether every room is empty. Seats are
/// counted in the lobby; a look is one lock and a sum over the rooms, and
/// a tenth of a second is well inside any grace period.
const DRAIN_POLL: Duration = Duration::from_millis(100);

/// The drain (the lobby already refuses new rooms and seats): waits until
/// no room has a member, `timeouts.drain_ms` passes, or `stop` completes.
pub(crate) async fn drain(shared: &Shared, stop: impl Future<Output = ()>) {
    let limit = shared.config.timeouts.drain();
    shared.metrics.draining.set(1);
    if limit.is_zero() {
        return;
    }
    let members = shared.lobby().members();
    info!(
        members,
        drain_ms = shared.config.timeouts.drain_ms,
        "draining: /healthz answers 503, new rooms and joins are refused (server_draining), running rooms play on"
    );
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline, stop);
    let began = Instant::now();
    loop {
        let members = shared.lobby().members();
        if members == 0 {
            info!(
                elapsed_ms = began.elapsed().as_millis() as u64,
                "drain done: every room is empty"
            );
            return;
        }
        tokio::select! {
            () = &mut deadline => {
                warn!(members, drain_ms = shared.config.timeouts.drain_ms, "drain_ms passed with members still in rooms: shutting down");
                return;
            }
            () = &mut stop => {
                warn!(members, "second stop during the drain: shutting down now");
                return;
            }
            () = tokio::time::sleep(DRAIN_POLL) => {}
        }
    }
}

/// Builds the HTTP router for a server: the public endpoints (which tell
/// pages how to reach its WebTransport endpoint, `webtransport`, when it
/// has one), the operator API and the pages.
pub(crate) fn router(
    shared: &Arc<Shared>,
    webtransport: Option<http::WebTransportInfo>,
) -> axum::Router {
    http::router(
        HttpState {
            metrics: Arc::clone(&shared.metrics),
            rooms: Arc::clone(shared) as Arc<dyn RoomDirectory>,
            started: Instant::now(),
            server_name: shared.config.server_name.clone(),
            draining: shared.draining.clone(),
            webtransport,
        },
        crate::admin::router(AdminState {
            operator: Arc::clone(shared) as Arc<dyn Operator>,
            history: Arc::clone(&shared.history),
            token_digest: AdminState::digest(&shared.admin_token),
            metrics: Arc::clone(&shared.metrics),
        })
        .merge(crate::pages::router()),
    )
}

/// The accept loops' view of a server.
pub(crate) fn front(shared: &Arc<Shared>) -> Arc<Front> {
    Arc::new(Front {
        config: shared.config.clone(),
        metrics: Arc::clone(&shared.metrics),
        cancel: shared.cancel.clone(),
        tracker: shared.tracker.clone(),
        admission: Arc::clone(&shared.admission),
        sessions: Arc::clone(shared) as Arc<dyn SessionHost>,
    })
}

impl SessionHost for Shared {
    fn serve(
        self: Arc<Self>,
        link: AnyLink,
        admitted: Admitted,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let Admitted {
            peer,
            deadline,
            handshake,
            permits,
        } = admitted;
        match link {
            AnyLink::Ws(link) => Box::pin(session_task::run(
                self, link, peer, deadline, handshake, permits,
            )),
            AnyLink::Wss(link) => Box::pin(session_task::run(
                self, link, peer, deadline, handshake, permits,
            )),
            AnyLink::Quic(link) => Box::pin(session_task::run(
                self, link, peer, deadline, handshake, permits,
            )),
            AnyLink::WebTransport(link) => Box::pin(session_task::run(
                self, link, peer, deadline, handshake, permits,
            )),
        }
    }
}
