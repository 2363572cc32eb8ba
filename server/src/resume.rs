//! Resume tokens (pure): which player each live token belongs to, and the
//! seats of dropped sessions waiting for their players until the grace
//! runs out. No clock: time comes in as an argument.
//!
//! A token is drawn from the OS RNG by the shell for each new session and
//! sent in its `Welcome`; it is registered here as `Live` once the session
//! is greeted. When the connection drops while the session holds a seat,
//! the token is `Parked` with the seat's room until `until`. A new
//! connection presenting the token takes the entry once: a parked seat is
//! resumed (and the resumed session gets a token of its own: tokens are
//! single-use), a live session is taken over (closed with `Replaced`,
//! which parks it, and then resumed). Anything else is unknown: the
//! client starts afresh.

use std::collections::HashMap;
use std::time::Instant;

use tickwire_shared::ids::{PlayerId, RoomId};
use tickwire_shared::protocol::ResumeToken;

/// A dropped session's seat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parked {
    /// The player.
    pub player: PlayerId,
    /// The room holding its seat.
    pub room: RoomId,
    /// When the grace runs out.
    pub until: Instant,
    /// The account it had signed in as, if the server authenticates: only
    /// that account may resume it.
    pub account: Option<String>,
}

#[derive(Debug)]
enum Entry<H> {
    Live {
        player: PlayerId,
        handle: H,
        account: Option<String>,
    },
    Parked(Parked),
}

/// What a token presented for a resume finds.
#[derive(Debug, PartialEq, Eq)]
pub enum Found<H> {
    /// A seat waiting for its player (the token is used up).
    Parked(Parked),
    /// A live session: `handle` asks it to close with `Replaced`, which
    /// parks its seat under the same token.
    Live {
        /// The player.
        player: PlayerId,
        /// The shell's way to close that session.
        handle: H,
    },
    /// Unknown, used or expired: start afresh.
    Unknown,
}

/// Every token of one server. `H` is the shell's handle to close a live
/// session.
#[derive(Debug)]
pub struct Resumes<H> {
    entries: HashMap<ResumeToken, Entry<H>>,
}

impl<H> Default for Resumes<H> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
        }
    }
}

impl<H: Clone> Resumes<H> {
    /// No token yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A greeted session's token.
    pub fn live(&mut self, token: ResumeToken, player: PlayerId, handle: H) {
        self.entries.insert(
            token,
            Entry::Live {
                player,
                handle,
                account: None,
            },
        );
    }

    /// The live session of `token` signed in as `account`: only that
    /// account may take it over.
    pub fn signed_in(&mut self, token: ResumeToken, account: &str) {
        if let Some(Entry::Live { account: held, .. }) = self.entries.get_mut(&token) {
            *held = Some(account.to_owned());
        }
    }

    /// The session of `token` dropped while holding a seat; it waits until
    /// `parked.until`. Expired seats are purged on the way (`now`).
    pub fn park(&mut self, token: ResumeToken, parked: Parked, now: Instant) {
        self.expire(now);
        self.entries.insert(token, Entry::Parked(parked));
    }

    /// The session of `token` ended for good.
    pub fn forget(&mut self, token: ResumeToken) {
        self.entries.remove(&token);
    }

    /// A new connection signed in as `account` presents `token` at `now`:
    /// a parked seat is taken (once) when the accounts agree (a seat of
    /// another account stays parked: a stolen token burns nothing), a live
    /// session is named (its entry stays until it parks), an expired seat
    /// is dropped.
    pub fn take(&mut self, token: ResumeToken, now: Instant, account: Option<&str>) -> Found<H> {
        match self.entries.get(&token) {
            Some(Entry::Parked(p)) if p.until > now && p.account.as_deref() != account => {
                Found::Unknown
            }
            Some(Entry::Parked(p)) if p.until > now => match self.entries.remove(&token) {
                Some(Entry::Parked(parked)) => Found::Parked(parked),
                _ => Found::Unknown,
            },
            Some(Entry::Parked(_)) => {
                self.entries.remove(&token);
                Found::Unknown
            }
            Some(Entry::Live { account: held, .. }) if held.as_deref() != account => Found::Unknown,
            Some(Entry::Live { player, handle, .. }) => Found::Live {
                player: *player,
                handle: handle.clone(),
            },
            None => Found::Unknown,
        }
    }

    /// Whether `token` names a parked seat now.
    pub fn is_parked(&self, token: ResumeToken) -> bool {
        matches!(self.entries.get(&token), Some(Entry::Parked(_)))
    }

    /// Drops the seats whose grace ran out by `now`.
    pub fn expire(&mut self, now: Instant) {
        self.entries
            .retain(|_, e| !matches!(e, Entry::Parked(p) if p.until <= now));
    }

    /// Tokens held (live and parked).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no token is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_parked_seat_is_taken_once_within_its_grace() {
        let mut r = Resumes::<()>::new();
        let now = Instant::now();
        let (a, b) = (ResumeToken([1; 16]), ResumeToken([2; 16]));
        r.live(a, PlayerId(1), ());
        assert_eq!(
            r.take(a, now, None),
            Found::Live {
                player: PlayerId(1),
                handle: ()
            }
        );
        let parked = Parked {
            player: PlayerId(1),
            room: RoomId(3),
            until: now + Duration::from_secs(30),
            account: None,
        };
        r.park(a, parked.clone(), now);
        assert!(r.is_parked(a));
        let mut hers = parked.clone();
        hers.account = Some("ann".into());
        r.park(b, hers.clone(), now);
        assert_eq!(
            r.take(b, now, Some("mallory")),
            Found::Unknown,
            "a stolen token does not work for another account"
        );
        assert_eq!(
            r.take(b, now, Some("ann")),
            Found::Parked(hers),
            "nor burns the seat"
        );
        let c = ResumeToken([3; 16]);
        r.live(c, PlayerId(7), ());
        r.signed_in(c, "ann");
        assert_eq!(
            r.take(c, now, Some("mallory")),
            Found::Unknown,
            "no takeover"
        );
        assert!(matches!(r.take(c, now, Some("ann")), Found::Live { .. }));
        r.forget(c);
        assert_eq!(
            r.take(a, now + Duration::from_secs(29), None),
            Found::Parked(parked.clone())
        );
        assert_eq!(r.take(a, now, None), Found::Unknown, "single use");
        assert_eq!(r.take(b, now, None), Found::Unknown, "never issued");
        r.park(b, parked, now);
        assert_eq!(
            r.take(b, now + Duration::from_secs(30), None),
            Found::Unknown,
            "the grace ran out"
        );
        assert!(r.is_empty());
        r.live(a, PlayerId(5), ());
        r.forget(a);
        assert!(r.is_empty());
    }

    #[test]
    fn expired_seats_are_purged_as_others_park() {
        let mut r = Resumes::<()>::new();
        let now = Instant::now();
        for i in 0..10u8 {
            let parked = Parked {
                player: PlayerId(u32::from(i)),
                room: RoomId(1),
                until: now + Duration::from_secs(u64::from(i)),
                account: None,
            };
            r.park(ResumeToken([i; 16]), parked, now);
        }
        let later = Parked {
            player: PlayerId(99),
            room: RoomId(1),
            until: now + Duration::from_secs(60),
            account: None,
        };
        r.park(
            ResumeToken([99; 16]),
            later,
            now + Duration::from_millis(5_500),
        );
        assert_eq!(r.len(), 5, "seats 6..=9 and the new one");
    }
}
