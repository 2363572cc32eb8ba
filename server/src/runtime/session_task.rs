//! One client's task (shell): a short loop around a pure [`Session`]. It
//! moves frames from the link into the session, carries out what the
//! session asks of the lobby and its room, moves what the session and the
//! room queued in the connection's [`Outbox`] to the link, and wakes the
//! session at its deadlines. When the session joins a room on another
//! shard, the task (socket included) moves there.
//!
//! Once the session is in a room and runs on the room's shard, and its
//! link can park ([`Link::parks`]: TCP, not QUIC), it attaches its session
//! and link to the room ([`Attached`]): from then on
//! the room reads what the client sent at each tick, feeds the session and
//! carries out its requests itself (inputs and acks go straight into the
//! room), so a client's message costs no task wake-up and no channel hop.
//! The task then only writes what the outbox holds beyond what the room
//! wrote itself, runs the heartbeat, and takes the session back when it
//! leaves the room or ends.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tickwire_shared::game::{GameOptions, Identity, LeaveCause};
use tickwire_shared::ids::{PlayerId, RoomId};
use tickwire_shared::protocol::{CloseReason, ResumeToken, Role};
use tickwire_shared::tick::Tick;
use tokio::sync::{Mutex, Notify, oneshot};
use tracing::{debug, info};

use super::room_task::RoomCommand;
use super::shards::ShardId;
use super::{RoomHandle, Shared, now};
use crate::auth::AuthError;
use crate::outbox::{Outbox, Outgoing};
use crate::reason::{Fault, InputDrop, Refusal};
use crate::resume::{Found, Parked};
use crate::runtime::admission::{ConnectionPermits, HandshakePermit};
use crate::session::{Answer, AuthPolicy, Closing, Command, Now, Session, SessionConfig};
use crate::transport::{Incoming, Link, LinkError};

mod lobby_requests;

/// How long a session waits for a room to answer a join (a room answers
/// at its next tick) or to take a leave.
const ROOM_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a resume waits for the live session it takes over to close
/// and park its seat, and how often it looks.
const TAKEOVER_WAIT: Duration = Duration::from_secs(2);
const TAKEOVER_POLL: Duration = Duration::from_millis(10);
/// What a session taken over by another connection is told.
const REPLACED: &str = "the session was resumed on another connection";

/// The longest the last frames (the `Close`) and the close handshake may
/// take when a session ends.
const CLOSE_WRITE: Duration = Duration::from_secs(1);

/// The session's room.
struct RoomLink {
    id: RoomId,
    handle: RoomHandle,
}

/// A session and its connection: the task's, and, while attached, read by
/// the member's room at each tick.
pub(crate) struct Attached<L> {
    session: Session,
    link: L,
}

/// A member's session and connection as its room drives them, whatever
/// the transport.
pub(crate) trait Drivable: Send {
    /// The session.
    fn session(&mut self) -> &mut Session;
    /// Feeds the session what the client has sent, without waiting: at
    /// most `max` frames, and none once the session takes no more.
    fn read_ready(&mut self, now: Now, max: usize);
}

impl<L: Link> Drivable for Attached<L> {
    fn session(&mut self) -> &mut Session {
        &mut self.session
    }

    fn read_ready(&mut self, now: Now, max: usize) {
        for _ in 0..max {
            if !self.session.wants_frames() {
                return;
            }
            // Polled once with a no-op waker: the link is cancel-safe, and
            // no task is woken when more arrives (the room reads again at
            // its next tick).
            match self.link.recv().now_or_never() {
                // The session hears of the frame at the time it arrived:
                // it waited in the socket until this tick, and a ping's
                // answer must not count that wait as round trip.
                Some(incoming) => feed(
                    &mut self.session,
                    arrived(now, self.link.received_at()),
                    incoming,
                ),
                None => return,
            }
        }
    }
}

impl std::fmt::Debug for dyn Drivable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drivable").finish_non_exhaustive()
    }
}

