//! The game API end to end: one real server hosting the arena and chat,
//! clients on the client library over loopback WebSockets. Emit to one, to
//! all and to all but one; answers that arrive and answers that time out; a
//! join refused with the game's words; kick, lock, metadata (listing and
//! quick-join filter on it) and close; and the event bounds (size, rate,
//! spectators), while a witness player's world keeps every checksum.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::TestServer;
use tickwire_client::{
    Client, ClientError, EmitError, EmitOutcome, ErrorCode, Event, Joined, QuickJoinSpec,
    RoomFilter, RoomSpec, RoomTarget, ServerEvent,
};
use tickwire_shared::arena::{self, ArenaInput, ECHO_EVENT};
use tickwire_shared::chat::{self, PollResult, Said};
use tickwire_shared::protocol::{LeaveReason, Metadata, Role};

/// The longest any single wait here may take.
const WAIT: Duration = Duration::from_secs(5);

async fn chat_client(server: &TestServer, name: &str) -> Client {
    support::game_client(server, name, chat::SCHEMA).await
}

async fn arena_client(server: &TestServer, name: &str) -> Client {
    support::game_client(server, name, arena::SCHEMA).await
}

/// The next event `pick` takes (updates and the like are handled on the
/// way), within [`WAIT`].
async fn next_of<T>(client: &mut Client, mut pick: impl FnMut(Event) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let next = tokio::time::timeout_at(deadline, client.next_event())
            .await
            .expect("the event in time")
            .expect("connection open");
        if let Some(found) = pick(next) {
            return found;
        }
    }
}

/// The next server event no handler took.
async fn next_server_event(client: &mut Client) -> ServerEvent {
    next_of(client, |e| match e {
        Event::Event(event) => Some(event),
        _ => None,
    })
    .await
}

/// The next `Left` the client is told of without asking.
async fn next_left(client: &mut Client) -> tickwire_shared::protocol::Left {
    next_of(client, |e| match e {
        Event::Left(left) => Some(left),
        _ => None,
    })
    .await
}

fn topic(value: &str) -> RoomFilter {
    RoomFilter {
        game: Some("chat".into()),
        metadata: Metadata::from([("topic".to_owned(), value.to_owned())]),
    }
}

async fn listed(client: &mut Client, filter: RoomFilter) -> Vec<u64> {
    client
        .list_rooms(filter)
        .await
        .expect("a list")
        .iter()
        .map(|r| r.id.0)
        .collect()
}

async fn say(client: &mut Client, text: &str) -> u64 {
    let answer: Value = client
        .emit_with_ack("say", &json!({ "text": text }), WAIT)
        .await
        .expect("said");
    answer["seq"].as_u64().expect("a message number")
}

