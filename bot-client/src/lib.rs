//! # tickwire-bot
//!
//! Bots for tickwire: swarms of them against any tickwire server, and
//! reports of what they saw. Every bot is a [`tickwire_client::Client`],
//! the Rust client library (which has none of this crate's bot, report
//! or CLI dependencies).
//!
//! # Layout
//!
//! - [`behaviour`]: what a bot does: idle, the arena workload, or chaos
//!   (malformed and oversize frames, floods, abrupt disconnects, slow
//!   reading).
//! - [`measure`]: per-bot recorders (hdrhistogram) and the aggregate
//!   figures.
//! - [`swarm`]: rooms x players bots, ramp-up, the measurement window,
//!   live progress.
//! - [`report`]: the JSON and HTML reports.
//! - [`tokens`]: one JSON Web Token per bot, for servers that
//!   authenticate clients.
//! - [`bench`]: the benchmark: a server child process, the swarm, the
//!   server's CPU time and tick figures, one table.
//! - [`scenario`]: load tests in phases (ramp, hold, spike, drain) from a
//!   TOML file, with figures per phase and `[pass]` thresholds.
//! - [`figures`]: a report's figures addressed by dotted path or short
//!   name (thresholds and gates read them).
//! - [`baseline`]: regression gates: a run compared with an earlier
//!   report, figure by figure.

pub mod baseline;
pub mod behaviour;
pub mod bench;
pub mod bot;
pub mod figures;
pub mod measure;
pub mod report;
pub mod scenario;
pub mod swarm;
pub mod tokens;
