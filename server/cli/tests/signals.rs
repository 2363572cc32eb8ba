//! The real binary: it starts on the port it is given, serves a WebSocket
//! client, and on SIGTERM (and SIGINT) closes the client with reason
//! `ServerShutdown` and exits 0 within a few seconds. With a player in a
//! room, the first SIGTERM drains (the player plays on, `/healthz` says
//! draining) and a second one stops at once.

mod support;

use std::process::Command;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tickwire_shared::codec;
use tickwire_shared::protocol::*;
use tokio_tungstenite::tungstenite::Message;

use support::{signal, start, wait_exit};

async fn greeted_client(
    addr: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("connects");
    let hello = ClientMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        client_name: "signals".into(),
        auth_ticket: None,
        resume_token: None,
        resume_from: None,
    });
    let mut frame = Vec::new();
    codec::encode_client(&hello, &mut frame).expect("encodes");
    ws.send(Message::Binary(frame.into())).await.expect("sends");
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("welcome in time");
        let Some(Ok(Message::Binary(bytes))) = next else {
            panic!("connection ended before Welcome")
        };
        if let Ok(ServerMessage::Welcome(_)) = codec::decode_server(&bytes, codec::MAX_SERVER_FRAME)
        {
            return ws;
        }
    }
}

async fn shutdown_on(signal_number: libc::c_int) {
    let (mut child, addr, _logs) = start(&[]);
    let mut ws = greeted_client(&addr).await;
    signal(&child, signal_number);
    let (mut reason, mut code) = (None, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, ws.next()).await {
        match message {
            Message::Binary(bytes) => {
                if let Ok(ServerMessage::Close(close)) =
                    codec::decode_server(&bytes, codec::MAX_SERVER_FRAME)
                {
                    reason = Some(close.reason);
                }
            }
            Message::Close(frame) => code = frame.map(|f| u16::from(f.code)),
            _ => {}
        }
    }
    assert_eq!(reason, Some(CloseReason::ServerShutdown));
    assert_eq!(code, Some(1001));
    let status = wait_exit(&mut child, Duration::from_secs(5));
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn sigterm_closes_clients_with_a_reason_and_exits_cleanly() {
    shutdown_on(libc::SIGTERM).await;
}

#[tokio::test]
async fn sigint_does_the_same() {
    shutdown_on(libc::SIGINT).await;
}

/// `GET /healthz` on `addr`: the status and the body.
async fn healthz(addr: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        response
    };
    let response = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .expect("answered in time");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    (status, body.unwrap_or_default())
}

/// Reads events until `updates` more updates were applied (an input sent
/// after each); returns how many failed to apply meanwhile.
async fn play(client: &mut tickwire_client::Client, updates: u32) -> u32 {
    let (mut applied, mut failed) = (0, 0);
    let play = async {
        while applied < updates {
            match client.next_event().await.expect("still connected") {
                tickwire_client::Event::Update(_) => {
                    applied += 1;
                    let input = tickwire_shared::arena::ArenaInput {
                        move_x: 1.0,
                        ..Default::default()
                    };
                    client.send_input(&input).await.expect("input sent");
                }
                tickwire_client::Event::UpdateFailed(_) => failed += 1,
                tickwire_client::Event::Closed(closed) => panic!("closed: {closed:?}"),
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), play)
        .await
        .expect("updates keep coming");
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_while_a_room_plays_and_a_second_sigterm_stops_at_once() {
    let (mut child, addr, _logs) = start(&["--drain-ms", "60000"]);
    let mut player = tickwire_client::Client::connect(&format!("ws://{addr}/ws"), "player")
        .await
        .expect("connects");
    player
        .create_room(tickwire_client::RoomSpec::new("drained"))
        .await
        .expect("room");
    let mut failed = play(&mut player, 10).await;

    signal(&child, libc::SIGTERM);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = healthz(&addr).await;
        if status == 503 {
            assert!(body.contains("draining"), "{body}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never draining");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    failed += play(&mut player, 30).await;
    assert!(
        child.try_wait().expect("waitable").is_none(),
        "the binary drains, it does not exit"
    );
    let mut newcomer = tickwire_client::Client::connect(&format!("ws://{addr}/ws"), "late")
        .await
        .expect("still accepted while draining");
    match newcomer
        .quick_join(tickwire_client::QuickJoinSpec::default())
        .await
    {
        Err(tickwire_client::ClientError::Refused(e)) => {
            assert_eq!(e.code, ErrorCode::ServerDraining)
        }
        other => panic!("quick-join while draining: {other:?}"),
    }

    signal(&child, libc::SIGTERM);
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match player.next_event().await {
                Ok(tickwire_client::Event::Closed(closed)) => return Some(closed),
                Ok(tickwire_client::Event::UpdateFailed(_)) => failed += 1,
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    })
    .await
    .expect("closed in time");
    assert_eq!(
        closed.and_then(|c| c.reason),
        Some(CloseReason::ServerShutdown)
    );
    let status = wait_exit(&mut child, Duration::from_secs(5));
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(failed, 0, "every update applied");
}

#[tokio::test]
async fn an_invalid_setting_is_refused_at_start() {
    let output = Command::new(env!("CARGO_BIN_EXE_tickwire-server"))
        .args(["--bind", "127.0.0.1:0", "--max-rooms", "0"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("max_rooms"), "{stderr}");
}
