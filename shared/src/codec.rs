//! Frames to messages and back. This is the only module that names the
//! serialisation library (bincode 2, pinned: its 3.0.0 release is a
//! tombstone and the project has ceased development), so replacing it
//! touches this file alone.
//!
//! # Frame layout
//!
//! A frame is one message. Its first byte is the message kind (the variant's
//! position in [`ClientMessage`] or [`ServerMessage`]). For every kind but
//! [`ServerMessage::Update`] the whole frame is bincode's standard encoding
//! of the message (little-endian, variable-length integers, the kind byte
//! being the enum's variant index). Updates, sent every tick to every client,
//! have a compact layout of their own:
//!
//! ```text
//! kind      u8 = 12
//! tick      LEB128 u32
//! age       LEB128 u32: tick - baseline tick; 0 for a full snapshot
//! lateness  LEB128 u32: microseconds the tick started after it was due
//! checksum  u32, little-endian
//! delta     the rest of the frame (crate::delta bitstream)
//! ```
//!
//! [`ServerMessage::Redirect`] (kind 13) follows the update, whose
//! variant serde skips, so its frame is written by hand: the kind byte,
//! then bincode's standard encoding of the [`crate::protocol::Redirect`]
//! struct, the same bytes as any other message's.
//!
//! Decoding never panics and allocates in proportion to the frame, never
//! to what its length fields claim (8 KiB plus 64 bytes per frame byte at
//! most, checked by the fuzz campaign in `shared/tests/fuzz.rs`): a frame
//! over the caller's limit, a truncated frame, an unknown kind, an invalid
//! value, a length beyond the frame or trailing bytes each give a
//! [`DecodeError`].

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::protocol::{ClientMessage, ServerMessage, Update};
use crate::tick::Tick;

/// Default largest frame a server accepts from a client: inputs and lobby
/// requests are a few dozen bytes; 4 KiB leaves room for events.
pub const MAX_CLIENT_FRAME: usize = 4 * 1024;
/// Default largest frame a client accepts from a server: a full snapshot of
/// a crowded room (hundreds of entities at ~10 bytes) fits many times over.
pub const MAX_SERVER_FRAME: usize = 256 * 1024;
/// Ceiling for any frame whatever the configured limits: bincode is told it
/// may never allocate more than this while decoding.
pub const HARD_FRAME_LIMIT: usize = 1 << 20;

/// The number of [`ClientMessage`] kinds.
const CLIENT_KINDS: u8 = 14;
/// The number of [`ServerMessage`] kinds, the update and the redirect
/// included.
const SERVER_KINDS: u8 = ServerMessage::REDIRECT_KIND + 1;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<HARD_FRAME_LIMIT>()
}

/// Decodes with bincode told the most it may allocate: 16 times the frame
/// (rounded up to a bucket; bincode's limit is a constant), so a length
/// field claiming more than the frame could hold is an error before any
/// allocation. 16: bincode counts a varint integer at its full width
/// (a `u128` of one byte claims 16), so no valid frame claims more.
/// Frames over 64 KiB keep the hard limit.
fn decode_limited<T: DeserializeOwned>(
    bytes: &[u8],
) -> Result<(T, usize), bincode::error::DecodeError> {
    use bincode::config::standard;
    use bincode::serde::decode_from_slice;
    match bytes.len() {
        0..=256 => decode_from_slice(bytes, standard().with_limit::<{ 16 * 256 }>()),
        257..=1024 => decode_from_slice(bytes, standard().with_limit::<{ 16 * 1024 }>()),
        1025..=4096 => decode_from_slice(bytes, standard().with_limit::<{ 16 * 4096 }>()),
        4097..=65536 => decode_from_slice(bytes, standard().with_limit::<HARD_FRAME_LIMIT>()),
        _ => decode_from_slice(bytes, config()),
    }
}

/// Why a frame could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A frame with no bytes.
    #[error("empty frame")]
    Empty,
    /// Larger than the limit.
    #[error("frame of {len} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// Frame size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The first byte is not a known message kind.
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    /// The frame ends in the middle of a message.
    #[error("truncated frame")]
    Truncated,
    /// Bytes are left after the message.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// A field holds an invalid value.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
}

/// Why a message could not be encoded (a bug on the sending side).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A field cannot be represented (an update whose baseline is not
    /// before its tick, for instance).
    #[error("cannot encode message: {0}")]
    Unencodable(&'static str),
}

/// Appends the frame for `msg` to `out`.
pub fn encode_client(msg: &ClientMessage, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    encode_value(msg, out)
}

/// Decodes one client frame of at most `limit` bytes.
pub fn decode_client(bytes: &[u8], limit: usize) -> Result<ClientMessage, DecodeError> {
    check_kind(bytes, limit, CLIENT_KINDS)?;
    decode_value(bytes, limit)
}

/// Appends the frame for `msg` to `out`.
pub fn encode_server(msg: &ServerMessage, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    match msg {
        ServerMessage::Update(update) => {
            encode_update_header(
                update.tick,
                update.baseline,
                update.lateness_us,
                update.checksum,
                out,
            )?;
            out.extend_from_slice(&update.delta);
            Ok(())
        }
        ServerMessage::Redirect(redirect) => {
            out.push(ServerMessage::REDIRECT_KIND);
            encode_value(redirect, out)
        }
        other => encode_value(other, out),
    }
}

