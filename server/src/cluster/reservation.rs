//! Seat reservations, pure: what a node that redirects a client signs, and
//! how the node it names checks it. A reservation is a signed permit, not
//! a held seat: nothing is written anywhere when one is handed out, so a
//! client that never arrives leaves nothing behind, and a burst of joins
//! cannot make reservations expire early (each lives its full lifetime,
//! [`DEFAULT_LIFETIME_MS`], from its signing). The seat is taken when the
//! claim arrives; a quick-join whose room filled meanwhile is seated
//! elsewhere on that node ([`Seat::QuickJoin`]).
//!
//! The token is a JWT (HS256, the `jsonwebtoken` crate) signed with the
//! cluster's shared secret. Times are arguments (Unix ms), never read
//! here: the expiry is checked against the caller's clock, with
//! [`CLOCK_SKEW_MS`] of leeway for nodes' clocks disagreeing. Each
//! reservation is claimable once ([`Ledger`]).

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tickwire_shared::game::GameOptions;
use tickwire_shared::protocol::{Metadata, Role, Visibility};

/// How long a reservation is valid by default, ms: long enough for a
/// client on a slow phone network to open a connection (TLS included)
/// and greet, with retries; a reservation costs nothing while it waits.
pub const DEFAULT_LIFETIME_MS: u64 = 30_000;

/// How far nodes' clocks may disagree, ms, before a fresh reservation
/// looks expired (or one from the future is refused).
pub const CLOCK_SKEW_MS: u64 = 5_000;

/// Most used reservations a node remembers (each until it expires): a
/// claim beyond it is refused rather than let memory grow.
pub const MAX_REMEMBERED: usize = 100_000;

/// What a reservation lets its holder do on the node it names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Seat {
    /// Join room `room` (by id or by code on the first node: the code was
    /// checked there).
    Join {
        /// The room.
        room: u64,
        /// As what.
        role: Role,
        /// Options for the game's join hook.
        join_options: GameOptions,
    },
    /// A quick-join sent to room `room` (`None`: no room fitted, and a
    /// new one goes to that node); if the room has no seat left by then,
    /// another matching room on that node, or a new one there.
    QuickJoin {
        /// The room chosen.
        room: Option<u64>,
        /// The game (a registered game's name).
        game: String,
        /// The options the room must have.
        options: GameOptions,
        /// The metadata it must have.
        metadata: Metadata,
        /// Options for the game's join hook.
        join_options: GameOptions,
    },
    /// Create a room there (placed on that node as the least loaded), and
    /// join it when `join_as` says so.
    Create {
        /// The game, by name (`None`: the default game).
        game: Option<String>,
        /// Display name.
        name: String,
        /// Public or private.
        visibility: Visibility,
        /// Seats.
        max_players: u16,
        /// Game options.
        options: GameOptions,
        /// Join it as this.
        join_as: Option<Role>,
        /// Options for the game's join hook.
        join_options: GameOptions,
    },
}

/// A reservation's claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// The node it is for.
    pub node: String,
    /// The account it is for, when the first node authenticated one (the
    /// claiming session must be signed in as it).
    pub sub: Option<String>,
    /// What it lets its holder do.
    pub seat: Seat,
    /// Its unique id (single use).
    pub jti: String,
    /// Signed at, Unix ms.
    pub iat_ms: u64,
    /// Valid until, Unix ms.
    pub exp_ms: u64,
}

/// Why a reservation is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReservationError {
    /// Not a token, or not one of ours.
    #[error("the reservation is malformed")]
    Malformed,
    /// Not signed with this cluster's secret.
    #[error("the reservation is not signed by this cluster")]
    BadSignature,
    /// Past its lifetime.
    #[error("the reservation expired {late_ms} ms ago")]
    Expired {
        /// How long ago, ms.
        late_ms: u64,
    },
    /// Signed for a time in the future beyond the clock skew allowed.
    #[error("the reservation is not valid yet")]
    NotYetValid,
    /// Meant for another node.
    #[error("the reservation is for node {0}")]
    OtherNode(String),
    /// Meant for another account.
    #[error("the reservation is for another player")]
    OtherPlayer,
    /// Claimed already.
    #[error("the reservation was used already")]
    Used,
    /// [`MAX_REMEMBERED`] unexpired claims are remembered already.
    #[error("too many reservations in flight")]
    Overloaded,
    /// The node cannot sign or check (no cluster secret yet: Redis has
    /// not been reached).
    #[error("the cluster's secret is not known yet")]
    NoSecret,
}

impl ReservationError {
    /// A short name for logs and metric labels.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::BadSignature => "bad_signature",
            Self::Expired { .. } => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::OtherNode(_) => "other_node",
            Self::OtherPlayer => "other_player",
            Self::Used => "used",
            Self::Overloaded => "overloaded",
            Self::NoSecret => "no_secret",
        }
    }
}

