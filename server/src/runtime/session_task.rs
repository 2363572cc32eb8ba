//! One client's task (shell): the handshake, lobby requests, forwarding to
//! the room, and writing what the room and the lobby answer. It selects
//! over the link, the control queue, the room's update slot, the heartbeat,
//! the idle deadline and shutdown; every exit goes through one close path
//! that tells the client why. Where the link allows it, the room writes
//! updates to the socket itself; the session allows that once its client
//! has been told it joined, and stops it before leaving.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tickwire_shared::codec;
use tickwire_shared::game::Game;
use tickwire_shared::ids::{PlayerId, RoomId};
use tickwire_shared::protocol::{
    ClientMessage, Close, CloseReason, CreateRoom, ErrorCode, Joined, LeaveReason, Left, Ping,
    Rejected, ResumeToken, Role, RoomCreated, RoomInfo, RoomList, ServerMessage, Welcome,
};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tracing::{debug, info, warn};

use super::room_task::{HeldPong, RoomCommand, SlotBatch, TickClock, UpdateSlot};
use super::shards::ShardId;
use super::{ConnectionPermits, Refusal, RoomHandle, Shared, unix_us};
use crate::lobby::NewRoom;
use crate::session::{FloodGuard, MAX_EVENT_NAME, SessionState, check_hello};
use crate::transport::{DirectWrite, Incoming, Link, LinkError};

/// How long a session waits for a room to answer a join: a room answers at
/// its next tick.
const JOIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The session's link to its room.
struct RoomLink {
    id: RoomId,
    role: Role,
    handle: RoomHandle,
    slot: Arc<UpdateSlot>,
    /// The room's way to write updates to the link itself, if it has one.
    direct: Option<Arc<dyn DirectWrite>>,
    /// The room's tick schedule, which the heartbeat follows.
    clock: TickClock,
}

/// Why the session loop returned.
enum Exit {
    /// The session is over.
    End(Ending),
    /// The session joined a room on another shard and goes on there.
    Move(ShardId),
}

/// Why the session loop ended.
struct Ending {
    reason: CloseReason,
    message: String,
    /// Whether the client can still be told (false when the link is gone
    /// or stuck).
    tell: bool,
}

impl Ending {
    fn tell(reason: CloseReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            tell: true,
        }
    }
    fn silent(reason: CloseReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            tell: false,
        }
    }
}

/// A short name for a close reason, for logs and metrics.
fn reason_label(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::Normal => "normal",
        CloseReason::ServerShutdown => "server_shutdown",
        CloseReason::ProtocolViolation => "protocol_violation",
        CloseReason::MalformedFrame => "malformed_frame",
        CloseReason::FrameTooLarge => "frame_too_large",
        CloseReason::VersionMismatch => "version_mismatch",
        CloseReason::HandshakeTimeout => "handshake_timeout",
        CloseReason::IdleTimeout => "idle_timeout",
        CloseReason::Flooding => "flooding",
        CloseReason::SlowConsumer => "slow_consumer",
        CloseReason::ServerFull => "server_full",
        CloseReason::AuthFailed => "auth_failed",
        CloseReason::Replaced => "replaced",
        CloseReason::UnsupportedFrame => "text_frame",
    }
}

struct Session<G: Game, L: Link> {
    shared: Arc<Shared<G>>,
    link: L,
    /// The connection's slots (all connections, its address's), held for
    /// the session's life wherever it runs.
    _permits: ConnectionPermits,
    /// The shard of a room just joined, when the session must move there.
    moving_to: Option<ShardId>,
    player: PlayerId,
    peer: std::net::SocketAddr,
    state: SessionState,
    room: Option<RoomLink>,
    control_tx: mpsc::Sender<ServerMessage>,
    flood: FloodGuard,
    buf: Vec<u8>,
    rtt_us: Option<u64>,
}