/// `now`, moved back to when a frame arrived (`arrived_us`, Unix
/// microseconds) when the transport knows and it is not in the future.
fn arrived(now: Now, arrived_us: Option<u64>) -> Now {
    let Some(arrived_us) = arrived_us.filter(|&us| us <= now.unix_us) else {
        return now;
    };
    let waited = Duration::from_micros(now.unix_us - arrived_us);
    match now.at.checked_sub(waited) {
        Some(at) => Now {
            at,
            unix_us: arrived_us,
        },
        None => now,
    }
}

/// A member's attachment, shared with its room.
pub(crate) type Driven = Arc<Mutex<dyn Drivable>>;

/// Whether the room reads a session's connection, and the task's wake-up
/// when it stops (the session left or ended, or the room could not take
/// it).
#[derive(Debug, Default)]
pub(crate) struct AttachState {
    attached: AtomicBool,
    notify: Notify,
}

impl AttachState {
    /// The room stops reading the connection and hands it back.
    pub(crate) fn hand_back(&self) {
        self.attached.store(false, Ordering::Release);
        self.notify.notify_one();
    }
}

/// Hands what the link received to the session.
fn feed(session: &mut Session, now: Now, incoming: Incoming) {
    match incoming {
        Incoming::Frame(frame) => session.handle_frame(now, &frame),
        Incoming::Control => session.handle_keepalive(now),
        Incoming::Closed => session.handle_peer_closed(now),
        Incoming::Goodbye => session.handle_goodbye(now),
        Incoming::Violation(violation) => {
            session.handle_violation(now, violation.reason(), violation.to_string());
        }
    }
}

/// One client's task.
struct Task<L: Link> {
    shared: Arc<Shared>,
    conn: Arc<Mutex<Attached<L>>>,
    outbox: Arc<Outbox>,
    room: Option<RoomLink>,
    /// Whether the room reads the connection (see the module doc), and
    /// the wake-up when it hands it back.
    attach: Arc<AttachState>,
    /// The room the connection was last offered to.
    offered_to: Option<RoomId>,
    /// The pending-handshake permit, released once the client is greeted.
    handshake: Option<HandshakePermit>,
    /// The connection's slots (all connections, its address's), held for
    /// the session's life wherever it runs.
    _permits: ConnectionPermits,
    /// The shard of a room just joined, when the task must move there.
    moving_to: Option<ShardId>,
    /// The session's resume token.
    token: ResumeToken,
    /// Woken when another connection presents the token, or signs in as
    /// the same account: this one closes with `Replaced` (and its seat
    /// waits for a resume).
    takeover: Arc<Notify>,
    /// The account it signed in as, and the player id it had then, while
    /// it holds it.
    account: Option<(String, PlayerId)>,
    /// The client's address, for the authenticator.
    peer: std::net::SocketAddr,
}

/// Runs a session on an upgraded link until it ends (possibly moving to
/// the shard of a room it joins, as a task of its own there).
/// `handshake_deadline` bounds the wait for `Hello`; `handshake` is the
/// pending-handshake permit; `permits` are the connection's slots, freed
/// when the session ends.
pub(crate) async fn run<L: Link + 'static>(
    shared: Arc<Shared>,
    link: L,
    peer: std::net::SocketAddr,
    handshake_deadline: Instant,
    handshake: HandshakePermit,
    permits: ConnectionPermits,
) {
    let (player, token) = (shared.next_player(), ResumeToken(rand_os::random()));
    let mut config = SessionConfig::from_server(&shared.config);
    config.auth = match (&shared.authenticator, shared.config.auth.required) {
        (None, _) => AuthPolicy::Open,
        (Some(_), false) => AuthPolicy::Optional,
        (Some(_), true) => AuthPolicy::Required,
    };
    let session = Session::new(
        Instant::now(),
        handshake_deadline,
        config,
        Arc::clone(&shared.metrics),
        peer,
        player,
        token,
    );
    // Nobody knows the token before the Welcome; from then on another
    // connection presenting it takes this session over.
    let takeover = Arc::new(Notify::new());
    shared.resumes().live(token, player, Arc::clone(&takeover));
    let outbox = Arc::new(Outbox::new(
        link.direct(),
        shared.config.limits.control_queue,
    ));
    let task = Task {
        shared,
        conn: Arc::new(Mutex::new(Attached { session, link })),
        outbox,
        room: None,
        attach: Arc::new(AttachState::default()),
        offered_to: None,
        handshake: Some(handshake),
        _permits: permits,
        moving_to: None,
        token,
        takeover,
        account: None,
        peer,
    };
    drive(task).await;
}

