//! Server settings: every limit and timeout in one place, each with its
//! unit, default and reason. The binary fills a [`ServerConfig`] from flags
//! and an optional TOML file; the library never reads argv or the
//! environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tickwire_shared::codec::MAX_CLIENT_FRAME;

/// Everything a server needs to start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the one TCP port serving `/ws` and HTTP. Default
    /// `127.0.0.1:7000`.
    pub bind: SocketAddr,
    /// Address of the TLS port serving `wss://.../ws` (WebSocket only, no
    /// HTTP). Default `None`: no TLS listener, so existing setups are
    /// unchanged; the plain port keeps serving either way.
    pub tls_bind: Option<SocketAddr>,
    /// UDP address of the QUIC endpoint (ALPN `tickwire/1`; same
    /// certificate as the TLS port). Default `None`: no QUIC.
    pub quic_bind: Option<SocketAddr>,
    /// UDP address of the WebTransport endpoint (HTTP/3, ALPN `h3`), for
    /// browsers: sessions at `https://HOST:PORT/tickwire`, framed as on
    /// QUIC. With `tls_cert` and `tls_key` it presents that certificate;
    /// without, a development certificate browsers accept by its hash
    /// (ECDSA P-256, valid 13 days), which `GET /webtransport` hands to
    /// pages. Default `None`: no WebTransport.
    pub webtransport_bind: Option<SocketAddr>,
    /// Address of the admin port: plain HTTP with `/healthz`, `/metrics`
    /// and `/rooms` only, outside the game connections' caps, so probes
    /// are answered while game connections are saturated (point the
    /// Kubernetes probes and the Prometheus scrape here). Default `None`:
    /// no admin port; the game port keeps serving the same endpoints.
    pub admin_bind: Option<SocketAddr>,
    /// PEM certificate chain (leaf first) for the TLS port. Default `None`:
    /// with `tls_bind` set, a development certificate is generated at start
    /// and its fingerprint logged. Give both `tls_cert` and `tls_key` or
    /// neither.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key matching `tls_cert`. Default `None` (see
    /// `tls_cert`).
    pub tls_key: Option<PathBuf>,
    /// Name shown to clients in logs and `/healthz`.
    pub server_name: String,
    /// Seed for the rooms' games. Default `None`: each room's seed is
    /// drawn from the OS RNG, so clients cannot predict a room's random
    /// events. `Some(s)`: room `n` gets `s + n`, so a run can be replayed
    /// (tests, benchmarks); never in production.
    pub seed: Option<u64>,
    /// Ticks spectators are served behind the players: a spectator's
    /// updates carry the world as it was that many ticks ago, never the
    /// present, so a spectator cannot relay what it sees to a player
    /// (ghosting). Default 0 (live). Each room then keeps that many more
    /// snapshots; at most [`MAX_SPECTATOR_DELAY`].
    pub spectator_delay_ticks: u32,
    /// Browser origins allowed to open a WebSocket or a WebTransport
    /// session (`Origin` header, e.g. `https://play.example.com`), compared
    /// without regard to case. Default empty: any origin. A request with
    /// an `Origin` not listed is answered 403; one without `Origin` (not a
    /// browser) is allowed.
    pub allowed_origins: Vec<String>,
    /// Room shards: threads that each run rooms and their members'
    /// sessions on a single-threaded runtime, so a tick never wakes another
    /// thread. Default 0: one per available core.
    pub shards: usize,
    /// Connection, room and message bounds.
    pub limits: Limits,
    /// Timeouts and intervals.
    pub timeouts: Timeouts,
    /// Who may connect: open (the default, logged at WARN at start) or
    /// JSON Web Tokens.
    pub auth: AuthConfig,
    /// The operator API's bearer token (`/api/admin/*`, the `/ops` page):
    /// every room with its members, the figures over time, kick and close.
    /// Default `None`: a random token is drawn at start and logged, so the
    /// operator API is never open.
    pub admin_token: Option<Secret>,
    /// The cluster (`[cluster]`): several nodes sharing one room directory
    /// in Redis. Default `None`: the node runs alone.
    pub cluster: Option<ClusterConfig>,
}

