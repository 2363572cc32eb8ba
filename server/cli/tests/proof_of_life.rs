//! The built-in binary hosts both games (the arena by default, and chat),
//! and says what happens at levels an operator filters: a client connects,
//! says hello, creates a chat room, sends an event the game answers and
//! relays, and leaves; each step is a structured log line with the
//! session's player id and the room's id.

mod support;

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tickwire_client::{Client, QuickJoinSpec, RoomSpec};
use tickwire_shared::chat;

use support::{signal, start, wait_exit};

/// Every line logged until one contains all of `needles`, within 5 s.
fn until_logged(logs: &Receiver<String>, needles: &[&str], seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(line) = seen.iter().find(|l| needles.iter().all(|n| l.contains(n))) {
            return line.clone();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match logs.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {needles:?} in:\n{}", seen.join("\n")),
        }
    }
}

#[tokio::test]
async fn the_binary_hosts_both_games_and_logs_each_step_with_session_and_room() {
    let (mut child, addr, logs) = start(&["--log-level", "tickwire_server=debug,info"]);
    let url = format!("ws://{addr}/ws");

    let mut racer = Client::builder(&url)
        .name("racer")
        .connect()
        .await
        .expect("connects");
    let arena = racer
        .quick_join(QuickJoinSpec::default())
        .await
        .expect("the default game");
    assert_eq!(arena.room.game, "arena");

    let mut ada = Client::builder(&url)
        .name("ada")
        .schema(chat::SCHEMA)
        .connect()
        .await
        .expect("connects");
    let joined = ada
        .create_room(RoomSpec::new("talk").game("chat"))
        .await
        .expect("a chat room");
    assert_eq!(joined.room.game, "chat");
    let answer: Value = ada
        .emit_with_ack("say", &json!({ "text": "hi" }), Duration::from_secs(5))
        .await
        .expect("answered");
    assert_eq!(answer["seq"], 1);
    ada.leave().await.expect("left");

    let (player, room) = (ada.player().0, joined.room.id.0);
    let mut seen = Vec::new();
    for needles in [
        vec!["DEBUG", "connected", "transport=\"websocket\""],
        vec!["INFO", "session opened", &format!("player=p{player}")],
        vec![
            "INFO",
            "room created",
            &format!("room=r{room}"),
            "game=\"chat\"",
        ],
        vec![
            "INFO",
            "joined room",
            &format!("room=r{room}"),
            &format!("player=p{player}"),
        ],
        vec![
            "DEBUG",
            "event received",
            &format!("player=p{player}"),
            "event=say",
        ],
        vec![
            "DEBUG",
            "event emitted",
            &format!("room=r{room}"),
            "event=said",
        ],
        vec!["DEBUG", "event answered", &format!("room=r{room}")],
        vec![
            "INFO",
            "left room",
            &format!("room=r{room}"),
            "cause=\"left\"",
        ],
    ] {
        until_logged(&logs, &needles, &mut seen);
    }

    signal(&child, libc::SIGTERM);
    racer.close().await;
    let status = wait_exit(&mut child, Duration::from_secs(5));
    assert!(status.success(), "exit status {status:?}");
}
