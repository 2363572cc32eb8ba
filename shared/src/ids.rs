//! Identifier newtypes shared by the protocol, the lobby and the games.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A connected player, unique for the lifetime of a server process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PlayerId(pub u32);

/// A game room, unique for the lifetime of a server process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RoomId(pub u32);

/// A replicated entity inside one room's world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntityId(pub u32);

/// An invite code for a private (or public) room: [`RoomCode::LEN`] characters
/// from [`RoomCode::ALPHABET`], which leaves out look-alikes (0/O, 1/I/L).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RoomCode([u8; ROOM_CODE_LEN]);

/// Characters in a [`RoomCode`].
const ROOM_CODE_LEN: usize = 6;

impl RoomCode {
    /// Characters per code.
    pub const LEN: usize = ROOM_CODE_LEN;
    /// The 31 characters a code is made of.
    pub const ALPHABET: &'static [u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

    /// Builds the code for a number (the lobby draws it at random); the same
    /// number always gives the same code.
    pub fn from_index(mut index: u64) -> Self {
        let base = Self::ALPHABET.len() as u64;
        let mut chars = [0u8; Self::LEN];
        for slot in chars.iter_mut().rev() {
            *slot = Self::ALPHABET[(index % base) as usize];
            index /= base;
        }
        Self(chars)
    }

    /// Parses a code typed by a person: case-insensitive, exactly
    /// [`RoomCode::LEN`] characters of the alphabet.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != Self::LEN {
            return None;
        }
        let mut chars = [0u8; Self::LEN];
        for (slot, byte) in chars.iter_mut().zip(bytes) {
            let upper = byte.to_ascii_uppercase();
            if !Self::ALPHABET.contains(&upper) {
                return None;
            }
            *slot = upper;
        }
        Some(Self(chars))
    }

    /// Whether every character is in the alphabet (a decoded code may not be).
    pub fn is_valid(&self) -> bool {
        self.0.iter().all(|c| Self::ALPHABET.contains(c))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // A code built by `from_index` or `parse` is ASCII; one decoded from
        // a peer may not be, and then shows as "?".
        std::str::from_utf8(&self.0).unwrap_or("?")
    }
}

impl fmt::Display for RoomCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RoomCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoomCode({})", self.as_str())
    }
}

macro_rules! display_as_number {
    ($($name:ident => $prefix:literal),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    )*};
}
display_as_number!(PlayerId => "p", RoomId => "r", EntityId => "e");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_codes_round_trip_through_text() {
        for index in [0, 1, 30, 31, 123_456_789, u64::MAX] {
            let code = RoomCode::from_index(index);
            assert!(code.is_valid());
            assert_eq!(RoomCode::parse(code.as_str()), Some(code));
            assert_eq!(RoomCode::parse(&code.as_str().to_lowercase()), Some(code));
        }
    }

    #[test]
    fn room_code_parse_rejects_bad_text() {
        assert_eq!(RoomCode::parse("ABC"), None);
        assert_eq!(RoomCode::parse("ABCDEFG"), None);
        assert_eq!(RoomCode::parse("ABCDE0"), None, "0 is not in the alphabet");
        assert_eq!(RoomCode::parse("ÄBCDE"), None);
    }
}
