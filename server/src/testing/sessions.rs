//! Session behaviour in virtual time: handshake and idle timeouts, floods,
//! acks and baselines, ping timing, leave and rejoin, wrong-state
//! requests, and the order of what a member receives. Deterministic and
//! fast: no sockets, no sleeps.

use std::time::Duration;

use tickwire_shared::arena::{Arena, ArenaInput, ECHO_EVENT};
use tickwire_shared::codec;
use tickwire_shared::game::GameOptions;
use tickwire_shared::ids::RoomId;
use tickwire_shared::protocol::{
    Ack, ClientMessage, Close, CloseReason, CreateRoom, ErrorCode, EventOutcome, Hello, Inputs,
    JoinRoom, LeaveReason, LeaveRoom, ListRooms, PROTOCOL_VERSION, Ping, QuickJoin, ResumeToken,
    Role, RoomEvent, RoomFilter, RoomTarget, ServerMessage, Visibility, Welcome,
};
use tickwire_shared::tick::Tick;

use super::{ClientId, Harness};
use crate::config::ServerConfig;
use crate::outbox::Delivery;
use crate::session::State;

/// One tick at the arena's 30 Hz.
const TICK: Duration = Duration::from_nanos(33_333_334);

fn harness() -> Harness<Arena> {
    Harness::new(ServerConfig::default(), Default::default())
}

/// A greeted client, its `Welcome` consumed.
pub(super) fn greeted(h: &mut Harness<Arena>, name: &str) -> ClientId {
    let c = h.connect();
    h.hello(c, name);
    let got = h.received(c);
    assert!(
        matches!(got.first(), Some(ServerMessage::Welcome(_))),
        "Welcome first: {got:?}"
    );
    c
}

pub(super) fn create(request_id: u32, join_as: Option<Role>) -> ClientMessage {
    ClientMessage::CreateRoom(CreateRoom {
        game: None,
        join_options: GameOptions::default(),
        request_id,
        name: "room".into(),
        visibility: Visibility::Public,
        max_players: 4,
        options: GameOptions::default(),
        join_as,
    })
}

/// Creates a room and joins it; returns the room once `Joined` arrived.
fn in_new_room(h: &mut Harness<Arena>, c: ClientId) -> RoomId {
    h.send(c, &create(1, Some(Role::Player)));
    h.advance(TICK);
    let joined = h
        .received(c)
        .into_iter()
        .find_map(|m| match m {
            ServerMessage::Joined(j) => Some(j),
            _ => None,
        })
        .expect("joined at the room's next tick");
    joined.room.id
}

fn join(h: &mut Harness<Arena>, c: ClientId, room: RoomId, role: Role) {
    h.send(
        c,
        &ClientMessage::JoinRoom(JoinRoom {
            join_options: GameOptions::default(),
            request_id: 2,
            target: RoomTarget::Id(room),
            role,
        }),
    );
    h.advance(TICK);
}

fn error_codes(messages: &[ServerMessage]) -> Vec<ErrorCode> {
    messages
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Error(e) => Some(e.code),
            _ => None,
        })
        .collect()
}

fn updates(messages: &[ServerMessage]) -> Vec<&tickwire_shared::protocol::Update> {
    messages
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Update(u) => Some(u),
            _ => None,
        })
        .collect()
}

#[test]
fn a_client_that_never_says_hello_is_closed_at_the_handshake_deadline() {
    let mut h = harness();
    let c = h.connect();
    h.advance(Duration::from_millis(4_999));
    assert!(h.closed(c).is_none(), "not before the deadline");
    h.advance(Duration::from_millis(1));
    let closing = h.closed(c).expect("closed at the deadline");
    assert_eq!(closing.reason, CloseReason::HandshakeTimeout);
    assert!(closing.tell);
    assert!(matches!(
        h.received(c).as_slice(),
        [ServerMessage::Rejected(r)] if r.reason == CloseReason::HandshakeTimeout
    ));
    let text = h.metrics().render();
    assert!(text.contains("tickwire_connections_rejected_total{reason=\"handshake_timeout\"} 1"));
}

