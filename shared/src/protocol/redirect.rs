//! Moving between the nodes of a cluster: a request for a room on another
//! node is answered with a [`Redirect`] carrying a signed seat
//! reservation, which the client presents to that node in a [`ClaimSeat`].

use serde::{Deserialize, Serialize};

/// The answer to a `CreateRoom`, `JoinRoom` or `QuickJoin` whose room is
/// (or will be created) on another node of the cluster. The client
/// connects to that node, greets it with a fresh `Hello` (the same name
/// and auth ticket, no resume token), and once welcomed sends a
/// [`ClaimSeat`] with the same `request_id` and the reservation; that
/// node's answer (`Joined`, `RoomCreated` or `Error`) is the answer to
/// the original request. The connection to this node may then close.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    /// The request answered.
    pub request_id: u32,
    /// The id of the node to go to.
    pub node: String,
    /// Its WebSocket URL (`ws://` or `wss://`).
    pub ws: String,
    /// Its QUIC address (`host:port`), when it serves QUIC.
    pub quic: Option<String>,
    /// The seat reservation: opaque to clients, signed by the cluster,
    /// valid for one claim.
    pub reservation: String,
    /// How long the reservation stays valid, from when this was sent, ms.
    pub valid_for_ms: u32,
}

/// Claims the seat a [`Redirect`] reserved; valid once welcomed and in no
/// room. Answered like the request the redirect answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimSeat {
    /// The original request's id (echoed in the answer).
    pub request_id: u32,
    /// The [`Redirect::reservation`], as received.
    pub reservation: String,
}
