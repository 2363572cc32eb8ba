//! Where a lobby request goes in a cluster, pure: which node holds a room
//! named by id or code, which room a quick-join takes across the nodes,
//! and which node a new room goes to. Decisions read the last directory
//! read plus the seats this node handed out by redirecting since
//! ([`Pending`]), so a burst of quick-joins does not all pile into the
//! room the directory last showed with one free seat.
//!
//! # Which node a new room goes to
//! The least-loaded node that is not draining and has room for it: the
//! fewest seated players (the directory's count plus seats this node
//! redirected there since), then the fewest rooms, then this node (no
//! redirect on a tie), then the lowest id. Players, not CPU: a node's
//! players are known the moment they are seated (and counted here as
//! they are sent), where CPU lags a room's ramp-up by seconds and moves
//! with everything else on the machine; CPU is published in the node
//! record for operators.

use std::collections::HashMap;

use tickwire_shared::game::GameOptions;
use tickwire_shared::ids::RoomId;
use tickwire_shared::protocol::Metadata;

use super::{DirectoryRead, NodeRecord, RoomRecord};

/// The tag a node's room ids carry ([`RoomId::compose`]): FNV-1a (64
/// bits) of its id, folded into `1..2^21` (0 is a server running alone).
/// Two live nodes with the same tag are reported by [`tag_clashes`].
pub fn node_tag(node_id: &str) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in node_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let span = (1u64 << RoomId::NODE_TAG_BITS) - 1;
    u32::try_from(hash % span).unwrap_or(0) + 1
}

/// The live nodes (other than `own_id`) whose tag is `own_tag`: their
/// room ids would be mistaken for this node's; rename one.
pub fn tag_clashes<'a>(own_id: &str, own_tag: u32, read: &'a DirectoryRead) -> Vec<&'a str> {
    read.nodes
        .iter()
        .filter(|e| e.node.id != own_id && e.node.tag == own_tag)
        .map(|e| e.node.id.as_str())
        .collect()
}

/// Seats this node sent other nodes since the last directory read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    /// By (node, room).
    seats: HashMap<(String, u64), u16>,
    /// By node, new rooms' seats included.
    players: HashMap<String, u32>,
    /// New rooms, by node.
    rooms: HashMap<String, u32>,
}

impl Pending {
    /// A player sent to `room` on `node`.
    pub fn seat(&mut self, node: &str, room: RoomId) {
        *self.seats.entry((node.to_owned(), room.0)).or_default() += 1;
        *self.players.entry(node.to_owned()).or_default() += 1;
    }

    /// A new room (with `players` joining it) sent to `node`.
    pub fn room(&mut self, node: &str, players: u32) {
        *self.rooms.entry(node.to_owned()).or_default() += 1;
        *self.players.entry(node.to_owned()).or_default() += players;
    }

    fn seats_in(&self, node: &str, room: u64) -> u16 {
        self.seats
            .get(&(node.to_owned(), room))
            .copied()
            .unwrap_or(0)
    }
}

/// A node as placement weighs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLoad {
    /// Its id.
    pub id: String,
    /// Seated players.
    pub players: u32,
    /// Open rooms.
    pub rooms: u32,
    /// Its room limit.
    pub max_rooms: u32,
    /// Whether it drains.
    pub draining: bool,
}

impl NodeLoad {
    /// The load a node's record states.
    pub fn of(record: &NodeRecord) -> Self {
        Self {
            id: record.id.clone(),
            players: record.players,
            rooms: record.rooms,
            max_rooms: record.max_rooms,
            draining: record.draining,
        }
    }
}

/// The node a new room goes to (see the module doc): `None` when no node
/// can take one (all draining or full).
pub fn place_room<'a>(
    own: &'a NodeLoad,
    read: &'a DirectoryRead,
    pending: &Pending,
) -> Option<&'a str> {
    /// Fewest players, fewest rooms, this node, lowest id.
    type Rank<'s> = (u32, u32, bool, &'s str);
    let own_rank = (!own.draining && own.rooms < own.max_rooms).then_some((
        own.players,
        own.rooms,
        false,
        own.id.as_str(),
    ));
    let others = read
        .nodes
        .iter()
        .map(|e| &e.node)
        .filter(|node| node.id != own.id && !node.draining)
        .filter_map(|node| {
            let id = node.id.as_str();
            let rooms = node
                .rooms
                .saturating_add(pending.rooms.get(id).copied().unwrap_or(0));
            let players = node
                .players
                .saturating_add(pending.players.get(id).copied().unwrap_or(0));
            (rooms < node.max_rooms).then_some((players, rooms, true, id))
        });
    own_rank
        .into_iter()
        .chain(others)
        .min_by(|a: &Rank<'_>, b: &Rank<'_>| a.cmp(b))
        .map(|(_, _, _, id)| id)
}

