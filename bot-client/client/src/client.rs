//! [`Client`]: one connection to a tickwire server, the tokio shell around
//! the pure [`ClientSession`]. The session decides what to send and what
//! happened; the client moves the bytes, keeps the time, runs the event
//! handlers, and turns the session's answers into `async fn` results.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tickwire_shared::client::{
    AckId, AckMode, Answer, ClientSession, DATAGRAM_INPUT_REDUNDANCY, EmitOutcome, Now,
    QuickJoinSpec, ReconnectPolicy, Replica, Request, RequestFailure, RoomSpec, SessionConfig,
    SessionError, SessionEvent, SessionState,
};
use tickwire_shared::codec;
use tickwire_shared::game::GameOptions;
use tickwire_shared::ids::PlayerId;
use tickwire_shared::protocol::{
    ClientMessage, Hello, Joined, Left, ResumeToken, Role, RoomFilter, RoomInfo, RoomTarget,
    ServerMessage,
};
use tickwire_shared::schema::Schema;
use tickwire_shared::snapshot::WorldSnapshot;

use crate::error::{ClientError, EmitError};
use crate::event::{AckSender, Answers, Event, ServerEvent};
use crate::link::{Inbound, Link, RawFrame, Traffic, quic, ws};
use crate::netem::{NetworkProfile, NetworkStats};
use crate::tls::ClientTls;

/// How long connecting and greeting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Events queued for the application while it waits on something else
/// (a request's answer, an emit's answer): beyond this many, update
/// notifications are not queued (the replica still has every world), so
/// a long wait cannot grow the queue without bound.
const MAX_QUEUED_EVENTS: usize = 1024;

/// Server messages kept for [`Client::next_message`] (protocol tests)
/// when [`ClientBuilder::keep_messages`] is on; the oldest go first.
const MAX_KEPT_MESSAGES: usize = 4096;

/// A handler registered with [`Client::on`].
type Handler = Box<dyn FnMut(ServerEvent) + Send>;

/// A transport being opened for a reconnection attempt; kept in the client
/// so that a call cancelled meanwhile does not lose it.
type Dialing = Pin<Box<dyn Future<Output = Result<Link, ClientError>> + Send>>;

/// Where and how to (re)connect.
#[derive(Clone, Debug)]
struct Dial {
    url: String,
    tls: ClientTls,
    timeout: Duration,
    /// The network the client sits behind, and its seed.
    network: Option<Arc<(NetworkProfile, u64)>>,
}

impl Dial {
    /// Opens a transport (no greeting), within the timeout; `nth` is the
    /// connection's number among the client's (the conditioner's stream).
    fn open(self, nth: u64) -> Dialing {
        Box::pin(async move {
            let link = tokio::time::timeout(self.timeout, async {
                Ok::<_, ClientError>(if self.url.starts_with("quic://") {
                    Link::quic(quic::QuicConn::open(&self.url, &self.tls).await?)
                } else {
                    Link::ws(ws::open(&self.url, &self.tls).await?)
                })
            })
            .await
            .map_err(|_| ClientError::Timeout)??;
            Ok(match &self.network {
                Some(network) => link.with_network(&network.0, network.1, nth),
                None => link,
            })
        })
    }
}

/// A seed for the reconnection jitter that no other client shares: the
/// standard library's per-process random hash keys over the clock.
fn jitter_seed() -> u64 {
    RandomState::new().hash_one(unix_us())
}

/// The wall clock in microseconds since the Unix epoch.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn now() -> Now {
    Now {
        at: Instant::now(),
        unix_us: unix_us(),
    }
}

/// How to connect: [`Client::builder`], the setters, then
/// [`ClientBuilder::connect`].
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    url: String,
    name: String,
    tls: ClientTls,
    schema: Schema,
    config: SessionConfig,
    input_redundancy: Option<usize>,
    auth_ticket: Option<String>,
    resume_token: Option<ResumeToken>,
    connect_timeout: Duration,
    keep_messages: bool,
    network: Option<Arc<(NetworkProfile, u64)>>,
}

impl ClientBuilder {
    /// The display name (1..=32 bytes). Default: `"player"`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// How a `wss://` or `quic://` server's certificate is accepted.
    /// Default: [`ClientTls::Verify`] (the web PKI roots).
    pub fn tls(mut self, tls: ClientTls) -> Self {
        self.tls = tls;
        self
    }

    /// The game's schema, to rebuild its world. Default: the arena's
    /// (`tickwire_shared::arena::SCHEMA`, the server's default game).
    pub fn schema(mut self, schema: Schema) -> Self {
        self.schema = schema;
        self
    }

    /// When updates are acknowledged. Default: [`AckMode::Immediate`].
    pub fn ack_mode(mut self, mode: AckMode) -> Self {
        self.config.ack_mode = mode;
        self
    }

