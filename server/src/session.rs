//! One client's session (pure): the per-connection state machine, in
//! quinn's sans-IO shape. It owns no socket, task or channel and reads no
//! clock; time comes in as [`Now`].
//!
//! The IO shell around it (the session task, or the test harness) calls:
//! - `handle_*` for what happened: a frame from the client
//!   ([`Session::handle_frame`]), a keep-alive the transport answered, the
//!   peer gone, a transport violation, the answer to a request it asked
//!   for ([`Session::handle_answer`]), a deadline passed
//!   ([`Session::handle_timeout`]), or the server closing it
//!   ([`Session::close`]);
//! - then drains, after every call: [`Session::poll_command`] (requests
//!   for the lobby or the room, carried out by the shell),
//!   [`Session::poll_transmit`] (frames and outbox changes, in order, for
//!   the connection's [`crate::outbox::Outbox`]), and
//!   [`Session::poll_close`] (once: the session is over, and how to close
//!   the connection);
//! - and wakes it at [`Session::poll_timeout`].
//!
//! # Lifecycle
//! ```text
//! Handshaking --Hello--> Lobby --Join/QuickJoin/Create--> Requesting --Joined--> Joined
//!      |                   ^                                  |                   |
//!      | Hello + ticket    +----------- refused / created ----+      LeaveRoom    |
//!      v                   |                                                      |
//! Authenticating --ok------+------------------ Left <-------- Leaving <-----------+
//! any state --violation, flood, idle, Close, shutdown, auth failed--> Closed
//! ```
//! With authentication on ([`AuthPolicy`]), a `Hello` with a ticket asks
//! the shell to verify it ([`Command::Authenticate`]) and waits, under the
//! handshake deadline, for [`Session::handle_auth`]: an identity (then the
//! `Welcome`) or an [`AuthError`] (then `Rejected { AuthFailed }` with the
//! error's words).
//! While `Requesting` or `Leaving` the session waits for the shell's
//! answer and takes no frames ([`Session::wants_frames`]); the client's
//! next messages wait in the transport, in order.

mod flood;
mod hello;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tickwire_shared::codec;
use tickwire_shared::game::{GameOptions, Identity, LeaveCause, MAX_EVENT_NAME};
use tickwire_shared::ids::{PlayerId, RoomId};
use tickwire_shared::protocol::{
    ClaimSeat, ClientMessage, Close, CloseReason, EventReply, Inputs, Joined, LeaveReason, Left,
    PROTOCOL_VERSION, Ping, Pong, Redirect, Rejected, ResumeToken, Role, RoomCreated, RoomEvent,
    RoomFilter, RoomInfo, RoomList, RoomTarget, ServerMessage, Welcome,
};
use tickwire_shared::tick::Tick;
use tracing::{debug, info, warn};

pub use flood::FloodGuard;
pub use hello::{HelloError, MAX_CLIENT_NAME, check_hello};

use crate::auth::{AuthError, MAX_TICKET};
use crate::config::ServerConfig;
use crate::lobby::{LobbyError, NewRoom, RateScope};
use crate::metrics::Metrics;
use crate::outbox::Removal;
use crate::reason::{EventRefusal, InputDrop, Label, Refusal, Rejection, WrongState};
use crate::room::clock::{RoomTiming, TickClock};

/// The time a call happens at: the monotonic clock for deadlines and the
/// wall clock (microseconds since the Unix epoch) for what goes on the
/// wire. Both come from the caller; the session reads no clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time.
    pub at: Instant,
    /// Wall-clock time, microseconds since the Unix epoch.
    pub unix_us: u64,
}

/// The settings a session runs by (from [`ServerConfig`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Largest client frame, bytes.
    pub max_client_frame: usize,
    /// Sustained messages per second.
    pub messages_per_second: u32,
    /// Burst above the sustained rate.
    pub message_burst: u32,
    /// From connection to `Hello`.
    pub handshake: Duration,
    /// Silence before the client is dropped.
    pub idle: Duration,
    /// Heartbeat: idle checks, and pings in the lobby.
    pub heartbeat: Duration,
    /// Largest event data, bytes.
    pub max_event_bytes: usize,
    /// Sustained events per second.
    pub events_per_second: u32,
    /// Burst of events above the sustained rate.
    pub event_burst: u32,
    /// How long a dropped session's seat waits for its player (zero: the
    /// seat is freed at once).
    pub reconnect_grace: Duration,
    /// Rooms the client may create a minute.
    pub rooms_per_minute: u32,
    /// Whether clients are authenticated.
    pub auth: AuthPolicy,
}

/// Whether and how a session authenticates its client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthPolicy {
    /// An open server: tickets are ignored, nobody has an identity.
    #[default]
    Open,
    /// A ticket is verified when the `Hello` carries one; a client
    /// without one plays anonymously.
    Optional,
    /// Every `Hello` must carry a ticket that verifies.
    Required,
}

