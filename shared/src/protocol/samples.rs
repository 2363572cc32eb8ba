//! One named example of every message kind, for round-trip tests, the
//! golden vectors in `shared/tests/golden/` and other-language decoders.

use std::collections::BTreeMap;

use super::*;
use crate::game::GameOptions;
use crate::ids::{PlayerId, RoomCode, RoomId};
use crate::tick::{Tick, TickRate};

fn options() -> GameOptions {
    GameOptions(BTreeMap::from([("tick_rate".to_owned(), "30".to_owned())]))
}

fn room() -> RoomInfo {
    RoomInfo {
        id: RoomId(7),
        code: Some(RoomCode::from_index(123_456)),
        name: "lobby one".into(),
        game: "arena".into(),
        visibility: Visibility::Private,
        players: 3,
        max_players: 16,
        spectators: 1,
        options: options(),
        metadata: BTreeMap::from([("map".to_owned(), "dunes".to_owned())]),
        locked: false,
    }
}

fn team() -> GameOptions {
    GameOptions(BTreeMap::from([("team".to_owned(), "red".to_owned())]))
}

/// Every [`ClientMessage`] kind once, with a name for each.
pub fn client_messages() -> Vec<(&'static str, ClientMessage)> {
    vec![
        (
            "hello",
            ClientMessage::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                client_name: "bot-1".into(),
                auth_ticket: Some("ticket".into()),
                resume_token: Some(ResumeToken([9; 16])),
                resume_from: Some(Tick(899)),
            }),
        ),
        (
            "list_rooms",
            ClientMessage::ListRooms(ListRooms {
                request_id: 1,
                filter: RoomFilter {
                    game: Some("arena".into()),
                    metadata: BTreeMap::from([("map".to_owned(), "dunes".to_owned())]),
                },
            }),
        ),
        (
            "create_room",
            ClientMessage::CreateRoom(CreateRoom {
                request_id: 2,
                game: Some("arena".into()),
                name: "lobby one".into(),
                visibility: Visibility::Public,
                max_players: 16,
                options: options(),
                join_as: Some(Role::Player),
                join_options: team(),
            }),
        ),
        (
            "join_room_by_code",
            ClientMessage::JoinRoom(JoinRoom {
                request_id: 3,
                target: RoomTarget::Code(RoomCode::from_index(123_456)),
                role: Role::Spectator,
                join_options: GameOptions::default(),
            }),
        ),
        (
            "join_room_by_id",
            ClientMessage::JoinRoom(JoinRoom {
                request_id: 4,
                target: RoomTarget::Id(RoomId(7)),
                role: Role::Player,
                join_options: team(),
            }),
        ),
        (
            "quick_join",
            ClientMessage::QuickJoin(QuickJoin {
                request_id: 5,
                game: None,
                options: GameOptions::default(),
                metadata: BTreeMap::from([("mode".to_owned(), "duel".to_owned())]),
                join_options: GameOptions::default(),
            }),
        ),
        (
            "leave_room",
            ClientMessage::LeaveRoom(LeaveRoom { request_id: 6 }),
        ),
        (
            "inputs",
            ClientMessage::Inputs(Inputs {
                newest_seq: 300,
                inputs: vec![vec![1, 2, 3], vec![4, 5, 6]],
                ack: Some(Tick(899)),
            }),
        ),
        ("ack", ClientMessage::Ack(Ack { tick: Tick(900) })),
        (
            "event",
            ClientMessage::Event(RoomEvent {
                name: "chat".into(),
                data: b"gg".to_vec(),
                ack_id: Some(11),
            }),
        ),
        (
            "event_reply",
            ClientMessage::EventReply(EventReply {
                ack_id: 12,
                outcome: EventOutcome::Data(vec![1]),
            }),
        ),
        (
            "ping",
            ClientMessage::Ping(Ping {
                sent_at_us: 1_700_000_000_000_000,
            }),
        ),
        (
            "pong",
            ClientMessage::Pong(Pong {
                ping_sent_at_us: 5,
                sent_at_us: 6,
                held_us: 0,
            }),
        ),
        (
            "close",
            ClientMessage::Close(Close {
                reason: CloseReason::Normal,
                message: "bye".into(),
            }),
        ),
    ]
}

/// Every [`ServerMessage`] kind once, with a name for each.
pub fn server_messages() -> Vec<(&'static str, ServerMessage)> {
    vec![
        (
            "welcome",
            ServerMessage::Welcome(Welcome {
                protocol_version: PROTOCOL_VERSION,
                player: PlayerId(42),
                resume_token: ResumeToken([7; 16]),
                resumed: false,
                heartbeat_interval_ms: 1000,
                reconnect_grace_ms: 30_000,
            }),
        ),
        (
            "rejected",
            ServerMessage::Rejected(Rejected {
                reason: CloseReason::VersionMismatch,
                message: "speak v1".into(),
            }),
        ),
        (
            "room_list",
            ServerMessage::RoomList(RoomList {
                request_id: 1,
                rooms: vec![room()],
            }),
        ),
        (
            "room_created",
            ServerMessage::RoomCreated(RoomCreated {
                request_id: 2,
                room: room(),
            }),
        ),
        (
            "joined",
            ServerMessage::Joined(Joined {
                request_id: Some(3),
                room: room(),
                role: Role::Player,
                tick_rate: TickRate::ARENA,
                tick_zero_unix_us: 1_700_000_000_000_000,
                tick: Tick(42),
            }),
        ),
        (
            "left",
            ServerMessage::Left(Left {
                request_id: None,
                room: RoomId(7),
                reason: LeaveReason::Kicked,
                message: "afk".into(),
            }),
        ),
        (
            "event",
            ServerMessage::Event(RoomEvent {
                name: "round_over".into(),
                data: br#"{"winner":3}"#.to_vec(),
                ack_id: Some(1),
            }),
        ),
        (
            "event_reply",
            ServerMessage::EventReply(EventReply {
                ack_id: 11,
                outcome: EventOutcome::Data(b"ok".to_vec()),
            }),
        ),
        (
            "event_reply_error",
            ServerMessage::EventReply(EventReply {
                ack_id: 12,
                outcome: EventOutcome::Error {
                    code: ErrorCode::RateLimited,
                    message: "events: 20 a second at most".into(),
                },
            }),
        ),
        ("ping", ServerMessage::Ping(Ping { sent_at_us: 1 })),
        (
            "pong",
            ServerMessage::Pong(Pong {
                ping_sent_at_us: 1_700_000_000_000_000,
                sent_at_us: 2,
                held_us: 33_333,
            }),
        ),
        (
            "error",
            ServerMessage::Error(ErrorMessage {
                request_id: Some(4),
                code: ErrorCode::RoomFull,
                message: "room r7 is full".into(),
            }),
        ),
        (
            "close",
            ServerMessage::Close(Close {
                reason: CloseReason::ServerShutdown,
                message: "restarting".into(),
            }),
        ),
        (
            "update_full",
            ServerMessage::Update(Update {
                tick: Tick(42),
                baseline: None,
                lateness_us: 250,
                checksum: 0xdead_beef,
                delta: vec![0b0000_0011, 0x10],
            }),
        ),
        (
            "update_delta",
            ServerMessage::Update(Update {
                tick: Tick(20_000),
                baseline: Some(Tick(19_999)),
                lateness_us: 0,
                checksum: 7,
                delta: vec![0b111],
            }),
        ),
    ]
}
