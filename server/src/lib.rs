//! # tickwire-server
//!
//! The game server a studio runs: one TCP port serving WebSocket sessions
//! at `/ws` and HTTP (`/healthz`, `/metrics`, `/rooms`, `/webtransport`),
//! optionally a TLS port serving the same WebSocket sessions as `wss://`, a
//! QUIC endpoint and a WebTransport endpoint (for browsers), a lobby of
//! rooms, and one fixed-tick task per room that sends each client a delta
//! against the state it acknowledged.
//!
//! # Layout
//!
//! Pure (no IO, no clock: time comes in as an argument; unit-tested in
//! place):
//! - [`config`]: every limit and timeout, with its reason.
//! - [`session`]: one client's state machine in quinn's sans-IO shape
//!   (`handle_*` in, `poll_command` / `poll_transmit` / `poll_close` /
//!   `poll_timeout` out): handshake, lobby requests, join and leave,
//!   inputs, acks, pings, events, close.
//! - [`lobby`]: room registry (several games), public list filtered by
//!   game and metadata, quick-join, codes, seats, locks;
//!   [`lobby::creations`] bounds the rooms an address creates a minute.
//! - [`room`]: one room's game and its hooks, members, inputs, acks,
//!   events and per-baseline update encoding; [`room::members`] hands
//!   each member its update through its outbox, takes what members send,
//!   and carries out what the game asks (emit, answer, kick, close);
//!   [`room::clock`] is the tick schedule; spectators may be served a
//!   fixed number of ticks late, and [`room::Vacancy`] says when an empty
//!   (or never joined) room goes.
//! - [`outbox`]: one connection's outbox, the one home of what goes to a
//!   client (latest-wins update, reliable frames in order, held pong,
//!   direct writes); shared by the room and the session's task, no IO.
//! - [`reason`]: typed reasons for refusals, drops and faults, with the
//!   labels the metrics use.
//! - `testing` (feature `testing`): the harness that runs lobby, rooms and
//!   sessions in virtual time with in-memory queues.
//!
//! Shell (tokio):
//! - [`transport`]: the [`transport::Link`] every transport produces (it
//!   moves frames only); [`transport::ws`] is the WebSocket adapter,
//!   [`transport::quic`] the QUIC one, [`transport::webtransport`] the
//!   WebTransport one (QUIC's framing in an HTTP/3 session, for browsers),
//!   [`transport::tcp`] the socket that moves between shards, parks while
//!   its room reads it, and takes the room's direct writes.
//! - `runtime`: `admission` (connection caps), `accept` (the accept loops
//!   and handshakes, not generic over the game), `shards` (one
//!   single-threaded runtime per core), `room_task` (a room's tick loop,
//!   which also reads its members' connections on its shard),
//!   `session_task` (a client's short loop around its [`session::Session`]).
//! - [`auth`]: who a client is: the [`Authenticator`] trait, the JSON
//!   Web Token one, and the minter of development tokens.
//! - [`games`]: the games a server hosts, by name ([`Games`]).
//! - [`tls`]: the TLS certificate (PEM files or a generated development
//!   one), its fingerprint and the acceptor of the wss port; the short-lived
//!   development certificate browsers accept for WebTransport by its hash.
//! - [`http`], [`metrics`]: operator endpoints and Prometheus metrics.
//! - [`admin`]: the operator API behind the admin token (rooms, members,
//!   health, figures over time, kick, close).
//! - [`pages`]: the lobby, viewer and operator pages and the JavaScript
//!   client library, embedded in the binary.
//! - [`shutdown`]: SIGINT / SIGTERM, installed before the server listens;
//!   the first starts the drain, a second stops.
//!
//! The binary (`tickwire-server`, flags and the TOML file) is the
//! `tickwire-server-cli` package in `server/cli/`, so that a studio
//! embedding this library compiles none of its dependencies.
//!
//! # Use
//!
//! ```no_run
//! # async fn demo() -> Result<(), tickwire_server::ServerError> {
//! use tickwire_server::{Games, Server, config::ServerConfig};
//! use tickwire_shared::arena::{Arena, ArenaConfig};
//!
//! let games = Games::new().with::<Arena>(ArenaConfig::default());
//! let server = Server::bind(ServerConfig::default(), games).await?;
//! println!("listening on {}", server.local_addr());
//! let signals = tickwire_server::shutdown::Signals::install().expect("signal handlers");
//! // The first signal drains (up to `timeouts.drain_ms`), a second stops.
//! let (drain, stop) = signals.drain_then_stop();
//! server.run_with(drain, stop).await
//! # }
//! ```