impl SessionConfig {
    /// The session's part of the server's settings.
    pub fn from_server(config: &ServerConfig) -> Self {
        Self {
            max_client_frame: config.limits.max_client_frame,
            messages_per_second: config.limits.messages_per_second,
            message_burst: config.limits.message_burst,
            handshake: config.timeouts.handshake(),
            idle: config.timeouts.idle(),
            heartbeat: config.timeouts.heartbeat(),
            max_event_bytes: config.limits.max_event_bytes,
            events_per_second: config.limits.events_per_second,
            event_burst: config.limits.event_burst,
            reconnect_grace: config.timeouts.reconnect_grace(),
            rooms_per_minute: config.limits.rooms_per_minute_per_client,
            auth: match (config.auth.enabled, config.auth.required) {
                (false, _) => AuthPolicy::Open,
                (true, false) => AuthPolicy::Optional,
                (true, true) => AuthPolicy::Required,
            },
        }
    }
}

/// Where a session is. States carry their data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for `Hello` until `deadline`.
    Handshaking {
        /// When the handshake times out.
        deadline: Instant,
    },
    /// The `Hello` carried a ticket; waiting for the shell's verdict
    /// ([`Session::handle_auth`]) until `deadline` (the handshake's).
    Authenticating {
        /// When the handshake times out.
        deadline: Instant,
    },
    /// Greeted with a resume token: the shell looks for the seat it
    /// resumes ([`Command::Resume`]).
    Resuming,
    /// Greeted, in no room: lobby requests only.
    Lobby,
    /// A join, quick-join or create asked of the lobby, its answer not in
    /// yet.
    Requesting {
        /// The request's id.
        request_id: u32,
    },
    /// In a room.
    Joined {
        /// Which.
        room: RoomId,
        /// As what.
        role: Role,
        /// Its tick schedule, which the heartbeat follows.
        clock: TickClock,
    },
    /// Leaving a room at the client's request; waiting for the seat to
    /// be free before saying `Left`.
    Leaving {
        /// The room left.
        room: RoomId,
        /// The `LeaveRoom` request's id.
        request_id: u32,
    },
    /// Over.
    Closed {
        /// Why.
        reason: CloseReason,
        /// Since when.
        at: Instant,
    },
}

/// What a session asks of the lobby or its room; the shell carries it out
/// and answers lobby requests with [`Session::handle_answer`].
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Verify the client's ticket by `deadline`; answer
    /// [`Session::handle_auth`] (with [`AuthError::TimedOut`] past the
    /// deadline).
    Authenticate {
        /// The `Hello`'s `auth_ticket`.
        ticket: String,
        /// The handshake deadline.
        deadline: Instant,
    },
    /// List the public rooms passing `filter`; answer
    /// [`Answer::RoomList`].
    ListRooms {
        /// The request's id.
        request_id: u32,
        /// Which rooms.
        filter: RoomFilter,
    },
    /// Create a room, and join it when `join_as` says so; answer
    /// [`Answer::RoomCreated`], [`Answer::Joined`] or [`Answer::Refused`].
    CreateRoom {
        /// The request's id.
        request_id: u32,
        /// The room.
        room: NewRoom,
        /// Join it as this.
        join_as: Option<Role>,
        /// Options for the game's join hook.
        join_options: GameOptions,
    },
    /// Join a room by id or code; answer [`Answer::Joined`] or
    /// [`Answer::Refused`].
    JoinRoom {
        /// The request's id.
        request_id: u32,
        /// Which room.
        target: RoomTarget,
        /// As what.
        role: Role,
        /// Options for the game's join hook.
        join_options: GameOptions,
    },
    /// Join the fullest fitting public room, or a new one; answer
    /// [`Answer::Joined`] or [`Answer::Refused`].
    QuickJoin {
        /// The request's id.
        request_id: u32,
        /// The game and metadata the room must have.
        filter: RoomFilter,
        /// The game options the room must have.
        options: GameOptions,
        /// Options for the game's join hook.
        join_options: GameOptions,
    },
    /// Claim the seat another node of the cluster reserved (a
    /// [`Redirect`]'s reservation): answered like the request the
    /// reservation was made for ([`Answer::Joined`],
    /// [`Answer::RoomCreated`] or [`Answer::Refused`]).
    ClaimSeat {
        /// The original request's id.
        request_id: u32,
        /// The reservation, as the client presented it (unverified).
        reservation: String,
    },
    /// Leave the room. With `confirm`, answer [`Answer::Left`] once the
    /// seat is free; without, nothing waits for it (the session is over).
    LeaveRoom {
        /// The room.
        room: RoomId,
        /// Whether the session waits for the seat to be free.
        confirm: bool,
        /// Why, for the game's leave hook.
        cause: LeaveCause,
    },
    /// Something for the room, queued without waiting.
    ToRoom(RoomInput),
    /// Resume the seat parked under `token`, the client holding the world
    /// of tick `from`; answer [`Answer::Resumed`] or
    /// [`Answer::NotResumed`].
    Resume {
        /// The token the client presented.
        token: ResumeToken,
        /// The newest world it holds.
        from: Option<Tick>,
    },
    /// The connection dropped while the session held a seat: keep it for
    /// the grace period under the session's `token` (nothing answers).
    Suspend {
        /// The room.
        room: RoomId,
        /// The session's resume token.
        token: ResumeToken,
    },
}

