//! Lobby behaviour over real WebSockets: create, list, join by id and by
//! code, spectate, quick-join, leave, limits, and disposal of empty rooms.

mod support;

use support::{Client, TestServer};
use tickwire_shared::ids::RoomCode;
use tickwire_shared::protocol::*;

fn created(answer: Result<ServerMessage, ErrorMessage>) -> RoomInfo {
    match answer {
        Ok(ServerMessage::RoomCreated(c)) => c.room,
        Ok(ServerMessage::Joined(j)) => j.room,
        other => panic!("room not created: {other:?}"),
    }
}

#[tokio::test]
async fn create_list_join_and_leave() {
    let server = TestServer::start().await;
    let mut host = Client::greeted(&server, "host").await;
    let public = created(host.create_room("open", Visibility::Public, 4, None).await);
    let private = created(
        host.create_room("secret", Visibility::Private, 4, None)
            .await,
    );
    assert!(
        public.code.is_some() && private.code.is_some(),
        "the creator gets the codes"
    );

    let mut guest = Client::greeted(&server, "guest").await;
    let listed = guest.list().await;
    assert_eq!(listed.len(), 1, "private rooms are not listed: {listed:?}");
    assert_eq!(listed[0].id, public.id);
    assert_eq!(listed[0].code, None, "the list never shows codes");

    let joined = guest
        .join(RoomTarget::Id(public.id), Role::Player)
        .await
        .expect("join public by id");
    assert_eq!(joined.room.players, 1);
    assert_eq!(joined.role, Role::Player);
    assert_eq!(joined.tick_rate.hz(), 30);
    assert_eq!(guest.list().await[0].players, 1);

    // Leaving answers Left and frees the seat.
    let left = guest
        .request(|request_id| ClientMessage::LeaveRoom(LeaveRoom { request_id }))
        .await;
    assert!(
        matches!(
            left,
            Ok(ServerMessage::Left(Left {
                reason: LeaveReason::Requested,
                ..
            }))
        ),
        "{left:?}"
    );
    assert_eq!(guest.list().await[0].players, 0);

    // A private room: not by id, yes by code (as a spectator here).
    let by_id = guest.join(RoomTarget::Id(private.id), Role::Player).await;
    assert_eq!(by_id.unwrap_err().code, ErrorCode::RoomNotFound);
    let code = private.code.expect("code");
    let spectating = guest
        .join(RoomTarget::Code(code), Role::Spectator)
        .await
        .expect("join by code");
    assert_eq!(spectating.room.spectators, 1);
    assert_eq!(spectating.room.id, private.id);

    // /rooms shows the public room only.
    let (status, body) = server.get("/rooms").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("\"open\"") && !body.contains("secret"),
        "{body}"
    );
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn full_rooms_unknown_rooms_and_wrong_states_are_refused() {
    let server = TestServer::start_with(|c| c.limits.max_rooms = 2).await;
    let mut a = Client::greeted(&server, "a").await;
    let room = created(
        a.create_room("duo", Visibility::Public, 1, Some(Role::Player))
            .await,
    );

    let mut b = Client::greeted(&server, "b").await;
    let full = b
        .join(RoomTarget::Id(room.id), Role::Player)
        .await
        .unwrap_err();
    assert_eq!(full.code, ErrorCode::RoomFull);
    let unknown = b
        .join(
            RoomTarget::Id(tickwire_shared::ids::RoomId(999)),
            Role::Player,
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.code, ErrorCode::RoomNotFound);
    let bad_code = b
        .join(RoomTarget::Code(RoomCode::from_index(42)), Role::Player)
        .await
        .unwrap_err();
    assert_eq!(bad_code.code, ErrorCode::RoomNotFound);

    let too_big = b
        .create_room("huge", Visibility::Public, 10_000, None)
        .await
        .unwrap_err();
    assert_eq!(too_big.code, ErrorCode::InvalidRequest);
    let nameless = b
        .create_room("  ", Visibility::Public, 4, None)
        .await
        .unwrap_err();
    assert_eq!(nameless.code, ErrorCode::InvalidRequest);
    // Bad game options are the game's to refuse.
    let bad_options = b
        .request(|request_id| {
            ClientMessage::CreateRoom(CreateRoom {
                request_id,
                name: "x".into(),
                visibility: Visibility::Public,
                max_players: 2,
                options: tickwire_shared::game::GameOptions(
                    [("gravity".to_owned(), "1".to_owned())].into(),
                ),
                join_as: None,
                game: None,
                join_options: Default::default(),
            })
        })
        .await
        .unwrap_err();
    assert_eq!(bad_options.code, ErrorCode::BadOptions);

    created(b.create_room("second", Visibility::Public, 4, None).await);
    let third = b
        .create_room("third", Visibility::Public, 4, None)
        .await
        .unwrap_err();
    assert_eq!(third.code, ErrorCode::TooManyRooms);

    // Wrong state: leaving without a room, joining while in one.
    let leave = b
        .request(|request_id| ClientMessage::LeaveRoom(LeaveRoom { request_id }))
        .await
        .unwrap_err();
    assert_eq!(leave.code, ErrorCode::NotInRoom);
    let again = a
        .join(RoomTarget::Id(room.id), Role::Spectator)
        .await
        .unwrap_err();
    assert_eq!(again.code, ErrorCode::AlreadyInRoom);
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn quick_join_fills_a_room_then_opens_another() {
    let server = TestServer::start_with(|c| c.limits.quick_join_room_size = 2).await;
    let mut rooms = Vec::new();
    let mut clients = Vec::new();
    for i in 0..3 {
        let mut c = Client::greeted(&server, &format!("q{i}")).await;
        let answer = c
            .request(|request_id| {
                ClientMessage::QuickJoin(QuickJoin {
                    request_id,
                    game: None,
                    options: Default::default(),
                    metadata: Default::default(),
                    join_options: Default::default(),
                })
            })
            .await;
        let Ok(ServerMessage::Joined(joined)) = answer else {
            panic!("quick join failed: {answer:?}")
        };
        rooms.push(joined.room.id);
        clients.push(c);
    }
    assert_eq!(rooms[0], rooms[1], "the second player fills the first room");
    assert_ne!(
        rooms[1], rooms[2],
        "a full room sends the third to a new one"
    );
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn empty_rooms_are_disposed_after_the_grace_period() {
    let server = TestServer::start().await; // empty_room_ms = 300
    let mut host = Client::greeted(&server, "host").await;
    created(
        host.create_room("brief", Visibility::Public, 4, Some(Role::Player))
            .await,
    );
    assert_eq!(host.list().await.len(), 1);
    host.request(|request_id| ClientMessage::LeaveRoom(LeaveRoom { request_id }))
        .await
        .expect("left");
    let deadline = tokio::time::Instant::now() + support::WAIT;
    while !host.list().await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "room never disposed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(server.metric("tickwire_rooms_disposed_total").await, 1.0);
    assert_eq!(server.metric("tickwire_rooms").await, 0.0);
    server.stop().await.expect("clean stop");
}