/// Decodes one server frame of at most `limit` bytes.
pub fn decode_server(bytes: &[u8], limit: usize) -> Result<ServerMessage, DecodeError> {
    check_kind(bytes, limit, SERVER_KINDS)?;
    if bytes[0] == ServerMessage::UPDATE_KIND {
        return decode_update(&bytes[1..]).map(ServerMessage::Update);
    }
    if bytes[0] == ServerMessage::REDIRECT_KIND {
        return decode_value(&bytes[1..], limit).map(ServerMessage::Redirect);
    }
    decode_value(bytes, limit)
}

/// Appends an update frame's kind byte and header to `out`; the delta
/// bitstream is appended after it by the caller. This lets a server encode
/// a tick's update once, straight into the buffer all clients on the same
/// baseline share.
pub fn encode_update_header(
    tick: Tick,
    baseline: Option<Tick>,
    lateness_us: u32,
    checksum: u32,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let age = match baseline {
        None => 0,
        Some(base) => match tick.since(base) {
            Some(age) if age > 0 => age,
            _ => {
                return Err(EncodeError::Unencodable(
                    "update baseline must be before its tick",
                ));
            }
        },
    };
    out.push(ServerMessage::UPDATE_KIND);
    write_leb128(tick.0, out);
    write_leb128(age, out);
    write_leb128(lateness_us, out);
    out.extend_from_slice(&checksum.to_le_bytes());
    Ok(())
}

fn decode_update(mut bytes: &[u8]) -> Result<Update, DecodeError> {
    let tick = Tick(read_leb128(&mut bytes)?);
    let age = read_leb128(&mut bytes)?;
    let lateness_us = read_leb128(&mut bytes)?;
    let Some((checksum, delta)) = bytes.split_first_chunk::<4>() else {
        return Err(DecodeError::Truncated);
    };
    let baseline = match age {
        0 => None,
        age => Some(
            tick.checked_back(age)
                .ok_or(DecodeError::Malformed("baseline before tick 0"))?,
        ),
    };
    Ok(Update {
        tick,
        baseline,
        lateness_us,
        checksum: u32::from_le_bytes(*checksum),
        delta: delta.to_vec(),
    })
}

/// Appends any serialisable value (a game's input type, for example) in
/// the codec's format.
pub fn encode_value<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    bincode::serde::encode_into_std_write(value, out, config())
        .map(|_| ())
        .map_err(|_| EncodeError::Unencodable("value not representable"))
}

/// Decodes a value written by [`encode_value`], using all of `bytes` (at
/// most `limit`).
pub fn decode_value<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, DecodeError> {
    check_len(bytes, limit)?;
    let (value, used) = decode_limited(bytes).map_err(map_error)?;
    match bytes.len() - used {
        0 => Ok(value),
        extra => Err(DecodeError::TrailingBytes(extra)),
    }
}

fn check_len(bytes: &[u8], limit: usize) -> Result<(), DecodeError> {
    let limit = limit.min(HARD_FRAME_LIMIT);
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    Ok(())
}

fn check_kind(bytes: &[u8], limit: usize, kinds: u8) -> Result<(), DecodeError> {
    check_len(bytes, limit)?;
    match bytes.first() {
        None => Err(DecodeError::Empty),
        Some(&kind) if kind >= kinds => Err(DecodeError::UnknownKind(kind)),
        Some(_) => Ok(()),
    }
}

fn map_error(error: bincode::error::DecodeError) -> DecodeError {
    use bincode::error::DecodeError as E;
    match error {
        E::UnexpectedEnd { .. } => DecodeError::Truncated,
        E::LimitExceeded => DecodeError::Malformed("a length exceeds what the frame holds"),
        E::Utf8 { .. } => DecodeError::Malformed("invalid UTF-8 in a string"),
        E::InvalidBooleanValue(_) => DecodeError::Malformed("invalid boolean"),
        E::UnexpectedVariant { .. } => DecodeError::Malformed("unknown enum value"),
        E::InvalidIntegerType { .. } | E::OutsideUsizeRange(_) => {
            DecodeError::Malformed("integer out of range")
        }
        _ => DecodeError::Malformed("invalid value"),
    }
}

fn write_leb128(mut value: u32, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn read_leb128(bytes: &mut &[u8]) -> Result<u32, DecodeError> {
    let mut value: u64 = 0;
    for shift in (0..35).step_by(7) {
        let Some((&byte, rest)) = bytes.split_first() else {
            return Err(DecodeError::Truncated);
        };
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            // Reject overlong forms (a trailing zero group) so that every
            // value has exactly one encoding.
            if shift > 0 && byte == 0 {
                return Err(DecodeError::Malformed("overlong integer"));
            }
            return u32::try_from(value)
                .map_err(|_| DecodeError::Malformed("integer out of range"));
        }
    }
    Err(DecodeError::Malformed("integer longer than 5 bytes"))
}

pub(crate) mod capped;
#[cfg(test)]
mod tests;
