//! `tickwire-server-cli`: the command line around a tickwire server, as a
//! library, so that a studio's `main` is a few lines. [`Launcher`] parses
//! the flags ([`Flags`]), reads the optional TOML file (`--config`; flags
//! win, then the file, then the defaults), sets up logging (`--log-level`
//! or `RUST_LOG`), raises the open-file limit, installs the signal
//! handlers (the first SIGINT / SIGTERM starts a drain, a second one stops
//! at once), and runs a server
//! hosting the games it was given.
//!
//! This is its own package, so the command line (clap), logging setup
//! (tracing-subscriber), the TOML file (toml) and the open-file limit
//! (rlimit) stay out of the `tickwire-server` library a studio embeds.
//!
//! ```no_run
//! use tickwire_server_cli::Launcher;
//! use tickwire_shared::chat::Chat;
//!
//! fn main() -> anyhow::Result<()> {
//!     Launcher::from_args().game::<Chat>(()).run()
//! }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tickwire_server::auth::JwtMinter;
use tickwire_server::config::{JwtAlgorithm, ServerConfig};
use tickwire_server::{Games, Server};
use tickwire_shared::game::Game;

/// The command line every tickwire server binary takes.
#[derive(Debug, Parser)]
#[command(
    name = "tickwire-server",
    version,
    about = "tickwire: an authoritative game state server",
    long_about = None
)]
pub struct Flags {
    /// TOML file with server settings (see `ServerConfig`; flags win).
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Address of the port serving /ws and HTTP [default: 127.0.0.1:7000].
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// Address of the admin port: HTTP /healthz, /metrics and /rooms only,
    /// outside the game connections' caps (for probes and scrapes)
    /// [default: none].
    #[arg(long)]
    pub admin_bind: Option<SocketAddr>,
    /// Join a cluster whose room directory is this Redis
    /// (redis://HOST:PORT): the node registers itself and its public rooms
    /// on a heartbeat, and /rooms lists every node's [default: none, the
    /// node runs alone].
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,
    /// This node's id in the cluster (letters, digits, '-', '_', '.')
    /// [default: drawn at start].
    #[arg(long, requires = "cluster")]
    pub node_id: Option<String>,
    /// The WebSocket URL other nodes' listings give for this node's rooms
    /// [default: ws://BIND/ws].
    #[arg(long, requires = "cluster")]
    pub advertise_ws: Option<String>,
    /// The QUIC address (HOST:PORT) redirects give QUIC clients for this
    /// node [default: the --quic-bind address].
    #[arg(long, requires = "cluster")]
    pub advertise_quic: Option<String>,
    /// The secret every node of the cluster signs seat reservations with,
    /// the first line of this file (16 characters or more) [default: one
    /// shared through the cluster's Redis].
    #[arg(long, requires = "cluster")]
    pub cluster_secret_file: Option<PathBuf>,
    /// Longest drain after the first SIGTERM / SIGINT, ms: new rooms and
    /// joins are refused and running rooms play on until empty; a second
    /// signal stops at once. 0: no drain [default: 30000].
    #[arg(long)]
    pub drain_ms: Option<u64>,
    /// Address of a TLS port serving wss:// at /ws (WebSocket only)
    /// [default: none, no TLS port].
    #[arg(long)]
    pub tls_bind: Option<SocketAddr>,
    /// UDP address of the QUIC endpoint (ALPN tickwire/1, same certificate as
    /// the TLS port) [default: none].
    #[arg(long)]
    pub quic_bind: Option<SocketAddr>,
    /// UDP address of the WebTransport endpoint for browsers
    /// (https://ADDR/tickwire, HTTP/3; with --tls-cert/--tls-key that
    /// certificate, else a 13-day development one whose hash pages get from
    /// GET /webtransport) [default: none].
    #[arg(long)]
    pub webtransport_bind: Option<SocketAddr>,
    /// PEM certificate chain for the TLS port (with --tls-key). Without it,
    /// a development certificate is generated and its fingerprint logged.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Simulation rate in Hz of the built-in arena game [default: 30]
    /// (other games choose their own).
    #[arg(long)]
    pub tick_rate: Option<u16>,
    /// Reproducible seeds for the rooms' games: room n gets SEED + n
    /// (tests, benchmarks) [default: none, each room's seed is drawn from
    /// the OS RNG].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Rooms one client may create a minute [default: 10].
    #[arg(long)]
    pub rooms_per_minute_per_client: Option<u32>,
    /// Rooms one IP address may create a minute [default: 60].
    #[arg(long)]
    pub rooms_per_minute_per_ip: Option<u32>,
    /// Ticks spectators are served behind the players [default: 0].
    #[arg(long)]
    pub spectator_delay_ticks: Option<u32>,
    /// A browser origin allowed to open a WebSocket or a WebTransport
    /// session (repeat for more) [default: any].
    #[arg(long = "allowed-origin")]
    pub allowed_origins: Vec<String>,
    /// Room shards: threads that each run rooms with their members'
    /// sessions [default: 0, one per core].
    #[arg(long)]
    pub shards: Option<usize>,
    /// Most rooms at once [default: 1024].
    #[arg(long)]
    pub max_rooms: Option<usize>,
    /// Most seats a room may have [default: 256].
    #[arg(long)]
    pub max_players: Option<u16>,
    /// Most open connections [default: 10000].
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Most open connections from one IP address [default: 1024].
    #[arg(long)]
    pub max_connections_per_ip: Option<usize>,
    /// The operator API's token (`/ops`, `/api/admin/*`) is the first line
    /// of this file [default: `admin_token`, else one drawn at start and
    /// logged].
    #[arg(long)]
    pub admin_token_file: Option<PathBuf>,
    /// Log filter, e.g. `info` or `tickwire_server=debug` (RUST_LOG also works).
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// Authenticate clients with HS256 JSON Web Tokens signed with the
    /// secret in this file (turns `[auth]` on).
    #[arg(long, global = true, conflicts_with = "jwt_public_key_file")]
    pub jwt_secret_file: Option<PathBuf>,
    /// Authenticate clients with RS256 or EdDSA tokens (see
    /// --jwt-algorithm) verified with this PEM public key (turns `[auth]`
    /// on).
    #[arg(long, global = true)]
    pub jwt_public_key_file: Option<PathBuf>,
    /// The tokens' algorithm: HS256, RS256 or EdDSA [default: HS256, or the
    /// file's].
    #[arg(long, global = true, value_parser = parse_algorithm)]
    pub jwt_algorithm: Option<JwtAlgorithm>,
    /// The `iss` tokens must carry [default: not checked].
    #[arg(long, global = true)]
    pub jwt_issuer: Option<String>,
    /// The `aud` tokens must carry [default: tokens carry none].
    #[arg(long, global = true)]
    pub jwt_audience: Option<String>,
    /// Let clients without a token in, anonymously (a token that fails
    /// is still refused) [default: a token is required].
    #[arg(long, global = true)]
    pub auth_optional: bool,
    /// A subcommand instead of running the server.
    #[command(subcommand)]
    pub command: Option<Subcommand>,
}