/// What a member sends its room.
#[derive(Clone, Debug, PartialEq)]
pub enum RoomInput {
    /// Game inputs.
    Inputs(Inputs),
    /// The newest tick received.
    Ack(Tick),
    /// A custom event, within the bounds.
    Event(RoomEvent),
    /// The answer to an event the game emitted.
    EventReply(EventReply),
}

/// The shell's answer to a lobby request.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// The public rooms.
    RoomList {
        /// The request's id.
        request_id: u32,
        /// The rooms.
        rooms: Vec<RoomInfo>,
    },
    /// A room was created and not joined.
    RoomCreated {
        /// The request's id.
        request_id: u32,
        /// The room.
        room: RoomInfo,
    },
    /// The client is in the room now.
    Joined {
        /// The request's id.
        request_id: u32,
        /// The room (code included).
        room: RoomInfo,
        /// As what.
        role: Role,
        /// The room's schedule.
        timing: RoomTiming,
    },
    /// The request was refused.
    Refused {
        /// The request's id.
        request_id: u32,
        /// Why.
        refusal: Refusal,
    },
    /// The room is on another node of the cluster (or a new one goes
    /// there): the client is sent there with a seat reservation.
    Redirect(Redirect),
    /// The room freed the seat of a `LeaveRoom`.
    Left,
    /// A parked seat was resumed: the session is that player again, in
    /// that room.
    Resumed {
        /// The player the seat belongs to.
        player: PlayerId,
        /// The room (code included).
        room: RoomInfo,
        /// As what.
        role: Role,
        /// The room's schedule.
        timing: RoomTiming,
    },
    /// Nothing to resume (unknown, used or expired token): a fresh
    /// session.
    NotResumed,
}

/// What the session hands its outbox, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Transmit {
    /// A reliable frame.
    Frame(Bytes),
    /// The answer to the client's ping: the outbox carries it with the
    /// next update where the room writes to the connection itself, else
    /// sends it now.
    Pong(HeldPong),
    /// The client has been told it joined: the room may hand it updates
    /// from here on.
    OpenUpdates,
    /// No update may follow what comes next (leaving, closing): drop a
    /// pending one, stop direct writes, answer a held ping now.
    StopUpdates,
}

/// A client's ping, waiting to be answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldPong {
    /// The ping.
    pub ping: Ping,
    /// When it arrived.
    pub received: Instant,
}

impl HeldPong {
    /// The answer, if it leaves at `now`.
    pub fn answer(&self, now: Now) -> Pong {
        Pong::answering(
            self.ping,
            now.unix_us,
            now.at.saturating_duration_since(self.received),
        )
    }
}

/// How the session ended and how to close the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closing {
    /// Why.
    pub reason: CloseReason,
    /// The detail, for the client and the log.
    pub message: Cow<'static, str>,
    /// Whether the client can still be told (false when the peer is gone
    /// or stuck): then the shell closes the transport with the reason
    /// after the last frames (the `Close` or `Rejected` already queued).
    pub tell: bool,
}

/// One client's session. See the module doc for how to drive it.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    metrics: Arc<Metrics>,
    peer: SocketAddr,
    player: PlayerId,
    resume_token: ResumeToken,
    state: State,
    welcomed: bool,
    /// The display name from the `Hello`.
    name: String,
    /// The client said goodbye (a `Close`, or the transport's own close):
    /// its seat is not kept for a resume.
    said_goodbye: bool,
    /// The resume token (and the newest tick it holds) the `Hello`
    /// presented, until the handshake is done.
    pending_resume: Option<(ResumeToken, Option<Tick>)>,
    /// Who the client is, once the authenticator verified it.
    identity: Option<Arc<Identity>>,
    flood: FloodGuard,
    events: FloodGuard,
    /// Rooms created a minute.
    creations: FloodGuard,
    last_heard: Instant,
    /// The next heartbeat, and the time between beats.
    next_beat: Option<Instant>,
    beat_every: Duration,
    transmits: VecDeque<Transmit>,
    commands: VecDeque<Command>,
    closing: Option<Closing>,
    rtt_us: Option<u64>,
    buf: Vec<u8>,
}

