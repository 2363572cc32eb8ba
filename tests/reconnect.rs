//! The client library reconnects by itself: through a proxy that cuts,
//! refuses and black-holes connections (the ways real networks fail), and
//! over QUIC, a player's client sees `Reconnecting` then `Resumed` with
//! the same player id, seat and world (the next update a delta against
//! the world it kept, every checksum verified), or `Lost` when it cannot
//! get back within the server's grace.

mod support;

use std::time::Duration;

use support::bots::{any_port, pinned};
use support::proxy::Proxy;
use support::{TestServer, WAIT};
use tickwire_client::{
    Client, ClientError, ClientTls, Event, LostReason, RoomSpec, RoomTarget, SessionConfig,
    SessionError,
};
use tickwire_shared::arena::ArenaInput;
use tickwire_shared::ids::{PlayerId, RoomId};
use tickwire_shared::protocol::Role;

/// Plays `updates` updates (one input each), failing on anything but
/// updates and pings.
async fn play(client: &mut Client, updates: usize) {
    let play = async {
        let mut seen = 0;
        while seen < updates {
            match client.next_event().await.expect("connection up") {
                Event::Update(_) => {
                    seen += 1;
                    let input = ArenaInput {
                        move_x: 1.0,
                        ..ArenaInput::default()
                    };
                    client.send_input(&input).await.expect("input");
                }
                Event::UpdateFailed(e) => panic!("update failed: {e}"),
                Event::Rtt(_) => {}
                other => panic!("unexpected while playing: {other:?}"),
            }
        }
    };
    tokio::time::timeout(WAIT, play)
        .await
        .expect("updates in time");
}

/// Reads until the client resumes; returns the attempts seen and the
/// event's room, after and attempts. Fails on `Lost` or anything else
/// unexpected.
async fn until_resumed(client: &mut Client) -> (Vec<u32>, RoomId, Duration) {
    let mut attempts = Vec::new();
    let wait = async {
        loop {
            match client.next_event().await.expect("the client stays usable") {
                Event::Reconnecting { attempt, .. } => {
                    assert!(client.is_reconnecting());
                    attempts.push(attempt);
                }
                Event::Resumed {
                    room: Some(joined),
                    after,
                    attempts: made,
                } => {
                    assert!(made as usize >= attempts.len());
                    return (joined.room.id, after);
                }
                // Over QUIC a datagram may overtake the resume.
                Event::Update(_) | Event::UpdateFailed(_) | Event::Rtt(_) => {}
                other => panic!("unexpected while reconnecting: {other:?}"),
            }
        }
    };
    let (room, after) = tokio::time::timeout(WAIT, wait)
        .await
        .expect("resumed in time");
    (attempts, room, after)
}

/// The first update after a resume: it must be a delta against the world
/// the client kept, and apply with its checksum verified.
async fn first_update_is_a_delta(client: &mut Client) {
    let first = tokio::time::timeout(WAIT, async {
        loop {
            match client.next_event().await.expect("up") {
                Event::Update(update) => return update,
                Event::UpdateFailed(e) => panic!("update failed: {e}"),
                _ => {}
            }
        }
    })
    .await
    .expect("an update in time");
    assert!(!first.full, "a delta against the kept world: {first:?}");
}

async fn arena_room(server: &TestServer) -> (Client, RoomId) {
    let mut host = Client::connect(&server.ws_url(), "host")
        .await
        .expect("connects");
    let room = host
        .create_room(RoomSpec::new("drops"))
        .await
        .expect("room")
        .room
        .id;
    (host, room)
}

/// Bob, through `url`, seated in `room` and playing.
async fn bob_playing(url: &str, room: RoomId) -> Client {
    bob_playing_with(Client::builder(url).name("bob"), room).await
}

async fn bob_playing_with(builder: tickwire_client::ClientBuilder, room: RoomId) -> Client {
    let mut bob = builder.connect().await.expect("connects");
    bob.join(RoomTarget::Id(room), Role::Player)
        .await
        .expect("joins");
    play(&mut bob, 5).await;
    bob
}

async fn players_in(host: &mut Client) -> u16 {
    host.list_rooms(Default::default())
        .await
        .expect("list")
        .first()
        .map_or(0, |r| r.players)
}

#[tokio::test]
async fn a_cut_connection_comes_back_with_its_seat_world_and_player_id() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (mut host, room) = arena_room(&server).await;
    let mut bob = bob_playing(&proxy.ws_url(), room).await;
    let player = bob.player();

    proxy.cut();
    let (attempts, back_in, after) = until_resumed(&mut bob).await;
    assert_eq!(attempts, [1], "one attempt: the proxy lets it through");
    assert_eq!(back_in, room);
    assert_eq!(bob.player(), player, "the same player id");
    assert!(after < Duration::from_secs(2), "back in {after:?}");
    assert_eq!(proxy.forwarded(), 2, "a second connection");
    first_update_is_a_delta(&mut bob).await;
    play(&mut bob, 30).await;
    assert_eq!(players_in(&mut host).await, 2, "one seat, not two");

    // And again: each resume issued a fresh token, which the next uses.
    proxy.cut();
    let (_, back_in, _) = until_resumed(&mut bob).await;
    assert_eq!((back_in, bob.player()), (room, player));
    play(&mut bob, 10).await;
    assert_eq!(
        server
            .metric("tickwire_resumes_total{reason=\"resumed\"}")
            .await,
        2.0,
        "the server counts both"
    );
}

