//! Per-connection rules that need no IO (pure): the session's state, the
//! handshake check, and the flood limiter. The session task drives them.

use std::time::Instant;

use tickwire_shared::ids::RoomId;
use tickwire_shared::protocol::{CloseReason, Hello, PROTOCOL_VERSION, Role};

/// Longest client name, bytes.
pub const MAX_CLIENT_NAME: usize = 32;
/// Longest event name, bytes.
pub const MAX_EVENT_NAME: usize = 64;

/// Where a greeted session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// In no room: lobby requests only.
    Lobby,
    /// In a room.
    InRoom {
        /// Which.
        room: RoomId,
        /// As what.
        role: Role,
    },
}

/// Checks a client's first message. The error is the close reason and the
/// message for the `Rejected` answer.
pub fn check_hello(hello: &Hello) -> Result<(), (CloseReason, String)> {
    if hello.protocol_version != PROTOCOL_VERSION {
        return Err((
            CloseReason::VersionMismatch,
            format!(
                "server speaks protocol {PROTOCOL_VERSION}, client {}",
                hello.protocol_version
            ),
        ));
    }
    let name = hello.client_name.trim();
    if name.is_empty() || name.len() > MAX_CLIENT_NAME || name.chars().any(char::is_control) {
        return Err((
            CloseReason::ProtocolViolation,
            format!("client name must be 1..={MAX_CLIENT_NAME} printable bytes"),
        ));
    }
    Ok(())
}

/// A token bucket: `rate` messages per second sustained, `burst` at once.
#[derive(Clone, Debug)]
pub struct FloodGuard {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl FloodGuard {
    /// A full bucket at `now`.
    pub fn new(rate: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: f64::from(rate),
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes a token for a message arriving at `now`; false when the client
    /// is over its rate.
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn hello(version: u16, name: &str) -> Hello {
        Hello {
            protocol_version: version,
            client_name: name.into(),
            auth_ticket: None,
            resume_token: None,
        }
    }

    #[test]
    fn hello_checks_version_and_name() {
        assert!(check_hello(&hello(PROTOCOL_VERSION, "bot")).is_ok());
        assert_eq!(
            check_hello(&hello(99, "bot")).unwrap_err().0,
            CloseReason::VersionMismatch
        );
        assert_eq!(
            check_hello(&hello(PROTOCOL_VERSION, " ")).unwrap_err().0,
            CloseReason::ProtocolViolation
        );
        assert!(check_hello(&hello(PROTOCOL_VERSION, &"x".repeat(33))).is_err());
        assert!(check_hello(&hello(PROTOCOL_VERSION, "a\u{7}b")).is_err());
    }

    #[test]
    fn flood_guard_allows_the_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut guard = FloodGuard::new(10, 5, t0);
        assert!((0..5).all(|_| guard.allow(t0)));
        assert!(!guard.allow(t0), "burst spent");
        assert!(
            guard.allow(t0 + Duration::from_millis(100)),
            "one token per 100 ms"
        );
        assert!(!guard.allow(t0 + Duration::from_millis(100)));
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| guard.allow(later)).count(), 5);
    }
}
