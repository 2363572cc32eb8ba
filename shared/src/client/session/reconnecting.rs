//! The session's reconnection (see [`ReconnectPolicy`]): when a drop is
//! followed by one, the schedule of attempts, what the new connection
//! greets with, and how its answers end the reconnection
//! ([`SessionEvent::Resumed`] or [`SessionEvent::Lost`]). The rest of the
//! session calls in here; the shell only opens transports when
//! [`ClientSession::poll_connect`] says so.

use std::time::Duration;

use super::*;

impl ClientSession {
    /// Whether a drop for `reason` is followed by a reconnection: the
    /// policy allows it, the session greeted by itself and was welcomed
    /// by a server that keeps seats, and the drop left a seat.
    pub(super) fn may_reconnect(&self, reason: Option<CloseReason>) -> bool {
        self.config.reconnect.enabled
            && self.hello.is_some()
            && self
                .welcome
                .as_ref()
                .is_some_and(|w| w.reconnect_grace_ms > 0)
            && matches!(self.state, SessionState::Lobby | SessionState::InRoom(_))
            && resumable(reason)
    }

    pub(super) fn start_reconnecting(&mut self, now: Now, cause: Option<CloseReason>) {
        let grace = Duration::from_millis(
            self.welcome
                .as_ref()
                .map_or(0, |w| u64::from(w.reconnect_grace_ms)),
        );
        let within = self
            .config
            .reconnect
            .give_up_after
            .map_or(grace, |limit| limit.min(grace));
        self.cut(now, RequestFailure::Interrupted, EmitOutcome::Interrupted);
        self.outbox.clear();
        self.pending_ack = None;
        self.recent_inputs.clear();
        self.ping_with_input = false;
        let room = self.room().cloned();
        self.state = SessionState::Reconnecting;
        self.reconnecting = Some(Reconnecting {
            since: now.at,
            deadline: now.at + within,
            attempts: 0,
            next_at: None,
            attempt_deadline: None,
            room,
            welcomed: false,
            cause,
            redirect: None,
        });
        self.schedule_attempt(now);
    }

    /// Schedules the next attempt after a backoff wait, or gives up once
    /// the grace has run out.
    pub(super) fn schedule_attempt(&mut self, now: Now) {
        let Some(rc) = &self.reconnecting else {
            return;
        };
        if now.at >= rc.deadline {
            let attempts = rc.attempts;
            let reason = match &rc.redirect {
                Some(redirect) => LostReason::Unreachable {
                    node: redirect.node.clone(),
                    attempts,
                },
                None => LostReason::GaveUp { attempts },
            };
            return self.lose(now, reason);
        }
        let attempt = rc.attempts + 1;
        let wait = self.backoff.delay(&self.config.reconnect, attempt);
        let Some(rc) = &mut self.reconnecting else {
            return;
        };
        let at = (now.at + wait).min(rc.deadline);
        rc.next_at = Some(at);
        rc.attempt_deadline = None;
        rc.welcomed = false;
        let cause = rc.cause;
        self.events.push_back(SessionEvent::Reconnecting {
            attempt,
            wait: at.saturating_duration_since(now.at),
            cause,
        });
    }

    /// Whether the shell should open a new transport now: true once per
    /// attempt, when its wait is over. Answer with
    /// [`ClientSession::connection_opened`] or
    /// [`ClientSession::connection_failed`].
    pub fn poll_connect(&mut self, now: Now) -> bool {
        let Some(rc) = &mut self.reconnecting else {
            return false;
        };
        match rc.next_at {
            Some(at) if at <= now.at => {
                rc.next_at = None;
                rc.attempts += 1;
                rc.attempt_deadline = Some(now.at + self.config.reconnect.attempt_timeout);
                true
            }
            _ => false,
        }
    }

    /// Whether a reconnection attempt is under way (the shell is opening
    /// a transport, or greeting on it); false between attempts, when the
    /// shell holds no transport.
    pub fn attempt_under_way(&self) -> bool {
        self.reconnecting
            .as_ref()
            .is_some_and(|rc| rc.next_at.is_none())
    }