/// Runs a session on an upgraded link until it ends (possibly moving to
/// the shard of a room it joins, as a task of its own there).
/// `handshake_deadline` bounds the wait for `Hello`; `handshake` is the
/// pending-handshake permit, released once the client is greeted;
/// `permits` are the connection's slots, freed when the session ends.
pub(crate) async fn run<G: Game, L: Link + 'static>(
    shared: Arc<Shared<G>>,
    mut link: L,
    peer: std::net::SocketAddr,
    handshake_deadline: Instant,
    handshake: OwnedSemaphorePermit,
    permits: ConnectionPermits,
) {
    let metrics = Arc::clone(&shared.metrics);
    let greeting = tokio::select! {
        r = tokio::time::timeout_at(handshake_deadline.into(), read_hello(&shared, &mut link)) => r,
        () = shared.cancel.cancelled() => Ok(Err(Ending::tell(CloseReason::ServerShutdown, "server shutting down"))),
    };
    drop(handshake);
    let hello_name = match greeting {
        Ok(Ok(name)) => name,
        Ok(Err(ending)) => {
            finish_unwelcomed(&shared, &mut link, peer, ending).await;
            return;
        }
        Err(_) => {
            metrics.connection_rejected("handshake_timeout");
            let ending = Ending::tell(CloseReason::HandshakeTimeout, "no Hello in time");
            finish_unwelcomed(&shared, &mut link, peer, ending).await;
            return;
        }
    };

    let player = shared.next_player();
    let (control_tx, control_rx) = mpsc::channel(shared.config.limits.control_queue);
    let limits = &shared.config.limits;
    let mut session = Session {
        flood: FloodGuard::new(
            limits.messages_per_second,
            limits.message_burst,
            Instant::now(),
        ),
        shared: Arc::clone(&shared),
        link,
        _permits: permits,
        moving_to: None,
        player,
        peer,
        state: SessionState::Lobby,
        room: None,
        control_tx,
        buf: Vec::with_capacity(256),
        rtt_us: None,
    };
    metrics.connections.inc();
    info!(%peer, %player, name = %hello_name, "session opened");
    let welcome = ServerMessage::Welcome(Welcome {
        protocol_version: tickwire_shared::protocol::PROTOCOL_VERSION,
        player,
        resume_token: ResumeToken(rand_os::random()),
        resumed: false,
        heartbeat_interval_ms: u32::try_from(shared.config.timeouts.heartbeat_ms)
            .unwrap_or(u32::MAX),
        reconnect_grace_ms: 0,
    });
    match session.send(&welcome).await {
        Err(ending) => session.finish(ending).await,
        Ok(()) => drive(session, control_rx).await,
    }
}

/// Serves a session where it runs until it ends, or until it joins a room
/// on another shard: then its link leaves this thread's IO driver and the
/// session goes on as a new task on the room's shard (under the same task
/// tracker), and this task returns.
fn drive<G: Game, L: Link + 'static>(
    mut session: Session<G, L>,
    mut control_rx: mpsc::Receiver<ServerMessage>,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let shard = match session.serve(&mut control_rx).await {
            Exit::End(ending) => return session.finish(ending).await,
            Exit::Move(shard) => shard,
        };
        if let Err(e) = session.link.detach() {
            let ending = Ending::silent(CloseReason::Normal, format!("moving shards: {e}"));
            return session.finish(ending).await;
        }
        let shared = Arc::clone(&session.shared);
        shared.metrics.session_moves.inc();
        let moved = async move {
            match session.link.attach() {
                Ok(()) => drive(session, control_rx).await,
                Err(e) => {
                    let ending = Ending::silent(CloseReason::Normal, format!("moving shards: {e}"));
                    session.finish(ending).await;
                }
            }
        };
        shared
            .shards
            .spawn(shard, shared.tracker.track_future(moved));
    })
}

