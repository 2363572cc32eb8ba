//! The game API in virtual time: hooks, the context's actions and the
//! order events reach a game, with the chat game and a recording game.

use std::time::Duration;

use serde_json::{Value, json};
use tickwire_shared::chat::{Chat, PollResult, Said};
use tickwire_shared::game::{
    Audience, Event, Game, GameError, GameOptions, JoinRequest, PlayerInput, RoomContext,
};
use tickwire_shared::ids::{EntityId, PlayerId, RoomId};
use tickwire_shared::protocol::{
    ClientMessage, CreateRoom, ErrorCode, EventOutcome, EventReply, Inputs, JoinRoom, LeaveReason,
    ListRooms, Metadata, QuickJoin, Role, RoomEvent, RoomFilter, RoomTarget, ServerMessage,
    Visibility,
};
use tickwire_shared::schema::{FieldSchema, KindSchema, Schema};
use tickwire_shared::snapshot::{EntityKind, EntityState, WorldSnapshot};
use tickwire_shared::tick::{Tick, TickRate};

use super::{ClientId, Harness};
use crate::config::ServerConfig;
use crate::session::State;

/// One tick at chat's 10 Hz.
const TICK: Duration = Duration::from_millis(100);

fn greeted<G: Game>(h: &mut Harness<G>, name: &str) -> ClientId {
    let c = h.connect();
    h.hello(c, name);
    assert!(matches!(
        h.received(c).first(),
        Some(ServerMessage::Welcome(_))
    ));
    c
}

fn options(pairs: &[(&str, &str)]) -> GameOptions {
    GameOptions(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

/// Creates a public room with `room_options` and joins it as a player
/// (with `join_options`).
fn create_joining<G: Game>(
    h: &mut Harness<G>,
    c: ClientId,
    room_options: GameOptions,
    join_options: GameOptions,
) -> RoomId {
    h.send(
        c,
        &ClientMessage::CreateRoom(CreateRoom {
            request_id: 1,
            game: None,
            name: "room".into(),
            visibility: Visibility::Public,
            max_players: 8,
            options: room_options,
            join_as: Some(Role::Player),
            join_options,
        }),
    );
    h.advance(TICK);
    h.received(c)
        .into_iter()
        .find_map(|m| match m {
            ServerMessage::Joined(j) => Some(j.room.id),
            _ => None,
        })
        .expect("joined")
}

/// Creates a public room with `room_options` and joins it as a player.
fn create<G: Game>(h: &mut Harness<G>, c: ClientId, room_options: GameOptions) -> RoomId {
    create_joining(h, c, room_options, GameOptions::default())
}

fn join<G: Game>(
    h: &mut Harness<G>,
    c: ClientId,
    room: RoomId,
    role: Role,
    join_options: GameOptions,
) -> Vec<ServerMessage> {
    h.send(
        c,
        &ClientMessage::JoinRoom(JoinRoom {
            request_id: 2,
            target: RoomTarget::Id(room),
            role,
            join_options,
        }),
    );
    h.advance(TICK);
    h.received(c)
}

fn emit<G: Game>(h: &mut Harness<G>, c: ClientId, name: &str, data: Value, ack_id: u32) {
    h.send(
        c,
        &ClientMessage::Event(RoomEvent {
            name: name.into(),
            data: serde_json::to_vec(&data).expect("json"),
            ack_id: Some(ack_id),
        }),
    );
}

/// The server events among `messages`: name and data.
fn events(messages: &[ServerMessage]) -> Vec<(String, Value)> {
    messages
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Event(e) => Some((
                e.name.clone(),
                serde_json::from_slice(&e.data).unwrap_or(Value::Null),
            )),
            _ => None,
        })
        .collect()
}

/// The answer to `ack_id` among `messages`.
fn answer(messages: &[ServerMessage], ack_id: u32) -> Option<EventOutcome> {
    messages.iter().find_map(|m| match m {
        ServerMessage::EventReply(r) if r.ack_id == ack_id => Some(r.outcome.clone()),
        _ => None,
    })
}