#[tokio::test]
async fn two_games_in_one_server_with_emits_answers_kick_lock_metadata_and_close() {
    // Clients here are driven only when the test talks to them: a long
    // idle limit keeps a quiet one (the arena racer) from being dropped.
    let server = TestServer::start_with(|c| c.timeouts.idle_ms = 60_000).await;

    // The arena (the default game) and chat side by side.
    let mut racer = arena_client(&server, "racer").await;
    let arena_room = racer
        .quick_join(QuickJoinSpec::default())
        .await
        .expect("arena room");
    assert_eq!(arena_room.room.game, "arena");
    let mut ann = chat_client(&server, "ann").await;
    let chat_room: Joined = ann
        .create_room(
            RoomSpec::new("rustaceans")
                .game("chat")
                .option("topic", "rust"),
        )
        .await
        .expect("chat room");
    let room = chat_room.room.id;
    assert_eq!(chat_room.room.game, "chat");
    assert_eq!(chat_room.room.metadata["topic"], "rust");
    let welcome = next_server_event(&mut ann).await;
    assert_eq!(
        (welcome.name(), welcome.data::<String>().expect("topic")),
        ("welcome", "rust".to_owned()),
        "emitted to one: the newcomer"
    );

    // Listing filters by game and metadata; /rooms shows both games.
    let all = RoomFilter::default();
    assert_eq!(listed(&mut racer, all.clone()).await.len(), 2);
    let only_chat = RoomFilter {
        game: Some("chat".into()),
        ..RoomFilter::default()
    };
    assert_eq!(listed(&mut racer, only_chat).await, vec![room.0]);
    assert_eq!(listed(&mut racer, topic("rust")).await, vec![room.0]);
    assert!(listed(&mut racer, topic("go")).await.is_empty());
    let (status, body) = server.get("/rooms").await;
    assert_eq!(status, 200);
    let rooms: Value = serde_json::from_str(&body).expect("json");
    let games: Vec<&str> = rooms
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["game"].as_str().unwrap_or_default())
        .collect();
    assert!(
        games.contains(&"arena") && games.contains(&"chat"),
        "{body}"
    );

    // Quick-join by game and metadata finds the chat room.
    let mut bob = chat_client(&server, "bob").await;
    let quick = bob
        .quick_join(
            QuickJoinSpec::default()
                .game("chat")
                .metadata("topic", "rust"),
        )
        .await
        .expect("quick-joined");
    assert_eq!(quick.room.id, room);
    let mut cat = chat_client(&server, "cat").await;
    cat.join(RoomTarget::Id(room), Role::Player)
        .await
        .expect("cat joins");
    // All but one: the others hear of a newcomer, the newcomer does not.
    let heard = next_server_event(&mut ann).await;
    assert_eq!(heard.name(), "member_joined");
    let heard = next_server_event(&mut ann).await;
    assert_eq!(heard.data::<Value>().expect("json")["name"], "cat");
    assert_eq!(next_server_event(&mut bob).await.name(), "welcome");
    let heard = next_server_event(&mut bob).await;
    assert_eq!(
        (
            heard.name(),
            heard.data::<Value>().expect("json")["name"].clone()
        ),
        ("member_joined", json!("cat"))
    );
    assert_eq!(next_server_event(&mut cat).await.name(), "welcome");

    // To all, with the game's answer; to one (a whisper): cat never hears
    // it, so cat's next event is the message said after it.
    let seq = say(&mut bob, "hello").await;
    for member in [&mut ann, &mut bob, &mut cat] {
        let said: Said = next_server_event(member).await.data().expect("said");
        assert_eq!(
            (said.seq, said.name.as_str(), said.text.as_str()),
            (seq, "bob", "hello")
        );
    }
    let whisper = json!({ "to": ann.player().0, "text": "psst" });
    let _: Value = bob
        .emit_with_ack("whisper", &whisper, WAIT)
        .await
        .expect("whispered");
    let got = next_server_event(&mut ann).await;
    assert_eq!(got.name(), "whispered");
    let after = say(&mut bob, "after").await;
    let said: Said = next_server_event(&mut cat).await.data().expect("said");
    assert_eq!(said.seq, after, "the whisper went to ann only");
    for member in [&mut ann, &mut bob] {
        next_server_event(member).await;
    }

    // The game refuses with its words; the client gets them as the error.
    match bob
        .emit_with_ack::<_, Value>("lock", &Value::Null, WAIT)
        .await
    {
        Err(EmitError::Refused { code, message }) => {
            assert_eq!(code, ErrorCode::EventRefused);
            assert!(message.contains("owner"), "{message}");
        }
        other => panic!("refused, not {other:?}"),
    }

    // A poll: the game asks every player and waits at most 1.5 s. Ann
    // answers yes, bob no; cat holds the question and never answers.
    ann.on("vote", |event| {
        let _ = event.answer(&true);
    });
    bob.on("vote", |event| {
        let _ = event.answer(&false);
    });
    let _: Value = ann
        .emit_with_ack(
            "poll",
            &json!({ "question": "pizza?", "timeout_ms": 1500 }),
            WAIT,
        )
        .await
        .expect("poll started");
    // Every client is driven while it waits (handlers run then).
    let cat_waits = async {
        let mut held = cat
            .wait_for_event("vote", WAIT)
            .await
            .expect("cat is asked");
        let held_ack = held.take_ack().expect("the game waits for an answer");
        let result = cat.wait_for_event("poll_result", WAIT).await;
        drop(held_ack); // too late: the game no longer waits
        result
    };
    let (for_ann, for_bob, for_cat) = tokio::join!(
        ann.wait_for_event("poll_result", WAIT),
        bob.wait_for_event("poll_result", WAIT),
        cat_waits
    );
    for result in [for_ann, for_bob, for_cat] {
        let result: PollResult = result
            .expect("the result, once cat's answer timed out")
            .data()
            .expect("result");
        assert_eq!((result.yes, result.no, result.silent), (1, 1, 1));
    }
    let answers = "tickwire_event_answers_total{reason=\"timed_out\"}";
    assert_eq!(server.metric(answers).await, 1.0);

    // A join the game refuses says why.
    let mut dan = chat_client(&server, "dan").await;
    let mut owner = chat_client(&server, "owner").await;
    let locked_room = owner
        .create_room(
            RoomSpec::new("secret")
                .game("chat")
                .option("password", "sesame")
                .join_option("password", "sesame"),
        )
        .await
        .expect("password room");
    let mut wrong = tickwire_shared::game::GameOptions::default();
    wrong.0.insert("password".into(), "guess".into());
    match dan
        .join_with(RoomTarget::Id(locked_room.room.id), Role::Player, wrong)
        .await
    {
        Err(ClientError::Refused(error)) => {
            assert_eq!(error.code, ErrorCode::JoinRefused);
            assert!(
                error.message.contains("wrong password"),
                "{}",
                error.message
            );
        }
        other => panic!("refused, not {other:?}"),
    }

    // Lock: not listed, not joinable; unlocked again, dan gets in.
    let _: bool = ann
        .emit_with_ack("lock", &Value::Null, WAIT)
        .await
        .expect("locked");
    assert!(
        !listed(&mut dan, RoomFilter::default())
            .await
            .contains(&room.0)
    );
    match dan.join(RoomTarget::Id(room), Role::Player).await {
        Err(ClientError::Refused(error)) => assert_eq!(error.code, ErrorCode::RoomLocked),
        other => panic!("locked, not {other:?}"),
    }
    let _: bool = ann
        .emit_with_ack("unlock", &Value::Null, WAIT)
        .await
        .expect("unlocked");
    dan.join(RoomTarget::Id(room), Role::Spectator)
        .await
        .expect("dan watches");

    // Metadata set by the game moves the room between filters.
    let _: bool = ann
        .emit_with_ack("topic", &json!({ "topic": "go" }), WAIT)
        .await
        .expect("topic set");
    assert!(listed(&mut racer, topic("rust")).await.is_empty());
    assert_eq!(listed(&mut racer, topic("go")).await, vec![room.0]);

    // Kick: bob is told why, is back in the lobby, and may list rooms.
    let _: bool = ann
        .emit_with_ack(
            "kick",
            &json!({ "player": bob.player().0, "reason": "spam" }),
            WAIT,
        )
        .await
        .expect("kicked");
    let left = next_left(&mut bob).await;
    assert_eq!(
        (left.reason, left.message.as_str(), left.room),
        (LeaveReason::Kicked, "spam", room)
    );
    assert!(bob.room().is_none());
    assert!(!listed(&mut bob, RoomFilter::default()).await.is_empty());

    // Close: every member is told, the room is gone.
    let _: bool = ann
        .emit_with_ack("close", &Value::Null, WAIT)
        .await
        .or_else(|e| match e {
            // The room may be gone before the answer goes out.
            EmitError::TimedOut => Ok(true),
            other => Err(other),
        })
        .expect("closed");
    for member in [&mut cat, &mut dan] {
        let left = next_left(member).await;
        assert_eq!((left.reason, left.room), (LeaveReason::RoomClosed, room));
    }
    assert!(
        !listed(&mut racer, RoomFilter::default())
            .await
            .contains(&room.0)
    );
    assert_eq!(
        server
            .metric("tickwire_members_left_total{reason=\"kicked\"}")
            .await,
        1.0
    );

    // The arena room ran all along.
    let tick = racer.room().expect("in the arena").tick;
    let deadline = tokio::time::Instant::now() + WAIT;
    while racer.world().is_none_or(|w| w.tick.0 < tick.0 + 10) {
        tokio::time::timeout_at(deadline, racer.next_event())
            .await
            .expect("updates")
            .expect("open");
    }
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn event_bounds_refuse_with_typed_errors_while_a_witness_keeps_every_checksum() {
    let server = TestServer::start().await;
    let mut witness = arena_client(&server, "witness").await;
    let joined = witness
        .create_room(RoomSpec::new("bounded"))
        .await
        .expect("room");
    let room = RoomTarget::Id(joined.room.id);
    let mut noisy = arena_client(&server, "noisy").await;
    noisy.join(room, Role::Player).await.expect("noisy joins");
    let mut watcher = arena_client(&server, "watcher").await;
    watcher
        .join(room, Role::Spectator)
        .await
        .expect("watcher joins");

    // The game answers echo with the data.
    let echoed: Value = noisy
        .emit_with_ack(ECHO_EVENT, &json!({"n": 1}), WAIT)
        .await
        .expect("echoed");
    assert_eq!(echoed, json!({"n": 1}));

    // Too large: data over 3 KiB is refused by the server (a name over 64
    // bytes never leaves the client library; the harness tests the
    // server's check of names).
    match noisy
        .emit_with_ack_bytes(ECHO_EVENT, vec![b' '; 3073], WAIT)
        .await
    {
        Err(EmitError::Refused { code, .. }) => assert_eq!(code, ErrorCode::EventTooLarge),
        other => panic!("too large, not {other:?}"),
    }
    assert!(matches!(
        noisy.emit(&"x".repeat(65), &1).await,
        Err(ClientError::Session(_))
    ));
    // Spectators may not emit in the arena.
    match watcher
        .emit_with_ack::<_, Value>(ECHO_EVENT, &1, WAIT)
        .await
    {
        Err(EmitError::Refused { code, .. }) => assert_eq!(code, ErrorCode::NotAPlayer),
        other => panic!("not a player, not {other:?}"),
    }

    // A flood of 100 events at once: the burst (40) goes through, most of
    // the rest is refused with RateLimited (the allowance refills at 20 a
    // second while they go out), and the session goes on.
    let mut acks = Vec::new();
    for n in 0..100 {
        acks.push(
            noisy
                .emit_with_ack_id(ECHO_EVENT, &n, WAIT)
                .await
                .expect("sent"),
        );
    }
    let (mut answered, mut limited) = (0, 0);
    let deadline = tokio::time::Instant::now() + WAIT;
    while answered + limited < acks.len() {
        let next = tokio::time::timeout_at(deadline, noisy.next_event())
            .await
            .expect("every emit ends in time")
            .expect("open");
        match next {
            Event::Answer {
                outcome: EmitOutcome::Answered(_),
                ..
            } => answered += 1,
            Event::Answer {
                outcome: EmitOutcome::Refused { code, .. },
                ..
            } => {
                assert_eq!(code, ErrorCode::RateLimited);
                limited += 1;
            }
            Event::Answer { outcome, .. } => panic!("answered or refused, not {outcome:?}"),
            _ => {}
        }
    }
    assert!(
        answered >= 40 && limited >= 50,
        "{answered} answered, {limited} limited"
    );
    assert_eq!(
        server
            .metric("tickwire_events_refused_total{reason=\"event_rate_limited\"}")
            .await,
        limited as f64
    );
    assert_eq!(
        server
            .metric("tickwire_events_refused_total{reason=\"event_from_spectator\"}")
            .await,
        1.0
    );

    // Meanwhile the witness plays on: every update applied, checksums
    // verified, nothing missed.
    let start = witness.world().map_or(0, |w| w.tick.0);
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut failed = 0;
    while witness.world().is_none_or(|w| w.tick.0 < start + 30) {
        let next = tokio::time::timeout_at(deadline, witness.next_event())
            .await
            .expect("updates keep coming")
            .expect("open");
        match next {
            Event::Update(_) => {
                witness
                    .send_input(&ArenaInput {
                        move_x: 1.0,
                        ..ArenaInput::default()
                    })
                    .await
                    .expect("input");
            }
            Event::UpdateFailed(_) => failed += 1,
            _ => {}
        }
    }
    assert_eq!(failed, 0, "every update applied with its checksum");
    // The noisy client is still in: a second later its allowance is back.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let echoed: Value = noisy
        .emit_with_ack(ECHO_EVENT, &"still here", WAIT)
        .await
        .expect("the session went on");
    assert_eq!(echoed, json!("still here"));
    server.stop().await.expect("clean stop");
}
