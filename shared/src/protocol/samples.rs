//! One named example of every message kind, for round-trip tests, the
//! golden vectors in `shared/tests/golden/` and other-language decoders.
//!
//! The two sample updates carry real arena worlds: `update_full` is the
//! full snapshot of [`update_full_world`], and `update_delta` the delta
//! from [`update_delta_baseline`] to [`update_delta_world`], each with the
//! true checksum of the world it brings.

use std::collections::BTreeMap;

use super::*;
use crate::arena::{PLAYER, PROJECTILE, SCHEMA};
use crate::delta;
use crate::game::GameOptions;
use crate::ids::{EntityId, PlayerId, RoomCode, RoomId};
use crate::snapshot::{EntityKind, EntityState, WorldSnapshot};
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
        (
            "claim_seat",
            ClientMessage::ClaimSeat(ClaimSeat {
                request_id: 4,
                reservation: "resv.sig".into(),
            }),
        ),
    ]
}

/// A world of the given tick and entities `(id, kind, fields)`.
fn world(tick: u32, entities: &[(u32, EntityKind, &[i32])]) -> WorldSnapshot {
    let mut world = WorldSnapshot::empty(Tick(tick));
    for &(id, kind, fields) in entities {
        world.push(EntityState::new(EntityId(id), kind, fields));
    }
    world
        .finish()
        .expect("the sample worlds have distinct entity ids");
    world
}

/// The world of the sample full snapshot (`update_full`), tick 42: player
/// 42's avatar (entity 1) moving right and down, aiming an eighth of a turn,
/// and its projectile (entity 3) on the way up and right with 25 ticks left.
pub fn update_full_world() -> WorldSnapshot {
    world(
        42,
        &[
            (1, PLAYER, &[32_000, 16_000, 341, -256, 512, 100, 0, 42]),
            (3, PROJECTILE, &[33_000, 17_000, 905, 905, 42, 25]),
        ],
    )
}

/// The baseline of the sample delta (`update_delta`), tick 19 999: player
/// 42 (entity 1) moving, player 7 (entity 2) standing, player 7's
/// projectile (entity 5) flying at player 42, and player 42's projectile
/// (entity 6) in its last tick.
pub fn update_delta_baseline() -> WorldSnapshot {
    world(
        19_999,
        &[
            (1, PLAYER, &[20_000, 30_000, 341, -256, 652, 100, 2, 42]),
            (2, PLAYER, &[40_000, 30_000, 0, 0, 2048, 100, 0, 7]),
            (5, PROJECTILE, &[21_000, 30_000, -1280, 0, 7, 12]),
            (6, PROJECTILE, &[25_000, 10_000, 691, 1077, 42, 1]),
        ],
    )
}

/// The world the sample delta brings, tick 20 000, as the arena's rules
/// make it from [`update_delta_baseline`]: player 42 moved as predicted but
/// was hit by entity 5 (10 hp less; the projectile is gone), player 7
/// started to move left, turned its aim and fired entity 7, and entity 6's
/// lifetime ran out.
pub fn update_delta_world() -> WorldSnapshot {
    world(
        20_000,
        &[
            (1, PLAYER, &[20_341, 29_744, 341, -256, 652, 90, 2, 42]),
            (2, PLAYER, &[39_573, 30_000, -427, 0, 2100, 100, 0, 7]),
            (7, PROJECTILE, &[38_297, 29_898, -1276, -102, 7, 29]),
        ],
    )
}

/// The update from `baseline` (a full snapshot when `None`) to `world`,
/// with its true checksum.
fn update(baseline: Option<&WorldSnapshot>, world: &WorldSnapshot, lateness_us: u32) -> Update {
    Update {
        tick: world.tick,
        baseline: baseline.map(|b| b.tick),
        lateness_us,
        checksum: world.checksum(),
        delta: delta::encode(&SCHEMA, baseline, world).expect("the sample worlds are arena worlds"),
    }
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
            ServerMessage::Update(update(None, &update_full_world(), 250)),
        ),
        (
            "update_delta",
            ServerMessage::Update(update(
                Some(&update_delta_baseline()),
                &update_delta_world(),
                0,
            )),
        ),
        (
            "redirect",
            ServerMessage::Redirect(Redirect {
                request_id: 4,
                node: "b".into(),
                ws: "ws://10.0.0.2:7000/ws".into(),
                quic: Some("10.0.0.2:7001".into()),
                reservation: "resv.sig".into(),
                valid_for_ms: 30_000,
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arena::{player_field as pf, projectile_field as qf};

    fn entity(world: &WorldSnapshot, id: u32) -> EntityState {
        *world.get(EntityId(id)).expect("the sample entity")
    }

    #[test]
    fn the_sample_delta_follows_the_arena_rules() {
        let (base, now) = (update_delta_baseline(), update_delta_world());
        let predict = |id| SCHEMA.extrapolate_entity(&entity(&base, id), 1);
        // Player 42 moved as extrapolated and lost one hit's damage.
        let mut hit = predict(1).expect("a player stays");
        hit.fields[pf::HP] -= 10;
        assert_eq!(hit, entity(&now, 1));
        // Entity 5 reached it within the hit radius (16 units).
        let shot = predict(5).expect("still flying before the hit");
        let (dx, dy) = (
            i64::from(shot.fields[qf::X] - hit.fields[pf::X]),
            i64::from(shot.fields[qf::Y] - hit.fields[pf::Y]),
        );
        assert!(dx * dx + dy * dy <= 1024 * 1024);
        assert_eq!(now.get(EntityId(5)), None);
        // Entity 6 runs out of ticks.
        assert_eq!(predict(6), None);
        // Player 7 moves left at full speed (200 units/s at 30 Hz, 1/64
        // units) and fires from where it moved to; the projectile moves in
        // the tick it is fired, at 600 units/s along aim 2100/4096.
        let seven = entity(&now, 2);
        assert_eq!(seven.fields[pf::VX], -427);
        assert_eq!(seven.fields[pf::X], 40_000 - 427);
        let fired = entity(&now, 7);
        assert_eq!(
            [fired.fields[qf::X], fired.fields[qf::Y]],
            [
                seven.fields[pf::X] + fired.fields[qf::VX],
                seven.fields[pf::Y] + fired.fields[qf::VY]
            ]
        );
        assert_eq!(fired.fields[qf::TICKS_LEFT], 29);
        assert_eq!(
            delta::quantize::angle_to_fixed(
                (fired.fields[qf::VY] as f32).atan2(fired.fields[qf::VX] as f32),
                crate::arena::ANGLE_STEPS
            ),
            2100
        );
    }

    #[test]
    fn the_sample_updates_rebuild_their_worlds() {
        let full = update(None, &update_full_world(), 0);
        let world = delta::apply(&SCHEMA, None, full.tick, &full.delta).expect("applies");
        assert_eq!(world, update_full_world());
        let base = update_delta_baseline();
        let step = update(Some(&base), &update_delta_world(), 0);
        let world = delta::apply(&SCHEMA, Some(&base), step.tick, &step.delta).expect("applies");
        assert_eq!(world, update_delta_world());
        assert_eq!(step.checksum, world.checksum());
    }
}
