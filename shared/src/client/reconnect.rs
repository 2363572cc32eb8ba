//! Reconnecting after a drop, sans-IO: when to try again (exponential
//! backoff with jitter, within the server's grace), and how a reconnection
//! ended, for the application.
//!
//! The [`ClientSession`](super::ClientSession) owns the state machine (it
//! knows the resume token, the world it holds and what was pending); this
//! module holds the policy and the backoff arithmetic, so both are tested
//! on their own.

use std::time::Duration;

use crate::protocol::{CloseReason, Joined, Redirect};
use crate::rng::SimRng;

/// How a session reconnects after its connection drops. The default
/// reconnects by itself: first after about 250 ms, then waiting twice as
/// long each time up to 5 s, each wait drawn between half and all of the
/// nominal one, until the server's grace
/// (`Welcome.reconnect_grace_ms`) has run out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Whether to reconnect at all. Default: true (a server that keeps no
    /// seats, `reconnect_grace_ms` 0, is never reconnected to).
    pub enabled: bool,
    /// The nominal wait before the first attempt. Default: 250 ms.
    pub first_delay: Duration,
    /// The longest nominal wait between attempts. Default: 5 s.
    pub max_delay: Duration,
    /// Gives up after this long even when the server's grace is longer
    /// (`None`: the grace decides). Default: `None`.
    pub give_up_after: Option<Duration>,
    /// How long one attempt may take from opening the transport to the
    /// session being back (`Welcome` and the seat's `Joined`); past it the
    /// attempt counts as failed. Default: 10 s.
    pub attempt_timeout: Duration,
    /// Seeds the jitter. Clients of one swarm or one release must not
    /// share it, or they retry in step after a server restart: the client
    /// library draws it from the OS. Default: 0.
    pub jitter_seed: u64,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            first_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
            give_up_after: None,
            attempt_timeout: Duration::from_secs(10),
            jitter_seed: 0,
        }
    }
}

impl ReconnectPolicy {
    /// A policy that never reconnects: a drop closes the session, as with
    /// a server that keeps no seats.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// The nominal wait before attempt `attempt` (1 for the first):
    /// `first_delay * 2^(attempt-1)`, at most `max_delay`.
    pub fn nominal_delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(20);
        self.first_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay)
    }
}

/// Draws the waits of one reconnection ("equal jitter": half the nominal
/// wait, plus a uniform draw up to the other half), so clients dropped
/// together spread their attempts instead of arriving at once, and none
/// retries at once.
#[derive(Clone, Debug)]
pub struct Backoff {
    rng: SimRng,
}

impl Backoff {
    /// Waits drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: SimRng::new(seed, 0x7265_636f_6e6e),
        }
    }

    /// The wait before attempt `attempt` under `policy`.
    pub fn delay(&mut self, policy: &ReconnectPolicy, attempt: u32) -> Duration {
        let nominal = policy.nominal_delay(attempt);
        let half = nominal / 2;
        let spread = u64::try_from((nominal - half).as_micros()).unwrap_or(u64::MAX);
        let jitter = if spread == 0 {
            0
        } else {
            self.rng.next_u64() % (spread + 1)
        };
        half + Duration::from_micros(jitter)
    }
}

/// Why a reconnection did not give the session back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LostReason {
    /// The server answered, but the seat was gone (the grace ran out, the
    /// room closed, or the token was refused): the client is connected, in
    /// the lobby, as a new player.
    #[error("back on the server, but the seat is gone")]
    SeatGone,
    /// No attempt got through before the grace (or
    /// [`ReconnectPolicy::give_up_after`]) ran out: the session is closed.
    #[error("could not reconnect in time ({attempts} attempts)")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
    },
    /// The server refused the new connection (`Rejected` or `Close`: an
    /// expired ticket, a full or stopping server): the session is closed.
    #[error("the server refused the reconnection ({reason:?}): {message}")]
    Refused {
        /// The server's reason.
        reason: CloseReason,
        /// Its detail.
        message: String,
    },
    /// A redirect's node could not be reached while its reservation was
    /// valid: the session is closed (connect again to any node).
    #[error("could not reach node {node} of the cluster ({attempts} attempts)")]
    Unreachable {
        /// The node redirected to.
        node: String,
        /// Attempts made.
        attempts: u32,
    },
}

impl LostReason {
    /// Whether the client is still connected (in the lobby) after it.
    pub fn connected(&self) -> bool {
        matches!(self, Self::SeatGone)
    }
}

/// Whether a connection that ended for `reason` left a seat to come back
/// to: it ended without a word (`None`), or the server parked the seat as
/// it closed (`IdleTimeout`, `SlowConsumer`). Every other reason freed it
/// (a goodbye, `Replaced`, a violation, the server stopping).
pub fn resumable(reason: Option<CloseReason>) -> bool {
    matches!(
        reason,
        None | Some(CloseReason::IdleTimeout | CloseReason::SlowConsumer)
    )
}

/// A reconnection in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Reconnecting {
    /// When the connection dropped.
    pub since: std::time::Instant,
    /// When to stop trying.
    pub deadline: std::time::Instant,
    /// Attempts started.
    pub attempts: u32,
    /// When the next attempt is due (`None` while one is under way).
    pub next_at: Option<std::time::Instant>,
    /// When the attempt under way counts as failed.
    pub attempt_deadline: Option<std::time::Instant>,
    /// The room the session was in, whose seat it wants back.
    pub room: Option<Joined>,
    /// The new connection was welcomed with the seat back: waiting for
    /// the room's `Joined`.
    pub welcomed: bool,
    /// Why the connection ended.
    pub cause: Option<CloseReason>,
    /// Set when this is not a drop but a move to another node of the
    /// cluster: where to, and the reservation to claim there.
    pub redirect: Option<Redirect>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_stay_within_half_and_all_of_it() {
        let policy = ReconnectPolicy::default();
        assert_eq!(policy.nominal_delay(1), Duration::from_millis(250));
        assert_eq!(policy.nominal_delay(2), Duration::from_millis(500));
        assert_eq!(policy.nominal_delay(5), Duration::from_secs(4));
        assert_eq!(policy.nominal_delay(6), Duration::from_secs(5));
        assert_eq!(policy.nominal_delay(u32::MAX), Duration::from_secs(5));
        let mut backoff = Backoff::new(7);
        for attempt in 1..40 {
            let nominal = policy.nominal_delay(attempt);
            let d = backoff.delay(&policy, attempt);
            assert!(d >= nominal / 2 && d <= nominal, "{attempt}: {d:?}");
        }
    }

    #[test]
    fn clients_with_different_seeds_spread_their_attempts() {
        let policy = ReconnectPolicy::default();
        let firsts: std::collections::BTreeSet<Duration> = (0..100)
            .map(|seed| Backoff::new(seed).delay(&policy, 1))
            .collect();
        assert!(firsts.len() > 90, "{} distinct waits", firsts.len());
        let again: Vec<Duration> = (0..5).map(|_| Backoff::new(3).delay(&policy, 1)).collect();
        assert!(again.windows(2).all(|w| w[0] == w[1]), "a seed repeats");
    }

    #[test]
    fn only_drops_that_park_the_seat_are_resumable() {
        assert!(resumable(None));
        assert!(resumable(Some(CloseReason::IdleTimeout)));
        assert!(resumable(Some(CloseReason::SlowConsumer)));
        for reason in [
            CloseReason::Normal,
            CloseReason::Replaced,
            CloseReason::ServerShutdown,
            CloseReason::Flooding,
            CloseReason::ProtocolViolation,
        ] {
            assert!(!resumable(Some(reason)), "{reason:?}");
        }
    }
}