/// What the binary does instead of serving.
#[derive(Debug, clap::Subcommand)]
pub enum Subcommand {
    /// Mints a development token with the configured key (the `[auth]`
    /// settings, or the --jwt-* flags) and prints it.
    Token(TokenFlags),
}

/// `token`: what the minted token says.
#[derive(Debug, clap::Args)]
pub struct TokenFlags {
    /// The account (`sub`).
    #[arg(long)]
    pub sub: String,
    /// How long it is valid, e.g. `1h`, `15m`, `30s`.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
    /// A display name (`name`), which the server uses instead of the
    /// client's.
    #[arg(long)]
    pub name: Option<String>,
    /// A custom claim, `key=value` (the value as JSON if it parses, else a
    /// string); repeatable.
    #[arg(long = "claim", value_parser = parse_claim)]
    pub claims: Vec<(String, serde_json::Value)>,
    /// The PEM private key (PKCS#8) for RS256 or EdDSA tokens.
    #[arg(long)]
    pub private_key_file: Option<PathBuf>,
}

fn parse_algorithm(text: &str) -> Result<JwtAlgorithm, String> {
    match text.to_ascii_uppercase().as_str() {
        "HS256" => Ok(JwtAlgorithm::HS256),
        "RS256" => Ok(JwtAlgorithm::RS256),
        "EDDSA" => Ok(JwtAlgorithm::EdDSA),
        _ => Err("HS256, RS256 or EdDSA".into()),
    }
}

fn parse_claim(text: &str) -> Result<(String, serde_json::Value), String> {
    let (key, value) = text
        .split_once('=')
        .filter(|(key, _)| !key.is_empty())
        .ok_or("key=value")?;
    let value = serde_json::from_str(value).unwrap_or_else(|_| value.into());
    Ok((key.to_owned(), value))
}

