//! What a [`Client`](crate::Client) hands the application: [`Event`]s from
//! [`Client::next_event`](crate::Client::next_event), and [`ServerEvent`]s
//! (to handlers registered with [`Client::on`](crate::Client::on), or as
//! [`Event::Event`]) with an [`AckSender`] when the server wants an answer.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tickwire_shared::client::{
    AckId, AppliedUpdate, Closed, EmitOutcome, LostReason, ReplicaError, ReplyTo,
};
use tickwire_shared::protocol::{CloseReason, ErrorCode, ErrorMessage, EventOutcome, Joined, Left};
use tokio::sync::Notify;

/// Something that happened on the connection, after the client handled
/// the routine parts (pings answered, updates applied and acknowledged,
/// request answers matched).
#[derive(Debug)]
pub enum Event {
    /// An update was applied; [`Client::world`](crate::Client::world) is
    /// new.
    Update(AppliedUpdate),
    /// An update could not be applied (the replica is unchanged and the
    /// server keeps encoding against the last acknowledged world).
    /// [`ReplicaError::Stale`] is normal over QUIC (datagrams reorder).
    UpdateFailed(ReplicaError),
    /// A server event no handler took.
    Event(ServerEvent),
    /// An event emitted with
    /// [`Client::emit_with_ack_id`](crate::Client::emit_with_ack_id) was
    /// answered, refused or timed out.
    Answer {
        /// Its ack id.
        ack: AckId,
        /// Its name.
        name: String,
        /// How it ended.
        outcome: EmitOutcome,
        /// From the emit to the outcome.
        elapsed: Duration,
    },
    /// A ping was answered: the round-trip time.
    Rtt(Duration),
    /// A server error that answers no request: an event without an ack
    /// refused, an input rejected, ...
    Error(ErrorMessage),
    /// The client is in a room without asking now (a resumed seat).
    Joined(Joined),
    /// The client is no longer in its room without asking (kicked, room
    /// closed).
    Left(Left),
    /// The session ended.
    Closed(Closed),
    /// The connection dropped; the client reconnects by itself and
    /// attempt `attempt` starts after `wait`. The world stays as it was;
    /// inputs are dropped and calls that need the server fail with
    /// `SessionError::Reconnecting` until [`Event::Resumed`].
    Reconnecting {
        /// The attempt about to be made (1 for the first).
        attempt: u32,
        /// How long until it starts.
        wait: Duration,
        /// Why the connection ended (`None`: it just ended or fell silent).
        cause: Option<CloseReason>,
    },
    /// The client is back: the same player, with its seat and its world
    /// (`room`), or in the lobby if it held no seat.
    Resumed {
        /// The room whose seat came back.
        room: Option<Joined>,
        /// From the drop to now.
        after: Duration,
        /// Attempts it took.
        attempts: u32,
    },
    /// A request's room is on another node of the cluster: the client
    /// leaves this node for `node` (at `ws`); the request goes on there.
    Redirected {
        /// The node.
        node: String,
        /// Its WebSocket URL.
        ws: String,
    },
    /// The client is on the node it was redirected to (a new player there:
    /// [`Client::player`](crate::Client::player) changed), claiming its
    /// seat; reconnections go to this node from now on.
    Moved {
        /// The node.
        node: String,
        /// From the redirect to the new node's welcome.
        after: Duration,
        /// Connection attempts it took.
        attempts: u32,
    },
    /// Reconnecting failed: with [`LostReason::SeatGone`] the client is
    /// connected, in the lobby, as a new player; otherwise it is closed
    /// and the next call returns the error.
    Lost(LostReason),
}

/// Answers given by [`AckSender`]s, waiting for the client to send them.
/// Bounded by the session's owed answers (one sender per asking event).
#[derive(Debug, Default)]
pub(crate) struct Answers {
    queue: Mutex<VecDeque<(ReplyTo, EventOutcome)>>,
    /// Wakes a client waiting in `next_event` to send an answer given on
    /// another task.
    pub(crate) ready: Notify,
}

impl Answers {
    fn push(&self, to: ReplyTo, outcome: EventOutcome) {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back((to, outcome));
        self.ready.notify_one();
    }