/// Joining a cluster: the `[cluster]` table (`--cluster redis://HOST:PORT`).
/// The node writes its record and its public rooms to Redis on every
/// heartbeat with an expiry, and `/rooms` lists every live node's rooms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// The Redis holding the directory, `redis://HOST:PORT[/DB]` (no TLS:
    /// keep Redis on a private network). Default `redis://127.0.0.1:6379`.
    pub url: String,
    /// This node's id in the directory: 1 to 64 letters, digits, `-`, `_`
    /// or `.`, unique in the cluster. Default `None`: drawn at start
    /// (16 hex digits, logged).
    pub node_id: Option<String>,
    /// The WebSocket URL other nodes' listings give clients for this node's
    /// rooms (`ws://` or `wss://`). Default `None`: `ws://BIND/ws` with the
    /// bound address (the loopback address when bound to all addresses;
    /// set it behind NAT or a load balancer).
    pub advertise_ws: Option<String>,
    /// The QUIC address (`host:port`) other nodes' redirects give clients
    /// that use QUIC. Default `None`: the bound `quic_bind` address (the
    /// loopback address when bound to all addresses); no QUIC without
    /// `quic_bind`.
    pub advertise_quic: Option<String>,
    /// The secret every node of the cluster signs and checks seat
    /// reservations with (at least 16 bytes). Default `None`: the first
    /// node to reach Redis draws one and stores it there
    /// (`tickwire:secret`), and the others read it: anyone who can write
    /// to the cluster's Redis can already redirect its clients.
    pub secret: Option<Secret>,
    /// How long a seat reservation handed out with a redirect stays
    /// valid, ms. Default 30 000; 1 000..=300 000.
    pub reservation_ms: u64,
    /// How often the node writes its record and reads the others', ms.
    /// Default 400.
    pub heartbeat_ms: u64,
    /// How long a record lives without a refresh, ms: a node that dies
    /// leaves every listing at most this long (plus a reader's heartbeat)
    /// later (1.6 s by default, inside the 2 s a listing may lag). Default
    /// 1 200 (three beats: a node may miss two); must exceed `heartbeat_ms`.
    pub expiry_ms: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            node_id: None,
            advertise_ws: None,
            advertise_quic: None,
            secret: None,
            reservation_ms: crate::cluster::reservation::DEFAULT_LIFETIME_MS,
            heartbeat_ms: 400,
            expiry_ms: 1_200,
        }
    }
}

impl ClusterConfig {
    /// [`ClusterConfig::heartbeat_ms`] as a duration.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }

    /// Checks the cluster settings on their own.
    fn problem(&self) -> Option<(&'static str, &'static str)> {
        let host = self.url.strip_prefix("redis://").unwrap_or("");
        if host.is_empty() || host.starts_with('/') {
            return Some((
                "cluster.url",
                "must be redis://HOST:PORT (rediss:// is not supported)",
            ));
        }
        if self
            .node_id
            .as_deref()
            .is_some_and(|id| !crate::cluster::valid_node_id(id))
        {
            return Some((
                "cluster.node_id",
                "1 to 64 letters, digits, '-', '_' or '.'",
            ));
        }
        if self
            .advertise_ws
            .as_deref()
            .is_some_and(|u| !(u.starts_with("ws://") || u.starts_with("wss://")))
        {
            return Some(("cluster.advertise_ws", "must be a ws:// or wss:// URL"));
        }
        if self.secret.as_ref().is_some_and(|s| s.expose().len() < 16) {
            return Some(("cluster.secret", "must have at least 16 bytes"));
        }
        if !(1_000..=300_000).contains(&self.reservation_ms) {
            return Some(("cluster.reservation_ms", "must be 1000..=300000"));
        }
        if self.heartbeat_ms < 50 || self.heartbeat_ms > 60_000 {
            return Some(("cluster.heartbeat_ms", "must be 50..=60000"));
        }
        if self.expiry_ms <= self.heartbeat_ms {
            return Some(("cluster.expiry_ms", "must exceed cluster.heartbeat_ms"));
        }
        None
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 7000)),
            tls_bind: None,
            quic_bind: None,
            webtransport_bind: None,
            admin_bind: None,
            tls_cert: None,
            tls_key: None,
            server_name: "tickwire".into(),
            seed: None,
            spectator_delay_ticks: 0,
            allowed_origins: Vec::new(),
            shards: 0,
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            auth: AuthConfig::default(),
            admin_token: None,
            cluster: None,
        }
    }
}