/// Signs and checks reservations with the cluster's secret (and, after
/// the secret changed, still checks with the one before, so that
/// reservations in flight survive the change).
pub struct Signer {
    secret: Vec<u8>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    previous: Option<DecodingKey>,
    validation: Validation,
    lifetime_ms: u64,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("lifetime_ms", &self.lifetime_ms)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer with `secret` (every node of the cluster holds the same)
    /// whose reservations live `lifetime_ms`.
    pub fn new(secret: &[u8], lifetime_ms: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Times are checked here against the caller's clock, not by the
        // library against the system's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        Self {
            secret: secret.to_vec(),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            previous: None,
            validation,
            lifetime_ms,
        }
    }

    /// The secret it signs with.
    pub fn secret_bytes(&self) -> Vec<u8> {
        self.secret.clone()
    }

    /// Whether it signs with `secret`.
    pub fn uses(&self, secret: &[u8]) -> bool {
        self.secret == secret
    }

    /// Signs with `secret` from now on, still accepting reservations
    /// signed with the secret it used until now.
    pub fn rotate(&mut self, secret: &[u8]) {
        if self.uses(secret) {
            return;
        }
        let previous = std::mem::replace(&mut self.decoding, DecodingKey::from_secret(secret));
        self.previous = Some(previous);
        self.encoding = EncodingKey::from_secret(secret);
        self.secret = secret.to_vec();
    }

    /// How long its reservations live, ms.
    pub fn lifetime_ms(&self) -> u64 {
        self.lifetime_ms
    }

    /// A reservation for `node`, signed at `now_ms`, unique by `jti`.
    pub fn sign(
        &self,
        node: &str,
        sub: Option<&str>,
        seat: Seat,
        jti: u128,
        now_ms: u64,
    ) -> Result<String, ReservationError> {
        let claims = Reservation {
            node: node.to_owned(),
            sub: sub.map(str::to_owned),
            seat,
            jti: format!("{jti:032x}"),
            iat_ms: now_ms,
            exp_ms: now_ms.saturating_add(self.lifetime_ms),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| ReservationError::Malformed)
    }

    /// Checks `token` for this node (`own_node`), claimed by a session
    /// signed in as `sub` (if any), at `now_ms`. Does not mark it used:
    /// see [`Ledger::claim`].
    pub fn verify(
        &self,
        token: &str,
        own_node: &str,
        sub: Option<&str>,
        now_ms: u64,
    ) -> Result<Reservation, ReservationError> {
        use jsonwebtoken::errors::ErrorKind;
        let decode = |key: &DecodingKey| {
            jsonwebtoken::decode::<Reservation>(token, key, &self.validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::InvalidSignature => ReservationError::BadSignature,
                    _ => ReservationError::Malformed,
                }
            })
        };
        let data = match (decode(&self.decoding), &self.previous) {
            (Err(ReservationError::BadSignature), Some(previous)) => decode(previous)?,
            (result, _) => result?,
        };
        let claims = data.claims;
        if now_ms > claims.exp_ms.saturating_add(CLOCK_SKEW_MS) {
            return Err(ReservationError::Expired {
                late_ms: now_ms - claims.exp_ms,
            });
        }
        if claims.iat_ms > now_ms.saturating_add(CLOCK_SKEW_MS) {
            return Err(ReservationError::NotYetValid);
        }
        if claims.node != own_node {
            return Err(ReservationError::OtherNode(claims.node));
        }
        if claims.sub.is_some() && claims.sub.as_deref() != sub {
            return Err(ReservationError::OtherPlayer);
        }
        Ok(claims)
    }
}

/// The reservations claimed on this node, each remembered until it
/// expires, so that each is claimed once.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Claimed reservation ids and their expiry (Unix ms, with the skew).
    used: HashMap<String, u64>,
    /// The earliest expiry in `used`, to prune only when something can go.
    next_expiry: Option<u64>,
}

impl Ledger {
    /// Marks `reservation` claimed at `now_ms`; refuses one claimed
    /// before.
    pub fn claim(
        &mut self,
        reservation: &Reservation,
        now_ms: u64,
    ) -> Result<(), ReservationError> {
        if self.next_expiry.is_some_and(|at| at < now_ms) {
            self.used.retain(|_, until| *until >= now_ms);
            self.next_expiry = self.used.values().copied().min();
        }
        if self.used.contains_key(&reservation.jti) {
            return Err(ReservationError::Used);
        }
        if self.used.len() >= MAX_REMEMBERED {
            return Err(ReservationError::Overloaded);
        }
        let until = reservation.exp_ms.saturating_add(CLOCK_SKEW_MS);
        self.used.insert(reservation.jti.clone(), until);
        self.next_expiry = Some(self.next_expiry.map_or(until, |at| at.min(until)));
        Ok(())
    }