    pub(crate) fn take(&self) -> VecDeque<(ReplyTo, EventOutcome)> {
        std::mem::take(&mut *self.queue.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The answer to one server event that asked for one, like Socket.IO's
/// ack callback. Send it from the handler or later from any task; the
/// client sends it the next time it runs (at once if it is waiting in
/// [`Client::next_event`](crate::Client::next_event)). Dropped without
/// answering, it refuses the event with [`ErrorCode::EventRefused`], so
/// the server's game never waits out its timeout for nothing.
#[derive(Debug)]
#[must_use = "an unanswered event is refused when its AckSender drops"]
pub struct AckSender {
    to: ReplyTo,
    answers: Arc<Answers>,
    sent: bool,
}

impl AckSender {
    pub(crate) fn new(to: ReplyTo, answers: Arc<Answers>) -> Self {
        Self {
            to,
            answers,
            sent: false,
        }
    }

    fn give(mut self, outcome: EventOutcome) {
        self.sent = true;
        self.answers.push(self.to, outcome);
    }

    /// Answers with `data` as JSON.
    pub fn send<T: Serialize + ?Sized>(self, data: &T) -> Result<(), serde_json::Error> {
        let bytes = serde_json::to_vec(data)?;
        self.give(EventOutcome::Data(bytes));
        Ok(())
    }

    /// Answers with raw bytes.
    pub fn send_bytes(self, data: Vec<u8>) {
        self.give(EventOutcome::Data(data));
    }

    /// Refuses the event ([`ErrorCode::EventRefused`]) with a reason.
    pub fn refuse(self, message: impl Into<String>) {
        self.refuse_with(ErrorCode::EventRefused, message);
    }

    /// Refuses the event with a code of choice.
    pub fn refuse_with(self, code: ErrorCode, message: impl Into<String>) {
        self.give(EventOutcome::Error {
            code,
            message: message.into(),
        });
    }
}

impl Drop for AckSender {
    fn drop(&mut self) {
        if !self.sent {
            self.answers.push(
                self.to,
                EventOutcome::Error {
                    code: ErrorCode::EventRefused,
                    message: "the client did not answer".into(),
                },
            );
        }
    }
}

/// An event from the room's game.
#[derive(Debug)]
pub struct ServerEvent {
    name: String,
    data: Vec<u8>,
    ack: Option<AckSender>,
}

impl ServerEvent {
    pub(crate) fn new(name: String, data: Vec<u8>, ack: Option<AckSender>) -> Self {
        Self { name, data, ack }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its data, as JSON of type `T`.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.data)
    }

    /// Its data as bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// Whether the server wants an answer.
    pub fn wants_answer(&self) -> bool {
        self.ack.is_some()
    }

    /// Takes the answerer, to answer later or from another task (`None`
    /// when the server wants no answer, or it was taken).
    pub fn take_ack(&mut self) -> Option<AckSender> {
        self.ack.take()
    }

    /// Answers with `data` as JSON; `Ok(false)` when the server wanted no
    /// answer (or the answerer was taken).
    pub fn answer<T: Serialize + ?Sized>(mut self, data: &T) -> Result<bool, serde_json::Error> {
        match self.ack.take() {
            Some(ack) => ack.send(data).map(|()| true),
            None => Ok(false),
        }
    }

    /// Its name and data, and the answerer if any.
    pub fn into_parts(self) -> (String, Vec<u8>, Option<AckSender>) {
        (self.name, self.data, self.ack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_queue_in_order_and_a_dropped_sender_refuses() {
        let answers = Arc::new(Answers::default());
        let event = ServerEvent::new(
            "q".into(),
            br#"{"n":2}"#.to_vec(),
            Some(AckSender::new(ReplyTo(1), Arc::clone(&answers))),
        );
        #[derive(serde::Deserialize)]
        struct Q {
            n: u32,
        }
        assert_eq!(event.data::<Q>().expect("json").n, 2);
        assert!(event.wants_answer());
        assert_eq!(event.answer(&[4]).ok(), Some(true));
        AckSender::new(ReplyTo(2), Arc::clone(&answers)).refuse("no");
        drop(AckSender::new(ReplyTo(3), Arc::clone(&answers)));
        let quiet = ServerEvent::new("n".into(), vec![], None);
        assert_eq!(quiet.answer(&1).ok(), Some(false));
        let got: Vec<_> = answers.take().into_iter().collect();
        assert_eq!(got[0], (ReplyTo(1), EventOutcome::Data(b"[4]".to_vec())));
        assert!(matches!(
            &got[1],
            (ReplyTo(2), EventOutcome::Error { code: ErrorCode::EventRefused, message }) if message == "no"
        ));
        assert!(matches!(
            &got[2],
            (
                ReplyTo(3),
                EventOutcome::Error {
                    code: ErrorCode::EventRefused,
                    ..
                }
            )
        ));
        assert!(answers.take().is_empty());
    }
}
