//! Room shards end to end: a session moves to the shard of each room it
//! joins (room A on one shard, room B on the other, and back), and on every
//! shard its inputs reach the room, its updates apply with good checksums,
//! its connection stays counted once, and a shutdown still closes it with
//! its reason.

mod support;

use std::time::Duration;

use support::{Client, TestServer, WALK_RIGHT, avatar, code_of};
use tickwire_shared::ids::RoomId;
use tickwire_shared::protocol::*;
use tickwire_shared::tick::Tick;

fn room_of(answer: Result<ServerMessage, ErrorMessage>) -> RoomInfo {
    match answer {
        Ok(ServerMessage::RoomCreated(c)) => c.room,
        other => panic!("room not created: {other:?}"),
    }
}

/// Joins `room`, walks right for a while, and checks the room applied the
/// inputs (the avatar moves at full speed) and every update applied.
async fn play_in(client: &mut Client, room: RoomId) {
    let joined = client
        .join(RoomTarget::Id(room), Role::Player)
        .await
        .expect("joins");
    let me = client.player.expect("welcomed");
    client.until_tick(Tick(joined.tick.0 + 2)).await;
    for _ in 0..15 {
        client.input(WALK_RIGHT).await;
        client.recv().await.expect("connected");
    }
    let latest = client.replica().latest().expect("a world").tick;
    let world = client.until_tick(Tick(latest.0 + 5)).await;
    let view = avatar(&world, me);
    assert!(
        (view.velocity.x - 200.0).abs() < 1.0 || view.position.x >= 999.0,
        "inputs reached the room after moving: {view:?}"
    );
    assert!(
        client.replica_errors.is_empty(),
        "{:?}",
        client.replica_errors
    );
    let left = client
        .request(|request_id| ClientMessage::LeaveRoom(LeaveRoom { request_id }))
        .await;
    assert!(matches!(left, Ok(ServerMessage::Left(_))), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_follow_their_rooms_across_shards() {
    let server = TestServer::start_with(|c| {
        c.shards = 2;
        // Room a waits empty while the traveller is in b.
        c.timeouts.empty_room_ms = 60_000;
    })
    .await;
    let mut host = Client::greeted(&server, "host").await;
    // Two rooms: the second goes to the other (emptier) shard.
    let a = room_of(host.create_room("a", Visibility::Public, 4, None).await);
    let b = room_of(host.create_room("b", Visibility::Public, 4, None).await);

    let mut resident = Client::greeted(&server, "resident").await;
    resident
        .join(RoomTarget::Id(b.id), Role::Player)
        .await
        .expect("resident joins b");
    let mut traveller = Client::greeted(&server, "traveller").await;
    play_in(&mut traveller, a.id).await;
    play_in(&mut traveller, b.id).await;
    play_in(&mut traveller, a.id).await;

    // The resident saw the traveller come and go with good checksums.
    let latest = resident.replica().latest().map_or(0, |w| w.tick.0);
    resident.until_tick(Tick(latest + 10)).await;
    assert!(resident.replica_errors.is_empty());

    // One move per join (the resident's, the traveller's three); every
    // connection counted once wherever it runs.
    assert_eq!(server.metric("tickwire_session_moves_total").await, 4.0);
    // On its room's shard, each one's room read its connection (the
    // traveller's leaves were carried out by the room itself).
    assert_eq!(server.metric("tickwire_sessions_attached_total").await, 4.0);
    assert_eq!(server.metric("tickwire_connections").await, 3.0);
    // On their rooms' shards, the rooms wrote the updates to the sockets
    // themselves; the sessions sent the ones before each move.
    let sent = server.metric("tickwire_updates_sent_total").await;
    let direct = server.metric("tickwire_updates_direct_total").await;
    assert!(
        direct > 0.5 * sent && direct <= sent,
        "rooms wrote {direct} of {sent} updates themselves"
    );

    // A session on a shard still gets the shutdown's close reason.
    traveller
        .join(RoomTarget::Id(b.id), Role::Player)
        .await
        .expect("joins b again");
    let stopping = tokio::spawn(server.stop());
    for client in [&mut traveller, &mut resident] {
        let ending = tokio::time::timeout(Duration::from_secs(5), client.ending())
            .await
            .expect("closed in time");
        assert_eq!(
            ending.code,
            Some(code_of(CloseReason::ServerShutdown)),
            "{ending:?}"
        );
    }
    stopping.await.expect("stop task").expect("clean shutdown");
}