/// Reads frames until the client's `Hello`; returns its name.
async fn read_hello<G: Game, L: Link>(shared: &Shared<G>, link: &mut L) -> Result<String, Ending> {
    loop {
        let frame = match link.recv().await {
            Incoming::Frame(frame) => frame,
            Incoming::Control => continue,
            Incoming::Closed => {
                return Err(Ending::silent(
                    CloseReason::Normal,
                    "closed during handshake",
                ));
            }
            Incoming::Violation(reason, message) => return Err(Ending::tell(reason, message)),
        };
        shared.metrics.bytes_in.inc_by(frame.len() as u64);
        shared.metrics.messages_in.inc();
        return match codec::decode_client(&frame, shared.config.limits.max_client_frame) {
            Ok(ClientMessage::Hello(hello)) => match check_hello(&hello) {
                Ok(()) => Ok(hello.client_name.trim().to_owned()),
                Err((reason, message)) => Err(Ending::tell(reason, message)),
            },
            Ok(_) => Err(Ending::tell(
                CloseReason::ProtocolViolation,
                "the first message must be Hello",
            )),
            Err(e) => Err(Ending::tell(CloseReason::MalformedFrame, e.to_string())),
        };
    }
}

/// Ends a connection refused during the handshake: a `Rejected` then a close.
async fn finish_unwelcomed<G: Game, L: Link>(
    shared: &Shared<G>,
    link: &mut L,
    peer: std::net::SocketAddr,
    ending: Ending,
) {
    let label = reason_label(ending.reason);
    shared.metrics.session_closed(label);
    shared.metrics.error(label);
    info!(%peer, reason = label, message = %ending.message, "handshake refused");
    if ending.tell {
        let mut buf = Vec::new();
        let rejected = ServerMessage::Rejected(Rejected {
            reason: ending.reason,
            message: ending.message.clone(),
        });
        if codec::encode_server(&rejected, &mut buf).is_ok() {
            let write = shared.config.timeouts.write();
            let _ = tokio::time::timeout(write, link.send(Bytes::from(buf))).await;
            let _ = tokio::time::timeout(write, link.close(ending.reason, &ending.message)).await;
        }
    }
}

impl<G: Game, L: Link> Session<G, L> {
    async fn serve(&mut self, control_rx: &mut mpsc::Receiver<ServerMessage>) -> Exit {
        let timeouts = self.shared.config.timeouts.clone();
        let mut heartbeat = self.heartbeat(timeouts.heartbeat());
        let mut heartbeat_room = self.room.as_ref().map(|r| r.id);
        // Silence is checked on each heartbeat against the time of the last
        // frame, rather than by resetting a timer on every frame (a timer
        // reset per message is measurable at thousands of clients); the
        // timeout is then exact to within one heartbeat.
        let mut last_heard = tokio::time::Instant::now();
        // Created once: a fresh cancellation future per wake-up would
        // register and unregister a waiter every time.
        let cancel = self.shared.cancel.clone();
        let cancelled = cancel.cancelled();
        tokio::pin!(cancelled);
        loop {
            let room = self.room.as_ref().map(|r| r.id);
            if room != heartbeat_room {
                heartbeat = self.heartbeat(timeouts.heartbeat());
                heartbeat_room = room;
            }
            let slot = self.room.as_ref().map(|r| Arc::clone(&r.slot));
            let next_update = async {
                match &slot {
                    Some(slot) => slot.next().await,
                    None => std::future::pending().await,
                }
            };
            let step = tokio::select! {
                biased;
                                () = &mut cancelled => return Exit::End(Ending::tell(CloseReason::ServerShutdown, "server shutting down")),
                Some(message) = control_rx.recv() => self.send(&message).await,
                batch = next_update => self.send_batch(batch).await,
                                incoming = self.link.recv() => {
                    last_heard = tokio::time::Instant::now();
                    self.on_incoming(incoming).await
                }
                now = heartbeat.tick() => {
                    if now.saturating_duration_since(last_heard) >= timeouts.idle() {
                        return Exit::End(Ending::tell(CloseReason::IdleTimeout, "nothing received in time"));
                    }
                    if self.room.is_some() {
                        // The room pings its members, with their updates.
                        Ok(())
                    } else {
                        self.send(&ServerMessage::Ping(Ping { sent_at_us: unix_us() })).await
                    }
                }
            };
            if let Err(ending) = step {
                return Exit::End(ending);
            }
            if let Some(shard) = self.moving_to.take() {
                return Exit::Move(shard);
            }
        }
    }

