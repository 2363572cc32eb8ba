//! The client's protocol session, sans-IO: one [`ClientSession`] per
//! connection, driven by whoever owns the socket.
//!
//! # Driving it
//!
//! The shell (the `tickwire-client` crate, a test harness, a port to
//! another runtime) calls, with the time as a [`Now`]:
//!
//! - [`ClientSession::handle`] (or [`ClientSession::handle_frame`]) for
//!   every message the server sends;
//! - [`ClientSession::handle_timeout`] once [`ClientSession::poll_timeout`]
//!   has passed;
//! - [`ClientSession::handle_connection_lost`] when the transport ends;
//!
//! and after each of those, and after each call that sends something
//! (requests, inputs, emits, answers, pings), drains
//! [`ClientSession::poll_transmit`] into the transport and
//! [`ClientSession::poll_event`] into the application. Both queues only
//! grow by what the calls above put in, so draining after every call keeps
//! them short.
//!
//! # What it does on its own
//!
//! - Greets ([`ClientSession::new`] queues the `Hello`).
//! - Numbers requests and matches answers to them, failing them after
//!   [`SessionConfig::request_timeout`] or when the session closes.
//! - Applies updates to the [`Replica`] and acknowledges them, at once or
//!   with the next input ([`AckMode`]).
//! - Answers server pings; in [`AckMode::WithInput`] the answer waits for
//!   the next input (at most half a tick) and says how long it waited.
//! - Numbers inputs and repeats the last few
//!   ([`SessionConfig::input_redundancy`]) for datagram transports.
//! - Gives emitted events an ack id when an answer is wanted and reports
//!   the answer, the refusal or the timeout; hands the application the
//!   server's events and sends the answers it gives to those that ask for
//!   one.
//! - Reconnects after a drop ([`ReconnectPolicy`]): a connection that
//!   ends without a goodbye, or that stays silent in a room for
//!   [`SessionConfig::silence_timeout`], turns the session
//!   [`SessionState::Reconnecting`]. The shell opens a new transport when
//!   [`ClientSession::poll_connect`] says so and reports how that went
//!   ([`ClientSession::connection_opened`],
//!   [`ClientSession::connection_failed`]); the session greets with its
//!   resume token and the newest world it holds, keeps that world, and
//!   ends with [`SessionEvent::Resumed`] or [`SessionEvent::Lost`].

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::codec::{self, DecodeError, EncodeError};
use crate::game::MAX_EVENT_NAME;
use crate::ids::PlayerId;
use crate::protocol::*;
use crate::schema::Schema;
use crate::snapshot::WorldSnapshot;
use crate::tick::Tick;

use super::reconnect::{Backoff, LostReason, ReconnectPolicy, Reconnecting, resumable};
use super::replica::{Replica, ReplicaError};
use super::request::Expect;
pub use super::request::{Answer, QuickJoinSpec, Request, RequestFailure, RequestId, RoomSpec};

/// How many inputs a datagram transport's input message carries (the
/// newest and the ones before it): with three, a lost datagram costs
/// nothing unless the next two are lost as well.
pub const DATAGRAM_INPUT_REDUNDANCY: usize = 3;

/// The most inputs one message may repeat: the server's client frame limit
/// is small (4 KiB), and more than a few only helps on paths losing most
/// packets.
pub const MAX_INPUT_REDUNDANCY: usize = 8;

/// The most bytes an event message adds to its name and data: the kind
/// byte, two length prefixes (up to 5 bytes each as varints) and the
/// optional ack id (up to 6).
const EVENT_FRAMING: usize = 17;

/// The time, as the shell reads it: a monotonic instant for deadlines and
/// waits, and the wall clock (microseconds since the Unix epoch) for what
/// travels on the wire (ping stamps, the server's tick times).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time.
    pub at: Instant,
    /// Wall-clock time, microseconds since the Unix epoch.
    pub unix_us: u64,
}

impl Now {
    /// The time `d` later on both clocks (tests step time with it).
    pub fn after(self, d: Duration) -> Self {
        Self {
            at: self.at + d,
            unix_us: self
                .unix_us
                .saturating_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        }
    }
}

/// When a client acknowledges the worlds it rebuilt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AckMode {
    /// In a message of its own, as soon as an update is applied (the
    /// default: right for clients whose inputs follow their own clock).
    #[default]
    Immediate,
    /// In the next input message: for clients that send an input as each
    /// update arrives, so that one frame a tick goes upstream. The answer
    /// to a server ping then waits for the next input too (at most half a
    /// tick), and says how long it waited.
    WithInput,
}

