//! The cluster's room directory, pure: what a node writes to Redis on each
//! heartbeat, under which keys and for how long, and how a node merges
//! what the other nodes wrote with its own rooms into one listing. No
//! sockets, no clock: times are arguments (Unix milliseconds). The Redis
//! shell is `runtime::cluster`.
//!
//! # Keys (all under [`KEY_PREFIX`])
//! - `tickwire:node:<id>`: the node's [`NodeRecord`] (JSON), `PX expiry_ms`;
//! - `tickwire:rooms:<id>`: its public rooms, a JSON array of
//!   [`RoomRecord`], `PX expiry_ms`;
//! - `tickwire:codes:<id>`: the invite codes of all its rooms (private
//!   ones too), a JSON object code → room id, `PX expiry_ms`, so that any
//!   node can send a joiner by code to the right node (Redis is private
//!   to the cluster; codes are never listed to clients);
//! - `tickwire:secret`: the cluster's reservation signing secret when
//!   none is configured (`SET NX` by the first node, read by all);
//! - `tickwire:nodes`: a sorted set indexing node ids (score: the Unix ms
//!   at which the node's keys expire, by the writer's clock). The index
//!   only says where to look: a node is alive while its `node:` key
//!   exists (Redis' own expiry, no clock skew between nodes involved).
//!   Members whose score is more than [`INDEX_SLACK_MS`] in the past are
//!   trimmed by every writer, so the set stays as small as the cluster.
//!
//! # Room ids across nodes
//! A node's room ids carry its tag in their top bits
//! ([`placement::node_tag`], [`RoomId::compose`]), so ids are unique in
//! the cluster and name their node: `ListRooms` and `/rooms` on any node
//! list the whole cluster, and a join by id, by code or a quick-join on
//! any node is carried out there or redirected with a signed seat
//! reservation ([`reservation`]) to the node holding the room; new rooms
//! go to the least-loaded node ([`placement`]).
//!
//! [`RoomId::compose`]: tickwire_shared::ids::RoomId::compose

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tickwire_shared::ids::RoomId;
use tickwire_shared::protocol::{RoomInfo, Visibility};

pub mod placement;
pub mod reservation;

/// The prefix of every key tickwire writes.
pub const KEY_PREFIX: &str = "tickwire:";

/// How long, ms, an index entry stays after its node's keys expired
/// before writers trim it: a minute covers any sane clock skew between
/// nodes, and a dead node's entry costs one `MGET` slot until then.
pub const INDEX_SLACK_MS: u64 = 60_000;

/// The key of the sorted set indexing the nodes.
pub fn nodes_key() -> String {
    format!("{KEY_PREFIX}nodes")
}

/// The key of node `id`'s record.
pub fn node_key(id: &str) -> String {
    format!("{KEY_PREFIX}node:{id}")
}

/// The key of node `id`'s public rooms.
pub fn rooms_key(id: &str) -> String {
    format!("{KEY_PREFIX}rooms:{id}")
}

/// The key of node `id`'s invite codes.
pub fn codes_key(id: &str) -> String {
    format!("{KEY_PREFIX}codes:{id}")
}

/// The key of the cluster's shared reservation secret.
pub fn secret_key() -> String {
    format!("{KEY_PREFIX}secret")
}

/// Whether `id` can name a node: 1 to 64 ASCII letters, digits, `-`, `_`
/// or `.` (it becomes part of Redis keys and URLs' neighbours in logs).
pub fn valid_node_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The index score of a heartbeat written at `now_ms`: when its keys
/// expire.
pub fn expires_at(now_ms: u64, expiry_ms: u64) -> u64 {
    now_ms.saturating_add(expiry_ms)
}

/// Index entries scored at or below this are trimmed at `now_ms`.
pub fn trim_below(now_ms: u64) -> u64 {
    now_ms.saturating_sub(INDEX_SLACK_MS)
}

/// What a node says about itself on each heartbeat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The node's id (`cluster.node_id`).
    pub id: String,
    /// The tag its room ids carry ([`placement::node_tag`] of its id).
    pub tag: u32,
    /// The WebSocket URL clients use to reach it (`cluster.advertise_ws`).
    pub ws: String,
    /// Its QUIC address (`host:port`), when it serves QUIC.
    pub quic: Option<String>,
    /// Rooms open on it (public and private).
    pub rooms: u32,
    /// Players seated on it.
    pub players: u32,
    /// Its room limit (`limits.max_rooms`).
    pub max_rooms: u32,
    /// The share of the machine's cores the process used over the last
    /// heartbeat, percent (for operators; placement goes by players).
    pub cpu_percent: f32,
    /// Whether it drains (takes no new rooms or seats).
    pub draining: bool,
    /// When it wrote this record, Unix ms (its own clock; informative).
    pub written_unix_ms: u64,
}