    /// How long a lobby request waits for its answer. Default: 10 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// How many inputs each input message repeats. Default: 1 over
    /// WebSocket, [`DATAGRAM_INPUT_REDUNDANCY`] over QUIC.
    pub fn input_redundancy(mut self, inputs: usize) -> Self {
        self.input_redundancy = Some(inputs);
        self
    }

    /// Whether updates are decoded and applied to the replica, their
    /// checksums checked. Off, each update is acknowledged by its header's
    /// tick and reported ([`Event::Update`]) by size and latency without
    /// its delta being decoded, and [`Client::world`] stays empty: for
    /// load-test bots that only keep the server sending. Default: on.
    pub fn apply_updates(mut self, apply: bool) -> Self {
        self.config.apply_updates = apply;
        self
    }

    /// Every session setting at once (the ones set above included).
    pub fn session_config(mut self, config: SessionConfig) -> Self {
        self.config = config;
        self
    }

    /// Whether a request whose room is on another node of a cluster moves
    /// the client there by itself ([`Event::Redirected`], then
    /// [`Event::Moved`]; the call returns the other node's answer).
    /// Default: yes; off, the call fails with [`ClientError::Redirected`].
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.config.follow_redirects = follow;
        self
    }

    /// How the client reconnects after a drop. Default: by itself, with
    /// exponential backoff and jitter, for as long as the server keeps the
    /// seat ([`ReconnectPolicy::default`]); [`ReconnectPolicy::disabled`]
    /// makes a drop end the client with [`ClientError::Lost`].
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.config.reconnect = policy;
        self
    }

    /// A ticket for the server's authenticator.
    pub fn auth_ticket(mut self, ticket: impl Into<String>) -> Self {
        self.auth_ticket = Some(ticket.into());
        self
    }

    /// Resumes an earlier session (its [`Client::resume_token`]).
    pub fn resume(mut self, token: ResumeToken) -> Self {
        self.resume_token = Some(token);
        self
    }

    /// How long connecting and greeting may take. Default:
    /// [`CONNECT_TIMEOUT`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Keeps a copy of every server message for [`Client::next_message`]
    /// (protocol tests and tools). Default: off.
    pub fn keep_messages(mut self, keep: bool) -> Self {
        self.keep_messages = keep;
        self
    }

    /// Puts the client behind a simulated network (the link conditioner,
    /// [`crate::netem`]): every frame it sends and receives meets
    /// `profile`'s latency, jitter, loss, duplication, reordering and
    /// bandwidth cap, drawn from `seed` (one seed replays one run's
    /// choices; each reconnection draws anew). Over QUIC only datagrams
    /// are lost, duplicated or reordered; stream frames and every
    /// WebSocket frame are only delayed, in order. What it applied:
    /// [`Client::network_stats`]. Default: off, at no cost.
    pub fn network(mut self, profile: NetworkProfile, seed: u64) -> Self {
        self.network = Some(Arc::new((profile, seed)));
        self
    }

    /// Connects and completes the handshake.
    pub async fn connect(self) -> Result<Client, ClientError> {
        let timeout = self.connect_timeout;
        tokio::time::timeout(timeout, async {
            let hello = Hello {
                client_name: self.name.clone(),
                auth_ticket: self.auth_ticket.clone(),
                resume_token: self.resume_token,
                ..ClientSession::hello("")
            };
            let mut client = self.open_with(Some(hello)).await?;
            client.greeted().await?;
            Ok(client)
        })
        .await
        .map_err(|_| ClientError::Timeout)?
    }

    /// Opens the connection without greeting: the caller sends its own
    /// `Hello` with [`Client::send_message`] (protocol tests).
    pub async fn open(self) -> Result<Client, ClientError> {
        let timeout = self.connect_timeout;
        tokio::time::timeout(timeout, self.open_with(None))
            .await
            .map_err(|_| ClientError::Timeout)?
    }

    async fn open_with(self, hello: Option<Hello>) -> Result<Client, ClientError> {
        let dial = Dial {
            url: self.url,
            tls: self.tls,
            timeout: self.connect_timeout,
            network: self.network,
        };
        let link = dial.clone().open(0).await?;
        let mut config = self.config;
        if config.reconnect.jitter_seed == 0 {
            config.reconnect.jitter_seed = jitter_seed();
        }
        config.input_redundancy = self.input_redundancy.unwrap_or(if link.has_datagrams() {
            DATAGRAM_INPUT_REDUNDANCY
        } else {
            1
        });
        let session = match hello {
            Some(hello) => ClientSession::new(hello, self.schema, config),
            None => ClientSession::without_hello(self.schema, config),
        };
        let mut client = Client {
            transport: link.name(),
            link: Some(link),
            dial,
            dialing: None,
            redirects: 0,
            traffic_before: Traffic::default(),
            network_before: NetworkStats::default(),
            links_opened: 1,
            close_code: None,
            session,
            handlers: HashMap::new(),
            answers: Arc::new(Answers::default()),
            inbox: VecDeque::new(),
            waiting_for: None,
            kept: self.keep_messages.then(VecDeque::new),
            ended: false,
            closed_told: false,
            buf: Vec::with_capacity(256),
        };
        client.send_queued().await?;
        Ok(client)
    }
}