/// The settings: defaults, then the TOML file, then the flags.
fn load(cli: &Flags) -> anyhow::Result<ServerConfig> {
    let mut config = match &cli.config {
        None => ServerConfig::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        }
    };
    if let Some(bind) = cli.bind {
        config.bind = bind;
    }
    if let Some(addr) = cli.quic_bind {
        config.quic_bind = Some(addr);
    }
    if let Some(addr) = cli.webtransport_bind {
        config.webtransport_bind = Some(addr);
    }
    if let Some(addr) = cli.tls_bind {
        config.tls_bind = Some(addr);
    }
    if let Some(addr) = cli.admin_bind {
        config.admin_bind = Some(addr);
    }
    if let Some(ms) = cli.drain_ms {
        config.timeouts.drain_ms = ms;
    }
    if let Some(url) = &cli.cluster {
        config.cluster.get_or_insert_with(Default::default).url = url.clone();
    }
    if let Some(cluster) = config.cluster.as_mut() {
        if let Some(id) = &cli.node_id {
            cluster.node_id = Some(id.clone());
        }
        if let Some(url) = &cli.advertise_ws {
            cluster.advertise_ws = Some(url.clone());
        }
        if let Some(addr) = &cli.advertise_quic {
            cluster.advertise_quic = Some(addr.clone());
        }
        if let Some(path) = &cli.cluster_secret_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let secret = text.lines().next().unwrap_or("").trim();
            anyhow::ensure!(
                secret.len() >= 16,
                "the cluster secret in {} must have at least 16 characters",
                path.display()
            );
            cluster.secret = Some(tickwire_server::config::Secret::new(secret));
        }
    }
    if let Some(cert) = &cli.tls_cert {
        config.tls_cert = Some(cert.clone());
    }
    if let Some(key) = &cli.tls_key {
        config.tls_key = Some(key.clone());
    }
    if let Some(seed) = cli.seed {
        config.seed = Some(seed);
    }
    if let Some(delay) = cli.spectator_delay_ticks {
        config.spectator_delay_ticks = delay;
    }
    if !cli.allowed_origins.is_empty() {
        config.allowed_origins = cli.allowed_origins.clone();
    }
    if let Some(shards) = cli.shards {
        config.shards = shards;
    }
    let limits = &mut config.limits;
    if let Some(v) = cli.max_rooms {
        limits.max_rooms = v;
    }
    if let Some(v) = cli.max_players {
        limits.max_players_per_room = v;
        limits.quick_join_room_size = limits.quick_join_room_size.min(v);
    }
    if let Some(v) = cli.max_connections {
        limits.max_connections = v;
    }
    if let Some(v) = cli.max_connections_per_ip {
        limits.max_connections_per_ip = v;
    }
    if let Some(v) = cli.rooms_per_minute_per_client {
        limits.rooms_per_minute_per_client = v;
    }
    if let Some(v) = cli.rooms_per_minute_per_ip {
        limits.rooms_per_minute_per_ip = v;
    }
    if let Some(path) = &cli.admin_token_file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let token = text.lines().next().unwrap_or("").trim();
        anyhow::ensure!(
            token.len() >= 16,
            "the admin token in {} must have at least 16 characters",
            path.display()
        );
        config.admin_token = Some(tickwire_server::config::Secret::new(token));
    }
    let auth = &mut config.auth;
    if let Some(path) = &cli.jwt_secret_file {
        auth.enabled = true;
        auth.secret = None;
        auth.secret_file = Some(path.clone());
        auth.public_key_file = None;
    }
    if let Some(path) = &cli.jwt_public_key_file {
        auth.enabled = true;
        auth.secret = None;
        auth.secret_file = None;
        auth.public_key_file = Some(path.clone());
    }
    if let Some(algorithm) = cli.jwt_algorithm {
        auth.algorithm = algorithm;
    } else if cli.jwt_secret_file.is_some() {
        auth.algorithm = JwtAlgorithm::HS256;
    }
    if let Some(issuer) = &cli.jwt_issuer {
        auth.issuer = Some(issuer.clone());
    }
    if let Some(audience) = &cli.jwt_audience {
        auth.audience = Some(audience.clone());
    }
    if cli.auth_optional {
        auth.required = false;
    }
    config.validate()?;
    Ok(config)
}

/// Raises the open-file limit to its hard maximum: every client is a
/// socket, and the usual soft limit (1024) is far below a busy server's.
fn raise_fd_limit() {
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(error = %e, "could not raise the open-file limit");
    }
}

/// A server binary in the making: the flags it was started with and the
/// games registered so far. See the crate doc.
#[derive(Debug)]
pub struct Launcher {
    flags: Flags,
    games: Games,
}

impl Launcher {
    /// Parses the process's flags (exits with the usage on a bad one, or
    /// after `--help` / `--version`).
    pub fn from_args() -> Self {
        Self::with_flags(Flags::parse())
    }

    /// A launcher for flags parsed elsewhere.
    pub fn with_flags(flags: Flags) -> Self {
        Self {
            flags,
            games: Games::new(),
        }
    }