/// Serves a session where it runs until it ends, or until it joins a room
/// on another shard: then its link leaves this thread's IO driver and the
/// session goes on as a new task on the room's shard (under the same task
/// tracker), and this task returns.
fn drive<L: Link + 'static>(mut task: Task<L>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let Some(shard) = task.serve().await else {
            return task.finish().await;
        };
        let detached = task.conn.lock().await.link.detach();
        if let Err(e) = detached {
            task.conn.lock().await.session.handle_write_failed(
                now(),
                CloseReason::Normal,
                format!("moving shards: {e}"),
            );
            return task.finish().await;
        }
        let shared = Arc::clone(&task.shared);
        shared.metrics.session_moves.inc();
        let moved = async move {
            let attached = task.conn.lock().await.link.attach();
            match attached {
                Ok(()) => drive(task).await,
                Err(e) => {
                    task.conn.lock().await.session.handle_write_failed(
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

impl<L: Link + 'static> Task<L> {
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
        let conn = Arc::clone(&self.conn);
        let outbox = Arc::clone(&self.outbox);
        let attach = Arc::clone(&self.attach);
        let takeover = Arc::clone(&self.takeover);
        loop {
            let mut guard = conn.lock().await;
            self.pump(&mut guard).await;
            if guard.session.is_closed() {
                return None;
            }
            if let Some(shard) = self.moving_to.take() {
                return Some(shard);
            }
            if self.room.is_some() && guard.session.room().is_none() {
                // The room took the session out (it left); it is ours again.
                self.room = None;
                self.offered_to = None;
            }
            let attached = self.attach.attached.load(Ordering::Acquire)
                || (guard.link.parks() && self.offer());
            let deadline = guard
                .session
                .poll_timeout()
                .map_or(far, tokio::time::Instant::from_std);
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            if attached {
                // The room reads the connection at its ticks: out of the IO
                // driver, so that the client's messages wake nobody; wait
                // without holding it.
                if let Err(e) = guard.link.park() {
                    debug!(error = %e, "parking the connection failed");
                }
                drop(guard);
                tokio::select! {
                    biased;
                    () = &mut cancelled => {
                        conn.lock().await.session.close(now(), CloseReason::ServerShutdown, "server shutting down");
                    }
                    () = takeover.notified() => {
                        conn.lock().await.session.close(now(), CloseReason::Replaced, REPLACED);
                    }
                    () = outbox.ready() => {}
                    () = attach.notify.notified() => {}
                    () = &mut timer => conn.lock().await.session.handle_timeout(now()),
                }
            } else {
                if let Err(e) = guard.link.unpark() {
                    guard.session.handle_write_failed(
                        now(),
                        CloseReason::Normal,
                        format!("unparking the connection: {e}"),
                    );
                    continue;
                }
                let wants_frames = guard.session.wants_frames();
                let Attached { session, link } = &mut *guard;
                tokio::select! {
                    biased;
                    () = &mut cancelled => {
                        session.close(now(), CloseReason::ServerShutdown, "server shutting down");
                    }
                    () = takeover.notified() => session.close(now(), CloseReason::Replaced, REPLACED),
                    () = outbox.ready() => {}
                    incoming = link.recv(), if wants_frames => feed(session, now(), incoming),
                    () = &mut timer => session.handle_timeout(now()),
                }
            }
        }
    }

    /// Offers the connection to the room, once per room, when the session
    /// is in one and runs on the room's shard; true when offered.
    fn offer(&mut self) -> bool {
        let Some(room) = &self.room else { return false };
        if self.offered_to == Some(room.id)
            || self.shared.shards.current() != Some(room.handle.shard)
        {
            return false;
        }
        self.offered_to = Some(room.id);
        let conn: Driven = Arc::clone(&self.conn) as Driven;
        let command = RoomCommand::Attach {
            conn,
            outbox: Arc::clone(&self.outbox),
            attach: Arc::clone(&self.attach),
        };
        self.attach.attached.store(true, Ordering::Release);
        if room.handle.commands.try_send(command).is_err() {
            self.attach.attached.store(false, Ordering::Release);
            return false;
        }
        true
    }

    /// Carries out what the session asked for and writes what waits in the
    /// outbox, until neither has more.
    async fn pump(&mut self, conn: &mut Attached<L>) {
        if let Some(removal) = self.outbox.take_removal() {
            // The room removed the member (kicked, closed) and freed its
            // seat; the session tells the client.
            self.attach.attached.store(false, Ordering::Release);
            conn.session.handle_removed(now(), removal);
        }
        loop {
            if !matches!(
                conn.session.state(),
                crate::session::State::Handshaking { .. }
                    | crate::session::State::Authenticating { .. }
            ) {
                self.handshake = None;
            }
            let mut progress = false;
            while let Some(command) = conn.session.poll_command() {
                progress = true;
                self.carry_out(&mut conn.session, command).await;
            }
            let queued_at = now();
            while let Some(transmit) = conn.session.poll_transmit() {
                progress = true;
                self.outbox.queue(transmit, queued_at);
            }
            if !self.write_out(conn).await {
                return;
            }
            if !progress {
                return;
            }
        }
    }

    /// Writes what the outbox holds; false when the link failed (the
    /// session is told and closes).
    async fn write_out(&mut self, conn: &mut Attached<L>) -> bool {
        let write = self.shared.config.timeouts.write();
        while let Some(next) = self.outbox.take() {
            let (result, sent) = match next {
                Outgoing::Frame(frame, delivery) => {
                    let len = frame.len() as u64;
                    let update = delivery == crate::outbox::Delivery::LatestWins;
                    let sent = tokio::time::timeout(write, conn.link.send(frame, delivery)).await;
                    (sent, Some((len, update)))
                }
                Outgoing::Flush => (tokio::time::timeout(write, conn.link.flush()).await, None),
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
                    if conn.link.said_goodbye() {
                        // The client closed the connection on purpose.
                        conn.session.handle_goodbye(now());
                    } else {
                        write_failed(&mut conn.session, e);
                    }
                    return false;
                }
                Err(_) => {
                    self.shared.metrics.error(&Fault::SlowConsumer);
                    conn.session.handle_write_failed(
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

    async fn carry_out(&mut self, session: &mut Session, command: Command) {
        let player = session.player();
        let answer = match command {
            Command::Authenticate { ticket, deadline } => {
                let outcome = match &self.shared.authenticator {
                    Some(auth) => {
                        let deadline = tokio::time::Instant::from_std(deadline);
                        let verdict = auth.authenticate(&ticket, self.peer);
                        tokio::select! {
                            outcome = tokio::time::timeout_at(deadline, verdict) => {
                                Some(outcome.unwrap_or(Err(AuthError::TimedOut)))
                            }
                            // Shutting down: no verdict; the task's loop
                            // closes the session with `ServerShutdown`.
                            () = self.shared.cancel.cancelled() => None,
                        }
                    }
                    // The session asks only when the server authenticates.
                    None => Some(Err(AuthError::Unavailable("no authenticator".into()))),
                };
                if let Some(outcome) = outcome {
                    session.handle_auth(now(), outcome);
                    self.sign_in(session);
                }
                None
            }
            Command::ListRooms { request_id, filter } => Some(Answer::RoomList {
                request_id,
                rooms: self.shared.list_rooms(&filter),
            }),
            Command::CreateRoom {
                request_id,
                room,
                join_as,
                join_options,
            } => Some(
                self.create_room(session, request_id, room, join_as, join_options)
                    .await,
            ),
            Command::JoinRoom {
                request_id,
                target,
                role,
                join_options,
            } => Some(
                self.join_room(session, request_id, target, role, join_options)
                    .await,
            ),
            Command::QuickJoin {
                request_id,
                filter,
                options,
                join_options,
            } => Some(
                self.quick_join(session, request_id, filter, options, join_options)
                    .await,
            ),
            Command::ClaimSeat {
                request_id,
                reservation,
            } => Some(self.claim_seat(session, request_id, &reservation).await),
            Command::LeaveRoom {
                room,
                confirm,
                cause,
            } => {
                self.leave(player, room, confirm, cause).await;
                confirm.then_some(Answer::Left)
            }
            Command::Resume { token, from } => Some(self.resume(session, token, from).await),
            Command::Suspend { room, token } => {
                self.attach.attached.store(false, Ordering::Release);
                self.offered_to = None;
                if let Some(link) = self.room.take() {
                    debug_assert_eq!(link.id, room);
                    let at = now().at;
                    let until = at + self.shared.config.timeouts.reconnect_grace();
                    let parked = Parked {
                        player,
                        room,
                        until,
                        account: session.identity().map(|i| i.subject.clone()),
                    };
                    self.shared.resumes().park(token, parked, at);
                    let suspend = RoomCommand::Suspend { player, until };
                    let _ = tokio::time::timeout(ROOM_TIMEOUT, link.handle.commands.send(suspend))
                        .await;
                }
                None
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
            session.handle_answer(now(), answer);
        }
    }

    /// An account sits once: the session that signed in as it before is
    /// taken over (closed with `Replaced`; its seat waits for a resume).
    fn sign_in(&mut self, session: &Session) {
        let Some(identity) = session.identity() else {
            return;
        };
        // Only this account may take the session over with its token.
        self.shared
            .resumes()
            .signed_in(self.token, &identity.subject);
        if !self.shared.config.auth.one_session_per_account {
            return;
        }
        let player = session.player();
        let entry = (player, Arc::clone(&self.takeover));
        let before = self
            .shared
            .accounts()
            .insert(identity.subject.clone(), entry);
        if let Some((other, handle)) = before
            && other != player
        {
            info!(account = %identity.subject, %other, %player, "account signed in again; the older session is replaced");
            handle.notify_one();
        }
        self.account = Some((identity.subject.clone(), player));
    }

    /// Looks for the seat parked under `token` (taking a live session
    /// over first: it closes with `Replaced`, which parks its seat) and
    /// hands this connection to its room.
    async fn resume(
        &mut self,
        session: &Session,
        token: ResumeToken,
        from: Option<Tick>,
    ) -> Answer {
        let deadline = Instant::now() + TAKEOVER_WAIT;
        let parked = loop {
            let account = session.identity().map(|i| i.subject.as_str());
            let found = self.shared.resumes().take(token, Instant::now(), account);
            match found {
                Found::Parked(parked) => break Some(parked),
                Found::Live { handle, .. } if Instant::now() < deadline => {
                    handle.notify_one();
                    tokio::time::sleep(TAKEOVER_POLL).await;
                }
                _ => break None,
            }
        };
        let Some(parked) = parked else {
            debug!(player = %session.player(), "nothing to resume");
            return Answer::NotResumed;
        };
        let found = self
            .shared
            .lobby()
            .seat_of(parked.room)
            .map(|(info, h)| (info, h.clone()));
        let Some((info, handle)) = found else {
            return Answer::NotResumed;
        };
        let (reply_tx, reply_rx) = oneshot::channel();
        let command = RoomCommand::Resume {
            player: parked.player,
            outbox: Arc::clone(&self.outbox),
            from,
            reply: reply_tx,
        };
        if !matches!(
            tokio::time::timeout(ROOM_TIMEOUT, handle.commands.send(command)).await,
            Ok(Ok(()))
        ) {
            return Answer::NotResumed;
        }
        match tokio::time::timeout(ROOM_TIMEOUT, reply_rx).await {
            Ok(Ok(Ok((timing, role)))) => {
                if self.shared.shards.current() != Some(handle.shard) {
                    self.moving_to = Some(handle.shard);
                }
                self.room = Some(RoomLink {
                    id: parked.room,
                    handle,
                });
                Answer::Resumed {
                    player: parked.player,
                    room: info,
                    role,
                    timing,
                }
            }
            _ => Answer::NotResumed,
        }
    }

    /// Reserves a seat and hands the client to the room; the answer is the
    /// room's (its game's join hook may refuse).
    async fn join(&mut self, player: PlayerId, room: RoomId, join: Joining) -> Answer {
        let Joining {
            role,
            name,
            options,
            identity,
            request_id,
        } = join;
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
        let release = |shared: &Shared| shared.lobby().release(room, role);
        let (reply_tx, reply_rx) = oneshot::channel();
        let command = RoomCommand::Join {
            player,
            role,
            name,
            options,
            identity,
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
    async fn leave(&mut self, player: PlayerId, room: RoomId, confirm: bool, cause: LeaveCause) {
        self.attach.attached.store(false, Ordering::Release);
        self.offered_to = None;
        let Some(link) = self.room.take() else { return };
        debug_assert_eq!(link.id, room);
        let (done_tx, done_rx) = oneshot::channel();
        let leave = RoomCommand::Leave {
            player,
            cause,
            done: confirm.then_some(done_tx),
        };
        // Waits for queue space (bounded): a lost leave would hold the seat
        // until the room noticed the session had gone.
        let queued = tokio::time::timeout(ROOM_TIMEOUT, link.handle.commands.send(leave)).await;
        if confirm && matches!(queued, Ok(Ok(()))) {
            let _ = tokio::time::timeout(ROOM_TIMEOUT, done_rx).await;
        }
        debug!(%player, %room, "left room");
    }

    /// The session is over: tell the room, send the last frames (the
    /// `Close` or `Rejected`), and close the transport with the reason.
    async fn finish(mut self) {
        let conn = Arc::clone(&self.conn);
        let mut guard = conn.lock().await;
        // The closing handshake reads and waits: through the IO driver.
        let _ = guard.link.unpark();
        while let Some(command) = guard.session.poll_command() {
            self.carry_out(&mut guard.session, command).await;
        }
        if let Some((account, player)) = self.account.take() {
            let mut accounts = self.shared.accounts();
            if accounts.get(&account).is_some_and(|(p, _)| *p == player) {
                accounts.remove(&account);
            }
        }
        {
            // A parked seat keeps the token (a room may have parked it);
            // otherwise the token dies with the session.
            let mut resumes = self.shared.resumes();
            if !resumes.is_parked(self.token) {
                resumes.forget(self.token);
            }
        }
        let Some(Closing {
            reason,
            message,
            tell,
        }) = guard.session.poll_close()
        else {
            return;
        };
        if !tell {
            return;
        }
        let queued_at = now();
        while let Some(transmit) = guard.session.poll_transmit() {
            self.outbox.queue(transmit, queued_at);
        }
        let write = self.shared.config.timeouts.write().min(CLOSE_WRITE);
        let _ = tokio::time::timeout(write, self.write_out(&mut guard)).await;
        let _ = tokio::time::timeout(write, guard.link.close(reason, &message)).await;
    }
}

/// A join on its way to a room: as what, who (the name for the game's
/// join hook), with which options, answering which request.
struct Joining {
    role: Role,
    name: String,
    options: GameOptions,
    identity: Option<Arc<Identity>>,
    request_id: u32,
}

impl Joining {
    fn new(session: &Session, role: Role, options: GameOptions, request_id: u32) -> Self {
        Self {
            role,
            name: session.name().to_owned(),
            options,
            identity: session.identity().cloned(),
            request_id,
        }
    }
}

/// A write failed: the session ends without telling the client.
fn write_failed(session: &mut Session, e: LinkError) {
    session.handle_write_failed(now(), CloseReason::Normal, format!("write failed: {e}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_heard_of_at_the_time_it_arrived() {
        let now = Now {
            at: Instant::now() + Duration::from_secs(1),
            unix_us: 2_000_000,
        };
        let then = arrived(now, Some(1_995_000));
        assert_eq!(then.unix_us, 1_995_000);
        assert_eq!(now.at - then.at, Duration::from_millis(5));
        assert_eq!(arrived(now, None), now, "no stamp: now");
        assert_eq!(arrived(now, Some(2_000_001)), now, "never in the future");
    }
}