/// A session's settings. Every bound is here, with its default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// When updates are acknowledged. Default: [`AckMode::Immediate`].
    pub ack_mode: AckMode,
    /// How many inputs each input message carries, the newest last: 1 over
    /// a reliable transport (WebSocket), [`DATAGRAM_INPUT_REDUNDANCY`] over
    /// datagrams (QUIC). Clamped to `1..=`[`MAX_INPUT_REDUNDANCY`].
    /// Default: 1.
    pub input_redundancy: usize,
    /// How long a lobby request waits for its answer. Default: 10 s (the
    /// server answers in a round trip; a join may wait for a room to be
    /// created).
    pub request_timeout: Duration,
    /// Most requests waiting for an answer at once; more is refused with
    /// [`SessionError::TooManyRequests`]. Default: 16.
    pub max_pending_requests: usize,
    /// Most emitted events waiting for an answer at once; more is refused
    /// with [`SessionError::TooManyEmits`]. Default: 256 (the server's
    /// default event rate is 20 a second, burst 40).
    pub max_pending_emits: usize,
    /// Most server events waiting for this client's answer; one more is
    /// refused at once with [`ErrorCode::RateLimited`] so that a server
    /// cannot grow the session without bound. Default: 256.
    pub max_owed_answers: usize,
    /// The server's frame limit for clients, bytes: an event whose name
    /// and data do not fit one frame is refused here with
    /// [`SessionError::TooLarge`] instead of getting the connection closed.
    /// Default: [`codec::MAX_CLIENT_FRAME`].
    pub max_frame: usize,
    /// How the session reconnects after a drop. Default: by itself
    /// ([`ReconnectPolicy::default`]).
    pub reconnect: ReconnectPolicy,
    /// A room sends an update every tick and a ping every second: a
    /// connection silent this long in a room has dropped, whatever the
    /// transport says (a phone that changed networks keeps a dead TCP
    /// connection for minutes). `None`: trust the transport. Default: 5 s.
    pub silence_timeout: Option<Duration>,
    /// Whether a request answered with a [`Redirect`] (its room is on
    /// another node of the cluster) moves the session there by itself:
    /// the shell is asked to connect to [`ClientSession::redirect_target`]
    /// and the session claims the reserved seat; the request's answer is
    /// the other node's. Off: the request fails with
    /// [`RequestFailure::Redirected`]. Default: on.
    pub follow_redirects: bool,
    /// Whether updates are applied to the [`Replica`] (decoded, rebuilt,
    /// checksum checked). Off, an update is acknowledged by the tick in its
    /// header and reported as [`SessionEvent::Updated`] with its size and
    /// latency, while its delta is never decoded and the replica stays
    /// empty: for load-test bots that only need the server to keep sending
    /// (a sample of them verifies). An update not newer than the last one
    /// acknowledged is still [`ReplicaError::Stale`]. Default: on.
    pub apply_updates: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            ack_mode: AckMode::Immediate,
            input_redundancy: 1,
            request_timeout: Duration::from_secs(10),
            max_pending_requests: 16,
            max_pending_emits: 256,
            max_owed_answers: 256,
            max_frame: codec::MAX_CLIENT_FRAME,
            reconnect: ReconnectPolicy::default(),
            silence_timeout: Some(Duration::from_secs(5)),
            follow_redirects: true,
            apply_updates: true,
        }
    }
}

/// An event this client emitted and wants answered (the session's own
/// counter, echoed by the server's [`EventReply`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AckId(pub u32);

/// A server event waiting for this client's answer (the server's
/// counter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplyTo(pub u32);

/// How an event emitted with an ack ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmitOutcome {
    /// The room's game answered with this data.
    Answered(Vec<u8>),
    /// The server or the game refused the event.
    Refused {
        /// Why, for machines ([`ErrorCode::RateLimited`],
        /// [`ErrorCode::EventTooLarge`], [`ErrorCode::NotAPlayer`],
        /// [`ErrorCode::EventRefused`], ...).
        code: ErrorCode,
        /// Why, for people.
        message: String,
    },
    /// No answer before its deadline (a late answer is ignored).
    TimedOut,
    /// The session closed first.
    Closed,
    /// The connection dropped first (the session reconnects): the event
    /// may or may not have reached the game, and an answer is not
    /// replayed.
    Interrupted,
}

/// A server event, handed to the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncomingEvent {
    /// Its name.
    pub name: String,
    /// Its data (JSON by convention).
    pub data: Vec<u8>,
    /// When the server wants an answer: give it with
    /// [`ClientSession::answer`].
    pub reply_to: Option<ReplyTo>,
}

/// One update, as applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppliedUpdate {
    /// Its tick.
    pub tick: Tick,
    /// Whether it was a full snapshot.
    pub full: bool,
    /// Ticks between the update and its baseline (0 for a full snapshot).
    pub baseline_age: u32,
    /// Delta size in bytes.
    pub bytes: usize,
    /// Microseconds from the server's tick start to the world being
    /// rebuilt here (meaningful with synchronised clocks, e.g. one host).
    pub latency_us: u64,
}

/// How a session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    /// The server's reason (a `Close` or `Rejected` message, or a QUIC
    /// close code); `None` when the connection just ended.
    pub reason: Option<CloseReason>,
    /// The detail.
    pub message: String,
    /// Whether the server refused the handshake (`Rejected`).
    pub rejected: bool,
}

