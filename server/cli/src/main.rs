//! `tickwire-server`: runs a server with the built-in arena game.
//!
//! Flags override the optional TOML file (`--config`), which overrides the
//! defaults. This binary is its own package (`tickwire-server-cli`), so the
//! command line (clap), logging setup (tracing-subscriber), the TOML file
//! (toml) and the open-file limit (rlimit) stay out of the
//! `tickwire-server` library a studio embeds; the library only takes a
//! ready [`ServerConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tickwire_server::Server;
use tickwire_server::config::ServerConfig;
use tickwire_shared::arena::{Arena, ArenaConfig};
use tickwire_shared::tick::TickRate;

/// tickwire: an authoritative game state server (arena game built in).
#[derive(Debug, Parser)]
#[command(name = "tickwire-server", version, about)]
struct Cli {
    /// TOML file with server settings (see `ServerConfig`; flags win).
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Address of the port serving /ws and HTTP [default: 127.0.0.1:7000].
    #[arg(long)]
    bind: Option<SocketAddr>,
    /// Address of a TLS port serving wss:// at /ws (WebSocket only)
    /// [default: none, no TLS port].
    #[arg(long)]
    tls_bind: Option<SocketAddr>,
    /// UDP address of the QUIC endpoint (ALPN tickwire/1, same certificate as
    /// the TLS port) [default: none].
    #[arg(long)]
    quic_bind: Option<SocketAddr>,
    /// PEM certificate chain for the TLS port (with --tls-key). Without it,
    /// a development certificate is generated and its fingerprint logged.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Simulation rate in Hz [default: 30].
    #[arg(long)]
    tick_rate: Option<u16>,
    /// Seed for the rooms' games [default: 1].
    #[arg(long)]
    seed: Option<u64>,
    /// Room shards: threads that each run rooms with their members'
    /// sessions [default: 0, one per core].
    #[arg(long)]
    shards: Option<usize>,
    /// Most rooms at once [default: 1024].
    #[arg(long)]
    max_rooms: Option<usize>,
    /// Most seats a room may have [default: 256].
    #[arg(long)]
    max_players: Option<u16>,
    /// Most open connections [default: 10000].
    #[arg(long)]
    max_connections: Option<usize>,
    /// Most open connections from one IP address [default: 1024].
    #[arg(long)]
    max_connections_per_ip: Option<usize>,
    /// Log filter, e.g. `info` or `tickwire_server=debug` (RUST_LOG also works).
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn load(cli: &Cli) -> anyhow::Result<ServerConfig> {
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
    if let Some(addr) = cli.tls_bind {
        config.tls_bind = Some(addr);
    }
    if let Some(cert) = &cli.tls_cert {
        config.tls_cert = Some(cert.clone());
    }
    if let Some(key) = &cli.tls_key {
        config.tls_key = Some(key.clone());
    }
    if let Some(seed) = cli.seed {
        config.seed = seed;
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cli.log_level))
        .context("invalid --log-level")?;
    tracing_subscriber::fmt().with_env_filter(filter).init();
    raise_fd_limit();

    let config = load(&cli)?;
    let mut arena = ArenaConfig::default();
    if let Some(hz) = cli.tick_rate {
        arena.tick_rate = TickRate::new(hz).context("--tick-rate must be 1..=240")?;
    }
    arena.validate()?;
    // Handlers first: from the moment the server is listening, a signal
    // means a graceful shutdown.
    let signals =
        tickwire_server::shutdown::Signals::install().context("installing signal handlers")?;
    let server = Server::<Arena>::bind(config, arena).await?;
    server.run(signals.received()).await?;
    Ok(())
}