    /// The flags, for settings of the studio's own games (the arena reads
    /// `--tick-rate`).
    pub fn flags(&self) -> &Flags {
        &self.flags
    }

    /// Registers a game with the config its rooms start from; the first
    /// one registered is the default game.
    #[must_use]
    pub fn game<G: Game>(mut self, config: G::Config) -> Self {
        self.games = self.games.with::<G>(config);
        self
    }

    /// Sets up logging, the open-file limit and the signal handlers, then
    /// runs the server on a multi-threaded tokio runtime until SIGINT or
    /// SIGTERM, drains it (up to `drain_ms`; a second signal ends the
    /// drain at once) and shuts it down gracefully.
    pub fn run(self) -> anyhow::Result<()> {
        if let Some(Subcommand::Token(token)) = &self.flags.command {
            let config = load(&self.flags)?;
            println!("{}", mint(&config, token)?);
            return Ok(());
        }
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .or_else(|_| tracing_subscriber::EnvFilter::try_new(&self.flags.log_level))
            .context("invalid --log-level")?;
        tracing_subscriber::fmt().with_env_filter(filter).init();
        raise_fd_limit();
        let config = load(&self.flags)?;
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?
            .block_on(serve(config, self.games))
    }
}

/// A token for `flags` signed with the configured key.
fn mint(config: &ServerConfig, flags: &TokenFlags) -> anyhow::Result<String> {
    anyhow::ensure!(
        config.auth.enabled,
        "no key configured: give --jwt-secret-file (or [auth] in --config)"
    );
    let minter = JwtMinter::from_config(&config.auth, flags.private_key_file.as_deref())?;
    let claims = flags.claims.iter().cloned().collect();
    Ok(minter.mint(&flags.sub, flags.name.as_deref(), flags.ttl, &claims)?)
}

/// Binds and serves until a signal, then drains until a second one (or
/// the drain's end).
async fn serve(config: ServerConfig, games: Games) -> anyhow::Result<()> {
    // Handlers first: from the moment the server is listening, a signal
    // means a drain and a graceful shutdown.
    let signals =
        tickwire_server::shutdown::Signals::install().context("installing signal handlers")?;
    let server = Server::bind(config, games).await?;
    let (drain, stop) = signals.drain_then_stop();
    server.run_with(drain, stop).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_flags_fill_the_cluster_table() {
        let flags = Flags::try_parse_from([
            "tickwire-server",
            "--cluster",
            "redis://10.0.0.5:6379",
            "--node-id",
            "eu-1",
            "--advertise-ws",
            "ws://eu-1.example.com:7000/ws",
            "--advertise-quic",
            "eu-1.example.com:7001",
        ])
        .expect("parses");
        let config = load(&flags).expect("loads");
        let cluster = config.cluster.expect("a cluster");
        assert_eq!(cluster.url, "redis://10.0.0.5:6379");
        assert_eq!(cluster.node_id.as_deref(), Some("eu-1"));
        assert_eq!(
            cluster.advertise_ws.as_deref(),
            Some("ws://eu-1.example.com:7000/ws")
        );
        assert_eq!(
            cluster.advertise_quic.as_deref(),
            Some("eu-1.example.com:7001")
        );
        assert_eq!((cluster.heartbeat_ms, cluster.expiry_ms), (400, 1_200));
        assert!(cluster.secret.is_none(), "shared through Redis");
        let dir = std::env::temp_dir().join(format!("tickwire-secret-{}", std::process::id()));
        std::fs::write(&dir, "a cluster secret of some length\n").expect("written");
        let path = dir.to_string_lossy().into_owned();
        let with_secret = |file: &str| {
            load(
                &Flags::try_parse_from([
                    "tickwire-server",
                    "--cluster",
                    "redis://127.0.0.1:6379",
                    "--cluster-secret-file",
                    file,
                ])
                .expect("parses"),
            )
        };
        let secret = with_secret(&path)
            .expect("loads")
            .cluster
            .expect("a cluster")
            .secret;
        assert_eq!(
            secret.as_ref().map(tickwire_server::config::Secret::expose),
            Some("a cluster secret of some length")
        );
        std::fs::write(&dir, "short\n").expect("written");
        assert!(with_secret(&path).is_err(), "too short a secret");
        let _ = std::fs::remove_file(&dir);
        let alone =
            load(&Flags::try_parse_from(["tickwire-server"]).expect("parses")).expect("loads");
        assert!(alone.cluster.is_none(), "no --cluster: alone");
        assert!(
            Flags::try_parse_from(["tickwire-server", "--node-id", "x"]).is_err(),
            "--node-id needs --cluster"
        );
    }
}
