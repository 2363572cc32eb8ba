//! One connection's outbox (no IO; shared by the room and the session's
//! shell): the one home of everything that goes to a client, and of the
//! order it goes in.
//!
//! - The session queues its reliable frames, its answers to the client's
//!   pings, and when updates may flow ([`Outbox::queue`]).
//! - The room offers each tick's update (latest wins: a newer one replaces
//!   one not yet sent), with a ping when one is due ([`Outbox::offer_update`]),
//!   and queues reliable messages of its own ([`Outbox::push_from_room`],
//!   bounded). It never learns which transport the member uses.
//! - Where the connection has a [`DirectWrite`] and nothing else is waiting,
//!   the update (with the ping and a held pong, where the transport carries
//!   them) is written to the socket right there on the room's thread;
//!   otherwise the session's shell takes it with [`Outbox::take`], in
//!   order, each frame with its [`Delivery`] class.
//!
//! - When the room removes the member (kicked, room closed), it says so
//!   here ([`Outbox::removed`]): nothing more of the room goes out, and the
//!   session's shell hands the notice to the session
//!   ([`Outbox::take_removal`]), which tells the client.
//!
//! Order: every frame gets a sequence number when queued or offered, and
//! leaves in that order; a direct write happens only when nothing older is
//! queued or in flight. The room's frames (events the game emits as it
//! seats the member, say) wait until the session has queued its `Joined`
//! ([`Transmit::OpenUpdates`]). So the `Joined` always precedes the first
//! update and everything else of the room, and nothing of the room
//! follows a `Left` or a `Close` (see [`Transmit::StopUpdates`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tickwire_shared::codec;
use tickwire_shared::ids::RoomId;
use tickwire_shared::protocol::{LeaveReason, ServerMessage};
use tokio::sync::Notify;
use tracing::warn;

use crate::session::{HeldPong, Now, Transmit};
use crate::transport::{DirectOutcome, DirectWrite, MAX_DIRECT_MESSAGES};

/// How a frame must be delivered; transports choose how to send it from
/// this, never from its contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// In order, every one (lobby answers, events, errors, pings, close).
    Reliable,
    /// Only the newest matters (world updates): may be replaced, and may
    /// travel unreliably (a QUIC datagram).
    LatestWins,
}

/// What the shell takes from the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// A frame to send, and how.
    Frame(Bytes, Delivery),
    /// Finish a direct write the socket took only part of.
    Flush,
}

/// A reliable message from the room could not be queued: the outbox is
/// full (the client reads too slowly).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the client's outbox is full")]
pub struct OutboxFull;

/// The room removed its member: which room, why, and the game's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removal {
    /// The room.
    pub room: RoomId,
    /// Kicked, or the room closed.
    pub reason: LeaveReason,
    /// What the client is told.
    pub message: String,
}

/// What became of one offered update (for the room's metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offered {
    /// Whether the update went to the socket on the room's thread.
    pub direct: bool,
    /// Messages written directly (the update, a ping, a pong), and their
    /// bytes.
    pub direct_messages: u64,
    /// Their bytes.
    pub direct_bytes: u64,
    /// Whether it replaced an update not yet sent.
    pub replaced: bool,
    /// Whether it was dropped: updates are not open (not joined yet, or
    /// leaving).
    pub dropped: bool,
}

#[derive(Debug, Default)]
struct Queue {
    next_seq: u64,
    reliable: VecDeque<(u64, Bytes)>,
    update: Option<(u64, Bytes)>,
    held_pong: Option<HeldPong>,
    /// Updates and room frames may go (the client knows its room).
    open: bool,
    /// Room frames queued before the client knew its room, for when it
    /// does.
    early: VecDeque<Bytes>,
    /// The room removed the member and the session has not heard yet.
    removal: Option<Removal>,
    /// The shell has taken a frame and not finished writing it.
    in_flight: bool,
    /// A direct write left part of itself for the shell to finish.
    flush: bool,
}

impl Queue {
    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn push_reliable(&mut self, frame: Bytes) {
        let seq = self.seq();
        self.reliable.push_back((seq, frame));
    }

