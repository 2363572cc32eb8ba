//! Failures an operator can act on.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::ConfigError;
use crate::tls::TlsError;

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A setting is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The port could not be bound (in use, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The TLS certificate or key cannot be used.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// The authentication settings cannot be used (a key file missing or
    /// not a key of the configured algorithm).
    #[error("auth: {0}")]
    Auth(#[from] crate::auth::AuthSetupError),
    /// The QUIC endpoint could not be configured.
    #[error("QUIC: {0}")]
    Quic(#[from] crate::transport::quic::QuicError),
    /// The room shard threads could not be started.
    #[error("starting the room shards: {0}")]
    Shards(#[source] std::io::Error),
    /// No game was registered.
    #[error("no game registered: a server hosts at least one")]
    NoGames,
    /// Two games share a name.
    #[error("two games are named {0:?}")]
    DuplicateGame(&'static str),
    /// The cluster's Redis URL cannot be used.
    #[error("cluster.url: {0}")]
    ClusterUrl(String),
    /// Some tasks were still running when the shutdown grace period ended.
    #[error("shutdown did not finish within {0:?}")]
    ShutdownTimeout(Duration),
}
