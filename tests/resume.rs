//! Resume over real sockets: a player whose connection drops keeps its
//! seat; a new connection with its resume token gets the same player id
//! and seat back (the world rebuilt, every checksum verified), the game
//! hears it dropped and came back, and a second connection presenting a
//! live token replaces the first, which is closed with `Replaced`.

mod support;

use std::time::Duration;

use support::TestServer;
use tickwire_client::{Client, Event, RoomSpec, RoomTarget};
use tickwire_shared::chat;
use tickwire_shared::protocol::{CloseReason, Role};

const WAIT: Duration = Duration::from_secs(5);

async fn chat_client(server: &TestServer, name: &str) -> Client {
    support::game_client(server, name, chat::SCHEMA).await
}

/// Reads until an update brings the world to a tick after `after`.
async fn world_after(client: &mut Client, after: u32) -> u32 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(world) = client.world().filter(|w| w.tick.0 > after) {
            return world.tick.0;
        }
        match tokio::time::timeout_at(deadline, client.next_event())
            .await
            .expect("updates in time")
            .expect("open")
        {
            Event::UpdateFailed(e) => panic!("an update failed: {e:?}"),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn a_dropped_player_comes_back_to_its_seat_and_a_live_one_is_replaced() {
    let server = TestServer::start_with(|c| c.timeouts.idle_ms = 60_000).await;
    let mut ann = chat_client(&server, "ann").await;
    let room = ann
        .create_room(RoomSpec::new("talk").game("chat"))
        .await
        .expect("room")
        .room
        .id;
    let mut bob = chat_client(&server, "bob").await;
    bob.join(RoomTarget::Id(room), Role::Player)
        .await
        .expect("bob joins");
    let tick = world_after(&mut bob, 0).await;
    let (player, token) = (bob.player(), bob.resume_token().expect("a token"));

    // Bob's connection drops without a word.
    drop(bob);
    let dropped = ann
        .wait_for_event("member_dropped", WAIT)
        .await
        .expect("the game hears of the drop");
    assert_eq!(
        dropped.data::<chat::Presence>().expect("json").player,
        player.0
    );
    assert_eq!(
        ann.list_rooms(Default::default()).await.expect("list")[0].players,
        2,
        "the seat waits"
    );

    // Bob is back, with his token: the same player, the same seat.
    let mut back = Client::builder(server.ws_url())
        .name("bob")
        .schema(chat::SCHEMA)
        .resume(token)
        .connect()
        .await
        .expect("reconnects");
    assert_eq!(back.player(), player, "the same player id");
    let new_token = back.resume_token().expect("a new token");
    assert_ne!(new_token, token, "tokens are single-use");
    let later = world_after(&mut back, tick).await;
    assert!(later > tick);
    assert_eq!(back.room().map(|j| j.room.id), Some(room));
    ann.wait_for_event("member_back", WAIT)
        .await
        .expect("the game hears of the return");

    // A second connection with the live token takes the seat over; the
    // first is closed with Replaced.
    let mut third = Client::builder(server.ws_url())
        .name("bob")
        .schema(chat::SCHEMA)
        .resume(new_token)
        .connect()
        .await
        .expect("connects");
    assert_eq!(third.player(), player);
    let deadline = tokio::time::Instant::now() + WAIT;
    let closed = loop {
        match tokio::time::timeout_at(deadline, back.next_event())
            .await
            .expect("the first connection ends in time")
        {
            Ok(Event::Closed(closed)) => break closed.reason,
            Ok(_) => {}
            Err(e) => panic!("closed with a reason, not {e:?}"),
        }
    };
    assert_eq!(closed, Some(CloseReason::Replaced));
    world_after(&mut third, later).await;
    assert_eq!(
        server
            .metric("tickwire_sessions_closed_total{reason=\"replaced\"}")
            .await,
        1.0
    );
    server.stop().await.expect("clean stop");
}

/// A storm: every player of 8 arena rooms of 16 (128 connections; set
/// `TICKWIRE_STORM_ROOMS` for more) drops at once and all come back with
/// their tokens within the grace, each to its own seat, its world rebuilt
/// with every checksum right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_drops_all_resume_within_the_grace() {
    let rooms: usize = std::env::var("TICKWIRE_STORM_ROOMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    const PLAYERS: usize = 16;
    let server = TestServer::start_with(|c| {
        c.timeouts.idle_ms = 60_000;
        c.limits.max_connections_per_ip = 4_096;
        c.limits.max_pending_handshakes_per_ip = 1_024;
    })
    .await;
    let url = server.ws_url();
    let mut players = Vec::new();
    for r in 0..rooms {
        let mut host = Client::builder(&url)
            .name(format!("host{r}"))
            .connect()
            .await
            .expect("connects");
        let room = host
            .create_room(RoomSpec::new(format!("storm {r}")).max_players(PLAYERS as u16))
            .await
            .expect("a room")
            .room
            .id;
        players.push((host, room));
        for p in 1..PLAYERS {
            let mut client = Client::builder(&url)
                .name(format!("p{r}-{p}"))
                .connect()
                .await
                .expect("connects");
            client
                .join(RoomTarget::Id(room), Role::Player)
                .await
                .expect("joins");
            players.push((client, room));
        }
    }
    // Everyone has a world, then everyone drops at once.
    let mut seats = Vec::new();
    for (client, room) in &mut players {
        world_after(client, 0).await;
        seats.push((
            client.player(),
            client.resume_token().expect("a token"),
            *room,
        ));
    }
    drop(players);

    let started = tokio::time::Instant::now();
    let comebacks = seats.into_iter().map(|(player, token, room)| {
        let url = url.clone();
        tokio::spawn(async move {
            let mut back = Client::builder(&url)
                .name("back")
                .resume(token)
                .connect()
                .await
                .expect("reconnects");
            assert_eq!(back.player(), player, "its own seat");
            world_after(&mut back, 0).await;
            assert_eq!(back.room().map(|j| j.room.id), Some(room));
            back
        })
    });
    let mut back = Vec::new();
    for comeback in comebacks.collect::<Vec<_>>() {
        back.push(comeback.await.expect("resumed"));
    }
    let took = started.elapsed();
    assert_eq!(back.len(), rooms * PLAYERS);
    assert!(took < Duration::from_secs(30), "within the grace: {took:?}");
    eprintln!("{} players resumed in {took:?}", back.len());
    assert_eq!(
        server.metric("tickwire_players").await,
        (rooms * PLAYERS) as f64,
        "every seat taken again, none twice"
    );
    server.stop().await.expect("clean stop");
}
