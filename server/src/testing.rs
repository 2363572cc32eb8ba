//! A pure test harness (quinn's `Pair`, bevy_replicon's test app, for our
//! domain): the lobby, rooms and sessions of one server in virtual time,
//! with in-memory queues and no sockets, threads or clocks. It carries out
//! sessions' commands the way the shell does: lobby requests at once,
//! joins, leaves and inputs at the room's next tick, and it moves every
//! frame through each connection's [`Outbox`], in order.
//!
//! ```
//! # use tickwire_server::testing::Harness;
//! # use tickwire_shared::arena::Arena;
//! # use std::time::Duration;
//! let mut h = Harness::<Arena>::new(Default::default(), Default::default());
//! let alice = h.connect();
//! h.hello(alice, "alice");
//! h.advance(Duration::from_millis(10));
//! assert!(h.received(alice).iter().any(|m| matches!(m, tickwire_shared::protocol::ServerMessage::Welcome(_))));
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tickwire_shared::codec;
use tickwire_shared::game::{Game, GameOptions, Identity, JoinRequest, LeaveCause};
use tickwire_shared::ids::{PlayerId, RoomId};
use tickwire_shared::protocol::{
    ClientMessage, Hello, PROTOCOL_VERSION, ResumeToken, Role, ServerMessage,
};

use crate::auth::{AuthError, Authenticator};
use crate::config::ServerConfig;
use crate::lobby::{Lobby, LobbyError, NewRoom, QuickJoinPlan};
use crate::metrics::Metrics;
use crate::outbox::{Delivery, Outbox, Outgoing};
use crate::reason::Refusal;
use crate::resume::{Found, Parked, Resumes};
use crate::room::clock::{RoomTiming, TickClock};
use crate::room::members::{Members, RoomEffects};
use crate::room::{Disposal, Room, Vacancy};
use crate::session::{Answer, Closing, Command, Now, RoomInput, Session, SessionConfig};

/// A client of the harness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub usize);

/// The Unix time the virtual clock starts at, microseconds.
const UNIX_START_US: u64 = 1_750_000_000_000_000;

/// What waits for a room's next tick.
#[derive(Debug)]
enum Pending {
    Join {
        client: ClientId,
        request_id: u32,
        info: tickwire_shared::protocol::RoomInfo,
        role: Role,
        options: GameOptions,
    },
    Leave {
        client: ClientId,
        player: PlayerId,
        confirm: bool,
        cause: LeaveCause,
    },
    Input {
        player: PlayerId,
        input: RoomInput,
    },
    Suspend {
        player: PlayerId,
        until: Instant,
    },
    Resume {
        client: ClientId,
        player: PlayerId,
        from: Option<tickwire_shared::tick::Tick>,
    },
}

#[derive(Debug)]
struct HostedRoom<G: Game> {
    room: Room<G>,
    members: Members,
    clock: TickClock,
    zero_unix_us: u64,
    pending: VecDeque<Pending>,
    vacancy: Vacancy,
}

#[derive(Debug)]
struct Client {
    session: Session,
    outbox: Arc<Outbox>,
    /// Frames the client sent that the session has not taken yet.
    unread: VecDeque<Vec<u8>>,
    /// What the client received, decoded, with its delivery class.
    received: Vec<(ServerMessage, Delivery)>,
    /// How the session ended.
    closed: Option<Closing>,
    /// The peer hung up.
    gone: bool,
}

/// The harness: one server's pure parts in virtual time.
#[derive(Debug)]
pub struct Harness<G: Game> {
    start: Instant,
    now: Instant,
    config: ServerConfig,
    game_config: G::Config,
    metrics: Arc<Metrics>,
    lobby: Lobby<()>,
    rooms: BTreeMap<RoomId, HostedRoom<G>>,
    clients: Vec<Client>,
    next_player: u32,
    next_code: u64,
    resumes: Resumes<()>,
    next_seed: u64,
    /// The seed each room's game was given.
    seeds: BTreeMap<RoomId, u64>,
    /// Verifies tickets when set and its answer is ready at once; else
    /// tickets wait in `auth_requests` for [`Harness::answer_auth`].
    authenticator: Option<Arc<dyn Authenticator>>,
    auth_requests: Vec<(ClientId, String)>,
}