/// What happened, for the application.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionEvent {
    /// The handshake is accepted.
    Welcomed(Welcome),
    /// A request was answered, refused, timed out or cut by the close.
    Answered {
        /// The request.
        id: RequestId,
        /// Its answer.
        result: Result<Answer, RequestFailure>,
    },
    /// The client is in a room without having asked now (a resumed seat).
    Joined(Joined),
    /// The client is no longer in its room without having asked (kicked,
    /// room closed).
    Left(Left),
    /// An update was applied (and acknowledged, or will be with the next
    /// input); [`ClientSession::world`] is new. With
    /// [`SessionConfig::apply_updates`] off, the update was only
    /// acknowledged (by its header's tick) and the world is unchanged.
    Updated(AppliedUpdate),
    /// An update was not applied; the replica is unchanged and the server
    /// keeps encoding against the last acknowledged world.
    /// [`ReplicaError::Stale`] is normal over datagrams (reordering).
    UpdateFailed(ReplicaError),
    /// A server event; answer it with [`ClientSession::answer`] when it
    /// has a `reply_to`.
    Event(IncomingEvent),
    /// An event emitted with an ack ended.
    Emitted {
        /// Its ack id.
        ack: AckId,
        /// Its name.
        name: String,
        /// How it ended.
        outcome: EmitOutcome,
        /// From the emit to the outcome.
        elapsed: Duration,
    },
    /// A ping of this client's was answered: the round-trip time, less
    /// what the server held the answer.
    Rtt(Duration),
    /// A server error not answering a request: an event without an ack
    /// refused, an input rejected, ...
    Error(ErrorMessage),
    /// The session ended.
    Closed(Closed),
    /// The connection dropped and the session is reconnecting: attempt
    /// `attempt` starts after `wait`. Calls that need the server fail with
    /// [`SessionError::Reconnecting`] meanwhile; inputs and pings are
    /// dropped (the server holds the last input it read).
    Reconnecting {
        /// The attempt about to be made (1 for the first).
        attempt: u32,
        /// How long until it starts.
        wait: Duration,
        /// Why the connection ended (`None`: it just ended or fell silent).
        cause: Option<CloseReason>,
    },
    /// The session is back: the same player, with its seat (`room`, its
    /// world kept; the next update is a delta against it when the server
    /// still holds that tick) or in the lobby if it held none.
    Resumed {
        /// The room whose seat came back.
        room: Option<Joined>,
        /// From the drop to now.
        after: Duration,
        /// Attempts it took.
        attempts: u32,
    },
    /// The reconnection failed; [`LostReason::connected`] says whether the
    /// session goes on in the lobby (as a new player) or is closed.
    Lost(LostReason),
    /// A request was answered with a [`Redirect`]: the session leaves
    /// this node for `node` (the shell connects to
    /// [`ClientSession::redirect_target`]); the request stays pending.
    Redirected {
        /// The node it goes to.
        node: String,
        /// Its WebSocket URL.
        ws: String,
    },
    /// The session is on the node it was redirected to, welcomed as a new
    /// player there; the seat's claim is sent and the request's answer
    /// follows.
    Moved {
        /// The node.
        node: String,
        /// Its welcome (the new player id and resume token).
        welcome: Welcome,
        /// From the redirect to the welcome.
        after: Duration,
        /// Connection attempts it took.
        attempts: u32,
    },
}

/// A message to send.
#[derive(Clone, Debug, PartialEq)]
pub struct Transmit {
    /// The message.
    pub message: ClientMessage,
    /// How it may travel.
    pub delivery: Delivery,
}

/// How a message may travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// In order, never lost (lobby traffic, events, answers, pings).
    Reliable,
    /// May be lost or reordered (inputs, which repeat, and acks, which a
    /// newer one supersedes): a datagram when the transport has them.
    Unreliable,
}

/// A call the session cannot carry out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The session is closing or closed.
    #[error("the session is closed")]
    Closed,
    /// [`SessionConfig::max_pending_requests`] requests wait already.
    #[error("too many requests waiting for an answer ({0})")]
    TooManyRequests(usize),
    /// [`SessionConfig::max_pending_emits`] events wait for an answer
    /// already.
    #[error("too many events waiting for an answer ({0})")]
    TooManyEmits(usize),
    /// An event name must have 1..=64 bytes.
    #[error("an event name has 1..={MAX_EVENT_NAME} bytes, not {0}")]
    EventName(usize),
    /// An event (name, data and framing) does not fit the server's frame
    /// limit.
    #[error("an event of {bytes} bytes does not fit a {max}-byte frame")]
    TooLarge {
        /// Name and data, bytes, with the framing.
        bytes: usize,
        /// [`SessionConfig::max_frame`].
        max: usize,
    },
    /// The server is not waiting for this answer (it did not ask, or it
    /// was answered already).
    #[error("no server event waits for answer {0:?}")]
    NotAsked(ReplyTo),
    /// An input could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The connection dropped and the session is reconnecting: try again
    /// after [`SessionEvent::Resumed`].
    #[error("the session is reconnecting")]
    Reconnecting,
}

/// Where the session is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// `Hello` sent; waiting for `Welcome`.
    Greeting,
    /// Welcomed, in no room.
    Lobby,
    /// In a room.
    InRoom(Joined),
    /// The connection dropped; reconnecting to resume (see
    /// [`ClientSession::poll_connect`]).
    Reconnecting,
    /// This client sent `Close`; waiting for the connection to end.
    Closing,
    /// Ended.
    Closed(Closed),
}

/// A message waiting to be sent; pings and pongs are stamped when they
/// leave.
#[derive(Debug)]
enum Outgoing {
    Message(ClientMessage, Delivery),
    Ping,
    Pong { ping: Ping, arrived: Instant },
}

