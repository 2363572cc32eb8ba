//! Abuse bounds in virtual time: rooms created a minute per client and
//! per address, rooms nobody joins disposed after their short grace, and
//! rooms' seeds.

use std::time::Duration;

use tickwire_shared::arena::Arena;
use tickwire_shared::game::GameOptions;
use tickwire_shared::protocol::{
    ClientMessage, ErrorCode, JoinRoom, Role, RoomTarget, ServerMessage,
};

use super::sessions::{create, greeted};
use super::{ClientId, Harness};
use crate::config::ServerConfig;

fn harness(tweak: impl FnOnce(&mut ServerConfig)) -> Harness<Arena> {
    let mut config = ServerConfig::default();
    // Clients here wait out minutes without a word.
    config.timeouts.idle_ms = 600_000;
    tweak(&mut config);
    Harness::new(config, Default::default())
}

fn try_create(
    h: &mut Harness<Arena>,
    c: ClientId,
    request_id: u32,
) -> Result<tickwire_shared::ids::RoomId, (ErrorCode, String)> {
    h.send(c, &create(request_id, None));
    let got = h.received(c);
    got.into_iter()
        .find_map(|m| match m {
            ServerMessage::RoomCreated(created) => Some(Ok(created.room.id)),
            ServerMessage::Error(e) if e.request_id == Some(request_id) => {
                Some(Err((e.code, e.message)))
            }
            _ => None,
        })
        .expect("an answer to the create")
}

fn rate_limited_count(h: &Harness<Arena>) -> usize {
    h.metrics()
        .render()
        .lines()
        .find(|l| l.starts_with("tickwire_errors_total") && l.contains("room_rate_limited"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_client_creates_at_most_its_rooms_a_minute() {
    let mut h = harness(|c| {
        c.limits.rooms_per_minute_per_client = 3;
    });
    let a = greeted(&mut h, "a");
    let b = greeted(&mut h, "b");
    for id in 1..=3 {
        try_create(&mut h, a, id).expect("within the allowance");
    }
    let (code, message) = try_create(&mut h, a, 4).expect_err("the fourth in a minute");
    assert_eq!(code, ErrorCode::RateLimited);
    assert_eq!(message, "at most 3 rooms a minute per client");
    assert_eq!(rate_limited_count(&h), 1, "counted");
    try_create(&mut h, b, 1).expect("another client has its own allowance");
    // The session goes on, and one room comes back every 20 s.
    h.advance(Duration::from_secs(20));
    try_create(&mut h, a, 5).expect("one back after 20 s");
    try_create(&mut h, a, 6).expect_err("only one");
    assert_eq!(rate_limited_count(&h), 2);
    assert!(h.closed(a).is_none(), "refusals close nothing");
}

#[test]
fn an_address_creates_at_most_its_rooms_a_minute_over_all_its_clients() {
    let mut h = harness(|c| {
        c.limits.rooms_per_minute_per_ip = 4;
    });
    // The harness's clients all connect from 127.0.0.1.
    let clients: Vec<ClientId> = (0..3).map(|i| greeted(&mut h, &format!("c{i}"))).collect();
    try_create(&mut h, clients[0], 1).unwrap();
    try_create(&mut h, clients[0], 2).unwrap();
    try_create(&mut h, clients[1], 1).unwrap();
    try_create(&mut h, clients[2], 1).unwrap();
    let (code, message) = try_create(&mut h, clients[2], 2).expect_err("address spent");
    assert_eq!(code, ErrorCode::RateLimited);
    assert_eq!(message, "at most 4 rooms a minute per address");
    assert_eq!(rate_limited_count(&h), 1);
    assert_eq!(h.rooms().len(), 4, "no room made for the refused request");
    h.advance(Duration::from_secs(15));
    try_create(&mut h, clients[1], 2).expect("one back after 15 s");
}

#[test]
fn a_room_nobody_joins_is_disposed_after_the_short_grace() {
    let mut h = harness(|_| {});
    let a = greeted(&mut h, "a");
    let b = greeted(&mut h, "b");
    let abandoned = try_create(&mut h, a, 1).unwrap();
    let used = try_create(&mut h, a, 2).unwrap();
    h.send(
        b,
        &ClientMessage::JoinRoom(JoinRoom {
            join_options: GameOptions::default(),
            request_id: 3,
            target: RoomTarget::Id(used),
            role: Role::Player,
        }),
    );
    h.advance(Duration::from_secs(1));
    assert!(
        h.received(b)
            .iter()
            .any(|m| matches!(m, ServerMessage::Joined(_)))
    );
    h.send(
        b,
        &ClientMessage::LeaveRoom(tickwire_shared::protocol::LeaveRoom { request_id: 4 }),
    );
    h.advance(Duration::from_millis(3_900));
    assert!(h.rooms().contains(&abandoned), "still within 5 s");
    h.advance(Duration::from_millis(200));
    assert!(!h.rooms().contains(&abandoned), "gone after 5 s unjoined");
    assert!(
        h.rooms().contains(&used),
        "a room once joined keeps the empty-room grace (30 s)"
    );
    assert!(
        h.metrics()
            .render()
            .contains("tickwire_rooms_unjoined_total 1"),
        "counted"
    );
    h.advance(Duration::from_secs(30));
    assert!(!h.rooms().contains(&used), "gone after 30 s empty");
}

#[test]
fn seeds_are_unpredictable_unless_the_operator_asks_for_reproducible_ones() {
    let mut h = harness(|_| {});
    let a = greeted(&mut h, "a");
    let r1 = try_create(&mut h, a, 1).unwrap();
    let r2 = try_create(&mut h, a, 2).unwrap();
    let (s1, s2) = (h.room_seed(r1).unwrap(), h.room_seed(r2).unwrap());
    assert_ne!(s2.wrapping_sub(s1), r2.0 - r1.0, "not seed + id");
    assert_ne!(s1, 1u64.wrapping_add(r1.0), "not the old default");

    let mut h = harness(|c| c.seed = Some(7));
    let a = greeted(&mut h, "a");
    let r = try_create(&mut h, a, 1).unwrap();
    assert_eq!(h.room_seed(r), Some(7 + r.0), "replayable");
}
