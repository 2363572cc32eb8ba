//! Playing in a room over real WebSockets: players send inputs and rebuild
//! the world from deltas with every checksum matching, a spectator sees the
//! same world, and custom events are relayed with acknowledgements.

mod support;

use std::time::Duration;

use support::{Client, TestServer, WAIT, WALK_RIGHT, avatar};
use tickwire_shared::arena::{ArenaBot, BotConfig};
use tickwire_shared::protocol::*;
use tickwire_shared::tick::Tick;

/// Plays as a workload bot for `duration`: one input per update received.
async fn play(mut client: Client, bot_index: u64, duration: Duration) -> Client {
    let mut bot = ArenaBot::new(BotConfig::default(), 1, bot_index);
    let deadline = tokio::time::Instant::now() + duration;
    while tokio::time::Instant::now() < deadline {
        if let Some(ServerMessage::Update(_)) = client.recv().await {
            client.input(bot.next_input()).await;
        }
    }
    client
}

/// Reads (without sending inputs) for `duration`.
async fn watch(mut client: Client, duration: Duration) -> Client {
    let deadline = tokio::time::Instant::now() + duration;
    while tokio::time::Instant::now() < deadline {
        client.recv().await.expect("spectator stays connected");
    }
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn players_and_a_spectator_rebuild_the_same_world() {
    let server = TestServer::start().await;
    let mut host = Client::greeted(&server, "p0").await;
    let room = match host
        .create_room("match", Visibility::Public, 8, Some(Role::Player))
        .await
    {
        Ok(ServerMessage::Joined(j)) => j.room,
        other => panic!("{other:?}"),
    };
    let mut players = vec![host];
    for i in 1..4 {
        let mut c = Client::greeted(&server, &format!("p{i}")).await;
        c.join(RoomTarget::Id(room.id), Role::Player)
            .await
            .expect("join");
        players.push(c);
    }
    let mut spectator = Client::greeted(&server, "eye").await;
    let joined = spectator
        .join(RoomTarget::Id(room.id), Role::Spectator)
        .await
        .expect("spectate");
    assert_eq!(joined.room.players, 4);

    let run = Duration::from_secs(3);
    let tasks: Vec<_> = players
        .into_iter()
        .enumerate()
        .map(|(i, c)| tokio::spawn(play(c, i as u64, run)))
        .collect();
    let spectator = tokio::spawn(watch(spectator, run + Duration::from_millis(300)));
    let mut players = Vec::new();
    for t in tasks {
        players.push(t.await.expect("player task"));
    }
    let spectator = spectator.await.expect("spectator task");

    let expected_updates = (run.as_secs_f64() * 30.0) as u32;
    for c in players.iter().chain([&spectator]) {
        assert!(
            c.replica_errors.is_empty(),
            "checksum or decode errors: {:?}",
            c.replica_errors
        );
        assert!(c.errors.is_empty(), "server errors: {:?}", c.errors);
        assert!(
            c.updates * 10 >= expected_updates * 8,
            "only {} of ~{expected_updates} updates",
            c.updates
        );
        // Full snapshots come only at the start (on join, and while a client
        // that was not reading yet had acknowledged nothing); from then on
        // every update is a delta against an acknowledged state.
        let newest = c.replica().latest().expect("world").tick;
        let last_full = c.last_full.expect("the first update is a full snapshot");
        assert!(
            newest.0 - last_full.0 >= 60,
            "full snapshot at {last_full}, newest {newest}: deltas should carry the run"
        );
    }

    // The same tick, rebuilt by every client, is the same world.
    let newest_common = players
        .iter()
        .chain([&spectator])
        .map(|c| c.replica().latest().unwrap().tick)
        .min()
        .unwrap();
    let tick = Tick(newest_common.0 - 2);
    let reference = spectator
        .replica()
        .world_at(tick)
        .expect("spectator holds the tick")
        .clone();
    assert!(reference.len() >= 4, "four avatars at least");
    for c in &players {
        assert_eq!(
            c.replica().world_at(tick),
            Some(&reference),
            "player world differs at {tick}"
        );
        let me = avatar(&reference, c.player.expect("greeted"));
        assert!(me.position.is_finite() && (1..=100).contains(&me.hp));
    }
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn inputs_move_the_player_in_the_replicated_world() {
    let server = TestServer::start().await;
    let mut c = Client::greeted(&server, "mover").await;
    c.create_room("solo", Visibility::Private, 1, Some(Role::Player))
        .await
        .expect("created");
    let start = c.until_tick(Tick(3)).await;
    let me = c.player.unwrap();
    let x0 = avatar(&start, me).position.x;
    for _ in 0..20 {
        c.input(WALK_RIGHT).await;
        c.recv().await;
    }
    let later_tick = Tick(c.replica().latest().unwrap().tick.0 + 10);
    let later = c.until_tick(later_tick).await;
    let moved = avatar(&later, me);
    assert!(
        moved.position.x > x0 || x0 >= 999.0,
        "x {x0} -> {}",
        moved.position.x
    );
    assert!(
        (moved.velocity.x - 200.0).abs() < 1.0,
        "velocity {:?}",
        moved.velocity
    );
    assert!(c.replica_errors.is_empty());
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn events_go_to_the_game_which_answers_echo_and_refuses_the_rest() {
    let server = TestServer::start().await;
    let mut a = Client::greeted(&server, "a").await;
    match a
        .create_room("chat", Visibility::Public, 4, Some(Role::Player))
        .await
    {
        Ok(ServerMessage::Joined(_)) => {}
        other => panic!("{other:?}"),
    };
    // The arena answers "echo" with its data, through the library.
    let echoed: Vec<u32> = a
        .inner()
        .emit_with_ack(tickwire_shared::arena::ECHO_EVENT, &[1, 2, 3], WAIT)
        .await
        .expect("echo answered");
    assert_eq!(echoed, vec![1, 2, 3]);
    // Any other event is refused, with an ack as its answer.
    let refused = a
        .inner()
        .emit_with_ack::<_, ()>("chat", "gg", WAIT)
        .await
        .expect_err("the arena takes only echo");
    assert!(
        matches!(
            refused,
            tickwire_client::EmitError::Refused {
                code: ErrorCode::EventRefused,
                ..
            }
        ),
        "{refused:?}"
    );
    // Raw, the answer carries the sender's ack id.
    let event = RoomEvent {
        name: "echo".into(),
        data: b"gg".to_vec(),
        ack_id: Some(77),
    };
    a.send(&ClientMessage::Event(event)).await;
    let reply = a
        .expect(|m| match m {
            ServerMessage::EventReply(r) if r.ack_id == 77 => Some(r),
            _ => None,
        })
        .await;
    assert_eq!(reply.outcome, EventOutcome::Data(b"gg".to_vec()));

    let bad = RoomEvent {
        name: String::new(),
        data: vec![],
        ack_id: None,
    };
    a.send(&ClientMessage::Event(bad)).await;
    let error = a
        .expect(|m| {
            if let ServerMessage::Error(e) = m {
                Some(e)
            } else {
                None
            }
        })
        .await;
    assert!(
        matches!(
            error.code,
            ErrorCode::InvalidRequest | ErrorCode::EventTooLarge
        ),
        "{error:?}"
    );
    server.stop().await.expect("clean stop");
}
