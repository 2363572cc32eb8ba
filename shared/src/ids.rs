//! Identifier newtypes shared by the protocol, the lobby and the games.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A connected player, unique for the lifetime of a server process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PlayerId(pub u32);

/// A game room, unique for the lifetime of a server process and, in a
/// cluster, across its nodes: the top bits name the node that holds the
/// room ([`RoomId::node_tag`]; 0 on a server running alone), the low 32
/// bits count that node's rooms. Every id is below 2^53, so JSON and
/// JavaScript numbers hold it exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RoomId(pub u64);

impl RoomId {
    /// Bits of a room id that name its node.
    pub const NODE_TAG_BITS: u32 = 21;
    /// The largest room id (2^53 - 1).
    pub const MAX: Self = Self((1 << (32 + Self::NODE_TAG_BITS)) - 1);

    /// The id of room number `local` of the node tagged `node_tag` (its
    /// low [`RoomId::NODE_TAG_BITS`] bits are used).
    pub fn compose(node_tag: u32, local: u32) -> Self {
        let tag = u64::from(node_tag) & ((1 << Self::NODE_TAG_BITS) - 1);
        Self((tag << 32) | u64::from(local))
    }

    /// The tag of the node holding the room (0: a server running alone).
    pub fn node_tag(self) -> u32 {
        u32::try_from(self.0 >> 32).unwrap_or(u32::MAX)
    }

    /// The room's number on its node.
    pub fn local(self) -> u32 {
        (self.0 & u64::from(u32::MAX)) as u32
    }
}

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
    #[test]
    fn room_ids_split_into_node_tag_and_local_number() {
        let id = RoomId::compose(0x1F_FFFF, u32::MAX);
        assert_eq!(id, RoomId::MAX);
        assert_eq!(id.0, (1u64 << 53) - 1, "within a JavaScript number");
        assert_eq!((id.node_tag(), id.local()), (0x1F_FFFF, u32::MAX));
        let alone = RoomId::compose(0, 7);
        assert_eq!((alone, alone.node_tag(), alone.local()), (RoomId(7), 0, 7));
        assert_eq!(RoomId::compose(1 << 21 | 5, 1).node_tag(), 5, "tag masked");
    }

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
