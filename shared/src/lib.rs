//! # tickwire-shared
//!
//! The pure core of tickwire: everything both ends of a connection must agree
//! on, with no sockets, no async runtime, no clock and no global RNG. Time
//! and randomness come in as arguments, so every function here is
//! deterministic, unit- and property-tested in place, and usable by game
//! clients as well as by the server.
//!
//! # Data flow
//!
//! ```text
//! client input --codec--> room input queue --Game::step--> WorldSnapshot
//!   WorldSnapshot --delta::encode(baseline)--> Update --codec--> client
//!   client: delta::apply(baseline) --> WorldSnapshot, checksum checked, ack sent
//! ```
//!
//! # Layout
//!
//! - [`ids`], [`tick`]: identifiers and simulation time.
//! - [`protocol`]: every message on the wire, one enum per direction.
//! - [`codec`]: frames to messages and back, with size limits; the only
//!   module that knows the serialisation library.
//! - [`snapshot`]: the replicated world as an ordered entity table, and its
//!   checksum.
//! - [`schema`]: a game's entity kinds and the motion rules clients
//!   extrapolate.
//! - [`delta`]: delta compression against an acknowledged baseline, bit
//!   packing, quantization, and the baseline history.
//! - [`game`]: the trait a studio implements, its hooks and the room
//!   context a game acts through; [`arena`] is the reference game and
//!   benchmark workload, [`chat`] a game of events (answers, kicks, locks,
//!   metadata, polls).
//! - [`client`]: the pure client, the one reference every client mirrors:
//!   the replica (apply updates, choose acks) and the sans-IO protocol
//!   session (request ids, acks, held pings, input redundancy, events and
//!   their answers), used by `tickwire-client`, the bots and the tests.
//! - [`rng`]: the seeded RNG, the one owner of randomness.
//! - [`fuzz`]: the stable fuzz engine (seeded mutator, bounded campaign)
//!   the decoder and session campaigns run on.

#![warn(missing_docs)]

pub mod arena;
pub mod chat;
pub mod client;
pub mod codec;
pub mod delta;
pub mod fuzz;
pub mod game;
pub mod ids;
pub mod protocol;
pub mod rng;
pub mod schema;
pub mod snapshot;
pub mod tick;