pub mod admin;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod error;
pub mod games;
pub mod http;
pub mod lobby;
pub mod metrics;
pub mod outbox;
pub mod pages;
pub mod reason;
pub mod resume;
pub mod room;
pub(crate) mod runtime;
pub mod session;
pub mod shutdown;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tls;
pub mod transport;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use auth::{AuthError, Authenticator, JwtAuthenticator};
pub use error::ServerError;
pub use games::Games;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::config::ServerConfig;
use crate::http::{CertificateHash, WebTransportInfo};
use crate::runtime::Shared;
use crate::runtime::accept::Entry;
use crate::tls::ServerTls;

/// The bound TLS port.
#[derive(Debug)]
struct TlsListener {
    listener: TcpListener,
    addr: SocketAddr,
}

/// The bound WebTransport endpoint and what pages are told about it.
#[derive(Debug)]
struct WebTransportListener {
    endpoint: quinn::Endpoint,
    addr: SocketAddr,
    /// SHA-256 of the certificate it presents.
    certificate_hash: [u8; 32],
    info: WebTransportInfo,
}

/// A bound, not yet running server for its [`Games`].
#[derive(Debug)]
pub struct Server {
    shared: Arc<Shared>,
    listener: TcpListener,
    local_addr: SocketAddr,
    /// The certificate of the TLS port and the QUIC endpoint.
    tls: Option<ServerTls>,
    tls_listener: Option<TlsListener>,
    quic: Option<quinn::Endpoint>,
    webtransport: Option<WebTransportListener>,
    /// The admin port (HTTP only), when one is configured.
    admin: Option<(TcpListener, SocketAddr)>,
}

async fn listen(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ServerError> {
    let bind_error = |source| ServerError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local))
}

/// Loads the configured certificate, or generates the development one and
/// says at WARN how clients accept it.
fn load_tls(config: &ServerConfig) -> Result<ServerTls, ServerError> {
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Ok(ServerTls::from_pem_files(cert, key)?),
        _ => {
            let tls = ServerTls::development()?;
            warn!(
                fingerprint = tls.fingerprint(),
                "no --tls-cert/--tls-key: using a generated development certificate \
                 (for localhost, 127.0.0.1, ::1); clients accept it with \
                 --cert-fingerprint {} or --insecure",
                tls.fingerprint()
            );
            Ok(tls)
        }
    }
}

/// The WebTransport endpoint's certificate: the configured one, or a
/// development one browsers accept by its hash (said at WARN, with the
/// hash, as the TLS fingerprint is).
fn load_webtransport_tls(config: &ServerConfig) -> Result<ServerTls, ServerError> {
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Ok(ServerTls::from_pem_files(cert, key)?),
        _ => {
            let tls = ServerTls::development_hashed(SystemTime::now())?;
            let hash = CertificateHash::sha256(&tls.certificate_hash()).value;
            warn!(
                certificate_hash = %hash,
                valid_until_unix_s = tls.not_after_unix_s(),
                "no --tls-cert/--tls-key: WebTransport uses a generated development \
                 certificate (ECDSA P-256, for localhost, 127.0.0.1, ::1, valid 13 days); \
                 pages pass serverCertificateHashes [{{algorithm: 'sha-256', value: {hash} \
                 (base64)}}], served at GET /webtransport"
            );
            Ok(tls)
        }
    }
}

/// The WebSocket URL a node advertises to its cluster when not told one:
/// `ws://IP:PORT/ws` with the bound address (the loopback address of its
/// family for an unspecified one).
fn advertised_ws(addr: SocketAddr) -> String {
    format!("ws://{}{}", advertised_addr(addr), transport::ws::WS_PATH)
}

/// The address a node advertises for a socket bound to `addr`: the
/// loopback address of its family for an unspecified one.
fn advertised_addr(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// The WebTransport session URL for an endpoint bound to `addr`: its IP
/// and port, the loopback address of its family for an unspecified one.
fn webtransport_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!(
        "https://{}{}",
        SocketAddr::new(ip, addr.port()),
        transport::webtransport::PATH
    )
}