impl<G: Game> Harness<G> {
    /// A server with these settings, at virtual time zero.
    pub fn new(config: ServerConfig, game_config: G::Config) -> Self {
        let start = Instant::now();
        Self {
            start,
            now: start,
            lobby: Lobby::new(&config.limits),
            config,
            game_config,
            metrics: Arc::new(Metrics::new()),
            rooms: BTreeMap::new(),
            clients: Vec::new(),
            next_player: 1,
            next_code: 0x5eed,
            resumes: Resumes::new(),
            next_seed: 0x7ee7,
            seeds: BTreeMap::new(),
            authenticator: None,
            auth_requests: Vec::new(),
        }
    }

    /// Tickets are verified by `authenticator` (when its answer is ready
    /// at once, as the JWT one's is) rather than by the test.
    pub fn set_authenticator(&mut self, authenticator: Arc<dyn Authenticator>) {
        self.authenticator = Some(authenticator);
    }

    /// The tickets sessions asked the shell to verify since the last
    /// call, and forgets them.
    pub fn auth_requests(&mut self) -> Vec<(ClientId, String)> {
        std::mem::take(&mut self.auth_requests)
    }

    /// The shell's verdict on `client`'s ticket.
    pub fn answer_auth(&mut self, client: ClientId, outcome: Result<Identity, AuthError>) {
        let now = self.now();
        self.clients[client.0].session.handle_auth(now, outcome);
        self.pump();
    }

    /// The time now, as the pure parts see it.
    pub fn now(&self) -> Now {
        Now {
            at: self.now,
            unix_us: UNIX_START_US + self.elapsed().as_micros() as u64,
        }
    }

    /// Virtual time since the harness started.
    pub fn elapsed(&self) -> Duration {
        self.now.saturating_duration_since(self.start)
    }

