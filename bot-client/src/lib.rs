//! # tickwire-bot
//!
//! The client side of tickwire: [`client`] is the Rust client library (what
//! a game client uses, and what every bot is built on); the rest drives
//! swarms of bots against any tickwire server and reports what they saw.
//!
//! # Layout
//!
//! - [`client`]: connection, handshake, lobby requests, world replica,
//!   acknowledgements, inputs.
//! - [`behaviour`]: what a bot does: idle, the arena workload, or chaos
//!   (malformed and oversize frames, floods, abrupt disconnects, slow
//!   reading).
//! - [`quic`]: the QUIC transport under the client (`quic://`).
//! - [`measure`]: per-bot recorders (hdrhistogram) and the aggregate
//!   figures.
//! - [`swarm`]: rooms x players bots, ramp-up, the measurement window,
//!   live progress.
//! - [`report`]: the JSON and HTML reports.
//! - [`bench`]: the benchmark: a server child process, the swarm, the
//!   server's CPU time and tick figures, one table.

pub mod behaviour;
pub mod bench;
pub mod bot;
pub mod client;
pub mod measure;
pub mod quic;
pub mod report;
pub mod swarm;