#[test]
fn the_first_message_must_be_a_valid_hello() {
    let mut h = harness();
    let c = h.connect();
    h.send(
        c,
        &ClientMessage::ListRooms(ListRooms {
            request_id: 1,
            filter: RoomFilter::default(),
        }),
    );
    assert_eq!(
        h.closed(c).map(|c| c.reason),
        Some(CloseReason::ProtocolViolation)
    );
    let c = h.connect();
    h.send_raw(c, vec![0xff, 0xff, 0xff]);
    assert_eq!(
        h.closed(c).map(|c| c.reason),
        Some(CloseReason::MalformedFrame)
    );
    let c = h.connect();
    h.hello(c, "");
    assert_eq!(
        h.closed(c).map(|c| c.reason),
        Some(CloseReason::ProtocolViolation)
    );
}

#[test]
fn silence_is_an_idle_timeout_within_one_heartbeat() {
    let mut h = harness();
    let quiet = greeted(&mut h, "quiet");
    let chatty = greeted(&mut h, "chatty");
    for _ in 0..16 {
        h.advance(Duration::from_secs(1));
        h.send(chatty, &ClientMessage::Ping(Ping { sent_at_us: 1 }));
    }
    assert_eq!(
        h.closed(quiet).map(|c| c.reason),
        Some(CloseReason::IdleTimeout),
        "15 s of silence, checked every 1 s heartbeat"
    );
    assert!(h.closed(chatty).is_none(), "a client that talks stays");
    // Keep-alives the transport answered count as life too.
    let keeper = greeted(&mut h, "keeper");
    for _ in 0..20 {
        h.advance(Duration::from_secs(1));
        h.keepalive(keeper);
    }
    assert!(h.closed(keeper).is_none());
}

#[test]
fn the_lobby_heartbeat_pings_every_interval() {
    let mut h = harness();
    let c = greeted(&mut h, "c");
    h.advance(Duration::from_millis(3_500));
    let pings = h
        .received(c)
        .iter()
        .filter(|m| matches!(m, ServerMessage::Ping(_)))
        .count();
    assert_eq!(
        pings, 4,
        "one at once after Welcome, then at 1 s, 2 s and 3 s"
    );
}

#[test]
fn a_flood_is_closed_and_counted() {
    let mut h = harness();
    let c = greeted(&mut h, "flooder");
    let ping = ClientMessage::Ping(Ping { sent_at_us: 1 });
    for _ in 0..241 {
        h.send(c, &ping);
    }
    let closing = h.closed(c).expect("closed");
    assert_eq!(closing.reason, CloseReason::Flooding);
    let got = h.received(c);
    assert!(
        matches!(
            got.last(),
            Some(ServerMessage::Close(Close {
                reason: CloseReason::Flooding,
                ..
            }))
        ),
        "told why, last"
    );
    assert!(
        h.metrics()
            .render()
            .contains("tickwire_sessions_closed_total{reason=\"flooding\"} 1")
    );
}

#[test]
fn wrong_state_requests_get_typed_errors_and_the_session_goes_on() {
    let mut h = harness();
    let c = greeted(&mut h, "c");
    h.send(c, &ClientMessage::LeaveRoom(LeaveRoom { request_id: 7 }));
    h.send(c, &ClientMessage::Ack(Ack { tick: Tick(1) }));
    assert_eq!(
        error_codes(&h.received(c)),
        vec![ErrorCode::NotInRoom, ErrorCode::NotInRoom]
    );
    let room = in_new_room(&mut h, c);
    h.send(c, &create(3, None));
    h.hello(c, "again");
    let got = h.received(c);
    assert_eq!(
        error_codes(&got),
        vec![ErrorCode::AlreadyInRoom, ErrorCode::InvalidRequest]
    );
    assert_eq!(h.session(c).room(), Some(room), "still in its room");
    assert!(h.closed(c).is_none());
    // An unknown room is refused by the lobby, not the room.
    let d = greeted(&mut h, "d");
    h.send(
        d,
        &ClientMessage::JoinRoom(JoinRoom {
            join_options: GameOptions::default(),
            request_id: 9,
            target: RoomTarget::Id(RoomId(999)),
            role: Role::Player,
        }),
    );
    assert_eq!(error_codes(&h.received(d)), vec![ErrorCode::RoomNotFound]);
    assert_eq!(h.session(d).state(), &State::Lobby);
}