fn list<G: Game>(h: &mut Harness<G>, c: ClientId, filter: RoomFilter) -> Vec<RoomId> {
    h.send(
        c,
        &ClientMessage::ListRooms(ListRooms {
            request_id: 9,
            filter,
        }),
    );
    h.received(c)
        .into_iter()
        .find_map(|m| match m {
            ServerMessage::RoomList(l) => Some(l.rooms.iter().map(|r| r.id).collect()),
            _ => None,
        })
        .expect("a list")
}

fn topic(value: &str) -> RoomFilter {
    RoomFilter {
        game: Some("chat".into()),
        metadata: Metadata::from([("topic".to_owned(), value.to_owned())]),
    }
}

#[test]
fn the_chat_owner_emits_sets_metadata_locks_kicks_and_closes() {
    let mut h = Harness::<Chat>::new(ServerConfig::default(), ());
    let (a, b, s, c) = (
        greeted(&mut h, "ann"),
        greeted(&mut h, "bob"),
        greeted(&mut h, "sue"),
        greeted(&mut h, "cat"),
    );
    let room = create(&mut h, a, options(&[("topic", "rust")]));
    join(&mut h, b, room, Role::Player, GameOptions::default());
    join(&mut h, s, room, Role::Spectator, GameOptions::default());
    assert_eq!(
        events(&h.received(a)),
        vec![
            (
                "member_joined".into(),
                json!({"player": h.session(b).player().0, "name": "bob", "cause": ""})
            ),
            (
                "member_joined".into(),
                json!({"player": h.session(s).player().0, "name": "sue", "cause": ""})
            ),
        ],
        "the others hear who came"
    );
    h.received(b);

    // Everyone hears what a member says, the sender too; the sender's
    // answer carries the message number.
    emit(&mut h, b, "say", json!({"text": "hi all"}), 1);
    h.advance(TICK);
    for member in [a, b, s] {
        let got = events(&h.received(member));
        let said: Said = serde_json::from_value(got[0].1.clone()).expect("said");
        assert_eq!(
            (got[0].0.as_str(), said.name.as_str(), said.text.as_str()),
            ("said", "bob", "hi all")
        );
    }
    // (Answers were drained with the events above; ask again.)
    emit(&mut h, b, "say", json!({"text": "again"}), 2);
    h.advance(TICK);
    assert_eq!(
        answer(&h.received(b), 2),
        Some(EventOutcome::Data(br#"{"seq":2}"#.to_vec()))
    );
    h.received(a);
    h.received(s);

    // A whisper reaches one member only.
    let sue = h.session(s).player().0;
    emit(&mut h, a, "whisper", json!({"to": sue, "text": "psst"}), 3);
    h.advance(TICK);
    assert_eq!(events(&h.received(s))[0].0, "whispered");
    assert!(events(&h.received(b)).is_empty());
    h.received(a);

    // Only the owner acts on the room; others get the game's error.
    emit(&mut h, b, "lock", Value::Null, 4);
    h.advance(TICK);
    assert!(matches!(
        answer(&h.received(b), 4),
        Some(EventOutcome::Error { code: ErrorCode::EventRefused, message }) if message.contains("owner")
    ));

    // Metadata: listings and quick-join filter on it.
    assert_eq!(list(&mut h, c, topic("rust")), vec![room]);
    emit(&mut h, a, "topic", json!({"topic": "go"}), 5);
    h.advance(TICK);
    assert_eq!(list(&mut h, c, topic("rust")), Vec::<RoomId>::new());
    assert_eq!(list(&mut h, c, topic("go")), vec![room]);

    // Locked: not listed, not joinable, not quick-joined.
    emit(&mut h, a, "lock", Value::Null, 6);
    h.advance(TICK);
    assert!(list(&mut h, c, topic("go")).is_empty());
    let got = join(&mut h, c, room, Role::Player, GameOptions::default());
    assert!(
        got.iter()
            .any(|m| matches!(m, ServerMessage::Error(e) if e.code == ErrorCode::RoomLocked)),
        "{got:?}"
    );
    h.send(
        c,
        &ClientMessage::QuickJoin(QuickJoin {
            request_id: 3,
            game: Some("chat".into()),
            options: GameOptions::default(),
            metadata: Metadata::from([("topic".to_owned(), "go".to_owned())]),
            join_options: GameOptions::default(),
        }),
    );
    h.advance(TICK);
    let quick = h
        .received(c)
        .into_iter()
        .find_map(|m| match m {
            ServerMessage::Joined(j) => Some(j.room),
            _ => None,
        })
        .expect("quick-joined");
    assert_ne!(quick.id, room, "a new room, not the locked one");
    assert_eq!(quick.game, "chat");
    h.received(a);

    // The owner kicks: the member is told why and is back in the lobby;
    // the others hear it; its seat is free.
    let bob = h.session(b).player().0;
    emit(
        &mut h,
        a,
        "kick",
        json!({"player": bob, "reason": "spam"}),
        7,
    );
    h.advance(TICK);
    let got = h.received(b);
    assert!(
        got.iter().any(|m| matches!(m, ServerMessage::Left(l) if l.reason == LeaveReason::Kicked && l.message == "spam" && l.request_id.is_none())),
        "{got:?}"
    );
    assert_eq!(h.session(b).state(), &State::Lobby);
    let heard = events(&h.received(s));
    assert!(
        heard.contains(&(
            "member_left".into(),
            json!({"player": bob, "name": "bob", "cause": "kicked"})
        )),
        "{heard:?}"
    );
    emit(&mut h, a, "unlock", Value::Null, 8);
    h.advance(TICK);
    let listed = list(&mut h, b, RoomFilter::default());
    assert!(listed.contains(&room));
    let text = h.metrics().render();
    assert!(
        text.contains("tickwire_members_left_total{reason=\"kicked\"} 1"),
        "{text}"
    );

    // The owner closes the room: every member is told, the room is gone.
    h.received(a);
    emit(&mut h, a, "close", Value::Null, 9);
    h.advance(TICK);
    for member in [a, s] {
        let got = h.received(member);
        assert!(
            got.iter().any(|m| matches!(m, ServerMessage::Left(l) if l.reason == LeaveReason::RoomClosed && l.room == room)),
            "{got:?}"
        );
        assert_eq!(h.session(member).state(), &State::Lobby);
    }
    assert!(!h.rooms().contains(&room));
    assert!(!list(&mut h, b, RoomFilter::default()).contains(&room));
}

#[test]
fn a_join_the_game_refuses_says_why_and_frees_the_seat() {
    let mut h = Harness::<Chat>::new(ServerConfig::default(), ());
    let (a, b) = (greeted(&mut h, "ann"), greeted(&mut h, "bob"));
    let password = options(&[("password", "open sesame")]);
    let room = create_joining(&mut h, a, password.clone(), password);
    let got = join(
        &mut h,
        b,
        room,
        Role::Player,
        options(&[("password", "nope")]),
    );
    assert!(
        got.iter().any(|m| matches!(m, ServerMessage::Error(e) if e.code == ErrorCode::JoinRefused && e.message.contains("wrong password"))),
        "{got:?}"
    );
    assert_eq!(h.session(b).state(), &State::Lobby);
    let got = join(
        &mut h,
        b,
        room,
        Role::Player,
        options(&[("password", "open sesame")]),
    );
    assert!(
        got.iter().any(|m| matches!(m, ServerMessage::Joined(_))),
        "{got:?}"
    );
    // A game nobody registered.
    h.send(
        a,
        &ClientMessage::QuickJoin(QuickJoin {
            request_id: 4,
            game: Some("poker".into()),
            options: GameOptions::default(),
            metadata: Metadata::new(),
            join_options: GameOptions::default(),
        }),
    );
    let got = h.received(a);
    assert!(
        got.iter()
            .any(|m| matches!(m, ServerMessage::Error(e) if e.code == ErrorCode::AlreadyInRoom)),
        "in a room: refused before the game is looked up"
    );
    let c = greeted(&mut h, "cat");
    h.send(
        c,
        &ClientMessage::CreateRoom(CreateRoom {
            request_id: 5,
            game: Some("poker".into()),
            name: "x".into(),
            visibility: Visibility::Public,
            max_players: 2,
            options: GameOptions::default(),
            join_as: None,
            join_options: GameOptions::default(),
        }),
    );
    assert!(
        h.received(c)
            .iter()
            .any(|m| matches!(m, ServerMessage::Error(e) if e.code == ErrorCode::UnknownGame))
    );
}

#[test]
fn a_poll_hears_answers_and_timeouts_and_announces_the_result() {
    let mut h = Harness::<Chat>::new(ServerConfig::default(), ());
    let (a, b, c) = (
        greeted(&mut h, "ann"),
        greeted(&mut h, "bob"),
        greeted(&mut h, "cat"),
    );
    let room = create(&mut h, a, GameOptions::default());
    join(&mut h, b, room, Role::Player, GameOptions::default());
    join(&mut h, c, room, Role::Player, GameOptions::default());
    h.received(a);
    emit(
        &mut h,
        a,
        "poll",
        json!({"question": "pizza?", "timeout_ms": 500}),
        1,
    );
    h.advance(TICK);
    // Each player is asked, with an ack id to answer.
    let ask = |got: Vec<ServerMessage>| -> u32 {
        got.into_iter()
            .find_map(|m| match m {
                ServerMessage::Event(e) if e.name == "vote" => e.ack_id,
                _ => None,
            })
            .expect("asked to vote")
    };
    let (for_a, for_b) = (ask(h.received(a)), ask(h.received(b)));
    ask(h.received(c)); // cat never answers
    for (who, id, yes) in [(a, for_a, true), (b, for_b, false)] {
        h.send(
            who,
            &ClientMessage::EventReply(EventReply {
                ack_id: id,
                outcome: EventOutcome::Data(serde_json::to_vec(&yes).expect("json")),
            }),
        );
    }
    h.advance(TICK);
    assert!(
        events(&h.received(c)).is_empty(),
        "no result before the timeout"
    );
    h.advance(Duration::from_millis(500));
    let result = events(&h.received(c))
        .into_iter()
        .find(|(name, _)| name == "poll_result")
        .expect("the result once cat's answer timed out");
    let result: PollResult = serde_json::from_value(result.1).expect("result");
    assert_eq!((result.yes, result.no, result.silent), (1, 1, 1));
    let text = h.metrics().render();
    assert!(
        text.contains("tickwire_event_answers_total{reason=\"answered\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("tickwire_event_answers_total{reason=\"timed_out\"} 1"),
        "{text}"
    );
}

/// A game that records when its hooks run, and emits as it goes.
#[derive(Debug, Default)]
struct Recorder {
    log: Vec<String>,
    /// The last input each step saw.
    seen: u8,
}

impl Game for Recorder {
    type Input = u8;
    type Config = ();
    const NAME: &'static str = "recorder";
    const SCHEMA: Schema = Schema {
        kinds: &[KindSchema {
            name: "seen",
            fields: &[FieldSchema {
                name: "value",
                absolute_order: 4,
                change_order: 2,
            }],
            motion: None,
            lifetime: None,
        }],
    };

    fn new(_: &(), _: &GameOptions, _: u64) -> Result<Self, GameError> {
        Ok(Self::default())
    }

    fn tick_rate(&self) -> TickRate {
        TickRate::new(10).expect("10 Hz")
    }

    fn validate_input(&self, input: u8) -> Result<u8, GameError> {
        Ok(input)
    }

    fn created(&mut self, ctx: &mut RoomContext<'_>) {
        // A quick game: a dropped player's seat waits 1 s, not the
        // server's 30.
        ctx.set_reconnect_grace(Duration::from_secs(1));
    }

    fn join(&mut self, ctx: &mut RoomContext<'_>, join: &JoinRequest<'_>) -> Result<(), GameError> {
        // Emitted before the member is seated: it must still follow its
        // Joined.
        let _ = ctx.emit(Audience::All, "welcome", &join.name);
        Ok(())
    }

    fn event(&mut self, ctx: &mut RoomContext<'_>, event: Event) {
        self.log
            .push(format!("event {} after tick {}", event.name, ctx.tick().0));
        if event.name == "flood" {
            // Ten 200-byte events to everyone, as fast as the room lets it.
            let sent = (0..10)
                .take_while(|_| ctx.emit_bytes(Audience::All, "blob", vec![0; 200]).is_ok())
                .count();
            self.log.push(format!("flood sent {sent}"));
            return;
        }
        let _ = ctx.emit(Audience::One(event.from), "heard", &event.name);
    }

    fn step(&mut self, ctx: &mut RoomContext<'_>, inputs: &[PlayerInput<u8>]) {
        self.seen = inputs.first().map_or(0, |i| i.input);
        self.log.push(format!(
            "step {} with input {}",
            ctx.tick().0 + 1,
            self.seen
        ));
        let _ = ctx.emit(Audience::All, "stepped", &(ctx.tick().0 + 1));
    }

    fn snapshot(&self, out: &mut WorldSnapshot) {
        out.push(EntityState::new(
            EntityId(1),
            EntityKind(0),
            &[i32::from(self.seen)],
        ));
    }
}

#[test]
fn events_reach_the_game_between_ticks_in_arrival_order_and_what_it_emits_precedes_the_update() {
    let mut h = Harness::<Recorder>::new(ServerConfig::default(), ());
    let a = greeted(&mut h, "ann");
    h.send(
        a,
        &ClientMessage::CreateRoom(CreateRoom {
            request_id: 1,
            game: None,
            name: "r".into(),
            visibility: Visibility::Public,
            max_players: 2,
            options: GameOptions::default(),
            join_as: Some(Role::Player),
            join_options: GameOptions::default(),
        }),
    );
    h.advance(TICK);
    let got = h.received(a);
    // The game's welcome, emitted as it seated the member, follows the
    // Joined; nothing of the room precedes it.
    let joined_at = got
        .iter()
        .position(|m| matches!(m, ServerMessage::Joined(_)))
        .expect("joined");
    let welcome_at = got
        .iter()
        .position(|m| matches!(m, ServerMessage::Event(e) if e.name == "welcome"))
        .expect("welcome");
    assert!(joined_at < welcome_at, "{got:?}");
    let room = h.rooms()[0];
    let tick = h.room_tick(room).expect("room").0;

    // Within one tick: input 1, event x, input 2, event y.
    let inputs = |seq: u32, value: u8| {
        ClientMessage::Inputs(Inputs {
            newest_seq: seq,
            inputs: vec![vec![value]],
            ack: None,
        })
    };
    h.send(a, &inputs(1, 1));
    h.send(
        a,
        &ClientMessage::Event(RoomEvent {
            name: "x".into(),
            data: vec![],
            ack_id: None,
        }),
    );
    h.send(a, &inputs(2, 2));
    h.send(
        a,
        &ClientMessage::Event(RoomEvent {
            name: "y".into(),
            data: vec![],
            ack_id: None,
        }),
    );
    h.advance(TICK);
    let log = &h.game(room).expect("game").log;
    let from = log
        .iter()
        .position(|l| l == &format!("event x after tick {tick}"))
        .expect("event x logged");
    assert_eq!(
        log[from..from + 3],
        [
            format!("event x after tick {tick}"),
            format!("event y after tick {tick}"),
            format!("step {} with input 2", tick + 1),
        ],
        "events in arrival order before the next step, which sees the latest input"
    );
    // Every update follows what the game emitted up to and in its step.
    let got = h.received(a);
    let mut stepped = Vec::new();
    for message in &got {
        match message {
            ServerMessage::Event(e) if e.name == "stepped" => {
                stepped.push(serde_json::from_slice::<u32>(&e.data).expect("tick"));
            }
            ServerMessage::Update(u) => {
                assert_eq!(
                    stepped.last(),
                    Some(&u.tick.0),
                    "update {} before its step's event: {got:?}",
                    u.tick.0
                );
            }
            _ => {}
        }
    }
    let heard = got
        .iter()
        .position(|m| matches!(m, ServerMessage::Event(e) if e.name == "heard"))
        .expect("heard");
    let update = got
        .iter()
        .position(|m| matches!(m, ServerMessage::Update(u) if u.tick == Tick(tick + 1)))
        .expect("the update of the next tick");
    assert!(
        heard < update,
        "an answer emitted before step n precedes update n"
    );
    let _ = PlayerId(0);
}

#[test]
fn what_a_room_emits_is_bounded_in_bytes_a_second_and_refusals_are_counted() {
    let mut config = ServerConfig::default();
    config.limits.room_event_bytes_per_second = 1_000;
    let mut h = Harness::<Recorder>::new(config, ());
    let a = greeted(&mut h, "ann");
    let room = create(&mut h, a, GameOptions::default());
    h.received(a);
    let flood = ClientMessage::Event(RoomEvent {
        name: "flood".into(),
        data: vec![],
        ack_id: None,
    });
    h.send(a, &flood);
    h.advance(TICK);
    // 1 000 bytes a second, full at first: four events of 200 bytes and
    // their framing fit, the fifth does not.
    let blobs = h
        .received(a)
        .iter()
        .filter(|m| matches!(m, ServerMessage::Event(e) if e.name == "blob"))
        .count();
    assert_eq!(blobs, 4, "{:?}", h.game(room).map(|g| &g.log));
    assert!(
        h.game(room)
            .expect("game")
            .log
            .contains(&"flood sent 4".to_owned())
    );
    let text = h.metrics().render();
    assert!(
        text.contains("tickwire_emits_refused_total{reason=\"over_budget\"} 1"),
        "{text}"
    );
    // A second later the budget is back.
    h.advance(Duration::from_secs(1));
    h.send(a, &flood);
    h.advance(TICK);
    let log = &h.game(room).expect("game").log;
    assert_eq!(
        log.iter().filter(|l| *l == "flood sent 4").count(),
        2,
        "{log:?}"
    );
}

#[test]
fn a_game_may_keep_dropped_seats_for_less_than_the_server() {
    let mut h = Harness::<Recorder>::new(ServerConfig::default(), ());
    let a = greeted(&mut h, "ann");
    let room = create(&mut h, a, GameOptions::default());
    let b = greeted(&mut h, "bob");
    join(&mut h, b, room, Role::Player, GameOptions::default());
    h.hang_up(b);
    h.advance(TICK * 5);
    let players = |h: &mut Harness<Recorder>| {
        h.send(
            a,
            &ClientMessage::ListRooms(ListRooms {
                request_id: 3,
                filter: RoomFilter::default(),
            }),
        );
        h.received(a)
            .into_iter()
            .find_map(|m| match m {
                ServerMessage::RoomList(l) => Some(l.rooms[0].players),
                _ => None,
            })
            .expect("a list")
    };
    assert_eq!(players(&mut h), 2, "within the room's grace");
    h.advance(Duration::from_millis(1_000));
    assert_eq!(players(&mut h), 1, "the room's 1 s, not the server's 30 s");
}