    /// The heartbeat timer: each beat checks for silence, and in the lobby
    /// pings (in a room the room pings, with the updates). In a room it
    /// beats on the room's tick instants (`every` rounded to whole ticks),
    /// so the check rides in a tick's wake-up instead of waking the shard
    /// on its own; in the lobby it beats from now.
    fn heartbeat(&self, every: std::time::Duration) -> tokio::time::Interval {
        let mut timer = match &self.room {
            Some(room) => {
                let first = room.clock.next_after(tokio::time::Instant::now());
                tokio::time::interval_at(first, room.clock.whole_ticks(every))
            }
            None => tokio::time::interval(every),
        };
        // Skip keeps the beats on the tick instants after a stall.
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        timer
    }

    async fn send(&mut self, message: &ServerMessage) -> Result<(), Ending> {
        self.buf.clear();
        if codec::encode_server(message, &mut self.buf).is_err() {
            warn!(player = %self.player, "unencodable message dropped");
            return Ok(());
        }
        let frame = Bytes::copy_from_slice(&self.buf);
        self.send_frame(frame).await
    }

    /// Sends what the room left in the slot: the newest update, a ping
    /// and a pong it could not write itself, or the rest of a direct write.
    async fn send_batch(&mut self, batch: SlotBatch) -> Result<(), Ending> {
        let mut sent = false;
        if let Some(update) = batch.update {
            self.send_frame(update).await?;
            self.shared.metrics.updates_sent.inc();
            sent = true;
        }
        for frame in batch.control.into_iter().flatten() {
            self.send_frame(frame).await?;
            sent = true;
        }
        if batch.flush && !sent {
            // Any write above sends what a direct write left first.
            let write = self.shared.config.timeouts.write();
            let flushed = tokio::time::timeout(write, self.link.flush()).await;
            self.written(flushed)?;
        }
        Ok(())
    }

    /// Answers a client's ping: with the next update where the room writes
    /// to the connection itself (one write instead of two, the wait told
    /// in `held_us`), else now.
    async fn answer_ping(&mut self, ping: Ping) -> Result<(), Ending> {
        let held = HeldPong::new(ping);
        let carried = self
            .room
            .as_ref()
            .filter(|room| room.direct.as_ref().is_some_and(|d| d.carries_control()));
        let now = match carried {
            // A ping the room has not answered yet is answered now.
            Some(room) => room.slot.hold_pong(held),
            None => Some(held),
        };
        match now {
            Some(held) => self.send(&ServerMessage::Pong(held.answer())).await,
            None => Ok(()),
        }
    }

    async fn send_frame(&mut self, frame: Bytes) -> Result<(), Ending> {
        let len = frame.len() as u64;
        let write = self.shared.config.timeouts.write();
        let sent = tokio::time::timeout(write, self.link.send(frame)).await;
        self.written(sent)?;
        self.shared.metrics.bytes_out.inc_by(len);
        self.shared.metrics.messages_out.inc();
        Ok(())
    }