#[test]
fn joined_comes_before_the_first_update_and_updates_are_latest_wins() {
    let mut h = harness();
    let c = greeted(&mut h, "c");
    h.send(c, &create(1, Some(Role::Player)));
    assert!(
        matches!(h.session(c).state(), State::Requesting { request_id: 1 }),
        "waits for the room"
    );
    h.advance(TICK * 3);
    let got = h.received_with_delivery(c);
    let first_update = got
        .iter()
        .position(|(m, _)| matches!(m, ServerMessage::Update(_)))
        .expect("updates");
    let joined = got
        .iter()
        .position(|(m, _)| matches!(m, ServerMessage::Joined(_)))
        .expect("joined");
    assert!(joined < first_update);
    for (message, delivery) in &got {
        let expected = if matches!(message, ServerMessage::Update(_)) {
            Delivery::LatestWins
        } else {
            Delivery::Reliable
        };
        assert_eq!(*delivery, expected, "{message:?}");
    }
}

#[test]
fn acks_move_the_baseline_and_stale_acks_fall_back_to_full_snapshots() {
    let mut h = harness();
    let c = greeted(&mut h, "c");
    let room = in_new_room(&mut h, c);
    h.advance(TICK * 2);
    let got = h.received(c);
    let ups = updates(&got);
    assert!(
        ups.iter().all(|u| u.baseline.is_none()),
        "no ack yet: full snapshots"
    );
    let acked = ups.last().expect("an update").tick;
    h.send(c, &ClientMessage::Ack(Ack { tick: acked }));
    h.advance(TICK * 2);
    let got = h.received(c);
    let ups = updates(&got);
    assert!(
        ups.iter().skip(1).all(|u| u.baseline == Some(acked)),
        "deltas against the acked tick: {:?}",
        ups.iter().map(|u| u.baseline).collect::<Vec<_>>()
    );
    // 40 ticks later the baseline is older than max_baseline_age (32).
    h.advance(TICK * 40);
    let now_tick = h.room_tick(room).expect("room");
    let got = h.received(c);
    let last = updates(&got).last().map(|u| (u.tick, u.baseline));
    assert_eq!(
        last,
        Some((now_tick, None)),
        "too old: a full snapshot again"
    );
}

#[test]
fn the_room_pings_members_on_ticks_and_answers_their_pings_with_updates() {
    let mut h = harness();
    let c = greeted(&mut h, "c");
    in_new_room(&mut h, c);
    h.advance(TICK * 31);
    let got = h.received(c);
    // Every ping the room sends directly follows an update of the same tick.
    let mut room_pings = 0;
    for pair in got.windows(2) {
        if let [ServerMessage::Update(_), ServerMessage::Ping(_)] = pair {
            room_pings += 1;
        }
    }
    let pings = got
        .iter()
        .filter(|m| matches!(m, ServerMessage::Ping(_)))
        .count();
    assert_eq!(
        room_pings, 1,
        "one ping a second (30 ticks), after an update"
    );
    assert_eq!(pings, 1, "no lobby pings in a room");
    // Without a direct writer the answer to a client ping leaves at once.
    h.send(c, &ClientMessage::Ping(Ping { sent_at_us: 42 }));
    let got = h.received(c);
    assert!(
        matches!(got.as_slice(), [ServerMessage::Pong(p)] if p.ping_sent_at_us == 42 && p.held_us == 0),
        "{got:?}"
    );
}