    /// Nothing waits and nothing is being written.
    fn idle(&self) -> bool {
        !self.in_flight && !self.flush && self.reliable.is_empty() && self.update.is_none()
    }
}

/// One connection's outbox. See the module doc.
#[derive(Debug)]
pub struct Outbox {
    queue: Mutex<Queue>,
    ready: Notify,
    direct: Option<Arc<dyn DirectWrite>>,
    /// Most reliable messages the room may have waiting.
    room_capacity: usize,
}

/// One message as a frame of its own; `None` (logged) if it cannot be
/// encoded. For the few frames the room and the outbox make themselves
/// (pings, pongs, errors, relayed events).
pub fn encode_frame(message: &ServerMessage) -> Option<Bytes> {
    let mut buf = Vec::with_capacity(32);
    match codec::encode_server(message, &mut buf) {
        Ok(()) => Some(Bytes::from(buf)),
        Err(e) => {
            warn!(error = %e, "unencodable message dropped");
            None
        }
    }
}

impl Outbox {
    /// An outbox for a connection, with the room's way to write to it
    /// directly if it has one; the room may queue at most `room_capacity`
    /// reliable messages.
    pub fn new(direct: Option<Arc<dyn DirectWrite>>, room_capacity: usize) -> Self {
        Self {
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            direct,
            room_capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether pongs ride with updates written directly.
    fn carries_pongs(&self) -> bool {
        self.direct.as_ref().is_some_and(|d| d.carries_control())
    }

    /// Takes what the session handed out, in order.
    pub fn queue(&self, transmit: Transmit, now: Now) {
        let mut queue = self.lock();
        let before = queue.reliable.len();
        match transmit {
            Transmit::Frame(frame) => queue.push_reliable(frame),
            Transmit::Pong(held) => {
                // Held for the next update where the room writes it along;
                // an answer it supersedes leaves now.
                let held = if queue.open && self.carries_pongs() {
                    queue.held_pong.replace(held)
                } else {
                    Some(held)
                };
                if let Some(pong) =
                    held.and_then(|h| encode_frame(&ServerMessage::Pong(h.answer(now))))
                {
                    queue.push_reliable(pong);
                }
            }
            Transmit::OpenUpdates => {
                queue.open = true;
                while let Some(frame) = queue.early.pop_front() {
                    queue.push_reliable(frame);
                }
                if let Some(direct) = &self.direct {
                    direct.allow(true);
                }
            }
            Transmit::StopUpdates => {
                queue.open = false;
                queue.update = None;
                queue.early.clear();
                if let Some(direct) = &self.direct {
                    direct.allow(false);
                }
                if let Some(pong) = queue
                    .held_pong
                    .take()
                    .and_then(|h| encode_frame(&ServerMessage::Pong(h.answer(now))))
                {
                    queue.push_reliable(pong);
                }
            }
        }
        // Only a frame to write wakes the shell (a held pong does not).
        let wake = queue.reliable.len() > before;
        drop(queue);
        if wake {
            self.ready.notify_one();
        }
    }

    /// The room offers this tick's update, with `ping` when the member is
    /// due one, and carries the answer to the member's latest ping along.
    /// All of it is written to the socket here when the connection takes
    /// it now and nothing older waits; else it waits for the shell (the
    /// update replacing any older one not sent yet).
    pub fn offer_update(&self, update: &Bytes, ping: Option<&Bytes>, now: Now) -> Offered {
        let mut offered = Offered::default();
        let mut queue = self.lock();
        if !queue.open {
            offered.dropped = true;
            return offered;
        }
        let pong = queue
            .held_pong
            .take()
            .and_then(|h| encode_frame(&ServerMessage::Pong(h.answer(now))));
        let mut rest = [ping, pong.as_ref()];
        if let (Some(direct), true) = (&self.direct, queue.idle()) {
            let mut frames: [&Bytes; MAX_DIRECT_MESSAGES] = [update; MAX_DIRECT_MESSAGES];
            let mut count = 1;
            if direct.carries_control() {
                for extra in rest.iter_mut().filter_map(Option::take) {
                    frames[count] = extra;
                    count += 1;
                }
            }
            let frames = &frames[..count];
            match direct.try_send(frames) {
                // Nothing went: all of it waits for the shell.
                DirectOutcome::Declined => rest = [ping, pong.as_ref()],
                outcome => {
                    offered.direct = true;
                    offered.direct_messages = count as u64;
                    offered.direct_bytes = frames.iter().map(|f| f.len() as u64).sum();
                    // The shell finishes a write the socket took in part,
                    // and sends what could not go along.
                    queue.flush |= outcome == DirectOutcome::Queued;
                    for extra in rest.into_iter().flatten() {
                        queue.push_reliable(extra.clone());
                    }
                    let wake = !queue.idle();
                    drop(queue);
                    if wake {
                        self.ready.notify_one();
                    }
                    return offered;
                }
            }
        }
        let seq = queue.seq();
        offered.replaced = queue.update.replace((seq, update.clone())).is_some();
        for extra in rest.into_iter().flatten() {
            queue.push_reliable(extra.clone());
        }
        drop(queue);
        self.ready.notify_one();
        offered
    }

    /// The room queues a reliable message (an error, an event); refused
    /// when the room already has `room_capacity` waiting. Before the
    /// session's `Joined` it waits for it; once the member is removed it
    /// is dropped.
    pub fn push_from_room(&self, frame: Bytes) -> Result<(), OutboxFull> {
        let mut queue = self.lock();
        if queue.reliable.len() + queue.early.len() >= self.room_capacity {
            return Err(OutboxFull);
        }
        if queue.removal.is_some() {
            return Ok(());
        }
        if !queue.open {
            queue.early.push_back(frame);
            return Ok(());
        }
        queue.push_reliable(frame);
        drop(queue);
        self.ready.notify_one();
        Ok(())
    }

    /// The room removed the member: no more updates or room frames, and
    /// the session's shell is woken to hand `removal` to the session.
    pub fn removed(&self, removal: Removal) {
        let mut queue = self.lock();
        queue.open = false;
        queue.update = None;
        queue.early.clear();
        queue.removal = Some(removal);
        if let Some(direct) = &self.direct {
            direct.allow(false);
        }
        drop(queue);
        self.ready.notify_one();
    }

    /// The room's removal of the member, once, for the session.
    pub fn take_removal(&self) -> Option<Removal> {
        self.lock().removal.take()
    }

    /// The next thing for the shell to write, in order; call
    /// [`Outbox::written`] once it is written.
    pub fn take(&self) -> Option<Outgoing> {
        let mut queue = self.lock();
        if queue.in_flight {
            return None;
        }
        let reliable_seq = queue.reliable.front().map(|(seq, _)| *seq);
        let update_seq = queue.update.as_ref().map(|(seq, _)| *seq);
        let next = match (reliable_seq, update_seq) {
            (Some(r), Some(u)) if u < r => queue
                .update
                .take()
                .map(|(_, f)| Outgoing::Frame(f, Delivery::LatestWins)),
            (Some(_), _) => queue
                .reliable
                .pop_front()
                .map(|(_, f)| Outgoing::Frame(f, Delivery::Reliable)),
            (None, Some(_)) => queue
                .update
                .take()
                .map(|(_, f)| Outgoing::Frame(f, Delivery::LatestWins)),
            (None, None) if queue.flush => Some(Outgoing::Flush),
            (None, None) => None,
        };
        if next.is_some() {
            // Any write sends what a direct write left first.
            queue.flush = false;
            queue.in_flight = true;
        }
        next
    }

    /// What [`Outbox::take`] gave has been written.
    pub fn written(&self) {
        self.lock().in_flight = false;
    }

    /// Waits until [`Outbox::take`] may have something.
    pub async fn ready(&self) {
        self.ready.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Instant;

    use tickwire_shared::protocol::Ping;

    use super::*;

    /// A direct writer that takes everything (or nothing) and records it.
    #[derive(Debug, Default)]
    struct Recorder {
        allowed: AtomicBool,
        decline: AtomicBool,
        writes: Mutex<Vec<Vec<Bytes>>>,
        control: bool,
        calls: AtomicUsize,
    }

    impl DirectWrite for Recorder {
        fn allow(&self, allowed: bool) {
            self.allowed.store(allowed, Ordering::Relaxed);
        }
        fn carries_control(&self) -> bool {
            self.control
        }
        fn try_send(&self, frames: &[&Bytes]) -> DirectOutcome {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if !self.allowed.load(Ordering::Relaxed) || self.decline.load(Ordering::Relaxed) {
                return DirectOutcome::Declined;
            }
            let frames = frames.iter().copied().cloned().collect();
            self.writes.lock().expect("lock").push(frames);
            DirectOutcome::Written
        }
    }

    fn now() -> Now {
        Now {
            at: Instant::now(),
            unix_us: 1_000_000,
        }
    }

    fn frame(tag: u8) -> Bytes {
        Bytes::from(vec![tag])
    }

    fn drain(outbox: &Outbox) -> Vec<Outgoing> {
        let mut out = Vec::new();
        while let Some(next) = outbox.take() {
            out.push(next);
            outbox.written();
        }
        out
    }

    #[test]
    fn frames_leave_in_the_order_they_were_queued_or_offered() {
        let outbox = Outbox::new(None, 8);
        let t = now();
        assert!(
            outbox.offer_update(&frame(0), None, t).dropped,
            "not open yet"
        );
        outbox.queue(Transmit::Frame(frame(1)), t);
        outbox.queue(Transmit::OpenUpdates, t);
        outbox.offer_update(&frame(2), Some(&frame(3)), t);
        outbox.push_from_room(frame(4)).expect("room");
        assert_eq!(
            drain(&outbox),
            vec![
                Outgoing::Frame(frame(1), Delivery::Reliable),
                Outgoing::Frame(frame(2), Delivery::LatestWins),
                Outgoing::Frame(frame(3), Delivery::Reliable),
                Outgoing::Frame(frame(4), Delivery::Reliable),
            ]
        );
    }

    #[test]
    fn a_newer_update_replaces_one_not_sent_and_none_follows_a_stop() {
        let outbox = Outbox::new(None, 8);
        let t = now();
        outbox.queue(Transmit::OpenUpdates, t);
        assert!(!outbox.offer_update(&frame(1), None, t).replaced);
        assert!(outbox.offer_update(&frame(2), None, t).replaced);
        assert_eq!(
            drain(&outbox),
            vec![Outgoing::Frame(frame(2), Delivery::LatestWins)]
        );
        outbox.offer_update(&frame(3), None, t);
        outbox.queue(Transmit::StopUpdates, t);
        outbox.queue(Transmit::Frame(frame(9)), t);
        assert!(outbox.offer_update(&frame(4), None, t).dropped);
        assert_eq!(
            drain(&outbox),
            vec![Outgoing::Frame(frame(9), Delivery::Reliable)]
        );
    }

    #[test]
    fn the_room_may_fill_only_its_share() {
        let outbox = Outbox::new(None, 2);
        outbox.queue(Transmit::OpenUpdates, now());
        outbox.push_from_room(frame(1)).expect("room");
        outbox.push_from_room(frame(2)).expect("room");
        assert_eq!(outbox.push_from_room(frame(3)), Err(OutboxFull));
        // The session's own frames are never refused.
        outbox.queue(Transmit::Frame(frame(4)), now());
        assert_eq!(drain(&outbox).len(), 3);
    }

    #[test]
    fn room_frames_wait_for_the_joined_and_stop_at_a_removal() {
        let outbox = Outbox::new(None, 8);
        let t = now();
        // The game greets the member as it seats it, before the session
        // has queued its Joined.
        outbox.push_from_room(frame(5)).expect("room");
        assert!(drain(&outbox).is_empty(), "not before the Joined");
        outbox.queue(Transmit::Frame(frame(1)), t);
        outbox.queue(Transmit::OpenUpdates, t);
        outbox.offer_update(&frame(2), None, t);
        assert_eq!(
            drain(&outbox),
            vec![
                Outgoing::Frame(frame(1), Delivery::Reliable),
                Outgoing::Frame(frame(5), Delivery::Reliable),
                Outgoing::Frame(frame(2), Delivery::LatestWins),
            ]
        );
        outbox.offer_update(&frame(3), None, t);
        let removal = Removal {
            room: RoomId(4),
            reason: LeaveReason::Kicked,
            message: "afk".into(),
        };
        outbox.removed(removal.clone());
        outbox.push_from_room(frame(6)).expect("dropped quietly");
        assert!(outbox.offer_update(&frame(7), None, t).dropped);
        assert!(drain(&outbox).is_empty(), "nothing of the room after");
        assert_eq!(outbox.take_removal(), Some(removal));
        assert_eq!(outbox.take_removal(), None, "once");
    }

    #[test]
    fn direct_writes_carry_ping_and_held_pong_only_when_nothing_older_waits() {
        let direct = Arc::new(Recorder {
            control: true,
            ..Recorder::default()
        });
        let outbox = Outbox::new(Some(Arc::clone(&direct) as Arc<dyn DirectWrite>), 8);
        let t = now();
        outbox.queue(Transmit::Frame(frame(1)), t);
        outbox.queue(Transmit::OpenUpdates, t);
        // The Joined (frame 1) has not been written: the update waits.
        let offered = outbox.offer_update(&frame(2), None, t);
        assert!(!offered.direct);
        assert_eq!(direct.calls.load(Ordering::Relaxed), 0, "not even tried");
        assert_eq!(drain(&outbox).len(), 2);
        // Now idle: update, ping and the held pong go in one write.
        let ping = Ping { sent_at_us: 5 };
        outbox.queue(
            Transmit::Pong(HeldPong {
                ping,
                received: t.at,
            }),
            t,
        );
        assert!(drain(&outbox).is_empty(), "the pong is held");
        let offered = outbox.offer_update(&frame(3), Some(&frame(4)), t);
        assert!(offered.direct);
        assert_eq!(offered.direct_messages, 3);
        let writes = direct.writes.lock().expect("lock").clone();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0][..2], [frame(3), frame(4)]);
        let pong = codec::decode_server(&writes[0][2], 1024).expect("decodes");
        assert!(
            matches!(pong, ServerMessage::Pong(p) if p.ping_sent_at_us == 5),
            "{pong:?}"
        );
        // A frame in flight holds direct writes back.
        outbox.queue(Transmit::Frame(frame(5)), t);
        let taken = outbox.take();
        assert!(taken.is_some());
        assert!(!outbox.offer_update(&frame(6), None, t).direct);
        outbox.written();
        assert_eq!(
            drain(&outbox),
            vec![Outgoing::Frame(frame(6), Delivery::LatestWins)]
        );
    }

    #[test]
    fn a_declined_direct_write_leaves_everything_for_the_shell() {
        let direct = Arc::new(Recorder {
            control: false,
            ..Recorder::default()
        });
        direct.decline.store(true, Ordering::Relaxed);
        let outbox = Outbox::new(Some(Arc::clone(&direct) as Arc<dyn DirectWrite>), 8);
        let t = now();
        outbox.queue(Transmit::OpenUpdates, t);
        let offered = outbox.offer_update(&frame(1), Some(&frame(2)), t);
        assert!(!offered.direct);
        assert_eq!(
            drain(&outbox),
            vec![
                Outgoing::Frame(frame(1), Delivery::LatestWins),
                Outgoing::Frame(frame(2), Delivery::Reliable),
            ]
        );
        // Without control on the direct path, a pong is answered at once.
        outbox.queue(
            Transmit::Pong(HeldPong {
                ping: Ping { sent_at_us: 1 },
                received: t.at,
            }),
            t,
        );
        assert_eq!(drain(&outbox).len(), 1);
    }
}