/// A public room as the directory holds it and `/rooms` lists it: no
/// invite code, no visibility (only public rooms are written or listed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRecord {
    /// The room's id on its node.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// The game it runs.
    pub game: String,
    /// Seated players.
    pub players: u16,
    /// Seats in all.
    pub max_players: u16,
    /// Spectators watching.
    pub spectators: u16,
    /// The options it was created with.
    pub options: BTreeMap<String, String>,
    /// The metadata its game set.
    pub metadata: BTreeMap<String, String>,
    /// Whether its game locked it.
    pub locked: bool,
}

impl RoomRecord {
    /// The record of `room`, if it is public (private rooms are never
    /// written to the directory).
    pub fn public(room: RoomInfo) -> Option<Self> {
        if room.visibility != Visibility::Public {
            return None;
        }
        Some(Self {
            id: room.id.0,
            name: room.name,
            game: room.game,
            players: room.players,
            max_players: room.max_players,
            spectators: room.spectators,
            options: room.options.0,
            metadata: room.metadata,
            locked: room.locked,
        })
    }
}

impl RoomRecord {
    /// The room as the wire protocol lists it (public, no code).
    pub fn info(&self) -> RoomInfo {
        RoomInfo {
            id: RoomId(self.id),
            code: None,
            name: self.name.clone(),
            game: self.game.clone(),
            visibility: Visibility::Public,
            players: self.players,
            max_players: self.max_players,
            spectators: self.spectators,
            options: tickwire_shared::game::GameOptions(self.options.clone()),
            metadata: self.metadata.clone(),
            locked: self.locked,
        }
    }
}

/// Other live nodes' public rooms passing `filter`, as the wire protocol
/// lists them (for `ListRooms`, beside this node's own): unlocked rooms
/// of nodes that are not draining (they take no one).
pub fn remote_rooms(
    own_id: &str,
    read: &DirectoryRead,
    filter: &tickwire_shared::protocol::RoomFilter,
) -> Vec<RoomInfo> {
    read.nodes
        .iter()
        .filter(|e| e.node.id != own_id && !e.node.draining)
        .flat_map(|e| e.rooms.iter())
        .filter(|room| !room.locked)
        .map(RoomRecord::info)
        .filter(|info| filter.matches(info))
        .collect()
}

/// One live node and its rooms, as read from the directory.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeEntry {
    /// The node.
    pub node: NodeRecord,
    /// Its public rooms.
    pub rooms: Vec<RoomRecord>,
    /// Its rooms' invite codes: code → room id.
    pub codes: BTreeMap<String, u64>,
}

/// What one read of the directory found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DirectoryRead {
    /// Live nodes, by id.
    pub nodes: Vec<NodeEntry>,
    /// Records that could not be parsed (another version's, or damaged):
    /// left out of listings.
    pub malformed: usize,
}

impl DirectoryRead {
    /// The keys one read fetches for `ids`, in the order [`Self::parse`]
    /// takes their values: every node key, then every rooms key, then
    /// every codes key.
    pub fn keys(ids: &[String]) -> Vec<String> {
        let nodes = ids.iter().map(|id| node_key(id));
        let rooms = ids.iter().map(|id| rooms_key(id));
        let codes = ids.iter().map(|id| codes_key(id));
        nodes.chain(rooms).chain(codes).collect()
    }