/// A secret that never shows in `Debug` output (a logged config, say).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `secret`.
    pub fn new(secret: &str) -> Self {
        Self(secret.to_owned())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The signature algorithm of the tokens clients present.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a secret shared with the login backend.
    #[default]
    HS256,
    /// RSA PKCS#1 v1.5 with SHA-256: the server holds the public key.
    RS256,
    /// Ed25519: the server holds the public key.
    EdDSA,
}

/// Authentication: the `[auth]` table. Off by default (an open server:
/// any client that says `Hello` plays, and the start logs a WARN saying
/// so). With `enabled`, clients present a JSON Web Token as the `Hello`'s
/// `auth_ticket`; it is verified before the `Welcome`, and its claims
/// reach the game's join hook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Verify tokens. Default false (open server).
    pub enabled: bool,
    /// The algorithm tokens must be signed with. Default `HS256`.
    pub algorithm: JwtAlgorithm,
    /// The HS256 shared secret, inline. Prefer `secret_file`: a config
    /// file is read by more people than a secret should be.
    pub secret: Option<Secret>,
    /// A file holding the HS256 secret (trailing whitespace trimmed).
    pub secret_file: Option<PathBuf>,
    /// PEM public key (SPKI) for RS256 or EdDSA.
    pub public_key_file: Option<PathBuf>,
    /// The `iss` tokens must carry. Default `None`: not checked.
    pub issuer: Option<String>,
    /// The `aud` tokens must carry. Default `None`: tokens must carry no
    /// `aud` at all (one meant for another service is refused).
    pub audience: Option<String>,
    /// Clock skew forgiven on `exp` and `nbf`, seconds. Default 30: login
    /// backends and game servers are NTP-synced, but not to the second.
    pub leeway_s: u64,
    /// Whether a `Hello` without a ticket is refused (`token required`).
    /// Default true; false lets anonymous clients in beside
    /// authenticated ones (the game sees no identity for them).
    pub required: bool,
    /// One session per account (the token's `sub`): a second session
    /// that authenticates as the same account replaces the first, which
    /// is closed with `Replaced` (its seat waits for a resume, as after a
    /// drop). Default true: an account cannot sit twice.
    pub one_session_per_account: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            algorithm: JwtAlgorithm::HS256,
            secret: None,
            secret_file: None,
            public_key_file: None,
            issuer: None,
            audience: None,
            leeway_s: 30,
            required: true,
            one_session_per_account: true,
        }
    }
}

/// Most [`ServerConfig::spectator_delay_ticks`]: 10 s at 60 Hz; every
/// room keeps this many extra snapshots.
pub const MAX_SPECTATOR_DELAY: u32 = 600;

impl ServerConfig {
    /// The seed of room `room`'s game: from the reproducible
    /// [`ServerConfig::seed`] when set, else `draw()` (the OS RNG in the
    /// server).
    pub fn room_seed(&self, room: u64, draw: impl FnOnce() -> u64) -> u64 {
        match self.seed {
            Some(seed) => seed.wrapping_add(room),
            None => draw(),
        }
    }

    /// Whether a WebSocket upgrade or a WebTransport session request
    /// carrying `origin` (its `Origin` header, if any) may go ahead.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        match origin {
            None => true,
            Some(_) if self.allowed_origins.is_empty() => true,
            Some(origin) => {
                let origin = origin.trim().trim_end_matches('/');
                self.allowed_origins
                    .iter()
                    .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
            }
        }
    }
}

