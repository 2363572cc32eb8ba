//! # tickwire-server
//!
//! The game server a studio runs: one TCP port serving WebSocket sessions
//! at `/ws` and HTTP (`/healthz`, `/metrics`, `/rooms`), a lobby of rooms,
//! and one fixed-tick task per room that sends each client a delta against
//! the state it acknowledged.
//!
//! # Layout
//!
//! Pure (no IO, no clock, unit-tested in place):
//! - [`config`]: every limit and timeout, with its reason.
//! - [`lobby`]: room registry, public list, quick-join, codes, seats.
//! - [`room`]: one room's game, members, inputs, acks and per-baseline
//!   update encoding.
//! - [`session`]: handshake checks and the flood limiter.
//!
//! Shell (tokio):
//! - [`transport`]: the [`transport::Link`] every transport produces;
//!   [`transport::ws`] is the WebSocket adapter.
//! - `runtime`: the accept loop with connection caps, the room tick task
//!   and the session task.
//! - [`http`], [`metrics`]: operator endpoints and Prometheus metrics.
//! - [`shutdown`]: SIGINT / SIGTERM, installed before the server listens.
//!
//! # Use
//!
//! ```no_run
//! # async fn demo() -> Result<(), tickwire_server::ServerError> {
//! use tickwire_server::{Server, config::ServerConfig};
//! use tickwire_shared::arena::{Arena, ArenaConfig};
//!
//! let server = Server::<Arena>::bind(ServerConfig::default(), ArenaConfig::default()).await?;
//! println!("listening on {}", server.local_addr());
//! let signals = tickwire_server::shutdown::Signals::install().expect("signal handlers");
//! server.run(signals.received()).await
//! # }
//! ```

pub mod config;
pub mod error;
pub mod http;
pub mod lobby;
pub mod metrics;
pub mod room;
pub(crate) mod runtime;
pub mod session;
pub mod shutdown;
pub mod transport;

use std::net::SocketAddr;
use std::sync::Arc;

pub use error::ServerError;
use tickwire_shared::game::Game;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::config::ServerConfig;
use crate::runtime::Shared;

/// A bound, not yet running server for game `G`.
#[derive(Debug)]
pub struct Server<G: Game> {
    shared: Arc<Shared<G>>,
    listener: TcpListener,
    local_addr: SocketAddr,
}

impl<G: Game> Server<G> {
    /// Validates the settings and binds the port (`bind` port 0 picks a free
    /// one; see [`Server::local_addr`]).
    pub async fn bind(config: ServerConfig, game_config: G::Config) -> Result<Self, ServerError> {
        config.validate()?;
        let listener =
            TcpListener::bind(config.bind)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.bind,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.bind,
            source,
        })?;
        Ok(Self {
            shared: Arc::new(Shared::new(config, game_config)),
            listener,
            local_addr,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then shuts down gracefully: stops
    /// accepting, lets every room finish its tick, closes every session
    /// with `ServerShutdown`, and waits for all tasks up to
    /// `timeouts.shutdown_ms`.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let Self {
            shared,
            listener,
            local_addr,
        } = self;
        info!(addr = %local_addr, game = G::NAME, "tickwire listening (ws://{local_addr}/ws)");
        let router = runtime::router(&shared);
        runtime::accept_loop(Arc::clone(&shared), listener, router, shutdown).await;

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
        info!("shutdown complete");
        Ok(())
    }
}