/// Loads the certificate and binds the WebTransport endpoint on `addr`.
fn bind_webtransport(
    config: &ServerConfig,
    addr: SocketAddr,
) -> Result<WebTransportListener, ServerError> {
    let tls = load_webtransport_tls(config)?;
    let quinn_config = transport::webtransport::server_config(
        tls.chain().to_vec(),
        tls.key().clone_key(),
        config.timeouts.idle(),
        config.limits.max_pending_handshakes,
    )?;
    let bind_error = |source| ServerError::Bind { addr, source };
    let endpoint = transport::webtransport::endpoint(quinn_config, addr).map_err(bind_error)?;
    let bound = endpoint.local_addr().map_err(bind_error)?;
    let certificate_hash = tls.certificate_hash();
    let certificate_hashes = if tls.is_development() {
        vec![CertificateHash::sha256(&certificate_hash)]
    } else {
        Vec::new()
    };
    Ok(WebTransportListener {
        endpoint,
        addr: bound,
        certificate_hash,
        info: WebTransportInfo {
            url: webtransport_url(bound),
            certificate_hashes,
            valid_until_unix_s: tls.not_after_unix_s(),
        },
    })
}

impl Server {
    /// Validates the settings and the games, loads (or generates) the TLS
    /// certificate when `tls_bind` is set, and binds the ports (port 0
    /// picks a free one; see [`Server::local_addr`] and
    /// [`Server::tls_addr`]).
    ///
    /// Clients are authenticated by the settings' `[auth]`: JSON Web
    /// Tokens when `auth.enabled`, else nobody (an open server, said at
    /// WARN).
    pub async fn bind(config: ServerConfig, games: Games) -> Result<Self, ServerError> {
        config.validate()?;
        let authenticator: Option<Arc<dyn Authenticator>> = if config.auth.enabled {
            let jwt = JwtAuthenticator::from_config(&config.auth)?;
            info!(algorithm = ?config.auth.algorithm, issuer = ?config.auth.issuer, audience = ?config.auth.audience, required = config.auth.required, "clients authenticate with JSON Web Tokens");
            Some(Arc::new(jwt))
        } else {
            warn!(
                "no authentication configured: any client may connect and play \
                 (see [auth] in the settings, or --jwt-secret-file)"
            );
            None
        };
        Self::bind_inner(config, games, authenticator).await
    }

    /// Like [`Server::bind`], with the embedder's `authenticator` deciding
    /// who clients are (the `[auth]` settings other than `required` are
    /// not used). A `Hello` with a ticket waits for it (bounded by the
    /// handshake deadline); one without is refused when `auth.required`.
    pub async fn bind_with_authenticator(
        config: ServerConfig,
        games: Games,
        authenticator: Arc<dyn Authenticator>,
    ) -> Result<Self, ServerError> {
        config.validate()?;
        info!(
            ?authenticator,
            required = config.auth.required,
            "clients authenticate with the embedder's authenticator"
        );
        Self::bind_inner(config, games, Some(authenticator)).await
    }