#[test]
fn leave_and_rejoin_free_and_take_the_seat_and_no_update_follows_left() {
    let mut h = harness();
    let c = greeted(&mut h, "c");
    let room = in_new_room(&mut h, c);
    h.advance(TICK * 2);
    h.received(c);
    h.send(c, &ClientMessage::LeaveRoom(LeaveRoom { request_id: 5 }));
    assert!(matches!(h.session(c).state(), State::Leaving { .. }));
    // What the client sends meanwhile waits, in order, for the answer.
    h.send(
        c,
        &ClientMessage::ListRooms(ListRooms {
            request_id: 6,
            filter: RoomFilter::default(),
        }),
    );
    h.advance(TICK * 3);
    let got = h.received(c);
    let left = got
        .iter()
        .position(|m| {
            matches!(m, ServerMessage::Left(l) if l.request_id == Some(5) && l.reason == LeaveReason::Requested)
        })
        .expect("Left");
    assert!(
        got[left..]
            .iter()
            .all(|m| !matches!(m, ServerMessage::Update(_))),
        "no update after Left: {got:?}"
    );
    let list = got
        .iter()
        .find_map(|m| match m {
            ServerMessage::RoomList(l) if l.request_id == 6 => Some(l),
            _ => None,
        })
        .expect("the list, after Left");
    assert_eq!(list.rooms.len(), 1);
    assert_eq!(
        list.rooms[0].players, 0,
        "the seat is free when Left arrives"
    );
    join(&mut h, c, room, Role::Player);
    assert_eq!(h.session(c).room(), Some(room), "rejoined");
    h.advance(TICK);
    assert!(!updates(&h.received(c)).is_empty());
}