    /// Parses an `MGET` of [`Self::keys`] (`values` has three entries per
    /// id). A missing node key means the node is gone (expired or
    /// stopped); missing rooms or codes beside a live node mean none; a
    /// record that does not parse is counted and skipped.
    pub fn parse(ids: &[String], values: &[Option<String>]) -> Self {
        let mut read = Self::default();
        let (nodes, rest) = values.split_at(values.len().min(ids.len()));
        let (rooms, codes) = rest.split_at(rest.len().min(ids.len()));
        for (i, id) in ids.iter().enumerate() {
            let Some(Some(text)) = nodes.get(i) else {
                continue;
            };
            let node = match serde_json::from_str::<NodeRecord>(text) {
                Ok(node) if node.id == *id => node,
                _ => {
                    read.malformed += 1;
                    continue;
                }
            };
            let rooms = match rooms.get(i) {
                Some(Some(text)) => match serde_json::from_str::<Vec<RoomRecord>>(text) {
                    Ok(rooms) => rooms,
                    Err(_) => {
                        read.malformed += 1;
                        Vec::new()
                    }
                },
                _ => Vec::new(),
            };
            let codes = match codes.get(i) {
                Some(Some(text)) => match serde_json::from_str::<BTreeMap<String, u64>>(text) {
                    Ok(codes) => codes,
                    Err(_) => {
                        read.malformed += 1;
                        BTreeMap::new()
                    }
                },
                _ => BTreeMap::new(),
            };
            read.nodes.push(NodeEntry { node, rooms, codes });
        }
        read.nodes.sort_by(|a, b| a.node.id.cmp(&b.node.id));
        read
    }
}

/// A room in a cluster-wide listing: where it lives and what it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListedRoom {
    /// The id of the node it lives on: with the room id, the room's
    /// cluster-wide name.
    pub node: String,
    /// That node's advertised WebSocket URL.
    pub ws: String,
    /// The room.
    #[serde(flatten)]
    pub room: RoomRecord,
}

/// Merges this node's public rooms (`local`, fresh from its lobby) with
/// every other live node's (`remote`, from the last directory read; this
/// node's own entry there is ignored, being older), sorted by node then
/// room id.
pub fn merge(
    own_id: &str,
    own_ws: &str,
    local: Vec<RoomRecord>,
    remote: &DirectoryRead,
) -> Vec<ListedRoom> {
    let mut listed: Vec<ListedRoom> = local
        .into_iter()
        .map(|room| ListedRoom {
            node: own_id.to_owned(),
            ws: own_ws.to_owned(),
            room,
        })
        .collect();
    for entry in remote.nodes.iter().filter(|e| e.node.id != own_id) {
        listed.extend(entry.rooms.iter().map(|room| ListedRoom {
            node: entry.node.id.clone(),
            ws: entry.node.ws.clone(),
            room: room.clone(),
        }));
    }
    listed.sort_by(|a, b| (&a.node, a.room.id).cmp(&(&b.node, b.room.id)));
    listed
}