/// Bounds on everything a peer can make the server hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Open connections in all (WebSocket and HTTP). Default 10 000: with
    /// 4 KiB read buffers and bounded queues a connection costs tens of KiB.
    pub max_connections: usize,
    /// Open connections from one IP address. Default 1 024: a NAT or a bot
    /// host may carry many players, but one address must not take the
    /// whole server.
    pub max_connections_per_ip: usize,
    /// Connections still in the WebSocket or HTTP handshake. Default 512:
    /// handshakes are cheap but a slowloris opens them by the thousand.
    pub max_pending_handshakes: usize,
    /// Connections from one IP address still in their handshake (TCP
    /// accepted, `Hello` not yet read). Default 128, a quarter of
    /// `max_pending_handshakes`: one address that opens upgrades and never
    /// greets cannot take every handshake slot from the others, while a
    /// NAT or a bot host connecting hundreds of players in a burst (a
    /// swarm's ramp-up on a loaded server, where a handshake can take
    /// 100 ms) still fits.
    pub max_pending_handshakes_per_ip: usize,
    /// Rooms at once. Default 1 024.
    pub max_rooms: usize,
    /// Seats a room may ask for. Default 256 (the workload's crowd size).
    pub max_players_per_room: u16,
    /// Spectators per room. Default 64.
    pub max_spectators_per_room: u16,
    /// Seats of a room made by quick-join. Default 16.
    pub quick_join_room_size: u16,
    /// Largest frame accepted from a client, bytes. Default 4 KiB: inputs
    /// and lobby requests are tens of bytes; events fit with room to spare.
    /// It is also the WebSocket frame and message limit.
    pub max_client_frame: usize,
    /// Sustained messages per second from one client. Default 120: a
    /// player sends an input and an ack per tick at 30 Hz, plus pings.
    pub messages_per_second: u32,
    /// Burst of messages above the sustained rate. Default 240.
    pub message_burst: u32,
    /// Control messages (lobby answers, events, errors) queued for one
    /// client. Default 64; when full, further ones are dropped and counted.
    pub control_queue: usize,
    /// Kernel send buffer per connection, bytes (0 keeps the OS default).
    /// Default 64 KiB: bounds what a client that stops reading costs in
    /// kernel memory, and makes its writes block (and the session close it
    /// as a slow consumer) after seconds rather than megabytes.
    pub send_buffer_bytes: usize,
    /// Oldest acknowledged state a delta may be encoded against, ticks.
    /// Default 32 (Quake 3's PACKET_BACKUP); older acks get a full
    /// snapshot. Must be below the client replica's history (64).
    pub max_baseline_age: u32,
    /// Largest event data, bytes, either way. Default 3 KiB: with the
    /// name and the framing an event fits a client frame (4 KiB), so a
    /// larger one is refused as an event (`EventTooLarge`, the session
    /// goes on) rather than cut off as a frame.
    pub max_event_bytes: usize,
    /// Sustained events per second from one client (within its message
    /// rate). Default 20: chat, votes and purchases are a few a second;
    /// beyond it events are refused with `RateLimited` and the session
    /// goes on.
    pub events_per_second: u32,
    /// Burst of events above the sustained rate. Default 40.
    pub event_burst: u32,
    /// Bytes a second a room's game may emit, summed over recipients (a
    /// 1 KiB event to 16 members costs 16 KiB). Default 256 KiB; beyond
    /// it the game's emits are refused (and counted).
    pub room_event_bytes_per_second: u32,
    /// Emitted events a room's game may await answers to at once.
    /// Default 1 024.
    pub max_pending_answers: usize,
    /// Rooms one client may create a minute (all at once, then one every
    /// 60/n s). Default 10: a player creates a room or two a session;
    /// beyond it the request is refused with `RateLimited`.
    pub rooms_per_minute_per_client: u32,
    /// Rooms one IP address may create a minute, over all its clients
    /// (quick-joins that create included). Default 60: a NAT or a bot host
    /// carries many players, but one address must not fill the server.
    pub rooms_per_minute_per_ip: u32,
    /// Addresses whose room creations are tracked at once. Default
    /// 65 536: an entry is dropped once its allowance is full again (a
    /// minute idle); past this bound the oldest entries go first.
    pub max_tracked_addresses: usize,
}

/// Bytes an event frame holds besides its name and data (kind byte,
/// length prefixes, the ack id), rounded up.
const EVENT_FRAMING: usize = 16;

impl Limits {
    /// The bounds on what a room's game emits.
    pub fn event_limits(&self) -> tickwire_shared::game::EventLimits {
        tickwire_shared::game::EventLimits {
            max_data: self.max_event_bytes,
            room_bytes_per_second: self.room_event_bytes_per_second,
            max_pending_answers: self.max_pending_answers,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_connections_per_ip: 1_024,
            max_pending_handshakes: 512,
            max_pending_handshakes_per_ip: 128,
            max_rooms: 1_024,
            max_players_per_room: 256,
            max_spectators_per_room: 64,
            quick_join_room_size: 16,
            max_client_frame: MAX_CLIENT_FRAME,
            messages_per_second: 120,
            message_burst: 240,
            control_queue: 64,
            send_buffer_bytes: 64 * 1024,
            max_baseline_age: 32,
            max_event_bytes: 3072,
            events_per_second: 20,
            event_burst: 40,
            room_event_bytes_per_second: 256 * 1024,
            max_pending_answers: 1024,
            rooms_per_minute_per_client: 10,
            rooms_per_minute_per_ip: 60,
            max_tracked_addresses: 65_536,
        }
    }
}