    async fn bind_inner(
        config: ServerConfig,
        games: Games,
        authenticator: Option<Arc<dyn Authenticator>>,
    ) -> Result<Self, ServerError> {
        games.check()?;
        let tls = if config.tls_bind.is_some() || config.quic_bind.is_some() {
            Some(load_tls(&config)?)
        } else {
            None
        };
        let tls_listener = match config.tls_bind {
            None => None,
            Some(addr) => {
                let (listener, addr) = listen(addr).await?;
                Some(TlsListener { listener, addr })
            }
        };
        let quic_config = match (config.quic_bind, &tls) {
            (Some(addr), Some(tls)) => Some((
                addr,
                transport::quic::server_config(
                    tls.chain().to_vec(),
                    tls.key().clone_key(),
                    config.timeouts.idle(),
                    config.limits.max_pending_handshakes,
                )?,
            )),
            _ => None,
        };
        let (listener, local_addr) = listen(config.bind).await?;
        // On this (the caller's) runtime: see transport::webtransport.
        let webtransport = match config.webtransport_bind {
            Some(addr) => Some(bind_webtransport(&config, addr)?),
            None => None,
        };
        let admin = match config.admin_bind {
            Some(addr) => Some(listen(addr).await?),
            None => None,
        };
        let cluster = match &config.cluster {
            Some(cluster) => {
                let node_id = cluster
                    .node_id
                    .clone()
                    .unwrap_or_else(|| format!("{:016x}", rand_os::random::<u64>()));
                let ws = cluster
                    .advertise_ws
                    .clone()
                    .unwrap_or_else(|| advertised_ws(local_addr));
                let quic = cluster.advertise_quic.clone().or_else(|| {
                    quic_config
                        .as_ref()
                        .map(|(addr, _)| advertised_addr(*addr).to_string())
                });
                Some(Arc::new(runtime::cluster::Cluster::new(
                    cluster.clone(),
                    node_id,
                    ws,
                    quic,
                )?))
            }
            None => None,
        };
        let shared = Arc::new(
            Shared::new(config, games, authenticator, cluster).map_err(ServerError::Shards)?,
        );
        // On a shard: its connections' drivers move to their rooms' shards.
        let quic = match quic_config {
            Some((addr, quic_config)) => Some(
                transport::quic::endpoint(quic_config, addr, shared.shards.endpoint_runtime())
                    .map_err(|source| ServerError::Bind { addr, source })?,
            ),
            None => None,
        };
        Ok(Self {
            shared,
            listener,
            local_addr,
            tls,
            tls_listener,
            quic,
            webtransport,
            admin,
        })
    }

