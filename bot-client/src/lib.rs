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
//! - [`network`]: bots behind simulated networks (`--network`): profile
//!   mixes, seeded assignment, figures per profile group.
//! - [`tokens`]: one JSON Web Token per bot, for servers that
//!   authenticate clients.
//! - [`figures`]: a swarm's raw figures, which merge exactly.
//! - [`wire`], [`agent`], [`coordinator`]: a run shared among agent
//!   processes (`tickwire-bot agent`), started and merged by a
//!   coordinator: newline-delimited JSON over TCP.
//! - [`bench`]: the benchmark: a server child process, the swarm, the
//!   server's CPU time and tick figures, one table.
//! - [`scenario`]: load tests in phases (ramp, hold, spike, drain) from a
//!   TOML file, with figures per phase and `[pass]` thresholds.
//! - [`figures`]: a report's figures addressed by dotted path or short
//!   name (thresholds and gates read them).
//! - [`baseline`]: regression gates: a run compared with an earlier
//!   report, figure by figure.

pub mod agent;
pub mod baseline;
pub mod behaviour;
pub mod bench;
pub mod bot;
pub mod coordinator;
pub mod figure_paths;
pub mod figures;
pub mod measure;
pub mod network;
pub mod report;
pub mod scenario;
pub mod swarm;
pub mod tokens;
pub mod wire;