/// Timeouts and intervals, in milliseconds in files and flags.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// From TCP accept to a completed WebSocket upgrade and `Hello`, ms.
    /// Default 5 000: tokio-tungstenite has no handshake timeout of its own.
    pub handshake_ms: u64,
    /// Silence from a client before it is dropped, ms. Default 15 000
    /// (clients are pinged every second and must answer).
    pub idle_ms: u64,
    /// Server ping interval, ms. Default 1 000. For a room member it is
    /// rounded to whole ticks and falls on the room's tick instants, so a
    /// ping never wakes the server between two ticks.
    pub heartbeat_ms: u64,
    /// A write to a client that takes longer than this closes it as a slow
    /// consumer, ms. Default 5 000. Rooms never wait for it: a slow client
    /// only ever has the newest update pending.
    pub write_ms: u64,
    /// How long an empty room lives before it is disposed, ms. Default
    /// 30 000.
    pub empty_room_ms: u64,
    /// How long a drain lasts at most, ms: after the first shutdown
    /// signal the server refuses new rooms and joins (`ServerDraining`)
    /// and answers `/healthz` with 503 `draining`, while running rooms
    /// play on until they are empty or this passes; then the graceful
    /// shutdown (`shutdown_ms`) follows. Default 30 000 (Kubernetes'
    /// default grace period is 30 s: raise `terminationGracePeriodSeconds`
    /// above `drain_ms + shutdown_ms`). 0: no drain, shut down at once.
    pub drain_ms: u64,
    /// How long a room nobody has joined yet lives, ms (at most
    /// `empty_room_ms`). Default 5 000: the creator joins at once (or
    /// shares the code); a room created and never joined only holds a
    /// slot of `max_rooms`.
    pub unjoined_room_ms: u64,
    /// How long a graceful shutdown may take before connections are cut,
    /// ms. Default 3 000.
    pub shutdown_ms: u64,
    /// How long a dropped player's seat (avatar, score) waits for it to
    /// come back with its resume token, ms. Default 30 000: long enough
    /// for a phone to change networks or a train to leave a tunnel; 0
    /// frees the seat at once.
    pub reconnect_grace_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            handshake_ms: 5_000,
            idle_ms: 15_000,
            heartbeat_ms: 1_000,
            write_ms: 5_000,
            empty_room_ms: 30_000,
            drain_ms: 30_000,
            unjoined_room_ms: 5_000,
            shutdown_ms: 3_000,
            reconnect_grace_ms: 30_000,
        }
    }
}

impl Timeouts {
    /// [`Timeouts::reconnect_grace_ms`] as a duration.
    pub fn reconnect_grace(&self) -> Duration {
        Duration::from_millis(self.reconnect_grace_ms)
    }

    /// [`Timeouts::handshake_ms`] as a duration.
    pub fn handshake(&self) -> Duration {
        Duration::from_millis(self.handshake_ms)
    }
    /// [`Timeouts::idle_ms`] as a duration.
    pub fn idle(&self) -> Duration {
        Duration::from_millis(self.idle_ms)
    }
    /// [`Timeouts::heartbeat_ms`] as a duration.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }
    /// [`Timeouts::write_ms`] as a duration.
    pub fn write(&self) -> Duration {
        Duration::from_millis(self.write_ms)
    }
    /// [`Timeouts::empty_room_ms`] as a duration.
    pub fn empty_room(&self) -> Duration {
        Duration::from_millis(self.empty_room_ms)
    }
    /// [`Timeouts::drain_ms`] as a duration.
    pub fn drain(&self) -> Duration {
        Duration::from_millis(self.drain_ms)
    }
    /// How long a room never joined lives: [`Timeouts::unjoined_room_ms`],
    /// at most [`Timeouts::empty_room_ms`].
    pub fn unjoined_room(&self) -> Duration {
        Duration::from_millis(self.unjoined_room_ms.min(self.empty_room_ms))
    }
    /// [`Timeouts::shutdown_ms`] as a duration.
    pub fn shutdown(&self) -> Duration {
        Duration::from_millis(self.shutdown_ms)
    }
}