#[tokio::test]
async fn calls_wait_out_a_reconnection_and_work_after_it() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (_host, room) = arena_room(&server).await;
    let mut bob = bob_playing(&proxy.ws_url(), room).await;

    // The path is down for a while: attempts fail and back off.
    proxy.refuse(true);
    proxy.cut();
    let mut attempts = 0;
    while attempts < 3 {
        match tokio::time::timeout(WAIT, bob.next_event())
            .await
            .expect("in time")
            .expect("usable")
        {
            Event::Reconnecting { attempt, wait, .. } => {
                attempts = attempt;
                assert!(wait <= Duration::from_secs(5));
            }
            other => panic!("unexpected: {other:?}"),
        }
    }
    // Meanwhile: inputs are dropped quietly, requests refused at once.
    bob.send_input(&ArenaInput::default())
        .await
        .expect("an input while away is dropped, not an error");
    assert!(matches!(
        bob.list_rooms(Default::default()).await,
        Err(ClientError::Session(SessionError::Reconnecting))
    ));
    assert!(proxy.refused() >= 2, "the attempts reached the proxy");

    proxy.refuse(false);
    let (_, back_in, _) = until_resumed(&mut bob).await;
    assert_eq!(back_in, room);
    let rooms = bob.list_rooms(Default::default()).await.expect("lists");
    assert_eq!(rooms.len(), 1);
    play(&mut bob, 10).await;
}

#[tokio::test]
async fn a_silent_connection_is_given_up_and_resumed_on_a_new_one() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (mut host, room) = arena_room(&server).await;
    let mut bob = bob_playing_with(
        Client::builder(proxy.ws_url())
            .name("bob")
            .session_config(SessionConfig {
                silence_timeout: Some(Duration::from_millis(600)),
                ..SessionConfig::default()
            }),
        room,
    )
    .await;
    let player = bob.player();

    // No FIN, no RST: only silence. The client notices, and its new
    // connection takes the seat over from the old one, which the server
    // still thinks alive.
    proxy.black_hole(true);
    let reconnecting = tokio::time::timeout(WAIT, async {
        loop {
            if let Event::Reconnecting { attempt, cause, .. } =
                bob.next_event().await.expect("usable")
            {
                return (attempt, cause);
            }
        }
    })
    .await
    .expect("the silence is noticed");
    assert_eq!(reconnecting, (1, None));
    proxy.black_hole(false);
    let (_, back_in, _) = until_resumed(&mut bob).await;
    assert_eq!((back_in, bob.player()), (room, player));
    play(&mut bob, 10).await;
    assert_eq!(players_in(&mut host).await, 2);
}

#[tokio::test]
async fn a_client_that_cannot_get_back_within_the_grace_is_lost() {
    let server = TestServer::start_with(|c| c.timeouts.reconnect_grace_ms = 1_500).await;
    let proxy = Proxy::start(server.addr).await;
    let (mut host, room) = arena_room(&server).await;
    let mut bob = bob_playing(&proxy.ws_url(), room).await;

    proxy.refuse(true);
    proxy.cut();
    let started = tokio::time::Instant::now();
    let lost = tokio::time::timeout(WAIT, async {
        loop {
            match bob.next_event().await.expect("usable until lost") {
                Event::Lost(reason) => return reason,
                Event::Reconnecting { .. } => {}
                other => panic!("unexpected: {other:?}"),
            }
        }
    })
    .await
    .expect("given up in time");
    let took = started.elapsed();
    assert!(
        matches!(lost, LostReason::GaveUp { attempts } if attempts >= 2),
        "{lost:?}"
    );
    assert!(!lost.connected());
    assert!(
        took >= Duration::from_millis(1_400) && took < Duration::from_millis(3_000),
        "tried for the grace: {took:?}"
    );
    assert!(matches!(bob.next_event().await, Err(ClientError::Lost)));
    // The seat was freed when the grace ran out.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(players_in(&mut host).await, 1);
}

#[tokio::test]
async fn a_quic_client_resumes_after_its_connection_drops() {
    let server = TestServer::start_with(|c| c.quic_bind = any_port()).await;
    let (mut host, room) = arena_room(&server).await;
    let tls: ClientTls = pinned(&server);
    let mut bob = bob_playing_with(
        Client::builder(server.quic_url()).name("bob").tls(tls),
        room,
    )
    .await;
    let player: PlayerId = bob.player();

    bob.drop_connection();
    let (attempts, back_in, _) = until_resumed(&mut bob).await;
    assert_eq!(attempts, [1]);
    assert_eq!((back_in, bob.player()), (room, player));
    assert_eq!(bob.transport(), "quic");
    let played = tokio::time::timeout(WAIT, async {
        let mut applied = 0;
        while applied < 30 {
            match bob.next_event().await.expect("up") {
                Event::Update(_) => applied += 1,
                Event::UpdateFailed(tickwire_shared::client::ReplicaError::Stale { .. }) => {}
                Event::UpdateFailed(e) => panic!("update failed: {e}"),
                _ => {}
            }
        }
    })
    .await;
    assert!(played.is_ok(), "updates after the resume");
    assert_eq!(players_in(&mut host).await, 2);
}