/// How many nodes a directory read counts, this one included even when
/// the read missed it (its first beat, or Redis just restarted).
pub fn node_count(own_id: &str, read: &DirectoryRead) -> usize {
    let others = read.nodes.iter().filter(|e| e.node.id != own_id).count();
    others + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str) -> NodeRecord {
        NodeRecord {
            id: id.into(),
            tag: placement::node_tag(id),
            ws: format!("ws://{id}:7000/ws"),
            quic: None,
            rooms: 1,
            players: 2,
            max_rooms: 100,
            cpu_percent: 1.5,
            draining: false,
            written_unix_ms: 5,
        }
    }

    fn room(id: u32) -> RoomRecord {
        RoomRecord {
            id: u64::from(id),
            name: format!("r{id}"),
            game: "arena".into(),
            players: 1,
            max_players: 8,
            spectators: 0,
            options: BTreeMap::new(),
            metadata: BTreeMap::from([("map".into(), "dunes".into())]),
            locked: false,
        }
    }

    fn json<T: Serialize>(value: &T) -> Option<String> {
        Some(serde_json::to_string(value).expect("serialises"))
    }

    #[test]
    fn keys_and_ids() {
        assert_eq!(node_key("a-1"), "tickwire:node:a-1");
        assert_eq!(rooms_key("a-1"), "tickwire:rooms:a-1");
        assert_eq!(nodes_key(), "tickwire:nodes");
        assert_eq!(codes_key("a-1"), "tickwire:codes:a-1");
        assert_eq!(secret_key(), "tickwire:secret");
        assert!(valid_node_id("node-7.eu_west"));
        assert!(!valid_node_id(""));
        assert!(!valid_node_id("a b"));
        assert!(!valid_node_id("a:b"), "a colon would split keys");
        assert!(!valid_node_id(&"x".repeat(65)));
    }

    #[test]
    fn expiry_arithmetic_saturates() {
        assert_eq!(expires_at(1_000, 1_500), 2_500);
        assert_eq!(expires_at(u64::MAX, 1), u64::MAX);
        assert_eq!(trim_below(100_000), 40_000);
        assert_eq!(trim_below(5), 0);
    }

    #[test]
    fn parse_skips_gone_and_malformed_nodes() {
        let ids: Vec<String> = ["b", "a", "gone", "bad", "liar"]
            .into_iter()
            .map(String::from)
            .collect();
        let values = vec![
            json(&node("b")),
            json(&node("a")),
            None,
            Some("{not json".into()),
            json(&node("someone-else")),
            json(&vec![room(1)]),
            None,
            json(&vec![room(9)]),
            None,
            None,
            // Codes: b's, a's unreadable, the rest none.
            Some(r#"{"ABCDEF":1}"#.into()),
            Some("[1]".into()),
            None,
            None,
            None,
        ];
        assert_eq!(DirectoryRead::keys(&ids).len(), values.len());
        assert_eq!(DirectoryRead::keys(&ids)[10], "tickwire:codes:b");
        let read = DirectoryRead::parse(&ids, &values);
        let ids: Vec<&str> = read.nodes.iter().map(|e| e.node.id.as_str()).collect();
        assert_eq!(
            ids,
            ["a", "b"],
            "sorted; gone, malformed and mislabelled left out"
        );
        assert_eq!(read.malformed, 3);
        assert_eq!(read.nodes[1].rooms, vec![room(1)]);
        assert_eq!(read.nodes[1].codes.get("ABCDEF"), Some(&1));
        assert!(read.nodes[0].codes.is_empty(), "unreadable codes: none");
        assert!(read.nodes[0].rooms.is_empty(), "no rooms key: no rooms");
        // A short reply (never from Redis, but peer-controlled data is
        // never indexed blindly).
        let read = DirectoryRead::parse(&["a".into(), "b".into()], &[json(&node("a"))]);
        assert_eq!(read.nodes.len(), 1);
    }

    #[test]
    fn merge_names_each_room_by_node_and_prefers_fresh_local_rooms() {
        let remote = DirectoryRead {
            nodes: vec![
                NodeEntry {
                    node: node("a"),
                    rooms: vec![room(1), room(2)],
                    codes: BTreeMap::new(),
                },
                NodeEntry {
                    node: node("self"),
                    rooms: vec![room(99)],
                    codes: BTreeMap::new(),
                },
            ],
            malformed: 0,
        };
        let listed = merge("self", "ws://me/ws", vec![room(1)], &remote);
        let names: Vec<(&str, u64, &str)> = listed
            .iter()
            .map(|l| (l.node.as_str(), l.room.id, l.ws.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("a", 1, "ws://a:7000/ws"),
                ("a", 2, "ws://a:7000/ws"),
                ("self", 1, "ws://me/ws"),
            ],
            "sorted by node; the own stale entry is ignored"
        );
        let filter = tickwire_shared::protocol::RoomFilter::default();
        let wire = remote_rooms("self", &remote, &filter);
        assert_eq!(
            wire.iter().map(|r| r.id.0).collect::<Vec<_>>(),
            [1, 2],
            "other nodes' rooms for ListRooms"
        );
        assert_eq!(wire[0].visibility, Visibility::Public);
        let mut draining = remote.clone();
        draining.nodes[0].node.draining = true;
        assert!(
            remote_rooms("self", &draining, &filter).is_empty(),
            "a draining node takes no one"
        );
        let value = serde_json::to_value(&listed[0]).expect("serialises");
        assert_eq!(value["node"], "a");
        assert_eq!(value["id"], 1);
        assert_eq!(value["metadata"]["map"], "dunes");
        assert_eq!(node_count("self", &remote), 2);
        assert_eq!(node_count("new", &DirectoryRead::default()), 1);
    }

    #[test]
    fn only_public_rooms_become_records() {
        use tickwire_shared::game::GameOptions;
        use tickwire_shared::ids::RoomId;
        let info = RoomInfo {
            id: RoomId(4),
            code: None,
            name: "x".into(),
            game: "arena".into(),
            visibility: Visibility::Private,
            players: 0,
            max_players: 2,
            spectators: 0,
            options: GameOptions::default(),
            metadata: BTreeMap::new(),
            locked: false,
        };
        assert!(RoomRecord::public(info.clone()).is_none());
        let public = RoomRecord::public(RoomInfo {
            visibility: Visibility::Public,
            ..info
        })
        .expect("public");
        assert_eq!(public.id, 4);
    }
}