#[derive(Debug)]
struct PendingRequest {
    expect: Expect,
    deadline: Instant,
}

#[derive(Debug)]
struct PendingEmit {
    name: String,
    sent: Instant,
    deadline: Instant,
}

/// One client connection's protocol state (see the module doc).
#[derive(Debug)]
pub struct ClientSession {
    config: SessionConfig,
    state: SessionState,
    welcome: Option<Welcome>,
    replica: Replica,
    next_request: u32,
    requests: BTreeMap<u32, PendingRequest>,
    next_ack: u32,
    emits: BTreeMap<u32, PendingEmit>,
    owed: BTreeMap<u32, ()>,
    next_seq: u32,
    recent_inputs: VecDeque<Vec<u8>>,
    pending_ack: Option<Tick>,
    /// The newest tick acknowledged without being applied
    /// ([`SessionConfig::apply_updates`] off): the order check the
    /// replica makes otherwise.
    unapplied: Option<Tick>,
    ping_with_input: bool,
    held_ping: Option<(Ping, Instant)>,
    rtt: Option<Duration>,
    outbox: VecDeque<Outgoing>,
    events: VecDeque<SessionEvent>,
    /// The `Hello` this session greeted with (`None`: the caller greets,
    /// and the session cannot reconnect by itself).
    hello: Option<Hello>,
    /// When a server message last arrived.
    last_heard: Option<Instant>,
    backoff: Backoff,
    reconnecting: Option<Reconnecting>,
}

impl ClientSession {
    /// A session greeting as `hello` (its `protocol_version` should be
    /// [`PROTOCOL_VERSION`]) for a game with this schema; the `Hello` is
    /// the first transmit.
    pub fn new(hello: Hello, schema: Schema, mut config: SessionConfig) -> Self {
        config.input_redundancy = config.input_redundancy.clamp(1, MAX_INPUT_REDUNDANCY);
        let mut outbox = VecDeque::new();
        outbox.push_back(Outgoing::Message(
            ClientMessage::Hello(hello.clone()),
            Delivery::Reliable,
        ));
        Self {
            backoff: Backoff::new(config.reconnect.jitter_seed),
            recent_inputs: VecDeque::with_capacity(config.input_redundancy),
            config,
            state: SessionState::Greeting,
            welcome: None,
            replica: Replica::new(schema),
            next_request: 0,
            requests: BTreeMap::new(),
            next_ack: 0,
            emits: BTreeMap::new(),
            owed: BTreeMap::new(),
            next_seq: 0,
            pending_ack: None,
            unapplied: None,
            ping_with_input: false,
            held_ping: None,
            rtt: None,
            outbox,
            events: VecDeque::new(),
            hello: Some(hello),
            last_heard: None,
            reconnecting: None,
        }
    }

    /// A session whose caller sends its own `Hello` (protocol tests that
    /// send a wrong one, say): nothing is queued; a `Welcome` is handled
    /// as usual.
    pub fn without_hello(schema: Schema, config: SessionConfig) -> Self {
        let mut session = Self::new(Self::hello("-"), schema, config);
        session.outbox.clear();
        session.hello = None;
        session
    }

    /// A `Hello` for this protocol version, with a display name.
    pub fn hello(name: impl Into<String>) -> Hello {
        Hello {
            protocol_version: PROTOCOL_VERSION,
            client_name: name.into(),
            auth_ticket: None,
            resume_token: None,
            resume_from: None,
        }
    }

    /// Where the session is.
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    /// The settings.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Chooses when updates are acknowledged from now on.
    pub fn set_ack_mode(&mut self, mode: AckMode) {
        self.config.ack_mode = mode;
    }

    /// The server's welcome, once greeted.
    pub fn welcome(&self) -> Option<&Welcome> {
        self.welcome.as_ref()
    }

    /// This client's player id, once greeted.
    pub fn player(&self) -> Option<PlayerId> {
        self.welcome.as_ref().map(|w| w.player)
    }

    /// The room the client is in.
    pub fn room(&self) -> Option<&Joined> {
        match &self.state {
            SessionState::InRoom(joined) => Some(joined),
            _ => None,
        }
    }

    /// The replica (worlds of recent ticks).
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// The newest world rebuilt.
    pub fn world(&self) -> Option<&WorldSnapshot> {
        self.replica.latest()
    }

    /// The last round-trip time measured by a ping.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// Requests waiting for an answer.
    pub fn pending_requests(&self) -> usize {
        self.requests.len()
    }