impl Session {
    /// A session for a connection accepted from `peer`, created at `now`,
    /// whose `Hello` must arrive by `handshake_deadline`. The player id
    /// and the resume token (drawn by the shell, from the OS RNG) are its
    /// if the handshake succeeds.
    pub fn new(
        now: Instant,
        handshake_deadline: Instant,
        config: SessionConfig,
        metrics: Arc<Metrics>,
        peer: SocketAddr,
        player: PlayerId,
        resume_token: ResumeToken,
    ) -> Self {
        Self {
            flood: FloodGuard::new(config.messages_per_second, config.message_burst, now),
            events: FloodGuard::new(config.events_per_second, config.event_burst, now),
            creations: FloodGuard::per_minute(config.rooms_per_minute, now),
            name: String::new(),
            said_goodbye: false,
            pending_resume: None,
            identity: None,
            state: State::Handshaking {
                deadline: handshake_deadline,
            },
            beat_every: config.heartbeat,
            config,
            metrics,
            peer,
            player,
            resume_token,
            welcomed: false,
            last_heard: now,
            next_beat: None,
            transmits: VecDeque::new(),
            commands: VecDeque::new(),
            closing: None,
            rtt_us: None,
            buf: Vec::with_capacity(256),
        }
    }

    /// The address the client connects from.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The player this session is (once greeted).
    pub fn player(&self) -> PlayerId {
        self.player
    }

    /// The session's own resume token (sent in its `Welcome`).
    pub fn resume_token(&self) -> ResumeToken {
        self.resume_token
    }

    /// The display name the client gave (once greeted).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Who the client is, when the server authenticates clients.
    pub fn identity(&self) -> Option<&Arc<Identity>> {
        self.identity.as_ref()
    }

    /// Where the session is.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The room the session is in, if any.
    pub fn room(&self) -> Option<RoomId> {
        match self.state {
            State::Joined { room, .. } | State::Leaving { room, .. } => Some(room),
            _ => None,
        }
    }

