//! Misbehaviours a chaos bot performs to test a server's defences. Each
//! one is something a broken or hostile client does; the server should
//! answer with a close reason or drop the excess, and the well-behaved bots
//! in the same rooms should not notice.

use serde::Serialize;
use tickwire_client::RawFrame;

/// One kind of misbehaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Misbehaviour {
    /// Sends a frame that does not decode, gets closed, reconnects.
    Malformed,
    /// Sends a frame over the server's size limit, gets closed, reconnects.
    Oversize,
    /// Sends inputs at ten times the tick rate until closed for flooding.
    Flood,
    /// Drops the connection without a close frame; the client library
    /// reconnects and resumes the seat.
    Disconnect,
    /// Stops reading after joining, holding the connection.
    SlowReader,
}

impl Misbehaviour {
    /// Snake-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Oversize => "oversize",
            Self::Flood => "flood",
            Self::Disconnect => "disconnect",
            Self::SlowReader => "slow_reader",
        }
    }

    /// The offending frame, for the kinds that send one.
    pub fn offending_frame(self) -> Option<RawFrame> {
        match self {
            // An unknown message kind followed by junk.
            Self::Malformed => Some(RawFrame::Binary(vec![0xEE, 0x01, 0x02, 0x03])),
            // 64 KiB: sixteen times the default client frame limit.
            Self::Oversize => Some(RawFrame::Binary(vec![0u8; 64 * 1024])),
            _ => None,
        }
    }
}