/// What a quick-join looks for.
#[derive(Clone, Copy, Debug)]
pub struct QuickJoinQuery<'a> {
    /// The game (a registered game's name).
    pub game: &'a str,
    /// Options the room must have been created with.
    pub options: &'a GameOptions,
    /// Metadata it must have.
    pub metadata: &'a Metadata,
}

impl QuickJoinQuery<'_> {
    fn fits(&self, room: &RoomRecord, taken: u16) -> bool {
        room.game == self.game
            && !room.locked
            && room.players.saturating_add(taken) < room.max_players
            && self
                .options
                .0
                .iter()
                .all(|(k, v)| room.options.get(k) == Some(v))
            && self
                .metadata
                .iter()
                .all(|(k, v)| room.metadata.get(k) == Some(v))
    }
}

/// Where a quick-join goes.
#[derive(Clone, Debug, PartialEq)]
pub enum QuickJoinPick<'a> {
    /// The room on this node (the caller's own candidate).
    Local(RoomId),
    /// A room on another node.
    Remote {
        /// The node.
        node: &'a NodeRecord,
        /// The room.
        room: RoomId,
    },
    /// No room fits anywhere: create one ([`place_room`]).
    Create,
}

/// The room a quick-join takes, across the cluster: the fullest fitting
/// room (counting seats sent there since the last read), this node's on a
/// tie, then the lowest id. `local` is this node's own best candidate
/// (its lobby's, fresh) with its players; other nodes' rooms come from
/// `read`, draining nodes left out.
pub fn pick_quick_join<'a>(
    own_id: &str,
    local: Option<(RoomId, u16)>,
    query: QuickJoinQuery<'_>,
    read: &'a DirectoryRead,
    pending: &Pending,
) -> QuickJoinPick<'a> {
    type Key = (u16, bool, std::cmp::Reverse<u64>);
    let mut best: Option<(Key, QuickJoinPick<'a>)> = local.map(|(room, players)| {
        (
            (players, true, std::cmp::Reverse(room.0)),
            QuickJoinPick::Local(room),
        )
    });
    for entry in read
        .nodes
        .iter()
        .filter(|e| e.node.id != own_id && !e.node.draining)
    {
        for room in &entry.rooms {
            let taken = pending.seats_in(&entry.node.id, room.id);
            if !query.fits(room, taken) {
                continue;
            }
            let key = (
                room.players.saturating_add(taken),
                false,
                std::cmp::Reverse(room.id),
            );
            if best.as_ref().is_none_or(|(b, _)| key > *b) {
                best = Some((
                    key,
                    QuickJoinPick::Remote {
                        node: &entry.node,
                        room: RoomId(room.id),
                    },
                ));
            }
        }
    }
    best.map_or(QuickJoinPick::Create, |(_, pick)| pick)
}

/// The live node (other than this one) holding room `id`, by its tag;
/// `None` when the id is this node's or no live node has its tag.
pub fn holder_of(own_tag: u32, id: RoomId, read: &DirectoryRead) -> Option<&NodeRecord> {
    let tag = id.node_tag();
    if tag == own_tag || tag == 0 {
        return None;
    }
    read.nodes
        .iter()
        .map(|e| &e.node)
        .find(|node| node.tag == tag)
}