    /// Whether the session takes the client's next frame now: not while
    /// it waits for an answer, nor once closed.
    pub fn wants_frames(&self) -> bool {
        !matches!(
            self.state,
            State::Authenticating { .. }
                | State::Requesting { .. }
                | State::Leaving { .. }
                | State::Resuming
                | State::Closed { .. }
        )
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed { .. })
    }

    /// The last round-trip time measured.
    pub fn rtt_us(&self) -> Option<u64> {
        self.rtt_us
    }

    /// The next request for the lobby or the room.
    #[must_use]
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// The next frame or outbox change, in order.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Once, when the session is over: how to close the connection. Drain
    /// [`Session::poll_command`] and [`Session::poll_transmit`] first.
    #[must_use]
    pub fn poll_close(&mut self) -> Option<Closing> {
        self.closing.take()
    }

    /// When [`Session::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Handshaking { deadline } | State::Authenticating { deadline } => Some(deadline),
            State::Closed { .. } => None,
            _ => self.next_beat,
        }
    }

    /// A frame from the client.
    pub fn handle_frame(&mut self, now: Now, frame: &[u8]) {
        if self.is_closed() {
            return;
        }
        self.last_heard = now.at;
        self.metrics.bytes_in.inc_by(frame.len() as u64);
        self.metrics.messages_in.inc();
        let handshaking = matches!(self.state, State::Handshaking { .. });
        if !handshaking && !self.flood.allow(now.at) {
            return self.end(now, CloseReason::Flooding, "too many messages", true);
        }
        let message = match codec::decode_client(frame, self.config.max_client_frame) {
            Ok(message) => message,
            Err(e) => return self.end(now, CloseReason::MalformedFrame, e.to_string(), true),
        };
        if handshaking {
            self.on_hello(now, message);
        } else {
            self.on_message(now, message);
        }
    }

    /// A keep-alive or control frame the transport answered itself: it
    /// counts against the flood limit (after the handshake) and as a sign
    /// of life.
    pub fn handle_keepalive(&mut self, now: Now) {
        if self.is_closed() {
            return;
        }
        self.last_heard = now.at;
        let handshaking = matches!(self.state, State::Handshaking { .. });
        if !handshaking && !self.flood.allow(now.at) {
            self.end(now, CloseReason::Flooding, "too many messages", true);
        }
    }

    /// The peer closed the connection (cleanly or not): nothing more can
    /// be told.
    pub fn handle_peer_closed(&mut self, now: Now) {
        let message = if self.welcomed {
            "client disconnected"
        } else {
            "closed during handshake"
        };
        self.end(now, CloseReason::Normal, message, false);
    }

    /// The peer closed the transport on purpose (a WebSocket close frame):
    /// like a `Close` message, its seat is freed at once.
    pub fn handle_goodbye(&mut self, now: Now) {
        self.said_goodbye = true;
        self.end(
            now,
            CloseReason::Normal,
            "client closed the connection",
            false,
        );
    }

    /// The peer broke the transport's rules.
    pub fn handle_violation(&mut self, now: Now, reason: CloseReason, message: String) {
        self.end(now, reason, message, true);
    }

    /// The server closes the session (shutting down, say).
    pub fn close(&mut self, now: Now, reason: CloseReason, message: &'static str) {
        self.end(now, reason, message, true);
    }

    /// The connection can no longer be written to: a write failed or took
    /// too long (then `reason` is [`CloseReason::SlowConsumer`]).
    pub fn handle_write_failed(&mut self, now: Now, reason: CloseReason, message: String) {
        self.end(now, reason, message, false);
    }

    /// Deadlines: the handshake's, and the heartbeat (idle check, and a
    /// ping in the lobby).
    pub fn handle_timeout(&mut self, now: Now) {
        match self.state {
            State::Closed { .. } => {}
            State::Handshaking { deadline } | State::Authenticating { deadline } => {
                if now.at >= deadline {
                    self.metrics
                        .connection_rejected(Rejection::HandshakeTimeout);
                    self.end(now, CloseReason::HandshakeTimeout, "no Hello in time", true);
                }
            }
            _ => {
                let Some(beat) = self.next_beat else { return };
                if now.at < beat {
                    return;
                }
                // Missed beats are skipped: the next one stays on the
                // schedule (the room's tick instants, in a room).
                let behind = now.at.saturating_duration_since(beat).as_nanos();
                let every = self.beat_every.as_nanos().max(1);
                let skip = u32::try_from(behind / every + 1).unwrap_or(u32::MAX);
                self.next_beat = Some(beat + self.beat_every * skip);
                if now.at.saturating_duration_since(self.last_heard) >= self.config.idle {
                    return self.end(
                        now,
                        CloseReason::IdleTimeout,
                        "nothing received in time",
                        true,
                    );
                }
                if !matches!(self.state, State::Joined { .. }) {
                    // In a room the room pings, with the updates.
                    self.send(&ServerMessage::Ping(Ping {
                        sent_at_us: now.unix_us,
                    }));
                }
            }
        }
    }

    /// The shell's verdict on the client's ticket
    /// ([`Command::Authenticate`]): the identity it vouches for (then the
    /// `Welcome`; the token's `name`, if any, replaces the `Hello`'s), or
    /// why not (then `Rejected { AuthFailed }` with the reason). Ignored
    /// unless the session is authenticating.
    pub fn handle_auth(&mut self, now: Now, outcome: Result<Identity, AuthError>) {
        if !matches!(self.state, State::Authenticating { .. }) {
            return;
        }
        match outcome {
            Ok(identity) => {
                if let Some(name) = identity.name.as_deref().map(str::trim)
                    && !name.is_empty()
                    && name.len() <= MAX_CLIENT_NAME
                    && !name.chars().any(char::is_control)
                {
                    name.clone_into(&mut self.name);
                }
                info!(peer = %self.peer, player = %self.player, subject = %identity.subject, "authenticated");
                self.identity = Some(Arc::new(identity));
                self.greeted(now);
            }
            Err(e) => self.refuse_auth(now, &e),
        }
    }

    /// Refuses the handshake for `error`: counted by cause, logged (never
    /// the ticket), and the client told why.
    fn refuse_auth(&mut self, now: Now, error: &AuthError) {
        self.metrics.auth_failed(error);
        info!(peer = %self.peer, cause = error.label(), "authentication failed");
        self.end(now, CloseReason::AuthFailed, error.to_string(), true);
    }

    /// The room removed the member (kicked it, or closed): the client is
    /// told, and the session is back in the lobby. A removal from a room
    /// the session is no longer joined to is ignored (a leave it asked for
    /// crossed it; that leave's answer follows).
    pub fn handle_removed(&mut self, now: Now, removal: Removal) {
        let State::Joined { room, .. } = self.state else {
            return;
        };
        if room != removal.room {
            return;
        }
        info!(player = %self.player, %room, reason = ?removal.reason, message = %removal.message, "removed from room");
        self.transmits.push_back(Transmit::StopUpdates);
        self.enter_lobby(now);
        self.send(&ServerMessage::Left(Left {
            request_id: None,
            room,
            reason: removal.reason,
            message: removal.message,
        }));
    }

    /// The shell's answer to a lobby request the session asked for.
    pub fn handle_answer(&mut self, now: Now, answer: Answer) {
        if self.is_closed() {
            return;
        }
        match answer {
            Answer::RoomList { request_id, rooms } => {
                self.send(&ServerMessage::RoomList(RoomList { request_id, rooms }));
            }
            Answer::RoomCreated { request_id, room } => {
                self.state = State::Lobby;
                self.send(&ServerMessage::RoomCreated(RoomCreated {
                    request_id,
                    room,
                }));
            }
            Answer::Redirect(redirect) => {
                if matches!(self.state, State::Requesting { .. }) {
                    self.state = State::Lobby;
                }
                debug!(player = %self.player, node = %redirect.node, "redirected");
                self.send(&ServerMessage::Redirect(redirect));
            }
            Answer::Refused {
                request_id,
                refusal,
            } => {
                if matches!(self.state, State::Requesting { .. }) {
                    self.state = State::Lobby;
                }
                self.refuse(Some(request_id), &refusal);
            }
            Answer::Joined {
                request_id,
                room,
                role,
                timing,
            } => self.enter_room(now, Some(request_id), room, role, timing),
            Answer::Resumed {
                player,
                room,
                role,
                timing,
            } => {
                if self.state != State::Resuming {
                    return;
                }
                info!(peer = %self.peer, player = %player, was = %self.player, room = %room.id, "session resumed");
                self.metrics.resume("resumed");
                self.player = player;
                self.welcome(true);
                self.enter_room(now, None, room, role, timing);
            }
            Answer::NotResumed => {
                if self.state != State::Resuming {
                    return;
                }
                info!(peer = %self.peer, "resume token not honoured; welcomed afresh");
                self.metrics.resume("not_resumed");
                self.welcome(false);
                self.enter_lobby(now);
            }
            Answer::Left => {
                let State::Leaving { room, request_id } = self.state else {
                    return;
                };
                self.enter_lobby(now);
                self.send(&ServerMessage::Left(Left {
                    request_id: Some(request_id),
                    room,
                    reason: LeaveReason::Requested,
                    message: String::new(),
                }));
            }
        }
    }

    fn on_hello(&mut self, now: Now, message: ClientMessage) {
        let ClientMessage::Hello(hello) = message else {
            return self.end(
                now,
                CloseReason::ProtocolViolation,
                "the first message must be Hello",
                true,
            );
        };
        let name = match check_hello(&hello) {
            Err(e) => return self.end(now, e.reason(), e.to_string(), true),
            Ok(name) => name.to_owned(),
        };
        self.name = name;
        self.pending_resume = hello.resume_token.map(|token| (token, hello.resume_from));
        let State::Handshaking { deadline } = self.state else {
            return;
        };
        match (self.config.auth, hello.auth_ticket) {
            (AuthPolicy::Open, _) | (AuthPolicy::Optional, None) => self.greeted(now),
            (AuthPolicy::Required, None) => self.refuse_auth(now, &AuthError::Required),
            (_, Some(ticket)) if ticket.is_empty() || ticket.len() > MAX_TICKET => {
                self.refuse_auth(now, &AuthError::Malformed);
            }
            (_, Some(ticket)) => {
                self.state = State::Authenticating { deadline };
                self.commands
                    .push_back(Command::Authenticate { ticket, deadline });
            }
        }
    }

    /// The handshake succeeded (and the client authenticated, where the
    /// server asks): a fresh session is welcomed into the lobby, a resuming
    /// one first asks the shell for its seat ([`Command::Resume`]).
    fn greeted(&mut self, now: Now) {
        info!(peer = %self.peer, player = %self.player, name = %self.name, "session opened");
        self.welcomed = true;
        self.metrics.connections.inc();
        match self.pending_resume.take() {
            Some((token, from)) => {
                // The shell looks for the seat; the Welcome waits.
                self.state = State::Resuming;
                self.commands.push_back(Command::Resume { token, from });
            }
            None => {
                self.welcome(false);
                self.enter_lobby(now);
            }
        }
    }

    /// Queues the `Welcome`: this session's player id and its own resume
    /// token (a resumed session gets a new one: tokens are single-use).
    fn welcome(&mut self, resumed: bool) {
        self.send(&ServerMessage::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
            player: self.player,
            resume_token: self.resume_token,
            resumed,
            heartbeat_interval_ms: u32::try_from(self.config.heartbeat.as_millis())
                .unwrap_or(u32::MAX),
            reconnect_grace_ms: u32::try_from(self.config.reconnect_grace.as_millis())
                .unwrap_or(u32::MAX),
        }));
    }

    /// The session is in `room` now (joined, or resumed when `request_id`
    /// is `None`): the client is told, and updates may follow.
    fn enter_room(
        &mut self,
        now: Now,
        request_id: Option<u32>,
        room: RoomInfo,
        role: Role,
        timing: RoomTiming,
    ) {
        self.state = State::Joined {
            room: room.id,
            role,
            clock: timing.clock,
        };
        // The heartbeat beats on the room's tick instants, so the idle
        // check rides in a tick's wake-up.
        self.beat_every = timing.clock.whole_ticks(self.config.heartbeat);
        self.next_beat = Some(timing.clock.next_after(now.at));
        self.send(&ServerMessage::Joined(Joined {
            request_id,
            room,
            role,
            tick_rate: timing.tick_rate,
            tick_zero_unix_us: timing.tick_zero_unix_us,
            tick: timing.tick,
        }));
        // The client knows its room now: updates may follow.
        self.transmits.push_back(Transmit::OpenUpdates);
    }

    /// In the lobby the heartbeat beats from now, the first beat at once.
    fn enter_lobby(&mut self, now: Now) {
        self.state = State::Lobby;
        self.beat_every = self.config.heartbeat;
        self.next_beat = Some(now.at);
    }

    fn on_message(&mut self, now: Now, message: ClientMessage) {
        match (message, &self.state) {
            (ClientMessage::Hello(_), _) => self.refuse(None, &WrongState::AlreadyGreeted.into()),
            (ClientMessage::Ping(ping), _) => {
                self.transmits.push_back(Transmit::Pong(HeldPong {
                    ping,
                    received: now.at,
                }));
            }
            (ClientMessage::Pong(pong), _) => {
                let rtt_us = pong.rtt_us(now.unix_us);
                self.rtt_us = Some(rtt_us);
                self.metrics.observe_rtt(Duration::from_micros(rtt_us));
            }
            (ClientMessage::Close(close), _) => {
                self.said_goodbye = true;
                debug!(player = %self.player, reason = ?close.reason, message = %close.message, "client closing");
                self.end(now, CloseReason::Normal, "goodbye", true);
            }
            (ClientMessage::ListRooms(list), _) => self.commands.push_back(Command::ListRooms {
                request_id: list.request_id,
                filter: list.filter,
            }),
            (ClientMessage::CreateRoom(create), State::Lobby) if !self.creations.allow(now.at) => {
                let refusal = LobbyError::RateLimited {
                    per_minute: self.config.rooms_per_minute,
                    scope: RateScope::Client,
                };
                self.refuse(Some(create.request_id), &refusal.into());
            }
            (ClientMessage::CreateRoom(create), State::Lobby) => {
                self.state = State::Requesting {
                    request_id: create.request_id,
                };
                self.commands.push_back(Command::CreateRoom {
                    request_id: create.request_id,
                    room: NewRoom {
                        game: create.game,
                        name: create.name,
                        visibility: create.visibility,
                        max_players: create.max_players,
                        options: create.options,
                    },
                    join_as: create.join_as,
                    join_options: create.join_options,
                });
            }
            (ClientMessage::JoinRoom(join), State::Lobby) => {
                self.state = State::Requesting {
                    request_id: join.request_id,
                };
                self.commands.push_back(Command::JoinRoom {
                    request_id: join.request_id,
                    target: join.target,
                    role: join.role,
                    join_options: join.join_options,
                });
            }
            (ClientMessage::QuickJoin(quick), State::Lobby) => {
                self.state = State::Requesting {
                    request_id: quick.request_id,
                };
                self.commands.push_back(Command::QuickJoin {
                    request_id: quick.request_id,
                    filter: RoomFilter {
                        game: quick.game,
                        metadata: quick.metadata,
                    },
                    options: quick.options,
                    join_options: quick.join_options,
                });
            }
            (ClientMessage::ClaimSeat(claim), State::Lobby) => {
                self.state = State::Requesting {
                    request_id: claim.request_id,
                };
                self.commands.push_back(Command::ClaimSeat {
                    request_id: claim.request_id,
                    reservation: claim.reservation,
                });
            }
            (
                ClientMessage::CreateRoom(tickwire_shared::protocol::CreateRoom {
                    request_id, ..
                })
                | ClientMessage::ClaimSeat(ClaimSeat { request_id, .. })
                | ClientMessage::JoinRoom(tickwire_shared::protocol::JoinRoom { request_id, .. })
                | ClientMessage::QuickJoin(tickwire_shared::protocol::QuickJoin {
                    request_id, ..
                }),
                _,
            ) => self.refuse(Some(request_id), &WrongState::InRoom.into()),
            (ClientMessage::LeaveRoom(leave), &State::Joined { room, .. }) => {
                self.state = State::Leaving {
                    room,
                    request_id: leave.request_id,
                };
                // No update may follow the `Left`.
                self.transmits.push_back(Transmit::StopUpdates);
                self.commands.push_back(Command::LeaveRoom {
                    room,
                    confirm: true,
                    cause: LeaveCause::Left,
                });
            }
            (ClientMessage::LeaveRoom(leave), _) => {
                self.refuse(Some(leave.request_id), &WrongState::NotInRoom.into());
            }
            (ClientMessage::Inputs(inputs), State::Joined { .. }) => {
                self.commands
                    .push_back(Command::ToRoom(RoomInput::Inputs(inputs)));
            }
            (ClientMessage::Ack(ack), State::Joined { .. }) => {
                self.commands
                    .push_back(Command::ToRoom(RoomInput::Ack(ack.tick)));
            }
            (ClientMessage::Event(event), State::Joined { .. }) => self.on_event(now, event),
            (ClientMessage::EventReply(reply), State::Joined { .. }) => {
                self.commands
                    .push_back(Command::ToRoom(RoomInput::EventReply(reply)));
            }
            (ClientMessage::Event(event), _) => {
                self.refuse_event(event.ack_id, EventRefusal::NotJoined);
            }
            (
                ClientMessage::Inputs(_) | ClientMessage::Ack(_) | ClientMessage::EventReply(_),
                _,
            ) => {
                self.metrics.input_dropped(InputDrop::NotAPlayer);
                self.refuse(None, &WrongState::NotJoined.into());
            }
        }
    }

    /// A member's event: to its room within the bounds (name, size, rate),
    /// else refused.
    fn on_event(&mut self, now: Now, event: RoomEvent) {
        let refusal = if event.name.is_empty() || event.name.len() > MAX_EVENT_NAME {
            Some(EventRefusal::BadName {
                max: MAX_EVENT_NAME,
            })
        } else if event.data.len() > self.config.max_event_bytes {
            Some(EventRefusal::TooLarge {
                len: event.data.len(),
                max: self.config.max_event_bytes,
            })
        } else if !self.events.allow(now.at) {
            Some(EventRefusal::RateLimited {
                per_second: self.config.events_per_second,
            })
        } else {
            None
        };
        match refusal {
            Some(refusal) => self.refuse_event(event.ack_id, refusal),
            None => {
                debug!(player = %self.player, room = ?self.room(), event = %event.name, bytes = event.data.len(), wants_answer = event.ack_id.is_some(), "event received");
                self.commands
                    .push_back(Command::ToRoom(RoomInput::Event(event)));
            }
        }
    }

    /// Refuses an event: as the error of its answer when the client asked
    /// for one, else as an `Error`.
    fn refuse_event(&mut self, ack_id: Option<u32>, refusal: EventRefusal) {
        self.metrics.event_refused(&refusal);
        debug!(player = %self.player, reason = refusal.label(), message = %refusal, "event refused");
        let message = refusal.to_message(ack_id);
        self.send(&message);
    }

    /// Tells the client a request failed; the session goes on.
    fn refuse(&mut self, request_id: Option<u32>, refusal: &Refusal) {
        self.metrics.error(refusal);
        if let Refusal::Lobby(LobbyError::RateLimited { .. }) = refusal {
            // An abuse bound: worth the operator's eye.
            info!(peer = %self.peer, player = %self.player, kind = refusal.label(), message = %refusal, "room creation refused");
        } else {
            debug!(player = %self.player, kind = refusal.label(), message = %refusal, "request refused");
        }
        self.send(&ServerMessage::Error(refusal.to_message(request_id)));
    }

    /// Queues one message as a reliable frame.
    fn send(&mut self, message: &ServerMessage) {
        self.buf.clear();
        if codec::encode_server(message, &mut self.buf).is_err() {
            warn!(player = %self.player, "unencodable message dropped");
            return;
        }
        self.transmits
            .push_back(Transmit::Frame(Bytes::copy_from_slice(&self.buf)));
    }

    /// Ends the session: leaves its room, counts and logs why, and (with
    /// `tell`) queues the `Close` (or, before the handshake finished, the
    /// `Rejected`) that tells the client.
    fn end(
        &mut self,
        now: Now,
        reason: CloseReason,
        message: impl Into<Cow<'static, str>>,
        tell: bool,
    ) {
        if self.is_closed() {
            return;
        }
        let message = message.into();
        if let Some(room) = self.room() {
            self.transmits.push_back(Transmit::StopUpdates);
            let joined = matches!(self.state, State::Joined { .. });
            if joined
                && !self.said_goodbye
                && suspends(reason, tell)
                && !self.config.reconnect_grace.is_zero()
            {
                self.commands.push_back(Command::Suspend {
                    room,
                    token: self.resume_token,
                });
            } else {
                let cause = if self.said_goodbye {
                    LeaveCause::Left
                } else {
                    leave_cause(reason, tell)
                };
                self.commands.push_back(Command::LeaveRoom {
                    room,
                    confirm: false,
                    cause,
                });
            }
        }
        self.state = State::Closed { reason, at: now.at };
        self.metrics.session_closed(reason);
        let label = reason.label();
        if self.welcomed {
            if !matches!(reason, CloseReason::Normal | CloseReason::ServerShutdown) {
                self.metrics.error(&reason);
            }
            info!(
                peer = %self.peer, player = %self.player, reason = label, %message,
                rtt_ms = self.rtt_us.map(|us| us as f64 / 1e3), "session closed"
            );
            self.metrics.connections.dec();
        } else {
            self.metrics.error(&reason);
            info!(peer = %self.peer, reason = label, %message, "handshake refused");
        }
        if tell {
            let goodbye = if self.welcomed {
                ServerMessage::Close(Close {
                    reason,
                    message: message.clone().into_owned(),
                })
            } else {
                ServerMessage::Rejected(Rejected {
                    reason,
                    message: message.clone().into_owned(),
                })
            };
            self.send(&goodbye);
        }
        self.closing = Some(Closing {
            reason,
            message,
            tell,
        });
    }
}

/// Whether a session that ended so keeps its seat for the grace period:
/// the connection dropped (the peer vanished, a write failed, silence, a
/// client too slow to read) or another connection took it over; not when
/// the client said goodbye, broke the rules or the server is stopping.
fn suspends(reason: CloseReason, told: bool) -> bool {
    match reason {
        CloseReason::Normal => !told,
        CloseReason::IdleTimeout | CloseReason::SlowConsumer | CloseReason::Replaced => true,
        _ => false,
    }
}

/// Why a member left its room, for the game, from why its session ended
/// (`told`: whether the client could still be told, so whether it was
/// there to say goodbye).
fn leave_cause(reason: CloseReason, told: bool) -> LeaveCause {
    match reason {
        CloseReason::Normal if told => LeaveCause::Left,
        CloseReason::IdleTimeout | CloseReason::SlowConsumer | CloseReason::HandshakeTimeout => {
            LeaveCause::TimedOut
        }
        CloseReason::ServerShutdown => LeaveCause::RoomClosed,
        _ => LeaveCause::Disconnected,
    }
}