    /// Reservations remembered.
    pub fn len(&self) -> usize {
        self.used.len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.used.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    fn seat() -> Seat {
        Seat::Join {
            room: 7 << 32 | 3,
            role: Role::Player,
            join_options: GameOptions::default(),
        }
    }

    fn signer() -> Signer {
        Signer::new(b"cluster secret", DEFAULT_LIFETIME_MS)
    }

    #[test]
    fn a_reservation_is_checked_and_claimed_once() {
        let s = signer();
        let token = s.sign("b", None, seat(), 1, NOW).expect("signs");
        let r = s.verify(&token, "b", None, NOW + 1_000).expect("valid");
        assert_eq!((r.seat, r.exp_ms), (seat(), NOW + DEFAULT_LIFETIME_MS));
        let mut ledger = Ledger::default();
        let r = s.verify(&token, "b", None, NOW).expect("valid");
        ledger.claim(&r, NOW).expect("first claim");
        assert_eq!(ledger.claim(&r, NOW), Err(ReservationError::Used));
        // Remembered until it expires, then forgotten.
        let other = s
            .verify(
                &s.sign("b", None, seat(), 2, NOW + 60_000).expect("signs"),
                "b",
                None,
                NOW + 60_000,
            )
            .expect("valid");
        ledger.claim(&other, NOW + 60_000).expect("another");
        assert_eq!(ledger.len(), 1, "the first one expired and went");
    }

    #[test]
    fn expired_foreign_misdirected_and_other_players_reservations_are_refused() {
        let s = signer();
        let token = s.sign("b", Some("alice"), seat(), 1, NOW).expect("signs");
        let late = NOW + DEFAULT_LIFETIME_MS + CLOCK_SKEW_MS + 1;
        assert!(matches!(
            s.verify(&token, "b", Some("alice"), late),
            Err(ReservationError::Expired { .. })
        ));
        assert!(
            s.verify(
                &token,
                "b",
                Some("alice"),
                NOW + DEFAULT_LIFETIME_MS + CLOCK_SKEW_MS
            )
            .is_ok(),
            "a clock a little ahead is tolerated"
        );
        assert_eq!(
            s.verify(&token, "b", Some("alice"), NOW - CLOCK_SKEW_MS - 1),
            Err(ReservationError::NotYetValid)
        );
        assert_eq!(
            s.verify(&token, "c", Some("alice"), NOW),
            Err(ReservationError::OtherNode("b".into()))
        );
        assert_eq!(
            s.verify(&token, "b", Some("mallory"), NOW),
            Err(ReservationError::OtherPlayer)
        );
        assert_eq!(
            s.verify(&token, "b", None, NOW),
            Err(ReservationError::OtherPlayer),
            "an account's reservation needs that account signed in"
        );
        let forged = Signer::new(b"another secret", DEFAULT_LIFETIME_MS)
            .sign("b", Some("alice"), seat(), 1, NOW)
            .expect("signs");
        assert_eq!(
            s.verify(&forged, "b", Some("alice"), NOW),
            Err(ReservationError::BadSignature)
        );
        for junk in ["", "abc", "a.b.c", &"x".repeat(5_000)] {
            assert_eq!(
                s.verify(junk, "b", None, NOW),
                Err(ReservationError::Malformed)
            );
        }
        // A token tampered with after signing (another room).
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = parts[1].chars().rev().collect();
        assert!(s.verify(&parts.join("."), "b", Some("alice"), NOW).is_err());
    }

    #[test]
    fn after_a_secret_change_reservations_in_flight_still_pass() {
        let mut s = signer();
        let before = s.sign("b", None, seat(), 1, NOW).expect("signs");
        s.rotate(b"the new secret");
        assert!(s.uses(b"the new secret"));
        s.verify(&before, "b", None, NOW)
            .expect("signed with the old secret");
        let after = s.sign("b", None, seat(), 2, NOW).expect("signs");
        let new_only = Signer::new(b"the new secret", DEFAULT_LIFETIME_MS);
        new_only
            .verify(&after, "b", None, NOW)
            .expect("signed with the new one");
        s.rotate(b"a third secret");
        assert_eq!(
            s.verify(&before, "b", None, NOW),
            Err(ReservationError::BadSignature),
            "two changes ago: refused"
        );
    }

    #[test]
    fn the_ledger_is_bounded() {
        let s = signer();
        let mut ledger = Ledger::default();
        for jti in 0..MAX_REMEMBERED as u128 {
            let r = Reservation {
                node: "b".into(),
                sub: None,
                seat: seat(),
                jti: format!("{jti}"),
                iat_ms: NOW,
                exp_ms: NOW + 1,
            };
            ledger.claim(&r, NOW).expect("room for it");
        }
        let token = s.sign("b", None, seat(), u128::MAX, NOW).expect("signs");
        let r = s.verify(&token, "b", None, NOW).expect("valid");
        assert_eq!(ledger.claim(&r, NOW), Err(ReservationError::Overloaded));
        ledger
            .claim(&r, NOW + CLOCK_SKEW_MS + 2)
            .expect("the expired ones went");
        assert_eq!(ledger.len(), 1);
    }
}
