//! # tickwire-client
//!
//! The Rust client library for tickwire servers: connect over WebSocket
//! (`ws://`), WebSocket over TLS (`wss://`, certificates verified, pinned
//! or from private roots: [`ClientTls`]) or QUIC (`quic://`); list, create,
//! join and leave rooms; read the replicated world (checksums verified);
//! send inputs; and talk to the room's game with events in the shape of
//! Socket.IO: [`Client::on`], [`Client::emit`], [`Client::emit_with_ack`],
//! and answers to the server's events that ask for one ([`AckSender`]);
//! and come back after a drop by itself, seat and world kept
//! ([`Event::Reconnecting`], [`Event::Resumed`], [`Event::Lost`];
//! [`ReconnectPolicy`]). Payloads are JSON through serde; the `_bytes`
//! variants take raw bytes.
//!
//! It has no bot, report or CLI dependencies: the bots (`tickwire-bot`)
//! and the end-to-end tests are built on it, and so can a game be.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use tickwire_client::{Client, ClientError, Event, QuickJoinSpec};
//! use tickwire_shared::arena::ArenaInput;
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug)]
//! struct Chat {
//!     text: String,
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let mut client = Client::builder("ws://127.0.0.1:7000/ws")
//!     .name("ada")
//!     .connect()
//!     .await?;
//! let joined = client.quick_join(QuickJoinSpec::default()).await?;
//! println!("in room {} at {} Hz", joined.room.id, joined.tick_rate.hz());
//!
//! // Server events: a handler per name; answer when the game asks.
//! client.on("chat", |event| {
//!     if let Ok(chat) = event.data::<Chat>() {
//!         println!("chat: {}", chat.text);
//!     }
//! });
//! client.on("ready?", |event| {
//!     let _ = event.answer(&true);
//! });
//!
//! // Client events: fire and forget, or wait for the game's answer.
//! client.emit("chat", &Chat { text: "hi".into() }).await?;
//! let echoed: Chat = client
//!     .emit_with_ack("echo", &Chat { text: "ping".into() }, Duration::from_secs(2))
//!     .await?;
//! println!("echoed: {echoed:?}");
//!
//! // The game loop: one input per update.
//! loop {
//!     match client.next_event().await {
//!         Ok(Event::Update(update)) => {
//!             let entities = client.world().map_or(0, |w| w.len());
//!             println!("tick {}: {entities} entities", update.tick);
//!             let input = ArenaInput { move_x: 1.0, ..Default::default() };
//!             client.send_input(&input).await?;
//!         }
//!         // A drop: the client reconnects and resumes the seat by itself.
//!         Ok(Event::Reconnecting { attempt, .. }) => println!("reconnecting ({attempt})"),
//!         Ok(Event::Resumed { after, .. }) => println!("back after {after:?}"),
//!         Ok(Event::Lost(reason)) => break println!("lost: {reason}"),
//!         Ok(Event::Left(left)) => break println!("left: {:?} {}", left.reason, left.message),
//!         Ok(Event::Closed(closed)) => break println!("closed: {:?}", closed.reason),
//!         Ok(_) => {}
//!         Err(ClientError::Lost) => break println!("connection lost"),
//!         Err(e) => return Err(e.into()),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! - [`client`]: [`Client`] and [`ClientBuilder`]: connecting, lobby
//!   calls, inputs, events, the world.
//! - [`event`]: what the application receives ([`Event`], [`ServerEvent`])
//!   and how it answers ([`AckSender`]).
//! - [`error`]: [`ClientError`] and [`EmitError`].
//! - [`tls`]: [`ClientTls`], how a server's certificate is accepted.
//! - [`netem`]: the link conditioner ([`NetworkProfile`]): latency,
//!   jitter, loss, duplication, reordering and a bandwidth cap applied to
//!   a connection's frames ([`ClientBuilder::network`]), for load tests
//!   that look like real players.
//! - `link`: the transports, one shape for all (frames queued, written,
//!   received; cancel-safe).
//!
//! The protocol logic itself (request ids, acks, held pings, input
//! redundancy, emits and their deadlines, answers owed) is the pure
//! [`tickwire_shared::client::ClientSession`]; this crate is its tokio
//! shell, so every client mirrors one reference.
//!
//! # Driving
//!
//! A [`Client`] has one owner. Every `async fn` reads the connection while
//! it waits, so pings are answered, updates applied and acknowledged and
//! handlers run whichever call is waiting; other events are kept for
//! [`Client::next_event`], which is cancel-safe and fits in a `select!`
//! beside the application's timers. Over QUIC, updates travel as datagrams
//! and may arrive out of order: an older one comes back as
//! [`Event::UpdateFailed`] with `ReplicaError::Stale`, which is normal
//! there and harmless.

#![warn(missing_docs)]

pub mod client;
pub mod error;
pub mod event;
mod link;
pub mod netem;
pub mod tls;

pub use client::{CONNECT_TIMEOUT, Client, ClientBuilder, unix_us};
pub use error::{ClientError, EmitError};
pub use event::{AckSender, Event, ServerEvent};
pub use link::quic::{ALPN, HANDSHAKE_TIMEOUT};
pub use link::{RawFrame, Traffic};
pub use netem::{NetworkProfile, NetworkStats, PathConfig, PathStats};
pub use tls::{ClientTls, fingerprint};

pub use tickwire_shared::client::{
    AckId, AckMode, AppliedUpdate, Closed, EmitOutcome, LostReason, QuickJoinSpec, ReconnectPolicy,
    RoomSpec, SessionConfig, SessionError,
};
pub use tickwire_shared::protocol::{
    ErrorCode, Joined, Left, Role, RoomFilter, RoomInfo, RoomTarget, Visibility,
};
