//! Following a [`Redirect`]: a lobby request whose room is on another
//! node of the cluster. The session says goodbye to this node, the shell
//! connects to [`ClientSession::redirect_target`] when
//! [`ClientSession::poll_connect`] says so (the reconnection's schedule
//! and reports, with the reservation's validity as the deadline), the
//! session greets there as a new player and claims the reserved seat with
//! a [`ClaimSeat`] carrying the original request id; that node's answer
//! settles the request.

use std::time::Duration;

use super::*;

impl ClientSession {
    /// Where a redirect sends the session, while it is on its way (the
    /// shell connects there, and to there from then on).
    pub fn redirect_target(&self) -> Option<&Redirect> {
        self.reconnecting.as_ref()?.redirect.as_ref()
    }

    /// Whether the connection attempt just started is a redirect's first
    /// (not a retry after a failed one).
    pub fn is_redirect_start(&self) -> bool {
        self.reconnecting
            .as_ref()
            .is_some_and(|rc| rc.redirect.is_some() && rc.attempts == 1)
    }

    /// A request was answered with `redirect`: follow it (or fail the
    /// request when redirects are not followed).
    pub(super) fn redirected(&mut self, now: Now, redirect: Redirect) {
        let Some(mut pending) = self.requests.remove(&redirect.request_id) else {
            // Nothing waits (timed out): nothing to follow.
            return;
        };
        if !self.config.follow_redirects || self.hello.is_none() || self.welcome.is_none() {
            self.events.push_back(SessionEvent::Answered {
                id: RequestId(redirect.request_id),
                result: Err(RequestFailure::Redirected(redirect)),
            });
            return;
        }
        let valid = Duration::from_millis(u64::from(redirect.valid_for_ms));
        // Other requests were for this node: they end here.
        self.cut(now, RequestFailure::Interrupted, EmitOutcome::Interrupted);
        pending.deadline = now.at + valid + self.config.request_timeout;
        self.requests.insert(redirect.request_id, pending);
        self.outbox.clear();
        self.pending_ack = None;
        self.recent_inputs.clear();
        self.ping_with_input = false;
        self.forget_room();
        self.queue(
            ClientMessage::Close(Close {
                reason: CloseReason::Normal,
                message: format!("moving to node {}", redirect.node),
            }),
            Delivery::Reliable,
        );
        self.events.push_back(SessionEvent::Redirected {
            node: redirect.node.clone(),
            ws: redirect.ws.clone(),
        });
        self.state = SessionState::Reconnecting;
        self.reconnecting = Some(Reconnecting {
            since: now.at,
            deadline: now.at + valid,
            attempts: 0,
            // The first attempt at once: nothing failed yet.
            next_at: Some(now.at),
            attempt_deadline: None,
            room: None,
            welcomed: false,
            cause: None,
            redirect: Some(redirect),
        });
    }

    /// The node redirected to welcomed the session: claim the seat.
    pub(super) fn moved(&mut self, now: Now, welcome: Welcome) {
        let Some(rc) = self.reconnecting.take() else {
            return;
        };
        let Some(redirect) = rc.redirect else {
            return;
        };
        self.state = SessionState::Lobby;
        self.welcome = Some(welcome.clone());
        if let Some(pending) = self.requests.get_mut(&redirect.request_id) {
            pending.deadline = now.at + self.config.request_timeout;
        }
        self.queue(
            ClientMessage::ClaimSeat(ClaimSeat {
                request_id: redirect.request_id,
                reservation: redirect.reservation,
            }),
            Delivery::Reliable,
        );
        self.events.push_back(SessionEvent::Moved {
            node: redirect.node,
            welcome,
            after: now.at.saturating_duration_since(rc.since),
            attempts: rc.attempts,
        });
    }
}
