//! The operator API on a real server: every room (private ones too) with
//! its members and tick health, the figures over time, and the actions:
//! kick a member (it is told `Left { Kicked }`) and close a room (every
//! member is told `Left { RoomClosed }` and the room is gone). Without the
//! admin token nothing is shown or done.

mod support;

use std::time::Duration;

use support::{TestServer, WAIT};
use tickwire_client::{Client, Event, RoomSpec, RoomTarget, Visibility};
use tickwire_shared::protocol::{LeaveReason, Role};

/// Reads until the client is told it left its room.
async fn left(client: &mut Client) -> tickwire_shared::protocol::Left {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Event::Left(left) = client.next_event().await.expect("open") {
                return left;
            }
        }
    })
    .await
    .expect("told in time")
}

/// Reads events for `d` (the clients keep up while the test waits).
async fn drive(clients: &mut [&mut Client], d: Duration) {
    let until = tokio::time::Instant::now() + d;
    for client in clients {
        while let Ok(event) = tokio::time::timeout_at(until, client.next_event()).await {
            event.expect("open");
        }
    }
}

#[tokio::test]
async fn operators_see_every_room_and_kick_and_close_with_the_token_only() {
    let server = TestServer::start().await;
    let mut ann = Client::connect(&server.ws_url(), "ann").await.expect("ann");
    let room = ann
        .create_room(RoomSpec::new("secret").visibility(Visibility::Private))
        .await
        .expect("room")
        .room;
    let code = room.code.expect("a private room has a code");
    let mut bob = Client::connect(&server.ws_url(), "bob").await.expect("bob");
    bob.join(RoomTarget::Code(code), Role::Player)
        .await
        .expect("bob joins");
    let mut cat = Client::connect(&server.ws_url(), "cat").await.expect("cat");
    cat.join(RoomTarget::Code(code), Role::Spectator)
        .await
        .expect("cat watches");
    drive(
        &mut [&mut ann, &mut bob, &mut cat],
        Duration::from_millis(600),
    )
    .await;

    // Nothing without the token.
    for (method, path) in [
        ("GET", "/api/admin/rooms".to_owned()),
        ("GET", "/api/admin/history".to_owned()),
        ("POST", format!("/api/admin/rooms/{}/close", room.id.0)),
    ] {
        let (status, _) = support::request_from(server.addr, method, &path, &[], "").await;
        assert_eq!(status, 401, "{method} {path}");
        let (status, _) = support::request_from(
            server.addr,
            method,
            &path,
            &[("Authorization", "Bearer guess")],
            "",
        )
        .await;
        assert_eq!(status, 401, "{method} {path} with a wrong token");
    }
    assert_eq!(server.metric("tickwire_admin_refused_total").await, 6.0);
    assert!(
        server.get("/rooms").await.1 == "[]",
        "the private room is not public"
    );

    // The rooms, private ones included, with members and health.
    let (status, body) = server.operator("GET", "/api/admin/rooms", "").await;
    assert_eq!(status, 200, "{body}");
    let rooms: serde_json::Value = serde_json::from_str(&body).expect("json");
    let listed = &rooms[0];
    assert_eq!(listed["id"], room.id.0);
    assert_eq!(listed["visibility"], "private");
    assert_eq!(listed["code"], code.to_string());
    assert_eq!(listed["tick_rate_hz"], 30);
    assert!(listed["tick"].as_u64().expect("a tick") > 5);
    let members = listed["members"].as_array().expect("members");
    let names: Vec<(&str, &str, bool)> = members
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap(),
                m["role"].as_str().unwrap(),
                m["connected"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("ann", "player", true),
            ("bob", "player", true),
            ("cat", "spectator", true)
        ]
    );
    let health = &listed["health"];
    assert!(health["ticks"].as_u64().unwrap() > 5);
    assert!(health["update_bytes_per_s"].as_f64().unwrap() > 0.0);
    assert!(health["tick_p99_ms"].as_f64().unwrap() >= health["tick_mean_ms"].as_f64().unwrap());

    // The figures over time: a sample a second.
    let (status, body) = server.operator("GET", "/api/admin/history", "").await;
    assert_eq!(status, 200);
    let history: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(history["interval_s"], 1);
    assert!(history["samples"].is_array());

    // Kick bob: he is told, with the operator's words; the others stay.
    let kick = format!(
        "/api/admin/rooms/{}/players/{}/kick",
        room.id.0,
        bob.player().0
    );
    let (status, body) = server
        .operator("POST", &kick, r#"{"message":"be nice"}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    let told = left(&mut bob).await;
    assert_eq!(
        (told.reason, told.message.as_str(), told.room),
        (LeaveReason::Kicked, "be nice", room.id)
    );
    let (status, _) = server.operator("POST", &kick, "").await;
    assert_eq!(status, 404, "bob is no member any more");
    let (status, _) = server
        .operator("POST", "/api/admin/rooms/999/close", "")
        .await;
    assert_eq!(status, 404);

    // Close the room: ann and cat are told, the room is gone.
    let close = format!("/api/admin/rooms/{}/close", room.id.0);
    let (status, _) = server.operator("POST", &close, "").await;
    assert_eq!(status, 200);
    for client in [&mut ann, &mut cat] {
        let told = left(client).await;
        assert_eq!((told.reason, told.room), (LeaveReason::RoomClosed, room.id));
    }
    let (_, body) = server.operator("GET", "/api/admin/rooms", "").await;
    assert_eq!(body, "[]");
    // They are back in the lobby and may go on.
    assert!(ann.create_room(RoomSpec::new("again")).await.is_ok());
}