    /// The new transport is open: the session greets with its resume
    /// token and the newest tick of the world it holds (or, moving to
    /// another node, as a new player).
    pub fn connection_opened(&mut self, _now: Now) {
        let (Some(rc), Some(hello), Some(welcome)) =
            (&self.reconnecting, &self.hello, &self.welcome)
        else {
            return;
        };
        if rc.redirect.is_some() {
            let hello = Hello {
                resume_token: None,
                resume_from: None,
                ..hello.clone()
            };
            self.outbox.clear();
            return self.queue(ClientMessage::Hello(hello), Delivery::Reliable);
        }
        let resume_from = rc
            .room
            .as_ref()
            .and_then(|_| self.replica.latest())
            .map(|world| world.tick);
        let hello = Hello {
            resume_token: Some(welcome.resume_token),
            resume_from,
            ..hello.clone()
        };
        self.outbox.clear();
        self.queue(ClientMessage::Hello(hello), Delivery::Reliable);
    }

    /// The attempt failed (the transport could not be opened, or ended
    /// before the session was back): the next one is scheduled, or the
    /// session gives up once the grace has run out.
    pub fn connection_failed(&mut self, now: Now) {
        if self.is_reconnecting() {
            self.outbox.clear();
            self.schedule_attempt(now);
        }
    }

    /// Ends a reconnection that failed: in the lobby when connected, else
    /// closed.
    pub(super) fn lose(&mut self, now: Now, reason: LostReason) {
        self.reconnecting = None;
        if reason.connected() {
            self.state = SessionState::Lobby;
            self.forget_room();
            self.events.push_back(SessionEvent::Lost(reason));
            return;
        }
        let closed = match &reason {
            LostReason::Refused { reason, message } => Closed {
                reason: Some(*reason),
                message: message.clone(),
                rejected: true,
            },
            _ => Closed {
                reason: None,
                message: "could not reconnect within the grace".to_owned(),
                rejected: false,
            },
        };
        self.cut(now, RequestFailure::Closed, EmitOutcome::Closed);
        self.state = SessionState::Closed(closed);
        self.events.push_back(SessionEvent::Lost(reason));
    }

    /// The session is back; `room` is the seat it got back.
    pub(super) fn resumed(&mut self, now: Now, room: Option<Joined>) {
        let Some(rc) = self.reconnecting.take() else {
            return;
        };
        self.state = match &room {
            Some(joined) => SessionState::InRoom(joined.clone()),
            None => SessionState::Lobby,
        };
        self.events.push_back(SessionEvent::Resumed {
            room,
            after: now.at.saturating_duration_since(rc.since),
            attempts: rc.attempts,
        });
    }

    /// A reconnecting session's new connection is welcomed.
    pub(super) fn rewelcomed(&mut self, now: Now, welcome: Welcome) {
        if self
            .reconnecting
            .as_ref()
            .is_some_and(|rc| rc.redirect.is_some())
        {
            return self.moved(now, welcome);
        }
        let resumed = welcome.resumed;
        self.welcome = Some(welcome);
        let Some(rc) = &mut self.reconnecting else {
            return;
        };
        match (resumed, rc.room.is_some()) {
            // The seat is back; its `Joined` follows.
            (true, true) => rc.welcomed = true,
            (true, false) => self.resumed(now, None),
            // A fresh player: nothing was lost if it sat nowhere.
            (false, false) => self.resumed(now, None),
            (false, true) => self.lose(now, LostReason::SeatGone),
        }
    }

    /// A message on the new connection of a reconnecting session: the
    /// welcome and the seat's `Joined` settle it, a refusal loses it;
    /// pings are answered and updates applied (over datagrams one may
    /// overtake the `Joined`); nothing else is expected.
    pub(super) fn handle_while_reconnecting(&mut self, now: Now, message: ServerMessage) {
        match message {
            ServerMessage::Welcome(welcome) => self.rewelcomed(now, welcome),
            ServerMessage::Joined(joined)
                if joined.request_id.is_none()
                    && self.reconnecting.as_ref().is_some_and(|rc| rc.welcomed) =>
            {
                let same = self
                    .reconnecting
                    .as_ref()
                    .and_then(|rc| rc.room.as_ref())
                    .is_some_and(|room| room.room.id == joined.room.id);
                if !same {
                    self.forget_room();
                }
                self.resumed(now, Some(joined));
            }
            ServerMessage::Rejected(r) => self.lose(
                now,
                LostReason::Refused {
                    reason: r.reason,
                    message: r.message,
                },
            ),
            ServerMessage::Close(c) if !resumable(Some(c.reason)) => self.lose(
                now,
                LostReason::Refused {
                    reason: c.reason,
                    message: c.message,
                },
            ),
            ServerMessage::Ping(ping) => self.pinged(now, ping),
            ServerMessage::Update(update) => self.update(now, &update),
            _ => {}
        }
    }
}
