//! One client's task (shell): a short loop around a pure [`Session`]. It
//! moves frames from the link into the session, carries out what the
//! session asks of the lobby and its room, moves what the session and the
//! room queued in the connection's [`Outbox`] to the link, and wakes the
//! session at its deadlines. When the session joins a room on another
//! shard, the task (socket included) moves there.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tickwire_shared::game::Game;
use tickwire_shared::ids::RoomId;
use tickwire_shared::protocol::{CloseReason, ResumeToken, Role};
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use tracing::debug;

use super::room_task::RoomCommand;
use super::shards::ShardId;
use super::{RoomHandle, Shared, now};
use crate::outbox::{Outbox, Outgoing};
use crate::reason::{Fault, InputDrop, Refusal};
use crate::runtime::admission::ConnectionPermits;
use crate::session::{Answer, Closing, Command, Session, SessionConfig};
use crate::transport::{Incoming, Link, LinkError};

/// How long a session waits for a room to answer a join (a room answers
/// at its next tick) or to take a leave.
const ROOM_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest the last frames (the `Close`) and the close handshake may
/// take when a session ends.
const CLOSE_WRITE: Duration = Duration::from_secs(1);

/// The session's room.
struct RoomLink {
    id: RoomId,
    handle: RoomHandle,
}

/// One client's task.
struct Task<G: Game, L: Link> {
    shared: Arc<Shared<G>>,
    link: L,
    session: Session,
    outbox: Arc<Outbox>,
    room: Option<RoomLink>,
    /// The pending-handshake permit, released once the client is greeted.
    handshake: Option<OwnedSemaphorePermit>,
    /// The connection's slots (all connections, its address's), held for
    /// the session's life wherever it runs.
    _permits: ConnectionPermits,
    /// The shard of a room just joined, when the task must move there.
    moving_to: Option<ShardId>,
}

/// Runs a session on an upgraded link until it ends (possibly moving to
/// the shard of a room it joins, as a task of its own there).
/// `handshake_deadline` bounds the wait for `Hello`; `handshake` is the
/// pending-handshake permit; `permits` are the connection's slots, freed
/// when the session ends.
pub(crate) async fn run<G: Game, L: Link + 'static>(
    shared: Arc<Shared<G>>,
    link: L,
    peer: std::net::SocketAddr,
    handshake_deadline: Instant,
    handshake: OwnedSemaphorePermit,
    permits: ConnectionPermits,
) {
    let session = Session::new(
        Instant::now(),
        handshake_deadline,
        SessionConfig::from_server(&shared.config),
        Arc::clone(&shared.metrics),
        peer,
        shared.next_player(),
        ResumeToken(rand_os::random()),
    );
    let outbox = Arc::new(Outbox::new(
        link.direct(),
        shared.config.limits.control_queue,
    ));
    let task = Task {
        shared,
        link,
        session,
        outbox,
        room: None,
        handshake: Some(handshake),
        _permits: permits,
        moving_to: None,
    };
    drive(task).await;
}

/// Serves a session where it runs until it ends, or until it joins a room
/// on another shard: then its link leaves this thread's IO driver and the
/// session goes on as a new task on the room's shard (under the same task
/// tracker), and this task returns.
fn drive<G: Game, L: Link + 'static>(
    mut task: Task<G, L>,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let Some(shard) = task.serve().await else {
            return task.finish().await;
        };
        if let Err(e) = task.link.detach() {
            task.session.handle_write_failed(
                now(),
                CloseReason::Normal,
                format!("moving shards: {e}"),
            );
            return task.finish().await;
        }
        let shared = Arc::clone(&task.shared);
        shared.metrics.session_moves.inc();
        let moved = async move {
            match task.link.attach() {
                Ok(()) => drive(task).await,
                Err(e) => {
                    task.session.handle_write_failed(
                        now(),
                        CloseReason::Normal,
                        format!("moving shards: {e}"),
                    );
                    task.finish().await;
                }
            }
        };
        shared
            .shards
            .spawn(shard, shared.tracker.track_future(moved));
    })
}

