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
use tickwire_shared::game::{Game, GameOptions, JoinRequest, LeaveCause};
use tickwire_shared::ids::{PlayerId, RoomId};
use tickwire_shared::protocol::{
    ClientMessage, Hello, PROTOCOL_VERSION, ResumeToken, Role, ServerMessage,
};

use crate::config::ServerConfig;
use crate::lobby::{Lobby, LobbyError, NewRoom, QuickJoinPlan};
use crate::metrics::Metrics;
use crate::outbox::{Delivery, Outbox, Outgoing};
use crate::reason::Refusal;
use crate::room::Room;
use crate::room::clock::{RoomTiming, TickClock};
use crate::room::members::{Members, RoomEffects};
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
}

#[derive(Debug)]
struct HostedRoom<G: Game> {
    room: Room<G>,
    members: Members,
    clock: TickClock,
    zero_unix_us: u64,
    pending: VecDeque<Pending>,
    empty_since: Option<Instant>,
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
        }
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
        let session = Session::new(
            self.now,
            deadline,
            SessionConfig::from_server(&self.config),
            Arc::clone(&self.metrics),
            peer,
            player,
            ResumeToken(u128::from(player.0).to_le_bytes()),
        );
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
        self.send(
            client,
            &ClientMessage::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                client_name: name.into(),
                auth_ticket: None,
                resume_token: None,
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
        if hosted.members.is_empty() {
            let since = *hosted.empty_since.get_or_insert(now.at);
            if now.at.saturating_duration_since(since) >= self.config.timeouts.empty_room()
                && self.lobby.remove_if_empty(id)
            {
                hosted.room.dispose();
                self.rooms.remove(&id);
            }
        } else {
            hosted.empty_since = None;
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
        }
        progress
    }

    fn carry_out(&mut self, id: ClientId, command: Command) {
        let now = self.now();
        let player = self.clients[id.0].session.player();
        let answer = match command {
            Command::ListRooms { request_id, filter } => Some(Answer::RoomList {
                request_id,
                rooms: self.lobby.public_rooms(&filter),
            }),
            Command::CreateRoom {
                request_id,
                room,
                join_as,
                join_options,
            } => match (self.create_room(room), join_as) {
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
                            self.create_room(request).map(|info| info.id)
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

    fn create_room(
        &mut self,
        request: NewRoom,
    ) -> Result<tickwire_shared::protocol::RoomInfo, Refusal> {
        if request.game.as_deref().is_some_and(|game| game != G::NAME) {
            return Err(LobbyError::UnknownGame(request.game.unwrap_or_default()).into());
        }
        self.lobby.check_new(&request)?;
        let id = self.lobby.next_id();
        let seed = self.config.seed.wrapping_add(u64::from(id.0));
        let game = G::new(&self.game_config, &request.options, seed)?;
        let limits = &self.config.limits;
        let room = Room::new(
            game,
            limits.max_baseline_age,
            limits.max_client_frame,
            limits.event_limits(),
        );
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
                empty_since: Some(self.now),
            },
        );
        Ok(info)
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod games;
#[cfg(test)]
mod sessions;
