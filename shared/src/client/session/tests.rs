use std::collections::BTreeMap;

use super::*;
use crate::arena::SCHEMA;
use crate::delta;
use crate::game::GameOptions;
use crate::ids::RoomId;
use crate::tick::TickRate;

pub(super) fn t0() -> Now {
    Now {
        at: Instant::now(),
        unix_us: 1_700_000_000_000_000,
    }
}

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) fn session(config: SessionConfig) -> ClientSession {
    ClientSession::new(ClientSession::hello("me"), SCHEMA, config)
}

pub(super) fn drain(s: &mut ClientSession, now: Now) -> Vec<Transmit> {
    std::iter::from_fn(|| s.poll_transmit(now)).collect()
}

pub(super) fn events(s: &mut ClientSession) -> Vec<SessionEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

pub(super) fn welcome() -> ServerMessage {
    ServerMessage::Welcome(Welcome {
        protocol_version: PROTOCOL_VERSION,
        player: PlayerId(5),
        resume_token: ResumeToken([1; 16]),
        resumed: false,
        heartbeat_interval_ms: 1000,
        reconnect_grace_ms: 0,
    })
}

pub(super) fn room_info() -> RoomInfo {
    RoomInfo {
        id: RoomId(3),
        code: None,
        name: "r".into(),
        game: "arena".into(),
        visibility: Visibility::Public,
        players: 1,
        max_players: 16,
        spectators: 0,
        options: GameOptions::default(),
        metadata: BTreeMap::new(),
        locked: false,
    }
}

pub(super) fn joined(request_id: Option<u32>, tick_zero_unix_us: u64) -> ServerMessage {
    ServerMessage::Joined(Joined {
        request_id,
        room: room_info(),
        role: Role::Player,
        tick_rate: TickRate::ARENA,
        tick_zero_unix_us,
        tick: Tick(0),
    })
}

/// A full snapshot of the (empty) world at `tick`.
pub(super) fn update(tick: u32) -> ServerMessage {
    let world = WorldSnapshot::empty(Tick(tick));
    ServerMessage::Update(Update {
        tick: Tick(tick),
        baseline: None,
        lateness_us: 0,
        checksum: world.checksum(),
        delta: delta::encode(&SCHEMA, None, &world).expect("encodes"),
    })
}

/// A greeted session in a room (joined at `now`, tick 0 due at `now`).
pub(super) fn in_room(config: SessionConfig, now: Now) -> ClientSession {
    let mut s = session(config);
    s.handle(now, welcome());
    let id = s
        .request(
            now,
            Request::QuickJoin(QuickJoinSpec::default().metadata("mode", "duel")),
        )
        .expect("request");
    s.handle(now, joined(Some(id.0), now.unix_us));
    drain(&mut s, now);
    events(&mut s);
    s
}

pub(super) fn with_input() -> SessionConfig {
    SessionConfig {
        ack_mode: AckMode::WithInput,
        ..SessionConfig::default()
    }
}

#[test]
fn the_hello_goes_first_and_the_welcome_opens_the_lobby() {
    let now = t0();
    let mut s = session(SessionConfig::default());
    assert_eq!(s.state(), &SessionState::Greeting);
    let sent = drain(&mut s, now);
    assert!(
        matches!(&sent[..], [Transmit { message: ClientMessage::Hello(h), delivery: Delivery::Reliable }]
            if h.client_name == "me" && h.protocol_version == PROTOCOL_VERSION),
        "{sent:?}"
    );
    s.handle(now, welcome());
    assert_eq!(s.state(), &SessionState::Lobby);
    assert_eq!(s.player(), Some(PlayerId(5)));
    assert!(matches!(&events(&mut s)[..], [SessionEvent::Welcomed(w)] if w.player == PlayerId(5)));
}