#[test]
fn a_drain_refuses_creates_joins_and_quick_joins_while_the_room_plays_on() {
    let mut h = harness();
    let player = greeted(&mut h, "player");
    let room = in_new_room(&mut h, player);
    let newcomer = greeted(&mut h, "newcomer");
    h.advance(TICK);
    h.received(player);
    h.start_draining();
    h.send(newcomer, &create(10, Some(Role::Player)));
    h.send(newcomer, &create(11, None));
    h.advance(TICK);
    join(&mut h, newcomer, room, Role::Player);
    join(&mut h, newcomer, room, Role::Spectator);
    h.send(
        newcomer,
        &ClientMessage::QuickJoin(QuickJoin {
            request_id: 12,
            game: None,
            options: GameOptions::default(),
            metadata: Default::default(),
            join_options: GameOptions::default(),
        }),
    );
    h.advance(TICK);
    let got = h.received(newcomer);
    assert_eq!(
        error_codes(&got),
        vec![ErrorCode::ServerDraining; 5],
        "create, create without joining, join, spectate, quick-join: {got:?}"
    );
    assert_eq!(h.rooms(), vec![room], "no room was created");
    assert_eq!(h.session(newcomer).room(), None);
    assert!(h.closed(newcomer).is_none(), "the session goes on");
    // The room plays on for its member.
    let before = h.room_tick(room).expect("room");
    h.advance(TICK * 3);
    assert!(h.room_tick(room).expect("room") > before);
    assert!(!updates(&h.received(player)).is_empty());
    assert_eq!(h.members(), 1);
    h.send(
        player,
        &ClientMessage::LeaveRoom(LeaveRoom { request_id: 13 }),
    );
    h.advance(TICK * 2);
    assert_eq!(h.members(), 0, "the last member left: the drain may end");
    let text = h.metrics().render();
    assert!(
        text.contains("tickwire_errors_total{kind=\"server_draining\"} 5"),
        "counted: {}",
        text.lines()
            .filter(|l| l.contains("errors_total"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn inputs_reach_the_room_bad_inputs_and_spectator_inputs_are_refused() {
    let mut h = harness();
    let player = greeted(&mut h, "p");
    let room = in_new_room(&mut h, player);
    let watcher = greeted(&mut h, "w");
    join(&mut h, watcher, room, Role::Spectator);
    h.received(player);
    h.received(watcher);
    let mut input = Vec::new();
    codec::encode_value(
        &ArenaInput {
            move_x: f32::NAN,
            move_y: 0.0,
            aim: 0.0,
            fire: false,
        },
        &mut input,
    )
    .expect("encodes");
    let inputs = |seq| {
        ClientMessage::Inputs(Inputs {
            newest_seq: seq,
            inputs: vec![input.clone()],
            ack: None,
        })
    };
    h.send(player, &inputs(1));
    h.send(watcher, &inputs(1));
    h.advance(TICK);
    assert_eq!(
        error_codes(&h.received(player)),
        vec![ErrorCode::InvalidInput]
    );
    assert_eq!(
        error_codes(&h.received(watcher)),
        vec![ErrorCode::NotAPlayer]
    );
    let text = h.metrics().render();
    assert!(text.contains("tickwire_inputs_dropped_total{reason=\"invalid\"} 1"));
    assert!(text.contains("tickwire_inputs_dropped_total{reason=\"not_a_player\"} 1"));
}

#[test]
fn events_go_to_the_game_only_and_are_answered_or_refused_by_their_bounds() {
    let mut h = harness();
    let a = greeted(&mut h, "a");
    let room = in_new_room(&mut h, a);
    let b = greeted(&mut h, "b");
    join(&mut h, b, room, Role::Player);
    let s = greeted(&mut h, "s");
    join(&mut h, s, room, Role::Spectator);
    for c in [a, b, s] {
        h.received(c);
    }
    let event = |name: &str, ack_id: Option<u32>| {
        ClientMessage::Event(RoomEvent {
            name: name.into(),
            data: vec![1, 2],
            ack_id,
        })
    };
    let replies = |got: Vec<ServerMessage>| -> Vec<(u32, EventOutcome)> {
        got.into_iter()
            .filter_map(|m| match m {
                ServerMessage::EventReply(r) => Some((r.ack_id, r.outcome)),
                _ => None,
            })
            .collect()
    };
    // The arena answers "echo" with its data and refuses other events;
    // nothing reaches the other members.
    h.send(a, &event(ECHO_EVENT, Some(4)));
    h.send(a, &event("hi", Some(5)));
    h.advance(TICK);
    let got = replies(h.received(a));
    assert_eq!(got[0], (4, EventOutcome::Data(vec![1, 2])));
    assert!(matches!(
        &got[1],
        (
            5,
            EventOutcome::Error {
                code: ErrorCode::EventRefused,
                ..
            }
        )
    ));
    assert!(
        !h.received(b)
            .iter()
            .any(|m| matches!(m, ServerMessage::Event(_))),
        "nothing is relayed unless the game relays it"
    );
    // Out of bounds: refused by the session, as the answer's error or, with
    // no answer asked, as an Error.
    h.send(a, &event(&"x".repeat(65), Some(6)));
    h.send(a, &event("", None));
    let big = ClientMessage::Event(RoomEvent {
        name: ECHO_EVENT.into(),
        data: vec![0; 3073],
        ack_id: Some(7),
    });
    h.send(a, &big);
    let got = h.received(a);
    assert!(matches!(
        replies(got.clone()).as_slice(),
        [
            (
                6,
                EventOutcome::Error {
                    code: ErrorCode::EventTooLarge,
                    ..
                }
            ),
            (
                7,
                EventOutcome::Error {
                    code: ErrorCode::EventTooLarge,
                    ..
                }
            ),
        ]
    ));
    assert_eq!(error_codes(&got), vec![ErrorCode::EventTooLarge]);
    // Spectators may not emit in the arena.
    h.send(s, &event(ECHO_EVENT, Some(8)));
    h.advance(TICK);
    assert!(matches!(
        replies(h.received(s)).as_slice(),
        [(
            8,
            EventOutcome::Error {
                code: ErrorCode::NotAPlayer,
                ..
            }
        )]
    ));
    // A burst past the allowance (40 at once) is refused, and the session
    // goes on.
    for id in 100..150 {
        h.send(b, &event(ECHO_EVENT, Some(id)));
    }
    h.advance(TICK);
    let got = replies(h.received(b));
    let limited = got
        .iter()
        .filter(|(_, o)| {
            matches!(
                o,
                EventOutcome::Error {
                    code: ErrorCode::RateLimited,
                    ..
                }
            )
        })
        .count();
    assert_eq!((got.len(), limited), (50, 10), "{got:?}");
    assert!(h.closed(b).is_none());
    let text = h.metrics().render();
    for line in [
        "tickwire_events_refused_total{reason=\"event_rate_limited\"} 10",
        "tickwire_events_refused_total{reason=\"event_from_spectator\"} 1",
        "tickwire_events_refused_total{reason=\"event_too_large\"} 1",
        "tickwire_events_refused_total{reason=\"event_bad_name\"} 2",
        "tickwire_events_received_total 42",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}

#[test]
fn a_client_that_hangs_up_keeps_its_seat_for_the_grace_then_frees_it_and_a_close_is_answered() {
    let mut h = harness();
    let a = greeted(&mut h, "a");
    in_new_room(&mut h, a);
    h.hang_up(a);
    let closing = h.closed(a).expect("closed");
    assert_eq!(closing.reason, CloseReason::Normal);
    assert!(!closing.tell, "nobody to tell");
    h.advance(TICK);
    let b = greeted(&mut h, "b");
    let players = |h: &mut Harness<Arena>| {
        h.send(
            b,
            &ClientMessage::ListRooms(ListRooms {
                request_id: 1,
                filter: RoomFilter::default(),
            }),
        );
        let got = h.received(b);
        match got.as_slice() {
            [.., ServerMessage::RoomList(l)] => l.rooms[0].players,
            other => panic!("a list: {other:?}"),
        }
    };
    assert_eq!(players(&mut h), 1, "the seat waits for its player");
    for _ in 0..30 {
        h.advance(Duration::from_secs(1));
        h.keepalive(b);
    }
    assert_eq!(players(&mut h), 0, "the grace ran out");
    h.send(
        b,
        &ClientMessage::Close(Close {
            reason: CloseReason::Normal,
            message: "bye".into(),
        }),
    );
    assert!(matches!(
        h.received(b).last(),
        Some(ServerMessage::Close(c)) if c.reason == CloseReason::Normal
    ));
    assert_eq!(h.closed(b).map(|c| c.tell), Some(true));
}

/// A `Hello` resuming with `token`, holding the world of tick `from`.
fn resume(h: &mut Harness<Arena>, token: ResumeToken, from: Option<Tick>) -> ClientId {
    let c = h.connect();
    h.send(
        c,
        &ClientMessage::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            client_name: "back".into(),
            auth_ticket: None,
            resume_token: Some(token),
            resume_from: from,
        }),
    );
    c
}

fn welcome(got: &[ServerMessage]) -> Welcome {
    got.iter()
        .find_map(|m| match m {
            ServerMessage::Welcome(w) => Some(w.clone()),
            _ => None,
        })
        .expect("a Welcome")
}

/// An arena input message numbered `seq` (moving right).
fn arena_inputs(seq: u32) -> ClientMessage {
    let mut input = Vec::new();
    codec::encode_value(
        &ArenaInput {
            move_x: 1.0,
            ..ArenaInput::default()
        },
        &mut input,
    )
    .expect("encodes");
    ClientMessage::Inputs(Inputs {
        newest_seq: seq,
        inputs: vec![input],
        ack: None,
    })
}

#[test]
fn a_dropped_player_resumes_its_seat_with_a_delta_and_a_new_token() {
    let mut h = harness();
    let a = h.connect();
    h.hello(a, "a");
    let first = welcome(&h.received(a));
    assert_eq!(first.reconnect_grace_ms, 30_000);
    let room = in_new_room(&mut h, a);
    h.advance(TICK * 5);
    let got = h.received(a);
    let last = (*updates(&got).last().expect("updates")).clone();
    h.send(a, &ClientMessage::Ack(Ack { tick: last.tick }));
    // The old connection's inputs were numbered up to 50.
    h.send(a, &arena_inputs(50));
    h.advance(TICK);
    h.hang_up(a);
    // Back within the grace and within the history of baselines (32
    // ticks): a delta.
    h.advance(TICK * 10);

    let back = resume(&mut h, first.resume_token, Some(last.tick));
    h.advance(TICK * 2);
    let got = h.received(back);
    let again = welcome(&got);
    assert!(again.resumed);
    assert_eq!(again.player, first.player, "the same player id");
    assert_ne!(
        again.resume_token, first.resume_token,
        "tokens are single-use"
    );
    let joined = got
        .iter()
        .find_map(|m| match m {
            ServerMessage::Joined(j) => Some(j.clone()),
            _ => None,
        })
        .expect("Joined, unasked");
    assert_eq!((joined.request_id, joined.room.id), (None, room));
    let next = updates(&got)[0];
    assert_eq!(
        next.baseline,
        Some(last.tick),
        "a delta against the world the client kept"
    );
    assert_eq!(h.session(back).player(), first.player);
    // The new connection numbers its inputs afresh: its first is taken.
    h.send(back, &arena_inputs(1));
    h.advance(TICK);
    let text = h.metrics().render();
    assert!(
        !text.contains("tickwire_inputs_dropped_total{reason=\"stale\"}"),
        "{text}"
    );

    // The old token is used up: a fresh session, nothing resumed.
    let stale = resume(&mut h, first.resume_token, None);
    h.advance(TICK);
    let got = h.received(stale);
    assert!(!welcome(&got).resumed);
    assert!(!got.iter().any(|m| matches!(m, ServerMessage::Joined(_))));
}

#[test]
fn a_live_session_is_replaced_and_an_expired_seat_is_gone() {
    let mut h = harness();
    let a = h.connect();
    h.hello(a, "a");
    let first = welcome(&h.received(a));
    in_new_room(&mut h, a);
    // The same player on a second connection while the first is alive: the
    // first is closed with Replaced, the second gets the seat (a full
    // snapshot: it holds no world).
    let b = resume(&mut h, first.resume_token, None);
    h.advance(TICK * 2);
    assert_eq!(h.closed(a).map(|c| c.reason), Some(CloseReason::Replaced));
    assert!(matches!(
        h.received(a).last(),
        Some(ServerMessage::Close(c)) if c.reason == CloseReason::Replaced
    ));
    let got = h.received(b);
    assert!(welcome(&got).resumed);
    assert_eq!(updates(&got)[0].baseline, None, "a full snapshot");

    // Dropped again, and back too late.
    let token = welcome(&got).resume_token;
    h.hang_up(b);
    h.advance(Duration::from_secs(31));
    let late = resume(&mut h, token, None);
    h.advance(TICK);
    assert!(!welcome(&h.received(late)).resumed);
    let text = h.metrics().render();
    assert!(
        text.contains("tickwire_members_left_total{reason=\"disconnected\"} 1"),
        "{text}"
    );
}
/// A harness whose clients must present a ticket.
fn authenticating(required: bool) -> Harness<Arena> {
    let mut config = ServerConfig::default();
    config.auth.enabled = true;
    config.auth.secret = Some(crate::config::Secret::new("s"));
    config.auth.required = required;
    Harness::new(config, Default::default())
}

fn identity(subject: &str, name: Option<&str>) -> tickwire_shared::game::Identity {
    tickwire_shared::game::Identity {
        subject: subject.into(),
        name: name.map(str::to_owned),
        claims: serde_json::Map::new(),
    }
}

#[test]
fn a_ticket_is_verified_by_the_shell_before_the_welcome() {
    let mut h = authenticating(true);
    let c = h.connect();
    h.hello_with_ticket(c, "client-name", Some("ticket-1"));
    assert_eq!(h.auth_requests(), vec![(c, "ticket-1".to_owned())]);
    assert!(
        matches!(h.session(c).state(), State::Authenticating { .. }),
        "waits for the verdict"
    );
    assert!(h.received(c).is_empty(), "no Welcome before the verdict");
    // Frames sent meanwhile wait in the transport, in order.
    h.send(
        c,
        &ClientMessage::ListRooms(ListRooms {
            request_id: 7,
            filter: RoomFilter::default(),
        }),
    );
    assert!(h.received(c).is_empty());
    h.answer_auth(c, Ok(identity("alice", Some("Alice"))));
    let got = h.received(c);
    assert!(
        matches!(got.as_slice(), [ServerMessage::Welcome(_), .., ServerMessage::RoomList(l)] if l.request_id == 7),
        "{got:?}"
    );
    assert_eq!(h.session(c).name(), "Alice", "the token's name wins");
    assert_eq!(h.session(c).identity().unwrap().subject, "alice");
    // A token without a name keeps the Hello's.
    let d = h.connect();
    h.hello_with_ticket(d, "dora", Some("ticket-2"));
    h.answer_auth(d, Ok(identity("dora-account", None)));
    assert_eq!(h.session(d).name(), "dora");
    // A late verdict (the session already closed) changes nothing.
    h.answer_auth(d, Err(crate::auth::AuthError::Expired));
    assert!(h.closed(d).is_none());
}

#[test]
fn refused_tickets_and_missing_ones_are_auth_failed_with_the_reason() {
    use crate::auth::AuthError;
    let mut h = authenticating(true);
    let cases = [
        AuthError::Expired,
        AuthError::NotYetValid,
        AuthError::WrongAudience,
        AuthError::BadSignature,
        AuthError::Malformed,
        AuthError::TimedOut,
    ];
    for error in cases.clone() {
        let c = h.connect();
        h.hello_with_ticket(c, "mallory", Some("forged"));
        h.answer_auth(c, Err(error.clone()));
        assert_eq!(h.closed(c).map(|c| c.reason), Some(CloseReason::AuthFailed));
        let got = h.received(c);
        assert!(
            matches!(got.as_slice(), [ServerMessage::Rejected(r)]
                if r.reason == CloseReason::AuthFailed && r.message == error.to_string()),
            "{error:?}: {got:?}"
        );
    }
    let c = h.connect();
    h.hello(c, "anonymous");
    assert!(
        h.auth_requests().len() == cases.len(),
        "no ticket, nothing to ask"
    );
    assert!(
        matches!(h.received(c).as_slice(), [ServerMessage::Rejected(r)] if r.message == "token required")
    );
    let c = h.connect();
    h.hello_with_ticket(c, "big", Some(&"x".repeat(crate::auth::MAX_TICKET + 1)));
    assert!(
        matches!(h.received(c).as_slice(), [ServerMessage::Rejected(r)] if r.message == "malformed token")
    );
    let text = h.metrics().render();
    for label in [
        "expired",
        "not_yet_valid",
        "wrong_audience",
        "bad_signature",
        "timed_out",
        "required",
    ] {
        assert!(
            text.contains(&format!(
                "tickwire_auth_failures_total{{reason=\"{label}\"}} 1"
            )),
            "{label}: {text}"
        );
    }
    assert!(text.contains("tickwire_auth_failures_total{reason=\"malformed\"} 2"));
    assert!(text.contains("tickwire_connections_rejected_total{reason=\"auth_failed\"} 8"));
}

#[test]
fn the_handshake_deadline_bounds_the_wait_for_a_verdict() {
    let mut h = authenticating(true);
    let c = h.connect();
    h.advance(Duration::from_millis(4_000));
    h.hello_with_ticket(c, "slow", Some("t"));
    h.advance(Duration::from_millis(999));
    assert!(h.closed(c).is_none());
    h.advance(Duration::from_millis(1));
    assert_eq!(
        h.closed(c).map(|c| c.reason),
        Some(CloseReason::HandshakeTimeout)
    );
}

#[test]
fn optional_auth_lets_anonymous_clients_in_and_an_open_server_ignores_tickets() {
    let mut h = authenticating(false);
    let c = greeted(&mut h, "anonymous");
    assert!(h.session(c).identity().is_none());
    let mut h = harness();
    let c = h.connect();
    h.hello_with_ticket(c, "ticketed", Some("ignored"));
    assert!(h.auth_requests().is_empty());
    assert!(matches!(
        h.received(c).first(),
        Some(ServerMessage::Welcome(_))
    ));
    assert!(h.session(c).identity().is_none());
}

#[test]
fn the_jwt_authenticator_plugs_into_the_harness() {
    let mut h = authenticating(true);
    let config = {
        let mut c = ServerConfig::default().auth;
        c.enabled = true;
        c.secret = Some(crate::config::Secret::new("s"));
        c
    };
    h.set_authenticator(std::sync::Arc::new(
        crate::auth::JwtAuthenticator::from_config(&config).unwrap(),
    ));
    let token = crate::auth::JwtMinter::from_config(&config, None)
        .unwrap()
        .mint(
            "carol",
            Some("Carol"),
            Duration::from_secs(60),
            &serde_json::Map::new(),
        )
        .unwrap();
    let c = h.connect();
    h.hello_with_ticket(c, "c", Some(&token));
    assert!(matches!(
        h.received(c).first(),
        Some(ServerMessage::Welcome(_))
    ));
    assert_eq!(h.session(c).identity().unwrap().subject, "carol");
    let room = in_new_room(&mut h, c);
    assert!(h.room_tick(room).is_some());
}