    /// The seed room `room`'s game was given.
    pub fn room_seed(&self, room: RoomId) -> Option<u64> {
        self.seeds.get(&room).copied()
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// A new connection (its handshake not done yet).
    pub fn connect(&mut self) -> ClientId {
        let player = PlayerId(self.next_player);
        self.next_player += 1;
        let deadline = self.now + self.config.timeouts.handshake();
        let peer = SocketAddr::from(([127, 0, 0, 1], 40_000 + player.0 as u16));
        let token = ResumeToken(u128::from(player.0).to_le_bytes());
        let session = Session::new(
            self.now,
            deadline,
            SessionConfig::from_server(&self.config),
            Arc::clone(&self.metrics),
            peer,
            player,
            token,
        );
        self.resumes.live(token, player, ());
        self.clients.push(Client {
            session,
            outbox: Arc::new(Outbox::new(None, self.config.limits.control_queue)),
            unread: VecDeque::new(),
            received: Vec::new(),
            closed: None,
            gone: false,
        });
        ClientId(self.clients.len() - 1)
    }

    /// The client sends `message`.
    pub fn send(&mut self, client: ClientId, message: &ClientMessage) {
        let mut frame = Vec::new();
        codec::encode_client(message, &mut frame).expect("client messages encode");
        self.send_raw(client, frame);
    }

    /// The client sends raw bytes as one frame.
    pub fn send_raw(&mut self, client: ClientId, frame: Vec<u8>) {
        self.clients[client.0].unread.push_back(frame);
        self.pump();
    }

    /// The client sends a transport keep-alive (a WebSocket ping).
    pub fn keepalive(&mut self, client: ClientId) {
        let now = self.now();
        self.clients[client.0].session.handle_keepalive(now);
        self.pump();
    }

    /// The client hangs up.
    pub fn hang_up(&mut self, client: ClientId) {
        let now = self.now();
        let c = &mut self.clients[client.0];
        c.gone = true;
        c.session.handle_peer_closed(now);
        self.pump();
    }

    /// The client sends a `Hello` as `name`.
    pub fn hello(&mut self, client: ClientId, name: &str) {
        self.hello_with_ticket(client, name, None);
    }

    /// The client sends a `Hello` as `name` with an `auth_ticket`.
    pub fn hello_with_ticket(&mut self, client: ClientId, name: &str, ticket: Option<&str>) {
        self.send(
            client,
            &ClientMessage::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                client_name: name.into(),
                auth_ticket: ticket.map(str::to_owned),
                resume_token: None,
                resume_from: None,
            }),
        );
    }

    /// Everything `client` received so far, oldest first, and forgets it.
    pub fn received(&mut self, client: ClientId) -> Vec<ServerMessage> {
        self.received_with_delivery(client)
            .into_iter()
            .map(|(m, _)| m)
            .collect()
    }

    /// Like [`Harness::received`], with each frame's delivery class.
    pub fn received_with_delivery(&mut self, client: ClientId) -> Vec<(ServerMessage, Delivery)> {
        std::mem::take(&mut self.clients[client.0].received)
    }

    /// How `client`'s session ended, if it has.
    pub fn closed(&self, client: ClientId) -> Option<&Closing> {
        self.clients[client.0].closed.as_ref()
    }

    /// The session of `client`.
    pub fn session(&self, client: ClientId) -> &Session {
        &self.clients[client.0].session
    }

    /// The tick `room` last simulated.
    pub fn room_tick(&self, room: RoomId) -> Option<tickwire_shared::tick::Tick> {
        self.rooms.get(&room).map(|r| r.room.tick())
    }

    /// A room's game, to look at.
    pub fn game(&self, room: RoomId) -> Option<&G> {
        self.rooms.get(&room).map(|r| r.room.game())
    }

    /// Starts the server's drain, as the shell does on the first shutdown
    /// signal: the lobby refuses new rooms and seats from now on.
    pub fn start_draining(&mut self) {
        self.lobby.start_draining();
    }

    /// Players and spectators seated in all rooms (the drain ends at 0).
    pub fn members(&self) -> usize {
        self.lobby.members()
    }

    /// The rooms open.
    pub fn rooms(&self) -> Vec<RoomId> {
        self.rooms.keys().copied().collect()
    }

    /// Runs virtual time forward by `by`: every room tick and session
    /// deadline on the way happens at its instant, in order.
    pub fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        loop {
            let next = self
                .clients
                .iter()
                .filter_map(|c| c.session.poll_timeout())
                .chain(
                    self.rooms
                        .values()
                        .map(|r| r.clock.due(r.room.tick().0 + 1)),
                )
                .filter(|&t| t <= until)
                .min();
            let Some(next) = next else { break };
            self.now = self.now.max(next);
            self.fire();
        }
        self.now = until;
        self.pump();
    }

    /// Runs whatever is due now: room ticks, then session deadlines.
    fn fire(&mut self) {
        let now = self.now();
        let due: Vec<RoomId> = self
            .rooms
            .iter()
            .filter(|(_, r)| r.clock.due(r.room.tick().0 + 1) <= now.at)
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            self.tick(id);
        }
        for client in &mut self.clients {
            if client.session.poll_timeout().is_some_and(|t| t <= now.at) {
                client.session.handle_timeout(now);
            }
        }
        self.pump();
    }

    /// One tick of a room, as its task runs it.
    fn tick(&mut self, id: RoomId) {
        let now = self.now();
        let Some(hosted) = self.rooms.get_mut(&id) else {
            return;
        };
        let timing = RoomTiming {
            tick_rate: hosted.room.game().tick_rate(),
            tick_zero_unix_us: hosted.zero_unix_us,
            tick: hosted.room.tick(),
            clock: hosted.clock,
        };
        let mut answers = Vec::new();
        while let Some(pending) = hosted.pending.pop_front() {
            match pending {
                Pending::Join {
                    client,
                    request_id,
                    info,
                    role,
                    options,
                } => {
                    let session = &self.clients[client.0].session;
                    let (player, name) = (session.player(), session.name().to_owned());
                    let identity = session.identity().cloned();
                    let outbox = Arc::clone(&self.clients[client.0].outbox);
                    let request = JoinRequest {
                        player,
                        name: &name,
                        role,
                        options: &options,
                        identity: identity.as_deref(),
                    };
                    let joined = hosted.members.join(&mut hosted.room, &request, outbox);
                    let answer = match joined {
                        Ok(()) => Answer::Joined {
                            request_id,
                            room: info,
                            role,
                            timing,
                        },
                        Err(refusal) => {
                            self.lobby.release(id, role);
                            Answer::Refused {
                                request_id,
                                refusal,
                            }
                        }
                    };
                    answers.push((client, answer));
                }
                Pending::Leave {
                    client,
                    player,
                    confirm,
                    cause,
                } => {
                    if let Some(role) = hosted.members.leave(&mut hosted.room, player, cause) {
                        self.lobby.release(id, role);
                    }
                    if confirm {
                        answers.push((client, Answer::Left));
                    }
                }
                Pending::Input { player, input } => {
                    hosted.members.receive(&mut hosted.room, player, input);
                }
                Pending::Suspend { player, until } => {
                    hosted
                        .members
                        .suspend(&mut hosted.room, player, now.at, until);
                }
                Pending::Resume {
                    client,
                    player,
                    from,
                } => {
                    let outbox = Arc::clone(&self.clients[client.0].outbox);
                    let resumed = hosted
                        .members
                        .resume(&mut hosted.room, player, outbox, from);
                    let answer = match (resumed, self.lobby.seat_of(id)) {
                        (Some(role), Some((room, ()))) => Answer::Resumed {
                            player,
                            room,
                            role,
                            timing,
                        },
                        _ => Answer::NotResumed,
                    };
                    answers.push((client, answer));
                }
            }
        }
        for player in hosted.members.expired(now.at) {
            if let Some(role) =
                hosted
                    .members
                    .leave(&mut hosted.room, player, LeaveCause::Disconnected)
            {
                self.lobby.release(id, role);
            }
        }
        hosted.members.step(&mut hosted.room);
        let RoomEffects {
            removed,
            locked,
            metadata,
            closed,
        } = hosted.members.take_effects();
        for (_, role) in removed {
            self.lobby.release(id, role);
        }
        if let Some(locked) = locked {
            self.lobby.set_locked(id, locked);
        }
        if let Some(metadata) = metadata {
            self.lobby.set_metadata(id, metadata);
        }
        if closed {
            hosted.room.dispose();
            self.lobby.remove(id);
            self.rooms.remove(&id);
            for (client, answer) in answers {
                self.clients[client.0].session.handle_answer(now, answer);
            }
            return;
        }
        let lateness_us = u32::try_from(
            now.at
                .saturating_duration_since(hosted.clock.due(hosted.room.tick().0))
                .as_micros(),
        )
        .unwrap_or(u32::MAX);
        hosted.members.fan_out(&mut hosted.room, now, lateness_us);
        let disposal = hosted
            .vacancy
            .check(now.at, usize::from(!hosted.members.is_empty()));
        if let Some(why) = disposal
            && self.lobby.remove_if_empty(id)
        {
            if why == Disposal::NeverJoined {
                self.metrics.rooms_unjoined.inc();
            }
            hosted.room.dispose();
            self.rooms.remove(&id);
        }
        for (client, answer) in answers {
            self.clients[client.0].session.handle_answer(now, answer);
        }
    }

    /// Moves everything that can move now, until nothing does: frames
    /// into sessions, commands out of them, transmits into outboxes, and
    /// outboxes to the clients.
    fn pump(&mut self) {
        loop {
            let mut progress = false;
            for index in 0..self.clients.len() {
                progress |= self.pump_client(ClientId(index));
            }
            if !progress {
                return;
            }
        }
    }

    fn pump_client(&mut self, id: ClientId) -> bool {
        let now = self.now();
        let mut progress = false;
        let client = &mut self.clients[id.0];
        if client.closed.is_none()
            && client.session.wants_frames()
            && let Some(frame) = client.unread.pop_front()
        {
            client.session.handle_frame(now, &frame);
            progress = true;
        }
        while let Some(command) = self.clients[id.0].session.poll_command() {
            progress = true;
            self.carry_out(id, command);
        }
        let client = &mut self.clients[id.0];
        if let Some(removal) = client.outbox.take_removal() {
            progress = true;
            client.session.handle_removed(now, removal);
        }
        while let Some(transmit) = client.session.poll_transmit() {
            progress = true;
            client.outbox.queue(transmit, now);
        }
        while let Some(next) = client.outbox.take() {
            client.outbox.written();
            if let Outgoing::Frame(frame, delivery) = next {
                progress = true;
                if client.gone {
                    continue;
                }
                let message = codec::decode_server(&frame, usize::MAX)
                    .expect("the server sends only valid frames");
                client.received.push((message, delivery));
            }
        }
        if let Some(closing) = client.session.poll_close() {
            progress = true;
            client.closed = Some(closing);
            let token = client.session.resume_token();
            if !self.resumes.is_parked(token) {
                self.resumes.forget(token);
            }
        }
        progress
    }

    fn carry_out(&mut self, id: ClientId, command: Command) {
        let now = self.now();
        let player = self.clients[id.0].session.player();
        let answer = match command {
            Command::Authenticate { ticket, .. } => {
                let peer = SocketAddr::from(([127, 0, 0, 1], 40_000));
                let ready = self.authenticator.as_ref().and_then(|auth| {
                    futures_util::FutureExt::now_or_never(auth.authenticate(&ticket, peer))
                });
                match ready {
                    Some(outcome) => self.clients[id.0].session.handle_auth(now, outcome),
                    None => self.auth_requests.push((id, ticket)),
                }
                None
            }
            Command::ListRooms { request_id, filter } => Some(Answer::RoomList {
                request_id,
                rooms: self.lobby.public_rooms(&filter),
            }),
            Command::CreateRoom {
                request_id,
                room,
                join_as,
                join_options,
            } => match (self.create_room(id, room), join_as) {
                (Err(refusal), _) => Some(Answer::Refused {
                    request_id,
                    refusal,
                }),
                (Ok(info), Some(role)) => self.join(id, info.id, role, join_options, request_id),
                (Ok(info), None) => Some(Answer::RoomCreated {
                    request_id,
                    room: info,
                }),
            },
            // The harness is one node, never in a cluster: no reservation
            // is valid here (as on a server running alone).
            Command::ClaimSeat { request_id, .. } => Some(Answer::Refused {
                request_id,
                refusal: crate::cluster::reservation::ReservationError::OtherNode(
                    "(none: not in a cluster)".into(),
                )
                .into(),
            }),
            Command::JoinRoom {
                request_id,
                target,
                role,
                join_options,
            } => match self.lobby.find(target) {
                Ok(room) => self.join(id, room, role, join_options, request_id),
                Err(e) => Some(Answer::Refused {
                    request_id,
                    refusal: e.into(),
                }),
            },
            Command::QuickJoin {
                request_id,
                filter,
                options,
                join_options,
            } => {
                let room = match filter.game {
                    Some(game) if game != G::NAME => Err(LobbyError::UnknownGame(game).into()),
                    _ => match self
                        .lobby
                        .plan_quick_join(G::NAME, filter.metadata, options)
                    {
                        QuickJoinPlan::Join(room) => Ok(room),
                        QuickJoinPlan::Create(request) => {
                            self.create_room(id, request).map(|info| info.id)
                        }
                    },
                };
                match room {
                    Ok(room) => self.join(id, room, Role::Player, join_options, request_id),
                    Err(refusal) => Some(Answer::Refused {
                        request_id,
                        refusal,
                    }),
                }
            }
            Command::LeaveRoom {
                room,
                confirm,
                cause,
            } => {
                match self.rooms.get_mut(&room) {
                    Some(hosted) => hosted.pending.push_back(Pending::Leave {
                        client: id,
                        player,
                        confirm,
                        cause,
                    }),
                    None if confirm => {
                        self.clients[id.0].session.handle_answer(now, Answer::Left);
                    }
                    None => {}
                }
                None
            }
            Command::Suspend { room, token } => {
                let until = self.now + self.config.timeouts.reconnect_grace();
                let account = self.clients[id.0]
                    .session
                    .identity()
                    .map(|i| i.subject.clone());
                let parked = Parked {
                    player,
                    room,
                    until,
                    account,
                };
                self.resumes.park(token, parked, self.now);
                if let Some(hosted) = self.rooms.get_mut(&room) {
                    hosted.pending.push_back(Pending::Suspend { player, until });
                }
                None
            }
            Command::Resume { token, from } => {
                let account = self.clients[id.0]
                    .session
                    .identity()
                    .map(|i| i.subject.clone());
                let mut found = self.resumes.take(token, self.now, account.as_deref());
                if let Found::Live { player: old, .. } = found {
                    // Take the live session over: it closes with Replaced,
                    // which parks its seat.
                    if let Some(index) = self
                        .clients
                        .iter()
                        .position(|c| c.session.player() == old && !c.session.is_closed())
                    {
                        self.clients[index].session.close(
                            now,
                            tickwire_shared::protocol::CloseReason::Replaced,
                            "resumed on another connection",
                        );
                        while let Some(command) = self.clients[index].session.poll_command() {
                            self.carry_out(ClientId(index), command);
                        }
                    }
                    found = self.resumes.take(token, self.now, account.as_deref());
                }
                match found {
                    Found::Parked(parked) => match self.rooms.get_mut(&parked.room) {
                        Some(hosted) => {
                            hosted.pending.push_back(Pending::Resume {
                                client: id,
                                player: parked.player,
                                from,
                            });
                            None
                        }
                        None => Some(Answer::NotResumed),
                    },
                    _ => Some(Answer::NotResumed),
                }
            }
            Command::ToRoom(input) => {
                let room = self.clients[id.0].session.room();
                if let Some(hosted) = room.and_then(|r| self.rooms.get_mut(&r)) {
                    hosted.pending.push_back(Pending::Input { player, input });
                }
                None
            }
        };
        if let Some(answer) = answer {
            self.clients[id.0].session.handle_answer(now, answer);
        }
    }

    /// Reserves a seat; the room answers at its next tick.
    fn join(
        &mut self,
        client: ClientId,
        room: RoomId,
        role: Role,
        options: GameOptions,
        request_id: u32,
    ) -> Option<Answer> {
        match self.lobby.reserve(room, role) {
            Err(e) => Some(Answer::Refused {
                request_id,
                refusal: e.into(),
            }),
            Ok((info, ())) => {
                let hosted = self.rooms.get_mut(&room)?;
                hosted.pending.push_back(Pending::Join {
                    client,
                    request_id,
                    info,
                    role,
                    options,
                });
                None
            }
        }
    }

    /// Creates a room for `client`, as the runtime does.
    fn create_room(
        &mut self,
        client: ClientId,
        request: NewRoom,
    ) -> Result<tickwire_shared::protocol::RoomInfo, Refusal> {
        if request.game.as_deref().is_some_and(|game| game != G::NAME) {
            return Err(LobbyError::UnknownGame(request.game.unwrap_or_default()).into());
        }
        self.lobby.check_new(&request)?;
        let creator = self.clients[client.0].session.peer().ip();
        self.lobby.admit_creation(creator, self.now)?;
        let id = self.lobby.next_id();
        // Without a reproducible seed the runtime draws from the OS RNG;
        // the harness draws from its own generator, so runs stay
        // replayable.
        let mut seeds = self.next_seed;
        let seed = self.config.room_seed(id.0, || {
            seeds = splitmix(seeds);
            seeds
        });
        self.next_seed = seeds;
        self.seeds.insert(id, seed);
        let game = G::new(&self.game_config, &request.options, seed)?;
        let limits = &self.config.limits;
        let room = Room::new(
            game,
            limits.max_baseline_age,
            limits.max_client_frame,
            limits.event_limits(),
        )
        .with_spectator_delay(self.config.spectator_delay_ticks);
        let mut codes = self.next_code;
        let mut info = self.lobby.create(
            G::NAME,
            request,
            || {
                codes = codes
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                codes
            },
            |_| (),
        )?;
        self.next_code = codes;
        self.lobby.set_metadata(info.id, room.metadata().clone());
        self.lobby.set_locked(info.id, room.is_locked());
        info.metadata = room.metadata().clone();
        info.locked = room.is_locked();
        let period = room.game().tick_rate().period();
        let clock = TickClock::new(self.now, period);
        let ping_every = clock.ticks_in(self.config.timeouts.heartbeat());
        self.rooms.insert(
            info.id,
            HostedRoom {
                members: Members::new(info.id, ping_every, Arc::clone(&self.metrics)),
                room,
                clock,
                zero_unix_us: self.now().unix_us,
                pending: VecDeque::new(),
                vacancy: Vacancy::new(
                    self.now,
                    self.config.timeouts.empty_room(),
                    self.config.timeouts.unjoined_room(),
                ),
            },
        );
        Ok(info)
    }
}

/// One step of splitmix64: the harness's stand-in for the OS RNG.
fn splitmix(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod abuse;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod games;
#[cfg(test)]
mod sessions;