impl<G: Game, L: Link> Task<G, L> {
    /// Runs the session until it is over (`None`) or must move to another
    /// shard.
    async fn serve(&mut self) -> Option<ShardId> {
        // Created once: a fresh cancellation future or timer per wake-up
        // would register and unregister a waiter every time.
        let cancel = self.shared.cancel.clone();
        let cancelled = cancel.cancelled();
        tokio::pin!(cancelled);
        let far = tokio::time::Instant::now() + Duration::from_secs(86_400);
        let timer = tokio::time::sleep_until(far);
        tokio::pin!(timer);
        loop {
            self.pump().await;
            if self.session.is_closed() {
                return None;
            }
            if let Some(shard) = self.moving_to.take() {
                return Some(shard);
            }
            let deadline = self
                .session
                .poll_timeout()
                .map_or(far, tokio::time::Instant::from_std);
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            let outbox = Arc::clone(&self.outbox);
            let wants_frames = self.session.wants_frames();
            tokio::select! {
                biased;
                () = &mut cancelled => {
                    self.session.close(now(), CloseReason::ServerShutdown, "server shutting down");
                }
                () = outbox.ready() => {}
                incoming = self.link.recv(), if wants_frames => self.on_incoming(incoming),
                () = &mut timer => self.session.handle_timeout(now()),
            }
        }
    }

    fn on_incoming(&mut self, incoming: Incoming) {
        let now = now();
        match incoming {
            Incoming::Frame(frame) => self.session.handle_frame(now, &frame),
            Incoming::Control => self.session.handle_keepalive(now),
            Incoming::Closed => self.session.handle_peer_closed(now),
            Incoming::Violation(violation) => {
                self.session
                    .handle_violation(now, violation.reason(), violation.to_string());
            }
        }
    }

    /// Carries out what the session asked for and writes what waits in the
    /// outbox, until neither has more.
    async fn pump(&mut self) {
        loop {
            if !matches!(
                self.session.state(),
                crate::session::State::Handshaking { .. }
            ) {
                self.handshake = None;
            }
            let mut progress = false;
            while let Some(command) = self.session.poll_command() {
                progress = true;
                self.carry_out(command).await;
            }
            while let Some(transmit) = self.session.poll_transmit() {
                progress = true;
                self.outbox.queue(transmit, now());
            }
            if !self.write_out().await {
                return;
            }
            if !progress {
                return;
            }
        }
    }

    /// Writes what the outbox holds; false when the link failed (the
    /// session is told and closes).
    async fn write_out(&mut self) -> bool {
        let write = self.shared.config.timeouts.write();
        while let Some(next) = self.outbox.take() {
            let (result, sent) = match next {
                Outgoing::Frame(frame, delivery) => {
                    let len = frame.len() as u64;
                    let update = delivery == crate::outbox::Delivery::LatestWins;
                    let sent = tokio::time::timeout(write, self.link.send(frame, delivery)).await;
                    (sent, Some((len, update)))
                }
                Outgoing::Flush => (tokio::time::timeout(write, self.link.flush()).await, None),
            };
            self.outbox.written();
            match result {
                Ok(Ok(())) => {
                    if let Some((len, update)) = sent {
                        let metrics = &self.shared.metrics;
                        metrics.bytes_out.inc_by(len);
                        metrics.messages_out.inc();
                        if update {
                            metrics.updates_sent.inc();
                        }
                    }
                }
                Ok(Err(e)) => {
                    self.write_failed(e);
                    return false;
                }
                Err(_) => {
                    self.shared.metrics.error(&Fault::SlowConsumer);
                    self.session.handle_write_failed(
                        now(),
                        CloseReason::SlowConsumer,
                        Fault::SlowConsumer.to_string(),
                    );
                    return false;
                }
            }
        }
        true
    }

    fn write_failed(&mut self, e: LinkError) {
        self.session
            .handle_write_failed(now(), CloseReason::Normal, format!("write failed: {e}"));
    }

    async fn carry_out(&mut self, command: Command) {
        let player = self.session.player();
        let answer = match command {
            Command::ListRooms { request_id } => Some(Answer::RoomList {
                request_id,
                rooms: self.shared.lobby().public_rooms(),
            }),
            Command::CreateRoom {
                request_id,
                room,
                join_as,
            } => Some(match (self.shared.create_room(room), join_as) {
                (Err(refusal), _) => Answer::Refused {
                    request_id,
                    refusal,
                },
                (Ok(info), Some(role)) => self.join(info.id, role, request_id).await,
                (Ok(info), None) => Answer::RoomCreated {
                    request_id,
                    room: info,
                },
            }),
            Command::JoinRoom {
                request_id,
                target,
                role,
            } => {
                let found = self.shared.lobby().find(target);
                Some(match found {
                    Ok(room) => self.join(room, role, request_id).await,
                    Err(e) => Answer::Refused {
                        request_id,
                        refusal: e.into(),
                    },
                })
            }
            Command::QuickJoin {
                request_id,
                options,
            } => {
                let candidate = self.shared.lobby().quick_join_candidate(&options);
                let room = match candidate {
                    Some(room) => Ok(room),
                    None => {
                        let request = self.shared.lobby().quick_join_room(options);
                        self.shared.create_room(request).map(|info| info.id)
                    }
                };
                Some(match room {
                    Ok(room) => self.join(room, Role::Player, request_id).await,
                    Err(refusal) => Answer::Refused {
                        request_id,
                        refusal,
                    },
                })
            }
            Command::LeaveRoom { room, confirm } => {
                self.leave(room, confirm).await;
                confirm.then_some(Answer::Left)
            }
            Command::ToRoom(input) => {
                if let Some(room) = &self.room {
                    let command = RoomCommand::Input { player, input };
                    if room.handle.commands.try_send(command).is_err() {
                        self.shared.metrics.input_dropped(InputDrop::QueueFull);
                        debug!(%player, "room queue full; dropped");
                    }
                }
                None
            }
        };
        if let Some(answer) = answer {
            self.session.handle_answer(now(), answer);
        }
    }