    /// Emitted events waiting for an answer.
    pub fn pending_emits(&self) -> usize {
        self.emits.len()
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, SessionState::Closed(_))
    }

    /// Whether the connection dropped and the session is reconnecting.
    pub fn is_reconnecting(&self) -> bool {
        self.state == SessionState::Reconnecting
    }

    /// Replaces the auth ticket the session greets with when it
    /// reconnects (a login token refreshed while playing).
    pub fn set_auth_ticket(&mut self, ticket: Option<String>) {
        if let Some(hello) = &mut self.hello {
            hello.auth_ticket = ticket;
        }
    }

    fn open(&self) -> Result<(), SessionError> {
        match self.state {
            SessionState::Closing | SessionState::Closed(_) => Err(SessionError::Closed),
            SessionState::Reconnecting => Err(SessionError::Reconnecting),
            _ => Ok(()),
        }
    }

    fn queue(&mut self, message: ClientMessage, delivery: Delivery) {
        self.outbox.push_back(Outgoing::Message(message, delivery));
    }

    // ---- requests ----

    /// Sends a lobby request; its answer comes as
    /// [`SessionEvent::Answered`] with the id returned.
    pub fn request(&mut self, now: Now, request: Request) -> Result<RequestId, SessionError> {
        self.open()?;
        if self.requests.len() >= self.config.max_pending_requests {
            return Err(SessionError::TooManyRequests(self.requests.len()));
        }
        self.next_request = self.next_request.wrapping_add(1);
        let id = self.next_request;
        let expect = request.expects();
        if expect == Expect::Joined {
            // Forget the old room now, not when `Joined` arrives: over QUIC
            // the new room's first update (a datagram) may overtake the
            // `Joined` on the control stream, and must be kept.
            self.forget_room();
        }
        self.queue(request.into_message(id), Delivery::Reliable);
        self.requests.insert(
            id,
            PendingRequest {
                expect,
                deadline: now.at + self.config.request_timeout,
            },
        );
        Ok(RequestId(id))
    }

    fn forget_room(&mut self) {
        self.replica.reset();
        self.unapplied = None;
        self.pending_ack = None;
        self.recent_inputs.clear();
        if let Some((ping, arrived)) = self.held_ping.take() {
            self.outbox.push_back(Outgoing::Pong { ping, arrived });
        }
    }

    fn answered(&mut self, request_id: u32, message: ServerMessage) {
        let Some(pending) = self.requests.remove(&request_id) else {
            // A late answer to a request that timed out: nothing waits.
            return;
        };
        let result = match (pending.expect, message) {
            (_, ServerMessage::Error(e)) => Err(RequestFailure::Refused(e)),
            (Expect::RoomList, ServerMessage::RoomList(list)) => Ok(Answer::RoomList(list.rooms)),
            (Expect::RoomCreated, ServerMessage::RoomCreated(created)) => {
                Ok(Answer::RoomCreated(created.room))
            }
            (Expect::Joined, ServerMessage::Joined(joined)) => {
                self.state = SessionState::InRoom(joined.clone());
                Ok(Answer::Joined(joined))
            }
            (Expect::Left, ServerMessage::Left(left)) => {
                self.left();
                Ok(Answer::Left(left))
            }
            _ => Err(RequestFailure::Unexpected),
        };
        self.events.push_back(SessionEvent::Answered {
            id: RequestId(request_id),
            result,
        });
    }

    fn left(&mut self) {
        if matches!(self.state, SessionState::InRoom(_)) {
            self.state = SessionState::Lobby;
        }
        self.forget_room();
    }

    // ---- inputs, acks, pings ----

    /// Sends one encoded game input with the next sequence number,
    /// repeating the previous ones up to
    /// [`SessionConfig::input_redundancy`]; in [`AckMode::WithInput`] the
    /// pending acknowledgement, a held ping answer and a ping asked for
    /// with [`ClientSession::ping_with_next_input`] go with it.
    pub fn send_input(&mut self, input: Vec<u8>) -> Result<u32, SessionError> {
        if self.is_reconnecting() {
            // Dropped: the server holds the last input it read, and the
            // next one after the resume replaces it.
            return Ok(self.next_seq);
        }
        self.open()?;
        self.next_seq = self.next_seq.wrapping_add(1);
        if self.recent_inputs.len() == self.config.input_redundancy {
            self.recent_inputs.pop_front();
        }
        self.recent_inputs.push_back(input);
        let inputs = Inputs {
            newest_seq: self.next_seq,
            inputs: self.recent_inputs.iter().cloned().collect(),
            ack: self.pending_ack.take(),
        };
        self.queue(ClientMessage::Inputs(inputs), Delivery::Unreliable);
        if let Some((ping, arrived)) = self.held_ping.take() {
            self.outbox.push_back(Outgoing::Pong { ping, arrived });
        }
        if std::mem::take(&mut self.ping_with_input) {
            self.outbox.push_back(Outgoing::Ping);
        }
        Ok(self.next_seq)
    }

    /// [`ClientSession::send_input`] with a value encoded by the codec
    /// (the game's input type).
    pub fn send_input_value<I: serde::Serialize>(
        &mut self,
        input: &I,
    ) -> Result<u32, SessionError> {
        let mut bytes = Vec::with_capacity(32);
        codec::encode_value(input, &mut bytes)?;
        self.send_input(bytes)
    }

    /// Pings the server now; the answer comes as [`SessionEvent::Rtt`].
    pub fn ping(&mut self) -> Result<(), SessionError> {
        if self.is_reconnecting() {
            return Ok(());
        }
        self.open()?;
        self.outbox.push_back(Outgoing::Ping);
        Ok(())
    }

    /// Has the next input carry a ping along (one write upstream per tick
    /// instead of two), for clients that send an input every tick.
    pub fn ping_with_next_input(&mut self) {
        self.ping_with_input = true;
    }

    /// How long a held ping answer may wait for an input: half a tick of
    /// the room (an input not sent by then is not coming this tick).
    fn hold_limit(&self) -> Duration {
        self.room()
            .map_or(Duration::ZERO, |j| j.tick_rate.period() / 2)
    }

    // ---- events ----

    fn check_event(&self, name: &str, data: &[u8]) -> Result<(), SessionError> {
        if name.is_empty() || name.len() > MAX_EVENT_NAME {
            return Err(SessionError::EventName(name.len()));
        }
        let bytes = name.len() + data.len() + EVENT_FRAMING;
        if bytes > self.config.max_frame {
            return Err(SessionError::TooLarge {
                bytes,
                max: self.config.max_frame,
            });
        }
        Ok(())
    }

    /// Emits an event to the room's game, wanting no answer. A refusal
    /// comes back as [`SessionEvent::Error`].
    pub fn emit(&mut self, name: &str, data: Vec<u8>) -> Result<(), SessionError> {
        self.open()?;
        self.check_event(name, &data)?;
        self.queue(
            ClientMessage::Event(RoomEvent {
                name: name.to_owned(),
                data,
                ack_id: None,
            }),
            Delivery::Reliable,
        );
        Ok(())
    }

    /// Emits an event wanting an answer by `now + timeout`; the outcome
    /// comes as [`SessionEvent::Emitted`] with the ack id returned.
    pub fn emit_with_ack(
        &mut self,
        now: Now,
        name: &str,
        data: Vec<u8>,
        timeout: Duration,
    ) -> Result<AckId, SessionError> {
        self.open()?;
        self.check_event(name, &data)?;
        if self.emits.len() >= self.config.max_pending_emits {
            return Err(SessionError::TooManyEmits(self.emits.len()));
        }
        self.next_ack = self.next_ack.wrapping_add(1);
        let id = self.next_ack;
        self.queue(
            ClientMessage::Event(RoomEvent {
                name: name.to_owned(),
                data,
                ack_id: Some(id),
            }),
            Delivery::Reliable,
        );
        self.emits.insert(
            id,
            PendingEmit {
                name: name.to_owned(),
                sent: now.at,
                deadline: now.at + timeout,
            },
        );
        Ok(AckId(id))
    }

    /// Answers a server event that asked for one.
    pub fn answer(&mut self, to: ReplyTo, outcome: EventOutcome) -> Result<(), SessionError> {
        self.open()?;
        if self.owed.remove(&to.0).is_none() {
            return Err(SessionError::NotAsked(to));
        }
        self.queue(
            ClientMessage::EventReply(EventReply {
                ack_id: to.0,
                outcome,
            }),
            Delivery::Reliable,
        );
        Ok(())
    }

    fn emitted(&mut self, ack_id: u32, now: Now, outcome: EmitOutcome) {
        if let Some(pending) = self.emits.remove(&ack_id) {
            self.events.push_back(SessionEvent::Emitted {
                ack: AckId(ack_id),
                name: pending.name,
                outcome,
                elapsed: now.at.saturating_duration_since(pending.sent),
            });
        }
    }

    // ---- closing ----

    /// Says goodbye: queues a `Close` and stops taking calls.
    pub fn close(&mut self, message: impl Into<String>) {
        if self.open().is_err() {
            return;
        }
        self.queue(
            ClientMessage::Close(Close {
                reason: CloseReason::Normal,
                message: message.into(),
            }),
            Delivery::Reliable,
        );
        self.state = SessionState::Closing;
    }

    /// Fails what waits on the server: requests and emits end with
    /// `request` and `emit`, answers owed and a held ping are dropped.
    fn cut(&mut self, now: Now, request: RequestFailure, emit: EmitOutcome) {
        let requests = std::mem::take(&mut self.requests);
        for id in requests.into_keys() {
            self.events.push_back(SessionEvent::Answered {
                id: RequestId(id),
                result: Err(request.clone()),
            });
        }
        let emits: Vec<u32> = self.emits.keys().copied().collect();
        for id in emits {
            self.emitted(id, now, emit.clone());
        }
        self.owed.clear();
        self.held_ping = None;
    }

    fn end(&mut self, now: Now, closed: Closed) {
        if self.is_closed() {
            return;
        }
        self.cut(now, RequestFailure::Closed, EmitOutcome::Closed);
        self.reconnecting = None;
        self.events.push_back(SessionEvent::Closed(closed.clone()));
        self.state = SessionState::Closed(closed);
    }

    /// The transport ended. Without a `Close` before, the reason is the
    /// one the transport gives (a QUIC close code), or none. When the
    /// session may resume (see [`ReconnectPolicy`]) it starts
    /// reconnecting instead of closing; during a reconnection it is the
    /// attempt that failed.
    pub fn handle_connection_lost(&mut self, now: Now, reason: Option<(CloseReason, String)>) {
        let (reason, message) = match reason {
            Some((reason, message)) => (Some(reason), message),
            None => (None, "connection lost".to_owned()),
        };
        if self.is_reconnecting() {
            if !self.attempt_under_way() {
                // The dropped connection's own end, heard late: the
                // reconnection is already scheduled.
                return;
            }
            return match reason {
                Some(reason) if !resumable(Some(reason)) => {
                    self.lose(now, LostReason::Refused { reason, message })
                }
                _ => self.connection_failed(now),
            };
        }
        if self.may_reconnect(reason) {
            return self.start_reconnecting(now, reason);
        }
        self.end(
            now,
            Closed {
                reason,
                message,
                rejected: false,
            },
        );
    }

    // ---- input from the server ----

    /// Decodes and handles a server frame.
    pub fn handle_frame(&mut self, now: Now, frame: &[u8]) -> Result<(), DecodeError> {
        let message = codec::decode_server(frame, codec::MAX_SERVER_FRAME)?;
        self.handle(now, message);
        Ok(())
    }

    /// Handles a server message.
    pub fn handle(&mut self, now: Now, message: ServerMessage) {
        if self.is_closed() {
            return;
        }
        self.last_heard = Some(now.at);
        if self.is_reconnecting() {
            return self.handle_while_reconnecting(now, message);
        }
        if let ServerMessage::Redirect(redirect) = message {
            return self.redirected(now, redirect);
        }
        if let Some(id) = message.request_id()
            && self.requests.contains_key(&id)
        {
            return self.answered(id, message);
        }
        match message {
            ServerMessage::Welcome(welcome) => {
                if self.state == SessionState::Greeting {
                    self.state = SessionState::Lobby;
                }
                self.welcome = Some(welcome.clone());
                self.events.push_back(SessionEvent::Welcomed(welcome));
            }
            ServerMessage::Rejected(r) => self.end(
                now,
                Closed {
                    reason: Some(r.reason),
                    message: r.message,
                    rejected: true,
                },
            ),
            // A close that parks the seat (`IdleTimeout`, `SlowConsumer`)
            // is a drop: the session reconnects when it may; any other
            // ends it.
            ServerMessage::Close(c) => {
                self.handle_connection_lost(now, Some((c.reason, c.message)));
            }
            ServerMessage::Joined(joined) => {
                // Unasked: a seat given back on resume.
                self.forget_room();
                self.state = SessionState::InRoom(joined.clone());
                self.events.push_back(SessionEvent::Joined(joined));
            }
            ServerMessage::Left(left) => {
                self.left();
                self.events.push_back(SessionEvent::Left(left));
            }
            ServerMessage::Update(update) => self.update(now, &update),
            ServerMessage::Ping(ping) => self.pinged(now, ping),
            ServerMessage::Pong(pong) => {
                let rtt = Duration::from_micros(pong.rtt_us(now.unix_us));
                self.rtt = Some(rtt);
                self.events.push_back(SessionEvent::Rtt(rtt));
            }
            ServerMessage::Event(event) => self.server_event(event),
            ServerMessage::EventReply(reply) => {
                let outcome = match reply.outcome {
                    EventOutcome::Data(data) => EmitOutcome::Answered(data),
                    EventOutcome::Error { code, message } => EmitOutcome::Refused { code, message },
                };
                self.emitted(reply.ack_id, now, outcome);
            }
            ServerMessage::Error(e) => self.events.push_back(SessionEvent::Error(e)),
            // Answers to nothing pending (timed out): dropped.
            ServerMessage::RoomList(_)
            | ServerMessage::RoomCreated(_)
            | ServerMessage::Redirect(_) => {}
        }
    }

    fn server_event(&mut self, event: RoomEvent) {
        let reply_to = match event.ack_id {
            None => None,
            Some(id) if self.owed.len() >= self.config.max_owed_answers => {
                self.queue(
                    ClientMessage::EventReply(EventReply {
                        ack_id: id,
                        outcome: EventOutcome::Error {
                            code: ErrorCode::RateLimited,
                            message: format!(
                                "{} server events wait for an answer already",
                                self.owed.len()
                            ),
                        },
                    }),
                    Delivery::Reliable,
                );
                return;
            }
            Some(id) => {
                self.owed.insert(id, ());
                Some(ReplyTo(id))
            }
        };
        self.events.push_back(SessionEvent::Event(IncomingEvent {
            name: event.name,
            data: event.data,
            reply_to,
        }));
    }

    fn pinged(&mut self, now: Now, ping: Ping) {
        let in_room = self.room().is_some();
        if self.config.ack_mode == AckMode::WithInput && in_room {
            // An older ping still held is answered now.
            if let Some((older, arrived)) = self.held_ping.replace((ping, now.at)) {
                self.outbox.push_back(Outgoing::Pong {
                    ping: older,
                    arrived,
                });
            }
        } else {
            self.outbox.push_back(Outgoing::Pong {
                ping,
                arrived: now.at,
            });
        }
    }

    fn update(&mut self, now: Now, update: &Update) {
        // A ping held for half a tick has waited for an input that did not
        // come: it goes on its own.
        if let Some((ping, arrived)) = self.held_ping
            && now.at.saturating_duration_since(arrived) >= self.hold_limit()
        {
            self.held_ping = None;
            self.outbox.push_back(Outgoing::Pong { ping, arrived });
        }
        let applied = if self.config.apply_updates {
            self.replica.apply(update).map(|world| world.tick)
        } else {
            self.take_unapplied(update.tick)
        };
        let tick = match applied {
            Err(e) => {
                self.events.push_back(SessionEvent::UpdateFailed(e));
                return;
            }
            Ok(tick) => tick,
        };
        let latency_us = self.room().map_or(0, |j| {
            // The server schedules in whole nanoseconds (1 s / rate): tick n
            // is due n periods after tick 0, the division last so that a
            // long room does not drift by the rounding.
            let period_ns = u64::try_from(j.tick_rate.period().as_nanos()).unwrap_or(u64::MAX);
            let due = j
                .tick_zero_unix_us
                .saturating_add(u64::from(tick.0).saturating_mul(period_ns) / 1_000)
                .saturating_add(u64::from(update.lateness_us));
            now.unix_us.saturating_sub(due)
        });
        match self.config.ack_mode {
            AckMode::Immediate => {
                self.queue(ClientMessage::Ack(Ack { tick }), Delivery::Unreliable);
            }
            AckMode::WithInput => self.pending_ack = Some(tick),
        }
        self.events.push_back(SessionEvent::Updated(AppliedUpdate {
            tick,
            full: update.baseline.is_none(),
            baseline_age: update.baseline.and_then(|b| tick.since(b)).unwrap_or(0),
            bytes: update.delta.len(),
            latency_us,
        }));
    }

    /// Accepts an update's tick without applying it, if it is newer than
    /// the last one accepted (the replica's order rule).
    fn take_unapplied(&mut self, tick: Tick) -> Result<Tick, ReplicaError> {
        match self.unapplied {
            Some(latest) if tick <= latest => Err(ReplicaError::Stale { tick, latest }),
            _ => {
                self.unapplied = Some(tick);
                Ok(tick)
            }
        }
    }

    // ---- time ----

    /// The earliest time [`ClientSession::handle_timeout`] has work: a
    /// request's or an emit's deadline, or a held ping's last moment.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let requests = self.requests.values().map(|r| r.deadline);
        let emits = self.emits.values().map(|e| e.deadline);
        let held = self
            .held_ping
            .map(|(_, arrived)| arrived + self.hold_limit());
        let attempt = self
            .reconnecting
            .as_ref()
            .and_then(|rc| rc.next_at.or(rc.attempt_deadline));
        requests
            .chain(emits)
            .chain(held)
            .chain(attempt)
            .chain(self.silence_deadline())
            .min()
    }

    /// When a silent room connection counts as dropped.
    fn silence_deadline(&self) -> Option<Instant> {
        let limit = self.config.silence_timeout?;
        match self.state {
            SessionState::InRoom(_) => self.last_heard.map(|heard| heard + limit),
            _ => None,
        }
    }

    /// Fails the requests and emits whose deadline has passed and sends a
    /// held ping answer whose wait is over. Call when
    /// [`ClientSession::poll_timeout`] has passed (calling earlier is
    /// harmless).
    pub fn handle_timeout(&mut self, now: Now) {
        let expired: Vec<u32> = self
            .requests
            .iter()
            .filter(|(_, r)| r.deadline <= now.at)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.requests.remove(&id);
            self.events.push_back(SessionEvent::Answered {
                id: RequestId(id),
                result: Err(RequestFailure::TimedOut),
            });
        }
        let expired: Vec<u32> = self
            .emits
            .iter()
            .filter(|(_, e)| e.deadline <= now.at)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.emitted(id, now, EmitOutcome::TimedOut);
        }
        if let Some((ping, arrived)) = self.held_ping
            && now.at.saturating_duration_since(arrived) >= self.hold_limit()
        {
            self.held_ping = None;
            self.outbox.push_back(Outgoing::Pong { ping, arrived });
        }
        if self.attempt_under_way()
            && self
                .reconnecting
                .as_ref()
                .and_then(|rc| rc.attempt_deadline)
                .is_some_and(|at| at <= now.at)
        {
            // The new connection opened but nothing came back in time: the
            // shell drops it, and the next attempt is scheduled.
            self.connection_failed(now);
        }
        if self.silence_deadline().is_some_and(|at| at <= now.at) {
            // The shell sees the session reconnecting (or closed) and drops
            // the silent transport.
            self.handle_connection_lost(now, None);
        }
    }

    // ---- output ----

    /// The next message to send, stamped with `now` (pings carry the wall
    /// clock; ping answers say how long they were held). Drain it after
    /// every call that may send; over WebSocket, writing everything drained
    /// in one flush sends an input and its companions in one segment.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Now) -> Option<Transmit> {
        Some(match self.outbox.pop_front()? {
            Outgoing::Message(message, delivery) => Transmit { message, delivery },
            Outgoing::Ping => Transmit {
                message: ClientMessage::Ping(Ping {
                    sent_at_us: now.unix_us,
                }),
                delivery: Delivery::Reliable,
            },
            Outgoing::Pong { ping, arrived } => Transmit {
                message: ClientMessage::Pong(Pong::answering(
                    ping,
                    now.unix_us,
                    now.at.saturating_duration_since(arrived),
                )),
                delivery: Delivery::Reliable,
            },
        })
    }

    /// Whether [`ClientSession::poll_transmit`] has something.
    pub fn has_transmit(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }
}

mod reconnecting;
mod redirecting;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod reconnect_tests;
#[cfg(test)]
mod redirect_tests;