/// A connection to a tickwire server (see the crate docs for a tour).
///
/// One owner drives it: every `async fn` reads the connection while it
/// waits, so pings are answered, updates applied and acknowledged, and
/// handlers run whichever call is waiting. Events that arrive meanwhile
/// are kept for [`Client::next_event`].
pub struct Client {
    /// The transport; `None` between reconnection attempts.
    link: Option<Link>,
    /// Where to reconnect.
    dial: Dial,
    /// A reconnection attempt's transport being opened.
    dialing: Option<Dialing>,
    /// Redirects followed to another node of the cluster.
    redirects: u32,
    /// The traffic of the transports before this one.
    traffic_before: Traffic,
    /// What the link conditioners of the transports before this one
    /// applied.
    network_before: NetworkStats,
    /// Transports opened so far.
    links_opened: u64,
    /// The last transport's name.
    transport: &'static str,
    /// The WebSocket close code of a transport that ended.
    close_code: Option<u16>,
    session: ClientSession,
    handlers: HashMap<String, Handler>,
    answers: Arc<Answers>,
    /// Session events not yet handed over.
    inbox: VecDeque<SessionEvent>,
    /// An event name a [`Client::wait_for_event`] waits for: it skips the
    /// handlers.
    waiting_for: Option<String>,
    kept: Option<VecDeque<ServerMessage>>,
    /// The transport ended.
    ended: bool,
    /// [`Event::Closed`] was handed over.
    closed_told: bool,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("transport", &self.transport)
            .field("state", self.session.state())
            .field("handlers", &self.handlers.keys().collect::<Vec<_>>())
            .field("queued_events", &self.inbox.len())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// How to connect to `url`: `ws://host:port/ws`, `wss://host:port/ws`
    /// or `quic://host:port`.
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            name: "player".into(),
            tls: ClientTls::default(),
            schema: tickwire_shared::arena::SCHEMA,
            config: SessionConfig::default(),
            input_redundancy: None,
            auth_ticket: None,
            resume_token: None,
            connect_timeout: CONNECT_TIMEOUT,
            keep_messages: false,
            network: None,
        }
    }

    /// Connects to `url` as `name` with the defaults (the arena's schema,
    /// certificates verified against the web PKI roots).
    pub async fn connect(url: &str, name: &str) -> Result<Self, ClientError> {
        Self::builder(url).name(name).connect().await
    }

    // ---- state ----

    /// This client's player id (`PlayerId(0)` before the welcome).
    pub fn player(&self) -> PlayerId {
        self.session.player().unwrap_or(PlayerId(0))
    }

    /// The token to resume this session after a disconnect.
    pub fn resume_token(&self) -> Option<ResumeToken> {
        self.session.welcome().map(|w| w.resume_token)
    }

    /// The room the client is in.
    pub fn room(&self) -> Option<&Joined> {
        self.session.room()
    }

    /// The newest world rebuilt.
    pub fn world(&self) -> Option<&WorldSnapshot> {
        self.session.world()
    }

    /// The replica (worlds of recent ticks, to interpolate).
    pub fn replica(&self) -> &Replica {
        self.session.replica()
    }

    /// The protocol session (state, pending counts, settings).
    pub fn session(&self) -> &ClientSession {
        &self.session
    }

    /// The last round-trip time a ping measured.
    pub fn rtt(&self) -> Option<Duration> {
        self.session.rtt()
    }

    /// Traffic so far, over every connection this client made.
    pub fn traffic(&self) -> Traffic {
        let mut traffic = self.traffic_before;
        if let Some(link) = &self.link {
            traffic += link.traffic();
        }
        traffic
    }

    /// What the link conditioner applied so far, each way, over every
    /// connection this client made (`None` without
    /// [`ClientBuilder::network`]).
    pub fn network_stats(&self) -> Option<NetworkStats> {
        self.dial.network.as_ref()?;
        let mut stats = self.network_before;
        if let Some(current) = self.link.as_ref().and_then(Link::network_stats) {
            stats += current;
        }
        Some(stats)
    }

    /// The name of the network profile the client sits behind.
    pub fn network_profile(&self) -> Option<&str> {
        self.dial.network.as_ref().map(|n| n.0.name.as_str())
    }

    /// The transport: `"ws"`, `"wss"` or `"quic"`.
    pub fn transport(&self) -> &'static str {
        self.transport
    }

    /// The WebSocket close frame's code, once the server sent one.
    pub fn close_code(&self) -> Option<u16> {
        self.link
            .as_ref()
            .and_then(Link::close_code)
            .or(self.close_code)
    }

    /// Replaces the auth ticket the client presents when it reconnects (a
    /// login token refreshed while playing).
    pub fn set_auth_ticket(&mut self, ticket: impl Into<String>) {
        self.session.set_auth_ticket(Some(ticket.into()));
    }

    /// Whether the connection dropped and the client is reconnecting
    /// (between [`Event::Reconnecting`] and [`Event::Resumed`] or
    /// [`Event::Lost`]).
    pub fn is_reconnecting(&self) -> bool {
        self.session.is_reconnecting()
    }

    /// How many redirects to another node of a cluster this client has
    /// followed ([`Event::Redirected`]).
    pub fn redirects(&self) -> u32 {
        self.redirects
    }

    /// The URL the client connects (and reconnects) to: the one it was
    /// built with, or the node it was last redirected to.
    pub fn url(&self) -> &str {
        &self.dial.url
    }

    /// The transport, or the error a call gets without one.
    fn link(&mut self) -> Result<&mut Link, ClientError> {
        if self.link.is_none() {
            return Err(if self.session.is_reconnecting() {
                ClientError::Session(SessionError::Reconnecting)
            } else {
                self.ended_error()
            });
        }
        self.link
            .as_mut()
            .ok_or(ClientError::Session(SessionError::Closed))
    }

    /// Chooses when updates are acknowledged.
    pub fn set_ack_mode(&mut self, mode: AckMode) {
        self.session.set_ack_mode(mode);
    }

    // ---- driving ----

    /// Hands the session's transmits to the transport (no waiting).
    fn transmit(&mut self) -> Result<(), ClientError> {
        for (to, outcome) in self.answers.take() {
            // Not owed any more (the session closed): nothing to send.
            let _ = self.session.answer(to, outcome);
        }
        let Some(link) = self.link.as_mut() else {
            return Ok(());
        };
        if !self.session.has_transmit() {
            return Ok(());
        }
        let now = now();
        while let Some(transmit) = self.session.poll_transmit(now) {
            self.buf.clear();
            codec::encode_client(&transmit.message, &mut self.buf)?;
            link.queue(&self.buf, transmit.delivery)?;
        }
        Ok(())
    }

    /// Sends what the session queued, waiting until the transport took it
    /// (nothing while reconnecting: the session queues nothing then).
    async fn send_queued(&mut self) -> Result<(), ClientError> {
        self.transmit()?;
        match self.link.as_mut() {
            Some(link) => link.flush().await,
            None => Ok(()),
        }
    }

    /// Lets go of the transport when the session no longer uses it: it
    /// dropped (or fell silent) and the session waits to reconnect, or a
    /// reconnection attempt failed. Dropping it cuts the connection
    /// without a goodbye, so the server keeps the seat.
    fn settle_link(&mut self) {
        if self.session.redirect_target().is_some()
            && !self.session.attempt_under_way()
            && self.link.is_some()
        {
            // Leaving for another node: the goodbye goes first (best
            // effort: the connection is let go either way).
            let _ = self.transmit();
            if let Some(link) = self.link.as_mut() {
                let _ = link.flush().now_or_never();
            }
        }
        if self.session.is_reconnecting()
            && !self.session.attempt_under_way()
            && let Some(link) = self.link.take()
        {
            self.traffic_before += link.traffic();
            self.network_before += link.network_stats().unwrap_or_default();
            self.close_code = link.close_code().or(self.close_code);
            self.ended = false;
        }
        if self.link.is_none() && self.session.is_closed() {
            self.ended = true;
        }
    }

    /// One round while reconnecting without a transport: wait for the next
    /// attempt and open its transport; the session greets on it.
    /// Cancel-safe: a transport being opened is kept for the next call.
    async fn reconnect_step(&mut self) -> Result<(), ClientError> {
        if self.dialing.is_none() && self.session.poll_connect(now()) {
            if let Some(redirect) = self.session.redirect_target() {
                if self.session.is_redirect_start() {
                    self.redirects += 1;
                }
                // To the node redirected to, now and for every later
                // reconnection: over QUIC when this client uses QUIC and
                // the node serves it.
                self.dial.url = match (&redirect.quic, self.dial.url.starts_with("quic://")) {
                    (Some(addr), true) => format!("quic://{addr}"),
                    _ => redirect.ws.clone(),
                };
            }
            self.dialing = Some(self.dial.clone().open(self.links_opened));
            self.links_opened += 1;
        }
        if let Some(dialing) = self.dialing.as_mut() {
            let opened = dialing.await;
            self.dialing = None;
            match opened {
                Ok(link) => {
                    self.transport = link.name();
                    self.link = Some(link);
                    self.session.connection_opened(now());
                    self.transmit()?;
                }
                Err(_) => self.session.connection_failed(now()),
            }
            self.absorb();
            self.settle_link();
            return Ok(());
        }
        let deadline = self.session.poll_timeout();
        let answers = &self.answers;
        tokio::select! {
            () = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            } => self.session.handle_timeout(now()),
            // Answers given meanwhile are owed to a connection that is
            // gone: the session drops them.
            () = answers.ready.notified() => self.transmit()?,
        }
        self.absorb();
        self.settle_link();
        Ok(())
    }

    /// Moves the session's events into the inbox, running handlers.
    fn absorb(&mut self) {
        while let Some(event) = self.session.poll_event() {
            match event {
                SessionEvent::Event(incoming)
                    if self.waiting_for.as_deref() != Some(incoming.name.as_str())
                        && self.handlers.contains_key(&incoming.name) =>
                {
                    let ack = incoming
                        .reply_to
                        .map(|to| AckSender::new(to, Arc::clone(&self.answers)));
                    let name = incoming.name.clone();
                    if let Some(handler) = self.handlers.get_mut(&name) {
                        handler(ServerEvent::new(incoming.name, incoming.data, ack));
                    }
                }
                SessionEvent::Updated(_) if self.inbox.len() >= MAX_QUEUED_EVENTS => {}
                event => self.inbox.push_back(event),
            }
        }
    }

    fn handle_inbound(&mut self, inbound: Inbound) -> Result<(), ClientError> {
        match inbound {
            Inbound::Frame(frame) => {
                let message = codec::decode_server(&frame, codec::MAX_SERVER_FRAME)?;
                if let Some(kept) = &mut self.kept {
                    if kept.len() == MAX_KEPT_MESSAGES {
                        kept.pop_front();
                    }
                    kept.push_back(message.clone());
                }
                self.session.handle(now(), message);
            }
            Inbound::Ended(reason) => {
                self.ended = true;
                self.session.handle_connection_lost(now(), reason);
            }
        }
        Ok(())
    }

    /// Cuts the transport at once, without a goodbye, as a network failure
    /// would: the server keeps the seat for its grace, and the client
    /// reconnects and resumes by itself (its [`ReconnectPolicy`]
    /// permitting; else the session ends with [`Event::Closed`]). For
    /// testing how a game copes with drops, and for chaos bots.
    pub fn drop_connection(&mut self) {
        if self.link.is_none() || self.session.is_closed() {
            return;
        }
        self.session.handle_connection_lost(now(), None);
        if !self.session.is_reconnecting()
            && let Some(link) = self.link.take()
        {
            // Closed for good: keep the counts, drop the transport.
            self.traffic_before += link.traffic();
            self.network_before += link.network_stats().unwrap_or_default();
        }
        self.absorb();
        self.settle_link();
    }

    /// The error a call gets once the session has ended.
    fn ended_error(&self) -> ClientError {
        match self.session.state() {
            SessionState::Closed(c) => match c.reason {
                Some(reason) if c.rejected => ClientError::Rejected {
                    reason,
                    message: c.message.clone(),
                },
                Some(reason) => ClientError::Closed {
                    reason,
                    message: c.message.clone(),
                },
                None => ClientError::Lost,
            },
            _ => ClientError::Lost,
        }
    }

    /// One round: write what is queued, then wait for a frame, a session
    /// deadline or an answer given on another task, and handle it.
    /// Cancel-safe.
    async fn step(&mut self) -> Result<(), ClientError> {
        if self.ended {
            return Err(self.ended_error());
        }
        if self.link.is_none() {
            if self.session.is_reconnecting() {
                return self.reconnect_step().await;
            }
            return Err(self.ended_error());
        }
        self.transmit()?;
        let deadline = self.session.poll_timeout();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let Some(link) = self.link.as_mut() else {
            return Err(self.ended_error());
        };
        let answers = &self.answers;
        // Biased: what the socket holds is read before any deadline is
        // judged, so a client that was not driven for a while does not
        // take its own backlog for silence.
        let inbound = tokio::select! {
            biased;
            inbound = std::future::poll_fn(|cx| link.poll_io(cx)) => Some(inbound),
            () = answers.ready.notified() => return self.transmit(),
            () = sleep => None,
        };
        match inbound {
            Some(Ok(inbound)) => self.handle_inbound(inbound)?,
            Some(Err(e)) => {
                self.ended = true;
                self.session.handle_connection_lost(now(), None);
                self.absorb();
                self.settle_link();
                if self.session.is_reconnecting() {
                    return Ok(());
                }
                return Err(e);
            }
            None => self.session.handle_timeout(now()),
        }
        self.absorb();
        self.settle_link();
        // Acks and ping answers leave now, without waiting for the next
        // call: the write is attempted once, and what the socket does not
        // take goes with the next round.
        self.transmit()?;
        if let Some(link) = self.link.as_mut()
            && link.has_pending()
        {
            let _ = link.flush().now_or_never();
        }
        Ok(())
    }

    /// Turns a session event into an application event (`None` for the
    /// ones that only answer a call that stopped waiting).
    fn deliver(&mut self, event: SessionEvent) -> Option<Event> {
        Some(match event {
            SessionEvent::Welcomed(_) | SessionEvent::Answered { .. } => return None,
            SessionEvent::Joined(joined) => Event::Joined(joined),
            SessionEvent::Left(left) => Event::Left(left),
            SessionEvent::Updated(update) => Event::Update(update),
            SessionEvent::UpdateFailed(e) => Event::UpdateFailed(e),
            SessionEvent::Event(incoming) => Event::Event(ServerEvent::new(
                incoming.name,
                incoming.data,
                incoming
                    .reply_to
                    .map(|to| AckSender::new(to, Arc::clone(&self.answers))),
            )),
            SessionEvent::Emitted {
                ack,
                name,
                outcome,
                elapsed,
            } => Event::Answer {
                ack,
                name,
                outcome,
                elapsed,
            },
            SessionEvent::Rtt(rtt) => Event::Rtt(rtt),
            SessionEvent::Error(e) => Event::Error(e),
            SessionEvent::Closed(closed) => {
                self.closed_told = true;
                Event::Closed(closed)
            }
            SessionEvent::Reconnecting {
                attempt,
                wait,
                cause,
            } => Event::Reconnecting {
                attempt,
                wait,
                cause,
            },
            SessionEvent::Resumed {
                room,
                after,
                attempts,
            } => Event::Resumed {
                room,
                after,
                attempts,
            },
            SessionEvent::Lost(reason) => {
                if !reason.connected() {
                    self.closed_told = true;
                }
                Event::Lost(reason)
            }
            SessionEvent::Redirected { node, ws } => Event::Redirected { node, ws },
            SessionEvent::Moved {
                node,
                after,
                attempts,
                ..
            } => Event::Moved {
                node,
                after,
                attempts,
            },
        })
    }

    /// The next event already received, without waiting.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.absorb();
        while let Some(event) = self.inbox.pop_front() {
            if let Some(event) = self.deliver(event) {
                return Some(event);
            }
        }
        None
    }

    /// Waits for the next event, handling the routine traffic on the way
    /// (pings answered, updates applied and acknowledged, handlers run).
    /// After [`Event::Closed`] it returns the closing error. Cancel-safe:
    /// it can sit in a `select!` beside the application's own timers.
    pub async fn next_event(&mut self) -> Result<Event, ClientError> {
        loop {
            if let Some(event) = self.poll_event() {
                return Ok(event);
            }
            if self.closed_told {
                return Err(self.ended_error());
            }
            self.step().await?;
        }
    }

    /// Low level: the next server message as it arrived, after the session
    /// handled it (pings answered, updates applied, answers matched; the
    /// events it made wait for [`Client::next_event`] or
    /// [`Client::poll_event`]); `None` once the connection has ended.
    /// Needs [`ClientBuilder::keep_messages`].
    pub async fn next_message(&mut self) -> Result<Option<ServerMessage>, ClientError> {
        loop {
            if let Some(message) = self.kept.as_mut().and_then(VecDeque::pop_front) {
                return Ok(Some(message));
            }
            if self.kept.is_none() {
                return Err(ClientError::Unexpected(
                    "next_message needs ClientBuilder::keep_messages",
                ));
            }
            if self.ended {
                return Ok(None);
            }
            self.step().await?;
        }
    }

    /// Drives the connection until `pick` takes an event from the inbox.
    async fn wait<T>(
        &mut self,
        mut pick: impl FnMut(&SessionEvent) -> bool,
        take: impl Fn(SessionEvent) -> Option<T>,
    ) -> Result<T, ClientError> {
        loop {
            self.absorb();
            if let Some(i) = self.inbox.iter().position(&mut pick)
                && let Some(event) = self.inbox.remove(i)
                && let Some(found) = take(event)
            {
                return Ok(found);
            }
            self.step().await?;
        }
    }

    // ---- lobby ----

    async fn request(&mut self, request: Request) -> Result<Answer, ClientError> {
        let id = self.session.request(now(), request)?;
        self.send_queued().await?;
        let result = self
            .wait(
                |e| matches!(e, SessionEvent::Answered { id: got, .. } if *got == id),
                |e| match e {
                    SessionEvent::Answered { result, .. } => Some(result),
                    _ => None,
                },
            )
            .await?;
        result.map_err(|failure| match failure {
            RequestFailure::Refused(e) => ClientError::Refused(e),
            RequestFailure::TimedOut => ClientError::Timeout,
            RequestFailure::Closed => self.ended_error(),
            RequestFailure::Interrupted => ClientError::Interrupted,
            RequestFailure::Unexpected => ClientError::Unexpected("the wrong kind of answer"),
            RequestFailure::Redirected(r) => ClientError::Redirected(Box::new(r)),
        })
    }

    fn joined(answer: Answer) -> Result<Joined, ClientError> {
        match answer {
            Answer::Joined(joined) => Ok(joined),
            _ => Err(ClientError::Unexpected("expected Joined")),
        }
    }

    /// The public rooms passing `filter` (`RoomFilter::default()` for all).
    pub async fn list_rooms(&mut self, filter: RoomFilter) -> Result<Vec<RoomInfo>, ClientError> {
        match self.request(Request::ListRooms(filter)).await? {
            Answer::RoomList(rooms) => Ok(rooms),
            _ => Err(ClientError::Unexpected("expected RoomList")),
        }
    }

    /// Creates a room and joins it (as a player unless `spec` says
    /// otherwise).
    pub async fn create_room(&mut self, mut spec: RoomSpec) -> Result<Joined, ClientError> {
        spec.join_as.get_or_insert(Role::Player);
        Self::joined(self.request(Request::CreateRoom(spec)).await?)
    }

    /// Creates a room without joining it; the answer has its invite code.
    pub async fn create_room_unjoined(&mut self, spec: RoomSpec) -> Result<RoomInfo, ClientError> {
        match self
            .request(Request::CreateRoom(spec.join_as(None)))
            .await?
        {
            Answer::RoomCreated(room) => Ok(room),
            _ => Err(ClientError::Unexpected("expected RoomCreated")),
        }
    }

    /// Joins a room by id or invite code.
    pub async fn join(&mut self, target: RoomTarget, role: Role) -> Result<Joined, ClientError> {
        self.join_with(target, role, GameOptions::default()).await
    }

    /// Joins a room, with options for the game's join hook.
    pub async fn join_with(
        &mut self,
        target: RoomTarget,
        role: Role,
        join_options: GameOptions,
    ) -> Result<Joined, ClientError> {
        Self::joined(
            self.request(Request::JoinRoom {
                target,
                role,
                join_options,
            })
            .await?,
        )
    }

    /// Joins the fullest matching public room with a free seat, or a new
    /// one (`QuickJoinSpec::default()`: any room of the default game).
    pub async fn quick_join(&mut self, spec: QuickJoinSpec) -> Result<Joined, ClientError> {
        Self::joined(self.request(Request::QuickJoin(spec)).await?)
    }

    /// Leaves the current room.
    pub async fn leave(&mut self) -> Result<Left, ClientError> {
        match self.request(Request::LeaveRoom).await? {
            Answer::Left(left) => Ok(left),
            _ => Err(ClientError::Unexpected("expected Left")),
        }
    }

    async fn greeted(&mut self) -> Result<(), ClientError> {
        loop {
            self.absorb();
            if self.session.welcome().is_some() {
                return Ok(());
            }
            if self.session.is_closed() {
                return Err(self.ended_error());
            }
            self.step().await?;
        }
    }

    // ---- play ----

    /// Sends one game input (the codec encodes it) with the next sequence
    /// number and the repeated earlier ones; in [`AckMode::WithInput`] the
    /// acknowledgement, a held ping answer and a ping asked for with
    /// [`Client::ping_with_next_input`] leave in the same write.
    pub async fn send_input<I: Serialize>(&mut self, input: &I) -> Result<(), ClientError> {
        self.session.send_input_value(input)?;
        self.send_queued().await
    }

    /// [`Client::send_input`] with an input already encoded.
    pub async fn send_input_bytes(&mut self, input: Vec<u8>) -> Result<(), ClientError> {
        self.session.send_input(input)?;
        self.send_queued().await
    }

    /// Pings the server; the answer comes as [`Event::Rtt`].
    pub async fn ping(&mut self) -> Result<(), ClientError> {
        self.session.ping()?;
        self.send_queued().await
    }

    /// Has the next input carry a ping along (one write upstream per tick
    /// instead of two).
    pub fn ping_with_next_input(&mut self) {
        self.session.ping_with_next_input();
    }

    // ---- events ----

    /// Runs `handler` for every server event named `event` (replacing an
    /// earlier handler for it). It runs inside whichever call is driving
    /// the connection, so it must not block; to answer, use the event's
    /// [`AckSender`] ([`ServerEvent::answer`], or
    /// [`ServerEvent::take_ack`] to answer later from another task).
    ///
    /// ```no_run
    /// # fn demo(client: &mut tickwire_client::Client) {
    /// #[derive(serde::Deserialize)]
    /// struct Vote { options: Vec<String> }
    /// client.on("vote", |event| {
    ///     let first = event.data::<Vote>().ok().and_then(|v| v.options.into_iter().next());
    ///     let _ = event.answer(&first);
    /// });
    /// # }
    /// ```
    pub fn on<F>(&mut self, event: impl Into<String>, handler: F)
    where
        F: FnMut(ServerEvent) + Send + 'static,
    {
        self.handlers.insert(event.into(), Box::new(handler));
    }

    /// Removes the handler for `event`; its events come as
    /// [`Event::Event`] again.
    pub fn off(&mut self, event: &str) {
        self.handlers.remove(event);
    }

    /// Emits an event with `data` as JSON, wanting no answer. A refusal
    /// comes back as [`Event::Error`].
    pub async fn emit<T: Serialize + ?Sized>(
        &mut self,
        event: &str,
        data: &T,
    ) -> Result<(), ClientError> {
        self.emit_bytes(event, serde_json::to_vec(data)?).await
    }

    /// [`Client::emit`] with raw bytes.
    pub async fn emit_bytes(&mut self, event: &str, data: Vec<u8>) -> Result<(), ClientError> {
        self.session.emit(event, data)?;
        self.send_queued().await
    }

    /// Emits an event with `data` as JSON and waits for the answer (JSON
    /// of type `R`), the refusal, or `timeout`. Everything else that
    /// arrives meanwhile is handled as usual and kept for
    /// [`Client::next_event`].
    pub async fn emit_with_ack<T, R>(
        &mut self,
        event: &str,
        data: &T,
        timeout: Duration,
    ) -> Result<R, EmitError>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let data = serde_json::to_vec(data).map_err(ClientError::from)?;
        let answer = self.emit_with_ack_bytes(event, data, timeout).await?;
        serde_json::from_slice(&answer).map_err(EmitError::Decode)
    }

    /// [`Client::emit_with_ack`] with raw bytes both ways.
    pub async fn emit_with_ack_bytes(
        &mut self,
        event: &str,
        data: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, EmitError> {
        let ack = self
            .session
            .emit_with_ack(now(), event, data, timeout)
            .map_err(ClientError::from)?;
        self.send_queued().await?;
        let outcome = self
            .wait(
                |e| matches!(e, SessionEvent::Emitted { ack: got, .. } if *got == ack),
                |e| match e {
                    SessionEvent::Emitted { outcome, .. } => Some(outcome),
                    _ => None,
                },
            )
            .await?;
        match outcome {
            EmitOutcome::Answered(data) => Ok(data),
            EmitOutcome::Refused { code, message } => Err(EmitError::Refused { code, message }),
            EmitOutcome::TimedOut => Err(EmitError::TimedOut),
            EmitOutcome::Closed => Err(EmitError::Client(self.ended_error())),
            EmitOutcome::Interrupted => Err(EmitError::Client(ClientError::Interrupted)),
        }
    }

    /// Emits an event with `data` as JSON wanting an answer by `timeout`,
    /// without waiting: the outcome comes as [`Event::Answer`] with the
    /// ack id returned (for clients that keep many in flight, like the
    /// bots).
    pub async fn emit_with_ack_id<T: Serialize + ?Sized>(
        &mut self,
        event: &str,
        data: &T,
        timeout: Duration,
    ) -> Result<AckId, ClientError> {
        let data = serde_json::to_vec(data)?;
        let ack = self.session.emit_with_ack(now(), event, data, timeout)?;
        self.send_queued().await?;
        Ok(ack)
    }

    /// Waits up to `timeout` for a server event named `event` (it skips
    /// any handler for that name); everything else is handled as usual and
    /// kept for [`Client::next_event`].
    pub async fn wait_for_event(
        &mut self,
        event: &str,
        timeout: Duration,
    ) -> Result<ServerEvent, ClientError> {
        self.waiting_for = Some(event.to_owned());
        let answers = Arc::clone(&self.answers);
        let found = tokio::time::timeout(
            timeout,
            self.wait(
                |e| matches!(e, SessionEvent::Event(incoming) if incoming.name == event),
                |e| match e {
                    SessionEvent::Event(incoming) => Some(ServerEvent::new(
                        incoming.name,
                        incoming.data,
                        incoming
                            .reply_to
                            .map(|to| AckSender::new(to, Arc::clone(&answers))),
                    )),
                    _ => None,
                },
            ),
        )
        .await;
        self.waiting_for = None;
        found.map_err(|_| ClientError::Timeout)?
    }

    // ---- raw ----

    /// Sends a protocol message as is, outside the session's bookkeeping
    /// (its request ids, ack ids and sequence numbers are the caller's):
    /// for protocol tests and tools.
    pub async fn send_message(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        self.transmit()?;
        self.buf.clear();
        codec::encode_client(message, &mut self.buf)?;
        let delivery = match message {
            ClientMessage::Inputs(_) | ClientMessage::Ack(_) => {
                tickwire_shared::client::Delivery::Unreliable
            }
            _ => tickwire_shared::client::Delivery::Reliable,
        };
        let buf = std::mem::take(&mut self.buf);
        let link = self.link()?;
        let queued = link.queue(&buf, delivery);
        self.buf = buf;
        queued?;
        self.link()?.flush().await
    }

    /// Sends a frame as is (malformed, oversize, text): for protocol tests
    /// and misbehaving bots.
    pub async fn send_raw(&mut self, frame: RawFrame) -> Result<(), ClientError> {
        self.transmit()?;
        let link = self.link()?;
        link.queue_raw(frame)?;
        link.flush().await
    }

    /// Closes the session politely: says goodbye, waits (at most a second)
    /// for it to leave, and closes the transport.
    pub async fn close(mut self) {
        self.session.close("bye");
        let _ = tokio::time::timeout(Duration::from_secs(1), self.send_queued()).await;
        if let Some(link) = self.link.take() {
            link.close().await;
        }
    }
}