/// The live node (other than `own_id`) holding the room with invite code
/// `code`, and the room.
pub fn holder_of_code<'a>(
    own_id: &str,
    code: &str,
    read: &'a DirectoryRead,
) -> Option<(&'a NodeRecord, RoomId)> {
    read.nodes
        .iter()
        .filter(|e| e.node.id != own_id)
        .find_map(|e| e.codes.get(code).map(|id| (&e.node, RoomId(*id))))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::NodeEntry;
    use super::*;

    fn record(id: &str, players: u32, rooms: u32) -> NodeRecord {
        NodeRecord {
            id: id.into(),
            tag: node_tag(id),
            ws: format!("ws://{id}/ws"),
            quic: None,
            rooms,
            players,
            max_rooms: 100,
            cpu_percent: 0.0,
            draining: false,
            written_unix_ms: 0,
        }
    }

    fn room(node: &str, local: u32, players: u16, max: u16) -> RoomRecord {
        RoomRecord {
            id: RoomId::compose(node_tag(node), local).0,
            name: format!("{node}{local}"),
            game: "arena".into(),
            players,
            max_players: max,
            spectators: 0,
            options: BTreeMap::new(),
            metadata: BTreeMap::from([("map".into(), "dunes".into())]),
            locked: false,
        }
    }

    fn read(nodes: Vec<(NodeRecord, Vec<RoomRecord>)>) -> DirectoryRead {
        DirectoryRead {
            nodes: nodes
                .into_iter()
                .map(|(node, rooms)| NodeEntry {
                    node,
                    rooms,
                    codes: BTreeMap::new(),
                })
                .collect(),
            malformed: 0,
        }
    }

    fn own(players: u32, rooms: u32) -> NodeLoad {
        NodeLoad {
            id: "a".into(),
            players,
            rooms,
            max_rooms: 100,
            draining: false,
        }
    }

    #[test]
    fn tags_are_stable_nonzero_and_fit_their_bits() {
        assert_eq!(node_tag("a"), node_tag("a"));
        assert_ne!(node_tag("a"), node_tag("b"));
        for id in ["a", "node-1", "", "x".repeat(64).as_str()] {
            let tag = node_tag(id);
            assert!(
                (1..1 << RoomId::NODE_TAG_BITS).contains(&tag),
                "{id}: {tag}"
            );
        }
        let r = read(vec![
            (record("a", 0, 0), vec![]),
            (record("b", 0, 0), vec![]),
        ]);
        assert!(tag_clashes("a", node_tag("a"), &r).is_empty());
        assert_eq!(tag_clashes("a", node_tag("b"), &r), ["b"]);
    }

    #[test]
    fn new_rooms_go_to_the_least_loaded_open_node_and_stay_here_on_a_tie() {
        let r = read(vec![
            (record("b", 10, 2), vec![]),
            (record("c", 4, 1), vec![]),
        ]);
        let mut pending = Pending::default();
        assert_eq!(place_room(&own(20, 1), &r, &pending), Some("c"));
        assert_eq!(
            place_room(&own(4, 1), &r, &pending),
            Some("a"),
            "a tie stays"
        );
        // Seats sent to c since the read count.
        pending.room("c", 8);
        assert_eq!(place_room(&own(20, 1), &r, &pending), Some("b"));
        // Draining and full nodes take nothing.
        let mut b = record("b", 0, 0);
        b.draining = true;
        let mut c = record("c", 0, 100);
        c.max_rooms = 100;
        let r = read(vec![(b, vec![]), (c, vec![])]);
        assert_eq!(place_room(&own(50, 3), &r, &Pending::default()), Some("a"));
        let drained = NodeLoad {
            draining: true,
            ..own(0, 0)
        };
        assert_eq!(place_room(&drained, &r, &Pending::default()), None);
    }

    #[test]
    fn quick_join_fills_the_fullest_room_in_the_cluster_counting_seats_sent() {
        let options = GameOptions::default();
        let metadata = Metadata::new();
        let q = QuickJoinQuery {
            game: "arena",
            options: &options,
            metadata: &metadata,
        };
        let r = read(vec![
            (record("b", 3, 1), vec![room("b", 1, 3, 4)]),
            (
                record("c", 1, 2),
                vec![room("c", 1, 1, 4), room("c", 2, 4, 4)],
            ),
        ]);
        let a_room = RoomId::compose(node_tag("a"), 1);
        let local = Some((a_room, 2));
        let mut pending = Pending::default();
        let pick = pick_quick_join("a", local, q, &r, &pending);
        assert_eq!(
            pick,
            QuickJoinPick::Remote {
                node: &r.nodes[0].node,
                room: RoomId(room("b", 1, 3, 4).id)
            },
            "b's room has 3 of 4: the fullest with a seat (c's full one is left out)"
        );
        pending.seat("b", RoomId(room("b", 1, 3, 4).id));
        assert_eq!(
            pick_quick_join("a", local, q, &r, &pending),
            QuickJoinPick::Local(a_room),
            "the seat just sent filled b's room"
        );
        assert_eq!(
            pick_quick_join("a", Some((a_room, 3)), q, &r, &Pending::default()),
            QuickJoinPick::Local(a_room),
            "a tie stays here"
        );
        let other_map = Metadata::from([("map".into(), "ice".into())]);
        let q = QuickJoinQuery {
            metadata: &other_map,
            ..q
        };
        assert_eq!(
            pick_quick_join("a", None, q, &r, &pending),
            QuickJoinPick::Create
        );
    }

    #[test]
    fn rooms_are_found_by_their_ids_tag_and_by_code() {
        let mut r = read(vec![(record("b", 0, 1), vec![room("b", 1, 0, 4)])]);
        r.nodes[0].codes.insert("ABCDEF".into(), 77);
        let b_room = RoomId::compose(node_tag("b"), 1);
        assert_eq!(
            holder_of(node_tag("a"), b_room, &r).map(|n| n.id.as_str()),
            Some("b")
        );
        assert_eq!(holder_of(node_tag("b"), b_room, &r), None, "its own");
        assert_eq!(holder_of(node_tag("a"), RoomId(5), &r), None, "untagged");
        assert_eq!(
            holder_of(node_tag("a"), RoomId::compose(9, 1), &r),
            None,
            "no such node"
        );
        assert_eq!(
            holder_of_code("a", "ABCDEF", &r).map(|(n, id)| (n.id.as_str(), id)),
            Some(("b", RoomId(77)))
        );
        assert_eq!(holder_of_code("b", "ABCDEF", &r), None);
        assert_eq!(holder_of_code("a", "ZZZZZZ", &r), None);
    }
}