    /// How a bounded write ended: a write that failed ends the session, one
    /// that took too long ends it as a slow consumer.
    fn written(
        &self,
        result: Result<Result<(), LinkError>, tokio::time::error::Elapsed>,
    ) -> Result<(), Ending> {
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Ending::silent(
                CloseReason::Normal,
                format!("write failed: {e}"),
            )),
            Err(_) => {
                self.shared.metrics.error("slow_consumer");
                Err(Ending::silent(
                    CloseReason::SlowConsumer,
                    "a write took too long",
                ))
            }
        }
    }

    async fn error(&mut self, request_id: Option<u32>, refusal: &Refusal) -> Result<(), Ending> {
        self.shared.metrics.error(refusal.kind);
        debug!(player = %self.player, kind = refusal.kind, message = %refusal.message, "request refused");
        self.send(&ServerMessage::Error(refusal.to_message(request_id)))
            .await
    }

    async fn on_incoming(&mut self, incoming: Incoming) -> Result<(), Ending> {
        let frame = match incoming {
            Incoming::Frame(frame) => frame,
            Incoming::Control => return self.check_flood(),
            Incoming::Closed => {
                return Err(Ending::silent(CloseReason::Normal, "client disconnected"));
            }
            Incoming::Violation(reason, message) => return Err(Ending::tell(reason, message)),
        };
        self.check_flood()?;
        self.shared.metrics.bytes_in.inc_by(frame.len() as u64);
        self.shared.metrics.messages_in.inc();
        let message = codec::decode_client(&frame, self.shared.config.limits.max_client_frame)
            .map_err(|e| Ending::tell(CloseReason::MalformedFrame, e.to_string()))?;
        self.on_message(message).await
    }

    fn check_flood(&mut self) -> Result<(), Ending> {
        if self.flood.allow(Instant::now()) {
            Ok(())
        } else {
            Err(Ending::tell(CloseReason::Flooding, "too many messages"))
        }
    }

    async fn on_message(&mut self, message: ClientMessage) -> Result<(), Ending> {
        let wrong_state =
            |what: &'static str, code: ErrorCode| Refusal::new(code, "wrong_state", what);
        match (message, self.state) {
            (ClientMessage::Hello(_), _) => {
                self.error(
                    None,
                    &wrong_state("already greeted", ErrorCode::InvalidRequest),
                )
                .await
            }
            (ClientMessage::Ping(ping), _) => self.answer_ping(ping).await,
            (ClientMessage::Pong(pong), _) => {
                let rtt_us = pong.rtt_us(unix_us());
                self.rtt_us = Some(rtt_us);
                self.shared
                    .metrics
                    .observe_rtt(std::time::Duration::from_micros(rtt_us));
                Ok(())
            }
            (ClientMessage::Close(close), _) => {
                debug!(player = %self.player, reason = ?close.reason, message = %close.message, "client closing");
                Err(Ending::tell(CloseReason::Normal, "goodbye"))
            }
            (ClientMessage::ListRooms(list), _) => {
                let rooms = self.shared.lobby().public_rooms();
                self.send(&ServerMessage::RoomList(RoomList {
                    request_id: list.request_id,
                    rooms,
                }))
                .await
            }
            (ClientMessage::CreateRoom(create), SessionState::Lobby) => {
                self.create_room(create).await
            }
            (ClientMessage::JoinRoom(join), SessionState::Lobby) => {
                let found = self.shared.lobby().find(join.target);
                match found {
                    Ok(room) => self.join(room, join.role, join.request_id).await,
                    Err(e) => self.error(Some(join.request_id), &Refusal::from(e)).await,
                }
            }
            (ClientMessage::QuickJoin(quick), SessionState::Lobby) => {
                let candidate = self.shared.lobby().quick_join_candidate(&quick.options);
                let room = match candidate {
                    Some(room) => Ok(room),
                    None => {
                        let request = self.shared.lobby().quick_join_room(quick.options);
                        self.shared.create_room(request).map(|info| info.id)
                    }
                };
                match room {
                    Ok(room) => self.join(room, Role::Player, quick.request_id).await,
                    Err(refusal) => self.error(Some(quick.request_id), &refusal).await,
                }
            }
            (
                ClientMessage::CreateRoom(CreateRoom { request_id, .. })
                | ClientMessage::JoinRoom(tickwire_shared::protocol::JoinRoom { request_id, .. })
                | ClientMessage::QuickJoin(tickwire_shared::protocol::QuickJoin {
                    request_id, ..
                }),
                SessionState::InRoom { .. },
            ) => {
                self.error(
                    Some(request_id),
                    &wrong_state("leave your room first", ErrorCode::AlreadyInRoom),
                )
                .await
            }
            (ClientMessage::LeaveRoom(leave), SessionState::InRoom { room, .. }) => {
                if let Some(held) = self.leave_room(true).await {
                    self.send(&ServerMessage::Pong(held.answer())).await?;
                }
                let left = Left {
                    request_id: Some(leave.request_id),
                    room,
                    reason: LeaveReason::Requested,
                };
                self.send(&ServerMessage::Left(left)).await
            }
            (ClientMessage::LeaveRoom(leave), SessionState::Lobby) => {
                self.error(
                    Some(leave.request_id),
                    &wrong_state("not in a room", ErrorCode::NotInRoom),
                )
                .await
            }
            (ClientMessage::Inputs(inputs), SessionState::InRoom { .. }) => {
                self.forward(|player| RoomCommand::Inputs { player, inputs }, "inputs");
                Ok(())
            }
            (ClientMessage::Ack(ack), SessionState::InRoom { .. }) => {
                self.forward(
                    |player| RoomCommand::Ack {
                        player,
                        tick: ack.tick,
                    },
                    "acks",
                );
                Ok(())
            }
            (ClientMessage::Event(event), SessionState::InRoom { .. }) => {
                if event.name.is_empty() || event.name.len() > MAX_EVENT_NAME {
                    let refusal = Refusal::new(
                        ErrorCode::InvalidRequest,
                        "bad_event",
                        "event name must be 1..=64 bytes",
                    );
                    return self.error(None, &refusal).await;
                }
                self.forward(|player| RoomCommand::Event { player, event }, "events");
                Ok(())
            }
            (ClientMessage::EventReply(_), SessionState::InRoom { .. }) => Ok(()),
            (
                ClientMessage::Inputs(_)
                | ClientMessage::Ack(_)
                | ClientMessage::Event(_)
                | ClientMessage::EventReply(_),
                SessionState::Lobby,
            ) => {
                self.shared.metrics.input_dropped("not_a_player");
                self.error(
                    None,
                    &wrong_state("join a room first", ErrorCode::NotInRoom),
                )
                .await
            }
        }
    }

    /// Queues a command for the room without waiting: a full room queue
    /// drops it (and counts it) rather than stalling this session.
    fn forward(&mut self, command: impl FnOnce(PlayerId) -> RoomCommand, what: &'static str) {
        let Some(room) = &self.room else { return };
        if room.handle.commands.try_send(command(self.player)).is_err() {
            self.shared.metrics.input_dropped("queue_full");
            debug!(player = %self.player, what, "room queue full; dropped");
        }
    }

    async fn create_room(&mut self, create: CreateRoom) -> Result<(), Ending> {
        let request = NewRoom {
            name: create.name,
            visibility: create.visibility,
            max_players: create.max_players,
            options: create.options,
        };
        match self.shared.create_room(request) {
            Err(refusal) => self.error(Some(create.request_id), &refusal).await,
            Ok(info) => match create.join_as {
                Some(role) => self.join(info.id, role, create.request_id).await,
                None => {
                    let created = RoomCreated {
                        request_id: create.request_id,
                        room: info,
                    };
                    self.send(&ServerMessage::RoomCreated(created)).await
                }
            },
        }
    }

    async fn join(&mut self, room: RoomId, role: Role, request_id: u32) -> Result<(), Ending> {
        match self.try_join(room, role).await {
            Err(refusal) => self.error(Some(request_id), &refusal).await,
            Ok((info, timing, link)) => {
                self.state = SessionState::InRoom { room, role };
                if self.shared.shards.current() != Some(link.handle.shard) {
                    self.moving_to = Some(link.handle.shard);
                }
                self.room = Some(link);
                let joined = Joined {
                    request_id: Some(request_id),
                    room: info,
                    role,
                    tick_rate: timing.tick_rate,
                    tick_zero_unix_us: timing.tick_zero_unix_us,
                    tick: timing.tick,
                };
                self.send(&ServerMessage::Joined(joined)).await?;
                // The client knows its room now: the room may write its
                // updates straight to it.
                if let Some(direct) = self.room.as_ref().and_then(|r| r.direct.as_ref()) {
                    direct.allow(true);
                }
                Ok(())
            }
        }
    }

    async fn try_join(
        &mut self,
        room: RoomId,
        role: Role,
    ) -> Result<(RoomInfo, super::room_task::RoomTiming, RoomLink), Refusal> {
        let (info, handle) = {
            let mut lobby = self.shared.lobby();
            let (info, handle) = lobby.reserve(room, role)?;
            (info, handle.clone())
        };
        let release = |shared: &Shared<G>| shared.lobby().release(room, role);
        let gone = || {
            Refusal::new(
                ErrorCode::RoomNotFound,
                "room_not_found",
                "the room has closed",
            )
        };
        let slot = Arc::new(UpdateSlot::default());
        let (reply_tx, reply_rx) = oneshot::channel();
        let direct = self.link.direct();
        let command = RoomCommand::Join {
            player: self.player,
            role,
            slot: Arc::clone(&slot),
            direct: direct.clone(),
            control: self.control_tx.clone(),
            reply: reply_tx,
        };
        if !matches!(
            tokio::time::timeout(JOIN_TIMEOUT, handle.commands.send(command)).await,
            Ok(Ok(()))
        ) {
            release(&self.shared);
            return Err(gone());
        }
        match tokio::time::timeout(JOIN_TIMEOUT, reply_rx).await {
            // The room released the seat itself when it refused.
            Ok(Ok(Err(refusal))) => Err(refusal),
            Ok(Ok(Ok(timing))) => Ok((
                info,
                timing,
                RoomLink {
                    id: room,
                    role,
                    handle,
                    slot,
                    direct,
                    clock: timing.clock,
                },
            )),
            // The room stopped, or did not answer and will undo the join
            // when it finds the reply channel closed.
            Ok(Err(_)) => {
                release(&self.shared);
                Err(gone())
            }
            Err(_) => Err(gone()),
        }
    }

    /// Leaves the current room. With `confirm`, waits (bounded) until the
    /// room has freed the seat, so that what the client hears next (its
    /// `Left`, a room list) already reflects it. Returns the answer to a
    /// client's ping the room had not carried yet.
    async fn leave_room(&mut self, confirm: bool) -> Option<HeldPong> {
        self.state = SessionState::Lobby;
        let room = self.room.take()?;
        // No update may follow what the client hears next.
        if let Some(direct) = &room.direct {
            direct.allow(false);
        }
        let held = room.slot.take_held_pong();
        let (done_tx, done_rx) = oneshot::channel();
        let leave = RoomCommand::Leave {
            player: self.player,
            done: confirm.then_some(done_tx),
        };
        // Waits for queue space (bounded): a lost leave would hold the seat
        // until the room noticed the session had gone.
        let queued = tokio::time::timeout(JOIN_TIMEOUT, room.handle.commands.send(leave)).await;
        if confirm && matches!(queued, Ok(Ok(()))) {
            let _ = tokio::time::timeout(JOIN_TIMEOUT, done_rx).await;
        }
        debug!(player = %self.player, room = %room.id, role = ?room.role, "left room");
        held
    }

    async fn finish(mut self, ending: Ending) {
        self.leave_room(false).await;
        let label = reason_label(ending.reason);
        self.shared.metrics.session_closed(label);
        if !matches!(
            ending.reason,
            CloseReason::Normal | CloseReason::ServerShutdown
        ) {
            self.shared.metrics.error(label);
        }
        info!(
            peer = %self.peer, player = %self.player, reason = label, message = %ending.message,
            rtt_ms = self.rtt_us.map(|us| us as f64 / 1e3), "session closed"
        );
        if ending.tell {
            let close = ServerMessage::Close(Close {
                reason: ending.reason,
                message: ending.message.clone(),
            });
            let write = self
                .shared
                .config
                .timeouts
                .write()
                .min(std::time::Duration::from_secs(1));
            let _ = tokio::time::timeout(write, self.send(&close)).await;
            let _ =
                tokio::time::timeout(write, self.link.close(ending.reason, &ending.message)).await;
        }
        self.shared.metrics.connections.dec();
    }
}