    /// Reserves a seat and hands the client to the room; the answer is the
    /// room's.
    async fn join(&mut self, room: RoomId, role: Role, request_id: u32) -> Answer {
        let refused = |refusal: Refusal| Answer::Refused {
            request_id,
            refusal,
        };
        let (info, handle) = {
            let mut lobby = self.shared.lobby();
            match lobby.reserve(room, role) {
                Ok((info, handle)) => (info, handle.clone()),
                Err(e) => return refused(e.into()),
            }
        };
        let release = |shared: &Shared<G>| shared.lobby().release(room, role);
        let (reply_tx, reply_rx) = oneshot::channel();
        let command = RoomCommand::Join {
            player: self.session.player(),
            role,
            outbox: Arc::clone(&self.outbox),
            reply: reply_tx,
        };
        if !matches!(
            tokio::time::timeout(ROOM_TIMEOUT, handle.commands.send(command)).await,
            Ok(Ok(()))
        ) {
            release(&self.shared);
            return refused(Refusal::RoomClosed);
        }
        match tokio::time::timeout(ROOM_TIMEOUT, reply_rx).await {
            // The room released the seat itself when it refused.
            Ok(Ok(Err(refusal))) => refused(refusal),
            Ok(Ok(Ok(timing))) => {
                if self.shared.shards.current() != Some(handle.shard) {
                    self.moving_to = Some(handle.shard);
                }
                self.room = Some(RoomLink { id: room, handle });
                Answer::Joined {
                    request_id,
                    room: info,
                    role,
                    timing,
                }
            }
            // The room stopped.
            Ok(Err(_)) => {
                release(&self.shared);
                refused(Refusal::RoomClosed)
            }
            // The room did not answer, and will undo the join when it
            // finds the reply channel closed.
            Err(_) => refused(Refusal::RoomClosed),
        }
    }

    /// Tells the room the client left. With `confirm`, waits (bounded)
    /// until the room has freed the seat, so that what the client hears
    /// next (its `Left`, a room list) already reflects it.
    async fn leave(&mut self, room: RoomId, confirm: bool) {
        let Some(link) = self.room.take() else { return };
        debug_assert_eq!(link.id, room);
        let (done_tx, done_rx) = oneshot::channel();
        let leave = RoomCommand::Leave {
            player: self.session.player(),
            done: confirm.then_some(done_tx),
        };
        // Waits for queue space (bounded): a lost leave would hold the seat
        // until the room noticed the session had gone.
        let queued = tokio::time::timeout(ROOM_TIMEOUT, link.handle.commands.send(leave)).await;
        if confirm && matches!(queued, Ok(Ok(()))) {
            let _ = tokio::time::timeout(ROOM_TIMEOUT, done_rx).await;
        }
        debug!(player = %self.session.player(), %room, "left room");
    }

    /// The session is over: tell the room, send the last frames (the
    /// `Close` or `Rejected`), and close the transport with the reason.
    async fn finish(mut self) {
        while let Some(command) = self.session.poll_command() {
            self.carry_out(command).await;
        }
        let Some(Closing {
            reason,
            message,
            tell,
        }) = self.session.poll_close()
        else {
            return;
        };
        if !tell {
            return;
        }
        while let Some(transmit) = self.session.poll_transmit() {
            self.outbox.queue(transmit, now());
        }
        let write = self.shared.config.timeouts.write().min(CLOSE_WRITE);
        let _ = tokio::time::timeout(write, self.write_out()).await;
        let _ = tokio::time::timeout(write, self.link.close(reason, &message)).await;
    }
}