    /// The address of the admin port (`/healthz`, `/metrics`, `/rooms`),
    /// when `admin_bind` is set.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(_, addr)| *addr)
    }

    /// This node's id in its cluster, when it joins one (`cluster`).
    pub fn cluster_node_id(&self) -> Option<&str> {
        self.shared.cluster.as_ref().map(|c| c.node_id.as_str())
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the TLS (wss) port, when one is configured.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_listener.as_ref().map(|t| t.addr)
    }

    /// The operator API's bearer token: `admin_token` from the config, or
    /// the one drawn at start.
    pub fn admin_token(&self) -> &str {
        &self.shared.admin_token
    }

    /// The games it hosts.
    pub fn games(&self) -> &Games {
        &self.shared.games
    }

    /// The UDP address of the QUIC endpoint, when one is configured.
    pub fn quic_addr(&self) -> Option<SocketAddr> {
        self.quic.as_ref().and_then(|e| e.local_addr().ok())
    }

    /// The UDP address of the WebTransport endpoint, when one is
    /// configured (sessions at `https://ADDR/tickwire`).
    pub fn webtransport_addr(&self) -> Option<SocketAddr> {
        self.webtransport.as_ref().map(|w| w.addr)
    }

    /// SHA-256 of the certificate the WebTransport endpoint presents (what
    /// pages pass as `serverCertificateHashes` for a development one).
    pub fn webtransport_certificate_hash(&self) -> Option<[u8; 32]> {
        self.webtransport.as_ref().map(|w| w.certificate_hash)
    }

    /// The SHA-256 fingerprint (`AB:CD:...`) of the certificate the TLS port
    /// and the QUIC endpoint present, when either is configured.
    pub fn tls_fingerprint(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.fingerprint())
    }

    /// Serves until `shutdown` completes, then drains and shuts down
    /// gracefully: `run_with(shutdown, never)` (see [`Server::run_with`]).
    /// With `timeouts.drain_ms = 0` there is no drain: it stops accepting,
    /// lets every room finish its tick, closes every session with
    /// `ServerShutdown`, and waits for all tasks up to
    /// `timeouts.shutdown_ms`.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        self.run_with(shutdown, std::future::pending()).await
    }

    /// Serves until `drain` completes, drains, then shuts down gracefully;
    /// `stop` ends the drain at once (or skips it, when it completes
    /// first). The binary passes the first SIGTERM / SIGINT as `drain` and
    /// the second as `stop`.
    ///
    /// The drain: `/healthz` answers 503 `draining` (on every port, until
    /// the server stops); creating a room, joining, quick-joining and
    /// spectating are refused with `ServerDraining`; connections are still
    /// accepted (so clients get that reason) and rooms play on. It ends
    /// when no room has a member (players and spectators), when
    /// `timeouts.drain_ms` has passed, or when `stop` completes. Then the
    /// shutdown: listeners close, every session gets `ServerShutdown`, and
    /// tasks are awaited up to `timeouts.shutdown_ms`.
    pub async fn run_with(
        self,
        drain: impl Future<Output = ()>,
        stop: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        let Self {
            shared,
            listener,
            local_addr,
            tls,
            tls_listener,
            quic,
            webtransport,
            admin,
        } = self;
        info!(addr = %local_addr, games = ?shared.games.names(), shards = shared.shards.len(), "tickwire listening (ws://{local_addr}/ws)");
        if let (Some(TlsListener { listener, addr }), Some(tls)) = (tls_listener, &tls) {
            info!(%addr, fingerprint = tls.fingerprint(), "TLS listening (wss://{addr}/ws)");
            let entry = Entry::Tls(tls.acceptor().clone());
            // Stops on the server's cancellation, which follows `shutdown`.
            shared.tracker.spawn(runtime::accept::accept_loop(
                runtime::front(&shared),
                listener,
                entry,
                std::future::pending(),
            ));
        }
        if let Some(endpoint) = &quic {
            let addr = endpoint
                .local_addr()
                .map_or_else(|_| "?".into(), |a| a.to_string());
            info!(%addr, "QUIC listening (quic://{addr}, ALPN tickwire/1)");
            shared.tracker.spawn(runtime::accept::quic_accept_loop(
                runtime::front(&shared),
                endpoint.clone(),
            ));
        }
        let webtransport_info = webtransport.as_ref().map(|w| w.info.clone());
        let webtransport = webtransport.map(|w| {
            let hash = w.info.certificate_hashes.first().map_or("none (a configured certificate)", |h| h.value.as_str());
            info!(addr = %w.addr, certificate_hash = hash, "WebTransport listening ({}, ALPN h3; GET /webtransport)", w.info.url);
            shared.tracker.spawn(runtime::accept::webtransport_accept_loop(
                runtime::front(&shared),
                w.endpoint.clone(),
            ));
            w.endpoint
        });
        let router = runtime::router(&shared, webtransport_info);
        if shared.admin_token_drawn {
            info!(
                token = %shared.admin_token,
                "operator API token drawn for this run (set admin_token to choose one): http://{local_addr}/ops"
            );
        }
        shared
            .tracker
            .spawn(runtime::sample_history(Arc::clone(&shared)));
        if let Some(cluster) = &shared.cluster {
            // Beats until the final cancellation, then deletes its keys.
            shared.tracker.spawn(runtime::cluster::run(
                Arc::clone(&shared),
                Arc::clone(cluster),
            ));
        }
        if let Some((listener, addr)) = admin {
            info!(%addr, "admin listening (http://{addr}/healthz, /metrics, /rooms)");
            shared.tracker.spawn(runtime::accept::admin_accept_loop(
                runtime::front(&shared),
                listener,
                router.clone(),
            ));
        }
        // Every listener stops on the server's cancellation: during the
        // drain they still accept, so new clients learn why they are
        // refused and probes are answered.
        shared.tracker.spawn(runtime::accept::accept_loop(
            runtime::front(&shared),
            listener,
            Entry::Plain(router),
            std::future::pending(),
        ));

        tokio::pin!(stop);
        let stopped = tokio::select! {
            () = drain => false,
            () = &mut stop => true,
        };
        // The lobby refuses before /healthz says so: whoever sees
        // `draining` is refused too.
        shared.lobby().start_draining();
        shared.draining.cancel();
        if stopped {
            info!("stop requested: shutting down without a drain");
        } else {
            runtime::drain(&shared, stop).await;
        }

        info!("shutting down: closing sessions and rooms");
        shared.cancel.cancel();
        shared.tracker.close();
        let grace = shared.config.timeouts.shutdown();
        if tokio::time::timeout(grace, shared.tracker.wait())
            .await
            .is_err()
        {
            warn!(
                tasks = shared.tracker.len(),
                "tasks still running after the shutdown grace period"
            );
            return Err(ServerError::ShutdownTimeout(grace));
        }
        for endpoint in quic.into_iter().chain(webtransport) {
            // Let the connections' close frames go out before the socket does.
            let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
        }
        info!("shutdown complete");
        Ok(())
    }
}