#[test]
fn requests_get_fresh_ids_and_their_answers_whatever_arrives_between() {
    let now = t0();
    let mut s = session(SessionConfig::default());
    s.handle(now, welcome());
    drain(&mut s, now);
    events(&mut s);
    let list = s
        .request(now, Request::ListRooms(RoomFilter::default()))
        .expect("list");
    let create = s
        .request(now, Request::CreateRoom(RoomSpec::new("x").join_as(None)))
        .expect("create");
    assert_ne!(list, create);
    let sent = drain(&mut s, now);
    match (&sent[0].message, &sent[1].message) {
        (ClientMessage::ListRooms(l), ClientMessage::CreateRoom(c)) => {
            assert_eq!((l.request_id, c.request_id), (list.0, create.0));
            assert_eq!((c.name.as_str(), c.join_as), ("x", None));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.pending_requests(), 2);
    // Answered out of order, with an unrelated event between.
    s.handle(
        now,
        ServerMessage::RoomCreated(RoomCreated {
            request_id: create.0,
            room: room_info(),
        }),
    );
    s.handle(now, ServerMessage::Ping(Ping { sent_at_us: 1 }));
    s.handle(
        now,
        ServerMessage::RoomList(RoomList {
            request_id: list.0,
            rooms: vec![room_info()],
        }),
    );
    let got = events(&mut s);
    assert_eq!(
        got,
        vec![
            SessionEvent::Answered {
                id: create,
                result: Ok(Answer::RoomCreated(room_info()))
            },
            SessionEvent::Answered {
                id: list,
                result: Ok(Answer::RoomList(vec![room_info()]))
            },
        ]
    );
    assert_eq!(s.pending_requests(), 0);
    // A second answer to the same id is nobody's.
    s.handle(
        now,
        ServerMessage::RoomList(RoomList {
            request_id: list.0,
            rooms: vec![],
        }),
    );
    assert!(events(&mut s).is_empty());
}

#[test]
fn a_refusal_or_the_wrong_kind_of_answer_fails_the_request() {
    let now = t0();
    let mut s = session(SessionConfig::default());
    s.handle(now, welcome());
    events(&mut s);
    let join = s
        .request(
            now,
            Request::JoinRoom {
                target: RoomTarget::Id(RoomId(9)),
                role: Role::Spectator,
                join_options: GameOptions::default(),
            },
        )
        .expect("join");
    let refusal = ErrorMessage {
        request_id: Some(join.0),
        code: ErrorCode::RoomNotFound,
        message: "no".into(),
    };
    s.handle(now, ServerMessage::Error(refusal.clone()));
    let leave = s.request(now, Request::LeaveRoom).expect("leave");
    s.handle(
        now,
        ServerMessage::RoomList(RoomList {
            request_id: leave.0,
            rooms: vec![],
        }),
    );
    assert_eq!(
        events(&mut s),
        vec![
            SessionEvent::Answered {
                id: join,
                result: Err(RequestFailure::Refused(refusal))
            },
            SessionEvent::Answered {
                id: leave,
                result: Err(RequestFailure::Unexpected)
            },
        ]
    );
    assert_eq!(s.state(), &SessionState::Lobby);
}

#[test]
fn requests_time_out_by_the_time_given_and_late_answers_are_dropped() {
    let now = t0();
    let config = SessionConfig {
        request_timeout: ms(500),
        max_pending_requests: 2,
        ..SessionConfig::default()
    };
    let mut s = session(config);
    s.handle(now, welcome());
    events(&mut s);
    assert_eq!(s.poll_timeout(), None);
    let a = s.request(now, Request::LeaveRoom).expect("a");
    let b = s
        .request(now.after(ms(100)), Request::LeaveRoom)
        .expect("b");
    assert_eq!(
        s.request(now, Request::LeaveRoom),
        Err(SessionError::TooManyRequests(2))
    );
    assert_eq!(s.poll_timeout(), Some(now.at + ms(500)));
    s.handle_timeout(now.after(ms(499)));
    assert!(events(&mut s).is_empty());
    s.handle_timeout(now.after(ms(500)));
    assert_eq!(
        events(&mut s),
        vec![SessionEvent::Answered {
            id: a,
            result: Err(RequestFailure::TimedOut)
        }]
    );
    assert_eq!(s.poll_timeout(), Some(now.at + ms(600)));
    s.handle(
        now,
        ServerMessage::Left(Left {
            request_id: Some(b.0),
            room: RoomId(1),
            reason: LeaveReason::Requested,
            message: String::new(),
        }),
    );
    assert!(matches!(
        &events(&mut s)[..],
        [SessionEvent::Answered { id, result: Ok(Answer::Left(_)) }] if *id == b
    ));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn immediate_acks_follow_each_update_and_latency_uses_the_servers_tick_time() {
    let now = t0();
    let mut s = in_room(SessionConfig::default(), now);
    assert!(s.room().is_some());
    // Tick 3 was due 100 ms after tick 0; it is rebuilt 2 ms after that.
    let later = now.after(TickRate::ARENA.period() * 3 + ms(2));
    s.handle(later, update(3));
    let sent = drain(&mut s, later);
    assert_eq!(
        sent,
        vec![Transmit {
            message: ClientMessage::Ack(Ack { tick: Tick(3) }),
            delivery: Delivery::Unreliable
        }]
    );
    match &events(&mut s)[..] {
        [SessionEvent::Updated(u)] => {
            assert_eq!((u.tick, u.full, u.baseline_age), (Tick(3), true, 0));
            assert_eq!(u.latency_us, 2_000);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.world().map(|w| w.tick), Some(Tick(3)));
    // An older update is stale: no ack, the replica unchanged.
    s.handle(later, update(2));
    assert!(drain(&mut s, later).is_empty());
    assert!(matches!(
        &events(&mut s)[..],
        [SessionEvent::UpdateFailed(ReplicaError::Stale { .. })]
    ));
}

#[test]
fn updates_not_applied_are_acked_by_their_header_tick_and_counted_by_size() {
    let now = t0();
    let light = SessionConfig {
        apply_updates: false,
        ..SessionConfig::default()
    };
    let mut s = in_room(light, now);
    // A delta that could not be decoded (and a wrong checksum): a light
    // session never looks inside, so it acks the tick all the same.
    let garbage = |tick: u32, baseline: Option<u32>| {
        ServerMessage::Update(Update {
            tick: Tick(tick),
            baseline: baseline.map(Tick),
            lateness_us: 0,
            checksum: 0xdead_beef,
            delta: vec![0xff; 37],
        })
    };
    let later = now.after(TickRate::ARENA.period() * 4 + ms(3));
    s.handle(later, garbage(4, Some(2)));
    assert_eq!(
        drain(&mut s, later),
        vec![Transmit {
            message: ClientMessage::Ack(Ack { tick: Tick(4) }),
            delivery: Delivery::Unreliable
        }]
    );
    match &events(&mut s)[..] {
        [SessionEvent::Updated(u)] => {
            assert_eq!((u.tick, u.full, u.baseline_age), (Tick(4), false, 2));
            assert_eq!((u.bytes, u.latency_us), (37, 3_000));
        }
        other => panic!("{other:?}"),
    }
    assert!(s.world().is_none(), "the replica is never touched");
    // The order rule still holds: an older or repeated tick is stale.
    for tick in [4, 3] {
        s.handle(later, garbage(tick, None));
        assert!(drain(&mut s, later).is_empty());
        assert!(matches!(
            &events(&mut s)[..],
            [SessionEvent::UpdateFailed(ReplicaError::Stale { tick: t, latest: Tick(4) })] if *t == Tick(tick)
        ));
    }
    // With acks riding on inputs, the header's tick rides too.
    s.set_ack_mode(AckMode::WithInput);
    s.handle(later, garbage(5, Some(4)));
    assert!(drain(&mut s, later).is_empty(), "the ack waits");
    s.send_input(vec![1]).expect("input");
    assert!(matches!(
        &drain(&mut s, later)[..],
        [Transmit { message: ClientMessage::Inputs(i), .. }] if i.ack == Some(Tick(5))
    ));
    // Leaving the room forgets the order: a new room starts low again.
    s.handle(
        later,
        ServerMessage::Left(Left {
            request_id: None,
            room: RoomId(3),
            reason: LeaveReason::Kicked,
            message: String::new(),
        }),
    );
    s.handle(later, joined(None, later.unix_us));
    events(&mut s);
    s.handle(later, garbage(1, None));
    assert!(matches!(&events(&mut s)[..], [SessionEvent::Updated(u)] if u.tick == Tick(1)));
}

#[test]
fn with_input_acks_and_ping_answers_ride_with_the_next_input() {
    let now = t0();
    let mut s = in_room(with_input(), now);
    s.handle(now, update(1));
    s.handle(now, ServerMessage::Ping(Ping { sent_at_us: 77 }));
    assert!(drain(&mut s, now).is_empty(), "ack and pong wait");
    let later = now.after(ms(5));
    s.ping_with_next_input();
    assert_eq!(s.send_input(vec![9]), Ok(1));
    let sent = drain(&mut s, later);
    let messages: Vec<&ClientMessage> = sent.iter().map(|t| &t.message).collect();
    match &messages[..] {
        [
            ClientMessage::Inputs(inputs),
            ClientMessage::Pong(pong),
            ClientMessage::Ping(ping),
        ] => {
            assert_eq!(inputs.ack, Some(Tick(1)));
            assert_eq!(
                (inputs.newest_seq, inputs.inputs.clone()),
                (1, vec![vec![9]])
            );
            assert_eq!((pong.ping_sent_at_us, pong.held_us), (77, 5_000));
            assert_eq!(pong.sent_at_us, later.unix_us);
            assert_eq!(ping.sent_at_us, later.unix_us);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sent[0].delivery, Delivery::Unreliable);
    // The ack went once.
    s.send_input(vec![10]).expect("input");
    assert!(
        matches!(&drain(&mut s, later)[..], [Transmit { message: ClientMessage::Inputs(i), .. }] if i.ack.is_none())
    );
}

#[test]
fn a_held_ping_goes_alone_after_half_a_tick_and_a_second_ping_frees_the_first() {
    let now = t0();
    let mut s = in_room(with_input(), now);
    s.handle(now, ServerMessage::Ping(Ping { sent_at_us: 1 }));
    let half = TickRate::ARENA.period() / 2;
    assert_eq!(s.poll_timeout(), Some(now.at + half));
    s.handle_timeout(now.after(ms(1)));
    assert!(drain(&mut s, now).is_empty());
    s.handle_timeout(now.after(half));
    match &drain(&mut s, now.after(half))[..] {
        [
            Transmit {
                message: ClientMessage::Pong(p),
                ..
            },
        ] => {
            assert_eq!(u128::from(p.held_us), half.as_micros());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.poll_timeout(),
        Some(now.at + Duration::from_secs(5)),
        "only the silence deadline is left"
    );
    // A newer ping frees the older one at once; an update arriving after
    // half a tick frees the newer one.
    s.handle(now, ServerMessage::Ping(Ping { sent_at_us: 2 }));
    s.handle(now, ServerMessage::Ping(Ping { sent_at_us: 3 }));
    assert!(matches!(
        &drain(&mut s, now)[..],
        [Transmit { message: ClientMessage::Pong(p), .. }] if p.ping_sent_at_us == 2
    ));
    s.handle(now.after(half), update(1));
    assert!(matches!(
        &drain(&mut s, now.after(half))[..],
        [Transmit { message: ClientMessage::Pong(p), .. }] if p.ping_sent_at_us == 3
    ));
}

#[test]
fn outside_a_room_or_with_immediate_acks_pings_are_answered_at_once_and_pongs_give_the_rtt() {
    let now = t0();
    let mut s = session(with_input());
    s.handle(now, welcome());
    drain(&mut s, now);
    s.handle(now, ServerMessage::Ping(Ping { sent_at_us: 4 }));
    assert!(matches!(
        &drain(&mut s, now)[..],
        [Transmit { message: ClientMessage::Pong(p), .. }] if p.ping_sent_at_us == 4 && p.held_us == 0
    ));
    s.ping().expect("ping");
    let sent = drain(&mut s, now);
    let ClientMessage::Ping(ping) = sent[0].message else {
        panic!("{sent:?}")
    };
    events(&mut s);
    // The server held its answer 3 ms; the round trip was 10 ms.
    s.handle(
        now.after(ms(10)),
        ServerMessage::Pong(Pong {
            ping_sent_at_us: ping.sent_at_us,
            sent_at_us: 0,
            held_us: 3_000,
        }),
    );
    assert_eq!(events(&mut s), vec![SessionEvent::Rtt(ms(7))]);
    assert_eq!(s.rtt(), Some(ms(7)));
}

#[test]
fn inputs_are_numbered_and_repeat_the_last_few() {
    let now = t0();
    let mut s = in_room(
        SessionConfig {
            input_redundancy: DATAGRAM_INPUT_REDUNDANCY,
            ..SessionConfig::default()
        },
        now,
    );
    let mut carried = Vec::new();
    for i in 1..=5u8 {
        assert_eq!(s.send_input(vec![i]), Ok(u32::from(i)));
        for t in drain(&mut s, now) {
            if let ClientMessage::Inputs(inputs) = t.message {
                carried.push((inputs.newest_seq, inputs.inputs));
            }
        }
    }
    assert_eq!(
        carried,
        vec![
            (1, vec![vec![1]]),
            (2, vec![vec![1], vec![2]]),
            (3, vec![vec![1], vec![2], vec![3]]),
            (4, vec![vec![2], vec![3], vec![4]]),
            (5, vec![vec![3], vec![4], vec![5]]),
        ]
    );
    // Typed inputs go through the codec.
    s.send_input_value(&crate::arena::ArenaInput::default())
        .expect("encodes");
    // Redundancy is clamped to its bounds.
    let clamped = session(SessionConfig {
        input_redundancy: 0,
        ..SessionConfig::default()
    });
    assert_eq!(clamped.config().input_redundancy, 1);
    let clamped = session(SessionConfig {
        input_redundancy: 100,
        ..SessionConfig::default()
    });
    assert_eq!(clamped.config().input_redundancy, MAX_INPUT_REDUNDANCY);
}

#[test]
fn emits_with_an_ack_end_answered_refused_or_timed_out() {
    let now = t0();
    let mut s = in_room(SessionConfig::default(), now);
    let a = s
        .emit_with_ack(now, "echo", b"1".to_vec(), ms(100))
        .expect("a");
    let b = s
        .emit_with_ack(now, "echo", b"2".to_vec(), ms(100))
        .expect("b");
    let c = s
        .emit_with_ack(now, "other", b"3".to_vec(), ms(100))
        .expect("c");
    s.emit("fire", b"{}".to_vec()).expect("no ack");
    let sent: Vec<RoomEvent> = drain(&mut s, now)
        .into_iter()
        .map(|t| match t.message {
            ClientMessage::Event(e) => e,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        sent.iter().map(|e| e.ack_id).collect::<Vec<_>>(),
        vec![Some(a.0), Some(b.0), Some(c.0), None]
    );
    assert_eq!(s.pending_emits(), 3);
    s.handle(
        now.after(ms(4)),
        ServerMessage::EventReply(EventReply {
            ack_id: b.0,
            outcome: EventOutcome::Data(b"2".to_vec()),
        }),
    );
    s.handle(
        now.after(ms(6)),
        ServerMessage::EventReply(EventReply {
            ack_id: c.0,
            outcome: EventOutcome::Error {
                code: ErrorCode::EventRefused,
                message: "only echo".into(),
            },
        }),
    );
    assert_eq!(s.poll_timeout(), Some(now.at + ms(100)));
    s.handle_timeout(now.after(ms(100)));
    // A late answer is nobody's.
    s.handle(
        now.after(ms(150)),
        ServerMessage::EventReply(EventReply {
            ack_id: a.0,
            outcome: EventOutcome::Data(vec![]),
        }),
    );
    assert_eq!(
        events(&mut s),
        vec![
            SessionEvent::Emitted {
                ack: b,
                name: "echo".into(),
                outcome: EmitOutcome::Answered(b"2".to_vec()),
                elapsed: ms(4)
            },
            SessionEvent::Emitted {
                ack: c,
                name: "other".into(),
                outcome: EmitOutcome::Refused {
                    code: ErrorCode::EventRefused,
                    message: "only echo".into()
                },
                elapsed: ms(6)
            },
            SessionEvent::Emitted {
                ack: a,
                name: "echo".into(),
                outcome: EmitOutcome::TimedOut,
                elapsed: ms(100)
            },
        ]
    );
    assert_eq!(s.pending_emits(), 0);
}

#[test]
fn event_names_and_pending_emits_are_bounded() {
    let now = t0();
    let mut s = in_room(
        SessionConfig {
            max_pending_emits: 1,
            ..SessionConfig::default()
        },
        now,
    );
    assert_eq!(s.emit("", vec![]), Err(SessionError::EventName(0)));
    let long = "x".repeat(MAX_EVENT_NAME + 1);
    assert_eq!(
        s.emit_with_ack(now, &long, vec![], ms(1)),
        Err(SessionError::EventName(MAX_EVENT_NAME + 1))
    );
    s.emit(&"x".repeat(MAX_EVENT_NAME), vec![])
        .expect("64 bytes is fine");
    let fits = codec::MAX_CLIENT_FRAME - EVENT_FRAMING - 4;
    s.emit("echo", vec![7; fits]).expect("fits a frame");
    // What the session lets through does fit the codec's frame.
    let mut frame = Vec::new();
    let last = drain(&mut s, now).pop().expect("sent");
    codec::encode_client(&last.message, &mut frame).expect("encodes");
    assert!(frame.len() <= codec::MAX_CLIENT_FRAME, "{}", frame.len());
    assert_eq!(
        s.emit("echo", vec![7; fits + 1]),
        Err(SessionError::TooLarge {
            bytes: codec::MAX_CLIENT_FRAME + 1,
            max: codec::MAX_CLIENT_FRAME
        })
    );
    s.emit_with_ack(now, "a", vec![], ms(1)).expect("first");
    assert_eq!(
        s.emit_with_ack(now, "b", vec![], ms(1)),
        Err(SessionError::TooManyEmits(1))
    );
}

#[test]
fn a_refusal_of_an_event_without_ack_is_an_error_event() {
    let now = t0();
    let mut s = in_room(SessionConfig::default(), now);
    let refusal = ErrorMessage {
        request_id: None,
        code: ErrorCode::RateLimited,
        message: "slow down".into(),
    };
    s.handle(now, ServerMessage::Error(refusal.clone()));
    assert_eq!(events(&mut s), vec![SessionEvent::Error(refusal)]);
}

#[test]
fn server_events_reach_the_application_and_asked_ones_are_answered_once() {
    let now = t0();
    let mut s = in_room(SessionConfig::default(), now);
    s.handle(
        now,
        ServerMessage::Event(RoomEvent {
            name: "round_over".into(),
            data: b"{}".to_vec(),
            ack_id: None,
        }),
    );
    s.handle(
        now,
        ServerMessage::Event(RoomEvent {
            name: "vote".into(),
            data: b"[1,2]".to_vec(),
            ack_id: Some(40),
        }),
    );
    assert_eq!(
        events(&mut s),
        vec![
            SessionEvent::Event(IncomingEvent {
                name: "round_over".into(),
                data: b"{}".to_vec(),
                reply_to: None
            }),
            SessionEvent::Event(IncomingEvent {
                name: "vote".into(),
                data: b"[1,2]".to_vec(),
                reply_to: Some(ReplyTo(40))
            }),
        ]
    );
    s.answer(ReplyTo(40), EventOutcome::Data(b"2".to_vec()))
        .expect("asked");
    assert_eq!(
        drain(&mut s, now),
        vec![Transmit {
            message: ClientMessage::EventReply(EventReply {
                ack_id: 40,
                outcome: EventOutcome::Data(b"2".to_vec())
            }),
            delivery: Delivery::Reliable
        }]
    );
    assert_eq!(
        s.answer(ReplyTo(40), EventOutcome::Data(vec![])),
        Err(SessionError::NotAsked(ReplyTo(40)))
    );
    assert_eq!(
        s.answer(ReplyTo(41), EventOutcome::Data(vec![])),
        Err(SessionError::NotAsked(ReplyTo(41)))
    );
}

#[test]
fn a_server_asking_too_much_is_answered_rate_limited_at_once() {
    let now = t0();
    let mut s = in_room(
        SessionConfig {
            max_owed_answers: 1,
            ..SessionConfig::default()
        },
        now,
    );
    for id in [1, 2] {
        s.handle(
            now,
            ServerMessage::Event(RoomEvent {
                name: "q".into(),
                data: vec![],
                ack_id: Some(id),
            }),
        );
    }
    assert_eq!(events(&mut s).len(), 1, "only the first reaches the app");
    match &drain(&mut s, now)[..] {
        [
            Transmit {
                message: ClientMessage::EventReply(r),
                ..
            },
        ] => {
            assert_eq!(r.ack_id, 2);
            assert!(matches!(
                r.outcome,
                EventOutcome::Error {
                    code: ErrorCode::RateLimited,
                    ..
                }
            ));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_kick_leaves_the_room_forgets_the_world_and_frees_a_held_ping() {
    let now = t0();
    let mut s = in_room(with_input(), now);
    s.handle(now, update(1));
    s.handle(now, ServerMessage::Ping(Ping { sent_at_us: 8 }));
    events(&mut s);
    let kick = Left {
        request_id: None,
        room: RoomId(3),
        reason: LeaveReason::Kicked,
        message: "afk".into(),
    };
    s.handle(now, ServerMessage::Left(kick.clone()));
    assert_eq!(events(&mut s), vec![SessionEvent::Left(kick)]);
    assert_eq!(s.state(), &SessionState::Lobby);
    assert!(s.world().is_none());
    assert!(matches!(
        &drain(&mut s, now)[..],
        [Transmit { message: ClientMessage::Pong(p), .. }] if p.ping_sent_at_us == 8
    ));
    // The next input carries no stale ack.
    s.send_input(vec![1]).expect("input");
    assert!(matches!(
        &drain(&mut s, now)[..],
        [Transmit { message: ClientMessage::Inputs(i), .. }] if i.ack.is_none()
    ));
}

#[test]
fn a_new_rooms_first_update_may_overtake_the_joined() {
    let now = t0();
    let mut s = in_room(SessionConfig::default(), now);
    s.handle(now, update(50));
    let id = s
        .request(
            now,
            Request::JoinRoom {
                target: RoomTarget::Id(RoomId(4)),
                role: Role::Player,
                join_options: GameOptions::default(),
            },
        )
        .expect("join");
    // The old room's world is gone at once, so the new room's tick 2
    // (lower than 50) is applied, not refused as stale.
    assert!(s.world().is_none());
    s.handle(now, update(2));
    s.handle(now, joined(Some(id.0), now.unix_us));
    let got = events(&mut s);
    assert!(
        matches!(got[1], SessionEvent::Updated(u) if u.tick == Tick(2)),
        "{got:?}"
    );
    assert!(matches!(
        &got[2],
        SessionEvent::Answered {
            result: Ok(Answer::Joined(_)),
            ..
        }
    ));
    assert_eq!(s.world().map(|w| w.tick), Some(Tick(2)));
}

#[test]
fn an_unasked_joined_is_a_resumed_seat() {
    let now = t0();
    let mut s = session(SessionConfig::default());
    s.handle(now, welcome());
    events(&mut s);
    s.handle(now, joined(None, now.unix_us));
    assert!(matches!(&events(&mut s)[..], [SessionEvent::Joined(j)] if j.room.id == RoomId(3)));
    assert!(s.room().is_some());
}

#[test]
fn a_close_fails_everything_pending_then_says_why_and_refuses_calls() {
    let now = t0();
    let mut s = in_room(SessionConfig::default(), now);
    let req = s
        .request(now, Request::ListRooms(RoomFilter::default()))
        .expect("req");
    let ack = s
        .emit_with_ack(now, "echo", vec![], ms(1_000))
        .expect("emit");
    s.handle(
        now,
        ServerMessage::Event(RoomEvent {
            name: "q".into(),
            data: vec![],
            ack_id: Some(1),
        }),
    );
    events(&mut s);
    s.handle(
        now.after(ms(3)),
        ServerMessage::Close(Close {
            reason: CloseReason::ServerShutdown,
            message: "restarting".into(),
        }),
    );
    let closed = Closed {
        reason: Some(CloseReason::ServerShutdown),
        message: "restarting".into(),
        rejected: false,
    };
    assert_eq!(
        events(&mut s),
        vec![
            SessionEvent::Answered {
                id: req,
                result: Err(RequestFailure::Closed)
            },
            SessionEvent::Emitted {
                ack,
                name: "echo".into(),
                outcome: EmitOutcome::Closed,
                elapsed: ms(3)
            },
            SessionEvent::Closed(closed.clone()),
        ]
    );
    assert_eq!(s.state(), &SessionState::Closed(closed));
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(s.ping(), Err(SessionError::Closed));
    assert_eq!(s.send_input(vec![]), Err(SessionError::Closed));
    assert_eq!(
        s.request(now, Request::LeaveRoom),
        Err(SessionError::Closed)
    );
    assert_eq!(
        s.answer(ReplyTo(1), EventOutcome::Data(vec![])),
        Err(SessionError::Closed)
    );
    // Nothing after the end counts; a lost connection is not a second end.
    s.handle(now, update(9));
    s.handle_connection_lost(now, None);
    assert!(events(&mut s).is_empty());
}

#[test]
fn a_rejected_handshake_and_a_lost_connection_end_the_session() {
    let now = t0();
    let mut s = session(SessionConfig::default());
    s.handle(
        now,
        ServerMessage::Rejected(Rejected {
            reason: CloseReason::VersionMismatch,
            message: "v1".into(),
        }),
    );
    assert!(matches!(
        &events(&mut s)[..],
        [SessionEvent::Closed(Closed {
            reason: Some(CloseReason::VersionMismatch),
            rejected: true,
            ..
        })]
    ));
    let mut lost = session(SessionConfig::default());
    lost.handle(now, welcome());
    events(&mut lost);
    lost.handle_connection_lost(now, Some((CloseReason::IdleTimeout, "quiet".into())));
    assert!(matches!(
        &events(&mut lost)[..],
        [SessionEvent::Closed(Closed {
            reason: Some(CloseReason::IdleTimeout),
            rejected: false,
            ..
        })]
    ));
    assert!(lost.is_closed());
}

#[test]
fn closing_says_goodbye_once_and_stops_taking_calls() {
    let now = t0();
    let mut s = in_room(SessionConfig::default(), now);
    s.close("bye");
    s.close("again");
    assert!(matches!(
        &drain(&mut s, now)[..],
        [Transmit { message: ClientMessage::Close(c), .. }] if c.reason == CloseReason::Normal && c.message == "bye"
    ));
    assert_eq!(s.state(), &SessionState::Closing);
    assert_eq!(s.emit("x", vec![]), Err(SessionError::Closed));
    s.handle(
        now,
        ServerMessage::Close(Close {
            reason: CloseReason::Normal,
            message: "bye".into(),
        }),
    );
    assert!(s.is_closed());
}

#[test]
fn frames_decode_before_handling_and_garbage_is_an_error() {
    let now = t0();
    let mut s = session(SessionConfig::default());
    let mut frame = Vec::new();
    codec::encode_server(&welcome(), &mut frame).expect("encodes");
    s.handle_frame(now, &frame).expect("decodes");
    assert_eq!(s.state(), &SessionState::Lobby);
    assert!(s.handle_frame(now, &[0xEE, 1, 2]).is_err());
    assert_eq!(s.state(), &SessionState::Lobby, "garbage changes nothing");
}

#[test]
fn a_session_without_hello_sends_nothing_of_its_own() {
    let now = t0();
    let mut s = ClientSession::without_hello(SCHEMA, SessionConfig::default());
    assert!(drain(&mut s, now).is_empty());
    s.handle(now, welcome());
    assert_eq!(s.state(), &SessionState::Lobby);
}

#[test]
fn room_specs_build_what_they_say() {
    let spec = RoomSpec::new("duel")
        .game("arena")
        .visibility(Visibility::Private)
        .max_players(2)
        .option("tick_rate", "20")
        .join_option("team", "red");
    let ClientMessage::CreateRoom(c) = Request::CreateRoom(spec).into_message(7) else {
        panic!("a create")
    };
    assert_eq!(c.request_id, 7);
    assert_eq!(c.game.as_deref(), Some("arena"));
    assert_eq!((c.visibility, c.max_players), (Visibility::Private, 2));
    assert_eq!(c.options.0.get("tick_rate").map(String::as_str), Some("20"));
    assert_eq!(c.join_as, Some(Role::Player));
    assert_eq!(
        c.join_options.0.get("team").map(String::as_str),
        Some("red")
    );
}