/// A setting that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {field}: {reason}")]
pub struct ConfigError {
    /// The setting.
    pub field: &'static str,
    /// Why.
    pub reason: &'static str,
}

impl ServerConfig {
    /// Checks that the settings can work together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        let t = &self.timeouts;
        let a = &self.auth;
        let symmetric = a.algorithm == JwtAlgorithm::HS256;
        let checks: [(bool, &'static str, &'static str); 29] = [
            (
                a.enabled && symmetric && a.secret.is_none() == a.secret_file.is_none(),
                "auth.secret",
                "HS256 needs exactly one of auth.secret and auth.secret_file",
            ),
            (
                a.enabled && symmetric && a.public_key_file.is_some(),
                "auth.public_key_file",
                "HS256 uses a secret, not a public key",
            ),
            (
                a.enabled
                    && !symmetric
                    && (a.public_key_file.is_none()
                        || a.secret.is_some()
                        || a.secret_file.is_some()),
                "auth.public_key_file",
                "RS256 and EdDSA need auth.public_key_file (and no secret)",
            ),
            (
                a.leeway_s > 600,
                "auth.leeway_s",
                "at most 600 seconds (a larger skew is a broken clock)",
            ),
            (
                self.shards > 1024,
                "shards",
                "at most 1024 (0 means one per core)",
            ),
            (
                self.tls_cert.is_some() != self.tls_key.is_some(),
                "tls_cert",
                "tls_cert and tls_key go together (give both or neither)",
            ),
            (
                self.tls_cert.is_some()
                    && self.tls_bind.is_none()
                    && self.quic_bind.is_none()
                    && self.webtransport_bind.is_none(),
                "tls_cert",
                "a certificate needs tls_bind, quic_bind or webtransport_bind to be used",
            ),
            (
                self.webtransport_bind
                    .is_some_and(|a| a.port() != 0 && Some(a) == self.quic_bind),
                "webtransport_bind",
                "must differ from quic_bind (both are UDP ports)",
            ),
            (
                self.tls_bind == Some(self.bind) && self.bind.port() != 0,
                "tls_bind",
                "must differ from bind",
            ),
            (
                l.max_connections == 0,
                "limits.max_connections",
                "must be at least 1",
            ),
            (
                l.max_connections_per_ip == 0,
                "limits.max_connections_per_ip",
                "must be at least 1",
            ),
            (
                l.max_pending_handshakes == 0,
                "limits.max_pending_handshakes",
                "must be at least 1",
            ),
            (
                l.max_pending_handshakes_per_ip == 0,
                "limits.max_pending_handshakes_per_ip",
                "must be at least 1",
            ),
            (
                self.admin_bind
                    .is_some_and(|a| a.port() != 0 && (a == self.bind || Some(a) == self.tls_bind)),
                "admin_bind",
                "must differ from bind and tls_bind",
            ),
            (l.max_rooms == 0, "limits.max_rooms", "must be at least 1"),
            (
                l.max_players_per_room == 0,
                "limits.max_players_per_room",
                "must be at least 1",
            ),
            (
                l.quick_join_room_size == 0 || l.quick_join_room_size > l.max_players_per_room,
                "limits.quick_join_room_size",
                "must be 1..=max_players_per_room",
            ),
            (
                l.max_client_frame < 64,
                "limits.max_client_frame",
                "must be at least 64 bytes",
            ),
            (
                l.messages_per_second == 0,
                "limits.messages_per_second",
                "must be at least 1",
            ),
            (
                l.max_event_bytes + tickwire_shared::game::MAX_EVENT_NAME + EVENT_FRAMING
                    > l.max_client_frame,
                "limits.max_event_bytes",
                "an event (data, a 64-byte name and 16 bytes of framing) must fit max_client_frame",
            ),
            (
                l.events_per_second == 0 || l.event_burst == 0,
                "limits.events_per_second",
                "events_per_second and event_burst must be at least 1",
            ),
            (
                l.room_event_bytes_per_second == 0 || l.max_pending_answers == 0,
                "limits.room_event_bytes_per_second",
                "room_event_bytes_per_second and max_pending_answers must be at least 1",
            ),
            (
                l.control_queue == 0,
                "limits.control_queue",
                "must be at least 1",
            ),
            (
                l.max_baseline_age == 0
                    || l.max_baseline_age as usize >= tickwire_shared::client::REPLICA_HISTORY,
                "limits.max_baseline_age",
                "must be 1..64 (below the client's history)",
            ),
            (
                l.rooms_per_minute_per_client == 0
                    || l.rooms_per_minute_per_ip == 0
                    || l.max_tracked_addresses == 0,
                "limits.rooms_per_minute_per_client",
                "rooms_per_minute_per_client, rooms_per_minute_per_ip and max_tracked_addresses must be at least 1",
            ),
            (
                self.spectator_delay_ticks > MAX_SPECTATOR_DELAY,
                "spectator_delay_ticks",
                "at most 600",
            ),
            (
                t.heartbeat_ms == 0 || t.heartbeat_ms >= t.idle_ms,
                "timeouts.heartbeat_ms",
                "must be below idle_ms",
            ),
            (
                t.handshake_ms == 0 || t.write_ms == 0,
                "timeouts",
                "handshake_ms and write_ms must be positive",
            ),
            (
                self.admin_token
                    .as_ref()
                    .is_some_and(|t| t.expose().trim().len() < 16),
                "admin_token",
                "must have at least 16 characters",
            ),
        ];
        if let Some((field, reason)) = self.cluster.as_ref().and_then(ClusterConfig::problem) {
            return Err(ConfigError { field, reason });
        }
        match checks.into_iter().find(|(bad, _, _)| *bad) {
            Some((_, field, reason)) => Err(ConfigError { field, reason }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip_through_toml() {
        let config = ServerConfig::default();
        config.validate().expect("defaults valid");
        let text = toml::to_string(&config).expect("serialises");
        let back: ServerConfig = toml::from_str(&text).expect("parses");
        assert_eq!(back, config);
    }

    #[test]
    fn partial_files_keep_defaults_and_typos_are_errors() {
        let config: ServerConfig = toml::from_str("[limits]\nmax_rooms = 3\n").expect("parses");
        assert_eq!(config.limits.max_rooms, 3);
        assert_eq!(
            config.limits.max_connections,
            Limits::default().max_connections
        );
        assert!(toml::from_str::<ServerConfig>("[limits]\nmax_romos = 3\n").is_err());
    }

    #[test]
    fn impossible_settings_are_rejected() {
        let mut config = ServerConfig::default();
        config.limits.max_baseline_age = 64;
        assert_eq!(
            config.validate().unwrap_err().field,
            "limits.max_baseline_age"
        );
        let mut config = ServerConfig::default();
        config.timeouts.heartbeat_ms = config.timeouts.idle_ms;
        assert_eq!(
            config.validate().unwrap_err().field,
            "timeouts.heartbeat_ms"
        );
        let mut config = ServerConfig::default();
        config.limits.max_pending_handshakes_per_ip = 0;
        assert_eq!(
            config.validate().unwrap_err().field,
            "limits.max_pending_handshakes_per_ip"
        );
        let mut config = ServerConfig::default();
        config.admin_bind = Some(config.bind);
        assert_eq!(config.validate().unwrap_err().field, "admin_bind");
        config.admin_bind = Some(SocketAddr::from(([127, 0, 0, 1], 7001)));
        config.validate().expect("a separate admin port");
    }

    #[test]
    fn seeds_are_drawn_unless_reproducible_and_origins_match_the_list() {
        let mut config = ServerConfig::default();
        assert_eq!(config.room_seed(3, || 99), 99, "drawn by default");
        config.seed = Some(1);
        assert_eq!(config.room_seed(3, || 99), 4, "seed + room id");
        assert!(
            config.origin_allowed(Some("https://evil.example")),
            "no list: any"
        );
        config.allowed_origins = vec!["https://play.example.com".into()];
        assert!(config.origin_allowed(None), "no Origin: not a browser");
        assert!(config.origin_allowed(Some("https://PLAY.example.com/")));
        assert!(!config.origin_allowed(Some("https://evil.example")));
        assert!(!config.origin_allowed(Some("null")));
        config.spectator_delay_ticks = MAX_SPECTATOR_DELAY + 1;
        assert_eq!(
            config.validate().unwrap_err().field,
            "spectator_delay_ticks"
        );
    }

    #[test]
    fn tls_settings_go_together() {
        let mut config = ServerConfig {
            tls_bind: Some(SocketAddr::from(([127, 0, 0, 1], 7443))),
            ..ServerConfig::default()
        };
        config
            .validate()
            .expect("tls_bind alone: development certificate");
        config.tls_cert = Some("cert.pem".into());
        assert_eq!(config.validate().unwrap_err().field, "tls_cert");
        config.tls_key = Some("key.pem".into());
        config.validate().expect("both");
        config.tls_bind = None;
        assert_eq!(config.validate().unwrap_err().field, "tls_cert");
        config.tls_bind = Some(config.bind);
        assert_eq!(config.validate().unwrap_err().field, "tls_bind");
        config.tls_bind = None;
        config.webtransport_bind = Some(SocketAddr::from(([127, 0, 0, 1], 7443)));
        config
            .validate()
            .expect("a certificate for WebTransport alone");
        config.quic_bind = config.webtransport_bind;
        assert_eq!(config.validate().unwrap_err().field, "webtransport_bind");
        config.quic_bind = Some(SocketAddr::from(([127, 0, 0, 1], 7444)));
        config.validate().expect("separate UDP ports");
        let parsed: ServerConfig = toml::from_str(
            "tls_bind = \"127.0.0.1:7443\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n\
             webtransport_bind = \"127.0.0.1:7445\"\n",
        )
        .expect("parses");
        assert_eq!(parsed.tls_key, Some(PathBuf::from("k.pem")));
        assert_eq!(
            parsed.webtransport_bind,
            Some(SocketAddr::from(([127, 0, 0, 1], 7445)))
        );
    }

    #[test]
    fn cluster_settings_are_checked() {
        let mut config: ServerConfig =
            toml::from_str("[cluster]\nurl = \"redis://10.0.0.5:6379\"\n").expect("parses");
        let cluster = config.cluster.clone().expect("cluster");
        assert_eq!(cluster.heartbeat_ms, 400);
        assert_eq!(cluster.expiry_ms, 1_200);
        assert_eq!(cluster.reservation_ms, 30_000);
        config.validate().expect("defaults valid");
        let field = |config: &ServerConfig| config.validate().map_err(|e| e.field);
        let mut bad = config.clone();
        bad.cluster.as_mut().expect("cluster").expiry_ms = 400;
        assert_eq!(field(&bad), Err("cluster.expiry_ms"));
        let mut bad = config.clone();
        bad.cluster.as_mut().expect("cluster").url = "rediss://h:1".into();
        assert_eq!(field(&bad), Err("cluster.url"));
        let mut bad = config.clone();
        bad.cluster.as_mut().expect("cluster").node_id = Some("a:b".into());
        assert_eq!(field(&bad), Err("cluster.node_id"));
        let mut bad = config.clone();
        bad.cluster.as_mut().expect("cluster").advertise_ws = Some("http://x".into());
        assert_eq!(field(&bad), Err("cluster.advertise_ws"));
        let mut bad = config.clone();
        bad.cluster.as_mut().expect("cluster").secret = Some(Secret::new("too short"));
        assert_eq!(field(&bad), Err("cluster.secret"));
        let mut bad = config.clone();
        bad.cluster.as_mut().expect("cluster").reservation_ms = 500;
        assert_eq!(field(&bad), Err("cluster.reservation_ms"));
        config.cluster.as_mut().expect("cluster").heartbeat_ms = 10;
        assert_eq!(field(&config), Err("cluster.heartbeat_ms"));
    }

    #[test]
    fn auth_settings_go_together() {
        let mut config: ServerConfig = toml::from_str(
            "[auth]\nenabled = true\nalgorithm = \"HS256\"\nsecret_file = \"s\"\nissuer = \"studio\"\n",
        )
        .expect("parses");
        assert_eq!(config.auth.leeway_s, 30);
        assert!(config.auth.required);
        config.validate().expect("HS256 with a secret file");
        config.auth.secret = Some(Secret::new("x"));
        assert_eq!(config.validate().unwrap_err().field, "auth.secret");
        config.auth.secret_file = None;
        config.validate().expect("HS256 with an inline secret");
        assert!(
            !format!("{config:?}").contains("\"x\""),
            "secrets stay out of Debug"
        );
        config.auth.algorithm = JwtAlgorithm::EdDSA;
        assert_eq!(config.validate().unwrap_err().field, "auth.public_key_file");
        config.auth.secret = None;
        config.auth.public_key_file = Some("k.pem".into());
        config.validate().expect("EdDSA with a public key");
        config.auth.enabled = false;
        config.auth.public_key_file = None;
        config.validate().expect("off: nothing needed");
    }
}
